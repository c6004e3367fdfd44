"""``nels-bundle isa``: template, export and validate ISA bundles.

SOURCE is a ``nels://`` folder (through your NeLS home, so NeLS's rules
apply) or a local folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from nels_core.isa.export import describe, export_bundle
from nels_core.isa.folder_sheet import FolderSheets, SheetUnchanged
from nels_core.isa.mapping import identifier_for, map_source
from nels_core.isa.sheet import read_sheet, write_template
from nels_core.isa.validate import validate_bundle
from nels_core.local_files import write_whole
from nels_core.storage.local import LocalStorage

from .context import err, open_nels, out
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


sheet_file = click.option(
    "--out",
    "dest",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="sheet.tsv or sheet.xlsx",
)
checklist_option = click.option(
    "--checklist",
    help="An ENA sample checklist (ERC000033...): its mandatory and recommended fields as columns.",
)


@click.group("isa")
def isa_cmd() -> None:
    """Describe NeLS folders as ISA and export validated ISA bundles."""


@isa_cmd.command("template")
@click.argument("source")
@sheet_file
@checklist_option
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
            f"{len(inv.samples())} samples. Fill it in, then save it beside the data: "
            f"nels-bundle isa sheet put {source} {dest}"
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
        taxonomy=Taxonomy(),  # asked only for organisms a sheet names without a taxon id
    )
    inv = result.investigation
    say_sheet(inv, metadata, store, base)
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


@isa_cmd.command("keep")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--into",
    help="The folder to keep it in (else the folder the bundle was exported from).",
)
@click.pass_context
def keep_cmd(ctx, bundle: Path, into):
    """Zip BUNDLE into its folder's nels-metadata/ as a new, dated file.

    ena submit and biostudies submit do this after sending; NeLS members may
    add files, never overwrite them, so every kept bundle stays."""
    from .kept import keep_beside_data

    keep_beside_data(ctx, bundle, into)


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


def say_sheet(inv, metadata: Path | None, store, base: str) -> None:
    """Which metadata described the data: a given file wins over the folder's sheet."""
    if metadata is None:
        said = f"the folder's sheet {inv.sheet}" if inv.sheet else "none saved for this folder yet"
        err.print(literal(f"Metadata: {said}"))
        return
    current = FolderSheets(store, base).current()
    instead = f", instead of the folder's sheet {current.path}" if current else ""
    err.print(literal(f"Metadata: {metadata} (given with --metadata{instead})"))


@isa_cmd.group("sheet")
def sheet_cmd() -> None:
    """The folder's metadata sheet, kept in NeLS beside the data (nels-metadata/).

    Each save is a new version: members may add files, never overwrite them.
    The newest version describes the folder for every path (isa export,
    seek push, the web app, the Galaxy tools) unless --metadata gives another.
    """


@sheet_cmd.command("put")
@click.argument("source")
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def sheet_put_cmd(ctx, source, sheet: Path):
    """Save SHEET (.tsv or .xlsx) as SOURCE's metadata, after checking it fits the data."""
    store, base, location, identifier = _source(ctx, source)
    sections = read_sheet(sheet)
    _, issues = describe(store, base, location, identifier, sections)  # refuses a misfit
    try:
        version = FolderSheets(store, base).put(sections, sheet.name)
    except SheetUnchanged as e:
        out.print(literal(f"Unchanged: {e}"), soft_wrap=True)
        return
    n = len(version.changes)
    out.print(literal(f"Saved {version.path} ({n} change{'' if n == 1 else 's'})"), soft_wrap=True)
    for change in version.changes:
        out.print(literal(f"  {change}"), soft_wrap=True)
    _warn(i for i in issues if i.code != "no-data")


@sheet_cmd.command("get")
@click.argument("source")
@sheet_file
@checklist_option
@click.pass_context
def sheet_get_cmd(ctx, source, dest: Path, checklist):
    """Write SOURCE's current sheet, or (none saved yet) one pre-filled from the data."""
    from nels_core.deposit.checklists import EnaChecklists

    store, base, location, identifier = _source(ctx, source)
    version = FolderSheets(store, base).current()
    if version is not None and dest.suffix.lower() != ".xlsx" and not checklist:
        write_whole(dest, store.read_bytes(version.path))  # as saved, history lines included
    else:
        inv, _ = describe(store, base, location, identifier)
        rules = EnaChecklists().get(checklist) if checklist else None
        write_template(inv, dest, rules)
    said = f"the folder's sheet {version.path}" if version else "pre-filled from the data"
    out.print(literal(f"Wrote {dest}: {said}"), soft_wrap=True)


@sheet_cmd.command("log")
@click.argument("source")
@click.pass_context
def sheet_log_cmd(ctx, source):
    """Every saved version of SOURCE's sheet, newest first: when, who, from what, what changed."""
    store, base, _, _ = _source(ctx, source)
    versions = FolderSheets(store, base).log()
    if not versions:
        out.print("No sheet saved for this folder yet (nels-bundle isa sheet put SOURCE FILE).")
    for v in versions:
        out.print(literal(f"{v.saved}  {v.by}  from {v.source}  {v.path}"), soft_wrap=True)
        for change in v.changes:
            out.print(literal(f"  {change}"), soft_wrap=True)


def _warn(issues) -> None:
    for i in issues:
        err.print(warning(f"{i.code}: {i}"))
