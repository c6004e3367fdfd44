"""``seek push`` against the SEEK sandbox: first push, unchanged re-push
(no writes), a changed project (updates in place), an interrupted push
(resumed without duplicates), records deleted in SEEK, samples switched off."""

import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from conftest import cli

from nels_core.isa.export import describe
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery
from seek_plugin.client import SeekClient
from seek_plugin.db import Database
from seek_plugin.errors import SeekError
from seek_plugin.plan import plan
from seek_plugin.push import IN_FLIGHT, Pusher

SPEC = DeliverySpec(reads_per_file=4, read_length=30)  # 4 samples, 2 lanes, paired
SAMPLES = len(SPEC.samples)
# investigation, study, assay, a data file per sample, the sample type, the samples
RECORDS = 3 + SAMPLES + 1 + SAMPLES


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", SPEC)
    return root


def describe_project(root, sheet=None):
    inv, _ = describe(LocalStorage(root), "", str(root), root.name, sheet)
    return inv


@pytest.fixture
def tmp_db(database_url):
    return database_url


def pusher(server, db_url, session=None, who="alice"):
    seek = SeekClient(server.url, token=f"token-{who}", session=session, per_page=50)
    db = Database(db_url)
    return Pusher(seek, db, server.projects["P1"].id), seek


def held(world, kind):
    return list(world.records.get(kind, {}).values())


def test_first_push_creates_the_isa_tree_linked_to_nels(seek_server, project, tmp_path, tmp_db):
    push, seek = pusher(seek_server, tmp_db)
    report = push.push(describe_project(project))
    assert report.count() == {"created": RECORDS}
    assert seek.sent == {"write": RECORDS}  # one request per record, nothing read
    world = seek_server.world
    (inv,) = held(world, "investigations")
    (study,) = held(world, "studies")
    assert study.relationships["investigation"] == [inv.id]
    files = held(world, "data_files")
    assert len(files) == SAMPLES
    blobs = [b for f in files for b in f.blobs]
    assert len(blobs) == SAMPLES * 2 * 2  # lanes x reads, index reads left out
    assert all(b["url"].startswith("file://") and b["url"].endswith(".fastq.gz") for b in blobs)
    samples = held(world, "samples")
    assert sorted(s.attributes["attribute_map"]["sample name"] for s in samples) == sorted(
        SPEC.samples
    )
    assert report.investigation_url() == f"{seek_server.url}/investigations/{inv.id}"


def test_re_push_of_an_unchanged_project_sends_no_writes(seek_server, project, tmp_path, tmp_db):
    push, _ = pusher(seek_server, tmp_db)
    push.push(describe_project(project))
    again, seek = pusher(seek_server, tmp_db)
    report = again.push(describe_project(project))
    assert report.count() == {"unchanged": RECORDS}
    assert seek.sent["write"] == 0
    # one listing page per record type confirms the records are still there
    assert seek.sent["read"] == 6


def test_a_changed_project_is_updated_in_place(seek_server, project, tmp_path, tmp_db):
    push, _ = pusher(seek_server, tmp_db)
    push.push(describe_project(project))
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(
        "[Studies]\nstudy\tidentifier\ttitle\tdescription\n"
        f"NorSeq/run1\t{SPEC.run}\tLice run\tSalmon lice, run 1\n"
        "[Samples]\nstudy\tsample\tsource\tcollection date\n"
        + "".join(f"NorSeq/run1\t{s}\t{s}\t2023-06-01\n" for s in SPEC.samples)
    )
    again, seek = pusher(seek_server, tmp_db)
    report = again.push(describe_project(project, sheet))
    counts = report.count()
    # the study's title, the sample type's new column, every sample's value
    assert counts["updated"] == 1 + 1 + SAMPLES and counts["created"] == 0
    assert seek.sent["write"] == counts["updated"]
    (study,) = held(seek_server.world, "studies")
    assert study.attributes["title"] == "Lice run"
    assert len(held(seek_server.world, "samples")) == SAMPLES


class DiesAfterSending(requests.adapters.HTTPAdapter):
    """Lets the Nth POST reach SEEK, then loses the answer, as a dropped line does."""

    def __init__(self, nth: int):
        super().__init__()
        self.nth, self.posts = nth, 0

    def send(self, request, **kw):
        response = super().send(request, **kw)
        if request.method == "POST":
            self.posts += 1
            if self.posts == self.nth:
                raise requests.ConnectionError("connection reset by peer")
        return response


@pytest.mark.parametrize("nth", [1, 5, RECORDS])
def test_an_interrupted_push_resumes_without_duplicates(
    seek_server, project, tmp_path, tmp_db, nth
):
    session = requests.Session()
    session.mount("http://", DiesAfterSending(nth))
    push, _ = pusher(seek_server, tmp_db, session=session)
    with pytest.raises(SeekError, match="SEEK unreachable"):
        push.push(describe_project(project))
    resumed, _ = pusher(seek_server, tmp_db)
    report = resumed.push(describe_project(project))
    assert report.count()["adopted"] + report.count()["unchanged"] >= nth - 1
    world = seek_server.world
    for kind, n in (
        ("investigations", 1),
        ("studies", 1),
        ("assays", 1),
        ("data_files", SAMPLES),
        ("sample_types", 1),
        ("samples", SAMPLES),
    ):
        assert len(held(world, kind)) == n, kind
    third, seek = pusher(seek_server, tmp_db)
    assert third.push(describe_project(project)).count() == {"unchanged": RECORDS}
    assert seek.sent["write"] == 0


class LooksAtLinks(requests.adapters.HTTPAdapter):
    """Before each create reaches SEEK: which links the database holds as pending."""

    def __init__(self, db: Database, scope: tuple[str, str, str]):
        super().__init__()
        self.db, self.scope, self.pending_at_post = db, scope, []

    def send(self, request, **kw):
        if request.method == "POST":
            links = self.db.links(*self.scope).values()
            kind = urlsplit(request.url).path.strip("/")
            self.pending_at_post.append((kind, [li.kind for li in links if li.seek_id is None]))
        return super().send(request, **kw)


class SlowSeek(requests.adapters.HTTPAdapter):
    """A SEEK that takes 50 ms to make a record, as a real one takes tens of ms;
    counts the creates under way at once."""

    def __init__(self):
        super().__init__()
        self.now = self.most = 0
        self.lock = threading.Lock()

    def send(self, request, **kw):
        if request.method != "POST":
            return super().send(request, **kw)
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)
            return super().send(request, **kw)
        finally:
            with self.lock:
                self.now -= 1


def test_each_record_is_linked_as_pending_before_it_is_created(seek_server, project, tmp_db):
    inv = describe_project(project)
    scope = (seek_server.url, seek_server.projects["P1"].id, inv.location)
    session = requests.Session()
    session.mount("http://", looks := LooksAtLinks(Database(tmp_db), scope))
    push, _ = pusher(seek_server, tmp_db, session=session)
    report = push.push(inv)
    # committed before its POST left: the one being created is among the pending,
    # with no more than the creates under way beside it
    assert len(looks.pending_at_post) == len(report.records)
    for kind, pending in looks.pending_at_post:
        assert kind in pending and len(pending) <= IN_FLIGHT, (kind, pending)
    links = Database(tmp_db).links(*scope)
    done = {li.key: (li.seek_id, len(li.digest)) for li in links.values() if li.kind != "sheet"}
    assert done == {r.key: (r.seek_id, 64) for r in report.records}


def test_creates_go_several_at_once_and_land_as_if_sent_one_by_one(seek_server, project, tmp_db):
    session = requests.Session()
    session.mount("http://", slow := SlowSeek())
    push, seek = pusher(seek_server, tmp_db, session=session)
    inv = describe_project(project)
    report = push.push(inv)
    assert 1 < slow.most <= IN_FLIGHT
    assert report.count() == {"created": RECORDS}
    assert seek.sent == {"write": RECORDS}
    # in plan order, each pointing at what it belongs to
    assert [r.kind for r in report.records] == [i.kind for i in plan(inv, push.project_id)]
    world = seek_server.world

    def points_at(record, name):
        value = record.relationships[name]
        return value if isinstance(value, list) else [value]

    (study,) = held(world, "studies")
    (assay,) = held(world, "assays")
    assert points_at(study, "investigation") == [held(world, "investigations")[0].id]
    assert points_at(assay, "study") == [study.id]
    (sample_type,) = held(world, "sample_types")
    for sample in held(world, "samples"):
        assert points_at(sample, "sample_type") == [sample_type.id]
    again, seek = pusher(seek_server, tmp_db)
    assert again.push(describe_project(project)).count() == {"unchanged": RECORDS}
    assert seek.sent["write"] == 0


def test_a_record_deleted_in_seek_is_created_again(seek_server, project, tmp_path, tmp_db):
    push, _ = pusher(seek_server, tmp_db)
    push.push(describe_project(project))
    world = seek_server.world
    gone = held(world, "data_files")[0]
    world.remove(gone)
    again, seek = pusher(seek_server, tmp_db)
    report = again.push(describe_project(project))
    assert report.count()["created"] == 1
    assert len(held(world, "data_files")) == SAMPLES


def test_samples_wait_when_seek_has_them_switched_off(seek_server, project, tmp_path, tmp_db):
    seek_server.world.samples_enabled = False
    push, _ = pusher(seek_server, tmp_db)
    report = push.push(describe_project(project))
    assert report.count() == {"created": 3 + SAMPLES}
    assert report.warnings == [
        "samples not registered: this SEEK refused a sample type (Samples are disabled)"
    ]
    assert not held(seek_server.world, "samples")


def test_cli_push_takes_the_token_from_the_environment(seek_server, project, tmp_path, tmp_db):
    def run(token):
        return push_cli(seek_server, project, tmp_db, token=token)

    first = run("token-alice")
    assert first.returncode == 0, first.stderr
    # one read: the credentials checked before anything is sent
    assert f"{RECORDS} created ({RECORDS} writes, 1 reads)" in first.stdout
    assert "as Alice Tester" in first.stdout and "/investigations/" in first.stdout
    again = run("token-alice")
    assert f"{RECORDS} unchanged (0 writes, 7 reads)" in again.stdout
    wrong = run("token-wrong")
    assert wrong.returncode == 1
    assert "did not accept these credentials" in wrong.stderr
    assert "token-wrong" not in wrong.stderr + wrong.stdout
    none = run("")
    assert none.returncode == 1 and "no SEEK credentials" in none.stderr


def test_storebioinfo_subtypes_are_linked_by_nels_permalink(tmp_path, specs):
    from nels_cli.demo import RUN, SEQ_PROJECT
    from nels_core.api import NelsApi
    from nels_sandbox.web_site import start_sandboxes
    from seek_plugin.storebioinfo import sbi_subtypes

    sb = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    try:
        user = sb.nels_world.user_by_username(sb.username)
        token = sb.nels_world.issue(user.nels_id, sb.client_id)["access_token"]
        # the helpdesk's copy of the same run (the demo's StoreBioinfo holds an earlier one)
        project = sb.nels_world.projects[sb.seq_project_id]
        sizes = {"reads": 1_234_567, "analysis": 45_678}
        sb.nels_world.add_dataset(project, RUN, "Illumina_seq_data", subtypes=sizes)
        every = sbi_subtypes(NelsApi(f"{sb.nels_url}/nels-api2", token), sb.seq_project_id)
        sbi = [s for s in every if s.dataset == RUN]
        assert sorted(s.subtype for s in sbi) == ["analysis", "reads"]
        assert {s.subtype: s.size for s in sbi} == sizes
        assert all(
            s.permalink.startswith(f"{sb.nels_url}/nels/pages/sbi/sbi.xhtml?ref=") for s in sbi
        )
        root = sb.directory / "nels" / "projects" / SEQ_PROJECT
        inv = describe_project(root)
        db = f"sqlite:///{tmp_path / 'links.db'}"

        def push():
            seek = SeekClient(sb.seek_url, token=sb.seek_token)
            return Pusher(seek, Database(db), sb.seek_project).push(inv, sbi), seek

        report, _ = push()
        linked = [r for r in report.records if r.key.startswith("sbi:")]
        assert len(linked) == 2 and {r.action for r in linked} == {"created"}
        world = sb.seek_world
        (assay,) = world.records["assays"].values()
        for r in linked:
            f = world.get("data_files", r.seek_id)
            assert f.blobs[0]["url"] in {s.permalink for s in sbi}
            assert f.relationships["assays"] == [assay.id]  # the dataset is the run's study
            assert f.attributes["title"].startswith(f"{RUN}: ")
        again, seek = push()
        assert seek.sent["write"] == 0 and set(again.count()) == {"unchanged"}
    finally:
        sb.stop()


def push_cli(seek_server, source, db, *more, token="token-alice"):
    project = seek_server.projects["P1"].id
    return cli(
        *("seek", "push", str(source), "--seek", seek_server.url, "--project", project),
        *("--db", db, *more),
        env={"SEEK_TOKEN": token},
        timeout=120,
    )


def test_cli_registers_a_bundle_exported_from_nels_with_links_into_nels(
    seek_server, tmp_path, tmp_db
):
    import csv

    from nels_cli.demo import SEQ_PROJECT, seed

    config = seed(tmp_path / "demo")
    uri = f"nels://Projects/{SEQ_PROJECT}/NorSeq"
    export = cli("isa", "export", uri, "--out", str(tmp_path / "b"), config=config)
    assert export.returncode == 0, export.stderr
    r = push_cli(seek_server, tmp_path / "b", tmp_db, "--records", str(tmp_path / "r.tsv"))
    assert r.returncode == 0, r.stderr
    world = seek_server.world
    rows = list(csv.DictReader(open(tmp_path / "r.tsv"), delimiter="\t"))
    kinds = ("investigations", "studies", "assays", "data_files", "sample_types", "samples")
    held_ids = {(k, rec.id) for k in kinds for rec in held(world, k)}
    assert {(row["kind"], row["seek_id"]) for row in rows} == held_ids
    assert {row["action"] for row in rows} == {"created"}
    (inv,) = held(world, "investigations")
    assert inv.attributes["title"] and uri in inv.attributes["description"]
    blobs = [b["url"] for f in held(world, "data_files") for b in f.blobs]
    assert blobs and all(u.startswith(uri + "/") for u in blobs)
    (study,) = held(world, "studies")
    assert len(held(world, "samples")) == len(held(world, "data_files")) == 4

    # again from the same bundle with the same links: nothing is written
    again = push_cli(seek_server, tmp_path / "b", tmp_db)
    assert again.returncode == 0 and "0 writes" in again.stdout, again.stdout + again.stderr
    # a bundle holds its sheet: one given as well is refused
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("x")
    both = push_cli(seek_server, tmp_path / "b", tmp_db, "--metadata", str(sheet))
    assert both.returncode == 2 and "a bundle holds its sheet" in both.stderr


def test_a_bundle_of_galaxy_datasets_is_linked_to_its_ena_runs_or_refused(
    seek_server, tmp_path, tmp_db
):
    import zipfile
    from pathlib import Path

    from nels_core.deposit.ena_xml import alias
    from nels_core.deposit.isa_reader import read_bundle
    from nels_core.deposit.record import DepositRecord
    from seek_plugin.accessions import ENA_VIEW

    test_bundle = Path(__file__).parent.parent / "tool_xml" / "test-data" / "isa_bundle.zip"
    zipfile.ZipFile(test_bundle).extractall(tmp_path / "b")
    refused = push_cli(seek_server, tmp_path / "b", tmp_db)
    assert refused.returncode == 1, refused.stdout
    assert "no lasting place SEEK could link to" in refused.stderr
    assert not held(seek_server.world, "investigations")  # nothing half-registered

    # what the ENA tool writes into the bundle it returns
    deposit = read_bundle(tmp_path / "b")
    record = DepositRecord.load(tmp_path / "b", "ena", "test")
    record.objects["project"] = {deposit.identifier: {"accession": "PRJEB90001"}}
    runs = {
        alias(deposit.identifier, s.study, r.name): f"ERR90000{n}"
        for n, (s, r) in enumerate(((s, r) for s in deposit.samples for r in s.runs), 1)
    }
    record.objects["run"] = {a: {"accession": acc} for a, acc in runs.items()}
    record.save()
    r = push_cli(seek_server, tmp_path / "b", tmp_db)
    assert r.returncode == 0, r.stderr
    world = seek_server.world
    files = held(world, "data_files")
    blobs = {b["url"] for f in files for b in f.blobs}
    assert blobs == {ENA_VIEW + acc for acc in runs.values()}
    assert all(f.attributes["description"].endswith("in ENA") for f in files)
