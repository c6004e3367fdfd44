"""``nels-bundle beat``: Celery beat for the web app. It sends the periodic
sweeps (``nels_web.sweeps``: old pulls, abandoned and lost jobs) to the
workers every ``SWEEP_EVERY`` seconds, with the same settings file as
``serve`` and ``worker``. Run exactly one per site: a second one makes
every sweep run twice, harmless but useless."""

from __future__ import annotations

from pathlib import Path

import click

from .context import web_config_option

SCHEDULE_FILE = "beat-schedule"  # in WORK_DIR, which every site has and can write to


@click.command("beat")
@web_config_option
@click.option(
    "--schedule-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where beat notes when each sweep last ran (default: WORK_DIR/{SCHEDULE_FILE}).",
)
def beat_cmd(web_config: Path | None, schedule_file: Path | None) -> None:
    """Send the web app's periodic sweeps to its workers: run exactly one."""
    import logging

    from nels_web import create_app

    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s: %(levelname)s/%(name)s] %(message)s"
    )
    app = create_app(web_config)
    celery = app.extensions["nels_bundle"]["celery"]
    # not Celery's default, celerybeat-schedule in the current folder: a service's is often /
    schedule = schedule_file or Path(app.config["WORK_DIR"]) / SCHEDULE_FILE
    celery.Beat(schedule=str(schedule), loglevel="INFO").run()
