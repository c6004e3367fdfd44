"""The NeLS API's JSON quirks, absorbed in one place.

- JSON arrives as ``text/plain`` (and sometimes with no content type).
- Lists come bare or wrapped in ``data``, ``results``, ``elements`` or ``items``.
- A dataset's ``subtypes`` is ``"a,b"`` in lists and ``[{type, size}]`` alone.
- Times are epoch milliseconds, as numbers or strings.
"""

from __future__ import annotations

import json

from ..errors import ApiError
from ..model import Dataset, Membership, Project, Role, Subtype, User
from ..redact import scrub

_ENVELOPES = ("data", "results", "elements", "items")


def parse_body(status: int, text: str, url: str = "", secrets=()):
    """The JSON in a response body whatever its content type; None when empty.
    ``secrets``: what the caller sent, kept out of the error text."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        said = scrub(text, secrets)
        raise ApiError(status, f"answer is not JSON: {said}", scrub(url, secrets)) from None


def unwrap_list(payload) -> list:
    if payload is None:
        return []
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in _ENVELOPES:
            if isinstance(payload.get(key), list):
                return payload[key]
    raise ApiError(200, f"expected a list, got {type(payload).__name__} with keys {_keys(payload)}")


def _keys(payload) -> str:
    return ", ".join(sorted(payload)) if isinstance(payload, dict) else "-"


def _int(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def parse_user(d: dict) -> User:
    _require(d, "nels_id", "user")
    return User(
        nels_id=int(d["nels_id"]),
        name=d.get("name", ""),
        user_type=d.get("user_type", ""),
        username=d.get("username"),
    )


def parse_project(d: dict) -> Project:
    pid = d.get("id", d.get("project_id"))
    if pid is None or "name" not in d:
        raise ApiError(200, f"project record lacks id or name (keys: {_keys(d)})")
    return Project(
        id=int(pid),
        name=d["name"],
        description=d.get("description") or "",
        quota_allocated=_int(d.get("quota_sizeallocated")),
        quota_used=_int(d.get("quota_sizeused", d.get("sizeused"))),
        issensitive=_bool(d.get("issensitive", False)),
        locked=_bool(d.get("islocked", False)),
        contact_person=d.get("contact_person") or d.get("contactperson") or "",
        creation_time_ms=_int(d.get("creationtime")),
    )


def parse_membership(d: dict) -> Membership:
    role = _int(d.get("role", d.get("membership_type")))
    if role not in (1, 2, 3, 4):
        raise ApiError(200, f"project {d.get('name')!r} has an unknown role {role!r}")
    return Membership(
        project=parse_project(d),
        role=Role(role),
        has_filesystem_access=_bool(d.get("has_filesystem_access", True)),
    )


def parse_subtypes(value) -> tuple[Subtype, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(Subtype(s.strip()) for s in value.split(",") if s.strip())
    if isinstance(value, list):
        out = []
        for s in value:
            if isinstance(s, str):
                out.append(Subtype(s))
            else:
                out.append(Subtype(s["type"], _int(s.get("size"))))
        return tuple(out)
    raise ApiError(200, f"unexpected subtypes value: {value!r}")


def parse_dataset(d: dict) -> Dataset:
    _require(d, "id", "dataset")
    return Dataset(
        id=int(d["id"]),
        name=d.get("name", ""),
        type=d.get("type", ""),
        description=d.get("description") or "",
        owner_name=d.get("owner_name") or "",
        islocked=_bool(d.get("islocked", False)),
        creation_time_ms=_int(d.get("creationtime")),
        subtypes=parse_subtypes(d.get("subtypes")),
    )


def _require(d, key: str, what: str) -> None:
    if not isinstance(d, dict) or key not in d:
        raise ApiError(200, f"{what} record lacks {key!r} (keys: {_keys(d)})")
