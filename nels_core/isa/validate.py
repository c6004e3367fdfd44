"""``isa validate``: isatools' ISA-Tab and ISA-JSON validators on a bundle.

isatools is imported here only, lazily: it is the reference we check
against, not something the rest of nels_core needs (nor can Galaxy's
environment install it).

Warnings isatools always gives for bundles like ours are documented in
README ("ISA validation: known warnings") and still shown; they never
change the exit status. Errors do.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import NelsError


@dataclass
class Finding:
    validator: str  # "ISA-Tab" or "ISA-JSON"
    level: str  # "error" or "warning"
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.validator} {self.level} {self.code}: {self.message}"


def validate_bundle(folder: Path) -> list[Finding]:
    investigation = folder / "isa-tab" / "i_investigation.txt"
    document = folder / "isa.json"
    for needed in (investigation, document):
        if not needed.is_file():
            raise NelsError(
                f"{folder} is not an ISA bundle: {needed.relative_to(folder)} is missing"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from isatools import isajson, isatab
    except ImportError:
        raise NelsError("validation needs isatools: pip install 'nels-bundle[isa]'") from None
    logging.getLogger("isatools").setLevel(logging.CRITICAL)
    findings: list[Finding] = []
    quiet = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(quiet):
        warnings.simplefilter("ignore")
        with open(investigation, encoding="utf-8") as f:
            tab = isatab.validate(f)
        with open(document, encoding="utf-8") as f:
            js = isajson.validate(f)
    for validator, report in (("ISA-Tab", tab), ("ISA-JSON", js)):
        for level in ("errors", "warnings"):
            for item in report.get(level, []):
                message = item.get("message", "")
                if item.get("supplemental"):
                    message += f" ({item['supplemental']})"
                findings.append(Finding(validator, level[:-1], str(item.get("code", "")), message))
    return findings
