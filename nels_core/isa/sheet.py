"""The metadata sheet: what a delivery cannot say, filled in by the researcher.

Four sections, as TSV (``[Investigation]``, ``[Studies]``, ``[Contacts]``,
``[Samples]`` blocks, ``#`` comments) or XLSX (one worksheet each):

- Investigation: ``field<TAB>value`` rows (identifier, title, description,
  submission date, public release date);
- Studies: one row per study; ``study`` is the delivery folder the export
  found (``.`` for the exported folder itself) or a new name, which makes a
  new study that samples can be moved into;
- Contacts: people, for a study or (``study`` empty) for the investigation;
- Samples: one row per sample; fixed columns, plus any number of
  ``Characteristics[<name>]`` columns.

Every error names the file, the row and the column; all of them are
reported at once.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .. import vocab
from ..errors import NelsError, ProblemsError
from ..insdc_geo import GeoLocationError, parse_geo_location
from ..local_files import write_whole
from ..wording import first
from . import sheet_limits as limits
from .model import InvestigationRecord, Person, StudyRecord, Term

INVESTIGATION_FIELDS = (
    "identifier",
    "title",
    "description",
    "submission date",
    "public release date",
)
STUDY_COLUMNS = (
    "study",
    "identifier",
    "title",
    "description",
    "submission date",
    "public release date",
)
CONTACT_COLUMNS = ("study", "last name", "first name", "email", "affiliation", "roles", "orcid")
SAMPLE_COLUMNS = (
    "study",
    "sample",
    "source",
    "organism",
    "taxon id",
    "collection date",
    "geographic location",
    "library strategy",
    "library source",
    "library selection",
    "library layout",
    "instrument",
    "design description",
    "library construction protocol",
    "insert size",
    "sample description",
)
SECTIONS = {
    "Investigation": ("field", "value"),
    "Studies": STUDY_COLUMNS,
    "Contacts": CONTACT_COLUMNS,
    "Samples": SAMPLE_COLUMNS,
}
# The values the reader takes in the controlled columns of [Samples] (the
# workbook offers them as drop-downs).
CONTROLLED = {
    "library strategy": vocab.LIBRARY_STRATEGIES,
    "library source": vocab.LIBRARY_SOURCES,
    "library selection": vocab.LIBRARY_SELECTIONS,
    "library layout": ("SINGLE", "PAIRED"),
    "instrument": vocab.all_instrument_models(),
}
# The workbook's own worksheets: help for the researcher, never read as sections.
INSTRUCTIONS, LISTS = "Instructions", "Lists"
# Sample attributes that become ISA sample characteristics (ENA's names).
COLLECTION_DATE = "collection date"
GEO_LOCATION = "geographic location (country and/or sea)"
GEO_REGION = "geographic location (region and locality)"
THIS_FOLDER = "."
SAMPLE_DESCRIPTION = "description"  # a sample's ISA Comment: ENA's sample DESCRIPTION


class SheetError(ProblemsError):
    what = "in the metadata sheet"


@dataclass
class Row:
    where: str  # "sheet.tsv, line 12" / "sheet.xlsx, Samples row 3"
    cells: dict[str, str]  # column name -> value, stripped

    def at(self, column: str) -> str:
        return f"{self.where}, column {column!r}"


@dataclass
class Section:
    name: str
    header: list[str]
    rows: list[Row] = field(default_factory=list)


# --- reading ----------------------------------------------------------------------
def read_sheet(path: Path, shown: str | None = None) -> dict[str, Section]:
    """The sheet's sections; ``shown``: the file's name in messages, where
    ``path`` is a stored copy (an upload) the researcher never named."""
    name = shown or path.name
    if path.stat().st_size == 0:
        raise SheetError([_empty(name)])
    if path.suffix.lower() == ".xlsx":
        sections = _read_xlsx(path, name)
    else:
        sections = _read_tsv(path, name)
    if not sections:  # only blank or comment lines: nothing a deposit could use
        raise SheetError([_empty(name)])
    return sections


def _empty(name: str) -> str:
    *some, last = (f"[{s}]" for s in SECTIONS)
    return (
        f"{name}: the sheet is empty (no {', '.join(some)} or {last} section); "
        "fill in the template first"
    )


def _read_tsv(path: Path, name: str) -> dict[str, Section]:
    if path.stat().st_size > limits.MAX_TEXT_BYTES:
        larger = f"larger than {limits.mib(limits.MAX_TEXT_BYTES)}"
        raise SheetError([f"{name}: the sheet is {larger}; {limits.SMALLER}"])
    problems: list[str] = []
    sections: dict[str, Section] = {}
    current: Section | None = None
    kept = _Kept(name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        at = data[: e.start].count(b"\n") + 1
        raise SheetError(
            [
                f"{name}, line {at}: characters that are not UTF-8 (the file was saved in "
                "another encoding); save the sheet as UTF-8 text, or as .xlsx"
            ]
        ) from None
    _refuse_long(text, name)
    for n, line in enumerate(text.splitlines(), 1):
        if line.count("\t") >= limits.MAX_COLUMNS:  # counted before the split makes them
            raise SheetError([f"{name}, line {n}: {_too_wide()}"])
        cells = kept.checked([c.strip() for c in line.split("\t")], f"{name}, line {n}")
        if not any(cells) or cells[0].startswith("#"):
            continue
        if cells[0].startswith("[") and cells[0].endswith("]"):
            current = _open_section(cells[0][1:-1], f"{name}, line {n}", sections, problems)
            if current is not None and current.name == "Investigation":
                current.header = list(SECTIONS["Investigation"])
            continue
        if current is None:
            problems.append(f"{name}, line {n}: data before the first [Section] line")
        elif not current.header:
            current.header = _header(cells, f"{name}, line {n}", current.name, problems)
        else:
            kept.add(current, Row(f"{name}, line {n}", _cells(current.header, cells)))
    if problems:
        raise SheetError(problems)
    return sections


def _refuse_long(text: str, name: str) -> None:
    """Too many lines refused before splitlines makes a string of each."""
    breaks = sum(text.count(c) for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
    if breaks - text.count("\r\n") > limits.MAX_ROWS:
        raise SheetError([f"{name}: more than {limits.MAX_ROWS:,} lines; {limits.SMALLER}"])


def _too_wide() -> str:
    return f"more than {limits.MAX_COLUMNS} columns; {limits.SMALLER}"


@dataclass
class _Kept:
    """What reading one sheet keeps, refused past the limits: a value longer
    than a cell holds, more values (rows times their section's columns) than
    a sheet of samples needs."""

    name: str
    values: int = 0

    def checked(self, cells: list[str], where: str) -> list[str]:
        for i, value in enumerate(cells, 1):
            if len(value) > limits.MAX_CELL_CHARS:
                raise SheetError(
                    [
                        f"{where}, column {i}: more than {limits.MAX_CELL_CHARS:,} characters, "
                        "more than a spreadsheet cell holds"
                    ]
                )
        return cells

    def add(self, section: Section, row: Row) -> None:
        self.values += len(section.header)
        if self.values > limits.MAX_CELLS:
            raise SheetError(
                [f"{self.name}: more than {limits.MAX_CELLS:,} values; {limits.SMALLER}"]
            )
        section.rows.append(row)


def _read_xlsx(path: Path, name: str) -> dict[str, Section]:
    try:
        import openpyxl
    except ImportError:
        raise NelsError(
            "reading .xlsx sheets needs openpyxl: pip install 'nels-bundle[isa]'"
        ) from None
    if problem := limits.workbook_problem(path, name):  # before openpyxl unpacks anything
        raise SheetError([problem])
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise SheetError([f"{name}: not a readable .xlsx workbook ({e})"]) from None
    problems: list[str] = []
    sections: dict[str, Section] = {}
    kept = _Kept(name)
    with closing(book):
        for ws in book.worksheets:
            if ws.title in (INSTRUCTIONS, LISTS):
                continue
            section = _open_section(ws.title, f"{name}, sheet {ws.title!r}", sections, problems)
            if section is not None:
                _read_worksheet(ws, section, kept, problems)
    if problems:
        raise SheetError(problems)
    return sections


def _read_worksheet(ws, section: Section, kept: _Kept, problems: list[str]) -> None:
    ws.reset_dimensions()  # rows as long as their cells: a stated size pads every row to it
    for n, values in enumerate(ws.iter_rows(values_only=True), 1):
        where = f"{kept.name}, {ws.title} row {n}"
        # the workbook's scan counted these already; what openpyxl gives is checked too
        if n > limits.MAX_ROWS:
            raise SheetError([f"{where}: more than {limits.MAX_ROWS:,} rows; {limits.SMALLER}"])
        if len(values) > limits.MAX_COLUMNS:
            raise SheetError([f"{where}: {_too_wide()}"])
        cells = kept.checked([_xlsx_text(v) for v in values], where)
        if not any(cells) or cells[0].startswith("#"):
            continue
        if not section.header:
            section.header = _header(cells, where, section.name, problems)
        else:
            kept.add(section, Row(where, _cells(section.header, cells)))


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "date") and hasattr(value, "isoformat"):  # a cell Excel typed as a date
        return value.date().isoformat() if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _open_section(name: str, where: str, sections, problems) -> Section | None:
    if name not in SECTIONS:
        problems.append(f"{where}: unknown section {name!r}; expected one of {', '.join(SECTIONS)}")
        return None
    if name in sections:
        problems.append(f"{where}: section {name!r} appears twice")
        return None
    sections[name] = Section(name, [])
    return sections[name]


def _header(cells: list[str], where: str, section: str, problems: list[str]) -> list[str]:
    header = list(cells)
    while header and not header[-1]:
        header.pop()
    known = SECTIONS[section]
    for i, name in enumerate(header):
        if name in known or (section == "Samples" and _characteristic(name)):
            continue
        problems.append(f"{where}, column {i + 1}: unknown column {name!r} in [{section}]")
    for name in known[:2] if section != "Investigation" else ():
        if name not in header:
            problems.append(f"{where}: [{section}] needs a {name!r} column")
    return header


def _cells(header: list[str], cells: list[str]) -> dict[str, str]:
    return {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(header) if h}


def _characteristic(column: str) -> str | None:
    if column.startswith("Characteristics[") and column.endswith("]") and len(column) > 17:
        return column[16:-1].strip()
    return None


# --- applying ---------------------------------------------------------------------
def apply_sheet(inv: InvestigationRecord, sections: dict[str, Section]) -> list[str]:
    """Fill ``inv`` from the sheet, in place; SheetError lists every problem.
    Returns warnings: values the sheet gives that the data contradicts."""
    problems: list[str] = []
    warnings: list[str] = []
    for row in sections.get("Investigation", Section("", [])).rows:
        key, value = row.cells.get("field", ""), row.cells.get("value", "")
        if (key, value) == ("field", "value"):  # a header row some people add
            continue
        if key not in INVESTIGATION_FIELDS:
            problems.append(f"{row.at('field')}: unknown field {key!r}")
            continue
        if key.endswith("date") and value and not vocab.ISO_DATE.match(value):
            problems.append(f"{row.at('value')}: {value!r} is not an ISO 8601 date (YYYY-MM-DD)")
            continue
        attr = {"submission date": "submission_date", "public release date": "release_date"}
        setattr(inv, attr.get(key, key), value)

    studies = {st.key: st for st in inv.studies}
    for row in sections.get("Studies", Section("", [])).rows:
        key = _key(row.cells.get("study", ""))
        st = studies.get(key)
        if st is None:
            st = StudyRecord(key=key, identifier=key)
            studies[key] = st
            inv.studies.append(st)
        for column, attr in (
            ("identifier", "identifier"),
            ("title", "title"),
            ("description", "description"),
            ("submission date", "submission_date"),
            ("public release date", "release_date"),
        ):
            value = row.cells.get(column, "")
            if not value:
                continue
            if column.endswith("date") and not vocab.ISO_DATE.match(value):
                problems.append(f"{row.at(column)}: {value!r} is not an ISO 8601 date (YYYY-MM-DD)")
            else:
                setattr(st, attr, value)

    for row in sections.get("Contacts", Section("", [])).rows:
        c = row.cells
        if not c.get("last name"):
            problems.append(f"{row.at('last name')}: a contact needs a last name")
            continue
        p = Person(
            c.get("last name", ""),
            c.get("first name", ""),
            c.get("email", ""),
            c.get("affiliation", ""),
            c.get("roles", ""),
            c.get("orcid", ""),
        )
        if c.get("study"):
            st = studies.get(_key(c["study"]))
            if st is None:
                problems.append(
                    f"{row.at('study')}: no study {c['study']!r} in the data or [Studies]"
                )
                continue
            st.contacts.append(p)
        else:
            inv.contacts.append(p)

    _apply_samples(inv, studies, sections.get("Samples", Section("", [])), problems, warnings)
    if problems:
        raise SheetError(problems)
    return warnings


def _key(text: str) -> str:
    return "" if text in ("", THIS_FOLDER) else text.strip("/")


def _apply_samples(inv, studies: dict[str, StudyRecord], section: Section, problems, warnings):
    samples = {(s.study, s.name): s for s in inv.samples()}
    by_name: dict[str, list] = {}
    for s in samples.values():
        by_name.setdefault(s.name, []).append(s)
    seen: dict[int, str] = {}  # sample record -> the row that described it
    for row in section.rows:
        c = row.cells
        name = c.get("sample", "")
        matches = by_name.get(name, [])
        if len(matches) > 1:  # the same sample id in two deliveries: the study column decides
            matches = [s for s in matches if s.study == _key(c.get("study", ""))] or matches
        if not matches:
            known = first(sorted(by_name), 6)
            problems.append(
                f"{row.at('sample')}: no sample {name!r} in this folder's data (it has {known})"
            )
            continue
        if len(matches) > 1:
            problems.append(f"{row.at('study')}: sample {name!r} is in several studies; name one")
            continue
        s = matches[0]
        if id(s) in seen:
            problems.append(f"{row.at('sample')}: sample {name!r} again (first at {seen[id(s)]})")
            continue
        seen[id(s)] = row.where
        _apply_sample(s, row, studies, problems, warnings)
    # rebuild each study's sample list: the sheet may have moved samples
    for st in studies.values():
        st.samples = []
    for s in samples.values():
        studies[s.study].samples.append(s)
    inv.studies = [st for st in inv.studies if st.samples]  # all moved away: no study left


def _apply_sample(s, row: Row, studies, problems: list[str], warnings: list[str]) -> None:
    c = row.cells
    key = _key(c.get("study", s.study or THIS_FOLDER))
    if key not in studies:
        problems.append(f"{row.at('study')}: no study {c.get('study')!r} in the data or [Studies]")
    else:
        s.study = key
    if c.get("source"):
        s.source = c["source"]
    organism, taxon = c.get("organism", ""), c.get("taxon id", "")
    if taxon and not taxon.isdigit():
        problems.append(f"{row.at('taxon id')}: {taxon!r} is not an NCBI taxon id (digits only)")
    elif organism or taxon:
        s.organism = Term(organism, "NCBITaxon", vocab.NCBI_TAXON + taxon if taxon else "")
    date = c.get("collection date", "")
    if date:
        if not (vocab.ISO_DATE.match(date) or date in vocab.INSDC_MISSING):
            problems.append(
                f"{row.at('collection date')}: {date!r} is neither an ISO 8601 date "
                "(YYYY, YYYY-MM or YYYY-MM-DD) nor an INSDC missing-value term"
            )
        elif vocab.in_future(date, dt.date.today()):
            problems.append(
                f"{row.at('collection date')}: sample {s.name!r} collected on {date}, "
                "which is after today"
            )
        else:
            s.characteristics[COLLECTION_DATE] = date
    if c.get("geographic location"):
        try:
            where = parse_geo_location(c["geographic location"])
        except GeoLocationError as e:
            problems.append(f"{row.at('geographic location')}: {e}")
        else:
            s.characteristics[GEO_LOCATION] = where.country
            if where.region:
                s.characteristics[GEO_REGION] = where.region
    for column, value in c.items():
        name = _characteristic(column)
        if name and value:
            s.characteristics[name] = value
    lib = s.library
    for column, attr in (
        ("library strategy", "strategy"),
        ("library source", "source"),
        ("library selection", "selection"),
        ("library layout", "layout"),
    ):
        value = c.get(column, "")
        if not value:
            continue
        allowed = CONTROLLED[column]
        found = vocab.canonical(value, allowed)
        if found is None:
            problems.append(
                f"{row.at(column)}: {value!r} is not one of ENA's values ({_some(allowed)})"
            )
        else:
            setattr(lib, attr, found)
    if lib.layout == "PAIRED" and not any(f.read in ("R2", "2") for f in s.files()):
        problems.append(
            f"{row.at('library layout')}: PAIRED, but sample {s.name!r} has no second reads"
        )
    for column, attr in (
        ("design description", "design"),
        ("library construction protocol", "protocol"),
    ):
        if c.get(column):
            setattr(lib, attr, c[column])
    size = c.get("insert size", "")
    if size:
        if size.isdigit() and int(size) > 0:
            lib.nominal_length = size
        else:
            problems.append(f"{row.at('insert size')}: {size!r} is not a length in bp (digits)")
    if c.get("sample description"):
        s.comments[SAMPLE_DESCRIPTION] = c["sample description"]
    if c.get("instrument"):
        found = vocab.canonical(c["instrument"], CONTROLLED["instrument"])
        if found is None:
            problems.append(
                f"{row.at('instrument')}: {c['instrument']!r} is not an ENA instrument model "
                "(for example 'Illumina NovaSeq 6000', 'NextSeq 2000', 'unspecified')"
            )
        else:
            if s.instrument and s.instrument != found:
                warnings.append(
                    f"{row.at('instrument')}: sample {s.name!r}: the sheet says {found!r}, "
                    f"but its run says {s.instrument!r}; the sheet's value is used"
                )
            s.instrument = found


def _some(values: tuple[str, ...]) -> str:
    return ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")


# --- the template -----------------------------------------------------------------
def _geo_cell(characteristics: dict[str, str]) -> str:
    """``Country: region`` back in the one column the sheet has for both."""
    country = characteristics.get(GEO_LOCATION, "")
    region = characteristics.get(GEO_REGION, "")
    return f"{country}: {region}" if country and region else country


def template_sections(
    inv: InvestigationRecord, wanted: tuple[str, ...] = ()
) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The sheet pre-filled from what the export found: ``{section: (header, rows)}``;
    ``wanted``: characteristics to give a column even where no sample has them."""
    characteristics = list(
        dict.fromkeys(
            k
            for k in (*(k for s in inv.samples() for k in s.characteristics), *wanted)
            if k not in (COLLECTION_DATE, GEO_LOCATION, GEO_REGION)
        )
    )
    samples = []
    for s in inv.samples():
        o = s.organism
        samples.append(
            [
                s.study or THIS_FOLDER,
                s.name,
                s.source,
                o.label if o else "",
                o.accession.rsplit("_", 1)[-1] if o and o.accession else "",
                s.characteristics.get(COLLECTION_DATE, ""),
                _geo_cell(s.characteristics),
                s.library.strategy,
                s.library.source,
                s.library.selection,
                s.library.layout,
                s.instrument,
                s.library.design,
                s.library.protocol,
                s.library.nominal_length,
                s.comments.get(SAMPLE_DESCRIPTION, ""),
                *(s.characteristics.get(k, "") for k in characteristics),
            ]
        )
    return {
        "Investigation": (
            ["field", "value"],
            [
                ["identifier", inv.identifier],
                ["title", inv.title],
                ["description", inv.description],
                ["submission date", inv.submission_date],
                ["public release date", inv.release_date],
            ],
        ),
        "Studies": (
            list(STUDY_COLUMNS),
            [
                [
                    st.key or THIS_FOLDER,
                    st.identifier,
                    st.title,
                    st.description,
                    st.submission_date,
                    st.release_date,
                ]
                for st in inv.studies
            ],
        ),
        "Contacts": (
            list(CONTACT_COLUMNS),
            [
                ["", p.last_name, p.first_name, p.email, p.affiliation, p.roles, p.orcid]
                for p in inv.contacts
            ]
            + [
                [
                    st.key or THIS_FOLDER,
                    p.last_name,
                    p.first_name,
                    p.email,
                    p.affiliation,
                    p.roles,
                    p.orcid,
                ]
                for st in inv.studies
                for p in st.contacts
            ],
        ),
        "Samples": (
            [*SAMPLE_COLUMNS, *(f"Characteristics[{k}]" for k in characteristics)],
            samples,
        ),
    }


TEMPLATE_NOTE = (
    "# nels-bundle metadata sheet. Fill in what the delivery cannot say; keep the column names.",
    "# organism: scientific name; taxon id: NCBI Taxonomy number (Salmo salar = 8030).",
    "# collection date: YYYY, YYYY-MM or YYYY-MM-DD, or an INSDC term such as 'not collected'.",
    "# geographic location: a country or sea as INSDC spells it, then any region,",
    "# e.g. 'Norway: Vestland, Bergen' or 'North Sea'.",
    "# library strategy/source/selection, instrument: ENA's values (WGS, RNA-Seq; GENOMIC;",
    "# RANDOM, PolyA; Illumina NovaSeq 6000). Add Characteristics[<name>] columns as needed.",
)


def write_template(inv: InvestigationRecord, path: Path, checklist=None) -> Path:
    """The sheet; with an ENA ``checklist`` (nels_core.deposit.checklists), a
    column for each of its mandatory and recommended sample fields, and
    (TSV) a note on what each takes."""
    sections = template_sections(inv, _checklist_columns(checklist))
    if path.suffix.lower() == ".xlsx":
        return _write_xlsx(sections, path, checklist)
    lines = [*TEMPLATE_NOTE, *_checklist_note(checklist)]
    for name, (header, rows) in sections.items():
        lines += ["", f"[{name}]"]
        if name != "Investigation":
            lines.append("\t".join(header))
        lines += ["\t".join(_tsv(c) for c in r) for r in rows]
    return write_whole(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _checklist_columns(checklist) -> tuple[str, ...]:
    if checklist is None:
        return ()
    return tuple(
        f.name for f in checklist.fields.values() if f.cardinality in ("mandatory", "recommended")
    )


def _checklist_note(checklist) -> list[str]:
    if checklist is None:
        return []
    lines = [f"# ENA checklist {checklist.accession} ({checklist.name}): its fields as columns;"]
    for f in checklist.fields.values():
        if f.cardinality not in ("mandatory", "recommended"):
            continue
        takes = []
        if f.cv:
            takes.append(f"one of {first(f.cv, 6)}")
        if f.units:
            takes.append(f"in {', '.join(f.units)}")
        lines.append(f"# {f.cardinality} {f.name}" + (f": {'; '.join(takes)}" if takes else ""))
    return lines


def _tsv(value: str) -> str:
    return " ".join(str(value).split()) if value else ""


def _write_xlsx(sections, path: Path, checklist=None) -> Path:
    try:
        import openpyxl
        from openpyxl.styles import Font
    except ImportError:
        raise NelsError(
            "writing .xlsx sheets needs openpyxl: pip install 'nels-bundle[isa]'"
        ) from None
    book = openpyxl.Workbook()
    book.remove(book.active)
    _instructions(book.create_sheet(INSTRUCTIONS), checklist)
    for name, (header, rows) in sections.items():
        ws = book.create_sheet(name)
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append(list(r))
        for i, h in enumerate(header, 1):
            ws.column_dimensions[openpyxl.utils.get_column_letter(i)].width = max(12, len(h) + 2)
        ws.freeze_panes = "A2"
        for r in ws.iter_rows(min_row=2):
            for cell in r:
                cell.number_format = "@"  # text: Excel must not turn dates or ids into numbers
    _drop_downs(book, book["Samples"], _controlled(checklist))
    tmp = path.with_name(f".{path.name}.part")
    book.save(tmp)
    tmp.replace(path)
    return path


XLSX_NOTE = (
    "Columns with a fixed set of values offer them in a drop-down list.",
    f"This '{INSTRUCTIONS}' worksheet is not read back; the other worksheets are.",
)
INLINE_LIST = 255  # characters: Excel's limit on a list validation's values given inline
EXCEL_ROWS = 1048576  # a drop-down on every row, so that added rows get one too


def _instructions(ws, checklist) -> None:
    """The TSV's ``#`` note, one line a row."""
    for line in (*TEMPLATE_NOTE, *_checklist_note(checklist)):
        ws.append([line.removeprefix("#").strip()])
    for line in XLSX_NOTE:
        ws.append([line])
    ws.column_dimensions["A"].width = 100


def _controlled(checklist) -> dict[str, tuple[str, ...]]:
    """[Samples] column -> its allowed values: ENA's terms, and the checklist's
    controlled vocabularies for the fields it gives a column."""
    columns = dict(CONTROLLED)
    for name in _checklist_columns(checklist):
        if checklist.fields[name].cv:
            columns[f"Characteristics[{name}]"] = checklist.fields[name].cv
    return columns


def _drop_downs(book, ws, controlled: dict[str, tuple[str, ...]]) -> None:
    """A list validation on each controlled column of ``ws``: values given inline
    where Excel allows, else a range of a hidden worksheet holding them."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lists, listed = None, 0
    for i, cell in enumerate(ws[1], 1):
        values = controlled.get(cell.value)
        if not values:
            continue
        inline = ",".join(values)
        if len(inline) <= INLINE_LIST and not any("," in v or '"' in v for v in values):
            source = f'"{inline}"'
        else:
            if lists is None:
                lists = book.create_sheet(LISTS)
                lists.sheet_state = "hidden"
            listed += 1
            source = _listed(lists, listed, cell.value, values)
        # a warning, not a stop: the reader also takes ENA's terms in other case and
        # spacing, and names whatever it refuses
        check = DataValidation(
            type="list",
            formula1=source,
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="Not in the list",  # Excel takes 32 characters here
            error="Not one of the values this column takes: choose from the drop-down list.",
        )
        letter = get_column_letter(i)
        check.add(f"{letter}2:{letter}{EXCEL_ROWS}")
        ws.add_data_validation(check)


def _listed(lists, at: int, column: str, values: tuple[str, ...]) -> str:
    """``values`` in column ``at`` of the Lists worksheet (the column's name
    above them); the range that holds them."""
    from openpyxl.utils import get_column_letter

    lists.cell(1, at, column)
    for row, value in enumerate(values, 2):
        lists.cell(row, at, value).number_format = "@"
    letter = get_column_letter(at)
    return f"{LISTS}!${letter}$2:${letter}${len(values) + 1}"


def describe_missing(inv: InvestigationRecord) -> list[tuple[str, list[str]]]:
    """``[(what, sample names)]`` for what deposition will need and nobody gave."""
    checks = (
        ("organism", lambda s: s.organism is None),
        ("collection date", lambda s: COLLECTION_DATE not in s.characteristics),
        ("geographic location", lambda s: GEO_LOCATION not in s.characteristics),
        ("library strategy", lambda s: not s.library.strategy),
        ("library source", lambda s: not s.library.source),
        ("library selection", lambda s: not s.library.selection),
        ("instrument", lambda s: not s.instrument),
    )
    labelled = [(s, posixpath.join(s.study, s.name)) for s in inv.samples()]
    out = []
    for what, missing in checks:
        names = [label for s, label in labelled if missing(s)]
        if names:
            out.append((what, names))
    return out
