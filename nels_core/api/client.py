"""The NeLS REST client.

Two bases share one bearer token: nels-api2 (``/my-account``, credentials,
projects) and the older nels-api that SEEK uses for StoreBioinfo (SBI).
One ``requests.Session``, explicit timeouts, bounded retries on idempotent
calls, one refresh-and-retry on 401.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

import requests

from ..credentials import SshCredentials
from ..errors import ApiError, AuthError, TokenExpiredError
from ..model import Dataset, Membership, Project, User
from ..redact import basic, scrub
from . import shapes
from .oauth import StaticToken, TokenSource
from .sbi_transfer import SbiPlace, SbiTransfer

RETRY_STATUSES = (502, 503, 504)


class NelsApi:
    def __init__(
        self,
        api2_url: str,
        token: TokenSource | str,
        *,
        sbi_url: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ):
        self.api2_url = api2_url.rstrip("/")
        # nels-api sits beside nels-api2 on the same host
        self.sbi_url = (sbi_url or self.api2_url.removesuffix("2")).rstrip("/")
        self.auth = StaticToken(token) if isinstance(token, str) else token
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"NelsApi({self.api2_url!r})"

    # --- transport --------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        json=None,
        idempotent: bool | None = None,
        raw: bool = False,
        auth: tuple[str, str] | None = None,
        files=None,
        retry_statuses: tuple[int, ...] = RETRY_STATUSES,
    ):
        """Send one call; return parsed JSON (or the Response when ``raw``).
        ``retry_statuses``: answers worth asking again for, when ``idempotent``."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE", "OPTIONS")
        attempts = self.retries if idempotent else 1
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            sent = auth[1] if auth else self.auth.token()
            headers = {} if auth else {"Authorization": f"Bearer {sent}"}
            try:
                r = self.session.request(
                    method,
                    url,
                    json=json,
                    files=files,
                    headers=headers,
                    auth=auth,
                    timeout=self.timeout,
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                if attempt < attempts:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise ApiError(
                    0, f"NeLS API unreachable: {type(e).__name__}", scrub(url, [sent])
                ) from None
            if r.status_code == 401 and not auth and not refreshed and self.auth.refresh():
                refreshed = True
                attempt -= 1  # a refresh is not a retry
                continue
            if r.status_code in retry_statuses and attempt < attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            # the answer may echo our request headers: never show what we sent
            secrets = [sent, basic(*auth)] if auth else [sent]
            if r.status_code >= 400:
                message = scrub(r.text or r.reason or "", secrets)
                raise _error_class(r)(r.status_code, message, scrub(url, secrets))
            if raw:
                return r
            return shapes.parse_body(r.status_code, r.text, url, secrets)

    def _api2(self, path: str) -> str:
        return f"{self.api2_url}/{path.lstrip('/')}"

    def _sbi(self, path: str) -> str:
        return f"{self.sbi_url}/{path.lstrip('/')}"

    # --- nels-api2 ------------------------------------------------------------
    def my_account(self) -> User:
        return shapes.parse_user(self.request("GET", self._api2("my-account")))

    def ssh_credentials(self, nels_id: int) -> SshCredentials:
        body = {"method": "credential", "payload": {}}
        payload = self.request(
            "POST", self._api2(f"users/{nels_id}/do"), json=body, idempotent=True
        )
        return SshCredentials.from_api(payload)

    def legacy_ssh_credentials(self, nels_id: int, client_key: str, client_secret: str):
        """The old service: HTTP Basic with a site's client key and secret."""
        payload = self.request(
            "GET", self._api2(f"users/{nels_id}"), auth=(client_key, client_secret)
        )
        return SshCredentials.from_api(payload)

    def projects(self, nels_id: int) -> list[Membership]:
        payload = self.request("GET", self._api2(f"users/{nels_id}/nels-projects"))
        return [shapes.parse_membership(d) for d in shapes.unwrap_list(payload)]

    def credentials_provider(self) -> Callable[[], SshCredentials]:
        """A callable that fetches fresh short-lived keys for the signed-in user."""
        nels_id = self.my_account().nels_id
        return lambda: self.ssh_credentials(nels_id)

    # --- nels-api (SBI, as SEEK uses it) --------------------------------------
    def user_info(self) -> User:
        return shapes.parse_user(self.request("GET", self._sbi("user-info")))

    def sbi_projects(self) -> list[Project]:
        payload = self.request("GET", self._sbi("seek/sbi/projects"))
        return [shapes.parse_project(d) for d in shapes.unwrap_list(payload)]

    def sbi_project(self, project_id: int) -> Membership:
        d = self.request("GET", self._sbi(f"v2/sbi/projects/{project_id}"))
        return shapes.parse_membership(d)

    def datasets(self, project_id: int) -> list[Dataset]:
        payload = self.request("GET", self._sbi(f"sbi/projects/{project_id}/datasets"))
        return [shapes.parse_dataset(d) for d in shapes.unwrap_list(payload)]

    def dataset(self, project_id: int, dataset_id: int) -> Dataset:
        d = self.request("GET", self._sbi(f"sbi/projects/{project_id}/datasets/{dataset_id}"))
        return shapes.parse_dataset(d)

    def dataset_types(self) -> list[dict]:
        return shapes.unwrap_list(self.request("GET", self._sbi("sbi/datasettypes")))

    def create_dataset(self, project_id: int, type_id: int, name: str, description: str = ""):
        if " " in name:
            raise ApiError(406, f"NeLS refuses names with spaces: {name!r}")
        body = {"datasettypeid": type_id, "name": name, "description": description}
        self.request("POST", self._sbi(f"v2/sbi/projects/{project_id}/datasets/"), json=body)

    def permalink(self, project_id: int, dataset_id: int, subtype: str) -> str:
        body = {"method": "get_nels_url", "subtype_name": subtype}
        url = self._sbi(f"sbi/projects/{project_id}/datasets/{dataset_id}/do")
        d = self.request("POST", url, json=body, idempotent=True)
        if not isinstance(d, dict) or not d.get("url"):
            raise ApiError(200, "permalink answer holds no url", url)
        return d["url"]

    def sbi_list(self, path: str, project_id: int, dataset_id: int) -> list[dict]:
        body = {
            "method": "list",
            "payload": {"path": path, "project_id": project_id, "dataset_id": dataset_id},
        }
        payload = self.request("POST", self._sbi("user/sbi-storage/do"), json=body, idempotent=True)
        return shapes.unwrap_list(payload)

    def sample_metadata(self, ref: str) -> bytes | None:
        """The subtype's sample metadata sheet (xlsx bytes); None when there is none."""
        try:
            url = self._sbi("sbi/sample-metadata") + "?" + urlencode({"ref": ref})
            r = self.request("GET", url, raw=True)
        except ApiError as e:
            if e.status == 404:
                return None
            raise
        return r.content

    def sbi_data_url(self, project_id: int, dataset_id: int, subtype: str) -> str:
        """Where a subtype's transfer jobs are started and polled."""
        sub = quote(subtype, safe="")
        return self._sbi(f"seek/sbi/projects/{project_id}/datasets/{dataset_id}/{sub}/data/do")

    def upload_to_sbi(
        self,
        project_id: int,
        dataset_id: int,
        subtype: str,
        name: str,
        data: bytes,
        folder: str = "",
        poll_interval: float = 1.0,
        poll_timeout: float = 3600.0,
    ) -> None:
        """Upload through an SBI transfer job and wait for it to finish
        (``sbi_transfer.SbiTransfer`` streams files of any size)."""
        transfer = SbiTransfer(self, poll_interval=poll_interval, poll_timeout=poll_timeout)
        place = SbiPlace(project_id, dataset_id, subtype, folder)
        transfer.upload(place, name, [data], len(data))


def _error_class(r: requests.Response) -> type[ApiError]:
    if r.status_code != 401:
        return ApiError
    # RFC 6750: a resource server may say why it refused a bearer token
    challenge = r.headers.get("WWW-Authenticate", "").lower()
    if "invalid_token" in challenge and "expired" in challenge:
        return TokenExpiredError
    return AuthError
