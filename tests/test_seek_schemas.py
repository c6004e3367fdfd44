"""The SEEK sandbox checks requests and answers against SEEK's published
schemas with every ``$ref`` written out in place; it must judge every
document exactly as the schemas as published do."""

import json

import pytest

from nels_sandbox.seek_schemas import SeekSchemas


@pytest.fixture(scope="module")
def schemas(specs):
    return SeekSchemas(specs)


def _examples(specs, schemas):
    for path in sorted((specs / "seek" / "examples").glob("*.json")):
        if path.stem in schemas:
            yield path.stem, json.loads(path.read_text())


def _mutations(doc, limit=30):
    """The document with one thing wrong at a time: a value of another type
    in place of each leaf and object, or a member left out."""
    out = []

    def walk(node, at):
        if len(out) >= limit:
            return
        if isinstance(node, dict):
            for key in list(node):
                out.append(_changed(doc, [*at, key], None))
                walk(node[key], [*at, key])
        elif isinstance(node, list):
            for i, v in enumerate(node[:2]):
                walk(v, [*at, i])
        out.append(_changed(doc, at, "x" if not isinstance(node, str) else 123))

    walk(doc, [])
    return out[:limit]


def _changed(doc, at, value):
    copy = json.loads(json.dumps(doc))
    if not at:
        return value
    node = copy
    for step in at[:-1]:
        node = node[step]
    if value is None and isinstance(node, dict):
        del node[at[-1]]
    else:
        node[at[-1]] = value
    return copy


def _verdict(validator, doc):
    """Where each problem is and which rule it breaks (a message may quote
    the schema, written out or not)."""
    return sorted((repr(list(e.absolute_path)), e.validator) for e in validator.iter_errors(doc))


def test_written_out_schemas_judge_as_the_published_ones(specs, schemas):
    checked = 0
    for name, example in _examples(specs, schemas):
        written_out, published = schemas.validator(name), schemas.referring_validator(name)
        assert written_out.schema != published.schema  # the quick one is in use
        for doc in [example, *_mutations(example)]:
            assert _verdict(written_out, doc) == _verdict(published, doc), name
            checked += 1
    assert checked > 500  # SEEK's examples of requests and answers, and their mutations


def test_a_schema_that_refers_to_itself_is_checked_as_published(specs):
    schemas = SeekSchemas(specs)
    schemas.schemas["listNode"] = {
        "type": "object",
        "properties": {"next": {"$ref": "#/components/schemas/listNode"}},
        "additionalProperties": False,
    }
    v = schemas.validator("listNode")
    assert "$ref" in json.dumps(v.schema)
    assert v.is_valid({"next": {"next": {}}})
    assert not v.is_valid({"next": {"next": {"other": 1}}})


def test_a_ref_with_rules_beside_it_applies_both(specs):
    """SEEK's schemas have none today; 2020-12 applies both, and so must we."""
    schemas = SeekSchemas(specs)
    schemas.schemas["shortName"] = {"$ref": "#/components/schemas/name", "maxLength": 3}
    schemas.schemas["name"] = {"type": "string", "minLength": 1}
    quick, published = schemas.validator("shortName"), schemas.referring_validator("shortName")
    for value, valid in (("abc", True), ("", False), ("abcd", False), (7, False)):
        assert quick.is_valid(value) is valid is published.is_valid(value)
