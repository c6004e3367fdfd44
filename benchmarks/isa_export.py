"""``isa export`` of a big delivery against floors written by the standard
library, and its growth.

A synthetic NorSeq delivery of N paired-end samples on 2 lanes (4N small
gzip FASTQ files, sample sheet, md5sum.txt). Measured, each in a fresh
process so peak memory is its own:
- ours: the whole export (list the folder, read sheet and checksums, check
  the small read files, map, write ISA-Tab, ISA-JSON, RO-Crate, manifest and
  report), no --verify;
- floor: the four artifacts written by the standard library from content
  prepared beforehand (not timed): the three ISA-Tab tables and the
  manifest by ``csv``, the ISA-JSON and RO-Crate documents (the same
  objects ours writes) by one ``json.dumps`` each;
- floor-tab: the three ISA-Tab tables alone by ``csv`` (the floor before
  issue 22), still reported.
Reported: ours / floor at N samples (target <= 3), ours / floor-tab, and
ours(N) / ours(small) (target <= 10.5) beside floor(N) / floor(small) (the
growth of writing alone on this machine), peak RSS of each; medians over
alternating rounds, and the growths also as best / best.

    .venv/bin/python benchmarks/isa_export.py [--samples 10000] [--small 1000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

from common import in_child, report_child, save_result, work_dir  # noqa: I001 - benchmarks/common.py

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


def _prepared(folder: Path):
    """The records and ISA-Tab tables the floors write from (not timed)."""
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
    return inv, tables


def _write_tables(out: Path, tables: dict[str, list]) -> None:
    for name, rows in tables.items():
        with open(out / name, "w", newline="") as f:
            csv.writer(f, delimiter="\t", lineterminator="\n").writerows(rows)


def child_floor_tab(folder: Path, out: Path) -> float:
    """The three ISA-Tab tables from prepared rows, by csv."""
    _, tables = _prepared(folder)
    out.mkdir(parents=True)
    t = time.perf_counter()
    _write_tables(out, tables)
    return time.perf_counter() - t


def child_floor(folder: Path, out: Path) -> float:
    """All four artifacts from prepared content by the standard library: the
    ISA-Tab tables and the manifest by csv, ISA-JSON and the RO-Crate by one
    json.dumps each of the very objects ours writes; the least a writer can do."""
    from nels_core.isa.isajson import investigation_json
    from nels_core.isa.rocrate import crate

    inv, tables = _prepared(folder)
    parts = [f"isa-tab/{name}" for name in tables] + [
        "isa.json",
        "manifest-md5.txt",
        "export-report.json",
    ]
    tables["manifest-md5.txt"] = [
        ["# md5", "size", "path", f"(source: {inv.location})"],
        *([f.md5, f.size, f.path] for f in inv.files()),
    ]
    documents = {"isa.json": investigation_json(inv), "ro-crate-metadata.json": crate(inv, parts)}
    out.mkdir(parents=True)
    t = time.perf_counter()
    _write_tables(out, tables)
    for name, doc in documents.items():
        with open(out / name, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    return time.perf_counter() - t


CHILDREN = {"ours": child_ours, "floor": child_floor, "floor-tab": child_floor_tab}


def measure(mode: str, folder: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    return in_child(__file__, mode, folder, out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=1_000)
    # one round's growth swings 7-14 on a shared host: 15 rounds for a median
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--child", nargs=3, metavar=("MODE", "FOLDER", "OUT"))
    args = ap.parse_args()
    if args.child:
        mode, folder, out = args.child
        report_child(CHILDREN[mode](Path(folder), Path(out)))
        return

    work = work_dir(on_disk=False)  # no write-back of one child landing in the next
    t = time.perf_counter()
    big, small = build(work, args.samples), build(work, args.small)
    print(f"deliveries generated in {time.perf_counter() - t:.0f}s")
    runs = []
    for r in range(args.rounds):
        order = [*CHILDREN][r % 3 :] + [*CHILDREN][: r % 3]  # each goes first in turn
        m = {mode: measure(mode, big, work / f"out-{mode}") for mode in order}
        m["ours_small"] = measure("ours", small, work / "out-small")
        m["floor_small"] = measure("floor", small, work / "out-floor-small")
        runs.append(m)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v['seconds']:.2f}s" for k, v in m.items()))

    def median_ratio(a: str, b: str) -> float:
        return round(statistics.median(m[a]["seconds"] / m[b]["seconds"] for m in runs), 2)

    def best_ratio(a: str, b: str) -> float:
        return round(min(m[a]["seconds"] for m in runs) / min(m[b]["seconds"] for m in runs), 2)

    def seconds(mode: str) -> float:
        return round(statistics.median(m[mode]["seconds"] for m in runs), 3)

    def peak(mode: str) -> float:
        return max(m[mode]["peak_rss_mib"] for m in runs)

    result = {
        "samples": args.samples,
        "files": 4 * args.samples,
        "rounds": args.rounds,
        "export_over_floor": median_ratio("ours", "floor"),
        "export_over_isatab_floor": median_ratio("ours", "floor-tab"),
        f"time_{args.samples}_over_time_{args.small}": median_ratio("ours", "ours_small"),
        # the same growth of the floor: what this machine gives for 10x the data
        f"floor_time_{args.samples}_over_time_{args.small}": median_ratio("floor", "floor_small"),
        # best of the rounds for each size (timeit's convention): a slow spell of
        # the shared host is likelier to hit the longer run, the median keeps it
        f"best_time_{args.samples}_over_best_time_{args.small}": best_ratio("ours", "ours_small"),
        f"floor_best_time_{args.samples}_over_best_time_{args.small}": best_ratio(
            "floor", "floor_small"
        ),
        "export_seconds": seconds("ours"),
        "floor_seconds": seconds("floor"),
        "isatab_floor_seconds": seconds("floor-tab"),
        "export_peak_rss_mib": peak("ours"),
        "floor_peak_rss_mib": peak("floor"),
        "isatab_floor_peak_rss_mib": peak("floor-tab"),
        "cpus": os.cpu_count(),
    }
    save_result("isa_export", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
