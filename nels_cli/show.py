"""Text from outside (file names, server answers) as the terminal shows it:
literally. Never taken for rich markup, and no control character reaches the
terminal raw: each is shown as an escape, as Python writes it."""

from __future__ import annotations

import unicodedata

from rich.text import Text

# characters that move the cursor, change colours or hide what follows
_HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def visible(text: str) -> str:
    out = []
    for ch in text:
        if unicodedata.category(ch) not in _HIDDEN:
            out.append(ch)
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def literal(text: str) -> Text:
    """For rich: the text exactly as it is, control characters made visible."""
    return Text(visible(text))
