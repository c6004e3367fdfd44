"""``nels-bundle galaxy``: helpers the Galaxy tools in ``tool_xml/`` call.

Galaxy hands a tool its datasets under opaque names (``dataset_42.dat``) and
their collection identifiers beside them. ``stage`` lays them out as a
sequencing facility would, Illumina-named, so the ISA mapping reads them as
it reads a NorSeq delivery. Identifiers are the user's text: they never reach
a shell, and what becomes a file name is reduced to safe characters.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import click

from nels_core.errors import NelsError
from nels_core.illumina import parse_fastq_name

from .show import visible

READS = ("R1", "R2", "-")  # forward, reverse, single-end


class StageError(NelsError):
    pass


@click.group("galaxy")
def galaxy_cmd() -> None:
    """Helpers for the nels-bundle Galaxy tools."""


@galaxy_cmd.command("stage")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def stage_cmd(manifest: Path, dest: Path) -> None:
    """Lay out FASTQ datasets Illumina-named in DEST, from MANIFEST lines of
    ``identifier<TAB>R1|R2|-<TAB>extension<TAB>path``."""
    placed = stage(manifest.read_text(encoding="utf-8").splitlines(), dest)
    samples = len({parse_fastq_name(p.name).sample for p in placed})
    click.echo(visible(f"Staged {len(placed)} FASTQ file(s) of {samples} sample(s) in {dest}"))


def stage(lines: list[str], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    numbers: dict[str, int] = {}
    placed: list[Path] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != 4 or cells[1] not in READS:
            raise StageError(f"manifest line {n}: expected identifier, R1|R2|-, extension, path")
        identifier, read, ext, source = cells
        name = _illumina_name(identifier, read, ext, numbers)
        target = dest / name
        if target.exists():
            raise StageError(f"manifest line {n}: {identifier!r} gives {name} a second time")
        _place(Path(source), target)
        placed.append(target)
    if not placed:
        raise StageError("no FASTQ datasets were given")
    return placed


def _illumina_name(identifier: str, read: str, ext: str, numbers: dict[str, int]) -> str:
    """An identifier that already is an Illumina file name is kept; others become one."""
    parsed = parse_fastq_name(identifier)
    if parsed is not None and read in ("-", parsed.read):
        return identifier
    stem = re.sub(r"\.(fastq|fq)(\.gz)?$", "", identifier, flags=re.IGNORECASE)
    stem = re.sub(r"_R?[12]$", "", stem) if read != "-" else stem
    sample = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-") or "sample"
    number = numbers.setdefault(sample, len(numbers) + 1)
    suffix = ".fastq.gz" if ext.endswith(".gz") else ".fastq"
    return f"{sample}_S{number}_L001_{'R1' if read == '-' else read}_001{suffix}"


def _place(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (no copy of big reads), else a copy."""
    if not source.is_file():
        raise StageError(f"{source} is not a readable dataset")
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


@galaxy_cmd.command("zip")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def zip_cmd(folder: Path, target: Path) -> None:
    """FOLDER's files as a zip at TARGET, named relative to FOLDER, in a fixed order."""
    import zipfile

    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            z.write(f, f.relative_to(folder).as_posix())


@galaxy_cmd.command("unzip")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def unzip_cmd(archive: Path, dest: Path) -> None:
    """An ISA bundle zip (as the ISA export tool makes it) unpacked into DEST."""
    unzip_bundle(archive, dest)


def unzip_bundle(archive: Path, dest: Path) -> None:
    """Every member must land inside DEST, and the result must be an ISA bundle:
    a zip is the user's upload, not necessarily one of ours."""
    import zipfile

    try:
        z = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise StageError(f"the ISA bundle is not a zip archive ({e})") from None
    with z:
        root = dest.resolve()
        for member in z.infolist():
            target = (root / member.filename).resolve()
            if not target.is_relative_to(root):  # "../x" and "/x" alike
                raise StageError(f"the zip's member {member.filename!r} points outside it")
        z.extractall(root)
    if not (root / "isa-tab" / "i_investigation.txt").is_file():
        raise StageError(
            "the zip is not an ISA bundle: it has no isa-tab/i_investigation.txt "
            "(make one with the ISA export tool)"
        )
