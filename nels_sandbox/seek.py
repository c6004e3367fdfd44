"""A SEEK 1.18 stand-in: the JSON:API calls nels-bundle makes, with SEEK's
real behaviour, as a Flask application factory.

What it reproduces (read from SEEK's controllers and recorded traffic):
200 on create for ISA records, data files and samples, 201 for sample types
and people; 401 ``{"title","detail"}`` when a non-member creates; 403
``errors[].details`` when a record may not be seen or changed; 404 ``Couldn't
find``; 422 ``errors[].source.pointer`` for validation and 422 JSON as
``text/plain`` for a malformed JSON:API body; 501 ``"not_implemented"`` for
``GET /samples``; ``policy`` shown only to those who may manage, and quietly
dropped from a change by anyone else; a wrong token is anonymous; relative
links; pages asked by ``page``/``per_page``, linked by ``page[number]``.

When SEEK's published schemas are at hand, every request body is checked
against the matching ``*Post``/``*Patch`` schema (refused with 422 when it
does not match) and every answer against the ``*Response`` schema (a
mismatch is a sandbox bug: 500, so tests fail loudly).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, g, request

from .seek_schemas import SchemaViolation, SeekSchemas, find_specs
from .seek_world import ACCESS, SINGLE, Person, Record, SeekWorld, target_kind

JSONAPI = "application/vnd.api+json"
API_VERSION = "0.3"
# kind -> (schema stem, status on create, who may create)
KINDS = {
    "investigations": ("investigation", 200, "member"),
    "studies": ("study", 200, "member"),
    "assays": ("assay", 200, "member"),
    "data_files": ("dataFile", 200, "member"),
    "sample_types": ("sampleType", 201, "member"),
    "samples": ("sample", 200, "member"),
    "people": ("person", 201, "admin"),
    "projects": ("project", 200, "admin"),
}
# what a new record must link to, and the right needed on it (SEEK's enforcement)
PARENTS = {"studies": ("investigation", "edit"), "assays": ("study", "edit")}
ASSAY_CLASSES = {
    "EXP": ("Experimental assay", "An experimental assay"),
    "MODEL": ("Modelling analysis", "A modelling analysis"),
}


def create_app(
    world: SeekWorld, schemas: SeekSchemas | None = None, check_answers: bool = True
) -> Flask:
    """``schemas``: SEEK's published ones; found beside the project when not given.
    Requests are checked against them as SEEK checks what it is sent, and so
    are the sandbox's own answers unless ``check_answers`` is off: a test of
    the sandbox that SEEK does not do, which a benchmark leaves out."""
    app = Flask("nels_sandbox.seek")
    app.config["SEEK_WORLD"] = world
    if schemas is None and (specs := find_specs()) is not None:
        schemas = SeekSchemas(specs)
    app.config["SEEK_SCHEMAS"] = schemas
    app.config["SEEK_CHECK_ANSWERS"] = check_answers
    app.register_blueprint(_api())

    @app.before_request
    def _who():
        world.requests.append((request.method, request.full_path.rstrip("?")))
        g.person = _authenticate(world)
        if not world.samples_enabled and request.path.startswith(("/samples", "/sample_types")):
            # SEEK's feature switch answers with a bare title
            return _json({"title": "Samples are disabled"}, 422, "application/json")
        return None

    return app


def _world() -> SeekWorld:
    return current_app.config["SEEK_WORLD"]


def _schemas() -> SeekSchemas | None:
    return current_app.config["SEEK_SCHEMAS"]


def _authenticate(world: SeekWorld) -> Person | None:
    """SEEK's rule: credentials it does not recognise make an anonymous request."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "Token":
        return world.person_by_token(value.strip())
    if scheme == "Basic":
        try:
            login, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return world.person_by_login(login, password)
    return None


# --- answers ---------------------------------------------------------------------------
def _json(body, status: int = 200, content_type: str = JSONAPI) -> Response:
    return Response(json.dumps(body), status, content_type=content_type)


def _errors(status: int, *errors: dict) -> Response:
    return _json({"errors": list(errors)}, status, "application/json")


def _not_found(kind: str, id_: str) -> Response:
    model = "".join(w.capitalize() for w in _singular(kind).split("_"))
    return _errors(
        404, {"title": "Not found", "detail": f"Couldn't find {model} with 'id'=[{id_}]"}
    )


def _forbidden(privilege: str, kind: str, id_: str) -> Response:
    return _errors(
        403, {"title": "Forbidden", "details": f"You may not {privilege} {_singular(kind)}:{id_}"}
    )


def _unprocessable(*problems: tuple[str, str]) -> Response:
    return _errors(422, *({"source": {"pointer": p}, "detail": d} for p, d in problems))


def _jsonapi_refusal(detail: str) -> Response:
    # SEEK writes this one by hand, as text
    return Response(f'{{"errors" : [{{"detail" : "{detail}"}}]}}', 422, content_type="text/plain")


def _singular(kind: str) -> str:
    return {"studies": "study", "people": "person"}.get(kind, kind.removesuffix("s"))


def _respond(schema: str, body: dict, status: int = 200) -> Response:
    schemas = _schemas()
    if schemas is not None and current_app.config["SEEK_CHECK_ANSWERS"]:
        try:
            schemas.check(schema, body)
        except SchemaViolation as e:  # our bug, not the caller's
            return _errors(500, {"title": "Sandbox answer breaks SEEK's schema", "detail": str(e)})
    return _json(body, status)


# --- the API ---------------------------------------------------------------------------
def _api() -> Blueprint:
    bp = Blueprint("seek", __name__)

    @bp.get("/people/current")
    def current_person():
        if g.person is None:
            return _errors(404, {"title": "No user logged in"})
        return _show_record(_world().get("people", g.person.id))

    @bp.get("/samples")
    def samples_index():
        # SEEK lists samples only under a sample type or data file
        return _json("not_implemented", 501, "application/json")

    @bp.get("/<kind>")
    def index(kind):
        if kind not in KINDS:
            return _errors(404, {"title": "Not found", "detail": f"No route matches /{kind}"})
        world = _world()
        visible = [r for r in world.records.get(kind, {}).values() if _can(r, "view")]
        return _index(kind, visible)

    @bp.get("/<parent>/<pid>/<kind>")
    def nested_index(parent, pid, kind):
        world = _world()
        owner = world.get(parent, pid)
        if kind not in KINDS or owner is None:
            return _not_found(parent, pid)
        related = [world.get(kind, i) for i in _related(owner, kind)]
        return _index(kind, [r for r in related if r is not None and _can(r, "view")])

    @bp.get("/investigations/<id_>/export_isa")
    def export_isa(id_):
        world = _world()
        r = world.get("investigations", id_)
        if r is None:
            return _not_found("investigations", id_)
        if not _can(r, "view"):
            return _forbidden("view", "investigations", id_)
        if not world.isa_json_compliant:  # SEEK's exporter raises; JSON has no handler
            return Response(b"", 406)
        return _json(_isa_json(r), 200, "application/json")

    @bp.get("/<kind>/<id_>")
    def show(kind, id_):
        r = _world().get(kind, id_)
        if kind not in KINDS or r is None:
            return _not_found(kind, id_)
        if not _can(r, "view"):
            return _forbidden("view", kind, id_)
        return _show_record(r)

    @bp.post("/<kind>")
    def create(kind):
        if kind not in KINDS:
            return _not_found(kind, "")
        stem, status, who = KINDS[kind]
        body, refusal = _body(kind, stem, "Post", None)
        if refusal:
            return refusal
        world = _world()
        if who == "admin" and not (g.person and g.person.admin):
            return _errors(
                403, {"title": "Admin rights required", "detail": "is invalid (not admin)"}
            )
        if not world.member_projects(g.person) and not (g.person and g.person.admin):
            return _json(
                {"title": "Unauthorized", "detail": "Only members of projects can create content."},
                401,
                "application/json",
            )
        data = body["data"]
        record = Record(
            kind,
            world.new_id(kind),
            dict(data.get("attributes") or {}),
            _relationships(data),
            g.person.id,
            {"access": "no_access", "permissions": []},
        )
        record.policy = record.attributes.pop("policy", None) or record.policy
        if "discussion_links" in record.attributes:
            record.attributes["discussion_links"] = _links(
                world, [], record.attributes["discussion_links"]
            )
        problem = _check_record(record, new=True)
        if problem:
            return problem
        if kind == "data_files":
            record.blobs = [_blob(record, b) for b in record.attributes.pop("content_blobs")]
        world.store(record)
        return _show_record(record, status)

    @bp.patch("/<kind>/<id_>")
    def update(kind, id_):
        world = _world()
        r = world.get(kind, id_)
        if kind not in KINDS or r is None:
            return _not_found(kind, id_)
        stem = KINDS[kind][0]
        body, refusal = _body(kind, stem, "Patch", id_)
        if refusal:
            return refusal
        if not _can(r, "edit"):
            return _forbidden("edit", kind, id_)
        data = body["data"]
        attributes = dict(data.get("attributes") or {})
        policy = attributes.pop("policy", None)
        attributes.pop("content_blobs", None)  # new content is a new version, not a patch
        if "discussion_links" in attributes:
            attributes["discussion_links"] = _links(
                world, r.attributes.get("discussion_links") or [], attributes["discussion_links"]
            )
        changed = Record(
            kind,
            id_,
            {**r.attributes, **attributes},
            {**r.relationships, **_relationships(data)},
            r.contributor,
            policy if policy is not None and _can(r, "manage") else r.policy,
            created=r.created,
            uuid=r.uuid,
            blobs=r.blobs,
        )
        problem = _check_record(changed, new=False)
        if problem:
            return problem
        world.store(changed)
        return _show_record(changed)

    @bp.delete("/<kind>/<id_>")
    def destroy(kind, id_):
        world = _world()
        r = world.get(kind, id_)
        if kind not in KINDS or r is None:
            return _not_found(kind, id_)
        children = {"investigations": "studies", "studies": "assays", "sample_types": "samples"}
        if not _can(r, "manage") or (kind in children and _related(r, children[kind])):
            return _forbidden("delete", kind, id_)
        world.remove(r)
        return _respond("okResponse", {"status": "ok"})

    @bp.put("/<kind>/<id_>/content_blobs/<blob_id>")
    def upload(kind, id_, blob_id):
        world = _world()
        r = world.get(kind, id_)
        if r is None or not any(b["id"] == blob_id for b in r.blobs):
            return _not_found("content_blobs", blob_id)
        if not _can(r, "edit"):
            return _forbidden("edit", kind, id_)
        blob = next(b for b in r.blobs if b["id"] == blob_id)
        if blob["url"] is not None or blob["size"] is not None:
            return _json({}, 400, "application/json")  # SEEK: content is set once
        size = world.upload(r, blob_id, request.get_data())
        return Response(str(size), 200, content_type="text/plain")

    @bp.get("/<kind>/<id_>/content_blobs/<blob_id>/download")
    def download(kind, id_, blob_id):
        world = _world()
        r = world.get(kind, id_)
        if r is None or blob_id not in world.blob_bytes:
            return _not_found("content_blobs", blob_id)
        if not _can(r, "download"):
            return _forbidden("download", kind, id_)
        return Response(world.blob_bytes[blob_id], 200, content_type="application/octet-stream")

    return bp


# --- requests --------------------------------------------------------------------------
def _body(kind: str, stem: str, verb: str, id_: str | None):
    """The JSON:API body, or SEEK's refusal of it."""
    body = request.get_json(silent=True)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None, _jsonapi_refusal(
            "A POST/PUT request must have a data record complying with JSONAPI specs"
        )
    if not data.get("type"):
        return None, _jsonapi_refusal("A POST/PUT request must specify a data:type")
    if data["type"] != kind:
        return None, _jsonapi_refusal(
            f"The specified data:type does not match the URL's object ({data['type']} vs. {kind})"
        )
    if verb == "Post" and "id" in data:
        return None, _jsonapi_refusal("A POST request is not allowed to specify an id")
    if verb == "Patch" and "id" in data and str(data["id"]) != id_:
        return None, _jsonapi_refusal(
            "id specified by the PUT request does not match object-id in the JSON input"
        )
    schemas = _schemas()
    if schemas is not None and f"{stem}{verb}" in schemas:
        try:
            schemas.check(f"{stem}{verb}", body)
        except SchemaViolation as e:
            return None, _errors(422, {"title": "Request breaks SEEK's schema", "detail": str(e)})
    return body, None


def _relationships(data: dict) -> dict[str, list[str]]:
    out = {}
    for name, rel in (data.get("relationships") or {}).items():
        ref = rel.get("data") if isinstance(rel, dict) else None
        refs = ref if isinstance(ref, list) else [ref] if ref else []
        out[name] = [str(r["id"]) for r in refs]
    return out


def _check_record(r: Record, new: bool) -> Response | None:
    """SEEK's validations: 404 for a missing link target, 422 for the rest."""
    world = _world()
    for name, targets in r.relationships.items():
        for t in targets:
            kind = target_kind(name)
            if kind in KINDS and kind != "people" and world.get(kind, t) is None:
                return _not_found(kind, t)
            if kind == "people" and t not in world.people:
                return _not_found("people", t)
    problems = []
    title = r.attributes.get("title")
    if r.kind not in ("samples", "people") and (not isinstance(title, str) or not title.strip()):
        problems.append(("/data/attributes/title", "can't be blank"))
    if r.kind in ("investigations", "data_files", "sample_types") and not r.relationships.get(
        "projects"
    ):
        problems.append(("/data/relationships/projects", "can't be blank"))
    if r.kind in PARENTS:
        name, right = PARENTS[r.kind]
        parent = r.relationships.get(name)
        if not parent:
            problems.append((f"/data/relationships/{name}", "can't be blank"))
        elif new or parent != world.get(r.kind, r.id).relationships.get(name):
            target = world.get(target_kind(name), parent[0])
            if not _can(target, right):
                model = _singular(target.kind).replace("_", " ").capitalize()
                problems.append(
                    (
                        "/data/attributes/base",
                        f"You do not have permission to {right} {model}-{parent[0]}",
                    )
                )
    for pid in r.relationships.get("projects", []) if new else ():
        if pid not in world.member_projects(g.person) and not g.person.admin:
            problems.append(
                ("/data/relationships/projects", f"you are not a member of project {pid}")
            )
    if r.kind == "assays":
        key = (r.attributes.get("assay_class") or {}).get("key", "EXP")
        if key not in ASSAY_CLASSES:
            problems.append(("/data/attributes/assay_class", f"{key!r} is not an assay class"))
    if r.kind == "samples":
        problems += _sample_problems(r)
    if r.kind == "data_files" and new and not r.attributes.get("content_blobs"):
        problems.append(("/data/attributes/content_blobs", "can't be blank"))
    return _unprocessable(*problems) if problems else None


def _sample_problems(r: Record) -> list[tuple[str, str]]:
    (type_id,) = r.relationships.get("sample_type") or [None]
    if type_id is None:
        return [("/data/relationships/sample_type", "can't be blank")]
    st = _world().get("sample_types", type_id)
    values = r.attributes.get("attribute_map") or {}
    # attribute_map is keyed by the sample type's attribute titles
    known = {a["title"] for a in st.attributes.get("sample_attributes", [])}
    out = [
        ("/data/attributes/attribute_map", f"{k} is not an attribute of this sample type")
        for k in values
        if k not in known
    ]
    for a in st.attributes.get("sample_attributes", []):
        if a.get("required") and values.get(a["title"]) in (None, ""):
            out.append(("/data/attributes/attribute_map", f"{a['title']} is required"))
    return out


def _blob(r: Record, given: dict) -> dict:
    blob_id = _world().new_id("content_blobs")
    return {
        "id": blob_id,
        "original_filename": given.get("original_filename"),
        "url": given.get("url"),
        "md5sum": None,
        "sha1sum": None,
        "content_type": given.get("content_type"),
        "link": f"{_world().base_url}/{r.kind}/{r.id}/content_blobs/{blob_id}",
        "size": None,
    }


def _can(r: Record, privilege: str) -> bool:
    if r.kind in ("people", "projects"):
        return privilege == "view" or bool(g.person and g.person.admin)
    return _world().access(g.person, r) >= ACCESS.index(privilege)


# --- rendering ---------------------------------------------------------------------------
def _index(kind: str, records: list[Record]) -> Response:
    records.sort(key=lambda r: (len(r.id), r.id))
    page, per_page = request.args.get("page", "all"), request.args.get("per_page", "")
    size = int(per_page) if per_page.isdigit() and int(per_page) > 0 else 1_000_000
    number = int(page) if page.isdigit() and int(page) > 0 else 1
    if not page.isdigit():
        size = 1_000_000  # no page asked: everything at once, as SEEK answers JSON
    last = max(1, math.ceil(len(records) / size))
    shown = records[(number - 1) * size : number * size]

    def link(n):
        return f"/{kind}?" + urlencode({"page[number]": n, "page[size]": size})

    body = {
        "data": [
            {
                "id": r.id,
                "type": kind,
                "attributes": {"title": _title(r)},
                "links": {"self": f"/{kind}/{r.id}"},
            }
            for r in shown
        ],
        "jsonapi": {"version": "1.0"},
        "links": {
            "self": link(number),
            "first": link(1),
            "prev": link(number - 1) if number > 1 else None,
            "next": link(number + 1) if number < last else None,
            "last": link(last),
        },
        "meta": {"base_url": _world().base_url, "api_version": API_VERSION},
    }
    return _respond("indexResponse", body)


def _show_record(r: Record, status: int = 200) -> Response:
    stem = KINDS[r.kind][0]
    schema = _schemas().schemas[f"{stem}Response"] if _schemas() else None
    names = (
        list(schema["properties"]["data"]["properties"]["relationships"]["properties"])
        if schema
        else sorted({*r.relationships, "projects", "creators", "submitter"})
    )
    relationships = {}
    for name in names:
        ids = _related(r, target_kind(name), name)
        refs = [{"id": i, "type": target_kind(name)} for i in ids]
        relationships[name] = {"data": (refs[0] if refs else None) if name in SINGLE_REFS else refs}
    self_link = f"/{r.kind}/{r.id}" + ("?version=1" if r.kind == "data_files" else "")
    body = {
        "data": {
            "id": r.id,
            "type": r.kind,
            "attributes": _attributes(r, schema),
            "relationships": relationships,
            "links": {"self": self_link},
            "meta": {
                "created": r.created,
                "modified": r.modified,
                "api_version": API_VERSION,
                "base_url": _world().base_url,
                "uuid": r.uuid,
            },
        },
        "jsonapi": {"version": "1.0"},
    }
    return _respond(f"{stem}Response", body, status)


SINGLE_REFS = SINGLE - {"submitter"} | {"file_template", "placeholder"}


def _title(r: Record) -> str:
    if r.kind == "people":
        return f"{r.attributes['first_name']} {r.attributes['last_name']}"
    if r.kind == "samples":
        return _sample_title(r) or f"Sample {r.id}"
    return r.attributes.get("title") or r.id


def _sample_title(r: Record) -> str | None:
    st = _world().get("sample_types", (r.relationships.get("sample_type") or [""])[0])
    values = r.attributes.get("attribute_map") or {}
    for a in st.attributes.get("sample_attributes", []) if st else []:
        if a.get("is_title"):
            v = values.get(a["title"])
            return None if v is None else str(v)
    return None


def _related(r: Record, kind: str, name: str | None = None) -> list[str]:
    """Ids of ``kind`` linked to ``r``: given, derived along the ISA tree, or pointing back."""
    world = _world()
    name = name or kind
    if name == "submitter":
        return [r.contributor] if r.contributor else []
    if r.kind == "people" and kind == "projects":
        return sorted(world.member_projects(world.people.get(r.id)), key=_num)
    if r.kind == "projects":
        project = world.projects[r.id]
        if name == "people":
            return sorted(project.members, key=_num)
        if name == "project_administrators":
            return sorted(project.admins, key=_num)
        return [
            x.id for x in world.records.get(kind, {}).values() if r.id in _related(x, "projects")
        ]
    given = list(r.relationships.get(name, []))
    if name == "people" and r.kind != "projects":
        given = _related(r, "people", "creators") + _related(r, "people", "submitter")
    elif kind == "projects" and r.kind in ("studies", "assays"):
        parent = _parent(r)
        given = _related(parent, "projects") if parent else []
    elif r.kind == "assays" and name == "investigation":
        study = _parent(r)
        given = study.relationships.get("investigation", []) if study else []
    elif r.kind == "investigations" and kind == "assays":
        given = [
            a
            for s in world.pointing_at("investigations", r.id, "studies")
            for a in world.pointing_at("studies", s, "assays")
        ]
    elif r.kind in ("data_files", "samples") and kind in ("studies", "investigations"):
        up = "study" if kind == "studies" else "investigation"
        given = [
            i
            for a in _related(r, "assays")
            if (assay := world.get("assays", a)) is not None
            for i in _related(assay, kind, up)
        ]
    back = [] if name in SINGLE_REFS else world.pointing_at(r.kind, r.id, kind)
    return sorted(dict.fromkeys(given + back), key=_num)


def _isa_json(inv: Record) -> dict:
    """The part of SEEK's ISA-JSON export that nels-bundle compares."""
    world = _world()
    studies = []
    for sid in world.pointing_at("investigations", inv.id, "studies"):
        study = world.get("studies", sid)
        samples = {
            s
            for a in world.pointing_at("studies", sid, "assays")
            for s in world.pointing_at("assays", a, "samples")
        }
        studies.append(
            {
                "title": study.attributes.get("title"),
                "description": study.attributes.get("description") or "",
                "materials": {
                    "samples": [
                        {"name": _title(world.get("samples", s))} for s in sorted(samples, key=_num)
                    ]
                },
            }
        )
    return {
        "identifier": inv.id,
        "title": inv.attributes.get("title"),
        "description": inv.attributes.get("description") or "",
        "studies": studies,
    }


def _links(world: SeekWorld, had: list[dict], sent) -> list[dict]:
    """Rails nested attributes, as SEEK takes discussion links: an item with an
    ``id`` changes that link, one without is added, links not sent are kept."""
    out = {link["id"]: dict(link) for link in had}
    for item in sent or []:
        if item.get("id") in out:
            out[item["id"]].update({k: item[k] for k in ("label", "url") if k in item})
        else:
            new_id = world.new_id("discussion_links")
            out[new_id] = {"id": new_id, "label": item.get("label"), "url": item.get("url")}
    return list(out.values())


def _parent(r: Record) -> Record | None:
    name = PARENTS[r.kind][0]
    ids = r.relationships.get(name) or []
    return _world().get(target_kind(name), ids[0]) if ids else None


def _attributes(r: Record, schema: dict | None) -> dict:
    world = _world()
    a = dict(r.attributes)
    if r.kind == "people":
        person = world.people[r.id]
        a = {
            "avatar": None,
            "title": f"{person.first_name} {person.last_name}",
            "description": None,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "orcid": person.orcid,
            "mbox_sha1sum": hashlib.sha1(f"mailto:{person.email}".encode()).hexdigest()
            if person.email
            else None,
            "expertise": [],
            "tools": [],
        }
        return a
    if r.kind == "projects":
        project = world.projects[r.id]
        return {
            "title": project.title,
            "description": project.description or None,
            "web_page": None,
            "wiki_page": None,
            "members": [{"person_id": p, "institution_id": "1"} for p in sorted(project.members)],
        }
    a.setdefault("description", None)
    a["discussion_links"] = list(r.attributes.get("discussion_links") or [])
    if _can(r, "manage"):
        a["policy"] = r.policy
    creators = []
    for pos, pid in enumerate(_related(r, "people", "creators")):
        p = world.people[pid]
        creators.append(
            {
                "profile": f"/people/{p.id}",
                "family_name": p.last_name,
                "given_name": p.first_name,
                "affiliation": None,
                "orcid": p.orcid,
                "pos": pos,
            }
        )
    if r.kind in ("investigations", "studies", "assays"):
        a.update(snapshots=[], creators=creators, position=a.get("position"))
        a.setdefault("other_creators", None)
    if r.kind == "studies":
        a.setdefault("experimentalists", None)
    if r.kind == "assays":
        key = (a.get("assay_class") or {}).get("key", "EXP")
        title, description = ASSAY_CLASSES[key]
        a["assay_class"] = {"title": title, "key": key, "description": description}
        a["assay_type"] = {"label": None, **(a.get("assay_type") or {})}
        a["assay_type"].setdefault(
            "uri", "http://jermontology.org/ontology/JERMOntology#Experimental_assay_type"
        )
        a["technology_type"] = {"label": None, "uri": None, **(a.get("technology_type") or {})}
        a.setdefault("tags", [])
    if r.kind == "data_files":
        stamp = {"created_at": r.created, "updated_at": r.modified}
        a.update(
            stamp,
            license=a.get("license"),
            latest_version=1,
            version=1,
            versions=[
                {
                    "version": 1,
                    "revision_comments": None,
                    "url": f"{world.base_url}/data_files/{r.id}?version=1",
                    "doi": None,
                }
            ],
            revision_comments=None,
            doi=None,
            content_blobs=[{k: v for k, v in b.items() if k != "id"} for b in r.blobs],
            creators=creators,
        )
        a.setdefault("tags", [])
        a.setdefault("other_creators", None)
    if r.kind == "sample_types":
        a["sample_attributes"] = [
            _sample_attribute(r, i, attr) for i, attr in enumerate(a.get("sample_attributes", []))
        ]
        a.setdefault("tags", [])
    if r.kind == "samples":
        st = world.get("sample_types", r.relationships["sample_type"][0])
        given = a.get("attribute_map") or {}
        a["attribute_map"] = {
            s["title"]: given.get(s["title"]) for s in st.attributes.get("sample_attributes", [])
        }
        a.update(title=_title(r), created_at=r.created, updated_at=r.modified, creators=creators)
        a.setdefault("tags", [])
        a.setdefault("other_creators", None)
    if schema is not None:  # what SEEK would not send back, it does not keep
        allowed = schema["properties"]["data"]["properties"]["attributes"]["properties"]
        a = {k: v for k, v in a.items() if k in allowed}
    return a


def _sample_attribute(r: Record, index: int, attr: dict) -> dict:
    kind = (attr.get("sample_attribute_type") or {}).get("title", "String")
    base = kind if kind in ("String", "Text", "Integer", "Float", "Boolean", "Date") else "String"
    return {
        "id": f"{r.id}{index + 1:03d}",
        "title": attr["title"],
        "description": attr.get("description"),
        "pid": attr.get("pid"),
        "sample_attribute_type": {
            "id": str(1000 + ("String", "Text", "Integer", "Float", "Boolean", "Date").index(base)),
            "title": kind,
            "base_type": base,
            "regexp": ".*",
        },
        "required": bool(attr.get("required")),
        "pos": attr.get("pos", index + 1),
        "unit": attr.get("unit"),
        "is_title": bool(attr.get("is_title")),
        "sample_controlled_vocab_id": None,
        "linked_sample_type_id": None,
    }


def _num(id_: str):
    return (len(id_), id_)
