"""The nels-bundle web app: sign in with NeLS, connect SEEK, browse NeLS
projects, preview their ISA description, push it to SEEK, pull it back as
an ISA bundle, deposit it in ENA and BioStudies. A Flask application
factory with one blueprint per job.

Configuration comes from a TOML file (``config_file`` or
``$NELS_BUNDLE_WEB_CONFIG``), then ``NELS_BUNDLE_*`` environment variables,
then ``overrides``; never from module globals.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from nels_core.byte_names import shown, to_text
from nels_core.config import NELS_API2, NELS_DATA_HOST, NELS_OAUTH
from nels_core.deposit.upload import WEBIN_FTP
from nels_core.errors import ConfigError
from seek_plugin.db import Database

from . import error_pages, flashes, headers, models  # noqa: F401 - these register tables
from .crypto import Vault
from .jobs import JobRunner
from .kept import KeptForRequests
from .keys import check_keys
from .mail import check_mail_settings
from .queue import make_celery
from .wording import counted

DEFAULTS = {
    "SECRET_KEY": None,  # required: signs the session cookie
    "TOKEN_KEY": None,  # required: a Fernet key, encrypts tokens at rest
    "DEMO": False,  # set by `serve --demo` only: its keys are fresh each run, not checked
    "DATABASE_URL": None,  # default: SQLite in the instance folder
    "NELS_API_URL": NELS_API2,
    "NELS_OAUTH_URL": NELS_OAUTH,
    "NELS_CLIENT_ID": None,
    "NELS_CLIENT_SECRET": None,
    "PUBLIC_URL": None,  # required: the site's address; NeLS's callback is registered there
    "SESSION_IDLE_TIMEOUT": 8 * 3600,  # seconds without a request that end a sign-in
    "SESSION_ABSOLUTE_TIMEOUT": 7 * 24 * 3600,  # seconds a sign-in lasts, however active
    "NELS_STORAGE": "sftp",  # or "local": NeLS homes on a mounted file system
    "NELS_LOCAL_ROOT": None,  # local: the user's home folder, "{nels_id}" filled in
    "NELS_SFTP_HOST": NELS_DATA_HOST,
    "NELS_SFTP_PORT": 22,
    "NELS_KNOWN_HOSTS": None,  # text of known_hosts lines for the data host
    "SEEK_URLS": ["https://fairdomhub.org"],  # offered when connecting an account
    # deposits: offered server -> the service it stands for (a known name or an address);
    # leave "production" out to offer only the test servers
    "ENA_SERVERS": {"test": "test", "production": "production"},
    "ENA_UPLOAD_HOST": WEBIN_FTP,  # the Webin upload area (FTP with explicit TLS)
    "ENA_UPLOAD_PORT": 21,
    "ENA_UPLOAD_CA": None,  # a CA file to trust besides the system's
    "ENA_XSD_DIR": None,  # ENA's schemas; default: fetched once and cached
    "ENA_TIMEOUT": 300,  # seconds for each of Webin's answers
    "ENA_TAXONOMY_URL": None,  # ENA's taxonomy service; default: ENA's own
    "ENA_CHECKLIST_DIR": None,  # ENA's sample checklists; default: fetched once and cached
    "BIOSTUDIES_SERVERS": {"test": "test", "production": "production"},
    "WORK_DIR": None,  # bundles for download; default: in the instance folder
    "PULL_KEEP_DAYS": 7,  # days a pulled bundle stays for download (beat's sweep removes it)
    # seconds a web process reuses NeLS's answers about a user (account, projects) and
    # a folder's description: a change made outside the app shows within that time
    "HOME_KEEP_SECONDS": 30,
    "DESCRIPTION_KEEP_SECONDS": 30,
    # bytes a request may send (a metadata sheet is far smaller); more: the "Too large" page
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
    # the job queue: Redis, the Celery workers' broker (no result backend: a job's row says)
    "REDIS_URL": None,  # required: redis://host:port/db
    "JOB_WORKERS": 2,  # jobs one `nels-bundle worker` runs at once
    "JOB_SECRET_TTL": 24 * 3600,  # seconds a queued job's passwords stay readable
    "JOB_HEARTBEAT": 10,  # seconds between a running job's signs of life
    "JOB_STALE_AFTER": 60,  # seconds without one: its worker is taken for dead
    "JOB_REDELIVER_AFTER": 900,  # seconds before a dead worker's message is delivered again
    "JOB_RETRIES": 3,  # times a job is tried again after a lost connection
    "JOB_RETRY_PAUSE": 5,  # seconds before the first try again; each next waits 4 times longer
    # seconds a job waits unclaimed before a sweep checks that the queue still holds its
    # message (Redis restarted without persistence loses them; such a job is marked failed)
    "JOB_QUEUED_CHECK_AFTER": 300,
    "SWEEP_EVERY": 300,  # seconds between beat's sweeps: old pulls, abandoned and lost jobs
    # new deliveries noticed (for users who ask on their account page): seconds between
    # beat's looks at their projects; a delivery is told once two looks agree on it
    "WATCH_EVERY": 600,
    # e-mail about new deliveries: none without SMTP_HOST; SMTP_FROM is then required
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_FROM": None,
    "SMTP_USER": None,  # with SMTP_PASSWORD: log in before sending
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,  # STARTTLS before logging in (port 587 servers)
    "SMTP_CA": None,  # a CA file to trust besides the system's, for STARTTLS
    "SMTP_TIMEOUT": 30,
    # reverse proxies in front that set X-Forwarded-For/-Proto/-Host/-Prefix (0: none;
    # then those headers are ignored, as anyone can send them)
    "PROXY_FIX": 0,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": True,  # behind HTTPS; only the loopback demo turns it off
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def create_app(config_file: str | os.PathLike | None = None, overrides: dict | None = None):
    app = _configured(config_file, overrides)
    check_keys(app.config)  # before anything is made with them
    check_mail_settings(app.config)
    if not app.config.get("NELS_CLIENT_ID"):
        raise ConfigError("the web app needs NELS_CLIENT_ID in its configuration")
    app.config["PUBLIC_URL"] = _public_url(app.config["PUBLIC_URL"])
    instance = Path(app.instance_path)
    if not (app.config["DATABASE_URL"] and app.config["WORK_DIR"]):  # defaults live there
        instance.mkdir(parents=True, exist_ok=True, mode=0o700)
    url = _database_url(app)
    work = Path(app.config["WORK_DIR"] or instance / "work")
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    app.config["WORK_DIR"] = str(work)
    db, vault = Database(url), Vault(app.config["TOKEN_KEY"])
    app.extensions["nels_bundle"] = {"db": db, "vault": vault, "kept": KeptForRequests(app.config)}
    celery = make_celery(app)
    app.extensions["nels_bundle"].update(
        celery=celery, jobs=JobRunner(db, celery, vault, app.config)
    )
    CSRFProtect(app)
    proxies = int(app.config["PROXY_FIX"])
    if proxies:  # the client's address, scheme and host as the proxy saw them
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )

    from .auth import bp as auth_bp
    from .delivery_views import bp as deliveries_bp
    from .deposit_views import bp as deposit_bp
    from .health import bp as health_bp
    from .nels_views import bp as nels_bp
    from .sbi_views import bp as sbi_bp
    from .seek_views import bp as seek_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(nels_bp)
    app.register_blueprint(seek_bp)
    app.register_blueprint(deposit_bp)
    app.register_blueprint(deliveries_bp)
    app.register_blueprint(sbi_bp)
    app.register_blueprint(health_bp)
    # names that are not UTF-8: every text shown with \xNN for their odd bytes
    # (UTF-8 output refuses them: a 500), carried in links and forms in a form
    # the views turn back (nels_core.byte_names)
    app.jinja_env.finalize = _shown
    app.add_template_filter(shown, "shown")
    app.add_template_filter(to_text, "text_path")
    app.add_template_filter(counted, "counted")  # {{ n|counted("run") }}: "1 run", "8 runs"
    error_pages.register(app)
    flashes.register(app)  # flashed messages in the database, never in the cookie
    headers.register(app)
    return app


def database_url(config_file: str | os.PathLike | None = None) -> str:
    """The database create_app opens with these settings (nels-bundle db)."""
    app = _configured(config_file)
    if not app.config["DATABASE_URL"]:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True, mode=0o700)
    return _database_url(app)


def _configured(config_file: str | os.PathLike | None, overrides: dict | None = None) -> Flask:
    """An app with its settings: DEFAULTS, the file, NELS_BUNDLE_* variables, overrides."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    config_file = config_file or os.environ.get("NELS_BUNDLE_WEB_CONFIG")
    if config_file:  # TOML; JSON too (the demo hands its settings to its worker so)
        load = json.load if str(config_file).endswith(".json") else tomllib.load
        # absolute: Flask reads a relative name in its instance folder, not where it was given
        app.config.from_file(os.path.abspath(config_file), load=load, text=False)
    app.config.from_prefixed_env("NELS_BUNDLE")
    app.config.update(overrides or {})
    return app


def _database_url(app: Flask) -> str:
    return app.config["DATABASE_URL"] or f"sqlite:///{Path(app.instance_path) / 'nels-bundle.db'}"


def _public_url(value) -> str:
    """PUBLIC_URL checked: an http(s) address, without query, fragment or final slash."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("the web app needs PUBLIC_URL, its https:// address, in its settings")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError("PUBLIC_URL is the site's address only: no query, fragment or user")
    return value.rstrip("/")


def _shown(value):
    # objects (a finding, an id) become text first: their text may hold a name
    if value is None or isinstance(value, int | float):
        return value
    return shown(value if isinstance(value, str) else str(value))
