"""A StoreBioinfo dataset seeded into a sandbox world, as an archive leaves it:
the files in the sandbox's SBI storage and the subtypes' sizes in the dataset.
Removed again with :func:`unseed`, so tests sharing a world see no trace."""

from __future__ import annotations

import gzip
import random
import shutil

from nels_sandbox.world import SandboxDataset, SandboxProject, World

DATASET = "Run1"
SUBTYPE = "reads"


def _reads(count: int, seed: int = 1) -> bytes:
    rnd = random.Random(seed)
    records = (
        b"@r%d\n%s\n+\n%s\n"
        % (n, bytes(rnd.choices(b"ACGT", k=150)), bytes(rnd.choices(b"#5?FI", k=150)))
        for n in range(count)
    )
    return gzip.compress(b"".join(records), mtime=0, compresslevel=1)


# a FASTQ of a few MiB: a download arrives in several chunks
READS = _reads(30_000)
FILES = {
    "run/Liver-1_S1_L001_R1_001.fastq.gz": READS,
    "run/SampleSheet.csv": b"[Header]\nFileFormatVersion,2\n",
    "notes.txt": b"archived from NeLS\n",
}


def seed(world: World, project: SandboxProject, files: dict[str, bytes] | None = None):
    files = FILES if files is None else files
    d = world.add_dataset(
        project,
        DATASET,
        "Illumina_seq_data",
        owner_name="Bob Member",
        creationtime=1_700_000_000_000,
        subtypes={SUBTYPE: sum(map(len, files.values())), "qc": 0},
    )
    for rel, data in files.items():
        target = world.sbi_dir(project, DATASET, SUBTYPE, *rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    world.sbi_dir(project, DATASET, "qc").mkdir(parents=True, exist_ok=True)
    return d


def unseed(world: World, project: SandboxProject, dataset: SandboxDataset) -> None:
    project.datasets.pop(dataset.id, None)
    shutil.rmtree(world.sbi_dir(project, dataset.name), ignore_errors=True)
