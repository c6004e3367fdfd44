"""Runs archived from NeLS (the real sshd) into StoreBioinfo (the sandbox's
transfer jobs) and staged back, with the faults NeLS has."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from conftest import sftp_storage
from test_api_client import api_for, sign_in

from nels_core.api.sbi_transfer import SbiJobError, SbiPlace, SbiTransfer
from nels_core.checksums import parse_md5_list
from nels_core.errors import ChecksumMismatchError, TransferError
from nels_core.home import Home
from nels_core.sbi import ArchiveRefused, StageRefused, TransferProgress, archive, stage
from nels_sandbox.nels_api import fail_next_jobs, inject_fault, make_chaotic
from nels_sandbox.norseq import DeliverySpec, make_delivery

SPEC = DeliverySpec(samples=("Liver-1", "Gill-1"), lanes=2, reads_per_file=20, index_reads=False)
RUN = f"Projects/UiB-Test-Project/{SPEC.run}"


class Recorder(TransferProgress):
    def __init__(self):
        self.started: list[str] = []
        self.states: list[int] = []
        self.bytes = 0
        self.planned_as = None

    def planned(self, files, total_bytes, already):
        self.planned_as = (files, total_bytes, already)

    def file_started(self, path, size):
        self.started.append(path)

    def bytes_moved(self, n):
        self.bytes += n

    def job_state(self, name, job_id, state):
        self.states.append(state)


@pytest.fixture
def sbi(nels_server):
    """Bob (a member) with his NeLS home over SFTP, the API, and a two-lane run."""
    cast = nels_server.cast
    make_delivery(cast.world.project_dir(cast.project) / SPEC.run, SPEC)
    api = api_for(nels_server, sign_in(nels_server, "bob", "bob-pw"))
    home = Home(sftp_storage(cast, cast.bob), cast.account(cast.bob))
    ns = type("Sbi", (), {})()
    ns.server, ns.cast, ns.world, ns.api, ns.home = nels_server, cast, cast.world, api, home
    ns.transfer = SbiTransfer(api, poll_interval=0.01, max_poll_interval=0.05)
    ns.stored = cast.world.root / "sbi" / cast.project.folder / "Run1" / "reads" / SPEC.run
    ns.delivered = parse_md5_list(
        (cast.world.project_dir(cast.project) / SPEC.run / "md5sum.txt").read_text()
    )
    yield ns
    home.close()


def _archive(s, **kw):
    return archive(
        s.home,
        s.api,
        f"nels://{RUN}",
        dataset="Run1",
        dataset_type="Illumina_seq_data",
        subtype="reads",
        transfer=s.transfer,
        **kw,
    )


def _stored(s) -> dict[str, bytes]:
    return {
        p.relative_to(s.stored).as_posix(): p.read_bytes()
        for p in sorted(s.stored.rglob("*"))
        if p.is_file()
    }


def _source(s) -> dict[str, bytes]:
    run = s.world.project_dir(s.cast.project) / SPEC.run
    return {
        p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()
    }


def _nothing_in_flight(s) -> None:
    """No bytes of a cut upload left in the sandbox's transfer area (the
    server's thread notices a cut body on its own time: waited for, bounded)."""
    deadline = time.monotonic() + 10
    while True:
        left = [p.name for p in s.world.transfers_dir().iterdir() if p.name.startswith(".part")]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert left == []


def test_archive_a_run_then_again_sends_nothing_then_stage_back(sbi):
    seen = Recorder()
    report = _archive(sbi, progress=seen)
    assert report.created_dataset
    stored = _stored(sbi)
    assert stored == _source(sbi)  # every file, byte for byte, in its folder
    assert len(stored) == 2 * 3 * 2 + 3  # R1/R2 of two samples and Undetermined, lanes 1-2
    for rel, md5 in sbi.delivered.items():
        assert hashlib.md5(stored[rel]).hexdigest() == md5
    assert report.md5_checked == len(sbi.delivered) and len(report.without_md5) == 1  # md5sum.txt
    assert seen.planned_as == (len(stored), sum(map(len, stored.values())), 0)
    assert seen.bytes == sum(map(len, stored.values()))
    assert {100, 103, 101} <= set(seen.states)
    d = next(d for d in sbi.api.datasets(sbi.cast.project.id) if d.name == "Run1")
    assert d.type == "Illumina_seq_data"
    quota = sbi.api.sbi_project(sbi.cast.project.id).project.quota_used
    assert quota == sum(map(len, stored.values()))

    jobs = len(sbi.world.jobs)
    again = _archive(sbi)
    assert again.sent == [] and len(again.skipped) == len(stored)
    assert len(sbi.world.jobs) == jobs  # a second run starts no job at all

    received = stage(
        sbi.home,
        sbi.api,
        f"sbi://UiB Test Project/Run1/reads/{SPEC.run}",
        "nels://Projects/UiB-Test-Project/restored/",
        transfer=sbi.transfer,
    )
    back = sbi.world.project_dir(sbi.cast.project) / "restored" / SPEC.run
    assert {
        p.relative_to(back).as_posix(): p.read_bytes() for p in back.rglob("*") if p.is_file()
    } == _source(sbi)
    assert received.md5_checked == len(sbi.delivered)
    assert sbi.world.downloads == {}  # every single-use url used
    # staging again fetches nothing
    again = stage(
        sbi.home,
        sbi.api,
        f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}/fastq",
        f"nels://Projects/UiB-Test-Project/restored/{SPEC.run}",
        transfer=sbi.transfer,
    )
    assert again.received == [] and len(again.skipped) == 12


def test_a_failed_job_stops_the_archive_and_the_next_run_resumes(sbi):
    fail_next_jobs(sbi.server.app, 1)  # the first file's job ends 102
    with pytest.raises(TransferError) as err:
        _archive(sbi)
    said = str(err.value)
    assert "ended in state 102 (failed)" in said and "Run the same archive again" in said
    first = sorted(_source(sbi))[0]
    assert first.rsplit("/", 1)[-1] in said  # names the file
    # the files sent while its job processed ended whole; it is not there
    stored, source = _stored(sbi), _source(sbi)
    assert first not in stored and all(stored[rel] == source[rel] for rel in stored)
    assert f"{len(stored)} of 15 files are in StoreBioinfo" in said
    _nothing_in_flight(sbi)
    # a later file fails: the files before it stay, whole
    sbi.server.app.config["CHAOS"].failing_jobs = 0
    with_fault = Recorder()
    original = sbi.transfer.upload
    calls = []

    def upload_then_fail(*a, **kw):
        calls.append(a[1])
        if len(calls) == 5:
            fail_next_jobs(sbi.server.app, 1)
        return original(*a, **kw)

    sbi.transfer.upload = upload_then_fail
    with pytest.raises(TransferError) as err:
        _archive(sbi, progress=with_fault)
    stored = _stored(sbi)
    fifth = calls[4]
    assert fifth in str(err.value) and not any(rel.endswith(f"/{fifth}") for rel in stored)
    assert f"{len(stored)} of 15 files are in StoreBioinfo" in str(err.value)
    assert len(stored) >= 4 and all(stored[rel] == source[rel] for rel in stored)
    sbi.transfer.upload = original
    uploads_before = sum(1 for j in sbi.world.jobs.values() if j["kind"] == "upload")
    resumed = _archive(sbi)
    assert len(resumed.sent) == 15 - len(stored) and len(resumed.skipped) == len(stored)
    assert _stored(sbi) == _source(sbi)
    uploads = sum(1 for j in sbi.world.jobs.values() if j["kind"] == "upload")
    assert uploads - uploads_before == 15 - len(stored)  # each file sent once more at most


def test_500_error_on_a_step_that_cannot_be_repeated_is_a_clear_error(sbi):
    inject_fault(sbi.server.app, "POST", r"/nels-upload2/", 500, "Error")
    with pytest.raises(TransferError) as err:
        _archive(sbi)
    assert "refused the bytes: 500 Error" in str(err.value)
    assert _stored(sbi) == {}
    _nothing_in_flight(sbi)


def test_500_errors_now_and_then_are_retried_where_safe_and_a_rerun_finishes(sbi):
    """Seeded: the same calls fail on every run. job_state and listings are
    asked again; a refused initiate stops the run, and the next run resumes."""
    sbi.world.processing_seconds = 0  # one poll a job: the same calls, the same draws
    make_chaotic(sbi.server.app, seed=3, error_rate=0.15)
    stops = 0
    for _ in range(30):
        try:
            _archive(sbi)
            break
        except TransferError as e:
            assert "500 Error" in str(e)
            stops += 1
        except Exception as e:  # noqa: BLE001 - a listing's 500 after its retries
            assert "500" in str(e), e
            stops += 1
    else:
        pytest.fail("the archive never finished")
    assert stops >= 1  # the seed does stop it at least once
    assert _stored(sbi) == _source(sbi)


def test_refused_before_anything_moves(sbi):
    w, p = sbi.world, sbi.cast.project
    locked = w.add_dataset(p, "Old", "Illumina_seq_data", islocked=True, subtypes={"reads": 0})
    with pytest.raises(ArchiveRefused) as err:
        archive(
            sbi.home,
            sbi.api,
            f"nels://{RUN}",
            dataset=locked.name,
            dataset_type="Illumina_seq_data",
            subtype="reads",
        )
    assert "the dataset 'Old' is locked" in str(err.value)
    # a name with a space, and a quota too small: both said, in one go
    spaced = w.project_dir(p) / SPEC.run / "QC" / "lane 1 summary.txt"
    spaced.write_text("x" * 10)
    p.quota_allocated = 1000
    with pytest.raises(ArchiveRefused) as err:
        _archive(sbi)
    said = str(err.value)
    assert (
        "name with a space (StoreBioinfo refuses them): " + f"{SPEC.run}/QC/lane 1 summary.txt"
        in said
    )
    assert "over quota:" in said and "1,000 free (0 of 1,000 used)" in said
    assert "nothing was sent" in said
    # read-only membership (4)
    dave = api_for(sbi.server, sign_in(sbi.server, "dave", "dave-pw"))
    dave_home = Home(sftp_storage(sbi.cast, sbi.cast.dave), sbi.cast.account(sbi.cast.dave))
    try:
        with pytest.raises(ArchiveRefused, match=r"read-only \(4\)"):
            archive(
                dave_home,
                dave,
                f"nels://{RUN}",
                dataset="Run1",
                dataset_type="Illumina_seq_data",
                subtype="reads",
            )
    finally:
        dave_home.close()
    assert w.jobs == {} and not (w.root / "sbi").exists()  # nothing moved, nothing made
    assert all(d.name != "Run1" for d in p.datasets.values())


def test_over_quota_upload_ends_102_in_the_sandbox(sbi):
    """What the service does when the bytes do not fit (a client that did no
    preflight): the job fails, nothing is stored."""
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "Tiny", "Illumina_seq_data", subtypes={"reads": 0})
    p.quota_allocated = 10
    with pytest.raises(SbiJobError) as err:
        sbi.transfer.upload(SbiPlace(p.id, d.id, "reads"), "big.txt", [b"x" * 11], 11)
    assert err.value.state == 102 and "big.txt" in str(err.value)
    assert not (sbi.world.root / "sbi" / p.folder / "Tiny" / "reads" / "big.txt").exists()
    sbi.transfer.upload(SbiPlace(p.id, d.id, "reads"), "ok.txt", io.BytesIO(b"x" * 10), 10)


def test_stage_refusals_and_a_failed_download_leaves_nothing(sbi):
    _archive(sbi)
    with pytest.raises(StageRefused, match="read-only member may not create"):
        dave_home = Home(sftp_storage(sbi.cast, sbi.cast.dave), sbi.cast.account(sbi.cast.dave))
        try:
            stage(
                dave_home,
                sbi.api,
                f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
                "nels://Projects/UiB-Test-Project/back",
            )
        finally:
            dave_home.close()
    sbi.home.mkdir("Projects/UiB-Test-Project/here")
    sbi.home.write("Projects/UiB-Test-Project/here/a-file.txt", b"not a folder\n")
    with pytest.raises(StageRefused, match="'Projects/UiB-Test-Project/here/a-file.txt' is a file"):
        stage(
            sbi.home,
            sbi.api,
            f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
            "nels://Projects/UiB-Test-Project/here/a-file.txt",
        )
    fail_next_jobs(sbi.server.app, 1)
    with pytest.raises(TransferError, match="(?s)ended in state 102 .*Staging stopped: 0 of 15"):
        stage(
            sbi.home,
            sbi.api,
            f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
            "nels://Projects/UiB-Test-Project/back",
            transfer=sbi.transfer,
        )
    back = sbi.world.project_dir(sbi.cast.project) / "back"
    assert [p for p in back.rglob("*") if p.is_file()] == []  # no partial, no file


def test_download_url_is_single_use_and_streams(sbi):
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "One", "Illumina_seq_data", subtypes={"reads": 0})
    place = SbiPlace(p.id, d.id, "reads", "a")
    sbi.transfer.upload(place, "x.bin", io.BytesIO(b"abc" * 1000), 3000)
    sink = io.BytesIO()
    moved = sbi.transfer.download_to(place, "x.bin", sink)
    assert (
        sink.getvalue() == b"abc" * 1000 and moved.md5 == hashlib.md5(sink.getvalue()).hexdigest()
    )
    job = max(sbi.world.jobs)
    # the job's reference was handed out: asking again, or using the url again, is refused
    with pytest.raises(SbiJobError) as err:
        sbi.transfer._call(place, "download_reference", {"job_id": job}, name="x.bin", job_id=job)
    assert err.value.status == 404
    assert (
        Path(sbi.world.transfers_dir()).is_dir() and list(sbi.world.transfers_dir().iterdir()) == []
    )


def test_500_on_job_state_is_asked_again_on_upload_done_it_is_an_error(sbi):
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "Two", "Illumina_seq_data", subtypes={"reads": 0})
    place = SbiPlace(p.id, d.id, "reads")
    sbi.world.processing_seconds = 0.3  # the first poll comes well within: 103 is seen
    app = sbi.server.app
    do = r"/data/do$"

    def fault_at(state_wanted):
        def seen(name, job_id, state):
            if state == state_wanted and not app.config["FAULTS"]:
                inject_fault(app, "POST", do, 500, "Error")

        return seen

    # 103 seen: the next call is a job_state poll, answered 500 once, then asked again
    moved = sbi.transfer.upload(place, "a.txt", [b"abc"], 3, on_state=fault_at(103))
    assert moved.size == 3 and app.config["FAULTS"] == []
    stored = sbi.world.root / "sbi" / p.folder / "Two" / "reads"
    assert (stored / "a.txt").read_bytes() == b"abc"
    # 100 seen: the next call is upload_done, which is not asked twice
    with pytest.raises(SbiJobError) as err:
        sbi.transfer.upload(place, "b.txt", [b"abc"], 3, on_state=fault_at(100))
    said = str(err.value)
    assert said.startswith("b.txt: StoreBioinfo refused upload_done (job ")
    assert "500 Error" in said and err.value.status == 500
    assert not (stored / "b.txt").exists()


def test_a_source_shorter_than_said_stops_the_upload(sbi):
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "Three", "Illumina_seq_data", subtypes={"reads": 0})
    with pytest.raises(SbiJobError, match=r"c.txt: the source ended after 2 of 5 bytes"):
        sbi.transfer.upload(SbiPlace(p.id, d.id, "reads"), "c.txt", [b"ab"], 5)
    assert not (sbi.world.root / "sbi" / p.folder / "Three" / "reads" / "c.txt").exists()
    _nothing_in_flight(sbi)


def _until(what, seconds: float = 10.0):
    """Wait (bounded) for ``what()`` to hold: the sandbox's jobs run on their own time."""
    deadline = time.monotonic() + seconds
    while not (held := what()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return held


def test_a_job_told_upload_done_ends_without_being_polled(sbi):
    """As NeLS does: a client killed right after upload_done still leaves its
    file stored, whole, by the job's own time."""
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "Alone", "Illumina_seq_data", subtypes={"reads": 0})
    sbi.world.processing_seconds = 0.2
    polls = []
    sbi.transfer.wait = lambda *a, **kw: polls.append(a)  # the client dies here
    sbi.transfer.upload(SbiPlace(p.id, d.id, "reads", "a"), "x.bin", [b"x" * 100], 100)
    stored = sbi.world.root / "sbi" / p.folder / "Alone" / "reads" / "a" / "x.bin"
    job = max(sbi.world.jobs)
    assert sbi.world.jobs[job]["state_id"] in (103, 101)
    assert _until(lambda: sbi.world.jobs[job]["state_id"] == 101)
    assert stored.read_bytes() == b"x" * 100 and d.subtypes["reads"] == 100
    assert list(sbi.world.transfers_dir().iterdir()) == []


def test_bytes_of_jobs_never_finished_are_removed_after_a_while(sbi):
    p = sbi.cast.project
    d = sbi.world.add_dataset(p, "Left", "Illumina_seq_data", subtypes={"reads": 0})
    place = SbiPlace(p.id, d.id, "reads")
    sbi.transfer.upload(place, "kept.txt", [b"abc"], 3)
    w = sbi.world
    w.abandoned_after = 0.3
    # an upload whose upload_done never comes (its MD5 did not match): bytes held
    with pytest.raises(ChecksumMismatchError, match="left unfinished"):
        sbi.transfer.upload(place, "cut.txt", [b"xyz"], 3, expected_md5="0" * 32)
    upload = max(w.jobs)
    assert w.jobs[upload]["state_id"] == 100 and (w.transfers_dir() / f"upload-{upload}").exists()
    # a download whose url is never fetched
    answer = sbi.transfer._call(
        place,
        "initiate_download",
        {"location_in_sub_type": "", "file_name": "kept.txt"},
        name="kept.txt",
    )
    download = int(answer["jobId"])
    sbi.transfer.wait(place, download, "kept.txt")
    assert (w.transfers_dir() / f"download-{download}").exists()
    # and a file no job holds, left by a sandbox killed long ago
    stray = w.transfers_dir() / ".part-left-over"
    stray.write_bytes(b"old")
    os.utime(stray, (0, 0))
    assert _until(lambda: list(w.transfers_dir().iterdir()) == [])
    assert w.jobs[upload]["state_id"] == 102 and w.jobs[download]["state_id"] == 102
    assert w.uploads == {} and w.downloads == {}
    # the finished file is untouched; asking for the lost url says it is gone
    assert (w.root / "sbi" / p.folder / "Left" / "reads" / "kept.txt").read_bytes() == b"abc"
    with pytest.raises(SbiJobError) as err:
        sbi.transfer._call(
            place, "download_reference", {"job_id": download}, name="kept.txt", job_id=download
        )
    assert err.value.status == 404


def test_staging_checks_md5_once_in_the_write_and_refuses_changed_bytes(sbi):
    """The download is not hashed a second time (the write hashes what it
    stores): a file whose SBI bytes differ from md5sum.txt is still refused."""
    _archive(sbi)
    rel = sorted(sbi.delivered)[0]
    stored = sbi.stored / rel
    changed = bytearray(stored.read_bytes())
    changed[-1] ^= 0xFF  # same size: only the MD5 tells
    stored.write_bytes(bytes(changed))
    hashed = []
    original = sbi.transfer.finish_download

    def finish_download(*a, **kw):
        receiving = original(*a, **kw)
        hashed.append(receiving.hasher.md5)
        return receiving

    sbi.transfer.finish_download = finish_download
    with pytest.raises(TransferError) as err:
        stage(
            sbi.home,
            sbi.api,
            f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
            "nels://Projects/UiB-Test-Project/checked/",
            transfer=sbi.transfer,
        )
    said = str(err.value)
    assert rel.rsplit("/", 1)[-1] in said and "MD5" in said.upper()
    assert set(hashed) == {None}  # no MD5 taken on the way in
    back = sbi.world.project_dir(sbi.cast.project) / "checked" / SPEC.run
    assert not (back / rel).exists()
    assert (back / "md5sum.txt").read_text() == (sbi.stored / "md5sum.txt").read_text()


def _log_jobs(sbi, events: list, fail_at: int | None = None) -> None:
    """Record when each file's download job is started and when its bytes are
    taken; with ``fail_at``, the job started as the fail_at-th ends in 102."""
    start, finish = sbi.transfer.start_download, sbi.transfer.finish_download

    def start_download(place, name, **kw):
        if fail_at is not None and sum(e[0] == "start" for e in events) + 1 == fail_at:
            fail_next_jobs(sbi.server.app, 1)
        events.append(("start", name))
        return start(place, name, **kw)

    def finish_download(place, name, job_id, **kw):
        events.append(("finish", name))
        return finish(place, name, job_id, **kw)

    sbi.transfer.start_download = start_download
    sbi.transfer.finish_download = finish_download


def test_staging_starts_the_next_files_jobs_while_one_moves(sbi):
    """NeLS prepares each download by itself: the jobs of the next files are
    started before an earlier file's bytes are taken, a few at a time, each
    once, and every file lands as it was."""
    from nels_core.sbi.stage import STARTED_AHEAD

    _archive(sbi)
    events: list[tuple[str, str]] = []
    _log_jobs(sbi, events)
    report = stage(
        sbi.home,
        sbi.api,
        f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
        "nels://Projects/UiB-Test-Project/ahead",
        transfer=sbi.transfer,
    )
    started = [name for what, name in events if what == "start"]
    taken = [name for what, name in events if what == "finish"]
    assert sorted(started) == sorted(taken) and len(set(started)) == len(started) > STARTED_AHEAD
    assert events[:STARTED_AHEAD] == [("start", name) for name in started[:STARTED_AHEAD]]
    assert events.index(("start", started[1])) < events.index(("finish", started[0]))
    waiting = 0  # jobs started and not yet taken
    for what, _ in events:
        waiting += 1 if what == "start" else -1
        assert waiting <= STARTED_AHEAD
    back = sbi.world.project_dir(sbi.cast.project) / "ahead" / SPEC.run
    assert len(report.received) == len(started)
    assert {rel: (back / rel).read_bytes() for rel in sbi.delivered} == {
        rel: (sbi.stored / rel).read_bytes() for rel in sbi.delivered
    }


def test_a_later_files_job_failing_stops_staging_at_that_file(sbi):
    """The third file's job, started while the first moved, fails: the files
    before it are in NeLS, the message names it, and no later file is written."""
    _archive(sbi)
    events: list[tuple[str, str]] = []
    _log_jobs(sbi, events, fail_at=3)
    with pytest.raises(TransferError) as err:
        stage(
            sbi.home,
            sbi.api,
            f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}",
            "nels://Projects/UiB-Test-Project/stopped",
            transfer=sbi.transfer,
        )
    third = [name for what, name in events if what == "start"][2]
    said = str(err.value)
    assert f"{third}: StoreBioinfo transfer job" in said and "ended in state 102" in said
    assert "Staging stopped: 2 of 15 files are in NeLS" in said
    back = sbi.world.project_dir(sbi.cast.project) / "stopped"
    assert len([p for p in back.rglob("*") if p.is_file()]) == 2


def test_staging_a_subfolder_checks_it_against_the_checksum_file_above_it(sbi):
    """Only the run's fastq/ is staged: its md5sum.txt, one folder up in SBI,
    still names every file's MD5, and a file whose bytes changed is refused."""
    _archive(sbi)
    fastq = sorted(rel for rel in sbi.delivered if rel.startswith("fastq/"))
    report = stage(
        sbi.home,
        sbi.api,
        f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}/fastq",
        "nels://Projects/UiB-Test-Project/only-reads/",
        transfer=sbi.transfer,
    )
    assert report.md5_checked == len(fastq) == len(report.received)
    back = sbi.world.project_dir(sbi.cast.project) / "only-reads"
    assert sorted(p.name for p in (back / "fastq").iterdir()) == [r[6:] for r in fastq]
    assert not (back / "md5sum.txt").exists()  # read from SBI, not staged

    stored = sbi.stored / fastq[-1]
    changed = bytearray(stored.read_bytes())
    changed[-1] ^= 0xFF  # same size: only the MD5 above tells
    stored.write_bytes(bytes(changed))
    with pytest.raises(TransferError) as err:
        stage(
            sbi.home,
            sbi.api,
            f"sbi://UiB-Test-Project/Run1/reads/{SPEC.run}/fastq",
            "nels://Projects/UiB-Test-Project/again/",
            transfer=sbi.transfer,
        )
    assert fastq[-1].rsplit("/", 1)[-1] in str(err.value) and "MD5" in str(err.value).upper()
    assert not (sbi.world.project_dir(sbi.cast.project) / "again" / fastq[-1]).exists()
