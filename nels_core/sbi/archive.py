"""A run archived from NeLS into StoreBioinfo, one transfer job per file.

Each file is streamed from NeLS storage into its job, never copied locally;
its MD5 is taken over the bytes sent and compared with the delivered one
before the job is told the upload is done, so SBI never keeps bytes that
differ from the delivery. SBI puts a file in place only when its job
succeeds: a break leaves whole files or none, and the next run skips the
files already there with their size.
"""

from __future__ import annotations

from collections import deque
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
    progress.planned(len(plan.to_send), plan.bytes_to_send, len(plan.files) - len(plan.to_send))
    _Sending(home, transfer, progress, report).all()
    _verify(api, plan)
    return report


# files whose transfer jobs NeLS processes while the next file is sent: a job
# takes seconds after its bytes are in, which one at a time is all waiting
PROCESSING_AT_ONCE = 4


class _Sending:
    """The plan's files sent one after the other, each job left to process
    while the next files go, up to ``PROCESSING_AT_ONCE`` at a time."""

    def __init__(self, home, transfer: SbiTransfer, progress: TransferProgress, report):
        self.home, self.transfer, self.progress, self.report = home, transfer, progress, report
        plan = report.plan
        self.pid, self.did, self.subtype = plan.membership.project.id, plan.dataset.id, plan.subtype
        self.processing: deque[tuple[ArchiveFile, Moved]] = deque()

    def all(self) -> None:
        for f in self.report.plan.to_send:
            self.progress.file_started(f.rel, f.size)
            try:
                moved = self.transfer.upload(
                    self._place(f),
                    f.name,
                    self.home.read_chunks(f.source),
                    f.size,
                    on_bytes=self.progress.bytes_moved,
                    on_state=self._states_of(f),
                    expected_md5=f.md5,
                    wait=False,
                )
            except (TransferError, ChecksumMismatchError) as e:
                raise self._stopped(e, f) from e
            self.processing.append((f, moved))
            if len(self.processing) >= PROCESSING_AT_ONCE:
                self._settle_first()
        while self.processing:
            self._settle_first()

    def _settle_first(self) -> None:
        f, moved = self.processing.popleft()
        try:
            self._wait(f, moved)
        except (TransferError, ChecksumMismatchError) as e:
            raise self._stopped(e, f) from e

    def _wait(self, f: ArchiveFile, moved: Moved) -> None:
        self.transfer.wait(self._place(f), moved.job_id, f.name, on_state=self._states_of(f))
        self.report.sent.append((f, moved))
        self.progress.file_done(f.rel)

    def _stopped(self, cause: Exception, f: ArchiveFile) -> ArchiveStopped:
        """The stop, once the jobs already sent have ended: they hold whole
        files, and a run again should find them there, not send them twice."""
        while self.processing:
            other, moved = self.processing.popleft()
            try:
                self._wait(other, moved)
            except (TransferError, ChecksumMismatchError):
                pass  # the first failure is the one told; a run again resends this one
        plan = self.report.plan
        done = len(self.report.sent) + len(self.report.skipped)
        return ArchiveStopped(cause, f.rel, done, len(plan.files))

    def _place(self, f: ArchiveFile) -> SbiPlace:
        return SbiPlace(self.pid, self.did, self.subtype, f.folder)

    def _states_of(self, f: ArchiveFile):
        """The job's states told with the file's path (several are under way)."""
        return lambda _name, job_id, state: self.progress.job_state(f.rel, job_id, state)


class ArchiveStopped(TransferError):
    """A file's transfer failed: says which, why, and how far the archive got."""

    def __init__(self, cause: Exception, rel: str, done: int, total: int):
        super().__init__(
            f"{cause}\nArchive stopped: {done} of {total} files are in StoreBioinfo; "
            f"{rel} is not. Run the same archive again to send what is missing."
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
