"""ISA-JSON (ISA model 1.0 schemas) from the ISA records.

Identifiers are built from names (``#sample/s1/Liver-1``), never from
counters or object ids, so the document is the same for the same input.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import orjson

from .. import vocab
from .isatab import PROTOCOLS, characteristic_names
from .model import InvestigationRecord, Person, StudyRecord, Term


def write_isajson(inv: InvestigationRecord, path: Path) -> Path:
    # orjson: the same compact bytes as json.dumps(separators=(",", ":"),
    # ensure_ascii=False), 3.5x faster on a 10,000-sample study
    path.write_bytes(orjson.dumps(investigation_json(inv)) + b"\n")
    return path


_PLAIN = re.compile(r"[A-Za-z0-9._~/-]*")  # file paths keep their slashes


def _id(kind: str, *parts: str) -> str:
    plain = "#" + "/".join((kind, *parts))
    if _PLAIN.fullmatch(plain, 1):  # the usual case: one match for the whole id
        return plain
    return "#" + "/".join([kind, *(p if _PLAIN.fullmatch(p) else quote(p, safe="") for p in parts)])


def _comments(comments: dict[str, str]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in comments.items()]


def term(t: Term | None) -> dict:
    if t is None:
        return {"annotationValue": "", "termSource": "", "termAccession": ""}
    return {"annotationValue": t.label, "termSource": t.source, "termAccession": t.accession}


def person(p: Person) -> dict:
    return {
        "lastName": p.last_name,
        "firstName": p.first_name,
        "midInitials": "",
        "email": p.email,
        "phone": "",
        "fax": "",
        "address": "",
        "affiliation": p.affiliation,
        "roles": [term(Term(r.strip())) for r in p.roles.split(";") if r.strip()],
        "comments": [{"name": "ORCID", "value": p.orcid}] if p.orcid else [],
    }


def investigation_json(inv: InvestigationRecord) -> dict:
    used = inv.ontology_sources()
    return {
        "identifier": inv.identifier,
        "title": inv.title,
        "description": inv.description,
        "submissionDate": inv.submission_date,
        "publicReleaseDate": inv.release_date,
        "ontologySourceReferences": [
            {"name": name, "file": file, "version": "", "description": description}
            for name, (file, description) in vocab.ONTOLOGY_SOURCES.items()
            if name in used
        ],
        "publications": [],
        "people": [person(p) for p in inv.contacts],
        "comments": ([{"name": "NeLS location", "value": inv.location}] if inv.location else [])
        + _comments(inv.comments),
        "studies": [_study(f"s{i + 1}", st) for i, st in enumerate(inv.studies)],
    }


def _study(sid: str, study: StudyRecord) -> dict:
    protocols = {t.label: _id("protocol", sid, t.label) for t, _ in PROTOCOLS}
    params = {p: _id("parameter", sid, p) for _, ps in PROTOCOLS for p in ps}
    organism_cat = _id("characteristic_category", sid, "organism")
    categories = {n: _id("characteristic_category", sid, n) for n in characteristic_names(study)}
    sources: dict[str, dict] = {}
    samples, collection = [], []
    sample_ids = {s.name: _id("sample", sid, s.name) for s in study.samples}  # assays too
    for s in study.samples:
        src_id = _id("source", sid, s.source)
        if s.source not in sources:
            sources[s.source] = {
                "@id": src_id,
                "name": s.source,
                "characteristics": (
                    [{"category": {"@id": organism_cat}, "value": term(s.organism)}]
                    if s.organism
                    else []
                ),
            }
        sample_id = sample_ids[s.name]
        samples.append(
            {
                "@id": sample_id,
                "name": s.name,
                "characteristics": [
                    {"category": {"@id": categories[k]}, "value": v}
                    for k, v in s.characteristics.items()
                ],
                "factorValues": [],
                "derivesFrom": [{"@id": src_id}],
                "comments": _comments(s.comments),
            }
        )
        collection.append(
            _process(
                _id("process", sid, "collection", s.name),
                protocols["sample collection"],
                [src_id],
                [sample_id],
            )
        )
    return {
        "identifier": study.identifier,
        "title": study.title,
        "description": study.description,
        "filename": study.filename,
        "submissionDate": study.submission_date,
        "publicReleaseDate": study.release_date,
        "publications": [],
        "people": [person(p) for p in study.contacts],
        "studyDesignDescriptors": [],
        "protocols": [
            {
                "@id": protocols[t.label],
                "name": t.label,
                "protocolType": term(t),
                "description": "",
                "uri": "",
                "version": "",
                "parameters": [{"@id": params[p], "parameterName": term(Term(p))} for p in ps],
                "components": [],
            }
            for t, ps in PROTOCOLS
        ],
        "materials": {
            "sources": list(sources.values()),
            "samples": samples,
            "otherMaterials": [],
        },
        "processSequence": collection,
        "factors": [],
        "characteristicCategories": [
            *(
                [{"@id": organism_cat, "characteristicType": term(Term("organism"))}]
                if any(s.organism for s in study.samples)
                else []
            ),
            *({"@id": i, "characteristicType": term(Term(n))} for n, i in categories.items()),
        ],
        "unitCategories": [],
        "assays": [_assay(sid, a, protocols, params, sample_ids) for a in study.assays()],
        "comments": [{"name": "NeLS folder", "value": study.key}, *_comments(study.comments)],
    }


def _assay(sid: str, assay, protocols: dict, params: dict, sample_ids: dict) -> dict:
    extracts, files, processes = [], [], []
    for s in assay.samples:
        sample_id = sample_ids[s.name]
        extract_id = _id("material", sid, s.extract)
        extracts.append(
            {"@id": extract_id, "name": s.extract, "type": "Extract Name", "characteristics": []}
        )
        lib = s.library
        processes.append(
            _process(
                _id("process", sid, "extraction", s.name),
                protocols["nucleic acid extraction"],
                [sample_id],
                [extract_id],
            )
        )
        processes.append(
            _process(
                _id("process", sid, "library", s.name),
                protocols["library construction"],
                [extract_id],
                [],
                {
                    params["library source"]: lib.source,
                    params["library strategy"]: lib.strategy,
                    params["library selection"]: lib.selection,
                    params["library layout"]: lib.layout,
                    params["design description"]: lib.design,
                    params["library construction protocol"]: lib.protocol,
                    params["nominal length"]: lib.nominal_length,
                },
            )
        )
        for run in s.runs:
            outputs = []
            for f in run.files:
                file_id = _id("data", sid, f.path)
                outputs.append(file_id)
                files.append(
                    {
                        "@id": file_id,
                        "name": f.path,
                        "type": "Raw Data File",
                        "comments": [
                            {"name": "MD5", "value": f.md5 or ""},
                            {"name": "file size", "value": str(f.size)},
                        ],
                    }
                )
            p = _process(
                _id("process", sid, "sequencing", run.name),
                protocols["nucleic acid sequencing"],
                [extract_id],
                outputs,
                {params["sequencing instrument"]: s.instrument},
            )
            p["name"] = run.name
            processes.append(p)
    return {
        "filename": assay.filename,
        "measurementType": term(assay.measurement),
        "technologyType": term(assay.technology),
        "technologyPlatform": assay.platform,
        "dataFiles": files,
        "materials": {
            "samples": [{"@id": sample_ids[s.name]} for s in assay.samples],
            "otherMaterials": extracts,
        },
        "characteristicCategories": [],
        "unitCategories": [],
        "processSequence": processes,
    }


def _process(pid: str, protocol: str, inputs: list[str], outputs: list[str], values=None) -> dict:
    return {
        "@id": pid,
        "executesProtocol": {"@id": protocol},
        "parameterValues": [
            {"category": {"@id": k}, "value": v} for k, v in (values or {}).items()
        ],
        "inputs": [{"@id": i} for i in inputs],
        "outputs": [{"@id": o} for o in outputs],
    }
