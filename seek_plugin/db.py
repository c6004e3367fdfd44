"""The extension's database: which SEEK record stands for which NeLS item.

SQLAlchemy, SQLite by default (``sqlite:///path``), PostgreSQL by URL. A
link is written before its record is created (``seek_id`` empty: pending)
and completed right after, each in its own transaction, so a push that
dies half-way knows exactly which record it may have left behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

# Not a SEEK record: the link under this key remembers which version of the
# folder's sheet the last push sent (its file name in ``seek_id``; "none" for
# no sheet, "" unknown), so that a pull can tell SEEK's edits from the sheet's.
SHEET_KEY = "sheet"
NO_SHEET_SENT = "none"


class Base(DeclarativeBase):
    pass


class SeekLink(Base):
    __tablename__ = "seek_links"
    __table_args__ = (UniqueConstraint("seek_url", "seek_project", "source", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seek_url: Mapped[str] = mapped_column(String(500))
    seek_project: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(1000))  # the NeLS location pushed
    key: Mapped[str] = mapped_column(String(1000))  # the item within it, e.g. "study:run1"
    kind: Mapped[str] = mapped_column(String(50))
    seek_id: Mapped[str | None] = mapped_column(String(50), nullable=True)  # None: pending
    digest: Mapped[str] = mapped_column(String(64), default="")
    updated: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )


class Database:
    """The database, its schema checked: an empty one is made, one of an
    older version refused until ``nels-bundle db upgrade`` (nels_web.schema)."""

    def __init__(self, url: str):
        # here, not at the top: nels_web imports this module. The schema holds the
        # web app's tables too, so the CLI's own database is a complete one as well
        from nels_web import schema

        self.engine = open_engine(url)
        schema.prepare(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # for reads of one statement or a few that need not agree: no BEGIN and
        # no ROLLBACK around them, one round trip each instead of three (a web
        # page reads the database several times and waits on every trip)
        self.reads = sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )

    def links(self, seek_url: str, project: str, source: str) -> dict[str, SeekLink]:
        with self.reads() as s:
            rows = s.scalars(
                select(SeekLink).where(
                    SeekLink.seek_url == seek_url,
                    SeekLink.seek_project == project,
                    SeekLink.source == source,
                )
            )
            return {r.key: r for r in rows}

    def find(self, seek_url: str, kind: str, seek_id: str) -> SeekLink | None:
        """The link to one SEEK record, whichever push made it."""
        with self.reads() as s:
            return s.scalars(
                select(SeekLink).where(
                    SeekLink.seek_url == seek_url,
                    SeekLink.kind == kind,
                    SeekLink.seek_id == str(seek_id),
                )
            ).first()

    def save(self, link: SeekLink) -> SeekLink:
        link.updated = datetime.now(UTC)
        with self.sessions() as s, s.begin():
            merged = s.merge(link)
        return merged

    @contextmanager
    def link_writes(self) -> Iterator[LinkWrites]:
        """What a push writes of its links, over one connection kept for the push."""
        with self.engine.connect() as conn:
            yield LinkWrites(conn)

    def session(self) -> Session:
        return self.sessions()


class LinkWrites:
    """A push writes two of these per record it creates, each committed on its
    own: pending before the create is sent, complete once SEEK answered. The
    ORM's merge (a SELECT of the row, then its UPDATE, a Session and a pooled
    connection each time) took 1.9-2.4 ms a record, a quarter to a third of the
    request to SEEK; one statement over the push's own connection, 0.15 ms."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def pending(self, link: SeekLink) -> SeekLink:
        """``link`` stored with no SEEK id; its row id filled in when it is new."""
        link.seek_id, link.digest, link.updated = None, "", datetime.now(UTC)
        values = _link_values(link)
        with self.conn.begin():
            if link.id is None:
                link.id = self.conn.execute(_INSERT_LINK, values).inserted_primary_key[0]
            else:
                self.conn.execute(_UPDATE_LINK, {"link_id": link.id, **values})
        return link

    def complete(self, link: SeekLink, seek_id: str, digest: str) -> SeekLink:
        """The SEEK id and digest of a link's record, once SEEK holds it (just
        created, found again, or changed)."""
        link.seek_id, link.digest, link.updated = seek_id, digest, datetime.now(UTC)
        values = {"link_id": link.id, "seek_id": seek_id, "digest": digest, "updated": link.updated}
        with self.conn.begin():
            self.conn.execute(_UPDATE_LINK, values)
        return link


_LINKS = SeekLink.__table__
# built once, values bound at each call: building a statement around its values
# (coercing each into a bound parameter) cost more than running it
_INSERT_LINK = insert(_LINKS)
_UPDATE_LINK = update(_LINKS).where(_LINKS.c.id == bindparam("link_id"))


def _link_values(link: SeekLink) -> dict:
    return {
        "seek_url": link.seek_url,
        "seek_project": link.seek_project,
        "source": link.source,
        "key": link.key,
        "kind": link.kind,
        "seek_id": link.seek_id,
        "digest": link.digest,
        "updated": link.updated,
    }


def open_engine(url: str) -> Engine:
    """The engine every user of the database makes: a SQLite file is its
    owner's alone and in WAL mode."""
    # a web process serves up to 8 requests at once (gunicorn's threads) beside
    # its heartbeats: past the pool's size every request would connect anew
    # (a new PostgreSQL backend process each time) and close after
    pool = {} if url.startswith("sqlite") else {"pool_size": 10, "max_overflow": 10}
    engine = create_engine(url, **pool)
    if engine.dialect.name == "sqlite" and engine.url.database:
        _private_file(engine.url.database)
    if url.startswith("sqlite"):
        # one commit per SEEK record: WAL keeps that cheap and safe
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _private_file(path: str) -> None:
    """The database file (it holds encrypted tokens, sessions, job records)
    readable by its owner alone, made so before SQLite writes to it; SQLite
    gives its -wal and -shm files the same mode."""
    if path == ":memory:":
        return
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)


def _sqlite_pragmas(conn, _record) -> None:
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
