"""Reading NorSeq deliveries: both sample sheet versions, lanes, layouts, and
every kind of bad input named clearly."""

import hashlib
from dataclasses import replace

import pytest

from nels_cli.demo import RUN, SEQ_PROJECT, seed
from nels_core.config import load
from nels_core.connect import open_home
from nels_core.delivery import DeliveryError, SampleSheetError, parse_sample_sheet, read_delivery
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery

SPEC = DeliverySpec(reads_per_file=20, read_length=50)


def delivered(tmp_path, **kw):
    folder = tmp_path / "run"
    make_delivery(folder, replace(SPEC, **kw))
    return folder, LocalStorage(folder)


@pytest.mark.parametrize("version", [1, 2])
def test_paired_two_lane_delivery(tmp_path, version):
    folder, store = delivered(tmp_path, sheet_version=version)
    d = read_delivery(store)
    assert d.kind == "illumina" and d.issues == []
    assert d.sample_sheet.version == version and d.run == SPEC.run
    assert sorted(d.samples) == sorted(SPEC.samples)
    liver = d.samples["Liver-1"]
    assert liver.number == 1 and liver.lanes == [1, 2] and liver.paired
    assert sorted((f.lane, f.read) for f in liver.files) == [
        (1, "R1"),
        (1, "R2"),
        (2, "R1"),
        (2, "R2"),
    ]
    assert [f.read for f in liver.index_files] == ["I1", "I1"]  # kept apart from the reads
    assert all(f.path.startswith("fastq/Undetermined_S0_") for f in d.undetermined)
    first = liver.files[0]
    assert first.md5 == hashlib.md5((folder / first.path).read_bytes()).hexdigest()
    assert {f.path for f in d.other_files} >= {
        "SampleSheet.csv",
        "md5sum.txt",
        "QC/multiqc_report.html",
    }


def test_single_end_and_no_index(tmp_path):
    _, store = delivered(tmp_path, paired=False, index_reads=False, lanes=1)
    d = read_delivery(store)
    assert d.issues == [] and not d.samples["Gill-1"].paired
    assert not d.sample_sheet.paired and d.samples["Gill-1"].index_files == []


def test_through_a_nels_uri(tmp_path):
    home = open_home(load(seed(tmp_path / "demo")))
    d = read_delivery(home, f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}", strict=True)
    assert sorted(d.samples) == ["Gill-1", "Gill-2", "Liver-1", "Liver-2"]


def codes(d):
    return sorted((i.code, i.path) for i in d.issues)


def test_r1_without_r2(tmp_path):
    folder, store = delivered(tmp_path)
    (folder / "fastq" / "Gill-2_S4_L002_R2_001.fastq.gz").unlink()
    d = read_delivery(store)
    assert ("unpaired", "Gill-2") in codes(d)
    assert ("missing-file", "fastq/Gill-2_S4_L002_R2_001.fastq.gz") in codes(d)
    assert any("lane 2 has R1 but no R2" in str(i) for i in d.issues)
    with pytest.raises(DeliveryError, match="lane 2 has R1 but no R2"):
        read_delivery(store, strict=True)


def test_duplicate_sample_in_the_sheet(tmp_path):
    folder, store = delivered(tmp_path, sheet_version=1)
    sheet = folder / "SampleSheet.csv"
    lines = sheet.read_text().splitlines()
    sheet.write_text("\n".join(lines + [lines[-1]]) + "\n")
    d = read_delivery(store)
    (issue,) = [i for i in d.issues if i.code == "duplicate-sample"]
    assert issue.path == "SampleSheet.csv" and "appears again in lane 2" in issue.message


def test_names_with_spaces_or_non_ascii(tmp_path):
    folder, store = delivered(tmp_path, samples=("Lever prøve", "Gill-1"), lanes=1)
    d = read_delivery(store)
    assert ("unsafe-name", "Lever prøve") in codes(d)
    assert any(i.code == "unsafe-name" and i.path.startswith("fastq/Lever") for i in d.issues)


def test_sheet_and_files_disagree(tmp_path):
    folder, store = delivered(tmp_path, lanes=1)
    for f in (folder / "fastq").glob("Gill-2_*"):
        f.unlink()
    (folder / "fastq" / "Extra_S9_L001_R1_001.fastq.gz").write_bytes(b"")
    (folder / "fastq" / "Extra_S9_L001_R2_001.fastq.gz").write_bytes(b"")
    found = codes(read_delivery(store))
    assert ("no-reads", "SampleSheet.csv") in found and ("not-in-sheet", "Extra") in found


@pytest.mark.parametrize(
    "text, words",
    [
        ("Lane,Sample_ID\n1,A\n", "before the first [Section]"),
        ("[Header]\nIEMFileVersion,5\n[Reads]\n151\n", "without a [Data] section"),
        ("[Header]\nFileFormatVersion,2\n[Data]\nSample_ID\nA\n", "without a [BCLConvert_Data]"),
        ("[Header]\n[Data]\nLane,Sample_ID\nx,A\n", "line 4: Lane must be a whole number"),
        ("[Header]\n[Data]\nLane,Name\n1,A\n", "line 3: [Data] has no Sample_ID column"),
        (
            "[Header]\n[Data]\nLane,Sample_ID\n1,A,extra\n",
            "line 4: 3 fields where the header has 2",
        ),
        ("[Header]\n[Data]\nLane,Sample_ID\n1,\n", "line 4: Sample_ID is empty"),
        ("[Header]\n[Reads]\nlong\n[Data]\nSample_ID\nA\n", "line 3: read length must be"),
    ],
)
def test_malformed_sample_sheets_are_named(text, words):
    with pytest.raises(SampleSheetError) as err:
        parse_sample_sheet(text, "run1/SampleSheet.csv")
    assert str(err.value).startswith("run1/SampleSheet.csv") and words in str(err.value)


def test_malformed_sheet_is_an_issue_not_a_crash(tmp_path):
    folder, store = delivered(tmp_path)
    (folder / "SampleSheet.csv").write_text("[Header]\nFileFormatVersion,2\n")
    d = read_delivery(store)
    assert d.sample_sheet is None and ("bad-sample-sheet", "SampleSheet.csv") in codes(d)
    assert sorted(d.samples) == sorted(SPEC.samples)  # the files still say enough


def test_bad_checksum_file_is_named(tmp_path):
    folder, store = delivered(tmp_path)
    (folder / "md5sum.txt").write_text("not a checksum line\n")
    d = read_delivery(store)
    (issue,) = [i for i in d.issues if i.code == "bad-checksum-file"]
    assert issue.path == "md5sum.txt" and "line 1" in issue.message


def test_checksum_lists_in_subfolders_and_with_odd_paths(tmp_path):
    """Names in a list are read relative to its folder and resolved ("./",
    "//", ".."); a list at the top naming plain paths is taken as it is."""
    folder, store = delivered(tmp_path, lanes=1, index_reads=False)
    (folder / "md5sum.txt").write_text(
        "11111111111111111111111111111111  ./fastq/Liver-1_S1_L001_R1_001.fastq.gz\n"
        "22222222222222222222222222222222  fastq//Liver-1_S1_L001_R2_001.fastq.gz\n"
        "33333333333333333333333333333333  fastq/../fastq/Gill-1_S3_L001_R1_001.fastq.gz\n"
    )
    (folder / "fastq" / "checksums.md5").write_text(
        "44444444444444444444444444444444  Gill-1_S3_L001_R2_001.fastq.gz\n"
        "55555555555555555555555555555555  ./Gill-2_S4_L001_R1_001.fastq.gz\n"
    )
    (folder / "QC" / "multiqc_report.html.md5").write_text("6" * 32 + "\n")
    d = read_delivery(store)
    assert d.checksums == {
        "fastq/Liver-1_S1_L001_R1_001.fastq.gz": "1" * 32,
        "fastq/Liver-1_S1_L001_R2_001.fastq.gz": "2" * 32,
        "fastq/Gill-1_S3_L001_R1_001.fastq.gz": "3" * 32,
        "fastq/Gill-1_S3_L001_R2_001.fastq.gz": "4" * 32,
        "fastq/Gill-2_S4_L001_R1_001.fastq.gz": "5" * 32,
        "QC/multiqc_report.html": "6" * 32,
    }
    gill = {f.path: f.md5 for f in d.samples["Gill-1"].files}
    assert gill["fastq/Gill-1_S3_L001_R2_001.fastq.gz"] == "4" * 32


def test_generic_folder_of_data_files(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    for name in ("patientA_1.fq.gz", "patientA_2.fq.gz", "patientB.bam", "notes.txt"):
        (folder / name).write_bytes(name.encode())
    (folder / "patientB.bam.md5").write_text(hashlib.md5(b"patientB.bam").hexdigest() + "\n")
    d = read_delivery(LocalStorage(folder))
    assert d.kind == "generic" and d.issues == []
    assert sorted(d.samples) == ["patientA", "patientB"]
    assert d.samples["patientA"].paired and not d.samples["patientB"].paired
    assert d.samples["patientB"].files[0].md5 == hashlib.md5(b"patientB.bam").hexdigest()


def test_empty_folder_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    d = read_delivery(LocalStorage(tmp_path / "empty"))
    assert [i.code for i in d.issues] == ["no-data"]
