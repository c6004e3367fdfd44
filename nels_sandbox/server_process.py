"""A real server program (sshd, redis-server) started for the tests and
stopped with them."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def find_program(name: str, *places: str) -> str | None:
    """The first executable of ``places`` (where Debian puts it), else ``name`` on PATH."""
    for p in places:
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def _libc_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        # the C library this process already has: no find_library, which runs
        # ldconfig or gcc and leaves temporary files behind a killed process
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def die_with_parent():
    """A ``preexec_fn`` that has the kernel send the child SIGTERM when the
    thread that starts it ends (its process killed, even with SIGKILL): no
    server outlives what started it. Linux only; elsewhere None, and a server
    whose starter is SIGKILLed keeps running until killed by hand (its pid is
    in its folder). Start servers from a thread that lives as long as they
    should: the signal follows the starting thread, not the process."""
    prctl = _libc_prctl()  # looked up here, not in the forked child
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return preexec


class ServerProcess:
    """Subclasses start ``_proc``; stopping it and ``with`` are shared."""

    _proc: subprocess.Popen | None = None

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
