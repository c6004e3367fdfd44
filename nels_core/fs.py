"""NeLS as an fsspec filesystem under the ``nels`` protocol.

``fsspec.open("nels://Projects/X/a.tsv")`` then works for pandas, Jupyter
and anything else that speaks fsspec. Without arguments the filesystem is
built from the user's configuration (``nels_core.config``); pass ``home=``
to use an already opened one. Every call goes through the NeLS rules.

With a NeLS API token, ``nels://StoreBioinfo/<project>/<dataset>/<subtype>/...``
reads StoreBioinfo (read-only): each file is one download job, read front to
back as it arrives (seeking back starts another).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from fsspec import AbstractFileSystem, register_implementation
from fsspec.spec import AbstractBufferedFile

from .config import load
from .connect import open_home
from .errors import NotFoundError
from .home import SBI_ROOT, Home
from .local_files import replacing
from .model import Entry
from .paths import normalise


class NelsFileSystem(AbstractFileSystem):
    protocol = "nels"
    root_marker = ""

    def __init__(self, home: Home | None = None, config: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.home = home or open_home(load(config))

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = path[len("nels://") :] if path.startswith("nels://") else path
        return path.strip("/")

    @staticmethod
    def _info(e: Entry) -> dict:
        return {
            "name": e.path,
            "size": e.size,
            "type": "directory" if e.is_dir else "file",
            "mtime": e.mtime,
            "created": e.ctime,
        }

    def ls(self, path, detail=True, **kwargs):
        path = normalise(self._strip_protocol(path))
        entry = self.home.stat(path) if path else None
        if entry is not None and not entry.is_dir:
            entries = [entry]
        else:
            entries = self.home.list(path).entries
        infos = [self._info(e) for e in entries]
        return infos if detail else [i["name"] for i in infos]

    def info(self, path, **kwargs):
        path = normalise(self._strip_protocol(path))
        if not path:
            return {"name": "", "size": 0, "type": "directory"}
        try:
            return self._info(self.home.stat(path))
        except NotFoundError:
            raise FileNotFoundError(path) from None

    def cat_file(self, path, start=None, end=None, **kwargs):
        path = normalise(self._strip_protocol(path))
        start = start or 0
        length = None if end is None else max(0, end - start)
        return b"".join(self.home.read_chunks(path, start, length))

    def _open(self, path, mode="rb", block_size=None, autocommit=True, **kwargs):
        path = normalise(self._strip_protocol(path))
        if "r" in mode and path.split("/")[0] == SBI_ROOT:
            size = self.home.stat(path).size
            return io.BufferedReader(_StreamedRead(self.home, path, size), block_size or 1 << 20)
        if "r" in mode:
            return _NelsReadFile(self, path, mode, block_size or 4 * 1024 * 1024, **kwargs)
        if "w" in mode:
            return _NelsWriteFile(self, path, overwrite=kwargs.get("overwrite", True))
        raise ValueError(f"mode {mode!r} is not supported on NeLS (use 'rb' or 'wb')")

    def pipe_file(self, path, value, mode="overwrite", **kwargs):
        path = normalise(self._strip_protocol(path))
        self.home.write(path, value, overwrite=mode == "overwrite")

    def put_file(self, lpath, rpath, callback=None, overwrite=True, **kwargs):
        rpath = normalise(self._strip_protocol(rpath))
        with open(lpath, "rb") as f:
            self.home.write(rpath, f, overwrite=overwrite)

    def get_file(self, rpath, lpath, callback=None, **kwargs):
        """Whole or not at all: a cut download leaves nothing under ``lpath``."""
        rpath = normalise(self._strip_protocol(rpath))
        with replacing(Path(lpath)) as f:
            for chunk in self.home.read_chunks(rpath):
                f.write(chunk)

    def mkdir(self, path, create_parents=True, **kwargs):
        self.home.mkdir(normalise(self._strip_protocol(path)), parents=create_parents)

    def makedirs(self, path, exist_ok=False):
        path = normalise(self._strip_protocol(path))
        if not exist_ok and self.home.exists(path):
            raise FileExistsError(path)
        self.home.mkdir(path, parents=True)

    def rm_file(self, path):
        self.home.remove(normalise(self._strip_protocol(path)))

    def _rm(self, path):
        self.rm_file(path)

    def rm(self, path, recursive=False, maxdepth=None):
        for p in [path] if isinstance(path, str) else path:
            self.home.remove(normalise(self._strip_protocol(p)), recursive=recursive)

    def rmdir(self, path):
        self.home.remove(normalise(self._strip_protocol(path)))


class _NelsReadFile(AbstractBufferedFile):
    def _fetch_range(self, start, end):
        return self.fs.cat_file(self.path, start, end)


class _StreamedRead(io.RawIOBase):
    """A file read front to back from one stream of chunks (a StoreBioinfo
    download job); a seek elsewhere than where it is starts a new stream."""

    def __init__(self, home: Home, path: str, size: int):
        self.home, self.path, self.size = home, path, size
        self._pos = 0
        self._chunks = None
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._chunks is None:
            if self._pos >= self.size:
                return 0
            self._chunks = iter(self.home.read_chunks(self.path, self._pos))
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        n = min(len(b), len(self._left))
        b[:n] = self._left[:n]
        self._left = self._left[n:]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        target = max(0, base + offset)
        if target != self._pos:
            self._stop()
            self._pos = target
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._stop()
        super().close()

    def _stop(self) -> None:
        if self._chunks is not None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()  # the download's connection is let go, not read to its end
        self._chunks = None
        self._left = memoryview(b"")


class _NelsWriteFile:
    """Written to a spooled buffer, stored atomically on close."""

    def __init__(self, fs: NelsFileSystem, path: str, overwrite: bool):
        self.fs, self.path, self.overwrite = fs, path, overwrite
        self._buf = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
        self.closed = False

    def write(self, data) -> int:
        return self._buf.write(data)

    def flush(self) -> None:
        """Nothing reaches NeLS before close: the write is one atomic store."""

    def close(self) -> None:
        if self.closed:
            return
        if sys.exc_info()[0] is not None:
            # fsspec.open()'s wrapper closes us even when the with-block
            # raised; an exception in flight means the content is incomplete
            self.discard()
            return
        self.closed = True
        self._buf.seek(0)
        try:
            self.fs.home.write(self.path, self._buf, overwrite=self.overwrite)
        finally:
            self._buf.close()

    def discard(self) -> None:
        self.closed = True
        self._buf.close()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.discard()  # an exception never stores a half-written file


register_implementation("nels", NelsFileSystem, clobber=True)
