"""StoreBioinfo in a real browser (Debian's chromium through Playwright):
the project page's datasets and quota, *Archive this run to StoreBioinfo*
refused on the form, then sent, the job page saying which file moves until
it is done; at 375 px and 1280 px. Screenshots of a failing page are kept in
``test-artifacts/``."""

from __future__ import annotations

import re

import pytest
from test_web import KEEP
from test_web_browser import fits, sign_in

from nels_cli.demo import ARCHIVED_RUN, RUN, SEQ_PROJECT
from nels_sandbox.web_site import demo_web_config, serve_demo, start_job_worker, start_sandboxes

FOLDER = f"Projects/{SEQ_PROJECT}"
RUN_FOLDER = f"{FOLDER}/NorSeq/{RUN}"
WAITING = "Waiting for another job on this folder to finish."


@pytest.fixture
def site(tmp_path):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    app = create_app(None, {**demo_web_config(sandboxes), **KEEP})
    start_job_worker(app, sandboxes)
    web = serve_demo(app, sandboxes)
    yield sandboxes, web
    web.stop()
    sandboxes.stop()


def test_archive_a_run_from_the_browser_and_watch_it_to_done(site, page):
    from playwright.sync_api import expect

    from nels_web.locks import folder_lock
    from nels_web.sbi_jobs import sbi_lock

    sandboxes, web = site
    sandboxes.nels_world.processing_seconds = 0.3  # each transfer job a little longer
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/browse/{FOLDER}")
    datasets = page.inner_text("#sbi-datasets")
    project = sandboxes.nels_world.projects[sandboxes.seq_project_id]
    earlier = next(d for d in project.datasets.values() if d.name == ARCHIVED_RUN)
    assert ARCHIVED_RUN in datasets and f"reads {earlier.subtypes['reads']:,}" in datasets
    assert "bytes used of" in page.inner_text("#sbi-quota")
    for width in (375, 1280):
        assert fits(page, "#sbi", width) == []

    page.goto(f"{web.url}/browse/{RUN_FOLDER}")
    page.click("#sbi-archive")
    assert page.input_value("input[name=dataset]") == RUN
    page.fill("input[name=dataset]", "Run 1")
    page.click("#archive-form button")
    assert "holds a space: StoreBioinfo refuses it" in page.inner_text("#problems")
    assert fits(page, "#problems", 375) == []

    page.fill("input[name=dataset]", "Run1")
    note, state = page.locator("#note"), page.locator("#state")
    with web.server.app.app_context(), folder_lock(sbi_lock(RUN_FOLDER), wait=5):
        page.click("#archive-form button")
        expect(note).to_have_text(WAITING, timeout=20_000)  # another job holds the run folder
    file_note = re.compile(r"Sending to StoreBioinfo: file \d+ of 21 \(" + RUN + r"/.+\), .+ of .+")
    expect(note).to_have_text(file_note, timeout=20_000)
    assert fits(page, "#note", 375) == []  # a long file name, on a phone
    expect(state).to_have_text("done", timeout=60_000)  # the page reloaded on its own
    summary = page.inner_text("#summary")
    assert summary.startswith("21 files sent (") and "0 files already there" in summary
    for width in (375, 1280):
        assert fits(page, "#summary", width) == []
    page.click("#sbi-where")  # the run in StoreBioinfo, ready to stage back
    assert "md5sum.txt" in page.inner_text("#sbi-files")
    assert page.is_visible("#stage-form")
    for width in (375, 1280):
        assert fits(page, "#stage-form", width) == []

    # and back: the run staged into another NeLS folder from the same page
    page.fill("#stage-form input[name=target]", f"{FOLDER}/restored")
    page.click("#stage-form button")
    expect(state).to_have_text("done", timeout=60_000)
    assert page.inner_text("#summary").startswith("21 files fetched (")
    restored = sandboxes.nels_world.project_dir(project) / "restored" / RUN
    run = sandboxes.nels_world.project_dir(project) / "NorSeq" / RUN
    assert {
        p.relative_to(restored).as_posix(): p.read_bytes()
        for p in restored.rglob("*")
        if p.is_file()
    } == {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for width in (375, 1280):
        assert fits(page, "#summary", width) == []
