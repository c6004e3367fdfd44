"""StoreBioinfo (SBI) on the user's pages: a project's datasets with their
sizes and the quota (the project's folder page), a dataset subtype's files,
and the forms that archive a run folder into SBI and stage SBI data back
into NeLS. Each form is checked as the job would check it
(``nels_core.sbi.plan_archive``, ``plan_stage``) before anything is
queued; what is wrong is said on the form, each reason naming what.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from nels_core.byte_names import from_text
from nels_core.checksums import is_checksum_file
from nels_core.delivery import SAMPLE_SHEET_NAMES
from nels_core.errors import ApiError, NelsError, ProblemsError
from nels_core.model import Dataset, Membership
from nels_core.paths import PROJECTS, normalise
from nels_core.redact import visible
from nels_core.sbi import StageRefused, parse_sbi_uri, plan_archive, plan_stage
from nels_core.sbi.places import storage_path

from .context import (
    current_user,
    home,
    jobs,
    login_required,
    nels_answer,
    nels_api,
    nels_secret,
    sbi_project_for,
)
from .nels_views import HIDDEN, may_write
from .wording import told

bp = Blueprint("sbi", __name__)
DEFAULT_TYPE = "Illumina_seq_data"
DEFAULT_SUBTYPE = "reads"


@bp.app_template_filter("sbi_name")
def sbi_name(text) -> str:
    """A name from NeLS or SBI as it is: control characters shown as escapes
    (markup is escaped by the templates)."""
    return visible(str(text))


@dataclass
class SbiSection:
    """What a folder's page says of StoreBioinfo."""

    project_id: int | None = None
    membership: Membership | None = None
    datasets: list[Dataset] = field(default_factory=list)  # with subtype sizes
    top: bool = False  # the project's own folder: the datasets and quota are listed
    run: bool = False  # a run folder: it may be archived
    may_archive: bool = False
    unreachable: str = ""  # SBI did not answer: said, the page stands


@bp.app_template_global()
def sbi_section(path: str, page) -> SbiSection | None:
    """StoreBioinfo for a folder's page: None outside a project or without
    SBI; never an error page (SBI's faults are said in the section)."""
    parts = path.split("/")
    if len(parts) < 2 or parts[0] != PROJECTS:
        return None
    section = SbiSection(top=len(parts) == 2, run=_is_run_folder(page))
    if not (section.top or section.run):
        return None
    try:
        pid = sbi_project_for(path)
        if pid is None:
            return None
        section.project_id = pid
        if section.top:
            section.membership = _membership(pid)
            section.datasets = _datasets(pid)
    except NelsError as e:
        current_app.logger.warning("StoreBioinfo for %s: %s", path, e)
        section.unreachable = told(e)
    section.may_archive = section.run and may_write(path)
    return section


def _is_run_folder(page) -> bool:
    """A delivery's run folder: a sample sheet and a checksum file in it."""
    names = {e.name for e in page.entries if not e.is_dir}
    return bool(names & set(SAMPLE_SHEET_NAMES)) and any(is_checksum_file(n) for n in names)


def _membership(pid: int) -> Membership:
    return nels_answer(("sbi_project", pid), lambda: nels_api().sbi_project(pid))


def _datasets(pid: int) -> list[Dataset]:
    """The project's datasets, each read alone: only then does SBI give subtype sizes."""
    listed = nels_answer(("datasets", pid), lambda: nels_api().datasets(pid))
    return [
        nels_answer(("dataset", pid, d.id), lambda d=d: nels_api().dataset(pid, d.id))
        for d in sorted(listed, key=lambda d: d.name.casefold())
    ]


# --- archive ---------------------------------------------------------------------


@dataclass
class ArchiveForm:
    path: str
    dataset: str
    type: str
    subtype: str


@bp.get("/sbi/archive/<path:path>")
@login_required
def archive_form(path):
    path = _run_path(path)
    form = ArchiveForm(path, posixpath.basename(path), DEFAULT_TYPE, DEFAULT_SUBTYPE)
    return _archive_page(form, [])


@bp.post("/sbi/archive")
@login_required
def archive():
    path = _run_path(request.form.get("path", ""))
    form = ArchiveForm(
        path,
        request.form.get("dataset", "").strip(),
        request.form.get("type", "").strip(),
        request.form.get("subtype", "").strip(),
    )
    asked = {"dataset name": form.dataset, "dataset type": form.type, "subtype": form.subtype}
    empty = [what for what, value in asked.items() if not value]
    if empty:
        return _archive_page(form, [f"Give the {what}." for what in empty], 400)
    try:  # what the job would refuse, refused here: nothing queued, nothing moved
        plan_archive(
            home(),
            nels_api(),
            path,
            dataset=form.dataset,
            dataset_type=form.type,
            subtype=form.subtype,
        )
    except HIDDEN:
        abort(404)
    except ProblemsError as e:
        return _archive_page(form, list(e.problems), 400)
    except NelsError as e:
        return _archive_page(form, [told(e)], 400)
    params = {"path": path, "dataset": form.dataset, "type": form.type, "subtype": form.subtype}
    subject = f"Archive {path} to StoreBioinfo ({form.dataset}/{form.subtype})"
    job = jobs().start(current_user().id, "sbi_archive", subject, params, nels_secret())
    return redirect(url_for("seek.job", job_id=job))


def _run_path(given: str) -> str:
    """A folder of the user's in a project that they may archive; 404 for any other."""
    try:
        path = normalise(from_text(given))
        home().list(path, limit=0)
    except HIDDEN:
        abort(404)
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != PROJECTS:
        abort(404)
    if not may_write(path):
        abort(403, "Read-only members and locked projects cannot archive to StoreBioinfo.")
    return path


def _archive_page(form: ArchiveForm, problems: list[str], status: int = 200):
    pid = sbi_project_for(form.path)
    types, datasets = [], []
    if pid is not None:
        api = nels_api()
        types = [
            str(t.get("name"))
            for t in nels_answer(("dataset_types",), api.dataset_types)
            if t.get("name")
        ]
        datasets = nels_answer(("datasets", pid), lambda: api.datasets(pid))
    page = render_template(
        "sbi_archive.html",
        form=form,
        problems=problems,
        types=sorted(set(types) | {form.type} - {""}),
        datasets=datasets,
        has_sbi=pid is not None,
    )
    return page, status


# --- a subtype's files, staged back ----------------------------------------------


@dataclass
class SbiFolder:
    membership: Membership
    dataset: Dataset
    subtype: str
    path: str  # inside the subtype, "" for its top

    @property
    def uri(self) -> str:
        p = self.membership.project
        tail = f"/{self.path}" if self.path else ""
        return f"sbi://{p.name}/{self.dataset.name}/{self.subtype}{tail}"


@bp.get("/sbi/<int:project_id>/<int:dataset_id>/<subtype>/", defaults={"path": ""})
@bp.get("/sbi/<int:project_id>/<int:dataset_id>/<subtype>/<path:path>")
@login_required
def folder(project_id, dataset_id, subtype, path):
    where = _sbi_folder(project_id, dataset_id, subtype, path)
    return _folder_page(where, _default_target(where), [])


@bp.post("/sbi/stage")
@login_required
def stage():
    where = _sbi_folder(
        request.form.get("project_id", type=int) or 0,
        request.form.get("dataset_id", type=int) or 0,
        request.form.get("subtype", ""),
        request.form.get("sbi_path", ""),
    )
    given = request.form.get("target", "").strip()
    if not given:
        return _folder_page(where, given, ["Give the NeLS folder to stage into."], 400)
    try:
        target = normalise(from_text(given)).rstrip("/")
        if home().exists(target) and not home().stat(target).is_dir:
            # said here: plan_stage goes on to look inside it, which a file has not
            raise StageRefused([f"{target!r} is a file, not a folder to stage into"])
        plan_stage(home(), nels_api(), where.uri, target)
    except ProblemsError as e:
        return _folder_page(where, given, list(e.problems), 400)
    except NelsError as e:
        return _folder_page(where, given, [told(e)], 400)
    params = {"path": target, "source": where.uri}
    subject = f"Stage {where.uri} back to NeLS {target}"
    job = jobs().start(current_user().id, "sbi_stage", subject, params, nels_secret())
    return redirect(url_for("seek.job", job_id=job))


def _sbi_folder(project_id: int, dataset_id: int, subtype: str, path: str) -> SbiFolder:
    """A folder of one of the user's SBI datasets; 404 for anything else."""
    mine = nels_answer(("sbi_projects",), lambda: nels_api().sbi_projects())
    if project_id not in {p.id for p in mine}:
        abort(404)
    try:
        membership = _membership(project_id)
        dataset = nels_api().dataset(project_id, dataset_id)
    except ApiError as e:
        if e.status in (403, 404):
            abort(404)
        raise
    if subtype not in {s.type for s in dataset.subtypes}:
        abort(404)
    where = SbiFolder(membership, dataset, subtype, path.strip("/"))
    try:
        parse_sbi_uri(where.uri)  # ".", ".." and NUL refused
    except NelsError:
        abort(404)
    return where


def _listing(where: SbiFolder) -> list[dict] | None:
    """The folder's entries, folders first; None when SBI has nothing there."""
    p = where.membership.project
    try:
        elements = nels_api().sbi_list(
            storage_path(where.membership, where.dataset, where.subtype, where.path),
            p.id,
            where.dataset.id,
        )
    except ApiError as e:
        if e.status == 404:
            return None
        raise
    return sorted(
        elements, key=lambda e: (not e.get("isFolder"), str(e.get("name", "")).casefold())
    )


def _default_target(where: SbiFolder) -> str:
    return f"{PROJECTS}/{where.membership.project.folder}"


def _folder_page(where: SbiFolder, target: str, problems: list[str], status: int = 200):
    entries = _listing(where)
    if entries is None and where.path:
        abort(404)
    crumbs = []
    parts = where.path.split("/") if where.path else []
    for i, name in enumerate(parts):
        crumbs.append((name, "/".join(parts[: i + 1])))
    page = render_template(
        "sbi_folder.html",
        where=where,
        entries=entries or [],
        crumbs=crumbs,
        target=target,
        problems=problems,
        may_stage=bool(entries),
    )
    return page, status
