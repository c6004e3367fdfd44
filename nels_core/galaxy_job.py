"""NeLS as the user of a Galaxy job sees it.

Galaxy hands a tool the user's file sources as JSON (a ``<file_sources>``
configfile): each source's configuration with its templates resolved for
that user, the NeLS access token from their vault included. A tool that
runs ``nels-bundle`` reaches NeLS through the ``type: nels`` source in it,
with the user's own rights, and needs no Galaxy libraries to do so.
"""

from __future__ import annotations

import dataclasses
import json

from . import token_advice
from .connect import NelsSettings, build_home
from .errors import AuthError, ConfigError, NelsError, TokenMissingError
from .home import Home
from .paths import normalise

_SETTINGS_FIELDS = tuple(f.name for f in dataclasses.fields(NelsSettings))


def parse_file_sources(text: str) -> list[dict]:
    """The source entries of Galaxy's file sources JSON."""
    try:
        doc = json.loads(text)
        sources = doc["file_sources"]
        if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            "the Galaxy file sources given are not the JSON Galaxy writes for a tool "
            "(an object with a 'file_sources' list)"
        ) from None
    return sources


def nels_source(sources: list[dict], uri: str) -> tuple[NelsSettings, str]:
    """The settings of the NeLS source ``uri`` is in, and the NeLS path it names.

    A source is matched by its URI root, as Galaxy's file dialog gives it:
    ``gxfiles://<id>`` for an admin's NeLS source, ``gxuserfiles://<id>`` for
    one a user made from a template. A ``nels://`` address (what bundles
    record, what the CLI takes) is NeLS itself, reached through the admin's
    NeLS source, else the user's own.
    """
    nels = [s for s in sources if s.get("type") == "nels"]
    if not nels:
        raise ConfigError(
            "this Galaxy gave the job no NeLS file source: ask the Galaxy admin to "
            "configure one (type: nels, see the nels-bundle README)"
        )
    if uri.startswith("nels://"):
        mine_last = sorted(nels, key=lambda s: s.get("scheme") == "gxuserfiles")
        return _settings(mine_last[0]), normalise(uri)
    roots = [(_root(s), s) for s in nels]
    probe = uri if uri.endswith("/") else uri + "/"  # the root itself names the top
    matching = [(root, s) for root, s in roots if probe.startswith(root)]
    if not matching:
        known = ", ".join(sorted(root for root, _ in roots))
        raise ConfigError(f"{uri!r} is not in a NeLS file source of this Galaxy ({known})")
    root, source = max(matching, key=lambda m: len(m[0]))
    return _settings(source), normalise(probe[len(root) :])


def build_job_home(settings: NelsSettings) -> Home:
    """The job's NeLS home; NeLS refusing the token is told as Galaxy's user needs it."""
    try:
        return build_home(settings)
    except AuthError as e:
        advice = token_advice.refused(e, settings.token_help_url)
        raise NelsError(f"{advice.rstrip('.')}, then run the tool again") from None


def _root(source: dict) -> str:
    # Galaxy writes uri_root for every browsable source; else its default form
    root = source.get("uri_root") or f"{source.get('scheme') or 'gxfiles'}://{source.get('id')}"
    return root if root.endswith("/") else root + "/"


def _settings(source: dict) -> NelsSettings:
    values = {k: source[k] for k in _SETTINGS_FIELDS if source.get(k) is not None}
    if not values.get("access_token"):  # Galaxy renders an unset vault secret as ""
        values.pop("access_token", None)
        headers = source.get("http_headers") or {}
        bearer = headers.get("Authorization", "") if isinstance(headers, dict) else ""
        if bearer.startswith("Bearer "):  # Galaxy's carrier for an OIDC login's token
            values["access_token"] = bearer[len("Bearer ") :]
    needs_token = values.get("backend", "sftp") == "sftp"  # a local tree has no API to ask
    if needs_token and "access_token" not in values and not values.get("legacy_client_secret"):
        advice = token_advice.missing(values.get("token_help_url"))
        raise TokenMissingError(f"{advice.rstrip('.')}, then run the tool again")
    try:
        return NelsSettings(**values)
    except TypeError as e:
        raise ConfigError(f"the NeLS file source's configuration is not usable: {e}") from None
