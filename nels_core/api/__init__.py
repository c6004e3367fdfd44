"""The NeLS REST API: nels-api2 for users and credentials, the SBI calls SEEK uses."""

from .client import NelsApi
from .oauth import OAuth2Client, StaticToken, TokenSet, TokenSource

__all__ = ["NelsApi", "OAuth2Client", "StaticToken", "TokenSet", "TokenSource"]
