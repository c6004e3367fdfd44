"""The BioStudies submission API: log in, upload a study's files to the
user's folder, submit its PageTab, get the accession.

A session token (``X-SESSION-TOKEN``) comes from ``/auth/login``; the
password is sent only there and never kept. A submission that names its
accession updates that study, so a re-run with the recorded accession
changes the study instead of making a second one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NelsError
from ..redact import scrub

SERVERS = {
    "test": "https://wwwdev.ebi.ac.uk/biostudies/submissions/api",
    "production": "https://www.ebi.ac.uk/biostudies/submissions/api",
}


class BioStudiesError(NelsError):
    pass


class BioStudiesAuthError(BioStudiesError):
    pass


@dataclass(frozen=True)
class BioStudiesLogin:
    login: str  # the account's e-mail
    password: str = field(repr=False)


class BioStudiesClient:
    def __init__(self, login: BioStudiesLogin, server: str = "test", timeout: float = 120.0):
        import requests

        self.base = SERVERS.get(server, server).rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        self.user = login.login
        # what we send that an answer echoing our request would show: the
        # password during the login only (it is never kept), then the session
        self._secrets: tuple[str, ...] = (login.password,)
        self.where = scrub(self.base, limit=None)  # the server as messages name it
        r = self._call(
            "POST", "/auth/login", json={"login": login.login, "password": login.password}
        )
        token = (
            r.json().get("sessid")
            if r.headers.get("Content-Type", "").startswith("application/json")
            else None
        )
        self._secrets = (token,) if isinstance(token, str) else ()
        if not token:
            raise BioStudiesError(
                f"BioStudies at {self.where} answered the login without a session"
            )
        self.session.headers["X-SESSION-TOKEN"] = token

    def __repr__(self) -> str:
        return f"BioStudiesClient({self.user} at {self.where})"

    def upload(self, folder: str, path: Path) -> None:
        """One file into ``folder`` of the user's area, keeping its name."""
        with open(path, "rb") as f:
            self._call("POST", f"/files/user/{folder}", files={"files": (path.name, f)})

    def submit(self, pagetab: dict) -> dict:
        """The submitted study as BioStudies returns it (``accno`` included)."""
        r = self._call(
            "POST",
            "/submissions",
            data=json.dumps(pagetab).encode(),
            headers={"Content-Type": "application/json", "Submission_Type": "application/json"},
        )
        try:
            answer = r.json()
        except ValueError:
            raise BioStudiesError(
                "BioStudies answered the submission with no JSON: " + scrub(r.text, self._secrets)
            ) from None
        if not str(answer.get("accno", "")).startswith("S-"):
            said = scrub(answer, self._secrets)
            raise BioStudiesError(f"BioStudies answered without an accession: {said}")
        return answer

    def _call(self, method: str, path: str, **kw):
        import requests

        try:
            r = self.session.request(method, self.base + path, timeout=self.timeout, **kw)
        except requests.RequestException as e:
            raise BioStudiesError(
                f"cannot reach BioStudies at {self.where}: {type(e).__name__}"
            ) from None
        if r.status_code < 400:
            return r
        said = _message(r, self._secrets)
        if r.status_code == 401:
            raise BioStudiesAuthError(
                f"BioStudies at {self.where} refused {self.user}: {said or 'not logged in'}"
            )
        raise BioStudiesError(f"BioStudies answered {r.status_code}: {said}")


def _message(r, secrets) -> str:
    """BioStudies' own words: ``{"status": "FAIL", "log": {"message", "subnodes"}}``,
    each scrubbed of ``secrets`` and other credentials, as it may echo our request."""
    try:
        log = r.json().get("log") or {}
    except (ValueError, AttributeError):  # not JSON, or not an object
        return scrub(r.text, secrets)
    messages = [log.get("message", "")]
    stack = list(log.get("subnodes") or [])
    while stack:
        node = stack.pop(0)
        if node.get("level") == "ERROR" and node.get("message"):
            messages.append(node["message"])
        stack.extend(node.get("subnodes") or [])
    said = "; ".join(scrub(m, secrets) for m in messages if m)
    return said or scrub(r.text, secrets)  # JSON, but not BioStudies' log
