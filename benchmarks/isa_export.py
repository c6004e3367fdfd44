"""``isa export`` of a big delivery against a ``csv`` floor, and its growth.

A synthetic NorSeq delivery of N paired-end samples on 2 lanes (4N small
gzip FASTQ files, sample sheet, md5sum.txt). Measured, each in a fresh
process so peak memory is its own:
- ours: the whole export (list the folder, read sheet and checksums, map,
  write ISA-Tab, ISA-JSON, RO-Crate, manifest and report), no --verify;
- floor: the same three ISA-Tab tables written with Python's csv module
  from rows prepared beforehand (not timed).
Reported: ours / floor at 10,000 samples (target <= 20) and
ours(10,000) / ours(1,000) (target <= 12); medians over alternating rounds.

    .venv/bin/python benchmarks/isa_export.py [--samples 10000] [--small 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from common import in_child, report_child, save_result  # noqa: I001 - benchmarks/common.py

from nels_sandbox.norseq import DeliverySpec, make_delivery


def build(root: Path, samples: int) -> Path:
    folder = root / f"P{samples}"
    if not folder.exists():
        names = tuple(f"S{i:05d}" for i in range(1, samples + 1))
        spec = DeliverySpec(samples=names, lanes=2, index_reads=False, reads_per_file=1)
        make_delivery(folder / "NorSeq" / "run1", replace(spec, read_length=50))
    return folder


def child_ours(folder: Path, out: Path) -> float:
    from nels_core.isa.export import export_bundle
    from nels_core.storage.local import LocalStorage

    t = time.perf_counter()
    export_bundle(LocalStorage(folder), "", str(folder), folder.name, out)
    return time.perf_counter() - t


def child_floor(folder: Path, out: Path) -> float:
    """The three tables from prepared rows, by csv: the least a writer can do."""
    from nels_core.isa.isatab import assay_table, investigation_lines, study_table
    from nels_core.isa.mapping import map_source
    from nels_core.storage.local import LocalStorage

    inv = map_source(LocalStorage(folder), "", str(folder), folder.name).investigation
    (study,) = inv.studies
    (assay,) = study.assays()
    tables = {
        "i_investigation.txt": [line.rstrip("\n").split("\t") for line in investigation_lines(inv)],
        study.filename: [study_table(study)[0], *study_table(study)[1]],
        assay.filename: [assay_table(assay)[0], *assay_table(assay)[1]],
    }
    out.mkdir(parents=True)
    t = time.perf_counter()
    for name, rows in tables.items():
        with open(out / name, "w", newline="") as f:
            csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)
    return time.perf_counter() - t


def measure(mode: str, folder: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    return in_child(__file__, mode, folder, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "OUT"))
    args = ap.parse_args()
    if args.child:
        mode, folder, out = args.child
        report_child((child_ours if mode == "ours" else child_floor)(Path(folder), Path(out)))
        return

    work = Path(tempfile.mkdtemp(prefix="nels-bench-isa-"))
    t = time.perf_counter()
    big, small = build(work, args.samples), build(work, args.small)
    print(f"deliveries generated in {time.perf_counter() - t:.0f}s")
    vs_floor, growth, runs = [], [], []
    for r in range(args.rounds):
        order = ["floor", "ours"] if r % 2 else ["ours", "floor"]
        m = {mode: measure(mode, big, work / f"out-{mode}") for mode in order}
        m["ours_small"] = measure("ours", small, work / "out-small")
        vs_floor.append(m["ours"]["seconds"] / m["floor"]["seconds"])
        growth.append(m["ours"]["seconds"] / m["ours_small"]["seconds"])
        runs.append(m)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v['seconds']:.2f}s" for k, v in m.items()))
    result = {
        "samples": args.samples,
        "files": 4 * args.samples,
        "rounds": args.rounds,
        "export_over_csv_floor": round(statistics.median(vs_floor), 2),
        f"time_{args.samples}_over_time_{args.small}": round(statistics.median(growth), 2),
        "export_seconds": round(statistics.median(m["ours"]["seconds"] for m in runs), 2),
        "floor_seconds": round(statistics.median(m["floor"]["seconds"] for m in runs), 3),
        "export_peak_rss_mib": max(m["ours"]["peak_rss_mib"] for m in runs),
        "floor_peak_rss_mib": max(m["floor"]["peak_rss_mib"] for m in runs),
        "cpus": os.cpu_count(),
    }
    save_result("isa_export", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
