"""``isa export``: a NeLS folder (and a metadata sheet) to an ISA bundle.

The bundle is written into a hidden folder beside ``out`` and renamed into
place when complete, so an interrupted export leaves the previous bundle
whole. A folder that is not an earlier bundle is never replaced.
"""

from __future__ import annotations

import json
import shutil
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .. import collector
from ..delivery import DeliveryError, DeliveryIssue
from ..errors import NelsError
from ..paths import locate
from ..reads_check import count_records
from ..storage.base import SMALL_FILE
from ..taxonomy import Taxonomy, TaxonomyUnavailable
from ..vocab import NCBI_TAXON
from ..wording import counted, first
from .folder_sheet import FolderSheets
from .isajson import write_isajson
from .isatab import write_isatab
from .manifest import Mismatch, fill_md5, verify, write_manifest
from .mapping import map_source
from .model import InvestigationRecord, Term
from .rocrate import write_rocrate
from .sheet import Section, apply_sheet, describe_missing, read_sheet

BUNDLE_MARKERS = ("isa.json", "manifest-md5.txt", "ro-crate-metadata.json")
REPORT = "export-report.json"
DEPOSITS = "deposits"  # the deposit records and receipts (nels_core.deposit.record)


class ExportError(NelsError, ValueError):
    pass


@dataclass
class ExportResult:
    investigation: InvestigationRecord
    issues: list[DeliveryIssue]
    computed_md5: int = 0
    verified: int | None = None  # files whose MD5 was recomputed and matched
    mismatches: list[Mismatch] = field(default_factory=list)
    out: Path | None = None
    project: dict | None = None  # the NeLS project the source lies in, with its flags


NO_SHEET = "none"  # ``describe`` applies no sheet at all, not even the folder's


def describe(
    store,
    base: str,
    location: str,
    identifier: str,
    metadata: Path | dict[str, Section] | str | None = None,
    strict: bool = False,
    taxonomy: Taxonomy | None = None,
) -> tuple[InvestigationRecord, list[DeliveryIssue]]:
    """The ISA records for a folder, a sheet applied, and every problem found;
    with ``taxonomy``, taxon ids filled from organism names the sheet gives.

    The sheet is ``metadata`` (a file, or sections already read), else the
    folder's newest version in NeLS (``folder_sheet``), unless ``metadata`` is
    ``NO_SHEET``; ``inv.sheet`` says which was applied.
    """
    mapped = map_source(store, base, location, identifier)
    inv, issues = mapped.investigation, list(mapped.issues)
    sections, inv.sheet = _sheet_for(store, base, metadata)
    if sections is not None:
        for said in apply_sheet(inv, sections):
            issues.append(DeliveryIssue("sheet-contradicts-data", "", said))
    issues += _empty_reads(store, base, inv)
    if taxonomy is not None:
        issues += _fill_taxa(inv, taxonomy)
    for what, names in describe_missing(inv):
        shown = first(names, 5)
        issues.append(
            DeliveryIssue(
                "missing-metadata",
                "",
                f"{what} not given for {counted(len(names), 'sample')}: {shown}",
            )
        )
    if strict and issues:
        raise DeliveryError(issues)
    return inv, issues


def _sheet_for(store, base: str, metadata) -> tuple[dict[str, Section] | None, str]:
    """The sheet to apply and what to call it."""
    if isinstance(metadata, Path):
        return read_sheet(metadata), metadata.name
    if isinstance(metadata, dict):
        return metadata, "the sheet given"
    if metadata == NO_SHEET:
        return None, ""
    sheets = FolderSheets(store, base)
    version = sheets.current()
    return (sheets.sections(version), version.path) if version else (None, "")


def _fill_taxa(inv: InvestigationRecord, taxonomy: Taxonomy) -> list[DeliveryIssue]:
    """A taxon id for each organism named without one, as ENA's taxonomy gives it."""
    unfilled: dict[str, list] = {}
    for s in inv.samples():
        if s.organism and s.organism.label and not s.organism.accession:
            unfilled.setdefault(s.organism.label, []).append(s)
    found = []
    for name, samples in unfilled.items():
        try:
            usable = [t for t in taxonomy.by_name(name) if t.submittable]
        except TaxonomyUnavailable as e:
            return [DeliveryIssue("taxonomy", "", f"taxon ids not filled from organisms: {e}")]
        if len(usable) != 1:
            said = "is not a species in ENA's taxonomy" if not usable else "names several taxa"
            found.append(
                DeliveryIssue("taxonomy", "", f"organism {name!r} {said}: give its taxon id")
            )
            continue
        for s in samples:
            s.organism = Term(usable[0].scientific_name, "NCBITaxon", NCBI_TAXON + usable[0].tax_id)
    return found


def _empty_reads(store, base: str, inv: InvestigationRecord) -> list[DeliveryIssue]:
    """Read files with no reads, found cheaply: 0 bytes, or small enough to
    read whole here (an empty gzip is 20 bytes). The full check (every byte,
    pairs) runs before a deposit sends anything (nels_core.reads_check)."""
    found = []
    small = [f for f in inv.files() if f.size <= SMALL_FILE]
    where = [f"{base}/{f.path}" if base else f.path for f in small]
    for f, data in zip(small, store.read_files(where), strict=True):
        try:
            count_records((data,))
        except (ValueError, zlib.error) as e:
            found.append(DeliveryIssue("empty-reads", f.path, f"{e}; ENA refuses such a file"))
    return found


def export_bundle(
    store,
    base: str,
    location: str,
    identifier: str,
    out: Path,
    metadata: Path | dict[str, Section] | str | None = None,
    strict: bool = False,
    check: bool = False,
    tick=None,
    taxonomy: Taxonomy | None = None,
) -> ExportResult:
    with collector.paused():
        inv, issues = describe(store, base, location, identifier, metadata, strict, taxonomy)
        return _export_described(store, base, inv, issues, out, check, tick)


def export_described(store, base, inv, issues, out: Path, check=False, tick=None) -> ExportResult:
    """Write the bundle of an investigation already described (and perhaps
    annotated since, as ``seek pull`` does); ``store``/``base`` hold its files."""
    with collector.paused():
        return _export_described(store, base, inv, issues, out, check, tick)


def _export_described(store, base, inv, issues, out, check, tick) -> ExportResult:
    if not inv.samples():
        raise ExportError(f"nothing to export: no data files below {inv.location}")
    result = ExportResult(inv, issues, project=nels_project(store, base))
    computed = fill_md5(store, base, inv, tick)
    result.computed_md5 = len(computed)
    if check:
        files = inv.files()
        result.mismatches = verify(store, base, files, tick, fresh=computed)
        result.verified = len(files) - len(result.mismatches)
        if result.mismatches:
            raise ExportError(
                f"{counted(len(result.mismatches), 'file')} disagree with the MD5 the delivery's "
                "checksum file gives: the file changed after delivery, or the checksum file is "
                "wrong. Ask the sequencing facility which is right; exporting again repeats the "
                "checksum file's value. Nothing written:\n"
                + "\n".join(
                    f"- {m.path}: the checksum file says {m.expected}, the bytes give {m.actual}"
                    for m in result.mismatches
                )
            )
    result.out = _write_bundle(inv, issues, out, result)
    return result


def _write_bundle(inv: InvestigationRecord, issues, out: Path, result: ExportResult) -> Path:
    out = out.absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_bundle(out))):
        raise ExportError(f"{out} exists and is not an ISA bundle; refusing to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    work = out.parent / f".{out.name}.part-{tag}"
    work.mkdir()
    try:
        tab = write_isatab(inv, work / "isa-tab")
        write_isajson(inv, work / "isa.json")
        write_manifest(inv, work / "manifest-md5.txt")
        (work / REPORT).write_text(json.dumps(_report(inv, issues, result), indent=1) + "\n")
        parts = [f"isa-tab/{p.name}" for p in tab] + ["isa.json", "manifest-md5.txt", REPORT]
        write_rocrate(inv, work, parts)
        if (out / DEPOSITS).is_dir():  # what archives hold of it outlives a re-export
            shutil.copytree(out / DEPOSITS, work / DEPOSITS)
        old = out.parent / f".{out.name}.old-{tag}"
        if out.exists():
            out.rename(old)
        work.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


def nels_project(store, base: str) -> dict | None:
    """The NeLS project holding ``base``, as the deposit rules need it: a
    project flagged sensitive never goes to a public archive."""
    account = getattr(store, "account", None)
    loc = locate(base) if base else None
    if account is None or loc is None or not loc.project:
        return None
    m = account.membership(loc.project)
    if m is None:
        return None
    return {"id": m.project.id, "name": m.project.name, "sensitive": m.project.issensitive}


def _is_bundle(folder: Path) -> bool:
    return any((folder / m).exists() for m in BUNDLE_MARKERS)


def _report(inv: InvestigationRecord, issues, result: ExportResult) -> dict:
    """What was exported and every warning; nothing time- or machine-dependent."""
    return {
        "source": inv.location,
        "investigation": inv.identifier,
        "studies": [
            {
                "identifier": st.identifier,
                "folder": st.key or ".",
                "samples": len(st.samples),
                "assays": [a.filename for a in st.assays()],
            }
            for st in inv.studies
        ],
        "samples": len(inv.samples()),
        "files": len(inv.files()),
        "md5_computed": result.computed_md5,
        "md5_verified": result.verified,
        "nels_project": result.project,
        "sheet": inv.sheet,
        "warnings": [{"code": i.code, "path": i.path, "message": i.message} for i in issues],
    }
