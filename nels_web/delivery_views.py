"""New deliveries on the user's pages: the setting that asks for them
(account page), the notices (projects page) with their ways on, dismissing
one, and turning the watcher back on after NeLS refused its sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from sqlalchemy import delete, select, update

from nels_core.redact import visible

from .context import current_user, db, login_required, same_site_path
from .mail import mail_configured, valid_address
from .models import DeliveryWatch, SeenDelivery, WebUser
from .sessions import now

bp = Blueprint("deliveries", __name__)
SHOWN = 20  # notices on a page; older ones wait for these to be dismissed


@dataclass
class DeliveryNews:
    """What the pages say of new deliveries to the signed-in user."""

    watch: DeliveryWatch | None = None
    deliveries: list[SeenDelivery] = field(default_factory=list)
    can_resume: bool = False  # stopped, and a sign-in since stored a new refresh token
    mail: bool = False  # the site sends e-mail
    every_minutes: str = "10"  # between looks, as the account page says it

    @property
    def watching(self) -> bool:
        return bool(self.watch and self.watch.enabled and self.watch.stopped is None)

    @property
    def stopped(self) -> bool:
        return bool(self.watch and self.watch.enabled and self.watch.stopped is not None)


@bp.app_context_processor
def _news():
    # a function: a page that never asks costs no look-up
    return {"delivery_news": delivery_news}


@bp.app_template_filter("literal")
def literal(text) -> str:
    """A name from outside as it is: control characters shown as escapes
    (markup is escaped by the templates)."""
    return visible(str(text))


def delivery_news() -> DeliveryNews:
    user = current_user()
    c = current_app.config
    minutes = f"{float(c['WATCH_EVERY']) / 60:.3g}"
    news = DeliveryNews(mail=mail_configured(c), every_minutes=minutes)
    if user is None:
        return news
    with db().reads() as s:
        news.watch = s.get(DeliveryWatch, user.id)
        if news.watch is not None:
            news.deliveries = list(
                s.scalars(
                    select(SeenDelivery)
                    .where(SeenDelivery.user_id == user.id, SeenDelivery.state == "new")
                    .where(SeenDelivery.dismissed.is_(None))
                    .order_by(SeenDelivery.told.desc(), SeenDelivery.id.desc())
                    .limit(SHOWN)
                )
            )
        refresh = s.scalar(select(WebUser.nels_refresh).where(WebUser.id == user.id))
    news.can_resume = news.stopped and refresh is not None
    return news


@bp.post("/deliveries/watch")
@login_required
def watch():
    """The setting saved: on or off, and the address to e-mail, if any."""
    user = current_user()
    wanted = request.form.get("enabled") == "1"
    email = ""
    if mail_configured(current_app.config) and request.form.get("email", "").strip():
        email = valid_address(request.form["email"])
        if email is None:
            flash("That is not an e-mail address (name@example.org): nothing was changed.", "error")
            return redirect(url_for("auth.account", _anchor="deliveries"))
    with db().sessions() as s, s.begin():
        row = s.get(DeliveryWatch, user.id)
        if row is None:
            row = DeliveryWatch(user_id=user.id, enabled=False, email="", stopped_why="")
            s.add(row)
        if wanted and not row.enabled:  # from now on: the first look learns what is there
            row.looked = None
            s.execute(
                delete(SeenDelivery).where(
                    SeenDelivery.user_id == user.id, SeenDelivery.state != "new"
                )
            )
        if not wanted:
            row.stopped, row.stopped_why = None, ""
        row.enabled, row.email = wanted, email
    if not wanted:
        flash("You will not be told about new deliveries.", "ok")
    else:
        where = f" and by e-mail to {email}" if email else ""
        flash(f"You will be told about new deliveries in your projects, here{where}.", "ok")
    return redirect(url_for("auth.account", _anchor="deliveries"))


@bp.post("/deliveries/watch/resume")
@login_required
def resume():
    """The watcher on again after NeLS refused its sign-in: once a sign-in
    stored a new refresh token. What arrived meanwhile is told at the next look."""
    user = current_user()
    with db().sessions() as s, s.begin():
        refresh = s.scalar(select(WebUser.nels_refresh).where(WebUser.id == user.id))
        if refresh is None:
            flash("Sign in again first: the site needs a new sign-in to look with.", "error")
            return redirect(url_for("auth.account", _anchor="deliveries"))
        s.execute(
            update(DeliveryWatch)
            .where(DeliveryWatch.user_id == user.id)
            .values(stopped=None, stopped_why="")
        )
    flash("The site looks for new deliveries in your projects again.", "ok")
    return redirect(_back())


@bp.post("/deliveries/<int:seen_id>/dismiss")
@login_required
def dismiss(seen_id: int):
    with db().sessions() as s, s.begin():
        dismissed = s.execute(
            update(SeenDelivery)
            .where(SeenDelivery.id == seen_id, SeenDelivery.user_id == current_user().id)
            .where(SeenDelivery.state == "new")
            .values(dismissed=now())
        ).rowcount
    if not dismissed:
        abort(404)
    return redirect(_back())


def _back() -> str:
    return same_site_path(request.form.get("next")) or url_for("nels.index")
