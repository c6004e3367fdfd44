"""What a researcher reads when NeLS does not take their credentials.

One wording for every path (Galaxy's file browser, imports, exports, the
tools' jobs, and the command line with its own remedy): what is wrong, what
to do, where to get a token, and whether NeLS said it expired. Never an
internal address, never the token.
"""

from __future__ import annotations

from .errors import TokenExpiredError

# the section title of galaxy_plugin/samples/user_preferences_extra_conf.yml
GALAXY_PREFERENCES = "User > Preferences > Manage information > Your NeLS account"
DEFAULT_TOKEN_URL = "https://nels.elixir.no"
IN_GALAXY = f"paste a new one under {GALAXY_PREFERENCES}"
ON_THE_COMMAND_LINE = "set a new one in $NELS_TOKEN (or the config file's [api] token)"


def missing(token_url: str | None = None) -> str:
    return (
        f"No NeLS access token in your Galaxy preferences: add yours under "
        f"{GALAXY_PREFERENCES} (get one at {token_url or DEFAULT_TOKEN_URL})."
    )


def refused(error: Exception, token_url: str | None = None, remedy: str = IN_GALAXY) -> str:
    if isinstance(error, TokenExpiredError):
        what = "Your NeLS access token has expired"
    else:  # a bare 401: NeLS does not say why
        what = "NeLS did not accept your access token (it may have expired or been revoked)"
    return f"{what}: {remedy} (get one at {token_url or DEFAULT_TOKEN_URL})."
