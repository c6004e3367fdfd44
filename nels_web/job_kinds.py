"""Every kind of job a worker runs, by the name its row gives."""

from .deposit_jobs import biostudies_job, ena_job
from .sbi_jobs import archive_job, stage_job
from .seek_jobs import pull_job, push_job

KINDS = {
    "push": push_job,
    "pull": pull_job,
    "ena": ena_job,
    "biostudies": biostudies_job,
    "sbi_archive": archive_job,
    "sbi_stage": stage_job,
}
