"""Where things are in StoreBioinfo, and which SBI project a NeLS path is in.

A NeLS project and its SBI project are one project: same name, the folder
under ``Projects/`` being the name with spaces as ``-``. SBI's storage
listing takes paths ``Storebioinfo/<project folder>/<dataset>/<subtype>/...``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..errors import ApiError, NotFoundError
from ..model import Dataset, Membership
from ..paths import PROJECTS, project_folder_name

STORAGE_ROOT = "Storebioinfo"


class BelowSubtype:
    """A file's place below a dataset's subtype (``rel``, "/"-separated): the
    folder a transfer job names, and the file's name in it."""

    rel: str

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.rel)

    @property
    def name(self) -> str:
        return posixpath.basename(self.rel)


@dataclass(frozen=True)
class SbiFile:
    rel: str  # relative to the listed folder, "/"-separated
    size: int


def sbi_membership(api, project: str) -> Membership:
    """The SBI project named ``project`` (its name or its NeLS folder name),
    among the user's, with role and quota."""
    for p in api.sbi_projects():
        if project in (p.name, p.folder):
            return api.sbi_project(p.id)
    raise NotFoundError(f"no StoreBioinfo project {project!r} among yours")


def project_of(nels_path: str) -> str:
    """The project folder a NeLS path lies in, or an error saying it must be in one."""
    parts = nels_path.split("/")
    if len(parts) < 2 or parts[0] != PROJECTS or not parts[1]:
        raise NotFoundError(
            f"{nels_path!r} is not in a project: StoreBioinfo keeps project data "
            f"(nels://{PROJECTS}/<project>/...)"
        )
    return parts[1]


def find_dataset(api, project_id: int, name: str) -> Dataset | None:
    found = [d for d in api.datasets(project_id) if d.name == name]
    return found[0] if found else None


def storage_path(membership: Membership, dataset: Dataset, subtype: str, folder: str = "") -> str:
    parts = [STORAGE_ROOT, project_folder_name(membership.project.name), dataset.name, subtype]
    return "/".join(parts + ([folder] if folder else []))


def list_files(api, membership: Membership, dataset: Dataset, subtype: str, folder: str = ""):
    """Every file below ``folder`` of the subtype, recursively; [] when the
    folder is not there."""
    out: list[SbiFile] = []
    pending = [folder]
    while pending:
        here = pending.pop()
        path = storage_path(membership, dataset, subtype, here)
        try:
            elements = api.sbi_list(path, membership.project.id, dataset.id)
        except ApiError as e:
            if e.status == 404:
                continue
            raise
        for e in elements:
            rel = f"{here}/{e['name']}" if here else e["name"]
            if e.get("isFolder"):
                pending.append(rel)
            else:
                out.append(
                    SbiFile(
                        rel[len(folder) :].lstrip("/") if folder else rel, int(e.get("size") or 0)
                    )
                )
    return sorted(out, key=lambda f: f.rel)


def subtype_names(dataset: Dataset) -> list[str]:
    return [s.type for s in dataset.subtypes]
