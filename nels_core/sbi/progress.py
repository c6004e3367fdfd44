"""What a move tells whoever watches it: files, bytes, each job's state."""

from __future__ import annotations


class TransferProgress:
    """Callbacks of an archive or a stage; each does nothing here."""

    def planned(self, files: int, total_bytes: int, already: int) -> None:
        """``files`` to move (``total_bytes`` together); ``already`` there, skipped."""

    def file_started(self, path: str, size: int) -> None:
        """``path`` (relative to what is moved) starts moving."""

    def bytes_moved(self, n: int) -> None:
        """``n`` more bytes went through."""

    def job_state(self, path: str, job_id: int, state: int | None) -> None:
        """``path``'s transfer job is in ``state`` (100, 103, 101, 102). An
        archive sends the next files while earlier jobs process, and a stage
        starts the next files' jobs before their turn, so this may be about a
        file other than the one under way."""

    def file_done(self, path: str) -> None:
        """``path`` is in place and its job done (files end in the order they
        started, perhaps after later ones started)."""
