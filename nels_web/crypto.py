"""Tokens at rest: Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken

from nels_core.errors import ConfigError


class Vault:
    def __init__(self, key: str | bytes):
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "TOKEN_KEY must be a Fernet key (python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())')"
            ) from None

    def __repr__(self) -> str:
        return "Vault()"

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str | None:
        """The secret, or None when it was sealed with another key."""
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            return None

    def seal_json(self, secrets: dict) -> str:
        """Secrets for a task message: sealed, and only readable for a while
        (``open_json``'s ttl), so a message left in a queue keeps nothing usable."""
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def open_json(self, sealed: str, ttl: float) -> dict | None:
        """The secrets, or None when sealed with another key or longer than ``ttl`` s ago."""
        try:
            return json.loads(self._fernet.decrypt(sealed.encode(), ttl=int(ttl)))
        except InvalidToken:
            return None
