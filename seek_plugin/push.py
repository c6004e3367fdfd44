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
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
# creates and updates under way at once: a real SEEK takes tens of ms to make a
# record, and 2,000 of them one after the other is minutes
IN_FLIGHT = 4


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
        report = PushReport()
        with (
            self.db.link_writes() as writes,
            ThreadPoolExecutor(IN_FLIGHT, thread_name_prefix="seek-push") as pool,
        ):
            sent = _Sent(report, pool)
            try:
                for n, item in enumerate(items, 1):
                    self.progress(n, len(items))
                    sent.collect_through([r.key for r in item.refs()])  # their ids are needed
                    if any(r.key in sent.skipped for r in item.refs()):
                        sent.skipped.add(item.key)
                        continue
                    relationships = _resolve(item, sent.ids)
                    digest = _digest(item.attributes, relationships, item.links)
                    link = links.get(item.key)
                    if link is not None and link.seek_id is None and seen is not None:
                        sent.collect_all()  # looks for its record among those SEEK holds
                    sent.make_room()
                    try:
                        step = self._one(item, relationships, digest, link, seen, scope, writes)
                    except SeekError as e:
                        if sent.refused(item, e):
                            continue
                        raise
                    sent.add(item, step)
                sent.collect_all()
            finally:
                sent.settle()  # what SEEK made before a failure is recorded as made
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
    ) -> Pushed | _Request:
        """The item done (unchanged), or the request that brings SEEK up to date
        with what to record once it is answered. Database writes stay on this
        thread: pending before the request is sent, complete after."""
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
            seek_id = link.seek_id

            def update() -> SeekRecord:
                if item.links:
                    missing = _missing_links(resource.get(seek_id), item.links)
                    if missing:
                        attributes["discussion_links"] = missing
                return resource.update(seek_id, attributes, relationships)

            def updated(record: SeekRecord) -> Pushed:
                writes.complete(link, seek_id, digest)
                action = "adopted" if adopted else "updated"
                return Pushed(item.key, item.kind, record.id, record.url, action)

            return _Request(update, updated)
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
        resource = getattr(self.client, item.kind)

        def created(record: SeekRecord) -> Pushed:
            writes.complete(link, record.id, digest)
            return Pushed(item.key, item.kind, record.id, record.url, "created")

        return _Request(lambda: resource.create(attributes, relationships), created)

    def db_claimed(self, scope) -> set[tuple[str, str]]:
        return {(li.kind, li.seek_id) for li in self.db.links(*scope).values() if li.seek_id}

    def _url(self, item: Planned, seek_id: str) -> str:
        return self.client.absolute(f"/{item.kind}/{seek_id}")


@dataclass(frozen=True)
class _Request:
    """What to ask SEEK (on a sending thread) and what to make of its answer
    (on the pushing thread, in plan order)."""

    send: Callable[[], SeekRecord]
    finish: Callable[[SeekRecord], Pushed]


class _Sent:
    """Planned items in order, each done or its request under way, at most
    ``IN_FLIGHT`` of them; answers are taken in plan order, so ids, the
    database and the report read as if each was sent after the one before."""

    def __init__(self, report: PushReport, pool: ThreadPoolExecutor):
        self.report, self.pool = report, pool
        self.ids: dict[str, str] = {}
        self.skipped: set[str] = set()
        self._queue: deque[tuple[Planned, Pushed | Future, Callable | None]] = deque()

    def add(self, item: Planned, step: Pushed | _Request) -> None:
        if isinstance(step, Pushed):
            self._queue.append((item, step, None))
        else:
            self._queue.append((item, self.pool.submit(step.send), step.finish))

    def make_room(self) -> None:
        """Before the next item's pending link: no more than ``IN_FLIGHT`` are."""
        while len(self._queue) >= IN_FLIGHT:
            self._take()

    def collect_through(self, keys: list[str]) -> None:
        """Until none of ``keys`` is still under way."""
        waiting = set(keys)
        while any(item.key in waiting for item, _, _ in self._queue):
            self._take()

    def collect_all(self) -> None:
        while self._queue:
            self._take()

    def settle(self) -> None:
        """After a failure: wait for what is under way, recording what SEEK
        made, so the next push finds it linked; the first failure is reported."""
        while self._queue:
            try:
                self._take()
            except Exception:  # noqa: BLE001, S112 - already failing with the first
                continue

    def _take(self) -> None:
        item, step, finish = self._queue.popleft()
        if isinstance(step, Future):
            try:
                answer = step.result()
            except SeekError as e:
                if self.refused(item, e):
                    return
                raise
            step = finish(answer)
        self.ids[item.key] = step.seek_id
        self.report.records.append(step)

    def refused(self, item: Planned, e: SeekError) -> bool:
        """A SEEK that takes no sample type: the samples wait, with a warning."""
        if item.key != SAMPLE_TYPE_KEY or e.status not in TYPES_REFUSED:
            return False
        self.report.warnings.append(
            f"samples not registered: this SEEK refused a sample type ({e.message})"
        )
        self.skipped.add(item.key)
        return True


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
