"""A small client for SEEK's JSON:API (SEEK 1.18+, FAIRDOMHub).

One ``requests.Session`` per client, one :class:`Resource` per record type
hung off it (``seek.investigations.create(...)``), the way bioblend hangs
its clients off one instance. Bodies are JSON:API documents sent as
``application/vnd.api+json``; errors become :class:`SeekError` carrying
SEEK's own words. Only the calls nels-bundle needs are here.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import requests

from nels_core.redact import basic as basic_value
from nels_core.redact import scrub

from .errors import Problem, SeekAuthError, SeekError, problems_from
from .records import SeekRecord

JSONAPI = "application/vnd.api+json"
RETRY_STATUSES = (502, 503, 504)
# relationship name -> the type of what it points at
RELATION_TYPES = {
    "projects": "projects",
    "people": "people",
    "creators": "people",
    "submitter": "people",
    "investigation": "investigations",
    "investigations": "investigations",
    "study": "studies",
    "studies": "studies",
    "assays": "assays",
    "data_files": "data_files",
    "samples": "samples",
    "sample_type": "sample_types",
    "sample_types": "sample_types",
    "sops": "sops",
    "publications": "publications",
    "organisms": "organisms",
    "institutions": "institutions",
}
WRITES = ("POST", "PATCH", "PUT", "DELETE")


def document(kind: str, attributes=None, relationships=None, id_: str | None = None) -> dict:
    """A JSON:API request body; relationships given as ids (one, or a list)."""
    data: dict = {"type": kind}
    if id_ is not None:
        data["id"] = str(id_)
    if attributes:
        data["attributes"] = dict(attributes)
    if relationships:
        data["relationships"] = {
            name: {"data": _refs(name, value)} for name, value in relationships.items()
        }
    return {"data": data}


def _refs(name: str, value):
    kind = RELATION_TYPES.get(name)
    if kind is None:
        raise ValueError(f"unknown SEEK relationship {name!r}")
    if value is None:
        return None
    if isinstance(value, str | int):
        return {"type": kind, "id": str(value)}
    return [{"type": kind, "id": str(v)} for v in value]


class SeekClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        basic: tuple[str, str] | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        per_page: int = 200,
        session: requests.Session | None = None,
    ):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.per_page = per_page
        self.session = session or _own_session()
        self.session.headers["Accept"] = JSONAPI
        # per host: what requests would otherwise read from the environment anew
        # on every request of our own session (proxies, CA bundle, .netrc)
        self._environment: dict[tuple[str, str], dict] = {}
        # what we send that an answer echoing our headers would show
        self._secrets: tuple[str, ...] = ()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"
            self._secrets = (token,)
        elif basic:
            self.session.auth = basic
            self._secrets = (basic[1], basic_value(*basic))
        self.sent: Counter[str] = Counter()  # "read" / "write": what a sync costs
        self._counting = threading.Lock()  # a push sends from several threads
        for kind in (
            "projects",
            "people",
            "institutions",
            "investigations",
            "studies",
            "assays",
            "data_files",
            "sample_types",
            "samples",
        ):
            setattr(self, kind, Resource(self, kind))

    def __repr__(self) -> str:  # never the token
        return f"SeekClient({self.url!r})"

    # --- transport -----------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        data: bytes | Iterable[bytes] | None = None,
        idempotent: bool | None = None,
        raw: bool = False,
    ):
        """One call; the parsed JSON answer (None when SEEK sends no body), or
        the bytes when ``raw``."""
        url = self.absolute(path)
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        headers = {}
        if body is not None:
            headers["Content-Type"] = JSONAPI
        elif data is not None:
            headers["Content-Type"] = "application/octet-stream"
        attempts = self.retries if idempotent and not _is_stream(data) else 1
        where = f"{method} {urlsplit(url).path}"
        for attempt in range(1, attempts + 1):
            with self._counting:
                self.sent["write" if method in WRITES else "read"] += 1
            try:
                r = self.session.request(
                    method,
                    url,
                    json=body,
                    data=data,
                    params=params,
                    headers=headers,
                    timeout=self.timeout,
                    **self._settings_for(url),
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                if attempt < attempts:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise SeekError(
                    0, [Problem(f"SEEK unreachable: {type(e).__name__}")], where
                ) from None
            if r.status_code in RETRY_STATUSES and attempt < attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            break
        if r.status_code >= 400:
            cls = SeekAuthError if r.status_code == 401 else SeekError
            raise cls(r.status_code, problems_from(r.text, r.reason or "", self._secrets), where)
        if raw:
            return r.content
        if not r.content.strip():
            return None
        try:
            return r.json()
        except ValueError:
            raise SeekError(
                r.status_code,
                [Problem(f"not JSON: {scrub(r.text, self._secrets)}", "Unreadable answer")],
                where,
            ) from None

    def _settings_for(self, url: str) -> dict:
        """Proxies, CA bundle and .netrc login for ``url``'s scheme and host, read
        from the environment once: requests reads them on every request (0.15 ms,
        5-7% of a request to a near server) unless told not to, as our own session is."""
        if self.session.trust_env:  # a session given to us: requests looks itself
            return {}
        host = urlsplit(url)[:2]
        settings = self._environment.get(host)
        if settings is None:
            settings = self._environment[host] = _environment_settings(self.session, url)
            if login := settings.get("auth"):  # an answer echoing it is scrubbed too
                self._secrets += (login[1], basic_value(*login))
        return settings

    def absolute(self, link: str) -> str:
        """SEEK's links are relative (``/people/1``) or absolute; ours are absolute."""
        return urljoin(self.url + "/", link.lstrip("/")) if "://" not in link else link

    # --- who am I ------------------------------------------------------------
    def record(self, body) -> SeekRecord:
        """The record in an answer, or SeekError if the answer holds none."""
        try:
            return SeekRecord.from_data((body or {}).get("data"), self.url)
        except (ValueError, AttributeError, TypeError, KeyError):
            raise SeekError(
                200, [Problem(f"no record in SEEK's answer: {scrub(body, self._secrets)}")]
            ) from None

    def current_person(self) -> SeekRecord:
        """The person the credentials belong to.

        SEEK treats a wrong token as no token: every read still works,
        anonymously. This call is the one that tells the two apart.
        """
        try:
            return self.record(self.request("GET", "/people/current"))
        except SeekError as e:
            if e.status in (401, 404):
                raise SeekAuthError(
                    e.status,
                    [Problem("SEEK did not accept these credentials (it answers as anonymous)")],
                    "GET /people/current",
                ) from None
            raise


def _own_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the environment is read once per host instead
    return session


def _environment_settings(session: requests.Session, url: str) -> dict:
    """What ``session`` would take from the environment for ``url`` if it trusted it."""
    session.trust_env = True
    try:
        merged = session.merge_environment_settings(url, {}, None, None, None)
    finally:
        session.trust_env = False
    settings = {"proxies": merged["proxies"], "verify": merged["verify"]}
    if session.auth is None and (login := requests.utils.get_netrc_auth(url)):
        settings["auth"] = login  # as requests does: a .netrc entry for the host wins
    return settings


def _is_stream(data) -> bool:
    return data is not None and not isinstance(data, bytes | bytearray)


class Resource:
    """One record type: ``list``, ``get``, ``create``, ``update``, ``delete``."""

    def __init__(self, client: SeekClient, kind: str):
        self.client = client
        self.kind = kind

    def __repr__(self) -> str:
        return f"<SEEK {self.kind} at {self.client.url}>"

    def list(self, *, parent: tuple[str, str] | None = None) -> Iterator[SeekRecord]:
        """Every record visible to us, page by page (skeletons: id, type, title).

        SEEK's own ``next`` links use ``page[number]``, which SEEK itself
        ignores (it answers everything at once); so pages are asked for by
        ``page`` and ``per_page`` and the ``next`` link only says whether
        there is another.
        """
        path = f"/{parent[0]}/{parent[1]}/{self.kind}" if parent else f"/{self.kind}"
        per_page, page = self.client.per_page, 1
        while True:
            body = self.client.request("GET", path, params={"page": page, "per_page": per_page})
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                said = scrub(body, self.client._secrets)
                raise SeekError(200, [Problem(f"not a list: {said}")], path)
            for item in data:
                yield SeekRecord.from_data(item, self.client.url)
            if not (body.get("links") or {}).get("next") or len(data) < per_page:
                return
            page += 1

    def get(self, id_: str | int) -> SeekRecord:
        return self.client.record(self.client.request("GET", f"/{self.kind}/{id_}"))

    def create(self, attributes: Mapping, relationships: Mapping | None = None) -> SeekRecord:
        body = document(self.kind, attributes, relationships)
        return self.client.record(self.client.request("POST", f"/{self.kind}", body=body))

    def update(
        self, id_: str | int, attributes: Mapping | None = None, relationships=None
    ) -> SeekRecord:
        body = document(self.kind, attributes, relationships, id_=str(id_))
        return self.client.record(self.client.request("PATCH", f"/{self.kind}/{id_}", body=body))

    def delete(self, id_: str | int) -> None:
        self.client.request("DELETE", f"/{self.kind}/{id_}")

    def upload(self, record: SeekRecord, content: bytes | Iterable[bytes], blob: int = 0) -> None:
        """Fill a placeholder content blob of a just-created asset with bytes."""
        blobs = record.attributes.get("content_blobs") or []
        if blob >= len(blobs) or not blobs[blob].get("link"):
            raise SeekError(0, [Problem(f"{self.kind} {record.id} has no content blob {blob}")])
        self.client.request("PUT", blobs[blob]["link"], data=content)

    def download(self, record: SeekRecord, blob: int = 0) -> bytes:
        """The bytes SEEK holds for an asset's content blob."""
        blobs = record.attributes.get("content_blobs") or []
        if blob >= len(blobs) or not blobs[blob].get("link"):
            raise SeekError(0, [Problem(f"{self.kind} {record.id} has no content blob {blob}")])
        return self.client.request("GET", blobs[blob]["link"] + "/download", raw=True)
