"""What every benchmark here does the same way."""

from __future__ import annotations

import os
import time
from pathlib import Path


def timed(fn) -> float:
    """Seconds ``fn`` takes, started with no dirty pages, so one measurement's
    write-back does not land in the next one's time."""
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def random_file(path: Path, size_mib: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    return path
