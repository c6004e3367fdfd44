"""Configuration from a TOML file and environment variables.

Looked up in order: ``--config``, ``$NELS_BUNDLE_CONFIG``,
``~/.config/nels-bundle/config.toml``, then the demo's own config (written by
``nels-bundle demo``). Environment variables override single values.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .model import Membership, Project, Role

USER_CONFIG = Path("~/.config/nels-bundle/config.toml").expanduser()
DEMO_DIR = Path(
    os.environ.get("NELS_BUNDLE_DEMO_DIR", "~/.local/share/nels-bundle/demo")
).expanduser()
DEMO_CONFIG = DEMO_DIR / "nels-bundle.toml"

NELS_API2 = "https://nels.elixir.no/nels-api2"
NELS_OAUTH = "https://nels.elixir.no/oauth2"
NELS_DATA_HOST = "data.nels.elixir.no"


@dataclass
class SftpSettings:
    host: str = NELS_DATA_HOST
    port: int = 22
    known_hosts: str | None = None  # text of known_hosts lines
    accept_unknown_host: bool = False
    bastion_host: str | None = None
    bastion_port: int = 22
    bastion_known_hosts: str | None = None
    max_requests: int = 64
    idle_timeout: float = 60.0  # seconds of silence before a connection is given up
    transport: str = "auto"  # bulk bytes: "openssh" client when installed, else "asyncssh"


@dataclass
class ApiSettings:
    url: str = NELS_API2
    oauth_url: str = NELS_OAUTH
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)  # a bearer token, if given
    timeout: float = 30.0


@dataclass
class Settings:
    backend: str = "local"
    root: Path | None = None  # local backend: the user's NeLS home
    user_name: str = "NeLS user"
    memberships: list[Membership] = field(default_factory=list)  # local backend
    sftp: SftpSettings = field(default_factory=SftpSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    source: str = "defaults"


def _read_text(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    p = (base / Path(path).expanduser()).resolve()
    try:
        return p.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read {p}: {e.strerror}") from None


def load(path: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    env = os.environ if env is None else env
    chosen = path or env.get("NELS_BUNDLE_CONFIG") or None  # set but empty: as if unset
    if chosen is None:
        chosen = next((p for p in (USER_CONFIG, DEMO_CONFIG) if p.exists()), None)
    data: dict = {}
    base = Path.cwd()
    source = "defaults"
    if chosen is not None:
        p = Path(chosen).expanduser()
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {p}") from None
        except IsADirectoryError:
            raise ConfigError(f"the configuration given is a folder, not a file: {p}") from None
        except (PermissionError, UnicodeDecodeError) as e:
            why = e.__class__.__name__
            raise ConfigError(f"configuration file {p} cannot be read: {why}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: {e}") from None
        base = p.parent
        source = str(p)
    return _build(data, env, base, source)


def _build(data: dict, env, base: Path, source: str) -> Settings:
    storage = data.get("storage", {})
    sftp = data.get("sftp", {})
    api = data.get("api", {})
    account = data.get("account", {})
    s = Settings(source=source)
    s.backend = env.get("NELS_STORAGE_BACKEND", storage.get("backend", "local"))
    root = env.get("NELS_ROOT", storage.get("root"))
    s.root = (base / Path(root).expanduser()).resolve() if root else None
    s.user_name = account.get("name", s.user_name)
    s.memberships = [_membership(p, i) for i, p in enumerate(account.get("projects", []), 1)]
    s.sftp = SftpSettings(
        host=env.get("NELS_SFTP_HOST", sftp.get("host", NELS_DATA_HOST)),
        port=int(env.get("NELS_SFTP_PORT", sftp.get("port", 22))),
        known_hosts=_read_text(env.get("NELS_KNOWN_HOSTS", sftp.get("known_hosts_file")), base),
        accept_unknown_host=bool(sftp.get("accept_unknown_host", False)),
        bastion_host=sftp.get("bastion_host"),
        bastion_port=int(sftp.get("bastion_port", 22)),
        bastion_known_hosts=_read_text(sftp.get("bastion_known_hosts_file"), base),
        max_requests=int(sftp.get("max_requests", 64)),
        idle_timeout=float(sftp.get("idle_timeout", 60.0)),
        transport=env.get("NELS_SFTP_TRANSPORT", sftp.get("transport", "auto")),
    )
    s.api = ApiSettings(
        url=env.get("NELS_API_URL", api.get("url", NELS_API2)),
        oauth_url=env.get("NELS_OAUTH_URL", api.get("oauth_url", NELS_OAUTH)),
        client_id=env.get("NELS_CLIENT_ID", api.get("client_id")),
        client_secret=env.get("NELS_CLIENT_SECRET", api.get("client_secret")),
        token=env.get("NELS_TOKEN", api.get("token")),
        timeout=float(api.get("timeout", 30.0)),
    )
    if s.backend not in ("local", "sftp"):
        raise ConfigError(f"{source}: storage backend must be 'local' or 'sftp', not {s.backend!r}")
    return s


def _membership(d: dict, index: int) -> Membership:
    try:
        role = Role(int(d.get("role", 3)))
    except ValueError:
        raise ConfigError(f"account.projects[{index}]: role must be 1, 2, 3 or 4") from None
    if "name" not in d:
        raise ConfigError(f"account.projects[{index}]: a project needs a name")
    project = Project(
        id=int(d.get("id", index)),
        name=d["name"],
        description=d.get("description", ""),
        issensitive=bool(d.get("sensitive", False)),
        locked=bool(d.get("locked", False)),
    )
    return Membership(project, role)
