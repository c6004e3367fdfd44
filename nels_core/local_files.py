"""Local files written whole or not at all: a temporary name beside the
target, flushed to disk, then renamed over it. A crash leaves the old file."""

from __future__ import annotations

import os
from pathlib import Path


def write_whole(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    partial.replace(target)
    return target
