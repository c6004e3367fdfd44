"""A NeLS home on a local (or mounted) file system.

The embedded default, and what a Galaxy site that mounts NeLS uses.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from dataclasses import replace

from ..checksums import StreamHasher
from ..errors import (
    AlreadyExistsError,
    NotFoundError,
    TransferError,
    UnsafePathError,
)
from ..model import Entry
from . import beneath
from .base import CHUNK, Storage, area_root


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike):
        root = os.path.realpath(os.fspath(root))
        if not os.path.isdir(root):
            raise NotFoundError(f"NeLS root folder does not exist: {root}")
        self.root = root

    # Every path is resolved, symlinks followed, and must stay in its area.
    def _real(self, path: str) -> str:
        full = os.path.join(self.root, path) if path else self.root
        real = os.path.realpath(full)
        self._check_inside(path, real)
        return real

    def _entry(self, path: str, st: os.stat_result, is_dir: bool) -> Entry:
        return Entry(path, is_dir, 0 if is_dir else st.st_size, st.st_mtime, st.st_ctime)

    def stat(self, path: str) -> Entry:
        real = self._real(path)
        try:
            st = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):  # the latter: below a file
            raise NotFoundError(f"no such file or folder in NeLS: {path!r}") from None
        return self._entry(path, st, os.path.isdir(real))

    def exists(self, path: str) -> bool:
        try:
            return os.path.exists(self._real(path))
        except UnsafePathError:
            return False

    def _scan(self, path: str, with_stat: bool) -> list[Entry]:
        real = self._real(path)
        prefix = f"{path}/" if path else ""
        out = []
        try:
            it = os.scandir(real)
        except FileNotFoundError:
            raise NotFoundError(f"no such folder in NeLS: {path!r}") from None
        except NotADirectoryError:
            raise NotFoundError(f"not a folder: {path!r}") from None
        with it:
            for d in it:
                if d.is_symlink() and not self._link_ok(prefix + d.name):
                    continue  # never show a way out of the tree
                rel = prefix + d.name
                is_dir = d.is_dir()
                if with_stat:
                    try:
                        entry = self._entry(rel, d.stat(), is_dir)
                    except FileNotFoundError:
                        continue  # removed while we looked, or a dangling link
                else:
                    entry = Entry(rel, is_dir)
                out.append(replace(entry, link=True) if d.is_symlink() else entry)
        return out

    def _real_folder(self, path: str) -> str:
        return self._real(path)

    def _link_ok(self, path: str) -> bool:
        try:
            self._real(path)
            return True
        except UnsafePathError:
            return False

    def _complete(self, entries: list[Entry]) -> list[Entry]:
        out, top = [], self.root.rstrip("/")
        for e in entries:
            try:
                st = os.stat(f"{top}/{e.path}")
            except FileNotFoundError:
                continue
            out.append(self._entry(e.path, st, e.is_dir))
        return out

    def read_chunks(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return _read_file(*self._open_inside(path), offset, length)

    def _open_inside(self, path: str):
        """The file opened for reading, and its size; checked for where it
        really is before it is opened for reading. On Linux the path is
        opened as a bare handle (``O_PATH``: nothing is read, no device is
        woken, a FIFO does not block), the kernel names what it points at
        (``/proc/self/fd``), and only a regular file inside the area is then
        opened through that handle: no symlink put in between leads out, and
        a file costs two opens and a readlink, not an lstat per folder of its
        path (an export reads thousands of small files)."""
        opened = self._open_below_area(path)
        if opened is not None:
            return opened
        if not _PROC_FD:
            return self._open_checked(path)
        full = os.path.join(self.root, path) if path else self.root
        try:
            handle = os.open(full, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"no such file in NeLS: {path!r}") from None
        try:
            self._check_inside(path, os.readlink(f"{_PROC_FD}/{handle}"))
            size = _regular_size(path, os.fstat(handle))
            fd = os.open(f"{_PROC_FD}/{handle}", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(handle)
        # a file object, not the bare descriptor: one never read is closed when dropped
        return os.fdopen(fd, "rb", buffering=0), size

    def _open_below_area(self, path: str):
        """The quick way (one openat2): a file below its area's real folder,
        reached without leaving it. None for anything else (missing, leading
        out, a link to elsewhere in the area given absolutely, no openat2):
        the checked way then says what it is. Device files cannot be made by
        members (mknod needs root); the FIFO they can make is opened without
        waiting and refused as not a regular file."""
        area = area_root(path)
        below = path[len(area) :].lstrip("/")
        if not below:
            return None
        fd = beneath.open_below(os.path.join(self.root, area) if area else self.root, below)
        return None if fd is None else _opened_file(path, fd)

    def _open_checked(self, path: str):
        """Without /proc: the path resolved and checked, then opened."""
        real = self._real(path)
        try:
            fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO: no wait
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"no such file in NeLS: {path!r}") from None
        return _opened_file(path, fd)

    def _check_inside(self, path: str, real: str) -> None:
        area = area_root(path)
        bound = os.path.realpath(os.path.join(self.root, area)) if area else self.root
        if path != area and not _under(real, bound):
            raise UnsafePathError(f"{path!r} leads outside its NeLS area (through a symlink)")

    def _write_partial(self, partial: str, chunks: Iterable[bytes], hasher: StreamHasher) -> int:
        real = self._real(partial)
        if not os.path.isdir(os.path.dirname(real)):
            raise NotFoundError(f"folder does not exist: {os.path.dirname(partial) or '.'!r}")
        # O_EXCL: a partial name is ours alone
        fd = os.open(real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                hasher.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        return os.stat(real).st_size

    def _commit(self, partial: str, final: str, overwrite: bool) -> None:
        src, dst = self._real(partial), self._real(final)
        if os.path.isdir(dst):
            raise AlreadyExistsError(f"{final!r} is a folder")
        if overwrite:
            os.replace(src, dst)
            return
        try:
            os.link(src, dst)  # fails if dst exists: no clobbering, no race
        except FileExistsError:
            raise AlreadyExistsError(f"{final!r} already exists") from None
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP):
                raise TransferError(f"cannot move {partial!r} into place: {e.strerror}") from None
            # file systems without hard links: check, then rename
            if os.path.exists(dst):
                raise AlreadyExistsError(f"{final!r} already exists") from None
            os.rename(src, dst)
            return
        os.unlink(src)

    def _discard(self, partial: str) -> None:
        try:
            os.unlink(self._real(partial))
        except FileNotFoundError:
            pass

    def _cache_owner(self) -> tuple:
        return ("local", self.root)

    def remove(self, path: str, recursive: bool = False) -> None:
        self._remove(path, recursive)
        self._changed(path)

    def _remove(self, path: str, recursive: bool) -> None:
        real = self._real(path)
        if os.path.islink(os.path.join(self.root, path)):
            os.unlink(os.path.join(self.root, path))
            return
        if not os.path.lexists(real):
            raise NotFoundError(f"no such file or folder in NeLS: {path!r}")
        if os.path.isdir(real):
            if recursive:
                shutil.rmtree(real)
            else:
                try:
                    os.rmdir(real)
                except OSError:
                    raise TransferError(f"folder {path!r} is not empty") from None
        else:
            os.unlink(real)

    def mkdir(self, path: str, parents: bool = True) -> None:
        real = self._real(path)
        if os.path.isfile(real):
            raise AlreadyExistsError(f"{path!r} exists and is a file")
        try:
            if parents:
                os.makedirs(real, exist_ok=True)
            else:
                os.mkdir(real)
        except FileNotFoundError:
            raise NotFoundError(f"parent folder of {path!r} does not exist") from None
        except FileExistsError:
            pass
        self._changed(path.split("/")[0] if parents else path)


def _opened_file(path: str, fd: int):
    """A descriptor opened without waiting, as a file (blocking again) and
    its size; closed and refused when it is no regular file."""
    try:
        size = _regular_size(path, os.fstat(fd))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb", buffering=0), size


def _regular_size(path: str, st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise NotFoundError(f"{path!r} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise NotFoundError(f"{path!r} is not a regular file")
    return st.st_size


def _read_file(f, size: int, offset: int, length: int | None) -> Iterator[bytes]:
    """The bytes of ``f`` (unbuffered) from ``offset``, ``length`` of them or
    to its end. Each read asks for what the file holds (``size``, when it
    was opened) and one byte more, at most a chunk, so a file of 100 bytes
    costs no 1 MiB buffer and one read: a regular file's read comes back
    short only at its end, and a full one says it grew (then chunks again)."""
    with f:
        if offset:
            f.seek(offset)
        at, remaining = offset, length
        while remaining is None or remaining > 0:
            n = min(CHUNK, size - at + 1) if at <= size else CHUNK
            if remaining is not None:
                n = min(n, remaining)
            chunk = f.read(n)
            if chunk:
                at += len(chunk)
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
            if len(chunk) < n:
                return


# where the kernel names a process's open files (Linux, with O_PATH); elsewhere
# paths are resolved and checked, then opened
_PROC_FD = "/proc/self/fd" if hasattr(os, "O_PATH") and os.path.isdir("/proc/self/fd") else ""


def _under(real: str, bound: str) -> bool:
    return real == bound or real.startswith(bound.rstrip(os.sep) + os.sep)
