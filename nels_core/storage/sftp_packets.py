"""SFTP packets cut from ssh's stdout as its bytes arrive.

asyncio's ``StreamReader`` copies what arrives into its buffer and out
again, and slicing a packet's body and then a DATA answer's bytes out of
it copied them twice more: four copies of every downloaded byte after the
kernel's. Here the pieces read are kept as they came, each packet's body is
joined from them once, and a DATA answer's bytes are joined straight from
them without its header: one copy.
"""

from __future__ import annotations

import asyncio
import collections
import struct
from collections.abc import Callable

_HEAD = struct.Struct(">IBI")  # length, type, request id (VERSION: its version)
_U32 = struct.Struct(">I")
DATA = 103
# OpenSSH sends at most 256 KiB a packet; a length far beyond is a broken stream
MAX_PACKET = 64 << 20


class PacketError(ConnectionError):
    """The stream is not SFTP packets: its connection cannot be used further."""


class PacketReader(asyncio.Protocol):
    """Calls ``packet(kind, rid, body)`` for each whole packet, in order.

    ``body`` is what follows the request id, except for a DATA answer,
    whose ``body`` is its bytes alone. ``lost(error)`` is called once when
    the stream ends (``error`` None at a clean end of file) or breaks.
    """

    def __init__(
        self,
        packet: Callable[[int, int, bytes], None],
        lost: Callable[[Exception | None], None],
    ):
        self._packet = packet
        self._lost: Callable[[Exception | None], None] | None = lost
        self._parts: collections.deque[memoryview] = collections.deque()
        self._have = 0
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._parts.append(memoryview(data))
        self._have += len(data)
        try:
            self._cut()
        except Exception as e:  # PacketError, or one of ours: the channel ends saying so
            self._end(e)
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is None and self._have:
            exc = PacketError(f"the stream ended inside a packet ({self._have} bytes left)")
        self._end(exc)

    def _end(self, error: Exception | None) -> None:
        lost, self._lost = self._lost, None
        self._parts.clear()
        self._have = 0
        if lost is not None:
            lost(error)

    def _cut(self) -> None:
        while self._have >= _HEAD.size and self._lost is not None:
            length, kind, rid = _HEAD.unpack(self._peek(_HEAD.size))
            if not 5 <= length <= MAX_PACKET:
                raise PacketError(f"an SFTP packet said it was {length} bytes long")
            if self._have < 4 + length:
                return
            self._take(_HEAD.size)
            if kind == DATA:
                if length < 9:
                    raise PacketError(f"an SFTP DATA answer of {length} bytes has no byte count")
                (n,) = _U32.unpack(self._take(4))
                if n != length - 9:
                    raise PacketError(f"an SFTP DATA answer of {length} bytes said it held {n}")
                self._packet(kind, rid, self._take(n))
            else:
                self._packet(kind, rid, self._take(length - 5))

    def _peek(self, n: int) -> bytes:
        head = self._parts[0]
        if len(head) >= n:
            return head[:n].tobytes()
        out = bytearray()
        for part in self._parts:
            out += part[: n - len(out)]
            if len(out) == n:
                break
        return bytes(out)

    def _take(self, n: int) -> bytes:
        """The next ``n`` bytes, copied once (not at all when they are one
        whole piece as it was read)."""
        if not n:
            return b""
        self._have -= n
        head = self._parts[0]
        if len(head) == n:
            self._parts.popleft()
            whole = head.obj
            return whole if isinstance(whole, bytes) and len(whole) == n else head.tobytes()
        if len(head) > n:
            self._parts[0] = head[n:]
            return head[:n].tobytes()
        pieces = []
        while n:
            head = self._parts[0]
            if len(head) <= n:
                pieces.append(self._parts.popleft())
                n -= len(head)
            else:
                pieces.append(head[:n])
                self._parts[0] = head[n:]
                n = 0
        return b"".join(pieces)
