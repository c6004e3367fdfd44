"""The SEEK client against the SEEK sandbox: every call, every error shape.

The sandbox checks each request against SEEK's published *Post/*Patch
schemas and each answer against the *Response schemas, so a body either
side gets wrong fails here.
"""

import hashlib
import http.server
import json
import threading

import pytest
import requests

from seek_plugin.client import SeekClient, document
from seek_plugin.errors import SeekAuthError, SeekError

JERM = "http://jermontology.org/ontology/JERMOntology#"
PERMALINK = "https://nels.elixir.no/nels/pages/sbi/sbi.xhtml?ref=Zm9vYmFy"


def client(server, who="Alice", **kw) -> SeekClient:
    return SeekClient(server.url, token=f"token-{who.lower()}", **kw)


def shared_with(project) -> dict:
    return {
        "access": "no_access",
        "permissions": [{"resource": {"type": "projects", "id": project.id}, "access": "edit"}],
    }


def isa_tree(seek, project):
    inv = seek.investigations.create(
        {
            "title": "Salmon lice 2023",
            "description": "Lice on farmed salmon",
            "policy": shared_with(project),
        },
        {"projects": [project.id]},
    )
    study = seek.studies.create(
        {"title": "Run 231107", "policy": shared_with(project)}, {"investigation": inv.id}
    )
    assay = seek.assays.create(
        {
            "title": "RNA-Seq",
            "assay_class": {"key": "EXP"},
            "assay_type": {"uri": JERM + "Transcriptomics"},
            "technology_type": {"uri": JERM + "RNA-Seq"},
            "policy": shared_with(project),
        },
        {"study": study.id},
    )
    return inv, study, assay


def test_credentials_are_checked_not_taken_for_anonymous(seek_server):
    me = client(seek_server).current_person()
    assert (me.kind, me.id, me.title) == ("people", seek_server.people["Alice"].id, "Alice Tester")
    assert me.url == f"{seek_server.url}/people/{me.id}"  # SEEK's link is relative
    basic = SeekClient(seek_server.url, basic=("bob", "pw-bob")).current_person()
    assert basic.id == seek_server.people["Bob"].id
    for wrong in (
        SeekClient(seek_server.url, token="nope"),
        SeekClient(seek_server.url, basic=("bob", "x")),
    ):
        with pytest.raises(SeekAuthError, match="did not accept these credentials") as e:
            wrong.current_person()
        assert "nope" not in str(e.value) and "token" not in repr(wrong).lower()
    # the same wrong token still reads public lists: SEEK answers it as anonymous
    assert list(SeekClient(seek_server.url, token="nope").projects.list())


def test_isa_tree_is_created_read_updated_and_deleted(seek_server):
    seek = client(seek_server)
    p1 = seek_server.projects["P1"]
    inv, study, assay = isa_tree(seek, p1)
    assert study.ids("investigation") == (inv.id,)
    assert assay.ids("investigation") == (inv.id,) and assay.ids("projects") == (p1.id,)
    inv = seek.investigations.get(inv.id)
    assert inv.ids("studies") == (study.id,) and inv.ids("assays") == (assay.id,)
    assert inv.attributes["policy"] == shared_with(p1)
    assert [c["profile"] for c in inv.attributes["creators"]] == []  # none named
    assert inv.ids("submitter") == (seek_server.people["Alice"].id,)

    changed = seek.investigations.update(inv.id, {"description": "Lice, 2023 season"})
    assert changed.description == "Lice, 2023 season" and changed.title == "Salmon lice 2023"
    with pytest.raises(SeekError, match="You may not delete investigation") as e:
        seek.investigations.delete(inv.id)  # it still has a study
    assert e.value.status == 403
    seek.assays.delete(assay.id)
    seek.studies.delete(study.id)
    seek.investigations.delete(inv.id)
    with pytest.raises(SeekError, match=r"Couldn't find Investigation with 'id'=\[") as e:
        seek.investigations.get(inv.id)
    assert e.value.status == 404


def test_data_files_link_to_nels_or_carry_bytes(seek_server):
    seek = client(seek_server)
    p1 = seek_server.projects["P1"]
    _, _, assay = isa_tree(seek, p1)
    remote = seek.data_files.create(
        {
            "title": "Liver-1 reads",
            "content_blobs": [
                {"url": PERMALINK, "original_filename": "reads", "content_type": "application/gzip"}
            ],
            "policy": shared_with(p1),
        },
        {"projects": [p1.id], "assays": [assay.id]},
    )
    assert remote.attributes["content_blobs"][0]["url"] == PERMALINK
    assert seek.assays.get(assay.id).ids("data_files") == (remote.id,)

    placeholder = seek.data_files.create(
        {
            "title": "Sample sheet",
            "content_blobs": [{"original_filename": "SampleSheet.csv", "content_type": "text/csv"}],
        },
        {"projects": [p1.id]},
    )
    content = b"[Header]\nFileFormatVersion,2\n"
    seek.data_files.upload(placeholder, content)
    filled = seek.data_files.get(placeholder.id)
    blob = filled.attributes["content_blobs"][0]
    assert (blob["md5sum"], blob["size"]) == (hashlib.md5(content).hexdigest(), len(content))
    assert seek.data_files.download(filled) == content
    with pytest.raises(SeekError) as e:  # SEEK takes content once
        seek.data_files.upload(placeholder, b"again")
    assert e.value.status == 400


def test_sample_types_and_samples(seek_server):
    seek = client(seek_server)
    p1 = seek_server.projects["P1"]
    st = seek.sample_types.create(
        {
            "title": "NorSeq sample",
            "sample_attributes": [
                {
                    "title": "sample name",
                    "sample_attribute_type": {"title": "String"},
                    "required": True,
                    "is_title": True,
                },
                {
                    "title": "organism",
                    "sample_attribute_type": {"title": "String"},
                    "required": False,
                },
            ],
        },
        {"projects": [p1.id]},
    )
    made = [
        seek.samples.create(
            {
                "attribute_map": {"sample name": name, "organism": "Salmo salar"},
                "policy": shared_with(p1),
            },
            {"sample_type": st.id, "projects": [p1.id]},
        )
        for name in ("Liver-1", "Gill-1")
    ]
    assert [s.title for s in made] == ["Liver-1", "Gill-1"]
    listed = list(seek.samples.list(parent=("sample_types", st.id)))
    assert [s.id for s in listed] == [s.id for s in made]
    with pytest.raises(SeekError, match="not implemented") as e:
        list(seek.samples.list())  # SEEK lists samples only under a type
    assert e.value.status == 501
    with pytest.raises(SeekError, match="sample name is required") as e:
        seek.samples.create(
            {"attribute_map": {"organism": "x"}}, {"sample_type": st.id, "projects": [p1.id]}
        )
    assert e.value.status == 422


@pytest.mark.parametrize("count", [6, 7])
def test_listing_reads_one_request_per_page(seek_server, count):
    seek = client(seek_server, per_page=3)
    p1 = seek_server.projects["P1"]
    made = {
        seek.investigations.create({"title": f"I{i}"}, {"projects": [p1.id]}).id
        for i in range(count)
    }
    before = seek.sent["read"]
    assert {r.id for r in seek.investigations.list()} == made
    assert seek.sent["read"] - before == -(-count // 3)  # ceil: never a page past the end


def test_every_error_shape_reaches_the_caller_in_seek_words(seek_server):
    alice, bob, carol, dave = (client(seek_server, n) for n in ("Alice", "Bob", "Carol", "Dave"))
    p1 = seek_server.projects["P1"]
    private = alice.investigations.create({"title": "Private"}, {"projects": [p1.id]})

    with pytest.raises(
        SeekAuthError, match="Unauthorized: Only members of projects can create content"
    ) as e:
        dave.investigations.create({"title": "x"}, {"projects": [p1.id]})  # bare {title, detail}
    assert e.value.status == 401
    with pytest.raises(
        SeekError, match=f"Forbidden: You may not view investigation:{private.id}"
    ) as e:
        carol.investigations.get(private.id)  # errors[].details
    assert e.value.status == 403
    with pytest.raises(SeekError, match=f"You may not edit investigation:{private.id}"):
        bob.investigations.update(private.id, {"title": "mine now"})
    with pytest.raises(SeekError, match="title can't be blank") as e:
        alice.investigations.create(
            {"title": " "}, {"projects": [p1.id]}
        )  # errors[].source.pointer
    assert e.value.status == 422 and e.value.problems[0].pointer == "/data/attributes/title"
    with pytest.raises(SeekError, match="does not match the URL's object") as e:  # text/plain 422
        alice.request("POST", "/studies", body=document("investigations", {"title": "x"}))
    assert e.value.status == 422
    with pytest.raises(SeekError, match="You do not have permission to edit Investigation"):
        carol.studies.create({"title": "in someone else's"}, {"investigation": private.id})
    with pytest.raises(SeekError, match="Request breaks SEEK's schema") as e:
        alice.investigations.create({"title": "x", "colour": "red"}, {"projects": [p1.id]})
    assert e.value.status == 422


def test_policy_is_shown_to_managers_and_only_they_change_it(seek_server):
    alice, bob = client(seek_server, "Alice"), client(seek_server, "Bob")
    p1 = seek_server.projects["P1"]
    inv = alice.investigations.create(
        {"title": "Shared", "policy": shared_with(p1)}, {"projects": [p1.id]}
    )
    seen = bob.investigations.get(inv.id)
    assert "policy" not in seen.attributes  # Bob may edit, not manage
    public = {"access": "view", "permissions": []}
    changed = bob.investigations.update(inv.id, {"title": "Shared, renamed", "policy": public})
    assert changed.title == "Shared, renamed"
    assert alice.investigations.get(inv.id).attributes["policy"] == shared_with(p1)  # dropped


def test_a_server_that_is_down_or_answers_garbage(seek_server):
    down = SeekClient("http://127.0.0.1:9", token="t", retries=2, backoff=0.01, timeout=2)
    with pytest.raises(SeekError, match="SEEK unreachable: ConnectionError") as e:
        down.investigations.get(1)
    assert e.value.status == 0 and down.sent["read"] == 2  # a GET is retried
    seek = client(seek_server)
    with pytest.raises(SeekError, match="no record in SEEK's answer"):
        seek.record({"data": "not a record"})


def test_the_environment_proxy_is_still_taken(seek_server, monkeypatch):
    """Our own session reads proxies from the environment once per host, not on
    every request: the proxy and its exceptions are taken all the same."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    through_proxy = client(seek_server, retries=1)
    with pytest.raises(SeekError, match="SEEK unreachable"):
        through_proxy.current_person()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = client(seek_server)
    assert [direct.current_person().title for _ in range(2)] == ["Alice Tester"] * 2


class KeepsAlive(http.server.BaseHTTPRequestHandler):
    """SEEK behind a server that keeps connections open (the sandbox's Werkzeug
    closes each one); counts the connections it is given."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self):
        super().setup()
        type(self).connections += 1

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"data": {"id": "1", "type": "investigations"}}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/vnd.api+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


def test_requests_go_over_one_kept_alive_connection():
    KeepsAlive.connections = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepsAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seek = SeekClient(f"http://127.0.0.1:{server.server_port}", token="t")
        for n in range(5):
            seek.investigations.create({"title": f"Investigation {n}"}, {"projects": ["1"]})
    finally:
        server.shutdown()
        server.server_close()
    assert (seek.sent["write"], KeepsAlive.connections) == (5, 1)


class Answers(requests.adapters.BaseAdapter):
    """One fixed answer, for shapes SEEK sends from controllers the sandbox has no call for."""

    def __init__(self, status, body, content_type):
        super().__init__()
        self.answer = (status, body, content_type)

    def send(self, request, **kw):
        r = requests.Response()
        r.request, r.url = request, request.url
        r.status_code, body, r.headers["Content-Type"] = self.answer
        r._content = body.encode()
        return r

    def close(self):
        pass


@pytest.mark.parametrize(
    ("status", "body", "content_type", "said"),
    [
        (
            404,
            '{"errors":[{"title":"Not found","detail":"Couldn\'t find Sop"}]}',
            "application/json",
            "Not found: Couldn't find Sop",
        ),
        (
            403,
            '{"errors":[{"title":"Forbidden","details":"You may not edit sop:1"}]}',
            "application/json",
            "Forbidden: You may not edit sop:1",
        ),
        (
            422,
            '{"errors":[{"source":{"pointer":"/data/attributes/title"},'
            '"detail":"can\'t be blank"}]}',
            "application/json",
            "title can't be blank",
        ),
        (
            401,
            '{"title":"Unauthorized","detail":"Only members of projects can create content."}',
            "application/json",
            "Unauthorized: Only members",
        ),
        (422, '{"title":"Samples are disabled"}', "application/json", "Samples are disabled"),
        (
            406,
            '{"error":"Folder names containing spaces are not allowed"}',
            "application/json",
            "Folder names containing spaces are not allowed",
        ),
        (
            422,
            '{"errors" : [{"detail" : "A POST request is not allowed to specify an id"}]}',
            "text/plain",
            "A POST request is not allowed to specify an id",
        ),
        (501, '"not_implemented"', "application/json", "not implemented"),
        (
            500,
            "<html>Internal Server Error</html>",
            "text/html",
            "<html>Internal Server Error</html>",
        ),
    ],
)
def test_every_error_shape_seek_sends_is_read(status, body, content_type, said):
    session = requests.Session()
    session.mount("http://seek.example", Answers(status, body, content_type))
    seek = SeekClient("http://seek.example", token="secret-token", session=session, retries=1)
    with pytest.raises(SeekError) as e:
        seek.investigations.create({"title": "x"}, {"projects": ["1"]})
    assert e.value.status == status and said in str(e.value)
    assert "secret-token" not in str(e.value)
