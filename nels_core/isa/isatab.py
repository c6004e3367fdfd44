"""ISA-Tab written from the ISA records: ``i_investigation.txt``, one
``s_*.txt`` per study and one ``a_*.txt`` per assay.

Written directly rather than through ``isatools.isatab.dump``, whose time
grows quadratically with the number of samples; tests load our files back
with isatools and its validator checks them. Layout as isatools writes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .. import vocab
from .model import (
    EXTRACTION,
    LIBRARY_CONSTRUCTION,
    LIBRARY_PARAMETERS,
    SAMPLE_COLLECTION,
    SEQUENCING_PARAMETERS,
    SEQUENCING_PROTOCOL,
    AssayRecord,
    InvestigationRecord,
    Person,
    StudyRecord,
    Term,
)

PROTOCOLS = (
    (SAMPLE_COLLECTION, ()),
    (EXTRACTION, ()),
    (LIBRARY_CONSTRUCTION, LIBRARY_PARAMETERS),
    (SEQUENCING_PROTOCOL, SEQUENCING_PARAMETERS),
)


def write_isatab(inv: InvestigationRecord, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = [_write(folder / "i_investigation.txt", investigation_lines(inv))]
    for study in inv.studies:
        written.append(_write(folder / study.filename, _table(*study_table(study))))
        for assay in study.assays():
            written.append(_write(folder / assay.filename, _table(*assay_table(assay))))
    return written


def _write(path: Path, lines) -> Path:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    return path


def _cell(value) -> str:
    """One cell: tabs and line breaks would break the table."""
    text = "" if value is None else str(value)
    if "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return text


def _line(cells: list) -> str:
    """One row: its cells joined at once, cleaned one by one only when needed
    (a table of 40,000 rows has 600,000 cells, nearly all plain text)."""
    try:
        line = "\t".join(cells)
    except TypeError:  # None or a number among them
        return "\t".join(map(_cell, cells)) + "\n"
    if line.count("\t") != len(cells) - 1 or "\n" in line or "\r" in line:
        return "\t".join(map(_cell, cells)) + "\n"
    return line + "\n"


def _table(header: list[str], rows) -> Iterator[str]:
    yield "\t".join(header) + "\n"
    yield from map(_line, rows)


# --- investigation file ---------------------------------------------------------
def investigation_lines(inv: InvestigationRecord) -> list[str]:
    out: list[str] = []

    def row(label: str, values=()) -> None:
        out.append("\t".join([label, *map(_cell, values)]) + "\n")

    names = inv.ontology_sources()
    out.append("ONTOLOGY SOURCE REFERENCE\n")
    row("Term Source Name", names)
    row("Term Source File", [vocab.ONTOLOGY_SOURCES[n][0] for n in names])
    row("Term Source Version", ["" for _ in names])
    row("Term Source Description", [vocab.ONTOLOGY_SOURCES[n][1] for n in names])
    out.append("INVESTIGATION\n")
    row("Investigation Identifier", [inv.identifier])
    row("Investigation Title", [inv.title])
    row("Investigation Description", [inv.description])
    row("Investigation Submission Date", [inv.submission_date])
    row("Investigation Public Release Date", [inv.release_date])
    for name, value in inv.comments.items():
        row(f"Comment[{name}]", [value])
    _publications(row, "INVESTIGATION", "Investigation")
    _contacts(row, "INVESTIGATION", "Investigation", inv.contacts)
    for study in inv.studies:
        _study(row, study)
    return out


def _publications(row, section: str, prefix: str) -> None:
    row(f"{section} PUBLICATIONS")
    for label in (
        "PubMed ID",
        "Publication DOI",
        "Publication Author List",
        "Publication Title",
        "Publication Status",
        "Publication Status Term Accession Number",
        "Publication Status Term Source REF",
    ):
        row(f"{prefix} {label}")


def _contacts(row, section: str, prefix: str, people: list[Person]) -> None:
    row(f"{section} CONTACTS")
    p = f"{prefix} Person"
    row(f"{p} Last Name", [x.last_name for x in people])
    row(f"{p} First Name", [x.first_name for x in people])
    row(f"{p} Mid Initials", ["" for _ in people])
    row(f"{p} Email", [x.email for x in people])
    row(f"{p} Phone", ["" for _ in people])
    row(f"{p} Fax", ["" for _ in people])
    row(f"{p} Address", ["" for _ in people])
    row(f"{p} Affiliation", [x.affiliation for x in people])
    row(f"{p} Roles", [x.roles for x in people])
    row(f"{p} Roles Term Accession Number", ["" for _ in people])
    row(f"{p} Roles Term Source REF", ["" for _ in people])
    if any(x.orcid for x in people):
        row(f"Comment[{p} ORCID]", [x.orcid for x in people])


def _study(row, study: StudyRecord) -> None:
    row("STUDY")
    row("Study Identifier", [study.identifier])
    row("Study Title", [study.title])
    row("Study Description", [study.description])
    row("Study Submission Date", [study.submission_date])
    row("Study Public Release Date", [study.release_date])
    row("Study File Name", [study.filename])
    for name, value in study.comments.items():
        row(f"Comment[{name}]", [value])
    row("STUDY DESIGN DESCRIPTORS")
    row("Study Design Type")
    row("Study Design Type Term Accession Number")
    row("Study Design Type Term Source REF")
    _publications(row, "STUDY", "Study")
    row("STUDY FACTORS")
    for label in ("Name", "Type", "Type Term Accession Number", "Type Term Source REF"):
        row(f"Study Factor {label}")
    assays = study.assays()
    row("STUDY ASSAYS")
    row("Study Assay File Name", [a.filename for a in assays])
    _terms(row, "Study Assay Measurement Type", [a.measurement for a in assays])
    _terms(row, "Study Assay Technology Type", [a.technology for a in assays])
    row("Study Assay Technology Platform", [a.platform for a in assays])
    row("STUDY PROTOCOLS")
    row("Study Protocol Name", [t.label for t, _ in PROTOCOLS])
    _terms(row, "Study Protocol Type", [t for t, _ in PROTOCOLS])
    for label in ("Description", "URI", "Version"):
        row(f"Study Protocol {label}", ["" for _ in PROTOCOLS])
    row("Study Protocol Parameters Name", [";".join(p) for _, p in PROTOCOLS])
    row(
        "Study Protocol Parameters Name Term Accession Number",
        [";" * (len(p) - 1) if p else "" for _, p in PROTOCOLS],
    )
    row(
        "Study Protocol Parameters Name Term Source REF",
        [";" * (len(p) - 1) if p else "" for _, p in PROTOCOLS],
    )
    for label in ("Name", "Type", "Type Term Accession Number", "Type Term Source REF"):
        row(f"Study Protocol Components {label}", ["" for _ in PROTOCOLS])
    _contacts(row, "STUDY", "Study", study.contacts)


def _terms(row, label: str, terms: list[Term]) -> None:
    row(label, [t.label for t in terms])
    row(f"{label} Term Accession Number", [t.accession for t in terms])
    row(f"{label} Term Source REF", [t.source for t in terms])


# --- study and assay tables ------------------------------------------------------
def characteristic_names(study: StudyRecord) -> list[str]:
    """Sample characteristics in first-seen order across the study."""
    return list(dict.fromkeys(k for s in study.samples for k in s.characteristics))


def study_table(study: StudyRecord) -> tuple[list[str], list[list[str]]]:
    names = characteristic_names(study)
    comments = list(dict.fromkeys(k for s in study.samples for k in s.comments))
    organism = any(s.organism for s in study.samples)
    header = [
        "Source Name",
        *(
            ("Characteristics[organism]", "Term Source REF", "Term Accession Number")
            if organism
            else ()
        ),
        "Protocol REF",
        "Sample Name",
        *(f"Characteristics[{n}]" for n in names),
        *(f"Comment[{n}]" for n in comments),
    ]
    rows = []
    for s in study.samples:
        o = s.organism
        rows.append(
            [
                s.source,
                *((o.label, o.source, o.accession) if o else ("", "", ""))[: 3 if organism else 0],
                SAMPLE_COLLECTION.label,
                s.name,
                *(s.characteristics.get(n, "") for n in names),
                *(s.comments.get(n, "") for n in comments),
            ]
        )
    return header, rows


ASSAY_HEADER = [
    "Sample Name",
    "Protocol REF",
    "Extract Name",
    "Protocol REF",
    *(f"Parameter Value[{p}]" for p in LIBRARY_PARAMETERS),
    "Protocol REF",
    *(f"Parameter Value[{p}]" for p in SEQUENCING_PARAMETERS),
    "Assay Name",
    "Raw Data File",
    "Comment[MD5]",
    "Comment[file size]",
]


def assay_table(assay: AssayRecord) -> tuple[list[str], Iterator[list[str]]]:
    """The header, and the rows made as they are read: one per raw data file."""
    return ASSAY_HEADER, _assay_rows(assay)


def _assay_rows(assay: AssayRecord) -> Iterator[list[str]]:
    for s in assay.samples:
        lib = s.library
        head = [
            s.name,
            EXTRACTION.label,
            s.extract,
            LIBRARY_CONSTRUCTION.label,
            lib.source,
            lib.strategy,
            lib.selection,
            lib.layout,
            lib.design,
            lib.protocol,
            lib.nominal_length,
            SEQUENCING_PROTOCOL.label,
            s.instrument,
        ]
        for run in s.runs:
            for f in run.files:
                yield [*head, run.name, f.path, f.md5 or "", str(f.size)]
