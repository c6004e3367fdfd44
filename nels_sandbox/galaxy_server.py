"""A real Galaxy 26.1 server for tests: ``galaxy-web`` from Galaxy's own
environment, SQLite, a database vault, Celery tasks run eagerly, the local
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
        tools: tuple[Path, ...] = (),
        tool_env: Path | None = None,
        job_env: dict[str, str] | None = None,
    ):
        """``tools``: tool XML files for a "NeLS" section; ``tool_env``: the Python
        environment their ``nels-bundle`` requirement resolves to; ``job_env``:
        variables every job gets, as an admin sets them in the job configuration."""
        self.workdir = Path(workdir)
        self.tools, self.tool_env = tuple(Path(t).resolve() for t in tools), tool_env
        self.job_env = dict(job_env or {})
        self.venv = Path(venv)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = secrets.token_hex(16)
        self._proc: subprocess.Popen | None = None
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
            # tasks run in the web process; data fetch runs as a real job, so
            # the plugin is proven where jobs rebuild it without a user
            "  celery_conf:\n    task_always_eager: true\n    task_store_eager_result: true\n"
            "    task_routes:\n"
            "      galaxy.fetch_data: disabled\n"
            # an eager hash task would end the job handler's database session
            # in the middle of finishing the upload job
            "  calculate_dataset_hash: never\n"
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

    def start(self, timeout: float = 240.0) -> GalaxyServer:
        (self.workdir / "data").mkdir(exist_ok=True)
        log = open(self.workdir / "galaxy.log", "ab")  # noqa: SIM115 - owned by the process
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        env["GALAXY_VIRTUAL_ENV"] = str(self.venv)
        self._proc = subprocess.Popen(
            [
                str(self.venv / "bin" / "galaxy-web"),
                "-c",
                str(self.config),
                "-b",
                f"127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Galaxy exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                if requests.get(f"{self.url}/api/version", timeout=2).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"Galaxy did not answer within {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            return (self.workdir / "galaxy.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc = None
