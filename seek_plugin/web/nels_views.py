"""The user's NeLS projects and folders, and the ISA description of a folder."""

from __future__ import annotations

import posixpath

from flask import Blueprint, abort, render_template

from nels_core.byte_names import from_text
from nels_core.errors import AccessDeniedError, NotFoundError, UnsafePathError
from nels_core.isa.export import describe
from nels_core.isa.mapping import identifier_for
from nels_core.paths import normalise

from .context import current_user, home, login_required, nels_api, sbi_project_for, seek_accounts

bp = Blueprint("nels", __name__)
HIDDEN = (NotFoundError, AccessDeniedError, UnsafePathError)  # all look like "no such folder"


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
        "browse.html", path=path, page=page, crumbs=crumbs, parent=posixpath.dirname(path)
    )


@bp.get("/isa/<path:path>")
@login_required
def preview(path):
    try:
        path = normalise(from_text(path))
        inv, issues = describe(home(), path, f"nels://{path}", identifier_for(path))
    except HIDDEN:
        abort(404)
    accounts = seek_accounts()
    sbi_id = sbi_project_for(path)
    datasets = nels_api().datasets(sbi_id) if sbi_id is not None else []
    return render_template(
        "isa.html", path=path, inv=inv, issues=issues, accounts=accounts, datasets=datasets
    )
