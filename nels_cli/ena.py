"""``nels-bundle ena``: Webin XML for ENA from an ISA bundle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .main import err, out


@click.group("ena")
def ena_cmd() -> None:
    """Deposit an ISA bundle's reads in ENA (Webin)."""


@ena_cmd.command("prepare")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "dest", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--checklist", default="ERC000011", show_default=True, help="ENA sample checklist.")
@click.option("--center", help="Center name, for broker accounts.")
@click.option("--action", type=click.Choice(["ADD", "MODIFY", "VALIDATE"]), default="ADD")
@click.option(
    "--hold",
    "hold_until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Keep the data private until this date (at most two years ahead).",
)
@click.option(
    "--xsd-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="ENA's schemas (else $NELS_ENA_XSD_DIR, else fetched once from ENA and cached).",
)
def prepare_cmd(bundle, dest, checklist, center, action, hold_until, xsd_dir):
    """Write project, sample, experiment, run and submission XML, checked against ENA's schemas."""
    from nels_core.deposit.ena_xml import prepare, write
    from nels_core.deposit.isa_reader import read_bundle
    from nels_core.deposit.xsd import EnaSchemas

    deposit = read_bundle(bundle)
    hold = hold_until.date() if isinstance(hold_until, dt.datetime) else None
    prepared = prepare(
        deposit,
        checklist=checklist,
        center=center,
        action=action,
        hold_until=hold,
        schemas=EnaSchemas(xsd_dir),
    )
    written = write(prepared, dest)
    out.print(
        f"Wrote {len(written)} documents to {dest}: 1 project, "
        f"{len(prepared.aliases['sample'])} samples, {len(prepared.aliases['experiment'])} "
        f"experiments, {len(prepared.aliases['run'])} runs ({len(prepared.files)} files); "
        "all valid against ENA's schemas",
        soft_wrap=True,
    )
    for w in dict.fromkeys(prepared.warnings):
        err.print(f"[yellow]warning[/] {w}", highlight=False)
