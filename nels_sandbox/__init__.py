"""Offline stand-ins for NeLS (REST API + OAuth2, and a real OpenSSH sshd),
checked against what the real services publish (shared/specs)."""
