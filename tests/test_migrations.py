"""The database's schema under Alembic: the migrations make what the models
say, an old release's database is refused until `nels-bundle db upgrade`,
which keeps its rows; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, make_url, text
from test_web import production_settings

from nels_cli.main import main
from nels_core.errors import ConfigError
from nels_web import schema
from nels_web.models import Job
from seek_plugin.db import Database

SEEK = "https://seek.example.org"
SOURCE = "nels://Projects/P/run1"


def differences(url: str) -> list:
    """What Alembic's autogenerate would change to make the database match the models."""
    engine = create_engine(url)
    with engine.connect() as conn:
        found = compare_metadata(
            MigrationContext.configure(conn, opts=schema.COMPARED), schema.TABLES
        )
    engine.dispose()
    return found


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    engine.dispose()
    return names


def run_sql(url: str, *statements: str, **values) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), values)
    engine.dispose()


def old_release_database(url: str) -> None:
    """A database as the releases before migrations left it: the first
    release's tables (made by create_all then), no alembic_version, and in
    it a job and a SEEK link."""
    engine = create_engine(url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.FIRST_RELEASE)
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    run_sql(
        url,
        "INSERT INTO web_users (id, nels_id, name, created) VALUES (1, 261, 'Alice', :now)",
        "INSERT INTO jobs (id, user_id, kind, subject, state, done, total, message, result,"
        " created) VALUES ('job1', 1, 'push', 'nels://Projects/P', 'done', 3, 3, 'pushed',"
        " '{\"records\": 3}', :now)",
        "INSERT INTO seek_links (seek_url, seek_project, source, key, kind, seek_id, digest,"
        " updated) VALUES (:seek, '7', :source, 'study:run1', 'study', '42', 'd1', :now)",
        now=datetime.now(UTC),
        seek=SEEK,
        source=SOURCE,
    )


def settings_file(tmp_path, url: str):
    """The web app's settings as a site writes them (TOML), naming the database."""
    path = tmp_path / "web.toml"
    settings = production_settings(tmp_path, DATABASE_URL=url)
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
    return path


def nels_bundle(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_an_empty_database_is_made_at_head(database_url):
    Database(database_url)
    assert schema.current(database_url) == schema.head()
    assert set(schema.TABLES.tables) <= tables(database_url)
    assert differences(database_url) == []


def test_the_migrations_make_what_the_models_say(database_url):
    assert schema.upgrade(database_url) == (None, schema.head())
    assert differences(database_url) == []
    Database(database_url)  # opens it, nothing to do


def test_the_second_migration_brings_the_first_release_to_the_models(database_url):
    """Revision 1 is the schema before jobs ran on workers: without the five
    columns and the index, which the models have."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.FIRST_RELEASE)
    engine.dispose()
    missing = {(diff[0], diff[-1].name) for diff in differences(database_url)}
    new_columns = ("params", "attempts", "worker", "heartbeat", "finished")
    assert missing == {
        *(("add_column", c) for c in new_columns),
        ("add_index", "ix_jobs_state"),
        *DELIVERY_WATCH,
    }
    assert schema.upgrade(database_url) == (schema.FIRST_RELEASE, schema.head())
    assert differences(database_url) == []


# what the third migration adds: NeLS's refresh token, the delivery watcher's tables
DELIVERY_WATCH = {
    ("add_column", "nels_refresh"),
    ("add_table", "delivery_watches"),
    ("add_table", "seen_deliveries"),
}


def test_the_third_migration_adds_the_delivery_watch_and_keeps_the_users(database_url):
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), "0002_job_workers")
    engine.dispose()
    run_sql(
        database_url,
        "INSERT INTO web_users (id, nels_id, name, nels_token, created)"
        " VALUES (1, 261, 'Alice', :sealed, :now)",
        sealed=b"gAAAA-sealed",
        now=datetime.now(UTC),
    )
    assert {(diff[0], diff[-1].name) for diff in differences(database_url)} == DELIVERY_WATCH
    assert schema.upgrade(database_url) == ("0002_job_workers", schema.head())
    assert differences(database_url) == []
    engine = create_engine(database_url)
    with engine.connect() as conn:
        user = conn.execute(text("SELECT nels_token, nels_refresh FROM web_users")).one()
    engine.dispose()
    assert (bytes(user.nels_token), user.nels_refresh) == (b"gAAAA-sealed", None)


def test_an_old_release_database_is_refused_until_db_upgrade(database_url, tmp_path):
    old_release_database(database_url)
    with pytest.raises(ConfigError, match="run nels-bundle db upgrade --web-config") as refused:
        Database(database_url)
    assert f"at revision {schema.FIRST_RELEASE}, this version needs {schema.head()}" in str(
        refused.value
    )
    assert schema.current(database_url) == schema.FIRST_RELEASE  # recognised, stamped
    with pytest.raises(ConfigError):  # and still refused on the next start
        Database(database_url)

    config = settings_file(tmp_path, database_url)
    result = nels_bundle("db", "upgrade", "--web-config", str(config))
    assert result.exit_code == 0, result.output
    assert f"upgraded from revision {schema.FIRST_RELEASE} to {schema.head()} (head)" in (
        result.output
    )
    assert differences(database_url) == []

    db = Database(database_url)  # opens now
    with db.session() as s:
        job = s.get(Job, "job1")
    assert (job.state, job.done, job.message, json.loads(job.result)) == (
        "done",
        3,
        "pushed",
        {"records": 3},
    )
    # the new columns' values for a job of the release before them
    assert (json.loads(job.params), job.attempts, job.worker) == ({}, 0, "")
    assert (job.heartbeat, job.finished) == (None, None)
    link = db.links(SEEK, "7", SOURCE)["study:run1"]
    assert (link.kind, link.seek_id, link.digest) == ("study", "42", "d1")

    again = nels_bundle("db", "upgrade", "--web-config", str(config))
    assert again.exit_code == 0, again.output
    assert f": at revision {schema.head()} (head)" in again.output
    current = nels_bundle("db", "current", "--web-config", str(config))
    assert f": at revision {schema.head()} (head)" in current.output


def test_db_current_says_what_an_old_database_needs(database_url):
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(schema.alembic_config(conn), schema.FIRST_RELEASE)
    engine.dispose()
    result = nels_bundle("db", "current", "--db", database_url)
    assert result.exit_code == 0, result.output
    assert f"at revision {schema.FIRST_RELEASE}, this version needs {schema.head()}" in (
        result.output
    )
    assert "run nels-bundle db upgrade" in result.output


def test_the_cli_database_of_a_release_before_migrations_is_completed(database_url):
    """`nels-bundle seek push` kept the SEEK links alone: those tables are
    as this version makes them, so the rest is added and it is at head."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        schema.TABLES.tables["seek_links"].create(conn)
    engine.dispose()
    run_sql(
        database_url,
        "INSERT INTO seek_links (seek_url, seek_project, source, key, kind, seek_id, digest,"
        " updated) VALUES (:seek, '7', :source, 'investigation', 'investigation', '9', '',"
        " :now)",
        seek=SEEK,
        source=SOURCE,
        now=datetime.now(UTC),
    )
    db = Database(database_url)
    assert schema.current(database_url) == schema.head()
    assert differences(database_url) == []
    assert db.links(SEEK, "7", SOURCE)["investigation"].seek_id == "9"


def test_tables_that_match_no_release_are_refused(database_url):
    run_sql(database_url, "CREATE TABLE seek_links (id INTEGER PRIMARY KEY, url TEXT)")
    with pytest.raises(ConfigError, match="match no release"):
        Database(database_url)
    assert schema.current(database_url) is None  # nothing stamped, nothing made
    assert tables(database_url) == {"seek_links"}


def test_the_migrations_go_down_and_up_again(database_url):
    schema.upgrade(database_url)
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.downgrade(schema.alembic_config(conn), "base")
    engine.dispose()
    assert tables(database_url) - {"alembic_version"} == set()
    assert schema.upgrade(database_url) == (None, schema.head())
    assert differences(database_url) == []


def test_other_applications_tables_are_left_alone(database_url):
    run_sql(database_url, "CREATE TABLE their_notes (id INTEGER PRIMARY KEY, note TEXT)")
    Database(database_url)
    assert schema.current(database_url) == schema.head()
    assert "their_notes" in tables(database_url)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_no_message_shows_the_database_password(database_url):
    # the test cluster trusts every local connection: the password is carried, never checked
    url = make_url(database_url).set(password="s3cret").render_as_string(hide_password=False)
    old_release_database(url)
    with pytest.raises(ConfigError) as refused:
        Database(url)
    engine = create_engine(url)
    with pytest.raises(ConfigError) as checked:
        schema.check(engine)
    engine.dispose()
    for message in (str(refused.value), str(checked.value)):
        assert "s3cret" not in message
        assert "postgres:***@127.0.0.1" in message and "db upgrade" in message
    for args in (("upgrade",), ("upgrade",), ("current",)):
        result = nels_bundle("db", *args, "--db", url)
        assert result.exit_code == 0, result.output
        assert "s3cret" not in result.output and "postgres:***@" in result.output
