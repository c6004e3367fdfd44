"""Run a sandbox's WSGI app on a loopback port, on a thread of its own."""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import make_server


class Served:
    def __init__(self, app, port: int = 0, host: str = "127.0.0.1"):
        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> Served:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


def quiet() -> None:
    """No access-log line per request: the sandboxes answer many."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    quiet_ftp()


def quiet_ftp() -> None:
    """No log line per FTP command from the upload area."""
    ftp = logging.getLogger("pyftpdlib")  # the upload area's; a handler, or it sets its own
    ftp.setLevel(logging.WARNING)
    if not ftp.handlers:
        ftp.addHandler(logging.NullHandler())
