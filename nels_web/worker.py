"""What a worker does with a job's message.

A job is claimed in the database before it runs: one atomic update moves it
from queued (or from running with a heartbeat gone stale: its worker died)
to running under this worker's name. A second delivery of the same message
finds it claimed and does nothing but look again later, so a job runs once
while its worker lives and is taken over when it does not. While it runs a
heartbeat thread keeps the claim fresh. A lost connection to NeLS, SEEK,
ENA or BioStudies puts the job back in the queue with a backoff (the work is
idempotent: a push or deposit run again sends only what is missing). A
message lost with the queue (Redis restarted without keeping it) is found
by beat's sweep (``nels_web.sweeps``), which says the job failed: its
secrets travelled in that message only, so no copy of it could run the job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests
from celery import Celery
from flask import Flask
from sqlalchemy import and_, or_, update

from nels_core.errors import NelsError, TransferError

from .models import Job
from .queue import TASK
from .wording import told

log = logging.getLogger(__name__)
INTERNAL = "Something went wrong on our side (it was logged). Try again later."
EXPIRED = (
    "The job waited longer than its passwords are kept ({hours:g} h) and was not run. "
    "Start it again."
)
LONGEST_RETRY_PAUSE = 600  # seconds: a job put back after a lost connection waits no longer


@dataclass(frozen=True)
class JobInput:
    """What a job kind is given: the row's parameters and the message's secrets."""

    id: str
    user_id: int
    kind: str
    params: dict
    secrets: dict = field(repr=False)


# progress(done, total) or progress(done, total, note): the note is what the job page
# says under the bar while the job runs ("Sending reads to ENA: file 2 of 6, ...")
Progress = Callable[..., None]


def register(celery: Celery, app: Flask) -> None:
    @celery.task(name=TASK, bind=True, max_retries=None, shared=False)  # this app only
    def run_job(task, job_id: str, sealed: str | None = None):
        with app.app_context():
            _Run(app, task, job_id, sealed).run()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class _Run:
    def __init__(self, app: Flask, task, job_id: str, sealed: str | None):
        state = app.extensions["nels_bundle"]
        self.db, self.vault, self.config = state["db"], state["vault"], app.config
        self.task, self.job_id, self.sealed = task, job_id, sealed
        self.me = worker_name()
        self.stale = timedelta(seconds=float(self.config["JOB_STALE_AFTER"]))

    def run(self) -> None:
        job, claimed = self._claim()
        if job is None:
            return
        if not claimed:  # another worker's, alive: look again once it may not be
            self.task.apply_async((self.job_id, self.sealed), countdown=self.stale.seconds)
            return
        secrets = self._secrets()
        if secrets is None:
            ttl = float(self.config["JOB_SECRET_TTL"])
            self._finish("failed", message=EXPIRED.format(hours=ttl / 3600))
            return
        from .job_kinds import KINDS

        given = JobInput(job.id, job.user_id, job.kind, json.loads(job.params or "{}"), secrets)
        with _Heartbeat(self):
            try:
                result = KINDS[job.kind](given, self._progress())
            except Exception as e:
                if self._again(job, e):
                    return
                self._failed(e, job.attempts)
            else:
                self._finish("done", result=json.dumps(result), message="")

    def _claim(self) -> tuple[Job | None, bool]:
        """(the job, whether this worker claimed it); no job when it is over."""
        now = datetime.now(UTC)
        with self.db.sessions() as s, s.begin():
            claimed = s.execute(
                update(Job)
                .where(
                    Job.id == self.job_id,
                    or_(
                        Job.state == "queued",
                        and_(Job.state == "running", Job.heartbeat < now - self.stale),
                    ),
                )
                .values(state="running", worker=self.me, heartbeat=now, attempts=Job.attempts + 1)
            ).rowcount
            job = s.get(Job, self.job_id)
        if job is None or job.state in ("done", "failed"):
            return None, False
        if claimed:
            log.info("job %s (%s) claimed, attempt %d", job.id, job.kind, job.attempts)
        return job, bool(claimed)

    def _secrets(self) -> dict | None:
        if not self.sealed:
            return {}
        return self.vault.open_json(self.sealed, ttl=float(self.config["JOB_SECRET_TTL"]))

    def _progress(self) -> Progress:
        last = {"at": 0.0, "note": None}

        def progress(done: int, total: int, note: str | None = None) -> None:
            now = time.monotonic()
            # not one commit per record or chunk, but a note shown or cleared at once
            shown_or_cleared = (
                note is not None and note != last["note"] and not (note and last["note"])
            )
            if done == total or shown_or_cleared or now - last["at"] > 0.3:
                last["at"] = now
                said = {}
                if note is not None:
                    said["message"] = last["note"] = note
                self._mine(done=done, total=total, heartbeat=datetime.now(UTC), **said)

        return progress

    def beat(self) -> bool:
        """The claim kept fresh; False once the job is no longer this worker's."""
        return self._mine(heartbeat=datetime.now(UTC))

    def _again(self, job: Job, e: Exception) -> bool:
        """A lost connection: the job back in the queue, to run again after a
        pause (5 s, 20 s, 80 s, ...), as long as retries are left."""
        retries = int(self.config["JOB_RETRIES"])
        if not lost_connection(e) or job.attempts > retries:
            return False
        pause = float(self.config["JOB_RETRY_PAUSE"]) * 4 ** (job.attempts - 1)
        pause = min(pause, LONGEST_RETRY_PAUSE)
        said = f"{_lost(e)} Trying again in {pause:g} s."
        log.warning("job %s: %s (attempt %d)", job.id, said, job.attempts)
        if not self._mine(state="queued", worker="", message=said):
            return True  # taken over meanwhile: the other worker carries on
        self.task.apply_async((self.job_id, self.sealed), countdown=pause)
        return True

    def _failed(self, e: Exception, attempts: int) -> None:
        if lost_connection(e):  # said in words: not "something went wrong on our side"
            tries = f"tried {attempts} times; " if attempts > 1 else ""
            log.warning("job %s failed: %s", self.job_id, e)
            self._finish("failed", message=f"{_lost(e)} Not done ({tries}try again later).")
        elif isinstance(e, NelsError):  # our messages never hold secrets
            self._finish("failed", message=told(e))
        else:
            log.exception("job %s failed", self.job_id)
            self._finish("failed", message=INTERNAL)

    def _finish(self, state: str, **values) -> None:
        self._mine(state=state, finished=datetime.now(UTC), **values)

    def _mine(self, **values) -> bool:
        """``values`` written while the job is this worker's (a worker whose
        claim went stale and was taken over writes nothing)."""
        with self.db.sessions() as s, s.begin():
            return bool(
                s.execute(
                    update(Job).where(Job.id == self.job_id, Job.worker == self.me).values(**values)
                ).rowcount
            )


class _Heartbeat:
    """A thread that keeps the claim fresh while the job runs."""

    def __init__(self, run: _Run):
        self.run, self.stop = run, threading.Event()
        self.every = float(run.config["JOB_HEARTBEAT"])

    def __enter__(self):
        self.thread = threading.Thread(target=self._beat, name="nels-job-heartbeat", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.run.beat()
            except Exception:  # the database away for a moment: the next beat tries again
                log.warning("job %s: heartbeat not written", self.run.job_id, exc_info=True)


def _lost(e: Exception) -> str:
    """A lost connection in words: ours say which service; another's text may say anything."""
    return told(e) if isinstance(e, NelsError) else "The connection was lost."


def lost_connection(e: BaseException) -> bool:
    """Whether ``e`` (or what caused it) is a connection lost or refused, a
    timeout, or a service answering "unavailable": worth trying again later."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, TransferError | ConnectionError | TimeoutError):
            return True
        if isinstance(e, requests.ConnectionError | requests.Timeout):
            return True
        if getattr(e, "status", None) in (502, 503, 504):
            return True
        e, seen = e.__cause__ or e.__context__, seen + 1
    return False
