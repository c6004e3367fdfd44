"""A regular local file uploaded without reading its bytes into Python.

Each SFTP WRITE's data goes from the page cache into ssh's stdin with
``splice`` (see :mod:`.pipe_writer`), and the checksums are read once into
a few reused buffers. On a 512 MiB upload with MD5 and SHA-256 this saves
the copy of every byte into new Python bytes and again into the pipe:
~0.13 CPU-s of ~2.8 on loopback, 4-5% less time (benchmarks/README.md).

Sending from the file means sending what it holds at that moment, so a
file that changes during the upload is refused: its size and times are
compared before and after (and a file that ends early is seen directly).
"""

from __future__ import annotations

import io
import os
import stat

# exact types: a wrapper's fileno() may be of other bytes (GzipFile's is the
# compressed file's), so only plain binary files qualify
_FILE_TYPES = (io.BufferedReader, io.BufferedRandom, io.FileIO)


class LocalFile:
    """An open regular file being sent, on a descriptor of its own: requests
    splicing from it may still be queued after the caller closed its file."""

    def __init__(self, fd: int, name: str, start: int):
        self.fd = os.dup(fd)
        seen = os.fstat(self.fd)
        self.name = name
        self.start = start
        self.end = max(start, seen.st_size)
        self._seen = _identity(seen)
        self.short = False  # set when a splice found the file ended early
        self.can_splice = True  # False on a file system that cannot splice

    def read_into(self, buf: memoryview, pos: int) -> int:
        return os.preadv(self.fd, [buf], pos)

    def warm(self, pos: int, n: int) -> None:
        """Ask the kernel to read ahead what will be spliced (no bytes come here)."""
        try:
            os.posix_fadvise(self.fd, pos, n, os.POSIX_FADV_WILLNEED)
        except OSError:
            pass

    def unchanged(self) -> bool:
        return not self.short and _identity(os.fstat(self.fd)) == self._seen

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except (OSError, AttributeError):
            pass


class FileSpan:
    """``length`` bytes of ``file`` from ``offset``, for the pipe to splice."""

    __slots__ = ("file", "offset", "length")

    def __init__(self, file: LocalFile, offset: int, length: int):
        self.file, self.offset, self.length = file, offset, length

    def __len__(self) -> int:
        return self.length


def local_file(source: object) -> LocalFile | None:
    """``source`` as a :class:`LocalFile` when it is a readable regular file
    opened in binary mode, else None (it is then read as any stream)."""
    if type(source) not in _FILE_TYPES or not hasattr(os, "splice"):
        return None
    try:
        if not source.readable():
            return None
        if source.writable():
            source.flush()  # what it buffered belongs to the file
        fd = source.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        start = source.tell()
    except (OSError, ValueError):  # closed, or no descriptor
        return None
    return LocalFile(fd, _shown(source.name), start)


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _shown(name: object) -> str:
    if isinstance(name, int):
        return f"file descriptor {name}"
    return os.fsdecode(name) if isinstance(name, str | bytes) else str(name)
