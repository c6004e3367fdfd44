"""Sign in with NeLS: OAuth2 authorization code with PKCE (S256) against
NeLS's sign-in server, then a server-side session (sessions.py). The
callback address comes from ``PUBLIC_URL`` alone, never from the request's
Host header; the PKCE verifier stays in the database, never in the browser.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import delete, select

from nels_core.api import NelsApi, OAuth2Client
from nels_core.api.oauth import TokenSet, code_challenge, new_code_verifier
from nels_core.errors import ApiError

from . import sessions
from .context import current_user, db, kept, login_required, same_site_path, vault
from .models import SignInAttempt, WebUser
from .sessions import as_utc, hashed, now
from .wording import counted

bp = Blueprint("auth", __name__)
CALLBACK_PATH = "/auth/callback"
ATTEMPT_LIFETIME = timedelta(minutes=10)  # as long as NeLS's codes live


def callback_url(public_url: str) -> str:
    """Where NeLS sends the browser back to: the address registered for this site."""
    return public_url.rstrip("/") + CALLBACK_PATH


def _oauth() -> OAuth2Client:
    c = current_app.config
    return OAuth2Client(
        c["NELS_OAUTH_URL"],
        c["NELS_CLIENT_ID"],
        c["NELS_CLIENT_SECRET"],
        redirect_uri=callback_url(c["PUBLIC_URL"]),
    )


@bp.get("/login")
def login():
    state, verifier = secrets.token_urlsafe(32), new_code_verifier()
    _remember_attempt(state, verifier, _local(request.args.get("next", "/")))
    session["oauth_state"] = state  # the answer must come back to this browser
    return redirect(_oauth().authorization_url(state, challenge=code_challenge(verifier)))


@bp.get(CALLBACK_PATH)
def callback():
    state = request.args.get("state", "")
    expected = session.pop("oauth_state", None)
    if not isinstance(expected, str) or not _same(expected, state):
        return _refused("The sign-in answer does not belong to this browser session.")
    attempt = _take_attempt(state)
    if attempt is None:
        return _refused("The sign-in took too long or was used already. Sign in again.")
    if "code" not in request.args:
        return _refused(f"NeLS did not sign you in ({request.args.get('error', 'no code')}).")
    try:
        tokens = _oauth().exchange_code(request.args["code"], attempt.code_verifier)
        me = NelsApi(current_app.config["NELS_API_URL"], tokens.access_token).my_account()
    except ApiError as e:
        return _refused(f"NeLS refused the sign-in: {e.message}")
    sessions.begin(_save_user(me, tokens))  # a new session id on each sign-in
    return redirect(attempt.after)


def _save_user(me, tokens: TokenSet) -> int:
    """The signed-in NeLS user's row, made or brought up to date; its id.
    NeLS's refresh token is kept too, sealed like the access token: the
    delivery watcher gets fresh access tokens with it while the user is away."""
    with db().sessions() as s, s.begin():
        user = s.scalars(select(WebUser).where(WebUser.nels_id == me.nels_id)).first()
        if user is None:
            user = WebUser(nels_id=me.nels_id, name=me.name)
            s.add(user)
        user.name = me.name
        user.nels_token = vault().seal(tokens.access_token)
        if tokens.refresh_token:  # none given: the one kept, if any, still stands
            user.nels_refresh = vault().seal(tokens.refresh_token)
        s.flush()
        return user.id


@bp.post("/logout")
def logout():
    user = current_user()
    sessions.end()
    if user is not None and not sessions.live_sessions(user.id):
        _forget_nels_token(user.id)  # no browser of theirs needs it any more
    return redirect(url_for("nels.index"))


@bp.get("/account")
@login_required
def account():
    user, c = current_user(), current_app.config
    return render_template(
        "account.html",
        user=user,
        browsers=sessions.live_sessions(user.id),
        idle=_duration(c["SESSION_IDLE_TIMEOUT"]),
        lifetime=_duration(c["SESSION_ABSOLUTE_TIMEOUT"]),
    )


@bp.post("/logout/everywhere")
def logout_everywhere():
    user = current_user()  # signed in is enough: no NeLS token needed to leave
    if user is None:
        sessions.end()
        return redirect(url_for("nels.index"))
    ended = sessions.end_all(user.id)
    _forget_nels_token(user.id)
    flash(f"Signed out everywhere: {counted(ended, 'session')} ended.", "ok")
    return redirect(url_for("nels.index"))


@bp.app_context_processor
def _who():
    # a function: a page that never asks costs no look-up
    return {"signed_in": lambda: current_user() is not None}


def _duration(seconds) -> str:
    """A timeout in words: "8 hours", "7 days"."""
    minutes = int(float(seconds)) // 60
    if minutes and minutes % (24 * 60) == 0:
        return counted(minutes // (24 * 60), "day")
    if minutes and minutes % 60 == 0:
        return counted(minutes // 60, "hour")
    return counted(minutes, "minute")


def _forget_nels_token(user_id: int) -> None:
    kept().forget_user(user_id)  # this process's kept home and API client of theirs
    with db().sessions() as s, s.begin():
        user = s.get(WebUser, user_id)
        user.nels_token = user.nels_refresh = None  # the watcher pauses until a sign-in


def _remember_attempt(state: str, verifier: str, after: str) -> None:
    started = now()
    with db().sessions() as s, s.begin():
        too_old = SignInAttempt.created < started - ATTEMPT_LIFETIME
        s.execute(delete(SignInAttempt).where(too_old))  # abandoned sign-ins
        s.add(
            SignInAttempt(
                state_hash=hashed(state), code_verifier=verifier, after=after, created=started
            )
        )


def _take_attempt(state: str) -> SignInAttempt | None:
    """The sign-in this state began, used up; None if unknown or too old."""
    with db().sessions() as s, s.begin():
        attempt = s.get(SignInAttempt, hashed(state))
        if attempt is None:
            return None
        s.delete(attempt)
    return attempt if now() - as_utc(attempt.created) < ATTEMPT_LIFETIME else None


def _same(expected: str, given: str) -> bool:
    # as bytes: compare_digest refuses str with characters outside ASCII
    return secrets.compare_digest(expected.encode(), given.encode())


def _local(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    return same_site_path(target) or "/"


def _refused(message: str):
    return render_template("error.html", title="Sign-in failed", message=message), 400
