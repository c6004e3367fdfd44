"""An ISA bundle read back as the description SEEK registers.

``seek push`` usually describes a NeLS folder itself. A bundle (from the
ISA export, or the ENA tool's with accessions) says the same in its
tables; what SEEK needs beyond them is a lasting place for each read
file, since SEEK links data rather than holding it:
- a bundle exported from NeLS names its files there (``nels://``);
- one made from Galaxy datasets names a job's folder, gone when the job
  ends: the ENA runs the reads were deposited as stand in for them, and
  without those the bundle cannot be registered.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from nels_core.deposit.ena_xml import alias
from nels_core.deposit.isa_reader import read_bundle, read_investigation
from nels_core.deposit.model import Deposit
from nels_core.deposit.record import stored_records
from nels_core.errors import NelsError
from nels_core.isa.export import REPORT
from nels_core.isa.model import (
    UNKNOWN_SHEET,
    InvestigationRecord,
    Library,
    RawFile,
    Run,
    SampleRecord,
    StudyRecord,
    Term,
)
from nels_core.vocab import NCBI_TAXON

from .accessions import ENA_VIEW


class BundleSourceError(NelsError, ValueError):
    pass


def _sheet_of(folder: Path) -> str:
    """The metadata sheet the bundle was exported with, as its report names it."""
    try:
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UNKNOWN_SHEET
    return report.get("sheet", UNKNOWN_SHEET) if isinstance(report, dict) else UNKNOWN_SHEET


def investigation_from_bundle(folder: Path) -> InvestigationRecord:
    deposit = read_bundle(folder)
    _, tables = read_investigation(folder / "isa-tab" / "i_investigation.txt")
    titles = {t.get("identifier", ""): t for t in tables}
    in_nels = deposit.location.startswith("nels://")
    ena = [] if in_nels else _ena_records(folder)
    runs = _ena_runs(ena)
    location = deposit.location if in_nels else _ena_project(ena, deposit)
    inv = InvestigationRecord(
        identifier=deposit.identifier,
        title=deposit.title,
        description=deposit.description,
        release_date=deposit.release_date,
        location=location,
        sheet=_sheet_of(folder),
    )
    studies: dict[str, StudyRecord] = {}
    for s in deposit.samples:
        study = studies.get(s.study)
        if study is None:
            table = titles.get(s.study, {})
            study = studies[s.study] = StudyRecord(
                key=_key(deposit.study_folders.get(s.study, "")),
                identifier=s.study,
                title=table.get("title", ""),
                description=table.get("description", ""),
            )
            inv.studies.append(study)
        lib = s.library
        sample = SampleRecord(
            name=s.name,
            source=s.name,
            study=study.key,
            organism=Term(s.scientific_name, "NCBITaxon", NCBI_TAXON + s.taxon_id)
            if s.taxon_id
            else (Term(s.scientific_name) if s.scientific_name else None),
            characteristics=dict(s.attributes),
            library=Library(lib.strategy, lib.source, lib.selection, lib.layout)
            if lib
            else Library(),
            instrument=lib.instrument if lib else "",
        )
        for r in s.runs:
            if in_nels:
                where = [posixpath.join(deposit.location, f.path) for f in r.files]
            else:
                accession = runs.get(alias(deposit.identifier, s.study, r.name))
                if not accession:
                    raise BundleSourceError(
                        f"run {r.name} of sample {s.name} has no lasting place SEEK could link "
                        f"to: the bundle's reads were in {deposit.location or 'Galaxy'}, and ENA "
                        "has no run for them in it. Register a bundle exported from a NeLS "
                        "folder, or the one the ENA submission returned"
                    )
                where = [ENA_VIEW + accession] * len(r.files)
            files = [
                RawFile(f.path, 0, f.md5 or None, None, w)
                for f, w in zip(r.files, where, strict=True)
            ]
            sample.runs.append(Run(r.name, None, files))
        study.samples.append(sample)
    return inv


def _key(folder: str) -> str:
    """A study's key as the mapping makes it: its folder, '' for the source itself."""
    return "" if folder in ("", ".") else folder


def _ena_records(folder: Path) -> list[dict]:
    """The bundle's ENA deposit records, production's last: its accessions win."""
    records = (d for d in stored_records(folder) if d.get("archive") == "ena")
    return sorted(records, key=lambda d: d.get("server") == "production")


def _ena_runs(records: list[dict]) -> dict[str, str]:
    """Run accessions by alias."""
    runs: dict[str, str] = {}
    for data in records:
        for name, entry in ((data.get("objects") or {}).get("run") or {}).items():
            if entry.get("accession"):
                runs[name] = entry["accession"]
    return runs


def _ena_project(records: list[dict], deposit: Deposit) -> str:
    """The ENA project's page: the registration's lasting name when the reads are in ENA."""
    for data in reversed(records):
        entry = ((data.get("objects") or {}).get("project") or {}).get(deposit.identifier)
        if entry and entry.get("accession"):
            return ENA_VIEW + entry["accession"]
    return deposit.location
