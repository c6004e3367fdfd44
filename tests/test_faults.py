"""Transfers cut at seeded random byte offsets, or gone silent, through a TCP
proxy in front of the sandbox sshd: both transports, the CLI and fsspec, put
and get. After every fault: no partial file under a final name, one clear
message and no traceback; the retry completes with the right MD5 and leaves
no temporary file behind. (benchmarks/faults.py runs the same at scale.)
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import pytest
from conftest import sftp_config
from fault_proxy import PASS, FaultProxy

from nels_core.errors import NelsError
from nels_core.fs import NelsFileSystem
from nels_core.home import Home
from nels_core.storage.partials import is_partial

SIZE = 3 * 1024 * 1024
HANDSHAKE = 6000  # about what SSH and SFTP set-up take on a connection
TRANSPORTS = ("openssh", "asyncssh")


class Trials:
    """The CLI as a user runs it, through the API, with the data host behind a proxy."""

    def __init__(self, server, tmp_path, transport: str):
        from test_api_client import sign_in

        self.server, self.tmp, self.transport = server, tmp_path, transport
        self.sshd = server.cast.world.sshd
        self.token = sign_in(server, "alice", "alice-pw").tokens.access_token
        self.personal = server.cast.world.home(server.cast.alice) / "Personal"

    def run(self, proxy: FaultProxy, *args, idle_timeout: float = 60):
        known = proxy.known_hosts(self.sshd.host_public_key)
        config = sftp_config(
            self.tmp,
            self.server.url,
            proxy.port,
            known,
            transport=self.transport,
            idle_timeout=idle_timeout,
        )
        env = {
            **os.environ,
            "NELS_BUNDLE_DEMO_DIR": "/nonexistent",
            "NELS_BUNDLE_CONFIG": str(config),
            "NELS_TOKEN": self.token,
        }
        return subprocess.run(
            [sys.executable, "-m", "nels_cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=90,
        )

    def plan(self, rng: random.Random, data_bytes: int) -> list[tuple[str, int]]:
        """One cut on one of the run's connections: asyncssh's own first, then
        OpenSSH's, which carries the bulk bytes."""
        if self.transport == "asyncssh":
            return [("cut", rng.randrange(HANDSHAKE + data_bytes))]
        if rng.random() < 0.25:
            return [("cut", rng.randrange(HANDSHAKE))]
        return [PASS, ("cut", rng.randrange(HANDSHAKE + data_bytes))]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _one_clear_line(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "never retrieved" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_partial(p.name) or ".part-" in p.name)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cli_put_and_get_under_cuts(nels_server, tmp_path, transport):
    trials = Trials(nels_server, tmp_path, transport)
    rng = random.Random(f"cli-{transport}")
    data = rng.randbytes(SIZE)
    local = tmp_path / "data.bin"
    local.write_bytes(data)
    folder = trials.personal / "cuts"
    folder.mkdir()
    fired = 0
    for i in range(3):
        target = folder / f"put{i}.bin"
        with FaultProxy(trials.sshd.port, trials.plan(rng, SIZE)) as proxy:
            r = trials.run(proxy, "put", str(local), f"nels://Personal/cuts/put{i}.bin")
            fired += proxy.faults
        if r.returncode:
            _one_clear_line(r)
            assert not target.exists()  # never a partial under the final name
            with FaultProxy(trials.sshd.port) as proxy:
                again = trials.run(proxy, "put", str(local), f"nels://Personal/cuts/put{i}.bin")
            assert again.returncode == 0, again.stderr
        assert _md5(target.read_bytes()) == _md5(data)
        assert _leftovers(folder) == []  # the retry swept what the cut left

        out = tmp_path / f"get{i}"
        out.mkdir()
        with FaultProxy(trials.sshd.port, trials.plan(rng, SIZE)) as proxy:
            r = trials.run(proxy, "get", f"nels://Personal/cuts/put{i}.bin", str(out))
            fired += proxy.faults
        got = out / f"put{i}.bin"
        if r.returncode:
            _one_clear_line(r)
            assert not got.exists() and _leftovers(out) == []
            with FaultProxy(trials.sshd.port) as proxy:
                again = trials.run(proxy, "get", f"nels://Personal/cuts/put{i}.bin", str(out))
            assert again.returncode == 0, again.stderr
        assert _md5(got.read_bytes()) == _md5(data) and _leftovers(out) == []
    assert fired >= 3  # the offsets were not all past the end


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_fsspec_put_and_get_under_cuts(cast, tmp_path, transport):
    from conftest import sftp_storage

    rng = random.Random(f"fsspec-{transport}")
    data = rng.randbytes(SIZE)
    local = tmp_path / "data.bin"
    local.write_bytes(data)
    folder = cast.world.home(cast.alice) / "Personal" / "cuts"
    folder.mkdir(parents=True)
    for i in range(3):
        cut = ("cut", rng.randrange(HANDSHAKE, HANDSHAKE + SIZE))
        # the cut lands on the connection carrying the bytes; later ones pass
        plans = [cut] if transport == "asyncssh" else [PASS, cut]
        with FaultProxy(cast.world.sshd.port, plans) as proxy:
            storage = sftp_storage(cast, cast.alice, transport=transport)
            storage.config = _through(storage.config, proxy, cast.world.sshd)
            fs = NelsFileSystem(home=Home(storage, cast.account(cast.alice)))
            rpath = f"nels://Personal/cuts/f{i}.bin"
            try:
                fs.put_file(str(local), rpath)
            except NelsError:
                assert not (folder / f"f{i}.bin").exists()
                fs.put_file(str(local), rpath)  # reconnects, past the proxy's plan
            assert _md5((folder / f"f{i}.bin").read_bytes()) == _md5(data)
            assert _leftovers(folder) == []

            proxy.plans.append(("cut", rng.randrange(HANDSHAKE, HANDSHAKE + SIZE)))
            storage.close()  # the next call opens a connection the plan cuts
            got = tmp_path / f"g{i}.bin"
            try:
                fs.get_file(rpath, str(got))
            except NelsError:
                assert not got.exists() and _leftovers(tmp_path) == []
                fs.get_file(rpath, str(got))
            assert _md5(got.read_bytes()) == _md5(data) and _leftovers(tmp_path) == []
            storage.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_silent_connection_is_given_up(nels_server, tmp_path, transport):
    """The peer stops answering mid-download: keepalives end the wait."""
    trials = Trials(nels_server, tmp_path, transport)
    folder = trials.personal / "quiet"
    folder.mkdir()
    (folder / "a.bin").write_bytes(os.urandom(SIZE))
    silent = ("silent", HANDSHAKE + SIZE // 3)
    plans = [silent] if transport == "asyncssh" else [PASS, silent]
    with FaultProxy(trials.sshd.port, plans) as proxy:
        r = trials.run(proxy, "get", "nels://Personal/quiet/a.bin", str(tmp_path), idle_timeout=2)
        assert proxy.faults == 1
    assert r.returncode == 1  # within the subprocess timeout, not after 300 s
    _one_clear_line(r)
    assert "connection" in r.stderr and not (tmp_path / "a.bin").exists()


def _through(config, proxy: FaultProxy, sshd):
    from dataclasses import replace

    hop = replace(
        config.data_host, port=proxy.port, known_hosts=proxy.known_hosts(sshd.host_public_key)
    )
    return replace(config, data_host=hop)
