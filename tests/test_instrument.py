"""The instrument comes from the run, not from the researcher's guess."""

import pytest
from test_ena_xml import FILLED, fill_sheet

from nels_core.illumina import instrument_from_run, instrument_from_sheet_header
from nels_core.isa.export import describe
from nels_core.isa.mapping import map_source
from nels_core.isa.sheet import write_template
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery


@pytest.mark.parametrize(
    ("run", "model"),
    [
        ("231107_A01447_0123_AHXYZ2DRX3", "Illumina NovaSeq 6000"),
        ("240115_LH00123_0042_A22F5KLT3", "Illumina NovaSeq X"),
        ("230301_M04567_0311_000000000-KW6Y2", "Illumina MiSeq"),
        ("240520_VH00987_12_AAFJKL5M5", "NextSeq 2000"),
        ("220901_NB551234_0456_AHGFJ2BGXL", "NextSeq 500"),
        ("221010_MN01234_0055_A000H5GJKL", "Illumina MiniSeq"),
        ("230612_FS10001234_0021_BSB12345-1234", "Illumina iSeq 100"),
        ("not_a_run_folder", ""),
        ("231107_X99_0001_AB", ""),
    ],
)
def test_the_run_folder_names_the_instrument(run, model):
    assert instrument_from_run(run) == model


def test_bcl_convert_sheets_name_the_platform():
    header = {"InstrumentPlatform": "NovaSeqXSeries", "InstrumentType": "NovaSeqXPlus"}
    assert instrument_from_sheet_header(header) == "Illumina NovaSeq X Plus"


def test_the_template_fills_it_and_a_contradicting_sheet_is_warned_about(tmp_path):
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec())
    store = LocalStorage(root)
    inv = map_source(store, "", str(root), root.name).investigation
    assert {s.instrument for s in inv.samples()} == {"Illumina NovaSeq 6000"}
    template = write_template(inv, tmp_path / "sheet.tsv").read_text()
    assert template.count("\tIllumina NovaSeq 6000") == len(inv.samples())
    sheet = tmp_path / "filled.tsv"
    sheet.write_text(fill_sheet(template, {**FILLED, "instrument": "Illumina MiSeq"}))
    inv, issues = describe(store, "", str(root), root.name, sheet)
    said = [i.message for i in issues if i.code == "sheet-contradicts-data"]
    assert len(said) == len(inv.samples())
    assert "the sheet says 'Illumina MiSeq', but its run says 'Illumina NovaSeq 6000'" in said[0]
    assert "line " in said[0]
