"""The NeLS file source for Galaxy 26.1 (``type: nels``).

Written the way Galaxy writes its plugins: a template configuration whose
fields may hold templates (``${user.user_vault.read_secret(...)}``), a
resolved configuration, and small hooks behind Galaxy's public methods.
All NeLS rules live in ``nels_core``; this module only translates, and says
what went wrong in words a researcher can act on.

URIs are Galaxy's own: ``gxfiles://<id>/Projects/...`` (and
``gxuserfiles://<id>/...`` for a source a user made from a template), the
forms Galaxy's web client accepts. ``nels://`` is the CLI's and fsspec's.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

from galaxy import exceptions
from galaxy.files.models import (
    AnyRemoteEntry,
    BaseFileSourceConfiguration,
    BaseFileSourceTemplateConfiguration,
    Entry,
    EntryData,
    FilesSourceRuntimeContext,
    RemoteDirectory,
    RemoteFile,
    RemoteFileHash,
)
from galaxy.files.sources import BaseFilesSource
from galaxy.util.config_templates import TemplateExpansion

from nels_core import token_advice
from nels_core.byte_names import from_text, shown, to_text
from nels_core.delivered import delivered_md5
from nels_core.errors import (
    AccessDeniedError,
    AlreadyExistsError,
    ApiError,
    AuthError,
    ChecksumMismatchError,
    ConfigError,
    HostKeyError,
    NelsError,
    NotFoundError,
    TokenExpiredError,
    TokenMissingError,
    UnsafePathError,
)
from nels_core.local_files import replacing
from nels_core.model import Entry as NelsEntry
from nels_core.paths import PERSONAL, normalise

from .homes import HOMES, NelsSettings
from .places import display_name, page_of, write_targets

log = logging.getLogger(__name__)
SORTABLE = {"name": "name", "path": "name", "uri": "name", "size": "size", "ctime": "ctime"}


class NelsFileSourceTemplateConfiguration(BaseFileSourceTemplateConfiguration):
    backend: str | TemplateExpansion = "sftp"
    root: str | TemplateExpansion | None = None
    api_url: str | TemplateExpansion | None = None
    access_token: str | TemplateExpansion | None = None
    legacy_client_key: str | TemplateExpansion | None = None
    legacy_client_secret: str | TemplateExpansion | None = None
    nels_id: int | TemplateExpansion | None = None
    host: str | TemplateExpansion = "data.nels.elixir.no"
    port: int | TemplateExpansion = 22
    known_hosts: str | TemplateExpansion | None = None
    accept_unknown_host: bool = False  # not templatable: an admin's decision
    bastion_host: str | TemplateExpansion | None = None
    bastion_port: int | TemplateExpansion = 22
    bastion_known_hosts: str | TemplateExpansion | None = None
    transport: str | TemplateExpansion = "auto"
    timeout: float | TemplateExpansion = 30.0
    idle_timeout: float | TemplateExpansion = 60.0
    # where users get a NeLS access token: named in every message about one
    token_help_url: str | None = None
    # Galaxy's own carrier for an OIDC token in a config serialised for a job
    http_headers: dict[str, str] | None = None


class NelsFileSourceConfiguration(BaseFileSourceConfiguration):
    backend: str = "sftp"
    root: str | None = None
    api_url: str | None = None
    access_token: str | None = None
    legacy_client_key: str | None = None
    legacy_client_secret: str | None = None
    nels_id: int | None = None
    host: str = "data.nels.elixir.no"
    port: int = 22
    known_hosts: str | None = None
    accept_unknown_host: bool = False
    bastion_host: str | None = None
    bastion_port: int = 22
    bastion_known_hosts: str | None = None
    transport: str = "auto"
    timeout: float = 30.0
    idle_timeout: float = 60.0
    token_help_url: str | None = None
    http_headers: dict[str, str] | None = None


# the settings fields the resolved config carries under the same names
_SETTINGS_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(NelsSettings)
    if f.name in NelsFileSourceConfiguration.model_fields
)


class NelsFilesSource(
    BaseFilesSource[NelsFileSourceTemplateConfiguration, NelsFileSourceConfiguration]
):
    plugin_type = "nels"
    supports_pagination = True
    supports_search = True
    supports_sorting = True

    template_config_class = NelsFileSourceTemplateConfiguration
    resolved_config_class = NelsFileSourceConfiguration

    # --- the hooks ---------------------------------------------------------------
    def _list(
        self,
        context: FilesSourceRuntimeContext[NelsFileSourceConfiguration],
        path="/",
        recursive=False,
        write_intent: bool = False,
        limit: int | None = None,
        offset: int | None = None,
        query: str | None = None,
        sort_by: str | None = None,
    ) -> tuple[list[AnyRemoteEntry], int]:
        reverse = bool(sort_by and sort_by.startswith("-"))
        key = (sort_by or "name").lstrip("-")
        if key not in SORTABLE:
            raise exceptions.RequestParameterInvalidException(
                f"NeLS listings sort by {', '.join(sorted(SORTABLE))}, not {sort_by!r}"
            )
        with self._errors(context):
            home = self._home(context)
            where = normalise(from_text(path.lstrip("/")))
            if write_intent and not recursive:
                # a folder picker for a write: only folders files may go into
                targets = write_targets(home, where)
                shown, total = page_of(targets, limit, offset or 0, query, reverse)
                return [self._remote(e, name) for e, name in shown], total
            page = home.list(
                where,
                limit=limit,
                offset=offset or 0,
                query=query,
                sort_by=SORTABLE[key],
                reverse=reverse,
                recursive=recursive,
                # Galaxy's dialog never asks for an order: folders first, then names
                folders_first=sort_by is None,
            )
            return [self._remote(e, display_name(home, e)) for e in page.entries], page.total

    def _realize_to(
        self,
        source_path: str,
        native_path: str,
        context: FilesSourceRuntimeContext[NelsFileSourceConfiguration],
    ) -> None:
        from nels_core.checksums import StreamHasher

        with self._errors(context):
            home = self._home(context)
            path = normalise(from_text(source_path.lstrip("/")))
            expected = delivered_md5(home, path)
            hasher = StreamHasher(sha256=False, md5=expected is not None)
            # whole or not at all: a cut leaves no truncated dataset behind
            with replacing(Path(native_path)) as out:
                for chunk in home.read_chunks(path):
                    hasher.update(chunk)
                    out.write(chunk)
                if expected and hasher.md5 != expected:
                    Path(native_path).unlink(missing_ok=True)
                    raise ChecksumMismatchError(
                        f"{path}: MD5 {hasher.md5} does not match the delivered checksum {expected}"
                    )
            if context.metadata_out is not None:
                context.metadata_out["name"] = shown(path.rsplit("/", 1)[-1])

    def _write_from(
        self,
        target_path: str,
        native_path: str,
        context: FilesSourceRuntimeContext[NelsFileSourceConfiguration],
    ) -> str | None:
        with self._errors(context):
            home = self._home(context)
            path = normalise(from_text(target_path.lstrip("/")))
            parent = path.rpartition("/")[0]
            if parent and not home.exists(parent):
                home.mkdir(parent)
            size = os.path.getsize(native_path)
            with open(native_path, "rb") as f:
                entry = home.write(path, f, overwrite=True, expected_size=size)
            return "/" + entry.path

    def _check_write(
        self, target_path: str, context: FilesSourceRuntimeContext[NelsFileSourceConfiguration]
    ) -> None:
        """A write NeLS would refuse, refused before any work is done for it.

        Galaxy calls this hook once patches/galaxy-file-source-write-check.patch
        is in: a history export then fails at once, not after its archive is built.
        """
        with self._errors(context):
            path = normalise(from_text(target_path.lstrip("/")))
            self._home(context).check_write(path, overwrite=True)

    def _create_entry(
        self, entry_data: EntryData, context: FilesSourceRuntimeContext[NelsFileSourceConfiguration]
    ) -> Entry:
        """A new folder in the user's ``Personal`` area."""
        with self._errors(context):
            name = normalise(entry_data.name)
            if not name or "/" in name:
                raise UnsafePathError(f"a folder name, not a path, is needed: {entry_data.name!r}")
            path = f"{PERSONAL}/{name}"
            self._home(context).mkdir(path)
            return Entry(name=name, uri=self.uri_from_path("/" + path), external_link=None)

    # --- helpers -------------------------------------------------------------------
    def _home(self, context: FilesSourceRuntimeContext[NelsFileSourceConfiguration]):
        c = context.config
        # the resolved config carries every NelsSettings field under the same name
        settings = NelsSettings(**{name: getattr(c, name) for name in _SETTINGS_FIELDS})
        return HOMES.get(settings)

    def _errors(self, context: FilesSourceRuntimeContext[NelsFileSourceConfiguration]):
        return _GalaxyErrors(context.config.token_help_url)

    def _remote(self, e: NelsEntry, name: str) -> AnyRemoteEntry:
        path = "/" + to_text(e.path)
        uri = self.uri_from_path(path)
        if e.is_dir:
            return RemoteDirectory(name=shown(name), uri=uri, path=path)
        hashes = [RemoteFileHash(hash_function="MD5", hash_value=e.md5)] if e.md5 else None
        return RemoteFile(
            name=shown(e.name), uri=uri, path=path, size=e.size, ctime=e.ctime, hashes=hashes
        )

    def _evaluate_template_config(self, user_data=None) -> NelsFileSourceConfiguration:
        # a token from Galaxy's OIDC login joins the resolved config, so it
        # also travels with the config Galaxy serialises into a job
        config = super()._evaluate_template_config(user_data)
        if not config.access_token:
            token = _token_from_oidc(self, getattr(user_data, "context", None))
            token = token or _bearer(config.http_headers)
            if token:
                config = config.model_copy(update={"access_token": token})
        return config


def _bearer(headers: dict[str, str] | None) -> str | None:
    value = (headers or {}).get("Authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _token_from_oidc(source: NelsFilesSource, user_context) -> str | None:
    provider = source.template_config.oidc_auth_provider
    if not provider or user_context is None:
        return None
    return (getattr(user_context, "oidc_access_tokens", None) or {}).get(provider)


class _GalaxyErrors:
    """NeLS errors become Galaxy's API exceptions, in words for the researcher.

    Credential problems say where the token goes and where to get one; a
    fault of NeLS or of this Galaxy's set-up is told without internal
    addresses (the details go to Galaxy's log, for its admin).
    """

    def __init__(self, token_help_url: str | None):
        self.token_help_url = token_help_url

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, NelsError):
            return False
        raise self.translate(exc) from None

    def translate(self, exc: NelsError) -> exceptions.MessageException:
        url = self.token_help_url
        if isinstance(exc, TokenMissingError):
            return exceptions.AuthenticationRequired(token_advice.missing(url))
        if isinstance(exc, TokenExpiredError):
            return exceptions.FileSourceCredentialExpired(token_advice.refused(exc, url))
        if isinstance(exc, AuthError):
            return exceptions.AuthenticationFailed(token_advice.refused(exc, url))
        if isinstance(exc, ApiError):
            log.warning("NeLS API: %s", exc)
            if exc.status == 0:
                return exceptions.GatewayTimeoutException(
                    "NeLS cannot be reached right now: try again in a few minutes"
                )
            return exceptions.UpstreamProxyError(
                f"NeLS answered with an error (HTTP {exc.status}): try again in a few minutes"
            )
        if isinstance(exc, HostKeyError | ConfigError):
            log.error("NeLS file source set-up: %s", exc)
            return exceptions.ServerNotConfiguredForRequest(
                "NeLS is not set up correctly in this Galaxy: please tell its admin "
                "(the details are in Galaxy's log)"
            )
        mapping = (
            (NotFoundError, exceptions.ObjectNotFound),
            (AccessDeniedError, exceptions.InsufficientPermissionsException),
            (AlreadyExistsError, exceptions.Conflict),
            (UnsafePathError, exceptions.RequestParameterInvalidException),
        )
        for ours, theirs in mapping:
            if isinstance(exc, ours):
                return theirs(str(exc))
        return exceptions.MessageException(str(exc))


__all__ = ("NelsFilesSource",)
