"""StoreBioinfo (SBI): runs archived from NeLS and staged back, checked.

``plan`` finds everything that would stop a move before anything moves;
``archive`` and ``stage`` move files one transfer job each, resuming at file
granularity; ``places`` maps NeLS projects and SBI addresses onto each other.
"""

from .archive import ArchiveReport, archive
from .plan import ArchivePlan, ArchiveRefused, plan_archive
from .progress import TransferProgress
from .stage import StagePlan, StageRefused, StageReport, parse_sbi_uri, plan_stage, stage

__all__ = [
    "ArchivePlan",
    "ArchiveRefused",
    "ArchiveReport",
    "StagePlan",
    "StageRefused",
    "StageReport",
    "TransferProgress",
    "archive",
    "parse_sbi_uri",
    "plan_archive",
    "plan_stage",
    "stage",
]
