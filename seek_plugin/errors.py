"""SEEK's error answers, in every shape it really sends, as one exception.

SEEK 1.18 answers an error as any of:
- ``{"errors": [{"title", "detail"}]}`` (most refusals, 404),
- ``{"errors": [{"title", "details"}]}`` (403, 422 unknown attribute, 501),
- ``{"errors": [{"source": {"pointer"}, "detail"}]}`` (422 validation),
- ``{"title", "detail"}`` with no list (401 for non-members),
- ``{"error": "..."}`` (some controllers),
- JSON as ``text/plain`` (422 from the JSON:API checks), a bare JSON
  string (``"not_implemented"``), or plain text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nels_core.errors import NelsError
from nels_core.redact import scrub


@dataclass(frozen=True)
class Problem:
    detail: str
    title: str = ""
    pointer: str = ""  # JSON pointer into the request, e.g. /data/attributes/title

    def __str__(self) -> str:
        where = f"{self.pointer.rsplit('/', 1)[-1]} " if self.pointer else ""
        head = f"{self.title}: " if self.title and self.detail else self.title
        return f"{head}{where}{self.detail}".strip()


class SeekError(NelsError):
    """SEEK refused a call, or answered something we cannot read.

    ``status`` is the HTTP status (0 when SEEK was unreachable) and
    ``problems`` what SEEK said, one per error it listed.
    """

    def __init__(self, status: int, problems: list[Problem], where: str = ""):
        self.status = status
        self.problems = problems
        self.where = where
        said = "; ".join(str(p) for p in problems) or "no message"
        super().__init__(f"SEEK error {status}{f' ({where})' if where else ''}: {said}")

    @property
    def message(self) -> str:
        return "; ".join(str(p) for p in self.problems)


class SeekAuthError(SeekError):
    """The credentials were refused, or SEEK took them for anonymous."""


def problems_from(text: str, reason: str = "", secrets=()) -> list[Problem]:
    """What an error body says, whatever its shape or content type; each part
    scrubbed of credentials (``secrets``: what the caller sent), as a server
    or proxy may echo the request's headers."""
    return [
        Problem(scrub(p.detail, secrets), scrub(p.title, secrets), scrub(p.pointer, secrets))
        for p in _problems(text, reason)
    ]


def _problems(text: str, reason: str) -> list[Problem]:
    try:
        body = json.loads(text)
    except ValueError:
        text = (text or "").strip()
        return [Problem(text or reason)] if (text or reason) else []
    if isinstance(body, str):
        return [Problem(body.replace("_", " "))]
    if not isinstance(body, dict):
        return [Problem(str(body))]
    if not body:  # a 400 with {} when a content blob already has content
        return [Problem(reason or "no message")]
    if isinstance(body.get("errors"), list):
        out = []
        for e in body["errors"]:
            if not isinstance(e, dict):
                out.append(Problem(str(e)))
                continue
            source = e.get("source") if isinstance(e.get("source"), dict) else {}
            out.append(
                Problem(
                    str(e.get("detail") or e.get("details") or ""),
                    str(e.get("title") or ""),
                    str(source.get("pointer") or ""),
                )
            )
        return out
    if "error" in body:
        detail = body.get("message") or body.get("detail") or ""
        return [Problem(str(detail), str(body["error"]))]
    if "title" in body or "detail" in body:
        return [Problem(str(body.get("detail") or ""), str(body.get("title") or ""))]
    return [Problem(json.dumps(body))]
