"""A NeLS folder's metadata sheet, kept in NeLS beside the data.

NeLS lets members add files but never overwrite them, so every save is a
new file in ``<folder>/nels-metadata/``, named by its time:
``sheet-2026-11-30T201530.123Z-<random>.tsv``. The newest is the folder's
sheet; the older ones are its history. Each version opens with ``#`` lines
(which the sheet reader skips) saying who saved it, when, from which file
and what changed since the version before it.

Whatever the researcher uploads (TSV or XLSX) is stored as TSV: one text
format that every path reads and a person can read in ``less``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import NotFoundError
from .sheet import SECTIONS, Row, Section, SheetError, read_sheet

FOLDER = "nels-metadata"  # beside the data; the ISA mapping never reads it as data
PREFIX, SUFFIX = "sheet-", ".tsv"
_CHANGES_KEPT = 200  # a version's header names this many changes, then counts the rest
_SAID = ("saved", "by", "from")


@dataclass(frozen=True)
class SheetVersion:
    path: str  # in the store
    saved: str  # ISO 8601, UTC
    by: str
    source: str  # the file it was made from, as its author named it
    changes: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class SheetUnchanged(Exception):
    """The sheet says what the folder's current one says: no version is added."""


def in_metadata_folder(relative: str) -> bool:
    """Whether a path (relative to an exported folder) lies in a sheet folder."""
    # the substring test first: a listing of 100,000 files, nearly none in one
    return FOLDER in relative and FOLDER in relative.split("/")[:-1]


def is_version_path(path: str) -> bool:
    """Whether ``path`` names a saved version (``InvestigationRecord.sheet`` may
    also name a file given instead, or nothing)."""
    folder, _, name = f"/{path}".rpartition("/")
    return folder.endswith(f"/{FOLDER}") and _is_version(name)


class FolderSheets:
    """The sheet versions of one folder of ``store`` (a NeLS home or local storage)."""

    def __init__(self, store, base: str):
        self.store = store
        self.base = base
        self.folder = f"{base}/{FOLDER}" if base else FOLDER

    def names(self) -> list[str]:
        """Version file names, oldest first."""
        try:
            entries = self.store.list(self.folder).entries
        except NotFoundError:
            return []
        found = [e.name for e in entries if not e.is_dir and _is_version(e.name)]
        return sorted(found)

    def current(self) -> SheetVersion | None:
        names = self.names()
        return self.version(names[-1]) if names else None

    def log(self, limit: int | None = None) -> list[SheetVersion]:
        """Every version (or the newest ``limit``), newest first; one read each."""
        return [self.version(n) for n in list(reversed(self.names()))[:limit]]

    def version(self, name: str) -> SheetVersion:
        path = f"{self.folder}/{name}"
        said, changes = _header(self.store.read_bytes(path).decode("utf-8", "replace"))
        return SheetVersion(
            path, said.get("saved", ""), said.get("by", ""), said.get("from", ""), changes
        )

    def sections(self, version: SheetVersion) -> dict[str, Section]:
        """A version read as the sheet reader reads any sheet (its messages name the version)."""
        data = self.store.read_bytes(version.path)
        with tempfile.TemporaryDirectory(prefix="nels-sheet-") as tmp:
            local = Path(tmp) / version.name
            local.write_bytes(data)
            return read_sheet(local)

    def put(self, sections: dict[str, Section], source: str, by: str | None = None) -> SheetVersion:
        """Add ``sections`` as the newest version; ``SheetUnchanged`` when they
        say what the current one says. Check the sheet against the data first
        (``describe``): this only stores."""
        now = dt.datetime.now(dt.UTC)
        latest = self.current()
        try:
            before = flatten(self.sections(latest)) if latest else {}
        except SheetError:  # a file no sheet reader takes: a new version must still be possible
            before, latest = {}, None
        changed = changes(before, flatten(sections))
        if latest is not None and not changed:
            raise SheetUnchanged(f"{latest.path} already says the same; nothing saved")
        if latest is None:
            changed = [f"first version: {_counted(sections)}"]
        who = _one_line(by or author(self.store))
        millis = now.microsecond // 1000
        name = f"{PREFIX}{now:%Y-%m-%dT%H%M%S}.{millis:03d}Z-{secrets.token_hex(3)}"
        said = {"saved": f"{now:%Y-%m-%dT%H:%M:%SZ}", "by": who, "from": source}
        text = _header_lines(self.base, said, changed) + sections_tsv(sections)
        self.store.mkdir(self.folder)
        path = f"{self.folder}/{name}{SUFFIX}"
        self.store.write(path, text.encode("utf-8"))
        return SheetVersion(path, said["saved"], who, _one_line(source), tuple(changed))


def _is_version(name: str) -> bool:
    return name.startswith(PREFIX) and name.endswith(SUFFIX)


def author(store) -> str:
    """Who saves: the NeLS user of a home, else the local login."""
    account = getattr(store, "account", None)
    if account is not None:
        user = account.user
        return f"{user.name} ({user.username})" if user.username else user.name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _one_line(text: str) -> str:
    """Outside text made one printable line: it goes into a ``#`` header line."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _header_lines(base: str, said: dict[str, str], changed: list[str]) -> str:
    lines = [f"# nels-bundle metadata sheet of {_one_line(base) or 'this folder'}"]
    lines += [f"# {key}: {_one_line(said[key])}" for key in _SAID]
    kept = changed[:_CHANGES_KEPT]
    lines += [f"# change: {_one_line(c)}" for c in kept]
    if len(changed) > len(kept):
        lines.append(f"# change: and {len(changed) - len(kept)} more")
    return "\n".join(lines) + "\n"


def _header(text: str) -> tuple[dict[str, str], tuple[str, ...]]:
    said: dict[str, str] = {}
    changed: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(": ")
        if not sep:
            continue
        if key == "change":
            changed.append(value)
        elif key in _SAID:
            said[key] = value
    return said, tuple(changed)


def _counted(sections: dict[str, Section]) -> str:
    n = len(sections["Samples"].rows) if "Samples" in sections else 0
    return f"{n} sample{'' if n == 1 else 's'} described"


# --- one text form of a sheet, and what differs between two ------------------------
def sections_tsv(sections: dict[str, Section]) -> str:
    """The sheet as TSV, sections in the reader's order; cells one line each."""
    out = []
    for name in SECTIONS:
        section = sections.get(name)
        if section is None:
            continue
        out += ["", f"[{name}]"]
        if name != "Investigation":
            out.append("\t".join(section.header))
        for row in section.rows:
            out.append("\t".join(_cell(row.cells.get(h, "")) for h in section.header))
    return "\n".join(out[1:]) + "\n"


def _cell(value: str) -> str:
    return " ".join(value.split())


Field = tuple[str, str, str]  # (section, row, column)


def flatten(sections: dict[str, Section]) -> dict[Field, str]:
    """Every value the sheet gives, keyed by where it is said: the field of
    [Investigation], a study by its folder, a sample by its name (and study
    when two studies share a name), a contact by study and name."""
    values: dict[Field, str] = {}
    for name, section in sections.items():
        seen: set[str] = set()
        for row in section.rows:
            key = row_key(name, row, seen)
            if name == "Investigation":
                if row.cells.get("value"):
                    values[(name, "", row.cells.get("field", ""))] = row.cells["value"]
                continue
            for column, value in row.cells.items():
                if value:
                    values[(name, key, column)] = value
    return values


def row_key(section: str, row: Row, seen: set[str]) -> str:
    c = row.cells
    if section == "Samples":
        key = c.get("sample", "")
        if key in seen:  # the same sample name in two studies
            key = f"{c.get('study', '')}/{key}"
    elif section == "Studies":
        key = c.get("study", "")
    elif section == "Contacts":
        key = f"{c.get('study', '')}/{c.get('last name', '')}/{c.get('first name', '')}"
    else:
        key = ""
    seen.add(key)
    return key


def changes(before: dict[Field, str], after: dict[Field, str]) -> list[str]:
    """Each field whose value differs, in words: ``sample 'S1', organism: '' -> 'Salmo salar'``."""
    said = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key, ""), after.get(key, "")
        if old != new:
            said.append(f"{describe_field(key)}: {old!r} -> {new!r}")
    return said


def describe_field(key: Field) -> str:
    section, row, column = key
    if section == "Investigation":
        return f"investigation {column}"
    if section == "Contacts":  # keyed study/last name/first name
        study, last, given = row.rsplit("/", 2) if row.count("/") >= 2 else ("", row, "")
        where = f" of study {study!r}" if study else ""
        return f"contact {' '.join(n for n in (given, last) if n)!r}{where}, {column}"
    what = {"Samples": "sample", "Studies": "study"}[section]
    return f"{what} {row!r}, {column}"
