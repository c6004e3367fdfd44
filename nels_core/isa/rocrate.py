"""``ro-crate-metadata.json`` in the ISA RO-Crate profile.

The investigation is the root Dataset, studies and assays are Datasets
with ``additionalType``, and each raw data file is a File entity whose
``@id`` is where it lives (its nels:// URI, or a file: URI for a local
source): the crate describes the data, it does not carry it. Checksums use
schema.org's ``sha256`` and Croissant's ``md5`` terms, declared in the
context.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import orjson

from .model import InvestigationRecord, RawFile, Term

CONTEXT = [
    "https://w3id.org/ro/crate/1.1/context",
    {"md5": "http://mlcommons.org/croissant/md5", "sha256": "http://schema.org/sha256"},
]
PROFILE = "https://github.com/nfdi4plants/isa-ro-crate-profile/tree/main/profile"


def write_rocrate(inv: InvestigationRecord, folder: Path, parts: list[str]) -> Path:
    """Write the crate's metadata into ``folder``; ``parts``: the bundle's own files."""
    path = folder / "ro-crate-metadata.json"
    # one entity per line: readable and diffable, still one fast encoder call each
    graph = crate(inv, parts)
    lines = [orjson.dumps(e) for e in graph["@graph"]]
    context = orjson.dumps(graph["@context"])
    path.write_bytes(b'{"@context":%s,\n"@graph":[\n%s\n]}\n' % (context, b",\n".join(lines)))
    return path


def file_id(f: RawFile) -> str:
    if "://" in f.location:
        return f.location
    return "file://" + quote(f.location)


def crate(inv: InvestigationRecord, parts: list[str]) -> dict:
    graph: list[dict] = [
        {
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "conformsTo": [{"@id": "https://w3id.org/ro/crate/1.1"}, {"@id": PROFILE}],
            "about": {"@id": "./"},
        }
    ]
    studies, entities = [], []
    terms: dict[str, dict] = {}  # flattened JSON-LD: each term once, referenced by @id
    for study in inv.studies:
        sid = f"studies/{quote(study.identifier, safe='')}/"
        assays = []
        for assay in study.assays():
            aid = f"assays/{quote(assay.filename[2:-4], safe='')}/"
            files = [(file_id(f), f) for s in assay.samples for f in s.files()]
            entities.append(
                {
                    "@id": aid,
                    "@type": "Dataset",
                    "additionalType": "Assay",
                    "identifier": assay.filename[2:-4],
                    "name": f"{study.identifier}: {assay.measurement.label}",
                    "measurementMethod": {"@id": _term_id(assay.measurement)},
                    "measurementTechnique": {"@id": _term_id(assay.technology)},
                    "hasPart": [{"@id": i} for i, _ in files],
                }
            )
            entities += [_file(i, f) for i, f in files]
            assays.append({"@id": aid})
            for t in (assay.measurement, assay.technology):
                terms[_term_id(t)] = _defined_term(t)
        studies.append(
            {
                "@id": sid,
                "@type": "Dataset",
                "additionalType": "Study",
                "identifier": study.identifier,
                "name": study.title or study.identifier,
                "description": study.description,
                "hasPart": assays,
            }
        )
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
    graph.append(root)
    graph += studies
    graph += [{"@id": p, "@type": "File", "name": p} for p in parts]
    graph += terms.values()
    graph += entities
    return {"@context": CONTEXT, "@graph": graph}


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
