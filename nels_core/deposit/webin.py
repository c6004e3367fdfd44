"""The Webin submission service: documents in, a receipt (raw bytes) out.

Two interfaces, one behaviour: REST v1 posts each document as a multipart
part named by its kind (``SUBMISSION``, ``PROJECT``, ``SAMPLE`` ...);
REST v2 posts one ``<WEBIN>`` document holding them all. Either answers
with a ``RECEIPT``. The receipt comes back as bytes: the caller stores it
before reading it, so an accepted submission is never known only in memory.

A submission is not idempotent, so it is sent once: a connection that
fails before anything was sent is tried again, but an answer lost after
sending is reported as ``AnswerLost`` and the caller asks ENA what became
of the submission (a RECEIPT action) rather than sending it twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import NelsError
from ..redact import basic, scrub

SERVERS = {
    "test": "https://wwwdev.ebi.ac.uk/ena/submit",
    "production": "https://www.ebi.ac.uk/ena/submit",
}
V1_PATH = "/drop-box/submit/"
V2_PATH = "/webin-v2/submit"
# the order ENA's REST v1 documentation lists the parts in
PARTS = ("SUBMISSION", "PROJECT", "STUDY", "SAMPLE", "EXPERIMENT", "RUN")


class WebinError(NelsError):
    """Webin refused the request or answered something that is not a receipt."""


class WebinAuthError(WebinError):
    pass


class AnswerLost(WebinError):
    """The submission was sent but no answer came: ENA may or may not hold it."""


@dataclass(frozen=True)
class WebinAccount:
    account: str  # Webin-NNNNN
    password: str = field(repr=False)

    def __post_init__(self):
        if not self.account.startswith("Webin-") or not self.account[6:].isdigit():
            raise WebinAuthError(
                f"{self.account!r} is not a Webin submission account (Webin- and digits)"
            )


class WebinClient:
    def __init__(
        self,
        account: WebinAccount,
        server: str = "test",
        api: str = "v1",
        timeout: float = 300.0,
        connect_tries: int = 3,
    ):
        import requests

        if api not in ("v1", "v2"):
            raise ValueError(f"api must be v1 or v2, not {api!r}")
        self.base = SERVERS.get(server, server).rstrip("/")
        self.api, self.timeout, self.connect_tries = api, timeout, connect_tries
        self.session = requests.Session()
        self.session.auth = (account.account, account.password)
        self.account = account.account
        # what we send that an answer echoing our headers would show
        self._secrets = (account.password, basic(account.account, account.password))
        self.where = scrub(self.base, self._secrets)  # the server as messages name it

    def __repr__(self) -> str:
        return f"WebinClient({self.account} at {self.where}, {self.api})"

    def submit(self, documents: dict[str, bytes]) -> bytes:
        """``documents``: kind (``submission``, ``project`` ...) -> XML. The raw receipt."""
        if self.api == "v1":
            files = [
                (part, (f"{part.lower()}.xml", documents[part.lower()], "application/xml"))
                for part in PARTS
                if part.lower() in documents
            ]
            return self._post(V1_PATH, files=files)
        return self._post(
            V2_PATH,
            data=webin_document(documents),
            headers={"Content-Type": "application/xml", "Accept": "application/xml"},
        )

    def _post(self, path: str, **kw) -> bytes:
        import requests

        url = self.base + path
        for attempt in range(1, self.connect_tries + 1):
            try:
                r = self.session.post(url, timeout=self.timeout, **kw)
                break
            except requests.ConnectionError as e:
                # refused or unreachable before the request went out: safe to try again
                if isinstance(e, requests.ConnectTimeout) or _never_sent(e):
                    if attempt == self.connect_tries:
                        raise WebinError(
                            f"cannot reach Webin at {self.where}: {_short(e, self._secrets)}"
                        ) from None
                    time.sleep(0.5 * attempt)
                    continue
                raise AnswerLost(
                    f"the connection to Webin at {self.where} broke after the submission "
                    f"was sent ({_short(e, self._secrets)})"
                ) from None
            except requests.Timeout:
                raise AnswerLost(
                    f"Webin at {self.where} gave no answer within {self.timeout:g} s "
                    "after the submission was sent"
                ) from None
        if r.status_code == 401:
            raise WebinAuthError(
                f"Webin at {self.where} refused the account {self.account}: "
                "wrong account name or password (401)"
            )
        if r.status_code >= 400:
            raise WebinError(
                f"Webin at {self.where} answered {r.status_code}: {scrub(r.text, self._secrets)}"
            )
        if not r.content.lstrip().startswith((b"<?xml", b"<RECEIPT")):
            raise WebinError(
                f"Webin at {self.where} answered {r.status_code} without a receipt: "
                f"{scrub(r.text, self._secrets)}"
            )
        return r.content


def webin_document(documents: dict[str, bytes]) -> bytes:
    """The v2 form: one ``<WEBIN>`` holding the submission and each set."""
    body = []
    for part in PARTS:
        data = documents.get(part.lower())
        if data is None:
            continue
        text = data.decode("utf-8")
        if text.startswith("<?xml"):
            text = text[text.index("?>") + 2 :].lstrip("\n")
        if part == "SUBMISSION" and not text.startswith("<SUBMISSION_SET"):
            text = f"<SUBMISSION_SET>\n{text.rstrip()}\n</SUBMISSION_SET>\n"
        body.append(text.rstrip("\n"))
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n<WEBIN>\n" + "\n".join(body) + "\n</WEBIN>\n"
    ).encode()


def _never_sent(e) -> bool:
    """A refused or unresolvable connection: the request never left."""
    text = str(e)
    return any(
        s in text
        for s in (
            "Connection refused",
            "Name or service not known",
            "NewConnectionError",
            "Failed to resolve",
            "No route to host",
        )
    )


def _short(e, secrets) -> str:
    return scrub(str(e).split(": ", 1)[-1], secrets, limit=200)
