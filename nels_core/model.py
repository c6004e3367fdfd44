"""The NeLS model: users, projects, memberships, SBI datasets, storage entries.

Field names follow the NeLS API (see shared/NELS.md); parsing the API's many
shapes into these lives in ``nels_core.api.shapes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .paths import PERSONAL, PROJECTS, project_folder_name


class Role(IntEnum):
    """NeLS ``membership_type``. Lower is more powerful."""

    PI = 1
    POWER_USER = 2
    MEMBER = 3
    READ_ONLY = 4  # SEEK treats 4 as read-only


@dataclass(frozen=True)
class User:
    nels_id: int
    name: str
    user_type: str = "Normal User"
    username: str | None = None  # the SFTP login, once known


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    description: str = ""
    quota_allocated: int | None = None  # bytes
    quota_used: int | None = None  # bytes
    issensitive: bool = False
    locked: bool = False
    contact_person: str = ""
    creation_time_ms: int | None = None

    @property
    def folder(self) -> str:
        """The project's folder below ``Projects/``."""
        return project_folder_name(self.name)

    @property
    def path(self) -> str:
        return f"{PROJECTS}/{self.folder}"


@dataclass(frozen=True)
class Membership:
    project: Project
    role: Role
    has_filesystem_access: bool = True


@dataclass(frozen=True)
class Subtype:
    type: str
    size: int | None = None


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    type: str
    description: str = ""
    owner_name: str = ""
    islocked: bool = False
    creation_time_ms: int | None = None
    subtypes: tuple[Subtype, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or folder in NeLS storage. ``path`` is relative to the home."""

    path: str
    is_dir: bool
    size: int = 0
    mtime: float | None = None  # seconds since the epoch
    ctime: float | None = None
    md5: str | None = None  # lowercase hex, when known (delivered checksum files)
    sha256: str | None = None
    link: bool = False  # reached through a symbolic link (a recursive walk checks for loops)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def uri(self) -> str:
        return "nels://" + self.path

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "path": self.path,
            "uri": self.uri,
            "type": "directory" if self.is_dir else "file",
            "size": self.size,
            "mtime": self.mtime,
            "ctime": self.ctime,
        }
        if self.md5:
            out["md5"] = self.md5
        if self.sha256:
            out["sha256"] = self.sha256
        return out


@dataclass(frozen=True)
class ListPage:
    """One page of a folder listing. ``total`` counts matches before paging."""

    entries: list[Entry]
    total: int
    offset: int = 0
    limit: int | None = None
    # recursive listings: "<link> -> <ancestor>" for each link not followed because it loops
    loops: list[str] = field(default_factory=list)


@dataclass
class Account:
    """Who is acting: their memberships decide what they may do."""

    user: User
    memberships: dict[str, Membership] = field(default_factory=dict)  # by folder

    @classmethod
    def of(cls, user: User, memberships: list[Membership]) -> Account:
        """Only memberships with file-system access reach the files."""
        return cls(user, {m.project.folder: m for m in memberships if m.has_filesystem_access})

    def membership(self, folder: str) -> Membership | None:
        return self.memberships.get(folder)

    @property
    def personal(self) -> str:
        return PERSONAL
