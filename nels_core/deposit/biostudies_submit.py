"""A BioStudies study for an ISA bundle: its files uploaded, its PageTab
submitted, the answer stored before it is read, the accession recorded
(``deposits/biostudies-<server>.json``) and written into the bundle. A
re-run submits with the recorded accession, which updates the study.

The record keeps the digest of the PageTab BioStudies holds (``digest`` on
the study's entry): a re-run that builds the same PageTab sends nothing, not
even the login, and says so. Writing the new accession into the bundle's
investigation file changes that file, so after a first submission the digest
kept is that of the PageTab the bundle now gives, which differs from the one
sent only by the study naming its own accession."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .biostudies import BioStudiesClient
from .embargo import ena_release
from .model import Deposit
from .pagetab import bundle_files, digest, page_tab
from .record import DepositRecord, now_iso, stored_records
from .writeback import set_investigation_comments


@dataclass(frozen=True)
class StudyOutcome:
    accno: str
    action: str  # "created", "updated" or "unchanged" (nothing sent)
    receipt: str = ""  # the stored answer's file name; the last one's when nothing was sent

    @property
    def unchanged(self) -> bool:
        return self.action == "unchanged"


def submit_study(
    bundle: Path,
    deposit: Deposit,
    client: BioStudiesClient | Callable[[], BioStudiesClient],
    record: DepositRecord,
    release: dt.date,
    ena: dict | None = None,
    ena_server: str = "",
) -> StudyOutcome:
    """``client``: a client, or what makes one (logs in) when there is something
    to send; ``ena``, ``ena_server``: an ENA deposit record's objects and server."""
    folder = f"nels-bundle/{deposit.identifier}"
    known = record.accession("study", deposit.identifier)

    def build(accno: str) -> dict:
        return page_tab(deposit, bundle, folder, release, accno, ena=ena, ena_server=ena_server)

    page = build(known)
    sent = digest(page)
    if known and sent == record.digest("study", deposit.identifier):
        last = record.submissions[-1]["receipt"] if record.submissions else ""
        return StudyOutcome(known, "unchanged", last)
    if not hasattr(client, "submit"):
        client = client()  # only now: an unchanged study needs no login
    for path in bundle_files(bundle):
        relative = path.relative_to(bundle).parent.as_posix()
        client.upload(folder if relative == "." else f"{folder}/{relative}", path)
    answer = client.submit(page)
    stored = record.keep_receipt(deposit.identifier, json.dumps(answer, indent=1).encode())
    accno = answer["accno"]
    record.account = client.user
    entry = record.objects.setdefault("study", {}).setdefault(deposit.identifier, {})
    entry.update(
        accession=accno,
        date=entry.get("date") or now_iso(),
        release=release.isoformat(),
        digest=sent if accno == known else digest({**page, "accno": accno}),
    )
    record.submissions.append(
        {"accession": accno, "date": now_iso(), "receipt": stored.name, "update": bool(known)}
    )
    record.save()
    i_file = bundle / "isa-tab" / "i_investigation.txt"
    if set_investigation_comments(i_file, {"BioStudies": accno}):
        entry["digest"] = digest(build(accno))  # what a re-run builds from the bundle now
        record.save()
    return StudyOutcome(accno, "updated" if known else "created", stored.name)


def ena_record(bundle: Path, biostudies_server: str, ena_server: str = "") -> DepositRecord:
    """The ENA deposit record whose accessions a study links to: ``ena_server``'s
    when given; production's for a study in BioStudies itself; else, of the test
    server's and any stand-in's, the one that submitted last (empty if none did)."""
    if ena_server:
        return DepositRecord.load(bundle, "ena", ena_server)
    if biostudies_server == "production":
        return DepositRecord.load(bundle, "ena", "production")
    candidates = []
    for data in stored_records(bundle):
        server = data.get("server")
        if data.get("archive") != "ena" or server == "production" or not server:
            continue
        record = DepositRecord.load(bundle, "ena", server)
        if record.objects.get("project") or record.objects.get("run"):
            last = max((s.get("date") or "" for s in record.submissions), default="")
            candidates.append((last, server == "test", record))
    if not candidates:
        return DepositRecord.load(bundle, "ena", "test")
    return max(candidates, key=lambda c: c[:2])[2]


def release_date(deposit: Deposit, given: dt.date | None) -> dt.date:
    """The same date ENA gets: given, else the investigation's, else the earliest study's."""
    release = ena_release(deposit, given)
    if release.date is not None:
        return release.date
    raise ValueError(
        "the bundle has no public release date: give one with --release YYYY-MM-DD "
        "(a future date keeps the study private until then)"
    )
