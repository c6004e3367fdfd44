"""``nels-bundle db``: the schema of the web app's database. The web app
and its workers refuse a database behind this version; ``upgrade`` brings
it here, once for every process that shares it."""

from __future__ import annotations

from pathlib import Path

import click

from .context import web_config_option

db_option = click.option(
    "--db",
    "db_url",
    help="A database URL (SQLAlchemy) instead of the one the settings name; one with a "
    "password belongs in the settings file (other users' ps shows a command line).",
)


@click.group("db")
def db_cmd() -> None:
    """The web app's database: which version its schema is at, and upgrades."""


@db_cmd.command("upgrade")
@web_config_option
@db_option
def upgrade_cmd(web_config: Path | None, db_url: str | None) -> None:
    """Bring the database's schema to this version of nels-bundle."""
    from nels_web import schema

    url = _url(web_config, db_url)
    before, after = schema.upgrade(url)
    if before == after:
        click.echo(f"Database {_shown(url)}: at revision {after} (head)")
    else:
        click.echo(
            f"Database {_shown(url)}: upgraded from revision {before or 'none (empty)'} "
            f"to {after} (head)"
        )


@db_cmd.command("current")
@web_config_option
@db_option
def current_cmd(web_config: Path | None, db_url: str | None) -> None:
    """Say which revision the database's schema is at."""
    from nels_web import schema

    url = _url(web_config, db_url)
    revision, head = schema.current(url), schema.head()
    if revision == head:
        click.echo(f"Database {_shown(url)}: at revision {revision} (head)")
    else:
        click.echo(
            f"Database {_shown(url)}: at revision {revision or 'none'}, this version needs "
            f"{head}: run nels-bundle db upgrade"
        )


def _url(web_config: Path | None, db_url: str | None) -> str:
    if db_url:
        return db_url
    from nels_web import database_url

    # absolute: Flask reads a relative settings file from its instance folder
    return database_url(web_config.resolve() if web_config else None)


def _shown(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)
