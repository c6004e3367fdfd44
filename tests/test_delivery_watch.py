"""New deliveries noticed: a user who opts in on the account page is told of
a run folder that arrives in one of their projects once it is complete and
nothing in it grows between two looks, once, on their projects page and in
one e-mail (a real SMTP server, aiosmtpd, on 127.0.0.1); a member who did
not opt in is told nothing. The watcher gets NeLS tokens with the stored
refresh token (sealed at rest, forgotten on sign-out everywhere); NeLS
revoking it stops the watcher for that user, and their page says so. The
NeLS home is reached as the pages reach it: over the real sshd, with the
SSH key NeLS's API hands out. Looks run through Celery's real worker on the
sandbox's Redis, or are called directly where the queue is not the point."""

from __future__ import annotations

import shutil
import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import need
from sqlalchemy import select
from test_web import csrf, sign_in

from nels_cli.demo import RUN, SEQ_PROJECT
from nels_core.home import Home
from nels_core.model import Account, Membership, Project, Role, User
from nels_core.storage.local import LocalStorage
from nels_sandbox.norseq import DeliverySpec, make_delivery
from nels_sandbox.sshd import free_port
from nels_sandbox.web_site import (
    demo_web_config,
    serve_demo,
    start_job_worker,
    start_sandboxes,
)
from nels_web.delivery_watch import REFUSED, WATCH, look, watching
from nels_web.models import DeliveryWatch, SeenDelivery, WebUser
from nels_web.run_folders import arrival, run_folders

NEW_RUN = "241201_A01447_0200_BHNEWRUNXX"
SAMPLES = ("Liver-1", "Gill-1")
MAILBOX = "demo@example.org"


class Inbox:
    """aiosmtpd's handler: every message the SMTP server accepted, and
    whether it came over TLS from a client that logged in."""

    def __init__(self):
        self.messages: list = []
        self.sessions: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        self.sessions.append((session.ssl is not None, session.authenticated))
        return "250 OK"


@pytest.fixture
def smtp_server():
    controller_module = need("aiosmtpd.controller", "dev")
    inbox = Inbox()
    server = controller_module.Controller(inbox, hostname="127.0.0.1", port=free_port())
    server.start()
    inbox.port = server.port
    yield inbox
    server.stop()


def site_config(sandboxes, inbox, **more) -> dict:
    return {
        **demo_web_config(sandboxes),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": inbox.port,
        "SMTP_FROM": "nels-bundle@example.org",
        "HOME_KEEP_SECONDS": 0,
        **more,
    }


@pytest.fixture
def site(tmp_path, sshd_server, smtp_server):
    """The sandboxes with their NeLS tree behind the real sshd, the web app
    sending e-mail to the test's SMTP server."""
    from nels_web import create_app

    sshd_server.revoke_all()
    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES, sshd=sshd_server)
    config = site_config(sandboxes, smtp_server)
    assert config["NELS_STORAGE"] == "sftp"
    app = create_app(None, config)
    yield sandboxes, app, smtp_server
    sandboxes.stop()


# --- helpers ------------------------------------------------------------------------


def db(app):
    return app.extensions["nels_bundle"]["db"]


def user_id(app, username: str, sandboxes) -> int:
    nels_id = sandboxes.nels_world.user_by_username(username).nels_id
    with db(app).sessions() as s:
        return s.scalar(select(WebUser.id).where(WebUser.nels_id == nels_id))


def opt_in(client, email: str = "", enabled: bool = True):
    form = {"csrf_token": csrf(client, "/account"), "email": email}
    if enabled:
        form["enabled"] = "1"
    r = client.post("/deliveries/watch", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)
    return r


def look_at_everyone(app) -> list[str]:
    """One look for each watching user, called directly (beat's look, without the queue)."""
    return [look(app, uid) for uid in watching(app)]


def notices(client) -> list[str]:
    """The new-delivery notices on the user's projects page, as HTML."""
    page = client.get("/").get_data(as_text=True)
    return page.split('<li class="delivery"')[1:]


def seq_dir(sandboxes) -> Path:
    world = sandboxes.nels_world
    return world.project_dir(world.projects[sandboxes.seq_project_id])


def staged_delivery(tmp_path, folder: str = NEW_RUN) -> tuple[Path, list[Path]]:
    """Run ``NEW_RUN`` written outside NeLS into ``folder``, to be copied in;
    its files, data first, the sample sheet and checksum list last."""
    staging = tmp_path / "staging" / folder
    spec = DeliverySpec(run=NEW_RUN, samples=SAMPLES, lanes=2, reads_per_file=20, read_length=50)
    files = make_delivery(staging, spec)
    return staging, files


def copy_in(staging: Path, files: list[Path], target: Path) -> None:
    for f in files:
        to = target / f.relative_to(staging)
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, to)


def watch_row(app, uid: int) -> DeliveryWatch:
    with db(app).sessions() as s:
        return s.get(DeliveryWatch, uid)


def seen(app, uid: int) -> dict[str, str]:
    with db(app).sessions() as s:
        rows = s.scalars(select(SeenDelivery).where(SeenDelivery.user_id == uid))
        return {r.folder: r.state for r in rows}


def until(check, seconds: float = 30, what: str = "it"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} not seen within {seconds:g} s")


def look_through_worker(app, uid: int) -> None:
    """Beat's look sent to the queue; back once the worker's look for ``uid`` is written."""
    before = watch_row(app, uid).looked
    app.extensions["nels_bundle"]["celery"].send_task(WATCH)
    until(
        lambda: (w := watch_row(app, uid)).looked != before and w.looking is None,
        what="the worker's look",
    )


# --- the tests -------------------------------------------------------------------


def test_a_delivery_copied_in_two_steps_is_told_once_when_complete_to_who_asked(site, tmp_path):
    sandboxes, app, inbox = site
    start_job_worker(app, sandboxes)  # Celery's real worker, on the sandbox's Redis
    world = sandboxes.nels_world
    olga = sandboxes.add_user("olga", "Olga Other", "pw-olga")
    world.add_member(world.projects[sandboxes.seq_project_id], olga, 3)
    demo, _ = sign_in(app, sandboxes)
    other, _ = sign_in(app, sandboxes, "olga", "pw-olga")  # a member who does not opt in
    opt_in(demo, MAILBOX)
    me, her = user_id(app, "demo", sandboxes), user_id(app, "olga", sandboxes)
    assert watching(app) == [me]

    look_through_worker(app, me)  # the first look learns what is there
    existing = f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}"
    assert seen(app, me) == {existing: "there"}
    staging, files = staged_delivery(tmp_path)
    run_dir = seq_dir(sandboxes) / "NorSeq" / NEW_RUN
    half = len(files) // 2
    copy_in(staging, files[:half], run_dir)  # half the reads so far
    copy_in(staging, [staging / "SampleSheet.csv", staging / "md5sum.txt"], run_dir)
    look_through_worker(app, me)
    new = f"Projects/{SEQ_PROJECT}/NorSeq/{NEW_RUN}"
    assert seen(app, me)[new] == "arriving" and notices(demo) == []
    copy_in(staging, files[half:], run_dir)  # the rest
    look_through_worker(app, me)  # complete, but grown since the look before
    assert seen(app, me)[new] == "arriving" and notices(demo) == [] and inbox.messages == []
    look_through_worker(app, me)  # two looks agree: told
    assert seen(app, me)[new] == "new"
    look_through_worker(app, me)  # and only once
    page = demo.get("/").get_data(as_text=True)
    assert page.count('<li class="delivery"') == 1
    assert f'New delivery: <strong class="run">{NEW_RUN}</strong>, 2 samples, 2 lanes' in page
    assert f'href="/isa/{new}"' in page and f'href="/isa/{new}#register"' in page

    assert len(inbox.messages) == 1  # one e-mail, to the address given
    envelope = inbox.messages[0]
    assert envelope.rcpt_tos == [MAILBOX]
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"] == f"New delivery in NeLS: {NEW_RUN} ({SEQ_PROJECT})"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content()
    assert f"{NEW_RUN}: 2 samples, 2 lanes" in body
    assert f"{app.config['PUBLIC_URL']}/isa/{new}" in body

    assert seen(app, her) == {} and watch_row(app, her) is None  # Olga: nothing
    assert "New delivery" not in other.get("/").get_data(as_text=True)


def test_nels_revoking_the_refresh_token_stops_the_watcher_and_the_page_says_so(site):
    sandboxes, app, _ = site
    demo, _ = sign_in(app, sandboxes)
    opt_in(demo)
    me = user_id(app, "demo", sandboxes)
    assert look_at_everyone(app) == ["looked"]
    oauth = app.config["NELS_OAUTH_URL"]
    app.config["NELS_OAUTH_URL"] = f"http://127.0.0.1:{free_port()}/oauth2"  # NeLS away
    assert look(app, me) == "unreachable"  # changes nothing: the next look tries again
    assert watching(app) == [me] and watch_row(app, me).stopped is None
    app.config["NELS_OAUTH_URL"] = oauth
    sandboxes.nels_world.refresh_tokens.clear()  # NeLS revokes the site's refresh tokens
    assert look(app, me) == "stopped"
    stopped = watch_row(app, me)
    assert stopped.stopped is not None and stopped.stopped_why == REFUSED
    assert watching(app) == []  # no more looks for this user
    with db(app).sessions() as s:
        assert s.get(WebUser, me).nels_refresh is None  # worth nothing now

    page = demo.get("/").get_data(as_text=True)  # the next visit
    assert 'id="watch-stopped"' in page and "stopped looking for new deliveries" in page
    assert "revoked, or it expired" in page and 'id="watch-sign-in"' in page
    assert 'id="watch-resume"' not in page  # no sign-in to look with yet

    demo, _ = sign_in(app, sandboxes)  # signing in again stores a new refresh token
    page = demo.get("/account").get_data(as_text=True)
    assert 'id="watch-resume"' in page
    r = demo.post(
        "/deliveries/watch/resume", data={"csrf_token": csrf(demo, "/account"), "next": "/"}
    )
    assert r.status_code == 302
    assert "watch-stopped" not in demo.get("/").get_data(as_text=True)
    assert look(app, me) == "looked"


def test_the_refresh_token_is_sealed_and_forgotten_on_sign_out_everywhere(site):
    sandboxes, app, _ = site
    demo, _ = sign_in(app, sandboxes)
    opt_in(demo)
    me = user_id(app, "demo", sandboxes)
    with db(app).sessions() as s:
        sealed = bytes(s.get(WebUser, me).nels_refresh)
    issued = list(sandboxes.nels_world.refresh_tokens)
    assert issued and sealed.startswith(b"gAAAA")  # a Fernet token
    assert not any(t.encode() in sealed for t in issued)
    demo.post("/logout/everywhere", data={"csrf_token": csrf(demo, "/account")})
    with db(app).sessions() as s:
        assert s.get(WebUser, me).nels_refresh is None
    assert watching(app) == [] and look(app, me) == "paused"  # not stopped: waits for a sign-in
    sign_in(app, sandboxes)
    assert watching(app) == [me] and look(app, me) == "looked"


def test_a_run_folder_named_with_markup_and_control_characters_is_shown_as_text(site, tmp_path):
    sandboxes, app, inbox = site
    demo, _ = sign_in(app, sandboxes)
    opt_in(demo, MAILBOX)
    assert look_at_everyone(app) == ["looked"]
    odd = "<img src=x onerror=alert(1)>\x1b[2J\nX"  # one folder: no slash in it
    staging, files = staged_delivery(tmp_path, odd)
    copy_in(staging, files, seq_dir(sandboxes) / odd)
    for _ in range(2):
        assert look_at_everyone(app) == ["looked"]
    page = demo.get("/").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;\\x1b[2J\\nX" in page
    assert "<img" not in page and "\x1b" not in page
    (envelope,) = inbox.messages
    mail = message_from_bytes(envelope.content, policy=policy.default)
    subject = f"New delivery in NeLS: <img src=x onerror=alert(1)>\\x1b[2J\\nX ({SEQ_PROJECT})"
    assert mail["Subject"] == subject
    assert "\x1b" not in envelope.content.decode()


def test_opting_out_stops_the_notices_and_a_dismissed_one_goes(site, tmp_path):
    sandboxes, app, inbox = site
    demo, _ = sign_in(app, sandboxes)
    page = demo.get("/account").get_data(as_text=True)
    assert 'id="watch-enabled"' in page and "checked" not in page.split('id="watch-enabled"')[1][:9]
    r = demo.post(
        "/deliveries/watch",
        data={"csrf_token": csrf(demo, "/account"), "enabled": "1", "email": "not an address"},
    )
    assert "not an e-mail address" in demo.get(r.headers["Location"]).get_data(as_text=True)
    assert watching(app) == []  # nothing changed
    opt_in(demo)  # notices on the site only: no e-mail
    assert look_at_everyone(app) == ["looked"]
    staging, files = staged_delivery(tmp_path)
    copy_in(staging, files, seq_dir(sandboxes) / "NorSeq" / NEW_RUN)
    look_at_everyone(app), look_at_everyone(app)
    assert len(notices(demo)) == 1 and inbox.messages == []
    me = user_id(app, "demo", sandboxes)
    with db(app).sessions() as s:
        (told,) = s.scalars(select(SeenDelivery).where(SeenDelivery.state == "new"))
    r = demo.post(f"/deliveries/{told.id}/dismiss", data={"csrf_token": csrf(demo, "/")})
    assert r.status_code == 302 and notices(demo) == []
    assert demo.post(f"/deliveries/{told.id}/dismiss").status_code == 400  # no form token
    opt_in(demo, enabled=False)
    assert watching(app) == [] and look(app, me) == "off"


def test_another_users_notice_cannot_be_dismissed(site, tmp_path):
    sandboxes, app, _ = site
    sandboxes.add_user("olga", "Olga Other", "pw-olga")
    demo, _ = sign_in(app, sandboxes)
    other, _ = sign_in(app, sandboxes, "olga", "pw-olga")
    opt_in(demo)
    look_at_everyone(app)
    staging, files = staged_delivery(tmp_path)
    copy_in(staging, files, seq_dir(sandboxes) / "NorSeq" / NEW_RUN)
    look_at_everyone(app), look_at_everyone(app)
    with db(app).sessions() as s:
        (told,) = s.scalars(select(SeenDelivery).where(SeenDelivery.state == "new"))
    r = other.post(f"/deliveries/{told.id}/dismiss", data={"csrf_token": csrf(other, "/")})
    assert r.status_code == 404 and len(notices(demo)) == 1


SMTP_PASSWORD = "s3cret-smtp-pw"


@pytest.fixture
def tls_smtp_server(tmp_path):
    """An SMTP server that takes mail only after STARTTLS and a login."""
    import ssl

    controller_module = need("aiosmtpd.controller", "dev")
    from aiosmtpd.smtp import AuthResult

    from nels_sandbox.ftp import self_signed

    key, cert = self_signed(tmp_path / "smtp-tls")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, login):
        ok = login.login == b"watcher" and login.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # the server says 235 or 535

    inbox = Inbox()
    server = controller_module.Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticator,
    )
    server.start()
    inbox.port, inbox.ca = server.port, str(cert)
    yield inbox
    server.stop()


def test_mail_goes_after_starttls_and_a_login_and_the_password_is_never_logged(
    tmp_path, tls_smtp_server, caplog
):
    from nels_web import create_app

    inbox = tls_smtp_server
    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES)  # a mounted tree: no sshd needed
    try:
        config = site_config(
            sandboxes,
            inbox,
            SMTP_STARTTLS=True,
            SMTP_CA=inbox.ca,
            SMTP_USER="watcher",
            SMTP_PASSWORD="not-the-password",
        )
        app = create_app(None, config)
        demo, _ = sign_in(app, sandboxes)
        opt_in(demo, MAILBOX)
        me = user_id(app, "demo", sandboxes)
        assert look(app, me) == "looked"
        staging, files = staged_delivery(tmp_path)
        copy_in(staging, files, seq_dir(sandboxes) / "NorSeq" / NEW_RUN)
        caplog.set_level("INFO")
        look(app, me), look(app, me)
        assert inbox.messages == [] and len(notices(demo)) == 1  # told on the page all the same
        assert "did not accept SMTP_USER's password (535)" in caplog.text
        assert "not-the-password" not in caplog.text
        with db(app).sessions() as s:
            assert s.scalars(select(SeenDelivery.mail)).all().count("due") == 1  # still owed

        app.config["SMTP_PASSWORD"] = SMTP_PASSWORD  # the site's operator fixes it
        assert look(app, me) == "looked"
        assert len(inbox.messages) == 1 and inbox.sessions == [(True, True)]
        assert look(app, me) == "looked" and len(inbox.messages) == 1  # sent once
        assert SMTP_PASSWORD not in caplog.text
    finally:
        sandboxes.stop()


def test_beat_sends_the_look_and_a_worker_runs_it(tmp_path, smtp_server):
    import json

    from nels_sandbox.job_worker import BeatProcess
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES)
    try:
        config = site_config(sandboxes, smtp_server, WATCH_EVERY=0.5)
        settings = tmp_path / "web.json"
        settings.write_text(json.dumps(config, default=str))
        settings.chmod(0o600)
        app = create_app(settings)
        demo, _ = sign_in(app, sandboxes)
        opt_in(demo, MAILBOX)
        me = user_id(app, "demo", sandboxes)
        start_job_worker(app, sandboxes)
        beat = BeatProcess(settings, tmp_path / "beat.log").start()
        try:
            until(lambda: watch_row(app, me).looked, what="beat's first look")
            staging, files = staged_delivery(tmp_path)
            copy_in(staging, files, seq_dir(sandboxes) / "NorSeq" / NEW_RUN)
            until(lambda: smtp_server.messages, what="the e-mail about the new delivery")
        finally:
            beat.stop()
        assert len(notices(demo)) == 1 and len(smtp_server.messages) == 1
    finally:
        sandboxes.stop()


# --- when a run folder is complete, on a local tree ------------------------------


def project_home(tmp_path) -> tuple[Home, Path]:
    root = tmp_path / "home"
    (root / "Personal").mkdir(parents=True)
    project = root / "Projects" / "P"
    project.mkdir(parents=True)
    user = User(1, "Ada", username="ada")
    account = Account.of(user, [Membership(Project(7, "P"), Role.MEMBER)])
    return Home(LocalStorage(root), account), project


def runs_in(home: Home) -> dict:
    entries = home.list("Projects/P", recursive=True, partials=True).entries
    return {r.path: arrival(home, r) for r in run_folders(entries, "Projects/P")}


def test_a_run_is_complete_only_with_every_listed_file_there_and_plausible(tmp_path):
    home, project = project_home(tmp_path)
    run = project / "NorSeq" / NEW_RUN
    make_delivery(run, DeliverySpec(run=NEW_RUN, samples=SAMPLES, reads_per_file=5))
    path = f"Projects/P/NorSeq/{NEW_RUN}"
    got = runs_in(home)[path]
    assert got.complete and (got.samples, got.lanes) == (2, 2)

    reads = run / "fastq" / "Liver-1_S1_L001_R1_001.fastq.gz"
    data = reads.read_bytes()
    reads.write_bytes(data[:20])  # no more than a gzip header and trailer
    assert runs_in(home)[path].why == "fastq/Liver-1_S1_L001_R1_001.fastq.gz is empty"
    reads.unlink()
    assert runs_in(home)[path].why == "fastq/Liver-1_S1_L001_R1_001.fastq.gz is not there yet"
    (run / "fastq" / ".Liver-1_S1_L001_R1_001.fastq.gz.nels-part-host-1-ab").write_bytes(data)
    assert runs_in(home)[path].why == "an upload into it is under way"
    (run / "fastq" / ".Liver-1_S1_L001_R1_001.fastq.gz.nels-part-host-1-ab").rename(reads)
    assert runs_in(home)[path].complete
    (run / "SampleSheet.csv").write_bytes(b"\xff\xfe not a sheet")
    assert runs_in(home)[path].why == "its sample sheet does not read"


def test_a_folder_without_a_checksum_file_or_sheet_is_no_run_yet(tmp_path):
    home, project = project_home(tmp_path)
    run = project / NEW_RUN
    make_delivery(run, DeliverySpec(run=NEW_RUN, samples=SAMPLES, reads_per_file=5))
    (run / "md5sum.txt").unlink()
    assert runs_in(home) == {}  # the sheet came, the checksums not yet
    (project / "raw").mkdir()
    (project / "raw" / "reads.fastq.md5").write_text("0" * 32 + "\n")
    assert runs_in(home) == {}  # a checksum without a sheet is no run either
    kept = project / "nels-metadata"
    make_delivery(kept / "copy", DeliverySpec(run=NEW_RUN, samples=SAMPLES, reads_per_file=5))
    assert runs_in(home) == {}  # the sheets and bundles kept beside the data are not runs


# --- in the browser ----------------------------------------------------------------


@pytest.fixture
def browser_site(tmp_path, smtp_server):
    from nels_web import create_app

    sandboxes = start_sandboxes(tmp_path, samples=SAMPLES)
    app = create_app(None, site_config(sandboxes, smtp_server, DESCRIPTION_KEEP_SECONDS=0))
    web = serve_demo(app, sandboxes)
    yield sandboxes, app, web
    web.stop()
    sandboxes.stop()


def test_the_notice_in_the_browser_leads_to_the_described_run(browser_site, page, tmp_path):
    from test_web_browser import fits
    from test_web_browser import sign_in as sign_in_in_browser

    sandboxes, app, web = browser_site
    sign_in_in_browser(page, web, sandboxes)
    page.click("#nav-account")
    page.check("#watch-enabled")
    page.fill("#watch-email", MAILBOX)
    page.click("#watch-form button[type=submit]")
    page.wait_for_selector("text=You will be told about new deliveries")
    assert page.is_checked("#watch-enabled") and page.input_value("#watch-email") == MAILBOX
    for width in (375, 1280):
        assert fits(page, "#watch-form", width) == []
    assert look_at_everyone(app) == ["looked"]
    staging, files = staged_delivery(tmp_path)
    copy_in(staging, files, seq_dir(sandboxes) / "NorSeq" / NEW_RUN)
    look_at_everyone(app), look_at_everyone(app)

    page.goto(web.url)
    notice = page.locator("li.delivery")
    assert notice.count() == 1
    text = notice.inner_text()
    assert f"New delivery: {NEW_RUN}, 2 samples, 2 lanes" in text and SEQ_PROJECT in text
    for width in (375, 1280):
        assert fits(page, "li.delivery", width) == []
    page.click("li.delivery a.describe")
    page.wait_for_selector("#studies")
    assert page.url.endswith(f"/isa/Projects/{SEQ_PROJECT}/NorSeq/{NEW_RUN}")
    studies = page.inner_text("#studies")
    assert NEW_RUN in studies
    samples = page.locator("#studies tbody tr").first.locator("td").nth(3)
    assert samples.inner_text().strip() == "2"  # the run's two samples, from its sample sheet
    page.go_back()
    page.click("li.delivery a.register")  # the push form's part of the same page
    page.wait_for_selector("#register")
    assert page.url.endswith(f"/isa/Projects/{SEQ_PROJECT}/NorSeq/{NEW_RUN}#register")
    assert page.is_visible("#connect-seek")  # no SEEK account connected yet: it says how
    page.go_back()
    page.click("li.delivery a.archive")  # the run's archive form, named after it
    page.wait_for_selector("#archive-form")
    assert page.input_value("#archive-form input[name=dataset]") == NEW_RUN
    assert page.input_value("#archive-form input[name=path]").endswith(f"NorSeq/{NEW_RUN}")
    page.go_back()
    page.click("li.delivery button.dismiss")
    page.wait_for_selector("text=Your NeLS projects")
    assert page.locator("li.delivery").count() == 0


def test_mail_settings_are_checked_at_start(tmp_path):
    from test_web import production_settings

    from nels_core.errors import ConfigError
    from nels_web import create_app

    with pytest.raises(ConfigError, match="SMTP_FROM must be the address"):
        create_app(None, production_settings(tmp_path, SMTP_HOST="127.0.0.1"))
    with pytest.raises(ConfigError, match="SMTP_USER and SMTP_PASSWORD go together"):
        create_app(
            None,
            production_settings(
                tmp_path, SMTP_HOST="mail", SMTP_FROM="a@example.org", SMTP_USER="u"
            ),
        )
    with pytest.raises(ConfigError, match="the password would cross the network in clear"):
        create_app(
            None,
            production_settings(
                tmp_path,
                SMTP_HOST="mail.example.org",
                SMTP_FROM="a@example.org",
                SMTP_USER="u",
                SMTP_PASSWORD="p",
            ),
        )
    app = create_app(
        None,
        production_settings(
            tmp_path, SMTP_HOST="mail", SMTP_FROM="NeLS bundle <nels-bundle@example.org>"
        ),
    )
    assert app.config["SMTP_PORT"] == 25 and app.config["WATCH_EVERY"] == 600
    schedule = app.extensions["nels_bundle"]["celery"].conf.beat_schedule
    assert schedule[WATCH]["schedule"] == 600 and len(schedule) == 4  # beside the sweeps
