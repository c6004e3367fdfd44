"""StoreBioinfo datasets as SEEK data files: one per dataset subtype, linked
by the NeLS permalink that SEEK recognises (its ``nels_permalink_base``)."""

from __future__ import annotations

from dataclasses import dataclass

from nels_core.api import NelsApi


@dataclass(frozen=True)
class SbiSubtype:
    project_id: int
    dataset_id: int
    dataset: str  # the dataset's name
    description: str
    type: str  # the dataset type, e.g. Illumina_seq_data
    subtype: str  # e.g. reads, analysis
    size: int | None
    permalink: str

    @property
    def key(self) -> str:
        return f"sbi:{self.project_id}/{self.dataset_id}/{self.subtype}"


def sbi_subtypes(api: NelsApi, project_id: int) -> list[SbiSubtype]:
    """Every subtype of every dataset in a NeLS project's StoreBioinfo area."""
    out = []
    for listed in api.datasets(project_id):
        d = api.dataset(project_id, listed.id)  # only the single dataset lists subtype sizes
        for st in d.subtypes:
            out.append(
                SbiSubtype(
                    project_id,
                    d.id,
                    d.name,
                    d.description,
                    d.type,
                    st.type,
                    st.size,
                    api.permalink(project_id, d.id, st.type),
                )
            )
    return out
