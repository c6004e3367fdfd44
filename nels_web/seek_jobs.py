"""Push and pull as a worker runs them, from what the job's row and message
hold: the folder or investigation, the SEEK account's id (its token is read
from the database, sealed as ever), the user's NeLS token (from the message).

Both can run again: a push sends only what SEEK lacks (the links say what
it holds), and a pull writes its bundle afresh and a sheet version only
when the sheet changed. Pushes of one folder run one at a time.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from nels_core.byte_names import from_text
from nels_core.connect import NelsSettings, build_home
from nels_core.errors import NelsError
from nels_core.isa.export import describe
from nels_core.isa.mapping import identifier_for
from nels_core.paths import normalise
from seek_plugin.client import SeekClient
from seek_plugin.db import Database
from seek_plugin.pull import SheetConflict, pull_bundle
from seek_plugin.push import Pusher
from seek_plugin.storebioinfo import sbi_subtypes

from .context import db, nels_settings, vault
from .issues import issue_lines
from .locks import WAITING, folder_lock
from .models import PushedFolder, SeekAccount
from .nels_tokens import renewed
from .nels_views import HIDDEN, storable
from .worker import JobInput, Progress

JOB_ID = re.compile(r"[0-9a-f]{32}")  # a pull's folder in WORK_DIR


def push_job(job: JobInput, progress: Progress) -> dict:
    path, project = job.params["path"], job.params["project"]
    account = seek_account(job.user_id, job.params["account"])
    settings, token = nels_settings(job.secrets["nels"]), renewed(job)
    database = db()
    # ten pushes at once make one record of each, one after the other
    with folder_lock(f"push {account.url} {path}", waiting=lambda: progress(0, 1, WAITING)):
        progress(0, 1, "")
        home = build_home(settings, token)
        try:
            inv, issues = describe(home, path, f"nels://{path}", identifier_for(path))
            sbi_id = job.params.get("sbi")
            sbi = sbi_subtypes(_nels_api(settings, token), sbi_id) if sbi_id is not None else []
            client = SeekClient(account.url, token=account.token)
            report = Pusher(client, database, project, progress=progress).push(inv, sbi)
        finally:
            home.close()
    _remember_push(database, job.user_id, path, client.url, project)
    return {
        "counts": dict(report.count()),
        "investigation": report.investigation_url(),
        "writes": client.sent["write"],
        "reads": client.sent["read"],
        "warnings": report.warnings + issue_lines(inv, issues),
    }


def pull_job(job: JobInput, progress: Progress) -> dict:
    url, take = job.params["investigation"], job.params.get("take")
    account = seek_account(job.user_id, job.params["account"])
    home = build_home(nels_settings(job.secrets["nels"]), renewed(job))
    out = Path(current_app.config["WORK_DIR"]) / job.id
    shutil.rmtree(out, ignore_errors=True)  # a second run starts from nothing
    try:
        client = SeekClient(account.url, token=account.token)
        progress(0, 1)
        result, where, back = pull_bundle(
            client, db(), url, lambda loc: _visible_source(home, loc), out / "bundle", take=take
        )
        made = shutil.make_archive(str(out / "isa-bundle.partial"), "zip", out / "bundle")
        Path(made).replace(out / "isa-bundle.zip")  # the download exists whole or not at all
        progress(1, 1)
    except SheetConflict as e:  # nothing written: the page lets the user choose
        return {"investigation": url, "conflicts": [str(c) for c in e.conflicts]}
    finally:
        home.close()
    return {
        "title": result.investigation.title,
        "zip": True,
        "reads": client.sent["read"],
        "warnings": [str(i) for i in result.issues],
        "investigation": url,
        "folder": normalise(from_text(where.source)) if where.source.startswith("nels://") else "",
        "sheet": {"version": back.version, "changes": back.changes, "not_saved": back.not_saved},
    }


def forget_old_pulls(work_dir: Path, days: float) -> int:
    """Pulled bundles older than ``days`` removed (beat's sweep, in
    ``nels_web.sweeps``); how many. Only pulls' folders, named by their
    job's id: deposit bundles hold the deposit records."""
    cutoff = time.time() - days * 86400
    gone = 0
    for folder in work_dir.iterdir() if work_dir.is_dir() else ():
        if JOB_ID.fullmatch(folder.name) and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    return gone


@dataclass(frozen=True)
class OpenedAccount:
    """A SEEK account with its token opened, for one job."""

    url: str
    token: str = field(repr=False)


def seek_account(user_id: int, account_id: int) -> OpenedAccount:
    """The user's SEEK account (never another's), its token opened."""
    with db().sessions() as s:
        account = s.get(SeekAccount, account_id)
    if account is None or account.user_id != user_id:
        raise NelsError("the SEEK account of this job is no longer connected; connect it again")
    token = vault().open(account.token)
    if token is None:
        raise NelsError("the SEEK token can no longer be read; connect the account again")
    return OpenedAccount(account.seek_url, token)


def _visible_source(home, location: str):
    """The pushed folder, for a user who can see it; for anyone else nothing
    about it, not even its name (checked before SEEK is asked anything)."""
    path = normalise(from_text(location))
    try:
        home.list(path, limit=0)
    except HIDDEN:
        raise NelsError(
            "This investigation was not pushed from a NeLS folder you can see."
        ) from None
    return home, path, location, identifier_for(path)


def _remember_push(database: Database, user_id: int, path: str, seek_url: str, project: str):
    """The project number offered the next time this user pushes the folder."""
    if not storable(path):
        return
    with database.sessions() as s, s.begin():
        pushed = s.scalars(
            select(PushedFolder).where(
                PushedFolder.user_id == user_id,
                PushedFolder.folder == path,
                PushedFolder.seek_url == seek_url,
            )
        ).first()
        if pushed is None:
            pushed = PushedFolder(user_id=user_id, folder=path, seek_url=seek_url)
            s.add(pushed)
        pushed.seek_project, pushed.updated = project, datetime.now(UTC)


def _nels_api(settings: NelsSettings, token):
    from nels_core.api import NelsApi

    return NelsApi(settings.api_url, token)
