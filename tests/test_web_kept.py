"""What a web process reuses between requests: NeLS's answers about a user
(account, projects) and a folder's description, for a short while only. A
membership NeLS withdrew and data a delivery added show once that time is
up; a sheet saved anywhere shows at once; a sign-out forgets the user."""

import time

import pytest
from flask import request
from test_ena_xml import fill_sheet
from test_web import csrf, sign_in
from test_web_deposit import upload_sheet

from nels_cli.demo import SEQ_PROJECT
from nels_sandbox.web_site import demo_web_config, start_sandboxes

FOLDER = f"Projects/{SEQ_PROJECT}"
KEEP = 1.5  # seconds, here; 30 on a site


@pytest.fixture
def site(tmp_path, monkeypatch):
    from nels_web import context, create_app

    sandboxes = start_sandboxes(tmp_path, samples=("Liver-1", "Gill-1"))
    asked: list[str] = []  # what the NeLS stand-in was asked, in order
    nels = sandboxes.served[0].server.app
    nels.before_request(lambda: asked.append(request.path) or None)
    described: list[str] = []
    describe = context.describe
    monkeypatch.setattr(
        context,
        "describe",
        lambda home, path, *a: described.append(path) or describe(home, path, *a),
    )
    config = {
        **demo_web_config(sandboxes),
        "HOME_KEEP_SECONDS": KEEP,
        "DESCRIPTION_KEEP_SECONDS": KEEP,
    }
    yield sandboxes, create_app(None, config), asked, described
    sandboxes.stop()


def about_the_user(asked: list[str]) -> list[str]:
    return [
        p
        for p in asked
        if not is_storebioinfo(p) and (p.endswith(("/my-account", "/projects")) or "/users/" in p)
    ]


def is_storebioinfo(path: str) -> bool:
    return "/sbi/" in path or path.endswith("/sbi/projects")


def test_pages_reuse_what_nels_said_for_a_while(site):
    sandboxes, app, asked, _ = site
    client, _ = sign_in(app, sandboxes)
    assert client.get("/").status_code == 200
    asked.clear()
    for page in ("/", f"/browse/{FOLDER}", f"/browse/{FOLDER}/NorSeq", f"/browse/{FOLDER}", "/"):
        assert client.get(page).status_code == 200
    assert about_the_user(asked) == []  # five pages, NeLS not asked again
    sbi = [p for p in asked if is_storebioinfo(p)]  # the project page's StoreBioinfo section
    assert sbi and len(sbi) == len(set(sbi))  # asked once, kept for the second visit
    time.sleep(KEEP + 0.2)
    assert client.get("/").status_code == 200
    assert about_the_user(asked) != []  # asked again once the time is up


def test_a_withdrawn_membership_shows_once_the_time_is_up(site):
    sandboxes, app, _, _ = site
    world = sandboxes.nels_world
    client, _ = sign_in(app, sandboxes)
    assert client.get(f"/browse/{FOLDER}").status_code == 200
    project = world.projects[sandboxes.seq_project_id]
    world.remove_member(project, world.user_by_username(sandboxes.username))
    time.sleep(KEEP + 0.2)
    assert client.get(f"/browse/{FOLDER}").status_code == 404
    assert SEQ_PROJECT not in client.get("/").get_data(as_text=True)


def test_a_description_is_kept_until_its_time_is_up_or_a_sheet_is_saved(site):
    sandboxes, app, _, described = site
    client, _ = sign_in(app, sandboxes)
    first = client.get(f"/isa/{FOLDER}").get_data(as_text=True)
    assert client.get(f"/isa/{FOLDER}").get_data(as_text=True) == first
    assert described == [FOLDER]  # the second page reused the first's description
    assert client.get(f"/deposit/{FOLDER}").status_code == 200  # so does the deposit page
    assert described == [FOLDER]

    template = client.get(f"/deposits/sheet?path={FOLDER}").get_data(as_text=True)
    assert "Sheet saved in NeLS" in upload_sheet(client, fill_sheet(template)).get_data(
        as_text=True
    )
    after = client.get(f"/isa/{FOLDER}").get_data(as_text=True)
    assert "Described with the folder's metadata sheet" in after  # at once, not in 30 s
    assert described.count(FOLDER) >= 2

    before = len(described)
    time.sleep(KEEP + 0.2)
    client.get(f"/isa/{FOLDER}")
    assert len(described) == before + 1  # described afresh: data may have come


def test_signing_out_forgets_what_was_kept_of_the_user(site):
    sandboxes, app, asked, _ = site
    client, _ = sign_in(app, sandboxes)
    assert client.get("/").status_code == 200
    kept = app.extensions["nels_bundle"]["kept"]
    assert kept.homes._values  # the home is kept
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert not kept.homes._values and not kept.apis._values


def test_requests_wanting_the_same_answer_at_once_ask_nels_once():
    import threading

    from nels_web.kept import _Kept

    kept, made, go = _Kept(30), [], threading.Event()

    def make():
        made.append(1)
        go.wait(5)  # NeLS is slow to answer
        return "home"

    got = []
    askers = [
        threading.Thread(target=lambda: got.append(kept.get(("user", 1), make))) for _ in range(8)
    ]
    for t in askers:
        t.start()
    time.sleep(0.2)
    go.set()
    for t in askers:
        t.join(5)
    assert got == ["home"] * 8 and len(made) == 1
    assert kept.get(("user", 2), lambda: "other") == "other"  # another key is its own


def test_while_an_answer_is_made_anew_the_others_take_the_one_it_replaces():
    import threading

    from nels_web.kept import _Kept

    kept, go = _Kept(0.2), threading.Event()
    assert kept.get(("user", 1), lambda: "old") == "old"
    time.sleep(0.3)  # its time is up

    def slow_new():
        go.wait(5)
        return "new"

    making = threading.Thread(target=lambda: kept.get(("user", 1), slow_new))
    making.start()
    time.sleep(0.1)
    assert kept.get(("user", 1), lambda: "a third") == "old"  # no second maker, no wait
    go.set()
    making.join(5)
    assert kept.get(("user", 1), lambda: "a third") == "new"
