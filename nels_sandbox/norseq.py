"""Realistic NorSeq (Illumina) deliveries, generated.

Files as a core facility delivers them after bcl2fastq / BCL Convert:
``<Sample>_S<n>_L00<lane>_R<1|2>_001.fastq.gz`` (valid gzip FASTQ), index
reads ``_I1_``, ``Undetermined_S0_*``, a ``SampleSheet.csv`` (v1 or v2), an
``md5sum.txt`` and a QC report. Deterministic: the same arguments give the
same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path

BASES = "ACGT"


@dataclass(frozen=True)
class DeliverySpec:
    run: str = "231107_A01447_0123_AHXYZ2DRX3"
    samples: tuple[str, ...] = ("Liver-1", "Liver-2", "Gill-1", "Gill-2")
    lanes: int = 2
    paired: bool = True
    index_reads: bool = True
    reads_per_file: int = 200
    read_length: int = 151
    sheet_version: int = 2
    seed: int = 1


def _fastq(rng: random.Random, n: int, length: int, instrument: str, lane: int, read: int) -> bytes:
    out = io.StringIO()
    for i in range(n):
        seq = "".join(rng.choices(BASES, k=length))
        qual = "".join(chr(33 + rng.randint(20, 40)) for _ in range(length))
        out.write(f"@{instrument}:123:HXYZ2DRX3:{lane}:{1101 + i // 1000}:{1000 + i}:{2000 + i} ")
        out.write(f"{read}:N:0:ACGTACGT+TTGACCAA\n{seq}\n+\n{qual}\n")
    raw = out.getvalue().encode()
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    return buf.getvalue()


def sample_sheet(spec: DeliverySpec, rng: random.Random) -> str:
    def index() -> str:
        return "".join(rng.choices(BASES, k=8))

    rows = [(i + 1, s, index(), index()) for i, s in enumerate(spec.samples)]
    if spec.sheet_version == 2:
        lines = [
            "[Header]",
            "FileFormatVersion,2",
            f"RunName,{spec.run}",
            "InstrumentPlatform,NovaSeq",
            "[Reads]",
            f"Read1Cycles,{spec.read_length}",
            *([f"Read2Cycles,{spec.read_length}"] if spec.paired else []),
            "Index1Cycles,8",
            "Index2Cycles,8",
            "[BCLConvert_Settings]",
            "SoftwareVersion,4.2.7",
            "[BCLConvert_Data]",
            "Lane,Sample_ID,Index,Index2",
        ]
        lines += [
            f"{lane},{s},{i1},{i2}" for lane in range(1, spec.lanes + 1) for _, s, i1, i2 in rows
        ]
    else:
        lines = [
            "[Header]",
            "IEMFileVersion,5",
            f"Experiment Name,{spec.run}",
            "Date,2023-11-07",
            "Workflow,GenerateFASTQ",
            "Application,FASTQ Only",
            "Instrument Type,NovaSeq6000",
            "Chemistry,Amplicon",
            "",
            "[Reads]",
            str(spec.read_length),
            *([str(spec.read_length)] if spec.paired else []),
            "",
            "[Settings]",
            "AdapterRead1,AGATCGGAAGAGCACACGTCTGAACTCCAGTCA",
            "",
            "[Data]",
            "Lane,Sample_ID,Sample_Name,index,index2,Sample_Project",
        ]
        lines += [
            f"{lane},{s},{s},{i1},{i2},NeLS"
            for lane in range(1, spec.lanes + 1)
            for _, s, i1, i2 in rows
        ]
    return "\r\n".join(lines) + "\r\n"


def make_delivery(target: str | Path, spec: DeliverySpec = DeliverySpec()) -> list[Path]:
    """Write a delivery into ``target`` (created); return the files written."""
    rng = random.Random(spec.seed)
    target = Path(target)
    fastq_dir = target / "fastq"
    fastq_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    instrument = spec.run.split("_")[1]
    reads = ["R1", "R2"] if spec.paired else ["R1"]
    if spec.index_reads:
        reads.append("I1")
    for n, sample in enumerate([*spec.samples, "Undetermined"], 1):
        number = 0 if sample == "Undetermined" else n
        for lane in range(1, spec.lanes + 1):
            for read in reads:
                name = f"{sample}_S{number}_L00{lane}_{read}_001.fastq.gz"
                length = 8 if read.startswith("I") else spec.read_length
                read_no = 2 if read == "R2" else 1
                data = _fastq(rng, spec.reads_per_file, length, instrument, lane, read_no)
                (fastq_dir / name).write_bytes(data)
                written.append(fastq_dir / name)
    sheet = target / "SampleSheet.csv"
    sheet.write_text(sample_sheet(spec, rng), newline="")
    written.append(sheet)
    report = target / "QC" / "multiqc_report.html"
    report.parent.mkdir(exist_ok=True)
    rows = "".join(
        f"<tr><td>{s}</td><td>{spec.reads_per_file * spec.lanes}</td></tr>" for s in spec.samples
    )
    report.write_text(
        f"<!doctype html><title>MultiQC: {spec.run}</title><h1>{spec.run}</h1>"
        f"<table><tr><th>Sample</th><th>Reads</th></tr>{rows}</table>\n"
    )
    written.append(report)
    md5_lines = [
        f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.relative_to(target).as_posix()}"
        for p in sorted(written)
    ]
    md5 = target / "md5sum.txt"
    md5.write_text("\n".join(md5_lines) + "\n")
    written.append(md5)
    return written


def archived_delivery(
    world, project, spec: DeliverySpec, dataset: str | None = None, subtype: str = "reads"
):
    """A delivery already in StoreBioinfo, as the helpdesk's sync leaves it:
    ``<dataset>/<subtype>/<run>/`` in the sandbox's SBI storage (the dataset
    named after the run unless ``dataset`` says otherwise), the subtypes'
    sizes counted from what was written. Returns the dataset."""
    name = dataset or spec.run
    type_ = "Illumina_seq_data"
    written = make_delivery(world.sbi_dir(project, name, subtype, spec.run), spec)
    subtypes = dict.fromkeys(world.type_subtypes.get(type_, (subtype,)), 0)
    subtypes[subtype] = sum(p.stat().st_size for p in written)
    for other in subtypes:
        world.sbi_dir(project, name, other).mkdir(parents=True, exist_ok=True)
    return world.add_dataset(
        project, name, type_, description=f"NorSeq run {spec.run}", subtypes=subtypes
    )
