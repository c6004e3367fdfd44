"""``nels-bundle worker``: runs the web app's jobs (pushes, pulls, deposits)
as a Celery worker on the app's Redis, with the same settings file as
``serve``. Start as many as the work needs, on as many hosts as share the
database, Redis and ``WORK_DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from .context import web_config_option


@click.command("worker")
@web_config_option
@click.option(
    "--concurrency", type=click.IntRange(1, 64), help="Jobs at once (default: JOB_WORKERS)."
)
def worker_cmd(web_config: Path | None, concurrency: int | None) -> None:
    """Run the web app's jobs: a Celery worker on its Redis."""
    import logging

    from nels_web import create_app

    # our own lines (a job claimed, tried again, failed) beside Celery's
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s: %(levelname)s/%(name)s] %(message)s"
    )
    app = create_app(web_config)
    celery = app.extensions["nels_bundle"]["celery"]
    jobs_at_once = concurrency or int(app.config["JOB_WORKERS"])
    # threads: the jobs wait on NeLS, SEEK and the archives, and a thread shares
    # the database engine made above (a forked process would have to remake it)
    celery.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={jobs_at_once}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname=nels-bundle@%h",
        ]
    )
