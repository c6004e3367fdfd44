"""Illumina file naming, as bcl2fastq and BCL Convert write it."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FASTQ = re.compile(
    r"^(?P<sample>.+)_S(?P<number>\d+)_L(?P<lane>\d{3})_(?P<read>[RI][1-4])_001\.f(ast)?q(\.gz)?$"
)


@dataclass(frozen=True)
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
