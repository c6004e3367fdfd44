"""OAuth2 against the NeLS authorization server.

Authorization code (scope ``user``, with PKCE when the caller keeps a
verifier), refresh and client credentials. A :class:`TokenSource` hands out
the current access token and can refresh it once when the API answers 401.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field
from secrets import token_urlsafe
from urllib.parse import urlencode

import requests

from ..errors import AuthError
from ..redact import basic, scrub


def new_code_verifier() -> str:
    """A PKCE code verifier (RFC 7636): 86 characters from 64 random bytes."""
    return token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    """The verifier's S256 challenge: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str | None = None

    @classmethod
    def from_response(cls, d: dict) -> TokenSet:
        if not isinstance(d, dict) or not d.get("access_token"):
            raise AuthError(200, "token answer holds no access_token")
        expires_in = d.get("expires_in")
        return cls(
            access_token=d["access_token"],
            refresh_token=d.get("refresh_token"),
            expires_at=time.time() + float(expires_in) if expires_in else None,
            scope=d.get("scope"),
        )

    def expired(self, margin: float = 30.0) -> bool:
        return self.expires_at is not None and time.time() > self.expires_at - margin


class TokenSource:
    """Anything that gives an access token and may refresh it."""

    def token(self) -> str:
        raise NotImplementedError

    def refresh(self) -> bool:
        """Get a new token; False when that is not possible."""
        return False


class StaticToken(TokenSource):
    """A token from configuration or a Galaxy vault: no refresh possible."""

    def __init__(self, token: str):
        self._token = token

    def __repr__(self) -> str:
        return "StaticToken(<hidden>)"

    def token(self) -> str:
        return self._token


class OAuth2Client(TokenSource):
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        tokens: TokenSet | None = None,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.tokens = tokens
        self.timeout = timeout
        self._session = session or requests.Session()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuth2Client({self.base_url!r}, client_id={self.client_id!r})"

    def authorization_url(
        self, state: str, scope: str = "user", challenge: str | None = None
    ) -> str:
        """Where the browser signs in; ``challenge``: the PKCE S256 challenge
        of a verifier the caller keeps for :meth:`exchange_code`."""
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "state": state,
            "scope": scope,
        }
        if self.redirect_uri:
            query["redirect_uri"] = self.redirect_uri
        if challenge:
            query.update(code_challenge=challenge, code_challenge_method="S256")
        return f"{self.base_url}/authorize?{urlencode(query)}"

    def exchange_code(self, code: str, verifier: str | None = None) -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code}
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        if verifier:
            form["code_verifier"] = verifier
        self.tokens = self._token_call(form)
        return self.tokens

    def client_credentials(self, scope: str | None = None) -> TokenSet:
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        self.tokens = self._token_call(form)
        return self.tokens

    def token(self) -> str:
        with self._lock:
            if self.tokens is None:
                raise AuthError(401, "not signed in to NeLS: no access token")
            if self.tokens.expired() and self.tokens.refresh_token:
                self._refresh_locked()
            return self.tokens.access_token

    def refresh(self) -> bool:
        with self._lock:
            if self.tokens is None or not self.tokens.refresh_token:
                return False
            self._refresh_locked()
            return True

    def _refresh_locked(self) -> None:
        self.tokens = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": self.tokens.refresh_token}
        )

    def _token_call(self, form: dict) -> TokenSet:
        auth = (self.client_id, self._client_secret) if self._client_secret else None
        if auth is None:
            form = {**form, "client_id": self.client_id}
        url = f"{self.base_url}/token"
        # what this call sends that a server echoing the request would show
        secrets = [
            form.get("code"),
            form.get("code_verifier"),
            form.get("refresh_token"),
            self._client_secret,
        ]
        if auth:
            secrets.append(basic(*auth))
        try:
            r = self._session.post(url, data=form, auth=auth, timeout=self.timeout)
        except requests.RequestException as e:
            raise AuthError(
                0, f"NeLS sign-in server unreachable: {type(e).__name__}", scrub(url, secrets)
            ) from None
        if r.status_code != 200:
            # the server's error code is safe to show; the form is not
            try:
                body = r.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                detail = body.get("error_description") or body.get("error")
            else:
                detail = r.text or r.reason
            detail = scrub(detail, secrets)
            raise AuthError(r.status_code, f"token request refused: {detail}", scrub(url, secrets))
        try:
            return TokenSet.from_response(r.json())
        except ValueError:
            raise AuthError(r.status_code, "token answer is not JSON", url) from None
