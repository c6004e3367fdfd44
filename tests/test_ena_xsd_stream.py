"""The quick schema check (the system's libxml2, validating as it parses)
judges ENA documents as lxml does, and lxml still names what it refuses."""

from __future__ import annotations

import copy
import random

import pytest
from conftest import missing
from lxml import etree
from test_ena_xml import bundle

from nels_core.deposit import ena_xml
from nels_core.deposit.ena_xml import DOCUMENTS, check, prepare
from nels_core.deposit.isa_reader import read_bundle
from nels_core.deposit.xsd import EnaSchemas, XsdError
from nels_core.deposit.xsd_stream import libxml2


@pytest.fixture
def schemas(specs):
    if libxml2() is None:
        missing("libxml2.so.2", "libxml2")
    return EnaSchemas(specs / "ena")


def _lxml_says(schemas: EnaSchemas, kind: str, document: bytes) -> bool:
    try:
        tree = etree.fromstring(document)
    except etree.XMLSyntaxError:
        return False
    return schemas.load(kind).validate(tree)


def _mutations(document: bytes, rng: random.Random):
    """The document broken (or not) in the ways a bug in our writer could:
    an element dropped, repeated, moved or renamed, an attribute dropped or
    changed, a value out of its type, the bytes cut or an entity left raw."""
    yield document
    yield document[: len(document) // 2]
    yield document.replace(b">", b">&undefined;", 1)
    yield document.replace(b"<", b"<\x01", 1)
    tree = etree.fromstring(document)
    elements = list(tree.iter())
    for _ in range(60):
        mutated = copy.deepcopy(tree)
        every = list(mutated.iter())
        target = every[rng.randrange(1, len(every))] if len(every) > 1 else mutated
        how = rng.randrange(7)
        if how == 0 and target.getparent() is not None:
            target.getparent().remove(target)
        elif how == 1 and target.getparent() is not None:
            target.addnext(copy.deepcopy(target))
        elif how == 2:
            target.tag = target.tag + "X"
        elif how == 3 and target.attrib:
            del target.attrib[rng.choice(sorted(target.attrib))]
        elif how == 4 and target.attrib:
            target.set(rng.choice(sorted(target.attrib)), rng.choice(["", "x" * 300, "-1", "ZZ"]))
        elif how == 5:
            target.text = rng.choice(["", "not a number", "2023-13-45", "\u00e6\u00f8\u00e5"])
        elif how == 6 and len(target):
            target.append(target[0])  # the first child moved to the end
        yield etree.tostring(mutated)
    assert elements  # the document had something to break


def test_the_quick_check_judges_every_document_as_lxml_does(tmp_path, schemas):
    prepared = prepare(read_bundle(bundle(tmp_path)))
    rng = random.Random(22)
    verdicts = set()
    for kind in DOCUMENTS:
        quick = schemas.stream(kind)
        assert quick is not None, kind
        for document in _mutations(prepared.documents[kind], rng):
            lxml_valid = _lxml_says(schemas, kind, document)
            assert quick.valid(document) == lxml_valid, (kind, document[:400])
            verdicts.add(lxml_valid)
    assert verdicts == {True, False}  # both kinds of answer were put to it


def test_what_the_quick_check_refuses_lxml_names_by_line(tmp_path, schemas, monkeypatch):
    prepared = prepare(read_bundle(bundle(tmp_path)))
    run = prepared.tree("run")
    etree.SubElement(run[0], "NOT_AN_ENA_ELEMENT")
    prepared.documents["run"] = etree.tostring(run)
    assert not schemas.stream("run").valid(prepared.documents["run"])
    asked = []
    lxml_problems = ena_xml._Checker._problems
    monkeypatch.setattr(
        ena_xml._Checker,
        "_problems",
        lambda self, kind, *rest: asked.append(kind) or lxml_problems(self, kind, *rest),
    )
    with pytest.raises(XsdError) as e:
        check(prepared, schemas)
    lines = prepared.documents["run"].decode().splitlines()
    at = next(n for n, line in enumerate(lines, 1) if "NOT_AN_ENA_ELEMENT" in line)
    assert f"run.xml, line {at}: Element 'NOT_AN_ENA_ELEMENT'" in str(e.value)
    assert sorted(asked) == sorted(DOCUMENTS)


def test_without_libxml2_lxml_checks_alone(tmp_path, schemas, monkeypatch):
    """Where the system has no libxml2 the check is lxml's, as before."""
    monkeypatch.setattr(EnaSchemas, "stream", lambda self, kind: None)
    deposit = read_bundle(bundle(tmp_path))
    prepare(deposit, schemas=schemas)  # valid documents pass
    deposit.samples[0].library.nominal_length = "300 bp"  # the schema wants an integer
    with pytest.raises(XsdError, match=r"experiment\.xml, line \d+:"):
        prepare(deposit, schemas=schemas)
