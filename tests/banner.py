"""A server command as the tests drive it: what it prints until it is
ready, and whether its ports answer."""

from __future__ import annotations

import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import pytest


def read_banner(proc: subprocess.Popen, last: Callable[[str], bool], timeout: float) -> list[str]:
    """The lines ``proc`` prints up to the one ``last`` accepts, read with a
    deadline (on a thread: a pipe's read cannot time out); the test fails with
    what was printed if it ends or goes silent first."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read():
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not (got and last(got[-1])):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:  # ended, or silent too long
            proc.kill()
            _, err = proc.communicate()
            pytest.fail("the sandbox did not start:\n" + "\n".join(got) + "\n" + err)
        got.append(line)
    return got


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
