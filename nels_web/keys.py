"""The app's two keys, checked before it starts: SECRET_KEY signs the session
cookie (a guessable one lets anyone sign in as anyone), TOKEN_KEY encrypts
the NeLS and SEEK tokens at rest. Messages name the setting and how to make
one, never the value given.

Only the demo (``nels-bundle serve --demo``, which sets ``DEMO``) skips the
strength checks; it makes fresh random keys anyway.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from collections.abc import Mapping

from nels_core.errors import ConfigError

RANDOM_BYTES = 32  # what each key must hold: 256 bits
# 32 random bytes written as URL-safe base64 (secrets.token_urlsafe(32))
MIN_SECRET_CHARACTERS = math.ceil(RANDOM_BYTES * 8 / 6)
# what the characters' own spread must show: a random key of the least
# length shows about 200 bits, "aaaa..." none, "abcabc..." 1.6 a character
MIN_SPREAD_BITS = 128
MAKE_SECRET_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
MAKE_TOKEN_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


def check_keys(config: Mapping) -> None:
    """ConfigError unless both keys are there and, outside the demo, random enough."""
    secret, token_key = config.get("SECRET_KEY"), config.get("TOKEN_KEY")
    if not secret:
        raise ConfigError(_asked("SECRET_KEY", "signs the session cookie", MAKE_SECRET_KEY))
    if not token_key:
        raise ConfigError(_asked("TOKEN_KEY", "encrypts tokens at rest", MAKE_TOKEN_KEY))
    if config.get("DEMO"):
        return
    if _weak(secret, MIN_SECRET_CHARACTERS):
        raise ConfigError(_weak_key("SECRET_KEY", MAKE_SECRET_KEY))
    key = _fernet_key(token_key)
    if key is None:
        raise ConfigError(f"TOKEN_KEY is not a Fernet key; make one with: {MAKE_TOKEN_KEY}")
    if _weak(key, RANDOM_BYTES):
        raise ConfigError(_weak_key("TOKEN_KEY", MAKE_TOKEN_KEY))


def _asked(name: str, what: str, how: str) -> str:
    return f"the web app needs {name} in its configuration (it {what}); make one with: {how}"


def _weak_key(name: str, how: str) -> str:
    return (
        f"{name} is too short or not random enough: it must hold at least "
        f"{RANDOM_BYTES} random bytes; make one with: {how}"
    )


def _weak(key: str | bytes, least: int) -> bool:
    """Too short, or its characters too few and repeated to be random."""
    return len(key) < least or _spread_bits(key) < MIN_SPREAD_BITS


def _spread_bits(key: str | bytes) -> float:
    """The key's length times the entropy of its characters' frequencies: an
    upper bound on its randomness that a repeated or tiny alphabet fails."""
    counts = Counter(key).values()
    return -sum(n * math.log2(n / len(key)) for n in counts)


def _fernet_key(value: str | bytes) -> bytes | None:
    """The 32 bytes of a Fernet key (URL-safe base64), else None."""
    try:
        key = base64.urlsafe_b64decode(value)
    except (binascii.Error, ValueError, TypeError):
        return None
    return key if len(key) == RANDOM_BYTES else None
