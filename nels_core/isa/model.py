"""The ISA description of NeLS data, as the writers need it.

Plain records, not isatools objects: building isatools' object graph is what
makes its writer slow on large deliveries, and ``nels_core`` must import
without isatools. Order is meaningful everywhere (it is the order written),
so a re-export of unchanged input is byte-identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import vocab


@dataclass(frozen=True, slots=True)
class Term:
    """An ontology annotation: a label, and where known its source and accession."""

    label: str
    source: str = ""  # a name declared in vocab.ONTOLOGY_SOURCES
    accession: str = ""


@dataclass(frozen=True, slots=True)
class Person:
    last_name: str
    first_name: str = ""
    email: str = ""
    affiliation: str = ""
    roles: str = ""
    orcid: str = ""


@dataclass(frozen=True, slots=True)
class RawFile:
    path: str  # relative to the exported source folder
    size: int
    md5: str | None  # lowercase; None until computed
    read: str | None  # R1, R2, 1, 2 or None
    location: str  # where the bytes are: a nels:// URI or a local path


@dataclass(slots=True)
class Run:
    """One sequencing of one library: a lane of an Illumina run (ISA Assay Name)."""

    name: str
    lane: int | None
    files: list[RawFile]


@dataclass(slots=True)
class Library:
    strategy: str = ""
    source: str = ""
    selection: str = ""
    layout: str = ""  # SINGLE or PAIRED
    design: str = ""  # ENA's DESIGN_DESCRIPTION: the goal and set-up of the library
    protocol: str = ""  # ENA's LIBRARY_CONSTRUCTION_PROTOCOL
    nominal_length: str = ""  # paired: the expected insert size in bp (ENA's NOMINAL_LENGTH)


@dataclass(slots=True)
class SampleRecord:
    name: str  # ISA Sample Name: the sample id the facility used
    source: str  # ISA Source Name: the organism or individual sampled
    study: str  # key of the study it belongs to
    organism: Term | None = None
    characteristics: dict[str, str] = field(default_factory=dict)  # in column order
    library: Library = field(default_factory=Library)
    instrument: str = ""
    runs: list[Run] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def extract(self) -> str:
        return f"{self.name}.extract"

    def files(self) -> list[RawFile]:
        return [f for r in self.runs for f in r.files]


@dataclass(slots=True)
class StudyRecord:
    key: str  # the folder, relative to the source, the study came from
    identifier: str
    title: str = ""
    description: str = ""
    submission_date: str = ""
    release_date: str = ""
    contacts: list[Person] = field(default_factory=list)
    samples: list[SampleRecord] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"s_{safe_name(self.identifier)}.txt"

    def assays(self) -> list[AssayRecord]:
        """One assay per measurement (and technology: always sequencing here)."""
        by_measurement: dict[Term, list[SampleRecord]] = {}
        for s in self.samples:
            by_measurement.setdefault(measurement_for(s.library), []).append(s)
        return [
            AssayRecord(
                measurement=m,
                technology=SEQUENCING,
                platform=_platform_of(samples),
                samples=samples,
                filename=f"a_{safe_name(self.identifier)}_{safe_name(m.label)}.txt",
            )
            for m, samples in by_measurement.items()
        ]


@dataclass(slots=True)
class AssayRecord:
    measurement: Term
    technology: Term
    platform: str
    samples: list[SampleRecord]
    filename: str


UNKNOWN_SHEET = "unknown"  # InvestigationRecord.sheet of a bundle that does not say


@dataclass(slots=True)
class InvestigationRecord:
    identifier: str
    title: str = ""
    description: str = ""
    submission_date: str = ""
    release_date: str = ""
    location: str = ""  # the exported source: nels:// URI or local path
    contacts: list[Person] = field(default_factory=list)
    studies: list[StudyRecord] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)  # e.g. SEEK ids, written as Comment[]
    # the metadata sheet that described it: a sheet version's path, a file's name; "" none
    sheet: str = ""

    def samples(self) -> list[SampleRecord]:
        return [s for st in self.studies for s in st.samples]

    def files(self) -> list[RawFile]:
        return [f for s in self.samples() for f in s.files()]

    def ontology_sources(self) -> list[str]:
        """The sources the bundle refers to: OBI always, NCBITaxon with an organism."""
        used = ["OBI"]
        if any(s.organism and s.organism.source == "NCBITaxon" for s in self.samples()):
            used.insert(0, "NCBITaxon")
        return used


# Protocols of a sequencing study, in the order isatools' genome_seq and
# transcription_seq configurations lay them out.
SAMPLE_COLLECTION = Term("sample collection", "OBI", vocab.OBI + "0000659")
EXTRACTION = Term("nucleic acid extraction", "OBI", vocab.OBI + "0666667")
LIBRARY_CONSTRUCTION = Term("library construction", "OBI", vocab.OBI + "0000711")
SEQUENCING_PROTOCOL = Term("nucleic acid sequencing", "OBI", vocab.OBI + "0000626")
LIBRARY_PARAMETERS = (
    "library source",
    "library strategy",
    "library selection",
    "library layout",
    "design description",
    "library construction protocol",
    "nominal length",
)
SEQUENCING_PARAMETERS = ("sequencing instrument",)

SEQUENCING = Term("nucleotide sequencing", "OBI", vocab.OBI + "0000626")
GENOME = Term("genome sequencing", "OBI", vocab.OBI + "0002117")
TRANSCRIPTION = Term("transcription profiling", "OBI", vocab.OBI + "0000424")
METAGENOME = Term("metagenome sequencing")
_RNA = {"RNA-Seq", "ssRNA-seq", "snRNA-seq", "miRNA-Seq", "ncRNA-Seq", "FL-cDNA", "EST", "Ribo-Seq"}


def measurement_for(library: Library) -> Term:
    """The ISA measurement type a library's strategy and source imply."""
    if library.source in ("METAGENOMIC", "METATRANSCRIPTOMIC"):
        return METAGENOME
    if library.strategy in _RNA or library.source.startswith("TRANSCRIPTOMIC"):
        return TRANSCRIPTION
    return GENOME


def _platform_of(samples: list[SampleRecord]) -> str:
    platforms = {vocab.instrument_platform(s.instrument) for s in samples} - {None}
    return ", ".join(sorted(platforms))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name-safe form of an identifier (ISA table file names)."""
    return _UNSAFE.sub("-", text).strip("-") or "unnamed"
