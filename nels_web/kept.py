"""What a web process keeps between requests, because making it anew on each
one cost most of a page: a signed-in user's NeLS home (two NeLS API calls
and, over SFTP, a connection), API client (a connection of its own) and
StoreBioinfo answers, and a folder's ISA description.

Each is kept a short while only (``HOME_KEEP_SECONDS``, ``DESCRIPTION_KEEP_SECONDS``):
a membership NeLS withdrew, or data a delivery added, shows within that
time (and the moment NeLS takes to answer anew: while one request makes
the new value, the others take the old one). A description is also keyed
by the folder's newest sheet version, so a sheet saved by any process (a
worker's pull) shows at once. Every request still checks the session and
the user's access to the folder; only the answers of NeLS are reused.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from nels_core.api import NelsApi
from nels_core.home import Home

T = TypeVar("T")
CLOSE_AFTER = 600  # seconds a replaced home stays open: requests still using it finish


class _Kept(Generic[T]):
    """Values by key, each made once and kept for ``seconds``."""

    def __init__(self, seconds: float, retire: Callable[[T], None] | None = None):
        self.seconds, self.retire = seconds, retire
        self._values: dict[tuple, tuple[T, float]] = {}
        self._making: dict[tuple, threading.Lock] = {}  # one maker per key at a time
        self._lock = threading.Lock()

    def get(self, key: tuple, make: Callable[[], T]) -> T:
        with self._lock:
            kept = self._values.get(key)
            if _fresh(kept):
                return kept[0]
            if kept is not None and key in self._making:
                # being made anew: the one it replaces, for the moment NeLS takes
                # to answer, rather than every open page of the user waiting on it
                return kept[0]
            making = self._making.setdefault(key, threading.Lock())
        # outside the main lock: one slow NeLS answer holds up no one else; the
        # requests wanting a value never made wait for it instead of making it too
        with making:
            with self._lock:
                kept = self._values.get(key)
            if _fresh(kept):
                return kept[0]
            try:
                value = make()
            except BaseException:
                with self._lock:
                    self._making.pop(key, None)
                raise
            with self._lock:
                now = time.monotonic()
                old = self._values.get(key)
                self._values[key] = (value, now + self.seconds)
                self._making.pop(key, None)
                self._sweep(now)
        if old is not None and self.retire:
            self.retire(old[0])
        return value

    def forget(self, match: Callable[[tuple], bool]) -> None:
        with self._lock:
            gone = [k for k in self._values if match(k)]
            values = [self._values.pop(k)[0] for k in gone]
        for v in values if self.retire else ():
            self.retire(v)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (_, until) in self._values.items() if until <= now]:
            value, _ = self._values.pop(key)
            if self.retire:
                self.retire(value)


def _fresh(kept: tuple | None) -> bool:
    return kept is not None and kept[1] > time.monotonic()


class _Closer:
    """Homes replaced in the cache, closed once no request can still be using them."""

    def __init__(self):
        self._waiting: list[tuple[Home, float]] = []
        self._lock = threading.Lock()

    def __call__(self, home: Home) -> None:
        now = time.monotonic()
        with self._lock:
            self._waiting.append((home, now + CLOSE_AFTER))
            due = [h for h, at in self._waiting if at <= now]
            self._waiting = [(h, at) for h, at in self._waiting if at > now]
        for h in due:
            h.close()


class KeptForRequests:
    """The caches of one web process (app.extensions["nels_bundle"]["kept"])."""

    def __init__(self, config):
        self.homes: _Kept[Home] = _Kept(float(config["HOME_KEEP_SECONDS"]), _Closer())
        self.apis: _Kept[NelsApi] = _Kept(float(config["HOME_KEEP_SECONDS"]))
        self.answers: _Kept[object] = _Kept(float(config["HOME_KEEP_SECONDS"]))
        self.descriptions: _Kept[tuple] = _Kept(float(config["DESCRIPTION_KEEP_SECONDS"]))

    def home(self, user_id: int, token: str, make: Callable[[], Home]) -> Home:
        return self.homes.get((user_id, _digest(token)), make)

    def api(self, user_id: int, token: str, make: Callable[[], NelsApi]) -> NelsApi:
        return self.apis.get((user_id, _digest(token)), make)

    def answer(self, user_id: int, token: str, question: tuple, make: Callable[[], T]) -> T:
        """What NeLS answered this user to ``question`` ("sbi_projects", ...)."""
        return self.answers.get((user_id, _digest(token), *question), make)

    def description(self, key: tuple, make: Callable[[], tuple]) -> tuple:
        return self.descriptions.get(key, make)

    def forget_user(self, user_id: int) -> None:
        """A user signed out: nothing of theirs is reused (this process's caches)."""
        self.homes.forget(lambda k: k[0] == user_id)
        self.apis.forget(lambda k: k[0] == user_id)
        self.answers.forget(lambda k: k[0] == user_id)

    def forget_folder(self, path: str) -> None:
        """``path`` changed here: its description, and those of folders holding it, go."""
        self.descriptions.forget(lambda k: _related(k[0], path))


def _digest(token: str) -> str:
    # a key that holds no token: a new token (a new sign-in) is a new home
    return hashlib.sha256(token.encode()).hexdigest()


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or not a or not b
