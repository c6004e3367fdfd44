"""The user's SSH key never reaches disk, and the ``ssh`` child gets no secret.

The CLI is run as a user runs it, through the NeLS API (token -> short-lived
key -> sshd), and interrupted at moments spread over its connection set-up:
SIGINT (Ctrl-C), SIGTERM (a cancelled Galaxy job) and SIGKILL.
"""

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import sftp_config

from nels_core.storage.ssh_agent import sweep_stale

KEY_MARKERS = (b"PRIVATE KEY", b"b3BlbnNzaC1rZXktdjE")  # PEM, and openssh-key-v1 in base64


@pytest.fixture
def api_config(nels_server, tmp_path):
    from test_api_client import sign_in

    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    sshd = nels_server.cast.world.sshd
    config = sftp_config(
        tmp_path, nels_server.url, sshd.port, sshd.known_hosts, transport="openssh"
    )
    return config, token


def _start(config, token, tmpdir: Path, path_dirs=()) -> subprocess.Popen:
    env = {
        **os.environ,
        "NELS_BUNDLE_DEMO_DIR": "/nonexistent",
        "NELS_BUNDLE_CONFIG": str(config),
        "NELS_TOKEN": token,
        "TMPDIR": str(tmpdir),
        "PATH": os.pathsep.join([*map(str, path_dirs), os.environ["PATH"]]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "nels_cli", "ls", "nels://Projects/UiB-Test-Project/raw"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _key_material(folder: Path) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(m in data for m in KEY_MARKERS):
                found.append(str(path.relative_to(folder)))
    return found


def test_no_key_on_disk_whenever_the_client_is_interrupted(api_config, tmp_path):
    config, token = api_config
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    began = time.monotonic()
    whole = _start(config, token, tmpdir)
    out, err = whole.communicate(timeout=60)
    took = time.monotonic() - began
    assert whole.returncode == 0 and b"reads.fastq" in out, err
    assert _key_material(tmpdir) == []
    # 20 moments over the run for SIGINT and SIGTERM, 5 for SIGKILL; the
    # first ~40% is the interpreter starting, so the moments crowd the rest
    moments = {
        signal.SIGINT: 20,
        signal.SIGTERM: 20,
        signal.SIGKILL: 5,
    }
    left = []
    for sig, count in moments.items():
        for i in range(count):
            proc = _start(config, token, tmpdir)
            time.sleep(took * (0.35 + 0.65 * i / count))
            proc.send_signal(sig)
            proc.communicate(timeout=60)
            left += [f"{sig.name} #{i}: {f}" for f in _key_material(tmpdir)]
    assert left == []
    # what a killed client left of ours holds no secret, and the next start sweeps it
    # (other libraries' temporary folders are theirs)
    sweep_stale(str(tmpdir))
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("nels-ssh-")] == []


def test_ssh_child_gets_a_minimal_environment(api_config, tmp_path):
    """A wrapper named ``ssh`` first on PATH records what the child is given."""
    config, token = api_config
    real_ssh = subprocess.run(["which", "ssh"], capture_output=True, text=True).stdout.strip()
    if not real_ssh:
        pytest.fail("the OpenSSH client is missing: ./dev test installs openssh-client")
    bindir, dumps = tmp_path / "bin", tmp_path / "dumps"
    bindir.mkdir()
    dumps.mkdir()
    wrapper = bindir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nenv > "{dumps}/env.$$"\nexec "{real_ssh}" "$@"\n')
    wrapper.chmod(0o755)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start(config, token, tmpdir, path_dirs=[bindir])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"reads.fastq" in out, err
    seen = [p.read_text() for p in dumps.iterdir()]
    assert seen, "the OpenSSH client was not used"
    for text in seen:
        names = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
        assert token not in text
        assert not names & {"NELS_TOKEN", "SSH_AUTH_SOCK", "NELS_BUNDLE_CONFIG"}, names
    # the folder the agent served from was private while it lived, and is gone
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("nels-ssh-")] == []


def test_secrets_folder_is_private(tmp_path, monkeypatch):
    from nels_core.storage import ssh_agent

    monkeypatch.setattr(ssh_agent.tempfile, "tempdir", str(tmp_path))
    folder = ssh_agent.secrets_folder()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert Path(folder).name.startswith(f"nels-ssh-{os.getpid()}-")
    # a live process's folder is kept, a dead one's swept
    dead = tmp_path / "nels-ssh-999999999-x"
    dead.mkdir()
    sweep_stale(str(tmp_path))
    assert Path(folder).exists() and not dead.exists()


def test_unpinned_host_is_warned_about_on_every_use(api_config, tmp_path):
    config, token = api_config
    pinned = 'known_hosts_file = "known_hosts"'
    config.write_text(config.read_text().replace(pinned, "accept_unknown_host = true"))
    for _ in range(2):
        proc = _start(config, token, tmp_path)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and b"reads.fastq" in out, err
        assert err.decode().startswith("warning: host-key pinning is off for 127.0.0.1:"), err
