"""What SEEK answers about one record, read once into a small value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

from nels_core.redact import scrub


@dataclass(frozen=True)
class SeekRecord:
    kind: str  # JSON:API type: "investigations", "data_files", ...
    id: str
    title: str
    attributes: Mapping = field(default_factory=dict, repr=False)
    relationships: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    url: str = ""  # absolute: SEEK's own links are often relative

    @classmethod
    def from_data(cls, data: Mapping, base_url: str) -> SeekRecord:
        """A JSON:API resource object (full or a list's skeleton)."""
        if not isinstance(data, Mapping) or "id" not in data or "type" not in data:
            raise ValueError(f"not a SEEK record: {scrub(data)}")
        attributes = data.get("attributes") or {}
        relationships = {}
        for name, rel in (data.get("relationships") or {}).items():
            refs = rel.get("data") if isinstance(rel, Mapping) else None
            refs = refs if isinstance(refs, list) else [refs] if refs else []
            relationships[name] = tuple(str(r["id"]) for r in refs)
        link = (data.get("links") or {}).get("self") or f"/{data['type']}/{data['id']}"
        return cls(
            kind=str(data["type"]),
            id=str(data["id"]),
            title=str(attributes.get("title") or ""),
            attributes=attributes,
            relationships=relationships,
            url=urljoin(base_url.rstrip("/") + "/", link.lstrip("/")),
        )

    @property
    def description(self) -> str:
        return self.attributes.get("description") or ""

    def ids(self, relationship: str) -> tuple[str, ...]:
        return self.relationships.get(relationship, ())
