"""New deliveries noticed: every ``WATCH_EVERY`` seconds beat sends a look,
which queues one look per user who asked to be told (account page). A look
gets a fresh NeLS access token with the user's stored refresh token, opens
their NeLS home as the pages do (NeLS's API hands out the SSH key), lists
each of their projects and compares the run folders found
(``nels_web.run_folders``) with what the last look saw
(``SeenDelivery``). The first look after opting in only learns what is
there. A run folder seen since is told once: when it is complete and its
files' sizes are those of the look before (nothing still being copied);
then it shows on the user's pages and, when the site sends e-mail and the
user gave an address, one e-mail goes out.

NeLS refusing the refresh token (revoked, expired) stops the watcher for
that user, saying why; their pages say so until they turn it back on after
signing in again, which stores a new one. Signing out everywhere forgets
the token: looks pause until the next sign-in, and what came meanwhile is
told then. A look that cannot reach NeLS changes nothing; the next tries.

One look at a time per user (a claim in the database): two at once would
agree with each other with no time between them for a copy to go on.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

from celery import Celery
from flask import Flask, url_for
from sqlalchemy import delete, or_, select, update

from nels_core.api.oauth import TokenSet
from nels_core.byte_names import to_text
from nels_core.connect import build_home
from nels_core.errors import AuthError, NelsError
from nels_core.paths import PROJECTS
from nels_core.redact import visible

from .context import nels_settings
from .mail import MailError, mail_configured, send
from .models import DeliveryWatch, SeenDelivery, WebUser
from .nels_tokens import keep_rotated, oauth_client
from .run_folders import RunFolder, arrival, run_folders
from .wording import counted

log = logging.getLogger(__name__)
WATCH = "nels_web.watch.look_for_deliveries"  # beat's: one look per watching user
LOOK = "nels_web.watch.look_for_user"
LOOK_LONGEST = timedelta(hours=1)  # a look's claim older than this: its worker died
REFUSED = (
    "NeLS no longer accepts the sign-in this site kept for you (it was revoked, or it "
    "expired), so the site cannot look at your projects."
)
UNREADABLE = (
    "The sign-in this site kept for you can no longer be read (the site's keys were "
    "changed), so the site cannot look at your projects."
)


def register(celery: Celery, app: Flask) -> None:
    """The watcher's tasks, and beat's schedule of its look (after the sweeps')."""
    every = float(app.config["WATCH_EVERY"])
    celery.conf.beat_schedule = {
        **(celery.conf.beat_schedule or {}),
        WATCH: {"task": WATCH, "schedule": every, "options": {"expires": every}},
    }

    @celery.task(name=WATCH, shared=False)  # this app only, as its jobs
    def look_for_deliveries() -> int:
        users = watching(app)
        for user_id in users:  # a look not begun before the next is due is dropped
            celery.send_task(LOOK, (user_id,), expires=every)
        return len(users)

    @celery.task(name=LOOK, shared=False)
    def look_for_user(user_id: int) -> str:
        return look(app, user_id)


def watching(app: Flask) -> list[int]:
    """The users to look for: opted in, not stopped, with a refresh token kept."""
    with app.extensions["nels_bundle"]["db"].sessions() as s:
        return list(
            s.scalars(
                select(DeliveryWatch.user_id)
                .join(WebUser, WebUser.id == DeliveryWatch.user_id)
                .where(DeliveryWatch.enabled.is_(True), DeliveryWatch.stopped.is_(None))
                .where(WebUser.nels_refresh.is_not(None))
                .order_by(DeliveryWatch.user_id)
            )
        )


def look(app: Flask, user_id: int) -> str:
    """One look for new deliveries of one user, and the e-mails it owes;
    what came of it: looked, busy (another look holds the claim), off,
    paused (no refresh token kept), stopped, or unreachable (NeLS)."""
    db = app.extensions["nels_bundle"]["db"]
    if not _claim(db, user_id):
        return "busy"
    try:
        with app.app_context():
            outcome = _Look(app, user_id).run()
        if outcome == "looked":
            send_due_mail(app, user_id)
    finally:
        _release(db, user_id)
    return outcome


class _Look:
    def __init__(self, app: Flask, user_id: int):
        state = app.extensions["nels_bundle"]
        self.app, self.config, self.user_id = app, app.config, user_id
        self.db, self.vault = state["db"], state["vault"]

    def run(self) -> str:
        with self.db.sessions() as s:
            watch, user = s.get(DeliveryWatch, self.user_id), s.get(WebUser, self.user_id)
        if watch is None or user is None or not watch.enabled or watch.stopped is not None:
            return "off"
        if user.nels_refresh is None:
            return "paused"
        tokens = self._tokens(user.nels_refresh)
        if isinstance(tokens, str):
            return tokens
        try:
            home = build_home(nels_settings(tokens.access_token))
        except NelsError as e:  # NeLS's API away: nothing seen, nothing changed
            log.warning("user %d: NeLS could not be reached: %s", self.user_id, visible(str(e)))
            return "unreachable"
        try:
            found, listed = _runs(home)
            self._compare(home, watch, found, listed)
        finally:
            home.close()
        return "looked"

    def _tokens(self, sealed: bytes) -> TokenSet | str:
        """Fresh tokens from the stored refresh token; else what the look came to."""
        refresh = self.vault.open(sealed)
        if refresh is None:
            self._stop(UNREADABLE, sealed)
            return "stopped"
        oauth = oauth_client(self.config, refresh)
        try:
            oauth.refresh()
        except AuthError as e:
            if e.status in (400, 401):  # invalid_grant, invalid_client: asking again won't help
                self._stop(REFUSED, sealed)
                return "stopped"
            log.warning(
                "user %d: NeLS's sign-in server did not give a token (status %s); "
                "the next look tries again",
                self.user_id,
                e.status or "none: unreachable",
            )
            return "unreachable"
        keep_rotated(self.app, self.user_id, sealed, refresh, oauth.tokens.refresh_token)
        return oauth.tokens

    def _stop(self, why: str, sealed: bytes) -> None:
        now = datetime.now(UTC)
        with self.db.sessions() as s, s.begin():
            s.execute(
                update(DeliveryWatch)
                .where(DeliveryWatch.user_id == self.user_id, DeliveryWatch.stopped.is_(None))
                .values(stopped=now, stopped_why=why)
            )
            s.execute(  # worth nothing now; a newer one (a sign-in meanwhile) stays
                update(WebUser)
                .where(WebUser.id == self.user_id, WebUser.nels_refresh == sealed)
                .values(nels_refresh=None)
            )
        log.warning("user %d: the delivery watcher stopped: %s", self.user_id, why)

    def _compare(self, home, watch: DeliveryWatch, found: dict, listed: set[str]) -> None:
        first = watch.looked is None
        mail = "due" if mail_configured(self.config) and watch.email else ""
        now = datetime.now(UTC)
        with self.db.sessions() as s, s.begin():
            seen = {
                r.folder: r
                for r in s.scalars(select(SeenDelivery).where(SeenDelivery.user_id == self.user_id))
            }
            for path, run in found.items():
                row = seen.get(path)
                if row is not None and row.state != "arriving":
                    continue  # there before, or told already: once is enough
                sizes = run.sizes
                if first or row is None:  # a first sighting is no look to agree with
                    s.add(
                        SeenDelivery(
                            user_id=self.user_id,
                            folder=path,
                            state="there" if first else "arriving",
                            # what is there already needs no sizes: it is never told
                            sizes="{}" if first else json.dumps(sizes, sort_keys=True),
                            samples=0,
                            lanes=0,
                            mail="",
                        )
                    )
                    continue
                got = arrival(home, run) if json.loads(row.sizes) == sizes else None
                if got is not None and got.complete:
                    row.state, row.told, row.mail = "new", now, mail
                    row.samples, row.lanes = got.samples, got.lanes
                    log.info("user %d: new delivery %s", self.user_id, visible(path))
                else:
                    row.sizes = json.dumps(sizes, sort_keys=True)
            gone = [
                r
                for path, r in seen.items()
                if path not in found and r.state != "new" and _under_any(path, listed)
            ]
            if gone:  # moved or removed: seen again, it is a new arrival
                s.execute(delete(SeenDelivery).where(SeenDelivery.id.in_([r.id for r in gone])))
            s.execute(
                update(DeliveryWatch)
                .where(DeliveryWatch.user_id == self.user_id)
                .values(looked=now)
            )


def _runs(home) -> tuple[dict[str, RunFolder], set[str]]:
    """The run folders in the user's projects, by path; the projects listed
    (one that could not be: its run folders are left as they were seen)."""
    found: dict[str, RunFolder] = {}
    listed: set[str] = set()
    for folder in sorted(home.account.memberships):
        base = f"{PROJECTS}/{folder}"
        try:
            entries = home.list(base, recursive=True, partials=True).entries
        except NelsError as e:
            log.warning("%s could not be listed: %s", visible(base), visible(str(e)))
            continue
        listed.add(base)
        for run in run_folders(entries, base):
            if _storable(run.path):
                found[run.path] = run
    return found, listed


def _storable(path: str) -> bool:
    """A name that is not UTF-8 cannot be stored as text (nor shown as it is)."""
    try:
        path.encode()
    except UnicodeEncodeError:
        return False
    return len(path) <= 1000


def _under_any(path: str, bases: set[str]) -> bool:
    return any(path.startswith(base + "/") for base in bases)


def _claim(db, user_id: int) -> bool:
    now = datetime.now(UTC)
    with db.sessions() as s, s.begin():
        return bool(
            s.execute(
                update(DeliveryWatch)
                .where(
                    DeliveryWatch.user_id == user_id,
                    or_(
                        DeliveryWatch.looking.is_(None), DeliveryWatch.looking < now - LOOK_LONGEST
                    ),
                )
                .values(looking=now)
            ).rowcount
        )


def _release(db, user_id: int) -> None:
    with db.sessions() as s, s.begin():
        s.execute(
            update(DeliveryWatch).where(DeliveryWatch.user_id == user_id).values(looking=None)
        )


# --- e-mail --------------------------------------------------------------------------


def send_due_mail(app: Flask, user_id: int) -> int:
    """The e-mails owed for the user's told deliveries, each sent once (a
    row is claimed before its e-mail goes; one that was not sent is owed
    again at the next look); how many went out."""
    db, config = app.extensions["nels_bundle"]["db"], app.config
    with db.sessions() as s:
        watch = s.get(DeliveryWatch, user_id)
        due = list(
            s.scalars(
                select(SeenDelivery).where(
                    SeenDelivery.user_id == user_id, SeenDelivery.mail == "due"
                )
            )
        )
    if not due:
        return 0
    if not (mail_configured(config) and watch is not None and watch.email and watch.enabled):
        _set_mail(db, [r.id for r in due], "due", "")  # nowhere to send them: owed no more
        return 0
    sent = 0
    for row in due:
        if not _set_mail(db, [row.id], "due", "sending"):
            continue  # another look's
        subject, body = message_about(app, row)
        try:
            send(config, watch.email, subject, body)
        except MailError as e:
            log.warning(
                "user %d: the e-mail about %s was not sent: %s", user_id, visible(row.folder), e
            )
            _set_mail(db, [row.id], "sending", "due")
            continue
        _set_mail(db, [row.id], "sending", "sent")
        sent += 1
    return sent


def _set_mail(db, ids: list[int], was: str, now: str) -> int:
    with db.sessions() as s, s.begin():
        return s.execute(
            update(SeenDelivery)
            .where(SeenDelivery.id.in_(ids), SeenDelivery.mail == was)
            .values(mail=now)
        ).rowcount


def message_about(app: Flask, row: SeenDelivery) -> tuple[str, str]:
    """(subject, plain text) of the e-mail about a new delivery. Names are
    shown as they are, control characters escaped: no line break of a
    folder's name reaches a header."""
    public = app.config["PUBLIC_URL"]
    with app.test_request_context():  # the site's addresses, outside any request
        describe = public + url_for("nels.preview", path=to_text(row.folder))
        register = public + url_for("nels.preview", path=to_text(row.folder), _anchor="register")
        settings = public + url_for("auth.account", _anchor="deliveries")
    run, project = visible(row.run), visible(row.project)
    size = counted(row.samples, "sample") + (f", {counted(row.lanes, 'lane')}" if row.lanes else "")
    subject = f"New delivery in NeLS: {run}" + (f" ({project})" if project else "")
    body = "\n".join(
        [
            f"A new delivery has arrived in your NeLS project {project}:"
            if project
            else "A new delivery has arrived in NeLS:",
            "",
            f"  {run}: {size}",
            f"  {visible(row.folder)}",
            "",
            "Describe it (its ISA description, from its sample sheet):",
            f"  {describe}",
            "Register it in SEEK:",
            f"  {register}",
            "",
            "You get this e-mail because you asked to be told of new deliveries.",
            f"Turn it off on your account page: {settings}",
            "",
        ]
    )
    return subject, body
