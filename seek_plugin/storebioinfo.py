"""StoreBioinfo datasets as SEEK data files: one per dataset subtype, linked
by the NeLS permalink that SEEK recognises (its ``nels_permalink_base``).

A run archived into a subtype (``nels-bundle sbi archive`` puts it in a
folder of the run's name at the subtype's top) is found by that folder: the
subtype *holds* the run, and the run's own data files link to the subtype's
permalink as well (``seek_plugin.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass

from nels_core.api import NelsApi
from nels_core.errors import ApiError
from nels_core.sbi.places import storage_path


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
    holds: tuple[str, ...] = ()  # the folders at the subtype's top: runs archived there

    @property
    def key(self) -> str:
        return f"sbi:{self.project_id}/{self.dataset_id}/{self.subtype}"

    def label(self, run: str) -> str:
        """How a data file of ``run`` names its link to this subtype."""
        return f"StoreBioinfo {self.dataset}/{self.subtype}/{run}"


def sbi_subtypes(api: NelsApi, project_id: int) -> list[SbiSubtype]:
    """Every subtype of every dataset in a NeLS project's StoreBioinfo area,
    with the folders each holds at its top."""
    out = []
    membership = None
    for listed in api.datasets(project_id):
        d = api.dataset(project_id, listed.id)  # only the single dataset lists subtype sizes
        for st in d.subtypes:
            if membership is None:  # the storage listing's paths name the project's folder
                membership = api.sbi_project(project_id)
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
                    _folders(api, membership, d, st.type),
                )
            )
    return out


def _folders(api: NelsApi, membership, dataset, subtype: str) -> tuple[str, ...]:
    """The folders at the top of a subtype; none when it holds nothing yet."""
    try:
        elements = api.sbi_list(
            storage_path(membership, dataset, subtype), membership.project.id, dataset.id
        )
    except ApiError as e:
        if e.status == 404:  # an empty subtype has no folder in the store
            return ()
        raise
    return tuple(sorted(str(e["name"]) for e in elements if e.get("isFolder") and e.get("name")))
