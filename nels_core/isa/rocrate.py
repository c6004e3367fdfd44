"""``ro-crate-metadata.json`` in the ISA RO-Crate profile.

The investigation is the root Dataset, studies and assays are Datasets
with ``additionalType``, and each raw data file is a File entity whose
``@id`` is where it lives (its nels:// URI, or a file: URI for a local
source): the crate describes the data, it does not carry it. Checksums use
schema.org's ``sha256`` and Croissant's ``md5`` terms, declared in the
context.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from urllib.parse import quote

import orjson

from .model import AssayRecord, InvestigationRecord, RawFile, StudyRecord, Term

CONTEXT = [
    "https://w3id.org/ro/crate/1.1/context",
    {"md5": "http://mlcommons.org/croissant/md5", "sha256": "http://schema.org/sha256"},
]
PROFILE = "https://github.com/nfdi4plants/isa-ro-crate-profile/tree/main/profile"


def write_rocrate(inv: InvestigationRecord, folder: Path, parts: list[str]) -> Path:
    """Write the crate's metadata into ``folder``; ``parts``: the bundle's own files."""
    path = folder / "ro-crate-metadata.json"
    # one entity per line: readable and diffable, still one fast encoder call
    # each; written as made, a batch of lines at a time
    with open(path, "wb") as f:
        f.write(b'{"@context":%s,\n"@graph":[\n' % orjson.dumps(CONTEXT))
        lines = map(orjson.dumps, entities(inv, parts))
        between = b""
        while batch := list(islice(lines, _BATCH)):
            f.write(between + b",\n".join(batch))
            between = b",\n"
        f.write(b"\n]}\n")
    return path


_BATCH = 1000  # lines joined per write


_URI_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")  # what ``quote`` leaves as it is


def file_id(f: RawFile) -> str:
    if "://" in f.location:
        return f.location
    if _URI_SAFE.fullmatch(f.location):  # the usual path: nothing to quote
        return "file://" + f.location
    return "file://" + quote(f.location)


def crate(inv: InvestigationRecord, parts: list[str]) -> dict:
    """The whole crate in memory, as ``write_rocrate`` writes it."""
    return {"@context": CONTEXT, "@graph": list(entities(inv, parts))}


def entities(inv: InvestigationRecord, parts: list[str]) -> Iterator[dict]:
    """The crate's ``@graph``, in order; each file's entity made as it is needed."""
    yield {
        "@id": "ro-crate-metadata.json",
        "@type": "CreativeWork",
        "conformsTo": [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": PROFILE}],
        "about": {"@id": "./"},
    }
    studies, assays = [], []
    terms: dict[str, dict] = {}  # flattened JSON-LD: each term once, referenced by @id
    for study in inv.studies:
        sid = f"studies/{quote(study.identifier, safe='')}/"
        these = study.assays()
        assays += [(study, a) for a in these]
        studies.append(
            {
                "@id": sid,
                "@type": "Dataset",
                "additionalType": "Study",
                "identifier": study.identifier,
                "name": study.title or study.identifier,
                "description": study.description,
                "hasPart": [{"@id": _assay_id(a)} for a in these],
            }
        )
        for a in these:
            for t in (a.measurement, a.technology):
                terms[_term_id(t)] = _defined_term(t)
    root = {
        "@id": "./",
        "@type": "Dataset",
        "additionalType": "Investigation",
        "identifier": inv.identifier,
        "name": inv.title or inv.identifier,
        "description": inv.description or f"ISA description of {inv.location}",
        "hasPart": [{"@id": s["@id"]} for s in studies] + [{"@id": p} for p in parts],
    }
    if inv.release_date:
        root["datePublished"] = inv.release_date
    yield root
    yield from studies
    yield from ({"@id": p, "@type": "File", "name": p} for p in parts)
    yield from terms.values()
    for study, assay in assays:
        yield from _assay_entities(study, assay)


def _assay_id(assay: AssayRecord) -> str:
    return f"assays/{quote(assay.filename[2:-4], safe='')}/"


def _assay_entities(study: StudyRecord, assay: AssayRecord) -> Iterator[dict]:
    """The assay's Dataset, then a File entity per raw data file."""
    files = [f for s in assay.samples for f in s.files()]
    ids = [file_id(f) for f in files]  # built once: the Dataset's parts and the Files
    yield {
        "@id": _assay_id(assay),
        "@type": "Dataset",
        "additionalType": "Assay",
        "identifier": assay.filename[2:-4],
        "name": f"{study.identifier}: {assay.measurement.label}",
        "measurementMethod": {"@id": _term_id(assay.measurement)},
        "measurementTechnique": {"@id": _term_id(assay.technology)},
        "hasPart": [{"@id": i} for i in ids],
    }
    yield from map(_file, ids, files)


def _term_id(t: Term) -> str:
    return t.accession or "#term/" + quote(t.label, safe="")


def _defined_term(t: Term) -> dict:
    out = {"@id": _term_id(t), "@type": "DefinedTerm", "name": t.label}
    if t.accession:
        out["termCode"] = t.accession
    return out


def _file(id_: str, f: RawFile) -> dict:
    out = {
        "@id": id_,
        "@type": "File",
        "name": f.path,
        "contentSize": str(f.size),
        "encodingFormat": "application/gzip" if f.path.endswith(".gz") else "text/plain",
    }
    if f.md5:
        out["md5"] = f.md5
    return out
