"""What Galaxy's file dialog shows of a NeLS home: names and write targets.

Needs nothing from Galaxy, so it is tested in the main environment too.

- Projects are shown by their NeLS name ("UiB Test Project"), their folder
  ("UiB-Test-Project") staying in the URI, with what limits them marked:
  ``[sensitive]`` (such data belongs in TSD), ``[locked]``, ``[read-only]``.
- ``StoreBioinfo`` (SBI projects, datasets, subtypes) is read-only here: its
  projects are shown by their names as they are, and a write picker finds
  no folder in it.
- A folder picker for a write lists only folders a file may go into. NeLS
  refuses files straight in the home, ``Personal``, ``Projects`` or a project
  root, so where one of those is open the picker shows the folders one level
  into each writable area instead, named by their way there
  ("Projects/UiB Test Project/results"): a place NeLS refuses cannot be picked.
"""

from __future__ import annotations

from nels_core import access
from nels_core.access import Op
from nels_core.errors import NelsError
from nels_core.home import SBI_ROOT, Home
from nels_core.model import Entry, Role
from nels_core.paths import PERSONAL, PROJECTS, locate


def display_name(home: Home, e: Entry) -> str:
    """The name a researcher knows an entry by."""
    parent, _, folder = e.path.rpartition("/")
    if parent != PROJECTS or not e.is_dir:
        return e.name
    m = home.account.membership(folder)
    if m is None:
        return e.name
    marks = [
        mark
        for mark, applies in (
            ("[sensitive]", m.project.issensitive),
            ("[locked]", m.project.locked),
            ("[read-only]", m.role is Role.READ_ONLY and not m.project.locked),
        )
        if applies
    ]
    return " ".join([m.project.name or folder, *marks])


def may_write_into(home: Home, folder: str) -> bool:
    """Whether NeLS lets this user create a file directly in ``folder``."""
    try:
        access.check(home.account, f"{folder}/probe" if folder else "probe", Op.CREATE)
        return True
    except NelsError:
        return False


def write_targets(home: Home, where: str) -> list[tuple[Entry, str]]:
    """The folders a write-intent picker offers at ``where``, with their names."""
    if where.split("/")[0] == SBI_ROOT:
        home.stat(where)  # what is not there is not found, as when reading
        return []  # read-only: archiving into StoreBioinfo is nels-bundle sbi archive's
    if where:
        home.stat(where)  # a project not the user's is not found, as when reading
    if may_write_into(home, where):
        return [(e, e.name) for e in _folders(home, where)]
    out = []
    for area in _areas_below(home, where):
        if not may_write_into(home, f"{area}/folder"):
            continue  # locked, read-only, or not the user's
        way = _way_to(home, area, where)
        out.extend((e, f"{way}{e.name}") for e in _folders(home, area))
    return out


def page_of(
    targets: list[tuple[Entry, str]],
    limit: int | None,
    offset: int,
    query: str | None,
    reverse: bool = False,
) -> tuple[list[tuple[Entry, str]], int]:
    """One page of named entries, filtered by name, in name order."""
    if query:
        targets = [t for t in targets if query.casefold() in t[1].casefold()]
    targets = sorted(targets, key=lambda t: (t[1].casefold(), t[1]), reverse=reverse)
    end = None if limit is None else offset + limit
    return targets[offset:end], len(targets)


def _folders(home: Home, path: str) -> list[Entry]:
    return [e for e in home.list(path).entries if e.is_dir]


def _areas_below(home: Home, where: str) -> list[str]:
    """The areas (``Personal``, ``Projects/<folder>``) at or below an area root."""
    projects = [f"{PROJECTS}/{folder}" for folder in sorted(home.account.memberships)]
    if where == "":
        return [PERSONAL, *projects]
    if where == PROJECTS:
        return projects
    return [where] if locate(where).is_area_root else []


def _way_to(home: Home, area: str, where: str) -> str:
    """How ``area`` is reached from ``where``, in display names, ending in '/'."""
    if area.startswith(f"{PROJECTS}/"):
        names = [PROJECTS, display_name(home, Entry(area, True))]
    else:
        names = [area]
    depth = len(where.split("/")) if where else 0
    return "".join(f"{n}/" for n in names[depth:])
