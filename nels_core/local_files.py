"""Local files written whole or not at all: a hidden temporary name beside
the target, flushed to disk, then renamed over it. A crash or an interrupted
download leaves the old file (or none) under the target's name, never a
truncated one, and an error removes the temporary file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .storage.partials import new_name


@contextmanager
def replacing(target: Path) -> Iterator[BinaryIO]:
    """A file to write that becomes ``target`` when the block ends without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(new_name(target.name, mark=".part-"))
    # created new, with the usual permissions (the umask's), unlike mkstemp's 0600
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_whole(target: Path, data: bytes) -> Path:
    with replacing(target) as f:
        f.write(data)
    return target
