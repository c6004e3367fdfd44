"""A BioStudies study in PageTab JSON, from an ISA bundle.

The study holds the bundle's own files (ISA-Tab, ISA-JSON, the MD5
manifest, the RO-Crate description): reads belong in ENA, so ENA's
accessions go in as links rather than the reads as files. Title,
description, release date, organisms and the NeLS source are attributes.
The bundle's contacts become ``Author`` subsections, each pointing by
reference (``affiliation``) at an ``Organization`` subsection, one for each
distinct affiliation, in the order the bundle names them (the sheet's order,
the investigation's contacts before the studies', as ISA-Tab groups them).

ENA's accessions link to the ENA browser of the server that gave them:
production's as BioStudies' own ``ENA`` links (which it resolves to the
browser), the test server's to ENA's test browser; those of another server
(a stand-in) are carried as they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from .ena_xml import alias
from .model import Contact, Deposit

BUNDLE_FILES = ("isa.json", "manifest-md5.txt", "ro-crate-metadata.json", "export-report.json")
ENA_TEST_BROWSER = "https://wwwdev.ebi.ac.uk/ena/browser/view/"
ORCID_PREFIXES = ("https://orcid.org/", "http://orcid.org/", "orcid.org/")


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
    ena_server: str = "",
) -> dict:
    """``folder``: where the files were uploaded in the user's BioStudies area;
    ``ena``: a deposit record's objects, whose accessions become links;
    ``ena_server``: that record's server ("production", "test" or an address)."""
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
    if project and project.get("accession"):
        links.append(_link(project["accession"], "ENA project", ena_server))
    runs = (ena or {}).get("run", {})
    for s in deposit.samples:
        for run in s.runs:
            entry = runs.get(alias(deposit.identifier, s.study, run.name)) or {}
            if entry.get("accession"):
                links.append(_link(entry["accession"], f"ENA run {run.name}", ena_server))
    section = {"type": "Study", "attributes": attributes, "files": files}
    if links:
        section["links"] = links
    people = authors(deposit.contacts)
    if people:
        section["subsections"] = people
    return {
        "accno": accno,
        "attributes": [
            {"name": "Title", "value": deposit.title},
            {"name": "ReleaseDate", "value": release.isoformat()},
        ],
        "section": section,
        "type": "submission",
    }


def digest(page: dict) -> str:
    """The PageTab's SHA-256, over canonical JSON (keys sorted, no spaces): equal
    documents, however built, have equal digests."""
    text = json.dumps(page, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def authors(contacts: list[Contact]) -> list[dict]:
    """``Author`` sections (the same person named twice, once), then one
    ``Organization`` section for each distinct affiliation, in the contacts' order."""
    people, organisations, seen = [], {}, set()
    for c in contacts:
        key = (c.name.casefold(), c.email.casefold())
        if key in seen:
            continue
        seen.add(key)
        attributes = [{"name": "Name", "value": c.name}]
        if c.email:
            attributes.append({"name": "E-mail", "value": c.email})  # as BioStudies spells it
        if c.orcid:
            attributes.append({"name": "ORCID", "value": _orcid(c.orcid)})
        if c.roles:
            attributes.append({"name": "Role", "value": c.roles})
        if c.affiliation:
            accno = organisations.setdefault(c.affiliation, f"o{len(organisations) + 1}")
            attributes.append({"name": "affiliation", "value": accno, "reference": True})
        people.append({"type": "Author", "attributes": attributes})
    return people + [
        {"type": "Organization", "accno": accno, "attributes": [{"name": "Name", "value": name}]}
        for name, accno in organisations.items()
    ]


def _orcid(text: str) -> str:
    for prefix in ORCID_PREFIXES:
        if text.lower().startswith(prefix):
            return text[len(prefix) :]
    return text


def _link(accession: str, description: str, server: str) -> dict:
    """Production's accessions as BioStudies' ``ENA`` links, which it resolves to
    ENA's browser; the test server's at ENA's test browser, whose objects ENA
    discards within a day; another server's (a stand-in's) as they are."""
    if server == "test":
        url, kind = ENA_TEST_BROWSER + accession, "ENA test server"
        description += " (discarded within 24 hours)"
    else:
        url, kind = accession, "ENA"
    return {
        "url": url,
        "attributes": [
            {"name": "Type", "value": kind},
            {"name": "Description", "value": description},
        ],
    }


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
