"""What only the SFTP backend does: dropped connections, host keys, ProxyJump."""

import hashlib
import logging
import os
import socket

import pytest
from conftest import sftp_storage

from nels_core.credentials import SshCredentials
from nels_core.errors import ConfigError, HostKeyError, TransferError
from nels_core.home import Home
from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage
from nels_sandbox.keys import new_key_pair
from nels_sandbox.sshd import Sshd

TARGET = "Personal/up/big.bin"


def _dropping_source(data: bytes, sshd, after: int):
    """Yields ``data`` in 256 KiB chunks, killing the SSH session after ``after`` bytes."""
    sent = 0
    for i in range(0, len(data), 256 * 1024):
        if sent >= after:
            sshd.kill_sessions()
        chunk = data[i : i + 256 * 1024]
        sent += len(chunk)
        yield chunk


TRANSPORTS = pytest.mark.parametrize("transport", ["openssh", "asyncssh"])


@TRANSPORTS
def test_upload_killed_half_way_leaves_nothing_and_retry_succeeds(cast, transport):
    storage = sftp_storage(cast, cast.alice, transport=transport)
    home = Home(storage, cast.account(cast.alice))
    home.mkdir("Personal/up")
    data = os.urandom(24 * 1024 * 1024)
    with pytest.raises(TransferError, match="lost|refused|SFTP"):
        home.write(TARGET, _dropping_source(data, cast.world.sshd, after=8 * 1024 * 1024))
    on_disk = cast.world.home(cast.alice) / TARGET
    assert not on_disk.exists()  # never a partial file under the final name
    # the cut upload could not remove its hidden partial; ls --all shows it
    left = [e.name for e in home.list("Personal/up", partials=True).entries]
    assert len(left) == 1 and left[0].startswith(".big.bin.nels-part-"), left
    assert home.list("Personal/up").entries == []

    entry = home.write(TARGET, data)  # reconnects by itself, and tidies the folder
    assert entry.md5 == hashlib.md5(data).hexdigest()
    assert hashlib.md5(on_disk.read_bytes()).hexdigest() == entry.md5
    assert [e.name for e in home.list("Personal/up", partials=True).entries] == ["big.bin"]
    home.close()


@TRANSPORTS
def test_download_interrupted_raises_and_next_read_reconnects(cast, transport):
    home = Home(sftp_storage(cast, cast.alice, transport=transport), cast.account(cast.alice))
    home.mkdir("Personal/up")
    # more than the reads under way and the chunks waiting for us can hold
    # (64 + 64 of up to 255 KiB): some must still be to come when the session
    # dies; at 16 MiB a slow reader could find it all fetched already
    data = os.urandom(64 * 1024 * 1024)
    home.write(TARGET, data)
    chunks = home.read_chunks(TARGET)
    next(chunks)
    cast.world.sshd.kill_sessions()
    with pytest.raises(TransferError):
        for _ in chunks:
            pass
    assert home.read_bytes(TARGET) == data
    home.close()


def test_unknown_or_wrong_host_key_is_refused(cast, caplog):
    sshd = cast.world.sshd
    creds = SshCredentials("127.0.0.1", sshd.login, cast.alice.private_key)
    _, other_public = new_key_pair()
    wrong = f"[127.0.0.1]:{sshd.port} {other_public}\n"
    with pytest.raises(HostKeyError):
        SftpStorage(SftpConfig(Hop("127.0.0.1", sshd.port, known_hosts=wrong), creds)).stat("")
    with pytest.raises(ConfigError, match="no pinned host key"):
        SftpStorage(SftpConfig(Hop("127.0.0.1", sshd.port), creds)).stat("")
    trusting = SftpStorage(SftpConfig(Hop("127.0.0.1", sshd.port, accept_unknown_host=True), creds))
    with caplog.at_level(logging.WARNING, logger="nels_core"):
        assert trusting.stat("Personal").is_dir
    # never silently: every connection without pinning says so
    assert [r.getMessage() for r in caplog.records if "pinning is off" in r.getMessage()]
    trusting.close()


def test_a_host_never_reached_is_not_called_lost(cast):
    creds = SshCredentials("127.0.0.1", "nobody", cast.alice.private_key)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]  # bound, not listening: connections are refused
        for host, port, said in (
            ("127.0.0.1", closed_port, "never reached: it refused the connection"),
            ("nels-data.invalid", 22, "never reached: its name does not resolve"),
        ):
            hop = Hop(host, port, known_hosts=cast.world.sshd.known_hosts)
            with pytest.raises(TransferError, match=said) as err:
                SftpStorage(SftpConfig(hop, creds, connect_timeout=5)).stat("")
            assert "lost" not in str(err.value) and f"{host}:{port}" in str(err.value)


def test_wrong_key_is_refused_without_leaking_it(cast):
    sshd = cast.world.sshd
    stranger, _ = new_key_pair()
    creds = SshCredentials("127.0.0.1", sshd.login, stranger)
    storage = SftpStorage(
        SftpConfig(Hop("127.0.0.1", sshd.port, known_hosts=sshd.known_hosts), creds)
    )
    with pytest.raises(TransferError, match="refused the SSH credentials") as err:
        storage.stat("")
    assert "PRIVATE KEY" not in str(err.value) and stranger not in repr(creds)


@TRANSPORTS
def test_through_a_bastion(cast, tmp_path, transport):
    data_host = cast.world.sshd
    with Sshd(tmp_path / "bastion", bastion=True) as bastion:
        jump_key = bastion.add_jump_user(data_host.port)
        config = SftpConfig(
            data_host=Hop("127.0.0.1", data_host.port, known_hosts=data_host.known_hosts),
            credentials=SshCredentials("127.0.0.1", data_host.login, cast.alice.private_key),
            bastion=Hop(
                "127.0.0.1",
                bastion.port,
                known_hosts=bastion.known_hosts,
                username=bastion.login,
                private_key=jump_key,
            ),
            transport=transport,
        )
        storage = SftpStorage(config)
        assert [e.name for e in storage.list("").entries] == ["Personal", "Projects"]
        storage.mkdir("Personal/jump")
        assert storage.write("Personal/jump/a.bin", b"through the bastion").size == 19
        assert storage.read_bytes("Personal/jump/a.bin") == b"through the bastion"
        storage.close()
        wrong_bastion = SftpConfig(
            data_host=config.data_host,
            credentials=config.credentials,
            bastion=Hop(
                "127.0.0.1",
                bastion.port,
                known_hosts=data_host.known_hosts,
                username=bastion.login,
                private_key=jump_key,
            ),
        )
        with pytest.raises(HostKeyError):
            SftpStorage(wrong_bastion).stat("")


def test_short_lived_keys_are_fetched_per_connection(cast):
    sshd = cast.world.sshd
    calls = []

    def provider():
        calls.append(1)
        return SshCredentials("127.0.0.1", sshd.login, cast.alice.private_key)

    storage = SftpStorage(
        SftpConfig(Hop("127.0.0.1", sshd.port, known_hosts=sshd.known_hosts), provider)
    )
    storage.stat("Personal")
    storage.stat("Projects")
    assert len(calls) == 1
    sshd.kill_sessions()
    with pytest.raises(TransferError):
        storage.stat("Personal")
    storage.stat("Personal")
    assert len(calls) == 2
    storage.close()
