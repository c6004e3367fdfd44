"""Everything that would stop an archive, found before anything moves.

SBI's rules (names with spaces refused, locked datasets, read-only
membership, the quota) and NeLS's (the run must be readable by this user)
are checked in one pass and listed together; what is already in SBI with
the right size is marked, so a second run sends nothing.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..checksums import ChecksumFileError
from ..delivered import delivered_md5
from ..errors import NotFoundError, ProblemsError
from ..home import Home
from ..model import Dataset, Membership, Role
from ..paths import normalise
from .places import (
    BelowSubtype,
    find_dataset,
    list_files,
    project_of,
    sbi_membership,
    subtype_names,
)


class ArchiveRefused(ProblemsError):
    what = "stop this archive (nothing was sent)"


@dataclass(frozen=True)
class ArchiveFile(BelowSubtype):
    source: str  # the NeLS path
    rel: str  # where it goes below the subtype: "<run>/fastq/x.fastq.gz"
    size: int
    md5: str | None  # as delivered (md5sum.txt or <file>.md5), if any
    in_sbi: bool = False  # there already with this size: not sent again


@dataclass
class ArchivePlan:
    source: str
    membership: Membership
    dataset_name: str
    dataset_type: str
    subtype: str
    dataset: Dataset | None  # None: created when the archive starts
    type_id: int | None
    files: list[ArchiveFile] = field(default_factory=list)

    @property
    def to_send(self) -> list[ArchiveFile]:
        return [f for f in self.files if not f.in_sbi]

    @property
    def bytes_to_send(self) -> int:
        return sum(f.size for f in self.to_send)


def plan_archive(
    home: Home,
    api,
    nels_path: str,
    *,
    dataset: str,
    dataset_type: str,
    subtype: str,
    project: str | None = None,
) -> ArchivePlan:
    """The plan for archiving ``nels_path`` (a run folder, or one file) into
    ``<dataset>/<subtype>/<its name>/`` of the project's SBI; refused, with
    every reason, when anything would stop it."""
    path = normalise(nels_path)
    top = home.stat(path)  # NeLS's rules: a project invisible to this user is "not found"
    membership = sbi_membership(api, project or project_of(path))
    problems: list[str] = []
    p = membership.project
    if p.locked:
        problems.append(f"the project {p.name!r} is locked: nothing may be added to it")
    elif membership.role is Role.READ_ONLY:
        problems.append(f"your membership of {p.name!r} is read-only (4): nothing may be archived")
    existing = find_dataset(api, p.id, dataset)
    type_id = None
    if existing is None:
        types = {t.get("name"): t.get("id") for t in api.dataset_types()}
        type_id = types.get(dataset_type)
        if type_id is None:
            known = ", ".join(sorted(str(t) for t in types))
            problems.append(f"no dataset type {dataset_type!r} in StoreBioinfo (known: {known})")
        if " " in dataset:
            problems.append(f"dataset name {dataset!r} holds a space: StoreBioinfo refuses it")
    else:
        if existing.islocked:
            problems.append(f"the dataset {dataset!r} is locked: nothing may be added to it")
        if existing.type != dataset_type:
            problems.append(
                f"the dataset {dataset!r} is of type {existing.type!r}, not {dataset_type!r}"
            )
        if subtype not in subtype_names(existing):
            have = ", ".join(subtype_names(existing)) or "none"
            problems.append(f"the dataset {dataset!r} has no subtype {subtype!r} (it has {have})")
    base = posixpath.basename(path)
    if top.is_dir:
        entries = [e for e in home.list(path, recursive=True).entries if not e.is_dir]
        found = [(e.path, f"{base}/{posixpath.relpath(e.path, path)}", e.size) for e in entries]
    else:
        found = [(path, base, top.size)]
    there: dict[str, int] = {}
    if existing is not None and subtype in subtype_names(existing):
        if top.is_dir:
            listed = list_files(api, membership, existing, subtype, base)
            there = {f"{base}/{f.rel}": f.size for f in listed}
        else:
            listed = list_files(api, membership, existing, subtype)
            there = {f.rel: f.size for f in listed if f.rel == base}
    md5_of = _Checksums(home)
    files = []
    for source, rel, size in sorted(found, key=lambda f: f[1]):
        spaced = [part for part in rel.split("/") if " " in part]
        if spaced:
            problems.append(f"name with a space (StoreBioinfo refuses them): {rel}")
            continue
        if rel in there and there[rel] != size:
            problems.append(
                f"{rel} is in StoreBioinfo already with {there[rel]:,} bytes, here {size:,}: "
                "not replaced (remove it there first, or archive under another dataset)"
            )
            continue
        try:
            md5 = md5_of(source)
        except ChecksumFileError as e:
            problems.append(str(e))
            continue
        files.append(ArchiveFile(source, rel, size, md5, there.get(rel) == size))
    if not found:
        problems.append(f"{path!r} holds no files")
    plan = ArchivePlan(path, membership, dataset, dataset_type, subtype, existing, type_id, files)
    quota, used = p.quota_allocated, p.quota_used or 0
    if quota is not None and plan.bytes_to_send > quota - used:
        problems.append(
            f"over quota: {plan.bytes_to_send:,} bytes to send, {max(quota - used, 0):,} free "
            f"({used:,} of {quota:,} used)"
        )
    if problems:
        raise ArchiveRefused(problems)
    return plan


class _Checksums:
    """``delivered_md5`` with each checksum file read once (a run's
    ``md5sum.txt`` names every file in it)."""

    def __init__(self, home: Home):
        self.home = home
        self.read: dict[str, bytes | None] = {}

    def __call__(self, path: str) -> str | None:
        return delivered_md5(self, path)  # type: ignore[arg-type] - it reads only

    def read_bytes(self, path: str) -> bytes:
        if path not in self.read:
            try:
                self.read[path] = self.home.read_bytes(path)
            except NotFoundError:
                self.read[path] = None
        found = self.read[path]
        if found is None:
            raise NotFoundError(path)
        return found
