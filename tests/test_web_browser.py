"""The web app in a real browser (Debian's chromium through Playwright):
sign in with NeLS, browse, preview the ISA mapping, connect SEEK, push,
pull, download the bundle; fill the metadata sheet and deposit in ENA's
stand-in. Screenshots of a failing page are kept in
``test-artifacts/``."""

import datetime as dt
import hashlib
import io
import json
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest
from test_web import KEEP

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_sandbox.web_site import (
    demo_web_config,
    serve_demo,
    start_deposit_sandboxes,
    start_job_worker,
    start_sandboxes,
)

SAMPLES = ("Liver-1", "Liver-2", "Gill-1", "Gill-2")


@pytest.fixture
def site(tmp_path, specs):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES)
    start_deposit_sandboxes(sandboxes, specs / "ena")
    app = create_app(None, {**demo_web_config(sandboxes), **KEEP})
    start_job_worker(app, sandboxes)
    web = serve_demo(app, sandboxes)
    yield sandboxes, web
    web.stop()
    sandboxes.stop()


def sign_in(page, web, sandboxes):
    page.goto(web.url)
    page.click("#sign-in")
    page.fill("input[name=username]", sandboxes.username)
    page.fill("input[name=password]", sandboxes.password)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your NeLS projects")


def csp_reports(page) -> list[str]:
    """What the browser will say about the site's Content-Security-Policy: a
    script, style or form it blocked shows in the console, nowhere else."""
    said: list[str] = []
    page.on("console", lambda m: said.append(m.text))
    return said


def blocked(said: list[str]) -> list[str]:
    return [m for m in said if "Content Security Policy" in m]


def test_sign_in_browse_push_pull_and_download(site, page, tmp_path):
    sandboxes, web = site
    reports = csp_reports(page)
    sign_in(page, web, sandboxes)
    page.click(f"text={SEQ_PROJECT}")
    page.click("text=NorSeq/")
    page.click(f"text={RUN}/")
    assert page.is_visible("text=SampleSheet.csv")
    page.goto(f"{web.url}/browse/Projects/{SEQ_PROJECT}")
    page.click("#preview")
    studies = page.inner_text("#studies")
    assert RUN in studies and "4" in studies  # one study, four samples
    assert "reads, analysis" in page.inner_text("#datasets")  # the run in StoreBioinfo

    page.click("text=Connect a SEEK account")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", "not-the-token")
    page.click("#connect-form button")
    refused = page.inner_text(".flash.error")
    assert f"SEEK at {sandboxes.seek_url} did not accept the token" in refused
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    assert "as Demo Researcher" in page.inner_text(".flash.ok")
    assert sandboxes.seek_token not in page.content()

    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")
    page.fill("input[name=project]", sandboxes.seek_project)
    page.click("#push-form button")
    page.wait_for_selector("#state:text('done')")
    summary = page.inner_text("#summary")
    # ISA tree, a data file and a sample per sample, the sample type, 2 StoreBioinfo subtypes
    records = 3 + 2 * len(SAMPLES) + 1 + 2
    assert f"{records} created" in summary
    investigation = page.get_attribute("#investigation", "href")
    assert investigation.startswith(sandboxes.seek_url + "/investigations/")
    assert len(sandboxes.seek_world.records["samples"]) == len(SAMPLES)

    page.click("#pull-form button")
    page.wait_for_selector("#download")
    with page.expect_download() as download:
        page.click("#download")
    data = Path(download.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = set(z.namelist())
        assert {"isa.json", "manifest-md5.txt", "ro-crate-metadata.json"} <= names
        doc = json.loads(z.read("isa.json"))
    assert doc["title"] == SEQ_PROJECT
    assert {c["name"]: c["value"] for c in doc["comments"]}["SEEK investigation"] == investigation
    assert sorted(s["name"] for s in doc["studies"][0]["materials"]["samples"]) == sorted(SAMPLES)
    assert blocked(reports) == []  # every page, the job page's script too, ran under the CSP

    # a week on, beat's sweep has cleaned the bundle away: the page says so
    from nels_web.sweeps import FORGET_PULLS

    first_pull = page.url
    job_dir = Path(web.server.app.config["WORK_DIR"]) / first_pull.rsplit("/", 1)[1]
    long_ago = time.time() - 8 * 86400
    os.utime(job_dir, (long_ago, long_ago))
    web.server.app.extensions["nels_bundle"]["celery"].send_task(FORGET_PULLS)
    for _ in range(100):  # the site's worker runs it
        if not job_dir.exists():
            break
        time.sleep(0.1)
    assert not job_dir.exists()
    page.reload()
    assert "removed after 7 days" in page.inner_text("#bundle-gone")
    assert not page.is_visible("#download")


def test_the_csp_holds_and_a_form_may_still_lead_to_nels_sign_in(site, page):
    """A form sent once NeLS has let the sign-in go is sent on to NeLS's
    sign-in page: the policy's form-action must allow that redirect."""
    sandboxes, web = site
    reports = csp_reports(page)
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/seek")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")
    sandboxes.nels_world.expire_all_tokens()
    time.sleep(KEEP["HOME_KEEP_SECONDS"] + 0.1)  # once what NeLS said is no longer reused
    page.fill("input[name=project]", sandboxes.seek_project)
    page.click("#push-form button")
    page.wait_for_selector("input[name=username]")
    assert page.url.startswith(sandboxes.nels_url)
    assert blocked(reports) == []
    # and the policy is enforced: a script put into a page by hand does not run
    page.goto(web.url)
    page.evaluate(
        "document.body.appendChild(Object.assign(document.createElement('script'),"
        " {textContent: 'document.title = \"ran\"'}))"
    )
    page.wait_for_timeout(200)
    assert page.title() != "ran" and blocked(reports)


def test_a_pushed_job_is_not_anyone_elses(site, page):
    sandboxes, web = site
    page.goto(f"{web.url}/jobs/0123456789abcdef0123456789abcdef")
    assert page.url.startswith(sandboxes.nels_url)  # not signed in: sent to NeLS first
    sign_in(page, web, sandboxes)
    response = page.goto(f"{web.url}/jobs/0123456789abcdef0123456789abcdef")
    assert response.status == 404
    response = page.goto(f"{web.url}/browse/Projects/NotMine")
    assert response.status == 404


def fill_the_sheet(page, web, tmp_path, edit=lambda text: text):
    """The deposit page of the sequencing project's folder, its metadata sheet
    downloaded, filled in (``edit`` changes it further) and saved in NeLS."""
    from test_ena_xml import fill_sheet

    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")
    page.click("#deposit-link")
    page.wait_for_selector("#no-records")
    with page.expect_download() as download:
        page.click("#sheet-tsv")
    filled = tmp_path / "filled.tsv"
    filled.write_text(edit(fill_sheet(Path(download.value.path()).read_text())))
    page.set_input_files("#sheet-form input[type=file]", str(filled))
    page.click("#sheet-form button")
    page.wait_for_selector("text=Sheet saved in NeLS")


def test_fill_the_sheet_and_deposit_in_ena(site, page, tmp_path):
    sandboxes, web = site
    d = sandboxes.deposit
    sign_in(page, web, sandboxes)
    embargo = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    fill_the_sheet(
        page,
        web,
        tmp_path,
        lambda text: text.replace("public release date\t\n", f"public release date\t{embargo}\n"),
    )
    # said before anything is sent, and true after: ENA holds it until then
    assert f"private until {embargo}" in page.inner_text("#release")
    page.fill("#ena-form input[name=webin_account]", d.account)
    page.fill("#ena-form input[name=webin_password]", d.password)
    page.click("#ena-form button")
    page.wait_for_selector("#state:text('done')")
    (project,) = [o.accession for o in d.webin_world.held(d.account, "project").values()]
    assert page.inner_text("#project") == project
    assert f"private until {embargo}" in page.inner_text("#release")
    assert [o.hold_until for o in d.webin_world.held(d.account, "project").values()] == [embargo]
    assert page.locator(".receipt").count() == 1 and d.password not in page.content()
    page.click("#deposit-page")
    assert project in page.inner_text("#records")


def connect_seek(page, web, sandboxes):
    page.goto(f"{web.url}/seek")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    page.wait_for_selector(".flash.ok")


def fits(page, selector: str, width: int) -> list:
    """What overflows a ``width`` px wide page: the page itself, or ``selector``'s box."""
    page.set_viewport_size({"width": width, "height": 740})
    return page.evaluate(
        """([selector, width]) => {
          const wide = [];
          const root = document.documentElement;
          if (root.scrollWidth > root.clientWidth) wide.push(["page", root.scrollWidth]);
          const box = document.querySelector(selector).getBoundingClientRect();
          if (box.left < 0 || box.right > width) wide.push([selector, box.left, box.right]);
          return wide;
        }""",
        [selector, width],
    )


WAITING = "Waiting for another job on this folder to finish."


def test_a_push_waiting_for_its_folder_says_so_on_the_job_page(site, page):
    """Another job holds the folder (its lock on the site's Redis, taken here
    as a worker takes it): the job page says the push waits, under its bar,
    until the folder is free; then the push runs and the page shows it done."""
    from playwright.sync_api import expect

    from nels_web.locks import folder_lock

    sandboxes, web = site
    sign_in(page, web, sandboxes)
    connect_seek(page, web, sandboxes)
    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")
    page.fill("input[name=project]", sandboxes.seek_project)
    note, state = page.locator("#note"), page.locator("#state")
    held = f"push {sandboxes.seek_url} Projects/{SEQ_PROJECT}"  # as the push job names it
    with web.server.app.app_context(), folder_lock(held, wait=5):
        page.click("#push-form button")
        expect(note).to_have_text(WAITING, timeout=20_000)
        expect(state).to_have_text("running")
        assert page.inner_text("#count") == "0 of 1"
        # the poll says it, not only the page as first sent
        page.evaluate("document.getElementById('note').textContent = 'cleared by the test'")
        expect(note).to_have_text(WAITING)
        assert fits(page, "#note", 375) == []  # on a phone too
        assert "investigations" not in sandboxes.seek_world.records  # nothing pushed yet
    expect(state).to_have_text("done", timeout=20_000)  # the page reloaded on its own
    expect(note).to_have_count(0)  # the note is gone with the bar
    records = 3 + 2 * len(SAMPLES) + 1 + 2  # as in the first test
    assert f"{records} created" in page.inner_text("#summary")
    assert fits(page, "#summary", 375) == []


def hold_the_upload_area(sandboxes) -> threading.Event:
    """ENA's upload area (the stand-in's FTPS server) takes the bytes of the
    reads sent to it but writes none until the event returned is set (10 s
    at most): the sender waits mid-file, as on a slow line."""
    from pyftpdlib.filesystems import AbstractedFS

    from nels_sandbox.ftp import UploadArea

    go_on = threading.Event()

    class Held:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            go_on.wait(10)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    class HeldFS(AbstractedFS):
        def open(self, filename, mode):
            return Held(super().open(filename, mode))

    (area,) = [s for s in sandboxes.served if isinstance(s, UploadArea)]
    area.server.handler.abstracted_fs = HeldFS  # this sandbox's own handler class
    return go_on


def test_the_job_page_counts_the_bytes_of_reads_sent_to_ena(site, page, tmp_path):
    """While a file of reads goes to ENA's upload area, the deposit's job page
    says which file of how many, and how many of its bytes have gone."""
    from playwright.sync_api import expect

    sandboxes, web = site
    d = sandboxes.deposit
    # the first pair of files sent made larger than one read of a file (1 MiB)
    fastq = (
        sandboxes.nels_world.project_dir(sandboxes.nels_world.projects[sandboxes.seq_project_id])
        / "NorSeq"
        / RUN
        / "fastq"
    )
    md5_file = fastq.parent / "md5sum.txt"
    for read in ("R1", "R2"):
        file = fastq / f"Gill-1_S3_L001_{read}_001.fastq.gz"
        was = file.read_bytes()
        larger = was * 40  # gzip members one after the other: still one gzip
        assert 1_250_000 < len(larger) < 1_350_000  # "1.3 MB"
        md5s = md5_file.read_text()
        md5_file.write_text(
            md5s.replace(hashlib.md5(was).hexdigest(), hashlib.md5(larger).hexdigest())
        )
        file.write_bytes(larger)
    first = fastq / "Gill-1_S3_L001_R1_001.fastq.gz"
    sign_in(page, web, sandboxes)
    fill_the_sheet(page, web, tmp_path)
    page.fill("#ena-form input[name=webin_account]", d.account)
    page.fill("#ena-form input[name=webin_password]", d.password)
    go_on = hold_the_upload_area(sandboxes)
    try:
        page.click("#ena-form button")
        note = page.locator("#note")
        expect(note, "the first read of the first file, sent").to_have_text(
            "Sending reads to ENA: file 1 of 16 "
            f"({SEQ_PROJECT}/NorSeq/{RUN}/fastq/Gill-1_S3_L001_R1_001.fastq.gz), "
            "1.0 MB of 1.3 MB",
            timeout=20_000,
        )
        assert page.inner_text("#count") == "1 of 3" and page.inner_text("#state") == "running"
        assert fits(page, "#note", 375) == []  # a long path, on a phone
        d.webin_world.stall_once = 3.0  # ENA takes its time over the submission
    finally:
        go_on.set()
    expect(note, "not the last byte note while ENA holds its answer").to_have_text(
        "All reads sent to ENA (16 files); waiting for ENA to take the submission.",
        timeout=20_000,
    )
    expect(page.locator("#state")).to_have_text("done", timeout=20_000)
    expect(note).to_have_count(0)
    (project,) = [o.accession for o in d.webin_world.held(d.account, "project").values()]
    assert page.inner_text("#project") == project
    sent = d.webin_world.upload_root / d.account / SEQ_PROJECT / "NorSeq" / RUN / "fastq"
    assert (sent / first.name).read_bytes() == first.read_bytes()
