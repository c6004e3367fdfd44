"""Which version of the schema a database is at, and bringing it to this one.

The migrations are Alembic's, shipped in ``nels_web/migrations`` and run on
a connection handed over in code (no ``alembic.ini``). Every process that
opens the database checks it (``seek_plugin.db.Database``): an empty one is
made at once, one behind is refused until an administrator runs ``nels-bundle
db upgrade`` (once, for all the web processes and workers sharing it).

Releases before migrations made their tables with ``create_all`` and left no
``alembic_version``; such a database is recognised and stamped with the
revision its tables match.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from nels_core.errors import ConfigError
from seek_plugin.db import Base, open_engine

from . import flashes, models  # noqa: F401 - their tables join the SEEK links on Base

TABLES = Base.metadata  # every table of the extension and its web app
MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_RELEASE = "0001_first_release"  # what the releases without migrations made
# PostgreSQL advisory lock key: one process at a time makes, stamps or upgrades the schema
SCHEMA_LOCK = 0x6E656C73


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings, made here rather than read from an alembic.ini;
    the migrations run on ``connection`` (migrations/env.py takes it)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision this version of nels-bundle needs."""
    return _scripts().get_current_head()


def current(url: str) -> str | None:
    """The revision the database at ``url`` is stamped with (None: none)."""
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            return _revision(conn)
    finally:
        engine.dispose()


def upgrade(url: str) -> tuple[str | None, str]:
    """Brings the database at ``url`` to head, an empty one included;
    returns its revision before (None: empty) and after."""
    engine = open_engine(url)
    try:
        with _schema_transaction(engine) as conn:
            before = _adopt(conn)
            if before != head():
                command.upgrade(alembic_config(conn), "head")
            return before, _revision(conn)
    finally:
        engine.dispose()


def prepare(engine: Engine) -> None:
    """What a process does on opening the database: an empty one gets every
    table and is stamped at head; an old release's is stamped with its
    revision; one not at head is then refused (``check``)."""
    with _schema_transaction(engine) as conn:
        revision = _adopt(conn)
        if revision is None:
            TABLES.create_all(conn)
            _stamp(conn, head())
            revision = head()
    _require_head(engine, revision)


def check(engine: Engine) -> None:
    """Refuses a database that holds our tables but is not at head."""
    with engine.connect() as conn:
        revision = _revision(conn)
        if revision is None and not _our_tables(conn):
            return  # empty: the first process to open it makes it
    _require_head(engine, revision)


def _require_head(engine: Engine, revision: str | None) -> None:
    if revision != head():
        where = engine.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the database at {where} is at revision {revision or 'none'}, "
            f"this version needs {head()}: run nels-bundle db upgrade --web-config SETTINGS "
            "(the file serve reads; --db URL for another database)"
        )


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that one process at a time holds: processes starting
    together on a new database make its tables once, and a failed migration
    is rolled back whole (both databases roll DDL back)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # the write lock at once; pysqlite would begin only at the first INSERT
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        yield conn
        conn.commit()


def _adopt(conn: Connection) -> str | None:
    """The database's revision, once a database made before migrations is
    stamped with the one its tables match. None: no tables of ours yet."""
    revision = _revision(conn)
    if revision is not None:
        return revision
    present = _our_tables(conn)
    if not present:
        return None
    if "jobs" in present and "params" not in _columns(conn, "jobs"):
        revision = FIRST_RELEASE  # the web app's tables before jobs ran on workers
    elif not _differences(conn, present):
        # tables as this version makes them, some missing: the CLI's own database
        # (seek push) had the SEEK links alone
        TABLES.create_all(conn)
        revision = head()
    else:
        where = conn.engine.url.render_as_string(hide_password=True)
        raise ConfigError(
            f"the database at {where} holds nels-bundle tables that match no release's; "
            "it was not made by nels-bundle, or was changed by hand"
        )
    _stamp(conn, revision)
    return revision


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _columns(conn: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(conn).get_columns(table)}


def _our_tables(conn: Connection) -> set[str]:
    """Our tables in the database (it may hold others' too)."""
    return set(inspect(conn).get_table_names()) & set(TABLES.tables)


def _differences(conn: Connection, tables: set[str]) -> list:
    """How ``tables`` in the database differ from the models (Alembic's autogenerate)."""

    def among(obj, name, type_, _reflected, _compare_to) -> bool:
        return (name if type_ == "table" else obj.table.name) in tables

    options = {**COMPARED, "include_object": among}
    return compare_metadata(MigrationContext.configure(conn, opts=options), TABLES)


def server_defaults_differ(
    context, _column, _model_column, found, _model_default, wanted
) -> bool | None:
    """Alembic's SQLite comparison unquotes only non-empty strings: it takes
    a default of '' in the database (read back as '' or ('')) for another one
    than the model's ''. False (the same) for that case alone; None leaves the
    rest to Alembic."""
    if context.dialect.name == "sqlite" and found in ("''", "('')") and wanted == "":
        return False
    return None


# what autogenerate compares, here and in migrations/env.py: types and server defaults too
COMPARED = {"compare_type": True, "compare_server_default": server_defaults_differ}


def _stamp(conn: Connection, revision: str) -> None:
    MigrationContext.configure(conn).stamp(_scripts(), revision)
