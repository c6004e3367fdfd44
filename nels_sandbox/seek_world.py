"""The SEEK sandbox's state: people, projects and the records they own.

Records keep the relationships they were given; the reverse side
(``investigation.studies``, ``project.assays``) comes from an index of
who points at whom, as SEEK derives it from its database.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

ACCESS = ("no_access", "view", "download", "edit", "manage")
_PUBLIC = {"access": "view", "permissions": []}  # people and projects: anyone may look
SINGLE = {"investigation", "study", "sample_type", "submitter"}  # to-one relationships


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Person:
    id: str
    first_name: str
    last_name: str
    email: str = ""
    orcid: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    admin: bool = False


@dataclass
class Record:
    kind: str
    id: str
    attributes: dict
    relationships: dict[str, list[str]]  # name -> ids (a to-one relationship holds one)
    contributor: str | None
    policy: dict
    created: str = field(default_factory=now)
    modified: str = field(default_factory=now)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    blobs: list[dict] = field(default_factory=list)


@dataclass
class Project:
    id: str
    title: str
    description: str = ""
    members: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)


class SeekWorld:
    """Everything the sandbox knows; one lock, since Flask may serve on threads."""

    def __init__(self, base_url: str = "http://localhost:3000", first_id: int = 1):
        self.base_url = base_url.rstrip("/")
        self.lock = threading.RLock()
        self.people: dict[str, Person] = {}
        self.projects: dict[str, Project] = {}
        self.records: dict[str, dict[str, Record]] = {}
        self.pointed: dict[tuple[str, str], set[tuple[str, str]]] = {}  # target -> sources
        self.blob_bytes: dict[str, bytes] = {}
        self._first_id = first_id
        self._next: dict[str, int] = {}  # per table, as SEEK's database numbers rows
        self.requests: list[tuple[str, str]] = []  # (method, path) as received
        self.samples_enabled = True  # a SEEK admin may switch samples off
        # SEEK exports ISA-JSON only for investigations built on its ISA templates
        self.isa_json_compliant = False

    def new_id(self, table: str) -> str:
        """The next id in ``table``: a person, a project and an assay may all be 1,
        so a client that keys records by id alone is caught here, not in production."""
        with self.lock:
            n = self._next.get(table, self._first_id)
            self._next[table] = n + 1
            return str(n)

    # --- seeding ---------------------------------------------------------------
    def add_person(
        self,
        first: str,
        last: str,
        *,
        token=None,
        login=None,
        password=None,
        email="",
        orcid=None,
        admin=False,
        id_=None,
    ) -> Person:
        p = Person(
            id_ or self.new_id("people"), first, last, email, orcid, login, password, token, admin
        )
        self.people[p.id] = p
        self.store(Record("people", p.id, {}, {}, None, _PUBLIC))
        return p

    def add_project(self, title: str, members=(), admins=(), description="", id_=None) -> Project:
        p = Project(id_ or self.new_id("projects"), title, description, set(members) | set(admins))
        p.admins = set(admins)
        self.projects[p.id] = p
        self.store(Record("projects", p.id, {}, {}, None, _PUBLIC))
        return p

    # --- who is asking -----------------------------------------------------------
    def person_by_token(self, token: str) -> Person | None:
        return next((p for p in self.people.values() if p.token and p.token == token), None)

    def person_by_login(self, login: str, password: str) -> Person | None:
        for p in self.people.values():
            if p.login == login and p.password is not None and p.password == password:
                return p
        return None

    def member_projects(self, person: Person | None) -> set[str]:
        if person is None:
            return set()
        return {p.id for p in self.projects.values() if person.id in p.members}

    # --- records -----------------------------------------------------------------
    def get(self, kind: str, id_: str) -> Record | None:
        return self.records.get(kind, {}).get(id_)

    def store(self, record: Record) -> None:
        with self.lock:
            old = self.get(record.kind, record.id)
            if old is not None:
                self._unindex(old)
            self.records.setdefault(record.kind, {})[record.id] = record
            self._index(record)

    def remove(self, record: Record) -> None:
        with self.lock:
            self._unindex(record)
            del self.records[record.kind][record.id]

    def pointing_at(self, kind: str, id_: str, source_kind: str) -> list[str]:
        """Ids of ``source_kind`` records whose relationships name this one."""
        return sorted(
            (i for k, i in self.pointed.get((kind, id_), ()) if k == source_kind), key=_num
        )

    def _index(self, r: Record) -> None:
        for name, targets in r.relationships.items():
            for t in targets:
                self.pointed.setdefault((target_kind(name), t), set()).add((r.kind, r.id))

    def _unindex(self, r: Record) -> None:
        for name, targets in r.relationships.items():
            for t in targets:
                self.pointed.get((target_kind(name), t), set()).discard((r.kind, r.id))

    # --- access --------------------------------------------------------------------
    def access(self, person: Person | None, r: Record) -> int:
        """The viewer's level on a record, as an index into ACCESS."""
        if person is not None and (person.admin or person.id == r.contributor):
            return ACCESS.index("manage")
        level = ACCESS.index(r.policy.get("access", "no_access"))
        mine = self.member_projects(person)
        for perm in r.policy.get("permissions", []):
            res = perm["resource"]
            if (res["type"] == "people" and person is not None and res["id"] == person.id) or (
                res["type"] == "projects" and res["id"] in mine
            ):
                level = max(level, ACCESS.index(perm["access"]))
        return level

    def upload(self, r: Record, blob_id: str, content: bytes) -> int:
        with self.lock:
            blob = next(b for b in r.blobs if b["id"] == blob_id)
            blob.update(
                md5sum=hashlib.md5(content).hexdigest(),
                sha1sum=hashlib.sha1(content).hexdigest(),
                size=len(content),
            )
            self.blob_bytes[blob_id] = content
            r.modified = now()
            return len(content)


# SEEK's relationship names whose target type is not the name itself
_TARGETS = {
    "creators": "people",
    "submitter": "people",
    "project_administrators": "people",
    "investigation": "investigations",
    "study": "studies",
    "sample_type": "sample_types",
    "file_template": "file_templates",
    "placeholder": "placeholders",
}


def target_kind(relationship: str) -> str:
    return _TARGETS.get(relationship, relationship)


def _num(id_: str):
    return (len(id_), id_)
