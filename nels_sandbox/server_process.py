"""A real server program (sshd, redis-server) started for the tests and
stopped with them."""

from __future__ import annotations

import os
import shutil
import subprocess


def find_program(name: str, *places: str) -> str | None:
    """The first executable of ``places`` (where Debian puts it), else ``name`` on PATH."""
    for p in places:
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


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
