"""A real OpenSSH sshd on loopback serving NeLS homes over internal-sftp.

Every NeLS user gets a key of their own; ``authorized_keys`` forces each key
to ``internal-sftp -d <their home>``, so one system account serves many NeLS
users, each landing in ``/nels/users/<username>`` as on the real data host.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .keys import new_key_pair
from .server_process import ServerProcess, die_with_parent, find_program


def find_sshd() -> str | None:
    return find_program("sshd", "/usr/sbin/sshd", "/usr/local/sbin/sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd(ServerProcess):
    def __init__(self, workdir: str | os.PathLike, port: int | None = None, bastion: bool = False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o700)
        self.port = port or free_port()
        self.bastion = bastion  # a jump host: forwarding only, no shell, no SFTP
        self.login = getpass.getuser()  # the system account every key logs in as
        self.authorized_keys = self.workdir / "authorized_keys"
        self.authorized_keys.touch(mode=0o600)
        private, public = new_key_pair()
        host_key = self.workdir / "ssh_host_ed25519_key"
        host_key.write_text(private)
        os.chmod(host_key, 0o600)
        self.host_public_key = public

    @property
    def known_hosts(self) -> str:
        """A known_hosts line pinning this server's key."""
        return f"[127.0.0.1]:{self.port} {self.host_public_key}\n"

    def add_user(self, home: str | os.PathLike) -> str:
        """Authorise a new key landing in ``home``; returns its private key."""
        private, public = new_key_pair()
        home = os.path.realpath(home)
        if '"' in home or "\n" in home:
            raise ValueError(f"unusable home path: {home!r}")
        with open(self.authorized_keys, "a") as f:
            f.write(f'restrict,command="internal-sftp -u 022 -d {home}" {public}\n')
        return private

    def add_jump_user(self, target_port: int) -> str:
        """Authorise a key that may only forward to 127.0.0.1:target_port."""
        private, public = new_key_pair()
        with open(self.authorized_keys, "a") as f:
            f.write(
                f'restrict,port-forwarding,permitopen="127.0.0.1:{target_port}",'
                f'command="/bin/false" {public}\n'
            )
        return private

    def revoke_all(self) -> None:
        self.authorized_keys.write_text("")

    def _config(self) -> Path:
        cfg = self.workdir / "sshd_config"
        cfg.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.workdir / 'ssh_host_ed25519_key'}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "StrictModes no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.login}",
                    "Subsystem sftp internal-sftp",
                    f"AllowTcpForwarding {'local' if self.bastion else 'no'}",
                    "X11Forwarding no",
                    "PrintMotd no",
                    "LogLevel ERROR",
                    "MaxStartups 100:30:200",
                    "MaxSessions 50",
                ]
            )
            + "\n"
        )
        return cfg

    def start(self, timeout: float = 15.0) -> Sshd:
        sshd = find_sshd()
        if sshd is None:
            raise RuntimeError("OpenSSH sshd is not installed (Debian package openssh-server)")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        log = open(self.workdir / "sshd.log", "ab")  # noqa: SIM115 - owned by the process
        # -D: sshd stays our child, stopped by us and dying with us; in a
        # session of its own, so a terminal's Ctrl-C reaches only us, and we
        # stop the sessions before the listener that knows them (stop())
        self._proc = subprocess.Popen(
            [sshd, "-D", "-e", "-f", str(self._config())],
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"sshd exited with {self._proc.returncode}: "
                    + (self.workdir / "sshd.log").read_text()[-2000:]
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not answer on port {self.port} within {timeout}s")

    def stop(self) -> None:
        """The listener and the sessions it forked: a client still connected is
        cut, not left with a server process nobody stops."""
        if self._proc and self._proc.poll() is None:
            try:
                self.kill_sessions()
            except OSError:  # no pgrep: the sessions end when their clients go
                pass
        super().stop()

    def kill_sessions(self) -> None:
        """Drop every open SFTP session, as a network failure would."""
        out = subprocess.run(["pgrep", "-P", str(self._proc.pid)], capture_output=True, text=True)
        for pid in out.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
