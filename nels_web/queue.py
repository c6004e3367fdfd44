"""The job queue: one Celery app per web app, on Redis. The web app only
enqueues a job's id; a worker (``nels-bundle worker``) runs it. A job's
outcome is its database row, so no result backend is kept (Celery's Redis
backend would also hold a web request for 20 s when Redis is away).
Messages are acknowledged after the job, so a worker that dies mid-job
leaves its message to be delivered again (``nels_web.worker`` decides what
a second delivery does). ``nels-bundle beat`` sends the periodic sweeps
(``nels_web.sweeps``) through the same queue."""

from __future__ import annotations

from celery import Celery
from flask import Flask

from nels_core.errors import ConfigError

TASK = "nels_web.run_job"


def make_celery(app: Flask) -> Celery:
    url = app.config.get("REDIS_URL")
    if not url:
        raise ConfigError(
            "the web app needs REDIS_URL (redis://host:port/db): its jobs run on Celery workers"
        )
    celery = Celery(app.import_name, broker=url, set_as_current=False)
    redeliver = int(app.config["JOB_REDELIVER_AFTER"])
    sweep = restore_sweep(app.config)
    celery.conf.update(
        task_acks_late=True,  # a job's message stays until the job is over
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # one waiting job per worker slot, not a backlog
        task_ignore_result=True,  # a job's outcome is its database row, nothing else
        result_expires=None,  # no results to clean: beat schedules no cleanup of them
        task_serializer="json",
        accept_content=["json"],
        # a message not acknowledged this long is delivered again (its worker died)
        broker_transport_options={
            "visibility_timeout": redeliver,
            # every live worker looks for dead ones' messages this often (kombu's
            # default, 100 s, is far longer than a short visibility timeout)
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
        },
        # a web request never waits long on a broker that is away: it says so instead
        broker_connection_timeout=3,
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0.5, "interval_step": 0},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
    )
    from . import delivery_watch, sweeps, worker

    worker.register(celery, app)
    sweeps.register(celery, app)
    delivery_watch.register(celery, app)  # adds to the sweeps' beat schedule
    return celery


def restore_sweep(config) -> int:
    """Seconds between a worker's looks for messages whose worker died."""
    return max(1, int(config["JOB_REDELIVER_AFTER"]) // 5)


def taken_over_within(config) -> float:
    """Seconds after which a dead worker's job has been taken over if any
    worker runs: its message back in the queue (the visibility timeout, then
    the next sweep), then its claim gone stale."""
    redelivered = float(config["JOB_REDELIVER_AFTER"]) + restore_sweep(config)
    return redelivered + 2 * float(config["JOB_STALE_AFTER"])
