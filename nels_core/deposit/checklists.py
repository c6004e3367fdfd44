"""ENA's sample checklists: which attributes a sample needs, and what values fit.

ENA checks every sample against its checklist (ERC000011 by default; the
GSC MIxS packages, virus pathogen, plant ... ) only after submission. We load
the same checklist and check before anything is sent: mandatory fields,
regular expressions, controlled values and units, as ENA defines them.

Checklists are read from ``$NELS_ENA_CHECKLIST_DIR`` (``ERCnnnnnn.json``, the
form ``../shared/specs/ena/checklists`` holds), else a cache filled once from
ENA's checklist service (its XML, turned into that form), as the XSDs are.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..local_files import write_whole
from ..wording import first

ENA_CHECKLIST_URL = "https://www.ebi.ac.uk/ena/browser/api/xml/"
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
    / "nels-bundle"
    / "ena-checklists"
)
ACCESSION = re.compile(r"ERC\d{6}")
DEFAULT = "ERC000011"  # ENA's default sample checklist
# what the sample XML carries elsewhere than in SAMPLE_ATTRIBUTES
NOT_ATTRIBUTES = {
    "alias",
    "title",
    "taxon_id",
    "scientific_name",
    "common_name",
    "sample_description",
}
MISSING = "not provided"  # the INSDC term sent for a mandatory field not given


@dataclass(frozen=True)
class Field:
    name: str
    cardinality: str  # mandatory, recommended or optional
    regex: str = ""
    cv: tuple[str, ...] = ()
    units: tuple[str, ...] = ()

    def problem(self, value: str) -> str | None:
        """Why ENA would refuse ``value`` here, or None."""
        if self.cv and value not in self.cv:
            folded = {v.casefold(): v for v in self.cv}
            hint = (
                f" (did you mean {folded[value.casefold()]!r}?)"
                if value.casefold() in folded
                else ""
            )
            return f"is not one of its values{hint}: {first(self.cv, 8)}"
        pattern = _compiled(self.regex) if self.regex else None
        if pattern is not None and not pattern.fullmatch(value):
            return f"does not match its pattern {self.regex}"
        return None

    def takes_missing(self) -> bool:
        """Whether the checklist itself names INSDC's "not provided" as a value
        (collection date, country): a free-text field does not, and needs one."""
        named = MISSING in self.cv or MISSING in self.regex
        return named and self.problem(MISSING) is None


@dataclass
class Checklist:
    accession: str
    name: str
    fields: dict[str, Field] = field(default_factory=dict)  # sample attributes, by name
    _mandatory: list[Field] | None = field(default=None, repr=False, compare=False)

    def mandatory(self) -> list[Field]:
        if self._mandatory is None:  # asked once per sample: worked out once
            self._mandatory = [f for f in self.fields.values() if f.cardinality == "mandatory"]
        return self._mandatory


class EnaChecklists:
    def __init__(self, folder: str | os.PathLike | None = None):
        chosen = folder or os.environ.get("NELS_ENA_CHECKLIST_DIR")
        self.folder = Path(chosen) if chosen else CACHE
        self._loaded: dict[str, Checklist] = {}

    def available(self) -> list[tuple[str, str]]:
        """(accession, name) of each checklist this machine has, ENA's default first."""
        try:
            overview = json.loads((self.folder / "checklist_overview.json").read_text())
            found = [(c["accession"], c["name"]) for c in overview]
        except (OSError, ValueError, KeyError, TypeError):
            found = [(p.stem, p.stem) for p in sorted(self.folder.glob("ERC*.json"))]
        return sorted(found, key=lambda c: (c[0] != DEFAULT, c[0])) or [(DEFAULT, DEFAULT)]

    def get(self, accession: str) -> Checklist:
        if not ACCESSION.fullmatch(accession):
            raise ConfigError(f"{accession!r} is not an ENA checklist (ERC and six digits)")
        if accession not in self._loaded:
            self._loaded[accession] = self._read(accession)
        return self._loaded[accession]

    def _read(self, accession: str) -> Checklist:
        path = self.folder / f"{accession}.json"
        if not path.exists():
            write_whole(path, json.dumps(self._fetch(accession), indent=1).encode())
        try:
            data = json.loads(path.read_text())
            fields = data["sample"]["fields"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"checklist {accession} in {path} cannot be read ({e})") from None
        out = Checklist(accession, data.get("name") or _name(self.folder, accession))
        for f in fields:
            if f["name"] in NOT_ATTRIBUTES:
                continue
            units = tuple(u for u in (f.get("units") or "").split(",") if u.strip())
            out.fields[f["name"]] = Field(
                f["name"], f.get("cardinality", "optional"), f.get("regex") or "",
                tuple(f.get("cv") or ()), tuple(u.strip() for u in units),
            )  # fmt: skip
        return out

    def _fetch(self, accession: str) -> dict:
        """ENA's checklist XML, in the form the folder holds."""
        import requests
        from lxml import etree

        try:
            r = requests.get(ENA_CHECKLIST_URL + accession, timeout=60)
            r.raise_for_status()
            root = etree.fromstring(r.content)
        except (requests.RequestException, etree.XMLSyntaxError) as e:
            raise ConfigError(
                f"ENA's checklist {accession} is not cached in {self.folder} and could not be "
                f"fetched from {ENA_CHECKLIST_URL} ({type(e).__name__}); set "
                "NELS_ENA_CHECKLIST_DIR to a copy"
            ) from None
        return from_ena_xml(root)


def from_ena_xml(root) -> dict:
    """ENA's ``CHECKLIST_SET`` XML as ``{"name", "sample": {"fields": [...]}}``."""
    checklist = root.find(".//CHECKLIST")
    if checklist is None:
        raise ConfigError("ENA's answer holds no CHECKLIST")
    fields = []
    for f in checklist.iter("FIELD"):
        kind = f.find("FIELD_TYPE")
        fields.append(
            {
                "name": (f.findtext("NAME") or "").strip(),
                "cardinality": (f.findtext("MANDATORY") or "optional").strip(),
                "regex": (kind.findtext(".//REGEX_VALUE") or "") if kind is not None else "",
                "cv": [v.text or "" for v in f.iterfind("FIELD_TYPE//TEXT_VALUE/VALUE")],
                "units": ",".join(u.text or "" for u in f.iterfind("UNITS/UNIT")),
            }
        )
    return {"name": checklist.findtext("DESCRIPTOR/NAME") or "", "sample": {"fields": fields}}


def _name(folder: Path, accession: str) -> str:
    try:
        overview = json.loads((folder / "checklist_overview.json").read_text())
        return next(c["name"] for c in overview if c.get("accession") == accession)
    except (OSError, ValueError, StopIteration, TypeError, KeyError):
        return accession


_PATTERNS: dict[str, re.Pattern | None] = {}


def _compiled(regex: str) -> re.Pattern | None:
    """ENA's pattern (Java's syntax); None for the rare one Python cannot read,
    which ENA then checks alone."""
    if regex not in _PATTERNS:
        try:
            _PATTERNS[regex] = re.compile(regex)
        except re.error:
            _PATTERNS[regex] = None
    return _PATTERNS[regex]
