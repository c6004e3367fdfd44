"""What a deposition needs from an ISA bundle, in ENA's terms."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ReadFile:
    path: str  # relative to the source folder, as the manifest names it
    md5: str


@dataclass(slots=True)
class Run:
    name: str  # ISA Assay Name: <sample>.L00n
    files: list[ReadFile]


@dataclass(slots=True)
class Library:
    strategy: str
    source: str
    selection: str
    layout: str  # SINGLE or PAIRED
    instrument: str
    design: str = ""  # DESIGN_DESCRIPTION
    protocol: str = ""  # LIBRARY_CONSTRUCTION_PROTOCOL
    nominal_length: str = ""  # paired: insert size in bp


@dataclass(slots=True)
class Sample:
    study: str  # the ISA study identifier
    name: str
    taxon_id: str  # digits; "" when the bundle gives none
    scientific_name: str
    attributes: dict[str, str]  # characteristics, ENA's names where they match
    library: Library | None = None
    runs: list[Run] = field(default_factory=list)
    description: str = ""  # the sheet's sample description (ENA's sample DESCRIPTION)


@dataclass(slots=True)
class Contact:
    """A person the ISA-Tab names: ``Investigation Person ...`` or ``Study Person ...``."""

    last_name: str
    first_name: str = ""
    email: str = ""
    affiliation: str = ""
    roles: str = ""
    orcid: str = ""
    study: str = ""  # the ISA study identifier; "" for the investigation's contacts

    @property
    def name(self) -> str:
        return " ".join(n for n in (self.first_name, self.last_name) if n)


@dataclass(slots=True)
class Deposit:
    identifier: str  # the investigation's: every alias starts with it
    title: str
    description: str
    release_date: str  # ISO date or ""
    samples: list[Sample]
    location: str = ""  # the NeLS source the bundle describes
    nels_project: dict | None = None  # {id, name, sensitive} when the source is a NeLS project
    study_folders: dict[str, str] = field(default_factory=dict)  # study identifier -> folder key
    study_release_dates: dict[str, str] = field(default_factory=dict)  # study identifier -> ISO
    contacts: list[Contact] = field(default_factory=list)  # the investigation's, then each study's
