"""Lists in messages: the first few named, the rest counted."""

from __future__ import annotations

from collections.abc import Sequence


def first(items: Sequence[str], shown: int = 3) -> str:
    """``"a, b, c and 4 more"``: a long list stays one readable line."""
    head = ", ".join(items[:shown])
    return head + (f" and {len(items) - shown} more" if len(items) > shown else "")
