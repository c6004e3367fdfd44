"""A BioStudies submission API stand-in (the paths and shapes of EBI's
published API description): login for a session token, files into the
user's folder, PageTab JSON submissions answered with an ``S-BSST``
accession; a submission naming its accession updates that study.

It checks the PageTab's shape (``type: submission``, a ``Title`` and an ISO
``ReleaseDate``, a typed section, files as ``{path, type: file}``) and that
every file the study cites was uploaded by this user, with the MD5 it
states. Failures answer as BioStudies does:
``{"status": "FAIL", "log": {"level": "ERROR", "message", "subnodes"}}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass, field

from flask import Flask, jsonify, request


@dataclass
class BioStudiesWorld:
    users: dict[str, str]  # e-mail -> password
    sessions: dict[str, str] = field(default_factory=dict)  # token -> e-mail
    files: dict[str, dict[str, str]] = field(default_factory=dict)  # e-mail -> path -> md5
    studies: dict[str, dict] = field(default_factory=dict)  # accno -> the stored PageTab
    owners: dict[str, str] = field(default_factory=dict)  # accno -> e-mail
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accession(self) -> str:
        self._next += 1
        return f"S-BSST{1000 + self._next}"


def _fail(message: str, status: int, details=()) -> tuple:
    log = {
        "level": "ERROR",
        "message": message,
        "subnodes": [{"level": "ERROR", "message": d, "subnodes": []} for d in details],
    }
    return jsonify({"status": "FAIL", "log": log}), status


def create_app(world: BioStudiesWorld) -> Flask:
    app = Flask("nels_sandbox.biostudies")
    prefix = "/biostudies/submissions/api"

    def user() -> str | None:
        return world.sessions.get(request.headers.get("X-SESSION-TOKEN", ""))

    @app.post(f"{prefix}/auth/login")
    def login():
        body = request.get_json(silent=True) or {}
        email, password = body.get("login", ""), body.get("password", "")
        if not password or world.users.get(email) != password:
            return _fail("Invalid email address or password.", 401)
        token = secrets.token_hex(16)
        world.sessions[token] = email
        return jsonify({"sessid": token, "email": email, "username": email.split("@")[0]})

    @app.post(f"{prefix}/files/user")
    @app.post(f"{prefix}/files/user/<path:folder>")
    def upload(folder: str = ""):
        email = user()
        if email is None:
            return _fail("Authentication required", 401)
        if ".." in folder.split("/"):
            return _fail(f"Invalid path: {folder}", 400)
        for f in request.files.getlist("files"):
            path = f"{folder}/{f.filename}" if folder else f.filename
            world.files.setdefault(email, {})[path] = hashlib.md5(f.read()).hexdigest()
        return "", 200

    @app.get(f"{prefix}/files/user")
    def listing():
        email = user()
        if email is None:
            return _fail("Authentication required", 401)
        held = world.files.get(email, {})
        return jsonify([{"name": p.rsplit("/", 1)[-1], "path": p, "type": "FILE"} for p in held])

    @app.post(f"{prefix}/submissions")
    def submit():
        email = user()
        if email is None:
            return _fail("Authentication required", 401)
        page = request.get_json(silent=True)
        if not isinstance(page, dict):
            return _fail("The submission is not a JSON PageTab document", 400)
        problems = _problems(world, email, page)
        if problems:
            return _fail("Submission validation errors", 400, problems)
        with world._lock:
            accno = page.get("accno") or world.accession()
            stored = {**page, "accno": accno}
            world.studies[accno] = stored
            world.owners[accno] = email
        return jsonify(stored)

    return app


def _problems(world: BioStudiesWorld, email: str, page: dict) -> list[str]:
    problems = []
    if page.get("type") != "submission":
        problems.append("Expected type 'submission'")
    attributes = {a.get("name"): a.get("value") for a in page.get("attributes") or []}
    if not attributes.get("Title"):
        problems.append("Submission title is required")
    release = attributes.get("ReleaseDate")
    try:
        dt.date.fromisoformat(release or "")
    except ValueError:
        problems.append(f"Invalid release date '{release}': expected YYYY-MM-DD")
    accno = page.get("accno")
    if accno and world.owners.get(accno) not in (None, email):
        problems.append(f"The user {email} is not allowed to update the submission {accno}")
    elif accno and accno not in world.studies:
        problems.append(f"Submission {accno} does not exist")
    section = page.get("section")
    if not isinstance(section, dict) or not section.get("type"):
        problems.append("A submission needs a section with a type")
        return problems
    held = world.files.get(email, {})
    for f in section.get("files") or []:
        path = f.get("path", "")
        if f.get("type") != "file":
            problems.append(f"File '{path}': type must be 'file'")
        if path not in held:
            problems.append(f"File not uploaded: {path}")
            continue
        md5 = {a.get("name"): a.get("value") for a in f.get("attributes") or []}.get("md5")
        if md5 and md5.lower() != held[path]:
            problems.append(f"File '{path}': md5 {md5} does not match the uploaded file")
    return problems
