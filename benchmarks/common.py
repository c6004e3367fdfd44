"""What every benchmark here does the same way."""

from __future__ import annotations

import os
import time
from pathlib import Path


def timed(fn) -> float:
    """Seconds ``fn`` takes, started with no dirty pages, so one measurement's
    write-back does not land in the next one's time."""
    os.sync()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def random_file(path: Path, size_mib: int) -> Path:
    with open(path, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    return path


def openssh_options(work: Path, sshd, private_key: str) -> list[str]:
    """The OpenSSH client options (scp/sftp) that reach ``sshd`` with this key
    and its pinned host key, as the baselines use them."""
    key_file = work / "id"
    key_file.write_text(private_key)
    key_file.chmod(0o600)
    known_hosts = work / "known_hosts"
    known_hosts.write_text(sshd.known_hosts)
    return [
        "-q",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "BatchMode=yes",
        "-i",
        str(key_file),
        "-P",
        str(sshd.port),
    ]
