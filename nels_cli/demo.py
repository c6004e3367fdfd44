"""``nels-bundle demo``: a local NeLS tree with a NorSeq delivery, walked.

Runs on embedded defaults: no account, no network. Re-running reuses the
tree; ``--fresh`` lays it out anew.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from nels_core import config as nels_config
from nels_core.checksums import StreamHasher
from nels_core.connect import open_home
from nels_core.delivery import read_delivery
from nels_core.errors import AccessDeniedError
from nels_core.isa.export import export_bundle

from .show import literal, visible

out = Console(soft_wrap=True)

DEMO_USER = "demo"
SEQ_PROJECT = "UiB_Hansen_SalmonLice_2023"
OWN_PROJECT = "NTNU_Berg_Microbiome_2024"
RUN = "231107_A01447_0123_AHXYZ2DRX3"
ARCHIVED_RUN = "230512_A01447_0098_AHWVK7DRX2"  # the sandbox's earlier run, in StoreBioinfo


def seed(directory: Path) -> Path:
    """Lay out the demo tree and its config; return the config path."""
    from nels_sandbox.norseq import DeliverySpec, make_delivery
    from nels_sandbox.world import World

    world = World(directory / "nels")
    user = world.add_user(DEMO_USER, "Demo Researcher")
    delivered = world.add_project(SEQ_PROJECT, 91123122, description="Salmon louse RNA-seq")
    own = world.add_project(OWN_PROJECT, 91123123, description="Gut microbiome pilot")
    world.add_member(delivered, user, 3)  # a member: may add, may not delete
    world.add_member(own, user, 1)  # PI
    make_delivery(world.project_dir(delivered) / "NorSeq" / RUN, DeliverySpec(run=RUN))
    (world.home(user) / "Personal" / "notes").mkdir(parents=True, exist_ok=True)
    config = directory / "nels-bundle.toml"
    config.write_text(
        "# Written by 'nels-bundle demo': a local NeLS home, no account needed.\n"
        '[storage]\nbackend = "local"\n'
        # a JSON string is a TOML string: any folder name, quoted and escaped
        f"root = {json.dumps(str(world.home(user)))}\n\n"
        '[account]\nname = "Demo Researcher"\n\n'
        f'[[account.projects]]\nid = {delivered.id}\nname = "{SEQ_PROJECT}"\nrole = 3\n\n'
        f'[[account.projects]]\nid = {own.id}\nname = "{OWN_PROJECT}"\nrole = 1\n'
    )
    return config


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=nels_config.DEMO_DIR,
    show_default=True,
)
@click.option("--fresh", is_flag=True, help="Remove an earlier demo tree first.")
def demo_cmd(directory: Path, fresh: bool) -> None:
    """Seed a local NeLS home with a NorSeq delivery and walk it."""
    config = directory / "nels-bundle.toml"
    if fresh and directory.exists():
        shutil.rmtree(directory)
    if not config.exists():
        directory.mkdir(parents=True, exist_ok=True)
        config = seed(directory)
        out.print(Text.assemble("Seeded a local NeLS home in ", (visible(str(directory)), "bold")))
    home = open_home(nels_config.load(config))

    projects = home.list("Projects")
    out.print(f"\n[bold]Your NeLS projects[/] ({projects.total}):")
    for e in projects.entries:
        m = home.account.membership(e.name)
        role = m.role.name.lower().replace("_", " ")
        out.print(Text.assemble(visible(f"  nels://{e.path}  "), (role, "dim")))

    run_dir = f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}"
    delivery = read_delivery(home, run_dir)
    checked = failed = 0
    for f in delivery.data_files():
        if f.md5:
            h = StreamHasher(sha256=False)
            for chunk in home.read_chunks(f"{run_dir}/{f.path}"):
                h.update(chunk)
            checked += 1
            failed += h.md5 != f.md5

    table = Table(title=literal(f"NorSeq delivery {delivery.run}"), header_style="bold")
    table.add_column("sample")
    table.add_column("lanes")
    table.add_column("layout")
    for sample in sorted(delivery.samples.values(), key=lambda s: s.id):
        lanes = ",".join(map(str, sample.lanes))
        table.add_row(literal(sample.id), lanes, "paired" if sample.paired else "single")
    out.print()
    out.print(table)
    total = sum(f.size for f in delivery.data_files())
    out.print(
        f"{len(delivery.data_files())} FASTQ files, {total:,} bytes; {checked} checked against "
        f"md5sum.txt, [{'red' if failed else 'green'}]{failed} mismatches[/]; "
        f"{len(delivery.issues)} problems in the delivery"
    )
    for issue in delivery.issues:
        out.print(Text.assemble("  ", (visible(str(issue)), "yellow")))

    summary = "sample\tlanes\treads\n" + "".join(
        f"{s.id}\t{','.join(map(str, s.lanes))}\t{','.join(sorted({f.read for f in s.files}))}\n"
        for s in sorted(delivery.samples.values(), key=lambda s: s.id)
    )
    target = f"Personal/notes/{RUN}-samples.tsv"
    entry = home.write(target, summary.encode(), overwrite=True)
    out.print(literal(f"Wrote nels://{entry.path} atomically (md5 {entry.md5})"))

    try:
        home.remove(f"{run_dir}/SampleSheet.csv")
    except AccessDeniedError as e:
        out.print(
            Text.assemble(("As a project member you may not delete:", "yellow"), " ", literal(e))
        )

    bundle = directory / "isa-bundle"
    result = export_bundle(
        home, f"Projects/{SEQ_PROJECT}", f"nels://Projects/{SEQ_PROJECT}", SEQ_PROJECT, bundle
    )
    out.print(
        literal(
            f"Exported the project as an ISA bundle to {bundle}: "
            f"{len(result.investigation.samples())} samples, "
            f"{len(result.investigation.files())} files; {len(result.issues)} things the "
            "metadata sheet should add (export-report.json)"
        )
    )

    out.print()
    out.print(
        literal(f"Try: nels-bundle ls nels://{run_dir}/fastq --limit 5 --sort size --reverse")
    )
    out.print(
        literal(
            f"     nels-bundle --config {config} isa template nels://Projects/{SEQ_PROJECT} "
            "--out sheet.tsv"
        )
    )
    out.print(
        literal(f"     nels-bundle --config {config} get nels://{run_dir}/SampleSheet.csv /tmp/")
    )
    if failed:
        raise SystemExit(1)
