"""``nels-bundle sbi``: StoreBioinfo from the shell.

``ls`` lists projects, datasets, subtypes and files with sizes and the
quota; ``archive`` sends a run folder from NeLS into a dataset (created when
missing), ``stage`` brings SBI data back into a NeLS folder. Both check
everything that would stop them before anything moves, resume after a
break, and check sizes and MD5s.
"""

from __future__ import annotations

from contextlib import contextmanager

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from nels_core import config as nels_config
from nels_core import token_advice
from nels_core.api.sbi_transfer import state_name
from nels_core.errors import AuthError, ConfigError, NelsError, NotFoundError
from nels_core.sbi import TransferProgress
from nels_core.sbi.places import STORAGE_ROOT, find_dataset, sbi_membership

from .context import err, open_nels, out, transfer_bars
from .show import literal, visible


@click.group("sbi")
def sbi_cmd() -> None:
    """StoreBioinfo: list datasets, archive runs from NeLS, stage them back."""


def _api(ctx):
    from nels_core.api import NelsApi

    settings = nels_config.load(ctx.obj["config"]).api
    if not settings.token:
        raise ConfigError("StoreBioinfo needs a NeLS access token (NELS_TOKEN or [api] token)")
    return NelsApi(settings.url, settings.token, timeout=settings.timeout)


@contextmanager
def _token_advice():
    """A refused token says what to do, as every command does."""
    try:
        yield
    except AuthError as e:
        raise NelsError(token_advice.refused(e, remedy=token_advice.ON_THE_COMMAND_LINE)) from None


def _table(*columns: str) -> Table:
    table = Table(box=None, show_header=True, header_style="bold")
    for c in columns:
        table.add_column(c, justify="right" if c in ("size", "used", "allocated") else "left")
    table.columns[-1].overflow = "fold"  # a name is shown whole, never cut with "…"
    return table


def _show(table: Table) -> None:
    # a pipe gets whole lines, a terminal its own width (as ls does)
    (out if out.is_terminal else Console(width=100_000, highlight=False)).print(table)


def _size(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


@sbi_cmd.command("ls")
@click.argument("address", default="")
@click.pass_context
def ls_cmd(ctx, address):
    """List StoreBioinfo: PROJECT[/DATASET[/SUBTYPE[/PATH]]] (sbi:// optional)."""
    parts = [p for p in address.removeprefix("sbi://").split("/") if p]
    api = _api(ctx)
    with _token_advice():
        if not parts:
            table = _table("used", "allocated", "project")
            for p in api.sbi_projects():
                m = api.sbi_project(p.id)
                table.add_row(
                    _size(m.project.quota_used),
                    _size(m.project.quota_allocated),
                    literal(m.project.name),
                )
            _show(table)
            return
        membership = sbi_membership(api, parts[0])
        p = membership.project
        if len(parts) == 1:
            table = _table("type", "locked", "subtypes (bytes)", "dataset")
            for d in api.datasets(p.id):
                whole = api.dataset(p.id, d.id)  # sizes come with a dataset alone
                subtypes = ", ".join(f"{s.type} {_size(s.size or 0)}" for s in whole.subtypes)
                table.add_row(
                    literal(d.type), "yes" if d.islocked else "", literal(subtypes), literal(d.name)
                )
            _show(table)
            out.print(
                literal(
                    f"quota: {_size(p.quota_used or 0)} of {_size(p.quota_allocated)} bytes used"
                ),
                highlight=False,
            )
            return
        dataset = find_dataset(api, p.id, parts[1])
        if dataset is None:
            raise NotFoundError(f"no dataset {parts[1]!r} in StoreBioinfo project {p.name!r}")
        if len(parts) == 2:
            table = _table("size", "subtype")
            for s in api.dataset(p.id, dataset.id).subtypes:
                table.add_row(_size(s.size or 0), literal(s.type))
            _show(table)
            return
        path = "/".join([STORAGE_ROOT, p.folder, dataset.name, *parts[2:]])
        try:
            elements = api.sbi_list(path, p.id, dataset.id)
        except NelsError as e:
            if getattr(e, "status", None) == 404:
                raise NotFoundError(f"nothing at sbi://{'/'.join(parts)}") from None
            raise
        table = _table("size", "name")
        for e in sorted(elements, key=lambda e: str(e.get("name", "")).casefold()):
            folder = bool(e.get("isFolder"))
            name = str(e.get("name", "")) + ("/" if folder else "")
            table.add_row("" if folder else _size(int(e.get("size") or 0)), literal(name))
        _show(table)


class _Shown(TransferProgress):
    """Files, bytes and each job's state, as rich bars on a terminal (a bar
    per file still moving or processing) and as one line per file elsewhere
    (logs, pipes)."""

    def __init__(self, progress: Progress, verb: str):
        self.progress = progress
        self.verb = verb
        self.total = None
        self.bars: dict[str, object] = {}  # a file's path: its bar, until it is done
        self.sending = None  # the bar the bytes go to
        self.files = 0
        self.done = 0

    def planned(self, files, total_bytes, already):
        self.files = files
        if already:
            err.print(literal(f"{already} files already there: not moved again"), highlight=False)
        self.total = self.progress.add_task(f"{self.verb} 0/{files} files", total=total_bytes)

    def file_started(self, path, size):
        self.sending = self.bars[path] = self.progress.add_task(escape(visible(path)), total=size)

    def bytes_moved(self, n):
        self.progress.advance(self.total, n)
        if self.sending is not None:
            self.progress.advance(self.sending, n)

    def job_state(self, path, job_id, state):
        if path in self.bars:
            what = escape(f"{visible(path)} [job {job_id}: {state_name(state)}]")
            self.progress.update(self.bars[path], description=what)

    def file_done(self, path):
        self.done += 1
        bar = self.bars.pop(path, None)
        if bar is not None:
            self.progress.remove_task(bar)
        if bar == self.sending:
            self.sending = None
        self.progress.update(self.total, description=f"{self.verb} {self.done}/{self.files} files")
        if not err.is_terminal:
            err.print(literal(f"{self.verb.lower()} {path}"), highlight=False)


@sbi_cmd.command("archive")
@click.argument("uri")
@click.option("--dataset", required=True, help="The SBI dataset (created when missing).")
@click.option("--type", "dataset_type", default="Illumina_seq_data", show_default=True)
@click.option("--subtype", default="reads", show_default=True)
@click.option("--project", help="The SBI project, if not the NeLS project the run is in.")
@click.pass_context
def archive_cmd(ctx, uri, dataset, dataset_type, subtype, project):
    """Archive a NeLS run folder (nels://Projects/<P>/<run>) into StoreBioinfo."""
    from nels_core.sbi import archive

    home, _ = open_nels(ctx, uri)
    api = _api(ctx)
    with _token_advice(), transfer_bars() as bars:
        report = archive(
            home,
            api,
            uri,
            dataset=dataset,
            dataset_type=dataset_type,
            subtype=subtype,
            project=project,
            progress=_Shown(bars, "Sent"),
        )
    plan = report.plan
    top = plan.files[0].rel.split("/")[0] if plan.files else ""
    where = f"sbi://{plan.membership.project.name}/{plan.dataset.name}/{subtype}/{top}"
    sent = sum(f.size for f, _ in report.sent)
    lines = [
        f"{plan.source} -> {where}" + (" (dataset created)" if report.created_dataset else ""),
        f"{len(report.sent)} files sent ({sent:,} bytes), {len(report.skipped)} already there",
        f"all {len(plan.files)} files listed in StoreBioinfo with their sizes",
    ]
    if report.sent:
        lines.append(
            f"MD5 of the bytes sent matches the delivered checksum for {report.md5_checked}"
            + (
                f"; no delivered checksum for {len(report.without_md5)} (size checked)"
                if report.without_md5
                else ""
            )
        )
    err.print(Text("\n").join(literal(x) for x in lines), highlight=False)


@sbi_cmd.command("stage")
@click.argument("source")
@click.argument("dest")
@click.pass_context
def stage_cmd(ctx, source, dest):
    """Stage sbi://<P>/<dataset>/<subtype>/<path> back into a NeLS folder."""
    from nels_core.sbi import stage

    home, _ = open_nels(ctx, dest)
    api = _api(ctx)
    with _token_advice(), transfer_bars() as bars:
        report = stage(home, api, source, dest, progress=_Shown(bars, "Fetched"))
    got = sum(f.size for f, _ in report.received)
    lines = [
        f"{source} -> nels://{report.plan.target}/",
        f"{len(report.received)} files fetched ({got:,} bytes), "
        f"{len(report.skipped)} already there",
    ]
    if report.received:
        lines.append(f"MD5 matches the staged checksum files for {report.md5_checked}")
    err.print(Text("\n").join(literal(x) for x in lines), highlight=False)
