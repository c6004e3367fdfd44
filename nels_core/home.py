"""A user's NeLS home: storage with the NeLS rules applied.

Every public path is normalised here, once, then checked against the
account's memberships before the backend sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from . import access
from .access import Op
from .errors import (
    AccessDeniedError,
    AlreadyExistsError,
    NotFoundError,
    TokenMissingError,
    UnsafePathError,
)
from .model import Account, Entry, ListPage
from .paths import PERSONAL, PROJECTS, normalise
from .storage.base import Storage
from .storage.partials import MARK, is_partial

# StoreBioinfo's datasets, read-only, beside the two roots (nels_core.sbi.tree)
SBI_ROOT = "StoreBioinfo"


class Home:
    def __init__(self, storage: Storage, account: Account, sbi=None):
        self.storage = storage
        self.account = account
        # a nels_core.sbi.tree.SbiTree when a NeLS API token reaches StoreBioinfo
        self.sbi = sbi

    def close(self) -> None:
        self.storage.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check(self, path: str, op: Op) -> str:
        path = normalise(path)
        access.check(self.account, path, op)
        return path

    def _sbi(self, path: str, op: Op):
        """The StoreBioinfo tree when ``path`` lies in it (writes refused), else None."""
        path = normalise(path)
        if path.split("/")[0] != SBI_ROOT:
            return None
        if op is not Op.READ:
            raise AccessDeniedError(
                f"cannot {op.value} {path!r}: {SBI_ROOT} is read-only here (archive a run "
                "into it with 'nels-bundle sbi archive')"
            )
        if self.sbi is None:
            raise TokenMissingError(
                f"{SBI_ROOT} is reached through the NeLS API: it needs your NeLS access "
                "token (NELS_TOKEN or the config file's [api] token)"
            )
        return self.sbi

    def list(self, path: str = "", **kw) -> ListPage:
        """A page of ``path``; the home shows the two roots (and StoreBioinfo
        when a token reaches it), ``Projects`` only the user's own projects."""
        if sbi := self._sbi(path, Op.READ):
            return sbi.list(normalise(path), **kw)
        path = self._check(path, Op.READ)
        if path == "":
            roots = [self.storage.stat(p) for p in (PERSONAL, PROJECTS) if self.storage.exists(p)]
            if self.sbi is not None and not kw.get("recursive"):
                roots.append(self.sbi.root())
            return _page(roots, **kw)
        if path == PROJECTS and not kw.get("recursive"):
            mine = set(self.account.memberships)
            page = self.storage.list(path, **{**kw, "limit": None, "offset": 0})
            shown = [e for e in page.entries if e.name in mine]
            return _page(shown, presorted=True, **kw)
        if kw.get("recursive") and path in ("", PROJECTS):
            raise ValueError("recursive listing starts inside Personal or a project folder")
        return self.storage.list(path, **kw)

    def stat(self, path: str) -> Entry:
        if sbi := self._sbi(path, Op.READ):
            return sbi.stat(normalise(path))
        return self.storage.stat(self._check(path, Op.READ))

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except NotFoundError:
            return False

    def read_chunks(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        if sbi := self._sbi(path, Op.READ):
            return sbi.read_chunks(normalise(path), offset, length)
        return self.storage.read_chunks(self._check(path, Op.READ), offset, length)

    def read_bytes(self, path: str) -> bytes:
        return b"".join(self.read_chunks(path))

    def read_files(self, paths: Iterable[str]) -> Iterator[bytes]:
        """Small files whole, in order; every path is checked before any is read."""
        paths = list(paths)
        if any(self._sbi(p, Op.READ) for p in paths):  # its files come through jobs, one by one
            return (self.read_bytes(p) for p in paths)
        return self.storage.read_files([self._check(p, Op.READ) for p in paths])

    def write(
        self,
        path: str,
        source: BinaryIO | Iterable[bytes] | bytes,
        *,
        overwrite: bool = False,
        expected_size: int | None = None,
        expected_md5: str | None = None,
        checksums: bool = True,
        progress: Callable[[int], object] | None = None,
    ) -> Entry:
        path, exists = self._check_write(path, overwrite)
        return self.storage.write(
            path,
            source,
            # replace only what was checked: a file appearing meanwhile is not clobbered
            overwrite=overwrite and exists,
            expected_size=expected_size,
            expected_md5=expected_md5,
            checksums=checksums,
            progress=progress,
        )

    def check_write(self, path: str, overwrite: bool = False) -> None:
        """Refuse now a write the rules would refuse, before any work is done for it."""
        self._check_write(path, overwrite)

    def _check_write(self, path: str, overwrite: bool) -> tuple[str, bool]:
        self._sbi(path, Op.CREATE)
        path = self._check(path, Op.CREATE)
        _refuse_unfit_name(path)
        exists = self.storage.exists(path)
        if exists:
            if not overwrite:
                raise AlreadyExistsError(f"{path!r} already exists; pass overwrite to replace it")
            access.check(self.account, path, Op.OVERWRITE)
        return path, exists

    def mkdir(self, path: str, parents: bool = True) -> None:
        self._sbi(path, Op.MKDIR)
        path = self._check(path, Op.MKDIR)
        _refuse_unfit_name(path)
        self.storage.mkdir(path, parents)

    def remove(self, path: str, recursive: bool = False) -> None:
        self._sbi(path, Op.DELETE)
        path = normalise(path)
        if is_partial(path.rpartition("/")[2]):
            # debris of a cut upload, not a file of the project: whoever may
            # add files here may clear it (NeLS lets a member delete nothing else)
            self.storage.remove(self._check(path, Op.CREATE), recursive=False)
            return
        self.storage.remove(self._check(path, Op.DELETE), recursive)


def _refuse_unfit_name(path: str) -> None:
    """Names we never create: not UTF-8 text, or shaped like an upload's partial."""
    name = path.rpartition("/")[2]
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(
            f"{path!r}: the name is not UTF-8 text (NeLS names must be); rename the source"
        ) from None
    if is_partial(name):
        raise UnsafePathError(
            f"{path!r}: a name starting with '.' and holding {MARK!r} is kept for "
            "uploads in progress; choose another name"
        )


def _page(
    entries,
    limit=None,
    offset=0,
    query=None,
    sort_by="name",
    reverse=False,
    recursive=False,
    folders_first=False,
    partials=False,
    presorted=False,
) -> ListPage:
    if query:
        entries = [e for e in entries if query.casefold() in e.name.casefold()]
    if not presorted:
        entries = sorted(entries, key=lambda e: e.path.casefold(), reverse=reverse)
        if folders_first:
            entries.sort(key=lambda e: not e.is_dir)
    end = None if limit is None else offset + limit
    return ListPage(entries[offset:end], len(entries), offset, limit)
