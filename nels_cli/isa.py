"""``nels-bundle isa``: template, export and validate ISA bundles.

SOURCE is a ``nels://`` folder (through your NeLS home, so NeLS's rules
apply) or a local folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nels_core.isa.export import export_bundle
from nels_core.isa.mapping import identifier_for, map_source
from nels_core.isa.sheet import write_template
from nels_core.isa.validate import validate_bundle
from nels_core.storage.local import LocalStorage

from .main import err, open_nels, out
from .show import literal, visible, warning


def _source(ctx, source: str):
    """``(store, base, location, investigation identifier)`` for SOURCE."""
    if "://" in source:  # nels://, or in a Galaxy job any of the user's NeLS file sources
        home, base = open_nels(ctx, source)
        return home, base, f"nels://{base}", identifier_for(base)
    folder = Path(source)
    if not folder.is_dir():
        raise click.BadParameter(f"{source!r} is neither a nels:// URI nor a local folder")
    folder = folder.resolve()
    return LocalStorage(folder), "", str(folder), folder.name


@click.group("isa")
def isa_cmd() -> None:
    """Describe NeLS folders as ISA and export validated ISA bundles."""


@isa_cmd.command("template")
@click.argument("source")
@click.option(
    "--out",
    "dest",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="sheet.tsv or sheet.xlsx",
)
@click.option(
    "--checklist",
    help="An ENA sample checklist (ERC000033...): its mandatory and recommended fields as columns.",
)
@click.pass_context
def template_cmd(ctx, source, dest: Path, checklist):
    """Write a metadata sheet pre-filled from what SOURCE holds."""
    from nels_core.deposit.checklists import EnaChecklists

    store, base, location, identifier = _source(ctx, source)
    mapped = map_source(store, base, location, identifier)
    rules = EnaChecklists().get(checklist) if checklist else None
    write_template(mapped.investigation, dest, rules)
    inv = mapped.investigation
    out.print(
        literal(
            f"Wrote {dest}: {len(inv.studies)} stud{'y' if len(inv.studies) == 1 else 'ies'}, "
            f"{len(inv.samples())} samples. Fill it in, then: nels-bundle isa export {source} "
            f"--metadata {dest} --out DIR"
        )
    )
    _warn(mapped.issues)


@isa_cmd.command("export")
@click.argument("source")
@click.option(
    "--metadata",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A filled metadata sheet (.tsv or .xlsx).",
)
@click.option("--out", "dest", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Any problem found is an error; nothing is written.")
@click.option("--verify", is_flag=True, help="Recompute every file's MD5 and compare.")
@click.option(
    "--identifier",
    help="Names the investigation (else the NeLS project's or the folder's name; "
    "a metadata sheet's own wins).",
)
@click.pass_context
def export_cmd(ctx, source, metadata, dest: Path, strict, verify, identifier):
    """Export SOURCE as an ISA bundle: ISA-Tab, ISA-JSON, RO-Crate, MD5 manifest."""
    store, base, location, named = _source(ctx, source)
    identifier = identifier or named
    from nels_core.taxonomy import Taxonomy

    result = export_bundle(
        store,
        base,
        location,
        identifier,
        dest,
        metadata=metadata,
        strict=strict,
        check=verify,
        taxonomy=Taxonomy() if metadata is not None else None,  # names only a sheet gives
    )
    inv = result.investigation
    out.print(
        literal(
            f"Wrote {result.out}: {len(inv.studies)} "
            f"stud{'y' if len(inv.studies) == 1 else 'ies'}, "
            f"{len(inv.samples())} samples, {len(inv.files())} files"
            + (f", {result.computed_md5} MD5s computed" if result.computed_md5 else "")
            + (f", {result.verified} MD5s verified" if result.verified is not None else "")
        )
    )
    _warn(result.issues)


@isa_cmd.command("validate")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
def validate_cmd(bundle: Path):
    """Run isatools' ISA-Tab and ISA-JSON validators; exit 1 on any error."""
    findings = validate_bundle(bundle)
    for f in findings:
        (err if f.level == "error" else out).print(literal(f))
    errors = sum(f.level == "error" for f in findings)
    out.print(f"{errors} error(s), {len(findings) - errors} warning(s)")
    if errors:
        sys.exit(1)


@isa_cmd.command("accessions")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
def accessions_cmd(bundle: Path):
    """The accessions ENA and BioStudies gave BUNDLE, as a tab-separated table."""
    import csv

    from nels_core.deposit.record import ACCESSION_COLUMNS, accession_rows

    table = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    table.writerow(ACCESSION_COLUMNS)
    # aliases are the bundle's sample names: shown, not obeyed, in a terminal
    table.writerows([visible(cell) for cell in row] for row in accession_rows(bundle))


def _warn(issues) -> None:
    for i in issues:
        err.print(warning(f"{i.code}: {i}"))
