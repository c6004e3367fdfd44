"""The sandbox's state: NeLS users, projects, memberships, SBI datasets,
OAuth clients and tokens, and the storage tree behind the real sshd.

Layout on disk, as NeLS lays it out::

    <root>/users/<username>/Personal/...
    <root>/users/<username>/Projects/<Folder> -> <root>/projects/<Folder>
    <root>/projects/<Folder>/...
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from nels_core.paths import project_folder_name

from .sbi_jobs import TransferJobs
from .sshd import Sshd


@dataclass
class SandboxUser:
    nels_id: int
    username: str
    name: str
    password: str = field(repr=False)
    user_type: str = "Normal User"
    private_key: str | None = field(default=None, repr=False)


@dataclass
class SandboxDataset:
    id: int
    name: str
    type: str
    description: str = ""
    owner_name: str = ""
    islocked: bool = False
    creationtime: int = 0
    subtypes: dict[str, int] = field(default_factory=dict)  # name -> size


@dataclass
class SandboxProject:
    id: int
    name: str
    description: str = ""
    issensitive: bool = False
    locked: bool = False
    contact_person: str = ""
    contact_email: str = ""
    quota_allocated: int = 1 << 40
    creationtime: int = 0
    members: dict[int, int] = field(default_factory=dict)  # nels_id -> role
    datasets: dict[int, SandboxDataset] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return project_folder_name(self.name)


@dataclass
class AuthCode:
    """An authorization code, as issued: whom for, where to, which PKCE challenge."""

    nels_id: int
    client_id: str
    redirect_uri: str | None  # as the authorization request gave it
    issued: float
    challenge: str | None = field(default=None, repr=False)  # RFC 7636
    challenge_method: str = "plain"


@dataclass
class Grant:
    nels_id: int | None  # None for client-credentials tokens
    client_id: str
    expires_at: float
    scope: str = "user"


class World:
    def __init__(self, root: str | os.PathLike, sshd: Sshd | None = None):
        self.root = Path(root)
        (self.root / "users").mkdir(parents=True, exist_ok=True)
        (self.root / "projects").mkdir(parents=True, exist_ok=True)
        self.sshd = sshd
        self.users: dict[int, SandboxUser] = {}
        self.projects: dict[int, SandboxProject] = {}
        self.dataset_types: dict[int, str] = {225: "Illumina_seq_data", 226: "Proteomics_data"}
        self.clients: dict[str, str] = {}  # client_id -> secret
        self.redirect_uris: dict[str, set[str]] = {}  # client_id -> its registered callbacks
        self.legacy_clients: dict[str, str] = {}
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.uploads: dict[str, dict] = {}  # upload uuid -> job
        self.downloads: dict[str, int] = {}  # single-use download uuid -> job id
        self.jobs: dict[int, dict] = {}
        # the subtypes a new dataset of each type starts with
        self.type_subtypes: dict[str, tuple[str, ...]] = {
            "Illumina_seq_data": ("reads", "analysis"),
            "Proteomics_data": ("raw", "analysis"),
        }
        self.token_lifetime = 3600.0
        # transfer jobs end this long after upload_done, polled or not (recorded:
        # one poll in 103, then 101); their bytes, left unfinished, go after a while
        self.processing_seconds = 0.05
        self.abandoned_after = 3600.0
        self.clock = time.monotonic  # what the jobs' times are read from
        self.lock = threading.RLock()
        self.transfer_jobs = TransferJobs(self)
        self._next_id = 1000

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    # --- provisioning ---------------------------------------------------------
    def home(self, user: SandboxUser) -> Path:
        return self.root / "users" / user.username

    def add_user(
        self, username: str, name: str = "", password: str = "", nels_id: int | None = None
    ) -> SandboxUser:
        user = SandboxUser(
            nels_id=nels_id or self.new_id(),
            username=username,
            name=name or username,
            password=password or secrets.token_urlsafe(12),
        )
        home = self.home(user)
        (home / "Personal").mkdir(parents=True, exist_ok=True)
        (home / "Projects").mkdir(exist_ok=True)
        if self.sshd is not None:
            user.private_key = self.sshd.add_user(home)
        self.users[user.nels_id] = user
        return user

    def add_project(self, name: str, project_id: int | None = None, **fields) -> SandboxProject:
        p = SandboxProject(
            id=project_id or self.new_id(),
            name=name,
            creationtime=fields.pop("creationtime", int(time.time() * 1000)),
            **fields,
        )
        (self.root / "projects" / p.folder).mkdir(parents=True, exist_ok=True)
        self.projects[p.id] = p
        return p

    def project_dir(self, project: SandboxProject) -> Path:
        return self.root / "projects" / project.folder

    def add_member(self, project: SandboxProject, user: SandboxUser, role: int) -> None:
        project.members[user.nels_id] = role
        link = self.home(user) / "Projects" / project.folder
        if not link.exists():
            link.symlink_to(self.project_dir(project), target_is_directory=True)

    def remove_member(self, project: SandboxProject, user: SandboxUser) -> None:
        project.members.pop(user.nels_id, None)
        link = self.home(user) / "Projects" / project.folder
        if link.is_symlink():
            link.unlink()

    def add_dataset(self, project: SandboxProject, name: str, type_: str, **fields):
        d = SandboxDataset(id=fields.pop("id", None) or self.new_id(), name=name, type=type_)
        for k, v in fields.items():
            setattr(d, k, v)
        project.datasets[d.id] = d
        return d

    # --- StoreBioinfo storage ---------------------------------------------------
    def sbi_dir(self, project: SandboxProject, *parts: str) -> Path:
        """Where a project's SBI datasets lie: ``<root>/sbi/<Folder>/<dataset>/<subtype>/...``."""
        return self.root.joinpath("sbi", project.folder, *parts)

    def sbi_used(self, project: SandboxProject) -> int:
        """Bytes the project's datasets hold: what its quota counts."""
        top = self.sbi_dir(project)
        return sum(f.stat().st_size for f in top.rglob("*") if f.is_file()) if top.is_dir() else 0

    def transfers_dir(self) -> Path:
        """Where transfer jobs keep their bytes until they are done: the
        sandbox's own disk, never memory (a 512 MiB run passes through here)."""
        folder = self.root / "sbi-transfers"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def add_client(self, client_id: str, secret: str, redirect_uris: tuple[str, ...] = ()) -> None:
        self.clients[client_id] = secret
        self.redirect_uris[client_id] = set(redirect_uris)

    def register_redirect_uri(self, client_id: str, uri: str) -> None:
        """A callback address the client may be sent back to, as its operator registers it."""
        self.redirect_uris.setdefault(client_id, set()).add(uri)

    def user_by_username(self, username: str) -> SandboxUser | None:
        return next((u for u in self.users.values() if u.username == username), None)

    # --- tokens ---------------------------------------------------------------
    def issue(self, nels_id: int | None, client_id: str, scope: str = "user") -> dict:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        grant = Grant(nels_id, client_id, time.time() + self.token_lifetime, scope)
        with self.lock:
            self.access_tokens[access] = grant
            if nels_id is not None:
                self.refresh_tokens[refresh] = Grant(nels_id, client_id, float("inf"), scope)
        out = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(self.token_lifetime),
            "scope": scope,
        }
        if nels_id is not None:
            out["refresh_token"] = refresh
        return out

    def grant_for(self, token: str) -> Grant | None:
        g = self.access_tokens.get(token)
        if g is None or g.expires_at < time.time():
            return None
        return g

    def expired(self, token: str) -> bool:
        """A token this world issued whose time is up (not one it never issued)."""
        g = self.access_tokens.get(token)
        return g is not None and g.expires_at < time.time()

    def expire_all_tokens(self) -> None:
        """Make every access token stale, as an hour's wait would."""
        for g in self.access_tokens.values():
            g.expires_at = 0
