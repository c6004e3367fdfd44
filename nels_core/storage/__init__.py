"""NeLS storage: one interface, a ``local`` and an ``sftp`` backend."""

from .base import Storage
from .local import LocalStorage

__all__ = ["Storage", "LocalStorage"]
