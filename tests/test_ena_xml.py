"""ENA Webin XML from ISA bundles: valid against ENA's current schemas
(shared/specs/ena) on varied bundles, deterministic aliases, and every
problem ENA would refuse named before anything is sent."""

import datetime as dt
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from lxml import etree

from nels_core.deposit import ena_xml
from nels_core.deposit.ena_xml import PrepareError, check, prepare, write
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.xsd import EnaSchemas, XsdError
from nels_core.isa.export import export_bundle
from nels_core.isa.mapping import map_source
from nels_core.isa.sheet import write_template
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery

SPEC = DeliverySpec(reads_per_file=4, read_length=30)
FILLED = {
    "organism": "Salmo salar",
    "taxon id": "8030",
    "collection date": "2023-06-01",
    "geographic location": "Norway: Vestland, Bergen",
    "library strategy": "RNA-Seq",
    "library source": "TRANSCRIPTOMIC",
    "library selection": "PolyA",
    "instrument": "Illumina NovaSeq 6000",
}


@pytest.fixture
def schemas(specs):
    return EnaSchemas(specs / "ena")


def bundle(tmp_path, spec=SPEC, values=FILLED, description="Salmon lice RNA-seq in 2023"):
    """A NorSeq delivery exported as an ISA bundle with a filled metadata sheet."""
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", spec)
    store = LocalStorage(root)
    inv = map_source(store, "", str(root), root.name).investigation
    sheet = write_template(inv, tmp_path / "sheet.tsv")
    sheet.write_text(fill_sheet(sheet.read_text(), values, description))
    out = tmp_path / "bundle"
    export_bundle(store, "", str(root), root.name, out, metadata=sheet)
    return out


def fill_sheet(text: str, values=FILLED, description="Salmon lice RNA-seq in 2023") -> str:
    """A metadata sheet template (TSV) with every sample row given ``values``."""
    lines, header = [], None
    for line in text.splitlines():
        cells = line.split("\t")
        if cells[0] == "description" and header is None and len(cells) == 2:
            cells = ["description", description]  # the [Investigation] row
        if cells[:2] == ["study", "sample"]:
            header = cells
            lines.append("\t".join(header))
            continue
        if header and len(cells) >= 2 and cells[1] and not line.startswith(("[", "#")):
            row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
            row.update(values)
            cells = [row[h] for h in header]
        elif line.startswith("[") or not line:
            header = None
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "spec",
    [
        SPEC,
        replace(SPEC, paired=False, lanes=1),
        replace(SPEC, lanes=4, samples=("A-1", "B-2", "C-3"), sheet_version=1),
    ],
    ids=["paired-2-lanes", "single-1-lane", "paired-4-lanes-v1-sheet"],
)
def test_every_document_is_valid_against_enas_schemas(tmp_path, schemas, spec):
    prepared = prepare(read_bundle(bundle(tmp_path, spec)))
    check(prepared, schemas)
    docs = {k: prepared.tree(k) for k in prepared.documents}
    assert len(docs["sample"]) == len(spec.samples) == len(docs["experiment"])
    assert len(docs["run"]) == len(spec.samples) * spec.lanes
    per_run = 2 if spec.paired else 1
    for run in docs["run"]:
        files = run.findall("DATA_BLOCK/FILES/FILE")
        assert len(files) == per_run
        assert all(f.get("filetype") == "fastq" and len(f.get("checksum")) == 32 for f in files)
        assert all(f.get("checksum") == f.get("checksum").lower() for f in files)
    layout = docs["experiment"][0].find("DESIGN/LIBRARY_DESCRIPTOR/LIBRARY_LAYOUT")[0].tag
    assert layout == ("PAIRED" if spec.paired else "SINGLE")
    sample = docs["sample"][0]
    attrs = {a.findtext("TAG"): a.findtext("VALUE") for a in sample.iter("SAMPLE_ATTRIBUTE")}
    assert attrs["ENA-CHECKLIST"] == "ERC000011"
    assert attrs["geographic location (country and/or sea)"] == "Norway"
    assert attrs["geographic location (region and locality)"] == "Vestland, Bergen"
    assert sample.findtext("SAMPLE_NAME/TAXON_ID") == "8030"


def test_aliases_are_deterministic_and_written_files_identical(tmp_path, schemas):
    deposit = read_bundle(bundle(tmp_path))
    a, b = prepare(deposit), prepare(read_bundle(tmp_path / "bundle"))
    assert a.aliases == b.aliases
    assert a.aliases["sample"][0].startswith("UiB_Hansen_SalmonLice_2023:231107_")
    first = write(a, tmp_path / "x1")
    second = write(b, tmp_path / "x2")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_missing_mandatory_fields_go_as_insdc_missing_terms(tmp_path, schemas):
    values = {
        k: v for k, v in FILLED.items() if k not in ("collection date", "geographic location")
    }
    prepared = prepare(read_bundle(bundle(tmp_path, values=values)))
    check(prepared, schemas)
    first = prepared.tree("sample")[0]
    attrs = {a.findtext("TAG"): a.findtext("VALUE") for a in first.iter("SAMPLE_ATTRIBUTE")}
    assert attrs["collection date"] == "not provided"
    assert any("'collection date' not given for 4 samples" in w for w in prepared.warnings)


def test_what_ena_would_refuse_is_named_before_sending(tmp_path):
    values = {**FILLED, "taxon id": ""}
    folder = bundle(tmp_path, values=values)
    # a hand-edited bundle: a strategy ENA does not know, a country INSDC does not list
    (assay,) = (folder / "isa-tab").glob("a_*.txt")
    assay.write_text(assay.read_text().replace("\tRNA-Seq\t", "\tRNA-seq-ish\t"))
    (study,) = (folder / "isa-tab").glob("s_*.txt")
    study.write_text(study.read_text().replace("\tNorway\t", "\tNorvay\t", 1))
    with pytest.raises(PrepareError) as e:
        prepare(read_bundle(folder), hold_until=dt.date.today() + dt.timedelta(days=900))
    msg = str(e.value)
    assert "no NCBI taxon id (fill 'taxon id' in the metadata sheet)" in msg
    assert "library strategy 'RNA-seq-ish' is not one of ENA's values" in msg
    assert "'Norvay' is not a country or sea in INSDC's list" in msg
    assert "ENA holds data for at most two years" in msg


def test_hold_dates_and_actions(tmp_path, schemas):
    deposit = read_bundle(bundle(tmp_path))
    until = dt.date.today() + dt.timedelta(days=300)
    prepared = prepare(deposit, hold_until=until, action="ADD")
    check(prepared, schemas)
    actions = [a[0] for a in prepared.tree("submission").iter("ACTION")]
    assert [a.tag for a in actions] == ["ADD", "HOLD"]
    assert actions[1].get("HoldUntilDate") == until.isoformat()
    validate = prepare(deposit, action="VALIDATE")
    assert [a[0].tag for a in validate.tree("submission").iter("ACTION")] == ["VALIDATE"]


def test_schema_problems_name_document_and_line(tmp_path, schemas):
    prepared = prepare(read_bundle(bundle(tmp_path)))
    project, run = prepared.tree("project"), prepared.tree("run")
    title = project.find("PROJECT/TITLE")
    title.getparent().remove(title)
    etree.SubElement(run[0], "NOT_AN_ENA_ELEMENT")
    prepared.documents |= {"project": etree.tostring(project), "run": etree.tostring(run)}
    with pytest.raises(XsdError) as e:
        check(prepared, schemas)
    assert "project.xml, line" in str(e.value) and "run.xml, line" in str(e.value)


def test_documents_checked_a_chunk_at_a_time_are_the_whole_documents(
    tmp_path, schemas, monkeypatch
):
    """Each chunk of samples checked on its own: the same bytes, and a problem
    in a later chunk named by its line in the whole document."""
    deposit = read_bundle(bundle(tmp_path))
    interval = sys.getswitchinterval()
    whole = prepare(deposit, schemas=schemas).documents
    monkeypatch.setattr(ena_xml, "_CHUNK", 1)
    assert prepare(deposit, schemas=schemas).documents == whole
    assert len(deposit.samples) > 1
    deposit.samples[-1].library.nominal_length = "300 bp"  # the schema wants an integer
    lines = prepare(deposit).documents["experiment"].decode().splitlines()
    at = next(n for n, line in enumerate(lines, 1) if 'NOMINAL_LENGTH="300 bp"' in line)
    with pytest.raises(XsdError) as e:
        prepare(deposit, schemas=schemas)
    assert f"experiment.xml, line {at}:" in str(e.value)
    assert sys.getswitchinterval() == interval  # the quick GIL handover ends with the checks


@pytest.mark.parametrize("dialect", ["quoted", "crlf"])
def test_tables_laid_out_by_other_tools_read_the_same(tmp_path, dialect):
    """Quoted cells or CRLF line ends (csv's rules), as other ISA tools write
    the tables, read as the plain tab-separated lines isa export writes."""
    import csv
    import shutil

    plain = bundle(tmp_path)
    other = tmp_path / "other"
    shutil.copytree(plain, other)
    for table in (other / "isa-tab").glob("[sa]_*.txt"):
        with open(table, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
        with open(table, "w", encoding="utf-8", newline="") as f:
            if dialect == "quoted":
                csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL).writerows(rows)
            else:
                csv.writer(f, delimiter="\t", lineterminator="\r\n").writerows(rows)
    assert read_bundle(other) == read_bundle(plain)


def test_cli_prepare(tmp_path, specs):
    folder = bundle(tmp_path)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "nels_cli",
            "ena",
            "prepare",
            str(folder),
            "--out",
            str(tmp_path / "xml"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NELS_ENA_XSD_DIR": str(specs / "ena")},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "4 samples, 4 experiments, 8 runs (16 files); all valid" in r.stdout
    assert sorted(p.name for p in (tmp_path / "xml").iterdir()) == [
        "experiment.xml",
        "project.xml",
        "run.xml",
        "sample.xml",
        "submission.xml",
    ]


def _dated_bundle(tmp_path, investigation: str = "", study: str = ""):
    """The test bundle with release dates set in its metadata sheet."""
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", SPEC)
    store = LocalStorage(root)
    inv = map_source(store, "", str(root), root.name).investigation
    sheet = write_template(inv, tmp_path / "sheet.tsv")
    lines = fill_sheet(sheet.read_text()).splitlines()
    for i, line in enumerate(lines):
        if line == "public release date\t":
            lines[i] = f"public release date\t{investigation}"
        elif line.startswith("NorSeq/run1\t231107") and line.count("\t") == 5:
            lines[i] = line + study  # the study row's last column: its release date
    sheet.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bundle"
    export_bundle(store, "", str(root), root.name, out, metadata=sheet)
    return read_bundle(out)


def _hold(prepared) -> str | None:
    holds = [a[0] for a in prepared.tree("submission").iter("ACTION") if a[0].tag == "HOLD"]
    return holds[0].get("HoldUntilDate") if holds else None


def test_the_sheets_release_date_becomes_enas_hold(tmp_path, schemas):
    today = dt.date.today()
    later, sooner = today + dt.timedelta(days=200), today + dt.timedelta(days=90)
    deposit = _dated_bundle(tmp_path / "a", investigation=later.isoformat())
    prepared = prepare(deposit)
    check(prepared, schemas)
    assert _hold(prepared) == later.isoformat()
    assert "the investigation's public release date" in prepared.release.sentence()
    # --hold overrides the sheet
    assert _hold(prepare(deposit, hold_until=sooner)) == sooner.isoformat()
    # no investigation date: the earliest of the studies'
    deposit = _dated_bundle(tmp_path / "b", study=sooner.isoformat())
    prepared = prepare(deposit)
    assert _hold(prepared) == sooner.isoformat()
    assert "study 231107_A01447_0123_AHXYZ2DRX3's" in prepared.release.sentence()
    # nowhere: no HOLD, and the sentence says when ENA makes it public
    prepared = prepare(_dated_bundle(tmp_path / "c"))
    assert _hold(prepared) is None
    assert "public two months after submission" in prepared.release.sentence()
    # a date ENA would refuse is refused here, naming where it came from
    too_late = (today + dt.timedelta(days=800)).isoformat()
    with pytest.raises(PrepareError, match="investigation's public release date .* two years"):
        prepare(_dated_bundle(tmp_path / "d", investigation=too_late))


def test_ena_prepare_says_when_enas_data_goes_public(tmp_path, specs):
    from conftest import cli

    embargo = dt.date.today() + dt.timedelta(days=120)
    _dated_bundle(tmp_path, investigation=embargo.isoformat())
    r = cli(
        "ena", "prepare", str(tmp_path / "bundle"), "--out", str(tmp_path / "xml"),
        "--xsd-dir", str(specs / "ena"),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"Release: ENA keeps this data private until {embargo.isoformat()}" in r.stdout
    hold = etree.parse(str(tmp_path / "xml" / "submission.xml")).find(".//HOLD")
    assert hold is not None and hold.get("HoldUntilDate") == embargo.isoformat()


def test_a_collection_date_after_today_is_refused(tmp_path):
    from nels_core.isa.sheet import SheetError

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    next_year = str(dt.date.today().year + 1)
    for date in (tomorrow, next_year, f"{next_year}-01/{next_year}-02"):
        with pytest.raises(SheetError) as e:
            bundle(tmp_path / date.replace("/", "_"), values={**FILLED, "collection date": date})
        # each sample named, with the sheet's line
        assert "sample 'Gill-1' collected on" in str(e.value) and "line " in str(e.value)
        assert "after today" in str(e.value)
    this_year = str(dt.date.today().year)  # a year or month counts from its start
    bundle(tmp_path / "now", values={**FILLED, "collection date": this_year})
    # a bundle edited by hand after export: prepare refuses it too, naming the sample
    folder = bundle(tmp_path / "edited")
    (study,) = (folder / "isa-tab").glob("s_*.txt")
    study.write_text(study.read_text().replace("\t2023-06-01\t", f"\t{tomorrow}\t", 1))
    with pytest.raises(PrepareError, match=f"sample .*: collection date {tomorrow} is after"):
        prepare(read_bundle(folder))


def test_what_a_curator_checks_is_filled_from_the_sheet_or_said(tmp_path, schemas):
    described = {
        **FILLED,
        "design description": "Gill and liver RNA of lice-infested salmon",
        "library construction protocol": "TruSeq Stranded mRNA, 12 PCR cycles",
        "insert size": "350",
        "sample description": "Gill biopsy, fish 7",
    }
    prepared = prepare(read_bundle(bundle(tmp_path / "full", values=described)))
    check(prepared, schemas)
    experiment = prepared.tree("experiment").find("EXPERIMENT")
    assert experiment.findtext("DESIGN/DESIGN_DESCRIPTION") == described["design description"]
    lib = experiment.find("DESIGN/LIBRARY_DESCRIPTOR")
    assert (
        lib.findtext("LIBRARY_CONSTRUCTION_PROTOCOL") == described["library construction protocol"]
    )
    assert lib.find("LIBRARY_LAYOUT/PAIRED").get("NOMINAL_LENGTH") == "350"
    sample = prepared.tree("sample").find("SAMPLE")
    assert sample.findtext("DESCRIPTION") == "Gill biopsy, fish 7"
    assert not any("is empty for" in w for w in prepared.warnings)

    # the sheet silent: sensible texts where they can be made, and each default said
    prepared = prepare(read_bundle(bundle(tmp_path / "bare")))
    check(prepared, schemas)
    experiment = prepared.tree("experiment").find("EXPERIMENT")
    design = experiment.findtext("DESIGN/DESIGN_DESCRIPTION")
    assert design.startswith("RNA-Seq of transcriptomic material, PolyA selection, paired reads")
    assert prepared.tree("sample").find("SAMPLE").findtext("DESCRIPTION").startswith("Salmo salar")
    said = " ".join(prepared.warnings)
    for column in ("design description", "sample description", "insert size"):
        assert f"the sheet's {column!r} is empty for" in said
    assert "the project title is the folder's name" in said


def test_aliases_hold_no_spaces():
    from nels_core.deposit.ena_xml import alias

    assert alias("Inv 1", "Run 12  final", "S 1") == "Inv_1:Run_12_final:S_1"
