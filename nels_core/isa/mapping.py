"""NeLS folders to ISA: which folder is a study, what each sample becomes.

The rule (README "ISA mapping"):
- the exported folder (a NeLS project, or any folder in it) is the
  investigation; a project's folder name is its identifier;
- each *delivery* below it is a study: a folder holding a sample sheet
  (with everything below it), else a folder holding data files directly;
- within a study, one assay per measurement type (genome, transcription,
  metagenome), as the library strategy and source imply;
- each sample: Source -> Sample -> extract -> library construction ->
  sequencing of each lane (one ISA Assay Name per lane) -> its read files.
The metadata sheet fills in what a delivery cannot say, and may move
samples between studies or into new ones.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from .. import vocab
from ..delivery import (
    SAMPLE_SHEET_NAMES,
    Delivery,
    DeliveryIssue,
    is_data_file,
    read_delivery,
)
from ..illumina import instrument_from_run, instrument_from_sheet_header
from .folder_sheet import in_metadata_folder
from .model import InvestigationRecord, Library, RawFile, Run, SampleRecord, StudyRecord


@dataclass
class Mapped:
    investigation: InvestigationRecord
    issues: list[DeliveryIssue]


def find_deliveries(entries, base: str) -> dict[str, list]:
    """``{folder relative to base: its file entries}``, one per delivery."""
    prefix = f"{base}/" if base else ""
    by_folder: dict[str, list] = {}  # decided once per folder, not once per file
    for e in entries:
        if not e.is_dir:
            folder, _, name = e.path[len(prefix) :].rpartition("/")
            by_folder.setdefault(folder, []).append((name, e))
    sheets = {f for f, files in by_folder.items() if any(n in SAMPLE_SHEET_NAMES for n, _ in files)}
    # a sample sheet inside another delivery belongs to it
    sheet_roots = {d for d in sheets if not _ancestors(d) & sheets}
    owners: dict[str, str] = {}
    for folder, files in by_folder.items():
        owner = _sheet_root(folder, sheet_roots)
        if owner is None and any(is_data_file(n) for n, _ in files):
            owner = folder
        if owner is not None:
            owners[folder] = owner
    out: dict[str, list] = {r: [] for r in sorted(set(owners.values()))}
    for folder, files in by_folder.items():
        if folder in owners:
            out[owners[folder]] += [e for _, e in files]
    return out


def _ancestors(folder: str) -> set[str]:
    """The folders above ``folder`` (relative paths, "" the top)."""
    out = set()
    while folder:
        folder = posixpath.dirname(folder)
        out.add(folder)
    return out


def _sheet_root(folder: str, roots: set[str]) -> str | None:
    """The delivery root ``folder`` is in or below, if any."""
    while True:
        if folder in roots:
            return folder
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def identifier_for(base: str) -> str:
    """The investigation identifier of a NeLS folder: its project's name, else its own."""
    parts = base.split("/")
    return (parts[1] if parts[0] == "Projects" and len(parts) > 1 else parts[-1]) or "nels"


def map_source(store, base: str, location: str, identifier: str) -> Mapped:
    """Read every delivery below ``base`` and describe them as ISA.

    ``location`` is how the result names the source (a nels:// URI or a
    local path); ``identifier`` names the investigation.
    """
    prefix = len(base) + 1 if base else 0
    entries = [
        e
        for e in store.list(base, recursive=True).entries
        if not in_metadata_folder(e.path[prefix:])  # sheets and bundles beside the data
    ]
    deliveries: dict[str, Delivery] = {}
    issues: list[DeliveryIssue] = []
    for key, files in find_deliveries(entries, base).items():
        folder = posixpath.join(base, key) if key else base
        d = read_delivery(store, folder, entries=files)
        deliveries[key] = d
        issues += [_under(key, i) for i in d.issues]
    if not deliveries:
        issues.append(DeliveryIssue("no-data", base, "no data files found in this folder"))

    inv = InvestigationRecord(identifier=identifier, title=identifier, location=location)
    used: set[str] = set()
    for key, d in deliveries.items():
        inv.studies.append(_study(key, d, location, used))
    return Mapped(inv, issues)


def _under(key: str, issue: DeliveryIssue) -> DeliveryIssue:
    """The issue with its path relative to the exported folder."""
    if not key or issue.path.startswith(key):
        return issue
    return DeliveryIssue(issue.code, posixpath.join(key, issue.path), issue.message)


def _study(key: str, d: Delivery, location: str, used: set[str]) -> StudyRecord:
    run = d.run if d.kind == "illumina" else ""  # "" too for Illumina files without a run folder
    name = run or posixpath.basename(key) or _last(location)
    identifier = name
    n = 2
    while identifier in used:
        identifier, n = f"{name}-{n}", n + 1
    used.add(identifier)
    what = f"sequencing run {run}" if run else f"data files in {key or name}"
    study = StudyRecord(
        key=key,
        identifier=identifier,
        title=what[0].upper() + what[1:],
        description=f"{len(d.samples)} samples: {what}.",
    )
    instrument = _instrument(d)
    top, under = location.rstrip("/"), f"{key}/" if key else ""
    for sample in d.samples.values():
        runs: dict[int | None, list[RawFile]] = {}
        for f in sample.files:
            rel = under + f.path
            runs.setdefault(f.lane, []).append(RawFile(rel, f.size, f.md5, f.read, f"{top}/{rel}"))
        study.samples.append(
            SampleRecord(
                name=sample.id,
                source=sample.id,
                study=key,
                library=Library(layout="PAIRED" if sample.paired else "SINGLE"),
                instrument=instrument,
                runs=[
                    Run(f"{sample.id}.L{lane:03d}" if lane else sample.id, lane, files)
                    for lane, files in sorted(runs.items(), key=lambda kv: kv[0] or 0)
                ],
            )
        )
    return study


def _instrument(d: Delivery) -> str:
    """The ENA instrument model that ran the delivery: as the sample sheet names
    it (exactly, or in BCL Convert's words), else as the run folder's
    instrument id says (A01447: a NovaSeq 6000); "" when nothing says."""
    header = d.sample_sheet.header if d.sample_sheet is not None else {}
    models = vocab.all_instrument_models()
    for key in ("InstrumentType", "Instrument", "InstrumentPlatform"):
        value = header.get(key, "")
        for candidate in (value, f"Illumina {value}"):
            found = vocab.canonical(candidate, models) if value else None
            if found and found != "unspecified":
                return found
    found = instrument_from_sheet_header(header)
    if found:
        return found
    if d.kind != "illumina":
        return ""
    return instrument_from_run(d.run) or instrument_from_run(posixpath.basename(d.root))


def _last(location: str) -> str:
    return posixpath.basename(location.rstrip("/")) or "data"
