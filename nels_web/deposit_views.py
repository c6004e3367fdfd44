"""The deposit page of a NeLS folder: its metadata sheet, what ENA and
BioStudies already hold of it, and deposits started as background jobs
whose receipts the job page shows.

Archive passwords are used for the one job they were given for and never
stored: not in the database, not in the job's record, not in a log.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import replace
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from nels_core.byte_names import from_text
from nels_core.connect import build_home
from nels_core.deposit.checklists import EnaChecklists
from nels_core.deposit.embargo import release_of
from nels_core.deposit.record import ACCESSION_COLUMNS
from nels_core.deposit.rules import CONTROLLED_ACCESS
from nels_core.errors import NelsError
from nels_core.isa.export import NO_SHEET, describe, nels_project
from nels_core.isa.folder_sheet import FolderSheets, SheetUnchanged, SheetVersion
from nels_core.isa.kept_bundles import is_kept_bundle, kept_bundles
from nels_core.isa.mapping import identifier_for
from nels_core.isa.sheet import read_sheet, write_template
from nels_core.paths import normalise

from .context import (
    current_user,
    described,
    home,
    jobs,
    login_required,
    nels_secret,
    nels_settings,
    nels_token,
    seek_accounts,
)
from .deposit_jobs import (
    BioStudiesRequest,
    EnaRequest,
    deposit_params,
    hold_range,
)
from .deposits import SHEET_SUFFIXES, DepositFolder
from .nels_views import HIDDEN, may_write, refuse_roots, refuse_without_data
from .seek_views import seek_link_request
from .wording import counted

bp = Blueprint("deposit", __name__)
HISTORY_SHOWN = 10  # sheet versions listed on the page; `nels-bundle isa sheet log` has all


@bp.get("/deposit/<path:path>")
@login_required
def page(path):
    folder = _folder(path)
    refuse_without_data(folder.path)  # nothing to deposit: said, not offered
    project = nels_project(home(), folder.path) or {}
    sheets = FolderSheets(home(), folder.path)
    sheet_log = sheets.log(HISTORY_SHOWN)  # one listing; the newest is the folder's sheet
    sheet = sheet_log[0] if sheet_log else None
    return render_template(
        "deposit.html",
        path=folder.path,
        project=project,
        refused=CONTROLLED_ACCESS if project.get("sensitive") else "",
        may_write=may_write(folder.path),
        records=[replace(r, server=_offered_name(r)) for r in folder.records()],
        receipts=folder.receipts(),
        sheet=sheet,
        sheet_log=sheet_log,
        kept=kept_bundles(home(), folder.path),
        ena_servers=list(current_app.config["ENA_SERVERS"]),
        biostudies_servers=list(current_app.config["BIOSTUDIES_SERVERS"]),
        hold_range=hold_range(),
        seek_accounts=seek_accounts(),
        release=_release(sheets, sheet),
        checklists=EnaChecklists(current_app.config["ENA_CHECKLIST_DIR"]).available(),
    )


def _release(sheets: FolderSheets, sheet: SheetVersion | None) -> str:
    """When ENA would make the data public, from the folder's sheet, before any deposit."""
    investigation, studies = "", {}
    if sheet is not None:
        try:
            sections = sheets.sections(sheet)
        except NelsError:
            return ""  # the upload form says what is wrong with it
        for row in getattr(sections.get("Investigation"), "rows", []):
            if row.cells.get("field") == "public release date":
                investigation = row.cells.get("value", "")
        for row in getattr(sections.get("Studies"), "rows", []):
            name = row.cells.get("identifier") or row.cells.get("study", "")
            studies[name] = row.cells.get("public release date", "")
    sentence = release_of(investigation, studies).sentence(form=True)
    return sentence[:1].upper() + sentence[1:] + "."


@bp.get("/deposits/sheet")
@login_required
def sheet_template():
    """The folder's metadata sheet: the uploaded one's values kept, new samples added."""
    folder = _folder(request.args.get("path", ""))
    suffix = ".xlsx" if request.args.get("format") == "xlsx" else ".tsv"
    rules = None
    if request.args.get("checklist"):
        try:
            rules = EnaChecklists(current_app.config["ENA_CHECKLIST_DIR"]).get(
                request.args["checklist"]
            )
        except NelsError as e:
            flash(f"No sheet for that checklist: {e}", "error")
            return redirect(url_for("deposit.page", path=folder.path))
    try:
        inv, _ = _describe(folder)
    except NelsError as e:  # the folder's sheet no longer fits the data
        flash(f"The folder's sheet could not be applied: {e}", "error")
        inv, _ = _describe(folder, NO_SHEET)
    with tempfile.TemporaryDirectory() as tmp:
        written = write_template(inv, Path(tmp) / f"metadata{suffix}", rules)
        data = written.read_bytes()
    name = f"{identifier_for(folder.path)}-metadata{suffix}"
    return Response(
        data,
        mimetype="text/tab-separated-values" if suffix == ".tsv" else "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/deposits/sheet")
@login_required
def sheet_upload():
    folder = _folder(request.form.get("path", ""), deposit=True)
    upload = request.files.get("sheet")
    suffix = Path(upload.filename or "").suffix.lower() if upload else ""
    if suffix == ".txt":
        suffix = ".tsv"
    if suffix not in SHEET_SUFFIXES:
        flash("Upload the metadata sheet as .tsv or .xlsx.", "error")
        return redirect(url_for("deposit.page", path=folder.path))
    back = redirect(url_for("deposit.page", path=folder.path))
    shown = Path(upload.filename or "sheet").name  # messages name the user's file
    try:  # a new version only for a sheet that applies cleanly
        with tempfile.TemporaryDirectory(prefix="nels-upload-") as tmp:
            received = Path(tmp) / f"sheet{suffix}"
            upload.save(received)
            sections = read_sheet(received, shown)
        _, issues = _describe(folder, sections)
        version = FolderSheets(home(), folder.path).put(sections, shown)
    except SheetUnchanged:
        flash("The sheet says what the folder's sheet already says: nothing saved.", "ok")
        return back
    except NelsError as e:
        flash(f"The sheet was not saved: {e}", "error")
        return back
    missing = [str(i) for i in issues if i.code == "missing-metadata"]
    flash(f"Sheet saved in NeLS as {version.name}{_what_changed(version)}.", "ok")
    if missing:
        flash("Still missing:\n" + "\n".join(missing), "note")
    cleared = [c for c in version.changes if c.endswith("-> ''")]
    if cleared:
        flash(
            f"This version clears {counted(len(cleared), 'value')} the one before gave, such as "
            f"{cleared[0]}. Every version is kept: download an earlier one from the history "
            "to restore it.",
            "error",
        )
    return back


def _what_changed(version: SheetVersion) -> str:
    if version.changes[:1] and version.changes[0].startswith("first version"):
        return ", the folder's first"
    return f" ({counted(len(version.changes), 'change')})"


@bp.get("/deposits/sheet-version")
@login_required
def sheet_version():
    """One saved version of the folder's sheet, as it was saved (to restore it)."""
    folder = _folder(request.args.get("path", ""))
    sheets = FolderSheets(home(), folder.path)
    name = request.args.get("name", "")
    if name not in sheets.names():
        abort(404)
    data = home().read_bytes(f"{sheets.folder}/{name}")
    return Response(
        data,
        mimetype="text/tab-separated-values",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/deposits/ena")
@login_required
def ena():
    folder = _folder(request.form.get("path", ""), deposit=True)
    refuse_without_data(folder.path)  # no job for a folder without data
    back = redirect(url_for("deposit.page", path=folder.path))
    form = request.form
    try:
        ask = EnaRequest.from_form(form, current_app.config)
        link = seek_link_request(form)
    except ValueError as e:
        flash(str(e), "error")
        return back
    params, secrets = deposit_params(folder, ask, link)
    subject = f"nels://{folder.path} to ENA ({ask.server}{', dry run' if ask.dry_run else ''})"
    job = jobs().start(current_user().id, "ena", subject, params, {**secrets, **nels_secret()})
    return redirect(url_for("seek.job", job_id=job))


@bp.post("/deposits/biostudies")
@login_required
def biostudies():
    folder = _folder(request.form.get("path", ""), deposit=True)
    refuse_without_data(folder.path)  # no job for a folder without data
    try:
        ask = BioStudiesRequest.from_form(request.form, current_app.config)
        link = seek_link_request(request.form)
    except ValueError as e:
        flash(str(e), "error")
        return redirect(url_for("deposit.page", path=folder.path))
    params, secrets = deposit_params(folder, ask, link)
    subject = f"nels://{folder.path} to BioStudies ({ask.server})"
    job = jobs().start(
        current_user().id, "biostudies", subject, params, {**secrets, **nels_secret()}
    )
    return redirect(url_for("seek.job", job_id=job))


@bp.get("/deposits/receipt")
@login_required
def receipt():
    folder = _folder(request.args.get("path", ""))
    stored = folder.receipt(request.args.get("name", ""))
    if stored is None:
        abort(404)
    kind = "application/xml" if stored.suffix == ".xml" else "application/json"
    return send_file(stored, mimetype=kind)


@bp.get("/deposits/kept")
@login_required
def kept():
    """A bundle kept beside the data, streamed from NeLS; nothing else from there."""
    folder = _folder(request.args.get("path", ""))
    name = request.args.get("name", "")
    found = [e for e in kept_bundles(home(), folder.path) if e.name == name]
    if not found or not is_kept_bundle(found[0].path):
        abort(404)
    entry = found[0]
    return Response(
        _streamed(entry.path),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{entry.name}"',
            "Content-Length": str(entry.size),
        },
    )


def _streamed(path: str):
    """A file's bytes from NeLS through a home of their own, closed when the
    last is sent: the request's own home is closed before the body is."""
    own = build_home(nels_settings(nels_token(current_user())))

    def chunks():
        try:
            yield from own.read_chunks(path)
        finally:
            own.close()

    return chunks()


@bp.get("/deposits/accessions.tsv")
@login_required
def accessions():
    folder = _folder(request.args.get("path", ""))
    text = io.StringIO()
    table = csv.writer(text, delimiter="\t", lineterminator="\n")
    table.writerow(ACCESSION_COLUMNS)
    table.writerows(folder.accession_rows())
    name = f"{identifier_for(folder.path)}-accessions.tsv"
    return Response(
        text.getvalue(),
        mimetype="text/tab-separated-values",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _folder(path: str, deposit: bool = False) -> DepositFolder:
    """The folder's deposits, for a user who can see it (and deposit, if asked)."""
    try:
        path = normalise(from_text(path))
        home().list(path, limit=0)
    except HIDDEN:
        abort(404)
    refuse_roots(path)  # the home and its roots are no one investigation's folder
    if deposit and not may_write(path):
        abort(403)
    return DepositFolder.of(current_app.config["WORK_DIR"], path)


def _offered_name(record) -> str:
    """A record's server as the forms name it ("test"), not the address it stands for."""
    key = "ENA_SERVERS" if record.archive == "ena" else "BIOSTUDIES_SERVERS"
    names = {target: name for name, target in current_app.config[key].items()}
    return names.get(record.server, record.server)


def _describe(folder: DepositFolder, sheet=None):
    """The folder as ISA, through the user's home (NeLS's rules), with a sheet
    applied: the folder's own (kept a short while) unless another is given."""
    path = folder.path
    if sheet is None:
        return described(path)
    return describe(home(), path, f"nels://{path}", identifier_for(path), sheet)
