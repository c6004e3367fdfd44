"""Make Galaxy find the NeLS file source.

Galaxy 26.1 looks for file-source plugins only among the modules of
``galaxy.files.sources`` (no entry points). This places a one-line module
there, ``nels.py``, that imports the plugin from this package. Run it with
the Python of Galaxy's environment (the web process and jobs share it):

    <galaxy venv>/bin/python -m galaxy_plugin.install [--check | --uninstall]

``patches/galaxy-file-source-entry-points.patch`` is the upstream change
that would make this step unnecessary.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

SHIM_NAME = "nels.py"
SHIM = """\
# Placed by nels-bundle (python -m galaxy_plugin.install). Galaxy finds
# file-source plugins only among the modules of this package; the plugin
# itself lives in the nels-bundle distribution.
from galaxy_plugin.file_source import NelsFilesSource

__all__ = ("NelsFilesSource",)
"""


def sources_dir() -> Path:
    try:
        sources = importlib.import_module("galaxy.files.sources")
    except ImportError:
        raise SystemExit(
            "galaxy.files is not importable here: run this with the Python of Galaxy's environment"
        ) from None
    return Path(sources.__path__[0])


def install() -> Path:
    target = sources_dir() / SHIM_NAME
    if target.exists() and target.read_text() != SHIM:
        raise SystemExit(f"{target} exists and is not ours; not replacing it")
    tmp = target.with_suffix(".py.tmp")
    tmp.write_text(SHIM)
    tmp.replace(target)
    return target


def check() -> str:
    """The plugin class Galaxy's own loader finds for ``type: nels``."""
    from galaxy.files.plugins import FileSourcePluginLoader

    cls = FileSourcePluginLoader().get_plugin_type_class("nels")
    return f"{cls.__module__}.{cls.__name__}"


def uninstall() -> None:
    target = sources_dir() / SHIM_NAME
    if target.exists() and target.read_text() == SHIM:
        target.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m galaxy_plugin.install", description=__doc__)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="only report what Galaxy finds")
    group.add_argument("--uninstall", action="store_true")
    args = ap.parse_args(argv)
    if args.uninstall:
        uninstall()
        print("removed the NeLS file source shim")
        return 0
    if not args.check:
        print(f"installed {install()}")
    try:
        print(f"Galaxy loads type 'nels' from {check()}")
    except KeyError:
        print("Galaxy does not find the 'nels' file source", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
