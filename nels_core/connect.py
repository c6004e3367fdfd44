"""Turning settings into a user's :class:`~nels_core.home.Home`.

``build_home`` serves every caller that holds resolved settings (the CLI
from its TOML file, the Galaxy plugin from its file-source config).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from . import token_advice
from .api import NelsApi
from .api.oauth import TokenSource
from .config import Settings
from .credentials import SshCredentials
from .errors import AuthError, ConfigError, NelsError, TokenMissingError
from .home import Home
from .model import Account, Membership, Project, Role, User
from .paths import PROJECTS
from .storage.base import Storage
from .storage.local import LocalStorage


def open_home(settings: Settings) -> Home:
    """The home a CLI configuration names, with its ``StoreBioinfo/`` root when
    the configuration's API token reaches it (whatever the storage backend)."""
    from .sbi.tree import with_storebioinfo

    home = _storage_home(settings)
    return with_storebioinfo(home, settings.api.url, settings.api.token, settings.api.timeout)


def _storage_home(settings: Settings) -> Home:
    if settings.backend == "local":
        if settings.root is None:
            raise ConfigError(
                "no NeLS storage configured: run 'nels-bundle demo' for a local one, or "
                "set [storage] root (local) or backend = 'sftp' in the config file"
            )
        # the file's own account: a local tree has no API to ask
        account = Account.of(User(0, settings.user_name), settings.memberships)
        return Home(LocalStorage(settings.root), account)
    if not settings.api.token:
        raise ConfigError("the sftp backend needs a NeLS access token (NELS_TOKEN or [api] token)")
    s = settings.sftp
    resolved = NelsSettings(
        backend="sftp",
        api_url=settings.api.url,
        access_token=settings.api.token,
        host=s.host,
        port=s.port,
        known_hosts=s.known_hosts,
        accept_unknown_host=s.accept_unknown_host,
        bastion_host=s.bastion_host,
        bastion_port=s.bastion_port,
        bastion_known_hosts=s.bastion_known_hosts,
        transport=s.transport,
        max_requests=s.max_requests,
        idle_timeout=s.idle_timeout,
        timeout=settings.api.timeout,
    )
    try:
        return build_home(resolved)
    except AuthError as e:
        raise NelsError(token_advice.refused(e, remedy=token_advice.ON_THE_COMMAND_LINE)) from None


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
    idle_timeout: float = 60.0  # a data connection silent this long is given up
    max_requests: int = 64
    # not used to connect: named to Galaxy's users in messages about their token
    token_help_url: str | None = None

    def fingerprint(self) -> str:
        raw = json.dumps(self.__dict__, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()


def build_home(s: NelsSettings, token: TokenSource | None = None) -> Home:
    """``token``: in place of ``s.access_token``, one that can be renewed (a
    job that outlives the hour an access token lives)."""
    token = token or s.access_token
    api = NelsApi(s.api_url, token, timeout=s.timeout) if s.api_url and token else None
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
    from .storage.sftp import Hop, SftpConfig, SftpStorage

    if api is not None and account is not None:
        nels_id = account.user.nels_id
        credentials = lambda: api.ssh_credentials(nels_id)  # noqa: E731 - fresh keys per connection
    elif s.legacy_client_key and s.legacy_client_secret and s.nels_id is not None and s.api_url:
        legacy = NelsApi(s.api_url, "unused", timeout=s.timeout)

        def credentials() -> SshCredentials:
            return legacy.legacy_ssh_credentials(
                s.nels_id, s.legacy_client_key, s.legacy_client_secret
            )
    elif not s.access_token:
        raise TokenMissingError("the NeLS 'sftp' backend needs the user's NeLS access token")
    else:
        raise ConfigError(
            "the NeLS 'sftp' backend needs api_url (the NeLS API that hands out SSH keys), "
            "or a service account (legacy_client_key, legacy_client_secret, nels_id)"
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
            idle_timeout=s.idle_timeout,
            max_requests=s.max_requests,
        )
    )


def _account_from_tree(storage: Storage) -> Account:
    """Without the API, the data host's own ``Projects/`` listing says which
    projects are the user's; each is treated as a plain member's (may add,
    never delete), the safe reading when the role is unknown."""
    folders = [e.name for e in storage.list(PROJECTS).entries if e.is_dir]
    memberships = [Membership(Project(0, name), Role.MEMBER) for name in folders]
    return Account.of(User(0, "NeLS user"), memberships)
