"""SEEK edits come back into the folder's sheet: a pull saves them as a new
version naming each change; a field changed both in SEEK and in the sheet
since the push is a conflict, named with both values, and nothing is written
until the user chooses. Afterwards SEEK, the bundle and ENA's XML agree,
field by field."""

import json
import os
import subprocess
import sys

import pytest
from test_ena_xml import FILLED, fill_sheet

from nels_core.deposit.ena_xml import prepare
from nels_core.deposit.isa_reader import read_bundle
from nels_core.isa.folder_sheet import FOLDER
from nels_sandbox.norseq import DeliverySpec, make_delivery
from seek_plugin.client import SeekClient

SPEC = DeliverySpec(reads_per_file=4, read_length=30)


def run(*args, token="token-alice"):
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SEEK_TOKEN": token},
        timeout=120,
    )


@pytest.fixture
def pushed(seek_server, tmp_path):
    """A folder with its sheet saved beside the data, pushed to SEEK without --metadata."""
    root = tmp_path / "UiB_Hansen_SalmonLice_2023"
    make_delivery(root / "NorSeq" / "run1", SPEC)
    template = tmp_path / "template.tsv"
    assert run("isa", "sheet", "get", str(root), "--out", str(template)).returncode == 0
    filled = tmp_path / "filled.tsv"
    values = {**FILLED, "Characteristics[tissue]": "liver"}
    with_tissue = template.read_text().replace(
        "sample description\n", "sample description\tCharacteristics[tissue]\n"
    )
    filled.write_text(fill_sheet(with_tissue, values))
    put = run("isa", "sheet", "put", str(root), str(filled))
    assert put.returncode == 0, put.stderr
    db = f"sqlite:///{tmp_path / 'links.db'}"
    project = seek_server.projects["P1"].id
    push = run("seek", "push", str(root), "--seek", seek_server.url, "--project", project,
               "--db", db)  # fmt: skip
    assert push.returncode == 0, push.stderr
    assert "Metadata: the folder's sheet nels-metadata/sheet-" in push.stderr
    (url,) = [w for w in push.stdout.split() if "/investigations/" in w]
    return root, url, db, project


def sample_in_seek(server, name: str):
    return next(
        s
        for s in server.world.records["samples"].values()
        if s.attributes["attribute_map"]["sample name"] == name
    )


def edit_sample(server, name: str, **values):
    """What a researcher does on SEEK's sample page, through the API."""
    record = sample_in_seek(server, name)
    changed = {**record.attributes["attribute_map"], **values}
    SeekClient(server.url, token="token-bob").samples.update(record.id, {"attribute_map": changed})


def versions(root):
    return sorted((root / FOLDER).glob("sheet-*.tsv"))


def test_seek_edits_become_a_sheet_version_and_everything_agrees(seek_server, pushed, tmp_path):
    root, url, db, project = pushed
    bob = SeekClient(seek_server.url, token="token-bob")
    inv_id = url.rsplit("/", 1)[-1]
    bob.investigations.update(inv_id, {"title": "Salmon lice transcriptomes 2023"})
    edit_sample(seek_server, "Liver-1", tissue="hepatopancreas")
    edit_sample(seek_server, "Gill-2", organism="Salmo trutta", **{"ncbi taxon": "8032"})

    pull = run("seek", "pull", url, "--out", str(tmp_path / "pulled"), "--db", db)
    assert pull.returncode == 0, pull.stderr
    assert "SEEK's edits saved in the folder's sheet: nels-metadata/sheet-" in pull.stdout
    for said in (
        "investigation title: 'Salmon lice transcriptomes 2023'",
        "sample 'Liver-1', Characteristics[tissue]: 'hepatopancreas'",
        "sample 'Gill-2', organism: 'Salmo trutta'",
        "sample 'Gill-2', taxon id: '8032'",
    ):
        assert said in pull.stdout
    assert len(versions(root)) == 2
    log = run("isa", "sheet", "log", str(root)).stdout
    assert log.splitlines()[0].split("  ")[2] == f"from SEEK {url}"
    assert "sample 'Gill-2', organism: 'Salmo salar' -> 'Salmo trutta'" in log

    # a second pull finds nothing new: no version added
    again = run("seek", "pull", url, "--out", str(tmp_path / "pulled2"), "--db", db)
    assert again.returncode == 0 and "already says what SEEK says" in again.stdout
    assert len(versions(root)) == 2

    # push, export and the ENA documents now see the same values as SEEK
    push = run("seek", "push", str(root), "--seek", seek_server.url, "--project", project,
               "--db", db)  # fmt: skip
    assert push.returncode == 0, push.stderr
    export = run("isa", "export", str(root), "--out", str(tmp_path / "bundle"))
    assert export.returncode == 0, export.stderr
    bundle = tmp_path / "bundle"
    ena = prepare(read_bundle(bundle)).tree("sample")
    doc = json.loads((bundle / "isa.json").read_text())
    assert doc["title"] == "Salmon lice transcriptomes 2023"
    assert seek_server.world.records["investigations"][inv_id].attributes["title"] == doc["title"]
    isa_samples = {s["name"]: s for st in doc["studies"] for s in st["materials"]["samples"]}
    sources = {s["@id"]: s for st in doc["studies"] for s in st["materials"]["sources"]}
    for name in SPEC.samples:
        seek = sample_in_seek(seek_server, name).attributes["attribute_map"]
        isa = isa_samples[name]
        chars = {_category(doc, c): _value(c) for c in isa["characteristics"]}
        (source,) = isa["derivesFrom"]
        organism = _value(sources[source["@id"]]["characteristics"][0])
        (xml,) = [x for x in ena.iter("SAMPLE") if x.get("alias").endswith(name)]
        attributes = {a.findtext("TAG"): a.findtext("VALUE") for a in xml.iter("SAMPLE_ATTRIBUTE")}
        assert seek["organism"] == organism == xml.findtext(".//SCIENTIFIC_NAME"), name
        assert str(seek["ncbi taxon"]).rsplit("_", 1)[-1] == xml.findtext(".//TAXON_ID"), name
        assert seek["tissue"] == chars["tissue"] == attributes["tissue"], name
        date = chars["collection date"]
        assert seek["collection date"] == date == attributes["collection date"], name
    assert sample_in_seek(seek_server, "Gill-2").attributes["attribute_map"]["organism"] == (
        "Salmo trutta"
    )


def test_a_field_changed_on_both_sides_is_a_conflict_until_the_user_chooses(
    seek_server, pushed, tmp_path
):
    root, url, db, _ = pushed
    edit_sample(seek_server, "Liver-1", tissue="hepatopancreas")  # SEEK's side
    edit_sample(seek_server, "Gill-1", tissue="gill arch")  # SEEK alone: no conflict
    got = tmp_path / "current.tsv"
    run("isa", "sheet", "get", str(root), "--out", str(got))
    lines = got.read_text().splitlines()
    edited = [line.replace("\tliver", "\tcaecum") if "\tLiver-1\t" in line else line
              for line in lines]  # fmt: skip
    mine = tmp_path / "mine.tsv"
    mine.write_text("\n".join(edited) + "\n")
    assert run("isa", "sheet", "put", str(root), str(mine)).returncode == 0  # the sheet's side
    before = versions(root)

    stopped = run("seek", "pull", url, "--out", str(tmp_path / "b1"), "--db", db)
    assert stopped.returncode == 1
    assert (
        "sample 'Liver-1', Characteristics[tissue]: the sheet says 'caecum', "
        "SEEK 'hepatopancreas'" in stopped.stderr
    )
    assert "Gill-1" not in stopped.stderr  # not a conflict
    assert versions(root) == before and not (tmp_path / "b1").exists()  # nothing written

    kept = run("seek", "pull", url, "--out", str(tmp_path / "b2"), "--db", db, "--take", "sheet")
    assert kept.returncode == 0, kept.stderr
    doc = (tmp_path / "b2" / "isa.json").read_text()
    assert "caecum" in doc and "hepatopancreas" not in doc and "gill arch" in doc
    (newest,) = set(versions(root)) - set(before)  # SEEK's own edit (Gill-1) saved
    assert "\tgill arch" in newest.read_text() and "\tcaecum" in newest.read_text()

    taken = run("seek", "pull", url, "--out", str(tmp_path / "b3"), "--db", db, "--take", "seek")
    assert taken.returncode == 0, taken.stderr
    assert "sample 'Liver-1', Characteristics[tissue]: 'hepatopancreas'" in taken.stdout
    assert "hepatopancreas" in versions(root)[-1].read_text()


def _category(doc, characteristic) -> str:
    ref = characteristic["category"]["@id"]
    for st in doc["studies"]:
        for c in st.get("characteristicCategories", []):
            if c["@id"] == ref:
                return c["characteristicType"]["annotationValue"]
    return ref


def _value(characteristic) -> str:
    v = characteristic["value"]
    return v["annotationValue"] if isinstance(v, dict) else str(v)


@pytest.mark.parametrize("backend", ["local"])
def test_a_read_only_member_pulls_without_writing_the_sheet(seek_server, home_for, tmp_path):
    """Where the user may not add files, SEEK's edits reach the bundle only, and it says so."""
    from nels_core.isa.export import describe
    from nels_core.isa.folder_sheet import FolderSheets
    from nels_core.isa.sheet import read_sheet, write_template
    from seek_plugin.db import Database
    from seek_plugin.pull import pull_bundle
    from seek_plugin.push import Pusher

    cast = home_for.cast
    make_delivery(cast.world.project_dir(cast.project) / "NorSeq" / "run1", SPEC)
    folder = f"Projects/{cast.project.folder}/NorSeq"
    alice = home_for("alice")
    inv, _ = describe(alice, folder, f"nels://{folder}", "x")
    sheet = tmp_path / "filled.tsv"
    sheet.write_text(fill_sheet(write_template(inv, tmp_path / "t.tsv").read_text()))
    FolderSheets(alice, folder).put(read_sheet(sheet), "filled.tsv")
    inv, _ = describe(alice, folder, f"nels://{folder}", "x")
    db = Database(f"sqlite:///{tmp_path / 'links.db'}")
    client = SeekClient(seek_server.url, token="token-alice")
    url = Pusher(client, db, seek_server.projects["P1"].id).push(inv).investigation_url()
    edit_sample(seek_server, "Liver-1", **{"collection date": "2023-05-05"})

    dave = home_for("dave")  # read-only in the project
    result, _, back = pull_bundle(
        client, db, url, lambda loc: (dave, folder, loc, "x"), tmp_path / "bundle"
    )
    assert back.changes == ["sample 'Liver-1', collection date: '2023-05-05'"]
    assert back.version == "" and "read-only member" in back.not_saved
    assert "2023-05-05" in (tmp_path / "bundle" / "isa.json").read_text()
    assert len(FolderSheets(alice, folder).names()) == 1  # nothing added


def test_an_edit_in_seek_the_data_cannot_take_is_named_and_nothing_written(
    seek_server, pushed, tmp_path
):
    root, url, db, _ = pushed
    edit_sample(seek_server, "Gill-1", **{"library strategy": "Interpretive dance"})
    before = versions(root)
    pull = run("seek", "pull", url, "--out", str(tmp_path / "b"), "--db", db)
    assert pull.returncode == 1
    assert "in the values edited in SEEK (nothing written; correct them in SEEK" in pull.stderr
    assert "'Interpretive dance' is not one of ENA's values" in pull.stderr
    assert versions(root) == before and not (tmp_path / "b").exists()


def test_creators_named_in_seek_join_the_sheets_contacts(seek_server, pushed, tmp_path):
    root, url, db, _ = pushed
    bob = SeekClient(seek_server.url, token="token-bob")
    carol = seek_server.people["Carol"]
    carol.orcid = "https://orcid.org/0000-0002-1825-0097"
    bob.investigations.update(url.rsplit("/", 1)[-1], {}, {"creators": [carol.id]})
    pull = run("seek", "pull", url, "--out", str(tmp_path / "b"), "--db", db)
    assert pull.returncode == 0, pull.stderr
    assert "contact 'Carol Tester', last name: 'Tester'" in pull.stdout
    assert "contact 'Carol Tester', orcid: '0000-0002-1825-0097'" in pull.stdout
    newest = versions(root)[-1].read_text()
    (row,) = [line for line in newest.splitlines() if "\tTester\tCarol" in line]
    assert row.startswith("\tTester\tCarol\t") and "0000-0002-1825-0097" in row
    # the bundle exported from the folder now names her, as SEEK does
    export = run("isa", "export", str(root), "--out", str(tmp_path / "bundle"))
    assert export.returncode == 0, export.stderr
    people = json.loads((tmp_path / "bundle" / "isa.json").read_text())["people"]
    assert [(p["firstName"], p["lastName"]) for p in people] == [("Carol", "Tester")]
