"""Webin receipts (``SRA.receipt.xsd``): what ENA accepted, under which accessions."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NelsError

KINDS = ("PROJECT", "STUDY", "SAMPLE", "EXPERIMENT", "RUN", "ANALYSIS", "SUBMISSION")


class ReceiptError(NelsError, ValueError):
    """An answer that is not a Webin receipt."""


@dataclass(frozen=True)
class Accessioned:
    kind: str  # PROJECT, SAMPLE, ...
    alias: str
    accession: str  # "" when none was given (a failed or test submission)
    status: str = ""  # PRIVATE, PUBLIC, ...
    hold_until: str = ""
    ext_ids: tuple[tuple[str, str], ...] = ()  # (type, accession): a sample's BioSample id


@dataclass
class Receipt:
    success: bool
    date: str
    objects: list[Accessioned] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    def accessions(self, kind: str) -> dict[str, str]:
        """``{alias: accession}`` of one kind."""
        return {o.alias: o.accession for o in self.objects if o.kind == kind and o.accession}

    @property
    def is_test(self) -> bool:
        return any("TEST submission" in i for i in self.infos)


def parse_receipt(data: bytes) -> Receipt:
    from lxml import etree

    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as e:
        raise ReceiptError(f"ENA's answer is not XML: {e}; it began {data[:200]!r}") from None
    if root.tag != "RECEIPT":
        raise ReceiptError(f"ENA's answer is not a receipt but <{root.tag}>")
    receipt = Receipt(
        success=root.get("success") == "true",
        date=root.get("receiptDate", ""),
        errors=[e.text or "" for e in root.iterfind("MESSAGES/ERROR")],
        infos=[i.text or "" for i in root.iterfind("MESSAGES/INFO")],
        actions=[a.text or "" for a in root.iterfind("ACTIONS")],
    )
    for kind in KINDS:
        for el in root.iterfind(kind):
            receipt.objects.append(
                Accessioned(
                    kind,
                    el.get("alias", ""),
                    el.get("accession", ""),
                    el.get("status", ""),
                    el.get("holdUntilDate", ""),
                    tuple(
                        (x.get("type", ""), x.get("accession", "")) for x in el.iterfind("EXT_ID")
                    ),
                )
            )
    return receipt
