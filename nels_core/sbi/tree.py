"""StoreBioinfo as a read-only tree beside ``Personal/`` and ``Projects/``.

``StoreBioinfo/<project>/<dataset>/<subtype>/<path...>``: the user's SBI
projects (by their NeLS names, as ``sbi://`` addresses name them; the
project's folder name is taken too), their datasets, each dataset's subtypes
(with their sizes) and the files SBI's storage listing shows. Everything is
asked of the NeLS API; a file is read by a download job (``initiate_download``,
``job_state`` until done, ``download_reference``) and handed on chunk by
chunk, never held whole. Nothing is written here (``Home`` refuses it):
archiving into SBI is ``nels-bundle sbi archive``'s job, with its checks.

Answers are kept for a few seconds: a Galaxy import asks about the same
folders several times (the file, then each folder above it for a delivered
checksum) and each question is one API call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from ..api.sbi_transfer import SbiPlace, SbiTransfer
from ..errors import ApiError, NotFoundError
from ..home import SBI_ROOT, Home, _page
from ..model import Dataset, Entry, ListPage, Project
from .places import STORAGE_ROOT

ORDER_KEYS = {
    "name": lambda e: (e.name.casefold(), e.name),
    "size": lambda e: e.size,
    "mtime": lambda e: e.mtime or 0.0,
    "ctime": lambda e: e.ctime or 0.0,
}


def storebioinfo_of(api_url: str | None, token: str | None, timeout: float = 30.0):
    """The tree a NeLS API token reaches, or None without one (then the
    home shows no ``StoreBioinfo/``)."""
    if not api_url or not token:
        return None
    from ..api import NelsApi

    return SbiTree(NelsApi(api_url, token, timeout=timeout))


def with_storebioinfo(home: Home, api_url: str | None, token: str | None, timeout: float = 30.0):
    """``home`` with its ``StoreBioinfo/`` root, when a token reaches it."""
    if home.sbi is None:
        home.sbi = storebioinfo_of(api_url, token, timeout)
    return home


class SbiTree:
    """The read-only ``StoreBioinfo/`` tree of one user, through their API token."""

    def __init__(self, api, transfer: SbiTransfer | None = None, ttl: float = 10.0):
        self.api = api
        self.transfer = transfer or SbiTransfer(api)
        self._memo = _Memo(ttl)

    # --- what Home asks --------------------------------------------------------
    def root(self) -> Entry:
        return Entry(SBI_ROOT, True)

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
        parts = _parts(path)
        if recursive:
            if len(parts) < 4:
                raise ValueError("recursive listing starts inside a StoreBioinfo subtype")
            entries = self._walk(parts)
        else:
            entries = self._children(parts)
        key = ORDER_KEYS.get(sort_by, ORDER_KEYS["name"])
        entries = sorted(entries, key=key, reverse=reverse)
        if folders_first:
            entries.sort(key=lambda e: not e.is_dir)
        return _page(entries, limit, offset, query, presorted=True)

    def stat(self, path: str) -> Entry:
        parts = _parts(path)
        if len(parts) == 1:
            return self.root()
        project = self._project(parts[1])  # each lookup says what it did not find
        if len(parts) == 2:
            return Entry(path, True)
        if len(parts) == 3:
            d = self._dataset(project, parts[2])
            return Entry(path, True, 0, mtime=_seconds(d.creation_time_ms))
        for e in self._children(parts[:-1]):
            if e.name == parts[-1]:
                return Entry(path, e.is_dir, e.size, e.mtime, e.ctime)
        raise NotFoundError(f"no {_what(len(parts))} {parts[-1]!r} in StoreBioinfo at {path!r}")

    def read_chunks(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The file's bytes from ``offset`` (``length`` of them, or to the end),
        through one download job; seeking costs reading up to ``offset``."""
        entry = self.stat(path)
        if entry.is_dir:
            raise NotFoundError(f"{path!r} is a folder of StoreBioinfo, not a file")
        parts = _parts(path)
        project = self._project(parts[1])
        dataset = self._dataset(project, parts[2])
        place = SbiPlace(project.id, dataset.id, parts[3], "/".join(parts[4:-1]))
        return _window(lambda: self.transfer.download(place, parts[-1]), offset, length)

    # --- the levels ------------------------------------------------------------
    def _children(self, parts: list[str]) -> list[Entry]:
        at = "/".join(parts)
        if len(parts) == 1:
            return [Entry(f"{at}/{p.name}", True) for p in self._projects()]
        project = self._project(parts[1])
        if len(parts) == 2:
            return [
                Entry(f"{at}/{d.name}", True, mtime=_seconds(d.creation_time_ms))
                for d in self._datasets(project)
            ]
        dataset = self._dataset(project, parts[2])
        if len(parts) == 3:
            whole = self._memo.get(
                ("dataset", project.id, dataset.id), self._whole, project, dataset
            )
            return [Entry(f"{at}/{s.type}", True, s.size or 0) for s in whole.subtypes]
        if parts[3] not in {s.type for s in dataset.subtypes}:
            raise NotFoundError(f"the dataset {dataset.name!r} has no subtype {parts[3]!r}")
        return self._files(project, dataset, parts)

    def _files(self, project: Project, dataset: Dataset, parts: list[str]) -> list[Entry]:
        """A folder inside a subtype, as SBI's storage listing shows it."""
        at = "/".join(parts)
        path = "/".join([STORAGE_ROOT, project.folder, dataset.name, *parts[3:]])
        key = ("list", project.id, dataset.id, path)
        try:
            elements = self._memo.get(key, self.api.sbi_list, path, project.id, dataset.id)
        except ApiError as e:
            if e.status == 404:
                raise NotFoundError(f"nothing at {at!r} in StoreBioinfo") from None
            raise
        out = []
        for e in elements:
            name = str(e.get("name", ""))
            if not name or "/" in name or name in (".", ".."):
                continue  # not a name a path can hold
            folder = bool(e.get("isFolder"))
            when = _seconds(e.get("lastUpdate"))
            out.append(
                Entry(
                    f"{at}/{name}",
                    folder,
                    0 if folder else int(e.get("size") or 0),
                    mtime=when,
                    ctime=_seconds(e.get("creationtime")),
                )
            )
        return out

    def _walk(self, parts: list[str]) -> list[Entry]:
        out, pending = [], [parts]
        while pending:
            for e in self._children(pending.pop()):
                out.append(e)
                if e.is_dir:
                    pending.append(_parts(e.path))
        return out

    # --- lookups ---------------------------------------------------------------
    def _projects(self) -> list[Project]:
        return self._memo.get(("projects",), self.api.sbi_projects)

    def _project(self, name: str) -> Project:
        # the name as NeLS shows it, or its folder name (as sbi:// takes either)
        for p in self._projects():
            if name in (p.name, p.folder):
                return p
        raise NotFoundError(f"no StoreBioinfo project {name!r} among yours")

    def _datasets(self, project: Project) -> list[Dataset]:
        return self._memo.get(("datasets", project.id), self.api.datasets, project.id)

    def _dataset(self, project: Project, name: str) -> Dataset:
        for d in self._datasets(project):
            if d.name == name:
                return d
        raise NotFoundError(f"no dataset {name!r} in StoreBioinfo project {project.name!r}")

    def _whole(self, project: Project, dataset: Dataset) -> Dataset:
        return self.api.dataset(project.id, dataset.id)  # sizes come with a dataset alone


def _parts(path: str) -> list[str]:
    parts = path.split("/")
    if not parts or parts[0] != SBI_ROOT:
        raise ValueError(f"{path!r} is not below {SBI_ROOT}")
    return parts


def _what(depth: int) -> str:
    return {2: "project", 3: "dataset", 4: "subtype"}.get(depth, "file or folder")


def _seconds(ms) -> float | None:
    try:
        return int(ms) / 1000 if ms not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _window(start: Callable[[], object], offset: int, length: int | None) -> Iterator[bytes]:
    """Chunks of a download from ``offset``, ``length`` bytes long; the
    download (its response) is closed when the reader stops early."""
    receiving = iter(start())
    skip, left = offset, length
    try:
        for chunk in receiving:
            if skip:
                if len(chunk) <= skip:
                    skip -= len(chunk)
                    continue
                chunk, skip = chunk[skip:], 0
            if left is not None:
                if left <= 0:
                    break
                chunk = chunk[:left]
                left -= len(chunk)
            if chunk:
                yield chunk
            if left == 0:
                break
    finally:
        close = getattr(receiving, "close", None)
        if close is not None:
            close()


class _Memo:
    """Answers by key for ``ttl`` seconds; thread-safe (Galaxy serves in threads)."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._kept: dict[tuple, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, fetch: Callable, *args):
        now = time.monotonic()
        with self._lock:
            hit = self._kept.get(key)
            if hit and now - hit[0] < self.ttl:
                return hit[1]
        value = fetch(*args)
        with self._lock:
            self._kept[key] = (now, value)
            if len(self._kept) > 512:  # many folders walked: keep only the fresh
                self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.ttl}
        return value
