"""Tokens at rest: Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``."""

from __future__ import annotations

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
