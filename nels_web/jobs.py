"""Background jobs: a small thread pool, progress written to the database."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from nels_core.errors import NelsError
from seek_plugin.db import Database

from .models import Job
from .wording import told

log = logging.getLogger(__name__)
INTERNAL = "Something went wrong on our side (it was logged). Try again later."
# work(progress, job_id) -> result; progress(done, total)
Work = Callable[[Callable[[int, int], None], str], dict]


class JobRunner:
    def __init__(self, db: Database, workers: int = 2):
        self.db = db
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="nels-job")

    def start(self, user_id: int, kind: str, subject: str, work: Work) -> str:
        job = Job(id=uuid.uuid4().hex, user_id=user_id, kind=kind, subject=subject)
        with self.db.sessions() as s, s.begin():
            s.add(job)
        self.pool.submit(self._run, job.id, work)
        return job.id

    def get(self, job_id: str, user_id: int) -> Job | None:
        """The job, only for the user who started it."""
        with self.db.sessions() as s:
            job = s.get(Job, job_id)
            return job if job is not None and job.user_id == user_id else None

    def of_user(self, user_id: int, limit: int = 200) -> list[Job]:
        """The user's jobs, newest first."""
        with self.db.sessions() as s:
            newest = select(Job).where(Job.user_id == user_id).order_by(Job.created.desc())
            return list(s.scalars(newest.limit(limit)))

    def _update(self, job_id: str, **values) -> None:
        with self.db.sessions() as s, s.begin():
            job = s.get(Job, job_id)
            for k, v in values.items():
                setattr(job, k, v)

    def _run(self, job_id: str, work: Work) -> None:
        self._update(job_id, state="running")
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or now - last[0] > 0.3:  # not one commit per record
                last[0] = now
                self._update(job_id, done=done, total=total)

        try:
            result = work(progress, job_id)
        except NelsError as e:  # our messages never hold secrets
            self._update(job_id, state="failed", message=told(e))
        except Exception:
            log.exception("job %s failed", job_id)
            self._update(job_id, state="failed", message=INTERNAL)
        else:
            self._update(job_id, state="done", result=json.dumps(result))

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True)
