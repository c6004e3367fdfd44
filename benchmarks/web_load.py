"""50 signed-in users browsing the web app at once, under two setups.

Each virtual user has its own browser session (signed in once, by the
OAuth2 dance over HTTP; 50 sessions spread over 10 NeLS accounts) and loops
for ``--seconds`` over the projects list (``/``), the project's folder, the
run's folder (the lists) and the project's ISA preview (``/isa/...``).
Measured per kind: requests, requests per second, p50/p95/p99 latency and
errors (any answer but 200, or no answer), after a 5 s warm-up; a GET on a
kept-alive connection the server had closed is sent once more, as browsers
do, and counted as retried.

- (a) the baseline, the old in-process runner's settings: one web process
  (``serve --dev``: Werkzeug, threaded), one ``nels-bundle worker`` running
  2 jobs at once, SQLite;
- (b) as a site runs it now: ``serve --workers 2`` (gunicorn) and two
  ``nels-bundle worker``s on PostgreSQL, kept busy by pushes of the
  project's folders to SEEK started through the web app all along.

One after the other, on one set of sandboxes (NeLS with a local tree of
24 samples, SEEK, Redis), everything on 127.0.0.1. Targets for (b): p99
<= 250 ms for the lists, <= 400 ms for the ISA preview, no errors.

    .venv/bin/python benchmarks/web_load.py [--seconds 60] [--users 50] \
        [--accounts 10] [--configs a,b] [--think 0]

Also reported: the CPU seconds each part used (web, job workers, Redis,
PostgreSQL, the stand-ins in this process, the load generator in its own),
since on a small machine they all share its cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from common import save_result, work_dir  # noqa: I001 - benchmarks/common.py
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_sandbox.job_worker import WorkerProcess
from nels_sandbox.server_process import die_with_parent
from nels_sandbox.sshd import free_port
from nels_sandbox.web_site import demo_web_config, start_sandboxes

WARMUP = 5  # seconds of load before the figures start: connections, caches
TARGETS_MS = {"lists": 250, "preview": 400}  # p99 of (b)
SAMPLES = tuple(f"{t}-{n}" for t in ("Liver", "Gill", "Kidney", "Skin") for n in range(1, 7))
FOLDER = f"Projects/{SEQ_PROJECT}"
PAGES = (  # (kind, path): what each virtual user goes round
    ("lists", "/"),
    ("lists", f"/browse/{FOLDER}"),
    ("lists", f"/browse/{FOLDER}/NorSeq/{RUN}"),
    ("preview", f"/isa/{FOLDER}"),
)
PUSHED = (FOLDER, f"{FOLDER}/NorSeq/{RUN}")  # two folders: pushes of one wait on its lock
CONFIGS = {
    "a": "one Werkzeug process, 1 worker x 2 jobs, SQLite",
    "b": "gunicorn 2 processes, 2 workers x 2 jobs busy on pushes, PostgreSQL",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--configs", default="a,b")
    ap.add_argument(
        "--think", type=float, default=0, help="seconds each user waits after each answer"
    )
    ap.add_argument("--child-load", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_load:  # the load in a process of its own: its threads not in the servers' GIL
        print(json.dumps(generate_load(json.load(sys.stdin))))
        return
    configs = [c for c in args.configs.split(",") if c]
    if not set(configs) <= set(CONFIGS):
        ap.error(f"--configs takes {','.join(CONFIGS)}")
    load_before = os.getloadavg()[0]
    work = work_dir(on_disk=True)  # the databases on disk, as a site keeps them
    try:
        figures = run_all(configs, work, args)
    except BaseException:
        print(f"logs kept in {work}", file=sys.stderr)
        raise
    result = summary(figures, args, load_before)
    save_result("web_load", result)
    shutil.rmtree(work)


def run_all(configs: list[str], work: Path, args) -> dict:
    """Each configuration in turn on one set of sandboxes, all stopped at the end."""
    with contextlib.ExitStack() as stack:
        sandboxes = start_sandboxes(work / "site", samples=SAMPLES)
        stack.callback(sandboxes.stop)
        accounts = add_accounts(sandboxes, args.accounts)
        postgres = stack.enter_context(postgres_cluster()) if "b" in configs else (None, None)
        figures = {}
        for name in configs:
            print(
                f"({name}) {CONFIGS[name]}: {args.users} users for {args.seconds:g} s", flush=True
            )
            figures[name] = run_config(name, work, sandboxes, postgres, accounts, args)
            print_table(figures[name])
    return figures


def add_accounts(sandboxes, n: int) -> list[tuple[str, str]]:
    """``n`` NeLS users, members of the sequencing project: (username, password)."""
    world = sandboxes.nels_world
    project = world.projects[sandboxes.seq_project_id]
    accounts = []
    for i in range(1, n + 1):
        username, password = f"load{i:02d}", secrets.token_urlsafe(9)
        world.add_member(project, sandboxes.add_user(username, f"Load User {i}", password), 3)
        accounts.append((username, password))
    return accounts


def run_config(name, work, sandboxes, postgres, accounts, args) -> dict:
    """One setup started, loaded, stopped: its figures."""
    postgres_url, postmaster = postgres
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = fresh_database(postgres_url) if name == "b" else f"sqlite:///{work}/web-a.db"
    settings = {
        **demo_web_config(sandboxes, url),
        "DATABASE_URL": database,
        "WORK_DIR": str(work / f"jobs-{name}"),
    }
    settings_file = work / f"web-{name}.json"
    settings_file.write_text(json.dumps(settings, default=str))
    settings_file.chmod(0o600)
    with contextlib.ExitStack() as stack:
        dev = ["--dev"] if name == "a" else ["--workers", "2"]
        web = stack.enter_context(web_process(settings_file, port, dev, work / f"web-{name}.log"))
        workers = []
        for n in range(1 if name == "a" else 2):
            log = work / f"worker-{name}{n}.log"
            workers.append(WorkerProcess(settings_file, log, "--concurrency", "2").start())
            stack.callback(workers[-1].stop)
        wait_healthy(url, web, work / f"web-{name}.log")
        pushes = None
        if name == "b":
            pushes = stack.enter_context(pushing(url, sandboxes))
        parts = {"web": [web.pid], "job workers": [w.pid for w in workers]}
        others = {web.pid, *parts["job workers"]}  # this process's other child: redis-server
        parts["redis"] = [p for p in children(os.getpid()) if p not in others]
        parts["postgres"] = [postmaster] if name == "b" else []
        figures = measure(url, accounts, args, parts)
    if pushes is not None:
        figures["pushes"] = pushes.counts
    return figures


@contextlib.contextmanager
def web_process(settings_file: Path, port: int, how: list[str], log: Path):
    """``nels-bundle serve`` with these settings, stopped (with its children) at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "nels_cli", "serve", "--web-config", str(settings_file),
         "--port", str(port), *how],
        stdout=open(log, "wb"),  # noqa: SIM115 - the process's
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.terminate()  # gunicorn's master stops its web processes on SIGTERM
        try:
            proc.wait(35)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(url: str, web, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if web.poll() is not None:
            raise SystemExit("the web app stopped: " + log.read_text()[-3000:])
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("the web app did not come up: " + log.read_text()[-3000:])


def measure(url: str, accounts, args, parts: dict[str, list[int]]) -> dict:
    """The load, run by a child process; the samples it kept, summed up, and
    the CPU time each part of the setup used meanwhile (``parts``: its pids)."""
    spec = {
        "url": url,
        "accounts": accounts,
        "users": args.users,
        "seconds": args.seconds,
        "think": args.think,
    }
    cpu_before, wall = cpu_by_part(parts), time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, "--child-load"],
        input=json.dumps(spec),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=args.seconds + WARMUP + 180,  # 180: the sign-ins, and the last answers
        preexec_fn=die_with_parent(),
    )
    wall = time.monotonic() - wall
    cpu = {k: v - cpu_before[k] for k, v in cpu_by_part(parts).items()}
    load = json.loads(done.stdout)
    cpu["load generator"] = load["cpu_seconds"]
    figures = {kind: kind_figures(load["samples"], kind, args.seconds) for kind in TARGETS_MS}
    figures["all"] = kind_figures(load["samples"], None, args.seconds)
    figures["error_examples"] = load["error_examples"]
    figures["sign_in_seconds"] = load["sign_in_seconds"]
    figures["cpu_seconds"] = {k: round(v, 1) for k, v in cpu.items()}
    figures["cpu_wall_seconds"] = round(wall, 1)  # sign-ins and warm-up included
    return figures


def cpu_by_part(parts: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each part's processes and their children;
    this process holds the NeLS and SEEK stand-ins and the pushes' client."""
    used = {name: sum(tree_cpu(p) for p in pids) for name, pids in parts.items()}
    return {**used, "stand-ins, pushes": time.process_time()}


def tree_cpu(pid: int) -> float:
    """CPU seconds of a live process and its descendants, ended ones included."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    # utime, stime, and those of its children that ended (gunicorn's, postgres's)
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu(c) for c in children(pid))


def children(pid: int) -> list[int]:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except FileNotFoundError:
        return []


def kind_figures(samples: list, kind: str | None, seconds: float) -> dict:
    mine = [s for s in samples if kind is None or s[0] == kind]
    ms = sorted(s[1] * 1000 for s in mine)
    return {
        "requests": len(ms),
        "per_second": round(len(ms) / seconds, 1),
        **{f"p{q}_ms": round(percentile(ms, q), 1) for q in (50, 95, 99)},
        "errors": sum(1 for s in mine if s[2] != 200),
        "retried": sum(1 for s in mine if s[3]),
    }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q% of them at or below it."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


# --- the load (in the child process) -------------------------------------------


def generate_load(spec: dict) -> dict:
    """``users`` sessions signed in, then each going round PAGES until the end;
    the samples of requests started after the warm-up: (kind, seconds, status,
    retried, what went wrong)."""
    t = time.monotonic()
    browsers = sign_in_all(spec["url"], spec["accounts"], spec["users"])
    signed_in = time.monotonic() - t
    warm_end = time.monotonic() + WARMUP
    end = warm_end + spec["seconds"]
    samples: list = []  # appended to by every thread: list.append is atomic
    round_ = (spec["url"], warm_end, end, spec["think"], samples)
    users = [  # daemons: an interrupted load ends at once, not at the end of its round
        threading.Thread(target=browse, args=(b, n, *round_), daemon=True)
        for n, b in enumerate(browsers)
    ]
    for u in users:
        u.start()
    for u in users:
        u.join()
    errors = [s for s in samples if s[2] != 200]
    return {
        "samples": samples,
        "error_examples": sorted({f"{s[0]}: {s[2]} {s[4]}"[:300] for s in errors})[:10],
        "sign_in_seconds": round(signed_in, 1),
        "cpu_seconds": time.process_time(),
    }


def browse(browser, first: int, url, warm_end, end, think: float, samples: list) -> None:
    n = first  # each user starts elsewhere in the round: not all on the preview at once
    while time.monotonic() < end:
        kind, path = PAGES[n % len(PAGES)]
        n += 1
        t = time.monotonic()
        try:
            r = browser.get(url + path, allow_redirects=False, timeout=30)
            status, retried, said = r.status_code, bool(r.raw.retries.history), ""
        except requests.RequestException as e:
            status, retried, said = type(e).__name__, True, str(e)
        if t >= warm_end:
            samples.append((kind, time.monotonic() - t, status, retried, said))
        if think:
            time.sleep(think)


def sign_in_all(url: str, accounts, users: int) -> list[requests.Session]:
    """``users`` sessions, round the accounts; one account's one after another
    (two first sign-ins of one NeLS user at once would both make its row)."""
    mine = [[] for _ in accounts]
    for n in range(users):
        mine[n % len(accounts)].append(accounts[n % len(accounts)])

    def sign_in_each(of_one):
        return [sign_in(url, *account) for account in of_one]

    with ThreadPoolExecutor(len(accounts)) as pool:
        return [b for browsers in pool.map(sign_in_each, mine) for b in browsers]


def sign_in(url: str, username: str, password: str) -> requests.Session:
    """The browser's part of the OAuth2 dance (tests/test_web_service.py)."""
    browser = requests.Session()
    browser.trust_env = False  # 127.0.0.1 only: no proxy from the environment
    # a GET on a kept-alive connection the server closed meanwhile is sent once
    # more on a new one, as browsers do (gunicorn closes idle ones after 2 s); counted
    once = Retry(total=1, connect=1, read=1, status=0, redirect=0, allowed_methods=["GET"])
    browser.mount("http://", HTTPAdapter(max_retries=once))
    authorize = browser.get(f"{url}/login", allow_redirects=False, timeout=30).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    answer = browser.post(
        authorize.split("?")[0],
        data={**query, "username": username, "password": password},
        allow_redirects=False,
        timeout=30,
    )
    landed = browser.get(answer.headers["Location"], allow_redirects=False, timeout=30)
    if landed.status_code != 302:
        raise SystemExit(f"sign-in of {username} failed: {landed.status_code}")
    return browser


# --- pushes that keep the workers busy (configuration b) --------------------------


class Pushes:
    """Pushes of PUSHED to SEEK through the web app, ``in_flight`` at a time,
    a new one started as each ends, until stopped."""

    def __init__(self, url: str, sandboxes, in_flight: int = 4):
        self.url, self.in_flight = url, in_flight
        self.counts = {"started": 0, "done": 0, "failed": 0, "not_started": 0}
        self._stop = threading.Event()
        self._browser = sign_in(url, sandboxes.username, sandboxes.password)
        self._token = csrf(self._browser, f"{url}/seek")
        connected = self._browser.post(
            f"{url}/seek",
            data={"csrf_token": self._token, "seek_url": sandboxes.seek_url,
                  "token": sandboxes.seek_token},
            timeout=30,
        )  # fmt: skip
        if "Connected to" not in connected.text:
            raise SystemExit("connecting the SEEK account failed")
        self._project = sandboxes.seek_project
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Pushes:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        jobs: list[str] = []
        n = 0
        while not self._stop.is_set():
            while len(jobs) < self.in_flight and not self._stop.is_set():
                job = self._push(PUSHED[n % len(PUSHED)])
                n += 1
                if job is None:
                    self._stop.wait(1)
                    break
                jobs.append(job)
            jobs = [j for j in jobs if not self._ended(j)]
            self._stop.wait(0.5)

    def _push(self, path: str) -> str | None:
        try:
            r = self._browser.post(
                f"{self.url}/push",
                data={"csrf_token": self._token, "path": path, "account": "1",
                      "project": self._project},
                allow_redirects=False,
                timeout=30,
            )  # fmt: skip
        except requests.RequestException:
            r = None
        if r is None or r.status_code != 302 or "/jobs/" not in r.headers.get("Location", ""):
            self.counts["not_started"] += 1
            return None
        self.counts["started"] += 1
        return urljoin(self.url, r.headers["Location"])

    def _ended(self, job: str) -> bool:
        try:
            state = self._browser.get(f"{job}.json", timeout=30).json()["state"]
        except (requests.RequestException, ValueError, KeyError):
            return False
        if state in ("done", "failed"):
            self.counts[state] += 1
            return True
        return False


@contextlib.contextmanager
def pushing(url: str, sandboxes):
    pushes = Pushes(url, sandboxes).start()
    try:
        yield pushes
    finally:
        pushes.stop()


def csrf(browser: requests.Session, page: str) -> str:
    text = browser.get(page, timeout=30).text
    return text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


# --- PostgreSQL (as tests/conftest.py's postgres_url starts it) ---------------------


@contextlib.contextmanager
def postgres_cluster():
    """A throwaway PostgreSQL cluster (Debian's) on 127.0.0.1: its URL and pid."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("configuration b needs PostgreSQL (Debian's postgresql)")
    bin_dir = found[-1].parent
    # not under /dev/shm's or a user's folders: the postgres user must reach it
    data = Path(tempfile.mkdtemp(prefix="nels-pg-")) / "data"
    as_postgres = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data.parent, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    pg_ctl = [*as_postgres, bin_dir / "pg_ctl", "-D", data]
    try:
        subprocess.run(
            [*as_postgres, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-h 127.0.0.1 -p {port} -k {data}"
        subprocess.run(
            [*pg_ctl, "-o", options, "-w", "start", "-l", data.parent / "log"],
            check=True,
            capture_output=True,
        )
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", postmaster
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data.parent, ignore_errors=True)


def fresh_database(postgres_url: str, name: str = "web_load") -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


# --- the report -------------------------------------------------------------------


def print_table(figures: dict) -> None:
    print(f"{'kind':8} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'errors':>6} {'retried':>7}")  # fmt: skip
    for kind in (*TARGETS_MS, "all"):
        f = figures[kind]
        print(
            f"{kind:8} {f['requests']:>8} {f['per_second']:>7} {f['p50_ms']:>8} "
            f"{f['p95_ms']:>8} {f['p99_ms']:>8} {f['errors']:>6} {f['retried']:>7}"
        )
    for example in figures["error_examples"]:
        print(f"  error: {example}")
    if "pushes" in figures:
        print(f"  pushes meanwhile: {figures['pushes']}")
    cpu = ", ".join(f"{k} {v:g}" for k, v in figures["cpu_seconds"].items())
    print(f"  CPU seconds in {figures['cpu_wall_seconds']:g} s: {cpu}")
    print(flush=True)


def summary(figures: dict, args, load_before: float) -> dict:
    result = {
        "seconds": args.seconds,
        "warmup_seconds": WARMUP,
        "users": args.users,
        "accounts": args.accounts,
        "think_seconds": args.think,
        "samples": len(SAMPLES),
        "cpus": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "configs": {name: {"setup": CONFIGS[name], **f} for name, f in figures.items()},
    }
    if {"a", "b"} <= figures.keys():
        a, b = figures["a"], figures["b"]
        result["b_over_a"] = {
            **{f"p99_{k}": round(b[k]["p99_ms"] / a[k]["p99_ms"], 2) for k in TARGETS_MS},
            "per_second": round(b["all"]["per_second"] / a["all"]["per_second"], 2),
        }
        print(f"(b)/(a): {result['b_over_a']}")
    if "b" in figures:
        b = figures["b"]
        met = {f"p99_{k}_ms<={ms}": b[k]["p99_ms"] <= ms for k, ms in TARGETS_MS.items()}
        result["b_targets"] = {**met, "no_errors": b["all"]["errors"] == 0}
        result["b_targets_met"] = all(result["b_targets"].values())
        print(f"(b) targets: {result['b_targets']}")
    return result


if __name__ == "__main__":
    main()
