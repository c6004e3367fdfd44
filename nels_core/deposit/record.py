"""What was deposited where, kept with the bundle: ``deposits/ena-<server>.json``
and every raw receipt under ``deposits/receipts/``.

The record is what makes a re-run safe: objects already accessioned are
not sent again (or sent as MODIFY when their XML changed), and a
submission whose answer was lost is ``pending`` until ENA has been asked
what became of it. Each write is whole (temporary name, then rename), so
a crash leaves the previous record, never half of one. Test-server
objects are forgotten after ENA discards them (24 hours).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..isa.export import DEPOSITS as FOLDER
from ..local_files import write_whole
from .receipt import Receipt

TEST_LIFETIME = dt.timedelta(hours=24)  # ENA discards test submissions within a day


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class DepositRecord:
    path: Path
    archive: str  # "ena"
    server: str  # "test", "production" or a URL
    account: str = ""
    objects: dict[str, dict[str, dict]] = field(default_factory=dict)  # kind -> alias -> entry
    submissions: list[dict] = field(default_factory=list)
    pending: dict | None = None

    @classmethod
    def load(cls, bundle: Path, archive: str, server: str, now: dt.datetime | None = None):
        path = bundle / FOLDER / f"{archive}-{_slug(server)}.json"
        record = cls(path, archive, server)
        if path.exists():
            data = json.loads(path.read_text())
            record.account = data.get("account", "")
            record.objects = data.get("objects", {})
            record.submissions = data.get("submissions", [])
            record.pending = data.get("pending")
        if archive == "ena" and server != "production":
            record._forget_discarded(now or dt.datetime.now(dt.UTC))
        return record

    def _forget_discarded(self, now: dt.datetime) -> None:
        """Test objects older than a day are gone from ENA: forget them too."""
        for entries in self.objects.values():
            for alias in [
                a
                for a, e in entries.items()
                if e.get("date") and now - dt.datetime.fromisoformat(e["date"]) > TEST_LIFETIME
            ]:
                del entries[alias]

    def accession(self, kind: str, alias: str) -> str:
        return self.objects.get(kind, {}).get(alias, {}).get("accession", "")

    def digest(self, kind: str, alias: str) -> str:
        return self.objects.get(kind, {}).get(alias, {}).get("digest", "")

    def keep_receipt(self, name: str, raw: bytes) -> Path:
        """The receipt exactly as ENA sent it, stored before it is read."""
        folder = self.path.parent / "receipts"
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".xml" if self.archive == "ena" else ".json"  # BioStudies answers in JSON
        target = folder / f"{self.archive}-{_slug(self.server)}-{_slug(name)}{suffix}"
        n = 1
        while target.exists():  # a RECEIPT lookup of the same submission: keep both
            n += 1
            target = target.with_name(f"{target.stem.split('~')[0]}~{n}{suffix}")
        write_whole(target, raw)
        return target

    def apply(self, receipt: Receipt, digests: dict[tuple[str, str], str], stored: Path) -> None:
        """Accessions from an accepted submission, with the XML digest each was sent with."""
        when = now_iso()
        for o in receipt.objects:
            kind = o.kind.lower()
            if kind == "submission" or not o.accession:
                continue
            entry = self.objects.setdefault(kind, {}).setdefault(o.alias, {})
            entry.update(accession=o.accession, date=entry.get("date") or when)
            if o.ext_ids:
                entry["ext_ids"] = dict(o.ext_ids)
            if o.hold_until:
                entry["hold_until"] = o.hold_until
            if (kind, o.alias) in digests:
                entry["digest"] = digests[kind, o.alias]
        sub = next((o for o in receipt.objects if o.kind == "SUBMISSION"), None)
        self.submissions.append(
            {
                "alias": sub.alias if sub else "",
                "accession": sub.accession if sub else "",
                "actions": receipt.actions,
                "date": when,
                "receipt": stored.name,
                "test": receipt.is_test,
            }
        )

    def save(self) -> None:
        data = {
            "archive": self.archive,
            "server": self.server,
            "account": self.account,
            "pending": self.pending,
            "objects": self.objects,
            "submissions": self.submissions,
        }
        write_whole(self.path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def stored_records(bundle: Path) -> Iterator[dict]:
    """Each deposit record's content; one being replaced is read whole or not at all."""
    for f in sorted((bundle / FOLDER).glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield data


ACCESSION_COLUMNS = ("archive", "server", "kind", "alias", "accession")


def accession_rows(bundle: Path) -> list[tuple[str, str, str, str, str]]:
    """One row per object any archive accessioned, in ``ACCESSION_COLUMNS``."""
    return [
        (data.get("archive", ""), data.get("server", ""), kind, alias, entry.get("accession", ""))
        for data in stored_records(bundle)
        for kind, entries in (data.get("objects") or {}).items()
        for alias, entry in entries.items()
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:120] or "x"
