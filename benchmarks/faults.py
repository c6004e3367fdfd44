"""Transfers cut at seeded random byte offsets, at scale (issue 17).

A TCP proxy (tests/fault_proxy.py) in front of the sandbox sshd cuts one
connection per trial; the trials are spread over both transports, the CLI
(``python -m nels_cli`` through the sandbox NeLS API, as a user runs it)
and fsspec (``NelsFileSystem`` in this process), put and get. The cut lands
on the connection that carries the bytes (asyncssh's only one; OpenSSH's
second, its first being asyncssh's control connection, cut now and then
within its first 6000 bytes). After each cut:

- nothing under the final name unless it is whole with the right MD5
  (the remote file on the world's disk for put, the local file for get);
- the message: for the CLI, its stderr: no "Traceback" nor "never
  retrieved", and one clear line is exactly one line starting "error:"; for
  fsspec, the exception and what reached file descriptor 2 meanwhile: a
  traceback is any exception other than a ``NelsError`` or those words on
  stderr, and one clear line is a ``NelsError`` of one line, stderr empty;
- the retry, through a proxy that lets everything pass, ends with the
  right MD5; the folder then holds no temporary file (remote: hidden
  ``.nels-part-`` names, local: ``.part-`` names).

A few silent trials (``--silent``) stop forwarding mid-transfer without
closing, with a small ``idle_timeout``: the seconds from the silence to the
client giving up are reported against that timeout, and checked as above.

    .venv/bin/python benchmarks/faults.py [--cuts 120] [--seed 17] [--size 8]
        [--transports openssh,asyncssh] [--silent 4] [--idle-timeout 2]

Prints a table; the figures and every trial go to
``benchmarks/results/faults-<timestamp>.json``. Exits 1 when one of the four
guarantees fails (partials under final names, temporary files left, retries
with the right MD5, messages without traceback in one clear line), listing
the trials that broke it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from common import RESULTS, random_file, work_dir  # noqa: I001 - benchmarks/common.py
from werkzeug.serving import make_server

from nels_core.credentials import SshCredentials
from nels_core.errors import NelsError
from nels_core.fs import NelsFileSystem
from nels_core.home import Home
from nels_core.model import Account, User
from nels_core.storage.partials import is_partial
from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage
from nels_sandbox.nels_api import create_app
from nels_sandbox.sshd import Sshd
from nels_sandbox.world import World

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fault_proxy import PASS, FaultProxy  # noqa: E402 - tests/fault_proxy.py

HANDSHAKE = 6000  # about what SSH and SFTP set-up take on a connection
CUT_IDLE_TIMEOUT = 60.0  # the product's default; a cut is a reset, not silence
CLI_TIMEOUT = 180.0  # a run past this is a hang, reported as such
ENTRIES = ("cli", "fsspec")
DIRECTIONS = ("put", "get")
NOISE = ("Traceback", "never retrieved")


@dataclass
class Trial:
    n: int
    kind: str  # "cut" or "silent"
    transport: str
    entry: str  # "cli" or "fsspec"
    direction: str  # "put" or "get"
    connection: int  # which TCP connection of the run the plan hits (1 or 2)
    offset: int  # bytes (both directions) passed on it before the fault
    idle_timeout: float
    fired: bool = False  # the offset was reached
    failed: bool = False  # the faulted run reported an error
    message: str = ""  # the CLI's stderr, or the exception (and fd 2) for fsspec
    traceback: bool = False
    clear: bool = True  # one clear line (only meaningful when failed)
    seconds: float = 0.0
    gave_up_after: float | None = None  # silent: seconds from the silence to the error
    partial_under_final: str | None = None  # what was found, when not whole
    retried: bool = False
    retry_overwrite: bool = False  # the retry had to replace a whole file already there
    retry_ok: bool | None = None  # the retry (or the run itself) ended with the right MD5
    retry_message: str = ""
    retry_seconds: float = 0.0
    left_by_fault: list[str] = field(default_factory=list)  # temporary files right after it
    leftovers: list[str] = field(default_factory=list)  # ... and after the next successful run

    @property
    def label(self) -> str:
        return (
            f"#{self.n} {self.kind} {self.transport} {self.entry} {self.direction} "
            f"connection {self.connection} offset {self.offset}"
        )


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class FireClock:
    """When the proxy's fault fired, polled every few milliseconds."""

    def __init__(self, proxy: FaultProxy):
        self.proxy, self.at = proxy, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if self.proxy.faults:
                self.at = time.perf_counter()
                return
            time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def fd2_into(path: Path):
    """Everything written to file descriptor 2 (Python's stderr, the ssh
    child's, loggers of last resort) goes to ``path`` meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def in_thread(fn, timeout: float) -> BaseException | None:
    """Run ``fn``; what it raised, or a TimeoutError if it still runs after ``timeout``."""
    box: dict = {}

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: B036 - reported, whatever it is
            box["error"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(timeout)
    if th.is_alive():
        return TimeoutError(f"still running after {timeout:.0f} s")
    return box.get("error")


class Bench:
    def __init__(self, work: Path, sshd: Sshd, size_mib: int):
        self.work, self.sshd = work, sshd
        self.world = World(work / "nels", sshd)
        self.world.token_lifetime = 7 * 24 * 3600
        self.user = self.world.add_user("bench", "Bench", "bench-pw")
        self.world.add_client("galaxy", "secret")
        self.account = Account.of(
            User(self.user.nels_id, self.user.name, username=self.user.username), []
        )
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        app = create_app(self.world)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.api = f"http://127.0.0.1:{self.server.server_port}"
        app.config["PUBLIC_URL"] = self.api
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        # sign-in is not what is measured: the sandbox issues a token directly
        self.token = self.world.issue(self.user.nels_id, "galaxy")["access_token"]

        personal = self.world.home(self.user) / "Personal"
        self.remote = personal / "faults"  # where puts land
        self.remote.mkdir()
        (personal / "source").mkdir()
        self.source = random_file(work / "source.bin", size_mib)
        self.size = self.source.stat().st_size
        self.md5 = md5_of(self.source)
        shutil.copy(self.source, personal / "source" / "src.bin")
        self.cli_dir = work / "cli"
        self.cli_dir.mkdir()

    # --- the two entry points --------------------------------------------------
    def cli(self, proxy: FaultProxy, idle_timeout: float, *args) -> tuple[int | None, str]:
        (self.cli_dir / "known_hosts").write_text(proxy.known_hosts(self.sshd.host_public_key))
        config = self.cli_dir / "c.toml"
        config.write_text(
            '[storage]\nbackend = "sftp"\n'
            f'[sftp]\nhost = "127.0.0.1"\nport = {proxy.port}\nknown_hosts_file = "known_hosts"\n'
            f'transport = "{self.transport}"\nidle_timeout = {idle_timeout}\n'
            f'[api]\nurl = "{self.api}/nels-api2"\n'
        )
        env = {
            **os.environ,
            "NELS_BUNDLE_DEMO_DIR": "/nonexistent",
            "NELS_BUNDLE_CONFIG": str(config),
            "NELS_TOKEN": self.token,
        }
        try:
            r = subprocess.run(
                [sys.executable, "-m", "nels_cli", *args],
                capture_output=True,
                text=True,
                env=env,
                cwd=self.cli_dir,
                timeout=CLI_TIMEOUT,
            )
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
            return None, f"(killed: still running after {CLI_TIMEOUT:.0f} s) {err or ''}"
        return r.returncode, r.stderr

    def storage(self, proxy: FaultProxy, idle_timeout: float) -> SftpStorage:
        hop = Hop("127.0.0.1", proxy.port, known_hosts=proxy.known_hosts(self.sshd.host_public_key))
        creds = SshCredentials("127.0.0.1", self.sshd.login, self.user.private_key)
        return SftpStorage(
            SftpConfig(hop, creds, transport=self.transport, idle_timeout=idle_timeout)
        )

    # --- one trial -----------------------------------------------------------------
    def run(self, t: Trial, plans: list[tuple[str, int]]) -> Trial:
        self.transport = t.transport
        put = t.direction == "put"
        name = f"put-{t.n}.bin"
        out = self.work / f"get-{t.n}"
        out.mkdir()
        final = self.remote / name if put else out / "src.bin"
        rpath = f"nels://Personal/faults/{name}" if put else "nels://Personal/source/src.bin"
        folder = self.remote if put else out
        mark = is_partial if put else (lambda n: ".part-" in n)

        def temporaries() -> list[str]:
            return sorted(p.name for p in folder.iterdir() if mark(p.name))

        if t.entry == "cli":

            def attempt(proxy: FaultProxy, overwrite: bool = False) -> tuple[bool, str]:
                extra = ["--overwrite"] if overwrite else []
                args = ["put", str(self.source), rpath, *extra] if put else ["get", rpath, str(out)]
                rc, stderr = self.cli(proxy, t.idle_timeout, *args)
                return rc == 0, stderr

            with FaultProxy(self.sshd.port, plans) as proxy:
                clock = FireClock(proxy)
                start = time.perf_counter()
                ok, t.message = attempt(proxy)
                end = time.perf_counter()
                clock.stop()
                t.fired = proxy.faults > 0
            t.failed = not ok
            lines = [line for line in t.message.splitlines() if line.strip()]
            t.traceback = any(word in t.message for word in NOISE)
            t.clear = len(lines) == 1 and lines[0].startswith("error:")
            t.seconds = end - start
            if clock.at is not None and t.kind == "silent":
                t.gave_up_after = end - clock.at
            self.check_final(t, final)
            t.left_by_fault = temporaries()
            if t.failed:
                t.retried = True
                t.retry_overwrite = put and final.exists()
                with FaultProxy(self.sshd.port) as proxy:  # lets everything pass
                    start = time.perf_counter()
                    ok, t.retry_message = attempt(proxy, overwrite=t.retry_overwrite)
                    t.retry_seconds = time.perf_counter() - start
                t.retry_ok = ok and final.exists() and md5_of(final) == self.md5
            else:
                t.retry_ok = final.exists() and md5_of(final) == self.md5
        else:
            with FaultProxy(self.sshd.port, plans) as proxy:
                storage = self.storage(proxy, t.idle_timeout)
                fs = NelsFileSystem(home=Home(storage, self.account))

                def attempt() -> None:
                    if put:
                        fs.put_file(str(self.source), rpath)
                    else:
                        fs.get_file(rpath, str(final))

                clock = FireClock(proxy)
                noise = self.work / f"fd2-{t.n}"
                with fd2_into(noise):
                    start = time.perf_counter()
                    error = in_thread(attempt, CLI_TIMEOUT)
                    end = time.perf_counter()
                clock.stop()
                t.fired = proxy.faults > 0
                stderr = noise.read_text(errors="replace")
                t.failed = error is not None
                said = f"{type(error).__name__}: {error}" if error is not None else ""
                t.message = said + (f"\n[stderr] {stderr}" if stderr else "")
                t.traceback = any(w in t.message for w in NOISE) or (
                    t.failed and not isinstance(error, NelsError)
                )
                text = str(error) if error is not None else ""
                t.clear = (
                    isinstance(error, NelsError)
                    and len(text.strip().splitlines()) == 1
                    and not stderr.strip()
                )
                t.seconds = end - start
                if clock.at is not None and t.kind == "silent":
                    t.gave_up_after = end - clock.at
                self.check_final(t, final)
                t.left_by_fault = temporaries()
                proxy.plans.clear()  # from here every connection passes
                if t.failed:
                    t.retried = True
                    start = time.perf_counter()
                    with fd2_into(noise):
                        error = in_thread(attempt, CLI_TIMEOUT)  # reconnects, past the plan
                    t.retry_seconds = time.perf_counter() - start
                    if error is not None:
                        t.retry_message = f"{type(error).__name__}: {error}"
                t.retry_ok = final.exists() and md5_of(final) == self.md5
                in_thread(storage.close, 30)
        if t.retry_ok:  # after a successful run only
            t.leftovers = temporaries()
        for p in self.remote.iterdir():  # the next trial starts clean
            p.unlink()
        shutil.rmtree(out)
        return t

    def check_final(self, t: Trial, final: Path) -> None:
        if final.exists():
            size = final.stat().st_size
            if size != self.size or md5_of(final) != self.md5:
                t.partial_under_final = f"{final.name}: {size} of {self.size} bytes, MD5 differs"


def cut_plan(rng: random.Random, transport: str, size: int) -> tuple[int, int]:
    """(connection, offset) of one cut: on the connection carrying the bytes,
    OpenSSH's control connection a quarter of the time, within its set-up."""
    if transport == "asyncssh":
        return 1, rng.randrange(HANDSHAKE + size)
    if rng.random() < 0.25:
        return 1, rng.randrange(HANDSHAKE)
    return 2, rng.randrange(HANDSHAKE + size)


def plans_for(kind: str, connection: int, offset: int) -> list[tuple[str, int]]:
    return [PASS] * (connection - 1) + [(kind, offset)]


def pct(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}%" if den else "n/a"


def figures(trials: list[Trial]) -> dict:
    failed = [t for t in trials if t.failed]
    retried = [t for t in trials if t.retried]
    measured = [t for t in trials if t.retry_ok]
    secs = [t.seconds + t.retry_seconds for t in trials]
    return {
        "trials": len(trials),
        "fired": sum(t.fired for t in trials),
        "errors_reported": len(failed),
        "partials_under_final_names": sum(t.partial_under_final is not None for t in trials),
        "temporary_files_left_by_faults": sum(len(t.left_by_fault) for t in trials),
        "temporary_files_left": sum(len(t.leftovers) for t in measured),
        "retries": len(retried),
        "retries_with_matching_md5": sum(bool(t.retry_ok) for t in retried),
        "retries_with_matching_md5_pct": pct(sum(bool(t.retry_ok) for t in retried), len(retried)),
        "runs_ending_whole": sum(bool(t.retry_ok) for t in trials),
        "messages_without_traceback": sum(not t.traceback for t in failed),
        "messages_without_traceback_pct": pct(sum(not t.traceback for t in failed), len(failed)),
        "messages_one_clear_line": sum(t.clear for t in failed),
        "messages_one_clear_line_pct": pct(sum(t.clear for t in failed), len(failed)),
        "noise_on_success": sum(t.traceback for t in trials if not t.failed),
        "seconds_per_trial_median": round(statistics.median(secs), 2) if secs else None,
        "seconds_per_trial_max": round(max(secs), 2) if secs else None,
    }


def breaches(trials: list[Trial]) -> dict[str, list[Trial]]:
    return {
        "no partial file under a final name": [t for t in trials if t.partial_under_final],
        "no temporary file left after the next successful run": [t for t in trials if t.leftovers],
        "every retry completes with the right MD5": [t for t in trials if t.retry_ok is not True],
        "every message without traceback, in one clear line": [
            t for t in trials if t.traceback or (t.failed and not t.clear)
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuts", type=int, default=120)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--size", type=int, default=8, help="MiB per file")
    ap.add_argument("--transports", default="openssh,asyncssh")
    ap.add_argument("--silent", type=int, default=4, help="silent-connection trials")
    ap.add_argument("--idle-timeout", type=float, default=2.0, help="seconds, silent trials")
    args = ap.parse_args()
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    rng = random.Random(args.seed)
    combos = [(t, e, d) for t in transports for e in ENTRIES for d in DIRECTIONS]

    work = work_dir(on_disk=False)
    trials: list[Trial] = []
    started = time.perf_counter()
    with Sshd(work / "sshd") as sshd:
        bench = Bench(work, sshd, args.size)
        specs = []
        for i in range(args.cuts):
            transport, entry, direction = combos[i % len(combos)]
            connection, offset = cut_plan(rng, transport, bench.size)
            specs.append(
                Trial(
                    i + 1, "cut", transport, entry, direction, connection, offset, CUT_IDLE_TIMEOUT
                )
            )
        nt = len(transports)
        for k in range(args.silent):  # every transport, entry point and direction early on
            transport = transports[k % nt]
            entry = ENTRIES[(k // nt) % 2]
            direction = DIRECTIONS[(k + k // nt) % 2]
            offset = rng.randrange(HANDSHAKE, HANDSHAKE + bench.size)
            connection = 1 if transport == "asyncssh" else 2
            specs.append(
                Trial(
                    args.cuts + k + 1,
                    "silent",
                    transport,
                    entry,
                    direction,
                    connection,
                    offset,
                    args.idle_timeout,
                )
            )
        for t in specs:
            bench.run(t, plans_for(t.kind, t.connection, t.offset))
            trials.append(t)
            outcome = "error" if t.failed else "ok"
            retry = (
                f", retry {'ok' if t.retry_ok else 'FAILED'} {t.retry_seconds:.1f}s"
                if t.retried
                else ""
            )
            bad = [g for g, ts in breaches([t]).items() if ts]
            gave = f", gave up {t.gave_up_after:.1f}s after" if t.gave_up_after else ""
            print(
                f"{t.label}: {'fired' if t.fired else 'not reached'}, {outcome} "
                f"{t.seconds:.1f}s{gave}{retry}"
                + (f"  <-- broken: {'; '.join(bad)}" if bad else ""),
                flush=True,
            )
        bench.server.shutdown()
    shutil.rmtree(work, ignore_errors=True)

    cuts = [t for t in trials if t.kind == "cut"]
    silent = [t for t in trials if t.kind == "silent"]
    by_combo = {
        " ".join(c): figures([t for t in cuts if (t.transport, t.entry, t.direction) == c])
        for c in combos
    }
    summary = figures(cuts)
    silent_rows = [
        {
            "trial": t.n,
            "transport": t.transport,
            "entry": t.entry,
            "direction": t.direction,
            "idle_timeout": t.idle_timeout,
            "gave_up_after": None if t.gave_up_after is None else round(t.gave_up_after, 2),
            "ratio": None
            if t.gave_up_after is None
            else round(t.gave_up_after / t.idle_timeout, 2),
        }
        for t in silent
    ]
    broken = breaches(trials)

    head = f"{'':34} {'cuts':>4} {'fired':>5} {'errors':>6} {'partial':>7} {'tmp':>4} {'left':>4} "
    head += f"{'retry md5':>10} {'no tb':>7} {'1 line':>7} {'s/trial':>7}"
    print("\n" + head)
    for name, f in [*by_combo.items(), ("all cuts", summary)]:
        print(
            f"{name:34} {f['trials']:>4} {f['fired']:>5} {f['errors_reported']:>6} "
            f"{f['partials_under_final_names']:>7} {f['temporary_files_left_by_faults']:>4} "
            f"{f['temporary_files_left']:>4} "
            f"{f['retries_with_matching_md5_pct']:>10} {f['messages_without_traceback_pct']:>7} "
            f"{f['messages_one_clear_line_pct']:>7} {f['seconds_per_trial_median'] or 0:>7}"
        )
    if silent:
        print(f"\n{'silent':34} {'idle_timeout':>12} {'gave up after':>13} {'ratio':>6}  checks")
        for t, row in zip(silent, silent_rows, strict=True):
            ok = "ok" if not any(t in ts for ts in broken.values()) else "FAILED"
            gave = "-" if row["gave_up_after"] is None else f"{row['gave_up_after']:.2f} s"
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
            name = f"#{t.n} {t.transport} {t.entry} {t.direction}"
            print(f"{name:34} {t.idle_timeout:>10.1f} s {gave:>13} {ratio:>6}  {ok}")

    result = {
        "args": vars(args),
        "size_bytes": bench.size,
        "seconds_total": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
        "cuts": summary,
        "cuts_by_transport_entry_direction": by_combo,
        "silent": {**figures(silent), "trials_detail": silent_rows} if silent else None,
        "guarantees": {g: not ts for g, ts in broken.items()},
        "failures": {g: [asdict(t) for t in ts] for g, ts in broken.items() if ts},
        "trials": [asdict(t) for t in trials],
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"faults-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{json.dumps({k: result[k] for k in ('cuts', 'guarantees')}, indent=1)}")
    print(f"results: {path}")
    failed = {g: ts for g, ts in broken.items() if ts}
    for g, ts in failed.items():
        print(f"\nGUARANTEE FAILED: {g}")
        for t in ts:
            print(f"  {t.label}: {t.partial_under_final or ''} {t.leftovers or ''}")
            print(f"    message: {t.message.strip()!r}")
            if t.retried:
                print(f"    retry: {'ok' if t.retry_ok else 'FAILED'} {t.retry_message.strip()!r}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
