"""The ISA page's "To look at" list, grouped so that a long path or a list
of samples is said once: metadata the samples lack, grouped by the samples
that lack it, and every other issue grouped by the file or sample it is about."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from nels_core.isa.model import InvestigationRecord
from nels_core.isa.sheet import describe_missing
from nels_core.wording import first

from .wording import counted

MISSING = "missing-metadata"  # the issues describe_missing gives, listed here by sample
SHOWN_SAMPLES = 8


@dataclass(frozen=True)
class Missing:
    """What a set of samples lacks, and where they are."""

    fields: list[str]  # "organism", "collection date", ...
    samples: int
    where: list[tuple[str, str]]  # (study folder, "Gill-1, Gill-2 and 3 more")


def missing_by_samples(inv: InvestigationRecord) -> list[Missing]:
    """Fields not given, one entry per set of samples lacking the same fields."""
    by_samples: dict[tuple[str, ...], list[str]] = {}
    for field, labels in describe_missing(inv):
        by_samples.setdefault(tuple(labels), []).append(field)
    return [
        Missing(fields, len(labels), _by_study(labels)) for labels, fields in by_samples.items()
    ]


def _by_study(labels: tuple[str, ...]) -> list[tuple[str, str]]:
    """Sample labels ("NorSeq/run1/Gill-1") as their study folder, named once."""
    studies: dict[str, list[str]] = {}
    for label in labels:
        study, name = posixpath.split(label)
        studies.setdefault(study, []).append(name)
    return [(study, first(names, SHOWN_SAMPLES)) for study, names in studies.items()]


def others_by_place(issues) -> list[tuple[str, list[str]]]:
    """Every other issue, ``[(file or sample, [what is wrong with it])]``."""
    by_place: dict[str, list[str]] = {}
    for issue in issues:
        if issue.code != MISSING:
            by_place.setdefault(issue.path, []).append(issue.message)
    return list(by_place.items())


def issue_lines(inv: InvestigationRecord, issues) -> list[str]:
    """The same grouping as lines of text, for a job's notes."""
    lines = []
    for m in missing_by_samples(inv):
        where = "; ".join(f"{names} (in {study or 'this folder'})" for study, names in m.where)
        lines.append(f"{', '.join(m.fields)} not given for {counted(m.samples, 'sample')}: {where}")
    for place, messages in others_by_place(issues):
        lines.append(f"{place}: {'; '.join(messages)}" if place else "; ".join(messages))
    return lines
