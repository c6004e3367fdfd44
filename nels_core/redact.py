"""Credentials out of any text we show: a server's answer, a URL, an error.

Servers and proxies echo what they were sent. A 4xx/5xx page that lists the
request headers puts ``Authorization: Bearer ...`` into our error text, and
from there onto stderr, into logs and into web pages. Every client runs what
it shows through :func:`scrub`, passing the secrets it holds itself so they
go even when they appear bare.
"""

from __future__ import annotations

import re
import unicodedata
from base64 import b64encode
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MARK = "[redacted]"
LIMIT = 300
WINDOW = 20_000  # what is read of a longer text when the result is cut anyway
# shorter values are too common to strip everywhere without wrecking the text
MIN_SECRET = 4
# characters that move the cursor, change colours or hide what follows
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}

# Names whose value is a credential: headers, JSON keys, form and query fields.
# Prefixes and suffixes are bounded so a long hyphenated run costs linear time.
_NAMES = (
    r"(?:proxy-)?authorization|(?:set-)?cookie|x-[\w-]{0,32}(?:auth|key)[\w-]{0,32}"
    r"|[\w-]{0,32}(?:token|secret|passw(?:or)?d|pwd|sessid|session[-_]?id"
    r"|api[-_]?key|apikey|private[-_]?key)[\w-]{0,32}"
)
# "password": "x", 'token': 'x' (JSON, Python reprs): the value up to its
# closing quote, or a bare number/word up to the next separator
_KEYED = re.compile(
    rf"""(["'])((?:{_NAMES}))\1(\s*[:=]\s*)"""
    r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,;}\]\s]+)""",
    re.I,
)
# a header line, "Authorization: Bearer x": the rest of the line, whatever the
# scheme; a backslash ends it too (a newline escaped inside a JSON string)
_HEADER = re.compile(rf"\b((?:{_NAMES}))(\s*:[ \t]*)[^\r\n\\]+", re.I)
# password=x&... in a query string or form body
_FIELD = re.compile(rf"\b((?:{_NAMES}))(=)[^&\s\"'<>;,]+", re.I)
# "Bearer x" / "Token x" / "Basic x" in running text (see _credential)
_SCHEME = re.compile(r"\b(bearer|token|basic)(\s+)([\w.~+/=-]+)", re.I)
_ODD = re.compile(r"[\d_.~+/=-]")
# https://user:password@host
_USERINFO = re.compile(r"(\w://[^/\s:@]*):[^/\s@]*@")


def scrub(text, secrets: Iterable[str | None] = (), limit: int | None = LIMIT) -> str:
    """``text`` (str, bytes or anything) fit to show: credentials replaced by
    ``[redacted]``, whitespace runs as one space, control characters as
    escapes, at most ``limit`` characters ("…" when cut)."""
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", "replace")
    text = str(text)
    if limit is not None and len(text) > WINDOW:
        # the patterns cost time on megabytes of hostile text; cut at a space
        # so no credential is left half there
        text = text[:WINDOW].rsplit(None, 1)[0]
    # the caller's own secrets first, in the forms they travel in; longest
    # first so a secret that contains another goes whole
    known = set()
    for s in secrets:
        if s and len(s) >= MIN_SECRET:
            known.update({s, quote(s, safe=""), quote_plus(s)})
    for s in sorted(known, key=len, reverse=True):
        text = text.replace(s, MARK)
    text = _KEYED.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{MARK}", text)
    text = _HEADER.sub(lambda m: f"{m[1]}{m[2]}{MARK}", text)
    text = _FIELD.sub(lambda m: f"{m[1]}{m[2]}{MARK}", text)
    text = _SCHEME.sub(_credential, text)
    text = _USERINFO.sub(rf"\1:{MARK}@", text)
    text = visible(" ".join(text.split()))
    # cut last: a secret cut in half would escape the exact match above
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _credential(m: re.Match) -> str:
    """The value after a scheme word goes when it looks like a credential (a
    digit or symbol inside it, or 16 characters), so "token expired." stays."""
    value = m[3].rstrip(".-~+/")  # the end of a sentence, not of a token
    if len(value) >= 16 or _ODD.search(value):
        return f"{m[1]}{m[2]}{MARK}{m[3][len(value) :]}"
    return m[0]


def basic(user: str, password: str) -> str:
    """The ``Authorization: Basic`` value for a pair, to pass as a secret."""
    return b64encode(f"{user}:{password}".encode()).decode("ascii")


def visible(text: str) -> str:
    """Each control or formatting character as the escape Python writes for it."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _HIDDEN else ch
        for ch in text
    )
