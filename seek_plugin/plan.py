"""What SEEK should hold for an ISA description: one planned record per item.

Items are keyed by what they are in NeLS (``study:NorSeq/run1``,
``data_file:NorSeq/run1/Liver-1``), never by SEEK ids, and listed parents
first, so each can refer to earlier ones by key. The records:
- the investigation, one study per study, one assay per assay;
- one data file per sample: its read files, each a remote content blob at
  its NeLS location (SEEK links NeLS data, it never copies it);
- a sample type from the sample columns the metadata sheet filled, and one
  sample per sample, linked to its assay.
A run archived in StoreBioinfo gives its data files a second link, to the
subtype's permalink: a SEEK discussion link (label and URL), as archive
accessions are (``seek_plugin.accessions``). SEEK takes those on a PATCH
too, so a data file pushed before the run was archived gets it on the next
push; its content blobs cannot change after creation (dataFilePatch has no
``content_blobs``: new content is a new version). A link in the description
would be plain text mixed into what researchers write there.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from nels_core.isa.model import GENOME, METAGENOME, TRANSCRIPTION, InvestigationRecord
from nels_core.isa.rocrate import file_id

from .accessions import ENA_VIEW

JERM = "http://jermontology.org/ontology/JERMOntology#"
# SEEK annotates assays with JERM; ours come from the ISA measurement type
ASSAY_TYPES = {
    GENOME.label: ("Genomics", "Next_generation_sequencing"),
    TRANSCRIPTION.label: ("Transcriptomics", "RNA-Seq"),
    METAGENOME.label: ("Metagenomics", "Next_generation_sequencing"),
}
CREATE_ONLY = ("policy", "content_blobs")  # a change to these is not a PATCH in SEEK
SAMPLE_TYPE_KEY = "sample_type"
# sample type attributes every push has; characteristics follow
FIXED_COLUMNS = (
    "sample name",
    "source name",
    "organism",
    "ncbi taxon",
    "library strategy",
    "library source",
    "library selection",
    "library layout",
    "instrument",
)


@dataclass(frozen=True)
class Ref:
    """A reference to another planned item, resolved to its SEEK id at push time."""

    key: str


@dataclass
class Planned:
    key: str
    kind: str
    title: str
    attributes: dict
    relationships: dict = field(default_factory=dict)  # name -> id | Ref | [id | Ref]
    # (label, url) the record links to besides its content: SEEK's discussion links
    links: tuple[tuple[str, str], ...] = ()

    def refs(self) -> list[Ref]:
        out = []
        for value in self.relationships.values():
            out += [
                v for v in (value if isinstance(value, list) else [value]) if isinstance(v, Ref)
            ]
        return out


def default_description(inv: InvestigationRecord) -> str:
    """What the investigation says in SEEK when nobody described it (a pull
    knows it as ours, not as an edit made in SEEK)."""
    return f"ISA description of {inv.location}"


def policy_for(project_id: str, access: str = "edit") -> dict:
    """Private to the world, ``access`` for the SEEK project's members."""
    return {
        "access": "no_access",
        "permissions": [
            {"resource": {"type": "projects", "id": str(project_id)}, "access": access}
        ],
    }


def plan(
    inv: InvestigationRecord, project_id: str, policy: dict | None = None, sbi=()
) -> list[Planned]:
    """``sbi``: StoreBioinfo dataset subtypes (:class:`~.storebioinfo.SbiSubtype`) to link too."""
    policy = policy or policy_for(project_id)
    projects = [str(project_id)]
    items = [
        Planned(
            "investigation",
            "investigations",
            inv.title or inv.identifier,
            {
                "title": inv.title or inv.identifier,
                "description": inv.description or default_description(inv),
                "policy": policy,
            },
            {"projects": projects},
        )
    ]
    archived = _archived_in(sbi)
    sample_assay: dict[str, str] = {}  # sample key -> its assay's key
    study_assays: dict[str, list[str]] = {}  # study identifier or folder name -> assay keys
    for study in inv.studies:
        skey = f"study:{study.key or '.'}"
        items.append(
            Planned(
                skey,
                "studies",
                study.title or study.identifier,
                {
                    "title": study.title or study.identifier,
                    "description": study.description or None,
                    "policy": policy,
                },
                {"investigation": Ref("investigation")},
            )
        )
        for assay in study.assays():
            akey = f"assay:{study.key or '.'}/{assay.filename}"
            for name in {study.identifier, posixpath.basename(study.key)} - {""}:
                study_assays.setdefault(name, []).append(akey)
            assay_type, technology = ASSAY_TYPES.get(
                assay.measurement.label, ("Experimental_assay_type", "Technology_type")
            )
            items.append(
                Planned(
                    akey,
                    "assays",
                    f"{study.identifier}: {assay.measurement.label}",
                    {
                        "title": f"{study.identifier}: {assay.measurement.label}",
                        "description": f"{len(assay.samples)} samples, "
                        f"{assay.platform or 'sequencing'}",
                        "assay_class": {"key": "EXP"},
                        "assay_type": {"uri": JERM + assay_type},
                        "technology_type": {"uri": JERM + technology},
                        "policy": policy,
                    },
                    {"study": Ref(skey)},
                )
            )
            for s in assay.samples:
                sample_assay[_sample_key(study.key, s.name)] = akey
                files = s.files()
                items.append(
                    Planned(
                        f"data_file:{_sample_key(study.key, s.name)}",
                        "data_files",
                        f"{s.name} reads ({study.identifier})",
                        {
                            "title": f"{s.name} reads ({study.identifier})",
                            "description": f"{len(files)} read files of sample {s.name}, "
                            f"{s.library.layout.lower() or 'single'}-end{_kept_in(files)}",
                            "content_blobs": [
                                {
                                    "url": file_id(f),
                                    "original_filename": posixpath.basename(f.path),
                                    "content_type": "application/gzip"
                                    if f.path.endswith(".gz")
                                    else "text/plain",
                                }
                                for f in files
                            ],
                            "policy": policy,
                        },
                        {"projects": projects, "assays": [Ref(akey)]},
                        _sbi_links(archived, _run_name(inv, study)),
                    )
                )
    items += _sbi_items(inv, sbi, projects, policy, study_assays)
    samples = inv.samples()
    if samples:
        columns = sample_columns(inv)
        items.append(
            Planned(
                SAMPLE_TYPE_KEY,
                "sample_types",
                f"{inv.identifier} samples",
                {
                    "title": f"{inv.identifier} samples",
                    "description": f"Samples of {inv.location}, described by nels-bundle",
                    "sample_attributes": [
                        {
                            "title": c,
                            "sample_attribute_type": {"title": "String"},
                            "required": i == 0,
                            "is_title": i == 0,
                            "pos": i + 1,
                        }
                        for i, c in enumerate(columns)
                    ],
                },
                {
                    "projects": projects,
                    "assays": sorted({Ref(k) for k in sample_assay.values()}, key=lambda r: r.key),
                },
            )
        )
        for s in samples:
            key = _sample_key(s.study, s.name)
            items.append(
                Planned(
                    f"sample:{key}",
                    "samples",
                    s.name,
                    {"attribute_map": sample_values(s, columns), "policy": policy},
                    {
                        "sample_type": Ref(SAMPLE_TYPE_KEY),
                        "projects": projects,
                        "assays": [Ref(sample_assay[key])],
                    },
                )
            )
    return items


def _kept_in(files) -> str:
    """Where the read files are kept, as the data file's description says it."""
    if files and all(f.location.startswith("nels://") for f in files):
        return ", in NeLS"
    if files and all(f.location.startswith(ENA_VIEW) for f in files):
        return ", in ENA"
    return ""


def _sbi_items(inv, sbi, projects, policy, study_assays) -> list[Planned]:
    """One data file per StoreBioinfo subtype; with the assays of the study of the
    same name (a run synced to StoreBioinfo keeps its folder's name)."""
    out = []
    for st in sbi:
        assays = study_assays.get(st.dataset, [])
        out.append(
            Planned(
                st.key,
                "data_files",
                f"{st.dataset}: {st.subtype}",
                {
                    "title": f"{st.dataset}: {st.subtype}",
                    "description": st.description
                    or f"StoreBioinfo dataset {st.dataset} ({st.type}), subtype {st.subtype}",
                    "content_blobs": [
                        {
                            "url": st.permalink,
                            "original_filename": f"{st.dataset}-{st.subtype}",
                            "content_type": "application/octet-stream",
                        }
                    ],
                    "policy": policy,
                },
                {"projects": projects, "assays": [Ref(k) for k in assays]},
            )
        )
    return out


def _archived_in(sbi) -> dict[str, list]:
    """Run folder name -> the StoreBioinfo subtypes holding a folder of that name."""
    out: dict[str, list] = {}
    for st in sbi:
        for run in getattr(st, "holds", ()):
            out.setdefault(run, []).append(st)
    return out


def _run_name(inv: InvestigationRecord, study) -> str:
    """The name of the folder a study came from (the pushed folder itself for its top)."""
    key = study.key.strip("/")
    if key and key != ".":
        return posixpath.basename(key)
    return posixpath.basename(inv.location.rstrip("/"))


def _sbi_links(archived: dict[str, list], run: str) -> tuple[tuple[str, str], ...]:
    return tuple((st.label(run), st.permalink) for st in archived.get(run, ()))


def _sample_key(study_key: str, name: str) -> str:
    return f"{study_key or '.'}/{name}"


def sample_columns(inv: InvestigationRecord) -> list[str]:
    """The sample type's attributes: fixed ones, then every characteristic used."""
    fixed = list(FIXED_COLUMNS)
    seen = dict.fromkeys(k for s in inv.samples() for k in s.characteristics)
    return fixed + [k for k in seen if k not in fixed]


def sample_values(s, columns: list[str]) -> dict:
    organism, lib = s.organism, s.library
    values = {
        "sample name": s.name,
        "source name": s.source,
        "organism": organism.label if organism else None,
        "ncbi taxon": organism.accession if organism and organism.accession else None,
        "library strategy": lib.strategy or None,
        "library source": lib.source or None,
        "library selection": lib.selection or None,
        "library layout": lib.layout or None,
        "instrument": s.instrument or None,
        **s.characteristics,
    }
    # SEEK keys attribute_map by the sample type's attribute titles
    return {c: values.get(c) for c in columns}
