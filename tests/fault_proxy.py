"""A TCP proxy that breaks connections on purpose, for fault-injection tests.

Sits between a client and the sandbox sshd. Each accepted connection gets
a plan from ``plans`` (in order; connections past the list pass untouched):
``("cut", n)`` closes both sides once ``n`` bytes have passed in either
direction, ``("silent", n)`` keeps both sides open but forwards nothing more
after ``n`` bytes (a peer that went away without a word), ``("pass", 0)``
forwards everything. Offsets come from the caller (seeded in the tests).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterable

PASS = ("pass", 0)


class FaultProxy:
    def __init__(self, target_port: int, plans: Iterable[tuple[str, int]] = ()):
        self.target = ("127.0.0.1", target_port)
        self.plans = list(plans)
        self.connections = 0  # accepted so far
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._budgets: list[_Budget] = []
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def faults(self) -> int:
        """Connections cut or silenced so far."""
        with self._lock:
            return sum(b.fired for b in self._budgets)

    def known_hosts(self, host_public_key: str) -> str:
        return f"[127.0.0.1]:{self.port} {host_public_key}\n"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        with self._lock:
            for sock in self._open:
                _reset(sock)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                plan = self.plans[self.connections] if self.connections < len(self.plans) else PASS
                self.connections += 1
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, plan), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket, plan: tuple[str, int]) -> None:
        budget = _Budget(plan)
        with self._lock:
            self._open += [client, server]
            self._budgets.append(budget)
        back = threading.Thread(target=self._copy, args=(server, client, budget), daemon=True)
        back.start()
        self._copy(client, server, budget)
        back.join()

    def _copy(self, src: socket.socket, dst: socket.socket, budget: _Budget) -> None:
        try:
            while data := src.recv(65536):
                data, cut = budget.take(data)
                if data:
                    dst.sendall(data)
                if cut:
                    break
        except OSError:
            pass
        finally:
            _reset(src)
            _reset(dst)


class _Budget:
    """Bytes a connection may still pass, shared by its two directions."""

    def __init__(self, plan: tuple[str, int]):
        self.kind, self.left = plan
        self.silent = False
        self.fired = False
        self._lock = threading.Lock()

    def take(self, data: bytes) -> tuple[bytes, bool]:
        """What to forward of ``data``, and whether to cut now."""
        with self._lock:
            if self.kind == "pass":
                return data, False
            if self.silent:
                return b"", False
            if len(data) < self.left:
                self.left -= len(data)
                return data, False
            head, self.left = data[: self.left], 0
            self.fired = True
            if self.kind == "cut":
                return head, True
            self.silent = True
            return head, False


def _reset(sock: socket.socket) -> None:
    """Close with a reset, as a dropped link or a killed middlebox does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # wakes the other direction's thread blocked in recv(); close alone
        # would wait for it, and the peer would hear nothing meanwhile
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()
