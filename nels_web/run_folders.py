"""Run folders in a project's listing, and whether one has fully arrived.

A run folder holds a sample sheet and a checksum file (``md5sum.txt`` or
``<file>.md5``), as ``nels_core.delivery`` reads deliveries. It is complete
when its sample sheet reads, every file its checksum files name is there
with a plausible size, and no upload is under way in it. Whether it is
still growing takes two looks: the watcher compares the sizes seen here
with the sizes of its last look.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from nels_core.checksums import is_checksum_file
from nels_core.delivery import SAMPLE_SHEET_NAMES, read_delivery
from nels_core.isa.folder_sheet import in_metadata_folder
from nels_core.storage.partials import is_partial

# bytes of the smallest gzip file: a 10-byte header, an empty deflate block and an
# 8-byte trailer; a .gz no larger holds nothing (or is still being written)
SMALLEST_GZIP = 20


@dataclass
class RunFolder:
    path: str  # in the user's home: Projects/<project>/.../<run>
    files: list = field(repr=False)  # entries below it, partial uploads too

    @property
    def sizes(self) -> dict[str, int]:
        """Every file below the folder (relative path) and its size."""
        cut = len(self.path) + 1
        return {e.path[cut:]: e.size for e in self.files}


@dataclass(frozen=True)
class Arrival:
    """What a look at a run folder found: whether it is all there, and its size."""

    complete: bool
    why: str = ""  # what is missing, when it is not complete
    samples: int = 0
    lanes: int = 0


def run_folders(entries, base: str) -> list[RunFolder]:
    """The run folders among ``entries`` (a recursive listing of ``base``,
    files only counted): the topmost folder holding a sample sheet, with a
    checksum file below it. Sheets and bundles kept beside the data are not runs."""
    prefix = f"{base}/"
    by_folder: dict[str, list] = {}
    for e in entries:
        if e.is_dir or not e.path.startswith(prefix):
            continue
        if in_metadata_folder(e.path[len(prefix) :]):
            continue
        by_folder.setdefault(posixpath.dirname(e.path), []).append(e)
    with_sheet = {
        folder
        for folder, files in by_folder.items()
        if any(posixpath.basename(e.path) in SAMPLE_SHEET_NAMES for e in files)
    }
    roots = sorted(f for f in with_sheet if not any(f.startswith(g + "/") for g in with_sheet))
    runs = []
    for root in roots:
        files = [e for folder, fs in by_folder.items() if _within(folder, root) for e in fs]
        if any(is_checksum_file(posixpath.basename(e.path)) for e in files):
            runs.append(RunFolder(root, sorted(files, key=lambda e: e.path)))
    return runs


def arrival(store, run: RunFolder) -> Arrival:
    """Whether the run folder holds all it should (``store``: the user's
    home, which reads its sample sheet and checksum files)."""
    partial = [e for e in run.files if is_partial(posixpath.basename(e.path))]
    if partial:
        return Arrival(False, "an upload into it is under way")
    delivery = read_delivery(store, run.path, entries=run.files)
    if delivery.sample_sheet is None:
        return Arrival(False, "its sample sheet does not read")
    if any(i.code == "bad-checksum-file" for i in delivery.issues):
        return Arrival(False, "a checksum file does not read")
    if not delivery.checksums:
        return Arrival(False, "its checksum files name no file")
    sizes = run.sizes
    for name in delivery.checksums:
        size = sizes.get(name)
        if size is None:
            return Arrival(False, f"{name} is not there yet")
        if size == 0 or (name.endswith(".gz") and size <= SMALLEST_GZIP):
            return Arrival(False, f"{name} is empty")
    samples = delivery.samples
    lanes = {lane for s in samples.values() for lane in s.lanes}
    if not lanes:  # reads named without lanes: the sheet says
        lanes = {r.lane for r in delivery.sample_sheet.rows if r.lane is not None}
    count = len(samples) or len(delivery.sample_sheet.sample_ids())
    return Arrival(True, samples=count, lanes=len(lanes))


def _within(folder: str, root: str) -> bool:
    return folder == root or folder.startswith(root + "/")
