"""A run archived from NeLS into StoreBioinfo, one transfer job per file.

Each file is streamed from NeLS storage into its job, never copied locally;
its MD5 is taken over the bytes sent and compared with the delivered one
before the job is told the upload is done, so SBI never keeps bytes that
differ from the delivery. SBI puts a file in place only when its job
succeeds: a break leaves whole files or none, and the next run skips the
files already there with their size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..api.sbi_transfer import Moved, SbiPlace, SbiTransfer
from ..errors import ChecksumMismatchError, TransferError
from ..home import Home
from .places import find_dataset, list_files, subtype_names
from .plan import ArchiveFile, ArchivePlan, ArchiveRefused, plan_archive
from .progress import TransferProgress


@dataclass
class ArchiveReport:
    plan: ArchivePlan
    sent: list[tuple[ArchiveFile, Moved]] = field(default_factory=list)
    created_dataset: bool = False

    @property
    def skipped(self) -> list[ArchiveFile]:
        return [f for f in self.plan.files if f.in_sbi]

    @property
    def md5_checked(self) -> int:
        """Files sent whose MD5 matched a delivered one."""
        return sum(1 for f, _ in self.sent if f.md5)

    @property
    def without_md5(self) -> list[ArchiveFile]:
        """Files sent with no delivered MD5 to compare with (size checked only)."""
        return [f for f, _ in self.sent if not f.md5]


def archive(
    home: Home,
    api,
    nels_path: str,
    *,
    dataset: str,
    dataset_type: str,
    subtype: str,
    project: str | None = None,
    transfer: SbiTransfer | None = None,
    progress: TransferProgress | None = None,
) -> ArchiveReport:
    """Archive ``nels_path`` into ``<dataset>/<subtype>/<its name>`` of its
    project's StoreBioinfo; see :func:`~nels_core.sbi.plan.plan_archive`."""
    progress = progress or TransferProgress()
    transfer = transfer or SbiTransfer(api)
    plan = plan_archive(
        home,
        api,
        nels_path,
        dataset=dataset,
        dataset_type=dataset_type,
        subtype=subtype,
        project=project,
    )
    report = ArchiveReport(plan)
    if plan.dataset is None:
        plan.dataset = _create(api, plan)
        report.created_dataset = True
    pid, did = plan.membership.project.id, plan.dataset.id
    progress.planned(len(plan.to_send), plan.bytes_to_send, len(plan.files) - len(plan.to_send))
    for f in plan.to_send:
        progress.file_started(f.rel, f.size)
        try:
            moved = transfer.upload(
                SbiPlace(pid, did, subtype, f.folder),
                f.name,
                home.read_chunks(f.source),
                f.size,
                on_bytes=progress.bytes_moved,
                on_state=progress.job_state,
                expected_md5=f.md5,
            )
        except (TransferError, ChecksumMismatchError) as e:
            raise ArchiveStopped(
                e, f.rel, len(report.sent) + len(report.skipped), len(plan.files)
            ) from e
        report.sent.append((f, moved))
        progress.file_done(f.rel)
    _verify(api, plan)
    return report


class ArchiveStopped(TransferError):
    """A file's transfer failed: says which, why, and how far the archive got."""

    def __init__(self, cause: Exception, rel: str, done: int, total: int):
        super().__init__(
            f"{cause}\nArchive stopped: {done} of {total} files are in StoreBioinfo; "
            f"{rel} and the rest are not. Run the same archive again to send them."
        )
        self.cause = cause
        self.rel = rel


def _create(api, plan: ArchivePlan):
    p = plan.membership.project
    api.create_dataset(p.id, plan.type_id, plan.dataset_name)
    created = find_dataset(api, p.id, plan.dataset_name)
    if created is None:
        raise TransferError(
            f"StoreBioinfo did not show the dataset {plan.dataset_name!r} just created; "
            "nothing was sent"
        )
    if plan.subtype not in subtype_names(created):
        have = ", ".join(subtype_names(created)) or "none"
        raise ArchiveRefused(
            [
                f"the new dataset {plan.dataset_name!r} has no subtype {plan.subtype!r} "
                f"(it has {have})"
            ]
        )
    return created


def _verify(api, plan: ArchivePlan) -> None:
    """Every file of the run listed in SBI with its size (the MD5s were
    compared as the bytes went)."""
    top = plan.files[0].rel.split("/")[0] if plan.files else ""
    single = len(plan.files) == 1 and plan.files[0].rel == top
    listed = list_files(api, plan.membership, plan.dataset, plan.subtype, "" if single else top)
    there = {f.rel if single else f"{top}/{f.rel}": f.size for f in listed}
    wrong = [
        f"{f.rel}: {'missing' if f.rel not in there else f'{there[f.rel]:,} bytes'} in "
        f"StoreBioinfo, {f.size:,} in NeLS"
        for f in plan.files
        if there.get(f.rel) != f.size
    ]
    if wrong:
        raise ChecksumMismatchError(
            "StoreBioinfo does not hold the run as sent:\n" + "\n".join(wrong)
        )
