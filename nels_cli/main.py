"""``nels-bundle``: NeLS files from the shell, and the demo."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from nels_core.delivered import delivered_md5
from nels_core.errors import AlreadyExistsError, ChecksumMismatchError, NelsError, ProblemsError
from nels_core.local_files import replacing
from nels_core.paths import normalise

from .beat import beat_cmd
from .biostudies import biostudies_cmd
from .context import err, home_of, out, transfer_bars
from .db import db_cmd
from .demo import demo_cmd
from .ena import ena_cmd
from .galaxy import galaxy_cmd
from .isa import isa_cmd
from .sandbox import sandbox_cmd
from .sbi import sbi_cmd
from .seek import seek_cmd
from .serve import serve_cmd
from .show import literal, visible
from .worker import worker_cmd


class _Cli(click.Group):
    """Every deliberate error becomes one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NelsError as e:
            # names from outside (files, server answers) are shown as they are, never as markup
            err.print(Text.assemble(("error:", "bold red"), " ", _message(e)), highlight=False)
            sys.exit(1)


def _message(e: NelsError) -> Text:
    """The error literally; a list of problems one per line (each line still literal)."""
    if isinstance(e, ProblemsError):
        lines = [f"{e.heading()}:", *e.lines()]
        return Text("\n").join(literal(line) for line in lines)
    return literal(e)


@click.group(cls=_Cli)
@click.version_option(package_name="nels-bundle", message="nels-bundle %(version)s")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config file.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """NeLS storage for researchers: list, fetch and store files by nels:// URI."""
    ctx.obj = {"config": config_path}
    _show_warnings()


def _show_warnings() -> None:
    """Our warnings (host-key pinning off, ...) as one line each on stderr."""
    log = logging.getLogger("nels_core")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        log.propagate = False


@main.command("ls")
@click.argument("uri", default="nels://")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@click.option("--limit", type=click.IntRange(min=0), default=None)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--query", default=None, help="Only names containing this (any case).")
@click.option(
    "--sort", "sort_by", type=click.Choice(["name", "size", "mtime", "ctime"]), default="name"
)
@click.option("--reverse", is_flag=True)
@click.option("-R", "--recursive", is_flag=True)
@click.option(
    "-a",
    "--all",
    "show_partials",
    is_flag=True,
    help="Also show the hidden files of uploads in progress or cut (.NAME.nels-part-...).",
)
@click.pass_context
def ls_cmd(ctx, uri, as_json, limit, offset, query, sort_by, reverse, recursive, show_partials):
    """List a NeLS folder (nels://StoreBioinfo/... too, with a NeLS API token)."""
    page = home_of(ctx).list(
        uri,
        limit=limit,
        offset=offset,
        query=query,
        sort_by=sort_by,
        reverse=reverse,
        recursive=recursive,
        partials=show_partials,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": normalise(uri),
                    "total": page.total,
                    "offset": page.offset,
                    "limit": page.limit,
                    "entries": [e.to_dict() for e in page.entries],
                    **({"loops": page.loops} if page.loops else {}),
                },
                indent=1,
            )
        )
        return
    table = Table(box=None, show_header=True, header_style="bold")
    table.add_column("size", justify="right")
    table.add_column("modified")
    table.add_column("name", overflow="fold")  # a name is shown whole, never cut with "…"
    for e in page.entries:
        when = dt.datetime.fromtimestamp(e.mtime).strftime("%Y-%m-%d %H:%M") if e.mtime else ""
        name = (e.path if recursive else e.name) + ("/" if e.is_dir else "")
        table.add_row("" if e.is_dir else f"{e.size:,}", when, literal(name))
    # a pipe gets whole lines (rich would make them 80 columns), a terminal its own width
    (out if out.is_terminal else Console(width=100_000, highlight=False)).print(table)
    if page.total > len(page.entries):
        out.print(f"[dim]{len(page.entries)} of {page.total} shown[/]")
    for loop in page.loops:
        err.print(f"note: not followed, a link back to a folder above it: {literal(loop)}")


@main.command("get")
@click.argument("uri")
@click.argument("dest", required=False, type=click.Path())
@click.option("--no-verify", is_flag=True, help="Skip the check against delivered MD5 files.")
@click.pass_context
def get_cmd(ctx, uri, dest, no_verify):
    """Download a NeLS file, checked against a delivered MD5 when there is one."""
    home = home_of(ctx)
    path = normalise(uri)
    entry = home.stat(path)
    target = Path(dest or entry.name)
    if target.is_dir():
        target = target / entry.name
    expected = None if no_verify else delivered_md5(home, path)
    from nels_core.checksums import StreamHasher

    hasher = StreamHasher(sha256=False)
    with transfer_bars() as progress, replacing(target) as f:
        task = progress.add_task(escape(visible(entry.name)), total=entry.size)
        for chunk in home.read_chunks(path):
            hasher.update(chunk)
            f.write(chunk)
            progress.advance(task, len(chunk))
        if expected and expected != hasher.md5:
            raise ChecksumMismatchError(
                f"{path}: MD5 {hasher.md5} does not match the delivered {expected}; "
                "nothing was kept"
            )
    note = " (MD5 matches the delivered checksum)" if expected else ""
    err.print(literal(f"{path} -> {target}, {hasher.size:,} bytes{note}"), highlight=False)


@main.command("put")
@click.argument("local", type=click.Path(exists=True, dir_okay=False))
@click.argument("uri")
@click.option("--overwrite", is_flag=True, help="Replace an existing file (not for members).")
@click.pass_context
def put_cmd(ctx, local, uri, overwrite):
    """Upload a file atomically; a folder URI (ending in /) keeps the name."""
    home = home_of(ctx)
    path = normalise(uri)
    if uri.endswith("/") or (home.exists(path) and home.stat(path).is_dir):
        path = f"{path}/{Path(local).name}"
    try:
        home.check_write(path, overwrite)  # refused before a bar is drawn
    except AlreadyExistsError:
        said = f"{path!r} already exists; add --overwrite to replace it"
        raise AlreadyExistsError(said) from None
    size = Path(local).stat().st_size
    with transfer_bars() as progress, open(local, "rb") as f:
        task = progress.add_task(escape(visible(Path(local).name)), total=size)
        # the file itself, not its chunks: over OpenSSH it is spliced, never read here
        entry = home.write(
            path,
            f,
            overwrite=overwrite,
            expected_size=size,
            progress=functools.partial(progress.advance, task),
        )
    err.print(
        literal(f"{local} -> nels://{entry.path}, {entry.size:,} bytes, md5 {entry.md5}"),
        highlight=False,
    )


@main.command("rm")
@click.argument("uri")
@click.option("-r", "--recursive", is_flag=True)
@click.pass_context
def rm_cmd(ctx, uri, recursive):
    """Delete a file or folder (power users and PIs only in projects)."""
    home_of(ctx).remove(uri, recursive=recursive)


@main.command("mkdir")
@click.argument("uri")
@click.pass_context
def mkdir_cmd(ctx, uri):
    """Create a folder (and its parents)."""
    home_of(ctx).mkdir(uri)


main.add_command(beat_cmd)
main.add_command(biostudies_cmd)
main.add_command(db_cmd)
main.add_command(demo_cmd)
main.add_command(ena_cmd)
main.add_command(galaxy_cmd)
main.add_command(isa_cmd)
main.add_command(sandbox_cmd)
main.add_command(sbi_cmd)
main.add_command(seek_cmd)
main.add_command(serve_cmd)
main.add_command(worker_cmd)
