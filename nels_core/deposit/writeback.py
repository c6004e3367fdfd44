"""Accessions written back into the ISA bundle, as ISA comments.

ISA-Tab: ``Comment[ENA project]`` and ``Comment[ENA study]`` in the
investigation section; ``Comment[ENA sample]`` and ``Comment[BioSample]``
after a study table's sample columns; ``Comment[ENA experiment]`` after an
assay's Extract Name (the library) and ``Comment[ENA run]`` after its
Assay Name (the run). ISA-JSON gets the same comments on the same nodes.
Columns already there are refilled, so a re-run changes values, not the
layout. Every file is written whole (temporary name, then rename).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..local_files import write_whole
from .ena_xml import alias
from .isa_reader import read_investigation


def write_accessions(bundle: Path, identifier: str, objects: dict[str, dict[str, dict]]) -> int:
    """Fill the bundle's comments from ``objects`` (a deposit record's): the cells changed."""
    tab = bundle / "isa-tab"
    _, studies = read_investigation(tab / "i_investigation.txt")
    project = objects.get("project", {}).get(identifier, {})
    top = {
        "ENA project": project.get("accession", ""),
        "ENA study": project.get("ext_ids", {}).get("study", ""),
    }
    top = {k: v for k, v in top.items() if v}
    changed = 0
    if top:
        changed += set_investigation_comments(tab / "i_investigation.txt", top)
    for study in studies:
        sid = study["identifier"]

        def sample_values(name, sid=sid):
            return _sample_comments(objects, identifier, sid, name)

        changed += _fill(tab / study["file"], [(None, "Sample Name", sample_values)])
        for assay in study["assays"]:

            def experiment(name, sid=sid):
                entry = objects.get("experiment", {}).get(alias(identifier, sid, name), {})
                return {"ENA experiment": entry.get("accession", "")}

            def run(name, sid=sid):
                entry = objects.get("run", {}).get(alias(identifier, sid, name), {})
                return {"ENA run": entry.get("accession", "")}

            changed += _fill(
                tab / assay,
                [("Assay Name", "Assay Name", run), ("Extract Name", "Sample Name", experiment)],
            )
    _isajson(bundle / "isa.json", identifier, top, objects)
    return changed


def set_investigation_comments(path: Path, values: dict[str, str]) -> int:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    wanted = {f"Comment[{k}]": v for k, v in values.items()}
    had = {line.split("\t", 1)[0]: line.rstrip("\n").split("\t")[1:] for line in lines}
    changed = sum(had.get(k) != [v] for k, v in wanted.items())
    if not changed:
        return 0
    out, in_investigation, placed = [], False, False
    for line in lines:
        label = line.split("\t", 1)[0].rstrip("\n")
        if label in wanted:
            continue  # written again below, with the new value
        if label == "INVESTIGATION":
            in_investigation = True
        elif in_investigation and not placed and label.isupper() and label != "INVESTIGATION":
            out += [f"{k}\t{v}\n" for k, v in wanted.items()]
            placed = True
        out.append(line)
    if not placed:
        out += [f"{k}\t{v}\n" for k, v in wanted.items()]
    write_whole(path, "".join(out).encode("utf-8"))
    return changed


def _fill(path: Path, columns) -> int:
    """``columns``: (after which column, or None for the end; the column naming a
    row; ``values_of(name)`` -> {comment: value}). One read, one write if anything
    changed; the cells changed."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], rows[1:]
    if not body:
        return 0
    changed, inserted = 0, False
    for after, key_column, values_of in columns:
        for name in values_of(body[0][header.index(key_column)]):
            if f"Comment[{name}]" not in header:
                at = len(header) if after is None else header.index(after) + 1
                header.insert(at, f"Comment[{name}]")
                for r in body:
                    r.insert(at, "")
                inserted = True
        key_at = header.index(key_column)
        for r in body:
            for name, value in values_of(r[key_at]).items():
                at = header.index(f"Comment[{name}]")
                if value and r[at] != value:
                    r[at] = value
                    changed += 1
    if changed or inserted:
        # written as the export writes tables: tab-joined, cells never quoted
        text = "".join("\t".join(r) + "\n" for r in (header, *body))
        write_whole(path, text.encode("utf-8"))
    return changed


def _isajson(path: Path, identifier: str, top: dict[str, str], objects) -> None:
    if not path.exists():
        return
    doc = json.loads(path.read_text(encoding="utf-8"))
    changed = _set_comments(doc, top)
    for study in doc.get("studies", []):
        sid = study.get("identifier", "")
        for sample in study.get("materials", {}).get("samples", []):
            changed |= _set_comments(
                sample, _sample_comments(objects, identifier, sid, sample["name"])
            )
        for assay in study.get("assays", []):
            for process in assay.get("processSequence", []):
                entry = objects.get("run", {}).get(alias(identifier, sid, process.get("name", "")))
                if entry:
                    changed |= _set_comments(process, {"ENA run": entry.get("accession", "")})
    if changed:
        write_whole(
            path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        )


def _sample_comments(objects, identifier: str, study: str, name: str) -> dict[str, str]:
    """A sample's accessions, as both ISA-Tab and ISA-JSON name them."""
    entry = objects.get("sample", {}).get(alias(identifier, study, name), {})
    return {
        "ENA sample": entry.get("accession", ""),
        "BioSample": entry.get("ext_ids", {}).get("biosample", ""),
    }


def _set_comments(node: dict, values: dict[str, str]) -> bool:
    """Whether any comment of ``node`` changed."""
    comments = node.setdefault("comments", [])
    changed = False
    for name, value in values.items():
        if not value:
            continue
        for c in comments:
            if c.get("name") == name:
                changed |= c["value"] != value
                c["value"] = value
                break
        else:
            comments.append({"name": name, "value": value})
            changed = True
    return changed
