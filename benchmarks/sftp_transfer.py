"""SFTP backend against OpenSSH scp/sftp on the same loopback sshd.

Alternates ours and the baseline in each round and reports the median of
the per-round ratios: ratio = baseline time / our time, so > 1 is faster.

    .venv/bin/python benchmarks/sftp_transfer.py [--size-mib 512] [--rounds 7] [--files 100000] \
        [--listing-only]

The listing: one page of 100 from a folder of 100,000 files last changed a
minute ago, in a process that has not listed it (its kept listings
emptied), against OpenSSH's `sftp` listing the whole folder (a process, a
connection, every name); then the next page and the same page again, from
the listing kept (``nels_core.storage.listing_cache``), their sizes and
times read afresh. Reported as our time over sftp's: < 1 is faster.

Files live in /dev/shm when it exists (both sides alike): on this shared
machine, disk write-back of the previous round otherwise swings single
rounds by 2x. ``--on-disk`` measures with the disk. Uploads make new files:
the last round's are removed first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from common import (  # noqa: I001 - benchmarks/common.py
    cpu_ticks,
    openssh_options,
    random_file,
    save_result,
    steal_percent,
    timed,
    work_dir,
)

from nels_core.credentials import SshCredentials
from nels_core.storage import listing_cache
from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage
from nels_sandbox.sshd import Sshd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--on-disk", action="store_true", help="work in the temp dir, not /dev/shm")
    ap.add_argument("--listing-only", action="store_true", help="no transfers, the listing only")
    args = ap.parse_args()

    work = work_dir(args.on_disk)
    home = work / "home"
    (home / "Personal" / "bench").mkdir(parents=True)
    src = random_file(work / "source.bin", 1 if args.listing_only else args.size_mib)
    size = src.stat().st_size

    with Sshd(work / "sshd") as sshd:
        key = sshd.add_user(home)
        ssh_opts = openssh_options(work, sshd, key)
        remote = f"{sshd.login}@127.0.0.1:Personal/bench"
        storage = SftpStorage(
            SftpConfig(
                Hop("127.0.0.1", sshd.port, known_hosts=sshd.known_hosts),
                SshCredentials("127.0.0.1", sshd.login, key),
            )
        )
        storage.stat("")  # connect once, outside the timings

        def ours_down():
            with open(work / "ours.bin", "wb") as f:
                for chunk in storage.read_chunks("Personal/bench/seed.bin"):
                    f.write(chunk)

        def ours_up():
            storage.write("Personal/bench/ours-up.bin", open(src, "rb"), overwrite=True)

        def ours_up_raw():  # the transfer alone, no MD5/SHA-256 on the way
            storage.write(
                "Personal/bench/ours-raw.bin", open(src, "rb"), overwrite=True, checksums=False
            )

        def scp_down():
            subprocess.run(
                ["scp", *ssh_opts, f"{remote}/seed.bin", str(work / "scp.bin")], check=True
            )

        def scp_up():
            subprocess.run(["scp", *ssh_opts, str(src), f"{remote}/scp-up.bin"], check=True)

        scp_up()
        os.replace(home / "Personal/bench/scp-up.bin", home / "Personal/bench/seed.bin")
        down, up, up_raw = [], [], []
        for r in range(0 if args.listing_only else args.rounds):
            ticks = cpu_ticks()
            pair = [(ours_down, scp_down), (scp_down, ours_down)][r % 2]
            t = {f.__name__: timed(f) for f in pair}
            down.append(t["scp_down"] / t["ours_down"])
            # each upload makes a new file, as one to NeLS mostly does: over an old
            # one, scp's truncating write reuses the pages it has just freed, while
            # ours (a partial, then a rename) must find new ones (see the README)
            for name in ("ours-up.bin", "scp-up.bin", "ours-raw.bin"):
                (home / "Personal" / "bench" / name).unlink(missing_ok=True)
            pair = [(ours_up, scp_up), (scp_up, ours_up)][r % 2]
            t.update({f.__name__: timed(f) for f in pair})
            up.append(t["scp_up"] / t["ours_up"])
            raw = timed(ours_up_raw)
            up_raw.append(t["scp_up"] / raw)
            t["ours_up_raw"] = raw
            mib = size / (1 << 20)
            print(
                f"round {r + 1}: "
                + ", ".join(f"{k} {mib / v:.0f} MiB/s" for k, v in t.items())
                + f"; the host took {steal_percent(ticks)}% (steal)"
            )
        if down:
            assert (work / "ours.bin").read_bytes() == src.read_bytes()

        # listing: one page of 100 names from a big folder, as a delivery that is
        # complete (last changed a minute ago), against `sftp ls` of all of it
        big = home / "Personal" / "big"
        big.mkdir()
        for i in range(args.files):
            (big / f"sample_{i:06d}.fastq.gz").touch()
        long_ago = time.time() - 60
        os.utime(big, (long_ago, long_ago))
        cold, warm = [], []
        for r in range(args.rounds):
            middle = args.files // 2

            def ours_page(offset=middle):
                page = storage.list("Personal/big", limit=100, offset=offset)
                assert len(page.entries) == 100 and page.total == args.files

            def sftp_ls():
                subprocess.run(
                    [
                        "sftp",
                        *ssh_opts,
                        "-b",
                        "-",
                        f"{sshd.login}@127.0.0.1",
                    ],
                    input=b"ls -1 Personal/big\n",
                    check=True,
                    stdout=subprocess.DEVNULL,
                )

            listing_cache._made.clear()  # a process that never listed the folder
            pair = [(ours_page, sftp_ls), (sftp_ls, ours_page)][r % 2]
            t = {f.__name__: timed(f) for f in pair}
            cold.append(t["ours_page"] / t["sftp_ls"])
            # then the next page, and the first one again (kept listing, fresh sizes)
            t["next_page"] = timed(lambda: ours_page(args.files // 2 + 100))
            t["same_page"] = timed(ours_page)
            warm.append(max(t["next_page"], t["same_page"]) / t["sftp_ls"])
            print(f"listing round {r + 1}: " + ", ".join(f"{k} {v:.3f}s" for k, v in t.items()))
        storage.close()

    result = {
        "size_mib": args.size_mib,
        "rounds": args.rounds,
        **(
            {
                "download_ratio_vs_scp": round(statistics.median(down), 3),
                "upload_ratio_vs_scp": round(statistics.median(up), 3),
                "upload_without_checksums_ratio_vs_scp": round(statistics.median(up_raw), 3),
            }
            if down
            else {}
        ),
        # time / `sftp ls` time: < 1 is faster
        "listing_first_page_time_over_sftp_ls": round(statistics.median(cold), 3),
        "listing_kept_page_time_over_sftp_ls": round(statistics.median(warm), 3),
        "files_in_folder": args.files,
        "work_dir": str(work.parent),
        "cpus": os.cpu_count(),
    }
    save_result("sftp_transfer", result)
    subprocess.run(["rm", "-rf", str(work)])


if __name__ == "__main__":
    main()
