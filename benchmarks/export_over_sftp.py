"""``isa export`` of a delivery in NeLS over SFTP (the web app's and a remote
CLI's way), against the same export of the same folder on local disk.

A synthetic NorSeq delivery of N paired-end samples on 2 lanes (4N small gzip
FASTQ files) in the home of a loopback sshd. Each round, alternately:
- sftp: ``export_bundle`` through ``SftpStorage`` (OpenSSH route), the small
  read files fetched by ``read_files``, many at once;
- one-by-one: the same, the files fetched one at a time (the generic
  ``Storage.read_files``, as every export did before);
- local: ``export_bundle`` through ``LocalStorage`` on the same folder.
Loopback answers in microseconds; a real network's round trip (a few ms
between usegalaxy.no and the NeLS data host) multiplies what waits on them:
``--rtt-ms`` puts a proxy that holds each piece half that long each way
between ssh and sshd.

    .venv/bin/python benchmarks/export_over_sftp.py [--samples 1000] [--rounds 3] [--rtt-ms 0]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from dataclasses import replace

from common import DelayProxy, save_result, work_dir  # noqa: I001 - benchmarks/common.py

from nels_core.credentials import SshCredentials
from nels_core.isa.export import export_bundle
from nels_core.storage.base import Storage
from nels_core.storage.local import LocalStorage
from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery
from nels_sandbox.sshd import Sshd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=0.0, help="a network's round trip, added")
    args = ap.parse_args()
    work = work_dir(on_disk=False)
    home = work / "home"
    names = tuple(f"S{i:05d}" for i in range(1, args.samples + 1))
    spec = DeliverySpec(samples=names, lanes=2, index_reads=False, reads_per_file=1)
    make_delivery(home / "Personal" / "P" / "NorSeq" / "run1", replace(spec, read_length=50))
    with Sshd(work / "sshd") as sshd:
        key = sshd.add_user(home)
        port = sshd.port
        if args.rtt_ms:
            port = DelayProxy(sshd.port, args.rtt_ms / 2000).port
        pinned = f"[127.0.0.1]:{port} {sshd.host_public_key}\n"
        sftp = SftpStorage(
            SftpConfig(
                Hop("127.0.0.1", port, known_hosts=pinned),
                SshCredentials("127.0.0.1", sshd.login, key),
                transport="openssh",
            )
        )
        sftp.stat("")  # connect once, outside the timings
        one_by_one = SftpStorage(sftp.config)
        one_by_one.read_files = Storage.read_files.__get__(one_by_one)  # the generic way
        one_by_one.stat("")
        local = LocalStorage(home)

        def export(store, name: str) -> float:
            out = work / f"out-{name}"
            shutil.rmtree(out, ignore_errors=True)
            t = time.perf_counter()
            result = export_bundle(store, "Personal/P", "nels://Personal/P", "P", out)
            seconds = time.perf_counter() - t
            assert len(result.investigation.samples()) == args.samples
            return seconds

        runs = []
        stores = {"sftp": sftp, "one_by_one": one_by_one, "local": local}
        for r in range(args.rounds):
            order = [*stores][r % 3 :] + [*stores][: r % 3]
            m = {name: export(stores[name], name) for name in order}
            runs.append(m)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in m.items()))
        sftp.close()
        one_by_one.close()

    def median_ratio(a: str, b: str) -> float:
        return round(statistics.median(m[a] / m[b] for m in runs), 2)

    result = {
        "rtt_ms_added": args.rtt_ms,
        "samples": args.samples,
        "files": 4 * args.samples,
        "rounds": args.rounds,
        "sftp_seconds": round(statistics.median(m["sftp"] for m in runs), 3),
        "one_by_one_seconds": round(statistics.median(m["one_by_one"] for m in runs), 3),
        "local_seconds": round(statistics.median(m["local"] for m in runs), 3),
        "one_by_one_over_sftp": median_ratio("one_by_one", "sftp"),
        "sftp_over_local": median_ratio("sftp", "local"),
    }
    save_result("export_over_sftp", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
