"""Jobs as the web app sees them: it writes the job's row, enqueues its id
for a worker (``nels_web.worker``) with the secrets sealed in the message,
and reads the row back. A job whose worker stopped and that no worker took
over is said to have failed, with the reason, never left "running": when
it is read, or at beat's next sweep (``nels_web.sweeps``), whichever comes first."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from celery import Celery
from sqlalchemy import select, update

from nels_core.errors import NelsError
from seek_plugin.db import Database

from .crypto import Vault
from .models import Job
from .queue import TASK, taken_over_within
from .sessions import as_utc

log = logging.getLogger(__name__)
NOT_QUEUED = "The job queue cannot be reached, so the job was not started. Try again later."
ABANDONED = (
    "The worker running this job stopped, and no other took it over within {minutes:g} "
    "minutes. Start it again: what was already done is not done twice."
)


class JobRunner:
    def __init__(self, db: Database, celery: Celery, vault: Vault, config):
        self.db, self.celery, self.vault = db, celery, vault
        # a running job not taken over by then never will be: no worker has its message
        self.give_up = timedelta(
            seconds=taken_over_within(config) + float(config["JOB_STALE_AFTER"])
        )

    def start(
        self, user_id: int, kind: str, subject: str, params: dict, secrets: dict | None = None
    ) -> str:
        """The job recorded and queued; its id. ``params`` are stored with the
        job; ``secrets`` travel only in the queued message, sealed."""
        job = Job(
            id=uuid.uuid4().hex, user_id=user_id, kind=kind, subject=subject,
            params=json.dumps(params),
        )  # fmt: skip
        with self.db.sessions() as s, s.begin():
            s.add(job)
        sealed = self.vault.seal_json(secrets) if secrets else None
        try:
            # no Celery expiry: an expired message would be dropped unseen, the job
            # left queued; the worker finds the sealed secrets expired and says so
            self.celery.send_task(TASK, (job.id, sealed))
        except Exception:  # kombu's errors for a broker away are many
            log.exception("job %s could not be queued", job.id)
            self._set(job.id, state="failed", message=NOT_QUEUED, finished=datetime.now(UTC))
            raise NelsError(NOT_QUEUED) from None
        return job.id

    def get(self, job_id: str, user_id: int) -> Job | None:
        """The job, only for the user who started it."""
        with self.db.sessions() as s:
            job = s.get(Job, job_id)
        if job is None or job.user_id != user_id:
            return None
        return self._settled([job])[0]

    def of_user(self, user_id: int, limit: int = 200) -> list[Job]:
        """The user's jobs, newest first."""
        with self.db.sessions() as s:
            newest = select(Job).where(Job.user_id == user_id).order_by(Job.created.desc())
            return self._settled(list(s.scalars(newest.limit(limit))))

    def _settled(self, jobs: list[Job]) -> list[Job]:
        """``jobs``, those running without a sign of life for too long marked
        failed first (written only then: the job page asks twice a second)."""
        cutoff = datetime.now(UTC) - self.give_up
        stale = [
            j.id for j in jobs
            if j.state == "running" and j.heartbeat is not None and as_utc(j.heartbeat) < cutoff
        ]  # fmt: skip
        if not stale:
            return jobs
        self.settle_abandoned(stale)
        with self.db.sessions() as s:
            fresh = {j.id: j for j in s.scalars(select(Job).where(Job.id.in_(stale)))}
        return [fresh.get(j.id, j) for j in jobs]

    def settle_abandoned(self, ids: list[str] | None = None) -> int:
        """Running jobs (of ``ids``, else all) without a sign of life for
        longer than any worker takes to take one over, marked failed with
        the reason; how many. Called when jobs are read and by beat's sweep
        (``nels_web.sweeps``): the heartbeat is looked at in the update
        itself, so a worker's claim or a second sweep at once changes nothing."""
        cutoff = datetime.now(UTC) - self.give_up
        abandoned = update(Job).where(Job.state == "running", Job.heartbeat < cutoff)
        if ids is not None:
            abandoned = abandoned.where(Job.id.in_(ids))
        said = ABANDONED.format(minutes=self.give_up.total_seconds() / 60)
        with self.db.sessions() as s, s.begin():
            settled = s.execute(
                abandoned.values(
                    state="failed", message=said, worker="", finished=datetime.now(UTC)
                )
            ).rowcount
        if settled:
            log.warning("%d running job(s) marked failed: no worker took them over", settled)
        return settled

    def _set(self, job_id: str, **values) -> None:
        with self.db.sessions() as s, s.begin():
            s.execute(update(Job).where(Job.id == job_id).values(**values))
