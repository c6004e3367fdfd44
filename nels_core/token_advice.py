"""What a researcher reads when NeLS does not take their credentials.

One wording for every Galaxy path (the file browser, imports, exports, the
tools' jobs): where the token goes, where to get one, and whether NeLS said
it expired. Never an internal address, never the token.
"""

from __future__ import annotations

from .errors import TokenExpiredError

# the section title of galaxy_plugin/samples/user_preferences_extra_conf.yml
GALAXY_PREFERENCES = "User > Preferences > Manage information > Your NeLS account"
DEFAULT_TOKEN_URL = "https://nels.elixir.no"


def missing(token_url: str | None = None, where: str = GALAXY_PREFERENCES) -> str:
    return (
        f"No NeLS access token in your Galaxy preferences: add yours under {where} "
        f"(get one at {token_url or DEFAULT_TOKEN_URL})."
    )


def refused(error: Exception, token_url: str | None = None, where: str = GALAXY_PREFERENCES) -> str:
    if isinstance(error, TokenExpiredError):
        what = "Your NeLS access token has expired"
    else:  # a bare 401: NeLS does not say why
        what = "NeLS did not accept your access token (it may have expired or been revoked)"
    return f"{what}: paste a new one under {where} (get one at {token_url or DEFAULT_TOKEN_URL})."
