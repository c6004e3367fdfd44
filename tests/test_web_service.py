"""The web app as a site runs it: two gunicorn web processes (``nels-bundle
serve``) and two Celery workers (``nels-bundle worker``) on one Redis and
one PostgreSQL. Ten pushes and ten deposits of one folder at once make one
SEEK record and one ENA accession per item; a worker killed with SIGKILL in
the middle of a push leaves its job to the other, which finishes it with
nothing made twice, while the web processes killed and started again tell
the job's true state; so does one killed while ENA holds back its answer to
a deposit; ``/health`` says what answers."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from conftest import fresh_database
from sqlalchemy import create_engine, text
from test_ena_xml import fill_sheet

from nels_cli.demo import OWN_PROJECT, RUN, SEQ_PROJECT
from nels_sandbox.job_worker import WorkerProcess
from nels_sandbox.sshd import free_port
from nels_sandbox.web_site import demo_web_config, start_deposit_sandboxes, start_sandboxes

FOLDER = f"Projects/{SEQ_PROJECT}"
RUN_FOLDER = f"{FOLDER}/NorSeq/{RUN}"
OTHER_FOLDER = f"Projects/{OWN_PROJECT}"
TIMINGS = {  # a dead worker is noticed in seconds here, not minutes
    "JOB_HEARTBEAT": 0.5,
    "JOB_STALE_AFTER": 3,
    "JOB_REDELIVER_AFTER": 6,
}


@pytest.fixture
def service(tmp_path, postgres_url, specs):
    sandboxes = start_sandboxes(tmp_path / "site", samples=("Liver-1", "Gill-1", "Kidney-1"))
    start_deposit_sandboxes(sandboxes, specs / "ena")
    seek = sandboxes.served[1].server.app  # the SEEK stand-in: slowed on demand
    slow = {"seconds": 0.0}
    seek.before_request(lambda: time.sleep(slow["seconds"]) or None)
    port = free_port()
    settings = {
        **demo_web_config(sandboxes, f"http://127.0.0.1:{port}"),
        "DATABASE_URL": fresh_database(
            postgres_url, "svc_" + re.sub(r"\W", "_", tmp_path.name)[:40]
        ),
        "MAX_CONTENT_LENGTH": 2 << 20,
        **TIMINGS,
    }
    settings_file = tmp_path / "web.json"
    settings_file.write_text(json.dumps(settings, default=str))
    settings_file.chmod(0o600)
    web = WebProcess(settings_file, port, tmp_path / "web.log").start()
    workers = [
        WorkerProcess(settings_file, tmp_path / f"worker-{n}.log", "--concurrency", "2").start()
        for n in (1, 2)
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        yield sandboxes, url, workers, slow, settings, web
    finally:
        for w in workers:
            w.stop()
        web.stop()
        sandboxes.stop()


class WebProcess:
    """``nels-bundle serve`` (gunicorn, two web processes), in a process group
    of its own: killed whole, as a crashed host would lose it."""

    def __init__(self, settings_file, port: int, log):
        self.settings_file, self.port, self.log = settings_file, port, log
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> "WebProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nels_cli", "serve", "--web-config", str(self.settings_file),
             "--port", str(self.port), "--workers", "2"],
            stdout=open(self.log, "ab"),  # noqa: SIM115 - the process's
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        _wait_healthy(self.url, self.proc, self.log)
        return self

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)


def _wait_healthy(url: str, web, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert web.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("the web app did not come up: " + log.read_text()[-3000:])


def sign_in(url: str, sandboxes) -> requests.Session:
    """The browser's part of the OAuth2 dance, over HTTP to gunicorn."""
    browser = requests.Session()
    authorize = browser.get(f"{url}/login", allow_redirects=False).headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    answer = requests.post(
        authorize.split("?")[0],
        data={**query, "username": sandboxes.username, "password": sandboxes.password},
        allow_redirects=False,
        timeout=10,
    )
    landed = browser.get(answer.headers["Location"], allow_redirects=False)
    assert landed.status_code == 302, landed.text
    return browser


def csrf(browser: requests.Session, page: str) -> str:
    return browser.get(page).text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def start_job(browser, url: str, form_page: str, action: str, **fields) -> str:
    token = csrf(browser, f"{url}{form_page}")
    r = browser.post(f"{url}{action}", data={"csrf_token": token, **fields}, allow_redirects=False)
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"], r.text[-2000:]
    return r.headers["Location"]


def wait_job(browser, url: str, job: str, seconds: float = 180) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = browser.get(f"{url}{job}.json").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError(f"{job} still {state}")


def test_many_web_and_worker_processes_make_each_record_once(service, tmp_path):
    sandboxes, url, workers, slow, settings, web = service
    browser = sign_in(url, sandboxes)
    token = csrf(browser, f"{url}/seek")
    connected = browser.post(
        f"{url}/seek",
        data={"csrf_token": token, "seek_url": sandboxes.seek_url, "token": sandboxes.seek_token},
    )
    assert "Connected to" in connected.text
    save_sheet(browser, url)

    push = {"path": FOLDER, "account": "1", "project": sandboxes.seek_project}
    with ThreadPoolExecutor(10) as pool:  # ten pushes of one folder at once
        jobs = list(
            pool.map(
                lambda _: start_job(browser, url, f"/isa/{FOLDER}", "/push", **push), range(10)
            )
        )
        states = list(pool.map(lambda j: wait_job(browser, url, j), jobs))
    assert [s["state"] for s in states] == ["done"] * 10, [s["message"] for s in states]
    records = sandboxes.seek_world.records
    assert len(records["investigations"]) == 1
    names = [r.attributes["attribute_map"]["sample name"] for r in records["samples"].values()]
    assert sorted(names) == ["Gill-1", "Kidney-1", "Liver-1"]  # one of each, not ten

    d = sandboxes.deposit
    deposit = {
        "path": FOLDER,
        "server": "test",
        "webin_account": d.account,
        "webin_password": d.password,
    }
    with ThreadPoolExecutor(10) as pool:  # ten deposits of one folder at once
        jobs = list(
            pool.map(
                lambda _: start_job(browser, url, f"/deposit/{FOLDER}", "/deposits/ena", **deposit),
                range(10),
            )
        )
        states = list(pool.map(lambda j: wait_job(browser, url, j), jobs))
    assert [s["state"] for s in states] == ["done"] * 10, [s["message"] for s in states]
    held = d.webin_world.objects[d.account]
    counts = {k: len(v) for k, v in held.items() if v}
    assert counts["project"] == 1 and counts["sample"] == 3, counts
    assert counts["experiment"] == 3 and counts["run"] == 6, counts  # a run per lane
    accessions = [o.accession for kind in held.values() for o in kind.values()]
    assert len(accessions) == len(set(accessions))
    added = [a for _, actions, ok in d.webin_world.submissions if ok for a in actions]
    assert sum(1 for a in added if a.startswith("ADD")) == 1  # one submission added them

    # a worker killed mid-push: the other takes the job over and makes nothing twice
    slow["seconds"] = 0.3
    before = {kind: len(v) for kind, v in records.items()}
    job = start_job(
        browser, url, f"/isa/{RUN_FOLDER}", "/push",
        path=RUN_FOLDER, account="1", project=sandboxes.seek_project,
    )  # fmt: skip
    job_id = job.rsplit("/", 1)[1]
    victim_pid = _claimed_by(settings["DATABASE_URL"], job_id)
    assert victim_pid in [w.pid for w in workers]
    time.sleep(1.5)  # a few records sent
    os.kill(victim_pid, signal.SIGKILL)
    web.kill()  # the web processes too: the job is not theirs, and the page tells its state
    web.start()
    assert browser.get(f"{url}{job}.json").json()["state"] in ("running", "queued")
    slow["seconds"] = 0.0
    state = wait_job(browser, url, job, seconds=120)
    assert state["state"] == "done", state["message"]
    made = {kind: len(v) - before.get(kind, 0) for kind, v in records.items()}
    assert made["investigations"] == 1 and made["samples"] == 3, made  # each once
    row = _job_row(settings["DATABASE_URL"], job_id)
    assert row["attempts"] == 2 and f":{victim_pid}:" not in row["worker"]

    # past the upload limit under gunicorn: the "Too large" page, not a reset connection
    token = csrf(browser, f"{url}/deposit/{FOLDER}")
    too_big = browser.post(
        f"{url}/deposits/sheet",
        params={"path": FOLDER},
        data={"csrf_token": token, "path": FOLDER},
        files={"sheet": ("metadata.tsv", b"#" * (3 << 20))},
    )
    assert too_big.status_code == 413 and "<h1>Too large</h1>" in too_big.text

    logs = b"".join(f.read_bytes() for f in tmp_path.glob("*.log"))
    assert b"Received task" in logs or b"claimed" in logs  # the workers did log
    for secret in (d.password, sandboxes.seek_token, sandboxes.password):
        assert secret.encode() not in logs

    health = requests.get(f"{url}/health", timeout=5).json()
    assert health == {
        "status": "ok", "database": "ok", "queue": "ok", "oldest_queued_seconds": 0
    }  # fmt: skip


def test_a_worker_killed_while_ena_holds_its_answer_leaves_no_duplicate(service):
    sandboxes, url, workers, _, settings, _ = service
    d = sandboxes.deposit
    browser = sign_in(url, sandboxes)
    save_sheet(browser, url)
    d.webin_world.stall_once = 8.0  # ENA takes the submission, and answers 8 s later
    job = start_job(
        browser, url, f"/deposit/{FOLDER}", "/deposits/ena",
        path=FOLDER, server="test", webin_account=d.account, webin_password=d.password,
    )  # fmt: skip
    job_id = job.rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while not d.webin_world.submissions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert d.webin_world.submissions, "the deposit never reached ENA"
    victim_pid = _claimed_by(settings["DATABASE_URL"], job_id)
    os.kill(victim_pid, signal.SIGKILL)  # the answer never reaches this worker

    state = wait_job(browser, url, job, seconds=120)
    assert state["state"] == "done", state["message"]
    held = d.webin_world.objects[d.account]
    assert {k: len(v) for k, v in held.items() if v} == {
        "project": 1, "sample": 3, "experiment": 3, "run": 6
    }  # fmt: skip
    added = [a for _, actions, ok in d.webin_world.submissions if ok for a in actions]
    assert sum(1 for a in added if a.startswith("ADD")) == 1  # settled, not sent again
    row = _job_row(settings["DATABASE_URL"], job_id)
    assert row["attempts"] == 2 and f":{victim_pid}:" not in row["worker"]


def test_a_worker_killed_mid_archive_leaves_each_file_in_storebioinfo_once(service):
    """The StoreBioinfo archive of a run, its worker killed with SIGKILL after
    a few files: the other worker takes the job over, sends only what SBI
    does not hold whole, and every file is stored once, byte for byte."""
    sandboxes, url, _workers, _, settings, _ = service
    world = sandboxes.nels_world
    project = world.projects[sandboxes.seq_project_id]
    run = world.project_dir(project) / "NorSeq" / RUN
    stored = world.sbi_dir(project, "Run1", "reads", RUN)
    world.processing_seconds = 0.3  # each transfer job a while: room to kill mid-run
    browser = sign_in(url, sandboxes)
    job = start_job(
        browser, url, f"/sbi/archive/{RUN_FOLDER}", "/sbi/archive",
        path=RUN_FOLDER, dataset="Run1", type="Illumina_seq_data", subtype="reads",
    )  # fmt: skip
    job_id = job.rsplit("/", 1)[1]
    victim_pid = _claimed_by(settings["DATABASE_URL"], job_id)
    deadline = time.monotonic() + 60
    while not stored.is_dir() or sum(1 for p in stored.rglob("*") if p.is_file()) < 3:
        assert time.monotonic() < deadline, "no file archived"
        time.sleep(0.02)
    os.kill(victim_pid, signal.SIGKILL)
    state = wait_job(browser, url, job, seconds=120)
    assert state["state"] == "done", state["message"]

    def files(folder):
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }

    assert files(stored) == files(run)
    uploads = [j for j in world.jobs.values() if j["kind"] == "upload" and j["state_id"] == 101]
    assert len(uploads) == len(files(run))  # each file stored by one transfer job
    row = _job_row(settings["DATABASE_URL"], job_id)
    assert row["attempts"] == 2 and f":{victim_pid}:" not in row["worker"]


def test_deposits_of_two_projects_at_once_make_each_object_once(service):
    from nels_sandbox.norseq import DeliverySpec, make_delivery

    sandboxes, url, _, _, _, _ = service
    world, d = sandboxes.nels_world, sandboxes.deposit
    own = next(p for p in world.projects.values() if p.name == OWN_PROJECT)
    run = "240212_A01447_0200_BHXYZ3DRX4"  # a second delivery, in the user's own project
    make_delivery(world.project_dir(own) / "NorSeq" / run, DeliverySpec(run, ("Gut-1", "Gut-2")))
    browser = sign_in(url, sandboxes)
    for folder in (FOLDER, OTHER_FOLDER):
        save_sheet(browser, url, folder)
    login = {"server": "test", "webin_account": d.account, "webin_password": d.password}
    with ThreadPoolExecutor(10) as pool:  # five of each folder, all at once
        started = [
            pool.submit(start_job, browser, url, f"/deposit/{f}", "/deposits/ena", path=f, **login)
            for f in [FOLDER, OTHER_FOLDER] * 5
        ]
        states = list(pool.map(lambda j: wait_job(browser, url, j.result()), started))
    assert [s["state"] for s in states] == ["done"] * 10, [s["message"] for s in states]
    held = d.webin_world.objects[d.account]
    counts = {k: len(v) for k, v in held.items() if v}
    assert counts == {"project": 2, "sample": 5, "experiment": 5, "run": 10}, counts
    accessions = [o.accession for kind in held.values() for o in kind.values()]
    assert len(accessions) == len(set(accessions))
    added = [a for _, actions, ok in d.webin_world.submissions if ok for a in actions]
    assert sum(1 for a in added if a.startswith("ADD")) == 2  # one submission per project


def save_sheet(browser, url: str, folder: str = FOLDER) -> None:
    """The folder's metadata sheet, filled, saved through the deposit page."""
    template = browser.get(f"{url}/deposits/sheet", params={"path": folder}).text
    token = csrf(browser, f"{url}/deposit/{folder}")
    saved = browser.post(
        f"{url}/deposits/sheet",
        params={"path": folder},
        data={"csrf_token": token, "path": folder},
        files={"sheet": ("metadata.tsv", fill_sheet(template).encode())},
    )
    assert "Sheet saved in NeLS" in saved.text


def _claimed_by(database_url: str, job_id: str, seconds: float = 30) -> int:
    """The pid of the worker that claimed the job."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = _job_row(database_url, job_id)
        if row and row["state"] == "running" and row["worker"]:
            return int(row["worker"].split(":")[1])
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} was not claimed: {row}")


def _job_row(database_url: str, job_id: str) -> dict | None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            row = (
                c.execute(
                    text("SELECT state, worker, attempts FROM jobs WHERE id = :id"), {"id": job_id}
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None
    finally:
        engine.dispose()


def test_health_says_what_does_not_answer(tmp_path):
    from test_web import production_settings

    from nels_web import create_app

    app = create_app(
        None, production_settings(tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    )
    r = app.test_client().get("/health")
    assert r.status_code == 503
    assert r.get_json() == {
        "status": "failing", "database": "ok", "queue": "not answering",
        "oldest_queued_seconds": 0,
    }  # fmt: skip


@pytest.mark.parametrize("proxies", [0, 1])
def test_the_forwarded_host_counts_only_behind_a_configured_proxy(tmp_path, proxies):
    from test_web import production_settings

    from nels_web import create_app

    app = create_app(None, production_settings(tmp_path, PROXY_FIX=proxies))
    came_from = "https://nels-bundle.example.org/browse/Projects/Lice"
    r = app.test_client().get(
        "/no-such-page",
        headers={
            "Referer": came_from,
            "X-Forwarded-Host": "nels-bundle.example.org",
            "X-Forwarded-Proto": "https",
        },
    )
    back = 'id="back" href="/browse/Projects/Lice"' in r.get_data(as_text=True)
    assert r.status_code == 404 and back == bool(proxies)
