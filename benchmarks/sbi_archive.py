"""A run archived from NeLS into StoreBioinfo and staged back, against scp.

The run lies in NeLS (the real sshd, over SFTP); ``nels_core.sbi.archive``
streams each file into its SBI transfer job (the sandbox's NeLS API, in a
process of its own as NeLS is another machine) and waits for the job;
``stage`` brings it back into another NeLS folder. The floor is moving the
same bytes once with OpenSSH's ``scp -r`` to (and from) the same sshd.

Two runs: ``--files`` of ``--size-mib`` each (8 of 64 MiB: two samples, two
lanes, paired, 512 MiB), and ``--small-files`` of ``--small-kib`` each, which
exposes what the job protocol costs per file. Rounds alternate ours and the
floor; reported are the medians of the per-round ratios (our time over
scp's: > 1 is slower), the protocol's seconds per file, and the CPU seconds
of everything taking part (this process, the sandbox's, sshd and its
sessions, scp and ssh), read from /proc.

    .venv/bin/python benchmarks/sbi_archive.py [--rounds 3] [--files 8 --size-mib 64] \
        [--small-files 128 --small-kib 64] [--processing-seconds S] [--only run|small_files] \
        [--name sbi_archive]

``--processing-seconds`` is how long the sandbox's jobs take after
``upload_done`` (its default, 0.05 s, when not given; NeLS's recording shows
a 12-byte file done within 2 s); 0 leaves the protocol's own cost per file.

Files live in /dev/shm when it exists (``--on-disk``: the temp dir).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import openssh_options, save_result, work_dir  # noqa: I001 - benchmarks/common.py

PROJECT, FOLDER, PROJECT_ID, USER_ID = "Bench Project", "Bench-Project", 7001, 7002
RUN = "240101_A01447_0200_ABENCHDRX3"
TICK = os.sysconf("SC_CLK_TCK")


# --- the sandbox's NeLS API, in a process of its own -----------------------------------
def serve(root: Path, processing_seconds: float | None) -> None:
    """``--serve``: the world and its API; prints where, and a token, then serves."""
    from flask import jsonify, request
    from werkzeug.serving import make_server

    from nels_sandbox.nels_api import create_app
    from nels_sandbox.serving import quiet
    from nels_sandbox.world import World

    quiet()
    world = World(root)
    if processing_seconds is not None:
        world.processing_seconds = processing_seconds
    user = world.add_user("bench", "Bench User", "bench-pw", nels_id=USER_ID)
    project = world.add_project(PROJECT, PROJECT_ID)
    world.add_member(project, user, 1)
    app = create_app(world)
    calls: dict[str, int] = {}

    @app.before_request
    def _count():
        if request.path.startswith("/_bench/"):
            return
        body = request.get_json(silent=True) if request.is_json else None
        method = body.get("method") if isinstance(body, dict) else None
        path = re.sub(r"/\d+", "/N", request.path)
        path = re.sub(r"^(/nels-(up|down)load2)/.*", r"\1/<single-use url>", path)
        key = method or f"{request.method} {path}"
        calls[key] = calls.get(key, 0) + 1

    @app.get("/_bench/calls")
    def _calls():
        return jsonify(calls)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["PUBLIC_URL"] = url
    token = world.issue(USER_ID, "bench")["access_token"]
    world.token_lifetime = 10**6
    where = {"url": url, "token": token, "home": str(world.home(user))}
    print(json.dumps({**where, "processing_seconds": world.processing_seconds}), flush=True)
    server.serve_forever()


# --- CPU of a process tree, from /proc -----------------------------------------------------
def _procs() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of it and of its reaped children)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        out[int(d)] = (int(fields[1]), ticks / TICK)
    return out


def tree_cpu(root: int) -> float:
    procs = _procs()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += procs.get(pid, (0, 0.0))[1]
        todo.extend(children.get(pid, ()))
    return total


class Meter:
    """Wall and CPU seconds of one measurement: everything, and the shares of
    this process (its threads) and of the sandbox; the rest is sshd, ssh, scp."""

    def __init__(self, sandbox_pid: int):
        self.sandbox_pid = sandbox_pid

    def _cpu(self) -> tuple[float, float, float]:
        me = os.times()
        return tree_cpu(os.getpid()), me.user + me.system, tree_cpu(self.sandbox_pid)

    def __call__(self, fn) -> dict:
        os.sync()
        before = self._cpu()
        t = time.perf_counter()
        fn()
        seconds = time.perf_counter() - t
        everything, client, sandbox = (b - a for a, b in zip(before, self._cpu(), strict=True))
        return {"seconds": seconds, "cpu": everything, "client_cpu": client, "sandbox_cpu": sandbox}


# --- the runs -------------------------------------------------------------------------
def write_run(folder: Path, files: int, size: int) -> int:
    """A delivery of ``files`` random files of ``size`` bytes and its md5sum.txt."""
    fastq = folder / "fastq"
    fastq.mkdir(parents=True)
    lines = []
    for i in range(files):
        sample, lane, read = divmod(i, 4)[0] + 1, i % 4 // 2 + 1, i % 2 + 1
        name = f"Sample-{sample}_S{sample}_L00{lane}_R{read}_001.fastq.gz"
        h = hashlib.md5()
        with open(fastq / name, "wb") as f:
            left = size
            while left:
                block = os.urandom(min(left, 1 << 20))
                h.update(block)
                f.write(block)
                left -= len(block)
        lines.append(f"{h.hexdigest()}  fastq/{name}")
    (folder / "md5sum.txt").write_text("\n".join(lines) + "\n")
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--small-files", type=int, default=128)
    ap.add_argument("--small-kib", type=int, default=64)
    ap.add_argument(
        "--processing-seconds",
        type=float,
        default=None,
        help="how long the sandbox's jobs take after upload_done [its default]",
    )
    ap.add_argument("--only", choices=("run", "small_files"), help="one of the two runs, not both")
    ap.add_argument("--name", default="sbi_archive", help="results/<name>.json")
    ap.add_argument("--on-disk", action="store_true", help="work in the temp dir, not /dev/shm")
    ap.add_argument("--serve", nargs=2, metavar=("ROOT", "SECONDS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), None if args.serve[1] == "None" else float(args.serve[1]))
        return

    from nels_core.api import NelsApi
    from nels_core.api.sbi_transfer import SbiTransfer
    from nels_core.credentials import SshCredentials
    from nels_core.home import Home
    from nels_core.model import Account, Membership, Project, Role, User
    from nels_core.sbi import archive, stage
    from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage
    from nels_sandbox.sshd import Sshd

    processing = args.processing_seconds
    work = work_dir(args.on_disk)
    root = work / "nels"
    sandbox = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(root), str(processing)],  # None: its default
        stdout=subprocess.PIPE,
        text=True,
    )
    results: dict = {}
    try:
        where = json.loads(sandbox.stdout.readline())
        processing = where["processing_seconds"]
        with Sshd(work / "sshd") as sshd:
            key = sshd.add_user(where["home"])
            ssh_opts = openssh_options(work, sshd, key)
            remote = f"{sshd.login}@127.0.0.1:Projects/{FOLDER}"
            storage = SftpStorage(
                SftpConfig(
                    Hop("127.0.0.1", sshd.port, known_hosts=sshd.known_hosts),
                    SshCredentials("127.0.0.1", sshd.login, key),
                )
            )
            account = Account.of(
                User(USER_ID, "Bench User", username="bench"),
                [Membership(Project(PROJECT_ID, PROJECT), Role.PI)],
            )
            home = Home(storage, account)
            home.stat("Projects")  # connect once, outside the timings
            api = NelsApi(f"{where['url']}/nels-api2", where["token"])
            meter = Meter(sandbox.pid)
            project_dir = root / "projects" / FOLDER

            def calls() -> dict[str, int]:
                return api.session.get(f"{where['url']}/_bench/calls", timeout=10).json()

            for label, files, size in (
                ("run", args.files, args.size_mib << 20),
                ("small_files", args.small_files, args.small_kib << 10),
            ):
                if args.only not in (None, label):
                    continue
                local = work / "local" / label / RUN
                total = write_run(local, files, size)
                shutil.copytree(local, project_dir / label / RUN)  # the run in NeLS
                results[label] = measure(
                    label,
                    args.rounds,
                    files + 1,  # and md5sum.txt
                    total,
                    meter,
                    home,
                    api,
                    SbiTransfer(api),  # as the command line uses it
                    archive,
                    stage,
                    ssh_opts,
                    remote,
                    local,
                    work,
                    root,
                    calls,
                )
                shutil.rmtree(project_dir / label)
                shutil.rmtree(work / "local" / label)
            home.close()
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    result = {
        **results,
        "rounds": args.rounds,
        "processing_seconds": processing,
        "work_dir": str(work.parent),
        "cpus": os.cpu_count(),
    }
    save_result(args.name, result)
    subprocess.run(["rm", "-rf", str(work)])


def measure(
    label, rounds, files, total, meter, home, api, transfer, archive, stage,
    ssh_opts, remote, local, work, root, calls,
) -> dict:  # fmt: skip
    """Rounds of: archive and scp up, stage and scp down, in alternating order."""
    runs = []
    sbi = root / "sbi" / FOLDER
    nels = root / "projects" / FOLDER
    for r in range(rounds):
        dataset = f"{label}-{r}"

        def ours_archive(dataset=dataset):
            archive(
                home,
                api,
                f"nels://Projects/{FOLDER}/{label}/{RUN}",
                dataset=dataset,
                dataset_type="Illumina_seq_data",
                subtype="reads",
                transfer=transfer,
            )

        def ours_stage(dataset=dataset, r=r):
            stage(
                home,
                api,
                f"sbi://{PROJECT}/{dataset}/reads/{RUN}",
                f"nels://Projects/{FOLDER}/staged-{label}-{r}/",
                transfer=transfer,
            )

        def scp_up(r=r):
            subprocess.run(
                ["scp", "-r", *ssh_opts, str(local), f"{remote}/scp-{label}-{r}"], check=True
            )

        def scp_down(r=r):
            subprocess.run(
                ["scp", "-r", *ssh_opts, f"{remote}/{label}/{RUN}", str(work / f"down-{r}")],
                check=True,
            )

        m: dict = {}
        before = calls()
        for fn in [(ours_archive, scp_up), (scp_up, ours_archive)][r % 2]:
            m[fn.__name__] = meter(fn)
        after_archive = calls()
        for fn in [(ours_stage, scp_down), (scp_down, ours_stage)][r % 2]:
            m[fn.__name__] = meter(fn)
        after_stage = calls()
        m["calls_archive"] = _delta(before, after_archive)
        m["calls_stage"] = _delta(after_archive, after_stage)
        staged = nels / f"staged-{label}-{r}" / RUN
        assert _same(staged, local) and _same(sbi / dataset / "reads" / RUN, local)
        runs.append(m)
        mib = total / (1 << 20)
        print(
            f"{label} round {r + 1}: "
            + ", ".join(
                f"{k} {v['seconds']:.2f}s {mib / v['seconds']:.0f} MiB/s "
                f"(CPU {v['cpu']:.2f}s: this process {v['client_cpu']:.2f}s, "
                f"sandbox {v['sandbox_cpu']:.2f}s)"
                for k, v in m.items()
                if isinstance(v, dict) and "seconds" in v
            ),
            flush=True,
        )
        for p in (sbi / dataset, staged.parent, nels / f"scp-{label}-{r}", work / f"down-{r}"):
            shutil.rmtree(p, ignore_errors=True)

    def med(f):
        return round(statistics.median(f(m) for m in runs), 3)

    out = {
        "files": files,
        "bytes": total,
        "archive_time_over_scp": med(lambda m: ratio(m, "ours_archive", "scp_up", "seconds")),
        "stage_time_over_scp": med(lambda m: ratio(m, "ours_stage", "scp_down", "seconds")),
        "archive_cpu_over_scp": med(lambda m: ratio(m, "ours_archive", "scp_up", "cpu")),
        "stage_cpu_over_scp": med(lambda m: ratio(m, "ours_stage", "scp_down", "cpu")),
        # what each file costs beyond scp's moving it: the job protocol, its waits, the checks
        "archive_seconds_per_file_over_scp": med(
            lambda m: (m["ours_archive"]["seconds"] - m["scp_up"]["seconds"]) / files
        ),
        "stage_seconds_per_file_over_scp": med(
            lambda m: (m["ours_stage"]["seconds"] - m["scp_down"]["seconds"]) / files
        ),
        "median_seconds": {
            k: med(lambda m, k=k: m[k]["seconds"])
            for k in ("ours_archive", "scp_up", "ours_stage", "scp_down")
        },
        "median_cpu_seconds": {
            k: med(lambda m, k=k: m[k]["cpu"])
            for k in ("ours_archive", "scp_up", "ours_stage", "scp_down")
        },
        "median_client_process_cpu_seconds": {
            k: med(lambda m, k=k: m[k]["client_cpu"]) for k in ("ours_archive", "ours_stage")
        },
        "median_sandbox_cpu_seconds": {
            k: med(lambda m, k=k: m[k]["sandbox_cpu"]) for k in ("ours_archive", "ours_stage")
        },
        "api_calls_per_file": {
            "archive": {k: round(v / files, 2) for k, v in runs[-1]["calls_archive"].items()},
            "stage": {k: round(v / files, 2) for k, v in runs[-1]["calls_stage"].items()},
        },
    }
    return out


def ratio(m: dict, ours: str, floor: str, what: str) -> float:
    return m[ours][what] / m[floor][what]


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)}


def _same(a: Path, b: Path) -> bool:
    """The same files with the same bytes (MD5) below both folders."""

    def files(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in folder.rglob("*")
            if p.is_file()
        }

    return files(a) == files(b)


if __name__ == "__main__":
    main()
