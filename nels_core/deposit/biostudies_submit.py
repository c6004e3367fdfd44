"""A BioStudies study for an ISA bundle: its files uploaded, its PageTab
submitted, the answer stored before it is read, the accession recorded
(``deposits/biostudies-<server>.json``) and written into the bundle. A
re-run submits with the recorded accession, which updates the study."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from .biostudies import BioStudiesClient
from .embargo import ena_release
from .model import Deposit
from .pagetab import bundle_files, page_tab
from .record import DepositRecord, now_iso
from .writeback import set_investigation_comments


def submit_study(
    bundle: Path,
    deposit: Deposit,
    client: BioStudiesClient,
    record: DepositRecord,
    release: dt.date,
    ena: dict | None = None,
) -> str:
    """The study's accession (``S-BSST...``)."""
    folder = f"nels-bundle/{deposit.identifier}"
    for path in bundle_files(bundle):
        relative = path.relative_to(bundle).parent.as_posix()
        client.upload(folder if relative == "." else f"{folder}/{relative}", path)
    known = record.accession("study", deposit.identifier)
    page = page_tab(deposit, bundle, folder, release, accno=known, ena=ena)
    answer = client.submit(page)
    stored = record.keep_receipt(deposit.identifier, json.dumps(answer, indent=1).encode())
    accno = answer["accno"]
    record.account = client.user
    entry = record.objects.setdefault("study", {}).setdefault(deposit.identifier, {})
    entry.update(accession=accno, date=entry.get("date") or now_iso(), release=release.isoformat())
    record.submissions.append(
        {"accession": accno, "date": now_iso(), "receipt": stored.name, "update": bool(known)}
    )
    record.save()
    set_investigation_comments(bundle / "isa-tab" / "i_investigation.txt", {"BioStudies": accno})
    return accno


def release_date(deposit: Deposit, given: dt.date | None) -> dt.date:
    """The same date ENA gets: given, else the investigation's, else the earliest study's."""
    release = ena_release(deposit, given)
    if release.date is not None:
        return release.date
    raise ValueError(
        "the bundle has no public release date: give one with --release YYYY-MM-DD "
        "(a future date keeps the study private until then)"
    )
