"""Hidden temporary files of uploads in progress, and sweeping the abandoned ones.

An upload writes ``.<name>.nels-part-<host>-<pid>-<random>`` beside its
target and renames it into place when whole. A cut connection or a killed
process leaves that file behind, and NeLS lets a member delete nothing, so
the next upload into the same folder removes what is plainly abandoned:
a partial of this host whose process is gone or no longer writing it, or
one of another host untouched for ``STALE_AFTER`` seconds (we cannot ask
another host whether its writer lives).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid

MARK = ".nels-part-"
NAME_MAX = 255  # bytes in one name, on NeLS's file systems as on ours
STALE_AFTER = 6 * 3600  # an upload of another host that has not written for this long is dead

_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_writing: set[str] = set()  # basenames of this process's partials being written
_lock = threading.Lock()


def is_partial(name: str) -> bool:
    return name.startswith(".") and MARK in name


def new_name(final_name: str, mark: str = MARK) -> str:
    """A unique hidden name beside ``final_name``, never longer than a name
    may be (a long final name is shortened in it), marked with its writer."""
    suffix = f"{mark}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    room = NAME_MAX - 1 - len(suffix.encode())
    stem = final_name.encode("utf-8", "surrogateescape")[:room]
    # cut on a character boundary: a partial UTF-8 sequence would make a name NeLS refuses
    return f".{stem.decode('utf-8', 'ignore')}{suffix}"


class writing:
    """Marks a partial as being written by this process while the ``with`` lasts."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        with _lock:
            _writing.add(self.name)

    def __exit__(self, *exc):
        with _lock:
            _writing.discard(self.name)


def abandoned(name: str, mtime: float | None, now: float | None = None) -> bool:
    """Whether nobody can still be writing the partial ``name``."""
    tag = name.rsplit(MARK, 1)[-1].split("-")
    if len(tag) == 3 and tag[0] == _HOST and tag[1].isdigit():
        pid = int(tag[1])
        if pid == os.getpid():
            with _lock:
                return name not in _writing
        return not process_alive(pid)
    age = (now or time.time()) - (mtime or 0)
    return age > STALE_AFTER


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
