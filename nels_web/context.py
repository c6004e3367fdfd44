"""What every view needs: the database, the vault, the signed-in user, their NeLS home."""

from __future__ import annotations

from functools import wraps
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, g, redirect, request, url_for
from sqlalchemy import select

from nels_core.api import NelsApi
from nels_core.connect import NelsSettings, build_home
from nels_core.home import Home
from nels_core.isa.export import describe
from nels_core.isa.folder_sheet import FolderSheets
from nels_core.isa.mapping import identifier_for
from seek_plugin.db import Database

from .crypto import Vault
from .jobs import JobRunner
from .kept import KeptForRequests
from .models import SeekAccount, WebUser
from .sessions import end as end_session
from .sessions import signed_in_user

DECODINGS = 3  # "%252F" and deeper: as many rounds as a proxy and a browser might do


def db() -> Database:
    return current_app.extensions["nels_bundle"]["db"]


def vault() -> Vault:
    return current_app.extensions["nels_bundle"]["vault"]


def jobs() -> JobRunner:
    return current_app.extensions["nels_bundle"]["jobs"]


def current_user() -> WebUser | None:
    if "user" not in g:
        g.user = signed_in_user()
    return g.user


def seek_accounts() -> list[SeekAccount]:
    """The signed-in user's connected SEEK accounts."""
    with db().reads() as s:
        return list(s.scalars(select(SeekAccount).where(SeekAccount.user_id == current_user().id)))


def nels_token(user: WebUser) -> str | None:
    return vault().open(user.nels_token) if user.nels_token else None


def nels_secret() -> dict:
    """The user's NeLS token for a job: it travels sealed in the job's message
    (the job runs on after a sign-out, which forgets the stored one)."""
    return {"nels": nels_token(current_user())}


def login_required(view):
    @wraps(view)
    def wrapper(*a, **kw):
        user = current_user()
        if user is None or nels_token(user) is None:
            end_session()
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*a, **kw)

    return wrapper


def same_site_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site ("/isa/..."), else None: never
    an open redirect. Checked with its path percent-decoded ("/%2F%2Fhost"
    is "//host" to some proxies); what a browser would have to repair before
    reading it (tabs, line breaks, backslashes: "/\\host" and "/<tab>/host"
    are other sites to a browser; a line break a broken header) is refused,
    not repaired. Decoding only adds what can be refused: the target itself,
    as given, is what passed."""
    if not target:
        return None
    path, _, query = target.partition("?")
    decoded = _percent_decoded(path)
    if not path.startswith("/") or decoded.startswith("//") or "\\" in decoded:
        return None
    if any(c < " " or c == "\x7f" for c in decoded + query):
        return None
    parts = urlsplit(decoded)
    return target if not (parts.scheme or parts.netloc) else None


def _percent_decoded(path: str) -> str:
    for _ in range(DECODINGS):
        path, before = unquote(path), path
        if path == before:
            break
    return path


def nels_settings(token: str) -> NelsSettings:
    """How to reach the user's NeLS storage, from the app's configuration."""
    c = current_app.config
    root = None
    if c["NELS_STORAGE"] == "local":
        root = c["NELS_LOCAL_ROOT"]
        if "{nels_id}" in root:  # homes laid out (or linked) by NeLS id
            nels_id = NelsApi(c["NELS_API_URL"], token).my_account().nels_id
            root = str(Path(root.format(nels_id=nels_id)).resolve())
    return NelsSettings(
        backend=c["NELS_STORAGE"],
        root=root,
        api_url=c["NELS_API_URL"],
        access_token=token,
        host=c["NELS_SFTP_HOST"],
        port=int(c["NELS_SFTP_PORT"]),
        known_hosts=c["NELS_KNOWN_HOSTS"],
    )


def nels_api() -> NelsApi:
    """The signed-in user's NeLS API client, kept between requests (its connection too)."""
    user, token = current_user(), nels_token(current_user())
    return kept().api(user.id, token, lambda: NelsApi(current_app.config["NELS_API_URL"], token))


def sbi_project_for(path: str) -> int | None:
    """The StoreBioinfo project of the NeLS project a folder is in, if the user has one."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != "Projects":
        return None
    membership = home().account.memberships.get(parts[1])
    if membership is None:
        return None
    for p in nels_answer(("sbi_projects",), lambda: nels_api().sbi_projects()):
        if p.id == membership.project.id or p.name == membership.project.name:
            return p.id
    return None


def nels_answer(question: tuple, ask):
    """What NeLS answers the signed-in user to ``question``, kept a short while
    (``ask()`` asks it: SEEK's own calls, such as the user's StoreBioinfo projects)."""
    user = current_user()
    return kept().answer(user.id, nels_token(user), question, ask)


def home() -> Home:
    """The signed-in user's NeLS home (NeLS's rules apply), kept between requests."""
    if "home" not in g:
        user, token = current_user(), nels_token(current_user())
        g.home = kept().home(user.id, token, lambda: build_home(nels_settings(token)))
    return g.home


def described(path: str) -> tuple:
    """(investigation, issues) of a folder of the user's, with its own sheet,
    kept a short while for every member: the caller has checked the user
    may read ``path``. Keyed by the newest sheet version, so a sheet saved
    anywhere shows at once."""
    names = FolderSheets(home(), path).names()  # one listing: the newest is the sheet used
    sheet = names[-1] if names else None
    return kept().description(
        (path, sheet), lambda: describe(home(), path, f"nels://{path}", identifier_for(path))
    )


def kept() -> KeptForRequests:
    return current_app.extensions["nels_bundle"]["kept"]
