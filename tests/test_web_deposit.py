"""The web app's deposit page, through Flask's test client against the live
NeLS, SEEK, Webin (with its real FTPS upload area) and BioStudies stand-ins:
the metadata sheet, a check-only run, a deposit whose receipt the job page
shows, a re-run that sends nothing, SEEK links, and every refusal."""

import datetime as dt
import io
import time
import zipfile

import pytest
from conftest import need
from lxml import etree
from sqlalchemy import create_engine, text
from test_ena_xml import fill_sheet
from test_web import KEEP, connect_seek, csrf, sign_in, wait

from nels_cli.demo import SEQ_PROJECT
from nels_sandbox.web_site import (
    demo_web_config,
    start_deposit_sandboxes,
    start_job_worker,
    start_sandboxes,
)

FOLDER = f"Projects/{SEQ_PROJECT}"


@pytest.fixture
def site(tmp_path, database_url, specs):
    need("pyftpdlib", "sandbox")
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    start_deposit_sandboxes(sandboxes, specs / "ena")
    app = create_app(None, {**demo_web_config(sandboxes), "DATABASE_URL": database_url, **KEEP})
    start_job_worker(app, sandboxes)
    yield sandboxes, app, database_url
    sandboxes.stop()


def post_job(client, url: str, **fields) -> tuple[str, dict]:
    """A deposit form sent as the page sends it; the job's final state."""
    token = csrf(client, f"/deposit/{FOLDER}")
    r = client.post(url, data={"csrf_token": token, "path": FOLDER, **fields})
    assert r.status_code == 302, r.get_data(as_text=True)
    job_url = r.headers["Location"]
    assert job_url.startswith("/jobs/"), job_url  # not back to the form with an error
    return job_url, wait(client, job_url)


def upload_sheet(client, filled: str):
    from io import BytesIO

    return client.post(
        "/deposits/sheet",
        data={
            "csrf_token": csrf(client, f"/deposit/{FOLDER}"),
            "path": FOLDER,
            "sheet": (BytesIO(filled.encode()), "metadata.tsv"),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def webin(sandboxes, **more) -> dict:
    d = sandboxes.deposit
    return {"server": "test", "webin_account": d.account, "webin_password": d.password, **more}


def biostudies(sandboxes) -> dict:
    d = sandboxes.deposit
    return {
        "server": "test",
        "biostudies_login": d.biostudies_login,
        "biostudies_password": d.biostudies_password,
        "release": "2027-06-01",
    }


def test_sheet_check_deposit_and_again(site):
    sandboxes, app, database_url = site
    d = sandboxes.deposit
    client, _ = sign_in(app, sandboxes)
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert "Nothing deposited from this folder yet" in page and 'id="ena-form"' in page

    # without a sheet ENA would refuse: no taxon id; nothing is sent
    _, state = post_job(client, "/deposits/ena", **webin(sandboxes))
    assert state["state"] == "failed" and "no NCBI taxon id" in state["message"]
    assert d.webin_world.submissions == []

    # every ENA checklist offered, and its sheet with its fields as columns
    assert page.count('<option value="ERC0000') >= 2 * 48  # the deposit form's and the sheet's
    virus = client.get(f"/deposits/sheet?path={FOLDER}&checklist=ERC000033")
    assert "Characteristics[host sex]" in virus.get_data(as_text=True)
    template = client.get(f"/deposits/sheet?path={FOLDER}")
    assert template.status_code == 200 and "[Samples]" in template.get_data(as_text=True)
    before = client.get(f"/isa/{FOLDER}").get_data(as_text=True)
    assert "genome sequencing" in before and "not given" in before  # what the data alone says
    assert "Described from the data alone" in before
    # not a word about when ENA publishes it yet: the page says ENA's default
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert "public two months after submission" in page
    embargo = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    filled = fill_sheet(template.get_data(as_text=True)).replace(
        "public release date\t\n", f"public release date\t{embargo}\n", 1
    )
    taken = upload_sheet(client, filled)
    assert "Sheet saved in NeLS" in taken.get_data(as_text=True)
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert f"ENA keeps this data private until {embargo}" in page
    # the sheet lives in NeLS beside the data, and the ISA description uses it
    project_dir = sandboxes.nels_world.root / "projects" / SEQ_PROJECT
    (saved,) = (project_dir / "nels-metadata").glob("sheet-*.tsv")
    said = saved.read_text()
    assert "# by: Demo Researcher" in said and "# from: metadata.tsv" in said
    assert saved.name in page and 'id="sheet-current"' in page
    preview = client.get(f"/isa/{FOLDER}").get_data(as_text=True)
    assert "transcription" in preview and "genome sequencing" not in preview  # RNA-Seq, as said
    assert "not given" not in preview
    assert "Described with the folder's metadata sheet\n" in preview and saved.name in preview
    again = upload_sheet(client, filled)  # the same values: no new version
    assert "nothing saved" in again.get_data(as_text=True)
    assert len(list((project_dir / "nels-metadata").glob("sheet-*.tsv"))) == 1
    # the blank template uploaded by mistake: saved, said loudly, and the good one restorable
    blank = upload_sheet(client, template.get_data(as_text=True)).get_data(as_text=True)
    assert "This version clears 16 values the one before gave" in blank
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    link = page.split('href="/deposits/sheet-version?', 2)[2].split('"', 1)[0]  # the older
    restored = client.get(f"/deposits/sheet-version?{link.replace('&amp;', '&')}")
    assert restored.status_code == 200 and restored.data == saved.read_bytes()
    assert "Sheet saved in NeLS" in upload_sheet(client, filled).get_data(as_text=True)
    nope = client.get(f"/deposits/sheet-version?path={FOLDER}&name=../../etc/passwd")
    assert nope.status_code == 404
    assert "/isa/" not in client.get(f"/browse/{FOLDER}/nels-metadata").get_data(as_text=True)
    assert client.get(f"/isa/{FOLDER}/nels-metadata").status_code == 400

    job_url, state = post_job(client, "/deposits/ena", server="test", dry_run="1")
    assert state["state"] == "done", state["message"]
    shown = client.get(job_url).get_data(as_text=True)
    assert "Nothing was sent" in shown and "2 sample" in shown
    assert d.webin_world.submissions == []

    job_url, state = post_job(client, "/deposits/ena", **webin(sandboxes))
    assert state["state"] == "done", state["message"]
    assert [s[2] for s in d.webin_world.submissions] == [True]
    shown = client.get(job_url).get_data(as_text=True)
    held = d.webin_world.held(d.account, "project")
    (project,) = [o.accession for o in held.values()]
    # the sheet's release date reached ENA as its hold date, and the page says so
    assert [o.hold_until for o in held.values()] == [embargo]
    assert f"private until {embargo} (the investigation&#39;s public release date)" in shown
    assert f'id="project">{project}<' in shown and "accepted" in shown
    assert f"<h1>Deposit {FOLDER} in ENA (test)</h1>" in shown  # a path, not nels://
    assert "TEST submission" in shown  # ENA's own INFO line, as the receipt says it
    runs = [o.accession for o in d.webin_world.held(d.account, "run").values()]
    assert len(runs) == 4 and all(r in shown for r in runs)  # 2 samples, 2 lanes
    assert len(list((d.webin_world.upload_root / d.account).rglob("*.fastq.gz"))) == 8

    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert project in page and "Nothing deposited" not in page
    for folder_page in (f"/browse/{FOLDER}", f"/isa/{FOLDER}"):  # the accession, on the folder
        said = client.get(folder_page).get_data(as_text=True).split('id="deposited">', 1)[1]
        assert said.split("</p>", 1)[0].count(project) == 1 and "(test server)" in said
    receipt = page.split('href="/deposits/receipt?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    raw = client.get(f"/deposits/receipt?{receipt}")
    assert etree.fromstring(raw.data).get("success") == "true"
    table = client.get(f"/deposits/accessions.tsv?path={FOLDER}").get_data(as_text=True)
    assert (
        "\tproject\t" in table and project in table and len(table.splitlines()) == 1 + 1 + 2 + 2 + 4
    )

    # the deposited bundle went back beside the data, downloadable from the page
    (kept,) = (project_dir / "nels-metadata").glob("isa-bundle-*.zip")
    link = page.split('href="/deposits/kept?', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    zipped = client.get(f"/deposits/kept?{link}")
    assert zipped.status_code == 200 and zipped.data == kept.read_bytes()
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as z:
        names = z.namelist()
        i_file = next(n for n in names if n.endswith("isa-tab/i_investigation.txt"))
        assert project in z.read(i_file).decode()  # the accessions are in it
        assert any("/deposits/receipts/" in n for n in names)
    assert client.get(f"/deposits/kept?path={FOLDER}&name=../sheet.tsv").status_code == 404

    # again: ENA already holds it all; a fresh export keeps the record
    job_url, state = post_job(client, "/deposits/ena", **webin(sandboxes))
    assert state["state"] == "done", state["message"]
    assert "already holds everything" in client.get(job_url).get_data(as_text=True)
    assert len(d.webin_world.submissions) == 1
    assert len(list((project_dir / "nels-metadata").glob("isa-bundle-*.zip"))) == 1  # nothing new
    # nothing left to send, and a wrong password: tried first, so said, not "done"
    _, state = post_job(client, "/deposits/ena", **webin(sandboxes, webin_password="not-it-9"))
    assert state["state"] == "failed" and "refused the login for" in state["message"]
    assert "not-it-9" not in state["message"] and len(d.webin_world.submissions) == 1

    # the password went nowhere: not the database, not a page
    engine = create_engine(database_url)
    with engine.connect() as c:
        rows = c.execute(text("SELECT subject, message, result FROM jobs")).all()
    engine.dispose()
    assert rows and not any(d.password in "".join(row) for row in rows)


def test_biostudies_and_seek_links_from_the_web(site):
    sandboxes, app, _ = site
    d = sandboxes.deposit
    client, _ = sign_in(app, sandboxes)
    connect_seek(client, sandboxes)
    upload_sheet(client, fill_sheet(client.get(f"/deposits/sheet?path={FOLDER}").get_data(True)))
    r = client.post(
        "/push",
        data={
            "csrf_token": csrf(client, f"/isa/{FOLDER}"),
            "path": FOLDER,
            "account": "1",
            "project": sandboxes.seek_project,
        },
    )
    assert wait(client, r.headers["Location"])["state"] == "done"
    seek = {"seek_account": "1", "seek_project": str(sandboxes.seek_project)}

    _, state = post_job(client, "/deposits/ena", **webin(sandboxes), **seek)
    assert state["state"] == "done", state["message"]
    job_url, state = post_job(client, "/deposits/biostudies", **biostudies(sandboxes), **seek)
    assert state["state"] == "done", state["message"]
    (accno,) = d.biostudies_world.studies
    shown = client.get(job_url).get_data(as_text=True)
    assert accno in shown and "created" in shown
    (project,) = [o.accession for o in d.webin_world.held(d.account, "project").values()]
    assert project in str(d.biostudies_world.studies[accno])  # the study cites ENA's project

    world = sandboxes.seek_world
    (inv,) = world.records["investigations"].values()
    labels = [x["label"] for x in inv.attributes["discussion_links"]]
    assert any(label.startswith("ENA project PRJEB") for label in labels)
    assert f"BioStudies {accno} (BioStudies test server)" in labels
    samples = world.records["samples"].values()
    assert sum(len(r.attributes.get("discussion_links") or []) for r in samples) == 4
    # each deposit's bundle, kept beside the data, has a SEEK data file linking to it
    project_dir = sandboxes.nels_world.root / "projects" / SEQ_PROJECT
    kept = sorted(f.name for f in (project_dir / "nels-metadata").glob("isa-bundle-*.zip"))
    files = [
        r for r in world.records["data_files"].values() if "deposited" in r.attributes["title"]
    ]
    blobs = sorted(b["url"] for r in files for b in r.blobs)
    assert len(kept) == 2 and blobs == [f"nels://{FOLDER}/nels-metadata/{name}" for name in kept]
    # the push used the folder's sheet from NeLS: SEEK says what ENA was told
    assert {r.attributes["attribute_map"]["organism"] for r in samples} == {"Salmo salar"}
    experiments = d.webin_world.held(d.account, "experiment").values()
    assert all(b"<LIBRARY_STRATEGY>RNA-Seq<" in o.xml for o in experiments) and experiments
    sent = [etree.fromstring(o.xml) for o in d.webin_world.held(d.account, "sample").values()]
    assert {x.findtext(".//SCIENTIFIC_NAME") for x in sent} == {"Salmo salar"}

    # a re-run updates the study under the same accession
    _, state = post_job(client, "/deposits/biostudies", **biostudies(sandboxes))
    assert state["state"] == "done" and list(d.biostudies_world.studies) == [accno]


def test_what_the_deposit_forms_refuse(site):
    sandboxes, app, _ = site
    d = sandboxes.deposit
    world = sandboxes.nels_world
    client, _ = sign_in(app, sandboxes)
    token = csrf(client, f"/deposit/{FOLDER}")

    def refused(url, **fields):
        r = client.post(url, data={"csrf_token": token, "path": FOLDER, **fields})
        assert r.status_code == 302 and r.headers["Location"].startswith("/deposit/")
        return client.get(r.headers["Location"]).get_data(as_text=True)

    assert "not offered here" in refused("/deposits/ena", **webin(sandboxes, server="production"))
    assert "Webin account" in refused("/deposits/ena", server="test", webin_account=d.account)
    assert "not a Webin submission account" in refused(
        "/deposits/ena", **webin(sandboxes, webin_account="alice@uib.no")
    )
    assert "is not a date" in refused("/deposits/ena", **webin(sandboxes, hold="next year"))
    assert "not an ENA checklist" in refused(
        "/deposits/ena", **webin(sandboxes, checklist="<script>")
    )
    bad_sheet = upload_sheet(client, "[Samples]\nstudy\tsample\ttaxon id\nx\tNoSuchSample\tabc\n")
    said = bad_sheet.get_data(as_text=True)
    assert "The sheet was not saved" in said
    assert "metadata.tsv, line 3, column" in said and "sheet.tsv" not in said  # the user's file
    empty = upload_sheet(client, "").get_data(as_text=True)
    assert "metadata.tsv: the sheet is empty" in empty
    nels_metadata = sandboxes.nels_world.root / "projects" / SEQ_PROJECT / "nels-metadata"
    assert not nels_metadata.exists()  # nothing saved by either
    no_csrf = client.post("/deposits/ena", data={"path": FOLDER, **webin(sandboxes)})
    assert no_csrf.status_code == 400

    # a wrong password: named, never shown
    upload_sheet(client, fill_sheet(client.get(f"/deposits/sheet?path={FOLDER}").get_data(True)))
    _, state = post_job(client, "/deposits/ena", **webin(sandboxes, webin_password="wrong-pw-1"))
    assert state["state"] == "failed" and d.account in state["message"]
    assert "wrong-pw-1" not in state["message"] and d.webin_world.submissions == []

    # hostile names find nothing
    assert client.get(f"/deposits/receipt?path={FOLDER}&name=../../sheet.tsv").status_code == 404
    assert client.get("/deposit/Projects/../../etc").status_code == 404

    # a read-only member sees the page but cannot deposit
    reader = sandboxes.add_user("reader", "Re Ader", "pw-reader")
    seq = next(p for p in world.projects.values() if p.name == SEQ_PROJECT)
    world.add_member(seq, reader, 4)
    other, _ = sign_in(app, sandboxes, "reader", "pw-reader")
    assert 'id="read-only"' in other.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    r = other.post(
        "/deposits/ena",
        data={"csrf_token": csrf(other, f"/deposit/{FOLDER}"), "path": FOLDER, **webin(sandboxes)},
    )
    assert r.status_code == 403

    # a sensitive project: the job refuses at once (the worker asks NeLS itself), and
    # the page offers no form once what NeLS said of the project is no longer reused
    seq.issensitive = True
    _, state = post_job(client, "/deposits/ena", **webin(sandboxes))
    assert state["state"] == "failed" and "flagged sensitive" in state["message"]
    time.sleep(KEEP["HOME_KEEP_SECONDS"] + 0.1)
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    assert 'id="refused"' in page and "ega.elixir.no" in page and 'id="ena-form"' not in page


def test_a_hold_date_ena_would_refuse_is_refused_by_the_form():
    from nels_core.deposit.embargo import MAX_HOLD
    from nels_web.deposit_jobs import EnaRequest

    config = {"ENA_SERVERS": {"test": "wwwdev"}, "BIOSTUDIES_SERVERS": {}}
    today = dt.date.today()
    last = today + MAX_HOLD
    past, far = today - dt.timedelta(days=1), last + dt.timedelta(days=1)
    for hold, said in (
        (past, f"The hold date given {past} has passed: ENA takes a hold date in the future."),
        (far, f"The hold date given {far}: ENA holds data for at most two years (until {last})."),
    ):
        with pytest.raises(ValueError) as e:  # a dry run too: ENA would refuse the date
            EnaRequest.from_form({"dry_run": "1", "hold": hold.isoformat()}, config)
        assert str(e.value) == said
    assert EnaRequest.from_form({"dry_run": "1", "hold": str(last)}, config).hold_until == last


def test_the_hold_date_is_checked_before_a_job_starts(site):
    from lxml import html

    from nels_core.deposit.embargo import MAX_HOLD

    sandboxes, app, database_url = site
    client, _ = sign_in(app, sandboxes)
    page = client.get(f"/deposit/{FOLDER}").get_data(as_text=True)
    (field,) = html.fromstring(page).xpath('//form[@id="ena-form"]//input[@name="hold"]')
    today = dt.date.today()
    assert field.get("type") == "date"
    assert field.get("min") == str(today + dt.timedelta(days=1))
    assert field.get("max") == str(today + MAX_HOLD)

    token = csrf(client, f"/deposit/{FOLDER}")
    for hold, said in (
        (today - dt.timedelta(days=30), "has passed: ENA takes a hold date in the future"),
        (today + MAX_HOLD + dt.timedelta(days=1), "ENA holds data for at most two years"),
    ):
        fields = {"csrf_token": token, "path": FOLDER, **webin(sandboxes, hold=str(hold))}
        r = client.post("/deposits/ena", data=fields)
        assert r.status_code == 302 and r.headers["Location"].startswith("/deposit/")
        shown = client.get(r.headers["Location"]).get_data(as_text=True)
        assert f"The hold date given {hold}" in shown and said in shown
    engine = create_engine(database_url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
    engine.dispose()
    assert sandboxes.deposit.webin_world.submissions == []


def test_a_folders_deposits_share_one_place(tmp_path):
    from nels_web.deposits import DepositFolder

    folder = DepositFolder.of(tmp_path, FOLDER)
    assert DepositFolder.of(tmp_path, FOLDER).root == folder.root  # shared by the members
    assert DepositFolder.of(tmp_path, f"{FOLDER}/x").root != folder.root
