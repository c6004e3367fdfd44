"""StoreBioinfo moves as a worker runs them: a run archived from NeLS into
SBI, SBI data staged back into a NeLS folder (``nels_core.sbi`` does the
moving, checked before and after).

Each holds its NeLS folder's lock (one job on a folder at a time) and says
on the job page which file is moving, how far, and what SBI's transfer job
is doing. Both resume: run again (a retry after a lost connection or a
failed transfer job, or the user starting it anew), they move only the
files not yet whole at the other end.
"""

from __future__ import annotations

import contextlib
import logging

from nels_core.api import NelsApi
from nels_core.api.sbi_transfer import SbiTransfer, state_name
from nels_core.connect import build_home
from nels_core.errors import NelsError
from nels_core.redact import visible
from nels_core.sbi import TransferProgress, archive, stage

from .context import nels_settings
from .locks import WAITING, folder_lock
from .nels_tokens import renewed
from .wording import in_bytes
from .worker import JobInput, Progress

log = logging.getLogger(__name__)
SENDING = "Sending to StoreBioinfo"
FETCHING = "Fetching from StoreBioinfo"


class SbiMoveFailed(NelsError):
    """An archive or staging stopped: its reason behind a first word of ours,
    as the job page starts a message with a capital and a file's name must
    stay as it is. Caused by the reason, so a lost connection or a failed
    transfer job is still tried again (``nels_web.worker.lost_connection``)."""


def sbi_lock(folder: str) -> str:
    """The lock of a NeLS folder that an archive reads or a staging writes."""
    return f"sbi {folder}"


class JobPageProgress(TransferProgress):
    """The job page's bar (files done) and note: "file 3 of 16 (name), 1.2 MB
    of 4.0 MB; transfer job 1234: processing", about the file under way (an
    archive sends it while the jobs of earlier files still process)."""

    def __init__(self, progress: Progress, verb: str):
        self.progress, self.verb = progress, verb
        self.files = 0  # to move in this run
        self.n = 0  # the file under way, from 1
        self.done = 0  # files in place
        self.path = self.name = ""
        self.size = self.moved = 0
        self.job: tuple[int, int | None] | None = None  # (job id, state) of the file under way

    def planned(self, files: int, total_bytes: int, already: int) -> None:
        self.files = files
        self.progress(0, max(files, 1), "")

    def file_started(self, path: str, size: int) -> None:
        self.n += 1
        self.path, self.name, self.size, self.moved, self.job = path, visible(path), size, 0, None
        self._tell()

    def bytes_moved(self, n: int) -> None:
        self.moved += n
        self._tell()

    def job_state(self, path: str, job_id: int, state: int | None) -> None:
        if path == self.path:
            self.job = (job_id, state)
            self._tell()

    def file_done(self, path: str) -> None:
        self.done += 1
        self.progress(self.done, self.files)

    def _tell(self) -> None:
        note = (
            f"{self.verb}: file {self.n} of {self.files} ({self.name}), "
            f"{in_bytes(self.moved)} of {in_bytes(self.size)}"
        )
        if self.job is not None:
            job_id, state = self.job
            note += f"; StoreBioinfo transfer job {job_id}: {state_name(state)}"
        self.progress(self.done, self.files, note)


@contextlib.contextmanager
def _moving(job: JobInput, folder: str, progress: Progress, what: str):
    """The user's NeLS home and API for one archive or staging of ``folder``,
    under its lock; a NeLS failure said behind ``what``."""
    settings = nels_settings(job.secrets["nels"])
    token = renewed(job)  # a big run takes longer than a token lives
    api = NelsApi(settings.api_url, token)
    with folder_lock(sbi_lock(folder), waiting=lambda: progress(0, 1, WAITING)):
        progress(0, 1, "")
        home = build_home(settings, token)
        try:
            yield home, api
        except NelsError as e:
            raise SbiMoveFailed(f"{what}: {e}") from e
        finally:
            home.close()


def archive_job(job: JobInput, progress: Progress) -> dict:
    p = job.params
    path = p["path"]
    with _moving(job, path, progress, "Archive to StoreBioinfo") as (home, api):
        report = archive(
            home,
            api,
            f"nels://{path}",
            dataset=p["dataset"],
            dataset_type=p["type"],
            subtype=p["subtype"],
            transfer=SbiTransfer(api),
            progress=JobPageProgress(progress, SENDING),
        )
    plan = report.plan
    files = len(plan.files)
    progress(files, files, "")
    top = plan.files[0].rel.split("/")[0] if plan.files else ""
    project = plan.membership.project
    return {
        "source": plan.source,
        "where": f"sbi://{project.name}/{plan.dataset.name}/{plan.subtype}/{top}",
        "dataset": plan.dataset.name,
        "subtype": plan.subtype,
        "created_dataset": report.created_dataset,
        "files": files,
        "sent": len(report.sent),
        "sent_bytes": sum(f.size for f, _ in report.sent),
        "skipped": len(report.skipped),
        "skipped_bytes": sum(f.size for f in report.skipped),
        "md5_checked": report.md5_checked,
        "without_md5": [f.rel for f in report.without_md5],
        "permalink": _permalink(api, project.id, plan.dataset.id, plan.subtype),
        "sbi_page": [project.id, plan.dataset.id, plan.subtype, top],
    }


def stage_job(job: JobInput, progress: Progress) -> dict:
    p = job.params
    target = p["path"]
    with _moving(job, target, progress, "Staging from StoreBioinfo") as (home, api):
        report = stage(
            home,
            api,
            p["source"],
            f"nels://{target}",
            transfer=SbiTransfer(api),
            progress=JobPageProgress(progress, FETCHING),
        )
    files = len(report.plan.files)
    progress(files, files, "")
    return {
        "source": p["source"],
        "target": report.plan.target,
        "files": files,
        "fetched": len(report.received),
        "fetched_bytes": sum(f.size for f, _ in report.received),
        "skipped": len(report.skipped),
        "skipped_bytes": sum(f.size for f in report.skipped),
        "md5_checked": report.md5_checked,
    }


def _permalink(api: NelsApi, project_id: int, dataset_id: int, subtype: str) -> str:
    """The subtype's NeLS permalink for the job page; the archive stands without it."""
    try:
        return api.permalink(project_id, dataset_id, subtype)
    except NelsError as e:
        log.warning("no permalink for dataset %s/%s: %s", dataset_id, subtype, e)
        return ""
