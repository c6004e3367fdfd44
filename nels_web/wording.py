"""How the pages say things: counts with the right noun form, and errors in
words a researcher reads (no HTTP status numbers, no request lines)."""

from __future__ import annotations

import re

from nels_core.errors import ApiError, NelsError
from seek_plugin.errors import SeekAuthError, SeekError

# the nouns the pages count whose plural is not the singular with an "s"
IRREGULAR = {"study": "studies", "analysis": "analyses", "data file": "data files"}
SINGULAR = {plural: one for one, plural in IRREGULAR.items()}
_TAG = re.compile(r"<\s*[!/]?[a-z][^>]*>", re.I)  # "<html>", "</p>", "<!doctype html>"


def counted(n: int, noun: str) -> str:
    """``1 investigation``, ``2 studies``: SEEK's and ENA's kinds ("data_files",
    "run") as words, singular or plural as the count asks."""
    one = singular(noun.replace("_", " "))
    if n == 1:
        return f"{n} {one}"
    return f"{n} {IRREGULAR.get(one, one + 's')}"


def singular(noun: str) -> str:
    if noun in SINGULAR:
        return SINGULAR[noun]
    if noun.endswith("s") and not noun.endswith("ss") and noun not in IRREGULAR:
        return noun[:-1]
    return noun


def told(e: Exception) -> str:
    """An error as the page says it: what went wrong and what to do."""
    if isinstance(e, SeekError):
        return _seek_told(e)
    if isinstance(e, ApiError):
        if e.status >= 500 or e.status == 0:
            return sentence(f"NeLS is not answering properly; try again later ({e.message})")
        return sentence(f"NeLS refused: {e.message or 'it gave no reason'}")
    if isinstance(e, NelsError | ValueError):
        return sentence(str(e))
    return "Something went wrong on our side; it was logged. Try again later."


def _seek_told(e: SeekError) -> str:
    said = "it gave no reason" if _markup(e.message) else e.message or "it gave no reason"
    if e.status == 0:
        return sentence(f"SEEK could not be reached or read: {said}")
    if isinstance(e, SeekAuthError):
        return sentence(f"SEEK did not accept the API token; connect the account again ({said})")
    if e.status == 403:
        return sentence(f"SEEK does not let this account do that (is it in the project?): {said}")
    if e.status == 404:
        return sentence(f"SEEK has no such record or project, or does not show it to you: {said}")
    if e.status >= 500:
        return sentence(f"SEEK failed on its side; try again later ({said})")
    return sentence(f"SEEK refused what was sent: {said}")


def _markup(said: str) -> bool:
    """An HTML page (a proxy's, a sign-in page) where SEEK's words should be:
    nothing in it is SEEK's answer, so none of it is shown."""
    return _TAG.search(said or "") is not None


def sentence(text: str) -> str:
    """Capitalised and ended with a full stop, as the pages print messages."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def in_bytes(n: int) -> str:
    """A size as people read it: "512 bytes", "3.4 MB", "1.2 GB" (powers of 1000, as ENA says)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"
