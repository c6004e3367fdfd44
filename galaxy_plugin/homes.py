"""A user's NeLS home from a plugin configuration, reused across requests.

Galaxy calls a file source once per listing, import or export; opening SSH
connections and asking the NeLS API who the user is each time would cost
more than the work. Homes are kept per configuration (which includes the
user's credentials) for a few minutes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from nels_core.api import NelsApi
from nels_core.credentials import SshCredentials
from nels_core.errors import ConfigError
from nels_core.home import Home
from nels_core.model import Account, Membership, Project, Role, User
from nels_core.paths import PROJECTS
from nels_core.storage.base import Storage
from nels_core.storage.local import LocalStorage


@dataclass(frozen=True)
class NelsSettings:
    """What a NeLS file source needs, already resolved (no templates)."""

    backend: str = "sftp"  # "sftp" or "local"
    root: str | None = None  # local: the user's NeLS home on a mounted file system
    api_url: str | None = None  # nels-api2, for identity, projects and SSH keys
    access_token: str | None = field(default=None, repr=False)
    # a site service account on the legacy credential service
    legacy_client_key: str | None = None
    legacy_client_secret: str | None = field(default=None, repr=False)
    nels_id: int | None = None
    host: str = "data.nels.elixir.no"
    port: int = 22
    known_hosts: str | None = None
    accept_unknown_host: bool = False
    bastion_host: str | None = None
    bastion_port: int = 22
    bastion_known_hosts: str | None = None
    transport: str = "auto"
    timeout: float = 30.0

    def fingerprint(self) -> str:
        raw = json.dumps(self.__dict__, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()


def build_home(s: NelsSettings) -> Home:
    api = (
        NelsApi(s.api_url, s.access_token, timeout=s.timeout)
        if s.api_url and s.access_token
        else None
    )
    account: Account | None = None
    if api is not None:
        user = api.my_account()
        account = Account.of(user, api.projects(user.nels_id))
    if s.backend == "local":
        if not s.root:
            raise ConfigError("the NeLS 'local' backend needs 'root', the user's NeLS home folder")
        storage: Storage = LocalStorage(s.root)
    elif s.backend == "sftp":
        storage = _sftp(s, api, account)
    else:
        raise ConfigError(f"NeLS backend must be 'sftp' or 'local', not {s.backend!r}")
    if account is None:
        account = _account_from_tree(storage)
    return Home(storage, account)


def _sftp(s: NelsSettings, api: NelsApi | None, account: Account | None) -> Storage:
    from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage

    if api is not None and account is not None:
        nels_id = account.user.nels_id
        credentials = lambda: api.ssh_credentials(nels_id)  # noqa: E731 - fresh keys per connection
    elif s.legacy_client_key and s.legacy_client_secret and s.nels_id is not None and s.api_url:
        legacy = NelsApi(s.api_url, "unused", timeout=s.timeout)

        def credentials() -> SshCredentials:
            return legacy.legacy_ssh_credentials(
                s.nels_id, s.legacy_client_key, s.legacy_client_secret
            )
    else:
        raise ConfigError(
            "the NeLS 'sftp' backend needs the user's NeLS access token and api_url, or a "
            "service account (legacy_client_key, legacy_client_secret, nels_id)"
        )
    bastion = None
    if s.bastion_host:
        bastion = Hop(s.bastion_host, s.bastion_port, s.bastion_known_hosts, s.accept_unknown_host)
    return SftpStorage(
        SftpConfig(
            data_host=Hop(s.host, s.port, s.known_hosts, s.accept_unknown_host),
            credentials=credentials,
            bastion=bastion,
            transport=s.transport,
            connect_timeout=s.timeout,
        )
    )


def _account_from_tree(storage: Storage) -> Account:
    """Without the API, the data host's own ``Projects/`` listing says which
    projects are the user's; each is treated as a plain member's (may add,
    never delete), the safe reading when the role is unknown."""
    folders = [e.name for e in storage.list(PROJECTS).entries if e.is_dir]
    memberships = [Membership(Project(0, name), Role.MEMBER) for name in folders]
    return Account.of(User(0, "NeLS user"), memberships)


class HomeCache:
    """Open homes by configuration fingerprint: least recently used out, and
    none older than ``ttl`` seconds (memberships and keys change)."""

    def __init__(self, size: int = 32, ttl: float = 300.0):
        self.size, self.ttl = size, ttl
        self._homes: OrderedDict[str, tuple[float, Home]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, settings: NelsSettings) -> Home:
        key = settings.fingerprint()
        now = time.monotonic()
        with self._lock:
            hit = self._homes.pop(key, None)
            if hit and now - hit[0] < self.ttl:
                self._homes[key] = hit
                return hit[1]
        if hit:
            hit[1].close()
        home = build_home(settings)
        with self._lock:
            self._homes[key] = (now, home)
            while len(self._homes) > self.size:
                _, (_, old) = self._homes.popitem(last=False)
                old.close()
        return home

    def clear(self) -> None:
        with self._lock:
            homes = [h for _, h in self._homes.values()]
            self._homes.clear()
        for h in homes:
            h.close()


HOMES = HomeCache()
