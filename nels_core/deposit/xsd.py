"""ENA's Webin XML schemas: fetched once from ENA's published location, cached,
and used to validate every document before anything is sent.

``$NELS_ENA_XSD_DIR`` (or ``folder=``) points at a folder that already holds
them, as the tests do with ``../shared/specs/ena``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, ProblemsError
from ..local_files import write_whole

ENA_XSD_URL = "https://ftp.ebi.ac.uk/pub/databases/ena/doc/xsd/sra_1_5/"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "nels-bundle" / "ena-xsd"
SCHEMAS = {
    "project": "ENA.project.xsd",
    "study": "SRA.study.xsd",
    "sample": "SRA.sample.xsd",
    "experiment": "SRA.experiment.xsd",
    "run": "SRA.run.xsd",
    "submission": "SRA.submission.xsd",
    "receipt": "SRA.receipt.xsd",
}
COMMON = "SRA.common.xsd"  # every schema imports it


class XsdError(ProblemsError):
    """Documents that break ENA's schemas: nothing is sent."""

    what = "against ENA's schemas"


class EnaSchemas:
    def __init__(self, folder: str | os.PathLike | None = None):
        chosen = folder or os.environ.get("NELS_ENA_XSD_DIR")
        self.folder = Path(chosen) if chosen else CACHE
        self._loaded: dict = {}

    def load(self, kind: str, copy: int = 0):
        """The compiled schema for one document kind (fetched and cached on first
        use); ``copy`` gives another instance, for validating on two threads at once."""
        return self._schema(kind, copy)

    def _schema(self, kind: str, copy: int = 0):
        from lxml import etree

        if (kind, copy) not in self._loaded:
            name = SCHEMAS[kind]
            self._ensure(name)
            self._ensure(COMMON)
            self._loaded[kind, copy] = etree.XMLSchema(etree.parse(str(self.folder / name)))
        return self._loaded[kind, copy]

    def stream(self, kind: str):
        """The same schema for the system's libxml2 to check a document as it
        parses it (``xsd_stream``), or None where that cannot be had."""
        from .xsd_stream import StreamSchema

        self._schema(kind)  # fetched and cached, with what it imports
        return StreamSchema.load(self.folder / SCHEMAS[kind])

    def _ensure(self, name: str) -> None:
        target = self.folder / name
        if target.exists():
            return
        import requests

        try:
            r = requests.get(ENA_XSD_URL + name, timeout=60)
            r.raise_for_status()
        except requests.RequestException as e:
            raise ConfigError(
                f"ENA's schema {name} is not cached in {self.folder} and could not be fetched "
                f"from {ENA_XSD_URL} ({type(e).__name__}); set NELS_ENA_XSD_DIR to a copy"
            ) from None
        write_whole(target, r.content)

    def problems(self, kind: str, tree, source: str, copy: int = 0, lines: int = 0) -> list[str]:
        """What breaks the schema, each as ``source, line N: message`` (``lines``
        added to N when the tree is a later part of the document)."""
        schema = self._schema(kind, copy)
        if schema.validate(tree):
            return []
        return [f"{source}, line {e.line + lines}: {e.message}" for e in schema.error_log]
