"""The Galaxy tools in ``tool_xml/``: planemo's lint at IUC's strictest level,
their requirement's version kept with the package's, and the staging of
Galaxy datasets (hostile identifiers included) that the ISA export tool runs.
Running them on a real Galaxy is in test_galaxy_server.py."""

import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from conftest import ROOT
from lxml import etree

from nels_cli.galaxy import StageError, stage
from nels_core.illumina import parse_fastq_name

TOOLS = ROOT / "tool_xml"
PLANEMO = Path(os.environ.get("NELS_PLANEMO_VENV", ROOT / ".venv-planemo")) / "bin" / "planemo"


def test_every_tool_is_lint_clean_at_warn_level():
    if not PLANEMO.exists():
        if os.environ.get("CI"):
            pytest.fail("planemo is missing on CI: ./dev test installs it")
        pytest.skip("planemo not installed (./dev test installs it in .venv-planemo)")
    tools = sorted(p for p in TOOLS.glob("*.xml") if p.name != "macros.xml")
    assert tools
    r = subprocess.run(
        [str(PLANEMO), "lint", "--fail_level", "warn", *map(str, tools)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for tool in tools:
        assert f"Linting tool {tool}" in r.stdout


def test_the_requirement_is_this_package_at_its_version():
    macros = etree.parse(str(TOOLS / "macros.xml"))
    tokens = {t.get("name"): t.text for t in macros.iterfind("token")}
    assert tokens["@TOOL_VERSION@"] == version("nels-bundle")
    (requirement,) = macros.iterfind(".//requirement")
    assert requirement.text == "nels-bundle" and requirement.get("type") == "package"


def fastq(tmp_path, name: str) -> Path:
    f = tmp_path / "datasets" / name
    f.parent.mkdir(exist_ok=True)
    f.write_bytes(b"@r\nACGT\n+\nIIII\n")
    return f


def test_pairs_are_staged_illumina_named(tmp_path):
    a, b = fastq(tmp_path, "dataset_1.dat"), fastq(tmp_path, "dataset_2.dat")
    c, d = fastq(tmp_path, "dataset_3.dat"), fastq(tmp_path, "dataset_4.dat")
    placed = stage(
        [
            f"Liver-1\tR1\tfastqsanger.gz\t{a}",
            f"Liver-1\tR2\tfastqsanger.gz\t{b}",
            f"Gill 1 (repeat)\tR1\tfastqsanger\t{c}",
            f"Gill 1 (repeat)\tR2\tfastqsanger\t{d}",
        ],
        tmp_path / "Inv",
    )
    assert [p.name for p in placed] == [
        "Liver-1_S1_L001_R1_001.fastq.gz",
        "Liver-1_S1_L001_R2_001.fastq.gz",
        "Gill-1-repeat_S2_L001_R1_001.fastq",
        "Gill-1-repeat_S2_L001_R2_001.fastq",
    ]
    assert placed[0].read_bytes() == a.read_bytes()


def test_illumina_named_elements_keep_their_names_and_hostile_ones_stay_inside(tmp_path):
    good = fastq(tmp_path, "dataset_5.dat")
    bad = fastq(tmp_path, "dataset_6.dat")
    dest = tmp_path / "Inv"
    placed = stage(
        [
            f"Liver-2_S7_L002_R2_001.fastq.gz\t-\tfastqsanger.gz\t{good}",
            f"../../etc/passwd\t-\tfastqsanger\t{bad}",
        ],
        dest,
    )
    assert placed[0].name == "Liver-2_S7_L002_R2_001.fastq.gz"
    assert placed[1].parent == dest and parse_fastq_name(placed[1].name).sample == "etc-passwd"
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "no FASTQ datasets"),
        (["Liver-1\tR3\tfastqsanger\t/x"], "line 1: expected"),
        (["Liver-1\tR1\tfastqsanger"], "line 1: expected"),
        (["Liver-1\tR1\tfastqsanger\t/no/such/dataset"], "not a readable dataset"),
    ],
)
def test_a_bad_manifest_is_named(tmp_path, lines, message):
    with pytest.raises(StageError, match=message):
        stage(lines, tmp_path / "Inv")


def test_the_same_name_twice_is_refused(tmp_path):
    a, b = fastq(tmp_path, "dataset_7.dat"), fastq(tmp_path, "dataset_8.dat")
    with pytest.raises(StageError, match="line 2: 'Liver-1' gives"):
        stage([f"Liver-1\tR1\tfastqsanger\t{a}", f"Liver-1\tR1\tfastqsanger\t{b}"], tmp_path / "I")


def export_test_bundle(work: Path) -> Path:
    """The bundle the ISA export tool makes of test-data: what
    ``test-data/isa_bundle.zip`` (the ENA tool's test input) holds."""
    from click.testing import CliRunner

    from nels_cli.main import main

    data = TOOLS / "test-data"
    manifest = work / "manifest.tsv"
    manifest.write_text(
        "".join(
            f"{sample}\t{read}\tfastqsanger.gz\t{data / f'{sample}_{read}.fastq.gz'}\n"
            for sample in ("Liver-1", "Gill-1")
            for read in ("R1", "R2")
        )
    )
    folder, bundle, archive = work / "SalmonLice_2023", work / "bundle", work / "isa_bundle.zip"
    for args in (
        ["galaxy", "stage", str(manifest), str(folder)],
        [
            "isa",
            "export",
            str(folder),
            "--out",
            str(bundle),
            "--metadata",
            str(data / "metadata.tsv"),
        ],
        ["galaxy", "zip", str(bundle), str(archive)],
    ):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 0, r.output
    return archive


def test_the_ena_tools_test_bundle_is_what_the_export_tool_makes_today(tmp_path):
    import zipfile

    fresh = zipfile.ZipFile(export_test_bundle(tmp_path))
    kept = zipfile.ZipFile(TOOLS / "test-data" / "isa_bundle.zip")
    assert sorted(fresh.namelist()) == sorted(kept.namelist())
    # the tables and checksums, not the source path (a job's folder) they were made in
    for name in fresh.namelist():
        if name.startswith(("isa-tab/a_", "isa-tab/s_")):
            assert fresh.read(name) == kept.read(name), f"{name}: regenerate test-data"
    fresh_sums, kept_sums = (z.read("manifest-md5.txt").splitlines()[1:] for z in (fresh, kept))
    assert fresh_sums == kept_sums and len(kept_sums) == 4


def test_unzip_takes_only_an_isa_bundle_and_nothing_outside_it(tmp_path):
    import zipfile

    from nels_cli.galaxy import unzip_bundle

    unzip_bundle(TOOLS / "test-data" / "isa_bundle.zip", tmp_path / "ok")
    assert (tmp_path / "ok" / "isa-tab" / "i_investigation.txt").is_file()

    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as z:
        z.writestr("isa-tab/i_investigation.txt", "x")
        z.writestr("../../escaped.txt", "x")
    with pytest.raises(StageError, match="points outside"):
        unzip_bundle(hostile, tmp_path / "bad")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "bad").exists()
    absolute = tmp_path / "absolute.zip"
    with zipfile.ZipFile(absolute, "w") as z:
        z.writestr("isa-tab/i_investigation.txt", "x")
        z.writestr(zipfile.ZipInfo("/tmp/escaped.txt"), "x")
    with pytest.raises(StageError, match="points outside"):
        unzip_bundle(absolute, tmp_path / "abs")

    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("notes.txt", "x")
    with pytest.raises(StageError, match="not an ISA bundle"):
        unzip_bundle(other, tmp_path / "other")
    (tmp_path / "text.zip").write_text("not a zip")
    with pytest.raises(StageError, match="not a zip"):
        unzip_bundle(tmp_path / "text.zip", tmp_path / "text")
