"""The read-file check (whole gzip, records counted) against reading the
files once, in the same run.

Ours: ``count_records(LocalStorage.read_chunks(...))``, what every deposit
runs once per file before anything is sent (nels_core/reads_check.py).
Baseline: the same chunks read and dropped: the cost any check must pay.
For scale also ``gzip -dc | wc -l``. Files: gzipped FASTQ as a sequencer
writes it (150 bp reads, quality strings), ``--mib`` MiB compressed.

    .venv/bin/python benchmarks/reads_check.py [--mib 256] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import statistics
import subprocess
import time

from common import save_result, work_dir  # noqa: I001 - benchmarks/common.py

from nels_core.reads_check import count_records
from nels_core.storage.local import LocalStorage


def fastq_gz(path, mib: int) -> int:
    """Write about ``mib`` MiB of gzipped FASTQ; return its records."""
    rng = random.Random(7)
    quals = "".join(chr(33 + q) for q in range(2, 41))
    block = []
    for i in range(20_000):
        seq = "".join(rng.choices("ACGT", k=150))
        qual = "".join(rng.choices(quals, k=150))
        block.append(f"@A01447:123:HXYZ2DRX3:1:1101:{i}:1000 1:N:0:ACGT\n{seq}\n+\n{qual}\n")
    data = "".join(block).encode()
    records = 0
    with gzip.open(path, "wb", compresslevel=6) as f:
        while os.path.getsize(path) < mib << 20:
            f.write(data)
            records += len(block)
    return records


def read_once(store, name) -> float:
    t = time.perf_counter()
    for _ in store.read_chunks(name):
        pass
    return time.perf_counter() - t


def check(store, name) -> tuple[float, int]:
    t = time.perf_counter()
    n = count_records(store.read_chunks(name))
    return time.perf_counter() - t, n


def zcat_wc(path) -> float:
    t = time.perf_counter()
    subprocess.run(f"gzip -dc '{path}' | wc -l", shell=True, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--on-disk", action="store_true", help="a disk folder, not /dev/shm")
    args = ap.parse_args()
    work = work_dir(args.on_disk)
    path = work / "reads_R1_001.fastq.gz"
    records = fastq_gz(path, args.mib)
    store = LocalStorage(work)
    ratios, to_zcat, checks, reads = [], [], [], []
    for r in range(args.rounds):
        if r % 2 == 0:
            base, (mine, n) = read_once(store, path.name), check(store, path.name)
        else:
            (mine, n), base = check(store, path.name), read_once(store, path.name)
        assert n == records, f"counted {n} records, wrote {records}"
        ratios.append(mine / base)
        to_zcat.append(mine / zcat_wc(path))
        checks.append(mine)
        reads.append(base)
    result = {
        "mib_compressed": round(path.stat().st_size / (1 << 20)),
        "records": records,
        "rounds": args.rounds,
        "check_vs_read_once": round(statistics.median(ratios), 2),
        "check_vs_gzip_wc": round(statistics.median(to_zcat), 2),
        "check_mib_s": round(path.stat().st_size / (1 << 20) / statistics.median(checks)),
        "read_mib_s": round(path.stat().st_size / (1 << 20) / statistics.median(reads)),
        "cpus": os.cpu_count(),
    }
    save_result("reads_check", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
