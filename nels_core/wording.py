"""Lists and counts in messages: the first few named, the rest counted; nouns
in the number their count asks."""

from __future__ import annotations

from collections.abc import Sequence


def first(items: Sequence[str], shown: int = 3) -> str:
    """``"a, b, c and 4 more"``: a long list stays one readable line."""
    head = ", ".join(items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")


def counted(n: int, noun: str) -> str:
    """``1 sample``, ``4 samples``: a count with its noun as the count asks
    (nouns whose plural is not "+s" are not counted through here)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
