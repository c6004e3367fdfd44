"""What every command shares: the two consoles, the NeLS home a command
opens (once), and secrets read from a file or the environment. Its own
module, so that the commands' modules and ``main`` import it and not each
other."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from nels_core import config as nels_config
from nels_core.connect import open_home
from nels_core.errors import ConfigError
from nels_core.home import Home
from nels_core.paths import normalise

out = Console()
err = Console(stderr=True, soft_wrap=True)

# the web service's settings file, as serve, worker, beat and db take it
WEB_CONFIG = click.Path(exists=True, dir_okay=False, path_type=Path)
web_config_option = click.option(
    "--web-config",
    type=WEB_CONFIG,
    help="The web app's settings (TOML), as given to serve (else $NELS_BUNDLE_WEB_CONFIG).",
)

# set by the Galaxy tools: the job's file sources (Galaxy's JSON), whose NeLS
# source then stands in for the config file, with the Galaxy user's token
GALAXY_FILE_SOURCES = "NELS_GALAXY_FILE_SOURCES"


def home_of(ctx: click.Context) -> Home:
    return open_nels(ctx, "nels://")[0]


def open_nels(ctx: click.Context, uri: str) -> tuple[Home, str]:
    """The NeLS home ``uri`` is in, opened once per command, and the path it names."""
    galaxy = os.environ.get(GALAXY_FILE_SOURCES)
    if galaxy:
        from nels_core.galaxy_job import build_job_home, nels_source, parse_file_sources

        settings, path = nels_source(parse_file_sources(galaxy), uri)
        key, opener = f"home:{settings.fingerprint()}", lambda: build_job_home(settings)
    else:
        if not uri.startswith("nels://"):
            raise ConfigError(f"{uri!r} is not a nels:// URI")
        path = normalise(uri)
        key, opener = "home", lambda: open_home(nels_config.load(ctx.obj["config"]))
    if key not in ctx.obj:
        ctx.obj[key] = opener()
        ctx.call_on_close(ctx.obj[key].close)
    return ctx.obj[key], path


def open_folder(ctx: click.Context, location: str) -> tuple | None:
    """``(store, path)`` of a NeLS folder (nels://, or in a Galaxy job any of the
    user's NeLS file sources) or a local one; None when it is neither."""
    if "://" in location:
        return open_nels(ctx, location)
    if location and Path(location).is_dir():
        from nels_core.storage.local import LocalStorage

        return LocalStorage(Path(location)), ""
    return None


def read_secret(path: Path | None, variable: str) -> str | None:
    """A token or password from the file given, else from ``$variable``:
    never from the command line, where other users' ``ps`` would show it."""
    return path.read_text().strip() if path else os.environ.get(variable)


def transfer_bars() -> Progress:
    """Bars of bytes moved, on a terminal's stderr only (gone when done)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
