"""``nels-bundle sandbox``: the NeLS API, OAuth2 server and a real sshd, locally."""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import click

from .demo import OWN_PROJECT, RUN, SEQ_PROJECT


@click.command("sandbox")
@click.option("--port", type=int, default=8080, show_default=True, help="HTTP port (loopback).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
def sandbox_cmd(port: int, directory: Path | None) -> None:
    """Run a NeLS sandbox on 127.0.0.1: REST API, sign-in, and SFTP via OpenSSH."""
    from nels_sandbox.nels_api import create_app
    from nels_sandbox.norseq import DeliverySpec, make_delivery
    from nels_sandbox.sshd import Sshd
    from nels_sandbox.world import World

    directory = directory or Path(tempfile.mkdtemp(prefix="nels-sandbox-"))
    sshd = Sshd(directory / "sshd").start()
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
        f'[sftp]\nhost = "127.0.0.1"\nport = {sshd.port}\nknown_hosts_file = "{known_hosts}"\n\n'
        f'[api]\nurl = "{base}/nels-api2"\noauth_url = "{base}/oauth2"\n'
        'client_id = "nels-bundle"\n'
    )
    config.chmod(0o600)
    click.echo(f"NeLS sandbox in {directory}")
    click.echo(f"  API     {base}/nels-api2  (SBI: {base}/nels-api)")
    click.echo(f"  sign-in {base}/oauth2/authorize  user 'demo', password {password}")
    click.echo(f"  OAuth2 client 'nels-bundle', secret in {directory / 'client_secret'}")
    click.echo(f"  SFTP    127.0.0.1:{sshd.port}, host key pinned in {known_hosts}")
    click.echo(f"  config  {config}  (set NELS_TOKEN to a token from the sign-in)")
    secret_file = directory / "client_secret"
    secret_file.touch(mode=0o600)
    secret_file.write_text(client_secret + "\n")
    app = create_app(world, public_url=base)
    try:
        app.run("127.0.0.1", port, use_reloader=False, threaded=True)
    finally:
        sshd.stop()
