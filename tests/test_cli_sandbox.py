"""``nels-bundle sandbox`` stops everything it started when it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from banner import answers, free_port, read_banner

from nels_sandbox.sshd import find_sshd

pytestmark = [pytest.mark.sshd, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _sshd():
    if find_sshd() is None:
        from conftest import missing

        missing("OpenSSH sshd", "openssh-server")


def _sshd_pids(config: Path) -> list[int]:
    """The sshd processes started with this config (sshd may retitle itself,
    "sshd: /usr/sbin/sshd -D -e -f CONFIG [listener] ...", so a substring)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if b"sshd" in cmdline and str(config).encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    """Each of ``pids`` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.append(pid)
        if not alive:
            return True
        time.sleep(0.1)
    return False


class Sandbox:
    """``python -m nels_cli sandbox`` in its own process, read until it serves."""

    def __init__(self, tmp_path: Path, directory: Path | None, group: bool = False):
        self.port = free_port()
        args = [sys.executable, "-m", "nels_cli", "sandbox", "--port", str(self.port)]
        if directory is not None:
            args += ["--dir", str(directory)]
        env = {**os.environ, "TMPDIR": str(tmp_path)}
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=group,  # a process group of its own, as a terminal job
        )
        self.sessions: list[int] = []
        self.config = Path("/nonexistent")
        self.lines = read_banner(self.proc, lambda line: line.startswith("  config"), timeout=60)
        self.directory = Path(self.lines[0].removeprefix("NeLS sandbox in "))
        self.config = self.directory / "sshd" / "sshd_config"
        sftp = next(x for x in self.lines if x.startswith("  SFTP"))
        self.sshd_port = int(sftp.split(":")[1].split(",")[0])
        deadline = time.monotonic() + 30
        while not answers(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.sshd = _sshd_pids(self.config)

    def cleanup(self) -> None:
        """Whatever a failed test left running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        for pid in _sshd_pids(self.config) + self.sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGTERM, False),
        (signal.SIGINT, False),
        (signal.SIGHUP, False),
        (signal.SIGINT, True),  # Ctrl-C in a terminal: to the job's whole process group
    ],
)
def test_a_signal_stops_sshd_and_removes_the_temp_folder(tmp_path, signum, group):
    sandbox = Sandbox(tmp_path, None, group)
    try:
        assert sandbox.directory.parent == tmp_path  # a folder of its own, made for the run
        assert len(sandbox.sshd) == 1, sandbox.sshd
        # a client connected when the signal comes: its sshd session goes too
        with socket.create_connection(("127.0.0.1", sandbox.sshd_port), timeout=5) as client:
            assert client.recv(4) == b"SSH-"
            deadline = time.monotonic() + 10
            while not sandbox.sessions and time.monotonic() < deadline:
                sandbox.sessions = _children(sandbox.sshd[0])
                time.sleep(0.05)
            assert sandbox.sessions, "sshd forked no session for the client"
            if group:
                os.killpg(sandbox.proc.pid, signum)
            else:
                sandbox.proc.send_signal(signum)
            _, err = sandbox.proc.communicate(timeout=30)
            assert _gone(sandbox.sshd), f"sshd {sandbox.sshd} outlived the sandbox"
            assert _gone(sandbox.sessions), f"sshd session {sandbox.sessions} outlived it"
        assert not answers(sandbox.sshd_port)
        assert sandbox.proc.returncode == 0, err
        assert not answers(sandbox.port)
        assert not sandbox.directory.exists()  # made by the run, removed by it
        assert "NeLS sandbox stopped" in err and "Traceback" not in err, err
        assert signal.Signals(signum).name in err, err
    finally:
        sandbox.cleanup()


def test_a_folder_given_is_kept(tmp_path):
    sandbox = Sandbox(tmp_path, tmp_path / "mine")
    try:
        assert sandbox.directory == tmp_path / "mine"
        sandbox.proc.send_signal(signal.SIGTERM)
        _, err = sandbox.proc.communicate(timeout=30)
        assert _gone(sandbox.sshd) and not answers(sandbox.sshd_port)
        assert sandbox.proc.returncode == 0, err
        assert (tmp_path / "mine" / "nels-bundle.toml").is_file()  # the user's, kept
    finally:
        sandbox.cleanup()


def test_sshd_dies_with_a_killed_sandbox(tmp_path):
    """SIGKILL runs no handler: sshd is told by the kernel (Linux's parent-death signal)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    sandbox = Sandbox(tmp_path, None)
    try:
        sandbox.proc.kill()
        sandbox.proc.communicate(timeout=30)
        assert _gone(sandbox.sshd), f"sshd {sandbox.sshd} outlived the killed sandbox"
        assert not answers(sandbox.sshd_port)
    finally:
        sandbox.cleanup()
