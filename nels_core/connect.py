"""Turning settings into a user's :class:`~nels_core.home.Home`."""

from __future__ import annotations

from .api import NelsApi
from .config import Settings
from .errors import ConfigError
from .home import Home
from .model import Account, User
from .storage.local import LocalStorage


def open_home(settings: Settings) -> Home:
    if settings.backend == "local":
        if settings.root is None:
            raise ConfigError(
                "no NeLS storage configured: run 'nels-bundle demo' for a local one, or "
                "set [storage] root (local) or backend = 'sftp' in the config file"
            )
        account = Account.of(User(0, settings.user_name), settings.memberships)
        return Home(LocalStorage(settings.root), account)
    return _open_sftp(settings)


def _open_sftp(settings: Settings) -> Home:
    from .storage.sftp import Hop, SftpConfig, SftpStorage

    if not settings.api.token:
        raise ConfigError("the sftp backend needs a NeLS access token (NELS_TOKEN or [api] token)")
    api = NelsApi(settings.api.url, settings.api.token, timeout=settings.api.timeout)
    user = api.my_account()
    account = Account.of(user, api.projects(user.nels_id))
    s = settings.sftp
    bastion = None
    if s.bastion_host:
        bastion = Hop(s.bastion_host, s.bastion_port, s.bastion_known_hosts, s.accept_unknown_host)
    config = SftpConfig(
        data_host=Hop(s.host, s.port, s.known_hosts, s.accept_unknown_host),
        credentials=lambda: api.ssh_credentials(user.nels_id),
        bastion=bastion,
        max_requests=s.max_requests,
        transport=s.transport,
    )
    return Home(SftpStorage(config), account)
