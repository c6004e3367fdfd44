"""Text from outside (file names, server answers) as the terminal shows it:
literally. Never taken for rich markup (nor for emoji codes), and no control
character reaches the terminal raw: each is shown as an escape, as Python
writes it.

Hand rich a :func:`literal` (a ``Text``), never a ``str`` holding outside
text: rich reads markup and ``:emoji:`` codes in every ``str`` it prints,
even with ``markup=False``. ``click.echo`` and plain files get :func:`visible`.
"""

from __future__ import annotations

import re

from rich.text import Text

from nels_core.redact import visible as _escaped

# a byte that was not UTF-8, carried by surrogateescape (os.fsdecode's names)
_UNDECODED = re.compile("[\udc80-\udcff]")


def visible(text: str) -> str:
    """``text`` with each control or formatting character as the escape Python
    writes for it; a byte that was not UTF-8 as ``\\xNN``."""
    return _escaped(_UNDECODED.sub(lambda m: f"\\x{ord(m[0]) - 0xDC00:02x}", text))


def literal(text) -> Text:
    """For rich: the text (``str()`` of anything) exactly as it is, control
    characters made visible."""
    return Text(visible(str(text)))


def warning(text) -> Text:
    """A warning line for rich: "warning" in yellow, then ``text`` literally."""
    return Text.assemble(("warning", "yellow"), " ", literal(text))
