"""Checksums computed while streaming, and delivered checksum files.

NorSeq deliveries carry ``md5sum.txt`` (``<md5>  <name>`` per line, as
``md5sum`` writes it) or one ``<file>.md5`` per data file.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
from collections.abc import Callable

from .errors import NelsError

# fullmatch; the name is stripped after (a lazy name before "\s*$" made
# the match 4x slower on a 40,000-line list)
_MD5_LINE = re.compile(r"([0-9a-fA-F]{32})\s+\*?(.+)")
CHECKSUM_LIST_NAMES = ("md5sum.txt", "md5sums.txt", "MD5SUM.txt", "checksums.md5")


class StreamHasher:
    """MD5 and SHA-256 of bytes as they pass, plus their count.

    With ``threaded=True`` each sum runs on a thread of its own (hashlib lets
    go of the GIL on large buffers), so hashing overlaps with sending instead
    of adding to it; ``finish()`` waits for them, and reading a sum calls it.
    """

    def __init__(self, sha256: bool = True, md5: bool = True, threaded: bool = False):
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._sha256 = hashlib.sha256() if sha256 else None
        self.size = 0
        self._workers: list[_HashWorker] = []
        if threaded:
            self._workers = [_HashWorker(h) for h in (self._md5, self._sha256) if h is not None]

    def update(self, chunk: bytes | memoryview) -> None:
        if self._workers:
            if not isinstance(chunk, bytes):
                chunk = bytes(chunk)  # the caller may reuse its buffer
            for w in self._workers:
                w.feed(chunk)
        else:
            if self._md5 is not None:
                self._md5.update(chunk)
            if self._sha256 is not None:
                self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def hashing(self) -> bool:
        return self._md5 is not None or self._sha256 is not None

    def lend(self, chunk: memoryview, returned: Callable[[], None]) -> None:
        """Like :meth:`update` without its copy, for a buffer the caller reuses:
        it must not change until ``returned`` is called (by the sum done last)."""
        if not self._workers:  # hashed here and now: the buffer is free again at once
            self.update(chunk)
            returned()
            return
        countdown = _Countdown(len(self._workers), returned)
        for w in self._workers:
            w.feed(chunk, countdown.done)
        self.size += len(chunk)

    def finish(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            w.join()

    @property
    def md5(self) -> str | None:
        self.finish()
        return self._md5.hexdigest() if self._md5 is not None else None

    @property
    def sha256(self) -> str | None:
        self.finish()
        return self._sha256.hexdigest() if self._sha256 is not None else None


class _HashWorker:
    """One hash fed from a bounded queue by its own thread."""

    _DEPTH = 8  # chunks waiting: bounds memory, keeps the thread busy

    def __init__(self, digest):
        self._digest = digest
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._room = threading.Semaphore(self._DEPTH)
        self._thread = threading.Thread(target=self._run, name="nels-hash", daemon=True)
        self._thread.start()

    def feed(self, chunk: bytes | memoryview, done: Callable[[], None] | None = None) -> None:
        self._room.acquire()
        self._queue.put((chunk, done))

    def join(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            chunk, done = item
            self._digest.update(chunk)
            if done is not None:
                done()
            self._room.release()


class _Countdown:
    """Calls ``then`` once ``done`` has been called ``n`` times, from any threads."""

    def __init__(self, n: int, then: Callable[[], None]):
        self._left = n
        self._then = then
        self._lock = threading.Lock()

    def done(self) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._then()


class ChecksumFileError(NelsError, ValueError):
    pass


def parse_md5_list(text: str, source: str = "md5sum.txt") -> dict[str, str]:
    """``{relative name: lowercase md5}`` from an ``md5sum``-style file.

    Blank lines and ``#`` comments are skipped; any other malformed line is
    an error naming the file and line.
    """
    out: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _MD5_LINE.fullmatch(line)
        if not m:
            raise ChecksumFileError(f"{source}, line {lineno}: not '<md5>  <file name>': {line!r}")
        name = m.group(2).strip()
        if name.startswith("./"):
            name = name[2:]
        out[name] = m.group(1).lower()
    return out


def parse_md5_single(text: str, source: str) -> str:
    """The MD5 in a ``<file>.md5`` file (the name after it, if any, ignored)."""
    for line in text.splitlines():
        if line.strip():
            token = line.split()[0]
            if re.fullmatch(r"[0-9a-fA-F]{32}", token):
                return token.lower()
            break
    raise ChecksumFileError(f"{source}: no MD5 checksum found")


def is_checksum_file(name: str) -> bool:
    return name in CHECKSUM_LIST_NAMES or name.endswith(".md5")
