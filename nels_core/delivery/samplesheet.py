"""Illumina sample sheets, version 1 (bcl2fastq) and 2 (BCL Convert).

v1 has ``[Header] [Reads] [Settings] [Data]``; v2 says ``FileFormatVersion,2``
in ``[Header]`` and lists samples in ``[BCLConvert_Data]``. Errors name the
file, line and field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ..errors import NelsError

DATA_SECTIONS = {1: "Data", 2: "BCLConvert_Data"}


class SampleSheetError(NelsError, ValueError):
    def __init__(self, source: str, line: int | None, message: str):
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {message}")
        self.source, self.line = source, line


@dataclass(slots=True)
class SampleRow:
    sample_id: str
    lane: int | None
    sample_name: str
    index: str
    index2: str
    project: str
    line: int
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class SampleSheet:
    version: int
    header: dict[str, str]
    read_lengths: list[int]
    settings: dict[str, str]
    rows: list[SampleRow]
    source: str

    @property
    def run_name(self) -> str:
        return self.header.get("RunName") or self.header.get("Experiment Name") or ""

    @property
    def paired(self) -> bool:
        return len(self.read_lengths) >= 2

    def sample_ids(self) -> list[str]:
        """Each sample once, in sheet order (a sample repeats per lane)."""
        return list(dict.fromkeys(r.sample_id for r in self.rows))


def parse_sample_sheet(text: str, source: str = "SampleSheet.csv") -> SampleSheet:
    sections = _sections(text, source)
    if "Header" not in sections:
        raise SampleSheetError(
            source, None, "no [Header] section; is this an Illumina sample sheet?"
        )
    header = _pairs(sections["Header"])
    version = 2 if header.get("FileFormatVersion", "").strip() == "2" else 1
    data_name = DATA_SECTIONS[version]
    if data_name not in sections:
        raise SampleSheetError(
            source, None, f"version {version} sample sheet without a [{data_name}] section"
        )
    reads_lines = sections.get("Reads", [])
    if version == 2:
        reads = _pairs(reads_lines)
        lengths = [
            _int(reads[k], source, line, k)
            for k, line in (("Read1Cycles", None), ("Read2Cycles", None))
            if k in reads
        ]
        settings = _pairs(sections.get("BCLConvert_Settings", []))
    else:
        lengths = [
            _int(cells[0], source, line, "read length") for line, cells in reads_lines if cells[0]
        ]
        settings = _pairs(sections.get("Settings", []))
    rows = _rows(sections[data_name], source, data_name)
    return SampleSheet(version, header, lengths, settings, rows, source)


def _sections(text: str, source: str) -> dict[str, list[tuple[int, list[str]]]]:
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current = None
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        for lineno, cells in enumerate(reader, 1):
            cells = [c.strip() for c in cells]
            while cells and cells[-1] == "":
                cells.pop()  # Excel pads rows with commas
            if not cells:
                continue
            if cells[0].startswith("[") and cells[0].endswith("]"):
                current = cells[0][1:-1].strip()
                sections[current] = []
            elif current is None:
                raise SampleSheetError(source, lineno, "text before the first [Section]")
            else:
                sections[current].append((lineno, cells))
    except csv.Error as e:
        raise SampleSheetError(source, reader.line_num, f"not valid CSV: {e}") from None
    return sections


def _pairs(lines) -> dict[str, str]:
    return {cells[0]: (cells[1] if len(cells) > 1 else "") for _, cells in lines}


def _int(value: str, source: str, line: int | None, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SampleSheetError(
            source, line, f"{what} must be a whole number, not {value!r}"
        ) from None


def _rows(lines, source: str, section: str) -> list[SampleRow]:
    if not lines:
        raise SampleSheetError(source, None, f"[{section}] lists no samples")
    head_line, columns = lines[0]
    if "Sample_ID" not in columns:
        raise SampleSheetError(source, head_line, f"[{section}] has no Sample_ID column")
    extra_columns = [c for c in dict.fromkeys(columns) if c not in _KNOWN_COLUMNS]
    width = len(columns)
    rows = []
    for lineno, cells in lines[1:]:
        if len(cells) > width:
            raise SampleSheetError(
                source, lineno, f"{len(cells)} fields where the header has {width}"
            )
        values = dict(zip(columns, cells + [""] * (width - len(cells)), strict=True))
        sample_id = values.get("Sample_ID", "")
        if not sample_id:
            raise SampleSheetError(source, lineno, "Sample_ID is empty")
        lane = values.get("Lane", "")
        rows.append(
            SampleRow(
                sample_id=sample_id,
                lane=_int(lane, source, lineno, "Lane") if lane else None,
                sample_name=values.get("Sample_Name", "") or sample_id,
                index=values.get("index", values.get("Index", "")),
                index2=values.get("index2", values.get("Index2", "")),
                project=values.get("Sample_Project", ""),
                line=lineno,
                extra={k: values[k] for k in extra_columns},
            )
        )
    return rows


# the columns SampleRow has fields for; any other is kept in ``extra``
_KNOWN_COLUMNS = frozenset(
    ("Sample_ID", "Lane", "Sample_Name", "index", "Index", "index2", "Index2", "Sample_Project")
)
