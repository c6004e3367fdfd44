"""Periodic work: ``nels-bundle beat`` sends each sweep every ``SWEEP_EVERY``
seconds and whichever worker is free runs it. Pulled bundles older than
``PULL_KEEP_DAYS`` are removed; running jobs that no worker took over are
marked failed (``JobRunner.settle_abandoned``), as the job page would;
queued jobs whose message the queue lost are marked failed too.

Every sweep may run twice at once, late, or not for a while (no worker
free): each writes only what its conditions still hold for when it writes.
A sweep not begun before the next one is due is dropped; the next does its work.

A lost message: Redis restarted without persistence forgets the queued
messages. The job's id alone cannot run it (its secrets travelled in that
message only), and sending the id again while the real message still waits
behind a busy queue would let the copy win. So the sweep queues a probe
behind each job that has waited long: the queue is first in, first out, so
once the probe reaches a worker the job's own message, if it still existed,
has reached one too and been claimed. The probe then waits ``JOB_STALE_AFTER``
(for a claim being written) and marks the job failed if it is still queued
and unclaimed. A job put back after a lost connection waits on a delayed
message a worker holds (one that dies or loses Redis gives it back to the
queue after ``JOB_REDELIVER_AFTER``): its probe is sent only once that
message would be back in the queue, after the longest pause and that time.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from celery import Celery
from flask import Flask
from sqlalchemy import and_, or_, select, update

from .models import Job
from .queue import taken_over_within
from .worker import LONGEST_RETRY_PAUSE

log = logging.getLogger(__name__)
FORGET_PULLS = "nels_web.sweep.forget_old_pulls"
SETTLE_ABANDONED = "nels_web.sweep.settle_abandoned"
FIND_LOST = "nels_web.sweep.find_lost_jobs"
SWEEPS = (FORGET_PULLS, SETTLE_ABANDONED, FIND_LOST)
PROBE = "nels_web.sweep.lost_job_probe"  # sent by FIND_LOST, behind the job's message
PROBED = "nels-bundle:lost-job-probe:"  # a Redis key per probe in the queue
PROBE_KEPT = 3600  # seconds: at most one probe a job an hour, however long the queue
LOST = (
    "The job's message in the job queue was lost (the queue was restarted), and the job "
    "cannot run without it. Start it again."
)


def register(celery: Celery, app: Flask) -> None:
    """The sweeps as this app's tasks, and beat's schedule of them."""
    every = float(app.config["SWEEP_EVERY"])
    celery.conf.beat_schedule = {
        name: {"task": name, "schedule": every, "options": {"expires": every}} for name in SWEEPS
    }

    @celery.task(name=FORGET_PULLS, shared=False)  # this app only, as its jobs
    def forget_pulls() -> int:
        from .seek_jobs import forget_old_pulls  # the pull's folder layout is theirs

        return forget_old_pulls(Path(app.config["WORK_DIR"]), float(app.config["PULL_KEEP_DAYS"]))

    @celery.task(name=SETTLE_ABANDONED, shared=False)
    def settle_abandoned() -> int:
        return app.extensions["nels_bundle"]["jobs"].settle_abandoned()

    @celery.task(name=FIND_LOST, shared=False)
    def find_lost() -> int:
        return len(probe_waiting_jobs(app))

    @celery.task(name=PROBE, bind=True, shared=False)
    def probe(task, job_id: str, attempts: int, paused: bool = False) -> None:
        db = app.extensions["nels_bundle"]["db"]
        if not paused:  # the job's message reached a worker before this: give its claim time
            if _unclaimed(db, job_id, attempts):
                pause = float(app.config["JOB_STALE_AFTER"])
                task.apply_async((job_id, attempts, True), countdown=pause)
            return
        if _mark_lost(db, job_id, attempts):
            log.warning("job %s: its queue message was lost; marked failed", job_id)


def probe_waiting_jobs(app: Flask) -> list[str]:
    """A probe queued behind each job waiting longer than its message takes
    to reach a worker, when none is in the queue yet; the ids probed."""
    state, config = app.extensions["nels_bundle"], app.config
    now = datetime.now(UTC)
    never_claimed = and_(
        Job.attempts == 0,
        Job.created < now - timedelta(seconds=float(config["JOB_QUEUED_CHECK_AFTER"])),
    )
    retry_overdue = and_(Job.attempts > 0, Job.heartbeat < now - _retry_back_in_queue(config))
    with state["db"].sessions() as s:
        waiting = s.execute(
            select(Job.id, Job.attempts).where(
                Job.state == "queued", or_(never_claimed, retry_overdue)
            )
        ).all()
    if not waiting:
        return []
    probed = []
    client = redis.Redis.from_url(config["REDIS_URL"])
    try:
        for job_id, attempts in waiting:
            # the key goes with the probe if Redis forgets: then a new probe is sent
            if client.set(f"{PROBED}{job_id}:{attempts}", b"1", nx=True, ex=PROBE_KEPT):
                state["celery"].send_task(PROBE, (job_id, attempts))
                probed.append(job_id)
    finally:
        client.close()
    return probed


def _retry_back_in_queue(config) -> timedelta:
    """How long after its last heartbeat a job put back after a lost
    connection has been run, or its delayed message is back in the queue
    (its worker died, or lost Redis for a moment), plus the usual wait."""
    seconds = LONGEST_RETRY_PAUSE + taken_over_within(config)
    return timedelta(seconds=seconds + float(config["JOB_QUEUED_CHECK_AFTER"]))


def _unclaimed(db, job_id: str, attempts: int) -> bool:
    with db.sessions() as s:
        job = s.get(Job, job_id)
    return job is not None and job.state == "queued" and job.attempts == attempts


def _mark_lost(db, job_id: str, attempts: int) -> bool:
    """The job failed, saying why, if no worker claimed it since the probe was
    sent (a claim counts an attempt); whether it was."""
    with db.sessions() as s, s.begin():
        return bool(
            s.execute(
                update(Job)
                .where(Job.id == job_id, Job.state == "queued", Job.attempts == attempts)
                .values(state="failed", message=LOST, worker="", finished=datetime.now(UTC))
            ).rowcount
        )
