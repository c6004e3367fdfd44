"""``seek pull``: what researchers annotated in SEEK, back into the ISA description.

The investigation's data still come from NeLS (the source the push linked
it to, found in the extension's database); SEEK contributes what people
edited there: titles and descriptions, extended metadata, creators, and
the samples' attribute values (organism, library, any characteristic).
Each record's SEEK address goes into the bundle as a comment.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from nels_core.errors import NelsError, ProblemsError
from nels_core.isa.export import NO_SHEET
from nels_core.isa.folder_sheet import FolderSheets, SheetUnchanged, describe_field
from nels_core.isa.model import InvestigationRecord, Person, Term
from nels_core.isa.sheet import SheetError, template_sections
from nels_core.isa.sheet_merge import apply_values, as_sections, merge, sheet_values
from nels_core.vocab import NCBI_TAXON

from .client import SeekClient
from .db import NO_SHEET_SENT, SHEET_KEY, Database, SeekLink
from .errors import Problem, SeekError
from .plan import FIXED_COLUMNS, default_description
from .records import SeekRecord

_INVESTIGATION_URL = re.compile(r"^(?P<base>https?://.+?)/investigations/(?P<id>\d+)/?$")


@dataclass
class Origin:
    """Where a pushed investigation came from, per the database."""

    seek_url: str
    investigation_id: str
    project_id: str
    source: str  # the NeLS location (or local folder) that was pushed
    links: dict[str, SeekLink]  # item key -> link


@dataclass
class PullNotes:
    notes: list[str] = field(default_factory=list)
    seek_isa: str = "not asked"  # what comparing with SEEK's own ISA export found


def parse_investigation_url(url: str) -> tuple[str, str]:
    m = _INVESTIGATION_URL.match(url.strip())
    if not m:
        raise SeekError(0, [Problem(f"not a SEEK investigation address: {url!r}")])
    return m["base"], m["id"]


def origin(db: Database, seek_url: str, investigation_id: str) -> Origin:
    link = db.find(seek_url, "investigations", investigation_id)
    if link is None:
        raise SeekError(
            0,
            [
                Problem(
                    f"investigation {investigation_id} at {seek_url} was not pushed from "
                    "NeLS with this database; pull needs the NeLS source it describes"
                )
            ],
        )
    links = db.links(link.seek_url, link.seek_project, link.source)
    return Origin(link.seek_url, investigation_id, link.seek_project, link.source, links)


def annotate(client: SeekClient, inv: InvestigationRecord, where: Origin) -> PullNotes:
    """Apply SEEK's annotations to ``inv`` (described afresh from the source)."""
    notes = PullNotes()
    record = client.investigations.get(where.investigation_id)
    inv.title = record.title or inv.title
    if record.description != default_description(inv):  # the push's own words: not an edit
        inv.description = record.description or inv.description
    inv.comments["SEEK investigation"] = record.url
    inv.comments.update(_extended(record))
    inv.contacts = _people(client, record) or inv.contacts
    linked_studies = set()
    for study in inv.studies:
        link = where.links.get(f"study:{study.key or '.'}")
        if link is None or not link.seek_id:
            notes.notes.append(f"study {study.identifier} was not pushed; SEEK has nothing on it")
            continue
        s = client.studies.get(link.seek_id)
        linked_studies.add(s.id)
        study.title = s.title or study.title
        study.description = s.description or study.description
        study.comments["SEEK study"] = s.url
        study.comments.update(_extended(s))
        study.contacts = _people(client, s) or study.contacts
        for sample in study.samples:
            slink = where.links.get(f"sample:{study.key or '.'}/{sample.name}")
            if slink is not None and slink.seek_id:
                notes.notes += _sample(client.samples.get(slink.seek_id), sample)
    for extra in set(record.ids("studies")) - linked_studies:
        notes.notes.append(
            f"SEEK study {client.absolute(f'/studies/{extra}')} holds no NeLS data; left out"
        )
    return notes


def _extended(record: SeekRecord) -> dict[str, str]:
    ext = record.attributes.get("extended_attributes") or {}
    values = ext.get("attribute_map") or {}
    return {f"SEEK {k}": _text(v) for k, v in values.items() if v not in (None, "", [], {})}


def _text(value) -> str:
    if isinstance(value, list):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _people(client: SeekClient, record: SeekRecord) -> list[Person]:
    """The record's creators, as ISA contacts (SEEK shows no e-mail addresses)."""
    people = []
    for c in record.attributes.get("creators") or []:
        people.append(
            Person(
                last_name=c.get("family_name") or "",
                first_name=c.get("given_name") or "",
                affiliation=c.get("affiliation") or "",
                roles="creator",
                orcid=_orcid(c.get("orcid")),
            )
        )
    if not people:
        for pid in record.ids("submitter"):
            p = client.people.get(pid).attributes
            people.append(
                Person(
                    last_name=p.get("last_name") or "",
                    first_name=p.get("first_name") or "",
                    roles="submitter",
                    orcid=_orcid(p.get("orcid")),
                )
            )
    return people


def _orcid(value) -> str:
    return (value or "").removeprefix("https://orcid.org/")


def _sample(record: SeekRecord, sample) -> list[str]:
    values = record.attributes.get("attribute_map") or {}
    notes = []
    sample.comments["SEEK sample"] = record.url
    if values.get("sample name") not in (None, sample.name):
        notes.append(
            f"sample {sample.name} is called {values['sample name']!r} in SEEK; "
            "the NeLS name is kept, since the files carry it"
        )
    if values.get("source name"):
        sample.source = str(values["source name"])
    organism, taxon = values.get("organism"), values.get("ncbi taxon")
    if organism or taxon:
        accession = str(taxon or "")
        if accession.isdigit():
            accession = NCBI_TAXON + accession
        sample.organism = Term(str(organism or ""), "NCBITaxon", accession)
    lib = sample.library
    for column, attr in (
        ("library strategy", "strategy"),
        ("library source", "source"),
        ("library selection", "selection"),
        ("library layout", "layout"),
    ):
        if values.get(column):
            setattr(lib, attr, str(values[column]))
    if values.get("instrument"):
        sample.instrument = str(values["instrument"])
    for name, value in values.items():
        if name in FIXED_COLUMNS:
            continue
        if value in (None, ""):
            sample.characteristics.pop(name, None)
        else:
            sample.characteristics[name] = _text(value)
    return notes


@dataclass
class WriteBack:
    """What a pull did to the folder's sheet."""

    changes: list[str] = field(default_factory=list)  # SEEK's edits taken, in words
    version: str = ""  # the sheet version they were saved as
    not_saved: str = ""  # why they were not saved (a read-only member, --metadata)


class SheetConflict(ProblemsError):
    what = "between SEEK and the folder's metadata sheet (nothing written)"

    def __init__(self, conflicts):
        super().__init__(
            [str(c) for c in conflicts]
            + ["pull again choosing whose values stand: SEEK's or the sheet's"]
        )
        self.conflicts = conflicts


class SeekEditsRefused(ProblemsError):
    what = "in the values edited in SEEK (nothing written; correct them in SEEK and pull again)"


def pull_bundle(
    client: SeekClient,
    db: Database,
    investigation_url: str,
    open_source,
    out,
    metadata=None,
    take: str | None = None,
):
    """The whole pull: find the source, describe it with the folder's sheet,
    merge SEEK's edits into that sheet (saved as a new version), write the bundle.

    ``open_source(location)`` gives ``(store, base, location, identifier)``
    for the NeLS location the push recorded. ``take`` settles conflicts:
    "seek" or "sheet"; without it a conflict stops the pull, nothing written.
    Returns the export's result, the push's origin and what the sheet got.
    """
    from nels_core.delivery import DeliveryIssue
    from nels_core.isa.export import describe, export_described

    seek_url, investigation_id = parse_investigation_url(investigation_url)
    if seek_url.rstrip("/") != client.url:
        raise SeekError(0, [Problem(f"{investigation_url} is not on {client.url}")])
    where = origin(db, client.url, investigation_id)
    store, base, location, identifier = open_source(where.source)

    def described(sheet=None):
        return describe(store, base, location, identifier, sheet)

    inv, issues = described(metadata)
    edited = copy.deepcopy(inv)
    notes = annotate(client, edited, where)
    sent = _sent(db, where, store, base, described)
    merged = merge(sent, sheet_values(inv), _without_submitters(sheet_values(edited)))
    if merged.conflicts and take not in ("seek", "sheet"):
        raise SheetConflict(merged.conflicts)
    if take == "seek":
        merged.taken.update({c.field: c.edited for c in merged.conflicts})
    back = WriteBack([f"{describe_field(k)}: {v!r}" for k, v in sorted(merged.taken.items())])
    if merged.taken:
        sections = apply_values(_sheet_sections(store, base, inv, metadata), merged.taken)
        try:
            inv, issues = described(sections)
        except SheetError as e:  # nothing saved: the edits are SEEK's to correct
            raise SeekEditsRefused(e.problems) from None
        back.version, back.not_saved = _save(store, base, sections, investigation_url, metadata)
        inv.sheet = back.version or inv.sheet
    _copy_seek_comments(edited, inv)
    notes.seek_isa = compare_with_seek_export(client, investigation_id, inv)
    issues += [DeliveryIssue("seek", "", n) for n in [*notes.notes, notes.seek_isa]]
    return export_described(store, base, inv, issues, out), where, back


def _without_submitters(values: dict) -> dict:
    """SEEK's values less the people a bundle names only because nobody else was
    given (the submitter): they are not an edit of anyone's."""
    stand_ins = {k[1] for k, v in values.items() if k[0] == "Contacts" and k[2] == "roles"
                 and v == "submitter"}  # fmt: skip
    return {k: v for k, v in values.items() if not (k[0] == "Contacts" and k[1] in stand_ins)}


def _sent(db: Database, where: Origin, store, base: str, described):
    """The sheet's values as the last push sent them; None when unknown."""
    link = db.links(where.seek_url, where.project_id, where.source).get(SHEET_KEY)
    if link is None or not link.seek_id:
        return None
    if link.seek_id == NO_SHEET_SENT:
        return sheet_values(described(NO_SHEET)[0])
    sheets = FolderSheets(store, base)
    try:
        sections = sheets.sections(sheets.version(link.seek_id))
        return sheet_values(described(sections)[0])
    except NelsError:  # that version is gone or no longer fits: say nothing is known
        return None


def _sheet_sections(store, base: str, inv, metadata):
    """The sheet SEEK's edits go into: the folder's (or the one given), else a new one."""
    from nels_core.isa.sheet import read_sheet

    if metadata is not None:
        return read_sheet(metadata)
    sheets = FolderSheets(store, base)
    current = sheets.current()
    return sheets.sections(current) if current else as_sections(template_sections(inv))


def _save(store, base: str, sections, investigation_url: str, metadata) -> tuple[str, str]:
    if metadata is not None:
        return "", "a sheet was given (--metadata); the folder's own was left as it is"
    try:
        version = FolderSheets(store, base).put(sections, f"SEEK {investigation_url}")
    except SheetUnchanged:
        return "", ""
    except NelsError as e:  # a read-only member, a locked project: the bundle still has them
        return "", str(e)
    return version.path, ""


def _copy_seek_comments(edited: InvestigationRecord, inv: InvestigationRecord) -> None:
    """SEEK's addresses and extended metadata, from the annotated copy into ``inv``."""
    inv.comments.update(edited.comments)
    studies = {st.key: st for st in edited.studies}
    for st in inv.studies:
        if st.key in studies:
            st.comments.update(studies[st.key].comments)
    samples = {(s.study, s.name): s for s in edited.samples()}
    for s in inv.samples():
        if (s.study, s.name) in samples:
            s.comments.update(samples[(s.study, s.name)].comments)


def compare_with_seek_export(client: SeekClient, investigation_id: str, inv) -> str:
    """What SEEK's own ISA-JSON export (where offered) says differently from ours."""
    try:
        theirs = client.request("GET", f"/investigations/{investigation_id}/export_isa")
    except SeekError:
        return "SEEK's own ISA export is not offered for this investigation"
    if not isinstance(theirs, dict):
        return "SEEK's own ISA export answered something that is not ISA-JSON"
    differences = []
    if theirs.get("title") != inv.title:
        differences.append(f"investigation title {theirs.get('title')!r} vs {inv.title!r}")
    their_studies = {s.get("title"): s for s in theirs.get("studies") or []}
    for study in inv.studies:
        s = their_studies.get(study.title)
        if s is None:
            differences.append(f"study {study.title!r} missing from SEEK's export")
            continue
        names = {m.get("name") for m in (s.get("materials") or {}).get("samples") or []}
        ours = {x.name for x in study.samples}
        if names != ours:
            differences.append(
                f"study {study.title!r}: samples {len(names)} in SEEK's export, {len(ours)} ours"
            )
    if differences:
        return "SEEK's own ISA export differs: " + "; ".join(differences)
    return "SEEK's own ISA export agrees on titles, studies and samples"
