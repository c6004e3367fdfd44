"""SSH key pairs for sandbox users and host keys."""

from __future__ import annotations

import asyncssh


def new_key_pair() -> tuple[str, str]:
    """(private key in OpenSSH PEM form, public key line)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    private = key.export_private_key("openssh").decode()
    public = key.export_public_key("openssh").decode().strip()
    return private, public
