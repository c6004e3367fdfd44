"""Reading what a server command prints until it says it is ready."""

from __future__ import annotations

import queue
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
