"""Uploading a regular local file: spliced from the page cache on the OpenSSH
route, read like any stream otherwise; both give the same file and sums."""

import contextlib
import errno
import hashlib
import io
import os
import threading

import pytest
from conftest import sftp_storage

from nels_core.errors import TransferError
from nels_core.storage import local_source

# (transport, splice_files): the spliced route, then the read route forced
# (splice off, or asyncssh, which never splices)
ROUTES = pytest.mark.parametrize(
    "transport, splice",
    [("openssh", True), ("openssh", False), ("asyncssh", True)],
    ids=["spliced", "read", "asyncssh"],
)
PACKET = 261120  # OpenSSH's largest write: the sizes below straddle it


@pytest.fixture
def spliced(monkeypatch):
    """The bytes os.splice moved in this test: shows which route was taken."""
    moved = []
    real = os.splice

    def counting(*args, **kwargs):
        n = real(*args, **kwargs)
        moved.append(n)
        return n

    monkeypatch.setattr(os, "splice", counting)
    return moved


def _storage(cast, transport, splice):
    storage = sftp_storage(cast, cast.alice, transport=transport, splice_files=splice)
    storage.mkdir("Personal/up")
    return storage


@ROUTES
@pytest.mark.parametrize("size", [0, 1, 3 * PACKET + 17, 5 * 1024 * 1024 + 4099])
def test_a_local_file_arrives_whole_with_its_sums(cast, tmp_path, transport, splice, size, spliced):
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    storage = _storage(cast, transport, splice)
    with open(src, "rb") as f:
        entry = storage.write("Personal/up/x.bin", f)
        assert f.tell() == size  # consumed, as a read to the end leaves it
    assert (cast.world.home(cast.alice) / "Personal/up/x.bin").read_bytes() == data
    assert entry.size == size
    assert entry.md5 == hashlib.md5(data).hexdigest()
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    route_splices = transport == "openssh" and splice
    assert sum(spliced) == (size if route_splices else 0)
    storage.close()


@ROUTES
def test_a_file_read_partway_is_sent_from_where_it_stands(cast, tmp_path, transport, splice):
    data = os.urandom(2 * 1024 * 1024 + 5)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    storage = _storage(cast, transport, splice)
    with open(src, "rb") as f:
        f.read(1000)  # e.g. a header the caller looked at
        entry = storage.write("Personal/up/x.bin", f, checksums=False)
    assert (cast.world.home(cast.alice) / "Personal/up/x.bin").read_bytes() == data[1000:]
    assert entry.size == len(data) - 1000 and entry.md5 is None
    storage.close()


def _grow(path):
    with open(path, "ab") as f:
        f.write(b"more")


def _rewrite(path):
    data = path.read_bytes()
    path.write_bytes(bytes(b ^ 0xFF for b in data[:4096]) + data[4096:])


def _shrink(path):
    os.truncate(path, 1024 * 1024 + 3)


CHANGES = pytest.mark.parametrize("change", [_grow, _rewrite, _shrink])


@CHANGES
def test_a_file_changed_while_spliced_is_refused_and_nothing_stored(
    cast, tmp_path, monkeypatch, change
):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(8 * 1024 * 1024))
    os.utime(src, ns=(10**18, 10**18))  # its last change well before the send
    storage = _storage(cast, "openssh", True)
    real = local_source.LocalFile.read_into
    changed = []

    def read_then_change(self, buf, pos):  # the change lands mid-send
        n = real(self, buf, pos)
        if not changed:
            changed.append(change(src))
        return n

    monkeypatch.setattr(local_source.LocalFile, "read_into", read_then_change)
    with open(src, "rb") as f, pytest.raises(TransferError) as caught:
        storage.write("Personal/up/x.bin", f)
    assert changed
    assert str(caught.value) == (
        f"{str(src)!r} changed while it was being sent to 'Personal/up/x.bin'; "
        "nothing was stored: send it again once it is complete"
    )
    assert os.listdir(cast.world.home(cast.alice) / "Personal/up") == []  # nor a partial
    # the connection is still good: the file, whole again, goes
    src.write_bytes(b"whole")
    with open(src, "rb") as f:
        assert storage.write("Personal/up/x.bin", f).md5 == hashlib.md5(b"whole").hexdigest()
    storage.close()


class _ChangingReader(io.BufferedReader):
    """A file (not spliced: not exactly a BufferedReader) changed after its first read."""

    def __init__(self, path, change):
        super().__init__(io.FileIO(path, "rb"))
        self._change, self._path = change, path

    def read(self, n=-1):
        data = super().read(n)
        if self._change is not None:
            self._change, change = None, self._change
            change(self._path)
        return data


@CHANGES
@pytest.mark.parametrize("transport", ["openssh", "asyncssh"])
def test_read_route_stores_a_changing_file_as_read(cast, tmp_path, transport, change):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(8 * 1024 * 1024))
    storage = _storage(cast, transport, True)
    with _ChangingReader(src, change) as f:
        entry = storage.write("Personal/up/x.bin", f)
    stored = (cast.world.home(cast.alice) / "Personal/up/x.bin").read_bytes()
    assert entry.md5 == hashlib.md5(stored).hexdigest()  # the sums are of what was stored
    assert entry.sha256 == hashlib.sha256(stored).hexdigest()
    storage.close()


@ROUTES
def test_sources_that_are_not_regular_files_are_read(cast, tmp_path, transport, splice, spliced):
    data = os.urandom(3 * 1024 * 1024 + 11)
    storage = _storage(cast, transport, splice)
    r, w = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(w, data), os.close(w)))
    feeder.start()
    with open(r, "rb") as piped:
        entry = storage.write("Personal/up/piped.bin", piped)
    feeder.join()
    assert entry.md5 == hashlib.md5(data).hexdigest()
    entry = storage.write("Personal/up/memory.bin", io.BytesIO(data))
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    entry = storage.write(
        "Personal/up/chunks.bin", (data[i : i + 7777] for i in range(0, len(data), 7777))
    )
    assert entry.md5 == hashlib.md5(data).hexdigest()
    home = cast.world.home(cast.alice) / "Personal/up"
    for name in ("piped.bin", "memory.bin", "chunks.bin"):
        assert (home / name).read_bytes() == data
    assert sum(spliced) == 0
    storage.close()


def test_a_file_system_that_cannot_splice_is_read_instead(cast, tmp_path, monkeypatch):
    data = os.urandom(2 * PACKET + 5)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    refused = []

    def cannot(*args, **kwargs):
        refused.append(1)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "splice", cannot)
    storage = _storage(cast, "openssh", True)
    with open(src, "rb") as f:
        entry = storage.write("Personal/up/x.bin", f)
    assert (cast.world.home(cast.alice) / "Personal/up/x.bin").read_bytes() == data
    assert entry.md5 == hashlib.md5(data).hexdigest()
    assert len(refused) == 1  # asked once, then read for the rest of the file
    storage.close()


@ROUTES
def test_progress_hears_of_every_byte_as_it_goes(cast, tmp_path, transport, splice):
    data = os.urandom(5 * PACKET + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    storage = _storage(cast, transport, splice)
    for name, source in (("file.bin", open(src, "rb")), ("memory.bin", data)):
        heard = []
        with source if name == "file.bin" else contextlib.nullcontext():
            storage.write(f"Personal/up/{name}", source, progress=heard.append)
        assert sum(heard) == len(data), name
        if name == "file.bin" and transport == "openssh" and splice:
            # each write the server confirmed, not the whole file at the end
            assert len(heard) >= 6 and max(heard) <= PACKET
    storage.close()


def test_put_splices_the_file_over_ssh_and_shows_its_sum(nels_server, tmp_path, spliced):
    """``nels-bundle put`` hands write() the file itself, so it is spliced."""
    from click.testing import CliRunner
    from conftest import sftp_config
    from test_api_client import sign_in

    from nels_cli.main import main

    cast = nels_server.cast
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    sshd = cast.world.sshd
    config = sftp_config(tmp_path, nels_server.url, sshd.port, sshd.known_hosts)
    data = os.urandom(3 * PACKET + 17)
    src = tmp_path / "result.bin"
    src.write_bytes(data)
    (cast.world.home(cast.bob) / "Personal/results").mkdir(parents=True)
    r = CliRunner(env={"NELS_TOKEN": token}).invoke(
        main, ["--config", str(config), "put", str(src), "nels://Personal/results/"]
    )
    assert r.exit_code == 0, r.output
    assert hashlib.md5(data).hexdigest() in r.output
    assert (cast.world.home(cast.bob) / "Personal/results/result.bin").read_bytes() == data
    assert sum(spliced) == len(data)  # from the page cache into ssh, not read by us
