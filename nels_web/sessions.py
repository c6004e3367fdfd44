"""Server-side sessions. The cookie holds only a random id; the database
keeps its hash, the user, when it began, when it was last used and when it
ends. Signing out deletes the row, so a cookie copied earlier is worth
nothing afterwards, whoever signs in later; idle and absolute timeouts
(``SESSION_IDLE_TIMEOUT``, ``SESSION_ABSOLUTE_TIMEOUT``, seconds) end the rest.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, session
from sqlalchemy import delete, func, or_, select, update

from seek_plugin.db import Database

from .models import WebSession, WebUser

# the last use is written at most this often: not one write per request
TOUCH_EVERY = timedelta(minutes=1)


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as UTC: SQLite gives it back without its time zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def hashed(secret: str) -> str:
    """What the database keeps of a session id or a state: enough to find
    the row, useless to whoever reads the database."""
    return hashlib.sha256(secret.encode()).hexdigest()


def begin(user_id: int) -> None:
    """A session for the user who just signed in: a fresh id (never one the
    browser brought along), the old one ended."""
    end()
    sid, started = secrets.token_urlsafe(32), now()
    with _db().sessions() as s, s.begin():
        s.execute(delete(WebSession).where(_ended(started)))  # tidy up now and then
        s.add(
            WebSession(
                id_hash=hashed(sid),
                user_id=user_id,
                created=started,
                last_used=started,
                expires=started + _seconds("SESSION_ABSOLUTE_TIMEOUT"),
            )
        )
    session["sid"] = sid


def signed_in_user() -> WebUser | None:
    """The user whose live session this request carries; an ended one is
    deleted. One read for both (every page asks), a write only now and then."""
    sid = session.get("sid")
    if not isinstance(sid, str):
        return None
    moment, key = now(), hashed(sid)
    with _db().reads() as s:
        found = s.execute(
            select(WebSession, WebUser)
            .join(WebUser, WebUser.id == WebSession.user_id)
            .where(WebSession.id_hash == key)
        ).first()
    if found is None or not _live(found[0], moment):
        if found is not None:
            with _db().sessions() as s, s.begin():
                s.execute(delete(WebSession).where(WebSession.id_hash == key))
        session.pop("sid", None)
        return None
    row, user = found
    if moment - as_utc(row.last_used) > TOUCH_EVERY:
        with _db().sessions() as s, s.begin():
            s.execute(update(WebSession).where(WebSession.id_hash == key).values(last_used=moment))
    return user


def end() -> None:
    """Sign this browser out: its session row deleted, its cookie emptied."""
    sid = session.get("sid")
    if isinstance(sid, str):
        with _db().sessions() as s, s.begin():
            s.execute(delete(WebSession).where(WebSession.id_hash == hashed(sid)))
    session.clear()


def end_all(user_id: int) -> int:
    """Sign the user out on every browser; how many sessions that ended."""
    with _db().sessions() as s, s.begin():
        ended = s.execute(delete(WebSession).where(WebSession.user_id == user_id)).rowcount
    session.clear()
    return ended


def live_sessions(user_id: int) -> int:
    """How many browsers the user is signed in on."""
    with _db().reads() as s:
        query = select(func.count()).where(WebSession.user_id == user_id, ~_ended(now()))
        return s.scalar(query.select_from(WebSession))


def _live(row: WebSession, moment: datetime) -> bool:
    idle = moment - as_utc(row.last_used)
    return moment < as_utc(row.expires) and idle < _seconds("SESSION_IDLE_TIMEOUT")


def _ended(moment: datetime):
    """The sessions past their end or idle too long, as a query condition."""
    idle_since = moment - _seconds("SESSION_IDLE_TIMEOUT")
    return or_(WebSession.expires <= moment, WebSession.last_used <= idle_since)


def _seconds(key: str) -> timedelta:
    return timedelta(seconds=float(current_app.config[key]))


def _db() -> Database:
    return current_app.extensions["nels_bundle"]["db"]
