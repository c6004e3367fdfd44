"""The folder's metadata sheet in NeLS beside the data: versions added, never
overwritten, on every backend; refused with nothing written when it does not
fit the data or the member may not write; read by every path (export, the
CLI's push and the Galaxy tools' export) unless --metadata overrides it."""

import json

import pytest
from conftest import cli
from test_ena_xml import FILLED, fill_sheet

from nels_cli.demo import SEQ_PROJECT, seed
from nels_core.errors import AccessDeniedError
from nels_core.isa.export import NO_SHEET, describe
from nels_core.isa.folder_sheet import FOLDER, FolderSheets, SheetUnchanged
from nels_core.isa.sheet import SheetError, read_sheet, write_template
from nels_sandbox.norseq import DeliverySpec, make_delivery

RUN = "NorSeq/run1"


def _sections(tmp_path, text: str, name="filled.tsv"):
    sheet = tmp_path / name
    sheet.write_text(text)
    return read_sheet(sheet)


@pytest.fixture
def delivered(home_for):
    """A NorSeq run in the test project, and the project's folder path."""
    cast = home_for.cast
    make_delivery(
        cast.world.project_dir(cast.project) / RUN, DeliverySpec(reads_per_file=2, read_length=10)
    )
    return f"Projects/{cast.project.folder}/NorSeq"


def test_versions_are_added_never_overwritten(home_for, delivered, tmp_path):
    bob = home_for("bob")  # a member: may add files, never overwrite or delete
    folder = delivered
    inv, _ = describe(bob, folder, f"nels://{folder}", "x")
    assert inv.sheet == "" and FolderSheets(bob, folder).current() is None
    template = write_template(inv, tmp_path / "template.tsv").read_text()

    first = FolderSheets(bob, folder).put(_sections(tmp_path, fill_sheet(template)), "mine.xlsx")
    assert first.by == "Bob Member (bob)" and first.source == "mine.xlsx"
    assert first.changes == ("first version: 4 samples described",)
    with pytest.raises(SheetUnchanged):  # the same values again: nothing added
        FolderSheets(bob, folder).put(_sections(tmp_path, fill_sheet(template)), "again.tsv")

    trutta = fill_sheet(template, {**FILLED, "organism": "Salmo trutta", "taxon id": "8032"})
    second = FolderSheets(bob, folder).put(_sections(tmp_path, trutta), "trout.tsv")
    assert len(second.changes) == 8  # organism and taxon id of each of 4 samples
    assert "sample 'Gill-1', organism: 'Salmo salar' -> 'Salmo trutta'" in second.changes
    sheets = FolderSheets(bob, folder)
    assert [v.path for v in sheets.log()] == [second.path, first.path]  # newest first
    assert sheets.current().path == second.path

    # every path describes the folder with the newest version; the mapping
    # never reads the sheet folder as data
    inv, issues = describe(bob, folder, f"nels://{folder}", "x")
    assert inv.sheet == second.path
    assert {s.organism.label for s in inv.samples()} == {"Salmo trutta"}
    assert len(inv.files()) == 16 and not any(FOLDER in f.path for f in inv.files())
    assert not [i for i in issues if i.code == "missing-metadata"]
    bare, _ = describe(bob, folder, f"nels://{folder}", "x", NO_SHEET)
    assert all(s.organism is None for s in bare.samples())

    # the read-only member reads the sheet but cannot add one: nothing written
    dave = home_for("dave")
    assert FolderSheets(dave, folder).current().path == second.path
    with pytest.raises(AccessDeniedError, match="read-only"):
        FolderSheets(dave, folder).put(_sections(tmp_path, fill_sheet(template)), "x.tsv")
    assert len(FolderSheets(bob, folder).names()) == 2


def test_a_sheet_that_does_not_fit_the_data_is_refused_and_nothing_written(tmp_path):
    config = seed(tmp_path / "demo")
    source = f"nels://Projects/{SEQ_PROJECT}/NorSeq"
    got = tmp_path / "got.tsv"
    r = cli("isa", "sheet", "get", source, "--out", str(got), config=config)
    assert r.returncode == 0 and "pre-filled from the data" in r.stdout
    bad = tmp_path / "bad.tsv"
    bad.write_text(fill_sheet(got.read_text()).replace("\tGill-1\t", "\tGill-9\t", 1))
    r = cli("isa", "sheet", "put", source, str(bad), config=config)
    assert r.returncode == 1
    # one problem per line, each naming the user's file, line and column
    assert "\n- bad.tsv, line " in r.stderr and "no sample 'Gill-9'" in r.stderr
    r = cli("isa", "sheet", "log", source, config=config)
    assert "No sheet saved" in r.stdout


def test_cli_put_get_log_and_every_path_uses_the_folder_sheet(tmp_path):
    config = seed(tmp_path / "demo")
    source = f"nels://Projects/{SEQ_PROJECT}/NorSeq"
    template = tmp_path / "template.tsv"
    cli("isa", "sheet", "get", source, "--out", str(template), config=config)
    filled = tmp_path / "filled.tsv"
    filled.write_text(fill_sheet(template.read_text()))
    r = cli("isa", "sheet", "put", source, str(filled), config=config)
    assert r.returncode == 0, r.stderr
    assert "Saved Projects/" in r.stdout and "first version: 4 samples described" in r.stdout

    # an xlsx of other values is stored as the next (TSV) version, changes named
    xlsx = tmp_path / "edited.xlsx"
    r = cli("isa", "sheet", "get", source, "--out", str(xlsx), config=config)
    assert "the folder's sheet" in r.stdout
    import openpyxl

    book = openpyxl.load_workbook(xlsx)
    samples = book["Samples"]
    column = [c.value for c in samples[1]].index("collection date") + 1
    for row in range(2, samples.max_row + 1):
        samples.cell(row, column).value = "2023-07-15"
    book.save(xlsx)
    r = cli("isa", "sheet", "put", source, str(xlsx), config=config)
    assert r.returncode == 0, r.stderr
    assert "(4 changes)" in r.stdout and "collection date: '2023-06-01' -> '2023-07-15'" in r.stdout
    r = cli("isa", "sheet", "log", source, config=config)
    lines = r.stdout.splitlines()
    assert "from edited.xlsx" in lines[0] and "Demo Researcher" in lines[0]
    assert sum("from filled.tsv" in line for line in lines) == 1

    got = tmp_path / "current.tsv"
    cli("isa", "sheet", "get", source, "--out", str(got), config=config)
    assert "# from: edited.xlsx" in got.read_text() and "2023-07-15" in got.read_text()

    # isa export (as the Galaxy tool runs it) uses the folder's sheet, and says so
    r = cli("isa", "export", source, "--out", str(tmp_path / "bundle"), config=config)
    assert r.returncode == 0, r.stderr
    assert "Metadata: the folder's sheet Projects/" in r.stderr
    report = json.loads((tmp_path / "bundle" / "export-report.json").read_text())
    assert report["sheet"].endswith(".tsv") and "/nels-metadata/sheet-" in report["sheet"]
    isa = (tmp_path / "bundle" / "isa.json").read_text()
    assert "2023-07-15" in isa and "Salmo salar" in isa
    assert "missing-metadata" not in r.stderr

    # --metadata still overrides, and says which sheet it replaced
    other = tmp_path / "other.tsv"
    other.write_text(fill_sheet(template.read_text(), {**FILLED, "organism": "Salmo trutta"}))
    r = cli("isa", "export", source, "--metadata", str(other), "--out", str(tmp_path / "b2"),
            config=config)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "given with --metadata, instead of the folder's sheet Projects/" in r.stderr
    assert "Salmo trutta" in (tmp_path / "b2" / "isa.json").read_text()


def test_outside_text_stays_one_line_in_the_history(tmp_path):
    """Outside text in a version's history lines stays one line (no forged header)."""
    root = tmp_path / "data"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec(reads_per_file=2, read_length=10))
    from nels_core.storage.local import LocalStorage

    store = LocalStorage(root)
    inv, _ = describe(store, "", str(root), "x")
    text = fill_sheet(write_template(inv, tmp_path / "t.tsv").read_text())
    version = FolderSheets(store, "").put(_sections(tmp_path, text), "evil\n# by: someone else")
    said = (root / FOLDER / version.name).read_text()
    assert [line for line in said.splitlines() if line.startswith("# by: ")] == [
        "# by: " + version.by
    ]
    assert "\n# from: evil # by: someone else\n" in said
    assert FolderSheets(store, "").current().source == "evil # by: someone else"
    (root / FOLDER / version.name).unlink()  # the test's own clean-up: members cannot
    bad = root / FOLDER / "sheet-2000-01-01T000000.000Z-bad.tsv"
    bad.write_text("[Nonsense]\n")  # a file put there by hand, no sheet: named
    with pytest.raises(SheetError, match=r"000Z-bad\.tsv, line 1: unknown section"):
        describe(store, "", str(root), "x")
    # and a good sheet can still be saved after it (members cannot delete the bad one)
    fixed = FolderSheets(store, "").put(_sections(tmp_path, text), "fixed.tsv")
    assert fixed.changes == ("first version: 4 samples described",)
    assert describe(store, "", str(root), "x")[0].sheet == fixed.path
