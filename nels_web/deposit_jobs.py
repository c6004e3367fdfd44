"""Deposits as background jobs: what the form asked, checked before a job
starts, and the work itself: export the folder afresh (with its metadata
sheet from NeLS), put back what the archives already hold, deposit, link in
SEEK, and keep the deposited bundle in NeLS beside the data.

The job's result is what the job page shows: every receipt, parsed, with
the stored file it was read from; the accessions; the warnings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from nels_core.connect import build_home
from nels_core.deposit.biostudies import BioStudiesClient, BioStudiesLogin
from nels_core.deposit.biostudies_submit import release_date, submit_study
from nels_core.deposit.checklists import EnaChecklists
from nels_core.deposit.embargo import MAX_HOLD, release_of
from nels_core.deposit.ena_run import EnaRun, deposit_in_ena
from nels_core.deposit.ena_xml import DEFAULT_CHECKLIST
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.record import DepositRecord
from nels_core.deposit.rules import check_public
from nels_core.deposit.upload import UploadArea, check_login, upload
from nels_core.deposit.webin import WebinAccount, WebinClient
from nels_core.deposit.writeback import set_investigation_comments, write_accessions
from nels_core.deposit.xsd import EnaSchemas
from nels_core.errors import ConfigError, NelsError
from nels_core.isa.export import export_bundle
from nels_core.isa.kept_bundles import keep_bundle
from nels_core.isa.mapping import identifier_for
from nels_core.taxonomy import Taxonomy
from seek_plugin.accessions import BIOSTUDIES, link_accessions
from seek_plugin.client import SeekClient

from .context import db, nels_settings
from .deposits import DepositFolder
from .locks import WAITING, folder_lock
from .nels_tokens import renewed
from .seek_jobs import seek_account
from .wording import counted, in_bytes
from .worker import JobInput, Progress

READS_SENT = "All reads sent to ENA ({files}); waiting for ENA to take the submission."
SHOWN_OBJECTS = 500  # per receipt on the job page; the accession table has them all


@dataclass(frozen=True)
class SeekLink:
    """Where a deposit's accessions go in SEEK: the records a push made."""

    account: int  # the user's SEEK account (its token stays in the database)
    project: str


@dataclass(frozen=True)
class EnaRequest:
    server: str  # as offered: "test", "production"
    target: str  # the Webin service it stands for: a name or an address
    biostudies_target: str  # BioStudies' server of the same name, whose record to keep
    dry_run: bool
    account: WebinAccount | None
    hold_until: dt.date | None
    checklist: str
    center: str | None

    def params(self) -> tuple[dict, dict]:
        """(what the job's row keeps, what only its sealed message carries)."""
        kept = {
            "server": self.server,
            "target": self.target,
            "biostudies_target": self.biostudies_target,
            "dry_run": self.dry_run,
            "account": self.account.account if self.account else None,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "checklist": self.checklist,
            "center": self.center,
        }
        return kept, ({"webin_password": self.account.password} if self.account else {})

    @classmethod
    def from_params(cls, kept: dict, secrets: dict) -> EnaRequest:
        account = None
        if kept["account"]:
            account = WebinAccount(kept["account"], secrets["webin_password"])
        hold = kept["hold_until"]
        return cls(
            kept["server"],
            kept["target"],
            kept["biostudies_target"],
            kept["dry_run"],
            account,
            dt.date.fromisoformat(hold) if hold else None,
            kept["checklist"],
            kept["center"],
        )

    @classmethod
    def from_form(cls, form, config) -> EnaRequest:
        server, target = _server(form, config["ENA_SERVERS"], "ENA")
        dry_run = form.get("dry_run") == "1"
        account = None
        if not dry_run:
            name = form.get("webin_account", "").strip()
            password = form.get("webin_password", "")
            if not name or not password:
                raise ValueError("Give the Webin account (Webin-NNNNN) and its password.")
            try:
                account = WebinAccount(name, password)
            except NelsError as e:
                raise ValueError(str(e)) from None
            _confirmed(form, server, "ENA")
        checklist = form.get("checklist", "").strip() or DEFAULT_CHECKLIST
        if not re.fullmatch(r"ERC\d{6}", checklist):
            raise ValueError(f"{checklist!r} is not an ENA checklist (ERC and six digits).")
        return cls(
            server,
            target,
            config["BIOSTUDIES_SERVERS"].get(server, ""),
            dry_run,
            account,
            _hold(form.get("hold", "")),
            checklist,
            form.get("center", "").strip() or None,
        )


@dataclass(frozen=True)
class BioStudiesRequest:
    server: str
    target: str
    ena_target: str  # whose ENA record the study links to: ENA's server of the same name
    login: BioStudiesLogin
    release: dt.date | None

    def params(self) -> tuple[dict, dict]:
        """(what the job's row keeps, what only its sealed message carries)."""
        kept = {
            "server": self.server,
            "target": self.target,
            "ena_target": self.ena_target,
            "login": self.login.login,
            "release": self.release.isoformat() if self.release else None,
        }
        return kept, {"biostudies_password": self.login.password}

    @classmethod
    def from_params(cls, kept: dict, secrets: dict) -> BioStudiesRequest:
        release = kept["release"]
        return cls(
            kept["server"],
            kept["target"],
            kept["ena_target"],
            BioStudiesLogin(kept["login"], secrets["biostudies_password"]),
            dt.date.fromisoformat(release) if release else None,
        )

    @classmethod
    def from_form(cls, form, config) -> BioStudiesRequest:
        server, target = _server(form, config["BIOSTUDIES_SERVERS"], "BioStudies")
        email = form.get("biostudies_login", "").strip()
        password = form.get("biostudies_password", "")
        if not email or not password:
            raise ValueError("Give the BioStudies account's e-mail and its password.")
        _confirmed(form, server, "BioStudies")
        return cls(
            server,
            target,
            config["ENA_SERVERS"].get(server, server),
            BioStudiesLogin(email, password),
            _date(form.get("release", ""), "release date"),
        )


def deposit_params(folder: DepositFolder, ask, link: SeekLink | None) -> tuple[dict, dict]:
    """A deposit job's (row parameters, sealed secrets)."""
    kept, secrets = ask.params()
    seek = {"account": link.account, "project": link.project} if link else None
    return {"path": folder.path, "ask": kept, "seek": seek}, secrets


def _deposit_input(job: JobInput, request_type):
    """(folder, request, SEEK link, NeLS settings) of a deposit job."""
    config = current_app.config
    folder = DepositFolder.of(config["WORK_DIR"], job.params["path"])
    ask = request_type.from_params(job.params["ask"], job.secrets)
    seek = job.params.get("seek")
    link = SeekLink(seek["account"], seek["project"]) if seek else None
    return folder, ask, link, nels_settings(job.secrets["nels"])


def ena_job(job: JobInput, progress: Progress) -> dict:
    folder, ask, link, settings = _deposit_input(job, EnaRequest)
    config = current_app.config
    area = None
    if ask.account is not None:
        area = UploadArea(
            config["ENA_UPLOAD_HOST"],
            int(config["ENA_UPLOAD_PORT"]),
            ask.account.account,
            ask.account.password,
            cafile=config["ENA_UPLOAD_CA"],
        )
    schemas = EnaSchemas(config["ENA_XSD_DIR"])
    timeout = float(config["ENA_TIMEOUT"])
    taxonomy = Taxonomy(config["ENA_TAXONOMY_URL"])

    token = renewed(job)  # reads sent for hours outlive the hour a token lives
    log: list[str] = []
    with folder_lock(f"deposit {folder.path}", waiting=lambda: progress(0, 3, WAITING)):
        progress(0, 3, "")
        home = build_home(settings, token)
        try:
            _export(folder, home, ask.target, ask.biostudies_target, taxonomy)
            progress(1, 3)
            client = None
            if ask.account is not None:
                client = WebinClient(ask.account, server=ask.target, timeout=timeout)
            run = deposit_in_ena(
                folder.bundle,
                ask.target,
                client,
                upload_reads=lambda _source, files: _send_reads(
                    home, folder.path, files, area, progress
                ),
                open_reads=lambda _source: (home, folder.path),
                taxonomy=taxonomy,
                checklists=EnaChecklists(config["ENA_CHECKLIST_DIR"]),
                checklist=ask.checklist,
                center=ask.center,
                hold_until=ask.hold_until,
                schemas=schemas,
                check_login=(lambda: check_login(area)) if area is not None else None,
                say=log.append,
            )
        finally:
            home.close()
        progress(2, 3, "")  # the upload note said its last
        sent = run.plan is None and bool(run.outcome.receipts)
        kept = _keep(folder, build_home(settings, token), run.warnings) if sent else ""
        linked = Counter()
        if link is not None and client is not None:
            linked = _link(
                job.user_id, link, run.deposit, run.record.objects, ask.server, kept=kept
            )
    progress(3, 3)
    return {**_ena_result(run, ask, folder, log, linked), "kept": kept}


def biostudies_job(job: JobInput, progress: Progress) -> dict:
    folder, ask, link, settings = _deposit_input(job, BioStudiesRequest)
    taxonomy_url = current_app.config["ENA_TAXONOMY_URL"]
    token = renewed(job)
    with folder_lock(f"deposit {folder.path}", waiting=lambda: progress(0, 2, WAITING)):
        progress(0, 2, "")
        home = build_home(settings, token)
        try:
            _export(folder, home, ask.ena_target, ask.target, Taxonomy(taxonomy_url))
        finally:
            home.close()
        progress(1, 2)
        deposit = read_bundle(folder.bundle)
        warnings = check_public(deposit, "BioStudies")
        try:
            when = release_date(deposit, ask.release)
        except ValueError as e:
            message = str(e).replace("with --release YYYY-MM-DD", "in the form")
            raise ConfigError(message) from None
        record = DepositRecord.load(folder.bundle, "biostudies", ask.target)
        ena = DepositRecord.load(folder.bundle, "ena", ask.ena_target)
        done = submit_study(
            folder.bundle,
            deposit,
            lambda: BioStudiesClient(ask.login, server=ask.target),
            record,
            when,
            ena=ena.objects,
            ena_server=ask.ena_target,
        )
        accno = done.accno
        kept = "" if done.unchanged else _keep(folder, build_home(settings, token), warnings)
        linked = Counter()
        if link is not None:
            linked = _link(job.user_id, link, deposit, ena.objects, ask.server, accno, kept=kept)
    progress(2, 2)
    page = BIOSTUDIES["production" if ask.server == "production" else "test"] + accno
    return {
        "archive": "BioStudies",
        "path": folder.path,
        "server": ask.server,
        "accno": accno,
        "page": page,
        "updated": done.action == "updated",
        "unchanged": done.unchanged,  # nothing sent: BioStudies holds this study as it is
        "release": when.isoformat(),
        "receipt": done.receipt,
        "warnings": warnings,
        "seek": dict(linked),
        "kept": kept,
    }


def _send_reads(home, folder: str, files, area, progress: Progress):
    """The reads sent, the page saying so per chunk; then what the wait is
    for (ENA may take minutes over the submission, and the last byte note,
    its repeats written at most every 0.3 s, could still read "file 10 of 16")."""
    sent = upload(home, folder, files, area, sending=_sending(progress))
    progress(1, 3, "")
    progress(1, 3, READS_SENT.format(files=counted(len(files), "file")))
    return sent


def _sending(progress: Progress):
    """The job page's note while reads go to ENA's upload area."""

    def sending(n: int, files: int, name: str, done: int, size: int) -> None:
        progress(
            1, 3, f"Sending reads to ENA: file {n} of {files} ({name}), "
            f"{in_bytes(done)} of {in_bytes(size)}",
        )  # fmt: skip

    return sending


def _keep(folder: DepositFolder, home, warnings: list[str]) -> str:
    """The deposited bundle zipped beside the data; the deposit stands if this fails."""
    try:
        return keep_bundle(home, folder.path, folder.bundle, identifier_for(folder.path))
    except NelsError as e:
        warnings.append(f"The deposited bundle could not be kept in NeLS beside the data: {e}")
        return ""
    finally:
        home.close()


def _export(folder: DepositFolder, home, ena_target, biostudies_target, taxonomy) -> None:
    """The folder as a bundle, as it is now, with what the archives (of the
    chosen server) hold of it written back in: a fresh export lacks those comments."""
    identifier = identifier_for(folder.path)
    location = f"nels://{folder.path}"
    export_bundle(home, folder.path, location, identifier, folder.bundle, taxonomy=taxonomy)
    ena = DepositRecord.load(folder.bundle, "ena", ena_target)
    if ena.objects:
        write_accessions(folder.bundle, identifier, ena.objects)
    study = DepositRecord.load(folder.bundle, "biostudies", biostudies_target)
    if accno := study.accession("study", identifier):
        i_file = folder.bundle / "isa-tab" / "i_investigation.txt"
        set_investigation_comments(i_file, {"BioStudies": accno})


def _link(
    user_id: int,
    link: SeekLink,
    deposit,
    ena_objects,
    server: str,
    biostudies: str = "",
    kept: str = "",
) -> Counter:
    account = seek_account(user_id, link.account)
    client = SeekClient(account.url, token=account.token)
    test = server != "production"
    return link_accessions(client, db(), link.project, deposit, ena_objects, test, biostudies, kept)


def _ena_result(run: EnaRun, ask: EnaRequest, folder: DepositFolder, log, linked) -> dict:
    result = {
        "archive": "ENA",
        "path": folder.path,
        "server": ask.server,
        "dry_run": ask.dry_run,
        # the release sentence is shown on its own (its CLI form names --hold)
        "warnings": [w for w in run.warnings if not run.release or w != run.release.sentence()],
        "log": log,
        "project": run.project,
        "counts": {k: len(v) for k, v in run.record.objects.items() if v},
        "cells": run.cells,
        "seek": dict(linked),
        "release": run.release.sentence(form=True) if run.release else "",
    }
    if run.plan is not None:
        result["plan"] = {
            "add": run.plan.count("add"),
            "modify": run.plan.count("modify"),
            "unchanged": run.plan.unchanged,
            "files": len(run.plan.files),
        }
        return result
    result["receipts"] = [
        {
            "file": Path(stored).name,
            "success": r.success,
            "date": r.date,
            "actions": r.actions,
            "infos": r.infos,
            "errors": r.errors,
            "objects": [
                [o.kind, o.alias, o.accession, o.status] for o in r.objects[:SHOWN_OBJECTS]
            ],
            "more": max(0, len(r.objects) - SHOWN_OBJECTS),
        }
        for stored, r in run.outcome.receipts
    ]
    result["unchanged"] = run.outcome.plan.empty and not run.outcome.receipts
    return result


def _server(form, offered: dict[str, str], archive: str) -> tuple[str, str]:
    server = form.get("server", "test")
    if server not in offered:
        raise ValueError(f"{archive}'s {server} server is not offered here.")
    return server, offered[server]


def _confirmed(form, server: str, archive: str) -> None:
    """Production only when asked for in so many words, as --production is on the CLI."""
    if server == "production" and form.get("confirm_production") != "1":
        raise ValueError(
            f"A deposit in {archive} itself is public once released: tick the box that "
            "confirms it, or choose the test server."
        )


def _hold(text: str) -> dt.date | None:
    """The hold date, refused here if ENA would refuse it, not after the job started."""
    hold = _date(text, "hold date")
    problem = release_of("", {}, hold).problem if hold else None
    if problem:
        raise ValueError(problem[:1].upper() + problem[1:] + ".")
    return hold


def hold_range(today: dt.date | None = None) -> tuple[str, str]:
    """The first and last hold dates the form offers: tomorrow, and ENA's limit."""
    today = today or dt.date.today()
    return (today + dt.timedelta(days=1)).isoformat(), (today + MAX_HOLD).isoformat()


def _date(text: str, what: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"The {what} {text!r} is not a date (YYYY-MM-DD).") from None
