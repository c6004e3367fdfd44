"""Headers on every answer (pages, errors, downloads, static files): what a
browser may load, run, frame and send on, and no server versions.

The pages hold no inline script, style or event handler, so the policy
allows nothing but the site's own files.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app
from werkzeug.serving import WSGIRequestHandler

SERVER = "nels-bundle"  # a name without a version: versions tell attackers what to try
FIXED = {
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers older than CSP 2
    "X-Content-Type-Options": "nosniff",  # a download is never run as a page or script
    "Referrer-Policy": "same-origin",  # addresses hold folder names: not for other sites
}


def register(app: Flask) -> None:
    app.after_request(_secured)


def content_security_policy(oauth_url: str) -> str:
    """Only the site's own files; forms post to the site, and to NeLS's
    sign-in server: a form sent after the sign-in has expired is redirected
    there, and browsers apply form-action to a form's redirects."""
    parts = urlsplit(oauth_url or "")
    sign_in = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"form-action 'self'{sign_in}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(
        current_app.config["NELS_OAUTH_URL"]
    )
    response.headers.update(FIXED)
    response.headers["Server"] = SERVER
    return response


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's, without its own ``Server: Werkzeug/x Python/y`` header:
    the app's answers carry the site's (no versions), what the server
    answers by itself (a malformed request) carries none."""

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
