"""Sign in with NeLS: OAuth2 authorization code against NeLS's sign-in server."""

from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from sqlalchemy import select

from nels_core.api import NelsApi, OAuth2Client
from nels_core.errors import ApiError

from .context import current_user, db, same_site_path, vault
from .models import WebUser

bp = Blueprint("auth", __name__)


def _oauth() -> OAuth2Client:
    c = current_app.config
    return OAuth2Client(
        c["NELS_OAUTH_URL"],
        c["NELS_CLIENT_ID"],
        c["NELS_CLIENT_SECRET"],
        redirect_uri=url_for("auth.callback", _external=True),
    )


@bp.get("/login")
def login():
    session["oauth_state"] = state = secrets.token_urlsafe(16)
    session["after_login"] = _local(request.args.get("next", "/"))
    return redirect(_oauth().authorization_url(state))


@bp.get("/auth/callback")
def callback():
    expected = session.pop("oauth_state", None)
    if not expected or not secrets.compare_digest(expected, request.args.get("state", "")):
        return _refused("The sign-in answer does not belong to this browser session.")
    if "code" not in request.args:
        return _refused(f"NeLS did not sign you in ({request.args.get('error', 'no code')}).")
    try:
        tokens = _oauth().exchange_code(request.args["code"])
        me = NelsApi(current_app.config["NELS_API_URL"], tokens.access_token).my_account()
    except ApiError as e:
        return _refused(f"NeLS refused the sign-in: {e.message}")
    with db().sessions() as s, s.begin():
        user = s.scalars(select(WebUser).where(WebUser.nels_id == me.nels_id)).first()
        if user is None:
            user = WebUser(nels_id=me.nels_id, name=me.name)
            s.add(user)
        user.name = me.name
        user.nels_token = vault().seal(tokens.access_token)
        s.flush()
        uid = user.id
    after = session.pop("after_login", "/")
    session.clear()  # a fresh session on sign-in
    session["uid"] = uid
    return redirect(after)


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        with db().sessions() as s, s.begin():
            s.get(WebUser, user.id).nels_token = None
    session.clear()
    return redirect(url_for("nels.index"))


def _local(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    return same_site_path(target) or "/"


def _refused(message: str):
    return render_template("error.html", title="Sign-in failed", message=message), 400
