"""SEEK accounts, push and pull as background jobs, their progress, the bundle download."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select

from nels_core.byte_names import from_text
from nels_core.errors import NelsError
from nels_core.paths import normalise
from seek_plugin.client import SeekClient
from seek_plugin.errors import SeekAuthError, SeekError
from seek_plugin.pull import parse_investigation_url

from .context import (
    current_user,
    db,
    home,
    jobs,
    login_required,
    nels_secret,
    same_site_path,
    sbi_project_for,
    seek_accounts,
    vault,
)
from .deposit_jobs import SeekLink
from .models import SeekAccount
from .nels_views import FOLDER_PAGES, HIDDEN, may_write, refuse_without_data

bp = Blueprint("seek", __name__)


@bp.get("/seek")
@login_required
def accounts():
    return render_template(
        "seek.html",
        accounts=seek_accounts(),
        urls=offered_seeks(),
        chosen=configured_seek(request.args.get("seek_url", "")),  # kept after a refusal
        back=_came_from(request.args.get("next")),
    )


@bp.post("/seek")
@login_required
def connect():
    url = configured_seek(request.form.get("seek_url", ""))
    token = request.form.get("token", "").strip()
    came_from = same_site_path(request.form.get("next"))
    again = redirect(url_for("seek.accounts", seek_url=url, next=came_from))  # never the token
    if url is None:  # no request leaves for an address the site does not offer (SSRF)
        flash("Choose one of the SEEK instances this site offers.", "error")
        return again
    if not token:
        flash("Give an API token from your SEEK profile.", "error")
        return again
    try:
        me = SeekClient(url, token=token, retries=1).current_person()
    except SeekError as e:
        current_app.logger.warning("connecting to SEEK at %s failed: %s", url, e)
        flash(_not_connected(url, e), "error")
        return again
    user = current_user()
    with db().sessions() as s, s.begin():
        account = s.scalars(
            select(SeekAccount).where(SeekAccount.user_id == user.id, SeekAccount.seek_url == url)
        ).first() or SeekAccount(user_id=user.id, seek_url=url)
        account.person, account.token = me.title, vault().seal(token)
        s.add(account)
    flash(f"Connected to {url} as {me.title}.", "ok")
    return redirect(url_for("seek.accounts", next=came_from))


@bp.post("/seek/<int:account_id>/disconnect")
@login_required
def disconnect(account_id):
    with db().sessions() as s, s.begin():
        account = s.get(SeekAccount, account_id)
        if account is None or account.user_id != current_user().id:
            abort(404)
        s.delete(account)
    return redirect(url_for("seek.accounts"))


@bp.post("/push")
@login_required
def push():
    try:  # the folder must be one of the user's before any job starts
        path = normalise(from_text(request.form.get("path", "")))
        home().list(path, limit=0)
    except HIDDEN:
        abort(404)
    refuse_without_data(path)  # no job, nothing in SEEK: an empty investigation helps no one
    if not may_write(path):  # read-only means read-only everywhere, SEEK included
        abort(403, "Read-only members and locked projects cannot push a folder to SEEK.")
    account = _account(request.form.get("account", type=int))
    project = request.form.get("project", "").strip()
    if not project.isdigit():
        flash("Give the SEEK project's number (its address ends in /projects/NUMBER).", "error")
        return redirect(url_for("nels.preview", path=path))
    params = {
        "path": path,
        "account": account.id,
        "project": project,
        "sbi": sbi_project_for(path) if request.form.get("sbi") else None,
    }
    job = jobs().start(current_user().id, "push", f"nels://{path}", params, nels_secret())
    return redirect(url_for("seek.job", job_id=job))


@bp.post("/pull")
@login_required
def pull():
    try:
        seek_url, number = parse_investigation_url(request.form.get("investigation", ""))
    except SeekError as e:
        flash(e.message, "error")
        return redirect(request.referrer or url_for("nels.index"))
    configured = configured_seek(seek_url)
    if configured is None:  # nothing is asked of an address the site does not offer (SSRF)
        flash(f"This site pulls from {_offered_in_words()} only.", "error")
        return redirect(url_for("seek.accounts"))
    account = next((a for a in seek_accounts() if configured_seek(a.seek_url) == configured), None)
    if account is None:
        flash(f"Connect a SEEK account at {configured} first.", "error")
        return redirect(url_for("seek.accounts", seek_url=configured))
    # the address asked for is built from the account's, not taken as given
    url = f"{account.seek_url}/investigations/{number}"
    take = request.form.get("take") if request.form.get("take") in ("seek", "sheet") else None
    params = {"investigation": url, "account": account.id, "take": take}
    job = jobs().start(current_user().id, "pull", url, params, nels_secret())
    return redirect(url_for("seek.job", job_id=job))


@bp.get("/jobs", endpoint="jobs")
@login_required
def jobs_list():
    return render_template("jobs.html", jobs=jobs().of_user(current_user().id))


@bp.get("/jobs/<job_id>")
@login_required
def job(job_id):
    j = _job(job_id)
    return render_template(
        "job.html",
        job=j,
        result=json.loads(j.result or "{}"),
        bundle_kept=_pulled_zip(j).is_file(),
        keep_days=current_app.config["PULL_KEEP_DAYS"],
    )


@bp.get("/jobs/<job_id>.json")
@login_required
def job_status(job_id):
    j = _job(job_id)
    return jsonify(state=j.state, done=j.done, total=j.total, message=j.message)


@bp.get("/jobs/<job_id>/isa-bundle.zip")
@login_required
def download(job_id):
    j = _job(job_id)
    archive = _pulled_zip(j)
    if j.kind != "pull" or j.state != "done" or not archive.is_file():
        abort(404)
    return send_file(archive, as_attachment=True, download_name="isa-bundle.zip")


def _pulled_zip(j) -> Path:
    return Path(current_app.config["WORK_DIR"]) / j.id / "isa-bundle.zip"


def seek_link_request(form) -> SeekLink | None:
    """The SEEK records to link a deposit's accessions on, if the form asks for it."""
    chosen = form.get("seek_account", type=int)
    if not chosen:
        return None
    account = _account(chosen)
    project = form.get("seek_project", "").strip()
    if not project.isdigit():
        raise ValueError("Give the number of the SEEK project the folder was pushed to.")
    if vault().open(account.token) is None:
        raise ValueError("The SEEK token can no longer be read; connect the account again.")
    return SeekLink(account.id, project)


def _job(job_id: str):
    j = jobs().get(job_id, current_user().id)
    if j is None:
        abort(404)
    return j


def _account(account_id: int | None) -> SeekAccount:
    account = next((a for a in seek_accounts() if a.id == account_id), None)
    if account is None:
        abort(404)
    if configured_seek(account.seek_url) is None:  # connected before the site stopped offering it
        raise NelsError(
            f"this site no longer works with SEEK at {account.seek_url}; "
            f"connect an account at {_offered_in_words()}"
        )
    return account


def offered_seeks() -> list[str]:
    """The SEEK instances the site is configured to work with, as configured."""
    return [u.strip().rstrip("/") for u in current_app.config["SEEK_URLS"]]


def configured_seek(url: str | None) -> str | None:
    """The configured SEEK address that ``url`` names (the same scheme, host,
    port and path), else None: the server asks nothing of other addresses."""
    wanted = _instance(url or "")
    if wanted is None:
        return None
    return next((u for u in offered_seeks() if _instance(u) == wanted), None)


def _instance(url: str) -> tuple[str, str, int, str] | None:
    """What tells SEEK instances apart; None for anything but a plain http(s) address."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port out of range, a malformed host
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.query or parts.fragment:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


def _offered_in_words() -> str:
    offered = offered_seeks()
    return " or ".join(offered) if offered else "no SEEK instance (none is configured)"


def _not_connected(url: str, e: SeekError) -> str:
    """Why connecting failed, in words that hold nothing of SEEK's answer (it
    could be anything) and no more detail than the user can act on."""
    if isinstance(e, SeekAuthError) or 400 <= e.status < 500:
        return f"SEEK at {url} did not accept the token."
    return f"SEEK at {url} could not be reached; try again later."


def _came_from(target: str | None) -> tuple[str, str] | None:
    """(address, name) of the page of this site to offer going back to."""
    target = same_site_path(target)
    if target is None:
        return None
    path = unquote(urlsplit(target).path)
    for prefix in FOLDER_PAGES:
        if path.startswith(prefix):
            return target, path[len(prefix) :]
    return target, "the page you came from"


def _path(location: str) -> str:
    return normalise(from_text(location))
