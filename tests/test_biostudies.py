"""BioStudies: a PageTab study from an ISA bundle, its files uploaded and
submitted to the BioStudies stand-in, an S-BSST accession recorded and
written back; the sheet's contacts as Author and Organization sections; a
re-run updates the same study, or sends nothing when nothing changed; ENA's
accessions linked whatever ENA server gave them; bad credentials, missing
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
from nels_core.deposit.ena_xml import alias
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.pagetab import page_tab
from nels_core.deposit.record import DepositRecord, now_iso
from nels_core.isa.export import export_bundle
from nels_core.storage.local import LocalStorage
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


# [Contacts] rows: study, last name, first name, email, affiliation, roles, orcid
HANSEN = ("", "Hansen", "Kari", "kari.hansen@uib.no", "University of Bergen",
          "principal investigator", "https://orcid.org/0000-0002-1825-0097")  # fmt: skip
NILSEN = ("NorSeq/run1", "Nilsen", "Ola", "ola.nilsen@uib.no", "University of Bergen", "", "")
BERG = ("NorSeq/run1", "Berg", "Ingrid", "", "NTNU", "", "")
CONTACTS_HEADER = "study\tlast name\tfirst name\temail\taffiliation\troles\torcid"


def export_with_contacts(tmp_path, *contacts):
    """The test bundle (made by ``bundle``) exported again from its metadata
    sheet, with ``contacts`` as the sheet's [Contacts] rows."""
    sheet = tmp_path / "sheet.tsv"
    lines = sheet.read_text().splitlines()
    at = lines.index(CONTACTS_HEADER) + 1
    end = at
    while end < len(lines) and lines[end].strip():
        end += 1
    lines[at:end] = ["\t".join(c) for c in contacts]
    sheet.write_text("\n".join(lines) + "\n")
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    out = tmp_path / "bundle"
    export_bundle(LocalStorage(root), "", str(root), root.name, out, metadata=sheet)
    return out


def sections(study: dict, kind: str) -> list[dict]:
    return [x for x in study["section"].get("subsections", []) if x["type"] == kind]


def attrs(section: dict) -> dict:
    return {a["name"]: a["value"] for a in section["attributes"]}


def test_contacts_become_authors_of_one_shared_organisation(tmp_path, bst):
    bundle(tmp_path)
    b = export_with_contacts(tmp_path, HANSEN, NILSEN)
    deposit = read_bundle(b)
    assert [(c.name, c.study) for c in deposit.contacts] == [
        ("Kari Hansen", ""),
        ("Ola Nilsen", "231107_A01447_0123_AHXYZ2DRX3"),
    ]
    record = DepositRecord.load(b, "biostudies", bst.api)
    done = submit_study(b, deposit, client(bst), record, RELEASE)
    assert done.action == "created"
    stored = bst.world.studies[done.accno]
    authors = sections(stored, "Author")
    (organisation,) = sections(stored, "Organization")
    assert organisation["accno"] and attrs(organisation) == {"Name": "University of Bergen"}
    assert [attrs(a) for a in authors] == [
        {
            "Name": "Kari Hansen",
            "E-mail": "kari.hansen@uib.no",
            "ORCID": "0000-0002-1825-0097",
            "Role": "principal investigator",
            "affiliation": organisation["accno"],
        },
        {"Name": "Ola Nilsen", "E-mail": "ola.nilsen@uib.no", "affiliation": organisation["accno"]},
    ]
    # the affiliation is a reference to the Organization section, as BioStudies reads it
    for a in authors:
        (affiliation,) = [x for x in a["attributes"] if x["name"] == "affiliation"]
        assert affiliation["reference"] is True
    # a contact without an affiliation: an author, and no organisation for it
    page = page_tab(
        replace(deposit, contacts=[replace(deposit.contacts[0], affiliation="")]),
        b, "f", RELEASE,
    )  # fmt: skip
    assert [x["type"] for x in page["section"]["subsections"]] == ["Author"]
    assert "affiliation" not in attrs(page["section"]["subsections"][0])


def test_a_study_is_created_then_updated_and_written_back(tmp_path, bst):
    b = bundle(tmp_path)
    deposit = read_bundle(b)
    record = DepositRecord.load(b, "biostudies", bst.api)
    ena = {"project": {deposit.identifier: {"accession": "PRJEB90001"}}}
    done = submit_study(b, deposit, client(bst), record, RELEASE, ena=ena)
    accno = done.accno
    assert accno.startswith("S-BSST") and done.action == "created"
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
    # again, without the ENA link: the same study, updated, not a second one
    again = submit_study(b, deposit, client(bst), saved, RELEASE)
    assert (again.accno, again.action) == (accno, "updated")
    assert len(bst.world.studies) == 1 and "links" not in bst.world.studies[accno]["section"]


def biostudies_cli(b, *args, env=None):
    if env is None:  # the ENA record linked is the test's to choose
        env = {**os.environ, "BIOSTUDIES_LOGIN": LOGIN, "BIOSTUDIES_PASSWORD": PASSWORD}
        env.pop("NELS_ENA_WEBIN_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", "biostudies", "submit", str(b), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_rerun_with_nothing_changed_sends_nothing(tmp_path, bst):
    bundle(tmp_path)
    b = export_with_contacts(tmp_path, HANSEN, NILSEN)
    args = ("--server-url", bst.api, "--release", "2027-06-01")
    first = biostudies_cli(b, *args)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    (accno,) = bst.world.studies
    held, sessions = bst.world.studies[accno], len(bst.world.sessions)

    # nothing changed: nothing sent, not even the login, and it says so
    again = biostudies_cli(b, *args)
    assert again.returncode == 0, again.stderr
    assert f"BioStudies study {accno} unchanged, nothing sent" in again.stdout
    assert bst.world.studies[accno] is held and len(bst.world.sessions) == sessions
    record = DepositRecord.load(b, "biostudies", bst.api)
    assert len(record.submissions) == 1

    # the sheet names another contact: the study is updated, with a second organisation
    export_with_contacts(tmp_path, HANSEN, NILSEN, BERG)
    changed = biostudies_cli(b, *args)
    assert changed.returncode == 0, changed.stderr
    assert f"BioStudies study {accno} updated" in changed.stdout
    study = bst.world.studies[accno]
    assert study is not held and list(bst.world.studies) == [accno]
    assert [attrs(a)["Name"] for a in sections(study, "Author")] == [
        "Kari Hansen", "Ola Nilsen", "Ingrid Berg"
    ]  # fmt: skip
    assert [attrs(o)["Name"] for o in sections(study, "Organization")] == [
        "University of Bergen", "NTNU"
    ]  # fmt: skip
    # and unchanged again after it
    last = biostudies_cli(b, *args)
    assert "unchanged, nothing sent" in last.stdout and bst.world.studies[accno] is study
    # a new release date is a change too
    later = biostudies_cli(b, "--server-url", bst.api, "--release", "2027-07-01")
    assert f"{accno} updated" in later.stdout
    assert attrs(bst.world.studies[accno])["ReleaseDate"] == "2027-07-01"


def ena_record_of(b, server: str, first: int = 900000, date: str = "") -> list[str]:
    """An ENA deposit record for the bundle, as a deposit on ``server`` leaves it
    (on ``date``): the investigation's project and every run accessioned, the runs
    from ERR``first`` on. The project's accession and the runs', in the bundle's order."""
    deposit = read_bundle(b)
    date = date or now_iso()
    record = DepositRecord.load(b, "ena", server)
    project = f"PRJEB{first}"
    record.objects["project"] = {deposit.identifier: {"accession": project, "date": date}}
    runs = [(s.study, run.name) for s in deposit.samples for run in s.runs]
    record.objects["run"] = {
        alias(deposit.identifier, study, name): {"accession": f"ERR{first + n}", "date": date}
        for n, (study, name) in enumerate(runs)
    }
    record.submissions.append({"accession": "ERA1", "date": date, "receipt": "r.xml"})
    record.save()
    return [project, *(f"ERR{first + n}" for n in range(len(runs)))]


def test_ena_accessions_are_linked_whatever_enas_server_is_called(tmp_path, bst):
    b = bundle(tmp_path)
    stand_in = "http://127.0.0.1:8089/ena/submit"  # as given to ena submit --webin-url
    earlier = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    accessions = ena_record_of(b, stand_in, date=earlier)
    r = biostudies_cli(b, "--server-url", bst.api, "--release", "2027-06-01")
    assert r.returncode == 0, r.stderr
    (study,) = bst.world.studies.values()
    links = study["section"]["links"]
    assert [x["url"] for x in links] == accessions and len(accessions) == 1 + 8
    assert {attrs(x)["Type"] for x in links} == {"ENA"}
    assert attrs(links[0])["Description"] == "ENA project"

    def linked(*args) -> list[str]:
        dry = biostudies_cli(b, "--dry-run", "--release", "2027-06-01", *args)
        assert dry.returncode == 0, dry.stderr
        return [x["url"] for x in json.loads(dry.stdout)["section"]["links"]]

    # records of two ENA stand-ins: the one that submitted last, or the one named
    other = ena_record_of(b, "http://127.0.0.1:8090/ena/submit", first=800000)
    assert linked() == other
    assert linked("--ena-server-url", stand_in) == accessions
    env = {**os.environ, "NELS_ENA_WEBIN_URL": stand_in}  # as the sandbox's exports set it
    dry = biostudies_cli(b, "--dry-run", "--release", "2027-06-01", env=env)
    assert [x["url"] for x in json.loads(dry.stdout)["section"]["links"]] == accessions

    # ENA's own servers: production's as BioStudies' ENA links, the test server's at its browser
    deposit = read_bundle(b)
    ena = {"project": {deposit.identifier: {"accession": "PRJEB1"}}}

    def link(server: str) -> dict:
        (only,) = page_tab(deposit, b, "f", RELEASE, ena=ena, ena_server=server)["section"]["links"]
        return only

    assert link("production")["url"] == "PRJEB1" and attrs(link("production"))["Type"] == "ENA"
    assert link("test")["url"] == "https://wwwdev.ebi.ac.uk/ena/browser/view/PRJEB1"


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
