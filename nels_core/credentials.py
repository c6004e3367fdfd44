"""Short-lived SSH credentials handed out by the NeLS API.

Two shapes are in use (shared/NELS.md): nels-api2's
``{"host", "username", "sshKey"}`` and the legacy service's
``{"hostname", "username", "key-rsa"}``. The key stays in memory; its repr
never shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ApiError


@dataclass(frozen=True)
class SshCredentials:
    host: str
    username: str
    private_key: str = field(repr=False)

    def __repr__(self) -> str:  # dataclass repr already hides the key; be explicit
        return f"SshCredentials(host={self.host!r}, username={self.username!r}, key=<hidden>)"

    @classmethod
    def from_api(cls, payload: dict) -> SshCredentials:
        if not isinstance(payload, dict):
            raise ApiError(200, f"credential answer is not an object: {type(payload).__name__}")
        host = payload.get("host") or payload.get("hostname")
        key = payload.get("sshKey") or payload.get("key-rsa") or payload.get("key_rsa")
        username = payload.get("username")
        missing = [n for n, v in (("host", host), ("username", username), ("key", key)) if not v]
        if missing:
            raise ApiError(200, f"credential answer lacks {', '.join(missing)}")
        key = key.replace("\\n", "\n")  # the legacy service escapes newlines
        if "PRIVATE KEY" not in key:
            raise ApiError(200, "credential answer holds no private key in PEM/OpenSSH form")
        return cls(host=host, username=username, private_key=key)
