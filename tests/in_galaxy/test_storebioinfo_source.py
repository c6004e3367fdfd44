"""``StoreBioinfo/`` in the NeLS file source, through galaxy.files as Galaxy's
web process and jobs use it: read-only, each import one download job."""

from __future__ import annotations

import hashlib

import pytest
import sbi_seed
from galaxy import exceptions
from galaxy.files import ConfiguredFileSources, ConfiguredFileSourcesConf
from galaxy.files.models import FileSourcePluginsConfig, FilesSourceOptions
from sbi_seed import DATASET, FILES, READS, SUBTYPE
from test_file_source import UserContext, sources_with, user

from galaxy_plugin.homes import HOMES

pytestmark = pytest.mark.galaxy

ROOT = "gxfiles://nels"
RUN = f"/StoreBioinfo/UiB Test Project/{DATASET}/{SUBTYPE}"
FASTQ = f"{RUN}/run/Liver-1_S1_L001_R1_001.fastq.gz"


@pytest.fixture(autouse=True)
def fresh_homes():
    HOMES.clear()
    yield
    HOMES.clear()


@pytest.fixture
def seeded(nels_server):
    cast = nels_server.cast
    dataset = sbi_seed.seed(cast.world, cast.project)
    yield cast.world
    sbi_seed.unseed(cast.world, cast.project, dataset)


@pytest.fixture
def src(nels_server, seeded):
    return sources_with(nels_server).find_best_match(ROOT)


def _listed(src, path, who, **kw):
    entries, total = src.list(path, user_context=who, **kw)
    assert total == len(entries)
    return [(e.name, e.uri, getattr(e, "size", None)) for e in entries]


def test_storebioinfo_sits_beside_personal_and_projects_down_to_its_files(src, nels_server):
    bob = user(nels_server, "bob")
    assert [n for n, _, _ in _listed(src, "/", bob)] == ["Personal", "Projects", "StoreBioinfo"]
    # SBI projects by their names as they are: the URI holds the same name
    assert _listed(src, "/StoreBioinfo", bob) == [
        ("Locked_2020", f"{ROOT}/StoreBioinfo/Locked_2020", None),
        ("UiB Test Project", f"{ROOT}/StoreBioinfo/UiB Test Project", None),
    ]
    assert [n for n, _, _ in _listed(src, "/StoreBioinfo/UiB Test Project", bob)] == [DATASET]
    subtypes = _listed(src, f"/StoreBioinfo/UiB Test Project/{DATASET}", bob)
    assert [n for n, _, _ in subtypes] == ["qc", "reads"]
    files = _listed(src, f"{RUN}/run", bob)
    assert files == [
        ("Liver-1_S1_L001_R1_001.fastq.gz", f"{ROOT}{FASTQ}", len(READS)),
        ("SampleSheet.csv", f"{ROOT}{RUN}/run/SampleSheet.csv", len(FILES["run/SampleSheet.csv"])),
    ]
    found, total = src.list(RUN, user_context=bob, recursive=True)
    assert total == 4 and f"{ROOT}{FASTQ}" in {e.uri for e in found}
    hits, _ = src.list(f"{RUN}/run", user_context=bob, query="liver")
    assert [e.name for e in hits] == ["Liver-1_S1_L001_R1_001.fastq.gz"]
    with pytest.raises(exceptions.ObjectNotFound, match="no dataset 'Run2'"):
        src.list("/StoreBioinfo/UiB Test Project/Run2", user_context=bob)
    # not a member: the project is not among erin's
    erin = user(nels_server, "erin")
    assert _listed(src, "/StoreBioinfo", erin) == []
    with pytest.raises(exceptions.ObjectNotFound):
        src.list("/StoreBioinfo/UiB Test Project", user_context=erin)


def test_import_runs_the_download_job_and_waits_for_it(src, nels_server, seeded, tmp_path):
    seeded.processing_seconds = 0.5  # the job stays in 103 for a while
    bob = user(nels_server, "bob")
    before = {j for j, job in seeded.jobs.items() if job["kind"] == "download"}
    target = tmp_path / "in.fastq.gz"
    src.realize_to(FASTQ, str(target), user_context=bob, opts=FilesSourceOptions())
    assert hashlib.md5(target.read_bytes()).hexdigest() == hashlib.md5(READS).hexdigest()
    ran = [job for j, job in seeded.jobs.items() if job["kind"] == "download" and j not in before]
    assert [(job["target"][4], job["state_id"]) for job in ran] == [
        ("Liver-1_S1_L001_R1_001.fastq.gz", 101)
    ]


def test_a_failed_job_fails_the_import_and_leaves_no_dataset(src, nels_server, tmp_path):
    from nels_sandbox.nels_api import fail_next_jobs

    fail_next_jobs(nels_server.app)
    target = tmp_path / "in.fastq.gz"
    with pytest.raises(exceptions.MessageException, match=r"state 102 \(failed\)"):
        src.realize_to(FASTQ, str(target), user_context=user(nels_server, "bob"))
    assert not target.exists()


def test_storebioinfo_is_read_only_and_never_offered_for_a_write(
    src, nels_server, seeded, tmp_path
):
    bob = user(nels_server, "bob")
    local = tmp_path / "result.tsv"
    local.write_text("a\tb\n")
    for where in (f"{RUN}/result.tsv", f"{RUN}/run/new/result.tsv", FASTQ):
        with pytest.raises(exceptions.InsufficientPermissionsException, match="read-only"):
            src.write_from(where, str(local), user_context=bob)
    stored = seeded.sbi_dir(nels_server.cast.project, DATASET, SUBTYPE)
    assert sorted(p.relative_to(stored).as_posix() for p in stored.rglob("*") if p.is_file()) == (
        sorted(FILES)
    )
    opts = FilesSourceOptions(write_intent=True)
    offered, _ = src.list("/", user_context=bob, opts=opts)
    assert not any(e.name.startswith("StoreBioinfo") for e in offered)
    assert src.list(RUN, user_context=bob, opts=opts) == ([], 0)


def test_serialised_for_a_job_the_import_still_reaches_storebioinfo(nels_server, seeded, tmp_path):
    sources = sources_with(nels_server)
    as_dict = sources.to_dict(for_serialization=True, user_context=user(nels_server, "bob"))
    HOMES.clear()
    in_job = ConfiguredFileSources.from_dict(as_dict)
    src = in_job.find_best_match(f"{ROOT}{FASTQ}")
    target = tmp_path / "r1.fastq.gz"
    src.realize_to(FASTQ, str(target), user_context=None)
    assert target.read_bytes() == READS


def test_without_an_api_token_there_is_no_storebioinfo(nels_server, seeded):
    """A site mounting NeLS homes without users' tokens: StoreBioinfo, reached
    only through the API with the user's token, is not shown; asked for by
    address, the answer says a token is needed."""
    world = nels_server.cast.world
    conf = [
        {
            "type": "nels",
            "id": "nels_mount",
            "backend": "local",
            "root": str(world.root / "users") + "/${user.username}",
        }
    ]
    sources = ConfiguredFileSources(
        FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
    )
    src = sources.find_best_match("gxfiles://nels_mount")
    bob = UserContext("bob", None)
    names = [e.name for e in src.list("/", user_context=bob)[0]]
    assert names == ["Personal", "Projects"]
    with pytest.raises(exceptions.AuthenticationRequired, match="No NeLS access token"):
        src.list("/StoreBioinfo", user_context=bob)
