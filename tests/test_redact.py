"""Credentials never reach error text (issue 17, defect 9): the scrubber on its
own, then each client (NeLS, SEEK, Webin, BioStudies) against a loopback
server whose error page echoes the request, headers and body, as some
servers and proxies do."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nels_core.api import NelsApi, OAuth2Client, TokenSet
from nels_core.api.oauth import new_code_verifier
from nels_core.deposit.biostudies import (
    BioStudiesAuthError,
    BioStudiesClient,
    BioStudiesError,
    BioStudiesLogin,
)
from nels_core.deposit.webin import WebinAccount, WebinClient, WebinError
from nels_core.errors import ApiError, AuthError
from nels_core.redact import MARK, basic, scrub
from seek_plugin.client import SeekClient
from seek_plugin.errors import SeekError

# --- the scrubber ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-123\r\nHost: x", "abc.def-123"),
        ("authorization: Token 0123abcd\nAccept: */*", "0123abcd"),
        ("Authorization: Basic d2ViaW46cHc=", "d2ViaW46cHc="),
        ("Authorization: Weird-Scheme s3cr3t", "s3cr3t"),
        ("Proxy-Authorization: Bearer pqr789", "pqr789"),
        ('{"headers": {"Authorization": "Token 0123abcd", "Host": "h"}}', "0123abcd"),
        ("{'Authorization': 'Bearer zz-top-9', 'Host': 'h'}", "zz-top-9"),
        ('{"detail": "Authorization: Bearer esc-42\\r\\nHost: x"}', "esc-42"),
        ("X-API-Key: key-7788", "key-7788"),
        ("X-SESSION-TOKEN: sess-77", "sess-77"),
        ("Cookie: _session=abc999", "abc999"),
        ("failed: Token tok-alice-1 not valid", "tok-alice-1"),
        ("then Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig sent", "eyJhbGciOiJIUzI1NiJ9.e30.sig"),
        ("GET /x?user=a&password=hunter22&next=1", "hunter22"),
        ("grant_type=refresh_token&refresh_token=rt-999", "rt-999"),
        ("client_secret=cs-1&scope=user", "cs-1"),
        ("access_token=at.555 expired", "at.555"),
        ('{"password": "pw with spaces", "login": "a@b.no"}', "pw with spaces"),
        ('{"token": 12345678, "next": 1}', "12345678"),
        ('{"sessid": "s-1", "accno": ""}', "s-1"),
        ("see https://bob:s3cret@nels.example/api", "s3cret"),
    ],
)
def test_credentials_are_replaced_by_a_mark(text, secret):
    shown = scrub(text)
    assert secret not in shown
    assert MARK in shown


def test_the_callers_own_secrets_go_even_bare_and_encoded():
    shown = scrub("you sent hunter-two! and hunter-two%21 and nothing else", ["hunter-two!"])
    assert "hunter" not in shown and shown.count(MARK) == 2
    assert "nothing else" in shown
    # too short to strip everywhere, and None or "" are no secret at all
    assert scrub("a pw b", ["pw", None, ""]) == "a pw b"


def test_what_went_wrong_stays():
    said = "422 Unprocessable: title can't be blank; token expired. Token authentication failed"
    assert scrub(said) == said
    assert scrub("Host: seek.example\r\nAuthorization: Token t-1") == (
        f"Host: seek.example Authorization: {MARK}"
    )


def test_control_characters_are_shown_and_long_text_cut():
    shown = scrub("red \x1b[31mtext\x1b[0m \u202eevil\x00 line\r\nnext\ttab")
    assert "\x1b" not in shown and "\u202e" not in shown and "\x00" not in shown
    assert "\\x1b[31mtext" in shown and "\\u202e" in shown and "\\x00" in shown
    assert "line next tab" in shown
    cut = scrub("x" * 1000)
    assert len(cut) == 300 and cut.endswith("…")
    assert scrub("y" * 50, limit=None) == "y" * 50
    huge = scrub("word " * 10**6 + "Authorization: Bearer late-1")  # megabytes, read in part
    assert len(huge) == 300 and huge.endswith("…")
    # a secret is removed before the cut, so no half of it is left at the end
    assert "abcdefgh" not in scrub("x" * 295 + "abcdefghij", ["abcdefghij"])[:-1]


def test_bytes_and_objects_are_read_as_text():
    assert scrub(b"Authorization: Bearer b-1") == f"Authorization: {MARK}"
    assert "t-2" not in scrub({"token": "t-2", "data": []})


# --- every client against a server that echoes the request -----------------------

SESSION = "bst-session-4711"


class Echo(BaseHTTPRequestHandler):
    """Answers ``server.status`` with the request as its body: request line,
    credential headers first, the request body, then the other headers."""

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(n).decode("latin-1") if n else ""
        if self.path.endswith("/auth/login") and self.server.login_ok:
            return self.reply(200, json.dumps({"sessid": SESSION}), "application/json")
        first = ("authorization", "x-session-token")
        headers = sorted(self.headers.items(), key=lambda kv: kv[0].lower() not in first)
        echo = "\r\n".join([self.requestline, *(f"{k}: {v}" for k, v in headers), "", sent])
        if self.server.shape == "json":
            body = json.dumps({"errors": [{"title": "Echo", "detail": echo}]})
            return self.reply(self.server.status, body, "application/json")
        self.reply(self.server.status, "You sent:\r\n" + echo, "text/plain")

    def reply(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    server.status, server.shape, server.login_ok = 500, "text", True
    server.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def shows_nothing_of(error, *secrets):
    text = str(error)
    for s in secrets:
        assert s not in text, f"{s!r} shown in {text!r}"
    assert MARK in text  # what was there, named


def test_nels_api_errors_hold_no_token(echo):
    token = "nels-token-0a1b2c3d"
    with pytest.raises(ApiError) as e:
        NelsApi(f"{echo.url}/nels-api2", token, retries=1).my_account()
    assert e.value.status == 500 and "NeLS API error 500" in str(e.value)
    assert "GET /nels-api2/my-account" in str(e.value)
    shows_nothing_of(e.value, token)

    api = NelsApi(f"{echo.url}/nels-api2", token, retries=1)
    with pytest.raises(ApiError) as e:
        api.legacy_ssh_credentials(7, "site-key", "site-secret-99")
    shows_nothing_of(e.value, "site-secret-99", basic("site-key", "site-secret-99"))


def test_nels_api_answer_that_is_not_json_holds_no_token(echo):
    echo.status, token = 200, "nels-token-9f8e7d6c"
    with pytest.raises(ApiError, match="not JSON") as e:
        NelsApi(f"{echo.url}/nels-api2", token).my_account()
    shows_nothing_of(e.value, token)


def test_nels_sign_in_errors_hold_no_secret_or_refresh_token(echo):
    echo.status = 400
    oauth = OAuth2Client(
        echo.url, "galaxy", "client-secret-55", tokens=TokenSet("at-1", refresh_token="rt-secret-9")
    )
    with pytest.raises(AuthError, match="token request refused") as e:
        oauth.refresh()
    assert e.value.status == 400
    shows_nothing_of(
        e.value, "client-secret-55", "rt-secret-9", basic("galaxy", "client-secret-55")
    )


def test_nels_sign_in_errors_hold_no_code_or_pkce_verifier(echo):
    echo.status, verifier = 400, new_code_verifier()
    oauth = OAuth2Client(echo.url, "web", "client-secret-56", redirect_uri="https://x.example/cb")
    with pytest.raises(AuthError, match="token request refused") as e:
        oauth.exchange_code("code-secret-77", verifier)
    shows_nothing_of(e.value, "code-secret-77", verifier, "client-secret-56")


@pytest.mark.parametrize("shape", ["text", "json"])
def test_seek_errors_hold_no_token(echo, shape):
    echo.shape, token = shape, "seek-token-1234abcd"
    with pytest.raises(SeekError) as e:
        SeekClient(echo.url, token=token, retries=1).investigations.get(1)
    assert e.value.status == 500 and "SEEK error 500 (GET /investigations/1)" in str(e.value)
    shows_nothing_of(e.value, token)


def test_seek_errors_hold_no_password(echo):
    with pytest.raises(SeekError) as e:
        SeekClient(echo.url, basic=("bob", "pw-bob-77"), retries=1).investigations.get(1)
    shows_nothing_of(e.value, "pw-bob-77", basic("bob", "pw-bob-77"))


def test_seek_errors_hold_no_netrc_password(echo, tmp_path, monkeypatch):
    """requests sends a .netrc login for the host in place of the token; our
    client reads it once per host and scrubs it as it scrubs its own."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login bob password pw-netrc-88\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    seek, sent = SeekClient(echo.url, token="seek-token-5678", retries=1), []
    seek.session.hooks["response"].append(lambda r, **_: sent.append(r.request.headers))
    with pytest.raises(SeekError) as e:
        seek.investigations.get(1)
    assert sent[0]["Authorization"] == f"Basic {basic('bob', 'pw-netrc-88')}"
    shows_nothing_of(e.value, "pw-netrc-88", basic("bob", "pw-netrc-88"), "seek-token-5678")


def test_webin_errors_hold_no_password(echo):
    account = WebinAccount("Webin-12345", "webin-pw-secret")
    client = WebinClient(account, server=echo.url, connect_tries=1)
    with pytest.raises(WebinError, match="answered 500") as e:
        client.submit({"submission": b"<SUBMISSION_SET/>"})
    assert "POST /drop-box/submit/" in str(e.value)
    shows_nothing_of(e.value, "webin-pw-secret", basic("Webin-12345", "webin-pw-secret"))


def test_biostudies_login_errors_hold_no_password(echo):
    echo.status, echo.login_ok = 401, False
    with pytest.raises(BioStudiesAuthError, match="refused researcher@uib.no") as e:
        BioStudiesClient(BioStudiesLogin("researcher@uib.no", "bst-pw-123"), server=echo.url)
    assert "POST /auth/login" in str(e.value)
    shows_nothing_of(e.value, "bst-pw-123")


def test_biostudies_errors_hold_no_session_token(echo):
    client = BioStudiesClient(BioStudiesLogin("researcher@uib.no", "bst-pw-123"), server=echo.url)
    with pytest.raises(BioStudiesError, match="answered 500") as e:
        client.submit({"accno": "", "section": {}})
    shows_nothing_of(e.value, SESSION)
