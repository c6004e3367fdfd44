"""The storage interface shared by every backend.

Paths given to a backend are already normalised (``nels_core.paths``) and
relative to the user's home; backends still refuse anything that resolves
outside the home, since a symlink in the tree can point anywhere.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..checksums import StreamHasher
from ..errors import ChecksumMismatchError, NelsError
from ..model import Entry, ListPage
from . import partials
from .listing_cache import listings
from .partials import is_partial

CHUNK = 1024 * 1024
SORT_KEYS = ("name", "size", "mtime", "ctime")
FRESH_ONE_BY_ONE = 1000  # a kept listing's page up to this long has its sizes read entry by entry


def area_root(path: str) -> str:
    """The area a path lies in: ``Personal``, ``Projects/<Name>`` or the home.

    NeLS may place an area root itself as a link (a project's shared storage
    seen from each member's home); nothing inside an area may lead out of it.
    """
    parts = path.split("/")
    if parts[0] == "Projects" and len(parts) > 1:
        return "/".join(parts[:2])
    return parts[0] if parts[0] == "Personal" else ""


# files up to this size are read whole, many at once (``read_files``); a few
# dozen of them held at a time stay a few MiB
SMALL_FILE = 64 * 1024


class Storage(ABC):
    """A NeLS home: list, stat, stream reads, atomic writes, remove, mkdir."""

    _swept: frozenset[str] = frozenset()  # folders tidied of abandoned partials

    # --- hooks each backend implements --------------------------------------
    @abstractmethod
    def stat(self, path: str) -> Entry: ...

    @abstractmethod
    def _scan(self, path: str, with_stat: bool) -> list[Entry]:
        """Direct children of a folder; sizes and times only if ``with_stat``."""

    @abstractmethod
    def _real_folder(self, path: str) -> str:
        """The folder's own path on the server, links resolved: its identity."""

    @abstractmethod
    def _complete(self, entries: list[Entry]) -> list[Entry]:
        """Fill in sizes and times of entries scanned without them."""

    @abstractmethod
    def read_chunks(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream a file's bytes from ``offset``."""

    @abstractmethod
    def _write_partial(self, partial: str, chunks: Iterable[bytes], hasher: StreamHasher) -> int:
        """Write chunks to a temporary path; return the size the target reports."""

    @abstractmethod
    def _commit(self, partial: str, final: str, overwrite: bool) -> None:
        """Rename the temporary file into place (refusing to clobber unless told)."""

    @abstractmethod
    def _discard(self, partial: str) -> None:
        """Remove a temporary file, quietly if it is gone."""

    @abstractmethod
    def remove(self, path: str, recursive: bool = False) -> None: ...

    @abstractmethod
    def mkdir(self, path: str, parents: bool = True) -> None: ...

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Backends without any keep this."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the public operations, checks done once here ------------------------
    def list(
        self,
        path: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        query: str | None = None,
        sort_by: str = "name",
        reverse: bool = False,
        recursive: bool = False,
        folders_first: bool = False,
        partials: bool = False,
    ) -> ListPage:
        """One page of a folder, filtered by a case-insensitive name ``query``;
        ``folders_first`` puts folders before files, each group in the order asked;
        ``partials`` shows the hidden files of uploads in progress or abandoned.

        Sorting by name needs no per-file metadata, so only the page gets
        stat'ed: a page of a 100,000-file folder costs one directory read.
        """
        if sort_by not in SORT_KEYS:
            raise ValueError(f"sort_by must be one of {', '.join(SORT_KEYS)}, not {sort_by!r}")
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError("limit and offset must not be negative")
        with_stat = sort_by != "name"
        loops: list[str] = []
        order = _Order(sort_by, reverse, folders_first)
        if recursive:
            entries = order.sorted(list(self.walk(path, with_stat, partials, loops)))
            kept = False
        else:
            # a whole folder's sizes are read faster by reading it again than one by one
            reuse = limit is not None and limit <= FRESH_ONE_BY_ONE
            entries, kept = self._in_order(path, with_stat, partials, order, reuse)
        if query:  # filtering keeps the order
            needle = query.casefold()
            entries = [e for e in entries if needle in e.name.casefold()]
        total = len(entries)
        end = None if limit is None else offset + limit
        page = entries[offset:end]
        if kept:
            page = self._refresh(page)
        elif not with_stat:
            page = self._complete(page)
        return ListPage(page, total, offset, limit, loops)

    def _in_order(
        self, path: str, with_stat: bool, partials: bool, order: _Order, reuse: bool
    ) -> tuple[list[Entry], bool]:
        """The folder's entries in ``order``; with ``reuse``, from this
        process's listings while the folder is unchanged (``listing_cache``:
        the next page of a 100,000-file folder is not read, nor sorted, again),
        and kept there once read; whether they were kept ones. A whole folder
        asked for is read as before, without the folder's ``stat``."""
        owner = self._cache_owner() if reuse else None
        if owner is not None:
            mtime = self.stat(path).mtime  # checked as every path is, and one round trip
            key = (owner, path, with_stat, partials, order)
            found = listings().get(key, mtime)
            if found is not None:
                return found, True
        read_at = time.time()
        entries = self._scan(path, with_stat)
        if not partials:
            entries = [e for e in entries if not is_partial(e.name)]
        entries = order.sorted(entries)
        if owner is not None:
            listings().put(key, mtime, read_at, entries)
        return entries, False

    def _cache_owner(self) -> tuple | None:
        """Whose tree this is (the same for every connection to it): the key of
        its kept listings. None: this backend's listings are not kept."""
        return None

    def _refresh(self, entries: list[Entry]) -> list[Entry]:
        """Kept entries with their sizes and times read afresh (a file that
        grows leaves its folder's time as it was)."""
        return self._complete(entries)

    def _changed(self, path: str) -> None:
        """``path`` was written, removed or made here: no kept listing shows it as it was."""
        owner = self._cache_owner()
        if owner is not None:
            listings().forget(owner, path)

    def walk(
        self,
        path: str,
        with_stat: bool = True,
        partials: bool = False,
        loops: list[str] | None = None,
    ) -> Iterator[Entry]:
        """Every entry below ``path``, depth first, partial uploads skipped unless
        asked. A link back to a folder above it is listed, not followed, and
        named in ``loops``: following it would go round until the server's ELOOP."""
        yield from self._walk(path, with_stat, partials, loops, [self._real_folder(path)])

    def _walk(self, path, with_stat, partials, loops, above: list[str]) -> Iterator[Entry]:
        for entry in self._scan(path, with_stat):
            if is_partial(entry.name) and not partials:
                continue
            yield entry
            if not entry.is_dir:
                continue
            # only a link can lead back up; a plain folder's identity is its parent's + name
            real = self._real_folder(entry.path) if entry.link else f"{above[-1]}/{entry.name}"
            if real in above:
                if loops is not None:
                    back = path.rsplit("/", len(above) - above.index(real) - 1)[0]
                    loops.append(f"{entry.path} -> {back}")
                continue
            yield from self._walk(entry.path, with_stat, partials, loops, [*above, real])

    def read_bytes(self, path: str) -> bytes:
        return b"".join(self.read_chunks(path))

    def read_files(self, paths: Iterable[str]) -> Iterator[bytes]:
        """Each of many small files whole, in order (a delivery's short read
        files, at most ``SMALL_FILE`` each): a backend with round trips to
        wait on reads several at once. The first that cannot be read raises,
        as ``read_bytes`` would."""
        for path in paths:
            yield self.read_bytes(path)

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
        """Write atomically: temporary name, verify size and MD5, rename.

        An interrupted write leaves nothing under ``path``; what was there
        before stays whole. Returns the entry with the MD5 and SHA-256 of
        what was written; ``checksums=False`` skips them (a caller that hashes
        for itself), except the MD5 an ``expected_md5`` needs. ``progress`` is
        told each number of bytes sent as it goes, perhaps from another
        thread: it must be quick and thread-safe (a progress bar's advance).
        """
        parent, _, name = path.rpartition("/")
        self._sweep_abandoned(parent)
        hidden = partials.new_name(name)
        partial = f"{parent}/{hidden}" if parent else hidden
        hasher = StreamHasher(
            sha256=checksums, md5=checksums or expected_md5 is not None, threaded=True
        )
        try:
            try:
                with partials.writing(hidden):
                    stored = self._write_source(partial, source, hasher, progress)
            finally:
                hasher.finish()
            _verify(path, hasher, stored, expected_size, expected_md5)
            self._commit(partial, path, overwrite)
            self._changed(path)
        except BaseException as e:
            try:
                self._discard(partial)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
            if isinstance(e, NelsError) and partial in str(e):
                # the user's target, not our hidden temporary name
                raise type(e)(str(e).replace(partial, path)) from None
            raise
        entry = self.stat(path)
        return Entry(
            entry.path, False, entry.size, entry.mtime, entry.ctime, hasher.md5, hasher.sha256
        )

    def _write_source(self, partial: str, source, hasher: StreamHasher, progress=None) -> int:
        """Store ``source`` under ``partial``; a backend that sends some kinds
        of source better (sftp: a local file spliced) looks at it here."""
        chunks = _chunks_of(source)
        return self._write_partial(partial, _told(chunks, progress) if progress else chunks, hasher)

    def _sweep_abandoned(self, folder: str) -> None:
        """Remove partials nobody is writing any more, once per folder and
        connection: a cut upload could not remove its own."""
        if folder in self._swept:
            return
        self._swept = self._swept | {folder}
        try:
            # names only: a 100,000-file folder is not stat'ed for its few partials
            found = [e for e in self._scan(folder, with_stat=False) if is_partial(e.name)]
            for entry in self._complete(found) if found else ():
                if partials.abandoned(entry.name, entry.mtime):
                    self._discard(entry.path)
        except Exception:  # noqa: BLE001 - tidying never stands in the way of the upload
            pass


@dataclass(frozen=True)
class _Order:
    """How a listing is sorted (part of a kept listing's key)."""

    sort_by: str
    reverse: bool
    folders_first: bool

    def sorted(self, entries: list[Entry]) -> list[Entry]:
        if self.sort_by == "name":
            entries.sort(key=lambda e: (e.path.casefold(), e.path), reverse=self.reverse)
        else:
            by = self.sort_by
            entries.sort(key=lambda e: (getattr(e, by) or 0, e.path), reverse=self.reverse)
        if self.folders_first:  # a stable sort keeps the order within each group
            entries.sort(key=lambda e: not e.is_dir)
        return entries


def _chunks_of(source) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        for i in range(0, len(source), CHUNK):
            yield bytes(source[i : i + CHUNK])
    elif hasattr(source, "read"):
        while chunk := source.read(CHUNK):
            yield chunk
    else:
        yield from source


def _told(chunks: Iterable[bytes], progress: Callable[[int], object]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress(len(chunk))  # once handed over: the writer has taken it


def _verify(path, hasher: StreamHasher, stored: int, size: int | None, md5: str | None) -> None:
    if stored != hasher.size:
        raise ChecksumMismatchError(
            f"{path}: wrote {hasher.size} bytes but the storage holds {stored}; "
            "nothing was replaced"
        )
    if size is not None and size != hasher.size:
        raise ChecksumMismatchError(
            f"{path}: expected {size} bytes, received {hasher.size}; nothing was replaced"
        )
    if md5 is not None and md5.lower() != hasher.md5:
        raise ChecksumMismatchError(
            f"{path}: MD5 {hasher.md5} does not match the expected {md5.lower()}; "
            "nothing was replaced"
        )
