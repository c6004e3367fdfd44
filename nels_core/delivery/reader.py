"""A delivery folder read into samples, files and checksums, with every
problem found named (file and what is wrong).

Illumina deliveries (bcl2fastq / BCL Convert) are recognised by their FASTQ
names; index reads (I1/I2) are kept apart and ``Undetermined_S0`` reads
belong to no sample. Any other folder of data files is read generically:
one sample per file stem, ``_1``/``_2`` and ``_R1``/``_R2`` paired.

Problems are warnings unless ``strict``, when they are one error.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ..checksums import ChecksumFileError, is_checksum_file, parse_md5_list, parse_md5_single
from ..errors import ProblemsError
from ..illumina import FastqName, parse_fastq_name
from .samplesheet import SampleSheet, SampleSheetError, parse_sample_sheet

SAMPLE_SHEET_NAMES = ("SampleSheet.csv", "samplesheet.csv", "SampleSheet_v2.csv")
REPORT_SUFFIXES = (".html", ".pdf", ".json", ".log", ".xml", ".zip", ".txt", ".csv", ".tsv")
_GENERIC_PAIR = re.compile(r"^(?P<stem>.+?)(?:_R?(?P<read>[12]))?(?P<ext>(\.[^.]+)+)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._\-+]+$")


class DeliveryError(ProblemsError):
    what = "in the delivery"

    @property
    def issues(self) -> list:
        return self.problems


@dataclass(frozen=True)
class DeliveryIssue:
    code: str  # stable, for reports and tests
    path: str  # the file the problem is in or about ("" for the folder)
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True, slots=True)
class DataFile:
    path: str  # relative to the delivery folder
    size: int
    md5: str | None  # from the delivered checksum files, lowercase
    lane: int | None = None
    read: str | None = None  # R1, R2, I1, I2 (or "1"/"2" in generic folders)


@dataclass(slots=True)
class Sample:
    id: str
    number: int | None = None
    name: str = ""
    files: list[DataFile] = field(default_factory=list)
    index_files: list[DataFile] = field(default_factory=list)

    @property
    def lanes(self) -> list[int]:
        return sorted({f.lane for f in self.files if f.lane is not None})

    @property
    def paired(self) -> bool:
        return any(f.read in ("R2", "2") for f in self.files)


@dataclass
class Delivery:
    root: str
    kind: str  # "illumina" or "generic"
    sample_sheet: SampleSheet | None
    samples: dict[str, Sample]
    undetermined: list[DataFile]
    checksums: dict[str, str]  # relative path -> md5
    other_files: list[DataFile]
    issues: list[DeliveryIssue]

    @property
    def run(self) -> str:
        if self.sample_sheet and self.sample_sheet.run_name:
            return self.sample_sheet.run_name
        return posixpath.basename(self.root.rstrip("/"))

    def data_files(self) -> list[DataFile]:
        out = [f for s in self.samples.values() for f in (*s.files, *s.index_files)]
        return sorted(out + self.undetermined, key=lambda f: f.path)


def read_delivery(store, base: str = "", strict: bool = False, entries=None) -> Delivery:
    """Read the delivery below ``base`` of ``store`` (a Home or a Storage).

    ``entries``: the files below ``base`` when the caller has listed them
    already (one listing of a big project, not one per delivery).
    """
    prefix = f"{base}/" if base else ""
    if entries is None:
        entries = store.list(base, recursive=True).entries
    cut = len(prefix)
    sizes = {e.path[cut:]: e.size for e in entries if not e.is_dir}
    issues: list[DeliveryIssue] = []

    # One pass sorts the files by kind: a delivery's 10,000s of names are
    # looked at once, not once per question asked of them.
    fastqs: list[tuple[str, int, FastqName]] = []
    rest: list[str] = []  # every other file, in listing order
    unsafe: list[str] = []  # data files whose names the archives refuse
    checksum_files: list[str] = []
    sheet_files: list[str] = []
    for rel, size in sizes.items():
        name = rel.rpartition("/")[2]
        n = parse_fastq_name(name)
        if n is not None:
            fastqs.append((rel, size, n))
            if not _SAFE_NAME.match(name):
                unsafe.append(rel)
            continue
        rest.append(rel)
        if is_checksum_file(name):
            checksum_files.append(rel)
        elif name in SAMPLE_SHEET_NAMES:
            sheet_files.append(rel)
    checksums = _checksums(store, prefix, checksum_files, issues)
    sheet = _sample_sheet(store, prefix, sheet_files, issues)

    def data_file(rel: str, lane=None, read=None) -> DataFile:
        return DataFile(rel, sizes[rel], checksums.get(rel), lane, read)

    samples: dict[str, Sample] = {}
    undetermined: list[DataFile] = []
    if fastqs:
        kind = "illumina"
        fastqs.sort()  # paths are unique: tuples never compare past them
        for rel, size, n in fastqs:
            f = DataFile(rel, size, checksums.get(rel), n.lane, n.read)
            if n.is_undetermined:
                undetermined.append(f)
                continue
            s = samples.get(n.sample)
            if s is None:  # not setdefault: a Sample made per file costs
                s = samples[n.sample] = Sample(n.sample, n.number)
            (s.index_files if n.is_index else s.files).append(f)
        _check_illumina(samples, fastqs, sheet, issues)
        # every FASTQ went to a sample or to Undetermined: the rest is other
    else:
        kind = "generic"
        _generic(sizes, checksums, sheet, samples, data_file)
        if not samples:
            issues.append(DeliveryIssue("no-data", base, "no data files found in this folder"))
        used = {f.path for s in samples.values() for f in s.files}
        rest = [rel for rel in rest if rel not in used]
        unsafe = [rel for rel in used if not _SAFE_NAME.match(rel.rpartition("/")[2])]
    # the few found are sorted, not the 10,000s looked through (a set sorts slowly)
    other = [data_file(rel) for rel in sorted(rest)]
    for rel in sorted(rel for rel in checksums if rel not in sizes):
        issues.append(
            DeliveryIssue("missing-file", rel, "named in a checksum file but not delivered")
        )
    for rel in sorted(unsafe):
        issues.append(
            DeliveryIssue(
                "unsafe-name",
                rel,
                "spaces or non-ASCII characters in a file name are "
                "refused by NeLS and by the archives",
            )
        )
    delivery = Delivery(base, kind, sheet, samples, undetermined, checksums, other, issues)
    if strict and issues:
        raise DeliveryError(issues)
    return delivery


def is_data_file(name: str) -> bool:
    """Whether a file of this name is data (not a sheet, checksum, report or hidden)."""
    return not (
        is_checksum_file(name)
        or name in SAMPLE_SHEET_NAMES
        or name.startswith(".")
        or name.lower().endswith(REPORT_SUFFIXES)
    )


def _checksums(store, prefix, files: list[str], issues) -> dict[str, str]:
    out: dict[str, str] = {}
    for rel in sorted(files):
        folder, _, name = rel.rpartition("/")
        try:
            text = store.read_bytes(prefix + rel).decode("utf-8", errors="replace")
            if name.endswith(".md5") and name not in ("checksums.md5",):
                out[rel[: -len(".md5")]] = parse_md5_single(text, rel)
            else:
                listed = parse_md5_list(text, rel)
                if folder or not all(map(_plain, listed)):
                    listed = {_normal(_below(folder, n)): m for n, m in listed.items()}
                out.update(listed)  # a whole table at once: 40,000 lines are common
        except ChecksumFileError as e:
            issues.append(DeliveryIssue("bad-checksum-file", rel, _without_source(str(e), rel)))
    return out


def _below(folder: str, name: str) -> str:
    """A name in a checksum list, as a path from the delivery's top."""
    return f"{folder}/{name}" if folder else name


def _plain(path: str) -> bool:
    """A relative path with no ``.``, ``..`` or empty part for ``normpath`` to resolve."""
    return not (path.startswith(("/", ".")) or "/." in path or "//" in path)


def _normal(path: str) -> str:
    """``posixpath.normpath``, skipped for the plain paths nearly all lists hold."""
    return path if _plain(path) else posixpath.normpath(path)


def _without_source(message: str, rel: str) -> str:
    """The issue already names the file: keep the line and the problem."""
    for lead in (f"{rel}, ", f"{rel}: "):
        if message.startswith(lead):
            return message[len(lead) :]
    return message


def _sample_sheet(store, prefix, files: list[str], issues) -> SampleSheet | None:
    candidates = sorted(files, key=lambda rel: (rel.count("/"), rel))
    if not candidates:
        return None
    rel = candidates[0]
    try:
        text = store.read_bytes(prefix + rel).decode("utf-8")
        return parse_sample_sheet(text, rel)
    except UnicodeDecodeError:
        issues.append(DeliveryIssue("bad-sample-sheet", rel, "not UTF-8 text"))
    except SampleSheetError as e:
        issues.append(DeliveryIssue("bad-sample-sheet", rel, _without_source(str(e), rel)))
    return None


def _check_illumina(samples, fastqs: list[tuple[str, int, FastqName]], sheet, issues) -> None:
    paired_run = (sheet.paired if sheet else False) or any(n.read == "R2" for *_, n in fastqs)
    for s in samples.values():
        by_lane: dict[int, set[str]] = {}
        for f in s.files:
            by_lane.setdefault(f.lane, set()).add(f.read)
        for lane, reads in sorted(by_lane.items()):
            if paired_run and "R1" in reads and "R2" not in reads:
                issues.append(
                    DeliveryIssue("unpaired", s.id, f"lane {lane} has R1 but no R2 for this sample")
                )
            if "R2" in reads and "R1" not in reads:
                issues.append(DeliveryIssue("unpaired", s.id, f"lane {lane} has R2 but no R1"))
        if not _SAFE_NAME.match(s.id):
            issues.append(
                DeliveryIssue("unsafe-name", s.id, "sample name has spaces or non-ASCII characters")
            )
    if sheet is None:
        return
    seen: dict[tuple, int] = {}
    for row in sheet.rows:
        key = (row.lane, row.sample_id.casefold())
        if key in seen:
            issues.append(
                DeliveryIssue(
                    "duplicate-sample",
                    sheet.source,
                    f"line {row.line}: sample {row.sample_id!r} appears again"
                    + (f" in lane {row.lane}" if row.lane else "")
                    + f" (first on line {seen[key]})",
                )
            )
        else:
            seen[key] = row.line
    listed = set(sheet.sample_ids())
    for sid in sorted(listed - set(samples)):
        issues.append(
            DeliveryIssue(
                "no-reads", sheet.source, f"sample {sid!r} is in the sheet but has no FASTQ"
            )
        )
    for sid in sorted(set(samples) - listed):
        issues.append(
            DeliveryIssue("not-in-sheet", sid, "FASTQ files for a sample the sheet lacks")
        )
    first_rows = {}
    for r in sheet.rows:
        first_rows.setdefault(r.sample_id, r)
    for sid, s in samples.items():
        if sid in first_rows:
            s.name = first_rows[sid].sample_name


def _generic(sizes, checksums, sheet, samples, data_file) -> None:
    for rel in sorted(sizes):
        name = posixpath.basename(rel)
        if not is_data_file(name):
            continue
        m = _GENERIC_PAIR.match(name)
        stem, read = (m["stem"], m["read"]) if m else (name, None)
        s = samples.setdefault(stem, Sample(stem))
        s.files.append(data_file(rel, None, read))
