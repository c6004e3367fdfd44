"""A metadata sheet past what a sheet can be is refused early, with a
message naming the file and the limit: a zip bomb before anything is
unpacked, a worksheet's rows and cells before openpyxl builds them, a text
sheet before it is split; and a long list of problems is listed in part."""

import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from nels_core.errors import ProblemsError
from nels_core.isa import sheet_limits
from nels_core.isa.sheet import SheetError, read_sheet

openpyxl = pytest.importorskip("openpyxl")

MiB = 1 << 20
SHEET_PART = "xl/worksheets/sheet1.xml"
HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<dimension ref="A1:B1048576"/><sheetData>'
)
HEADER_ROW = b'<row r="1">' + b"".join(
    b'<c t="inlineStr"><is><t>%s</t></is></c>' % name for name in (b"study", b"sample")
)
TAIL = b"</sheetData></worksheet>"
SAMPLE_ROW = (
    b'<row><c t="inlineStr"><is><t>.</t></is></c><c t="inlineStr"><is><t>Liver-1</t></is></c></row>'
)


def workbook(path: Path, rows, extra_parts: dict | None = None) -> Path:
    """A real workbook (openpyxl's parts) whose one worksheet, Samples, holds
    the header row and then ``rows`` (bytes, streamed in), packed as tight
    as zip packs."""
    book = openpyxl.Workbook()
    book.active.title = "Samples"
    plain = path.with_name(f"plain-{path.name}")
    book.save(plain)
    with (
        zipfile.ZipFile(plain) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out,
    ):
        for part in source.infolist():
            if part.filename != SHEET_PART:
                out.writestr(part, source.read(part))
                continue
            with out.open(SHEET_PART, "w", force_zip64=True) as sheet:
                sheet.write(HEAD + HEADER_ROW + b"</row>")
                for chunk in rows:
                    sheet.write(chunk)
                sheet.write(TAIL)
        for name, data in (extra_parts or {}).items():
            out.writestr(name, data)
    plain.unlink()
    return path


def repeated(row: bytes, mib: int):
    chunk = row * (MiB // len(row) + 1)
    for _ in range(mib):
        yield chunk


def opened(*_a, **_kw):
    raise AssertionError("openpyxl was given the workbook")


@pytest.fixture
def no_openpyxl(monkeypatch):
    """openpyxl opening the workbook fails the test: the refusal comes first."""
    monkeypatch.setattr(openpyxl, "load_workbook", opened)


def refusal(path: Path) -> str:
    with pytest.raises(SheetError) as e:
        read_sheet(path)
    (said,) = e.value.problems
    return said


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path, monkeypatch):
    bomb = workbook(tmp_path / "bomb.xlsx", repeated(SAMPLE_ROW, 300))
    (sheet,) = [p for p in zipfile.ZipFile(bomb).infolist() if p.filename == SHEET_PART]
    assert sheet.file_size > 300 * MiB and bomb.stat().st_size < 2 * MiB
    # a workbook openpyxl takes: it would read it to the end, row by row
    book = openpyxl.load_workbook(bomb, read_only=True)
    rows = book["Samples"].iter_rows(values_only=True)
    assert [next(rows), next(rows)] == [("study", "sample"), (".", "Liver-1")]
    book.close()

    monkeypatch.setattr(openpyxl, "load_workbook", opened)
    tracemalloc.start()
    started = time.perf_counter()
    said = refusal(bomb)
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"bomb: {bomb.stat().st_size} bytes, refused in {took:.3f} s, peak {peak} bytes")
    assert said == (
        "bomb.xlsx: the workbook unpacks to more than 50 MiB; "
        "a metadata sheet is far smaller: is this the right file?"
    )
    assert took < 3 and peak < 2 * MiB


def test_a_part_packed_like_a_bomb_is_refused(tmp_path, no_openpyxl):
    tight = workbook(tmp_path / "tight.xlsx", repeated(SAMPLE_ROW, 20))  # under 50 MiB
    started = time.perf_counter()
    assert refusal(tight).startswith(
        f"tight.xlsx: its part {SHEET_PART!r} unpacks to more than 100 times its packed size"
    )
    assert time.perf_counter() - started < 3


def cells(n: int, row: int = 2) -> bytes:
    return b'<row r="%d">' % row + b"<c><v>1</v></c>" * n + b"</row>"


@pytest.mark.parametrize(
    "rows, said",
    [
        ([cells(500), cells(501, 3)], "more than 500 columns in row 3"),
        ([b'<row r="2"><c r="A2"><v>1</v></c><c r="AAA2"><v>1</v></c></row>'], "500 columns"),
        ([cells(1), cells(1, 100_001)], "more than 100,000 rows"),
        (
            [b'<row r="2"><c t="inlineStr"><is>' + b"<r><t>a</t></r>" * 5001 + b"</is></c></row>"],
            "more than 10,000 XML elements in row 2",
        ),
    ],
    ids=["a wide row", "a far column", "a far row", "a cell of many runs"],
)
def test_a_worksheet_past_a_limit_is_refused_before_openpyxl_reads_it(
    tmp_path, no_openpyxl, rows, said
):
    path = workbook(tmp_path / "Lice 2023.xlsx", rows)
    refused = refusal(path)
    assert refused.startswith("Lice 2023.xlsx, sheet 'Samples': ") and said in refused


def test_markup_past_a_limit_is_refused_before_openpyxl_reads_it(
    tmp_path, no_openpyxl, monkeypatch
):
    monkeypatch.setattr(sheet_limits, "MAX_LOOSE_MARKUP", 1000)
    loose = workbook(tmp_path / "loose.xlsx", [b"<x/>" * 1001])
    assert "sheet 'Samples': more than 1,000 XML elements, more than a spread" in refusal(loose)

    monkeypatch.setattr(sheet_limits, "MAX_CELLS", 10)
    many = workbook(tmp_path / "many.xlsx", [cells(5, 2), cells(5, 3), cells(1, 4)])
    assert "sheet 'Samples': more than 10 cells" in refusal(many)
    strings = b"<sst>" + b"<si><t>a</t></si>" * 11 + b"</sst>"
    texts = workbook(tmp_path / "texts.xlsx", [], {"xl/sharedStrings.xml": strings})
    assert refusal(texts).startswith("texts.xlsx: more than 10 texts")

    dtd = tmp_path / "dtd.xlsx"
    workbook(dtd, [], {"xl/sharedStrings.xml": b'<!DOCTYPE sst [<!ENTITY a "aa">]><sst/>'})
    assert refusal(dtd) == "dtd.xlsx: a part declares a DTD, as no spreadsheet does"


def test_a_value_longer_than_a_cell_is_refused(tmp_path):
    long = b'<c t="inlineStr"><is><t>' + b"x" * 32_768 + b"</t></is></c>"  # openpyxl cuts one
    workbook(tmp_path / "long.xlsx", [b'<row r="2"><c/><c/>' + long + b"</row>"])
    assert refusal(tmp_path / "long.xlsx") == (
        "long.xlsx, Samples row 2, column 3: more than 32,767 characters, "
        "more than a spreadsheet cell holds"
    )
    text = tmp_path / "long.tsv"
    text.write_text("[Samples]\nstudy\tsample\n.\t" + "x" * 32_768 + "\n")
    assert refusal(text).startswith("long.tsv, line 3, column 2: more than 32,767 characters")


def test_more_values_than_a_sheet_holds_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet_limits, "MAX_CELLS", 20)
    text = tmp_path / "many.tsv"
    text.write_text("[Samples]\nstudy\tsample\n" + "".join(f".\tS{i}\n" for i in range(11)))
    assert refusal(text) == (
        "many.tsv: more than 20 values; a metadata sheet is far smaller: is this the right file?"
    )


def test_a_text_sheet_past_a_limit_is_refused(tmp_path):
    large = tmp_path / "large.tsv"
    with large.open("wb") as f:
        f.truncate(20 * MiB + 1)  # sparse: nothing written, nothing read
    assert refusal(large) == (
        "large.tsv: the sheet is larger than 20 MiB; "
        "a metadata sheet is far smaller: is this the right file?"
    )
    long = tmp_path / "long.tsv"
    long.write_text("[Samples]\n" + "#\r\n" * 100_000)
    assert refusal(long).startswith("long.tsv: more than 100,000 lines; ")
    wide = tmp_path / "wide.tsv"
    wide.write_text("[Samples]\nstudy\tsample\n" + "\t" * 500 + "\n")
    assert refusal(wide).startswith("wide.tsv, line 3: more than 500 columns; ")
    wide.write_text("[Samples]\nstudy\tsample\n" + "\t" * 499 + "\n")
    assert read_sheet(wide)["Samples"].rows == []  # 500 columns, all empty: skipped


def test_a_long_list_of_problems_names_the_first_twenty(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("".join(f"line {n}\n" for n in range(1, 5001)))
    with pytest.raises(SheetError) as e:
        read_sheet(bad)
    assert len(e.value.problems) == 5000  # all of them, for code that counts
    heading, *listed = str(e.value).splitlines()
    assert heading == "5000 problems in the metadata sheet:"
    assert listed[0] == "- bad.tsv, line 1: data before the first [Section] line"
    assert listed[19] == "- bad.tsv, line 20: data before the first [Section] line"
    assert listed[20:] == ["- and 4980 more"]
    assert ProblemsError([f"p{i}" for i in range(21)]).lines()[-2:] == ["- p19", "- and 1 more"]
    assert ProblemsError([f"p{i}" for i in range(20)]).lines()[-1] == "- p19"
