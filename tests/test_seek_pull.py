"""``seek pull``: a pushed project, annotated in SEEK, comes back as an ISA
bundle carrying those annotations and SEEK's addresses, and validates."""

import json
import os
import subprocess
import sys
import warnings

import pytest

from nels_core.isa.validate import validate_bundle
from nels_sandbox.norseq import DeliverySpec, make_delivery
from seek_plugin.client import SeekClient

SPEC = DeliverySpec(reads_per_file=4, read_length=30)
KNOWN_NOISE = {"4011", "1020"}  # README, "ISA validation: known warnings"


@pytest.fixture
def pushed(seek_server, tmp_path):
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", SPEC)
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(
        "[Samples]\nstudy\tsample\torganism\ttaxon id\tlibrary strategy\tlibrary source\t"
        "library selection\tinstrument\tCharacteristics[tissue]\n"
        + "".join(
            f"NorSeq/run1\t{s}\tLepeophtheirus salmonis\t72036\tRNA-Seq\tTRANSCRIPTOMIC\t"
            f"PolyA\tIllumina NovaSeq 6000\t{s.split('-')[0].lower()}\n"
            for s in SPEC.samples
        )
    )
    db = f"sqlite:///{tmp_path / 'links.db'}"
    first = cli(
        seek_server,
        "push",
        str(root),
        "--seek",
        seek_server.url,
        "--project",
        seek_server.projects["P1"].id,
        "--metadata",
        str(sheet),
        "--db",
        db,
    )
    assert first.returncode == 0, first.stderr
    (url,) = [w for w in first.stdout.split() if "/investigations/" in w]
    return url, db, sheet


def cli(server, *args, token="token-alice"):
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", "seek", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SEEK_TOKEN": token},
        timeout=120,
    )


def annotate_in_seek(server, url):
    """What a researcher does in SEEK's pages, through the API."""
    bob = SeekClient(server.url, token="token-bob")
    inv_id = url.rsplit("/", 1)[-1]
    bob.investigations.update(inv_id, {"title": "Salmon lice transcriptomes 2023"})
    (study_id,) = bob.investigations.get(inv_id).ids("studies")
    bob.studies.update(study_id, {"description": "Liver and gill of lice-infested salmon"})
    world = server.world
    liver = next(
        s
        for s in world.records["samples"].values()
        if s.attributes["attribute_map"]["sample name"] == "Liver-1"
    )
    values = {
        **liver.attributes["attribute_map"],
        "tissue": "hepatopancreas",
        "organism": "Salmo salar",
        "ncbi taxon": "8030",
    }
    bob.samples.update(liver.id, {"attribute_map": values})
    return inv_id, liver.id


def test_pull_brings_seek_annotations_into_a_valid_bundle(seek_server, pushed, tmp_path):
    url, db, _ = pushed
    inv_id, liver_id = annotate_in_seek(seek_server, url)
    result = cli(seek_server, "pull", url, "--out", str(tmp_path / "bundle"), "--db", db)
    assert result.returncode == 0, result.stderr
    bundle = tmp_path / "bundle"
    from isatools import isatab

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inv = isatab.load(str(bundle / "isa-tab"))
    assert inv.title == "Salmon lice transcriptomes 2023"
    (study,) = inv.studies
    assert study.description == "Liver and gill of lice-infested salmon"
    liver = next(s for s in study.samples if s.name == "Liver-1")
    chars = {c.category.term: c.value for c in liver.characteristics}
    assert chars["tissue"] == "hepatopancreas"
    (source,) = liver.derives_from
    (organism,) = source.characteristics
    assert (organism.value.term, organism.value.term_accession.rsplit("_", 1)[-1]) == (
        "Salmo salar",
        "8030",
    )
    comments = {c.name: c.value for c in liver.comments}
    assert comments["SEEK sample"] == f"{seek_server.url}/samples/{liver_id}"
    assert {c.name: c.value for c in inv.comments}["SEEK investigation"] == url
    # the library details pushed as sample attributes come back too
    doc = json.loads((bundle / "isa.json").read_text())
    assay = doc["studies"][0]["assays"][0]
    assert assay["measurementType"]["annotationValue"] == "transcription profiling"
    errors = [f for f in validate_bundle(bundle) if f.level == "error"]
    assert errors == []
    report = json.loads((bundle / "export-report.json").read_text())
    said = [w["message"] for w in report["warnings"] if w["code"] == "seek"]
    assert "SEEK's own ISA export is not offered for this investigation" in said
    # SEEK's edits went into the folder's sheet; what the push itself wrote did not
    (saved,) = (tmp_path / "UiB_Hansen_SalmonLice_2023" / "nels-metadata").glob("sheet-*.tsv")
    text = saved.read_text()
    assert "Salmon lice transcriptomes 2023" in text and "hepatopancreas" in text
    assert "ISA description of" not in text


def test_pull_compares_with_seeks_own_export_where_offered(seek_server, pushed, tmp_path):
    url, db, _ = pushed
    seek_server.world.isa_json_compliant = True
    result = cli(seek_server, "pull", url, "--out", str(tmp_path / "bundle"), "--db", db)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bundle" / "export-report.json").read_text())
    said = [w["message"] for w in report["warnings"] if w["code"] == "seek"]
    assert "SEEK's own ISA export agrees on titles, studies and samples" in said


def test_pull_of_an_investigation_nobody_pushed_says_so(seek_server, pushed, tmp_path):
    _, db, _ = pushed
    other = SeekClient(seek_server.url, token="token-alice").investigations.create(
        {"title": "Made in SEEK"}, {"projects": [seek_server.projects["P1"].id]}
    )
    result = cli(seek_server, "pull", other.url, "--out", str(tmp_path / "b"), "--db", db)
    assert result.returncode == 1
    assert "was not pushed from NeLS with this database" in result.stderr
    bad = cli(seek_server, "pull", f"{seek_server.url}/studies/1", "--out", str(tmp_path / "b"))
    assert bad.returncode == 1 and "not a SEEK investigation address" in bad.stderr
    assert not (tmp_path / "b").exists()
