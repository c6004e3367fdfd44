"""Celery workers for a web app: in a thread of this process (the tests'
usual way of running jobs: Celery's own worker on the same Redis the web
app enqueues to, only its home differs), or as ``nels-bundle worker`` in a
process of its own (the demo's, and the tests' that kill one); and its
beat, ``nels-bundle beat``, in a process of its own (the demo's, a test's)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Self

from .server_process import ServerProcess, die_with_parent


class ThreadWorker:
    def __init__(self, app, concurrency: int = 2):
        self.celery = app.extensions["nels_bundle"]["celery"]
        self.concurrency = concurrency
        self._running = None

    def start(self) -> ThreadWorker:
        from celery.contrib.testing.worker import start_worker

        # Redis asked for work every 0.1 s, not 1 s: a stop waits for the current ask,
        # and the tests stop hundreds of workers
        options = self.celery.conf.broker_transport_options
        self.celery.conf.broker_transport_options = {**options, "polling_interval": 0.1}
        self._running = start_worker(
            self.celery,
            pool="threads",
            concurrency=self.concurrency,
            perform_ping_check=False,  # no result to wait for: jobs live in the database
            loglevel="WARNING",
            shutdown_timeout=60,
        )
        self._running.__enter__()
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


class CommandProcess(ServerProcess):
    """``nels-bundle <command> --web-config ...`` as its own process, as a site runs it."""

    command = ""

    def __init__(self, web_config: str | os.PathLike, log: str | os.PathLike, *args: str):
        self.web_config, self.log, self.args = Path(web_config), Path(log), args
        self._proc = None

    def start(self) -> Self:
        log = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "nels_cli", self.command, "--web-config",
             str(self.web_config), *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        return self

    @property
    def pid(self) -> int:
        return self._proc.pid


class WorkerProcess(CommandProcess):
    """``nels-bundle worker``: the demo's worker, and the tests' when a
    worker is to be killed."""

    command = "worker"


class BeatProcess(CommandProcess):
    """``nels-bundle beat``: the demo's, and the test's that sees it sweep."""

    command = "beat"
