"""``manifest-md5.txt``: every raw data file of the bundle, its size and MD5.

One line per file, tab-separated ``md5  size  path`` (path relative to the
exported folder), after a ``#`` header naming the columns and the source.
MD5s come from the delivered checksum files; those missing are computed by
streaming the file, and ``verify`` recomputes every one.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import NelsError
from ..storage.base import SMALL_FILE
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


def _md5s(store, base: str, files: list[RawFile]) -> Iterator[str]:
    """The MD5 of each file's bytes, in order: small files read many at once
    (over SFTP one at a time they would wait on five round trips each)."""
    small = store.read_files([posixpath.join(base, f.path) for f in files if f.size <= SMALL_FILE])
    for f in files:
        if f.size <= SMALL_FILE:
            yield hashlib.md5(next(small), usedforsecurity=False).hexdigest()
        else:
            yield _md5(store, posixpath.join(base, f.path))


def fill_md5(
    store, base: str, inv: InvestigationRecord, tick: Callable[[], None] | None = None
) -> set[str]:
    """Compute the MD5 of files the delivery gave none for; return their paths."""
    missing = [
        (run, i)
        for sample in inv.samples()
        for run in sample.runs
        for i, f in enumerate(run.files)
        if f.md5 is None
    ]
    computed: set[str] = set()
    md5s = _md5s(store, base, [run.files[i] for run, i in missing])
    for (run, i), md5 in zip(missing, md5s, strict=True):
        run.files[i] = replace(run.files[i], md5=md5)
        computed.add(run.files[i].path)
        if tick:
            tick()
    return computed


def verify(store, base: str, files: list[RawFile], tick=None, fresh=frozenset()) -> list[Mismatch]:
    """Recompute every file's MD5 and list those that differ from the record;
    ``fresh``: paths whose MD5 was just computed from the bytes, not read again."""
    out = []
    files = [f for f in files if f.path not in fresh]
    for f, actual in zip(files, _md5s(store, base, files), strict=True):
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
