"""``nels-bundle sandbox`` as a new user meets it: the StoreBioinfo commands it
prints, pasted into a shell as they are, list, archive and stage."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from banner import free_port, read_banner

from nels_cli.demo import ARCHIVED_RUN, RUN, SEQ_PROJECT
from nels_sandbox.sshd import find_sshd

pytestmark = [pytest.mark.sshd, pytest.mark.slow]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def sandbox(tmp_path):
    if find_sshd() is None:
        from conftest import missing

        missing("OpenSSH sshd", "openssh-server")
    port = free_port()
    directory = tmp_path / "sbx"
    log = (tmp_path / "sandbox.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "nels_cli", "sandbox", "--port", str(port), "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        lines = read_banner(proc, lambda line: line.startswith("Ctrl-C"), timeout=60)
        yield directory, lines
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        log.close()


def _shell(export: str, command: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "NELS_BUNDLE_DEMO_DIR": "/nonexistent",
    }
    env.pop("NELS_TOKEN", None)
    return subprocess.run(
        ["bash", "-c", f"{export}\n{command}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_the_printed_commands_list_archive_and_stage(sandbox):
    directory, lines = sandbox
    export = next(x for x in lines if x.startswith("  token")).split(None, 1)[1].split("  (")[0]
    tries = [x.strip() for x in lines[next(i for i, x in enumerate(lines) if "  try" in x) :]]
    tries = [x.removeprefix("try").strip() for x in tries if x.startswith(("try", "nels-bundle"))]
    assert len(tries) == 3
    token_file = directory / "access_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() not in "\n".join(lines)  # named, never printed

    r = _shell(export, tries[0])  # sbi ls <project>
    assert r.returncode == 0, r.stderr
    assert ARCHIVED_RUN in r.stdout and "Illumina_seq_data" in r.stdout and "quota:" in r.stdout

    r = _shell(export, tries[1])  # the run in NeLS archived
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stderr.split())
    run = directory / "nels" / "projects" / SEQ_PROJECT / "NorSeq" / RUN
    stored = directory / "nels" / "sbi" / SEQ_PROJECT / RUN / "reads" / RUN
    assert f"{len(_files(run))} files sent" in said and _files(stored) == _files(run)

    r = _shell(export, tries[2])  # the earlier run staged back from StoreBioinfo
    assert r.returncode == 0, r.stderr
    earlier = directory / "nels" / "sbi" / SEQ_PROJECT / ARCHIVED_RUN / "reads" / ARCHIVED_RUN
    restored = directory / "nels" / "projects" / SEQ_PROJECT / "restored" / ARCHIVED_RUN
    assert len(_files(earlier)) > 10 and _files(restored) == _files(earlier)
    assert "MD5 matches the staged checksum files for" in " ".join(r.stderr.split())


def test_the_printed_sign_in_address_signs_in_and_shows_the_code(sandbox):
    _, lines = sandbox
    line = next(x for x in lines if x.startswith("  sign-in"))
    url, password = line.split()[1], line.rsplit("password ", 1)[1]
    form = requests.get(url, timeout=10)
    assert form.status_code == 200 and "Sign in to NeLS" in form.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
    fields.update(username="demo", password=password)
    r = requests.post(url.split("?")[0], data=fields, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith("/?code=")
    code = r.headers["Location"].split("code=", 1)[1].split("&")[0]
    page = requests.get(url.split("/oauth2")[0] + r.headers["Location"], timeout=10)
    assert page.status_code == 200 and f"<code>{code}</code>" in page.text
    assert "grant_type=authorization_code" in page.text
