"""Locks that hold across hosts: one job at a time per folder for pushes and
deposits, whichever worker on whichever machine runs it. A Redis lock with
an expiry, renewed while its holder lives: a worker that dies frees it
within ``JOB_STALE_AFTER`` seconds (when its job's claim goes stale too, so
the worker taking the job over finds the folder free), never holds it for ever."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable

import redis
from flask import current_app

from nels_core.errors import NelsError

WAIT = 4 * 3600  # seconds a job waits for another on the same folder


class FolderBusy(NelsError):
    """Another job on the folder held its lock for longer than a job waits."""


WAITING = "Waiting for another job on this folder to finish."


@contextlib.contextmanager
def folder_lock(name: str, wait: float = WAIT, waiting: Callable[[], None] | None = None):
    """Held while the block runs; ``name`` says what it guards ("push <seek> <folder>").
    ``waiting()`` is called when another holds it, before waiting for it."""
    client = redis.Redis.from_url(current_app.config["REDIS_URL"])
    ttl = float(current_app.config["JOB_STALE_AFTER"])  # seconds it outlives its holder
    key = "nels-bundle:lock:" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
    lock = client.lock(key, timeout=ttl, blocking_timeout=wait, thread_local=False)
    if not lock.acquire(blocking=False):
        if waiting:
            waiting()
        if not lock.acquire():
            client.close()
            raise FolderBusy(f"another job on this folder has run for over {wait / 3600:g} h")
    done = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lock, ttl / 3, done), daemon=True)
    renewer.start()
    try:
        yield
    finally:
        done.set()
        renewer.join()
        with contextlib.suppress(redis.exceptions.LockError):  # expired meanwhile: freed
            lock.release()
        client.close()


def _renew(lock, every: float, done: threading.Event) -> None:
    while not done.wait(every):
        with contextlib.suppress(redis.exceptions.RedisError):  # the next try may reach it
            lock.reacquire()
