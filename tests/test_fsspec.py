"""``nels://`` through fsspec, as pandas or Jupyter would use it."""

import fsspec
import pytest

import nels_core.fs  # noqa: F401 - registers the protocol
from nels_cli.demo import RUN, SEQ_PROJECT, seed
from nels_core.errors import AccessDeniedError


@pytest.fixture
def demo_config(tmp_path, monkeypatch):
    config = seed(tmp_path / "demo")
    monkeypatch.setenv("NELS_BUNDLE_CONFIG", str(config))
    return config


def test_fsspec_open_reads_by_uri(demo_config):
    with fsspec.open(f"nels://Projects/{SEQ_PROJECT}/NorSeq/{RUN}/SampleSheet.csv", "rb") as f:
        head = f.read(8)
        f.seek(0)
        whole = f.read()
    assert head == b"[Header]" and b"[BCLConvert_Data]" in whole


def test_fsspec_write_is_atomic_and_refuses_members(demo_config):
    fs = fsspec.filesystem("nels")
    fs.mkdir("nels://Personal/tables")
    with fsspec.open("nels://Personal/tables/a.tsv", "wb") as f:
        f.write(b"x\ty\n1\t2\n")
    assert fs.cat_file("nels://Personal/tables/a.tsv") == b"x\ty\n1\t2\n"
    assert fs.info("nels://Personal/tables/a.tsv")["size"] == 8
    assert fs.ls("nels://Personal/tables", detail=False) == ["Personal/tables/a.tsv"]

    with pytest.raises(RuntimeError), fsspec.open("nels://Personal/tables/b.tsv", "wb") as f:
        f.write(b"half")
        raise RuntimeError("the writer failed")
    assert not fs.exists("nels://Personal/tables/b.tsv")  # nothing half-written

    with pytest.raises(AccessDeniedError):
        fs.rm(f"nels://Projects/{SEQ_PROJECT}/NorSeq/{RUN}/SampleSheet.csv")
    assert fs.find(f"nels://Projects/{SEQ_PROJECT}/NorSeq/{RUN}/QC") == [
        f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}/QC/multiqc_report.html"
    ]


def test_a_cut_download_leaves_the_local_file_as_it_was(demo_config, tmp_path, monkeypatch):
    from nels_core.errors import TransferError

    fs = fsspec.filesystem("nels")
    sheet = f"nels://Projects/{SEQ_PROJECT}/NorSeq/{RUN}/SampleSheet.csv"
    local = tmp_path / "out" / "sheet.csv"
    local.parent.mkdir()
    local.write_text("what was here\n")

    def cut(path, offset=0, length=None):
        yield b"[Header]\n"
        raise TransferError(f"connection to the NeLS data host lost during {path!r}")

    monkeypatch.setattr(fs.home, "read_chunks", cut)
    with pytest.raises(TransferError):
        fs.get_file(sheet, str(local))
    assert local.read_text() == "what was here\n"  # not truncated
    assert [p.name for p in local.parent.iterdir()] == ["sheet.csv"]  # no partial left
    monkeypatch.undo()
    fs.get_file(sheet, str(local))
    assert local.read_bytes().startswith(b"[Header]") and b"[BCLConvert_Data]" in local.read_bytes()
