"""``nels-bundle serve``: the web app under gunicorn (``--dev``: Werkzeug's
server, for debugging); with ``--demo``, on the embedded stand-ins, with
its own Redis, job worker and beat (``nels_sandbox.web_site``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import click

from nels_core import config as nels_config

from .context import WEB_CONFIG
from .show import visible

# the access log never shows a query string: the sign-in callback's holds an OAuth2 code
ACCESS_LOG = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


@click.command("serve")
@click.option("--demo", is_flag=True, help="Run on embedded NeLS and SEEK sandboxes.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=5000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Web processes (gunicorn); jobs run in `nels-bundle worker`.",
)
@click.option("--dev", is_flag=True, help="Werkzeug's development server, one process.")
@click.option(
    "--web-config",
    type=WEB_CONFIG,
    help="TOML settings for the web app (else $NELS_BUNDLE_WEB_CONFIG).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=nels_config.DEMO_DIR.parent / "web-demo",
    show_default=True,
    help="Where --demo keeps its NeLS tree and database (made fresh each run).",
)
def serve_cmd(
    demo: bool,
    host: str,
    port: int,
    workers: int,
    dev: bool,
    web_config: Path | None,
    directory: Path,
) -> None:
    """Serve the web app: sign in with NeLS, browse, push to SEEK, pull, deposit."""
    if demo:
        _serve_demo(port, web_config, directory)
        return
    from nels_web import create_app

    app = create_app(web_config)  # refused here, in one line, on a weak key or a missing setting
    click.echo(
        f"nels-bundle web app: http://{host}:{port} (public address {app.config['PUBLIC_URL']})"
    )
    if dev:
        _werkzeug(app, host, port)
        return
    _gunicorn(web_config, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 8,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG,
        "errorlog": "-",
        "timeout": 120,  # a preview of a large folder; every long job is a worker's
        "keepalive": 30,  # gunicorn's 2 s closed idle connections as browsers reused them
        "graceful_timeout": 30,
        "control_socket_disable": True,  # one per user's home: two sites would share it
    }).run()  # fmt: skip


def _werkzeug(app, host: str, port: int) -> None:
    from nels_web.headers import RequestHandler  # no server versions in its answers

    app.run(host, port, threaded=True, use_reloader=False, request_handler=RequestHandler)


def _gunicorn(web_config: Path | None, options: dict):
    """gunicorn with our settings; each web process makes its own app (its own
    database connections) from the same settings file."""
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from nels_web import create_app

            return create_app(web_config)

    return Gunicorn()


def _serve_demo(port: int, web_config: Path | None, directory: Path) -> None:
    from nels_sandbox.deposit import local_ena_schemas
    from nels_sandbox.job_worker import BeatProcess, WorkerProcess
    from nels_sandbox.web_site import demo_web_config, start_deposit_sandboxes, start_sandboxes
    from nels_web import create_app

    if web_config is not None:
        raise click.UsageError("--demo makes its own settings; leave out --web-config")
    marker = directory / ".nels-bundle-web-demo"
    if directory.exists() and any(directory.iterdir()) and not marker.exists():
        raise click.UsageError(
            f"{visible(str(directory))} is not an earlier web demo; give another --dir"
        )
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    marker.touch()
    sandboxes = start_sandboxes(directory)
    try:
        schemas = local_ena_schemas()
        if schemas is not None:
            start_deposit_sandboxes(sandboxes, schemas)
        settings = demo_web_config(sandboxes, f"http://127.0.0.1:{port}")
        # the worker process reads the same settings: a file only this user can read
        settings_file = directory / "web-config.json"
        fd = os.open(settings_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(settings, f, default=str)
        app = create_app(settings_file)
        sandboxes.served.insert(0, WorkerProcess(settings_file, directory / "worker.log").start())
        sandboxes.served.insert(0, BeatProcess(settings_file, directory / "beat.log").start())
        _say_demo(sandboxes, port, directory)
        _werkzeug(app, "127.0.0.1", port)
    finally:
        sandboxes.stop()


def _say_demo(sandboxes, port: int, directory: Path) -> None:
    click.echo(f"nels-bundle web app (demo): open http://127.0.0.1:{port}")
    click.echo(f"  NeLS sign-in:  user '{sandboxes.username}', password {sandboxes.password}")
    click.echo(f"  SEEK sandbox:  {sandboxes.seek_url}")
    click.echo(f"                 API token {sandboxes.seek_token}")
    click.echo(f"                 project number {sandboxes.seek_project}")
    d = sandboxes.deposit
    if d is not None:
        click.echo(f"  ENA stand-in:  Webin account {d.account}, password {d.password}")
        click.echo(f"  BioStudies:    {d.biostudies_login}, password {d.biostudies_password}")
    else:
        click.echo(
            "  Deposits off: ENA's schemas are not on this machine (set NELS_ENA_XSD_DIR, "
            "or run nels-bundle ena prepare once online to cache them)"
        )
    click.echo(
        f"  Jobs:          Redis {sandboxes.redis_url}, one worker and its beat "
        "(logs: worker.log, beat.log)"
    )
    click.echo(
        f"  Everything runs on 127.0.0.1 and lives in {visible(str(directory))}. Ctrl-C stops it."
    )
