"""Flashed messages kept on the server, not in the cookie.

Flask keeps what ``flask.flash`` says in the signed session cookie: a sheet's
long list of problems once made a 7.6 MB ``Set-Cookie``, and every request
after it was refused for its headers. Views still call ``flask.flash``; when
the request ends its messages move to the database, under a random id the
session keeps (the cookie's only part of them), and the next page takes them
from there, each shown once.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, g, session
from sqlalchemy import DateTime, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from seek_plugin.db import Base, Database

BOX = "flash_box"  # the session's key for this browser's messages
FLASHED = "_flashes"  # where flask.flash puts them (Flask's own key)
MAX_LINE_CHARS = 2_000  # of one line of a message (a value a problem quotes)
MAX_CHARS = 50_000  # of one message
MAX_WAITING = 20  # messages kept for a browser that does not come back for them
KEPT = timedelta(days=1)  # then they are dropped


class FlashedMessage(Base):
    """A message waiting for its browser's next page."""

    __tablename__ = "flashed_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    box: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(50))
    message: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


def register(app: Flask) -> None:
    app.after_request(_keep)
    # base.html calls get_flashed_messages(): this one, which reads the database
    app.jinja_env.globals["get_flashed_messages"] = get_flashed_messages


def get_flashed_messages(with_categories: bool = False, category_filter=()) -> list:
    """flask.get_flashed_messages, from the database: the messages flashed
    for this browser, taken (once per request) so that they show only once."""
    if "flashes" not in g:
        g.flashes = [*session.pop(FLASHED, []), *_taken()]
    flashes = g.flashes
    if category_filter:
        flashes = [f for f in flashes if f[0] in category_filter]
    return flashes if with_categories else [message for _, message in flashes]


def _keep(response):
    """What this request flashed and no page showed, moved into the database."""
    flashed = session.pop(FLASHED, None)
    if flashed:
        box = session.get(BOX) or _new_box()
        _store(box, [(category, _cut(str(message))) for category, message in flashed])
    return response


def _new_box() -> str:
    session[BOX] = secrets.token_urlsafe(24)
    return session[BOX]


def _cut(message: str) -> str:
    """The message as a page shows it: each line cut, so that a list's last
    line ("and 4980 more") stays; then the whole."""
    lines = message.split("\n")
    cut = "\n".join(
        line[:MAX_LINE_CHARS] + "…" if len(line) > MAX_LINE_CHARS else line for line in lines
    )
    return cut if len(cut) <= MAX_CHARS else cut[:MAX_CHARS] + "\n…"


def _store(box: str, flashed: list[tuple[str, str]]) -> None:
    now = datetime.now(UTC)
    with _db().sessions() as s, s.begin():
        s.execute(delete(FlashedMessage).where(FlashedMessage.created < now - KEPT))
        s.add_all(FlashedMessage(box=box, category=c[:50], message=m) for c, m in flashed)
        s.flush()
        newest = select(FlashedMessage.id).where(FlashedMessage.box == box)
        newest = newest.order_by(FlashedMessage.id.desc()).limit(MAX_WAITING)
        s.execute(
            delete(FlashedMessage).where(
                FlashedMessage.box == box, FlashedMessage.id.not_in(newest.scalar_subquery())
            )
        )


def _taken() -> list[tuple[str, str]]:
    box = session.get(BOX)
    if not isinstance(box, str):
        return []
    with _db().sessions() as s, s.begin():
        rows = s.scalars(
            select(FlashedMessage).where(FlashedMessage.box == box).order_by(FlashedMessage.id)
        ).all()
        if rows:
            s.execute(delete(FlashedMessage).where(FlashedMessage.id.in_([r.id for r in rows])))
    return [(r.category, r.message) for r in rows]


def _db() -> Database:
    return current_app.extensions["nels_bundle"]["db"]
