"""One metadata truth per folder, in a real browser, on the SFTP backend (the
web app's default: a real sshd serves the NeLS tree): the sheet saved in
NeLS from the deposit page, push, an edit in SEEK, a pull that writes it
back, a conflict chosen on the page, a deposit whose bundle is kept beside
the data and downloaded from NeLS, and re-runs that send nothing. At the
end SEEK, the kept bundle and ENA say the same of every sample."""

import io
import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from test_ena_xml import fill_sheet
from test_web_browser import sign_in

from nels_cli.demo import SEQ_PROJECT
from nels_sandbox.web_site import (
    demo_web_config,
    serve_demo,
    start_deposit_sandboxes,
    start_job_worker,
    start_sandboxes,
)
from seek_plugin.client import SeekClient

SAMPLES = ("Liver-1", "Gill-1")
FOLDER = f"Projects/{SEQ_PROJECT}"


@pytest.fixture
def site(tmp_path, specs, sshd_server):
    from nels_web import create_app

    sshd_server.revoke_all()
    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES, sshd=sshd_server)
    start_deposit_sandboxes(sandboxes, specs / "ena")
    config = demo_web_config(sandboxes)
    assert config["NELS_STORAGE"] == "sftp"
    app = create_app(None, config)
    start_job_worker(app, sandboxes)
    web = serve_demo(app, sandboxes)
    yield sandboxes, web
    web.stop()
    sandboxes.stop()


def seek_sample(sandboxes, name: str):
    return next(
        s
        for s in sandboxes.seek_world.records["samples"].values()
        if s.attributes["attribute_map"]["sample name"] == name
    )


def edit_in_seek(sandboxes, name: str, **values) -> None:
    """A researcher's edit on SEEK's sample page, through SEEK's API."""
    record = seek_sample(sandboxes, name)
    changed = {**record.attributes["attribute_map"], **values}
    client = SeekClient(sandboxes.seek_url, token=sandboxes.seek_token)
    client.samples.update(record.id, {"attribute_map": changed})


def upload_sheet(page, path: Path) -> None:
    page.set_input_files("#sheet-form input[type=file]", str(path))
    page.click("#sheet-form button")
    page.wait_for_selector(".flash")


def push(page, web, project: str | None = None) -> str:
    page.goto(f"{web.url}/isa/{FOLDER}")
    if project is not None:  # else the number remembered from the last push of the folder
        page.fill("input[name=project]", project)
    page.click("#push-form button")
    page.wait_for_selector("#state:text('done')")
    return page.inner_text("#summary")


def test_sheet_seek_and_ena_agree_through_the_browser(site, page, tmp_path):
    sandboxes, web = site
    d = sandboxes.deposit
    metadata = sandboxes.nels_world.root / "projects" / SEQ_PROJECT / "nels-metadata"
    sign_in(page, web, sandboxes)

    # the sheet, downloaded pre-filled, filled in and saved in NeLS over SFTP
    page.goto(f"{web.url}/deposit/{FOLDER}")
    page.wait_for_selector("#sheet-none")
    with page.expect_download() as download:
        page.click("#sheet-tsv")
    filled = tmp_path / "filled.tsv"
    filled.write_text(fill_sheet(Path(download.value.path()).read_text()))
    wrong = tmp_path / "wrong.tsv"  # two problems: each named, on its own line
    wrong.write_text(filled.read_text().replace("\tLiver-1\t", "\tLiver-9\t").replace(
        "8030", "eighty"))  # fmt: skip
    upload_sheet(page, wrong)
    said = page.inner_text(".flash.error").splitlines()
    assert said[0] == "The sheet was not saved: 2 problems in the metadata sheet:"
    assert len(said) == 3 and all(line.startswith("- wrong.tsv, line ") for line in said[1:])
    assert any("no sample 'Liver-9'" in line for line in said)
    assert any("'eighty' is not an NCBI taxon id" in line for line in said)
    assert not metadata.exists()  # nothing written
    upload_sheet(page, filled)
    assert "Sheet saved in NeLS" in page.inner_text(".flash.ok")
    assert "the folder's first" in page.inner_text(".flash.ok")
    (first,) = metadata.glob("sheet-*.tsv")
    assert first.name in page.inner_text("#sheet-current")

    page.goto(f"{web.url}/seek?next=/isa/{FOLDER}")
    page.select_option("select[name=seek_url]", sandboxes.seek_url)
    page.fill("input[name=token]", sandboxes.seek_token)
    page.click("#connect-form button")
    assert "created" in push(page, web, sandboxes.seek_project)
    assert seek_sample(sandboxes, "Liver-1").attributes["attribute_map"]["organism"] == (
        "Salmo salar"  # the folder's sheet reached SEEK
    )

    # an edit in SEEK comes back into the folder's sheet
    edit_in_seek(
        sandboxes, "Liver-1", organism="Lepeophtheirus salmonis", **{"ncbi taxon": "72036"}
    )
    page.click("#pull-form button")
    page.wait_for_selector("#sheet-saved")
    changes = page.inner_text("#sheet-changes")
    assert "sample 'Liver-1', organism: 'Lepeophtheirus salmonis'" in changes
    assert "sample 'Liver-1', taxon id: '72036'" in changes
    assert len(list(metadata.glob("sheet-*.tsv"))) == 2
    investigation = next(
        f"{sandboxes.seek_url}/investigations/{i}"
        for i in sandboxes.seek_world.records["investigations"]
    )

    # the same field changed in SEEK and in the sheet: named, then chosen on the page
    edit_in_seek(sandboxes, "Gill-1", **{"collection date": "2023-04-01"})
    page.goto(f"{web.url}/deposit/{FOLDER}")
    with page.expect_download() as download:
        page.click("#sheet-tsv")
    current = Path(download.value.path()).read_text()
    assert "Lepeophtheirus salmonis" in current  # SEEK's edit, from the sheet in NeLS
    mine = tmp_path / "mine.tsv"
    mine.write_text(
        "\n".join(
            line.replace("2023-06-01", "2023-05-01") if "\tGill-1\t" in line else line
            for line in current.splitlines()
        )
        + "\n"
    )
    upload_sheet(page, mine)
    assert "1 change" in page.inner_text(".flash.ok")
    before = sorted(metadata.glob("sheet-*.tsv"))
    page.goto(f"{web.url}/seek")
    page.fill("#pull-form input[name=investigation]", investigation)
    page.click("#pull-form button")
    page.wait_for_selector("#conflicts")
    assert (
        "sample 'Gill-1', collection date: the sheet says '2023-05-01', SEEK '2023-04-01'"
        in page.inner_text("#conflicts")
    )
    assert "both changed 1 field since the push" in page.inner_text("#conflicts-said")
    assert page.inner_text("#waiting") == "waiting for your choice"
    conflict_page = page.url
    page.goto(f"{web.url}/jobs")
    assert "waiting for your choice" in page.inner_text("#jobs")
    page.goto(conflict_page)
    assert sorted(metadata.glob("sheet-*.tsv")) == before  # nothing written yet
    page.click("#take-seek button")
    page.wait_for_selector("#sheet-saved")
    assert "sample 'Gill-1', collection date: '2023-04-01'" in page.inner_text("#sheet-changes")

    # push again, then once more: the second sends nothing
    push(page, web)
    again = push(page, web)
    assert "created" not in again and "updated" not in again and "unchanged" in again

    # deposit: ENA gets what SEEK says; the bundle is kept beside the data
    page.goto(f"{web.url}/deposit/{FOLDER}")
    page.fill("#ena-form input[name=webin_account]", d.account)
    page.fill("#ena-form input[name=webin_password]", d.password)
    page.click("#ena-form button")
    page.wait_for_selector("#state:text('done')")
    assert "is kept in NeLS beside the data" in page.inner_text("#kept-said")
    assert "--hold" not in page.content()  # the web form's words, not the command line's
    held = d.webin_world.held(d.account, "sample").values()
    sent = {o.alias.rsplit(":", 1)[-1]: etree.fromstring(o.xml) for o in held}
    # the sheets' folder is not a folder to describe: its page says where they are shown
    page.goto(f"{web.url}/browse/{FOLDER}/nels-metadata")
    assert page.locator("#preview").count() == 0 and page.is_visible("#metadata-folder")
    page.goto(f"{web.url}/deposit/{FOLDER}")
    with page.expect_download() as download:
        page.click("#kept a")
    kept = Path(download.value.path()).read_bytes()
    (on_nels,) = metadata.glob("isa-bundle-*.zip")
    assert kept == on_nels.read_bytes()
    with zipfile.ZipFile(io.BytesIO(kept)) as z:
        doc = json.loads(z.read(next(n for n in z.namelist() if n.endswith("/isa.json"))))
    sources = {s["name"]: s for st in doc["studies"] for s in st["materials"]["sources"]}
    for name in SAMPLES:
        seek = seek_sample(sandboxes, name).attributes["attribute_map"]
        (xml,) = [x for alias, x in sent.items() if alias.endswith(name)]
        isa_organism = sources[name]["characteristics"][0]["value"]["annotationValue"]
        ena_date = next(
            a.findtext("VALUE")
            for a in xml.iter("SAMPLE_ATTRIBUTE")
            if a.findtext("TAG") == "collection date"
        )
        assert seek["organism"] == isa_organism == xml.findtext(".//SCIENTIFIC_NAME"), name
        assert seek["collection date"] == ena_date, name
    assert seek_sample(sandboxes, "Gill-1").attributes["attribute_map"]["collection date"] == (
        "2023-04-01"
    )

    # a second deposit: ENA holds it all, nothing sent, no second kept bundle
    page.fill("#ena-form input[name=webin_account]", d.account)
    page.fill("#ena-form input[name=webin_password]", d.password)
    page.click("#ena-form button")
    page.wait_for_selector("#state:text('done')")
    assert "already holds everything" in page.content()
    assert len(d.webin_world.submissions) == 1
    assert len(list(metadata.glob("isa-bundle-*.zip"))) == 1
