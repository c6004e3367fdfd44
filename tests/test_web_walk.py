"""A new user's walk through the web app in a real browser (Debian's
chromium through Playwright): every link answers a page, errors are pages
with a way back, folders without data offer nothing that cannot work, the
ISA page's issues are said once, every page fits a phone, counts and
errors read as words, jobs are listed, a pushed folder says where it is in
SEEK. Screenshots at 375 and 1280 px go to ``test-artifacts/``."""

import html
import json
import re
import uuid
from urllib.parse import urljoin, urlsplit

import pytest
from conftest import ARTIFACTS
from test_web_browser import connect_seek, sign_in

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_sandbox.web_site import (
    demo_web_config,
    serve_demo,
    start_deposit_sandboxes,
    start_job_worker,
    start_sandboxes,
)

SAMPLES = ("Liver-1", "Liver-2", "Gill-1", "Gill-2")
RUN_PATH = f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}"
NO_DATA = f"Projects/{SEQ_PROJECT}/notes"  # a README, no reads
EMPTY = f"Projects/{SEQ_PROJECT}/empty"
CRAWL_LIMIT = 300  # pages; the demo tree has far fewer
BOOM = "internal detail /srv/secret.db"  # what a crash says, never shown


@pytest.fixture
def walk(tmp_path, specs):
    """The demo's NeLS tree, SEEK and the deposit stand-ins, with a folder
    holding no data, an empty one and a Personal folder; and an address
    that crashes, as a bug would."""
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES)
    start_deposit_sandboxes(sandboxes, specs / "ena")
    world = sandboxes.nels_world
    seq = world.project_dir(next(p for p in world.projects.values() if p.folder == SEQ_PROJECT))
    (seq / "notes").mkdir()
    (seq / "notes" / "README.txt").write_text("what the lab did\n")
    (seq / "empty").mkdir()
    personal = world.home(world.user_by_username(sandboxes.username)) / "Personal" / "drafts"
    personal.mkdir(parents=True)
    (personal / "plan.txt").write_text("a plan\n")
    app = create_app(None, demo_web_config(sandboxes))

    @app.get("/test-crash")
    def crash():
        raise RuntimeError(BOOM)

    start_job_worker(app, sandboxes)
    web = serve_demo(app, sandboxes)
    web.app = app
    yield sandboxes, web
    web.stop()
    sandboxes.stop()


def push(page, web, project: str, path: str = RUN_PATH) -> str:
    """Push the folder from its ISA page; the job page's state once it ended."""
    page.goto(f"{web.url}/isa/{path}")
    page.fill("input[name=project]", project)
    page.click("#push-form button")
    page.wait_for_selector("#state:text('done'), #state:text('failed')")
    return page.inner_text("#state")


def csrf_token(page) -> str:
    return page.get_attribute("input[name=csrf_token]", "value")


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text and BOOM not in text


def test_every_link_a_signed_in_user_sees_answers_a_page(walk, page):
    """A crawler over the same-site links of every page, from the start page,
    after a push: no 500, no traceback, no link to an error."""
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    connect_seek(page, web, sandboxes)
    assert push(page, web, sandboxes.seek_project) == "done"

    queue, seen, pages = [f"{web.url}/"], set(), 0
    while queue and len(seen) < CRAWL_LIMIT:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        answer = page.request.get(url)
        assert answer.status == 200, f"{url}: {answer.status}"
        if "text/html" not in answer.headers.get("content-type", ""):
            continue  # a download (sheet, accessions), a style sheet
        text = answer.text()
        no_traceback(text)
        pages += 1
        for href in re.findall(r'href="([^"]*)"', text):
            target = urljoin(url, html.unescape(href)).split("#", 1)[0]
            if target.startswith(web.url + "/") and target not in seen:
                queue.append(target)
    assert len(seen) < CRAWL_LIMIT, "the crawl did not end: a link loop?"
    visited = {urlsplit(u).path for u in seen}
    for expected in (
        "/browse/Projects",
        "/browse/Personal",
        "/browse/Personal/drafts",
        f"/isa/{RUN_PATH}",
        f"/deposit/{RUN_PATH}",
        "/jobs",
        "/seek",
    ):
        assert expected in visited, expected
    assert pages > 15


def test_errors_are_pages_with_a_way_back_and_roots_offer_nothing(walk, page):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    for root in ("Projects", "Personal"):
        page.goto(f"{web.url}/browse/{root}")
        assert page.locator("#preview").count() == 0
        assert page.is_visible("#choose-a-folder")
    # what the walk found: Projects, then "Describe this folder as ISA": a bare 500
    for address in ("/isa/Projects", "/isa/Personal", "/deposit/Projects"):
        answer = page.goto(web.url + address)
        assert answer.status == 400, address
        assert page.inner_text("h1") == "Nothing to describe"
        assert "open a project's folder" in page.inner_text("#error")
        assert page.get_attribute("#back", "href") == "/browse/" + address.split("/")[2]
        assert page.locator("#push-form, #deposit-link").count() == 0
        no_traceback(page.content())

    answer = page.goto(f"{web.url}/browse/Projects/NotMine/deeper")
    assert answer.status == 404 and page.inner_text("h1") == "Not found"
    assert page.get_attribute("#back", "href") == "/browse/Projects/NotMine"
    answer = page.goto(f"{web.url}/test-crash")
    assert answer.status == 500 and page.inner_text("h1") == "Something went wrong"
    assert page.is_visible("header nav")  # the site's own page, styled
    no_traceback(page.content())
    answer = page.goto(f"{web.url}/push")  # a form's address, opened as a page
    assert answer.status == 405 and "Not here" in page.inner_text("h1")


def test_a_folder_without_data_offers_no_push_or_deposit_and_refuses_one(walk, page):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    connect_seek(page, web, sandboxes)
    page.goto(f"{web.url}/browse/{EMPTY}")
    assert page.is_visible("#empty") and page.locator("#preview").count() == 0
    page.goto(f"{web.url}/browse/{NO_DATA}")
    page.click("#preview")
    assert "holds no data files" in page.inner_text("#no-data")
    assert page.locator("#push-form, #deposit-link, #connect-seek").count() == 0
    token = csrf_token(page)

    # a form sent anyway (an old tab, by hand): refused, no job, nothing in SEEK
    for address, form in (
        ("/push", {"path": NO_DATA, "account": "1", "project": sandboxes.seek_project}),
        ("/deposits/ena", {"path": NO_DATA, "server": "test", "dry_run": "1"}),
        ("/deposits/biostudies", {"path": EMPTY, "server": "test"}),
    ):
        answer = page.request.post(web.url + address, form={"csrf_token": token, **form})
        assert answer.status == 400, address
        assert "there is nothing to push to SEEK or deposit" in answer.text()
        no_traceback(answer.text())
    answer = page.goto(f"{web.url}/deposit/{EMPTY}")
    assert answer.status == 400 and "holds no data files" in page.inner_text("#error")
    page.goto(f"{web.url}/jobs")
    assert page.is_visible("#no-jobs")
    assert not sandboxes.seek_world.records.get("investigations")


def test_the_isa_page_names_each_sample_once_and_points_to_the_sheet(walk, page):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/isa/Projects/{SEQ_PROJECT}")  # the run a study two folders down
    missing = page.inner_text("#missing")
    # the four samples lack the same six fields: one line, each name once
    assert page.locator("#missing li").count() == 1
    for name in SAMPLES:
        assert missing.count(name) == 1
    assert missing.count(f"NorSeq/{RUN}") == 1
    assert "organism, collection date" in missing and "4 samples" in missing
    assert "metadata sheet" in page.inner_text("#sheet-advice")
    page.click("#sheet-link")
    assert urlsplit(page.url).path == f"/deposit/Projects/{SEQ_PROJECT}"
    assert page.is_visible("#sheet-tsv")  # where the sheet is downloaded and uploaded


def test_a_pushed_folder_says_where_it_is_in_seek_and_jobs_are_listed(walk, page):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    connect_seek(page, web, sandboxes)
    assert push(page, web, "999999") == "failed"  # no such SEEK project
    failure = page.inner_text("#failure")
    assert "SEEK" in failure and "POST" not in failure and not re.search(r"\b[45]\d\d\b", failure)
    assert page.get_attribute("#to-folder", "href") == f"/browse/{RUN_PATH}"
    assert page.get_attribute("#to-jobs", "href") == "/jobs"
    assert page.inner_text("h1") == f"Push {RUN_PATH} to SEEK"  # a path, not nels://

    page.goto(f"{web.url}/isa/{RUN_PATH}")
    assert page.locator("#in-seek").count() == 0
    assert push(page, web, sandboxes.seek_project) == "done"
    notes = page.inner_text("main")
    assert "sample(s)" not in notes and notes.count("Gill-1") == 1  # grouped as on the ISA page
    investigation = page.get_attribute("#investigation", "href")
    for address in (f"/browse/{RUN_PATH}", f"/isa/{RUN_PATH}"):
        page.goto(web.url + address)
        assert page.get_attribute("#in-seek a", "href") == investigation
    # the project number is offered again for this folder, to push and to link deposits
    assert page.input_value("input[name=project]") == str(sandboxes.seek_project)
    page.goto(f"{web.url}/deposit/{RUN_PATH}")
    assert page.input_value("#ena-form input[name=seek_project]") == str(sandboxes.seek_project)

    page.click("#nav-jobs")
    rows = page.locator("#jobs tbody tr")
    assert rows.count() == 2
    assert "done" in rows.nth(0).inner_text() and "failed" in rows.nth(1).inner_text()
    assert "nels://" not in page.inner_text("#jobs")
    assert f"Push {RUN_PATH} to SEEK" in rows.nth(0).inner_text()
    rows.nth(1).locator("a").click()
    assert page.is_visible("#failure")


def test_seek_accounts_keep_the_address_and_lead_back_to_the_folder(walk, page):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/isa/{RUN_PATH}")
    page.click("#connect-seek")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", "not-the-token")
    page.click("#connect-form button")
    refused = page.inner_text(".flash.error")
    assert f"SEEK at {sandboxes.seek_url} did not accept the token" in refused
    assert page.input_value("select[name=seek_url]") == sandboxes.seek_url
    assert page.input_value("input[name=token]") == ""
    assert "not-the-token" not in page.content() and "not-the-token" not in page.url
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    assert "as Demo Researcher" in page.inner_text(".flash.ok")
    assert RUN_PATH in page.inner_text("#back")
    page.click("#back")
    assert urlsplit(page.url).path == f"/isa/{RUN_PATH}" and page.is_visible("#push-form")

    # only a path of this site is offered to go back to
    for elsewhere in (
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "isa/relative",
        "/%0d%0aLocation:%20https://evil.example/",
    ):
        page.goto(f"{web.url}/seek?next={elsewhere}")
        assert page.locator("#back").count() == 0, elsewhere
        assert page.locator("input[name=next]").count() == 0, elsewhere
    answer = page.request.post(
        f"{web.url}/seek",
        form={
            "csrf_token": csrf_token(page),
            "seek_url": "",
            "token": "",
            "next": "//evil.example",
        },
        max_redirects=0,
    )
    assert "evil" not in answer.headers["location"]


def test_a_form_sent_after_signing_out_says_why_and_offers_to_sign_in(walk, page, browser_context):
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    page.goto(f"{web.url}/seek")
    other_tab = browser_context.new_page()
    other_tab.goto(f"{web.url}/")
    other_tab.click("header button:text('Sign out')")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    assert page.inner_text("h1") == "Form expired"
    said = page.inner_text("#error")
    assert "open too long" in said and "signed out" in said and "CSRF" not in page.content()
    page.click("#sign-in")
    page.fill("input[name=username]", sandboxes.username)
    page.fill("input[name=password]", sandboxes.password)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:text('SEEK accounts')")  # back where the form was


def add_receipt_job(web, path: str) -> str:
    """A finished ENA deposit as its job page shows it (the receipt page),
    with long names, as a real deposit of the demo's run stores it."""
    from nels_web.models import Job, WebUser

    db = web.app.extensions["nels_bundle"]["db"]
    objects = [
        ["run", f"{RUN}-Liver-{n}-L00{n}-paired", f"ERR{1000 + n}", "PRIVATE"] for n in range(8)
    ]
    receipt = {
        "file": f"receipt-2026-01-01T120000Z-{RUN}-ADD.xml",
        "success": True,
        "date": "2026-01-01T12:00:00Z",
        "actions": ["ADD"],
        "infos": ["All objects in this submission are set to private status (HOLD)." * 2],
        "errors": [],
        "objects": objects,
        "more": 0,
    }
    result = {
        "archive": "ENA",
        "path": path,
        "server": "test",
        "dry_run": False,
        "warnings": [],
        "log": [f"uploaded {RUN}_Liver-1_S1_L001_R1_001.fastq.gz to the Webin upload area"],
        "project": "PRJEB99999",
        "counts": {"project": 1, "sample": 4, "experiment": 4, "run": 8},
        "seek": {"investigations": 1, "samples": 4},
        "release": "private until 2027-01-01",
        "receipts": [receipt],
        "unchanged": False,
    }
    job_id = uuid.uuid4().hex
    with db.sessions() as s, s.begin():
        user = s.query(WebUser).one()
        subject = f"nels://{path} to ENA (test)"
        s.add(
            Job(
                id=job_id,
                user_id=user.id,
                kind="ena",
                subject=subject,
                state="done",
                result=json.dumps(result),
            )
        )
    return job_id


def test_every_page_fits_a_phone(walk, page):
    """No horizontal scrolling of the page at 375 px (a table may scroll in its
    own wrapper), no input wider than the screen; screenshots at 375 and 1280 px."""
    sandboxes, web = walk
    sign_in(page, web, sandboxes)
    connect_seek(page, web, sandboxes)
    push(page, web, sandboxes.seek_project)
    job = page.url
    receipt = f"{web.url}/jobs/{add_receipt_job(web, RUN_PATH)}"
    pages = {
        "index": f"{web.url}/",
        "browse": f"{web.url}/browse/{RUN_PATH}",
        "isa": f"{web.url}/isa/{RUN_PATH}",
        "deposit": f"{web.url}/deposit/{RUN_PATH}",
        "job": job,
        "receipt": receipt,
        "jobs": f"{web.url}/jobs",
        "seek": f"{web.url}/seek",
        "error": f"{web.url}/isa/Projects",
    }
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (375, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        for name, address in pages.items():
            page.goto(address)
            page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}.png"), full_page=True)
            if width > 375:
                continue
            sizes = page.evaluate(
                """() => ({
                    scroll: document.documentElement.scrollWidth,
                    inner: window.innerWidth,
                    widest: Math.max(0, ...[...document.querySelectorAll(
                        'input, select, textarea, button')]
                        .map(e => e.getBoundingClientRect().right)),
                })"""
            )
            assert sizes["scroll"] <= sizes["inner"], f"{name} is {sizes['scroll']} px wide"
            assert sizes["widest"] <= sizes["inner"], f"{name} has an input past the edge"
    # the receipt's counts, as words
    page.goto(receipt)
    summary = page.inner_text("#summary")
    assert "4 experiments, 1 project, 8 runs, 4 samples accessioned" in summary
    assert "1 investigation, 4 samples" in summary
    assert page.inner_text("h1") == f"Deposit {RUN_PATH} in ENA (test)"


def test_the_style_sheet_is_served_not_inline(walk, page):
    sandboxes, web = walk
    page.goto(web.url)
    assert page.locator("style, [style]").count() == 0
    assert page.request.get(f"{web.url}/static/app.css").status == 200
    assert page.evaluate("getComputedStyle(document.querySelector('header')).display") == "flex"
