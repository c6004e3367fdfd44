"""BioStudies: a PageTab study from an ISA bundle, its files uploaded and
submitted to the BioStudies stand-in, an S-BSST accession recorded and
written back; a re-run updates the same study; bad credentials, missing
files and sensitive projects refused."""

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from test_ena_xml import bundle

from nels_core.deposit.biostudies import (
    BioStudiesAuthError,
    BioStudiesClient,
    BioStudiesError,
    BioStudiesLogin,
)
from nels_core.deposit.biostudies_submit import release_date, submit_study
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.pagetab import page_tab
from nels_core.deposit.record import DepositRecord
from nels_sandbox.biostudies import BioStudiesWorld, create_app
from nels_sandbox.serving import Served, quiet

LOGIN, PASSWORD = "researcher@uib.no", "bst-pw-123"
RELEASE = dt.date(2027, 6, 1)


@pytest.fixture
def bst():
    quiet()
    world = BioStudiesWorld({LOGIN: PASSWORD})
    served = Served(create_app(world)).start()
    served.world = world
    served.api = served.url + "/biostudies/submissions/api"
    yield served
    served.stop()


def client(bst, password=PASSWORD):
    return BioStudiesClient(BioStudiesLogin(LOGIN, password), server=bst.api)


def test_a_study_is_created_then_updated_and_written_back(tmp_path, bst):
    b = bundle(tmp_path)
    deposit = read_bundle(b)
    record = DepositRecord.load(b, "biostudies", bst.api)
    ena = {"project": {deposit.identifier: {"accession": "PRJEB90001"}}}
    accno = submit_study(b, deposit, client(bst), record, RELEASE, ena=ena)
    assert accno.startswith("S-BSST")
    stored = bst.world.studies[accno]
    files = [f["path"] for f in stored["section"]["files"]]
    assert f"nels-bundle/{deposit.identifier}/isa.json" in files
    assert any(p.endswith("i_investigation.txt") for p in files)
    assert stored["section"]["links"][0]["url"] == "PRJEB90001"
    title = {a["name"]: a["value"] for a in stored["attributes"]}
    assert title["ReleaseDate"] == "2027-06-01"
    assert f"Comment[BioStudies]\t{accno}" in (b / "isa-tab" / "i_investigation.txt").read_text()
    saved = DepositRecord.load(b, "biostudies", bst.api)
    assert saved.accession("study", deposit.identifier) == accno
    assert PASSWORD not in saved.path.read_text()
    receipt = json.loads(
        (b / "deposits" / "receipts" / saved.submissions[0]["receipt"]).read_text()
    )
    assert receipt["accno"] == accno
    # again: the same study, updated, not a second one
    assert submit_study(b, deposit, client(bst), saved, RELEASE) == accno
    assert len(bst.world.studies) == 1


def test_the_stand_in_refuses_what_biostudies_refuses(tmp_path, bst):
    b = bundle(tmp_path)
    deposit = read_bundle(b)
    with pytest.raises(BioStudiesAuthError, match="Invalid email address or password") as e:
        client(bst, password="wrong-one")
    assert "wrong-one" not in str(e.value)
    c = client(bst)
    page = page_tab(deposit, b, "never-uploaded", RELEASE)
    with pytest.raises(BioStudiesError, match="File not uploaded: never-uploaded/isa.json"):
        c.submit(page)
    bad = {
        **page,
        "attributes": [{"name": "Title", "value": "x"}, {"name": "ReleaseDate", "value": "soon"}],
    }
    bad["section"] = {**page["section"], "files": []}
    with pytest.raises(BioStudiesError, match="Invalid release date 'soon'"):
        c.submit(bad)
    with pytest.raises(BioStudiesError, match="does not exist"):
        c.submit({**bad, "accno": "S-BSST999", "attributes": page["attributes"]})
    assert bst.world.studies == {}


def test_release_date_comes_from_the_bundle_or_is_asked_for(tmp_path):
    deposit = read_bundle(bundle(tmp_path))
    assert release_date(replace(deposit, release_date="2027-01-31"), None) == dt.date(2027, 1, 31)
    assert release_date(deposit, RELEASE) == RELEASE
    with pytest.raises(ValueError, match="--release"):
        release_date(replace(deposit, release_date=""), None)


def test_cli_biostudies_submit(tmp_path, bst):
    b = bundle(tmp_path)
    env = {**os.environ, "BIOSTUDIES_LOGIN": LOGIN, "BIOSTUDIES_PASSWORD": PASSWORD}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "nels_cli", "biostudies", "submit", str(b), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    dry = cli("--dry-run", "--release", "2027-06-01")
    assert dry.returncode == 0 and json.loads(dry.stdout)["type"] == "submission"
    assert bst.world.studies == {}
    r = cli("--server-url", bst.api, "--release", "2027-06-01")
    assert r.returncode == 0, r.stderr
    assert "S-BSST" in r.stdout and "created" in r.stdout and PASSWORD not in r.stdout + r.stderr
    report = json.loads((b / "export-report.json").read_text())
    report["nels_project"] = {"id": 1, "name": "Sensitive_Cohort", "sensitive": True}
    (b / "export-report.json").write_text(json.dumps(report))
    refused = cli("--server-url", bst.api, "--release", "2027-06-01")
    assert refused.returncode != 0 and "flagged sensitive" in refused.stderr
    assert len(bst.world.studies) == 1


def test_cli_links_the_study_on_the_pushed_seek_investigation(tmp_path, bst, seek_server):
    from seek_plugin.client import SeekClient
    from seek_plugin.db import Database

    b = bundle(tmp_path)
    source = read_bundle(b).location
    project_id = str(seek_server.projects["P1"].id)
    db = f"sqlite:///{tmp_path / 'seek.db'}"
    env = {
        **os.environ,
        "BIOSTUDIES_LOGIN": LOGIN,
        "BIOSTUDIES_PASSWORD": PASSWORD,
        "SEEK_TOKEN": "token-alice",
    }
    seek = ["--seek", seek_server.url, "--db", db]

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "nels_cli", *args], capture_output=True, text=True, env=env
        )

    pushed = cli("seek", "push", source, *seek, "--project", project_id)
    assert pushed.returncode == 0, pushed.stderr
    common = ["biostudies", "submit", str(b), "--server-url", bst.api, "--release", "2027-06-01"]
    r = cli(*common, *seek, "--seek-project", project_id)
    assert r.returncode == 0, r.stderr
    assert "SEEK records linked to BioStudies: 1 investigation" in r.stdout
    accno = next(iter(bst.world.studies))
    link = Database(db).links(seek_server.url, project_id, source)["investigation"]
    shown = SeekClient(seek_server.url, token="token-alice").investigations.get(link.seek_id)
    assert {"label": f"BioStudies {accno} (BioStudies test server)",
            "url": f"https://wwwdev.ebi.ac.uk/biostudies/studies/{accno}"} in [
        {k: x[k] for k in ("label", "url")} for x in shown.attributes["discussion_links"]
    ]  # fmt: skip
    again = cli(*common, *seek, "--seek-project", project_id)
    assert again.returncode == 0 and "already carry the accessions" in again.stderr
    assert "token-alice" not in r.stdout + r.stderr + again.stdout + again.stderr
