"""``/health``: what a load balancer or monitor asks. The database and the
job queue answer, and how long the oldest job has waited for a worker (a
number that only grows when no worker runs). 200 when all answer, else 503
naming what does not; nothing about users, nothing secret."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from .context import db
from .models import Job
from .sessions import as_utc

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    checks = {"database": _database(), "queue": _queue()}
    waited = _oldest_queued() if checks["database"] == "ok" else None
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "failing", **checks, "oldest_queued_seconds": waited}
    return jsonify(body), 200 if healthy else 503


def _database() -> str:
    try:
        with db().engine.connect() as c:
            c.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        current_app.logger.warning("health: the database does not answer", exc_info=True)
        return "not answering"


def _queue() -> str:
    client = redis.Redis.from_url(
        current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=2
    )
    try:
        return "ok" if client.ping() else "not answering"
    except redis.RedisError:
        return "not answering"
    finally:
        client.close()


def _oldest_queued() -> int | None:
    with db().sessions() as s:
        oldest = s.scalar(select(func.min(Job.created)).where(Job.state == "queued"))
    if oldest is None:
        return 0
    return int((datetime.now(UTC) - as_utc(oldest)).total_seconds())
