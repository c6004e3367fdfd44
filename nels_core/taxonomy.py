"""ENA's taxonomy service: every taxon checked as ENA and BioSamples will.

ENA refuses a sample whose taxon is unknown or not submittable (a genus,
"Bacteria"), and a curator flags one whose id and name disagree (8030 named
"Gadus morhua"). We ask the same service before sending
(``/tax-id/<id>``, ``/scientific-name/<name>``) and keep its answers per
machine, so a deposit of 10,000 samples of one species asks once. Without a
connection the check says it could not be made; it never passes silently.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from .errors import NelsError
from .local_files import write_whole
from .redact import scrub
from .wording import first

ENA_TAXONOMY = "https://www.ebi.ac.uk/ena/taxonomy/rest"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nels-bundle"


class TaxonomyUnavailable(NelsError):
    """The service could not be asked (no network, or an answer that is not its)."""


@dataclass(frozen=True)
class Taxon:
    tax_id: str
    scientific_name: str
    submittable: bool


class Taxonomy:
    """Lookups against ``url`` (``$NELS_ENA_TAXONOMY_URL``, else ENA's own),
    remembered in ``cache`` (a JSON file; unknown ids are remembered too)."""

    def __init__(self, url: str | None = None, cache: Path | None = None, timeout: float = 20):
        self.url = (url or os.environ.get("NELS_ENA_TAXONOMY_URL") or ENA_TAXONOMY).rstrip("/")
        self.cache = cache or CACHE / f"taxonomy-{_slug(self.url)}.json"
        self.timeout = timeout
        self._known: dict[str, list[dict]] | None = None
        self._lock = threading.Lock()

    def by_id(self, tax_id: str) -> Taxon | None:
        found = self._ask(f"tax-id/{quote(tax_id)}")
        return found[0] if found else None

    def by_name(self, name: str) -> list[Taxon]:
        return self._ask(f"scientific-name/{quote(name)}")

    def _ask(self, path: str) -> list[Taxon]:
        with self._lock:
            known = self._load()
            if path not in known:
                known[path] = self._fetch(path)
                write_whole(self.cache, json.dumps(known, sort_keys=True).encode())
            return [Taxon(**t) for t in known[path]]

    def _load(self) -> dict[str, list[dict]]:
        if self._known is None:
            try:
                self._known = json.loads(self.cache.read_text())
            except (OSError, ValueError):
                self._known = {}
        return self._known

    def _fetch(self, path: str) -> list[dict]:
        url = f"{self.url}/{path}"
        try:
            r = requests.get(url, timeout=self.timeout, headers={"Accept": "application/json"})
        except requests.RequestException as e:
            raise TaxonomyUnavailable(
                f"ENA's taxonomy service at {self.url} could not be reached ({type(e).__name__})"
            ) from None
        if r.status_code in (400, 404):  # ENA's answer for an id or name it does not know
            return []
        try:
            r.raise_for_status()
            body = r.json()
        except (requests.HTTPError, ValueError):
            raise TaxonomyUnavailable(
                f"ENA's taxonomy service answered {r.status_code}: {scrub(r.text, limit=120)}"
            ) from None
        items = body if isinstance(body, list) else [body]
        try:
            return [
                asdict(
                    Taxon(
                        str(t["taxId"]),
                        str(t["scientificName"]),
                        str(t.get("submittable", "")).lower() == "true",
                    )
                )
                for t in items
            ]
        except (KeyError, TypeError):
            raise TaxonomyUnavailable(
                f"ENA's taxonomy service answered something else: {scrub(r.text, limit=120)}"
            ) from None


def taxon_problems(taxonomy: Taxonomy, pairs: dict[tuple[str, str], list[str]]) -> list[str]:
    """For each (taxon id, scientific name) and the samples that give it:
    what ENA would refuse, naming both sides. Raises TaxonomyUnavailable."""
    problems = []
    for (tax_id, name), samples in pairs.items():
        shown = first(samples)
        taxon = taxonomy.by_id(tax_id)
        if taxon is None:
            problems.append(f"taxon {tax_id} ({shown}) is not in ENA's taxonomy")
        elif not taxon.submittable:
            problems.append(
                f"taxon {tax_id} {taxon.scientific_name!r} ({shown}) is not submittable in ENA "
                "(a rank above species, or an environmental term ENA does not take here): "
                "give the species"
            )
        elif name and name.casefold() != taxon.scientific_name.casefold():
            problems.append(
                f"taxon {tax_id} is {taxon.scientific_name!r} in ENA's taxonomy, but the sheet "
                f"names it {name!r} ({shown}): correct the organism or the taxon id"
            )
    return problems


def _slug(url: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in url.split("://", 1)[-1])[:80]
