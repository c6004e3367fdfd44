"""The web app's own state, in the extension's database beside the SEEK links."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from seek_plugin.db import Base


def _now() -> datetime:
    return datetime.now(UTC)


class WebUser(Base):
    """A person who signed in with NeLS; their NeLS tokens, encrypted, while they live."""

    __tablename__ = "web_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    nels_id: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    nels_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # NeLS's refresh token: the delivery watcher gets access tokens with it while the
    # user is away (migration 0003); forgotten with the access token on sign-out
    nels_refresh: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class WebSession(Base):
    """One browser's sign-in: the cookie holds a random id, this row its hash.
    Deleting the row signs that browser out, whatever its cookie says."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_used: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # however active


class SignInAttempt(Base):
    """A sign-in sent to NeLS and not back yet: the PKCE verifier stays here,
    never in the browser; found again by the hash of the OAuth2 state."""

    __tablename__ = "sign_in_attempts"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256, hex
    code_verifier: Mapped[str] = mapped_column(String(128))
    after: Mapped[str] = mapped_column(Text, default="/")  # the page to land on, same-site
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SeekAccount(Base):
    """A SEEK API token a user connected, encrypted at rest."""

    __tablename__ = "seek_accounts"
    __table_args__ = (UniqueConstraint("user_id", "seek_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    seek_url: Mapped[str] = mapped_column(String(500))
    person: Mapped[str] = mapped_column(String(200))  # who SEEK says the token belongs to
    token: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class PushedFolder(Base):
    """The SEEK project a user last pushed a folder to, offered again next time."""

    __tablename__ = "pushed_folders"
    __table_args__ = (UniqueConstraint("user_id", "folder", "seek_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    folder: Mapped[str] = mapped_column(String(1000))  # the NeLS path, as pushed
    seek_url: Mapped[str] = mapped_column(String(500))
    seek_project: Mapped[str] = mapped_column(String(50))
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DeliveryWatch(Base):
    """A user's wish to hear of new deliveries in their projects, and how
    the watcher (``nels_web.delivery_watch``) fares for them."""

    __tablename__ = "delivery_watches"

    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str] = mapped_column(String(254), default="")  # "": notices on the site only
    # the last look that went through; None: the next one only learns what is there
    looked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # a look under way since then (one at a time per user: two looks at once would
    # agree with each other without time between them for a copy to go on)
    looking: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the watcher stopped for this user (NeLS refused the stored sign-in), and why
    stopped: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stopped_why: Mapped[str] = mapped_column(Text, default="")


class SeenDelivery(Base):
    """A run folder the watcher saw in one of the user's projects: present
    at the first look ("there"), still arriving, or told as new ("new")."""

    __tablename__ = "seen_deliveries"
    __table_args__ = (UniqueConstraint("user_id", "folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    folder: Mapped[str] = mapped_column(String(1000))  # the NeLS path of the run folder
    state: Mapped[str] = mapped_column(String(20))  # there, arriving, new
    sizes: Mapped[str] = mapped_column(Text, default="{}")  # JSON: file -> bytes, last look
    samples: Mapped[int] = mapped_column(Integer, default=0)
    lanes: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    told: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # "" none to send, "due", "sending" (claimed by one look), "sent"
    mail: Mapped[str] = mapped_column(String(10), default="")
    dismissed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def run(self) -> str:
        return self.folder.rsplit("/", 1)[-1]

    @property
    def project(self) -> str:
        parts = self.folder.split("/")
        return parts[1] if len(parts) > 2 and parts[0] == "Projects" else ""


# a job's subject: "nels://<folder>", a deposit's followed by " to ENA (test)"
FOLDER_SUBJECT = re.compile(r"nels://(?P<folder>.*?)(?: to (?:ENA|BioStudies) \((?P<how>.*)\))?")
TITLES = {
    "push": "Push {folder} to SEEK",
    "pull": "Pull {subject} from SEEK",
    "ena": "Deposit {folder} in ENA ({how})",
    "biostudies": "Deposit {folder} in BioStudies ({how})",
}


class Job(Base):
    """Long work (a push, a pull, a deposit) run by a worker, with its progress.
    The web app writes the row and enqueues its id; a worker claims the row,
    keeps its heartbeat fresh while it works, and writes the outcome."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # push, pull, ena, biostudies
    subject: Mapped[str] = mapped_column(String(1000))  # the NeLS folder or investigation
    # queued, running, done, failed
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # what the work needs besides secrets (those travel sealed in the task message only).
    # Server defaults too: rows of the release before them, and that release's
    # processes still writing while a site upgrades (migration 0002)
    params: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")  # JSON
    # claims by a worker
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # host:pid:thread of the claim
    worker: Mapped[str] = mapped_column(String(200), default="", server_default="")
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def shown_state(self) -> str:
        """The state as the pages say it: a pull stopped by a conflict waits for a choice."""
        if self.state == "done" and json.loads(self.result or "{}").get("conflicts"):
            return "waiting for your choice"
        return self.state

    @property
    def folder(self) -> str | None:
        """The NeLS folder the job worked on (a path, no nels://), if it was one."""
        return self._title_parts().get("folder")

    @property
    def title(self) -> str:
        """What the job did, the folder as a readable path (stored subjects are nels:// URIs)."""
        parts = {"subject": self.subject, "folder": self.subject, "how": ""}
        parts.update(self._title_parts())
        return TITLES.get(self.kind, "{subject}").format_map(parts)

    def _title_parts(self) -> dict[str, str]:
        """The folder (and a deposit's server) from the job's parameters; from
        its subject for rows written before the parameters were (migration
        0002), where a folder named like "x to ENA (test)" would read wrong."""
        params = json.loads(self.params or "{}")
        if "path" in params:
            ask = params.get("ask") or {}
            how = ask.get("server", "") + (", dry run" if ask.get("dry_run") else "")
            return {"folder": params["path"], "how": how}
        found = FOLDER_SUBJECT.fullmatch(self.subject)
        return {k: v for k, v in found.groupdict().items() if v is not None} if found else {}
