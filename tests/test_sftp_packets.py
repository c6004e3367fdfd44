"""SFTP packets cut from ssh's stdout (nels_core/storage/sftp_packets.py):
whole packets in order however the bytes arrive, and a stream that is not
SFTP named as such, over a real connection too."""

import os
import random
import struct
import sys

import pytest
from conftest import sftp_storage

from nels_core.errors import TransferError
from nels_core.storage.sftp_packets import DATA, MAX_PACKET, PacketError, PacketReader

VERSION, STATUS, HANDLE, NAME = 2, 101, 102, 104


def packet(kind: int, rid: int, body: bytes) -> bytes:
    return struct.pack(">IBI", 5 + len(body), kind, rid) + body


def data_packet(rid: int, data: bytes) -> bytes:
    return packet(DATA, rid, struct.pack(">I", len(data)) + data)


class Transport:
    closed = False

    def close(self):
        self.closed = True


def reader():
    got, lost = [], []
    r = PacketReader(lambda *p: got.append(p), lost.append)
    transport = Transport()
    r.connection_made(transport)
    return r, got, lost, transport


def test_packets_arrive_whole_and_in_order_however_the_bytes_are_split():
    rng = random.Random(7)
    big = rng.randbytes(300 * 1024)  # more than one read of the pipe holds
    expected = [
        (VERSION, 3, b"\x00\x00\x00\x04name\x00\x00\x00\x011"),
        (STATUS, 1, struct.pack(">I", 0) + b"\x00\x00\x00\x00\x00\x00\x00\x00"),
        (DATA, 2, big),
        (DATA, 3, b""),
        (DATA, 4, b"x"),
        (VERSION, 3, b""),  # a body of nothing
        (HANDLE, 5, b"\x00\x00\x00\x01h"),
        (DATA, 6, big[: 255 * 1024]),
    ]
    stream = b"".join(
        data_packet(rid, body) if kind == DATA else packet(kind, rid, body)
        for kind, rid, body in expected
    )
    cuts = [
        [1] * 64,  # the first packets a byte at a time
        [9, 4, 256 * 1024, 13],  # a DATA answer's header and bytes apart
        [len(stream)],  # all at once
        [rng.randint(1, 70_000) for _ in range(40)],
    ]
    for sizes in cuts:
        r, got, lost, _ = reader()
        pos = 0
        for n in [*sizes, len(stream)]:
            if pos < len(stream):
                r.data_received(stream[pos : pos + n])
                pos += n
        r.connection_lost(None)
        assert got == expected, sizes
        assert all(type(body) is bytes for _, _, body in got)
        assert lost == [None]


@pytest.mark.parametrize(
    "stream, said",
    [
        (struct.pack(">IBI", MAX_PACKET + 1, DATA, 1), f"said it was {MAX_PACKET + 1} bytes long"),
        (struct.pack(">IBI", 2, STATUS, 1), "said it was 2 bytes long"),
        (packet(DATA, 1, struct.pack(">I", 5) + b"abc"), "of 12 bytes said it held 5"),
        (packet(DATA, 1, b"ab"), "of 7 bytes has no byte count"),
    ],
    ids=[
        "longer than any packet",
        "shorter than its header",
        "DATA holding less than it says",
        "DATA without its count",
    ],
)
def test_a_stream_that_is_not_sftp_packets_ends_the_channel_saying_why(stream, said):
    r, got, lost, transport = reader()
    r.data_received(packet(STATUS, 9, b"\x00" * 12) + stream)
    r.data_received(packet(STATUS, 10, b"\x00" * 12))  # after the break: not delivered
    assert [rid for _, rid, _ in got] == [9]
    (error,) = lost
    assert isinstance(error, PacketError) and said in str(error)
    assert transport.closed
    r.connection_lost(None)
    assert len(lost) == 1  # told once


def test_a_stream_ending_inside_a_packet_is_not_a_clean_end():
    r, got, lost, _ = reader()
    r.data_received(data_packet(1, b"abcdef")[:-2])
    r.connection_lost(None)
    assert got == []
    (error,) = lost
    assert isinstance(error, PacketError) and "ended inside a packet (17 bytes left)" in str(error)


FAKE_SSH = """#!{python}
import os, select, struct, sys
out = sys.stdout.buffer
sys.stdin.buffer.read(9)  # INIT
out.write(struct.pack(">IBI", 5, 2, 3)); out.flush()  # VERSION 3, no extensions
head = sys.stdin.buffer.read(9)  # the first request: answered with a lie
out.write(struct.pack(">IBI", 0xFFFFFFF0, 101, struct.unpack(">IBI", head)[2])); out.flush()
select.select([sys.stdin], [], [], 30)  # until the channel is closed; a reader waiting
"""  # for the 4 GiB then sees the stream end, not what was wrong with it


def test_a_data_channel_answering_garbage_is_a_clear_error_not_a_hang(cast, tmp_path, monkeypatch):
    """The bulk channel's ``ssh`` swapped for a program that answers a request
    with a packet claiming 4 GiB: the listing fails at once, naming the length."""
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(FAKE_SSH.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    storage = sftp_storage(cast, cast.alice, transport="openssh")
    try:
        with pytest.raises(TransferError) as e:
            storage.list("Personal")  # a listing's first request goes over the bulk channel
        assert f"said it was {0xFFFFFFF0} bytes long" in str(e.value)
    finally:
        storage.close()
