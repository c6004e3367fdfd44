"""``nels-bundle sandbox --ena --biostudies``: the ENA and BioStudies stand-ins
on their own, with the FTPS upload area; the exports it prints are all
``nels-bundle ena submit`` and ``biostudies submit`` need to deposit there,
and a stop signal closes every port and removes its folder."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from banner import answers, free_port, read_banner
from conftest import need
from test_ena_xml import bundle

from nels_core.deposit.isa_reader import read_bundle

pytestmark = pytest.mark.slow

# what the sandbox sets, taken from the tester's environment by none of the runs
OURS = re.compile(r"(ENA_WEBIN|NELS_ENA_|BIOSTUDIES_|NELS_SPECS)")


def _clean_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not OURS.match(k)}
    return {**env, "TMPDIR": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}


class Sandbox:
    """``python -m nels_cli sandbox ...`` in its own process, read until ready."""

    def __init__(self, tmp_path: Path, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nels_cli", "sandbox", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_clean_env(tmp_path),
        )
        self.lines = read_banner(
            self.proc, lambda line: line.startswith("Ctrl-C stops it"), timeout=30
        )
        self.directory = Path(self.lines[0].removeprefix("Sandbox in "))
        self.exports = {}
        for line in self.lines:
            m = re.fullmatch(r"\s*export (\w+)=(.*)", line)
            if m:
                (self.exports[m[1]],) = shlex.split(m[2])
        self.server_url = next(
            re.search(r"--server-url (\S+):$", x)[1] for x in self.lines if "--server-url" in x
        )

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def cli(tmp_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", *args],
        capture_output=True,
        text=True,
        env={**_clean_env(tmp_path), **env},
        timeout=120,
    )


def test_ena_and_biostudies_stand_ins_take_a_deposit_and_stop(tmp_path, specs):
    need("pyftpdlib", "sandbox")
    sandbox = Sandbox(tmp_path, "--ena", "--biostudies", "--xsd-dir", str(specs / "ena"))
    try:
        assert sandbox.directory.parent == tmp_path
        e = sandbox.exports
        assert set(e) == {
            "ENA_WEBIN",
            "ENA_WEBIN_PASSWORD",
            "NELS_ENA_WEBIN_URL",
            "NELS_ENA_UPLOAD_HOST",
            "NELS_ENA_UPLOAD_PORT",
            "NELS_ENA_UPLOAD_CA",
            "NELS_ENA_XSD_DIR",
            "NELS_ENA_TAXONOMY_URL",
            "NELS_ENA_CHECKLIST_DIR",
            "BIOSTUDIES_LOGIN",
            "BIOSTUDIES_PASSWORD",
        }
        assert Path(e["NELS_ENA_UPLOAD_CA"]).is_file()
        assert e["NELS_ENA_UPLOAD_HOST"] == "127.0.0.1"
        ports = [
            urlsplit(e["NELS_ENA_WEBIN_URL"]).port,
            int(e["NELS_ENA_UPLOAD_PORT"]),
            urlsplit(sandbox.server_url).port,
        ]
        assert all(answers(p) for p in ports)

        b = bundle(tmp_path)
        source = tmp_path / "UiB_Hansen_SalmonLice_2023"  # the delivery the bundle describes
        ena = {k: v for k, v in e.items() if not k.startswith("BIOSTUDIES_")}
        r = cli(tmp_path, ena, "ena", "submit", str(b), "--reads", str(source))
        assert r.returncode == 0, r.stderr
        assert re.search(r"ENA project PRJEB\d+", r.stdout), r.stdout
        assert "ENA's taxonomy" not in r.stderr  # the taxa were looked up there
        assert "TEST submission" in r.stdout
        # the reads went through the FTPS upload area, into the account's folder
        uploaded = sandbox.directory / "webin-upload-area" / e["ENA_WEBIN"]
        described = read_bundle(b).samples
        assert {p.name for p in uploaded.rglob("*.fastq.gz")} == {
            Path(f.path).name for s in described for r in s.runs for f in r.files
        }

        bs = {k: v for k, v in e.items() if k.startswith("BIOSTUDIES_")}
        common = ("biostudies", "submit", str(b), "--server-url", sandbox.server_url)
        r = cli(tmp_path, bs, *common, "--release", "2027-06-01")
        assert r.returncode == 0, r.stderr
        assert re.search(r"BioStudies study S-BSST\d+ created", r.stdout), r.stdout
        assert e["BIOSTUDIES_PASSWORD"] not in r.stdout + r.stderr

        sandbox.proc.send_signal(signal.SIGTERM)
        _, err = sandbox.proc.communicate(timeout=30)
        assert sandbox.proc.returncode == 0, err
        assert "Sandbox stopped (SIGTERM)" in err and "Traceback" not in err, err
        assert not any(answers(p) for p in ports)
        assert not sandbox.directory.exists()
    finally:
        sandbox.cleanup()


def test_fixed_ports_and_ctrl_c(tmp_path):
    port = free_port()
    sandbox = Sandbox(tmp_path, "--biostudies", "--biostudies-port", str(port))
    try:
        assert sandbox.server_url == f"http://127.0.0.1:{port}/biostudies/submissions/api"
        assert set(sandbox.exports) == {"BIOSTUDIES_LOGIN", "BIOSTUDIES_PASSWORD"}
        assert not any("ENA" in line or "sshd" in line for line in sandbox.lines)
        sandbox.proc.send_signal(signal.SIGINT)
        _, err = sandbox.proc.communicate(timeout=30)
        assert sandbox.proc.returncode == 0 and "SIGINT" in err, err
        assert not answers(port) and not sandbox.directory.exists()
    finally:
        sandbox.cleanup()


def test_without_enas_schemas_it_says_so_and_starts_nothing(tmp_path):
    empty = tmp_path / "no-schemas"
    empty.mkdir()
    r = cli(tmp_path, {}, "sandbox", "--ena", "--xsd-dir", str(empty))
    assert r.returncode != 0 and "does not hold ENA's schemas" in r.stderr, r.stderr
    assert not list(tmp_path.glob("nels-sandbox-*"))
