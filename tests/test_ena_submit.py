"""Deposit in ENA against the Webin sandbox (Flask, checked against ENA's
schemas) and a real FTPS upload area: accessions recorded and written back,
re-runs idempotent, a lost answer settled without a duplicate, each of the
sandbox's rules met and broken, and sensitive projects refused."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import need
from lxml import etree
from test_ena_xml import bundle

from nels_core.deposit.ena_submit import DepositRefused, submit
from nels_core.deposit.ena_xml import prepare, submission
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.receipt import parse_receipt
from nels_core.deposit.record import DepositRecord
from nels_core.deposit.rules import SensitiveDataError, check_public
from nels_core.deposit.upload import UploadArea, upload
from nels_core.deposit.webin import AnswerLost, WebinAccount, WebinAuthError, WebinClient
from nels_core.deposit.writeback import write_accessions
from nels_core.deposit.xsd import EnaSchemas
from nels_core.isa.validate import validate_bundle
from nels_core.storage.local import LocalStorage
from nels_sandbox.serving import Served, quiet
from nels_sandbox.webin import WebinWorld, create_app

ACCOUNT, PASSWORD = "Webin-40123", "s3cret-webin-pw"
FORMATS = {
    "project": r"PRJEB\d{5,}",
    "sample": r"ERS\d{7,}",
    "experiment": r"ERX\d{7,}",
    "run": r"ERR\d{7,}",
}


@pytest.fixture
def schemas(specs):
    return EnaSchemas(specs / "ena")


@pytest.fixture
def ena(tmp_path, schemas):
    """The Webin sandbox and its upload area, a real FTPS server on the same folder."""
    need("pyftpdlib", "sandbox")
    from nels_sandbox.ftp import UploadArea as FtpArea

    quiet()
    root = tmp_path / "upload-area"
    ftp = FtpArea(root, {ACCOUNT: PASSWORD}).start()
    world = WebinWorld({ACCOUNT: PASSWORD}, upload_root=root)
    served = Served(create_app(world, schemas)).start()
    served.world, served.ftp = world, ftp
    served.webin = served.url + "/ena/submit"  # as ENA's: https://wwwdev.ebi.ac.uk/ena/submit
    yield served
    served.stop()
    ftp.stop()


def client(ena, api="v1", password=PASSWORD, timeout=30.0):
    return WebinClient(WebinAccount(ACCOUNT, password), server=ena.webin, api=api, timeout=timeout)


def uploader(ena, b):
    area = UploadArea(ena.ftp.host, ena.ftp.port, ACCOUNT, PASSWORD, cafile=str(ena.ftp.cert))
    deposit = read_bundle(b)
    return lambda files: upload(LocalStorage(deposit.location), "", files, area)


def deposit_once(ena, b, schemas, record=None, **kw):
    deposit = read_bundle(b)
    prepared = prepare(deposit, schemas=schemas)
    record = record or DepositRecord.load(b, "ena", ena.webin)
    kw.setdefault("upload_files", uploader(ena, b))
    outcome = submit(
        prepared, record, kw.pop("client", None) or client(ena), deposit.identifier, wait=0, **kw
    )
    return deposit, record, outcome


def test_a_deposit_is_accessioned_recorded_and_written_into_the_bundle(
    tmp_path, ena, schemas, specs
):
    b = bundle(tmp_path)
    deposit, record, outcome = deposit_once(ena, b, schemas)
    ((stored, receipt),) = outcome.receipts
    assert receipt.success and receipt.is_test and receipt.actions == ["ADD"]
    # the receipt as ENA sent it, kept byte for byte, valid against SRA.receipt.xsd
    raw = open(stored, "rb").read()
    assert schemas.load("receipt").validate(etree.fromstring(raw))
    n_samples = len(deposit.samples)
    n_runs = sum(len(s.runs) for s in deposit.samples)
    counts = {k: len(v) for k, v in record.objects.items()}
    assert counts == {"project": 1, "sample": n_samples, "experiment": n_samples, "run": n_runs}
    for kind, entries in record.objects.items():
        for entry in entries.values():
            assert re.fullmatch(FORMATS[kind], entry["accession"])
    for entry in record.objects["sample"].values():
        assert re.fullmatch(r"SAMEA\d+", entry["ext_ids"]["biosample"])
    assert record.pending is None
    saved = json.loads(record.path.read_text())
    assert saved["account"] == ACCOUNT and PASSWORD not in record.path.read_text()
    # the reads went through the FTPS server and match the manifest
    assert len(list((tmp_path / "upload-area" / ACCOUNT).rglob("*.fastq.gz"))) == 2 * n_runs

    set_values = write_accessions(b, deposit.identifier, record.objects)
    # cells: project and study; sample and BioSample per sample; experiment and run
    # per assay row (one row per read file, two per paired run)
    assert set_values == 2 + 2 * n_samples + 2 * (2 * n_runs)
    tab = b / "isa-tab"
    investigation = (tab / "i_investigation.txt").read_text()
    project = record.objects["project"][deposit.identifier]
    assert f"Comment[ENA project]\t{project['accession']}" in investigation
    study_table = next(tab.glob("s_*.txt")).read_text().splitlines()
    header = study_table[0].split("\t")
    ers = {row.split("\t")[header.index("Comment[ENA sample]")] for row in study_table[1:]}
    assert ers == {e["accession"] for e in record.objects["sample"].values()}
    assay = next(tab.glob("a_*.txt")).read_text().splitlines()
    a_header = assay[0].split("\t")
    assert a_header.index("Comment[ENA run]") == a_header.index("Assay Name") + 1
    runs = {row.split("\t")[a_header.index("Comment[ENA run]")] for row in assay[1:]}
    assert runs == {e["accession"] for e in record.objects["run"].values()}
    doc = json.loads((b / "isa.json").read_text())
    comments = {c["name"]: c["value"] for c in doc["comments"]}
    assert comments["ENA project"] == project["accession"]
    # the bundle still reads as a deposit and still validates after the write-back
    assert len(read_bundle(b).samples) == n_samples
    # isatools is the 'isa' extra: a skip without it (a failure on CI, see
    # tests/conftest.py); anything isatools raises, its import included, fails
    need("isatools", "isa")
    findings = validate_bundle(b)
    assert [f for f in findings if f.level == "error"] == []
    # a second write-back changes nothing
    assert write_accessions(b, deposit.identifier, record.objects) == 0


def test_a_rerun_sends_nothing_and_a_change_goes_as_modify(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    deposit, record, _ = deposit_once(ena, b, schemas)
    before = {k: replace(v) for k, v in ena.world.held(ACCOUNT, "sample").items()}
    _, again, outcome = deposit_once(ena, b, schemas)
    assert outcome.plan.empty and outcome.receipts == []
    assert len(ena.world.submissions) == 1
    # one sample's collection date corrected: one SAMPLE goes as MODIFY, same accession
    changed = read_bundle(b)
    first = changed.samples[0]
    first.attributes["collection date"] = "2023-06-02"
    prepared = prepare(changed, schemas=schemas)
    outcome = submit(prepared, again, client(ena), changed.identifier, wait=0)
    assert outcome.plan.count("modify") == {"sample": 1} and outcome.plan.count("add") == {}
    ((_, receipt),) = outcome.receipts
    assert receipt.actions == ["MODIFY"]
    alias = f"{changed.identifier}:{first.study}:{first.name}"
    held = ena.world.held(ACCOUNT, "sample")
    assert held[alias].accession == before[alias].accession
    assert b"2023-06-02" in held[alias].xml
    assert len(held) == len(before)


def test_an_answer_lost_after_acceptance_is_settled_without_a_duplicate(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    ena.world.stall_once = 3.0  # ENA accepts, the answer arrives after the client gave up
    deposit, record, outcome = deposit_once(ena, b, schemas, client=client(ena, timeout=1.0))
    accepted = [s for s in ena.world.submissions if s[2]]
    assert len(accepted) == 1  # sent once; the receipt came from a RECEIPT lookup
    assert len(ena.world.held(ACCOUNT, "sample")) == len(deposit.samples)
    ((stored, receipt),) = outcome.receipts
    assert receipt.success and record.pending is None
    assert len(record.objects["sample"]) == len(deposit.samples)


class DiesAfterSending(WebinClient):
    """The process is killed once the submission left: no answer is ever read."""

    calls = 0

    def submit(self, documents):
        DiesAfterSending.calls += 1
        if DiesAfterSending.calls == 1:
            super().submit(documents)
        raise AnswerLost("killed")


def test_a_run_killed_after_sending_leaves_it_pending_and_the_next_run_settles_it(
    tmp_path, ena, schemas
):
    b = bundle(tmp_path)
    dying = DiesAfterSending(WebinAccount(ACCOUNT, PASSWORD), server=ena.webin)
    with pytest.raises(AnswerLost, match="stays pending"):
        deposit_once(ena, b, schemas, client=dying, tries=2)
    pending = DepositRecord.load(b, "ena", ena.webin)
    assert pending.pending and not pending.objects  # known only as "ask ENA"
    deposit, record, outcome = deposit_once(ena, b, schemas)
    assert outcome.resolved_pending == pending.pending["name"]
    assert outcome.plan.empty  # everything was in the lost submission
    assert len([s for s in ena.world.submissions if s[2]]) == 1
    assert len(record.objects["run"]) == sum(len(s.runs) for s in deposit.samples)


def test_a_submission_ena_never_got_is_sent_again(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    record = DepositRecord.load(b, "ena", ena.webin)
    record.pending = {"name": "never-arrived", "action": "ADD", "digests": {}}
    record.save()
    deposit, record, outcome = deposit_once(ena, b, schemas)
    assert outcome.resolved_pending == "never-arrived" and len(outcome.receipts) == 1
    assert record.pending is None and len(record.objects["sample"]) == len(deposit.samples)


def test_v2_submits_the_same_deposit(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    deposit, record, outcome = deposit_once(ena, b, schemas, client=client(ena, api="v2"))
    assert outcome.receipts[0][1].success
    assert len(record.objects["experiment"]) == len(deposit.samples)


# --- the sandbox's rules, each broken ------------------------------------------------


def documents(b, schemas, name="sub-1", action="ADD", hold=None, **changes):
    prepared = prepare(read_bundle(b), schemas=schemas)
    docs = dict(prepared.documents)
    docs["submission"] = submission("x", action, hold, name=name)
    for kind, edit in changes.items():
        docs[kind] = edit(docs[kind])
    return docs


def errors_of(raw):
    receipt = parse_receipt(raw)
    assert not receipt.success
    assert "Submission has been rolled back." in receipt.infos
    return "\n".join(receipt.errors)


def test_rules_aliases_files_and_md5(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    webin = client(ena)
    docs = documents(b, schemas)
    # no reads in the upload area yet
    assert "was not found in the upload area" in errors_of(webin.submit(docs))
    assert ena.world.held(ACCOUNT, "sample") == {}
    prepared = prepare(read_bundle(b), schemas=schemas)
    uploader(ena, b)(prepared.files)
    first = parse_receipt(webin.submit(docs))
    assert first.success
    # the same objects again, under a new submission name: every alias is taken
    again = errors_of(webin.submit(documents(b, schemas, name="sub-2")))
    sample = next(iter(first.accessions("SAMPLE").items()))
    assert (
        f'In sample, alias: "{sample[0]}". The object being added already exists in the '
        f'submission account with accession: "{sample[1]}".'
    ) in again
    # the same submission name again
    assert 'In submission, alias:"sub-1"' in errors_of(webin.submit(documents(b, schemas)))
    # MODIFY of something ENA does not hold
    assert "does not exist in the submission account" in errors_of(
        webin.submit(
            documents(
                b,
                schemas,
                name="sub-3",
                action="MODIFY",
                sample=lambda d: d.replace(b'alias="', b'alias="other-'),
            )
        )
    )
    # a read file whose bytes changed after upload
    name, _, _ = prepared.files[0]
    (tmp_path / "upload-area" / ACCOUNT / name).write_bytes(b"@r\nACGT\n+\n!!!!\n")
    broken = errors_of(
        webin.submit(
            documents(
                b,
                schemas,
                name="sub-4",
                project=lambda d: d.replace(b'alias="', b'alias="p2-'),
                sample=lambda d: d.replace(b'alias="', b'alias="s2-').replace(
                    b'refname="', b'refname="s2-'
                ),
                experiment=_renamed,
                run=_renamed,
            )
        )
    )
    assert f'Invalid data file "{name}": its MD5 checksum is' in broken


def _renamed(doc: bytes) -> bytes:
    """Experiments and runs under new aliases, still referring to the new project and samples."""
    tree = etree.fromstring(doc)
    for el in tree:
        el.set("alias", "s2-" + el.get("alias"))
        for ref in el.iter("STUDY_REF"):
            ref.set("refname", "p2-" + ref.get("refname"))
        for ref in el.iter("SAMPLE_DESCRIPTOR", "EXPERIMENT_REF"):
            ref.set("refname", "s2-" + ref.get("refname"))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def test_rules_samples_references_layouts_hold_size_and_schema(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    webin = client(ena)
    prepared = prepare(read_bundle(b), schemas=schemas)
    uploader(ena, b)(prepared.files)

    def no_date(d):
        tree = etree.fromstring(d)
        for a in tree.iter("SAMPLE_ATTRIBUTE"):
            if a.findtext("TAG") == "collection date":
                a.getparent().remove(a)
        tree.find("SAMPLE/SAMPLE_NAME/TAXON_ID").text = "0"
        return etree.tostring(tree)

    found = errors_of(webin.submit(documents(b, schemas, sample=no_date)))
    assert 'Missing mandatory field "collection date" of checklist ERC000011' in found
    assert 'Unknown taxon id "0"' in found

    def one_file(d):
        tree = etree.fromstring(d)
        files = tree.find("RUN/DATA_BLOCK/FILES")
        files.remove(files[1])
        return etree.tostring(tree)

    assert "A paired library needs 2 fastq files, not 1" in errors_of(
        webin.submit(documents(b, schemas, run=one_file))
    )
    assert 'Failed to find referenced sample "nowhere"' in errors_of(
        webin.submit(documents(b, schemas, experiment=_sample_ref("nowhere")))
    )
    far = dt.date.today() + dt.timedelta(days=800)
    assert "is more than two years in the future" in errors_of(
        webin.submit(documents(b, schemas, hold=far))
    )
    assert "Invalid run XML, line" in errors_of(
        webin.submit(
            documents(b, schemas, run=lambda d: d.replace(b'filetype="fastq"', b'filetype="gz"'))
        )
    )
    ena.world.max_document_bytes = 1000
    assert "Webin accepts at most 1,000 bytes per document" in errors_of(
        webin.submit(documents(b, schemas))
    )
    assert ena.world.submissions == []  # nothing of this was stored


def _sample_ref(name):
    def edit(d):
        tree = etree.fromstring(d)
        tree.find("EXPERIMENT/DESIGN/SAMPLE_DESCRIPTOR").set("refname", name)
        return etree.tostring(tree)

    return edit


def test_a_refusal_is_stored_named_and_leaves_the_record_unchanged(tmp_path, ena, schemas):
    b = bundle(tmp_path)
    deposit = read_bundle(b)
    with pytest.raises(DepositRefused, match="was not found in the upload area") as refused:
        deposit_once(ena, b, schemas, upload_files=None)
    assert refused.value.receipt_path.exists()
    record = DepositRecord.load(b, "ena", ena.webin)
    assert record.objects == {} and record.pending is None
    assert deposit.identifier


def test_wrong_password_is_refused_without_showing_it(ena):
    with pytest.raises(WebinAuthError) as e:
        client(ena, password="not-the-password").submit({"submission": b"<x/>"})
    assert "not-the-password" not in str(e.value) and ACCOUNT in str(e.value)
    assert "not-the-password" not in repr(client(ena, password="not-the-password"))
    with pytest.raises(WebinAuthError, match="not a Webin submission account"):
        WebinAccount("someone@example.org", "pw")


# --- rules before sending --------------------------------------------------------------


def test_a_sensitive_project_is_refused_for_public_archives(tmp_path):
    deposit = read_bundle(bundle(tmp_path))
    flagged = replace(deposit, nels_project={"id": 3, "name": "Cohort", "sensitive": True})
    with pytest.raises(SensitiveDataError, match="controlled access") as e:
        check_public(flagged, "ENA")
    assert "Cohort" in str(e.value) and "ega" in str(e.value).lower()
    plain = replace(deposit, nels_project={"id": 3, "name": "Salmon", "sensitive": False})
    assert check_public(plain, "ENA") == []
    human = replace(plain, samples=[replace(deposit.samples[0], taxon_id="9606")])
    assert "human" in check_public(human, "ENA")[0]


def test_test_server_objects_are_forgotten_after_a_day(tmp_path):
    record = DepositRecord.load(tmp_path, "ena", "test")
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)).isoformat()
    record.objects = {"sample": {"a": {"accession": "ERS1", "date": old}}}
    record.save()
    assert DepositRecord.load(tmp_path, "ena", "test").objects == {"sample": {}}
    production = DepositRecord.load(tmp_path, "ena", "production")
    production.objects = {"sample": {"a": {"accession": "ERS1", "date": old}}}
    production.save()
    assert DepositRecord.load(tmp_path, "ena", "production").objects["sample"]


# --- the command line ------------------------------------------------------------------


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def cli_env(specs) -> dict:
    """The schemas from the shared specs and the Webin credentials, as a user sets them."""
    return {
        **os.environ,
        "NELS_ENA_XSD_DIR": str(specs / "ena"),
        "ENA_WEBIN": ACCOUNT,
        "ENA_WEBIN_PASSWORD": PASSWORD,
    }


def stand_in_options(ena) -> list[str]:
    """Where the ENA stand-in and its upload area listen, and the CA to trust."""
    return [
        "--webin-url",
        ena.webin,
        "--upload-host",
        ena.ftp.host,
        "--upload-port",
        str(ena.ftp.port),
        "--upload-ca",
        str(ena.ftp.cert),
    ]


def test_cli_submit_dry_run_then_test_then_again(tmp_path, ena, specs):
    b = bundle(tmp_path)
    env = cli_env(specs)
    common = stand_in_options(ena)
    dry = cli("ena", "submit", str(b), "--dry-run", *common, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "Nothing was sent" in dry.stdout and ena.world.submissions == []
    first = cli("ena", "submit", str(b), *common, env=env)
    assert first.returncode == 0, first.stderr
    assert re.search(r"ENA project PRJEB\d+", first.stdout)
    assert "TEST submission" in first.stdout
    assert PASSWORD not in first.stdout + first.stderr
    # the deposited bundle, accessions in it, kept beside the data it came from
    (kept,) = (tmp_path / "UiB_Hansen_SalmonLice_2023" / "nels-metadata").glob("isa-bundle-*.zip")
    assert f"Kept the bundle beside the data: {kept}" in first.stdout.replace("\n", "")
    with zipfile.ZipFile(kept) as z:
        isa = z.read(next(n for n in z.namelist() if n.endswith("/isa.json"))).decode()
    assert re.search(r"PRJEB\d+", isa)
    again = cli("ena", "submit", str(b), *common, env=env)
    assert again.returncode == 0 and "already holds everything" in again.stdout
    assert len(ena.world.submissions) == 1
    assert "Kept" not in again.stdout and len(list(kept.parent.glob("isa-bundle-*"))) == 1
    no_password = cli(
        "ena",
        "submit",
        str(b),
        *common,
        env={k: v for k, v in env.items() if k != "ENA_WEBIN_PASSWORD"},
    )
    assert no_password.returncode != 0 and "no Webin credentials" in no_password.stderr


def test_cli_takes_the_reads_from_a_folder_given_and_the_service_from_the_environment(
    tmp_path, ena, specs
):
    """As the Galaxy tool runs it: the bundle's source is gone (a finished job's
    folder), the reads are staged elsewhere, the stand-in named by variables."""
    b = bundle(tmp_path)
    source = tmp_path / "UiB_Hansen_SalmonLice_2023"
    reads = tmp_path / "staged"
    reads.mkdir()
    for f in source.rglob("*.fastq.gz"):
        target = reads / f.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        f.rename(target)
    env = {
        **cli_env(specs),
        "NELS_ENA_WEBIN_URL": ena.webin,
        "NELS_ENA_UPLOAD_HOST": ena.ftp.host,
        "NELS_ENA_UPLOAD_PORT": str(ena.ftp.port),
        "NELS_ENA_UPLOAD_CA": str(ena.ftp.cert),
    }
    # one file short: named, and nothing sent
    first = next(reads.rglob("*_R1_001.fastq.gz"))
    first.rename(tmp_path / "aside.fastq.gz")
    short = cli("ena", "submit", str(b), "--reads", str(reads), env=env)
    assert short.returncode != 0 and "not in" in short.stderr
    assert first.name in short.stderr and ena.world.submissions == []
    (tmp_path / "aside.fastq.gz").rename(first)

    receipts = tmp_path / "receipts"
    ok = cli(
        "ena", "submit", str(b), "--reads", str(reads), "--receipts-to", str(receipts), env=env
    )
    assert ok.returncode == 0, ok.stderr
    (copied,) = receipts.iterdir()
    assert copied.read_bytes() == (b / "deposits" / "receipts" / copied.name).read_bytes()
    uploaded = {p.name for p in (ena.ftp.root / ACCOUNT).rglob("*.fastq.gz")}
    described = read_bundle(b).samples
    assert uploaded == {Path(f.path).name for s in described for r in s.runs for f in r.files}

    table = cli("isa", "accessions", str(b)).stdout.splitlines()
    assert table[0].split("\t") == ["archive", "server", "kind", "alias", "accession"]
    rows = [line.split("\t") for line in table[1:]]
    held = ena.world.objects[ACCOUNT]
    assert sorted(r[4] for r in rows) == sorted(
        s.accession for kind in held.values() for s in kind.values()
    )
    assert {r[:2] for r in map(tuple, rows)} == {("ena", ena.webin)}


def test_cli_refuses_a_sensitive_project_before_sending(tmp_path, ena, specs):
    b = bundle(tmp_path)
    report = json.loads((b / "export-report.json").read_text())
    report["nels_project"] = {"id": 7, "name": "Sensitive_Cohort", "sensitive": True}
    (b / "export-report.json").write_text(json.dumps(report))
    env = cli_env(specs)
    r = cli("ena", "submit", str(b), "--webin-url", ena.webin, env=env)
    assert r.returncode != 0 and "flagged sensitive" in r.stderr
    assert ena.world.submissions == [] and not (b / "deposits").exists()


def test_accessions_land_on_the_seek_records_the_push_made(tmp_path, ena, schemas, seek_server):
    from pathlib import Path

    from nels_core.isa.export import describe
    from seek_plugin.accessions import link_accessions
    from seek_plugin.client import SeekClient
    from seek_plugin.db import Database
    from seek_plugin.push import Pusher

    b = bundle(tmp_path)
    source = Path(read_bundle(b).location)
    seek = SeekClient(seek_server.url, token="token-alice")
    db = Database(f"sqlite:///{tmp_path / 'seek.db'}")
    project_id = seek_server.projects["P1"].id
    inv, _ = describe(LocalStorage(source), "", str(source), source.name)
    Pusher(seek, db, project_id).push(inv)
    deposit, record, _ = deposit_once(ena, b, schemas)
    report = json.loads((b / "export-report.json").read_text())
    folders = {s["identifier"]: s["folder"] for s in report["studies"]}
    assert deposit.study_folders == folders

    updated = link_accessions(seek, db, project_id, deposit, record.objects, test=True)
    n = len(deposit.samples)
    assert updated == {"investigations": 1, "samples": n, "data_files": n}
    links = db.links(seek.url, str(project_id), deposit.location)
    world = seek_server.world

    def labels(key):
        link = links[key]
        return [
            x["label"] for x in world.get(link.kind, link.seek_id).attributes["discussion_links"]
        ]

    project = record.objects["project"][deposit.identifier]["accession"]
    assert labels("investigation") == [
        f"ENA project {project} (ENA test server: discarded within 24 hours)"
    ]
    s = deposit.samples[0]
    key = f"{folders[s.study]}/{s.name}"
    sample = record.objects["sample"][f"{deposit.identifier}:{s.study}:{s.name}"]
    assert [label.split(" (")[0] for label in labels(f"sample:{key}")] == [
        f"ENA sample {sample['accession']}",
        f"BioSample {sample['ext_ids']['biosample']}",
    ]
    reads = labels(f"data_file:{key}")
    assert len(reads) == 1 + len(s.runs) and reads[0].startswith("ENA experiment ERX")
    # SEEK shows them through its API as a client reads them
    shown = seek.samples.get(links[f"sample:{key}"].seek_id).attributes["discussion_links"]
    assert shown[1]["url"].endswith(sample["ext_ids"]["biosample"])
    # again: every link is already there
    assert link_accessions(seek, db, project_id, deposit, record.objects) == {}


def test_cli_submit_links_the_accessions_in_seek(tmp_path, ena, specs, seek_server):
    b = bundle(tmp_path)
    source = read_bundle(b).location
    project_id = str(seek_server.projects["P1"].id)
    db = f"sqlite:///{tmp_path / 'seek.db'}"
    env = {**cli_env(specs), "SEEK_TOKEN": "token-alice"}
    pushed = cli(
        "seek",
        "push",
        source,
        "--seek",
        seek_server.url,
        "--project",
        project_id,
        "--db",
        db,
        env=env,
    )
    assert pushed.returncode == 0, pushed.stderr
    r = cli(
        "ena",
        "submit",
        str(b),
        *stand_in_options(ena),
        "--seek",
        seek_server.url,
        "--seek-project",
        project_id,
        "--db",
        db,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert (
        "SEEK records linked to ENA: 1 investigation, 4 samples, 4 data files, "
        "1 kept bundle file" in r.stdout  # the bundle kept beside the data has its data file
    )
    assert "token-alice" not in r.stdout + r.stderr


def test_a_service_that_is_not_there_is_named_and_nothing_is_pending(tmp_path):
    import socket

    from nels_core.deposit.webin import WebinError

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webin = WebinClient(
        WebinAccount(ACCOUNT, PASSWORD), server=f"http://127.0.0.1:{port}/ena/submit", timeout=2
    )
    with pytest.raises(WebinError, match="cannot reach Webin") as e:
        webin.submit({"submission": b"<SUBMISSION/>"})
    assert not isinstance(e.value, AnswerLost) and PASSWORD not in str(e.value)


def test_an_alias_twice_in_one_document_is_refused_in_enas_words(tmp_path, ena, schemas):
    b = bundle(tmp_path)

    def twice(d):
        tree = etree.fromstring(d)
        tree.append(etree.fromstring(etree.tostring(tree[0])))
        return etree.tostring(tree)

    found = errors_of(client(ena).submit(documents(b, schemas, sample=twice)))
    alias = etree.fromstring(prepare(read_bundle(b)).documents["sample"])[0].get("alias")
    assert (
        f"The sample alias ({alias}) found more than once but sample alias must be unique." in found
    )
