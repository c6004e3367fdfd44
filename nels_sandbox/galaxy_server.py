"""A real Galaxy 26.1 server for tests: ``galaxy-web`` from Galaxy's own
environment, SQLite, a database vault, a Celery worker on Redis (as a
production Galaxy runs its tasks: history exports among them), the local
job runner, the NeLS file source configured against the sandbox, and our
tools (``tool_xml/``) with their requirement resolved to our environment.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import requests

from .sshd import free_port


class GalaxyServer:
    def __init__(
        self,
        workdir: Path,
        venv: Path,
        file_sources: str,
        preferences: str,
        celery_broker: str,
        tools: tuple[Path, ...] = (),
        tool_env: Path | None = None,
        job_env: dict[str, str] | None = None,
    ):
        """``tools``: tool XML files for a "NeLS" section; ``tool_env``: the Python
        environment their ``nels-bundle`` requirement resolves to; ``job_env``:
        variables every job gets, as an admin sets them in the job configuration;
        ``celery_broker``: a Redis URL for Galaxy's Celery worker (run eagerly
        in the web process instead, Galaxy 26.1's tasks lose the records of
        history exports, so its UI could not show how they went)."""
        self.workdir = Path(workdir)
        self.celery_broker = celery_broker
        self.tools, self.tool_env = tuple(Path(t).resolve() for t in tools), tool_env
        self.job_env = dict(job_env or {})
        self.venv = Path(venv)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = secrets.token_hex(16)
        self._proc: subprocess.Popen | None = None
        self._worker: subprocess.Popen | None = None
        self._write_config(file_sources, preferences)

    def _write_config(self, file_sources: str, preferences: str) -> None:
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        (d / "file_sources_conf.yml").write_text(file_sources)
        (d / "user_preferences_extra_conf.yml").write_text(preferences)
        fernet = base64.urlsafe_b64encode(os.urandom(32)).decode()
        vault = d / "vault_conf.yml"
        vault.write_text(f"type: database\npath_prefix: /galaxy\nencryption_keys:\n  - {fernet}\n")
        vault.chmod(0o600)
        env = "".join(
            f"        - name: {json.dumps(k)}\n          value: {json.dumps(v)}\n"
            for k, v in self.job_env.items()
        )
        (d / "job_conf.yml").write_text(
            "runners:\n  local:\n    load: galaxy.jobs.runners.local:LocalJobRunner\n"
            "    workers: 2\n"
            "execution:\n  default: local\n  environments:\n    local:\n      runner: local\n"
            + (f"      env:\n{env}" if env else "")
        )
        self._write_toolbox(d)
        config = d / "galaxy.yml"
        config.write_text(
            "galaxy:\n"
            f"  data_dir: {d / 'data'}\n"
            f"  database_connection: sqlite:///{d / 'data' / 'universe.sqlite'}"
            "?isolation_level=IMMEDIATE\n"
            "  database_auto_migrate: true\n"
            f"  file_sources_config_file: {d / 'file_sources_conf.yml'}\n"
            f"  user_preferences_extra_conf_path: {d / 'user_preferences_extra_conf.yml'}\n"
            f"  vault_config_file: {vault}\n"
            f"  job_config_file: {d / 'job_conf.yml'}\n"
            f"  tool_config_file: {d / 'tool_conf.xml'}\n"
            f"  tool_dependency_dir: {d / 'deps'}\n"
            f"  dependency_resolvers_config_file: {d / 'dependency_resolvers_conf.xml'}\n"
            f"  bootstrap_admin_api_key: {self.admin_key}\n"
            "  admin_users: admin@example.org\n"
            "  allow_user_creation: true\n"
            "  enable_celery_tasks: true\n"
            + self._celery_conf()
            # no hash task per dataset: not what is tested, and one more task per upload
            + "  calculate_dataset_hash: never\n"
            # each job's metadata set by the worker already running, not by a
            # fresh Python that imports Galaxy (~9 s a job on two cores)
            "  metadata_strategy: directory_celery\n"
            "  enable_mulled_containers: false\n"
            "  involucro_auto_init: false\n"
            "  conda_auto_init: false\n"
            "  conda_auto_install: false\n"
            "  watch_tools: 'false'\n"
            "  check_job_script_integrity: false\n"
            # job folders stay, so tests can look at what a job left behind
            "  cleanup_job: never\n"
            f"  galaxy_virtual_env: {self.venv}\n"
        )
        config.chmod(0o600)
        self.config = config

    def _celery_conf(self) -> str:
        return (
            "  celery_conf:\n"
            f"    broker_url: {self.celery_broker}\n"
            f"    result_backend: {self.celery_broker}\n"
            # data fetch runs as a real job, so the plugin is proven where
            # jobs rebuild it without a user
            "    task_routes:\n      galaxy.fetch_data: disabled\n"
        )

    def _write_toolbox(self, d: Path) -> None:
        tools = "".join(f'    <tool file="{t}"/>\n' for t in self.tools)
        section = f'  <section id="nels" name="NeLS">\n{tools}  </section>\n' if tools else ""
        (d / "tool_conf.xml").write_text(f'<?xml version="1.0"?>\n<toolbox>\n{section}</toolbox>\n')
        # the requirement `nels-bundle` resolves as a Galaxy package: an env.sh
        # that puts our environment first on PATH (no conda, no containers)
        (d / "dependency_resolvers_conf.xml").write_text(
            "<dependency_resolvers>\n  <galaxy_packages />\n</dependency_resolvers>\n"
        )
        if self.tool_env is not None:
            from importlib.metadata import version

            package = d / "deps" / "nels-bundle" / version("nels-bundle")
            package.mkdir(parents=True, exist_ok=True)
            (package / "env.sh").write_text(
                f'PATH="{Path(self.tool_env).resolve() / "bin"}:$PATH"\nexport PATH\n'
            )

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        env["GALAXY_VIRTUAL_ENV"] = str(self.venv)
        env["GALAXY_CONFIG_FILE"] = str(self.config)
        return env

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 - owned by the process
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=self._env(),
            start_new_session=True,
        )

    def start(self, timeout: float = 240.0) -> GalaxyServer:
        (self.workdir / "data").mkdir(exist_ok=True)
        web = [str(self.venv / "bin" / "galaxy-web"), "-c", str(self.config)]
        self._proc = self._spawn([*web, "-b", f"127.0.0.1:{self.port}"], "galaxy.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Galaxy exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/api/version", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(1)
        else:
            self.stop()
            raise RuntimeError(f"Galaxy did not answer within {timeout}s: {self.log_tail()}")
        # after the web process: it made the database the worker opens
        self._worker = self._start_worker(deadline)
        return self

    def _start_worker(self, deadline: float) -> subprocess.Popen:
        """Galaxy's Celery worker, as gravity starts it (one thread here)."""
        worker = self._spawn(
            [
                str(self.venv / "bin" / "celery"),
                "--app", "galaxy.celery", "worker",
                "--concurrency", "1", "--pool", "threads", "--loglevel", "info",
                "--queues", "celery,galaxy.internal,galaxy.external",
                "--hostname", f"galaxy-{self.port}@127.0.0.1",
            ],
            "celery.log",
        )  # fmt: skip
        log = self.workdir / "celery.log"
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                self.stop()
                raise RuntimeError(f"Galaxy's Celery worker exited: {self.log_tail(log=log)}")
            if log.exists() and " ready." in log.read_text(errors="replace"):
                return worker
            time.sleep(1)
        os.killpg(worker.pid, signal.SIGKILL)
        self.stop()
        raise RuntimeError(f"Galaxy's Celery worker did not start: {self.log_tail(log=log)}")

    def log_tail(self, n: int = 3000, log: Path | None = None) -> str:
        """The end of the web process's log (with its worker's, which runs the tasks)."""
        logs = [log] if log else [self.workdir / "galaxy.log", self.workdir / "celery.log"]
        text = ""
        for f in logs:
            try:
                text += f.read_text(errors="replace")[-n:]
            except OSError:
                pass
        return text

    def stop(self) -> None:
        for proc in (self._worker, self._proc):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        self._proc = self._worker = None
