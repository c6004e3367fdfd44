"""``nels-bundle seek``: register NeLS data as ISA in SEEK / FAIRDOMHub.

Credentials never go on the command line: a SEEK API token is read from
``$SEEK_TOKEN`` or ``--token-file``; a password (with ``--user``) from
``$SEEK_PASSWORD``.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from nels_core import config as nels_config
from nels_core.errors import ConfigError
from nels_core.isa.export import describe

from .context import err, out, read_secret
from .isa import _source, _warn, say_sheet
from .show import literal, warning

DEFAULT_DB = Path(
    os.environ.get("NELS_BUNDLE_SEEK_DB", "~/.local/share/nels-bundle/seek.db")
).expanduser()


def seek_client(url: str, token_file: Path | None, user: str | None):
    from seek_plugin.client import SeekClient

    if user:
        password = os.environ.get("SEEK_PASSWORD")
        if not password:
            raise ConfigError("--user needs the password in $SEEK_PASSWORD")
        return SeekClient(url, basic=(user, password))
    token = read_secret(token_file, "SEEK_TOKEN")
    if not token:
        raise ConfigError(
            "no SEEK credentials: put an API token (SEEK: My profile > Actions > API tokens) "
            "in $SEEK_TOKEN or a file given with --token-file"
        )
    return SeekClient(url, token=token)


def _sbi(ctx, project_id: int):
    from nels_core.api import NelsApi
    from seek_plugin.storebioinfo import sbi_subtypes

    settings = nels_config.load(ctx.obj["config"]).api
    if not settings.token:
        raise ConfigError("--sbi-project needs a NeLS access token (NELS_TOKEN or [api] token)")
    return sbi_subtypes(NelsApi(settings.url, settings.token, timeout=settings.timeout), project_id)


def database(url: str | None):
    from seek_plugin.db import Database

    if url is None:
        DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DEFAULT_DB}"
    return Database(url)


def seek_options(command):
    """The options every SEEK command takes: credentials (never the secret itself) and --db."""
    for option in reversed(
        (
            click.option(
                "--token-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="A file holding the SEEK API token (else $SEEK_TOKEN).",
            ),
            click.option(
                "--user", help="SEEK login for Basic auth; the password comes from $SEEK_PASSWORD."
            ),
            click.option(
                "--db", "db_url", help="Where links to SEEK records are kept (SQLAlchemy URL)."
            ),
        )
    ):
        command = option(command)
    return command


def seek_link_options(command):
    """--seek and --seek-project, for the deposit commands that link their accessions."""
    command = seek_options(command)
    command = click.option(
        "--seek-project", help="The SEEK project the bundle's source was pushed to."
    )(command)
    return click.option(
        "--seek", "seek_url", help="Also link the accessions on the SEEK records a push made."
    )(command)


def link_in_seek(
    archive,
    deposit,
    ena_objects,
    url,
    project,
    token_file,
    user,
    db_url,
    test,
    biostudies="",
    kept="",
):
    """The accessions as links on the SEEK records pushed from the bundle's
    source; ``kept``: the bundle kept in NeLS, which gets a data file."""
    from seek_plugin.accessions import link_accessions

    if not project:
        raise ConfigError("--seek needs --seek-project, the project the source was pushed to")
    client = seek_client(url, token_file, user)
    updated = link_accessions(
        client, database(db_url), project, deposit, ena_objects, test, biostudies, kept
    )
    if not updated:
        err.print(
            warning(
                f"no SEEK record in project {project} was pushed from "
                f"{deposit.location} or all already carry the accessions"
            )
        )
    else:
        shown = ", ".join(
            f"{n} {kind.replace('_', ' ')[: -1 if n == 1 else None]}" for kind, n in updated.items()
        )
        out.print(literal(f"SEEK records linked to {archive}: {shown}"), soft_wrap=True)


@click.group("seek")
def seek_cmd() -> None:
    """Register NeLS data in SEEK / FAIRDOMHub as investigation, studies and assays."""


@seek_cmd.command("push")
@click.argument("source")
@click.option(
    "--seek", "seek_url", required=True, help="SEEK's address, e.g. https://fairdomhub.org"
)
@click.option("--project", "project_id", required=True, help="The SEEK project's id.")
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A filled metadata sheet (.tsv or .xlsx).",
)
@seek_options
@click.option(
    "--sbi-project",
    type=int,
    help="Also link this NeLS project's StoreBioinfo datasets (needs the NeLS API token).",
)
@click.option(
    "--records",
    "records_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write every SEEK record as a tab-separated table.",
)
@click.pass_context
def push_cmd(
    ctx, source, seek_url, project_id, metadata, token_file, user, db_url, sbi_project, records_to
):
    """Create or update SOURCE's ISA description in a SEEK project.

    SOURCE is a NeLS folder (nels://), a local one, or an ISA bundle. A
    re-run of an unchanged SOURCE sends no writes; a changed one updates
    the records in place; an interrupted run picks up where it stopped.
    """
    from seek_plugin.push import Pusher

    if (Path(source) / "isa-tab" / "i_investigation.txt").is_file():
        from seek_plugin.bundle import investigation_from_bundle

        if metadata:
            raise click.UsageError("--metadata is for folders: a bundle holds its sheet already")
        inv, issues = investigation_from_bundle(Path(source)), []
    else:
        store, base, location, identifier = _source(ctx, source)
        inv, issues = describe(store, base, location, identifier, metadata)
        say_sheet(inv, metadata, store, base)
    sbi = _sbi(ctx, sbi_project) if sbi_project is not None else []
    client = seek_client(seek_url, token_file, user)
    me = client.current_person()
    counting = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    with counting as bar:
        task = bar.add_task("SEEK records", total=None)
        pusher = Pusher(
            client,
            database(db_url),
            project_id,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        report = pusher.push(inv, sbi)
    counts = report.count()
    out.print(
        literal(
            f"SEEK {seek_url}, project {project_id}, as {me.title}: "
            + ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
            + f" ({client.sent['write']} writes, {client.sent['read']} reads)"
        ),
        soft_wrap=True,
    )
    if report.investigation_url():
        out.print(literal(f"Investigation: {report.investigation_url()}"), soft_wrap=True)
    if records_to is not None:
        write_records(report, records_to)
    _warn(issues)
    for w in report.warnings:
        err.print(warning(w))


RECORD_COLUMNS = ("kind", "key", "action", "seek_id", "url")


def write_records(report, target: Path) -> None:
    """One row per record the push made SEEK hold, parents first."""
    import csv

    with open(target, "w", encoding="utf-8", newline="") as f:
        table = csv.writer(f, delimiter="\t", lineterminator="\n")
        table.writerow(RECORD_COLUMNS)
        table.writerows((r.kind, r.key, r.action, r.seek_id, r.url) for r in report.records)


@seek_cmd.command("pull")
@click.argument("investigation_url")
@click.option("--out", "dest", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A metadata sheet applied instead of the folder's (which is then left as it is).",
)
@click.option(
    "--take",
    type=click.Choice(["seek", "sheet"]),
    help="Where SEEK and the folder's sheet both changed a field since the push: "
    "whose value stands. Without it such a conflict stops the pull.",
)
@seek_options
@click.pass_context
def pull_cmd(ctx, investigation_url, dest, metadata, take, token_file, user, db_url):
    """Export a pushed investigation as an ISA bundle, with what was edited in SEEK.

    SEEK's edits (titles, descriptions, sample attributes, creators) are saved
    into the folder's metadata sheet in NeLS as a new version, each change
    named, so that export, push and deposit see them too."""
    from seek_plugin.pull import parse_investigation_url, pull_bundle

    seek_url, _ = parse_investigation_url(investigation_url)
    client = seek_client(seek_url, token_file, user)
    client.current_person()
    result, where, back = pull_bundle(
        client,
        database(db_url),
        investigation_url,
        lambda location: _source(ctx, location),
        dest,
        metadata,
        take,
    )
    out.print(
        literal(
            f"Wrote {result.out}: {result.investigation.title!r} from {where.source}, with "
            f"SEEK's annotations ({client.sent['read']} reads)"
        ),
        soft_wrap=True,
    )
    if back.version:
        out.print(
            literal(f"SEEK's edits saved in the folder's sheet: {back.version}"), soft_wrap=True
        )
    elif back.changes:
        err.print(
            warning(
                f"SEEK's edits are in the bundle only, not the folder's sheet: {back.not_saved}"
            )
        )
    else:
        out.print("The folder's sheet already says what SEEK says.")
    for change in back.changes:
        out.print(literal(f"  {change}"), soft_wrap=True)
    _warn(result.issues)
