"""Edits made elsewhere (SEEK) merged into a folder's sheet, field by field.

Three views of every field: as it was sent (the sheet version in force at
the push), as the sheet says now, and as the editor says now. An edit made
only by the editor is taken; one made only in the sheet is kept; the same
field changed on both sides to different values is a conflict, named with
both values, and nothing is written until someone chooses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .folder_sheet import Field, describe_field, flatten, row_key
from .model import InvestigationRecord
from .sheet import SECTIONS, Row, Section, template_sections

# People are only ever added from an editor: SEEK shows no e-mail address,
# knows "creator" rather than the sheet's roles, and a person it does not
# list (a contact it never had) is no reason to drop them from the sheet.
_ADDED_ONLY = "Contacts"
_NOT_EDITED_THERE = {("Contacts", "roles")}


@dataclass(frozen=True)
class Conflict:
    field: Field
    sheet: str
    edited: str

    def __str__(self) -> str:
        return f"{describe_field(self.field)}: the sheet says {self.sheet!r}, SEEK {self.edited!r}"


@dataclass
class Merged:
    taken: dict[Field, str] = field(default_factory=dict)  # the editor's values to write
    conflicts: list[Conflict] = field(default_factory=list)


def sheet_values(inv: InvestigationRecord) -> dict[Field, str]:
    """Every value a described investigation would write into its sheet."""
    return flatten(as_sections(template_sections(inv)))


def as_sections(rows: dict[str, tuple[list[str], list[list[str]]]]) -> dict[str, Section]:
    """``{section: (header, rows)}`` (the template writers' form) as read sections."""
    out = {}
    for name, (header, values) in rows.items():
        out[name] = Section(
            name, list(header), [Row(f"{name} row {n}", dict(zip(header, r, strict=False)))
                                 for n, r in enumerate(values, 2)]
        )  # fmt: skip
    return out


def merge(
    sent: dict[Field, str] | None, sheet: dict[Field, str], edited: dict[Field, str]
) -> Merged:
    """What to take from ``edited``. With ``sent`` unknown (None: a push of a
    file given instead of the folder's sheet, or made before sheets were
    kept) the sheet counts as unchanged since: every edit is taken."""
    out = Merged()
    for key in sorted(edited.keys() | sheet.keys()):
        section, _, column = key
        if (section, column) in _NOT_EDITED_THERE:
            continue
        theirs, ours = edited.get(key, ""), sheet.get(key, "")
        if theirs == ours or (not theirs and section == _ADDED_ONLY):
            continue
        before = ours if sent is None else sent.get(key, "")
        if theirs == before:
            continue  # not edited there: the sheet's value stands
        if ours == before:
            out.taken[key] = theirs
        else:
            out.conflicts.append(Conflict(key, ours, theirs))
    return out


def apply_values(sections: dict[str, Section], values: dict[Field, str]) -> dict[str, Section]:
    """``sections`` with ``values`` written in: a row found by its key (sample,
    study, contact, investigation field), else added; a column added where needed."""
    out = {
        name: Section(name, list(s.header), [Row(r.where, dict(r.cells)) for r in s.rows])
        for name, s in sections.items()
    }
    for name, header in SECTIONS.items():  # a section the sheet lacks, with its columns
        out.setdefault(name, Section(name, list(header)))
    keyed: dict[str, dict[str, Row]] = {}
    for name, section in out.items():
        seen: set[str] = set()
        keyed[name] = {row_key(name, r, seen): r for r in section.rows}
    for (name, key, column), value in values.items():
        section = out[name]
        if name == "Investigation":
            row = next((r for r in section.rows if r.cells.get("field") == column), None)
            if row is None:
                section.rows.append(Row("added", {"field": column, "value": value}))
            else:
                row.cells["value"] = value
            continue
        row = keyed[name].get(key)
        if row is None:
            row = Row("added", _key_cells(name, key))
            section.rows.append(row)
            keyed[name][key] = row
        if column not in section.header:
            section.header.append(column)
        row.cells[column] = value
    return out


def _key_cells(section: str, key: str) -> dict[str, str]:
    """The cells that name a new row, from its key (see ``folder_sheet.row_key``)."""
    if section == "Samples":
        study, _, sample = key.rpartition("/")
        return {"study": study, "sample": sample} if study else {"sample": sample}
    if section == "Studies":
        return {"study": key}
    study, last, first = key.rsplit("/", 2) if key.count("/") >= 2 else ("", key, "")
    return {"study": study, "last name": last, "first name": first}
