"""StoreBioinfo data staged back into a NeLS folder, one download job per file.

``sbi://<project>/<dataset>/<subtype>/<path>`` copied into a NeLS folder as
``cp -r`` does: the folder (or file) named by ``<path>`` appears inside the
target. Each file is written with the storage's atomic write (a hidden
temporary name, renamed once whole and checked), so a break leaves whole
files or none; files already there with their size are skipped on the next
run. Checksum files come first, so the data files after them are checked
against the MD5s they name.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from ..api.sbi_transfer import SbiPlace, SbiTransfer
from ..checksums import (
    CHECKSUM_LIST_NAMES,
    is_checksum_file,
    parse_md5_list,
    parse_md5_single,
)
from ..errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ApiError,
    ChecksumMismatchError,
    NotFoundError,
    ProblemsError,
    TransferError,
    UnsafePathError,
)
from ..home import Home
from ..model import Dataset, Entry, Membership
from ..paths import normalise
from .places import (
    BelowSubtype,
    find_dataset,
    list_files,
    sbi_membership,
    storage_path,
    subtype_names,
)
from .plan import _Checksums
from .progress import TransferProgress

SCHEME = "sbi://"


class StageRefused(ProblemsError):
    what = "stop this staging (nothing was fetched)"


@dataclass(frozen=True)
class SbiAddress:
    project: str
    dataset: str
    subtype: str
    path: str = ""  # inside the subtype; "" for all of it

    def __str__(self) -> str:
        tail = f"/{self.path}" if self.path else ""
        return f"{SCHEME}{self.project}/{self.dataset}/{self.subtype}{tail}"


def parse_sbi_uri(uri: str) -> SbiAddress:
    """``sbi://<project>/<dataset>/<subtype>[/<path>]``, refused when malformed."""
    if not uri.startswith(SCHEME):
        raise UnsafePathError(f"{uri!r} is not an sbi:// address")
    parts = [p for p in uri[len(SCHEME) :].split("/") if p]
    if len(parts) < 3:
        raise UnsafePathError(
            f"{uri!r}: an sbi:// address names project, dataset and subtype "
            "(sbi://<project>/<dataset>/<subtype>[/<path>])"
        )
    if any(p in (".", "..") or "\x00" in p for p in parts):
        raise UnsafePathError(f"{uri!r}: '.', '..' and NUL are refused in sbi:// addresses")
    return SbiAddress(parts[0], parts[1], parts[2], "/".join(parts[3:]))


@dataclass(frozen=True)
class StageFile(BelowSubtype):
    rel: str  # below the subtype: where the job finds it
    target: str  # the NeLS path it is written to
    size: int
    already: bool = False  # in NeLS with this size: not fetched again


@dataclass
class StagePlan:
    address: SbiAddress
    membership: Membership
    dataset: Dataset
    target: str
    files: list[StageFile] = field(default_factory=list)

    @property
    def to_fetch(self) -> list[StageFile]:
        return [f for f in self.files if not f.already]

    def place(self, folder: str) -> SbiPlace:
        """Where ``folder`` (below the subtype) is, for StoreBioinfo's transfer calls."""
        return SbiPlace(self.membership.project.id, self.dataset.id, self.address.subtype, folder)


@dataclass
class StageReport:
    plan: StagePlan
    received: list[tuple[StageFile, Entry]] = field(default_factory=list)
    md5_checked: int = 0

    @property
    def skipped(self) -> list[StageFile]:
        return [f for f in self.plan.files if f.already]


def plan_stage(home: Home, api, sbi_uri: str, nels_folder: str) -> StagePlan:
    address = parse_sbi_uri(sbi_uri)
    membership = sbi_membership(api, address.project)
    p = membership.project
    dataset = find_dataset(api, p.id, address.dataset)
    if dataset is None:
        raise NotFoundError(f"no dataset {address.dataset!r} in StoreBioinfo project {p.name!r}")
    if address.subtype not in subtype_names(dataset):
        raise NotFoundError(f"the dataset {dataset.name!r} has no subtype {address.subtype!r}")
    target = normalise(nels_folder).rstrip("/")
    sources = _sources(api, membership, dataset, address)
    problems: list[str] = []
    if home.exists(target) and not home.stat(target).is_dir:
        # nothing below a file can be checked (or made): said alone
        raise StageRefused([f"{target!r} is a file, not a folder to stage into"])
    files: list[StageFile] = []
    refused_once = False
    for rel, shown, size in sources:
        dest = f"{target}/{shown}"
        try:
            if home.exists(dest):
                there = home.stat(dest)
                if there.is_dir or there.size != size:
                    what = "a folder" if there.is_dir else f"{there.size:,} bytes"
                    problems.append(
                        f"{dest} is in NeLS already ({what}; StoreBioinfo has {size:,}): "
                        "not replaced"
                    )
                else:
                    files.append(StageFile(rel, dest, size, already=True))
                continue
            home.check_write(dest)
        except (AccessDeniedError, AlreadyExistsError, UnsafePathError) as e:
            if not (refused_once and isinstance(e, AccessDeniedError)):
                problems.append(str(e))  # the rule refusing one file refuses them all: said once
            refused_once = refused_once or isinstance(e, AccessDeniedError)
            continue
        files.append(StageFile(rel, dest, size))
    if problems:
        raise StageRefused(problems)
    return StagePlan(address, membership, dataset, target, files)


_LIST_AT_MOST = 64 << 20  # a checksum list larger than this is no checksum list


def _checksums_above(api, transfer: SbiTransfer, plan: StagePlan) -> dict[str, str]:
    """MD5s that checksum files in the subtype's folders above what is staged
    name for its files (a run's ``md5sum.txt`` when only its ``fastq/`` is
    staged), by path below the subtype; the nearest folder's first. Files
    staged with their checksum files are checked against those instead."""
    address = plan.address
    if not address.path:
        return {}
    pid, did = plan.membership.project.id, plan.dataset.id
    wanted = {f.rel for f in plan.files}
    found: dict[str, str] = {}
    folder = address.path
    while folder:
        folder = posixpath.dirname(folder)
        where = storage_path(plan.membership, plan.dataset, address.subtype, folder)
        try:
            listed = api.sbi_list(where, pid, did)
        except ApiError as e:
            if e.status == 404:
                continue
            raise
        for e in listed:
            name = e.get("name", "")
            if e.get("isFolder") or int(e.get("size") or 0) > _LIST_AT_MOST:
                continue
            if name in CHECKSUM_LIST_NAMES or (
                name.endswith(".md5") and f"{folder}/{name[:-4]}".lstrip("/") in wanted
            ):
                text = b"".join(transfer.download(plan.place(folder), name)).decode(
                    "utf-8", "replace"
                )
                source = f"{address.subtype}/{folder}/{name}".replace("//", "/")
                for rel, md5 in _named(text, name, source).items():
                    found.setdefault(f"{folder}/{rel}".lstrip("/"), md5)
    return {rel: md5 for rel, md5 in found.items() if rel in wanted}


def _named(text: str, name: str, source: str) -> dict[str, str]:
    if name.endswith(".md5") and name not in CHECKSUM_LIST_NAMES:
        return {name[:-4]: parse_md5_single(text, source)}
    return parse_md5_list(text, source)


def _sources(api, membership, dataset, address: SbiAddress) -> list[tuple[str, str, int]]:
    """``(path below the subtype, path below the target, size)`` of every
    file the address names."""
    path = address.path
    base = posixpath.basename(path) if path else address.subtype
    inside = list_files(api, membership, dataset, address.subtype, path)
    if inside:  # a folder: itself, inside the target
        return [(f"{path}/{f.rel}" if path else f.rel, f"{base}/{f.rel}", f.size) for f in inside]
    if path:
        parent = posixpath.dirname(path)
        for f in list_files(api, membership, dataset, address.subtype, parent):
            if f.rel == base:
                return [(path, base, f.size)]
    raise NotFoundError(f"nothing at {address} in StoreBioinfo")


# download jobs started before their file's turn: NeLS prepares each file
# by itself (seconds), so the next files are ready while one's bytes move
STARTED_AHEAD = 4


class _JobsAhead:
    """The download jobs of the files next in turn, started early. A job that
    could not be started is an error when its file's turn comes, so the
    message names that file and what was staged before it."""

    def __init__(self, transfer: SbiTransfer, plan: StagePlan, progress: TransferProgress):
        self.transfer, self.plan, self.progress = transfer, plan, progress
        self.jobs: dict[str, int | TransferError] = {}

    def start(self, files: list[StageFile]) -> None:
        for f in files:
            if f.target not in self.jobs:
                try:
                    self.jobs[f.target] = self.transfer.start_download(
                        self.place(f), f.name, on_state=self.states_of(f)
                    )
                except TransferError as e:
                    self.jobs[f.target] = e

    def job_of(self, f: StageFile) -> int:
        job = self.jobs.pop(f.target)
        if isinstance(job, TransferError):
            raise job
        return job

    def place(self, f: StageFile) -> SbiPlace:
        return self.plan.place(f.folder)

    def states_of(self, f: StageFile):
        return lambda _name, job_id, state: self.progress.job_state(f.target, job_id, state)


def stage(
    home: Home,
    api,
    sbi_uri: str,
    nels_folder: str,
    *,
    transfer: SbiTransfer | None = None,
    progress: TransferProgress | None = None,
) -> StageReport:
    """Copy ``sbi_uri`` into the NeLS folder ``nels_folder``; see the module."""
    progress = progress or TransferProgress()
    transfer = transfer or SbiTransfer(api)
    plan = plan_stage(home, api, sbi_uri, nels_folder)
    report = StageReport(plan)
    todo = sorted(plan.to_fetch, key=lambda f: (not is_checksum_file(f.name), f.target))
    progress.planned(len(todo), sum(f.size for f in todo), len(plan.files) - len(todo))
    above = _checksums_above(api, transfer, plan) if todo else {}
    made: set[str] = set()
    checksums = None
    ahead = _JobsAhead(transfer, plan, progress)
    for at, f in enumerate(todo):
        ahead.start(todo[at : at + STARTED_AHEAD])
        if checksums is None and not is_checksum_file(f.name):
            checksums = _Checksums(home)  # read once the checksum files are in place
        md5 = checksums(f.target) if checksums is not None else None
        md5 = md5 or above.get(f.rel)
        parent = posixpath.dirname(f.target)
        if parent not in made:
            home.mkdir(parent)
            made.add(parent)
        progress.file_started(f.target, f.size)
        try:
            receiving = transfer.finish_download(
                ahead.place(f),
                f.name,
                ahead.job_of(f),
                on_bytes=progress.bytes_moved,
                on_state=ahead.states_of(f),
                md5=False,  # the write below hashes what it stores, against md5sum.txt
            )
            entry = home.write(
                f.target, receiving, expected_size=f.size, expected_md5=md5, checksums=False
            )
        except (TransferError, ChecksumMismatchError) as e:
            done = len(report.received) + len(report.skipped)
            raise TransferError(
                f"{e}\nStaging stopped: {done} of {len(plan.files)} files are in NeLS; "
                f"{f.target} was not written. Run the same stage again to fetch the rest."
            ) from e
        report.received.append((f, entry))
        report.md5_checked += md5 is not None
        progress.file_done(f.target)
    held = {f.target: home.stat(f.target).size for f in plan.files}
    wrong = [
        f"{f.target}: {held[f.target]:,} bytes in NeLS, {f.size:,} in StoreBioinfo"
        for f in plan.files
        if held[f.target] != f.size
    ]
    if wrong:
        raise ChecksumMismatchError("NeLS does not hold what was staged:\n" + "\n".join(wrong))
    return report
