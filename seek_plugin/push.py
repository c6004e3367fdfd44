"""``seek push``: make SEEK hold the plan, sending only what changed.

For each planned item the database says which SEEK record stands for it
and the digest of what was last sent. Unchanged items cost nothing;
changed ones are PATCHed in place; new ones are created. Before a create,
the link is stored as pending; after it, completed. A push that died
between the two finds its record again on the next run (same kind and
title, in the SEEK project, not linked to anything else) instead of
creating a second one.

When the database already links records, one listing per record type
(one read per page) confirms they still exist in SEEK; a record deleted
there is created again.

An item's discussion links (a run's StoreBioinfo permalink) go with its
create; on an update the record is read first and only the links it lacks
are sent: SEEK adds every link sent without an id, so sending them again
would make them twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from nels_core.isa.folder_sheet import is_version_path
from nels_core.isa.model import InvestigationRecord

from .client import SeekClient
from .db import NO_SHEET_SENT, SHEET_KEY, Database, LinkWrites, SeekLink
from .errors import SeekError
from .plan import CREATE_ONLY, SAMPLE_TYPE_KEY, Planned, Ref, plan
from .records import SeekRecord

# a SEEK with samples switched off (422) or closed to us (400, 403): samples wait
TYPES_REFUSED = (400, 403, 422)


@dataclass
class Pushed:
    key: str
    kind: str
    seek_id: str
    url: str
    action: str  # created, updated, unchanged, adopted


@dataclass
class PushReport:
    records: list[Pushed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self) -> Counter:
        return Counter(r.action for r in self.records)

    def investigation_url(self) -> str | None:
        return next((r.url for r in self.records if r.kind == "investigations"), None)


class Pusher:
    def __init__(
        self,
        client: SeekClient,
        db: Database,
        project_id: str,
        *,
        policy: dict | None = None,
        progress: Callable[[int, int], None] | None = None,
    ):
        self.client = client
        self.db = db
        self.project_id = str(project_id)
        self.policy = policy
        self.progress = progress or (lambda done, total: None)

    def push(self, inv: InvestigationRecord, sbi=()) -> PushReport:
        """``sbi``: StoreBioinfo subtypes to link as data files too."""
        items = plan(inv, self.project_id, self.policy, sbi)
        scope = (self.client.url, self.project_id, inv.location)
        links = self.db.links(*scope)
        seen = _Listings(self.client, self.project_id) if links else None
        ids: dict[str, str] = {}
        report = PushReport()
        skipped: set[str] = set()
        with self.db.link_writes() as writes:
            for n, item in enumerate(items, 1):
                self.progress(n, len(items))
                if any(r.key in skipped for r in item.refs()):
                    skipped.add(item.key)
                    continue
                relationships = _resolve(item, ids)
                digest = _digest(item.attributes, relationships, item.links)
                link = links.get(item.key)
                try:
                    done = self._one(item, relationships, digest, link, seen, scope, writes)
                except SeekError as e:
                    if item.key == SAMPLE_TYPE_KEY and e.status in TYPES_REFUSED:
                        report.warnings.append(
                            f"samples not registered: this SEEK refused a sample type ({e.message})"
                        )
                        skipped.add(item.key)
                        continue
                    raise
                ids[item.key] = done.seek_id
                report.records.append(done)
        self._remember_sheet(scope, links.get(SHEET_KEY), inv.sheet)
        return report

    def _remember_sheet(self, scope, link: SeekLink | None, sheet: str) -> None:
        """Which version of the folder's sheet SEEK was sent, so that a pull tells
        SEEK's edits from the sheet's own later ones; "" when unknown (a file given)."""
        if is_version_path(sheet):
            name = sheet.rsplit("/", 1)[-1]
        else:
            name = "" if sheet else NO_SHEET_SENT
        if link is not None and link.seek_id == name:
            return
        link = link or SeekLink(
            seek_url=scope[0], seek_project=scope[1], source=scope[2], key=SHEET_KEY, kind="sheet"
        )
        link.seek_id, link.digest = name, ""
        self.db.save(link)

    def _one(
        self, item: Planned, relationships, digest, link, seen, scope, writes: LinkWrites
    ) -> Pushed:
        adopted = False
        if link is not None and link.seek_id is None and seen is not None:
            found = seen.unclaimed(item, relationships, self.db_claimed(scope))
            if found is not None:  # created by a push that died before saying so
                # digest unknown: what it holds is brought up to date below
                writes.complete(link, found.id, "")
                adopted = True
        if (
            link is not None
            and link.seek_id
            and (seen is None or seen.has(item, relationships, link.seek_id))
        ):
            if link.digest == digest:
                return Pushed(
                    item.key, item.kind, link.seek_id, self._url(item, link.seek_id), "unchanged"
                )
            attributes = {k: v for k, v in item.attributes.items() if k not in CREATE_ONLY}
            resource = getattr(self.client, item.kind)
            if item.links:
                missing = _missing_links(resource.get(link.seek_id), item.links)
                if missing:
                    attributes["discussion_links"] = missing
            record = resource.update(link.seek_id, attributes, relationships)
            writes.complete(link, link.seek_id, digest)
            action = "adopted" if adopted else "updated"
            return Pushed(item.key, item.kind, record.id, record.url, action)
        link = writes.pending(
            SeekLink(
                id=link.id if link is not None else None,
                seek_url=scope[0],
                seek_project=scope[1],
                source=scope[2],
                key=item.key,
                kind=item.kind,
            )
        )
        attributes = item.attributes
        if item.links:
            attributes = {**attributes, "discussion_links": _missing_links(None, item.links)}
        record = getattr(self.client, item.kind).create(attributes, relationships)
        writes.complete(link, record.id, digest)
        return Pushed(item.key, item.kind, record.id, record.url, "created")

    def db_claimed(self, scope) -> set[tuple[str, str]]:
        return {(li.kind, li.seek_id) for li in self.db.links(*scope).values() if li.seek_id}

    def _url(self, item: Planned, seek_id: str) -> str:
        return self.client.absolute(f"/{item.kind}/{seek_id}")


class _Listings:
    """What SEEK holds in the project, read once per record type, page by page."""

    def __init__(self, client: SeekClient, project_id: str):
        self.client, self.project_id = client, project_id
        self.by_kind: dict[str, dict[str, SeekRecord]] = {}

    def _kind(self, item: Planned, relationships: dict) -> dict[str, SeekRecord]:
        kind = item.kind
        if kind not in self.by_kind:
            if kind == "samples":  # SEEK lists samples only under their type
                parent = ("sample_types", relationships["sample_type"])
                records = list(self.client.samples.list(parent=parent))
            else:
                resource = getattr(self.client, kind)
                records = list(resource.list(parent=("projects", self.project_id)))
            self.by_kind[kind] = {r.id: r for r in records}
        return self.by_kind[kind]

    def has(self, item: Planned, relationships: dict, seek_id: str) -> bool:
        return seek_id in self._kind(item, relationships)

    def unclaimed(self, item: Planned, relationships: dict, claimed) -> SeekRecord | None:
        for r in self._kind(item, relationships).values():
            if r.title == item.title and (item.kind, r.id) not in claimed:
                return r
        return None


def _resolve(item: Planned, ids: dict[str, str]) -> dict:
    def one(v):
        return ids[v.key] if isinstance(v, Ref) else v

    return {
        name: [one(v) for v in value] if isinstance(value, list) else one(value)
        for name, value in item.relationships.items()
    }


def _missing_links(record: SeekRecord | None, links) -> list[dict]:
    """``links`` the record does not hold yet (by URL), as SEEK takes new ones."""
    have = (
        {li.get("url") for li in (record.attributes.get("discussion_links") or [])}
        if record
        else set()
    )
    return [{"label": label, "url": url} for label, url in links if url not in have]


def _digest(attributes: dict, relationships: dict, links=()) -> str:
    sent = [attributes, relationships] + ([[list(li) for li in links]] if links else [])
    text = json.dumps(sent, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
