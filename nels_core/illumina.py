"""Illumina file naming, as bcl2fastq and BCL Convert write it."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FASTQ = re.compile(
    r"^(?P<sample>.+)_S(?P<number>\d+)_L(?P<lane>\d{3})_(?P<read>[RI][1-4])_001\.f(ast)?q(\.gz)?$"
)


@dataclass(frozen=True, slots=True)
class FastqName:
    sample: str
    number: int
    lane: int
    read: str  # R1, R2, I1, I2

    @property
    def is_index(self) -> bool:
        return self.read.startswith("I")

    @property
    def is_undetermined(self) -> bool:
        return self.sample == "Undetermined" and self.number == 0


def parse_fastq_name(name: str) -> FastqName | None:
    m = _FASTQ.match(name)
    if not m:
        return None
    return FastqName(m["sample"], int(m["number"]), int(m["lane"]), m["read"])


# The instrument id in a run folder's name (YYMMDD_<id>_<run>_<flow cell>)
# starts with a prefix that says the model; longest prefixes first.
_INSTRUMENT_PREFIXES = (
    ("LH", "Illumina NovaSeq X"),
    ("VH", "NextSeq 2000"),
    ("VL", "NextSeq 1000"),
    ("NB", "NextSeq 500"),
    ("NS", "NextSeq 550"),
    ("MN", "Illumina MiniSeq"),
    ("FS", "Illumina iSeq 100"),
    ("SN", "Illumina HiSeq 2000"),
    ("A", "Illumina NovaSeq 6000"),
    ("M", "Illumina MiSeq"),
    ("K", "Illumina HiSeq 4000"),
    ("J", "Illumina HiSeq 3000"),
    ("E", "Illumina HiSeq X"),
    ("D", "Illumina HiSeq 2500"),
)
_RUN_FOLDER = re.compile(r"^\d{6}_(?P<instrument>[A-Z]+\d+)_\d+_")
# BCL Convert (v2) sample sheets name the platform in their own words
_V2_PLATFORMS = {
    "novaseqxseries": "Illumina NovaSeq X",
    "novaseqxplus": "Illumina NovaSeq X Plus",
    "novaseq6000": "Illumina NovaSeq 6000",
    "nextseq1000/2000": "NextSeq 2000",
    "nextseq2000": "NextSeq 2000",
    "nextseq1000": "NextSeq 1000",
    "miseq": "Illumina MiSeq",
    "iseq100": "Illumina iSeq 100",
}


def instrument_from_run(run_name: str) -> str:
    """The ENA instrument model a run folder's name implies, or ""."""
    m = _RUN_FOLDER.match(run_name)
    if not m:
        return ""
    for prefix, model in _INSTRUMENT_PREFIXES:
        if m["instrument"].startswith(prefix) and m["instrument"][len(prefix)].isdigit():
            return model
    return ""


def instrument_from_sheet_header(header: dict[str, str]) -> str:
    """The model a v2 sample sheet's InstrumentType / InstrumentPlatform names, or ""."""
    for key in ("InstrumentType", "InstrumentPlatform"):
        found = _V2_PLATFORMS.get(header.get(key, "").replace(" ", "").lower())
        if found:
            return found
    return ""
