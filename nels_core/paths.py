"""Normalising user paths once, at the edge.

A NeLS path is relative to the user's home (``/nels/users/<username>``) and
always starts in one of the visible roots: ``Personal`` or
``Projects/<ProjectName>``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from .errors import UnsafePathError

PERSONAL = "Personal"
PROJECTS = "Projects"
URI_SCHEME = "nels://"


def project_folder_name(project_name: str) -> str:
    """The folder a project gets under ``Projects/``: spaces become ``-``."""
    return "-".join(project_name.split())


def normalise(path: str) -> str:
    """Return a clean relative path (``''`` is the home), or refuse it.

    Refuses NUL bytes, absolute paths, ``..`` components and backslashes,
    which the official NeLS client refuses too. ``nels://`` is stripped.
    """
    if not isinstance(path, str):
        raise UnsafePathError(f"path must be text, got {type(path).__name__}")
    if "\x00" in path:
        raise UnsafePathError(f"path contains a NUL byte: {path!r}")
    if path.startswith(URI_SCHEME):
        path = path[len(URI_SCHEME) :]
    if path.startswith("/"):
        raise UnsafePathError(f"absolute paths are refused: {path!r}")
    if "\\" in path:
        raise UnsafePathError(f"backslashes are refused in NeLS paths: {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePathError(f"'..' is refused in NeLS paths: {path!r}")
    return "/".join(parts)


def to_uri(path: str) -> str:
    return URI_SCHEME + normalise(path)


@dataclass(frozen=True)
class Location:
    """Where a normalised path lies in the NeLS layout."""

    path: str
    area: str | None  # "Personal", "Projects", or None for the home itself
    project: str | None  # project folder name when area == "Projects"
    inner: str  # path below the area root ("" at the root)

    @property
    def is_area_root(self) -> bool:
        """The home, ``Personal``, ``Projects`` or ``Projects/<Name>`` itself."""
        if self.area is None:
            return True
        if self.area == PERSONAL:
            return self.inner == ""
        return self.project is None or self.inner == ""


def locate(path: str) -> Location:
    """Classify an already normalised path."""
    parts = path.split("/") if path else []
    if not parts:
        return Location(path, None, None, "")
    top = parts[0]
    if top == PERSONAL:
        return Location(path, PERSONAL, None, "/".join(parts[1:]))
    if top == PROJECTS:
        project = parts[1] if len(parts) > 1 else None
        return Location(path, PROJECTS, project, "/".join(parts[2:]))
    raise UnsafePathError(
        f"{path!r} is outside NeLS's visible roots; paths start with "
        f"'{PERSONAL}/' or '{PROJECTS}/<ProjectName>/'"
    )


def join(*parts: str) -> str:
    return normalise(posixpath.join(*[p for p in parts if p]))
