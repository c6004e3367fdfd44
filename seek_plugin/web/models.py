"""The web app's own state, in the extension's database beside the SEEK links."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class WebUser(Base):
    """A person who signed in with NeLS; their NeLS token, encrypted, while it lives."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    nels_id: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    nels_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SeekAccount(Base):
    """A SEEK API token a user connected, encrypted at rest."""

    __tablename__ = "seek_accounts"
    __table_args__ = (UniqueConstraint("user_id", "seek_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    seek_url: Mapped[str] = mapped_column(String(500))
    person: Mapped[str] = mapped_column(String(200))  # who SEEK says the token belongs to
    token: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Job(Base):
    """Long work (a push, a pull) run in the background, with its progress."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # push, pull
    subject: Mapped[str] = mapped_column(String(1000))  # the NeLS folder or investigation
    state: Mapped[str] = mapped_column(String(20), default="queued")  # running, done, failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
