"""Names that are not UTF-8, in a form JSON, HTML and URLs can carry.

NeLS may hold such names (old instruments write Latin-1); nels_core carries
their bytes as Python does (surrogate escapes), which UTF-8 output refuses:
one such file made its folder answer a 500 in Galaxy and in our web app.
There each such path segment becomes ``nels-bytes~<hex of its bytes>`` and
its display name shows the odd bytes as ``\\xNN``; the segment is turned
back on the way in.
"""

from __future__ import annotations

MARK = "nels-bytes~"


def _odd(segment: str) -> bool:
    try:
        segment.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def to_text(path: str) -> str:
    return "/".join(
        MARK + s.encode("utf-8", "surrogateescape").hex() if _odd(s) else s for s in path.split("/")
    )


def from_text(path: str) -> str:
    out = []
    for s in path.split("/"):
        if s.startswith(MARK):
            try:
                s = bytes.fromhex(s[len(MARK) :]).decode("utf-8", "surrogateescape")
            except ValueError:
                pass  # not our form after all: the name as it is
        out.append(s)
    return "/".join(out)


def shown(name: str) -> str:
    """The name to display: each byte that is not UTF-8 as ``\\xNN``."""
    if not _odd(name):
        return name
    raw = name.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")
