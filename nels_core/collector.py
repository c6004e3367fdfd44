"""Python's cycle collector held off while 100,000s of small records are made.

Exports, bundle reading and ENA's XML make some 15 containers a sample and
no reference cycles; the collector, started every 700 new containers, walks
all of them again and again (a third of reading a bundle, a fifth of making
ENA's XML). Pauses may overlap, on one thread or several: the collector
comes back when the last one ends, if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_paused = 0  # pauses under way
_was_enabled = False  # the collector's state when the first began


@contextmanager
def paused() -> Iterator[None]:
    global _paused, _was_enabled
    with _lock:
        if _paused == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _lock:
            _paused -= 1
            if _paused == 0 and _was_enabled:
                gc.enable()
