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
