"""The NeLS REST API and OAuth2 server, as a Flask application factory.

It answers what the recorded traffic in shared/specs/nels/cassettes shows:
JSON sent as ``text/plain``, lists bare or in envelopes, subtypes as a
string in lists and as objects alone, 401 without a body, 500 ``Error``.
An expired token's 401 also carries RFC 6750's ``WWW-Authenticate`` challenge
(``invalid_token``, "expired"), as OAuth2 resource servers of NeLS's kind
send it; the recordings hold only a token never issued (a bare 401), so
clients must read the challenge when it is there and not count on it.
Production code reaches it only by URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from functools import wraps
from html import escape
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, abort, g, redirect, request
from werkzeug.formparser import parse_form_data

from .sbi_jobs import DONE
from .world import AuthCode, SandboxProject, World

TEXT_JSON = "text/plain; charset=UTF-8"
CHUNK = 1024 * 1024
PKCE_TEXT = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636's verifier and challenge


def create_app(world: World, public_url: str = "http://127.0.0.1", ssh_host: str = "127.0.0.1"):
    app = Flask("nels_sandbox")
    app.config["WORLD"] = world
    app.config["PUBLIC_URL"] = public_url.rstrip("/")
    app.config["SSH_HOST"] = ssh_host
    app.config["FAULTS"] = []  # (method, path regex, status, body), each used once
    app.config["CHAOS"] = Chaos()
    app.register_blueprint(_oauth(), url_prefix="/oauth2")
    app.register_blueprint(_api2(), url_prefix="/nels-api2")
    app.register_blueprint(_sbi(), url_prefix="/nels-api")
    app.register_blueprint(_portal())

    @app.before_request
    def _inject_fault():
        for fault in app.config["FAULTS"]:
            method, pattern, status, body = fault
            if request.method == method and re.search(pattern, request.path):
                app.config["FAULTS"].remove(fault)
                return Response(body, status, content_type=TEXT_JSON)
        if app.config["CHAOS"].error_now(request.path):
            return Response("Error", 500, content_type=TEXT_JSON)  # as get_projects_500 shows
        return None

    return app


def inject_fault(app: Flask, method: str, path_pattern: str, status: int, body: str = "Error"):
    """Make the next matching request fail, as the real service sometimes does."""
    app.config["FAULTS"].append((method, path_pattern, status, body))


@dataclass
class Chaos:
    """Faults now and then, as the real service has them, seeded so that a
    test meets the same ones on every run."""

    rng: random.Random = field(default_factory=lambda: random.Random(0))
    error_rate: float = 0.0  # share of matching calls answered 500 "Error"
    job_failure_rate: float = 0.0  # share of transfer jobs that end in 102
    failing_jobs: int = 0  # the next this many transfer jobs end in 102, whatever the rates
    paths: str = r"^/nels-api/"  # which calls may be answered 500

    def error_now(self, path: str) -> bool:
        return (
            bool(self.error_rate)
            and bool(re.search(self.paths, path))
            and self._draw(self.error_rate)
        )

    def job_fails(self) -> bool:
        if self.failing_jobs > 0:
            self.failing_jobs -= 1
            return True
        return bool(self.job_failure_rate) and self._draw(self.job_failure_rate)

    def _draw(self, rate: float) -> bool:
        return self.rng.random() < rate


def make_chaotic(
    app: Flask,
    *,
    seed: int = 0,
    error_rate: float = 0.0,
    job_failure_rate: float = 0.0,
    paths: str = r"^/nels-api/",
) -> None:
    """From now on answer a share of calls 500 "Error" and end a share of
    transfer jobs in 102, drawn from ``seed``."""
    app.config["CHAOS"] = Chaos(random.Random(seed), error_rate, job_failure_rate, 0, paths)


def fail_next_jobs(app: Flask, count: int = 1) -> None:
    """Make the next ``count`` transfer jobs end in 102 (failed) once processed."""
    app.config["CHAOS"].failing_jobs += count


def _chaos() -> Chaos:
    from flask import current_app

    return current_app.config["CHAOS"]


def _world() -> World:
    from flask import current_app

    return current_app.config["WORLD"]


def _json(payload, status: int = 200, content_type: str | None = TEXT_JSON) -> Response:
    """JSON as NeLS sends it: ``text/plain`` on most calls, no type at all on some."""
    r = Response(json.dumps(payload, separators=(",", ":")), status)
    if content_type:
        r.headers["Content-Type"] = content_type
    else:
        del r.headers["Content-Type"]
    return r


def _empty(status: int) -> Response:
    """A bodiless answer, with no content type, as NeLS sends them."""
    r = Response(b"", status)
    del r.headers["Content-Type"]
    return r


def _bearer(f):
    @wraps(f)
    def wrapper(*a, **kw):
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        grant = _world().grant_for(token) if token else None
        if grant is None or grant.nels_id is None:
            r = _empty(401)
            if token and _world().expired(token):
                r.headers["WWW-Authenticate"] = (
                    'Bearer error="invalid_token", error_description="The access token expired"'
                )
            return r
        g.user = _world().users[grant.nels_id]
        return f(*a, **kw)

    return wrapper


def _project_for_member(pid: int) -> tuple[SandboxProject, int]:
    p = _world().projects.get(pid)
    if p is None or g.user.nels_id not in p.members:
        abort(_empty(404))  # a non-member never learns a project exists
    return p, p.members[g.user.nels_id]


# --- OAuth2 -------------------------------------------------------------------
def _oauth() -> Blueprint:
    bp = Blueprint("oauth2", __name__)

    @bp.get("/authorize")
    def authorize_form():
        q = request.args
        refusal = _authorization_refusal(q)
        if refusal:
            return _invalid_request(refusal)
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in q.items()
        )
        return (
            "<!doctype html><title>NeLS sign-in (sandbox)</title><h1>Sign in to NeLS</h1>"
            f'<form method="post">{hidden}'
            '<label>Username <input name="username" autocomplete="username"></label>'
            '<label>Password <input name="password" type="password"></label>'
            '<button type="submit">Sign in</button></form>'
        )

    @bp.post("/authorize")
    def authorize_submit():
        f = request.form
        refusal = _authorization_refusal(f)  # the form is the request again: checked again
        if refusal:
            return _invalid_request(refusal)
        user = _world().user_by_username(f.get("username", ""))
        if user is None or not hmac.compare_digest(user.password, f.get("password", "")):
            return Response("wrong username or password", 401, content_type="text/plain")
        code = secrets.token_urlsafe(16)
        _world().codes[code] = AuthCode(
            user.nels_id,
            f["client_id"],
            f.get("redirect_uri"),
            time.time(),
            f.get("code_challenge"),
            f.get("code_challenge_method", "plain"),
        )
        target = _redirect_target(f["client_id"], f.get("redirect_uri"))
        sep = "&" if "?" in target else "?"
        return redirect(target + sep + urlencode({"code": code, "state": f.get("state", "")}))

    @bp.post("/token")
    def token():
        client_id, secret = _client_auth()
        w = _world()
        if client_id not in w.clients or (secret is not None and w.clients[client_id] != secret):
            return _json({"error": "invalid_client"}, 401, "application/json")
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            issued = w.codes.pop(request.form.get("code", ""), None)  # used up even if refused
            if issued is None or issued.client_id != client_id or time.time() - issued.issued > 600:
                return _json({"error": "invalid_grant"}, 400, "application/json")
            if issued.redirect_uri and request.form.get("redirect_uri") != issued.redirect_uri:
                return _json({"error": "invalid_grant"}, 400, "application/json")
            if not _verifier_matches(issued, request.form.get("code_verifier")):
                refused = {"error": "invalid_grant", "error_description": "PKCE failed"}
                return _json(refused, 400, "application/json")
            return _json(w.issue(issued.nels_id, client_id), content_type="application/json")
        if grant_type == "refresh_token":
            grant = w.refresh_tokens.get(request.form.get("refresh_token", ""))
            if grant is None or grant.client_id != client_id:
                return _json({"error": "invalid_grant"}, 400, "application/json")
            return _json(w.issue(grant.nels_id, client_id), content_type="application/json")
        if grant_type == "client_credentials":
            if secret is None:
                return _json({"error": "invalid_client"}, 401, "application/json")
            return _json(w.issue(None, client_id, "client"), content_type="application/json")
        return _json({"error": "unsupported_grant_type"}, 400, "application/json")

    @bp.post("/introspect")
    def introspect():
        grant = _world().grant_for(request.form.get("token", ""))
        if grant is None:
            return _json({"active": False}, content_type="application/json")
        return _json(
            {
                "active": True,
                "sub": grant.nels_id,
                "client_id": grant.client_id,
                "exp": int(grant.expires_at),
                "scope": grant.scope,
            },
            content_type="application/json",
        )

    return bp


def _authorization_refusal(params) -> str | None:
    """Why an authorization request is refused, or None. Shown to the browser,
    never sent to the callback: an unregistered one may be anyone's (RFC 6749 4.1.2.1)."""
    w = _world()
    client_id = params.get("client_id")
    if params.get("response_type") != "code" or client_id not in w.clients:
        return "unknown client or response type"
    uri = params.get("redirect_uri")
    if uri is not None and uri not in w.redirect_uris.get(client_id, ()):
        return "redirect_uri is not registered for this client"
    challenge = params.get("code_challenge")
    if challenge is None:
        return "a code_challenge_method needs a code_challenge" if _has_method(params) else None
    if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return "unsupported code_challenge_method"
    return None if PKCE_TEXT.fullmatch(challenge) else "malformed code_challenge"


def _has_method(params) -> bool:
    return "code_challenge_method" in params


def _invalid_request(why: str) -> Response:
    return _json({"error": "invalid_request", "error_description": why}, 400, "application/json")


def _redirect_target(client_id: str, uri: str | None) -> str:
    """The callback asked for (registered), else the client's only one, else
    this server's own page: out of band, the code read from the address bar."""
    if uri:
        return uri
    registered = _world().redirect_uris.get(client_id, set())
    return next(iter(registered)) if len(registered) == 1 else "/"


def _verifier_matches(code: AuthCode, verifier: str | None) -> bool:
    """RFC 7636 4.6. A verifier for a code issued without a challenge is refused
    too: no PKCE downgrade (RFC 9700 2.1.1)."""
    if code.challenge is None:
        return verifier is None
    if verifier is None or not PKCE_TEXT.fullmatch(verifier):
        return False
    if code.challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(verifier, code.challenge)


def _client_auth() -> tuple[str | None, str | None]:
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username, auth.password
    return request.form.get("client_id"), request.form.get("client_secret")


# --- nels-api2 -----------------------------------------------------------------
def _api2() -> Blueprint:
    bp = Blueprint("api2", __name__)

    @bp.get("/my-account")
    @_bearer
    def my_account():
        u = g.user
        return _json({"nels_id": u.nels_id, "name": u.name, "user_type": u.user_type})

    @bp.post("/users/<int:nels_id>/do")
    @_bearer
    def user_do(nels_id):
        if nels_id != g.user.nels_id:
            return _empty(403)
        body = request.get_json(silent=True) or {}
        if body.get("method") != "credential":
            return Response("unknown method", 400, content_type=TEXT_JSON)
        return _json(_credentials(g.user))

    @bp.get("/users/<int:nels_id>")
    def legacy_credentials(nels_id):
        auth = request.authorization
        w = _world()
        if auth is None or w.legacy_clients.get(auth.username) != auth.password:
            return _empty(401)
        user = w.users.get(nels_id)
        if user is None:
            return _empty(404)
        c = _credentials(user)
        return _json({"hostname": c["host"], "username": c["username"], "key-rsa": c["sshKey"]})

    @bp.get("/users/<int:nels_id>/nels-projects")
    @_bearer
    def nels_projects(nels_id):
        if nels_id != g.user.nels_id:
            return _empty(403)
        items = [
            {
                "project_id": p.id,
                "user_id": nels_id,
                "name": p.name,
                "description": p.description,
                "role": p.members[nels_id],
                "has_filesystem_access": True,
                "issensitive": p.issensitive,
                "islocked": p.locked,
            }
            for p in _world().projects.values()
            if nels_id in p.members
        ]
        return _json({"data": items, "total": len(items)})

    return bp


def _credentials(user) -> dict:
    from flask import current_app

    w = _world()
    if w.sshd is None or not user.private_key:
        abort(Response("no data host in this sandbox", 503, content_type=TEXT_JSON))
    return {
        "host": current_app.config["SSH_HOST"],
        "username": w.sshd.login,
        "sshKey": user.private_key,
    }


# --- nels-api (StoreBioinfo, as SEEK uses it) ------------------------------------
def _sbi() -> Blueprint:
    bp = Blueprint("sbi", __name__)

    @bp.get("/user-info")
    @_bearer
    def user_info():
        u = g.user
        return _json({"nels_id": u.nels_id, "name": u.name, "user_type": u.user_type})

    @bp.get("/seek/sbi/projects")
    @_bearer
    def seek_projects():
        out = [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "contact_person": p.contact_person,
                "creation_date": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ", time.gmtime(p.creationtime / 1000)
                ),
            }
            for p in _world().projects.values()
            if g.user.nels_id in p.members
        ]
        return _json(out)

    @bp.get("/v2/sbi/projects/<int:pid>")
    @_bearer
    def project(pid):
        p, role = _project_for_member(pid)
        used = sum(f.stat().st_size for f in _world().project_dir(p).rglob("*") if f.is_file())
        stored = _world().sbi_used(p)  # the quota counts what the datasets hold
        return _json(
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "creationtime": p.creationtime,
                "sizeused": used,
                "contactperson": p.contact_person,
                "contactemail": p.contact_email,
                "contactaffiliation": "NeLS",
                "quotaid": p.id,
                "institution_id": -1,
                "quota_sizeallocated": p.quota_allocated,
                "quota_sizeused": stored,
                "quota_name": p.folder,
                "issensitive": p.issensitive,
                "quota_utilization": stored / p.quota_allocated if p.quota_allocated else 0.0,
                "disk_stats": [
                    {
                        "id": p.id,
                        "statscontextid": 300,
                        "targetid": p.id,
                        "value": float(used),
                        "statstime": int(time.time() * 1000),
                    }
                ],
                "seek_enabled": True,
                "ena_enabled": False,
                "enaCount": 0,
                "membership_type": role,
            },
            content_type=None,
        )

    @bp.get("/sbi/projects/<int:pid>/datasets")
    @_bearer
    def datasets(pid):
        p, _ = _project_for_member(pid)
        return _json([_dataset(d, listing=True) for d in p.datasets.values()])

    @bp.get("/sbi/projects/<int:pid>/datasets/<int:did>")
    @_bearer
    def dataset(pid, did):
        p, _ = _project_for_member(pid)
        d = p.datasets.get(did) or abort(_empty(404))
        return _json(_dataset(d, listing=False))

    @bp.get("/sbi/datasettypes")
    @_bearer
    def dataset_types():
        return _json({"data": [{"id": i, "name": n} for i, n in _world().dataset_types.items()]})

    @bp.post("/v2/sbi/projects/<int:pid>/datasets/")
    @_bearer
    def create_dataset(pid):
        p, role = _project_for_member(pid)
        body = request.get_json(silent=True) or {}
        name = body.get("name", "")
        type_name = _world().dataset_types.get(body.get("datasettypeid"))
        if not name or type_name is None:
            return _empty(400)
        if role == 4 or p.locked:
            return _empty(405)
        w = _world()
        w.add_dataset(
            p,
            name,
            type_name,
            description=body.get("description", ""),
            owner_name=g.user.name,
            creationtime=int(time.time() * 1000),
            subtypes=dict.fromkeys(w.type_subtypes.get(type_name, ()), 0),
        )
        return _empty(200)

    @bp.post("/sbi/projects/<int:pid>/datasets/<int:did>/do")
    @_bearer
    def dataset_do(pid, did):
        p, _ = _project_for_member(pid)
        d = p.datasets.get(did) or abort(_empty(404))
        body = request.get_json(silent=True) or {}
        if body.get("method") != "get_nels_url" or body.get("subtype_name") not in d.subtypes:
            return _empty(400)
        ref = _ref(p.id, d.id, body["subtype_name"])
        return _json({"url": f"{_public()}/nels/pages/sbi/sbi.xhtml?ref={ref}"})

    @bp.post("/seek/sbi/projects/<int:pid>/datasets/<int:did>/<subtype>/metadata/do")
    @_bearer
    def metadata_do(pid, did, subtype):
        p, _ = _project_for_member(pid)
        d = p.datasets.get(did) or abort(_empty(404))
        body = request.get_json(silent=True) or {}
        if body.get("method") != "seek_metadata_exist":
            return _empty(400)
        return _json({"state": _metadata_path(p, d, subtype).exists()}, content_type=None)

    @bp.get("/sbi/sample-metadata")
    @_bearer
    def sample_metadata():
        found = _from_ref(request.args.get("ref", ""))
        if found is None:
            return Response("", 404, content_type=TEXT_JSON)
        p, d, subtype = found
        path = _metadata_path(p, d, subtype)
        if g.user.nels_id not in p.members or not path.exists():
            return Response("", 404, content_type=TEXT_JSON)
        return Response(
            path.read_bytes(),
            200,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @bp.post("/user/sbi-storage/do")
    @_bearer
    def sbi_storage():
        body = request.get_json(silent=True) or {}
        payload = body.get("payload") or {}
        if body.get("method") != "list":
            return _empty(400)
        p, role = _project_for_member(int(payload.get("project_id", 0)))
        d = p.datasets.get(int(payload.get("dataset_id", 0)))
        rel = payload.get("path", "")
        folder = _sbi_dir(rel)
        if d is None or folder is None or not folder.is_dir():
            return _empty(404)
        elements = []
        for f in sorted(folder.iterdir()):
            entry = {
                "name": f.name,
                "size": 0 if f.is_dir() else f.stat().st_size,
                "path": f"{rel}/{f.name}",
                "project_id": p.id,
                "dataset_id": d.id,
                "refid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{p.id}/{d.id}")),
                "description": "",
                "islocked": d.islocked,
                "membership_type": role,
                "isFolder": f.is_dir(),
            }
            if f.is_file():
                ms = int(f.stat().st_mtime * 1000)
                entry.update(creationtime=ms, lastUpdate=ms)
            elements.append(entry)
        return _json({"elements": elements}, content_type=None)

    @bp.post("/seek/sbi/projects/<int:pid>/datasets/<int:did>/<subtype>/data/do")
    @_bearer
    def data_do(pid, did, subtype):
        p, role = _project_for_member(pid)
        d = p.datasets.get(did) or abort(_empty(404))
        body = request.get_json(silent=True) or {}
        method, payload = body.get("method"), body.get("payload") or {}
        if method == "initiate_upload":
            return _initiate_upload(p, d, role, subtype, payload)
        if method == "initiate_download":
            return _initiate_download(p, d, subtype, payload)
        w = _world()
        try:
            job_id = int(payload.get("job_id", -1))
        except (TypeError, ValueError):
            return _empty(400)
        job = w.jobs.get(job_id)
        if job is None or job["target"][:3] != (p.id, d.id, subtype):
            return _empty(404)  # another dataset's job is no business of this call
        with w.lock:
            if method == "upload_done" and job["kind"] == "upload":
                w.transfer_jobs.upload_done(job, fails=_chaos().job_fails)
                return _empty(204)
            if method == "job_state":
                job = w.transfer_jobs.settle(job_id)
                done = job["state_id"] == DONE
                return _json(
                    {"state_id": job["state_id"], "completion": 100 if done else 0},
                    content_type=None,
                )
            if method == "download_reference" and job["kind"] == "download":
                # the shape is inferred (no recording of downloads): {url}, as upload's url
                if job["state_id"] != DONE or "staged" not in job:
                    return _empty(404)
                token = str(uuid.uuid4())
                w.downloads[token] = job_id
                return _json({"url": f"{_public()}/nels-download2/{token}"}, content_type=None)
        return _empty(400)

    return bp


def _initiate_upload(p, d, role, subtype, payload) -> Response:
    if d.islocked or p.locked or role == 4:
        return _empty(405)  # as upload_file_405_error
    name = payload.get("file_name", "")
    folder = payload.get("location_in_sub_type", "")
    if not name or "/" in name or " " in name or not _fit_folder(folder):
        return _empty(406)  # NeLS refuses names with spaces
    if subtype not in d.subtypes:
        return _empty(404)
    w = _world()
    job_id = w.new_id()
    token = str(uuid.uuid4())
    with w.lock:
        w.uploads[token] = {"job": job_id}
        w.transfer_jobs.new(job_id, "upload", (p.id, d.id, subtype, folder, name))
    return _json({"url": f"{_public()}/nels-upload2/{token}", "jobId": job_id}, content_type=None)


def _initiate_download(p, d, subtype, payload) -> Response:
    """Shape inferred, no recording of downloads: the payload names the file as
    initiate_upload's does (``location_in_sub_type``, ``file_name``), the answer
    is upload's without the url (``{jobId}``): the url comes from download_reference."""
    name = payload.get("file_name", "")
    folder = payload.get("location_in_sub_type", "")
    if not name or "/" in name or not _fit_folder(folder) or subtype not in d.subtypes:
        return _empty(404)
    w = _world()
    source = w.sbi_dir(p, d.name, subtype, *_parts(folder), name)
    if name.startswith(".") or not source.is_file():
        return _empty(404)
    job_id = w.new_id()
    w.transfer_jobs.new(  # processing from the start: fetched from the store at once
        job_id, "download", (p.id, d.id, subtype, folder, name), fails=_chaos().job_fails()
    )
    return _json({"jobId": job_id}, content_type=None)


def _parts(folder: str) -> list[str]:
    return [x for x in folder.split("/") if x]


def _fit_folder(folder) -> bool:
    return (
        isinstance(folder, str)
        and " " not in folder
        and not any(x in (".", "..") or x.startswith(".") for x in _parts(folder))
    )


def _public() -> str:
    from flask import current_app

    return current_app.config["PUBLIC_URL"]


def _dataset(d, listing: bool) -> dict:
    out = {
        "creationtime": str(d.creationtime) if listing else d.creationtime,
        "id": d.id,
        "name": d.name,
        "islocked": d.islocked,
        "type": d.type,
        "owner_name": d.owner_name,
        "description": d.description,
    }
    if listing:
        out["subtypes"] = ",".join(d.subtypes)
    else:
        out["subtypes"] = [{"type": t, "size": s} for t, s in d.subtypes.items()]
    return out


def _ref(pid: int, did: int, subtype: str) -> str:
    raw = f"{pid}:{did}:{subtype}".encode()
    return "x" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _from_ref(ref: str):
    try:
        raw = base64.urlsafe_b64decode(ref[1:] + "=" * (-len(ref[1:]) % 4)).decode()
        pid, did, subtype = raw.split(":", 2)
        p = _world().projects[int(pid)]
        return p, p.datasets[int(did)], subtype
    except (ValueError, KeyError, UnicodeDecodeError):
        return None


def _metadata_path(p, d, subtype):
    return _world().root / "sbi" / p.folder / d.name / subtype / ".metadata.xlsx"


def _sbi_dir(rel: str):
    parts = [x for x in rel.split("/") if x]
    if not parts or parts[0] != "Storebioinfo" or ".." in parts:
        return None
    return _world().root.joinpath("sbi", *parts[1:])


# --- the upload endpoint and the portal page permalinks lead to --------------------
def _portal() -> Blueprint:
    bp = Blueprint("portal", __name__)

    @bp.post("/nels-upload2/<token>")
    def upload(token):
        w = _world()
        with w.lock:
            entry = w.uploads.pop(token, None)  # single use, even when the body is cut
        if entry is None:
            return _empty(404)
        jobs = w.transfer_jobs
        jobs.receiving(entry["job"], True)
        try:
            staged = _receive(w.transfers_dir(), f"upload-{entry['job']}")
        finally:
            jobs.receiving(entry["job"], False)
        if staged is None or not jobs.received(entry["job"], staged):
            return _empty(404)
        return _empty(204)

    @bp.get("/nels-download2/<token>")
    def download(token):
        w = _world()
        with w.lock:
            job_id = w.downloads.pop(token, None)  # single use
            job = w.jobs.get(job_id) if job_id is not None else None
            staged = job.pop("staged", None) if job else None
        if staged is None:
            return _empty(404)
        return _stream(Path(staged), job["target"][4])

    @bp.get("/")
    def out_of_band():
        # where a sign-in with no callback lands: the code shown, to be exchanged by hand
        code = request.args.get("code")
        if not code:
            return _empty(404)
        token_url = f"{_public()}/oauth2/token"
        return Response(
            "<!doctype html><title>NeLS sign-in (sandbox)</title><h1>Signed in</h1>"
            f"<p>Authorization code (valid 10 minutes, once): <code>{escape(code)}</code></p>"
            "<p>Exchange it for a token with your client id and secret:</p>"
            f"<pre>curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=authorization_code "
            f"-d code={escape(code)} {escape(token_url)}</pre>",
            200,
            content_type="text/html; charset=utf-8",
        )

    @bp.route("/nels/pages/sbi/sbi.xhtml", methods=["GET", "HEAD"])
    def sbi_page():
        # the real portal sends anyone without a session to its SAML sign-in
        r = redirect("/nels/saml/discovery/alias/defaultAlias?entityID=nels", 302)
        r.headers["Content-Type"] = "application/xhtml+xml"
        return r

    @bp.route("/nels/saml/discovery/alias/defaultAlias", methods=["GET", "HEAD"])
    def saml():
        return Response(
            "<html><body>NeLS sign-in</body></html>", 200, content_type="text/html;charset=UTF-8"
        )

    return bp


def _receive(folder: Path, name: str) -> Path | None:
    """The multipart field ``file`` streamed to a temporary file in ``folder``
    and renamed to ``name`` once whole; None when there is no such field.
    A body cut short leaves nothing behind."""
    made: list = []

    def on_disk(*_args, **_kw):
        f = tempfile.NamedTemporaryFile(dir=folder, prefix=".part-", delete=False)  # noqa: SIM115
        made.append(f)
        return f

    try:
        _, _, files = parse_form_data(request.environ, stream_factory=on_disk)
        received = files.get("file")
        if received is None:
            return None
        received.stream.flush()
        os.replace(received.stream.name, folder / name)
        return folder / name
    finally:
        for f in made:  # every other part, and whatever a cut body left
            f.close()
            Path(f.name).unlink(missing_ok=True)


def _stream(path: Path, name: str) -> Response:
    """The file, handed out once: unlinked as it is opened, read from the handle."""
    f = path.open("rb")
    size = os.fstat(f.fileno()).st_size
    path.unlink()

    def chunks():
        with f:
            while chunk := f.read(CHUNK):
                yield chunk

    r = Response(chunks(), 200, content_type="application/octet-stream", direct_passthrough=True)
    r.headers["Content-Length"] = str(size)
    r.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quoted(name)}"
    r.call_on_close(f.close)
    return r


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
