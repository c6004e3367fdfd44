"""Where the web app keeps a NeLS folder's deposits: one bundle per folder,
shared by the project's members, so a deposit started by one of them is
known to the next (the bundle's deposit records say what each archive holds).

``WORK_DIR/deposits/<digest of the folder>/`` holds the bundle (the
folder's metadata sheet lives in NeLS beside the data). Each deposit exports the
folder afresh (the export keeps ``bundle/deposits/``) and runs under the
folder's lock (``nels_web.locks``, held across hosts), so two deposits of
one folder never interleave. ``WORK_DIR`` is shared by every web and worker
process (a shared file system when they run on several hosts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from nels_core.deposit.record import accession_rows, stored_records
from nels_core.isa.export import DEPOSITS

SHEET_SUFFIXES = (".tsv", ".xlsx")  # what the sheet upload takes


@dataclass(frozen=True)
class ArchiveRecord:
    """One deposit record, as the deposit page lists it."""

    archive: str  # ena, biostudies
    server: str
    account: str
    counts: dict[str, int]  # kind -> objects with an accession
    main: str  # the project's (ENA) or study's (BioStudies) accession
    submissions: int
    last: str  # date of the newest submission
    pending: bool


@dataclass(frozen=True)
class DepositFolder:
    root: Path
    path: str  # the NeLS folder

    @classmethod
    def of(cls, work_dir: str | Path, path: str) -> DepositFolder:
        # a name that is not UTF-8 keeps its own bytes (nels_core.byte_names)
        key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        return cls(Path(work_dir) / "deposits" / key, path)

    @property
    def bundle(self) -> Path:
        return self.root / "bundle"

    def records(self) -> list[ArchiveRecord]:
        found = []
        for data in stored_records(self.bundle):
            objects = data.get("objects") or {}
            mains = objects.get("project") or objects.get("study") or {}
            submissions = data.get("submissions") or []
            found.append(
                ArchiveRecord(
                    archive=data.get("archive", ""),
                    server=data.get("server", ""),
                    account=data.get("account", ""),
                    counts={k: len(v) for k, v in objects.items() if v},
                    main=next((e.get("accession", "") for e in mains.values()), ""),
                    submissions=len(submissions),
                    last=submissions[-1].get("date", "") if submissions else "",
                    pending=bool(data.get("pending")),
                )
            )
        return found

    def receipts(self) -> list[str]:
        """Stored answers, newest first."""
        folder = self.bundle / DEPOSITS / "receipts"
        if not folder.is_dir():
            return []
        files = [f for f in folder.iterdir() if f.is_file()]
        return [f.name for f in sorted(files, key=lambda f: f.stat().st_mtime, reverse=True)]

    def receipt(self, name: str) -> Path | None:
        """A stored answer by its listed name; nothing else under the folder."""
        if name not in self.receipts():
            return None
        return self.bundle / DEPOSITS / "receipts" / name

    def accession_rows(self) -> list[tuple[str, str, str, str, str]]:
        return accession_rows(self.bundle)
