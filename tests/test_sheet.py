"""The metadata sheet as a file: the workbook's instructions and drop-downs,
read back as the TSV is, and the messages of a sheet that cannot be read."""

from pathlib import Path

import pytest

from nels_core import vocab
from nels_core.deposit.checklists import Checklist, Field
from nels_core.isa.mapping import map_source
from nels_core.isa.sheet import TEMPLATE_NOTE, SheetError, read_sheet, write_template
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery

openpyxl = pytest.importorskip("openpyxl")
range_boundaries = openpyxl.utils.cell.range_boundaries

LIBRARY = {
    "library strategy": vocab.LIBRARY_STRATEGIES,
    "library source": vocab.LIBRARY_SOURCES,
    "library selection": vocab.LIBRARY_SELECTIONS,
    "library layout": ("SINGLE", "PAIRED"),
    "instrument": vocab.all_instrument_models(),
}
# a checklist whose controlled fields need each kind of drop-down
CHECKLIST = Checklist(
    "ERC999999",
    "a test checklist",
    {
        "host sex": Field("host sex", "mandatory", cv=("female", "male", "not collected")),
        "host habitat": Field(
            "host habitat", "recommended", cv=("wild", "farm, indoor", "farm, outdoor")
        ),
        "lifestage": Field("lifestage", "recommended", cv=tuple(f"stage {i}" for i in range(60))),
        "isolate": Field("isolate", "mandatory"),  # free text: no drop-down
        "sample colour": Field("sample colour", "optional", cv=("red", "blue")),  # no column
    },
)
CHECKLIST_CV = {
    "Characteristics[host sex]": ("female", "male", "not collected"),
    "Characteristics[host habitat]": ("wild", "farm, indoor", "farm, outdoor"),
    "Characteristics[lifestage]": tuple(f"stage {i}" for i in range(60)),
}


@pytest.fixture
def inv(tmp_path):
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec(reads_per_file=10, read_length=40))
    return map_source(LocalStorage(root), "", str(root), root.name).investigation


def as_read(path: Path) -> dict:
    """What the reader makes of a sheet, without where each row was."""
    return {name: (s.header, [r.cells for r in s.rows]) for name, s in read_sheet(path).items()}


def drop_downs(book) -> dict[str, tuple[str, ...]]:
    """[Samples] column -> the values its list validation allows."""
    ws = book["Samples"]
    header = [c.value for c in ws[1]]
    found = {}
    for check in ws.data_validations.dataValidation:
        assert check.type == "list" and check.allow_blank
        (cells,) = str(check.sqref).split()
        left, top, right, bottom = range_boundaries(cells)
        assert left == right and top == 2 and bottom > 10000  # rows added later get one too
        column = header[left - 1]
        source = check.formula1
        if source.startswith('"'):
            assert len(source) <= 257  # Excel's limit on inline lists
            values = tuple(source.strip('"').split(","))
        else:
            sheet, cells = source.split("!")
            assert sheet == "Lists" and book[sheet].sheet_state == "hidden"
            values = tuple(c.value for (c,) in book[sheet][cells.replace("$", "")])
        found[column] = values
    return found


@pytest.mark.parametrize("checklist", [None, CHECKLIST], ids=["plain", "checklist"])
def test_the_workbook_has_instructions_and_drop_downs(tmp_path, inv, checklist):
    path = write_template(inv, tmp_path / "sheet.xlsx", checklist)
    tsv = write_template(inv, tmp_path / "sheet.tsv", checklist)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == "Instructions"
    told = [c.value for (c,) in book["Instructions"].iter_rows(max_col=1)]
    note = [line.removeprefix("# ") for line in tsv.read_text().splitlines() if line[:1] == "#"]
    assert told[: len(note)] == note and note[: len(TEMPLATE_NOTE)] == [
        line.removeprefix("# ") for line in TEMPLATE_NOTE
    ]
    assert any("drop-down" in line for line in told[len(note) :])
    if checklist is not None:
        assert "ENA checklist ERC999999 (a test checklist): its fields as columns;" in told
        assert "mandatory host sex: one of female, male, not collected" in told
    assert drop_downs(book) == {**LIBRARY, **(CHECKLIST_CV if checklist else {})}
    samples = book["Samples"]
    assert all(c.number_format == "@" for row in samples.iter_rows(min_row=2) for c in row)


@pytest.mark.parametrize("checklist", [None, CHECKLIST], ids=["plain", "checklist"])
def test_the_workbook_reads_back_as_the_tsv(tmp_path, inv, checklist):
    path = write_template(inv, tmp_path / "sheet.xlsx", checklist)
    tsv = write_template(inv, tmp_path / "sheet.tsv", checklist)
    assert as_read(path) == as_read(tsv)
    assert set(as_read(path)) == {"Investigation", "Studies", "Contacts", "Samples"}

    # a value filled in, in both: still the same
    book = openpyxl.load_workbook(path)
    samples = book["Samples"]
    column = [c.value for c in samples[1]].index("library strategy") + 1
    samples.cell(2, column, "WGS")
    book.save(path)
    lines = tsv.read_text().splitlines()
    at = lines.index("[Samples]") + 2
    cells = lines[at].split("\t")
    cells[column - 1] = "WGS"
    lines[at] = "\t".join(cells)
    tsv.write_text("\n".join(lines) + "\n")
    filled = as_read(path)
    assert filled == as_read(tsv)
    assert filled["Samples"][1][0]["library strategy"] == "WGS"
    assert (
        drop_downs(openpyxl.load_workbook(path))["library strategy"] == LIBRARY["library strategy"]
    )


def test_a_worksheet_of_its_own_is_still_refused(tmp_path, inv):
    path = write_template(inv, tmp_path / "sheet.xlsx", CHECKLIST)
    book = openpyxl.load_workbook(path)
    book.create_sheet("Extras")
    book.save(path)
    with pytest.raises(SheetError) as e:
        read_sheet(path)
    assert e.value.problems == [
        "sheet.xlsx, sheet 'Extras': unknown section 'Extras'; "
        "expected one of Investigation, Studies, Contacts, Samples"
    ]


@pytest.mark.parametrize(
    "name, content",
    [
        ("sheet.tsv", b""),
        ("sheet.tsv", b"\n  \n\t\t\n"),
        ("sheet.tsv", b"\xef\xbb\xbf# only a note\n# and another\n\n"),
        ("sheet.xlsx", b""),
    ],
    ids=["0 bytes", "blank", "comments", "0-byte xlsx"],
)
def test_an_empty_sheet_is_refused(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SheetError) as e:
        read_sheet(path)
    (said,) = e.value.problems
    assert said.startswith(f"{name}: the sheet is empty (no [Investigation], [Studies],")


def test_a_workbook_of_instructions_only_is_empty(tmp_path, inv):
    path = write_template(inv, tmp_path / "sheet.xlsx")
    book = openpyxl.load_workbook(path)
    for name in ("Investigation", "Studies", "Contacts", "Samples"):
        book.remove(book[name])
    book.save(path)
    with pytest.raises(SheetError, match=r"sheet.xlsx: the sheet is empty"):
        read_sheet(path)


def test_messages_name_the_file_as_its_owner_named_it(tmp_path, inv):
    stored = tmp_path / ".upload-2e5ebc6d0ba3.tsv"
    stored.write_text("[Samples]\nstudy\tsample\tcolour\n")
    with pytest.raises(SheetError) as e:
        read_sheet(stored, shown="salmon lice.tsv")
    assert e.value.problems == [
        "salmon lice.tsv, line 2, column 3: unknown column 'colour' in [Samples]"
    ]
    stored.write_bytes(b"")
    with pytest.raises(SheetError, match=r"^1 problem in the metadata sheet:\n- salmon lice"):
        read_sheet(stored, shown="salmon lice.tsv")

    book = tmp_path / ".upload-77aa.xlsx"
    write_template(inv, book)
    opened = openpyxl.load_workbook(book)
    samples = opened["Samples"]
    at = samples.max_column + 1
    samples.cell(1, at, "colour")
    opened.save(book)
    with pytest.raises(SheetError) as e:
        read_sheet(book, shown="Lice 2023.xlsx")
    assert e.value.problems == [
        f"Lice 2023.xlsx, Samples row 1, column {at}: unknown column 'colour' in [Samples]"
    ]
    book.write_bytes(b"not a workbook")
    with pytest.raises(SheetError, match=r"- Lice 2023.xlsx: not a readable .xlsx workbook"):
        read_sheet(book, shown="Lice 2023.xlsx")


def test_a_sheet_not_in_utf8_names_the_line(tmp_path):
    path = tmp_path / "sheet.tsv"
    path.write_bytes(
        "[Investigation]\ntitle\tSalmon lice\ndescription\tLice from Sør-Norge\n".encode("latin-1")
    )
    with pytest.raises(SheetError) as e:
        read_sheet(path, shown="lakselus.tsv")
    (said,) = e.value.problems
    assert said.startswith("lakselus.tsv, line 3: ") and "save the sheet as UTF-8" in said
    assert "byte" not in said
