"""Every ENA sample checklist: mandatory fields, patterns, controlled values
and units, as ENA defines them, checked before anything is sent."""

import json

import pytest
from lxml import etree
from test_ena_xml import FILLED, check, fill_sheet

from nels_core.deposit.checklists import EnaChecklists, from_ena_xml
from nels_core.deposit.ena_xml import PrepareError, prepare
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.xsd import EnaSchemas
from nels_core.errors import ConfigError
from nels_core.isa.export import export_bundle
from nels_core.isa.mapping import map_source
from nels_core.isa.sheet import write_template
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery


@pytest.fixture
def schemas(specs):
    return EnaSchemas(specs / "ena")


def bundle(tmp_path, values=FILLED):
    """The test delivery as a bundle, the sheet given a column for each
    ``Characteristics[...]`` in ``values``."""
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec())
    store = LocalStorage(root)
    inv = map_source(store, "", str(root), root.name).investigation
    text = write_template(inv, tmp_path / "sheet.tsv").read_text()
    extra = [k for k in values if k.startswith("Characteristics[")]
    lines = []
    for line in text.splitlines():
        if line.startswith("study\tsample\t"):
            line = "\t".join([line, *extra])
        lines.append(line)
    sheet = tmp_path / "filled.tsv"
    sheet.write_text(fill_sheet("\n".join(lines) + "\n", values))
    export_bundle(store, "", str(root), root.name, tmp_path / "bundle", metadata=sheet)
    return tmp_path / "bundle"


def test_all_public_checklists_load(specs):
    checklists = EnaChecklists(specs / "ena" / "checklists")
    overview = json.loads((specs / "ena" / "checklists" / "checklist_overview.json").read_text())
    for entry in overview:
        loaded = checklists.get(entry["accession"])
        assert loaded.name == entry["name"] and loaded.fields, entry["accession"]
        assert "alias" not in loaded.fields  # the XML says that elsewhere
    with pytest.raises(ConfigError, match="not an ENA checklist"):
        checklists.get("ERC11")


def test_mandatory_fields_of_another_checklist_are_named(tmp_path, schemas):
    deposit = read_bundle(bundle(tmp_path))
    with pytest.raises(PrepareError) as e:
        prepare(deposit, checklist="ERC000033")
    said = str(e.value)
    for name in ("host common name", "host subject id", "collector name", "isolate"):
        assert f"checklist ERC000033 (ENA virus pathogen reporting standard checklist) makes " \
            f"{name!r} mandatory: give it for 4 samples" in said, said  # fmt: skip
    # the default checklist: its two mandatory fields take INSDC's missing terms
    check(prepare(deposit), schemas)


def test_a_value_breaking_a_rule_is_named_with_the_rule(tmp_path, schemas):
    values = {
        **FILLED,
        "Characteristics[geographic location (latitude)]": "sixty north",
        "Characteristics[host sex]": "Male",
    }
    with pytest.raises(PrepareError) as e:
        prepare(read_bundle(bundle(tmp_path / "bad", values=values)), checklist="ERC000033")
    said = str(e.value)
    assert "geographic location (latitude) 'sixty north' (4 samples" in said
    assert "does not match its pattern (^[+-]?[0-9]+" in said
    assert "host sex 'Male' (4 samples" in said and "did you mean 'male'?" in said


def test_units_are_sent_as_the_checklist_gives_them(tmp_path, schemas):
    host = {
        f"Characteristics[{name}]": value
        for name, value in (
            ("host common name", "Atlantic salmon"),
            ("host subject id", "fish 7"),
            ("host scientific name", "Salmo salar"),
            ("collector name", "Kari Hansen"),
            ("collecting institution", "University of Bergen"),
            ("isolate", "SL-2023-7"),
            ("geographic location (latitude)", "60.39"),
        )
    }
    prepared = prepare(read_bundle(bundle(tmp_path, {**FILLED, **host})), checklist="ERC000033")
    check(prepared, schemas)
    attribute = next(
        a for a in prepared.tree("sample").iter("SAMPLE_ATTRIBUTE")
        if a.findtext("TAG") == "geographic location (latitude)"
    )  # fmt: skip
    assert (attribute.findtext("VALUE"), attribute.findtext("UNITS")) == ("60.39", "DD")
    # the mandatory ones that take INSDC's terms went as 'not provided', said once
    assert any("'host sex' not given for 4 samples" in w for w in prepared.warnings)


def test_enas_checklist_xml_is_read_into_the_same_form():
    xml = b"""<CHECKLIST_SET><CHECKLIST accession="ERC000011" checklistType="Sample">
      <DESCRIPTOR><NAME>ENA default sample checklist</NAME>
        <FIELD_GROUP><NAME>Collection event information</NAME>
          <FIELD><NAME>collection date</NAME><FIELD_TYPE><TEXT_FIELD>
            <REGEX_VALUE>(^[12][0-9]{3}$)|(^not provided$)</REGEX_VALUE></TEXT_FIELD></FIELD_TYPE>
            <MANDATORY>mandatory</MANDATORY><MULTIPLICITY>single</MULTIPLICITY></FIELD>
          <FIELD><NAME>host sex</NAME><FIELD_TYPE><TEXT_CHOICE_FIELD>
            <TEXT_VALUE><VALUE>male</VALUE></TEXT_VALUE><TEXT_VALUE><VALUE>female</VALUE></TEXT_VALUE>
            </TEXT_CHOICE_FIELD></FIELD_TYPE><MANDATORY>optional</MANDATORY></FIELD>
          <FIELD><NAME>depth</NAME><FIELD_TYPE><TEXT_FIELD/></FIELD_TYPE>
            <UNITS><UNIT>m</UNIT></UNITS><MANDATORY>recommended</MANDATORY></FIELD>
        </FIELD_GROUP></DESCRIPTOR></CHECKLIST></CHECKLIST_SET>"""
    form = from_ena_xml(etree.fromstring(xml))
    assert form["name"] == "ENA default sample checklist"
    assert form["sample"]["fields"] == [
        {"name": "collection date", "cardinality": "mandatory",
         "regex": "(^[12][0-9]{3}$)|(^not provided$)", "cv": [], "units": ""},
        {"name": "host sex", "cardinality": "optional", "regex": "", "cv": ["male", "female"],
         "units": ""},
        {"name": "depth", "cardinality": "recommended", "regex": "", "cv": [], "units": "m"},
    ]  # fmt: skip


def test_the_sheet_template_has_a_checklists_fields(tmp_path):
    from conftest import cli

    from nels_cli.demo import seed

    config = seed(tmp_path / "demo")
    sheet = tmp_path / "sheet.tsv"
    r = cli(
        "isa", "template", "nels://Projects/UiB_Hansen_SalmonLice_2023", "--out", str(sheet),
        "--checklist", "ERC000033", config=config,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = sheet.read_text()
    header = next(line for line in text.splitlines() if line.startswith("study\tsample\t"))
    for name in ("host sex", "host common name", "isolate", "geographic location (latitude)"):
        assert f"Characteristics[{name}]" in header.split("\t")
    assert "# mandatory host sex: one of female, hermaphrodite, male" in text
    assert "# recommended geographic location (latitude): in DD" in text
    r = cli("isa", "template", "nels://Projects/UiB_Hansen_SalmonLice_2023", "--out",
            str(sheet), "--checklist", "ERC999999", config=config)  # fmt: skip
    assert r.returncode == 1 and "ERC999999" in r.stderr
