"""Names and texts from outside (file and folder names, sample names, SEEK's
answers) are printed as they are by every subcommand: never read as rich
markup, and no control character reaches the terminal raw (shown escaped)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import LiveServer, cli

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_core.isa.export import DEPOSITS
from nels_sandbox.norseq import DeliverySpec, make_delivery

MARKUP = "[red]x[/red]"  # a folder "[red]x[" holding "red]"
LINK = "[link=file:evil]y"
ESC = "\x1b[2J"  # clear the screen
SHOWN_ESC = "\\x1b[2J"
# wide enough that rich wraps no line inside a name
WIDE = {"COLUMNS": "1000"}


def run(*args, **kw):
    r = cli(*args, env={**WIDE, **kw.pop("env", {})}, **kw)
    assert "Traceback" not in r.stderr, r.stderr
    assert "\x1b" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r


def hostile_fastq(folder: Path) -> None:
    """Two more samples' reads, named to be taken for markup or to clear the screen."""
    for sample in (LINK, f"esc{ESC}"):
        (folder / f"{sample}_S9_L001_R1_001.fastq.gz").write_bytes(b"x")


def test_isa_template_and_export(tmp_path):
    root = tmp_path / MARKUP / f"P{ESC}"
    make_delivery(root / "NorSeq" / "run1", DeliverySpec(reads_per_file=2, read_length=10))
    hostile_fastq(root / "NorSeq" / "run1" / "fastq")
    shown_root = f"{tmp_path}/{MARKUP}/P{SHOWN_ESC}"

    r = run("isa", "template", str(root), "--out", str(tmp_path / "sheet.tsv"))
    assert r.returncode == 0, r.stderr
    assert f"nels-bundle isa sheet put {shown_root} " in r.stdout, r.stdout
    # the warnings name the hostile files as they are
    warnings = r.stderr.splitlines()
    assert f"warning unsafe-name: NorSeq/run1/fastq/{LINK}_S9_L001_R1_001.fastq.gz:" in r.stderr
    assert any(line.startswith(f"warning unpaired: NorSeq/run1/{LINK}:") for line in warnings)
    assert any(f"NorSeq/run1/esc{SHOWN_ESC}:" in line for line in warnings), r.stderr

    out = tmp_path / MARKUP / f"bundle{ESC}"
    r = run("isa", "export", str(root), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Wrote {tmp_path}/{MARKUP}/bundle{SHOWN_ESC}: 1 study"), r.stdout


def test_isa_accessions_table(tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / DEPOSITS).mkdir(parents=True)
    record = {
        "archive": "ena",
        "server": MARKUP,
        "objects": {"sample": {f"s{ESC}\u202e1": {"accession": "ERS0001"}}},
    }
    (bundle / DEPOSITS / "ena-test.json").write_text(json.dumps(record))
    r = run("isa", "accessions", str(bundle))
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert rows[1] == ["ena", MARKUP, "sample", f"s{SHOWN_ESC}\\u202e1", "ERS0001"], rows


def test_demo(tmp_path):
    directory = tmp_path / MARKUP / f"d{ESC}"
    shown = f"{tmp_path}/{MARKUP}/d{SHOWN_ESC}"
    r = run("demo", "--dir", str(directory))
    assert r.returncode == 0, r.stderr
    assert f"Seeded a local NeLS home in {shown}\n" in r.stdout, r.stdout
    assert f"Exported the project as an ISA bundle to {shown}/isa-bundle:" in r.stdout
    assert f"--config {shown}/nels-bundle.toml isa template" in r.stdout

    run_dir = directory / "nels" / "projects" / SEQ_PROJECT / "NorSeq" / RUN
    hostile_fastq(run_dir / "fastq")
    r = run("demo", "--dir", str(directory))
    assert r.returncode == 0, r.stderr
    rows = {line.split("│")[1].strip() for line in r.stdout.splitlines() if "│" in line}
    assert {LINK, f"esc{SHOWN_ESC}"} <= rows, r.stdout  # the delivery table's samples
    assert f"  {LINK}: lane 1 has R1 but no R2 for this sample" in r.stdout
    assert f"  esc{SHOWN_ESC}: lane 1 has R1 but no R2 for this sample" in r.stdout


def test_biostudies_dry_run(tmp_path):
    from test_ena_xml import bundle

    description = f"{MARKUP} and {LINK}, then {ESC}"
    folder = bundle(tmp_path, description=description)
    r = run("biostudies", "submit", str(folder), "--dry-run", "--release", "2027-06-01")
    assert r.returncode == 0, r.stderr
    attributes = json.loads(r.stdout)["section"]["attributes"]
    assert {"name": "Description", "value": description} in attributes, r.stdout


def test_ena_prepare(tmp_path, specs):
    from test_ena_xml import bundle

    folder = bundle(tmp_path)
    dest = tmp_path / MARKUP / f"xml{ESC}"
    r = run("ena", "prepare", str(folder), "--out", str(dest), "--xsd-dir", str(specs / "ena"))
    assert r.returncode == 0, r.stderr
    assert f"documents to {tmp_path}/{MARKUP}/xml{SHOWN_ESC}: 1 project" in r.stdout, r.stdout


def test_galaxy_stage(tmp_path):
    reads = tmp_path / "dataset_1.dat"
    reads.write_bytes(b"@r\nACGT\n+\nIIII\n")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(f"liver\t-\tfastqsanger\t{reads}\n")
    dest = tmp_path / MARKUP / f"staged{ESC}"
    r = run("galaxy", "stage", str(manifest), str(dest))
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"Staged 1 FASTQ file(s) of 1 sample(s) in {tmp_path}/{MARKUP}/staged{SHOWN_ESC}\n"
    )


def test_seek_push_shows_seek_answers_literally(tmp_path, specs):
    """Who SEEK says we are is SEEK's text; as is the investigation's address."""
    from nels_sandbox.seek import create_app
    from nels_sandbox.seek_schemas import SeekSchemas
    from nels_sandbox.seek_world import SeekWorld

    world = SeekWorld()
    me = world.add_person(MARKUP, f"{LINK}{ESC}", token="token-hostile")
    project = world.add_project("P1", admins=[me.id])
    server = LiveServer(create_app(world, SeekSchemas(specs)))
    world.base_url = server.url
    try:
        root = tmp_path / "UiB_Hansen_SalmonLice_2023"
        make_delivery(root / "NorSeq" / "run1", DeliverySpec(reads_per_file=2, read_length=10))
        r = run(
            *("seek", "push", str(root), "--seek", server.url, "--project", str(project.id)),
            *("--db", f"sqlite:///{tmp_path / 'links.db'}"),
            env={"SEEK_TOKEN": "token-hostile"},
            timeout=120,
        )
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    assert f", as {MARKUP} {LINK}{SHOWN_ESC}: " in r.stdout, r.stdout


def test_show_and_redact_escape_alike():
    """show.visible and redact.visible agree, and show's reads undecodable bytes."""
    from nels_cli.show import literal, visible, warning
    from nels_core import redact

    text = f"{MARKUP}{ESC}\u202e\r\u2028"
    assert visible(text) == redact.visible(text) == f"{MARKUP}{SHOWN_ESC}\\u202e\\r\\u2028"
    assert visible("a\udcff") == "a\\xff" and redact.visible("a\udcff") == "a\\udcff"
    assert literal(text).plain == visible(text) and literal(3).plain == "3"
    assert warning(MARKUP).plain == f"warning {MARKUP}"
