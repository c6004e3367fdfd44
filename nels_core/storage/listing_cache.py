"""Folder listings kept for a few minutes, in memory, for every storage of
this process: the CLI, fsspec, Galaxy's file source and the web app all
list through ``Storage.list``. Paging through a folder of 100,000 files
then reads the folder once, not once per page.

A kept listing is used only while the folder's modification time is the
one it had when it was read, so a file added, removed or renamed in it
shows at once. Times on SFTP are whole seconds: a folder changed less
than ``SETTLING`` seconds before it was read is not kept, since a change
later in that same second would leave its time as it was. Sizes and
times of the entries shown are read afresh by the caller (a file that
grows does not change its folder's time).

Bounded: at most ``NELS_LISTING_CACHE_ENTRIES`` entries in all (250,000 by
default: about 70 MB with paths of 80 characters), the least recently
used listings dropped first.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from ..errors import ConfigError
from ..model import Entry

KEEP_SECONDS = 300.0
SETTLING = 2.0  # seconds a folder must have been unchanged before its listing is kept
DEFAULT_ENTRIES = 250_000


@dataclass(frozen=True)
class _Kept:
    mtime: float
    until: float
    entries: tuple[Entry, ...]


class ListingCache:
    def __init__(self, max_entries: int, keep_seconds: float = KEEP_SECONDS):
        self.max_entries, self.keep_seconds = max_entries, keep_seconds
        self._kept: OrderedDict[tuple, _Kept] = OrderedDict()
        self._held = 0  # entries in all the listings kept
        self._lock = threading.Lock()

    def get(self, key: tuple, mtime: float | None) -> list[Entry] | None:
        """The listing kept under ``key`` if the folder's time is still ``mtime``."""
        if mtime is None:
            return None
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if kept.mtime != mtime or kept.until < time.monotonic():
                self._drop(key)
                return None
            self._kept.move_to_end(key)
            return list(kept.entries)

    def put(self, key: tuple, mtime: float | None, read_at: float, entries: list[Entry]) -> None:
        """Keep a listing read at ``read_at`` (seconds since the epoch) from a
        folder whose time was ``mtime``, if it had settled by then."""
        if mtime is None or mtime > read_at - SETTLING or len(entries) > self.max_entries:
            return
        with self._lock:
            self._drop(key)
            self._kept[key] = _Kept(mtime, time.monotonic() + self.keep_seconds, tuple(entries))
            self._held += len(entries)
            while self._held > self.max_entries:
                self._drop(next(iter(self._kept)))

    def forget(self, owner: tuple, path: str) -> None:
        """``path`` written, removed or made through this process: the listings
        of its folder, of itself and of everything below it go at once."""
        parent = path.rpartition("/")[0]
        below = f"{path}/" if path else ""
        with self._lock:
            for key in [
                k for k in self._kept
                if k[0] == owner and (k[1] in (parent, path) or k[1].startswith(below))
            ]:  # fmt: skip
                self._drop(key)

    def _drop(self, key: tuple) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._held -= len(kept.entries)


_made: list[ListingCache] = []
_making = threading.Lock()


def listings() -> ListingCache:
    """This process's listings (made on first use, so that a wrong setting
    is said by the command that lists, not by an import)."""
    with _making:
        if not _made:
            _made.append(ListingCache(_max_entries()))
        return _made[0]


def _max_entries() -> int:
    said = os.environ.get("NELS_LISTING_CACHE_ENTRIES", str(DEFAULT_ENTRIES))
    try:
        return max(0, int(said))
    except ValueError:
        raise ConfigError(
            f"NELS_LISTING_CACHE_ENTRIES must be a whole number of entries (0: keep no "
            f"listings), not {said!r}"
        ) from None
