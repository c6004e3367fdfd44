"""A deposited bundle kept beside the data it describes, in NeLS (or the local
folder it was exported from): after ``ena submit`` and ``biostudies submit``
have sent something, and on demand with ``isa keep``."""

from __future__ import annotations

import json
from pathlib import Path

from nels_core.errors import ConfigError, NelsError
from nels_core.isa.export import REPORT
from nels_core.isa.kept_bundles import keep_bundle

from .context import err, open_folder, out
from .show import literal, warning


def keep_beside_data(ctx, bundle: Path, into: str | None = None) -> str:
    """Zip ``bundle`` into its source folder's ``nels-metadata/``; the path written."""
    try:
        report = json.loads((bundle / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ConfigError(
            f"{bundle} has no readable {REPORT}: not a bundle nels-bundle exported"
        ) from None
    location = into or report.get("source", "")
    store, base = _folder(ctx, location)
    path = keep_bundle(store, base, bundle, report.get("investigation") or bundle.name)
    shown = f"nels://{path}" if "://" in location else str(Path(location) / path)
    out.print(literal(f"Kept the bundle beside the data: {shown}"), soft_wrap=True)
    return path


def _folder(ctx, location: str):
    found = open_folder(ctx, location)
    if found is not None:
        return found
    raise ConfigError(
        f"{location or 'the folder the bundle came from'} is neither a NeLS folder nor a "
        "local folder here; name one with --into"
    )


def keep_after_deposit(ctx, bundle: Path) -> str:
    """The deposit stands whatever happens here: a failure is a warning ("" kept)."""
    try:
        return keep_beside_data(ctx, bundle)
    except NelsError as e:
        err.print(warning(f"the deposited bundle was not kept beside the data: {e}"))
        return ""
