"""Our exception types. Messages name what was wrong and never carry secrets."""

from .redact import scrub


class NelsError(Exception):
    """Base of every error nels-bundle raises on purpose."""


class UnsafePathError(NelsError, ValueError):
    """A user-supplied path that escapes its root or is malformed."""


class AccessDeniedError(NelsError, PermissionError):
    """The NeLS rules refuse this operation for this user and place."""


class NotFoundError(NelsError, FileNotFoundError):
    """No such file, folder, project or record."""


class AlreadyExistsError(NelsError, FileExistsError):
    """The target exists and the operation would replace it."""


class ChecksumMismatchError(NelsError):
    """Bytes written or read do not match the expected size or checksum."""


class TransferError(NelsError, OSError):
    """A transfer failed part-way (connection dropped, remote error)."""


class ConfigError(NelsError):
    """Configuration is missing or wrong."""


class HostKeyError(NelsError):
    """The server's host key is unknown or does not match the pinned key."""


class ProblemsError(NelsError, ValueError):
    """Everything wrong with one input, found in one pass and listed together."""

    what = "the input"  # subclasses say what was checked
    # problems a message lists, the rest counted: 5,000 bad lines made a message
    # no page, cookie or terminal could hold; the first ones say what to fix
    LISTED = 20

    def __init__(self, problems: list):
        self.problems = problems  # all of them, for code that sorts or counts them
        super().__init__(self.heading() + ":\n" + "\n".join(self.lines()))

    def heading(self) -> str:
        n = len(self.problems)
        return f"{n} problem{'' if n == 1 else 's'} {self.what}"

    def lines(self) -> list[str]:
        """The message's list: the first problems, then how many more."""
        listed = [f"- {p}" for p in self.problems[: self.LISTED]]
        more = len(self.problems) - self.LISTED
        return listed + ([f"- and {more} more"] if more > 0 else [])


class ApiError(NelsError):
    """The NeLS REST API answered with an error.

    ``status`` is the HTTP status; ``message`` is the service's own text.
    """

    def __init__(self, status: int, message: str, url: str = ""):
        self.status = status
        self.message = message
        self.url = scrub(url, limit=None)  # a configured URL may hold user:password@
        where = f" ({self.url})" if url else ""
        super().__init__(f"NeLS API error {status}{where}: {message or 'no message'}")


class AuthError(ApiError):
    """Credentials were refused (401) and could not be refreshed."""


class TokenExpiredError(AuthError):
    """NeLS said the access token has expired (RFC 6750's ``invalid_token``
    with an expiry in its description); a plain 401 says only 'refused'."""


class TokenMissingError(ConfigError):
    """No NeLS access token was given where one is needed."""
