"""MD5 of a 1 GiB file through our streaming code against ``md5sum``.

Ours: ``LocalStorage.read_chunks`` feeding ``StreamHasher(sha256=False)``,
the path every deposit upload takes to check a file against its manifest.
Baseline: coreutils ``md5sum`` on the same file, alternating, in the same run
(page cache warm for both). Target: ours at least 0.9x md5sum's speed.

    .venv/bin/python benchmarks/md5_stream.py [--mib 1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time

from common import random_file, save_result, work_dir  # noqa: I001 - benchmarks/common.py

from nels_core.checksums import StreamHasher
from nels_core.storage.local import LocalStorage


def ours(store: LocalStorage, name: str) -> tuple[float, str]:
    t = time.perf_counter()
    h = StreamHasher(sha256=False)
    for chunk in store.read_chunks(name):
        h.update(chunk)
    return time.perf_counter() - t, h.md5


def md5sum(path) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(["md5sum", str(path)], capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - t, out.split()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--on-disk", action="store_true", help="a disk folder, not /dev/shm")
    args = ap.parse_args()
    work = work_dir(args.on_disk)
    path = random_file(work / "reads.fastq.gz", args.mib)
    store = LocalStorage(work)
    ratios, mine, theirs = [], [], []
    for r in range(args.rounds):
        pair = [("ours", lambda: ours(store, path.name)), ("md5sum", lambda: md5sum(path))]
        times = {}
        for name, fn in pair if r % 2 == 0 else reversed(pair):
            times[name] = fn()
        assert times["ours"][1] == times["md5sum"][1], "the two sums differ"
        mine.append(times["ours"][0])
        theirs.append(times["md5sum"][0])
        ratios.append(times["md5sum"][0] / times["ours"][0])
    result = {
        "mib": args.mib,
        "rounds": args.rounds,
        "speed_vs_md5sum": round(statistics.median(ratios), 3),
        "ours_mib_s": round(args.mib / statistics.median(mine)),
        "md5sum_mib_s": round(args.mib / statistics.median(theirs)),
        "cpus": os.cpu_count(),
    }
    save_result("md5_stream", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
