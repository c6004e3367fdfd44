"""``nels-bundle sbi`` in its own process, against the sandbox's API and the real sshd."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import pytest
from conftest import cli, sftp_config
from test_api_client import sign_in

from nels_sandbox.norseq import DeliverySpec, make_delivery

SPEC = DeliverySpec(samples=("Liver-1", "Gill-1"), lanes=2, reads_per_file=20, index_reads=False)
RUN_URI = f"nels://Projects/UiB-Test-Project/{SPEC.run}"


@pytest.fixture
def setup(nels_server, tmp_path):
    cast = nels_server.cast
    run = cast.world.project_dir(cast.project) / SPEC.run
    make_delivery(run, SPEC)
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    sshd = cast.world.sshd
    config = sftp_config(tmp_path, nels_server.url, sshd.port, sshd.known_hosts)
    ns = type("Setup", (), {})()
    ns.server, ns.world, ns.project, ns.run, ns.config, ns.token = (
        nels_server,
        cast.world,
        cast.project,
        run,
        config,
        token,
    )
    ns.stored = cast.world.root / "sbi" / cast.project.folder / "Run1" / "reads" / SPEC.run
    return ns


def sbi(s, *args, **kw):
    return cli("sbi", *args, config=s.config, env={"NELS_TOKEN": s.token}, **kw)


def _files(folder) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _settled(world) -> None:
    """No transfer job still processing (they end by the sandbox's clock; bounded)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with world.lock:
            if all(j["state_id"] != 103 for j in world.jobs.values()):
                return
        time.sleep(0.02)
    raise AssertionError("a transfer job was still processing after 10 s")


ARCHIVE = ("archive", RUN_URI, "--dataset", "Run1", "--type", "Illumina_seq_data")


def test_archive_killed_then_resumed_then_staged_back(setup):
    s = setup
    s.world.processing_seconds = 0.3  # each job a little longer: room to kill it mid-run
    args = [sys.executable, "-m", "nels_cli", "sbi", *ARCHIVE, "--subtype", "reads"]
    env = {
        **os.environ,
        "NELS_BUNDLE_DEMO_DIR": "/nonexistent",
        "NELS_BUNDLE_CONFIG": str(s.config),
        "NELS_TOKEN": s.token,
    }
    worker = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if s.stored.is_dir() and sum(1 for p in s.stored.rglob("*") if p.is_file()) >= 3:
                break
            time.sleep(0.02)
        assert worker.poll() is None, "the archive ended before it could be killed"
        worker.kill()  # as a worker dies: no handler runs
    finally:
        worker.kill()
        worker.communicate(timeout=30)
    _settled(s.world)  # a job told upload_done before the kill ends on its own
    cut = _files(s.stored)
    source = _files(s.run)
    assert 3 <= len(cut) < len(source)
    assert all(source[k] == v for k, v in cut.items())  # what is there is whole
    s.world.processing_seconds = 0.05
    r = sbi(s, *ARCHIVE)
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stderr.split())
    assert f"{len(cut)} files already there" in said
    assert f"{len(source) - len(cut)} files sent" in said
    assert "MD5 of the bytes sent matches the delivered checksum" in said
    stored = _files(s.stored)
    assert stored == source
    done = [j for j in s.world.jobs.values() if j["kind"] == "upload" and j["state_id"] == 101]
    assert len(done) == len(source)  # every file stored once
    delivered = dict(
        reversed(line.split("  ", 1)) for line in (s.run / "md5sum.txt").read_text().splitlines()
    )
    assert all(hashlib.md5(stored[k]).hexdigest() == v for k, v in delivered.items())
    # a second run sends nothing
    jobs = len(s.world.jobs)
    r = sbi(s, *ARCHIVE)
    assert r.returncode == 0 and "0 files sent" in r.stderr and len(s.world.jobs) == jobs

    r = sbi(s, "ls")
    assert r.returncode == 0, r.stderr
    assert "UiB Test Project" in r.stdout and f"{sum(map(len, stored.values())):,}" in r.stdout
    r = sbi(s, "ls", "UiB-Test-Project")
    assert "Run1" in r.stdout and "Illumina_seq_data" in r.stdout and "quota:" in r.stdout
    r = sbi(s, "ls", "UiB-Test-Project/Run1")
    assert "reads" in r.stdout and f"{sum(map(len, stored.values())):,}" in r.stdout
    r = sbi(s, "ls", f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}")
    assert r.returncode == 0 and "fastq/" in r.stdout and "md5sum.txt" in r.stdout

    r = sbi(
        s,
        "stage",
        f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
        "nels://Projects/UiB-Test-Project/restored/",
    )
    assert r.returncode == 0, r.stderr
    assert f"{len(source)} files fetched" in " ".join(r.stderr.split())
    assert _files(s.world.project_dir(s.project) / "restored" / SPEC.run) == source


def test_refusals_are_named_before_anything_moves(setup):
    s = setup
    s.world.add_dataset(s.project, "Old", "Illumina_seq_data", islocked=True, subtypes={"reads": 0})
    r = sbi(s, "archive", RUN_URI, "--dataset", "Old")
    assert r.returncode == 1 and "the dataset 'Old' is locked" in r.stderr
    assert "nothing was sent" in r.stderr
    # a name from outside: a space (refused), and markup-like text shown literally
    odd = s.run / "QC" / "[red]lane 1 :smile:.txt"
    odd.write_text("x")
    s.project.quota_allocated = 100
    r = sbi(s, *ARCHIVE)
    message = " ".join(r.stderr.split())
    assert r.returncode == 1
    assert (
        f"name with a space (StoreBioinfo refuses them): {SPEC.run}/QC/[red]lane 1 :smile:.txt"
        in (message)
    )
    assert "over quota:" in message and "100 free (0 of 100 used)" in message
    assert s.world.jobs == {} and not s.stored.exists()
    # no token: said, no traceback
    r = cli("sbi", "ls", config=s.config, env={"NELS_TOKEN": ""})
    assert r.returncode == 1 and "needs a NeLS access token" in r.stderr
    r = cli("sbi", "ls", config=s.config, env={"NELS_TOKEN": "never-issued"})
    assert r.returncode == 1 and "NeLS did not accept your access token" in " ".join(
        r.stderr.split()
    )
    assert "never-issued" not in r.stderr and "Traceback" not in r.stderr


def test_a_failed_job_is_a_clear_error(setup):
    from nels_sandbox.nels_api import fail_next_jobs

    s = setup
    fail_next_jobs(s.server.app, 1)
    r = sbi(s, *ARCHIVE)
    message = " ".join(r.stderr.split())
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "ended in state 102 (failed)" in message and "Run the same archive again" in message
    # the first file's job failed; the files sent while it processed ended whole
    stored = _files(s.stored) if s.stored.exists() else {}
    source = _files(s.run)
    first = sorted(source)[0]
    assert first not in stored and all(stored[rel] == source[rel] for rel in stored)
    assert first.rsplit("/", 1)[-1] in message
