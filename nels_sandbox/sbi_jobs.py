"""StoreBioinfo transfer jobs that run on their own, as NeLS's do.

A job moves by the clock, not by being asked: ``processing_seconds`` after
``upload_done`` (or ``initiate_download``) it ends, 101 or 102, whether or
not anyone polls it, so a client killed after ``upload_done`` still leaves
its file stored. A poll of a job whose time is up ends it there and then, so
what a poll answers depends on the time alone, never on which thread came
first. Bytes of jobs nobody finishes (an upload never followed by
``upload_done``, a download url never fetched) are removed after
``abandoned_after`` seconds and the job ends 102; so are files in the
transfer area that no job holds (left by a sandbox that was killed).

One thread per :class:`~nels_sandbox.world.World` does this while there is
something to watch, and ends when there is not.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

SUBMITTED, DONE, FAILED, PROCESSING = 100, 101, 102, 103  # as recorded


class TransferJobs:
    """The transfer jobs of one world (``world.jobs``), moved on by its clock."""

    def __init__(self, world):
        self.world = world
        self._wake = threading.Condition(world.lock)
        self._thread: threading.Thread | None = None

    # --- what the API's calls do ---------------------------------------------------
    def new(self, job_id: int, kind: str, target: tuple, *, fails: bool = False) -> dict:
        """A job as ``initiate_upload`` (submitted) or ``initiate_download``
        (processing from the start: fetched from the store at once) makes it."""
        w = self.world
        with w.lock:
            job = {"kind": kind, "state_id": SUBMITTED, "target": target, "since": w.clock()}
            w.jobs[job_id] = job
            if kind == "download":
                self._process(job, fails)
            else:
                self._watch()
            return job

    def upload_done(self, job: dict, *, fails: Callable[[], bool]) -> None:
        """Processing starts when the bytes are in; without them the job fails.
        ``fails`` draws whether processing will fail (asked only if it starts)."""
        with self.world.lock:
            if job["state_id"] != SUBMITTED:
                return  # told twice: the first one counts
            if job.get("staged"):
                self._process(job, fails())
            else:
                job["state_id"] = FAILED
                job["why"] = "no bytes received"

    def settle(self, job_id: int) -> dict:
        """The job as it is now: ended first if its time is up."""
        with self.world.lock:
            job = self.world.jobs[job_id]
            if job["state_id"] == PROCESSING and job["due"] <= self.world.clock():
                self._end(job_id, job)
            return job

    def received(self, job_id: int, staged: Path) -> bool:
        """An upload's bytes are in: kept for ``upload_done``, unless the job
        ended meanwhile (then they go)."""
        with self.world.lock:
            job = self.world.jobs.get(job_id)
            if job is None or job["state_id"] != SUBMITTED:
                staged.unlink(missing_ok=True)
                return False
            job["staged"] = str(staged)
            job["since"] = self.world.clock()
            job.pop("receiving", None)
            self._watch()
            return True

    def receiving(self, job_id: int, busy: bool) -> None:
        """An upload body is coming in: not abandoned while it does."""
        with self.world.lock:
            job = self.world.jobs.get(job_id)
            if job is not None:
                if busy:
                    job["receiving"] = True
                else:
                    job.pop("receiving", None)
                job["since"] = self.world.clock()

    # --- the jobs' own time ----------------------------------------------------------
    def _process(self, job: dict, fails: bool) -> None:
        job["state_id"] = PROCESSING
        job["fails"] = fails
        job["due"] = self.world.clock() + self.world.processing_seconds
        self._watch()

    def _watch(self) -> None:
        """Wake the thread (start it when there is none): something changed."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="sbi-jobs", daemon=True)
            self._thread.start()
        self._wake.notify()

    def _run(self) -> None:
        w = self.world
        with w.lock:
            while True:
                now = w.clock()
                for job_id, job in list(w.jobs.items()):
                    if job["state_id"] == PROCESSING and job["due"] <= now:
                        self._end(job_id, job)
                self._sweep(now)
                wait = self._next(now)
                if wait is None:
                    self._thread = None
                    return
                self._wake.wait(max(wait, 0.005))

    def _next(self, now: float) -> float | None:
        """Seconds until something is due, None when nothing is left to watch."""
        times = []
        for job in self.world.jobs.values():
            if job["state_id"] == PROCESSING:
                times.append(job["due"])
            elif _holding(job):
                times.append(job["since"] + self.world.abandoned_after)
        return min(times) - now if times else None

    def _end(self, job_id: int, job: dict) -> None:
        if job.pop("fails", False):
            discard(job)
            job["state_id"] = FAILED
            return
        w = self.world
        p = w.projects.get(job["target"][0])
        d = p.datasets.get(job["target"][1]) if p is not None else None
        finish = _finish_upload if job["kind"] == "upload" else _stage_download
        try:
            ok = d is not None and finish(w, p, d, job_id, job)
        except OSError as e:  # the store's own trouble: the job fails, the thread goes on
            job["why"] = f"{type(e).__name__}: {e}"
            ok = False
        if not ok:
            discard(job)
        job["state_id"] = DONE if ok else FAILED

    def _sweep(self, now: float) -> None:
        """Bytes nobody will finish: gone after ``abandoned_after``."""
        w = self.world
        for job_id, job in w.jobs.items():
            if _holding(job) and now - job["since"] >= w.abandoned_after:
                discard(job)
                job["state_id"] = FAILED
                job["why"] = "abandoned"
                for table in (w.uploads, w.downloads):
                    for token in [t for t, v in table.items() if _job_of(v) == job_id]:
                        del table[token]
        folder = w.root / "sbi-transfers"
        if not folder.is_dir():
            return
        held = {job.get("staged") for job in w.jobs.values()}
        old = time.time() - w.abandoned_after
        for f in folder.iterdir():
            try:
                if str(f) not in held and f.lstat().st_mtime < old:
                    f.unlink()
            except FileNotFoundError:
                pass


def _holding(job: dict) -> bool:
    """A job that keeps bytes, or a url, for a client that may never come back."""
    if job.get("receiving"):
        return False
    if job["state_id"] == SUBMITTED:
        return job["kind"] == "upload"
    return job["state_id"] == DONE and "staged" in job


def _job_of(entry) -> int:
    return entry["job"] if isinstance(entry, dict) else entry


def discard(job: dict) -> None:
    staged = job.pop("staged", None)
    if staged:
        Path(staged).unlink(missing_ok=True)


def _parts(folder: str) -> list[str]:
    return [x for x in folder.split("/") if x]


def _finish_upload(w, p, d, job_id: int, job: dict) -> bool:
    """Move the received bytes into place, or fail the job (102) when they
    would take the project over its quota: a job ending 102 is how the
    recordings show a transfer refused after it started, and the size is only
    known once the bytes are in (initiate_upload carries none)."""
    _, _, subtype, folder, name = job["target"]
    staged = Path(job.pop("staged"))
    target = w.sbi_dir(p, d.name, subtype, *_parts(folder), name)
    replaced = target.stat().st_size if target.is_file() else 0
    size = staged.stat().st_size
    if w.sbi_used(p) - replaced + size > p.quota_allocated:
        staged.unlink(missing_ok=True)
        job["why"] = "over quota"
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)  # whole or not at all, never half a file under its name
    top = w.sbi_dir(p, d.name, subtype)
    d.subtypes[subtype] = sum(f.stat().st_size for f in top.rglob("*") if f.is_file())
    return True


def _stage_download(w, p, d, job_id: int, job: dict) -> bool:
    """The file as it is now, set aside for its single-use url (a link: the
    store only ever replaces files whole, so the link keeps these bytes)."""
    _, _, subtype, folder, name = job["target"]
    source = w.sbi_dir(p, d.name, subtype, *_parts(folder), name)
    staged = w.transfers_dir() / f"download-{job_id}"
    staged.unlink(missing_ok=True)
    try:
        os.link(source, staged)
    except FileNotFoundError:
        return False
    except OSError:
        shutil.copyfile(source, staged)
    job["staged"] = str(staged)
    job["since"] = w.clock()
    return True
