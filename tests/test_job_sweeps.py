"""Beat's sweeps with a real Redis and Celery's real worker: old pulls are
removed and nothing else, a job no worker took over is said to have failed
without anyone reading it, a job whose queue message was lost is too (and
one merely waiting behind a busy worker is not), and ``nels-bundle beat``
itself sends the sweeps."""

import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from test_web import production_settings

from nels_sandbox.job_worker import BeatProcess, ThreadWorker
from nels_web import job_kinds
from nels_web.jobs import ABANDONED
from nels_web.models import Job, WebUser
from nels_web.queue import TASK
from nels_web.sweeps import FIND_LOST, FORGET_PULLS, LOST, SETTLE_ABANDONED, probe_waiting_jobs

PASSWORD = "hunter2-in-a-lost-job"
DB = 4  # the tests' Redis database for this file (test_job_queue uses 3)


@pytest.fixture
def site(tmp_path, redis_server, monkeypatch):
    """A web app on the tests' Redis, its settings in a file (beat reads
    them too), and a stand-in job kind that records what it was given."""
    from nels_web import create_app

    redis.Redis.from_url(redis_server.url(DB)).flushdb()
    config = production_settings(
        tmp_path,
        REDIS_URL=redis_server.url(DB),
        JOB_HEARTBEAT=0.2,
        JOB_STALE_AFTER=1,  # also the probe's pause before it says a message was lost
        JOB_REDELIVER_AFTER=30,
        JOB_QUEUED_CHECK_AFTER=60,  # the tests make a job old enough by hand
        SWEEP_EVERY=0.5,
    )
    settings = tmp_path / "web-config.json"
    settings.write_text(json.dumps(config))
    app = create_app(settings)
    app.settings_file = settings
    calls: list[dict] = []

    def probe(job, progress):
        calls.append({"params": job.params, "secrets": job.secrets})
        time.sleep(job.params.get("sleep", 0))
        return {"n": len(calls)}

    monkeypatch.setitem(job_kinds.KINDS, "probe", probe)
    with app.extensions["nels_bundle"]["db"].sessions() as s, s.begin():
        s.add(WebUser(id=1, nels_id=11, name="Ada"))
    yield app, calls
    app.extensions["nels_bundle"]["db"].engine.dispose()


def runner(app):
    return app.extensions["nels_bundle"]["jobs"]


def sweep(app, name: str) -> None:
    """One sweep sent as beat sends it, for a worker to run."""
    app.extensions["nels_bundle"]["celery"].send_task(name)


def row(app, job_id: str) -> Job:
    """The job as stored: not through JobRunner, whose reads settle abandoned jobs."""
    with app.extensions["nels_bundle"]["db"].sessions() as s:
        return s.get(Job, job_id)


def add_job(app, **values) -> str:
    """A job row as a worker left it, with no message in the queue."""
    job = Job(id=uuid.uuid4().hex, user_id=1, kind="probe", subject="probe", params="{}")
    for key, value in values.items():
        setattr(job, key, value)
    with app.extensions["nels_bundle"]["db"].sessions() as s, s.begin():
        s.add(job)
    return job.id


def set_job(app, job_id: str, **values) -> None:
    with app.extensions["nels_bundle"]["db"].sessions() as s, s.begin():
        job = s.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)


def until(check, seconds: float = 10, what: str = "the sweep's work"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {seconds:g} s")


def ago(**delta) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def recording(function, results: list):
    """``function``, each of its results kept in ``results``."""

    def call(*args):
        results.append(function(*args))
        return results[-1]

    return call


def make_pulls(work: Path) -> tuple[Path, Path, Path]:
    """An old pull's folder, a young one's, and the deposit records (old too)."""
    old, young, deposits = work / ("a" * 32), work / ("b" * 32), work / "deposits"
    for folder in (old, young, deposits):
        folder.mkdir(parents=True)
        (folder / "isa-bundle.zip").write_bytes(b"zip")
    eight_days = time.time() - 8 * 86400
    for folder in (old, deposits):
        os.utime(folder, (eight_days, eight_days))
    return old, young, deposits


def test_the_sweep_removes_old_pulls_only(site):
    app, _ = site
    old, young, deposits = make_pulls(Path(app.config["WORK_DIR"]))
    worker = ThreadWorker(app).start()
    try:
        sweep(app, FORGET_PULLS)
        until(lambda: not old.exists(), what="the old pull removed")
    finally:
        worker.stop()
    assert young.is_dir() and (young / "isa-bundle.zip").exists()  # PULL_KEEP_DAYS is 7
    assert (deposits / "isa-bundle.zip").exists()


def test_a_job_no_worker_took_over_fails_without_anyone_reading_it(site):
    app, calls = site
    # give up after 30 s (redelivery) + 6 s (its sweep) + 3 x 1 s (stale claims)
    abandoned = add_job(
        app, state="running", worker="gone:1:1", attempts=1, heartbeat=ago(seconds=40)
    )
    alive = add_job(app, state="running", worker="busy:1:1", attempts=1, heartbeat=ago(seconds=30))
    worker = ThreadWorker(app).start()
    try:
        sweep(app, SETTLE_ABANDONED)
        job = until(lambda: (j := row(app, abandoned)).state != "running" and j)
    finally:
        worker.stop()
    assert job.state == "failed" and job.message == ABANDONED.format(minutes=39 / 60)
    assert job.finished is not None and job.worker == "" and calls == []
    assert row(app, alive).state == "running" and row(app, alive).worker == "busy:1:1"


def test_a_job_whose_queue_message_was_lost_fails_saying_so(site, redis_server):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {}, {"webin_password": PASSWORD})
    queue = redis.Redis.from_url(redis_server.url(DB))
    assert queue.delete("celery") == 1  # Redis restarted without keeping its queue
    assert probe_waiting_jobs(app) == []  # not yet waited JOB_QUEUED_CHECK_AFTER
    set_job(app, job_id, created=ago(minutes=5))
    worker = ThreadWorker(app).start()
    try:
        sweep(app, FIND_LOST)
        job = until(lambda: (j := row(app, job_id)).state != "queued" and j, what="the job settled")
    finally:
        worker.stop()
    assert job.state == "failed" and job.message == LOST and job.finished is not None
    assert calls == [] and job.attempts == 0  # never run, not even without its password
    assert runner(app).get(job_id, 1).message == LOST  # what the job page says


def test_two_sweeps_at_once_send_one_probe(site):
    app, _ = site
    job_id = add_job(app, state="queued", created=ago(minutes=5))
    assert probe_waiting_jobs(app) == [job_id]
    assert probe_waiting_jobs(app) == []  # its probe is in the queue already
    worker = ThreadWorker(app).start()
    try:
        job = until(lambda: (j := row(app, job_id)).state != "queued" and j, what="the job settled")
    finally:
        worker.stop()
    assert job.state == "failed" and job.message == LOST


def test_a_job_waiting_behind_a_busy_worker_is_not_taken_for_lost(site, redis_server):
    app, calls = site
    worker = ThreadWorker(app, concurrency=1).start()
    try:
        first = runner(app).start(1, "probe", "probe", {"sleep": 1.5})
        until(lambda: row(app, first).state == "running", what="the first job running")
        second = runner(app).start(1, "probe", "probe", {"n": 2}, {"webin_password": PASSWORD})
        waiting = redis.Redis.from_url(redis_server.url(DB)).lrange("celery", 0, -1)
        assert second.encode() in b"".join(waiting)  # its message still in the queue
        set_job(app, second, created=ago(minutes=5))
        assert probe_waiting_jobs(app) == [second]  # a probe behind its message
        until(lambda: row(app, second).state == "done", what="the second job done")
        time.sleep(1.5)  # the probe's pause (JOB_STALE_AFTER) and more
    finally:
        worker.stop()
    job = row(app, second)
    assert job.state == "done" and job.message == "" and job.attempts == 1
    assert calls[-1] == {"params": {"n": 2}, "secrets": {"webin_password": PASSWORD}}


def test_a_job_claimed_while_its_probe_pauses_is_left_alone(site, monkeypatch):
    from nels_web import sweeps

    app, calls = site
    app.config["JOB_STALE_AFTER"] = 2  # the probe's pause, long enough to claim the job in
    looked, settled = [], []  # what the probe's first and second looks found
    monkeypatch.setattr(sweeps, "_unclaimed", recording(sweeps._unclaimed, looked))
    monkeypatch.setattr(sweeps, "_mark_lost", recording(sweeps._mark_lost, settled))
    job_id = add_job(app, state="queued", created=ago(minutes=5))
    assert probe_waiting_jobs(app) == [job_id]
    worker = ThreadWorker(app).start()
    try:
        until(lambda: looked, what="the probe's first look")
        # its message after all, as a worker that died before claiming it gives it back
        app.extensions["nels_bundle"]["celery"].send_task(TASK, (job_id, None))
        until(lambda: settled, what="the probe's second look")
    finally:
        worker.stop()
    assert looked == [True] and settled == [False] and len(calls) == 1
    assert row(app, job_id).state == "done"


def test_a_retry_whose_message_was_lost_fails_once_it_is_overdue(site):
    app, _ = site
    # put back after a lost connection: its delayed message is a worker's for up to
    # 10 minutes (the longest pause), then back in the queue if that worker is gone
    pausing = add_job(app, state="queued", attempts=1, heartbeat=ago(minutes=5))
    overdue = add_job(app, state="queued", attempts=2, heartbeat=ago(hours=2))
    assert probe_waiting_jobs(app) == [overdue]
    worker = ThreadWorker(app).start()
    try:
        job = until(lambda: (j := row(app, overdue)).state != "queued" and j, what="settled")
    finally:
        worker.stop()
    assert job.state == "failed" and job.message == LOST and job.attempts == 2
    assert row(app, pausing).state == "queued"


def test_beat_sends_the_sweeps(site, tmp_path):
    app, _ = site
    work = Path(app.config["WORK_DIR"])
    old, young, _ = make_pulls(work)
    abandoned = add_job(
        app, state="running", worker="gone:1:1", attempts=1, heartbeat=ago(seconds=40)
    )
    lost = add_job(app, state="queued", created=ago(minutes=5))
    worker = ThreadWorker(app).start()
    beat = BeatProcess(app.settings_file, tmp_path / "beat.log").start()  # SWEEP_EVERY 0.5 s
    try:
        until(
            lambda: (
                not old.exists()
                and row(app, abandoned).state == "failed"
                and row(app, lost).state == "failed"
            ),
            seconds=30,
            what="every sweep's work",
        )
    finally:
        beat.stop()
        worker.stop()
    log = (tmp_path / "beat.log").read_text()
    assert "Sending due task" in log and FORGET_PULLS in log, log[-2000:]
    assert young.is_dir() and row(app, lost).message == LOST
    assert list(work.glob("beat-schedule*"))  # its schedule in WORK_DIR, not the current folder
