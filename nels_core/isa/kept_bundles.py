"""Deposited ISA bundles kept in NeLS beside the data they describe.

After a deposit (or when asked) the bundle, with its accessions, receipts
and export report, goes into ``<folder>/nels-metadata/`` as a new zip named
by its time: members may add files there, never overwrite them, so each
deposit leaves its own dated copy, listed by ``ls``, Galaxy's NeLS browser
and the web app.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import zipfile
from pathlib import Path

from ..errors import NotFoundError
from .folder_sheet import FOLDER

PREFIX, SUFFIX = "isa-bundle-", ".zip"


def keep_bundle(store, base: str, bundle: Path, identifier: str) -> str:
    """Zip ``bundle`` into the folder's ``nels-metadata/``; the path written."""
    now = dt.datetime.now(dt.UTC)
    folder = f"{base}/{FOLDER}" if base else FOLDER
    name = f"{PREFIX}{_safe(identifier)}-{now:%Y-%m-%dT%H%M%S}.{now.microsecond // 1000:03d}Z"
    with tempfile.TemporaryDirectory(prefix="nels-bundle-zip-") as tmp:
        packed = Path(tmp) / "bundle.zip"
        _zip(bundle, packed, name)
        store.mkdir(folder)
        path = f"{folder}/{name}{SUFFIX}"
        with open(packed, "rb") as f:
            store.write(path, f)
    return path


def kept_bundles(store, base: str) -> list:
    """The folder's kept bundles (storage entries), newest first."""
    folder = f"{base}/{FOLDER}" if base else FOLDER
    try:
        entries = store.list(folder).entries
    except NotFoundError:
        return []
    found = [e for e in entries if not e.is_dir and e.name.startswith(PREFIX)]
    return sorted(found, key=lambda e: e.name, reverse=True)  # one identifier, then the time


def is_kept_bundle(path: str) -> bool:
    """Whether ``path`` names a kept bundle (the web app serves only those from there)."""
    folder, _, name = path.rpartition("/")
    return folder.rsplit("/", 1)[-1] == FOLDER and name.startswith(PREFIX) and name.endswith(SUFFIX)


def _zip(bundle: Path, target: Path, top: str) -> None:
    """Every file of the bundle under one top folder, in a stable order."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for root, dirs, files in os.walk(bundle):
            dirs.sort()
            for name in sorted(files):
                f = Path(root) / name
                z.write(f, f"{top}/{f.relative_to(bundle).as_posix()}")


def _safe(identifier: str) -> str:
    """An identifier as a file name part: letters, digits, ``-``, ``_`` and ``.``."""
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in identifier).strip(".")
    return kept[:80] or "isa"
