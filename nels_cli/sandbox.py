"""``nels-bundle sandbox``: the NeLS API, OAuth2 server and a real sshd, locally.

Stopped by SIGTERM, SIGHUP or SIGINT (Ctrl-C), it stops what it started: the
HTTP server, sshd and the sessions sshd forked, and the folder it made when
not given ``--dir``. SIGKILL runs nothing of ours: on Linux the kernel sends
sshd SIGTERM as the sandbox dies (``die_with_parent`` in
nels_sandbox/server_process.py), but sshd sessions a client still holds open
run on until that client disconnects, and the temporary folder stays; on
other systems sshd runs on too (its pid is in ``<dir>/sshd/sshd.pid``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
from pathlib import Path

import click

from .demo import OWN_PROJECT, RUN, SEQ_PROJECT
from .show import visible

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class _Stopped(BaseException):
    """Raised in the main thread by a stop signal, wherever it is: starting up,
    or waiting for requests. A BaseException, as KeyboardInterrupt is, so no
    ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, frame):
    for s in STOP_SIGNALS:  # a second signal must not cut the cleanup short
        signal.signal(s, signal.SIG_IGN)
    raise _Stopped(signum)


@click.command("sandbox")
@click.option("--port", type=int, default=8080, show_default=True, help="HTTP port (loopback).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
def sandbox_cmd(port: int, directory: Path | None) -> None:
    """Run a NeLS sandbox on 127.0.0.1: REST API, sign-in, and SFTP via OpenSSH."""
    from nels_sandbox.sshd import Sshd

    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS}
    made = directory is None  # a folder of our own, removed when we stop
    sshd = server = None
    stopped_by = None
    try:
        if made:
            directory = Path(tempfile.mkdtemp(prefix="nels-sandbox-"))
        sshd = Sshd(directory / "sshd")
        sshd.start()
        server = _serve(directory, sshd, port)
        server.serve_forever()
    except _Stopped as e:
        stopped_by = signal.Signals(e.signum).name
    finally:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if server is not None:
            server.server_close()
        if sshd is not None:
            sshd.stop()
        if made and directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stopped_by:
        removed = f"; removed {visible(str(directory))}" if made else ""
        click.echo(f"NeLS sandbox stopped ({stopped_by}): sshd stopped{removed}", err=True)


def _serve(directory: Path, sshd, port: int):
    """The sandbox's world and its HTTP server, listening (not yet serving)
    when its addresses are printed."""
    from werkzeug.serving import make_server

    from nels_sandbox.nels_api import create_app
    from nels_sandbox.norseq import DeliverySpec, make_delivery
    from nels_sandbox.world import World

    world = World(directory / "nels", sshd)
    password = secrets.token_urlsafe(9)
    user = world.add_user("demo", "Demo Researcher", password)
    seq = world.add_project(SEQ_PROJECT)
    own = world.add_project(OWN_PROJECT)
    world.add_member(seq, user, 3)
    world.add_member(own, user, 1)
    make_delivery(world.project_dir(seq) / "NorSeq" / RUN, DeliverySpec(run=RUN))
    client_secret = secrets.token_urlsafe(16)
    world.add_client("nels-bundle", client_secret)
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(sshd.known_hosts)
    base = f"http://127.0.0.1:{port}"
    config = directory / "nels-bundle.toml"
    config.write_text(
        '[storage]\nbackend = "sftp"\n\n'
        f'[sftp]\nhost = "127.0.0.1"\nport = {sshd.port}\n'
        # a JSON string is a TOML string: any folder name, quoted and escaped
        f"known_hosts_file = {json.dumps(str(known_hosts))}\n\n"
        f'[api]\nurl = "{base}/nels-api2"\noauth_url = "{base}/oauth2"\n'
        'client_id = "nels-bundle"\n'
    )
    config.chmod(0o600)
    secret_file = directory / "client_secret"
    secret_file.touch(mode=0o600)
    secret_file.write_text(client_secret + "\n")
    app = create_app(world, public_url=base)
    try:
        server = make_server("127.0.0.1", port, app, threaded=True)
    except OSError as e:
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
    shown = visible(str(directory))
    click.echo(f"NeLS sandbox in {shown}")
    click.echo(f"  API     {base}/nels-api2  (SBI: {base}/nels-api)")
    click.echo(f"  sign-in {base}/oauth2/authorize  user 'demo', password {password}")
    click.echo(f"  OAuth2 client 'nels-bundle', secret in {shown}/client_secret")
    click.echo(f"  SFTP    127.0.0.1:{sshd.port}, host key pinned in {visible(str(known_hosts))}")
    click.echo(f"  config  {visible(str(config))}  (set NELS_TOKEN to a token from the sign-in)")
    click.echo("Ctrl-C stops it (SIGTERM and SIGHUP too), and sshd with it.")
    return server
