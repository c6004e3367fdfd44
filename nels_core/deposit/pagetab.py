"""A BioStudies study in PageTab JSON, from an ISA bundle.

The study holds the bundle's own files (ISA-Tab, ISA-JSON, the MD5
manifest, the RO-Crate description): reads belong in ENA, so ENA's
accessions go in as links rather than the reads as files. Title,
description, release date, organisms and the NeLS source are attributes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from .model import Deposit

BUNDLE_FILES = ("isa.json", "manifest-md5.txt", "ro-crate-metadata.json", "export-report.json")


def bundle_files(bundle: Path) -> list[Path]:
    """The files of the bundle a BioStudies study carries, in a stable order."""
    tab = sorted((bundle / "isa-tab").glob("*.txt"))
    return tab + [bundle / n for n in BUNDLE_FILES if (bundle / n).is_file()]


def page_tab(
    deposit: Deposit,
    bundle: Path,
    folder: str,
    release: dt.date,
    accno: str = "",
    ena: dict[str, dict[str, dict]] | None = None,
) -> dict:
    """``folder``: where the files were uploaded in the user's BioStudies area;
    ``ena``: a deposit record's objects, whose accessions become links."""
    organisms = sorted({s.scientific_name for s in deposit.samples if s.scientific_name})
    attributes = [
        {"name": "Title", "value": deposit.title},
        {"name": "Description", "value": deposit.description or deposit.title},
        *({"name": "Organism", "value": o} for o in organisms),
    ]
    if deposit.location.startswith("nels://"):
        attributes.append({"name": "NeLS location", "value": deposit.location})
    files = []
    for path in bundle_files(bundle):
        relative = path.relative_to(bundle).as_posix()
        files.append(
            {
                "path": f"{folder}/{relative}",
                "attributes": [
                    {"name": "Description", "value": _describe(relative)},
                    {"name": "md5", "value": _md5(path)},
                ],
                "type": "file",
            }
        )
    links = []
    project = (ena or {}).get("project", {}).get(deposit.identifier)
    if project:
        links.append(_link(project["accession"], "ENA"))
    for entry in (ena or {}).get("run", {}).values():
        links.append(_link(entry["accession"], "ENA"))
    section = {"type": "Study", "attributes": attributes, "files": files}
    if links:
        section["links"] = links
    return {
        "accno": accno,
        "attributes": [
            {"name": "Title", "value": deposit.title},
            {"name": "ReleaseDate", "value": release.isoformat()},
        ],
        "section": section,
        "type": "submission",
    }


def _link(accession: str, kind: str) -> dict:
    return {"url": accession, "attributes": [{"name": "Type", "value": kind}]}


def _describe(relative: str) -> str:
    if relative.startswith("isa-tab/"):
        return "ISA-Tab table"
    return {
        "isa.json": "ISA-JSON description of the study",
        "manifest-md5.txt": "MD5 checksums of the read files",
        "ro-crate-metadata.json": "RO-Crate description of the bundle",
        "export-report.json": "What the export found and warned about",
    }.get(relative, "bundle file")


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest().upper()
