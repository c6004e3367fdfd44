"""Webin receipts: ENA's real one (shared/specs/ena/receipt-private.xml) reads,
and answers that are not receipts are named as such."""

import pytest

from nels_core.deposit.receipt import ReceiptError, parse_receipt
from nels_core.deposit.xsd import EnaSchemas


def test_enas_recorded_receipt(specs):
    data = (specs / "ena" / "receipt-private.xml").read_bytes()
    from lxml import etree

    assert EnaSchemas(specs / "ena").problems("receipt", etree.fromstring(data), "receipt") == []
    r = parse_receipt(data)
    assert r.success and r.is_test and r.actions == ["MODIFY", "HOLD"]
    assert r.accessions("PROJECT") == {"d6d65050-f6b6-4ace-9fa9-4fa96451376d": "PRJEB44969"}
    (project,) = [o for o in r.objects if o.kind == "PROJECT"]
    assert (project.status, project.hold_until) == ("PRIVATE", "2023-05-12+05:30")
    assert r.accessions("SUBMISSION") == {}  # an empty accession is no accession


def test_a_failed_receipt_carries_enas_errors():
    data = (
        b'<RECEIPT receiptDate="2026-11-21T10:00:00Z" submissionFile="submission.xml" '
        b'success="false"><SAMPLE alias="P:s:A" accession=""/>'
        b"<MESSAGES><ERROR>The sample alias (P:s:A) found more than once but sample alias "
        b"must be unique.</ERROR></MESSAGES><ACTIONS>ADD</ACTIONS></RECEIPT>"
    )
    r = parse_receipt(data)
    assert not r.success and r.accessions("SAMPLE") == {}
    assert r.errors == [
        "The sample alias (P:s:A) found more than once but sample alias must be unique."
    ]


@pytest.mark.parametrize(
    ("data", "said"),
    [(b"<html>502 Bad Gateway</html>", "not a receipt but <html>"), (b"Bad Gateway", "not XML")],
)
def test_what_is_not_a_receipt_is_named(data, said):
    with pytest.raises(ReceiptError, match=said):
        parse_receipt(data)
