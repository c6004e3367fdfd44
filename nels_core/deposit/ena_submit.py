"""A deposit in ENA, safe to run again: what is new is added, what changed is
modified, what ENA already holds unchanged is left alone.

Per object the record keeps the accession and a digest of the XML it was
sent with; the prepared documents are split against it. Read files of
the runs to be sent are uploaded (and their MD5s checked) before any RUN
XML leaves. Every submission gets a name of its own, written to the
record as ``pending`` before it is sent; every answer is stored before it
is read. When an answer is lost, ENA is asked for the receipt of that
name (a RECEIPT action) and the submission is sent again only if ENA
never had it: under the same name, so even a race cannot add twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ProblemsError
from ..wording import counted
from .ena_xml import Prepared, submission
from .receipt import Receipt, parse_receipt
from .record import DepositRecord, now_iso
from .webin import AnswerLost, WebinClient

KINDS = ("project", "sample", "experiment", "run")
ALREADY_THERE = "already exists in the submission account"


class DepositRefused(ProblemsError):
    what = "in ENA's receipt; ENA stored nothing from this submission"

    def __init__(self, problems, receipt_path=None):
        super().__init__(problems)
        self.receipt_path = receipt_path


@dataclass
class Plan:
    add: dict[str, list[bytes]] = field(default_factory=dict)  # kind -> elements
    modify: dict[str, list[bytes]] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    digests: dict[tuple[str, str], str] = field(default_factory=dict)
    files: list[tuple[str, str, str]] = field(default_factory=list)  # of the runs to send

    def count(self, which: str) -> dict[str, int]:
        return {k: len(v) for k, v in getattr(self, which).items() if v}

    @property
    def empty(self) -> bool:
        return not any(self.add.values()) and not any(self.modify.values())


@dataclass
class Outcome:
    plan: Plan
    receipts: list[tuple[str, Receipt]] = field(default_factory=list)  # (stored file, parsed)
    resolved_pending: str = ""  # a lost submission from an earlier run, found and settled


def plan(prepared: Prepared, record: DepositRecord) -> Plan:
    """Each prepared object as new, changed or unchanged against the record."""
    from lxml import etree

    out = Plan()
    by_upload_name = {name: (name, md5, path) for name, md5, path in prepared.files}
    for kind in KINDS:
        for el in prepared.tree(kind):
            if not isinstance(el.tag, str):
                continue
            alias = el.get("alias", "")
            text = etree.tostring(el)
            digest = hashlib.sha256(text).hexdigest()
            out.digests[kind, alias] = digest
            if not record.accession(kind, alias):
                out.add.setdefault(kind, []).append(text)
            elif record.digest(kind, alias) != digest:
                out.modify.setdefault(kind, []).append(text)
            else:
                out.unchanged[kind] = out.unchanged.get(kind, 0) + 1
                continue
            if kind == "run":
                for f in el.iterfind("DATA_BLOCK/FILES/FILE"):
                    out.files.append(by_upload_name[f.get("filename")])
    return out


def submit(
    prepared: Prepared,
    record: DepositRecord,
    client: WebinClient,
    identifier: str,
    *,
    center: str | None = None,
    upload_files: Callable[[list[tuple[str, str, str]]], object] | None = None,
    tries: int = 4,
    wait: float = 2.0,
    say: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Send what ``record`` lacks; accessions land in ``record`` (saved after each answer)."""
    record.account = client.account
    outcome = Outcome(Plan())
    if record.pending:
        outcome.resolved_pending = record.pending["name"]
        say(f"asking ENA about submission {record.pending['name']}, whose answer was lost")
        _settle_pending(client, record, outcome, tries, wait)
    work = outcome.plan = plan(prepared, record)
    if work.empty:
        return outcome
    if work.files and upload_files is not None:
        say(f"uploading {counted(len(work.files), 'read file')} to the Webin upload area")
        upload_files(work.files)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    for action, objects in (("MODIFY", work.modify), ("ADD", work.add)):
        if not any(objects.values()):
            continue
        name = f"{identifier}:{action.lower()}:{stamp}"
        documents = {kind: _set(kind, els) for kind, els in objects.items() if els}
        # the release date travels with every submission: a MODIFY keeps the embargo
        hold = prepared.release.date if prepared.release else None
        documents["submission"] = submission(identifier, action, hold, center, name=name)
        sent = {
            f"{kind}\t{alias}": d for (kind, alias), d in work.digests.items() if kind in documents
        }
        record.pending = {"name": name, "action": action, "digests": sent, "date": now_iso()}
        record.save()  # before sending: a crash now still knows to ask ENA
        say(f"sending {action} of {_describe(objects)}")
        try:
            raw = client.submit(documents)
        except AnswerLost as e:
            say(f"{e}; asking ENA whether it holds {name}")
            raw = _after_loss(client, record, name, documents, tries, wait)
        outcome.receipts.append(_settle(record, raw, name))
    return outcome


def _settle(record: DepositRecord, raw: bytes, name: str, stored=None) -> tuple[str, Receipt]:
    """Store, then read, then record: an accepted submission is never only in memory."""
    stored = stored or record.keep_receipt(name, raw)
    receipt = parse_receipt(raw)
    digests = {
        tuple(k.split("\t", 1)): v for k, v in (record.pending or {}).get("digests", {}).items()
    }
    if receipt.success:
        record.apply(receipt, digests, stored)
    record.pending = None
    record.save()
    if not receipt.success:
        raise DepositRefused(receipt.errors or ["ENA said no, without a reason"], stored)
    return str(stored), receipt


def _after_loss(client, record, name, documents, tries, wait) -> bytes:
    """The receipt of ``name``: ENA's own if it took it, else from sending it again."""
    for attempt in range(tries):
        time.sleep(wait * attempt)
        try:
            found = _ask(client, record, name)
            if found is not None:
                return found
            raw = client.submit(documents)  # ENA never had it: same name, so never twice
        except AnswerLost:
            continue
        again = parse_receipt(raw)
        if again.success or not any(
            ALREADY_THERE in e and "submission," in e for e in again.errors
        ):
            return raw
        # the first one arrived meanwhile: ask for its receipt on the next turn
    raise AnswerLost(
        f"no answer from Webin about submission {name} after {tries} tries; it stays pending "
        "in the deposit record and the next run asks ENA about it first"
    )


def _ask(client: WebinClient, record: DepositRecord, name: str) -> bytes | None:
    """ENA's receipt for the submission ``name``, or None when ENA does not know it.
    Only a "not known" answer is stored here; a found receipt is stored as the
    submission's own by ``_settle``."""
    ask = submission("", "RECEIPT", None, name=f"{name}:receipt", target=name)
    raw = client.submit({"submission": ask})
    try:
        if parse_receipt(raw).success:
            return raw
    finally:
        record.keep_receipt(f"{name}:receipt", raw)
    return None


def _settle_pending(client, record, outcome, tries, wait) -> None:
    name = record.pending["name"]
    for attempt in range(tries):
        time.sleep(wait * attempt)
        try:
            found = _ask(client, record, name)
        except AnswerLost:
            continue
        if found is not None:
            outcome.receipts.append(_settle(record, found, name))
        else:  # ENA never took it: plan afresh
            record.pending = None
            record.save()
        return
    raise AnswerLost(f"Webin does not answer about the lost submission {name}; try again later")


def _set(kind: str, elements: list[bytes]) -> bytes:
    tag = f"{kind.upper()}_SET"
    return (
        b"<?xml version='1.0' encoding='UTF-8'?>\n<"
        + tag.encode()
        + b">\n"
        + b"\n".join(elements)
        + b"\n</"
        + tag.encode()
        + b">\n"
    )


def _describe(objects: dict[str, list[bytes]]) -> str:
    return ", ".join(counted(len(v), k) for k, v in objects.items() if v)
