"""End to end against a real Galaxy 26.1.2 started from .venv-galaxy.

Galaxy reaches the NeLS sandbox API and the real sshd; a normal user drives
it through bioblend: browse NeLS, import a FASTQ through a job, export a
history to a project, and meet the NeLS rules through Galaxy's API.
"""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest
from conftest import ROOT, Cast, LiveServer

from nels_sandbox.nels_api import create_app
from nels_sandbox.world import World

GALAXY_VENV = Path(os.environ.get("NELS_GALAXY_VENV", ROOT / ".venv-galaxy"))
pytestmark = [pytest.mark.galaxy_server, pytest.mark.slow]

bioblend = pytest.importorskip("bioblend")
from bioblend.galaxy import GalaxyInstance  # noqa: E402

FILE_SOURCES = """\
- type: nels
  id: nels
  label: NeLS
  doc: NeLS projects (sandbox)
  writable: true
  backend: sftp
  api_url: {api}/nels-api2
  access_token: "${{user.user_vault.read_secret('preferences/nels/access_token')}}"
  host: 127.0.0.1
  port: {port}
  known_hosts: "{known_hosts}"
"""
PREFERENCES = """\
preferences:
  nels:
    description: Your NeLS account
    inputs:
      - name: access_token
        label: NeLS access token
        type: secret
        store: vault
        required: true
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory, sshd_server):
    if not (GALAXY_VENV / "bin" / "galaxy-web").exists():
        if os.environ.get("CI"):
            pytest.fail(f"Galaxy's environment is missing at {GALAXY_VENV}: ./dev test builds it")
        pytest.skip(f"no Galaxy environment at {GALAXY_VENV} (./dev test builds it)")
    from nels_sandbox.galaxy_server import GalaxyServer

    sshd_server.revoke_all()
    cast = Cast(World(tmp_path_factory.mktemp("nels"), sshd_server))
    fq = cast.world.project_dir(cast.project) / "raw" / "Liver-1_S1_L001_R1_001.fastq.gz"
    fq.write_bytes(
        gzip.compress(b"@r1\nACGTACGT\n+\nIIIIIIII\n@r2\nTTGGCCAA\n+\nIIIIIIII\n", mtime=0)
    )
    api = LiveServer(create_app(cast.world))
    sources = FILE_SOURCES.format(
        api=api.url, port=sshd_server.port, known_hosts=sshd_server.known_hosts.strip()
    )
    galaxy = GalaxyServer(tmp_path_factory.mktemp("galaxy"), GALAXY_VENV, sources, PREFERENCES)
    galaxy.start()
    yield cast, api, galaxy
    galaxy.stop()
    api.stop()


def galaxy_user(stack, name: str) -> GalaxyInstance:
    """A normal Galaxy user whose NeLS token sits in their preferences (vault)."""
    from test_api_client import sign_in

    cast, api, galaxy = stack
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
    r = remote_files(gi, "nels://Projects")
    assert r.status_code == 200, r.text
    assert [e["uri"] for e in r.json()] == [
        "nels://Projects/Locked_2020",
        "nels://Projects/UiB-Test-Project",
    ]
    page = remote_files(gi, "nels://Projects/UiB-Test-Project/raw", limit=1, query="liver")
    assert page.status_code == 200 and [e["name"] for e in page.json()] == [
        "Liver-1_S1_L001_R1_001.fastq.gz"
    ]


def test_non_member_does_not_see_the_project(stack):
    gi = galaxy_user(stack, "erin")
    assert remote_files(gi, "nels://Projects").json() == []
    r = remote_files(gi, "nels://Projects/UiB-Test-Project")
    assert r.status_code == 404, r.text


def test_fetch_imports_a_fastq_from_nels_through_a_job(stack):
    cast, _, _ = stack
    gi = galaxy_user(stack, "bob")
    history = gi.histories.create_history("from NeLS")
    uri = "nels://Projects/UiB-Test-Project/raw/Liver-1_S1_L001_R1_001.fastq.gz"
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
    cast, _, galaxy = stack
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
    target = "nels://Projects/UiB-Test-Project/galaxy/history.tar.gz"
    r = gi.make_post_request(
        f"{gi.base_url}/api/histories/{history['id']}/write_store",
        payload={"target_uri": target, "model_store_format": "tar.gz"},
    )
    stored = cast.world.project_dir(cast.project) / "galaxy" / "history.tar.gz"
    deadline = time.monotonic() + 120
    while not stored.exists() and time.monotonic() < deadline:
        time.sleep(1)
    assert stored.exists(), galaxy.log_tail()
    original = stored.read_bytes()
    assert original[:2] == b"\x1f\x8b"  # a gzip archive
    # again, to the same place, as a member: refused, the archive untouched
    again = gi.make_post_request(
        f"{gi.base_url}/api/histories/{history['id']}/write_store",
        payload={"target_uri": target, "model_store_format": "tar.gz"},
    )
    state = gi.make_get_request(f"{gi.base_url}/api/tasks/{again['id']}/state").json()
    assert state == "FAILURE"  # Galaxy's task API reports the refusal
    assert stored.read_bytes() == original
    assert "member may not overwrite" in galaxy.log_tail(200_000)
    assert r["id"] != again["id"]


def test_no_nels_secret_reaches_galaxy_log(stack):
    cast, _, galaxy = stack
    galaxy_user(stack, "carol")
    log = galaxy.log_tail(50_000_000)
    for user in (cast.alice, cast.bob, cast.carol, cast.erin):
        assert user.private_key.strip().splitlines()[1] not in log
    for token in cast.world.access_tokens:
        assert token not in log
