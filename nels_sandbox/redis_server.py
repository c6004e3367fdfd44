"""A real Redis server (Debian's ``redis-server``) on loopback, for Celery.

Started the way the tests start sshd: a free port, a throwaway folder, no
persistence, stopped with the process that started it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from .server_process import ServerProcess, die_with_parent, find_program
from .sshd import free_port


def find_redis() -> str | None:
    return find_program("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")


class RedisServer(ServerProcess):
    def __init__(self, workdir: str | os.PathLike, port: int | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.port = port or free_port()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 15.0) -> RedisServer:
        server = find_redis()
        if server is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        # arguments, not a config file: nothing on disk to read back but the log
        self._proc = subprocess.Popen(
            [
                server,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.workdir),
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "yes",
                "--daemonize", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self._proc.returncode}: "
                    + (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                )
            if self._pong():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
