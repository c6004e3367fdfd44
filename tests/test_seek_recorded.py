"""SEEK's own recorded traffic (shared/specs/seek/examples, SEEK 1.18.1).

Two directions:
- the client reads every recorded response of the record types it uses,
  served as SEEK served them, without the sandbox in between;
- the sandbox answers SEEK's recorded requests with bodies shaped like
  SEEK's recorded responses (same attributes and relationships, same
  status), so the sandbox cannot drift from the real service unnoticed.
"""

import copy
import json

import pytest
import requests

from seek_plugin.client import SeekClient

KINDS = {  # example stem -> JSON:API type
    "investigation": "investigations",
    "study": "studies",
    "assay": "assays",
    "dataFile": "data_files",
    "sampleType": "sample_types",
    "sample": "samples",
    "person": "people",
    "project": "projects",
}
PLURAL = {"study": "studies", "person": "people"}
CHECKED = set(KINDS.values())  # the sandbox looks these up; others it keeps as given


class RecordedSeek(requests.adapters.BaseAdapter):
    """Answers each GET with one recorded body, as SEEK sent it."""

    def __init__(self, bodies: dict[str, bytes]):
        super().__init__()
        self.bodies = bodies

    def send(self, request, **kw):
        path = requests.utils.urlparse(request.url).path
        r = requests.Response()
        r.request, r.url = request, request.url
        r.status_code = 200 if path in self.bodies else 404
        r._content = self.bodies.get(path, b'{"errors":[{"title":"Not found"}]}')
        r.headers["Content-Type"] = "application/vnd.api+json"
        return r

    def close(self):
        pass


def _examples(specs, name):
    return json.loads((specs / "seek" / "examples" / f"{name}.json").read_text())


@pytest.mark.parametrize("stem", sorted(KINDS))
def test_client_reads_every_recorded_response(specs, stem):
    kind = KINDS[stem]
    names = [f"{stem}Response", f"{stem}PostResponse", f"{stem}PatchResponse"]
    bodies = {
        n: _examples(specs, n)
        for n in names
        if (specs / "seek" / "examples" / f"{n}.json").exists()
    }
    listed_name = f"{PLURAL.get(stem, stem + 's')}Response"
    # SEEK lists samples only under a sample type; so did its recorder
    has_listing = (specs / "seek" / "examples" / f"{listed_name}.json").exists()
    listing = _examples(specs, listed_name) if has_listing else {"data": [], "links": {}}
    session = requests.Session()
    served = {f"/{kind}": json.dumps(listing).encode()}
    for n, body in bodies.items():
        served[f"/{kind}/{n}"] = json.dumps(body).encode()
    session.mount("http://seek.example", RecordedSeek(served))
    seek = SeekClient("http://seek.example", token="t", session=session)
    resource = getattr(seek, kind)
    listed = list(resource.list())
    assert [r.id for r in listed] == [d["id"] for d in listing["data"]]
    assert all(r.kind == kind and r.url.startswith("http://seek.example/") for r in listed)
    for n, body in bodies.items():
        record = resource.get(n)
        data = body["data"]
        assert (record.kind, record.id) == (kind, data["id"])
        assert record.title == (data["attributes"].get("title") or "")
        for name, rel in data["relationships"].items():
            refs = (
                rel["data"]
                if isinstance(rel["data"], list)
                else [rel["data"]]
                if rel["data"]
                else []
            )
            assert record.ids(name) == tuple(r["id"] for r in refs)


def _remap(post: dict, ids: dict[str, str]) -> dict:
    """A recorded request with its references pointed at records of our world;
    references to records SEEK checks and we have none of are left out."""
    post = copy.deepcopy(post)
    data = post["data"]
    for rel in (data.get("relationships") or {}).values():
        if isinstance(rel["data"], list):
            kept = [
                {**r, "id": ids.get(r["type"], r["id"])}
                for r in rel["data"]
                if r["type"] in ids or r["type"] not in CHECKED
            ]
            rel["data"] = list({json.dumps(r, sort_keys=True): r for r in kept}.values())
        elif rel["data"] and rel["data"]["type"] in ids:
            rel["data"]["id"] = ids[rel["data"]["type"]]
    policy = (data.get("attributes") or {}).get("policy") or {}
    permissions = {}
    for p in policy.get("permissions", []):
        if p["resource"]["type"] in ids:
            p["resource"]["id"] = ids[p["resource"]["type"]]
            permissions[json.dumps(p["resource"], sort_keys=True)] = p
    if policy:
        policy["permissions"] = list(permissions.values())
    return post


def _shape(body: dict) -> dict:
    data = body["data"]
    return {
        "top": sorted(body),
        "data": sorted(data),
        "relationships": sorted(data["relationships"]),
        "attributes": sorted(data["attributes"]),
    }


@pytest.mark.parametrize(
    "stem", ["investigation", "study", "assay", "dataFile", "sampleType", "sample"]
)
def test_sandbox_answers_recorded_requests_like_seek(seek_server, specs, stem):
    kind = KINDS[stem]
    alice = SeekClient(seek_server.url, token="token-alice")
    p1 = seek_server.projects["P1"]
    ids = {"projects": p1.id, "people": seek_server.people["Alice"].id}
    policy = {"access": "no_access", "permissions": []}
    inv = alice.investigations.create({"title": "I", "policy": policy}, {"projects": [p1.id]})
    study = alice.studies.create({"title": "S"}, {"investigation": inv.id})
    assay = alice.assays.create(
        {
            "title": "A",
            "assay_class": {"key": "EXP"},
            "assay_type": {"uri": "http://jermontology.org/ontology/JERMOntology#Transcriptomics"},
        },
        {"study": study.id},
    )
    ids |= {"investigations": inv.id, "studies": study.id, "assays": assay.id}
    if stem == "sample":  # the recorded sample needs its recorded sample type's attributes
        recorded = _examples(specs, "samplePost")["data"]["attributes"]["attribute_map"]
        st = alice.sample_types.create(
            {
                "title": "T",
                "sample_attributes": [
                    {
                        "title": k,
                        "sample_attribute_type": {"title": "String"},
                        "required": False,
                        "is_title": k == "full_name",
                    }
                    for k in recorded
                ],
            },
            {"projects": [p1.id]},
        )
        ids["sample_types"] = st.id
    post = _remap(_examples(specs, f"{stem}Post"), ids)
    r = requests.post(
        f"{seek_server.url}/{kind}",
        json=post,
        headers={"Authorization": "Token token-alice", "Content-Type": "application/vnd.api+json"},
        timeout=10,
    )
    expected = _examples(specs, f"{stem}PostResponse")
    assert r.status_code == (201 if stem == "sampleType" else 200), r.text
    ours = r.json()
    assert _shape(ours) == _shape(expected)
    assert ours["data"]["attributes"]["title"] == expected["data"]["attributes"]["title"]
