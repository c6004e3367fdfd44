"""A user's NeLS home from a plugin configuration, reused across requests.

Galaxy calls a file source once per listing, import or export; opening SSH
connections and asking the NeLS API who the user is each time would cost
more than the work. Homes are kept per configuration (which includes the
user's credentials) for a few minutes. With the user's NeLS API token a home
also shows ``StoreBioinfo/`` (read-only), reached through that API.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from nels_core.connect import NelsSettings, build_home
from nels_core.home import Home
from nels_core.sbi.tree import with_storebioinfo

__all__ = ["HOMES", "HomeCache", "NelsSettings", "build_home"]


class HomeCache:
    """Open homes by configuration fingerprint: least recently used out, and
    none older than ``ttl`` seconds (memberships and keys change)."""

    def __init__(self, size: int = 32, ttl: float = 300.0):
        self.size, self.ttl = size, ttl
        self._homes: OrderedDict[str, tuple[float, Home]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, settings: NelsSettings) -> Home:
        key = settings.fingerprint()
        now = time.monotonic()
        with self._lock:
            hit = self._homes.pop(key, None)
            if hit and now - hit[0] < self.ttl:
                self._homes[key] = hit
                return hit[1]
        if hit:
            hit[1].close()
        home = with_storebioinfo(
            build_home(settings), settings.api_url, settings.access_token, settings.timeout
        )
        with self._lock:
            self._homes[key] = (now, home)
            while len(self._homes) > self.size:
                _, (_, old) = self._homes.popitem(last=False)
                old.close()
        return home

    def clear(self) -> None:
        with self._lock:
            homes = [h for _, h in self._homes.values()]
            self._homes.clear()
        for h in homes:
            h.close()


HOMES = HomeCache()
