"""``seek push`` of a 1,000-sample, 4,000-file project to the SEEK sandbox.

Measured: requests sent (reads, writes) and wall time of the first push and
of a re-push of the unchanged project. Targets: the re-push sends zero
writes and at most one read per listing page; the first push sends no more
than one request per created record plus one per page read. Wall time is
reported against a floor taken in the same run: as many bare requests
(``GET /people/current``) to the same sandbox as the first push sent.

    .venv/bin/python benchmarks/seek_push.py [--samples 1000] [--per-page 200]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import threading
import time
from dataclasses import replace

from common import save_result, work_dir  # noqa: I001 - benchmarks/common.py
from werkzeug.serving import make_server

from nels_core.isa.export import describe
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery
from nels_sandbox.seek import create_app
from nels_sandbox.seek_world import SeekWorld
from seek_plugin.client import SeekClient
from seek_plugin.db import Database
from seek_plugin.push import Pusher


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--per-page", type=int, default=200)
    args = ap.parse_args()
    work = work_dir(on_disk=False)
    root = work / "UiB_Bench_Push_2026"
    names = tuple(f"S{i:04d}" for i in range(1, args.samples + 1))
    spec = replace(DeliverySpec(samples=names, lanes=2, index_reads=False), reads_per_file=1)
    make_delivery(root / "NorSeq" / "run1", replace(spec, read_length=30))
    inv, _ = describe(LocalStorage(root), "", str(root), root.name)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    world = SeekWorld()
    me = world.add_person("Bench", "Mark", token="bench")
    project = world.add_project("Bench", admins=[me.id])
    server = make_server("127.0.0.1", 0, create_app(world), threaded=True)
    world.base_url = url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    db = Database(f"sqlite:///{work / 'links.db'}")

    def push():
        client = SeekClient(url, token="bench", per_page=args.per_page)
        t = time.perf_counter()
        report = Pusher(client, db, project.id).push(inv)
        return report, client.sent, time.perf_counter() - t

    first, first_sent, first_s = push()
    again, again_sent, again_s = push()
    created = first.count()["created"]
    floor_client = SeekClient(url, token="bench")
    t = time.perf_counter()
    for _ in range(first_sent["read"] + first_sent["write"]):
        floor_client.request("GET", "/people/current")
    floor_s = time.perf_counter() - t
    # pages: one listing per record type; samples listed under their sample type
    per_kind = {}
    for r in first.records:
        per_kind[r.kind] = per_kind.get(r.kind, 0) + 1
    pages = sum(math.ceil(n / args.per_page) for n in per_kind.values())
    server.shutdown()
    result = {
        "samples": args.samples,
        "files": len(inv.files()),
        "records": created,
        "first_push": {
            "writes": first_sent["write"],
            "reads": first_sent["read"],
            "seconds": round(first_s, 2),
        },
        "re_push": {
            "writes": again_sent["write"],
            "reads": again_sent["read"],
            "seconds": round(again_s, 2),
        },
        "listing_pages": pages,
        "first_push_requests_per_record": round(sum(first_sent.values()) / created, 3),
        "first_push_over_bare_requests": round(first_s / floor_s, 2),
        "targets_met": again_sent["write"] == 0
        and again_sent["read"] <= pages
        and sum(first_sent.values()) <= created + pages,
        "cpus": os.cpu_count(),
    }
    save_result("seek_push", result)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
