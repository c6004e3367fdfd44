"""StoreBioinfo from the web app, through Flask's test client against the
live NeLS sandbox (its SBI transfer jobs on its own disk) with a real
Celery worker on a real Redis: the project page's datasets and quota, a
two-lane run archived with per-file progress on the job page and staged
back byte for byte, a transfer job that fails mid-archive resumed without
sending a file twice, SBI's faults named on the job page, and the forms'
refusals said before anything is queued."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from test_web import KEEP, csrf, sign_in, wait

from nels_cli.demo import ARCHIVED_RUN, RUN, SEQ_PROJECT
from nels_core.checksums import parse_md5_list
from nels_sandbox.nels_api import fail_next_jobs, inject_fault
from nels_sandbox.web_site import demo_web_config, start_job_worker, start_sandboxes
from nels_web.models import Job

FOLDER = f"Projects/{SEQ_PROJECT}"
RUN_FOLDER = f"{FOLDER}/NorSeq/{RUN}"
NOTE = re.compile(
    rf"Sending to StoreBioinfo: file (\d+) of (\d+) \({RUN}/\S+\), [\d.]+ (bytes|kB|MB) of "
    r"[\d.]+ (bytes|kB|MB)(; StoreBioinfo transfer job \d+: (submitted|processing|done))?"
)


@pytest.fixture
def site(tmp_path):
    from nels_web import create_app

    sb = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    config = {**demo_web_config(sb), **KEEP, "JOB_RETRIES": 1, "JOB_RETRY_PAUSE": 0.05}
    app = create_app(None, config)
    start_job_worker(app, sb)
    ns = type("Site", (), {})()
    ns.sb, ns.app, ns.world = sb, app, sb.nels_world
    ns.nels = next(s.server.app for s in sb.served if _app_name(s) == "nels_sandbox")
    ns.project = ns.world.projects[sb.seq_project_id]
    ns.run = ns.world.project_dir(ns.project) / "NorSeq" / RUN
    ns.stored = ns.world.sbi_dir(ns.project, "Run1", "reads", RUN)
    yield ns
    sb.stop()


def _app_name(served) -> str | None:
    app = getattr(getattr(served, "server", None), "app", None)
    return getattr(app, "name", None)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _archive(client, dataset="Run1", type_="Illumina_seq_data", subtype="reads", path=RUN_FOLDER):
    return client.post(
        "/sbi/archive",
        data={
            "csrf_token": csrf(client, f"/sbi/archive/{path}"),
            "path": path,
            "dataset": dataset,
            "type": type_,
            "subtype": subtype,
        },
    )


def _stage(client, listing: str, project_id: int, dataset_id: int, sbi_path: str, target: str):
    """The stage-back form of the SBI folder page ``listing``, sent."""
    return client.post(
        "/sbi/stage",
        data={
            "csrf_token": csrf(client, listing),
            "project_id": project_id,
            "dataset_id": dataset_id,
            "subtype": "reads",
            "sbi_path": sbi_path,
            "target": target,
        },
    )


def _watch(client, job_url: str, tries: int = 3000) -> tuple[dict, list[str]]:
    """The job's final state, and every note its page showed meanwhile."""
    notes: list[str] = []
    for _ in range(tries):
        state = client.get(f"{job_url}.json").get_json()
        if state["message"] and state["message"] not in notes:
            notes.append(state["message"])
        if state["state"] in ("done", "failed"):
            return state, notes
        time.sleep(0.01)
    raise AssertionError(f"{job_url} still {state}")


def _queued(app) -> int:
    with app.extensions["nels_bundle"]["db"].sessions() as s:
        return s.query(Job).count()


def test_archive_a_run_with_per_file_progress_then_stage_it_back(site):
    client, _ = sign_in(site.app, site.sb)
    source = _files(site.run)
    assert len(source) > 16  # two lanes of two samples (R1, R2, I1, I2), Undetermined, sheet

    page = client.get(f"/browse/{FOLDER}").get_data(as_text=True)
    assert 'id="sbi-datasets"' in page and ARCHIVED_RUN in page  # the helpdesk's earlier run
    earlier = next(d for d in site.project.datasets.values() if d.name == ARCHIVED_RUN)
    assert f"{earlier.subtypes['reads']:,}" in page  # its subtypes' sizes
    used = site.world.sbi_used(site.project)
    assert used and f"Quota: {used:,} bytes used of 1,099,511,627,776 allocated" in page
    assert "sbi-archive" not in page  # the project's folder is no run folder
    run_page = client.get(f"/browse/{RUN_FOLDER}").get_data(as_text=True)
    assert "Archive this run to StoreBioinfo" in run_page and "sbi-datasets" not in run_page
    form = client.get(f"/sbi/archive/{RUN_FOLDER}").get_data(as_text=True)
    assert f'name="dataset" value="{RUN}"' in form  # the run folder's name by default

    site.world.processing_seconds = 0.3  # each job a little longer: notes to see
    r = _archive(client)
    assert r.status_code == 302 and r.headers["Location"].startswith("/jobs/")
    job_url = r.headers["Location"]
    state, notes = _watch(client, job_url)
    assert state["state"] == "done", state["message"]
    shown = [m for m in map(NOTE.fullmatch, notes) if m]
    assert shown, notes  # "file 3 of 21 (<run>/...), 1.2 kB of 30.1 kB; ...job 12: processing"
    assert {int(m[2]) for m in shown} == {len(source)}
    assert any(m[5] for m in shown)  # SBI's transfer job state said while it ran

    assert _files(site.stored) == source  # every file, byte for byte, in its folder
    for rel, md5 in parse_md5_list((site.run / "md5sum.txt").read_text()).items():
        assert hashlib.md5(_files(site.stored)[rel]).hexdigest() == md5
    done = client.get(job_url).get_data(as_text=True)
    total = sum(map(len, source.values()))
    assert f"{len(source)} files sent ({total:,} bytes)" in " ".join(done.split())
    assert "0 files already there" in " ".join(done.split())
    assert "nels/pages/sbi/sbi.xhtml?ref=" in done  # the subtype's permalink

    time.sleep(1.1)  # NeLS's answers are kept 1 s here: the project page asks again
    page = client.get(f"/browse/{FOLDER}").get_data(as_text=True)
    assert "Run1" in page and f"{total:,}" in page

    # again: nothing is sent, and it says so
    again_url = _archive(client).headers["Location"]
    assert wait(client, again_url)["state"] == "done"
    again = " ".join(client.get(again_url).get_data(as_text=True).split())
    assert f"0 files sent (0 bytes), {len(source)} files already there" in again

    # stage back from the subtype's page into another folder
    d = next(d for d in site.project.datasets.values() if d.name == "Run1")
    listing = f"/sbi/{site.project.id}/{d.id}/reads/{RUN}"
    page = client.get(listing).get_data(as_text=True)
    assert "md5sum.txt" in page and "fastq/" in page.replace("</a>", "")
    r = _stage(client, listing, site.project.id, d.id, RUN, f"{FOLDER}/restored")
    assert r.status_code == 302, r.get_data(as_text=True)
    state, notes = _watch(client, r.headers["Location"])
    assert state["state"] == "done", state["message"]
    assert any(n.startswith("Fetching from StoreBioinfo: file ") for n in notes), notes
    restored = site.world.project_dir(site.project) / "restored" / RUN
    assert _files(restored) == source
    staged = " ".join(client.get(r.headers["Location"]).get_data(as_text=True).split())
    assert f"{len(source)} files fetched ({total:,} bytes)" in staged


def test_a_failed_transfer_job_is_retried_and_the_archive_resumes(site):
    client, _ = sign_in(site.app, site.sb)
    site.world.processing_seconds = 0.3
    r = _archive(client)
    job_url = r.headers["Location"]
    deadline = time.monotonic() + 60
    while not site.stored.is_dir() or len(_files(site.stored)) < 3:
        assert time.monotonic() < deadline, "no file archived"
        time.sleep(0.01)
    fail_next_jobs(site.nels)  # the next transfer job ends in 102
    state, _ = _watch(client, job_url)
    assert state["state"] == "done", state["message"]
    source = _files(site.run)
    assert _files(site.stored) == source
    stored = [j for j in site.world.jobs.values() if j["kind"] == "upload" and j["state_id"] == 101]
    assert len(stored) == len(source)  # each file stored once
    page = " ".join(client.get(job_url).get_data(as_text=True).split())
    sent = int(re.search(r"(\d+) files? sent", page)[1])
    skipped = int(re.search(r"(\d+) files? already there", page)[1])
    assert skipped >= 3 and sent + skipped == len(source)  # the second try sent the rest
    job_id = job_url.rsplit("/", 1)[1]
    assert site.app.extensions["nels_bundle"]["jobs"].get(job_id, 1).attempts == 2


def test_an_archive_outliving_its_token_goes_on_with_the_kept_refresh_token(site):
    """NeLS's access tokens live an hour, a big run's archive longer: when NeLS
    refuses the token the job's message brought, the job takes a new one with
    the refresh token kept from the sign-in, and carries on."""
    client, _ = sign_in(site.app, site.sb)
    site.world.processing_seconds = 0.3
    job_url = _archive(client).headers["Location"]
    deadline = time.monotonic() + 60
    while not site.stored.is_dir() or len(_files(site.stored)) < 2:
        assert time.monotonic() < deadline, "no file archived"
        time.sleep(0.01)
    issued = len(site.world.access_tokens)
    site.world.expire_all_tokens()  # an hour has passed: every token refused
    state, _ = _watch(client, job_url)
    assert state["state"] == "done", state["message"]
    assert _files(site.stored) == _files(site.run)
    assert len(site.world.access_tokens) > issued  # a new one, from the refresh token
    job_id = job_url.rsplit("/", 1)[1]
    assert site.app.extensions["nels_bundle"]["jobs"].get(job_id, 1).attempts == 1  # no retry


def test_sbi_faults_end_the_job_with_the_file_named(site):
    client, _ = sign_in(site.app, site.sb)
    first = sorted(_files(site.run))[0].rsplit("/", 1)[-1]
    for _ in range(2):  # each try's first call to start a transfer job answers 500 "Error"
        inject_fault(site.nels, "POST", r"/reads/data/do$", 500)
    state, _ = _watch(client, _archive(client).headers["Location"])
    assert state["state"] == "failed"
    said = state["message"]
    # the file's name as it is (the page's capital goes on a word of ours)
    assert said.startswith(
        f"Archive to StoreBioinfo: {first}: StoreBioinfo refused initiate_upload: 500 Error"
    )
    assert "0 of" in said and "tried 2 times" in said

    # every transfer job ends in 102 (a try sends the next files while the
    # first one's job processes: those fail too)
    fail_next_jobs(site.nels, 1000)
    state, _ = _watch(client, _archive(client).headers["Location"])
    assert state["state"] == "failed"
    assert re.search(
        rf"{re.escape(first)}: StoreBioinfo transfer job \d+ ended in state 102", state["message"]
    )
    assert "0 of" in state["message"] and "tried 2 times" in state["message"]


def test_the_forms_refuse_with_every_reason_before_anything_is_queued(site):
    client, _ = sign_in(site.app, site.sb)
    helpdesk = next(d for d in site.project.datasets.values() if d.name == ARCHIVED_RUN)
    helpdesk.islocked = True
    r = _archive(client, dataset=ARCHIVED_RUN, type_="Proteomics_data", subtype="raw")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "Nothing was queued or sent: 3 problems" in page
    assert f"the dataset &#39;{ARCHIVED_RUN}&#39; is locked: nothing may be added to it" in page
    assert "is of type &#39;Illumina_seq_data&#39;, not &#39;Proteomics_data&#39;" in page
    assert "has no subtype &#39;raw&#39; (it has reads, analysis)" in page
    r = _archive(client, dataset="Run 1")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "holds a space: StoreBioinfo refuses it" in page
    assert 'value="Run 1"' in page  # the form kept what was typed
    site.project.quota_allocated = 1000
    page = _archive(client).get_data(as_text=True)
    assert "over quota:" in page and "1,000" in page
    assert _queued(site.app) == 0 and site.world.jobs == {}  # nothing queued, nothing sent

    # staging: into a file, refused with the reason, nothing queued
    d = helpdesk  # its earlier run's files are there to stage
    listing = f"/sbi/{site.project.id}/{d.id}/reads/"
    r = _stage(client, listing, site.project.id, d.id, "", f"{RUN_FOLDER}/md5sum.txt")
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "is a file, not a folder to stage into" in page
    assert _queued(site.app) == 0
    # another's project's SBI is not found, nor an address outside the subtype
    assert client.get(f"/sbi/999999/{d.id}/reads/").status_code == 404
    assert client.get(f"/sbi/{site.project.id}/{d.id}/reads/../x").status_code == 404
    assert client.get(f"/sbi/{site.project.id}/{d.id}/nope/").status_code == 404


def test_storebioinfo_away_leaves_the_project_page_standing(site):
    client, _ = sign_in(site.app, site.sb)
    inject_fault(site.nels, "GET", r"/nels-api/seek/sbi/projects$", 500)
    r = client.get(f"/browse/{FOLDER}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "StoreBioinfo could not be asked about this project" in page
    assert "NeLS is not answering properly" in page and "sbi-datasets" not in page
    assert "NorSeq/</a>" in page  # the folder's own listing is there


def test_names_from_storebioinfo_are_shown_literally(site):
    site.world.add_dataset(
        site.project, "<b>odd</b>\x1b[31m", "Illumina_seq_data", subtypes={"re<i>ads": 5}
    )
    client, _ = sign_in(site.app, site.sb)
    page = client.get(f"/browse/{FOLDER}").get_data(as_text=True)
    assert "&lt;b&gt;odd&lt;/b&gt;\\x1b[31m" in page and "<b>odd" not in page
    assert "re&lt;i&gt;ads</a> 5" in page and "\x1b" not in page


def test_a_push_of_an_archived_run_links_its_data_files_to_the_permalink(site):
    from test_web import connect_seek

    client, _ = sign_in(site.app, site.sb)
    assert wait(client, _archive(client).headers["Location"])["state"] == "done"
    connect_seek(client, site.sb)
    r = client.post(
        "/push",
        data={
            "csrf_token": csrf(client, f"/isa/{FOLDER}"),
            "path": FOLDER,
            "account": "1",
            "project": site.sb.seek_project,
            "sbi": "1",  # as the push form has it ticked
        },
    )
    assert wait(client, r.headers["Location"])["state"] == "done"
    d = next(d for d in site.project.datasets.values() if d.name == "Run1")
    reads = [
        f
        for f in site.sb.seek_world.records["data_files"].values()
        if f.attributes["title"].endswith(f" reads ({RUN})")
    ]
    assert len(reads) == 2
    for f in reads:
        (link,) = f.attributes["discussion_links"]
        assert link["label"] == f"StoreBioinfo Run1/reads/{RUN}"
        assert "/nels/pages/sbi/sbi.xhtml?ref=" in link["url"]
    # the permalink is the subtype's, as SBI gives it
    from nels_sandbox.nels_api import _ref

    assert (
        reads[0]
        .attributes["discussion_links"][0]["url"]
        .endswith(_ref(site.project.id, d.id, "reads"))
    )
