"""End to end against a real Galaxy 26.1.2 started from .venv-galaxy.

Galaxy reaches the NeLS sandbox API and the real sshd; a normal user drives
it through bioblend: browse NeLS, import a FASTQ through a job, export a
history to a project, and meet the NeLS rules through Galaxy's API. Our
tools (``tool_xml/``) are installed in it, their requirement resolved to this
environment: planemo runs their own tests there, and bioblend runs them as a
user would.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from conftest import need
from galaxy_stack import TOOL_XML, TOOLS, wait_for

pytestmark = [pytest.mark.galaxy_server, pytest.mark.slow]

bioblend = need("bioblend", "dev")
from bioblend.galaxy import GalaxyInstance  # noqa: E402

NELS = "gxfiles://nels"  # the sample source's id: how Galaxy names NeLS


@pytest.fixture(scope="module")
def stack(galaxy_stack):
    return galaxy_stack


def galaxy_user(stack, name: str) -> GalaxyInstance:
    """A normal Galaxy user whose NeLS token sits in their preferences (vault)."""
    from test_api_client import sign_in

    api, galaxy = stack.api, stack.galaxy
    admin = GalaxyInstance(galaxy.url, key=galaxy.admin_key)
    email = f"{name}@example.org"
    found = admin.users.get_users(f_email=email)
    user = found[0] if found else admin.users.create_local_user(name, email, "a-long-password-1")
    key = admin.users.get_or_create_user_apikey(user["id"])
    token = sign_in(api, name, f"{name}-pw").tokens.access_token
    gi = GalaxyInstance(galaxy.url, key=key)
    # raises unless Galaxy accepted it
    gi.make_put_request(
        f"{galaxy.url}/api/users/{user['id']}/information/inputs",
        payload={"nels|access_token": token},
    )
    return gi


def remote_files(gi: GalaxyInstance, target: str, **params):
    return gi.make_get_request(
        f"{gi.base_url}/api/remote_files", params={"target": target, "format": "uri", **params}
    )


def wait_ok(gi: GalaxyInstance, dataset_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = gi.datasets.show_dataset(dataset_id)
        if d["state"] in ("ok", "error", "failed_metadata"):
            return d
        time.sleep(1)
    jobs = gi.jobs.get_jobs(full_details=True)
    raise AssertionError(f"dataset {dataset_id} still {d['state']}; jobs: {jobs}")


def test_user_browses_their_nels_projects(stack):
    gi = galaxy_user(stack, "bob")
    r = remote_files(gi, f"{NELS}/Projects")
    assert r.status_code == 200, r.text
    assert [(e["name"], e["uri"]) for e in r.json()] == [
        ("Locked_2020 [locked]", f"{NELS}/Projects/Locked_2020"),
        ("UiB Test Project", f"{NELS}/Projects/UiB-Test-Project"),
    ]
    page = remote_files(gi, f"{NELS}/Projects/UiB-Test-Project/raw", limit=1, query="liver")
    assert page.status_code == 200 and [e["name"] for e in page.json()] == [
        "Liver-1_S1_L001_R1_001.fastq.gz"
    ]


def test_non_member_does_not_see_the_project(stack):
    gi = galaxy_user(stack, "erin")
    assert remote_files(gi, f"{NELS}/Projects").json() == []
    r = remote_files(gi, f"{NELS}/Projects/UiB-Test-Project")
    assert r.status_code == 404, r.text


def test_fetch_imports_a_fastq_from_nels_through_a_job(stack):
    cast = stack.cast
    gi = galaxy_user(stack, "bob")
    history = gi.histories.create_history("from NeLS")
    uri = f"{NELS}/Projects/UiB-Test-Project/raw/Liver-1_S1_L001_R1_001.fastq.gz"
    payload = {
        "history_id": history["id"],
        "targets": [
            {
                "destination": {"type": "hdas"},
                "elements": [{"src": "url", "url": uri, "ext": "auto"}],
            }
        ],
    }
    r = gi.make_post_request(f"{gi.base_url}/api/tools/fetch", payload=payload)
    output = r["outputs"][0]
    d = wait_ok(gi, output["id"])
    assert d["state"] == "ok", d.get("misc_info")
    assert d["extension"] in ("fastqsanger.gz", "fastq.gz", "fastqsanger")
    got = gi.datasets.download_dataset(
        output["id"], use_default_filename=False, require_ok_state=True
    )
    stored = cast.world.project_dir(cast.project) / "raw" / "Liver-1_S1_L001_R1_001.fastq.gz"
    assert gzip.decompress(got) == gzip.decompress(stored.read_bytes())


def test_history_export_lands_in_the_project_and_members_cannot_overwrite(stack):
    cast, galaxy = stack.cast, stack.galaxy
    gi = galaxy_user(stack, "bob")
    history = gi.histories.create_history("to NeLS")
    pasted = gi.make_post_request(
        f"{gi.base_url}/api/tools/fetch",
        payload={
            "history_id": history["id"],
            "targets": [
                {
                    "destination": {"type": "hdas"},
                    "elements": [
                        {
                            "src": "pasted",
                            "paste_content": "some result\n",
                            "ext": "txt",
                            "name": "result",
                        }
                    ],
                }
            ],
        },
    )
    assert wait_ok(gi, pasted["outputs"][0]["id"])["state"] == "ok"
    target = f"{NELS}/Projects/UiB-Test-Project/galaxy/history.tar.gz"

    def export() -> str:
        task = gi.make_post_request(
            f"{gi.base_url}/api/histories/{history['id']}/write_store",
            payload={"target_uri": target, "model_store_format": "tar.gz"},
        )["id"]

        def state():
            got = gi.make_get_request(f"{gi.base_url}/api/tasks/{task}/state").json()
            return got if got in ("SUCCESS", "FAILURE") else None

        return wait_for(state, 120, what=f"end of export task {task}")

    assert export() == "SUCCESS", galaxy.log_tail()
    stored = cast.world.project_dir(cast.project) / "galaxy" / "history.tar.gz"
    original = stored.read_bytes()
    assert original[:2] == b"\x1f\x8b"  # a gzip archive
    # again, to the same place, as a member: refused, the archive untouched
    assert export() == "FAILURE"  # Galaxy's task API reports the refusal
    assert stored.read_bytes() == original
    # and the history's export records (what Galaxy's UI shows) say why
    records = requests.get(
        f"{gi.base_url}/api/histories/{history['id']}/exports",
        headers={"x-api-key": gi.key, "Accept": "application/vnd.galaxy.task.export+json"},
        timeout=30,
    ).json()
    results = [r["export_metadata"]["result_data"] for r in records]
    assert results[1] == {"success": True, "uri": target, "error": None}
    assert not results[0]["success"] and "member may not overwrite" in results[0]["error"]


def test_no_nels_secret_reaches_galaxy_log(stack):
    cast, galaxy = stack.cast, stack.galaxy
    galaxy_user(stack, "carol")
    log = galaxy.log_tail(50_000_000)
    for user in (cast.alice, cast.bob, cast.carol, cast.erin):
        assert user.private_key.strip().splitlines()[1] not in log
    for token in cast.world.access_tokens:
        assert token not in log


def test_each_tools_own_tests_pass_on_this_galaxy(stack, tmp_path):
    """planemo runs the <tests> of every tool against this Galaxy (its engine
    for an external Galaxy): inputs uploaded, outputs checked by content."""
    from test_tool_xml import PLANEMO

    if not PLANEMO.exists():
        if os.environ.get("CI"):
            pytest.fail("planemo is missing on CI: ./dev test installs it")
        pytest.skip("planemo not installed (./dev test installs it in .venv-planemo)")
    galaxy = stack.galaxy
    report = tmp_path / "tool-tests.json"
    r = subprocess.run(
        [
            str(PLANEMO),
            "test",
            "--engine",
            "external_galaxy",
            "--galaxy_url",
            galaxy.url,
            "--galaxy_admin_key",
            galaxy.admin_key,
            "--test_output_json",
            str(report),
            *map(str, TOOLS),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=1200,
    )
    results = json.loads(report.read_text())["tests"] if report.exists() else []
    problems = {
        t["id"]: t["data"].get("output_problems") or t["data"].get("execution_problem")
        for t in results
        if t["data"]["status"] != "success"
    }
    assert r.returncode == 0 and not problems, (problems, r.stdout[-3000:], r.stderr[-3000:])
    tested = {t["id"].rsplit("-", 1)[0] for t in results}
    assert tested == {f"nels_{p.stem}" for p in TOOLS}


def run_tool(stack, gi: GalaxyInstance, history_id: str, tool: str, inputs: dict) -> dict:
    """The tool's job run to its end; its datasets (collections as lists of
    element ids) by output name, and the job's full record seen by an admin."""
    run = gi.tools.run_tool(history_id, tool, inputs)
    deadline = time.monotonic() + 300
    job_id = run["jobs"][0]["id"]
    while gi.jobs.get_state(job_id) not in ("ok", "error", "failed", "deleted"):
        assert time.monotonic() < deadline, f"{tool} still running"
        time.sleep(1)
    outputs: dict = {o["output_name"]: o["id"] for o in run["outputs"]}
    for c in run.get("output_collections", []):
        shown = gi.histories.show_dataset_collection(history_id, c["id"])
        outputs[c["output_name"]] = [e["object"]["id"] for e in shown["elements"]]
    admin = GalaxyInstance(stack.galaxy.url, key=stack.galaxy.admin_key)  # sees command lines
    return {"outputs": outputs, "job": admin.jobs.show_job(job_id, full_details=True)}


def text(gi: GalaxyInstance, dataset_id: str) -> str:
    return gi.datasets.download_dataset(dataset_id, use_default_filename=False).decode()


def upload_test_data(gi: GalaxyInstance, history: str, *others: str) -> tuple[dict, ...]:
    """test-data's reads as a list:paired collection (as tool inputs), and the
    ids of the other files named, uploaded into the history."""
    data = TOOL_XML / "test-data"
    ids = {}
    for name in ("Liver-1_R1", "Liver-1_R2", "Gill-1_R1", "Gill-1_R2"):
        up = gi.tools.upload_file(
            str(data / f"{name}.fastq.gz"), history, file_type="fastqsanger.gz"
        )
        ids[name] = up["outputs"][0]["id"]
    kinds = {".tsv": "tabular", ".zip": "zip"}
    other_ids = [
        gi.tools.upload_file(str(data / name), history, file_type=kinds[Path(name).suffix])[
            "outputs"
        ][0]["id"]
        for name in others
    ]
    for d in [*ids.values(), *other_ids]:
        assert wait_ok(gi, d)["state"] == "ok"
    pairs = gi.histories.create_dataset_collection(
        history,
        {
            "collection_type": "list:paired",
            "name": "reads",
            "element_identifiers": [
                {
                    "name": sample,
                    "src": "new_collection",
                    "collection_type": "paired",
                    "element_identifiers": [
                        {"name": "forward", "src": "hda", "id": ids[f"{sample}_R1"]},
                        {"name": "reverse", "src": "hda", "id": ids[f"{sample}_R2"]},
                    ],
                }
                for sample in ("Liver-1", "Gill-1")
            ],
        },
    )
    reads = {"reads|layout": "paired", "reads|collection": {"src": "hdca", "id": pairs["id"]}}
    return reads, *other_ids


@pytest.fixture(scope="module")
def exported(stack):
    """alice's reads and sheet in a history, a list:paired collection of them,
    and the ISA export tool run on it."""
    gi = galaxy_user(stack, "alice")
    history = gi.histories.create_history("ISA export")["id"]
    reads, sheet = upload_test_data(gi, history, "metadata.tsv")
    run = run_tool(
        stack,
        gi,
        history,
        "nels_isa_export",
        {
            "identifier": "Salmon_2023",
            **reads,
            "metadata": {"src": "hda", "id": sheet},
        },
    )
    return gi, history, reads, run


def test_isa_export_tool_runs_in_our_environment_and_its_bundle_validates(
    stack, exported, tmp_path
):
    from nels_core.isa.validate import validate_bundle

    gi, _, _, run = exported
    outputs = run["outputs"]
    assert run["job"]["state"] == "ok", run["job"]
    # the requirement resolved to this environment (Galaxy's own has no isatools)
    log = (stack.galaxy.workdir / "galaxy.log").read_text(errors="replace")
    assert (
        f"Using dependency nels-bundle version {version('nels-bundle')} of type galaxy_package"
        in log
    )

    archive = gi.datasets.download_dataset(outputs["bundle"], use_default_filename=False)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        z.extractall(tmp_path / "bundle")
    errors = [f for f in validate_bundle(tmp_path / "bundle") if f.level == "error"]
    assert errors == []
    doc = json.loads((tmp_path / "bundle" / "isa.json").read_text())
    samples = {s["name"] for s in doc["studies"][0]["materials"]["samples"]}
    # the sheet names the investigation itself, over the tool's field
    assert doc["identifier"] == "SalmonLice_2023" and samples == {"Liver-1", "Gill-1"}
    manifest = (tmp_path / "bundle" / "manifest-md5.txt").read_text()
    assert "Liver-1_S1_L001_R1_001.fastq.gz" in manifest
    assert "0 error(s)" in text(gi, outputs["report"])


def set_webin_account(stack, gi: GalaxyInstance, account: str, password: str) -> None:
    user = gi.users.get_current_user()
    gi.make_put_request(
        f"{stack.galaxy.url}/api/users/{user['id']}/information/inputs",
        payload={"ena_webin_account|webin_id": account, "ena_webin_account|password": password},
    )


def test_ena_tool_submits_the_exported_bundle_with_the_users_webin_account(stack, exported):
    gi, history, reads, export = exported
    ena = stack.sandboxes.deposit
    set_webin_account(stack, gi, ena.account, ena.password)
    inputs = {"bundle": {"src": "hda", "id": export["outputs"]["bundle"]}, **reads}
    run = run_tool(stack, gi, history, "nels_ena_submit", {**inputs, "server|mode": "test"})
    job, outputs = run["job"], run["outputs"]
    assert job["state"] == "ok", job

    report = text(gi, outputs["report"])
    held = ena.webin_world.objects[ena.account]
    (project,) = (s.accession for s in held["project"].values())
    assert f"ENA project {project}; 2 samples, 2 runs accessioned" in report
    assert {len(held[k]) for k in ("sample", "experiment", "run")} == {2}
    uploaded = sorted(
        p.name for p in (Path(ena.webin_world.upload_root) / ena.account).rglob("*.gz")
    )
    assert len(uploaded) == 4 and "Liver-1_S1_L001_R1_001.fastq.gz" in uploaded
    # the accession table and the receipt say what ENA holds
    rows = [line.split("\t") for line in text(gi, outputs["accessions"]).splitlines()]
    assert rows[0] == ["archive", "server", "kind", "alias", "accession"]
    table = {(r[2], r[4]) for r in rows[1:]}
    assert ("project", project) in table and sum(r[2] == "run" for r in rows[1:]) == 2
    assert {a for _, a in table} == {s.accession for kind in held.values() for s in kind.values()}
    (receipt,) = outputs["receipts"]
    assert 'success="true"' in text(gi, receipt) and project in text(gi, receipt)

    # the password went through a file: not on the command line, not in any output
    assert ena.password not in json.dumps(job)
    for d in [outputs["report"], outputs["accessions"], receipt]:
        assert ena.password not in text(gi, d)
    assert ena.password not in stack.galaxy.log_tail(50_000_000)
    # nor in what the job's command sees of its folder (kept here; Galaxy makes
    # its files readable by all). Galaxy's own staging copy in _configs/ is out
    # of the tool's reach: the README tells admins to close jobs_directory.
    jobs = stack.galaxy.workdir / "data" / "jobs_directory"
    assert any(jobs.rglob("tool_script.sh"))
    left = [f for f in jobs.rglob("*") if f.is_file() and ena.password.encode() in f.read_bytes()]
    assert {f.parent.name for f in left} <= {"_configs"}
    # nor alice's NeLS token, in the file sources Galaxy writes for every job
    # of the tool, reads from NeLS or not
    tokens = [t.encode() for t in nels_tokens(stack, "alice")]
    (ours,) = job_folders(stack, "--receipts-to receipts --reads reads")
    left = [f for f in ours.rglob("*") if f.is_file() and any(t in f.read_bytes() for t in tokens)]
    assert left and {f.parent.name for f in left} == {"_configs"}

    # the bundle it returns remembers what ENA holds: a re-run sends nothing
    sent = len(ena.webin_world.submissions)
    again = run_tool(
        stack,
        gi,
        history,
        "nels_ena_submit",
        {**inputs, "bundle": {"src": "hda", "id": outputs["bundle_out"]}, "server|mode": "test"},
    )
    assert again["job"]["state"] == "ok", again["job"]
    assert "already holds everything in this bundle" in text(gi, again["outputs"]["report"])
    assert again["outputs"]["receipts"] == [] and len(ena.webin_world.submissions) == sent


def test_ena_tool_without_a_webin_account_fails_saying_where_to_set_it(stack):
    gi = galaxy_user(stack, "carol")
    history = gi.histories.create_history("no Webin account")["id"]
    reads, bundle = upload_test_data(gi, history, "isa_bundle.zip")
    inputs = {"bundle": {"src": "hda", "id": bundle}, **reads, "server|mode": "test"}
    run = run_tool(stack, gi, history, "nels_ena_submit", inputs)
    job = run["job"]
    assert job["state"] == "error" and job["exit_code"] == 1
    assert "No ENA Webin account in your Galaxy preferences" in job["tool_stderr"]
    assert "Manage information" in job["tool_stderr"]


def test_isa_export_reads_a_nels_folder_with_the_users_token_and_ena_takes_it_from_there(
    stack, tmp_path
):
    """No reads in Galaxy: the tools read them in NeLS, through the file
    sources Galaxy hands the job, with alice's token from her vault."""
    from nels_core.isa.validate import validate_bundle

    gi = galaxy_user(stack, "alice")
    history = gi.histories.create_history("from a NeLS folder")["id"]
    sheet = (TOOL_XML / "test-data" / "metadata.tsv").read_text()
    # ENA's stand-in holds the other name already
    (tmp_path / "sheet.tsv").write_text(sheet.replace("SalmonLice_2023", "SalmonLice_NeLS"))
    up = gi.tools.upload_file(str(tmp_path / "sheet.tsv"), history, file_type="tabular")
    sheet_id = up["outputs"][0]["id"]
    assert wait_ok(gi, sheet_id)["state"] == "ok"
    # the folder as Galaxy's picker gives it; the bundle records NeLS's own address
    folder = "nels://Projects/UiB-Test-Project/Salmon_run"
    nels = {"reads|layout": "nels", "reads|folder": f"{NELS}/Projects/UiB-Test-Project/Salmon_run"}
    run = run_tool(
        stack,
        gi,
        history,
        "nels_isa_export",
        {**nels, "metadata": {"src": "hda", "id": sheet_id}},
    )
    job = run["job"]
    assert job["state"] == "ok", job
    archive = gi.datasets.download_dataset(run["outputs"]["bundle"], use_default_filename=False)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        z.extractall(tmp_path / "bundle")
    assert [f for f in validate_bundle(tmp_path / "bundle") if f.level == "error"] == []
    report = json.loads((tmp_path / "bundle" / "export-report.json").read_text())
    assert report["source"] == folder
    assert report["nels_project"]["name"] == "UiB Test Project"  # the deposit rules read it
    doc = json.loads((tmp_path / "bundle" / "isa.json").read_text())
    samples = {s["name"] for s in doc["studies"][0]["materials"]["samples"]}
    assert doc["identifier"] == "SalmonLice_NeLS" and samples == {"Liver-1", "Gill-1"}
    manifest = (tmp_path / "bundle" / "manifest-md5.txt").read_text()
    assert f"(source: {folder})" in manifest
    assert sum(not line.startswith("#") for line in manifest.splitlines()) == 4
    # the token travelled in a file Galaxy made readable by all, deleted as the job began
    tokens = nels_tokens(stack, "alice")
    assert tokens and not any(t in json.dumps(job) for t in tokens)
    # (Galaxy's own upload jobs keep theirs in working/file_sources.json)
    (ours,) = job_folders(stack, f"nels-bundle isa export '{NELS}/")
    left = [
        f
        for f in ours.rglob("*")
        if f.is_file() and any(t.encode() in f.read_bytes() for t in tokens)
    ]
    assert left and {f.parent.name for f in left} == {"_configs"}

    # ENA's tool reads them in NeLS too, and uploads them from there
    ena = stack.sandboxes.deposit
    set_webin_account(stack, gi, ena.account, ena.password)
    held_before = len(ena.webin_world.objects.get(ena.account, {}).get("run", {}))
    sent = run_tool(
        stack,
        gi,
        history,
        "nels_ena_submit",
        {"bundle": {"src": "hda", "id": run["outputs"]["bundle"]}, **nels, "server|mode": "test"},
    )
    assert sent["job"]["state"] == "ok", sent["job"]
    held = ena.webin_world.objects[ena.account]
    assert len(held["run"]) == held_before + 2
    rows = text(gi, sent["outputs"]["accessions"]).splitlines()[1:]
    assert sum("\tproject\tSalmonLice_NeLS" in r for r in rows) == 1
    # the deposited bundle went back beside the data, and Galaxy's NeLS browser shows it
    listed = remote_files(gi, f"{NELS}/Projects/UiB-Test-Project/Salmon_run/nels-metadata").json()
    (kept,) = [e["name"] for e in listed if e["name"].startswith("isa-bundle-SalmonLice_NeLS-")]
    run_dir = stack.cast.world.project_dir(stack.cast.project) / "Salmon_run"
    with zipfile.ZipFile(run_dir / "nels-metadata" / kept) as z:
        assert any("/deposits/receipts/" in n for n in z.namelist())


def test_isa_export_of_a_nels_folder_uses_the_folders_own_sheet(stack, tmp_path):
    """Given no sheet, the tool describes the folder with the sheet kept in NeLS beside it."""
    from nels_core.isa.folder_sheet import FolderSheets
    from nels_core.isa.sheet import read_sheet
    from nels_core.storage.local import LocalStorage

    run_dir = stack.cast.world.project_dir(stack.cast.project) / "Salmon_run"
    sheet = (TOOL_XML / "test-data" / "metadata.tsv").read_text()
    (tmp_path / "sheet.tsv").write_text(sheet.replace("SalmonLice_2023", "SalmonLice_Kept"))
    saved = FolderSheets(LocalStorage(run_dir), "").put(read_sheet(tmp_path / "sheet.tsv"), "x.tsv")
    gi = galaxy_user(stack, "bob")
    history = gi.histories.create_history("the folder's sheet")["id"]
    nels = {"reads|layout": "nels", "reads|folder": f"{NELS}/Projects/UiB-Test-Project/Salmon_run"}
    try:
        run = run_tool(stack, gi, history, "nels_isa_export", nels)
    finally:  # the other tests of this Galaxy describe the folder without it
        (run_dir / saved.path).unlink()
    assert run["job"]["state"] == "ok", run["job"]
    archive = gi.datasets.download_dataset(run["outputs"]["bundle"], use_default_filename=False)
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        report = json.loads(z.read("export-report.json"))
        doc = json.loads(z.read("isa.json"))
    assert report["sheet"] == f"Projects/UiB-Test-Project/Salmon_run/{saved.path}"
    assert doc["identifier"] == "SalmonLice_Kept"


def job_folders(stack, command: str) -> list[Path]:
    """The kept folders of the jobs whose script runs ``command``."""
    jobs = stack.galaxy.workdir / "data" / "jobs_directory"
    return [
        script.parent
        for script in jobs.rglob("tool_script.sh")
        if command in script.read_text(errors="replace")
    ]


def nels_tokens(stack, name: str) -> list[str]:
    """Every NeLS token the sandbox issued to the user (one per galaxy_user call)."""
    nels_id = getattr(stack.cast, name).nels_id
    return [t for t, g in stack.cast.world.access_tokens.items() if g.nels_id == nels_id]


def test_isa_export_of_a_nels_folder_says_what_is_wrong(stack):
    """A user with no NeLS token in Galaxy, and one who is not in the project."""
    admin = GalaxyInstance(stack.galaxy.url, key=stack.galaxy.admin_key)
    user = admin.users.create_local_user("frank", "frank@example.org", "a-long-password-1")
    frank = GalaxyInstance(stack.galaxy.url, key=admin.users.get_or_create_user_apikey(user["id"]))
    nels = {"reads|layout": "nels", "reads|folder": f"{NELS}/Projects/UiB-Test-Project/Salmon_run"}
    for gi, message in (
        (frank, "No NeLS access token in your Galaxy preferences"),
        (galaxy_user(stack, "erin"), "UiB-Test-Project"),
    ):
        history = gi.histories.create_history("refused")["id"]
        job = run_tool(stack, gi, history, "nels_isa_export", nels)["job"]
        assert job["state"] == "error" and job["exit_code"] == 1, job
        assert message in job["tool_stderr"] and "Traceback" not in job["tool_stderr"]


def test_seek_tool_registers_a_nels_folder_and_then_its_bundle_as_the_same_records(stack, tmp_path):
    """alice's SEEK account in her preferences; the SEEK sandbox ends up
    holding exactly the records the tool's table lists, linked into NeLS."""
    sb = stack.sandboxes
    gi = galaxy_user(stack, "alice")
    user = gi.users.get_current_user()
    gi.make_put_request(
        f"{stack.galaxy.url}/api/users/{user['id']}/information/inputs",
        payload={"seek_account|url": sb.seek_url, "seek_account|api_token": sb.seek_token},
    )
    history = gi.histories.create_history("to SEEK")["id"]
    folder = "nels://Projects/UiB-Test-Project/Salmon_run"  # SEEK links NeLS's own address
    picked = f"{NELS}/Projects/UiB-Test-Project/Salmon_run"
    (sheet,) = upload_test_data(gi, history, "metadata.tsv")[1:]
    first = run_tool(
        stack,
        gi,
        history,
        "nels_seek_register",
        {
            "what|kind": "nels",
            "what|folder": picked,
            "what|metadata": {"src": "hda", "id": sheet},
            "project": sb.seek_project,
        },
    )
    assert first["job"]["state"] == "ok", first["job"]
    rows = [r.split("\t") for r in text(gi, first["outputs"]["records"]).splitlines()]
    assert rows[0] == ["kind", "key", "action", "seek_id", "url"]
    world = sb.seek_world
    kinds = ("investigations", "studies", "assays", "data_files", "sample_types", "samples")
    held = {(k, r.id) for k in kinds for r in world.records.get(k, {}).values()}
    assert {(r[0], r[3]) for r in rows[1:]} == held and {r[2] for r in rows[1:]} == {"created"}
    blobs = [b["url"] for f in world.records["data_files"].values() for b in f.blobs]
    assert sorted(blobs) == sorted(
        f"{folder}/{s}_S{n}_L001_{r}_001.fastq.gz"
        for n, s in enumerate(("Liver-1", "Gill-1"), 1)
        for r in ("R1", "R2")
    )
    assert "Investigation: " in text(gi, first["outputs"]["report"])
    assert sb.seek_token not in json.dumps(first["job"])
    (ours,) = job_folders(stack, f"nels-bundle seek push '{NELS}/")
    left = [f for f in ours.rglob("*") if f.is_file() and sb.seek_token.encode() in f.read_bytes()]
    assert left and {f.parent.name for f in left} == {"_configs"}

    # the bundle exported from that folder, with the first run's links: the
    # same records, brought up to date; none made twice
    export = run_tool(
        stack,
        gi,
        history,
        "nels_isa_export",
        {"reads|layout": "nels", "reads|folder": picked, "metadata": {"src": "hda", "id": sheet}},
    )
    assert export["job"]["state"] == "ok", export["job"]
    again = run_tool(
        stack,
        gi,
        history,
        "nels_seek_register",
        {
            "what|kind": "bundle",
            "what|bundle": {"src": "hda", "id": export["outputs"]["bundle"]},
            "project": sb.seek_project,
            "links": {"src": "hda", "id": first["outputs"]["links_out"]},
        },
    )
    assert again["job"]["state"] == "ok", again["job"]
    rows = [r.split("\t") for r in text(gi, again["outputs"]["records"]).splitlines()[1:]]
    assert "created" not in {r[2] for r in rows} and len(rows) == len(held)
    now = {(k, r.id) for k in kinds for r in world.records.get(k, {}).values()}
    assert now == held
