"""StoreBioinfo in the suite's real Galaxy 26.1.2, through bioblend: a user
browses ``StoreBioinfo/`` in the NeLS file source and imports a FASTQ from
it into a history; Galaxy's fetch job runs the SBI download job and waits
for it."""

from __future__ import annotations

import gzip

import pytest
import sbi_seed
from conftest import need
from sbi_seed import DATASET, READS, SUBTYPE

pytestmark = [pytest.mark.galaxy_server, pytest.mark.slow]

need("bioblend", "dev")
from test_galaxy_server import NELS, galaxy_user, remote_files, wait_ok  # noqa: E402

PROJECT = "UiB Test Project"
RUN = f"{NELS}/StoreBioinfo/{PROJECT}/{DATASET}/{SUBTYPE}/run"
NAME = "Liver-1_S1_L001_R1_001.fastq.gz"


@pytest.fixture(scope="module")
def stack(galaxy_stack):
    """The suite's Galaxy, with an SBI dataset in the test project for this
    module only (other modules see none)."""
    cast = galaxy_stack.cast
    dataset = sbi_seed.seed(cast.world, cast.project)
    yield galaxy_stack
    sbi_seed.unseed(cast.world, cast.project, dataset)


def test_user_browses_storebioinfo_beside_their_nels_areas(stack):
    gi = galaxy_user(stack, "bob")
    r = remote_files(gi, NELS)
    assert r.status_code == 200, r.text
    assert [(e["name"], e["uri"]) for e in r.json()] == [
        ("Personal", f"{NELS}/Personal"),
        ("Projects", f"{NELS}/Projects"),
        ("StoreBioinfo", f"{NELS}/StoreBioinfo"),
    ]
    r = remote_files(gi, f"{NELS}/StoreBioinfo/{PROJECT}/{DATASET}")
    assert [e["name"] for e in r.json()] == ["qc", SUBTYPE]
    r = remote_files(gi, RUN)
    assert r.status_code == 200, r.text
    files = {e["name"]: e.get("size") for e in r.json()}
    assert files == {
        NAME: len(READS),
        "SampleSheet.csv": len(sbi_seed.FILES["run/SampleSheet.csv"]),
    }


def test_fetch_imports_a_fastq_from_storebioinfo_through_the_download_job(stack):
    world = stack.cast.world
    before = set(world.jobs)
    gi = galaxy_user(stack, "bob")
    history = gi.histories.create_history("from StoreBioinfo")
    payload = {
        "history_id": history["id"],
        "targets": [
            {
                "destination": {"type": "hdas"},
                "elements": [{"src": "url", "url": f"{RUN}/{NAME}", "ext": "auto"}],
            }
        ],
    }
    r = gi.make_post_request(f"{gi.base_url}/api/tools/fetch", payload=payload)
    output = r["outputs"][0]
    d = wait_ok(gi, output["id"])
    assert d["state"] == "ok", d.get("misc_info")
    assert d["name"] == NAME
    assert d["extension"] in ("fastqsanger.gz", "fastq.gz", "fastqsanger")
    got = gi.datasets.download_dataset(
        output["id"], use_default_filename=False, require_ok_state=True
    )
    assert gzip.decompress(got) == gzip.decompress(READS)
    # Galaxy's job ran one SBI download job for it, and waited until it was done
    ran = [job for j, job in world.jobs.items() if j not in before and job["kind"] == "download"]
    assert [(job["target"][4], job["state_id"]) for job in ran] == [(NAME, 101)]


def test_an_export_into_storebioinfo_is_refused_as_read_only(stack):
    gi = galaxy_user(stack, "bob")
    r = gi.make_get_request(
        f"{gi.base_url}/api/remote_files",
        params={"target": RUN, "format": "uri", "write_intent": "true"},
    )
    assert r.status_code == 200 and r.json() == [], r.text
