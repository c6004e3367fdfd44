"""Atomic write through the ``local`` backend against ``cp``.

Ours streams into a hidden partial file, computes MD5 and SHA-256 on the
way, checks the size and renames; ``cp`` only copies. Alternates the two
each round and reports the median ratio cp time / our time (> 1 is faster).

    .venv/bin/python benchmarks/local_write.py [--size-mib 512] [--rounds 7] [--on-disk]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess

from common import random_file, save_result, timed, work_dir  # noqa: I001 - benchmarks/common.py

from nels_core.storage.local import LocalStorage


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--on-disk", action="store_true", help="work in the temp dir, not /dev/shm")
    args = ap.parse_args()

    work = work_dir(args.on_disk)
    (work / "home" / "Personal").mkdir(parents=True)
    src = random_file(work / "source.bin", args.size_mib)
    storage = LocalStorage(work / "home")

    def ours():
        with open(src, "rb") as f:
            entry = storage.write("Personal/ours.bin", f, overwrite=True)
        assert entry.md5 and entry.sha256

    def cp():
        subprocess.run(["cp", str(src), str(work / "home" / "Personal" / "cp.bin")], check=True)

    ratios = []
    for r in range(args.rounds):
        pair = [(ours, cp), (cp, ours)][r % 2]
        t = {f.__name__: timed(f) for f in pair}
        ratios.append(t["cp"] / t["ours"])
        print(f"round {r + 1}: ours {t['ours']:.2f}s, cp {t['cp']:.2f}s")
    result = {
        "size_mib": args.size_mib,
        "rounds": args.rounds,
        "write_with_md5_sha256_ratio_vs_cp": round(statistics.median(ratios), 3),
        "work_dir": str(work.parent),
        "cpus": os.cpu_count(),
    }
    save_result("local_write", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
