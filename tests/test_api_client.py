"""The NeLS REST client against the sandbox on a real loopback port."""

import re
import socket
import threading
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from nels_core.api import NelsApi, OAuth2Client, TokenSet
from nels_core.api.sbi_transfer import SbiJobError
from nels_core.errors import ApiError, AuthError, TokenExpiredError
from nels_core.model import Role
from nels_sandbox.nels_api import inject_fault


def sign_in(server, username, password, client="galaxy", secret="galaxy-secret"):
    """The authorization-code flow as a browser and a client app do it."""
    oauth = OAuth2Client(f"{server.url}/oauth2", client, secret, redirect_uri="http://127.0.0.1/cb")
    url = oauth.authorization_url(state="s1")
    form = requests.get(url, timeout=5)
    assert form.status_code == 200 and "Sign in to NeLS" in form.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.text))
    fields.update(username=username, password=password)
    r = requests.post(url.split("?")[0], data=fields, allow_redirects=False, timeout=5)
    assert r.status_code == 302
    query = parse_qs(urlparse(r.headers["Location"]).query)
    assert query["state"] == ["s1"]
    oauth.exchange_code(query["code"][0])
    return oauth


def api_for(server, oauth, **kw):
    return NelsApi(f"{server.url}/nels-api2", oauth, backoff=0.01, **kw)


def test_sign_in_then_account_projects_and_credentials(nels_server):
    oauth = sign_in(nels_server, "bob", "bob-pw")
    api = api_for(nels_server, oauth)
    me = api.my_account()
    assert me.name == "Bob Member"
    roles = {m.project.name: m.role for m in api.projects(me.nels_id)}
    assert roles == {"UiB Test Project": Role.MEMBER, "Locked_2020": Role.MEMBER}
    creds = api.ssh_credentials(me.nels_id)
    assert creds.username == nels_server.cast.world.sshd.login
    assert "PRIVATE KEY" in creds.private_key
    assert "PRIVATE KEY" not in repr(creds) and "PRIVATE" not in repr(oauth.tokens)


def test_wrong_password_is_refused(nels_server):
    with pytest.raises(AssertionError):
        sign_in(nels_server, "bob", "not-bobs")


def test_legacy_credential_shape(nels_server):
    api = NelsApi(f"{nels_server.url}/nels-api2", "unused")
    creds = api.legacy_ssh_credentials(nels_server.cast.bob.nels_id, "legacy-key", "legacy-secret")
    assert creds.private_key == nels_server.cast.bob.private_key
    with pytest.raises(AuthError) as err:
        api.legacy_ssh_credentials(nels_server.cast.bob.nels_id, "legacy-key", "wrong")
    assert "wrong" not in str(err.value)


def test_expired_token_is_refreshed_once(nels_server):
    oauth = sign_in(nels_server, "alice", "alice-pw")
    api = api_for(nels_server, oauth)
    first = oauth.tokens.access_token
    nels_server.cast.world.expire_all_tokens()  # the server sees an old token
    assert api.my_account().nels_id == 261
    assert oauth.tokens.access_token != first


def test_refresh_refused_becomes_auth_error(nels_server):
    oauth = sign_in(nels_server, "alice", "alice-pw")
    oauth.tokens = TokenSet("stale", refresh_token="revoked")
    with pytest.raises(AuthError, match="token request refused"):
        api_for(nels_server, oauth).my_account()


def test_static_token_401_is_auth_error(nels_server):
    api = NelsApi(f"{nels_server.url}/nels-api2", "not-a-token")
    with pytest.raises(AuthError) as err:
        api.my_account()
    assert err.value.status == 401 and "not-a-token" not in str(err.value)
    assert not isinstance(err.value, TokenExpiredError)  # a bare 401 says only "refused"


def test_an_expired_static_token_is_told_apart_when_nels_says_so(nels_server):
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    api = NelsApi(f"{nels_server.url}/nels-api2", token)
    assert api.my_account().name == "Bob Member"
    nels_server.cast.world.expire_all_tokens()
    with pytest.raises(TokenExpiredError) as err:
        api.my_account()
    assert err.value.status == 401 and token not in str(err.value)


def test_server_errors_on_reads_are_retried_then_reported(nels_server):
    oauth = sign_in(nels_server, "alice", "alice-pw")
    api = NelsApi(f"{nels_server.url}/nels-api2", oauth, backoff=0.01, retries=3)
    inject_fault(nels_server.app, "GET", r"/my-account$", 503, "busy")
    inject_fault(nels_server.app, "GET", r"/my-account$", 502, "busy")
    assert api.my_account().nels_id == 261  # third try answers
    inject_fault(nels_server.app, "GET", r"/seek/sbi/projects$", 500, "Error")
    with pytest.raises(ApiError, match="500.*Error"):
        api.sbi_projects()  # 500 is not retried: NeLS answers it for real faults


def test_garbage_answer_is_a_clear_error(nels_server):
    oauth = sign_in(nels_server, "alice", "alice-pw")
    api = api_for(nels_server, oauth)
    inject_fault(nels_server.app, "GET", r"/my-account$", 200, "<html>proxy page</html>")
    with pytest.raises(ApiError, match="not JSON"):
        api.my_account()


def test_timeouts_are_bounded_and_reported():
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts, never answers
    port = silent.getsockname()[1]
    api = NelsApi(f"http://127.0.0.1:{port}/nels-api2", "tok", timeout=0.3, retries=2, backoff=0.01)
    with pytest.raises(ApiError, match="unreachable: ReadTimeout"):
        api.my_account()
    silent.close()


def test_sbi_calls_and_their_shapes(nels_server):
    cast = nels_server.cast
    w = cast.world
    d = w.add_dataset(
        cast.project, "Illumina-run", "Illumina_seq_data", subtypes={"reads": 0, "analysis": 0}
    )
    api = api_for(nels_server, sign_in(nels_server, "alice", "alice-pw"))
    assert [p.name for p in api.sbi_projects()] == ["UiB Test Project", "Sensitive_Cohort"]
    membership = api.sbi_project(cast.project.id)
    assert membership.role is Role.PI and membership.project.quota_allocated == 1 << 40
    listed = api.datasets(cast.project.id)
    assert [s.type for s in listed[0].subtypes] == ["reads", "analysis"]  # from "reads,analysis"
    alone = api.dataset(cast.project.id, d.id)
    assert [(s.type, s.size) for s in alone.subtypes] == [("reads", 0), ("analysis", 0)]
    url = api.permalink(cast.project.id, d.id, "reads")
    assert "/nels/pages/sbi/sbi.xhtml?ref=" in url
    assert api.sample_metadata("x-unknown") is None
    with pytest.raises(ApiError) as err:
        api.sbi_project(cast.locked.id)  # alice is not a member
    assert err.value.status == 404


def test_sbi_upload_job(nels_server):
    cast = nels_server.cast
    d = cast.world.add_dataset(cast.project, "Run1", "Illumina_seq_data", subtypes={"analysis": 0})
    api = api_for(nels_server, sign_in(nels_server, "bob", "bob-pw"))
    api.upload_to_sbi(
        cast.project.id, d.id, "analysis", "little_file.txt", b"little file", poll_interval=0.01
    )
    stored = cast.world.root / "sbi" / cast.project.folder / "Run1" / "analysis" / "little_file.txt"
    assert stored.read_bytes() == b"little file"
    listed = api.sbi_list(
        f"Storebioinfo/{cast.project.folder}/Run1/analysis", cast.project.id, d.id
    )
    assert [(e["name"], e["size"], e["isFolder"]) for e in listed] == [
        ("little_file.txt", 11, False)
    ]
    d.islocked = True
    with pytest.raises(SbiJobError) as err:
        api.upload_to_sbi(cast.project.id, d.id, "analysis", "x.txt", b"x", poll_interval=0.01)
    assert err.value.status == 405 and "x.txt" in str(err.value) and "locked" in str(err.value)


def test_api_calls_are_thread_safe_under_refresh(nels_server):
    oauth = sign_in(nels_server, "alice", "alice-pw")
    api = api_for(nels_server, oauth)
    nels_server.cast.world.expire_all_tokens()
    errors = []

    def call():
        try:
            api.my_account()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
