"""The Webin upload area: a real FTP server (pyftpdlib) with explicit TLS, as
webin.ebi.ac.uk offers it, on a loopback port, one folder per Webin account."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path


def self_signed(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A key and certificate for the sandbox's TLS (the client is told to trust it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nels-sandbox webin upload area")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = folder / "upload-area.key", folder / "upload-area.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class UploadArea:
    """``accounts``: Webin account -> password; each gets ``root/<account>/``.
    ``port`` 0: any free one (data connections always take free ones)."""

    def __init__(
        self, root: Path, accounts: dict[str, str], host: str = "127.0.0.1", port: int = 0
    ):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import TLS_FTPHandler
        from pyftpdlib.ioloop import IOLoop
        from pyftpdlib.servers import ThreadedFTPServer

        self.root = root
        key, self.cert = self_signed(root / ".tls", host)
        authorizer = DummyAuthorizer()
        for account, password in accounts.items():
            home = root / account
            home.mkdir(parents=True, exist_ok=True)
            authorizer.add_user(account, password, str(home), perm="elradfmw")
        handler = type("WebinHandler", (TLS_FTPHandler,), {})
        handler.certfile, handler.keyfile = str(self.cert), str(key)
        handler.authorizer = authorizer
        handler.tls_control_required = handler.tls_data_required = True  # FTPS only
        handler.passive_ports = None
        handler.auth_failed_timeout = 0  # the real server's 3 s pause only slows tests
        # an IOLoop and a stop flag of its own: pyftpdlib shares both across servers
        # (one loop per process, one class-level Event), so a server stopping late
        # would end the next one's sessions
        self.server = ThreadedFTPServer((host, port), handler, ioloop=IOLoop())
        self.server._exit = threading.Event()
        self.host, self.port = self.server.address[0], self.server.address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True
        )

    def start(self) -> UploadArea:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.close_all()

    def file(self, account: str, name: str) -> Path:
        return self.root / account / name
