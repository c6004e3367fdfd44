"""``StoreBioinfo/`` beside ``Personal/`` and ``Projects/``: through fsspec
(``nels://``) and ``nels-bundle ls``, on the sandbox's API and the real sshd.

Read-only: projects, datasets, subtypes (with sizes) and files, each file
read by a download job; every write there is refused, saying why.
"""

from __future__ import annotations

import hashlib
import json

import fsspec
import pytest
import sbi_seed
from conftest import cli, sftp_config
from sbi_seed import DATASET, FILES, READS, SUBTYPE
from test_api_client import sign_in

import nels_core.fs  # noqa: F401 - registers the protocol
from nels_core.errors import AccessDeniedError, TokenMissingError
from nels_core.fs import NelsFileSystem
from nels_sandbox.nels_api import fail_next_jobs

PROJECT = "UiB Test Project"  # its SBI project's name, as NeLS shows it
SBI = f"nels://StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}"
FASTQ = "run/Liver-1_S1_L001_R1_001.fastq.gz"


@pytest.fixture
def sbi(nels_server, tmp_path):
    cast = nels_server.cast
    world = cast.world
    dataset = sbi_seed.seed(world, cast.project)
    sshd = world.sshd
    ns = type("Sbi", (), {})()
    ns.server, ns.world, ns.cast = nels_server, world, cast
    ns.config = sftp_config(tmp_path, nels_server.url, sshd.port, sshd.known_hosts)
    ns.token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    ns.stored = world.sbi_dir(cast.project, DATASET)
    yield ns
    sbi_seed.unseed(world, cast.project, dataset)


@pytest.fixture
def fs(sbi, monkeypatch):
    monkeypatch.setenv("NELS_BUNDLE_CONFIG", str(sbi.config))
    monkeypatch.setenv("NELS_TOKEN", sbi.token)
    filesystem = NelsFileSystem(skip_instance_cache=True)
    filesystem.home.sbi.transfer.poll_interval = 0.01
    yield filesystem
    filesystem.home.close()


def _downloads(world) -> int:
    return sum(1 for j in world.jobs.values() if j["kind"] == "download")


def test_fsspec_shows_storebioinfo_beside_the_two_roots_down_to_its_files(fs):
    assert fs.ls("nels://", detail=False) == ["Personal", "Projects", "StoreBioinfo"]
    assert fs.ls("nels://StoreBioinfo", detail=False) == [
        "StoreBioinfo/Locked_2020",
        f"StoreBioinfo/{PROJECT}",
    ]
    assert fs.ls(f"nels://StoreBioinfo/{PROJECT}", detail=False) == [
        f"StoreBioinfo/{PROJECT}/{DATASET}"
    ]
    subtypes = {
        i["name"]: (i["type"], i["size"]) for i in fs.ls(f"nels://StoreBioinfo/{PROJECT}/{DATASET}")
    }
    whole = sum(map(len, FILES.values()))
    assert subtypes == {
        f"StoreBioinfo/{PROJECT}/{DATASET}/qc": ("directory", 0),
        f"StoreBioinfo/{PROJECT}/{DATASET}/reads": ("directory", whole),
    }
    top = {i["name"].rsplit("/", 1)[1]: (i["type"], i["size"]) for i in fs.ls(SBI)}
    assert top == {"notes.txt": ("file", len(FILES["notes.txt"])), "run": ("directory", 0)}
    assert fs.info(f"{SBI}/{FASTQ}")["size"] == len(READS)
    assert sorted(fs.find(SBI)) == sorted(
        f"StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}/{rel}" for rel in FILES
    )
    assert not fs.exists(f"nels://StoreBioinfo/{PROJECT}/Run2")
    with pytest.raises(FileNotFoundError, match="no dataset 'Run2'"):
        fs.ls(f"nels://StoreBioinfo/{PROJECT}/Run2")
    with pytest.raises(FileNotFoundError, match="no StoreBioinfo project 'Sensitive_Cohort'"):
        fs.ls("nels://StoreBioinfo/Sensitive_Cohort")  # not bob's: not there for him


def test_fsspec_reads_a_fastq_through_one_download_job_as_it_arrives(fs, sbi, tmp_path):
    before = _downloads(sbi.world)
    # by URI, as pandas opens it (this config: fsspec keeps one filesystem per options)
    with fsspec.open(f"{SBI}/{FASTQ}", "rb", config=str(sbi.config)) as f:
        head = f.read(2)
        f.seek(0)  # within what arrived: no second job
        whole = f.read()
    assert head == b"\x1f\x8b" and whole == READS
    assert _downloads(sbi.world) == before + 1

    chunks = list(fs.home.read_chunks(f"StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}/{FASTQ}"))
    assert len(chunks) > 1 and b"".join(chunks) == READS  # handed on chunk by chunk
    assert fs.cat_file(f"{SBI}/{FASTQ}", 1000, 1010) == READS[1000:1010]

    local = tmp_path / "r1.fastq.gz"
    fs.get_file(f"{SBI}/{FASTQ}", str(local))
    assert hashlib.md5(local.read_bytes()).hexdigest() == hashlib.md5(READS).hexdigest()


def test_a_failed_download_job_is_an_error_naming_the_file_and_leaves_nothing(fs, sbi, tmp_path):
    fail_next_jobs(sbi.server.app)
    local = tmp_path / "r1.fastq.gz"
    with pytest.raises(OSError, match=r"Liver-1_S1_L001_R1_001.fastq.gz: .*state 102 \(failed\)"):
        fs.get_file(f"{SBI}/{FASTQ}", str(local))
    assert not local.exists() and list(tmp_path.glob("*.fastq.gz*")) == []


def test_writes_under_storebioinfo_are_refused_as_read_only(fs, sbi):
    def stored():
        return sorted(p.relative_to(sbi.stored).as_posix() for p in sbi.stored.rglob("*"))

    before = stored()
    attempts = (
        lambda: fs.pipe_file(f"{SBI}/new.txt", b"x"),
        lambda: fs.pipe_file(f"{SBI}/notes.txt", b"x"),
        lambda: fs.mkdir(f"{SBI}/more"),
        lambda: fs.rm(f"{SBI}/notes.txt"),
        lambda: fs.rm(SBI, recursive=True),
    )
    for attempt in attempts:
        with pytest.raises(AccessDeniedError, match="StoreBioinfo is read-only here"):
            attempt()
    with (
        pytest.raises(AccessDeniedError, match="read-only"),
        fsspec.open(f"{SBI}/w.txt", "wb", config=str(sbi.config)) as f,
    ):
        f.write(b"never stored")
    assert stored() == before
    assert not any(j["kind"] == "upload" for j in sbi.world.jobs.values())


def test_without_a_token_there_is_no_storebioinfo_root_and_asking_for_it_says_why(
    tmp_path, monkeypatch
):
    from nels_cli.demo import seed

    monkeypatch.setenv("NELS_BUNDLE_CONFIG", str(seed(tmp_path / "demo")))
    monkeypatch.delenv("NELS_TOKEN", raising=False)
    fs = NelsFileSystem(skip_instance_cache=True)
    assert "StoreBioinfo" not in fs.ls("nels://", detail=False)
    with pytest.raises(TokenMissingError, match="needs your NeLS access token"):
        fs.ls("nels://StoreBioinfo")


def ls(s, *args):
    return cli("ls", *args, config=s.config, env={"NELS_TOKEN": s.token})


def test_cli_ls_lists_storebioinfo_with_sizes(sbi):
    r = ls(sbi)
    assert r.returncode == 0, r.stderr
    assert [x.split()[-1] for x in r.stdout.splitlines()[1:]] == [
        "Personal/",
        "Projects/",
        "StoreBioinfo/",
    ]
    r = ls(sbi, "--json", f"nels://StoreBioinfo/{PROJECT}/{DATASET}")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["path"] == f"StoreBioinfo/{PROJECT}/{DATASET}"
    assert [(e["name"], e["type"], e["size"]) for e in got["entries"]] == [
        ("qc", "directory", 0),
        ("reads", "directory", sum(map(len, FILES.values()))),
    ]
    r = ls(sbi, "-R", SBI)
    assert r.returncode == 0, r.stderr
    rows = [x.rstrip() for x in r.stdout.splitlines()[1:]]
    (fastq,) = [
        x for x in rows if x.endswith(f" StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}/{FASTQ}")
    ]
    assert fastq.split()[0] == f"{len(READS):,}"
    assert any(x.endswith(f" StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}/run/") for x in rows)


def test_cli_ls_shows_storebioinfo_names_literally_and_refusals_plainly(sbi):
    odd = sbi.stored / SUBTYPE / "[bold]x.txt"
    odd.write_bytes(b"odd\n")
    r = ls(sbi, SBI)
    assert r.returncode == 0, r.stderr
    assert "[bold]x.txt" in r.stdout
    r = ls(sbi, f"nels://StoreBioinfo/{PROJECT}/Run9")
    assert r.returncode == 1
    assert f"no dataset 'Run9' in StoreBioinfo project '{PROJECT}'" in " ".join(r.stderr.split())
    r = cli("mkdir", f"{SBI}/more", config=sbi.config, env={"NELS_TOKEN": sbi.token})
    assert r.returncode == 1 and sbi.token not in r.stderr, r.stderr


def test_cli_get_takes_a_fastq_out_of_storebioinfo_through_its_download_job(sbi, tmp_path):
    target = tmp_path / "got.fastq.gz"
    r = cli("get", f"{SBI}/{FASTQ}", str(target), config=sbi.config, env={"NELS_TOKEN": sbi.token})
    assert r.returncode == 0, r.stderr
    assert hashlib.md5(target.read_bytes()).hexdigest() == hashlib.md5(READS).hexdigest()
    assert _downloads(sbi.world) == 1
    r = cli("mkdir", f"{SBI}/more", config=sbi.config, env={"NELS_TOKEN": sbi.token})
    assert r.returncode == 1 and "StoreBioinfo is read-only" in " ".join(r.stderr.split())
