"""How large a metadata sheet may be, and a workbook checked against that
before openpyxl opens it.

A metadata sheet is small: a row per sample, study and contact. An .xlsx is
a zip of XML parts, and openpyxl builds a whole row in memory before it
gives it (every row, for a worksheet that does not state its size), so a
3.7 MB upload that unpacked to 1 GiB kept the server parsing for minutes.
The zip's directory is checked first (sizes, packing, parts), then every
part is streamed through expat counting what openpyxl would build (rows,
cells, elements), all before openpyxl sees the file. zipfile never unpacks
more than a part's stated size, so the stated sizes bound what is read.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat

MiB = 1 << 20
MAX_TEXT_BYTES = 20 * MiB  # a .tsv sheet
MAX_UNPACKED_BYTES = 50 * MiB  # a workbook's parts unpacked, together (and its file)
MAX_PARTS = 500  # files in a workbook's zip; Excel writes a few dozen
MAX_PACKING = 100  # unpacked / packed size of one part; real worksheets pack 5 to 25 times
PACKING_CHECKED_FROM = 1 * MiB  # smaller parts may pack tighter and do no harm
MAX_ROWS = 100_000  # rows of a worksheet; lines of a .tsv
MAX_COLUMNS = 500  # cells in a row
MAX_CELLS = 1_000_000  # cells of a worksheet, strings of a workbook, values a sheet keeps
MAX_CELL_CHARS = 32_767  # characters in a cell: Excel's own limit
MAX_ROW_MARKUP = 10_000  # XML elements in one row or one shared string
# XML elements of a part outside its rows and strings; Excel's own limit of
# 64,000 cell styles, each with its alignment and protection, fits
MAX_LOOSE_MARKUP = 300_000
CHUNK = 1 * MiB  # bytes fed to expat at a time

SMALLER = "a metadata sheet is far smaller: is this the right file?"
SPREADSHEET = "more than a spreadsheet program writes: save it again from one"
# a workbook's own names for its worksheets, to name them in messages
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
BOOK, BOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"


def mib(n: int) -> str:
    return f"{n / MiB:g} MiB"


def workbook_problem(path: Path, name: str) -> str | None:
    """Why the workbook at ``path`` is too large to read, as a message naming
    ``name``; None when it is within every limit or is no zip (openpyxl says so)."""
    if path.stat().st_size > MAX_UNPACKED_BYTES:
        return f"{name}: the workbook is larger than {mib(MAX_UNPACKED_BYTES)}; {SMALLER}"
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return None
    with archive:
        try:
            return _archive_problem(archive, name)
        except Exception as e:  # noqa: BLE001 - a damaged, encrypted or odd zip raises many kinds
            return f"{name}: not a readable .xlsx workbook ({e})"


def _archive_problem(archive: zipfile.ZipFile, name: str) -> str | None:
    parts = archive.infolist()
    if problem := _directory_problem(parts):
        return f"{name}: {problem}"
    for part in parts:
        try:
            _scan(archive, part)
        except _Refused as e:
            return f"{_where(archive, part.filename, name)}: {e}"
    return None


def _directory_problem(parts: list[zipfile.ZipInfo]) -> str | None:
    """What the zip's directory alone shows to be too large."""
    if len(parts) > MAX_PARTS:
        return f"the workbook holds more than {MAX_PARTS} parts; {SMALLER}"
    if sum(p.file_size for p in parts) > MAX_UNPACKED_BYTES:
        return f"the workbook unpacks to more than {mib(MAX_UNPACKED_BYTES)}; {SMALLER}"
    for p in parts:
        packed_tight = p.file_size > MAX_PACKING * max(p.compress_size, 1)
        if p.file_size > PACKING_CHECKED_FROM and packed_tight:
            return (
                f"its part {p.filename!r} unpacks to more than {MAX_PACKING} times its packed "
                f"size, as no spreadsheet does (a zip bomb?); {SMALLER}"
            )
    return None


class _Refused(Exception):
    """A part past a limit, or no XML where XML was due; its text ends the message."""


class _Shape:
    """Counts one XML part as expat reads it: rows and their cells, shared
    strings, and the elements inside and outside them."""

    def __init__(self):
        self.depth = 0
        self.unit_depth = 0  # depth of the row or shared string being read, 0: none
        self.in_unit = self.loose = 0  # elements inside the current unit; outside any
        self.row = self.cells_in_row = self.cells = self.strings = 0

    def start(self, tag: str, attrs: dict) -> None:
        self.depth += 1
        local = tag.rpartition("}")[2]
        if not self.unit_depth and local == "row":
            self.unit_depth, self.in_unit = self.depth, 0
            self._row(attrs)
        elif not self.unit_depth and local == "si":
            self.unit_depth, self.in_unit = self.depth, 0
            self._string()
        elif self.unit_depth:
            self.in_unit += 1
            if self.in_unit > MAX_ROW_MARKUP:
                raise _Refused(f"more than {MAX_ROW_MARKUP:,} XML elements in {self._unit()}")
            if local == "c":
                self._cell(attrs)
        else:
            self.loose += 1
            if self.loose > MAX_LOOSE_MARKUP:
                raise _Refused(f"more than {MAX_LOOSE_MARKUP:,} XML elements, {SPREADSHEET}")

    def end(self, _tag: str) -> None:
        if self.depth == self.unit_depth:
            self.unit_depth = 0
        self.depth -= 1

    def _row(self, attrs: dict) -> None:
        at = attrs.get("r", "")
        self.row = int(at) if at.isdigit() else self.row + 1  # openpyxl's reading
        self.cells_in_row = 0
        if self.row > MAX_ROWS:
            raise _Refused(f"more than {MAX_ROWS:,} rows; {SMALLER}")

    def _string(self) -> None:
        self.strings += 1
        if self.strings > MAX_CELLS:
            raise _Refused(f"more than {MAX_CELLS:,} texts; {SMALLER}")

    def _cell(self, attrs: dict) -> None:
        self.cells_in_row += 1
        self.cells += 1
        if self.cells_in_row > MAX_COLUMNS or _column(attrs.get("r", "")) > MAX_COLUMNS:
            raise _Refused(f"more than {MAX_COLUMNS} columns in row {self.row}; {SMALLER}")
        if self.cells > MAX_CELLS:
            raise _Refused(f"more than {MAX_CELLS:,} cells; {SMALLER}")

    def _unit(self) -> str:
        return f"row {self.row}" if self.row else f"text {self.strings}"


def _column(ref: str) -> int:
    """The column number of a cell reference ("C7": 3); 0 without one."""
    letters = ref.rstrip("0123456789").upper()
    if len(letters) > 3:  # past Excel's last column, XFD
        return MAX_COLUMNS + 1
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _scan(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """Stream ``part`` through expat; _Refused past a limit. A part that is
    no XML (an image) is left alone unless it is named as XML."""
    shape = _Shape()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = shape.start
    parser.EndElementHandler = shape.end
    parser.StartDoctypeDeclHandler = _no_doctype  # no entities to expand, ever
    with archive.open(part) as stream:
        try:
            while chunk := stream.read(CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except expat.ExpatError as e:
            if part.filename.lower().endswith((".xml", ".rels")):
                raise _Refused(f"not a readable .xlsx workbook ({e})") from None


def _no_doctype(*_args) -> None:
    raise _Refused("a part declares a DTD, as no spreadsheet does")


def _where(archive: zipfile.ZipFile, part: str, name: str) -> str:
    """The file and the worksheet the part holds, as the user knows them."""
    title = _titles(archive).get(part)
    return f"{name}, sheet {title!r}" if title else name


def _titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part -> the worksheet's title; {} when the workbook does not
    say plainly (read only for a message, and only when small)."""
    try:
        if any(archive.getinfo(p).file_size > MiB for p in (BOOK, BOOK_RELS)):
            return {}
        book = ElementTree.fromstring(archive.read(BOOK))
        rels = ElementTree.fromstring(archive.read(BOOK_RELS))
    except (KeyError, ElementTree.ParseError, OSError, zipfile.BadZipFile):
        return {}
    targets = {r.get("Id"): _part(r.get("Target", "")) for r in rels}
    return {targets.get(s.get(REL_ID), ""): s.get("name", "") for s in book.iter(f"{MAIN}sheet")}


def _part(target: str) -> str:
    """A relationship's target as a part name: "xl/worksheets/sheet1.xml" for
    "worksheets/sheet1.xml" (relative to the workbook) or "/xl/worksheets/sheet1.xml"."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join("xl", target))
