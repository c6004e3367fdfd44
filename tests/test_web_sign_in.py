"""Signing in and staying signed in (issue 20, items 3, 5 and 6), through
Flask's test client against the live NeLS stand-in: a sign-in lands only on
this site; sessions live on the server, end on sign-out (everywhere too),
when idle and in any case, and get a new id on each sign-in; the sign-in
uses PKCE and a callback address from configuration only; and the NeLS
stand-in refuses what a real OAuth2 server refuses."""

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, update
from test_web import csrf, sign_in

from nels_cli.demo import SEQ_PROJECT
from nels_core.api.oauth import code_challenge, new_code_verifier
from nels_core.errors import ConfigError
from nels_sandbox.nels_api import create_app as nels_app
from nels_sandbox.web_site import demo_web_config, start_sandboxes
from nels_sandbox.world import World

FOLDER = f"/browse/Projects/{SEQ_PROJECT}"  # a page for signed-in users only
CALLBACK = "http://localhost/auth/callback"  # the demo's PUBLIC_URL, Flask's test client's


def make_site(tmp_path, database_url):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1",))
    app = create_app(None, {**demo_web_config(sandboxes), "DATABASE_URL": database_url})
    return sandboxes, app


@pytest.fixture
def site(tmp_path, database_url):
    """On each database: the sessions' times must compare the same on both."""
    sandboxes, app = make_site(tmp_path, database_url)
    yield sandboxes, app
    sandboxes.stop()


@pytest.fixture
def lite(tmp_path):
    """On SQLite alone, for what does not depend on the database."""
    sandboxes, app = make_site(tmp_path, f"sqlite:///{tmp_path / 'web.db'}")
    yield sandboxes, app
    sandboxes.stop()


# --- the browser's part, by hand -------------------------------------------------


def nels_answer(sandboxes, authorize: str) -> str:
    """The user signs in on NeLS's form: the callback address NeLS sends the browser to."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    form = {**query, "username": sandboxes.username, "password": sandboxes.password}
    answer = requests.post(authorize.split("?")[0], data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def come_back(client, callback: str):
    parts = urlsplit(callback)
    return client.get(parts.path, query_string=parts.query)


def sign_in_again(client, sandboxes):
    """A sign-in in a browser that may hold a session already."""
    r = client.get("/login")
    return come_back(client, nels_answer(sandboxes, r.headers["Location"]))


def signed_in(client) -> bool:
    return client.get(FOLDER).status_code == 200


def cookie(client) -> str:
    return client.get_cookie("session").value


def browser_with(app, session_cookie: str):
    """Another browser, holding a copy of a session cookie."""
    client = app.test_client()
    client.set_cookie("session", session_cookie)
    return client


def cookie_data(app, client) -> dict:
    return app.session_interface.get_signing_serializer(app).loads(cookie(client))


def database(app):
    return app.extensions["nels_bundle"]["db"]


def stored_sessions(app) -> list:
    from nels_web.models import WebSession

    with database(app).sessions() as s:
        return list(s.scalars(select(WebSession)))


def set_session_times(app, **times) -> None:
    """The stored times of every session moved, as waiting would move them."""
    from nels_web.models import WebSession

    with database(app).sessions() as s, s.begin():
        s.execute(update(WebSession).values(**times))


def nels_token_stored(app) -> bool:
    from nels_web.models import WebUser

    with database(app).sessions() as s:
        return all(u.nels_token is not None for u in s.scalars(select(WebUser)))


def now() -> datetime:
    return datetime.now(UTC)


# --- 3: a sign-in lands on this site, or on the start page -----------------------

# each as an attacker writes it into a link to /login: the raw query value
OFF_SITE = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/%09/evil.example/",
    "/%0A/evil.example/",
    "%2F%2Fevil.example/",
    "/%2F%2Fevil.example/",
    "%252F%252Fevil.example/",
    "/%5C%5Cevil.example/",
    "/%5Cevil.example/",
    "https://evil.example/",
    "https:%2F%2Fevil.example/",
    "%68ttps://evil.example/",
    "javascript:alert(1)",
    "JaVaScRiPt%3Aalert(1)",
    "%20//evil.example/",
    "",
]


@pytest.mark.parametrize("raw_next", OFF_SITE)
def test_a_next_that_leads_off_site_falls_back_to_the_start_page(lite, raw_next):
    sandboxes, app = lite
    client = app.test_client()
    r = client.get("/login", query_string=f"next={raw_next}")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(f"{sandboxes.nels_url}/oauth2/authorize?")
    landed = come_back(client, nels_answer(sandboxes, r.headers["Location"]))
    assert landed.status_code == 302 and landed.headers["Location"] == "/"
    assert signed_in(client)


@pytest.mark.parametrize(
    "raw_next",
    [
        "/%0D%0AX",  # a line break in a header was a 500
        "/%0D%0ALocation:%20https://evil.example/",
        "/x%09y",
        "/a\\b",
        "/a%5Cb",
        "/a%00b",
    ],
)
def test_a_next_a_browser_would_have_to_repair_is_refused_not_a_500(lite, raw_next):
    sandboxes, app = lite
    client = app.test_client()
    r = client.get("/login", query_string=f"next={raw_next}")
    assert r.status_code == 302
    landed = come_back(client, nels_answer(sandboxes, r.headers["Location"]))
    assert landed.status_code == 302 and landed.headers["Location"] == "/"


@pytest.mark.parametrize(
    ("raw_next", "lands"),
    [
        (FOLDER, FOLDER),
        (f"{FOLDER}%3Fa%3D1%2526b", f"{FOLDER}?a=1%26b"),  # the query left as it is
        ("/browse/Projects/a%2520b", "/browse/Projects/a%20b"),  # escapes too
    ],
)
def test_a_sign_in_lands_where_asked_on_this_site(lite, raw_next, lands):
    sandboxes, app = lite
    client = app.test_client()
    r = client.get("/login", query_string=f"next={raw_next}")
    landed = come_back(client, nels_answer(sandboxes, r.headers["Location"]))
    assert landed.status_code == 302 and landed.headers["Location"] == lands


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/isa/Projects/A", "/isa/Projects/A"),
        ("/browse/a b?x=%2F%2F", "/browse/a b?x=%2F%2F"),  # the query is left as it is
        ("/browse/a%20b", "/browse/a%20b"),  # given back as given
        ("//evil", None),
        ("/\\evil", None),
        ("/\t/evil", None),
        ("/\r\n/evil", None),
        ("/\r\nX", None),
        ("/%2F%2Fevil", None),
        ("/%25252F%25252Fevil", None),  # three rounds of escapes
        ("/%5Cevil", None),
        ("%2Fevil", None),  # no leading slash as given: relative to the page
        ("https://evil", None),
        ("javascript:alert(1)", None),
        ("evil", None),
        ("/a\x00b", None),
        ("/a%00b", None),
        ("/a?b=\r\n", None),
        ("", None),
        (None, None),
    ],
)
def test_same_site_path(target, safe):
    from nels_web.context import same_site_path

    assert same_site_path(target) == safe


# --- 5: sessions on the server ---------------------------------------------------


def test_the_cookie_holds_a_random_id_and_the_database_only_its_hash(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    data = cookie_data(app, client)
    assert "uid" not in data and len(data["sid"]) >= 43  # secrets.token_urlsafe(32)
    (row,) = stored_sessions(app)
    assert row.id_hash == hashlib.sha256(data["sid"].encode()).hexdigest()
    assert data["sid"] not in row.id_hash
    lasts = row.expires.replace(tzinfo=None) - row.created.replace(tzinfo=None)
    assert lasts == timedelta(days=7)


def test_a_cookie_copied_earlier_never_works_after_sign_out(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    copied = cookie(client)
    assert signed_in(browser_with(app, copied))
    assert client.post("/logout", data={"csrf_token": csrf(client, "/")}).status_code == 302
    assert stored_sessions(app) == [] and not nels_token_stored(app)
    assert not signed_in(browser_with(app, copied))
    sign_in(app, sandboxes)  # the user signs in again, elsewhere
    assert nels_token_stored(app)
    assert not signed_in(browser_with(app, copied))
    assert "sign-in" in browser_with(app, copied).get("/").get_data(as_text=True)


def test_signing_out_ends_this_browsers_session_only(site):
    sandboxes, app = site
    first, _ = sign_in(app, sandboxes)
    second, _ = sign_in(app, sandboxes)
    first.post("/logout", data={"csrf_token": csrf(first, "/")})
    assert not signed_in(first)
    assert signed_in(second) and nels_token_stored(app)  # its NeLS token still needed


def test_sign_out_everywhere_ends_every_session_of_the_user(site):
    sandboxes, app = site
    first, _ = sign_in(app, sandboxes)
    second, _ = sign_in(app, sandboxes)
    copied = cookie(second)
    page = first.get("/account").get_data(as_text=True)
    assert "2 browsers" in page and "8 hours" in page and "7 days" in page
    r = first.post("/logout/everywhere", data={"csrf_token": csrf(first, "/account")})
    assert r.status_code == 302
    assert "Signed out everywhere: 2 sessions ended." in first.get("/").get_data(as_text=True)
    assert stored_sessions(app) == [] and not nels_token_stored(app)
    for browser in (first, second, browser_with(app, copied)):
        assert not signed_in(browser)


def test_sign_out_everywhere_needs_the_forms_token(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    assert client.post("/logout/everywhere").status_code == 400
    assert signed_in(client)


def test_a_session_left_idle_longer_than_the_idle_timeout_ends(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    set_session_times(app, last_used=now() - timedelta(hours=8, minutes=1))
    assert not signed_in(client)
    assert stored_sessions(app) == []  # an ended session is deleted when met


def test_use_keeps_a_session_alive_and_is_written_down(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    set_session_times(app, last_used=now() - timedelta(hours=7, minutes=59))
    assert signed_in(client)
    (row,) = stored_sessions(app)
    assert now() - row.last_used.replace(tzinfo=UTC) < timedelta(minutes=1)


def test_a_session_ends_at_its_absolute_timeout_however_active(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    set_session_times(app, created=now() - timedelta(days=7), expires=now() - timedelta(seconds=1))
    set_session_times(app, last_used=now())
    assert not signed_in(client)


def test_the_timeouts_come_from_the_configuration(lite):
    sandboxes, app = lite
    app.config.update(SESSION_IDLE_TIMEOUT=60, SESSION_ABSOLUTE_TIMEOUT=3600)
    client, _ = sign_in(app, sandboxes)
    (row,) = stored_sessions(app)
    assert row.expires - row.created == timedelta(hours=1)
    set_session_times(app, last_used=now() - timedelta(minutes=2))
    assert not signed_in(client)


def test_each_sign_in_gets_a_new_id_and_ends_the_old_one(site):
    sandboxes, app = site
    client, _ = sign_in(app, sandboxes)
    before, copied = cookie_data(app, client)["sid"], cookie(client)
    assert sign_in_again(client, sandboxes).status_code == 302
    assert cookie_data(app, client)["sid"] != before
    assert signed_in(client) and not signed_in(browser_with(app, copied))
    assert len(stored_sessions(app)) == 1


def test_an_id_planted_before_sign_in_is_never_taken_on(lite):
    sandboxes, app = lite
    client = app.test_client()
    with client.session_transaction() as planted:
        planted["sid"] = "chosen-by-someone-else"
    sign_in_again(client, sandboxes)
    assert cookie_data(app, client)["sid"] != "chosen-by-someone-else"
    assert signed_in(client)


# --- 6: PKCE and a callback address from configuration --------------------------


def authorize_query(response) -> dict:
    assert response.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_the_sign_in_carries_an_s256_challenge_whose_verifier_stays_on_the_server(lite):
    from nels_web.models import SignInAttempt

    sandboxes, app = lite
    client = app.test_client()
    r = client.get("/login")
    query = authorize_query(r)
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == CALLBACK
    with database(app).sessions() as s:
        (attempt,) = s.scalars(select(SignInAttempt))
    assert code_challenge(attempt.code_verifier) == query["code_challenge"]
    assert attempt.state_hash == hashlib.sha256(query["state"].encode()).hexdigest()
    assert attempt.code_verifier not in r.headers["Location"]
    assert attempt.code_verifier not in str(cookie_data(app, client))
    come_back(client, nels_answer(sandboxes, r.headers["Location"]))
    with database(app).sessions() as s:  # used up by the sign-in
        assert list(s.scalars(select(SignInAttempt))) == []


@pytest.mark.parametrize(
    "spoof",
    [
        {"headers": {"Host": "evil.example"}},
        {"base_url": "https://evil.example"},
        {"headers": {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}},
    ],
    ids=["host", "base-url", "forwarded"],
)
def test_a_spoofed_host_never_changes_the_callback_address(lite, spoof):
    sandboxes, app = lite
    query = authorize_query(app.test_client().get("/login", **spoof))
    assert query["redirect_uri"] == CALLBACK
    assert "evil" not in str(query)


def test_a_code_redeemed_with_another_verifier_is_refused(lite, caplog):
    """As if a code were injected into another sign-in: NeLS refuses it."""
    from nels_web.models import SignInAttempt

    sandboxes, app = lite
    caplog.set_level(logging.DEBUG)
    client = app.test_client()
    r = client.get("/login")
    other = new_code_verifier()
    with database(app).sessions() as s, s.begin():
        s.scalars(select(SignInAttempt)).one().code_verifier = other
    callback = nels_answer(sandboxes, r.headers["Location"])
    page = come_back(client, callback)
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "NeLS refused the sign-in" in text
    code = parse_qs(urlsplit(callback).query)["code"][0]
    for secret in (code, other, sandboxes.client_secret):
        assert secret not in text and secret not in caplog.text
    assert not signed_in(client) and stored_sessions(app) == []


def test_a_sign_in_answer_comes_once(lite):
    sandboxes, app = lite
    client = app.test_client()
    r = client.get("/login")
    callback = nels_answer(sandboxes, r.headers["Location"])
    with client.session_transaction() as kept:
        state = kept["oauth_state"]
    assert come_back(client, callback).status_code == 302
    with client.session_transaction() as replayed:  # the same answer, its state put back
        replayed["oauth_state"] = state
    page = come_back(client, callback)
    assert page.status_code == 400 and "used already" in page.get_data(as_text=True)


def test_a_state_outside_ascii_is_refused_not_a_500(lite):
    _, app = lite
    client = app.test_client()
    client.get("/login")
    r = client.get("/auth/callback", query_string={"state": "é", "code": "x"})
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "needs PUBLIC_URL"),
        ("", "needs PUBLIC_URL"),
        ("nels-bundle.example.org", "needs PUBLIC_URL"),
        ("ftp://nels-bundle.example.org", "needs PUBLIC_URL"),
        ("https://nels-bundle.example.org/?next=x", "no query"),
        ("https://user:pw@nels-bundle.example.org", "no query"),
    ],
)
def test_the_app_needs_a_public_url(tmp_path, value, said):
    from cryptography.fernet import Fernet

    from nels_web import create_app

    config = {
        "SECRET_KEY": new_code_verifier(),
        "TOKEN_KEY": Fernet.generate_key().decode(),
        "NELS_CLIENT_ID": "c",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WORK_DIR": str(tmp_path / "w"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # not reached: no job starts
        "PUBLIC_URL": value,
    }
    with pytest.raises(ConfigError, match=said):
        create_app(None, config)
    app = create_app(None, {**config, "PUBLIC_URL": "https://nels-bundle.example.org/app/"})
    assert app.config["PUBLIC_URL"] == "https://nels-bundle.example.org/app"


# --- 6: the NeLS stand-in, as a real OAuth2 server --------------------------------

SITE_CALLBACK = "https://site.example/auth/callback"


@pytest.fixture
def nels(tmp_path):
    world = World(tmp_path / "nels")
    world.add_user("ann", "Ann", "ann-pw")
    world.add_client("web", "web-secret", redirect_uris=(SITE_CALLBACK,))
    return world, nels_app(world).test_client()


def authorization(client, method="POST", **params):
    request = {"response_type": "code", "client_id": "web", "state": "s", **params}
    if method == "GET":
        return client.get("/oauth2/authorize", query_string=request)
    return client.post(
        "/oauth2/authorize", data={**request, "username": "ann", "password": "ann-pw"}
    )


def code_from(answer) -> str:
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def redeem(client, code: str, verifier: str | None = None, redirect_uri=SITE_CALLBACK):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return client.post("/oauth2/token", data=form, auth=("web", "web-secret"))


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    "callback",
    [
        "https://evil.example/auth/callback",
        "https://site.example/auth/callback/../../evil",
        "https://site.example/auth/callback?next=//evil.example",
        "https://site.example.evil.example/auth/callback",
        "http://site.example/auth/callback",
    ],
)
def test_the_stand_in_refuses_an_unregistered_callback(nels, method, callback):
    world, client = nels
    r = authorization(client, method, redirect_uri=callback)
    assert r.status_code == 400 and "Location" not in r.headers  # never sent there
    assert r.get_json()["error"] == "invalid_request"
    assert world.codes == {}


def test_the_stand_in_sends_back_to_the_registered_callback_only(nels):
    world, client = nels
    answer = authorization(client, redirect_uri=SITE_CALLBACK)
    assert answer.headers["Location"].startswith(SITE_CALLBACK + "?code=")
    assert redeem(client, code_from(answer)).status_code == 200
    world.register_redirect_uri("web", "https://other.example/cb")
    assert authorization(client, redirect_uri="https://other.example/cb").status_code == 302


@pytest.mark.parametrize(
    "given",
    [None, "wrong", "right+1", "other", "challenge"],
    ids=["missing", "malformed", "longer", "another", "the-challenge-itself"],
)
def test_the_stand_in_refuses_a_missing_or_wrong_verifier(nels, given):
    world, client = nels
    verifier = new_code_verifier()
    answer = authorization(
        client,
        redirect_uri=SITE_CALLBACK,
        code_challenge=code_challenge(verifier),
        code_challenge_method="S256",
    )
    code = code_from(answer)
    wrong = {
        None: None,
        "wrong": "short",
        "right+1": verifier + "x",
        "other": new_code_verifier(),
        "challenge": code_challenge(verifier),
    }[given]
    r = redeem(client, code, wrong)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_grant"
    assert redeem(client, code, verifier).status_code == 400  # a refused code is used up


def test_the_stand_in_checks_s256_as_rfc_7636_computes_it(nels):
    _, client = nels
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636, appendix B
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert code_challenge(verifier) == challenge
    answer = authorization(
        client, redirect_uri=SITE_CALLBACK, code_challenge=challenge, code_challenge_method="S256"
    )
    r = redeem(client, code_from(answer), verifier)
    assert r.status_code == 200 and r.get_json()["access_token"]


def test_the_stand_in_refuses_a_verifier_for_a_code_issued_without_challenge(nels):
    """No PKCE downgrade: a verifier where no challenge was sent is refused."""
    _, client = nels
    code = code_from(authorization(client, redirect_uri=SITE_CALLBACK))
    assert redeem(client, code, new_code_verifier()).status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"code_challenge": "too-short"},
        {"code_challenge": "x" * 43, "code_challenge_method": "MD5"},
        {"code_challenge_method": "S256"},
    ],
)
def test_the_stand_in_refuses_a_malformed_challenge(nels, params):
    _, client = nels
    r = authorization(client, "GET", redirect_uri=SITE_CALLBACK, **params)
    assert r.status_code == 400 and r.get_json()["error"] == "invalid_request"
