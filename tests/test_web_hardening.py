"""The web app's defences that are about its edges (issue 20): it asks only
the SEEK instances and archives it is configured for, says nothing of what
another server answered, sends its security headers on every answer, its
pages need no inline script or style, and it will not start on weak keys."""

import http.client
import re
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from test_web import connect_seek, csrf, production_settings, sign_in
from werkzeug.serving import make_server

from nels_cli.demo import SEQ_PROJECT
from nels_core.errors import ConfigError
from nels_sandbox.web_site import demo_web_config, start_job_worker, start_sandboxes
from nels_web.wording import told
from seek_plugin.errors import Problem, SeekError

TEMPLATES = Path(__file__).parents[1] / "nels_web" / "templates"
MARK = "MARK-4b1d9e"  # in every answer of the servers below: never to be seen on a page


@pytest.fixture
def site(tmp_path, specs):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1",))
    config = {**demo_web_config(sandboxes), "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    app = create_app(None, config)
    start_job_worker(app, sandboxes)
    yield sandboxes, app
    sandboxes.stop()


class Listener:
    """A TCP port that records every connection made to it and answers none."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.arrived: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, address = self.socket.accept()
            except TimeoutError:
                continue
            self.arrived.append(address)
            connection.close()

    def close(self) -> list:
        self._stop.set()
        self._thread.join()
        self.socket.close()
        return self.arrived


@pytest.fixture
def listener():
    heard = Listener()
    yield heard
    heard.close()


class Answers:
    """A server that answers every request with the same status and body."""

    def __init__(self):
        self.answer = (200, "text/plain", b"")
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                status, kind, body = answers.answer
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def connect(client, url: str, token: str = "a-token") -> tuple[int, str]:
    """Send the connect form; the status and the page it leads to."""
    r = client.post(
        "/seek", data={"csrf_token": csrf(client, "/seek"), "seek_url": url, "token": token}
    )
    return r.status_code, client.get(r.headers["Location"]).get_data(as_text=True)


def flashed(page: str) -> str:
    found = re.search(r'<div class="flash[^"]*error[^"]*"[^>]*>(.*?)</div>', page, re.S)
    return found[1].strip() if found else ""


# --- only configured SEEK instances (SSRF) ---------------------------------


def test_an_address_the_site_does_not_offer_is_refused_before_anything_is_sent(site, listener):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    seek = sandboxes.seek_url
    port = listener.url.rsplit(":", 1)[1]
    for elsewhere in (
        listener.url,
        listener.url + "/",
        f"http://localhost:{port}",
        f"http://{seek.split('://', 1)[1]}@127.0.0.1:{port}",  # the offered one as user name
        f"{seek}@127.0.0.1:{port}",
        f"{seek}/../../",
        f"{seek}?next={listener.url}",
        "file:///etc/passwd",
        "",
    ):
        status, page = connect(client, elsewhere)
        assert status == 302, elsewhere
        assert flashed(page) == "Choose one of the SEEK instances this site offers.", elsewhere
    r = client.post(
        "/pull",
        data={
            "csrf_token": csrf(client, "/seek"),
            "investigation": f"{listener.url}/investigations/1",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/seek")
    said = flashed(client.get("/seek").get_data(as_text=True))
    assert said == f"This site pulls from {seek} only."
    assert listener.close() == []  # nothing ever reached it


def test_an_offered_seek_connects_however_its_address_is_written(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    assert connect_seek(client, sandboxes).status_code == 302
    page = client.get("/seek").get_data(as_text=True)
    assert f"Connected to {sandboxes.seek_url} as Demo Researcher" in page
    written = sandboxes.seek_url.upper() + "/"  # the same instance, written otherwise
    status, page = connect(client, written, sandboxes.seek_token)
    assert status == 302 and f"Connected to {sandboxes.seek_url} as" in page
    assert page.count('<td class="long">') == 1  # one account, at the address as configured


def test_the_connect_form_offers_the_configured_instances_and_keeps_the_choice(site):
    sandboxes, app = site
    app.config["SEEK_URLS"] = ["https://fairdomhub.org/", sandboxes.seek_url]
    client, _ = sign_in(app, sandboxes)
    _, page = connect(client, sandboxes.seek_url, "not-the-token")
    assert flashed(page) == f"SEEK at {sandboxes.seek_url} did not accept the token."
    options = re.findall(r"<option value=\"([^\"]*)\"( selected)?>", page)
    assert options == [("https://fairdomhub.org", ""), (sandboxes.seek_url, " selected")]
    assert "not-the-token" not in page


@pytest.mark.parametrize(
    "status, kind, body, said",
    [
        (200, "text/html", f"<html><h1>Welcome to nginx {MARK}</h1></html>", "reached"),
        (200, "application/json", f'{{"data": "{MARK}"}}', "reached"),
        (200, "text/plain", f"\x00\xff{MARK} garbage", "reached"),
        (401, "text/html", f"<!doctype html><p>Sign in {MARK}</p>", "token"),
        (403, "application/json", f'{{"errors": [{{"detail": "{MARK}"}}]}}', "token"),
        (502, "text/html", f"<html>Bad gateway {MARK}</html>", "reached"),
    ],
)
def test_a_seek_answering_garbage_or_a_page_is_not_quoted(site, status, kind, body, said):
    sandboxes, app = site
    seek = Answers()
    try:
        seek.answer = (status, kind, body.encode("latin-1"))
        app.config["SEEK_URLS"] = [seek.url]
        client, _ = sign_in(app, sandboxes)
        _, page = connect(client, seek.url)
    finally:
        seek.close()
    expected = {
        "token": f"SEEK at {seek.url} did not accept the token.",
        "reached": f"SEEK at {seek.url} could not be reached; try again later.",
    }
    assert flashed(page) == expected[said]
    assert MARK not in page


def test_a_closed_port_reads_as_any_other_failure(site, listener):
    sandboxes, app = site
    closed = listener.url
    listener.close()
    app.config["SEEK_URLS"] = [closed]
    client, _ = sign_in(app, sandboxes)
    _, page = connect(client, closed)
    assert flashed(page) == f"SEEK at {closed} could not be reached; try again later."


def test_a_job_failure_quotes_seeks_words_but_never_a_page():
    page = SeekError(502, [Problem(f"<html><body><h1>502 {MARK}</h1></body></html>")])
    assert MARK not in told(page) and "SEEK failed on its side" in told(page)
    words = SeekError(422, [Problem("can't be blank", "Invalid", "/data/attributes/title")])
    assert "title can't be blank" in told(words)


def test_a_deposit_goes_only_to_an_offered_server(site, listener):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    token = csrf(client, "/seek")
    for url in ("/deposits/ena", "/deposits/biostudies"):
        r = client.post(
            url,
            data={"csrf_token": token, "path": f"Projects/{SEQ_PROJECT}", "server": listener.url},
        )
        assert r.status_code == 302
        assert "not offered here" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert listener.close() == []


# --- headers ---------------------------------------------------------------


def test_every_answer_carries_the_security_headers(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    answers = {
        "page": client.get("/"),
        "error": client.get("/browse/Projects/No_Such_Project"),
        "form error": client.post("/seek", data={}),  # no CSRF token
        "signed out": app.test_client().get("/seek"),
        "style sheet": client.get("/static/app.css"),
        "download": client.get(f"/deposits/sheet?path=Projects/{SEQ_PROJECT}"),
        "no such job": client.get("/jobs/nothing.json"),
    }
    assert answers["error"].status_code == 404 and answers["form error"].status_code == 400
    assert "attachment" in answers["download"].headers["Content-Disposition"]
    oauth = app.config["NELS_OAUTH_URL"].split("/oauth2", 1)[0]
    for what, r in answers.items():
        policy = dict(
            d.strip().split(" ", 1) for d in r.headers["Content-Security-Policy"].split(";")
        )
        assert policy == {
            "default-src": "'self'",
            "script-src": "'self'",
            "style-src": "'self'",
            "img-src": "'self' data:",
            "form-action": f"'self' {oauth}",  # a form sent signed out is sent on to NeLS
            "frame-ancestors": "'none'",
            "base-uri": "'none'",
            "object-src": "'none'",
        }, what
        assert r.headers["X-Frame-Options"] == "DENY", what
        assert r.headers["X-Content-Type-Options"] == "nosniff", what
        assert r.headers["Referrer-Policy"] == "same-origin", what
        assert r.headers.getlist("Server") == ["nels-bundle"], what


def test_the_served_app_names_no_server_version(site):
    from nels_web.headers import RequestHandler

    _, app = site
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=RequestHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        for path in ("/", "/static/app.css", "/no-such-page"):
            c = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            assert r.headers.get_all("Server") == ["nels-bundle"], path
            c.close()
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as raw:
            raw.sendall(b"GET / x HTTP/1.1\r\n\r\n")  # the server itself refuses it: no app
            head = raw.recv(4096).decode("latin-1")
        assert head.startswith("HTTP/") and "werkzeug" not in head.lower()
        assert "python" not in head.lower()
    finally:
        server.shutdown()


def test_no_template_has_inline_script_style_or_event_handlers():
    inline = {
        "a script without src": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
        "a style element": re.compile(r"<style\b", re.I),
        "a style attribute": re.compile(r"\sstyle\s*=", re.I),
        "an event handler": re.compile(r"\son[a-z]+\s*=", re.I),
        "a javascript: address": re.compile(r"javascript:", re.I),
    }
    templates = sorted(TEMPLATES.glob("*.html"))
    assert templates
    found = [
        f"{t.name}: {what}"
        for t in templates
        for what, pattern in inline.items()
        if pattern.search(t.read_text())
    ]
    assert found == []


# --- keys --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, value, said",
    [
        ("SECRET_KEY", "a", "too short or not random enough"),
        ("SECRET_KEY", "short-but-random-" + secrets.token_urlsafe(8), "too short"),
        ("SECRET_KEY", "a" * 64, "not random enough"),
        ("SECRET_KEY", "abc" * 20, "not random enough"),
        ("SECRET_KEY", None, "needs SECRET_KEY"),
        ("SECRET_KEY", "", "needs SECRET_KEY"),
        ("TOKEN_KEY", "not-a-fernet-key-" + secrets.token_urlsafe(32), "not a Fernet key"),
        ("TOKEN_KEY", "A" * 43 + "=", "not random enough"),  # a Fernet key, of 32 zero bytes
        ("TOKEN_KEY", None, "needs TOKEN_KEY"),
    ],
)
def test_the_app_will_not_start_on_a_weak_or_missing_key(tmp_path, key, value, said):
    from nels_web import create_app

    with pytest.raises(ConfigError) as refused:
        create_app(None, production_settings(tmp_path, **{key: value}))
    message = str(refused.value)
    assert key in message and said in message
    how = "secrets.token_urlsafe(32)" if key == "SECRET_KEY" else "Fernet.generate_key()"
    assert how in message
    if value and len(value) > 1:  # the value given is never repeated ("a" is in any text)
        assert value not in message


def test_a_weak_key_from_the_environment_is_refused_too(tmp_path, monkeypatch):
    from nels_web import create_app

    monkeypatch.setenv("NELS_BUNDLE_SECRET_KEY", "hunter2")
    config = production_settings(tmp_path)
    del config["SECRET_KEY"]
    with pytest.raises(ConfigError, match="SECRET_KEY is too short") as refused:
        create_app(None, config)
    assert "hunter2" not in str(refused.value)


def test_random_keys_start_and_only_the_demo_skips_the_checks(tmp_path):
    from nels_web import create_app
    from nels_web.keys import check_keys

    for _ in range(20_000):  # no random key is ever taken for a weak one
        check_keys({"SECRET_KEY": secrets.token_urlsafe(32), "TOKEN_KEY": Fernet.generate_key()})
    assert create_app(None, production_settings(tmp_path))
    assert create_app(None, production_settings(tmp_path, SECRET_KEY=secrets.token_hex(32)))
    assert create_app(None, production_settings(tmp_path, SECRET_KEY="a", DEMO=True))
    with pytest.raises(ConfigError):
        create_app(None, production_settings(tmp_path, SECRET_KEY="a", DEMO=False))


def test_serve_refuses_a_weak_key_in_one_line_without_it(tmp_path):
    from click.testing import CliRunner

    from nels_cli.main import main

    config = production_settings(tmp_path, SECRET_KEY="changeme-please")
    lines = [f"{k} = {v!r}" for k, v in config.items()]
    web = tmp_path / "web.toml"
    web.write_text("\n".join(line.replace("'", '"') for line in lines) + "\n")
    r = CliRunner().invoke(main, ["serve", "--web-config", str(web), "--port", "1"])
    assert r.exit_code == 1
    assert "SECRET_KEY is too short or not random enough" in r.output
    assert "secrets.token_urlsafe(32)" in r.output and "changeme-please" not in r.output
