"""The sandbox answers the recorded NeLS requests as NeLS did.

Each cassette in shared/specs/nels/cassettes is replayed against a sandbox
seeded with the records the recording implies; status codes, content types
and JSON shapes (keys and value types, recursively) must match.
"""

import base64
import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from nels_sandbox.nels_api import create_app, inject_fault
from nels_sandbox.world import Grant, World

TOKEN = "fake-access-token"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!binary", lambda loader, node: base64.b64decode(node.value))


def _cassettes(specs: Path):
    return sorted((specs / "nels" / "cassettes").glob("*.yml"))


def _interactions(path: Path):
    return yaml.load(path.read_text(), Loader=_Loader)["http_interactions"]


def _seed(world: World, name: str, specs: Path) -> None:
    """The state the recording was made against."""
    finn = world.add_user("finn", "Finn Bacall", "pw", nels_id=261)
    if name != "upload_file_401_error":
        world.access_tokens[TOKEN] = Grant(261, "seek", float("inf"))
    pilot1 = world.add_project(
        "seek_pilot1",
        91123122,
        description="Seek pilot project 1",
        contact_person="Kidane M. Tekle",
    )
    pilot2 = world.add_project("seek_pilot2", 91123123, description="Second pilot project")
    internal = world.add_project("seek_pilot1_internal", 1123122)
    upload = world.add_project("seek_pilot3", 1125299)
    for p in (pilot1, pilot2, internal, upload):
        world.add_member(p, finn, 3 if p is pilot1 else 2)
    locked = name == "get_locked_dataset"
    world.add_dataset(
        pilot1,
        "Illumina-sequencing-dataset",
        "Illumina_seq_data",
        id=91123528,
        description="test",
        islocked=locked,
        creationtime=1510046899000,
        subtypes={"analysis": 0, "reads": 0},
    )
    world.add_dataset(
        pilot1,
        "proteomics-dataset",
        "Proteomics_data",
        id=91123527,
        islocked=True,
        subtypes={"sub1": 0},
    )
    world.add_dataset(
        pilot1, "metadata-dataset", "Illumina_seq_data", id=91123529, subtypes={"reads": 0}
    )
    world.add_dataset(
        internal,
        "Illumina-sequencing-dataset",
        "Illumina_seq_data",
        id=1123528,
        subtypes={"reads": 0},
    )
    world.add_dataset(
        upload, "Demo Dataset", "Illumina_seq_data", id=1125261, subtypes={"Analysis": 0}
    )
    world.add_dataset(
        upload,
        "upload-target",
        "Illumina_seq_data",
        id=1124840,
        islocked=name == "upload_file_405_error",
        subtypes={"analysis": 0},
    )
    # an xlsx sample sheet where the recording found one
    xlsx = next(
        i["response"]["body"]["string"]
        for i in _interactions(specs / "nels" / "cassettes" / "get_sample_metadata.yml")
    )
    sbi = world.root / "sbi"
    for folder, dataset, subtype in (
        ("seek_pilot1", "metadata-dataset", "reads"),
        ("seek_pilot1", "Illumina-sequencing-dataset", "analysis"),
        ("seek_pilot1_internal", "Illumina-sequencing-dataset", "reads"),
    ):
        (sbi / folder / dataset / subtype).mkdir(parents=True, exist_ok=True)
        (sbi / folder / dataset / subtype / ".metadata.xlsx").write_bytes(xlsx)
    analysis = sbi / "seek_pilot3" / "Demo Dataset" / "Analysis"
    analysis.mkdir(parents=True, exist_ok=True)
    (analysis / "main_logo.svg").write_bytes(b"<svg/>" * 1500)
    (analysis / "little_file.txt").write_text("little file")
    for n in ("test", "test2"):
        (analysis / n).mkdir()


def shape(value):
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted({json.dumps(shape(v), sort_keys=True) for v in value})
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(recorded, answered, where):
    if isinstance(recorded, dict):
        assert isinstance(answered, dict), f"{where}: expected an object"
        assert set(answered) == set(recorded), f"{where}: keys differ"
        for k in recorded:
            assert_same_shape(recorded[k], answered[k], f"{where}.{k}")
    elif isinstance(recorded, list):
        assert isinstance(answered, list), f"{where}: expected a list"
        assert bool(answered) == bool(recorded), f"{where}: emptiness differs"
        allowed = set(shape(recorded))
        for i, item in enumerate(answered):
            assert json.dumps(shape(item), sort_keys=True) in allowed, f"{where}[{i}]: new shape"
    else:
        assert shape(answered) == shape(recorded), f"{where}: {answered!r} vs {recorded!r}"


def _ids(specs_dir):
    return [p.stem for p in _cassettes(specs_dir)] if specs_dir.is_dir() else []


from conftest import SPECS  # noqa: E402


@pytest.mark.parametrize(
    "name",
    _ids(SPECS)
    or [pytest.param("none", marks=pytest.mark.skip(reason=f"no cassettes at {SPECS}"))],
)
def test_sandbox_matches_recording(name, specs, tmp_path):
    world = World(tmp_path / "nels")
    _seed(world, name, specs)
    app = create_app(world, public_url="https://test-fe.cbu.uib.no")
    if name == "get_projects_500":
        inject_fault(app, "GET", r"/seek/sbi/projects$", 500, "Error")
    client = app.test_client()
    substitutions: dict[str, str] = {}
    for n, interaction in enumerate(_interactions(specs / "nels" / "cassettes" / f"{name}.yml")):
        req, rec = interaction["request"], interaction["response"]
        uri = req["uri"]
        body = req.get("body", {}).get("string") or ""
        for old, new in substitutions.items():
            uri, body = uri.replace(old, new), body.replace(old, new)
        url = urlparse(uri)
        headers = {
            k: v[0] for k, v in req["headers"].items() if k in ("Authorization", "Content-Type")
        }
        data = body.encode() if isinstance(body, str) else body
        resp = client.open(
            url.path,
            method=req["method"].upper(),
            query_string=url.query,
            data=data,
            headers=headers,
        )
        where = f"{name}#{n} {req['method'].upper()} {url.path}"
        assert resp.status_code == rec["status"]["code"], where
        rec_type = (rec["headers"].get("Content-Type") or [None])[0]
        got_type = resp.headers.get("Content-Type")
        assert (got_type or "").replace(" ", "").lower() == (rec_type or "").replace(
            " ", ""
        ).lower(), where
        rec_body = rec.get("body", {}).get("string", "")
        if isinstance(rec_body, bytes):
            assert resp.data[:2] == rec_body[:2] == b"PK", where  # both xlsx (zip) files
            continue
        if rec_body.strip()[:1] in ("{", "["):
            recorded, answered = json.loads(rec_body), json.loads(resp.data)
            assert_same_shape(recorded, answered, where)
            for key in ("url", "jobId"):
                if isinstance(recorded, dict) and key in recorded:
                    substitutions[str(recorded[key])] = str(answered[key])
        else:
            assert resp.data.decode() == rec_body, where


# --- what the recordings do not show, held to the shapes they do show -----------
def _recorded(specs, name):
    return _interactions(specs / "nels" / "cassettes" / f"{name}.yml")


def _replay_upload(world, specs):
    """upload_file.yml against a fresh sandbox; the app, its client and the job's answers."""
    _seed(world, "upload_file", specs)
    app = create_app(world, public_url="https://test-fe.cbu.uib.no")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    do = "/nels-api/seek/sbi/projects/1125299/datasets/1124840/analysis/data/do"
    return app, client, auth, do


def _frozen_clock(world):
    """The jobs' clock stopped, and a way to move it on: a job ends by time
    alone, so what each poll answers is then the same on every run."""
    now = [0.0]
    world.clock = lambda: now[0]

    def later():
        now[0] += world.processing_seconds

    return later


def _job_state(client, auth, do, job_id):
    body = json.dumps({"method": "job_state", "payload": {"job_id": job_id}})
    return client.post(do, data=body, headers=auth)


def test_download_job_follows_the_recorded_upload_shapes(specs, tmp_path):
    """No recording of a download exists: initiate_download answers as
    initiate_upload does (less the url), job_state as recorded, and
    download_reference with a url as initiate_upload's."""
    world = World(tmp_path / "nels")
    later = _frozen_clock(world)
    app, client, auth, do = _replay_upload(world, specs)
    recorded = _recorded(specs, "upload_file")
    initiate, states = recorded[0]["response"], [i["response"] for i in recorded[3:]]
    stored = world.root / "sbi" / "seek_pilot3" / "upload-target" / "analysis"
    stored.mkdir(parents=True)
    (stored / "little_file.txt").write_text("little file")
    payload = {"location_in_sub_type": "", "file_name": "little_file.txt"}
    r = client.post(
        do, data=json.dumps({"method": "initiate_download", "payload": payload}), headers=auth
    )
    assert r.status_code == 200 and r.headers.get("Content-Type") is None
    recorded_keys = json.loads(initiate["body"]["string"])
    answered = json.loads(r.data)
    assert set(answered) == set(recorded_keys) - {"url"}
    assert_same_shape({"jobId": recorded_keys["jobId"]}, answered, "initiate_download")
    job_id = answered["jobId"]
    seen = []
    for i, rec in enumerate(states):
        if i:
            later()  # the job's time passes between the polls, as it did recorded
        r = _job_state(client, auth, do, job_id)
        assert r.status_code == rec["status"]["code"] and r.headers.get("Content-Type") is None
        assert_same_shape(json.loads(rec["body"]["string"]), json.loads(r.data), "job_state")
        seen.append(json.loads(r.data)["state_id"])
    assert seen == [103, 101]  # as the recorded upload: processing, then done
    body = json.dumps({"method": "download_reference", "payload": {"job_id": job_id}})
    r = client.post(do, data=body, headers=auth)
    assert r.status_code == 200 and r.headers.get("Content-Type") is None
    assert_same_shape({"url": recorded_keys["url"]}, json.loads(r.data), "download_reference")
    url = urlparse(json.loads(r.data)["url"])
    got = client.get(url.path)
    assert got.status_code == 200 and got.data == b"little file"
    again = client.get(url.path)
    assert again.status_code == 404 and again.data == b""  # single use
    assert client.post(do, data=body, headers=auth).status_code == 404  # handed out once


def test_failed_job_and_500_answer_as_recorded(specs, tmp_path):
    from nels_sandbox.nels_api import fail_next_jobs, make_chaotic

    world = World(tmp_path / "nels")
    later = _frozen_clock(world)
    app, client, auth, do = _replay_upload(world, specs)
    recorded = _recorded(specs, "upload_file")
    fail_next_jobs(app, 1)
    start = json.loads(recorded[0]["request"]["body"]["string"])
    job_id = json.loads(client.post(do, data=json.dumps(start), headers=auth).data)["jobId"]
    second = json.loads(client.post(do, data=json.dumps(start), headers=auth).data)["jobId"]
    upload = recorded[1]["request"]
    for job in (job_id, second):
        url = next(t for t, u in world.uploads.items() if u["job"] == job)
        r = client.post(
            f"/nels-upload2/{url}",
            data=upload["body"]["string"].encode(),
            headers={"Content-Type": upload["headers"]["Content-Type"][0]},
        )
        assert r.status_code == 204
        client.post(
            do, data=json.dumps({"method": "upload_done", "payload": {"job_id": job}}), headers=auth
        )
    rec = recorded[-1]["response"]
    for job, final in ((job_id, 102), (second, 101)):
        assert json.loads(_job_state(client, auth, do, job).data)["state_id"] in (103, final)
        later()
        r = _job_state(client, auth, do, job)
        assert r.headers.get("Content-Type") is None
        assert_same_shape(json.loads(rec["body"]["string"]), json.loads(r.data), "job_state")
        assert json.loads(r.data)["state_id"] == final
    stored = world.root / "sbi" / "seek_pilot3" / "upload-target" / "analysis"
    assert [p.name for p in stored.iterdir()] == ["little_file.txt"]  # the one job that ended 101
    assert list(world.transfers_dir().iterdir()) == []  # the failed job's bytes are gone
    # 500 "Error" now and then: exactly as get_projects_500 recorded it
    make_chaotic(app, seed=1, error_rate=1.0)
    rec500 = _recorded(specs, "get_projects_500")[0]["response"]
    r = client.get("/nels-api/seek/sbi/projects", headers=auth)
    assert r.status_code == rec500["status"]["code"] == 500
    assert r.data.decode() == rec500["body"]["string"]
    assert r.headers["Content-Type"].replace(" ", "").lower() == (
        rec500["headers"]["Content-Type"][0].replace(" ", "").lower()
    )
