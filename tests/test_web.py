"""The web app's rules, through Flask's test client against the live NeLS
and SEEK sandboxes, on SQLite and on PostgreSQL: sign-in, CSRF, who sees
what, and tokens encrypted at rest."""

import os
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from nels_cli.demo import OWN_PROJECT, SEQ_PROJECT
from nels_sandbox.web_site import demo_web_config, start_job_worker, start_sandboxes

# NeLS's answers about a user are reused this long (30 s on a site)
KEEP = {"HOME_KEEP_SECONDS": 1.0, "DESCRIPTION_KEEP_SECONDS": 1.0}


@pytest.fixture
def site(tmp_path, database_url, specs):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    config = {**demo_web_config(sandboxes), "DATABASE_URL": database_url, **KEEP}
    app = create_app(None, config)
    start_job_worker(app, sandboxes)
    yield sandboxes, app, database_url
    sandboxes.stop()


def sign_in(app, sandboxes, username=None, password=None, next_="/"):
    """The browser's part of the OAuth2 dance, done by hand."""
    client = app.test_client()
    r = client.get(f"/login?next={next_}")
    authorize = r.headers["Location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    answer = requests.post(
        authorize.split("?")[0],
        data={
            **query,
            "username": username or sandboxes.username,
            "password": password or sandboxes.password,
        },
        allow_redirects=False,
        timeout=10,
    )
    callback = urlsplit(answer.headers["Location"])
    r = client.get(f"{callback.path}?{callback.query}")
    return client, r


def production_settings(tmp_path, **keys) -> dict:
    """A site's settings outside the demo: strong keys, its own address."""
    from cryptography.fernet import Fernet

    return {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "TOKEN_KEY": Fernet.generate_key().decode(),
        "NELS_CLIENT_ID": "c",
        "PUBLIC_URL": "https://nels-bundle.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WORK_DIR": str(tmp_path / "w"),
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # not reached unless a job starts
        **keys,
    }


def push_project(client, sandboxes, form_page=f"/isa/Projects/{SEQ_PROJECT}"):
    """The push form of the sequencing project's folder, sent with the first SEEK account."""
    return client.post(
        "/push",
        data={
            "csrf_token": csrf(client, form_page),
            "path": f"Projects/{SEQ_PROJECT}",
            "account": "1",
            "project": sandboxes.seek_project,
        },
    )


def csrf(client, path):
    page = client.get(path).get_data(as_text=True)
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def wait(client, job_url: str, tries: int = 600) -> dict:
    """A background job's final state, as its page polls it (every 0.1 s)."""
    for _ in range(tries):
        state = client.get(f"{job_url}.json").get_json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"{job_url} still {state}")


def connect_seek(client, sandboxes):
    return client.post(
        "/seek",
        data={
            "csrf_token": csrf(client, "/seek"),
            "seek_url": sandboxes.seek_url,
            "token": sandboxes.seek_token,
        },
    )


def test_sign_in_lands_where_asked_and_never_off_site(site):
    sandboxes, app, _ = site
    client, r = sign_in(app, sandboxes, next_=f"/browse/Projects/{SEQ_PROJECT}")
    assert r.status_code == 302 and r.headers["Location"] == f"/browse/Projects/{SEQ_PROJECT}"
    _, r = sign_in(app, sandboxes, next_="//evil.example/")
    assert r.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert SEQ_PROJECT in home and OWN_PROJECT in home


def test_a_forged_or_replayed_sign_in_answer_is_refused(site):
    sandboxes, app, _ = site
    client = app.test_client()
    r = client.get("/auth/callback?code=abc&state=not-mine")
    assert r.status_code == 400
    assert "does not belong to this browser session" in r.get_data(as_text=True)


def test_forms_without_the_csrf_token_are_refused(site):
    sandboxes, app, _ = site
    client, _ = sign_in(app, sandboxes)
    r = client.post("/seek", data={"seek_url": sandboxes.seek_url, "token": sandboxes.seek_token})
    assert r.status_code == 400 and "Form expired" in r.get_data(as_text=True)
    r = client.post("/logout")
    assert r.status_code == 400
    token = csrf(client, "/seek")
    r = client.post(
        "/seek",
        data={"csrf_token": token, "seek_url": sandboxes.seek_url, "token": sandboxes.seek_token},
    )
    assert r.status_code == 302


def test_tokens_are_encrypted_at_rest(site):
    sandboxes, app, url = site
    client, _ = sign_in(app, sandboxes)
    connect_seek(client, sandboxes)
    engine = create_engine(url)
    with engine.connect() as c:
        (seek_token,) = c.execute(text("SELECT token FROM seek_accounts")).one()
        (nels_token,) = c.execute(text("SELECT nels_token FROM web_users")).one()
    engine.dispose()
    assert sandboxes.seek_token.encode() not in bytes(seek_token)
    issued = list(sandboxes.nels_world.access_tokens)
    assert issued and not any(t.encode() in bytes(nels_token) for t in issued)
    assert bytes(nels_token).startswith(b"gAAAA")  # a Fernet token


def test_only_members_see_a_project_and_only_owners_see_a_job(site):
    sandboxes, app, _ = site
    world = sandboxes.nels_world
    other = sandboxes.add_user("outsider", "Out Sider", "pw-outsider")
    world.add_member(world.add_project("Other_Lab_2026"), other, 1)
    client, _ = sign_in(app, sandboxes)
    connect_seek(client, sandboxes)
    r = push_project(client, sandboxes)
    job_url = r.headers["Location"]
    assert wait(client, job_url, tries=100)["state"] == "done"

    outsider, _ = sign_in(app, sandboxes, "outsider", "pw-outsider")
    assert outsider.get(job_url).status_code == 404
    assert outsider.get(f"{job_url}.json").status_code == 404
    for path in (f"/browse/Projects/{SEQ_PROJECT}", f"/isa/Projects/{SEQ_PROJECT}"):
        assert outsider.get(path).status_code == 404
    assert outsider.get("/browse/Projects/Other_Lab_2026").status_code == 200
    assert client.get("/browse/Projects/Other_Lab_2026").status_code == 404
    assert outsider.get("/browse/../etc").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(site):
    sandboxes, app, _ = site
    r = app.test_client().get(f"/browse/Projects/{SEQ_PROJECT}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_an_expired_nels_token_sends_the_user_to_sign_in_again(site):
    sandboxes, app, _ = site
    client, _ = sign_in(app, sandboxes)
    assert client.get(f"/browse/Projects/{SEQ_PROJECT}").status_code == 200
    sandboxes.nels_world.expire_all_tokens()
    time.sleep(KEEP["HOME_KEEP_SECONDS"] + 0.1)  # once what NeLS said is no longer reused
    r = client.get(f"/browse/Projects/{SEQ_PROJECT}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")


def test_the_session_cookie_is_https_only_outside_the_demo(tmp_path):

    from nels_web import create_app

    app = create_app(None, production_settings(tmp_path))
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    with pytest.raises(Exception, match="needs SECRET_KEY"):
        create_app(None, {"TOKEN_KEY": "A" * 43 + "=", "NELS_CLIENT_ID": "c"})


def test_a_name_that_is_not_utf8_browses_and_describes(site):
    """Such a name made the page a 500 (UTF-8 output refuses it)."""
    sandboxes, app, _ = site
    world = sandboxes.nels_world
    project = next(p for p in world.projects.values() if p.folder == SEQ_PROJECT)
    odd = os.fsencode(world.project_dir(project)) + b"/run_\xe6\xf8\xe5"  # Latin-1 "æøå"
    os.mkdir(odd)
    with open(odd + b"/notes\xff.txt", "wb") as f:
        f.write(b"x")
    client, _ = sign_in(app, sandboxes)
    page = client.get(f"/browse/Projects/{SEQ_PROJECT}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "run_\\xe6\\xf8\\xe5/" in html
    link = html.split('href="', 1 + html[: html.index("run_\\xe6")].count('href="'))[-1]
    link = link.split('"', 1)[0]
    inner = client.get(link)
    assert inner.status_code == 200 and "notes\\xff.txt" in inner.get_data(as_text=True)
    assert client.get(link.replace("/browse/", "/isa/", 1)).status_code == 200


def test_read_only_means_read_only_and_a_pull_says_nothing_of_a_hidden_folder(site):
    """A read-only member may look and download but not push to SEEK; someone
    outside the project who pulls its investigation learns nothing of it."""
    import os
    import stat

    sandboxes, app, database_url = site
    world = sandboxes.nels_world
    seq = next(p for p in world.projects.values() if p.name == SEQ_PROJECT)
    reader = sandboxes.add_user("reader", "Re Ader", "pw-reader")
    world.add_member(seq, reader, 4)
    client, _ = sign_in(app, sandboxes)
    connect_seek(client, sandboxes)
    r = push_project(client, sandboxes)
    investigation = wait(client, r.headers["Location"], tries=100)
    assert investigation["state"] == "done"
    inv_url = next(
        f"{sandboxes.seek_url}/investigations/{i}"
        for i in sandboxes.seek_world.records["investigations"]
    )

    ro, _ = sign_in(app, sandboxes, "reader", "pw-reader")
    page = ro.get(f"/isa/Projects/{SEQ_PROJECT}").get_data(as_text=True)
    assert 'id="read-only"' in page and 'id="push-form"' not in page
    connect_seek(ro, sandboxes)
    before = len(sandboxes.seek_world.records["investigations"])
    r = push_project(ro, sandboxes, form_page=f"/browse/Projects/{SEQ_PROJECT}")
    assert r.status_code == 403 and "cannot push a folder to SEEK" in r.get_data(as_text=True)
    assert len(sandboxes.seek_world.records["investigations"]) == before

    # an outsider pulling the investigation (it was pushed with this site's database)
    sandboxes.add_user("outsider", "Out Sider", "pw-outsider")
    outsider, _ = sign_in(app, sandboxes, "outsider", "pw-outsider")
    connect_seek(outsider, sandboxes)
    r = outsider.post(
        "/pull", data={"csrf_token": csrf(outsider, "/seek"), "investigation": inv_url}
    )
    state = wait(outsider, r.headers["Location"], tries=100)
    assert state["state"] == "failed"
    assert "not pushed from a NeLS folder you can see" in state["message"]
    assert SEQ_PROJECT not in state["message"]

    if database_url.startswith("sqlite:///"):  # the database is its owner's alone
        mode = stat.S_IMODE(os.stat(database_url.removeprefix("sqlite:///")).st_mode)
        assert mode == 0o600, oct(mode)


def test_a_job_title_names_its_folder_as_stored_even_when_the_name_reads_like_a_deposit():
    import json

    from nels_web.models import Job

    odd = "Projects/P/x to ENA (test)"
    push = Job(kind="push", subject=f"nels://{odd}", params=json.dumps({"path": odd}))
    assert (push.title, push.folder) == (f"Push {odd} to SEEK", odd)
    ena = Job(
        kind="ena",
        subject=f"nels://{odd} to ENA (production, dry run)",
        params=json.dumps({"path": odd, "ask": {"server": "production", "dry_run": True}}),
    )
    assert ena.title == f"Deposit {odd} in ENA (production, dry run)"
    # a row from before the parameters were stored (migration 0002) reads its subject
    old = Job(kind="ena", subject="nels://Projects/P/run to ENA (test)", params="{}")
    assert (old.title, old.folder) == ("Deposit Projects/P/run in ENA (test)", "Projects/P/run")
