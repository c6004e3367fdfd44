"""NeLS access tokens renewed with the refresh token the site keeps for a user.

NeLS's access tokens live an hour. What runs while the user is away asks
for a new one with the refresh token kept from their sign-in (sealed with
``TOKEN_KEY``): the delivery watcher at each look, and a long job (a
StoreBioinfo archive of a big run takes hours) when NeLS refuses the token
its message brought. A server that rotates refresh tokens hands out a new
one with each use; it is stored in place of the old, unless a sign-in
stored a newer one meanwhile.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app
from sqlalchemy import update

from nels_core.api import OAuth2Client
from nels_core.api.oauth import TokenSet, TokenSource
from nels_core.errors import AuthError

from .auth import callback_url
from .models import WebUser

log = logging.getLogger(__name__)


def oauth_client(config, refresh_token: str, access_token: str = "") -> OAuth2Client:
    """The site's OAuth2 client holding one user's tokens."""
    return OAuth2Client(
        config["NELS_OAUTH_URL"],
        config["NELS_CLIENT_ID"],
        config["NELS_CLIENT_SECRET"],
        redirect_uri=callback_url(config["PUBLIC_URL"]),
        tokens=TokenSet(access_token=access_token, refresh_token=refresh_token),
    )


def keep_rotated(app: Flask, user_id: int, sealed: bytes, used: str, renewed: str | None) -> None:
    """Store ``renewed`` if the server handed out a new refresh token in place
    of ``used`` (kept as ``sealed``), unless a sign-in stored another since."""
    if not renewed or renewed == used:
        return
    state = app.extensions["nels_bundle"]
    with state["db"].sessions() as s, s.begin():
        s.execute(
            update(WebUser)
            .where(WebUser.id == user_id, WebUser.nels_refresh == sealed)
            .values(nels_refresh=state["vault"].seal(renewed))
        )


class RenewedForUser(TokenSource):
    """A job's access token; when NeLS refuses it, a new one from the refresh
    token the site keeps for the user. No kept token, or NeLS refusing that
    too: the refusal stands and the job says so, as before."""

    def __init__(self, app: Flask, user_id: int, access_token: str):
        self._app, self._user_id = app, user_id
        self._access = access_token
        self._lock = threading.Lock()  # transfers and SSH key fetches share it

    def __repr__(self) -> str:
        return f"RenewedForUser(user {self._user_id})"

    def token(self) -> str:
        with self._lock:
            return self._access

    def refresh(self) -> bool:
        with self._lock:
            state = self._app.extensions["nels_bundle"]
            with state["db"].sessions() as s:
                user = s.get(WebUser, self._user_id)
                sealed = user.nels_refresh if user is not None else None
            refresh = state["vault"].open(sealed) if sealed is not None else None
            if refresh is None:
                return False
            oauth = oauth_client(self._app.config, refresh)
            try:
                oauth.refresh()
            except AuthError as e:
                log.warning(
                    "user %d: NeLS refused the kept refresh token (status %s)",
                    self._user_id,
                    e.status or "none: unreachable",
                )
                return False
            keep_rotated(self._app, self._user_id, sealed, refresh, oauth.tokens.refresh_token)
            self._access = oauth.tokens.access_token
            return True


def renewed(job) -> RenewedForUser:
    """A job's NeLS token (from its message), renewed when NeLS refuses it."""
    return RenewedForUser(current_app._get_current_object(), job.user_id, job.secrets["nels"])
