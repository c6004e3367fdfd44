"""The user's NeLS projects and folders, and the ISA description of a folder."""

from __future__ import annotations

import posixpath

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from nels_core.access import role_for
from nels_core.byte_names import from_text
from nels_core.errors import AccessDeniedError, NelsError, NotFoundError, UnsafePathError
from nels_core.isa.folder_sheet import FOLDER as METADATA_FOLDER
from nels_core.isa.mapping import identifier_for, map_source
from nels_core.model import Role
from nels_core.paths import PERSONAL, PROJECTS, locate, normalise
from seek_plugin.db import SeekLink

from .context import (
    current_user,
    db,
    described,
    home,
    login_required,
    nels_answer,
    nels_api,
    sbi_project_for,
    seek_accounts,
)
from .deposits import DepositFolder
from .issues import missing_by_samples, others_by_place
from .models import PushedFolder

bp = Blueprint("nels", __name__)
HIDDEN = (NotFoundError, AccessDeniedError, UnsafePathError)  # all look like "no such folder"
FOLDER_PAGES = ("/browse/", "/isa/", "/deposit/")  # the pages of one NeLS folder
# the home and its two roots are no one investigation's folder: what each holds
ROOTS = {
    "": "Your home holds your personal area and your projects",
    PERSONAL: "Personal is your whole personal area",
    PROJECTS: "Projects holds one folder per project",
}


class NothingToDescribe(NelsError):
    """A folder that cannot be described as ISA, pushed or deposited."""

    title = "Nothing to describe"  # the error page's heading


@bp.get("/")
def index():
    user = current_user()
    if user is None:
        return render_template("index.html", user=None)
    return render_template(
        "index.html",
        user=user,
        projects=sorted(home().account.memberships.values(), key=lambda m: m.project.name),
    )


@bp.get("/browse/<path:path>")
@login_required
def browse(path):
    try:
        path = normalise(from_text(path))
        page = home().list(path, limit=500)
    except HIDDEN:
        abort(404)
    crumbs = [(p, "/".join(path.split("/")[: i + 1])) for i, p in enumerate(path.split("/"))]
    return render_template(
        "browse.html",
        path=path,
        page=page,
        crumbs=crumbs,
        parent=posixpath.dirname(path),
        describable=describable(path),
        in_seek=in_seek(path),
        deposited=deposited(path),
    )


@bp.get("/isa/<path:path>")
@login_required
def preview(path):
    try:
        path = normalise(from_text(path))
        home().list(path, limit=0)  # a folder of the user's, before saying anything of it
    except HIDDEN:
        abort(404)
    refuse_roots(path)
    inv, issues = described(path)
    accounts = seek_accounts()
    sbi_id = sbi_project_for(path)
    datasets = []
    if sbi_id is not None:
        datasets = nels_answer(("datasets", sbi_id), lambda: nels_api().datasets(sbi_id))
    has_data = holds_data(inv)  # without, the page says so in its own words, and no more
    return render_template(
        "isa.html",
        path=path,
        inv=inv,
        has_data=has_data,
        missing=missing_by_samples(inv) if has_data else [],
        issues=others_by_place(issues) if has_data else [],
        accounts=accounts,
        datasets=datasets,
        in_seek=in_seek(path),
        deposited=deposited(path),
        last_push=last_push(path, accounts),
        may_write=may_write(path),
    )


def deposited(path: str) -> list[tuple[str, str, bool]]:
    """``(archive, accession, on a test server)`` of what the folder's deposits
    made, for its pages; the deposit page has the details."""
    records = DepositFolder.of(current_app.config["WORK_DIR"], path).records()
    return [
        ("ENA" if r.archive == "ena" else "BioStudies", r.main, r.server != "production")
        for r in records
        if r.main
    ]


@bp.app_template_global()
def pushed_to_project(path: str, accounts) -> str:
    """The SEEK project number the user last pushed the folder to (deposit forms)."""
    pushed = last_push(path, accounts)
    return pushed.seek_project if pushed else ""


def describable(path: str) -> bool:
    """Whether a folder may be described as ISA: not the home or its roots
    (a recursive listing starts inside Personal or a project's folder), nor
    the folder of sheets and kept bundles beside the data."""
    return path not in ROOTS and METADATA_FOLDER not in path.split("/")


def refuse_roots(path: str) -> None:
    if METADATA_FOLDER in path.split("/"):
        raise NothingToDescribe(
            f"{METADATA_FOLDER}/ holds the folder's metadata sheets and kept bundles, not "
            "data: describe the folder it is in"
        )
    if not describable(path):
        raise NothingToDescribe(
            f"{ROOTS[path]}: open a project's folder, or a folder inside it or inside "
            "Personal, to describe it as ISA, push it to SEEK or deposit it"
        )


def may_write(path: str) -> bool:
    """Whether the user may change what the folder says, anywhere (NeLS, SEEK,
    an archive): not a read-only member, not in a locked project."""
    role = role_for(home().account, locate(path))
    return role is not None and role is not Role.READ_ONLY


def holds_data(inv) -> bool:
    return bool(inv.files())


def refuse_without_data(path: str) -> None:
    """Before any job: a push of a folder without data made an empty investigation in SEEK."""
    refuse_roots(path)
    mapped = map_source(home(), path, f"nels://{path}", identifier_for(path))
    if not holds_data(mapped.investigation):
        raise NothingToDescribe(
            f"{path} holds no data files (no reads, no delivery): "
            "there is nothing to push to SEEK or deposit"
        )


def in_seek(path: str) -> list[str]:
    """The SEEK investigations pushes of the folder made, newest first. A
    project's folder is the same for every member; a Personal folder is only
    the user's, so only their own pushes of it count."""
    if not storable(path):
        return []
    source = f"nels://{path}"
    with db().reads() as s:
        links = s.scalars(
            select(SeekLink)
            .where(SeekLink.source == source, SeekLink.key == "investigation")
            .where(SeekLink.seek_id.is_not(None))
            .order_by(SeekLink.updated.desc())
        ).all()
        if path.split("/")[0] == PERSONAL:
            mine = {(p.seek_url, p.seek_project) for p in _pushes(s, path)}
            links = [li for li in links if (li.seek_url, li.seek_project) in mine]
    return list(dict.fromkeys(f"{li.seek_url}/investigations/{li.seek_id}" for li in links))


def last_push(path: str, accounts) -> PushedFolder | None:
    """Where the user last pushed the folder, on one of their connected accounts."""
    if not storable(path):
        return None
    connected = {a.seek_url for a in accounts}
    with db().reads() as s:
        return next((p for p in _pushes(s, path) if p.seek_url in connected), None)


def storable(path: str) -> bool:
    """Whether the database can hold the path: a name that is not UTF-8 cannot
    be stored as text, so nothing of it was stored either."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return True


def _pushes(s, path: str) -> list[PushedFolder]:
    mine = select(PushedFolder).where(
        PushedFolder.user_id == current_user().id, PushedFolder.folder == path
    )
    return list(s.scalars(mine.order_by(PushedFolder.updated.desc())))
