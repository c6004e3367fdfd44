"""Plain-text e-mail through the site's SMTP server (``SMTP_HOST`` and the
rest in the web app's settings). No server configured: no e-mail, and the
pages say so. The password is used to log in and nowhere else: never in a
message, a log line or an error."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

from nels_core.errors import ConfigError, NelsError

# an address as people type it: something@domain.tld, no spaces or brackets
_REFUSED_IN_ADDRESS = set(' \t\r\n<>()[],;:\\"')
LONGEST_ADDRESS = 254  # RFC 5321's limit for a path


class MailError(NelsError):
    """The mail server could not be reached or refused the message."""


def mail_configured(config) -> bool:
    return bool(config.get("SMTP_HOST"))


def check_mail_settings(config) -> None:
    """Refuses settings that would fail at the first e-mail, at start instead."""
    if not mail_configured(config):
        return
    sender = parseaddr(str(config.get("SMTP_FROM") or ""))[1]  # "Name <address>" too
    if valid_address(sender) is None:
        raise ConfigError("SMTP_HOST is set: SMTP_FROM must be the address e-mail is sent from")
    if bool(config.get("SMTP_USER")) != bool(config.get("SMTP_PASSWORD")):
        raise ConfigError("SMTP_USER and SMTP_PASSWORD go together: give both or neither")
    if config.get("SMTP_USER") and not config.get("SMTP_STARTTLS") and not _loopback(config):
        raise ConfigError(
            "SMTP_USER is set without SMTP_STARTTLS: the password would cross the network "
            "in clear; set SMTP_STARTTLS = true (a relay on this host may go without)"
        )
    try:
        int(config.get("SMTP_PORT"))
    except (TypeError, ValueError):
        raise ConfigError("SMTP_PORT must be a port number") from None


def _loopback(config) -> bool:
    host = str(config.get("SMTP_HOST") or "")
    return host == "localhost" or host == "::1" or host.startswith("127.")


def valid_address(text: str) -> str | None:
    """The e-mail address ``text`` gives, trimmed; None when it is not one."""
    address = (text or "").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or len(address) > LONGEST_ADDRESS:
        return None
    if any(c in _REFUSED_IN_ADDRESS or ord(c) < 32 or ord(c) == 127 for c in address):
        return None
    if "@" in local or domain.startswith(".") or domain.endswith(".") or ".." in domain:
        return None
    return address


def send(config, to: str, subject: str, body: str) -> None:
    """One plain-text e-mail to ``to``; MailError saying why when it was not sent."""
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject  # the caller's text holds no line breaks
    message.set_content(body)
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    where = f"the mail server {host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=float(config["SMTP_TIMEOUT"])) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context(cafile=config.get("SMTP_CA")))
            if config.get("SMTP_USER"):
                smtp.login(str(config["SMTP_USER"]), str(config["SMTP_PASSWORD"]))
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as e:
        raise MailError(f"{where} did not accept SMTP_USER's password ({e.smtp_code})") from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(
            f"{where} offers no login (AUTH); set SMTP_STARTTLS if it offers one after STARTTLS"
        ) from None
    except smtplib.SMTPResponseException as e:
        raise MailError(f"{where} refused the message ({e.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused:
        raise MailError(f"{where} refused the recipient's address") from None
    except (smtplib.SMTPException, OSError) as e:
        raise MailError(f"{where} could not be reached ({type(e).__name__})") from None
