"""``manifest-md5.txt``: every raw data file of the bundle, its size and MD5.

One line per file, tab-separated ``md5  size  path`` (path relative to the
exported folder), after a ``#`` header naming the columns and the source.
MD5s come from the delivered checksum files; those missing are computed by
streaming the file, and ``verify`` recomputes every one.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import NelsError
from .model import InvestigationRecord, RawFile

HEADER = "# md5\tsize\tpath"


class ManifestError(NelsError, ValueError):
    pass


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: str
    actual: str


def _md5(store, path: str) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for chunk in store.read_chunks(path):
        h.update(chunk)
    return h.hexdigest()


def fill_md5(
    store, base: str, inv: InvestigationRecord, tick: Callable[[], None] | None = None
) -> set[str]:
    """Compute the MD5 of files the delivery gave none for; return their paths."""
    computed: set[str] = set()
    for sample in inv.samples():
        for run in sample.runs:
            for i, f in enumerate(run.files):
                if f.md5 is None:
                    run.files[i] = replace(f, md5=_md5(store, posixpath.join(base, f.path)))
                    computed.add(f.path)
                    if tick:
                        tick()
    return computed


def verify(store, base: str, files: list[RawFile], tick=None, fresh=frozenset()) -> list[Mismatch]:
    """Recompute every file's MD5 and list those that differ from the record;
    ``fresh``: paths whose MD5 was just computed from the bytes, not read again."""
    out = []
    for f in files:
        if f.path in fresh:
            continue
        actual = _md5(store, posixpath.join(base, f.path))
        if actual != f.md5:
            out.append(Mismatch(f.path, f.md5 or "", actual))
        if tick:
            tick()
    return out


def manifest_lines(inv: InvestigationRecord) -> list[str]:
    lines = [f"{HEADER}\t(source: {inv.location})\n"]
    lines += [f"{f.md5}\t{f.size}\t{f.path}\n" for f in inv.files()]
    return lines


def write_manifest(inv: InvestigationRecord, path: Path) -> Path:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(manifest_lines(inv))
    return path


def read_manifest(path: Path) -> list[tuple[str, int, str]]:
    """``[(md5, size, path)]``; a malformed line is an error naming its number."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or len(parts[0]) != 32 or not parts[1].isdigit():
            raise ManifestError(f"{path.name}, line {n}: not 'md5<TAB>size<TAB>path': {line!r}")
        out.append((parts[0], int(parts[1]), parts[2]))
    return out
