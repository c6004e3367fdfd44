"""The web app in a real browser (Debian's chromium through Playwright):
sign in with NeLS, browse, preview the ISA mapping, connect SEEK, push,
pull, download the bundle; fill the metadata sheet and deposit in ENA's
stand-in. Screenshots of a failing page are kept in
``test-artifacts/``."""

import datetime as dt
import io
import json
import os
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

    # a week on, the next pull has cleaned the bundle away: the page says so
    first_pull = page.url
    job_dir = Path(web.server.app.config["WORK_DIR"]) / first_pull.rsplit("/", 1)[1]
    long_ago = time.time() - 8 * 86400
    os.utime(job_dir, (long_ago, long_ago))
    page.go_back()
    page.click("#pull-form button")
    page.wait_for_selector("#download")
    assert not job_dir.exists()
    page.goto(first_pull)
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


def test_fill_the_sheet_and_deposit_in_ena(site, page, tmp_path):
    from test_ena_xml import fill_sheet

    sandboxes, web = site
    d = sandboxes.deposit
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")
    page.click("#deposit-link")
    page.wait_for_selector("#no-records")
    with page.expect_download() as download:
        page.click("#sheet-tsv")
    filled = tmp_path / "filled.tsv"
    embargo = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    text = fill_sheet(Path(download.value.path()).read_text())
    filled.write_text(text.replace("public release date\t\n", f"public release date\t{embargo}\n"))
    page.set_input_files("#sheet-form input[type=file]", str(filled))
    page.click("#sheet-form button")
    page.wait_for_selector("text=Sheet saved in NeLS")
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
