"""ISA export of generated NorSeq deliveries: isatools loads and validates
what we write, the RO-Crate parses, re-exports are byte-identical, and
every bad input is named."""

import gzip
import hashlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli as run_cli

from nels_cli.demo import SEQ_PROJECT, seed
from nels_core.config import load
from nels_core.connect import open_home
from nels_core.delivery import DeliveryError
from nels_core.isa.export import ExportError, export_bundle
from nels_core.isa.manifest import read_manifest
from nels_core.isa.mapping import map_source
from nels_core.isa.sheet import SheetError, write_template
from nels_core.isa.validate import validate_bundle
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery

SPEC = DeliverySpec(reads_per_file=10, read_length=40)
# isatools' warnings that hold for any bundle like ours (README, "ISA validation"):
# 4011 its instrument/strategy lists predate NovaSeq; 1020 its JSON validator
# reports a parameter ("Array Design REF") that it adds itself.
KNOWN_NOISE = {"4011", "1020"}
FILLED = {
    "organism": "Lepeophtheirus salmonis",
    "taxon id": "72036",
    "collection date": "2023-06-01",
    "geographic location": "Norway: Bergen",
    "library strategy": "RNA-Seq",
    "library source": "TRANSCRIPTOMIC",
    "library selection": "PolyA",
    "instrument": "Illumina NovaSeq 6000",
}


def project(tmp_path, *specs):
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    for i, spec in enumerate(specs or [SPEC]):
        make_delivery(root / "NorSeq" / f"run{i + 1}", spec)
    return root, LocalStorage(root)


def export(store, root, out, **kw):
    return export_bundle(store, "", str(root), root.name, out, **kw)


def fill(sheet: Path, values=FILLED, extra=None) -> Path:
    """A researcher filling the Samples rows of a template."""
    lines, header = [], None
    for line in sheet.read_text().splitlines():
        cells = line.split("\t")
        if cells[:2] == ["study", "sample"]:
            header = cells + list(extra or {})
            lines.append("\t".join(header))
            continue
        if header and len(cells) >= 2 and cells[1] and not line.startswith(("[", "#")):
            row = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))
            row.update(values)
            row.update({k: v(row) for k, v in (extra or {}).items()})
            cells = [row[h] for h in header]
        elif line.startswith("[") or not line:
            header = None
        lines.append("\t".join(cells))
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


def template(store, root, path):
    inv = map_source(store, "", str(root), root.name).investigation
    return write_template(inv, path)


def load_isatab(folder):
    from isatools import isatab

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return isatab.load(str(folder / "isa-tab"))


def load_isajson(folder):
    from isatools import isajson

    with warnings.catch_warnings(), open(folder / "isa.json") as f:
        warnings.simplefilter("ignore")
        return isajson.load(f)


@pytest.mark.parametrize("version", [1, 2])
def test_round_trip_through_isatools(tmp_path, version):
    root, store = project(tmp_path, replace(SPEC, sheet_version=version))
    sheet = fill(template(store, root, tmp_path / "sheet.tsv"))
    result = export(store, root, tmp_path / "out", metadata=sheet)
    files = {f.path for f in result.investigation.files()}
    assert len(files) == 4 * 2 * 2  # samples x lanes x reads; index reads kept out
    for inv in (load_isatab(tmp_path / "out"), load_isajson(tmp_path / "out")):
        (study,) = inv.studies
        assert sorted(s.name for s in study.samples) == sorted(SPEC.samples)
        (assay,) = study.assays
        assert assay.measurement_type.term == "transcription profiling"
        assert {d.filename for d in assay.data_files} == files
        liver = next(s for s in study.samples if s.name == "Liver-1")
        (source,) = liver.derives_from
        (organism,) = source.characteristics
        assert organism.value.term == "Lepeophtheirus salmonis"
        assert organism.value.term_accession.endswith("NCBITaxon_72036")
        values = {c.category.term: c.value for c in liver.characteristics}
        assert values["collection date"] == "2023-06-01"
        # ENA's checklists hold country and region apart
        assert values["geographic location (country and/or sea)"] == "Norway"
        assert values["geographic location (region and locality)"] == "Bergen"
    md5 = {p: m for m, _, p in read_manifest(tmp_path / "out" / "manifest-md5.txt")}
    for path in files:  # the manifest carries the delivered MD5s, and they are right
        assert md5[path] == hashlib.md5((root / path).read_bytes()).hexdigest()


def test_both_validators_report_no_errors(tmp_path):
    root, store = project(tmp_path, SPEC, replace(SPEC, paired=False, samples=("Skin-1",)))
    sheet = fill(template(store, root, tmp_path / "sheet.tsv"))
    export(store, root, tmp_path / "out", metadata=sheet)
    findings = validate_bundle(tmp_path / "out")
    assert [f for f in findings if f.level == "error"] == []
    assert {f.code for f in findings} <= KNOWN_NOISE, findings


def test_validator_catches_a_broken_bundle(tmp_path):
    root, store = project(tmp_path)
    export(store, root, tmp_path / "out")
    study = next((tmp_path / "out" / "isa-tab").glob("s_*.txt"))
    study.unlink()
    findings = validate_bundle(tmp_path / "out")
    assert any(f.level == "error" and f.validator == "ISA-Tab" for f in findings)


def test_rocrate_parses_with_the_rocrate_library(tmp_path):
    from rocrate.rocrate import ROCrate

    root, store = project(tmp_path)
    result = export(store, root, tmp_path / "out")
    crate = ROCrate(tmp_path / "out")
    assert crate.root_dataset["additionalType"] == "Investigation"
    kinds = sorted(e["additionalType"] for e in crate.get_entities() if e.type == "Dataset")
    assert kinds == ["Assay", "Investigation", "Study"]
    files = {e.id: e for e in crate.get_entities() if e.type == "File" and "://" in e.id}
    assert len(files) == len(result.investigation.files())
    for f in result.investigation.files():
        entity = files[f"file://{root / f.path}"]
        assert entity["md5"] == f.md5 and entity["contentSize"] == str(f.size)


def test_re_export_is_byte_identical(tmp_path):
    root, store = project(tmp_path, SPEC, replace(SPEC, lanes=1, seed=2))
    sheet = fill(template(store, root, tmp_path / "sheet.tsv"))
    export(store, root, tmp_path / "a", metadata=sheet)
    export(store, root, tmp_path / "b", metadata=sheet)
    export(store, root, tmp_path / "a", metadata=sheet)  # over an earlier bundle
    a = {
        p.relative_to(tmp_path / "a"): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    b = {
        p.relative_to(tmp_path / "b"): p.read_bytes()
        for p in (tmp_path / "b").rglob("*")
        if p.is_file()
    }
    # i_investigation, 2 studies, 2 assays, isa.json, manifest, report, RO-Crate
    assert a == b and len(a) == 9
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


def test_illumina_files_without_a_run_folder_make_a_named_valid_study(tmp_path):
    """FASTQs alone (as a Galaxy tool stages them): the study takes the folder's name."""
    make_delivery(tmp_path / "delivery", replace(SPEC, lanes=1))
    root = tmp_path / "Gill_study"
    root.mkdir()
    for f in (tmp_path / "delivery").rglob("*_R?_001.fastq.gz"):
        if not f.name.startswith("Undetermined"):
            f.rename(root / f.name)
    result = export(LocalStorage(root), root, tmp_path / "bundle")
    (study,) = result.investigation.studies
    assert study.identifier == "Gill_study" and study.title == "Data files in Gill_study"
    assert len(study.samples) == len(SPEC.samples)
    errors = [f for f in validate_bundle(tmp_path / "bundle") if f.level == "error"]
    assert errors == []


def test_re_export_keeps_what_was_deposited(tmp_path):
    """The deposit records are what make a re-run of a deposit safe: a fresh
    export of the same folder must not forget what ENA already holds."""
    root, store = project(tmp_path, replace(SPEC, lanes=1))
    out = tmp_path / "bundle"
    export(store, root, out)
    record = out / "deposits" / "ena-test.json"
    receipt = out / "deposits" / "receipts" / "inv-add.xml"
    receipt.parent.mkdir(parents=True)
    record.write_text('{"objects": {"project": {"inv": {"accession": "PRJEB1"}}}}')
    receipt.write_bytes(b"<RECEIPT success='true'/>")
    (out / "isa.json").unlink()  # the rest is written fresh
    export(store, root, out)
    assert (out / "isa.json").is_file()
    assert json.loads(record.read_text())["objects"]["project"]["inv"]["accession"] == "PRJEB1"
    assert receipt.read_bytes() == b"<RECEIPT success='true'/>"


def test_missing_checksums_are_computed_and_verify_catches_corruption(tmp_path):
    root, store = project(tmp_path, replace(SPEC, lanes=1))
    (root / "NorSeq" / "run1" / "md5sum.txt").unlink()
    result = export(store, root, tmp_path / "out")
    assert result.computed_md5 == 8
    victim = next(f for f in result.investigation.files())
    with open(root / victim.path, "r+b") as f:  # flip a byte after the MD5s were written
        f.seek(20)
        byte = f.read(1)
        f.seek(20)
        f.write(bytes([byte[0] ^ 1]))
    make_md5sum(root / "NorSeq" / "run1", exclude=victim.path)
    before = (tmp_path / "out" / "manifest-md5.txt").read_bytes()
    with pytest.raises(ExportError, match=victim.path.rsplit("/", 1)[-1]) as e:
        export(store, root, tmp_path / "out", check=True, metadata=None)
    assert "the checksum file says" in str(e.value) and "sequencing facility" in str(e.value)
    assert (tmp_path / "out" / "manifest-md5.txt").read_bytes() == before  # kept whole


def make_md5sum(folder: Path, exclude: str):
    """An md5sum.txt as delivered before ``exclude`` got corrupted (its old MD5)."""
    lines = []
    for p in sorted(folder.rglob("*.fastq.gz")):
        rel = p.relative_to(folder).as_posix()
        digest = hashlib.md5(p.read_bytes()).hexdigest()
        if exclude.endswith(rel):
            digest = "0" * 32  # what the facility recorded: now differs from the bytes
        lines.append(f"{digest}  {rel}")
    (folder / "md5sum.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "damage, code",
    [
        (lambda run: (run / "fastq" / "Gill-2_S4_L002_R2_001.fastq.gz").unlink(), "unpaired"),
        (lambda run: (run / "fastq" / "Gill-2_S4_L002_R2_001.fastq.gz").unlink(), "missing-file"),
        (
            lambda run: (run / "SampleSheet.csv").write_text(
                (run / "SampleSheet.csv").read_text()
                + (run / "SampleSheet.csv").read_text().splitlines()[-1]
                + "\n"
            ),
            "duplicate-sample",
        ),
        (
            lambda run: (run / "SampleSheet.csv").write_text(
                "[Header]\nFileFormatVersion,2\n[BCLConvert_Data]\n"
            ),
            "bad-sample-sheet",
        ),
        (
            lambda run: (run / "fastq" / "Gill-1_S3_L001_R1_001.fastq.gz").rename(
                run / "fastq" / "Gill 1_S3_L001_R1_001.fastq.gz"
            ),
            "unsafe-name",
        ),
    ],
)
def test_bad_input_warns_and_strict_refuses(tmp_path, damage, code):
    root, store = project(tmp_path)
    damage(root / "NorSeq" / "run1")
    result = export(store, root, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "export-report.json").read_text())
    assert code in {w["code"] for w in report["warnings"]}
    assert code in {i.code for i in result.issues}
    with pytest.raises(DeliveryError) as e:
        export(store, root, tmp_path / "strict", strict=True)
    assert code in {i.code for i in e.value.issues}
    assert not (tmp_path / "strict").exists()


def test_sheet_errors_name_file_row_and_column(tmp_path):
    root, store = project(tmp_path)
    sheet = template(store, root, tmp_path / "sheet.tsv")
    fill(sheet, {**FILLED, "collection date": "12/05/2023", "instrument": "NovaSeq"})
    text = sheet.read_text().replace("\tLiver-2\t", "\tLiver-9\t")
    text = text.replace("\tNorway: Bergen", "\tVietnam: Hanoi", 1).replace(
        "\tNorway:", "\tNorvay:", 1
    )
    text = text.replace("72036", "salmon louse", 1)
    sheet.write_text(text)
    with pytest.raises(SheetError) as e:
        export(store, root, tmp_path / "out", metadata=sheet)
    msg = str(e.value)
    assert "sheet.tsv, line" in msg
    assert "column 'collection date': '12/05/2023' is neither an ISO 8601 date" in msg
    assert "column 'instrument': 'NovaSeq' is not an ENA instrument model" in msg
    assert "column 'sample': no sample 'Liver-9'" in msg
    assert "column 'taxon id': 'salmon louse' is not an NCBI taxon id" in msg
    assert "column 'geographic location': 'Vietnam' is written 'Viet Nam' in INSDC's" in msg
    assert "column 'geographic location': 'Norvay' is not a country or sea in INSDC's" in msg
    assert not (tmp_path / "out").exists()


def test_unknown_section_and_column(tmp_path):
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("[Samples]\nstudy\tsample\tcolour\n.\tA\tred\n[Extras]\n")
    root, store = project(tmp_path)
    with pytest.raises(SheetError) as e:
        export(store, root, tmp_path / "out", metadata=sheet)
    assert "sheet.tsv, line 2, column 3: unknown column 'colour'" in str(e.value)
    assert "sheet.tsv, line 4: unknown section 'Extras'" in str(e.value)


def test_xlsx_template_round_trip_and_new_study(tmp_path):
    import openpyxl

    root, store = project(tmp_path)
    path = template(store, root, tmp_path / "sheet.xlsx")
    book = openpyxl.load_workbook(path)
    studies, samples = book["Studies"], book["Samples"]
    studies.append(["liver", "LIVER", "Liver samples", "Moved by the sheet", "", ""])
    header = [c.value for c in samples[1]]
    samples.cell(1, len(header) + 1, "Characteristics[tissue]")
    for row in samples.iter_rows(min_row=2):
        name = row[header.index("sample")].value
        row[header.index("organism")].value = "Lepeophtheirus salmonis"
        row[header.index("taxon id")].value = 72036  # typed as a number by Excel
        if name.startswith("Liver"):
            row[header.index("study")].value = "liver"
        samples.cell(row[0].row, len(header) + 1, name.split("-")[0].lower())
    book.save(path)
    result = export(store, root, tmp_path / "out", metadata=path)
    ids = {st.identifier: sorted(s.name for s in st.samples) for st in result.investigation.studies}
    assert ids["LIVER"] == ["Liver-1", "Liver-2"]
    assert sorted(ids[SPEC.run]) == ["Gill-1", "Gill-2"]
    inv = load_isatab(tmp_path / "out")
    liver = next(s for s in inv.studies if s.identifier == "LIVER")
    tissue = {
        c.value for s in liver.samples for c in s.characteristics if c.category.term == "tissue"
    }
    assert tissue == {"liver"}


def test_an_empty_folder_is_not_exported(tmp_path):
    (tmp_path / "empty" / "QC").mkdir(parents=True)
    (tmp_path / "empty" / "QC" / "report.html").write_text("<html></html>")
    store = LocalStorage(tmp_path / "empty")
    with pytest.raises(ExportError, match="nothing to export"):
        export(store, tmp_path / "empty", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path):
    root, store = project(tmp_path)
    (tmp_path / "thesis").mkdir()
    (tmp_path / "thesis" / "chapter1.tex").write_text("precious")
    with pytest.raises(ExportError, match="not an ISA bundle"):
        export(store, root, tmp_path / "thesis")
    assert (tmp_path / "thesis" / "chapter1.tex").read_text() == "precious"


def test_cli_export_and_validate_a_nels_uri(tmp_path):
    config = seed(tmp_path / "demo")

    def cli(*args):
        return run_cli(*args, config=config)

    uri = f"nels://Projects/{SEQ_PROJECT}/NorSeq"
    r = cli("isa", "template", uri, "--out", str(tmp_path / "sheet.tsv"))
    assert r.returncode == 0, r.stderr
    fill(tmp_path / "sheet.tsv")
    r = cli(
        "isa",
        "export",
        uri,
        "--metadata",
        str(tmp_path / "sheet.tsv"),
        "--out",
        str(tmp_path / "b"),
        "--verify",
    )
    assert r.returncode == 0, r.stderr
    assert "16 files" in r.stdout and "16 MD5s verified" in r.stdout
    report = json.loads((tmp_path / "b" / "export-report.json").read_text())
    assert report["investigation"] == SEQ_PROJECT and report["source"] == uri
    assert report["nels_project"]["name"] == SEQ_PROJECT
    assert report["nels_project"]["sensitive"] is False  # what the deposit rules read
    r = cli("isa", "validate", str(tmp_path / "b"))
    assert r.returncode == 0 and "0 error(s)" in r.stdout, r.stdout + r.stderr
    next((tmp_path / "b" / "isa-tab").glob("a_*.txt")).unlink()
    r = cli("isa", "validate", str(tmp_path / "b"))
    assert r.returncode == 1 and "error" in r.stderr
    r = cli("isa", "export", "nels://Projects/Nobodys_Project", "--out", str(tmp_path / "c"))
    assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_through_a_nels_home_the_rules_apply(tmp_path):
    home = open_home(load(seed(tmp_path / "demo")))
    result = export_bundle(
        home,
        f"Projects/{SEQ_PROJECT}",
        f"nels://Projects/{SEQ_PROJECT}",
        SEQ_PROJECT,
        tmp_path / "out",
    )
    (study,) = result.investigation.studies
    assert study.key.startswith("NorSeq/") and len(study.samples) == 4


def test_the_nels_project_of_a_source_carries_its_sensitivity(local_cast):
    from nels_core.home import Home
    from nels_core.isa.export import nels_project

    alice = Home(None, local_cast.account(local_cast.alice))
    assert nels_project(alice, "Projects/Sensitive_Cohort/run1")["sensitive"] is True
    assert nels_project(alice, "Personal/run1") is None
    assert nels_project(LocalStorage(Path(".")), "Projects/Sensitive_Cohort") is None


def test_documents_written_as_made_are_the_bytes_of_one_encoding(tmp_path, monkeypatch):
    """ISA-JSON and the RO-Crate are encoded a batch at a time while they are
    made (issue 22); their bytes are those of the whole document at once."""
    import orjson

    from nels_core.isa import isajson, rocrate

    monkeypatch.setattr(isajson, "_BATCH", 3)  # many batches, and one cut short
    monkeypatch.setattr(rocrate, "_BATCH", 3)
    odd = replace(SPEC, run="231108_A01447_0124_BHXYZ2DRX3", samples=("Liver 1", "Ørret-2"))
    root, store = project(tmp_path, SPEC, odd)
    sheet = fill(template(store, root, tmp_path / "sheet.tsv"))
    out = tmp_path / "out"
    inv = export(store, root, out, metadata=sheet).investigation

    whole = orjson.dumps(isajson.investigation_json(inv)) + b"\n"
    assert (out / "isa.json").read_bytes() == whole
    tables = ["i_investigation.txt"]
    for st in inv.studies:
        tables += [st.filename, *(a.filename for a in st.assays())]
    parts = [f"isa-tab/{t}" for t in tables] + [
        "isa.json",
        "manifest-md5.txt",
        "export-report.json",
    ]
    graph = rocrate.crate(inv, parts)
    lines = b",\n".join(map(orjson.dumps, graph["@graph"]))
    context = orjson.dumps(graph["@context"])
    whole = b'{"@context":%s,\n"@graph":[\n%s\n]}\n' % (context, lines)
    assert (out / "ro-crate-metadata.json").read_bytes() == whole


def test_cells_with_tabs_or_line_breaks_are_flattened(tmp_path):
    from nels_core.isa.isatab import write_isatab

    root, store = project(tmp_path, replace(SPEC, lanes=1))
    inv = map_source(store, "", str(root), root.name).investigation
    first, second = inv.studies[0].samples[:2]
    first.characteristics["note"] = "two\tcells\r\nand  a line"
    second.characteristics["note"] = "plain"
    write_isatab(inv, tmp_path / "tab")
    table = (tmp_path / "tab" / inv.studies[0].filename).read_text().splitlines()
    rows = {row.split("\t")[2]: row.split("\t") for row in table[1:]}  # by Sample Name
    assert table[0].split("\t")[-1] == "Characteristics[note]"
    assert rows[first.name][-1] == "two cells and a line"
    assert rows[second.name][-1] == "plain" and all(len(r) == 4 for r in rows.values())


@pytest.mark.parametrize("transport", ["openssh", "asyncssh"])
def test_over_sftp_small_files_are_read_many_at_once_and_checked_alike(cast, tmp_path, transport):
    """Small files' MD5s and reads come through read_files, big ones stream:
    the manifest and the checks say the same as from local disk."""
    from conftest import sftp_storage

    root = cast.world.home(cast.alice) / "Personal" / "lice"
    small = root / "NorSeq" / "run1"
    make_delivery(small, replace(SPEC, lanes=1))
    big = replace(SPEC, run="231108_A01447_0124_BHXYZ2DRX3", samples=("Big-1",), lanes=1)
    make_delivery(root / "NorSeq" / "run2", replace(big, index_reads=False, reads_per_file=1500))
    emptied = next(small.rglob("Liver-2_*_R1_001.fastq.gz"))
    emptied.write_bytes(gzip.compress(b""))
    (small / "md5sum.txt").unlink()  # computed, over the connection
    storage = sftp_storage(cast, cast.alice, transport=transport)
    out = tmp_path / "out"
    result = export_bundle(storage, "Personal/lice", "nels://Personal/lice", "lice", out)
    sizes = {f.path: f.size for f in result.investigation.files()}
    assert max(sizes.values()) > 64 * 1024 > min(sizes.values())  # both kinds
    listed = {path: md5 for md5, _, path in read_manifest(out / "manifest-md5.txt")}
    assert listed == {p: hashlib.md5((root / p).read_bytes()).hexdigest() for p in sizes}
    assert result.computed_md5 == sum(1 for p in sizes if p.startswith("NorSeq/run1/"))
    said = [i.path for i in result.issues if i.code == "empty-reads"]
    assert said == [emptied.relative_to(root).as_posix()]
    victim = next(small.rglob("Gill-1_*_R1_001.fastq.gz")).relative_to(root).as_posix()
    make_md5sum(small, exclude=victim)  # the facility's list: one MD5 the bytes do not give
    with pytest.raises(ExportError, match="1 file disagree") as e:
        export_bundle(storage, "Personal/lice", "nels://Personal/lice", "lice", out, check=True)
    assert victim in str(e.value)
    storage.close()
