"""Jobs on Celery and Redis (both real): a job runs once however often its
message arrives, a dead worker's job is taken over, one nobody took over
is said to have failed, a lost connection is tried again, passwords travel
sealed and expire, a queue that is away is said to be, and folder locks
hold across clients and outlive no holder."""

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import text
from test_web import production_settings

from nels_core.errors import NelsError
from nels_sandbox.job_worker import ThreadWorker
from nels_web import job_kinds
from nels_web.jobs import ABANDONED, NOT_QUEUED
from nels_web.models import Job, WebUser
from nels_web.queue import TASK

PASSWORD = "hunter2-in-a-job"


@pytest.fixture
def site(tmp_path, redis_server, monkeypatch):
    """A web app on the tests' Redis, with a worker in a thread and a
    stand-in job kind that records what it was given."""
    from nels_web import create_app

    redis.Redis.from_url(redis_server.url(3)).flushdb()
    config = production_settings(
        tmp_path,
        REDIS_URL=redis_server.url(3),
        JOB_HEARTBEAT=0.2,
        JOB_STALE_AFTER=2,
        JOB_RETRY_PAUSE=0.2,
        JOB_REDELIVER_AFTER=30,
    )
    app = create_app(None, config)
    calls: list[dict] = []
    monkeypatch.setitem(job_kinds.KINDS, "probe", _probe(calls))
    with app.extensions["nels_bundle"]["db"].sessions() as s, s.begin():
        s.add(WebUser(id=1, nels_id=11, name="Ada"))
    yield app, calls
    app.extensions["nels_bundle"]["db"].engine.dispose()


def _probe(calls):
    def probe(job, progress):
        if "lock" in job.params:  # as pushes and deposits take their folder's
            from nels_web.locks import WAITING, folder_lock

            waiting = lambda: progress(0, 2, WAITING)  # noqa: E731
            with folder_lock(job.params.pop("lock"), waiting=waiting):
                progress(0, 2, "")
                return probe(job, progress)
        calls.append({"params": job.params, "secrets": job.secrets, "at": time.monotonic()})
        progress(1, 2, job.params.get("note"))
        time.sleep(job.params.get("sleep", 0))
        failures = job.params.get("lose_connection", 0)
        if len(calls) <= failures:
            raise ConnectionResetError("the connection was reset by the peer")
        return {"n": len(calls)}

    return probe


def runner(app):
    return app.extensions["nels_bundle"]["jobs"]


def wait(app, job_id: str, states=("done", "failed"), seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = runner(app).get(job_id, 1)
        if job.state in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.state}: {job.message}")


def test_a_job_runs_once_however_often_its_message_arrives(site):
    app, calls = site
    celery = app.extensions["nels_bundle"]["celery"]
    job_id = runner(app).start(1, "probe", "probe", {"sleep": 1.0})
    worker = ThreadWorker(app, concurrency=3).start()
    try:
        wait(app, job_id, ("running",))
        for _ in range(2):  # a redelivery while it runs, as after a visibility timeout
            celery.send_task(TASK, (job_id, None))
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert job.state == "done" and json.loads(job.result) == {"n": 1}
    assert len(calls) == 1 and job.attempts == 1 and job.done == 1 and job.total == 2


def test_the_job_page_says_what_a_running_job_is_doing(site):
    app, _ = site
    note = "Sending reads to ENA: file 2 of 6 (Liver-1_R2.fastq.gz), 12.0 MB of 40.0 MB"
    job_id = runner(app).start(1, "probe", "probe", {"sleep": 1.5, "note": note})
    worker = ThreadWorker(app).start()
    try:
        deadline = time.monotonic() + 10
        while runner(app).get(job_id, 1).message != note and time.monotonic() < deadline:
            time.sleep(0.05)
        running = runner(app).get(job_id, 1)
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert running.state == "running" and running.message == note and running.done == 1
    assert job.state == "done" and job.message == ""


def test_jobs_on_one_folder_run_one_after_the_other_and_say_so(site):
    from nels_web.locks import WAITING

    app, calls = site
    worker = ThreadWorker(app, concurrency=2).start()
    try:
        first = runner(app).start(1, "probe", "probe", {"lock": "push Projects/A", "sleep": 1.5})
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:  # the first holds the lock
            time.sleep(0.02)
        second = runner(app).start(1, "probe", "probe", {"lock": "push Projects/A", "sleep": 0})
        while runner(app).get(second, 1).message != WAITING and time.monotonic() < deadline:
            time.sleep(0.05)
        waited = runner(app).get(second, 1)
        jobs = [wait(app, first), wait(app, second)]
    finally:
        worker.stop()
    assert waited.state == "running" and waited.message == WAITING
    assert [j.state for j in jobs] == ["done", "done"] and jobs[1].message == ""
    assert calls[1]["at"] - calls[0]["at"] >= 1.4  # the second began when the first ended


def test_a_dead_workers_job_is_taken_over(site):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {})
    db = app.extensions["nels_bundle"]["db"]
    long_ago = datetime.now(UTC) - timedelta(seconds=10)
    with db.sessions() as s, s.begin():  # claimed by a worker that then died
        s.get(Job, job_id).state, s.get(Job, job_id).worker = "running", "gone:1:1"
        s.get(Job, job_id).heartbeat, s.get(Job, job_id).attempts = long_ago, 1
    worker = ThreadWorker(app).start()
    try:
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert job.state == "done" and job.attempts == 2 and len(calls) == 1
    assert job.worker != "gone:1:1"


def test_a_job_no_worker_took_over_is_said_to_have_failed(site):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {})  # no worker runs here
    db = app.extensions["nels_bundle"]["db"]
    with db.sessions() as s, s.begin():
        job = s.get(Job, job_id)
        job.state, job.worker, job.attempts = "running", "gone:1:1", 1
        # taken over within 30 s (redelivery) + 6 s (the next sweep) + 2 x 2 s (stale claims)
        job.heartbeat = datetime.now(UTC) - timedelta(seconds=39)  # not long enough yet
    assert runner(app).get(job_id, 1).state == "running"
    with db.sessions() as s, s.begin():
        s.get(Job, job_id).heartbeat = datetime.now(UTC) - timedelta(seconds=45)
    job = runner(app).get(job_id, 1)
    assert job.state == "failed" and job.finished is not None
    assert job.message == ABANDONED.format(minutes=42 / 60)
    assert "no other took it over" in job.message and calls == []


def test_a_lost_connection_is_tried_again_after_a_pause(site):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {"lose_connection": 2})
    worker = ThreadWorker(app).start()
    try:
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert job.state == "done" and job.attempts == 3 and job.message == ""
    pauses = [b["at"] - a["at"] for a, b in zip(calls, calls[1:], strict=False)]
    assert pauses[0] >= 0.2 and pauses[1] >= 0.8  # 0.2 s, then four times as long


def test_retries_end_with_the_reason(site):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {"lose_connection": 10})
    worker = ThreadWorker(app).start()
    try:
        job = wait(app, job_id, seconds=60)
    finally:
        worker.stop()
    assert job.state == "failed" and job.attempts == 4 and len(calls) == 4  # JOB_RETRIES 3
    assert job.message == "The connection was lost. Not done (tried 4 times; try again later)."


def test_passwords_travel_sealed_and_are_kept_nowhere(site, redis_server):
    app, calls = site
    job_id = runner(app).start(1, "probe", "probe", {"n": 1}, {"webin_password": PASSWORD})
    queued = redis.Redis.from_url(redis_server.url(3))
    waiting = b"".join(queued.lrange("celery", 0, -1))
    assert job_id.encode() in waiting and PASSWORD.encode() not in waiting
    worker = ThreadWorker(app).start()
    try:
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert job.state == "done" and calls[0]["secrets"] == {"webin_password": PASSWORD}
    assert calls[0]["params"] == {"n": 1}
    for key in queued.keys("*"):  # nothing in Redis: not the queue, not a result
        kind = queued.type(key)
        held = queued.dump(key) if kind != b"none" else b""
        assert PASSWORD.encode() not in (held or b""), key
    engine = app.extensions["nels_bundle"]["db"].engine
    with engine.connect() as c:
        for table in ("jobs", "web_users"):
            rows = c.execute(text(f"SELECT * FROM {table}")).fetchall()
            assert PASSWORD not in repr(rows)


def test_a_job_that_waited_past_its_passwords_life_is_not_run(site, monkeypatch):
    app, calls = site
    app.config["JOB_SECRET_TTL"] = 1
    job_id = runner(app).start(1, "probe", "probe", {}, {"webin_password": PASSWORD})
    time.sleep(2.1)  # Fernet's ttl counts whole seconds
    worker = ThreadWorker(app).start()
    try:
        job = wait(app, job_id)
    finally:
        worker.stop()
    assert job.state == "failed" and calls == []
    assert "waited longer than its passwords are kept" in job.message


def test_a_queue_that_is_away_is_said_to_be(tmp_path):
    from nels_sandbox.sshd import free_port
    from nels_web import create_app

    app = create_app(
        None, production_settings(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    )
    with app.extensions["nels_bundle"]["db"].sessions() as s, s.begin():
        s.add(WebUser(id=1, nels_id=11, name="Ada"))
    started = time.monotonic()
    with pytest.raises(NelsError) as refused:
        runner(app).start(1, "probe", "probe", {}, {"webin_password": PASSWORD})
    assert str(refused.value) == NOT_QUEUED
    assert time.monotonic() - started < 20  # said, not hung
    (job,) = runner(app).of_user(1)
    assert job.state == "failed" and job.message == NOT_QUEUED


def test_a_folder_lock_holds_across_clients_and_outlives_no_holder(site, redis_server):
    from nels_web import locks

    app, _ = site
    order: list[str] = []
    with app.app_context():
        with locks.folder_lock("deposit Projects/A"):
            with pytest.raises(locks.FolderBusy):
                with locks.folder_lock("deposit Projects/A", wait=0.3):
                    pass
            with locks.folder_lock("deposit Projects/A/x", wait=0.3):  # another folder
                order.append("other folder")

        # a holder that died: its lock (taken by hand, never renewed) expires
        key = next(iter(redis.Redis.from_url(redis_server.url(3)).keys("nels-bundle:lock:*")), None)
        assert key is None  # released on leaving
        with locks.folder_lock("deposit Projects/A"):
            key = redis.Redis.from_url(redis_server.url(3)).keys("nels-bundle:lock:*")[0]
        raw = redis.Redis.from_url(redis_server.url(3))
        raw.set(key, b"dead-holder", px=800)

        def second():
            with app.app_context(), locks.folder_lock("deposit Projects/A", wait=5):
                order.append("after the dead holder")

        t = threading.Thread(target=second)
        started = time.monotonic()
        t.start()
        t.join(10)
    assert order == ["other folder", "after the dead holder"]
    assert 0.5 < time.monotonic() - started < 5


def test_only_old_pulled_bundles_are_forgotten(tmp_path):
    import os

    from nels_web.seek_jobs import forget_old_pulls

    old, new = "a" * 32, "b" * 32
    for name in (old, new, "deposits", "c" * 31):
        (tmp_path / name).mkdir()
        (tmp_path / name / "isa-bundle.zip").write_bytes(b"zip")
    week_ago = time.time() - 8 * 86400
    for name in (old, "deposits", "c" * 31):  # deposit records are never pulls' to remove
        os.utime(tmp_path / name, (week_ago, week_ago))
    assert forget_old_pulls(tmp_path, 7) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([new, "deposits", "c" * 31])
    assert forget_old_pulls(tmp_path / "none-yet", 7) == 0
