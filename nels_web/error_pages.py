"""Every error as a page of the site: what went wrong, in words, and a way
back. No address answers a bare 500 or shows a traceback."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from nels_core.errors import AccessDeniedError, AuthError, NelsError, NotFoundError, UnsafePathError

from .context import current_user, same_site_path
from .nels_views import FOLDER_PAGES
from .sessions import end as end_session
from .wording import told

# code -> (title, message) for what werkzeug would say in its own words
HTTP_WORDS = {
    400: ("Not understood", "The request was not understood. Go back and try again."),
    403: ("Not allowed", "Read-only members and locked projects cannot start a deposit."),
    404: ("Not found", "No such page, or not one of yours."),
    405: ("Not here", "This address is not opened that way: use the buttons of its page."),
    413: ("Too large", "What was sent is too large for this site."),
}


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _form_expired)
    app.register_error_handler(AuthError, _signed_out)
    for hidden in (NotFoundError, AccessDeniedError, UnsafePathError):
        app.register_error_handler(hidden, _not_found)
    app.register_error_handler(NelsError, _refused)
    app.register_error_handler(ValueError, _refused)
    app.register_error_handler(InternalServerError, _internal)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http)


def error_page(title: str, message: str, status: int, sign_in: bool = False):
    page = render_template(
        "error.html", title=title, message=message, back=way_back(), sign_in=sign_in
    )
    return page, status


def way_back() -> str:
    """Where the error page's Back link goes: the page of this site the user
    came from, else the folder the address is about, else the start page."""
    came_from = urlsplit(request.referrer or "")
    itself = came_from.path == request.path and request.method == "GET"  # not a form's page
    if came_from.netloc == request.host and not itself:
        query = f"?{came_from.query}" if came_from.query else ""
        if back := same_site_path(came_from.path + query):
            return back
    if request.path == url_for("deposit.sheet_upload") and request.args.get("path"):
        # the form names its folder in its address too: a refused upload
        # (413) is answered before the browser sends a Referer worth reading
        return url_for("deposit.page", path=request.args["path"])
    for prefix in FOLDER_PAGES:
        if request.path.startswith(prefix):
            folder = request.path[len(prefix) :].strip("/")
            if prefix == "/browse/":  # the folder itself may be what failed
                folder = posixpath.dirname(folder)
            if folder:
                return url_for("nels.browse", path=folder)
    return url_for("nels.index")


def _form_expired(_e):
    # the CSRF token lives as long as the session: it is gone after a sign-out
    # or when the page was left open too long
    message = (
        "The form could not be sent: the page was open too long, "
        "or you signed out since it was opened."
    )
    if current_user() is None:
        return error_page(
            "Form expired", message + " Sign in again, then send it again.", 400, True
        )
    return error_page("Form expired", message + " Go back, reload the page, send it again.", 400)


def _signed_out(_e):
    # NeLS tokens live an hour: sign in again, then come back here (a form's
    # address cannot be opened again: back to the page it was on)
    end_session()
    after = request.full_path if request.method == "GET" else way_back()
    return redirect(url_for("auth.login", next=after))


def _not_found(_e):
    return error_page(*HTTP_WORDS[404], 404)


def _refused(e: Exception):
    if isinstance(e, UnicodeError):  # a bug, whose message means nothing to a user
        current_app.logger.error("failed %s %s", request.method, request.path, exc_info=e)
        return _internal(e)
    if not isinstance(e, NelsError):  # ours say what to do; a ValueError may be a bug
        current_app.logger.warning("refused %s %s", request.method, request.path, exc_info=e)
    return error_page(getattr(e, "title", "Could not do that"), told(e), 400)


def _internal(_e):
    # Flask has logged the exception with its traceback before calling this
    message = "Something went wrong on our side (it was logged). Try again later, or go back."
    return error_page("Something went wrong", message, 500)


def _too_large(_e):
    # past MAX_CONTENT_LENGTH: nothing of the form was read, its CSRF token neither
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    takes = f" ({limit / 2**20:g} MiB)" if limit else ""
    message = (
        f"What was sent is larger than this site takes{takes}; a metadata sheet is far "
        "smaller. Go back and choose the sheet itself."
    )
    return error_page(HTTP_WORDS[413][0], message, 413)


def _http(e: HTTPException):
    if e.code is None or e.code < 400:  # a redirect werkzeug raises is no error
        return e
    title, message = HTTP_WORDS.get(e.code, ("Could not do that", "This could not be done."))
    if e.description and e.description != type(e).description:  # abort(code, "our words")
        message = e.description
    return error_page(title, message, e.code)
