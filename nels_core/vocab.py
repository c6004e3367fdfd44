"""Controlled terms the ISA mapping and the ENA deposition share.

The ENA lists are copied from ENA's Webin XML schemas (``SRA.common.xsd``,
``SRA.experiment.xsd``, enasequence/webin-xml); a test compares them with
the schemas in ``../shared/specs/ena`` so that a new ENA release shows up as
a failing test, not as a rejected submission.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

INSTRUMENT_MODELS: dict[str, tuple[str, ...]] = {
    "LS454": (
        "454 GS",
        "454 GS 20",
        "454 GS FLX",
        "454 GS FLX+",
        "454 GS FLX Titanium",
        "454 GS Junior",
        "unspecified",
    ),
    "ILLUMINA": (
        "HiSeq X Five",
        "HiSeq X Ten",
        "Illumina Genome Analyzer",
        "Illumina Genome Analyzer II",
        "Illumina Genome Analyzer IIx",
        "Illumina HiScanSQ",
        "Illumina HiSeq 1000",
        "Illumina HiSeq 1500",
        "Illumina HiSeq 2000",
        "Illumina HiSeq 2500",
        "Illumina HiSeq 3000",
        "Illumina HiSeq 4000",
        "Illumina HiSeq X",
        "Illumina iSeq 100",
        "Illumina MiSeq",
        "Illumina MiniSeq",
        "Illumina NovaSeq X",
        "Illumina NovaSeq X Plus",
        "Illumina NovaSeq 6000",
        "NextSeq 500",
        "NextSeq 550",
        "NextSeq 1000",
        "NextSeq 2000",
        "unspecified",
    ),
    "HELICOS": (
        "Helicos HeliScope",
        "unspecified",
    ),
    "ABI_SOLID": (
        "AB SOLiD System",
        "AB SOLiD System 2.0",
        "AB SOLiD System 3.0",
        "AB SOLiD 3 Plus System",
        "AB SOLiD 4 System",
        "AB SOLiD 4hq System",
        "AB SOLiD PI System",
        "AB 5500 Genetic Analyzer",
        "AB 5500xl Genetic Analyzer",
        "AB 5500xl-W Genetic Analysis System",
        "unspecified",
    ),
    "COMPLETE_GENOMICS": (
        "Complete Genomics",
        "unspecified",
    ),
    "BGISEQ": (
        "BGISEQ-50",
        "BGISEQ-500",
        "MGISEQ-2000RS",
    ),
    "OXFORD_NANOPORE": (
        "MinION",
        "GridION",
        "PromethION",
        "unspecified",
    ),
    "PACBIO_SMRT": (
        "Onso",
        "PacBio RS",
        "PacBio RS II",
        "Revio",
        "Sequel",
        "Sequel II",
        "Sequel IIe",
        "Vega",
        "unspecified",
    ),
    "ION_TORRENT": (
        "Ion Torrent PGM",
        "Ion Torrent Proton",
        "Ion Torrent S5",
        "Ion Torrent S5 XL",
        "Ion Torrent Genexus",
        "Ion GeneStudio S5",
        "Ion GeneStudio S5 Prime",
        "Ion GeneStudio S5 Plus",
        "unspecified",
    ),
    "CAPILLARY": (
        "AB 3730xL Genetic Analyzer",
        "AB 3730 Genetic Analyzer",
        "AB 3500xL Genetic Analyzer",
        "AB 3500 Genetic Analyzer",
        "AB 3130xL Genetic Analyzer",
        "AB 3130 Genetic Analyzer",
        "AB 310 Genetic Analyzer",
        "unspecified",
    ),
    "DNBSEQ": (
        "DNBSEQ-T7",
        "DNBSEQ-G400",
        "DNBSEQ-G800",
        "DNBSEQ-G50",
        "DNBSEQ-G400 FAST",
        "DNBSEQ-T10x4RS",
        "unspecified",
    ),
    "ELEMENT": (
        "Element AVITI",
        "unspecified",
    ),
    "AVITI": (
        "AVITI 24",
        "unspecified",
    ),
    "ULTIMA": (
        "UG 100",
        "UG 200",
        "unspecified",
    ),
    "VELA_DIAGNOSTICS": (
        "Sentosa SQ301",
        "unspecified",
    ),
    "GENAPSYS": (
        "GENIUS",
        "Genapsys Sequencer",
        "GS111",
        "unspecified",
    ),
    "GENEMIND": (
        "GenoCare 1600",
        "GenoLab M",
        "FASTASeq 300",
        "unspecified",
    ),
    "TAPESTRI": (
        "Tapestri",
        "unspecified",
    ),
}
LIBRARY_STRATEGIES = (
    "WGS",
    "WGA",
    "WXS",
    "RNA-Seq",
    "ssRNA-seq",
    "snRNA-seq",
    "miRNA-Seq",
    "ncRNA-Seq",
    "FL-cDNA",
    "EST",
    "Hi-C",
    "ATAC-seq",
    "WCS",
    "RAD-Seq",
    "CLONE",
    "POOLCLONE",
    "AMPLICON",
    "CLONEEND",
    "FINISHING",
    "ChIP-Seq",
    "MNase-Seq",
    "DNase-Hypersensitivity",
    "Bisulfite-Seq",
    "CTS",
    "MRE-Seq",
    "MeDIP-Seq",
    "MBD-Seq",
    "Tn-Seq",
    "VALIDATION",
    "FAIRE-seq",
    "SELEX",
    "RIP-Seq",
    "ChIA-PET",
    "Synthetic-Long-Read",
    "Targeted-Capture",
    "Tethered Chromatin Conformation Capture",
    "NOMe-Seq",
    "ChM-Seq",
    "GBS",
    "Ribo-Seq",
    "OTHER",
)
LIBRARY_SOURCES = (
    "GENOMIC",
    "GENOMIC SINGLE CELL",
    "TRANSCRIPTOMIC",
    "TRANSCRIPTOMIC SINGLE CELL",
    "METAGENOMIC",
    "METATRANSCRIPTOMIC",
    "SYNTHETIC",
    "VIRAL RNA",
    "OTHER",
)
LIBRARY_SELECTIONS = (
    "RANDOM",
    "PCR",
    "RANDOM PCR",
    "RT-PCR",
    "HMPR",
    "MF",
    "repeat fractionation",
    "size fractionation",
    "MSLL",
    "cDNA",
    "cDNA_randomPriming",
    "cDNA_oligo_dT",
    "PolyA",
    "Oligo-dT",
    "Inverse rRNA",
    "Inverse rRNA selection",
    "ChIP",
    "ChIP-Seq",
    "MNase",
    "DNase",
    "Hybrid Selection",
    "Reduced Representation",
    "Restriction Digest",
    "5-methylcytidine antibody",
    "MBD2 protein methyl-CpG binding domain",
    "CAGE",
    "RACE",
    "MDA",
    "padlock probes capture method",
    "other",
    "unspecified",
)

# INSDC's terms for a value that is missing, and why (ENA checklists accept them).
INSDC_MISSING = (
    "not applicable",
    "not collected",
    "not provided",
    "restricted access",
    "missing: control sample",
    "missing: sample group",
    "missing: synthetic construct",
    "missing: lab stock",
    "missing: third party data",
    "missing: data agreement established pre-2023",
    "missing: endangered species",
    "missing: human-identifiable",
)

# ISO 8601 as ENA takes collection dates: a year, month or day, optionally a
# time, or a range of two such separated by "/".
_ISO_POINT = r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T\d{2}(:\d{2}(:\d{2})?)?Z?)?)?)?"
ISO_DATE = re.compile(rf"^{_ISO_POINT}(/{_ISO_POINT})?$")


def in_future(date: str, today: dt.date) -> bool:
    """Whether an ISO collection date (or range) starts after ``today``: a year
    or month counts from its first day, so "2026" is not in the future in 2026."""
    first = date.split("/", 1)[0][:10]
    parts = [int(p) for p in first.split("-") if p.isdigit()]
    if not parts:
        return False
    start = dt.date(parts[0], parts[1] if len(parts) > 1 else 1, 1)
    if len(parts) > 2:
        try:
            start = dt.date(parts[0], parts[1], parts[2])
        except ValueError:
            return False  # not a real day: the date checks name that
    return start > today


# Ontologies the bundle refers to, as ISA declares them.
ONTOLOGY_SOURCES = {
    "NCBITaxon": (
        "http://purl.obolibrary.org/obo/ncbitaxon.owl",
        "NCBI organismal classification",
    ),
    "OBI": ("http://purl.obolibrary.org/obo/obi.owl", "Ontology for Biomedical Investigations"),
}
OBI = "http://purl.obolibrary.org/obo/OBI_"
NCBI_TAXON = "http://purl.obolibrary.org/obo/NCBITaxon_"


@functools.lru_cache(maxsize=256)
def instrument_platform(model: str) -> str | None:
    """The ENA platform (``ILLUMINA`` ...) an instrument model belongs to."""
    for platform, models in INSTRUMENT_MODELS.items():
        if model in models and model != "unspecified":
            return platform
    return None


def canonical(value: str, allowed: tuple[str, ...]) -> str | None:
    """``value`` spelt as ``allowed`` spells it (case and spacing aside), or None."""
    key = " ".join(value.split()).casefold()
    for a in allowed:
        if a.casefold() == key:
            return a
    return None


def all_instrument_models() -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for models in INSTRUMENT_MODELS.values() for m in models))
