"""``nels-bundle sandbox``: the NeLS API, OAuth2 server and a real sshd,
locally; with ``--ena`` and ``--biostudies`` (or ``--all``) the ENA Webin
stand-in, its FTPS upload area and the BioStudies stand-in too, or instead.

Stopped by SIGTERM, SIGHUP or SIGINT (Ctrl-C), it stops what it started: the
HTTP servers, the upload area, sshd and the sessions sshd forked, and the
folder it made when not given ``--dir``. SIGKILL runs nothing of ours: the
stand-ins (threads of this process) go with it, and on Linux the kernel sends
sshd SIGTERM as the sandbox dies (``die_with_parent`` in
nels_sandbox/server_process.py), but sshd sessions a client still holds open
run on until that client disconnects, and the temporary folder stays; on
other systems sshd runs on too (its pid is in ``<dir>/sshd/sshd.pid``).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import signal
import tempfile
import time
from pathlib import Path

import click

from .demo import ARCHIVED_RUN, OWN_PROJECT, RUN, SEQ_PROJECT
from .show import visible

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
PORT = click.IntRange(0, 65535)
_PORT_OPTIONS = ("--webin-port", "--upload-port", "--biostudies-port")


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
@click.option(
    "--port", type=int, default=8080, show_default=True, help="NeLS: HTTP port (loopback)."
)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--nels", is_flag=True, help="The NeLS API, sign-in and sshd (run when none is chosen)."
)
@click.option("--ena", is_flag=True, help="ENA's Webin service and FTPS upload area (stand-ins).")
@click.option("--biostudies", is_flag=True, help="BioStudies' submission API (a stand-in).")
@click.option("--all", "everything", is_flag=True, help="NeLS, ENA and BioStudies.")
@click.option("--webin-port", type=PORT, default=0, help="ENA: Webin HTTP port [any free one].")
@click.option(
    "--upload-port", type=PORT, default=0, help="ENA: upload area FTPS port [any free one]."
)
@click.option("--biostudies-port", type=PORT, default=0, help="BioStudies: port [any free one].")
@click.option(
    "--xsd-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="ENA's schemas, which the Webin stand-in checks every document against (else "
    "$NELS_ENA_XSD_DIR, $NELS_SPECS/ena, ../shared/specs/ena, or the cache).",
)
def sandbox_cmd(
    port: int,
    directory: Path | None,
    nels: bool,
    ena: bool,
    biostudies: bool,
    everything: bool,
    webin_port: int,
    upload_port: int,
    biostudies_port: int,
    xsd_dir: Path | None,
) -> None:
    """Run sandboxes on 127.0.0.1: NeLS (REST API, sign-in, SFTP via OpenSSH),
    and with --ena / --biostudies the ENA and BioStudies stand-ins, printing
    the settings that point nels-bundle at them."""
    if everything:
        nels = ena = biostudies = True
    elif not (ena or biostudies):
        nels = True  # as before the stand-ins could run here
    schemas = _ena_schemas(xsd_dir) if ena else None
    previous = {s: signal.signal(s, _stop) for s in STOP_SIGNALS}
    made = directory is None  # a folder of our own, removed when we stop
    sshd = server = deposit = None
    served: list = []  # the stand-ins, each added as it runs
    stopped_by = None
    try:
        if made:
            directory = Path(tempfile.mkdtemp(prefix="nels-sandbox-"))
        directory = directory.absolute()  # its paths are printed for use elsewhere
        if ena or biostudies:
            deposit = _start_deposit(
                directory, schemas, served, ena, biostudies,
                webin_port, upload_port, biostudies_port,
            )  # fmt: skip
        if nels:
            from nels_sandbox.sshd import Sshd

            sshd = Sshd(directory / "sshd")
            sshd.start()
            server = _serve(directory, sshd, port)
        if deposit is not None:
            if not nels:
                click.echo(f"Sandbox in {visible(str(directory))}")
            _print_deposit(deposit)
        with_sshd = ", and sshd with it" if nels else ""
        click.echo(f"Ctrl-C stops it (SIGTERM and SIGHUP too){with_sshd}.")
        if server is not None:
            server.serve_forever()
        else:
            while True:  # the stand-ins serve on threads of their own
                time.sleep(3600)
    except _Stopped as e:
        stopped_by = signal.Signals(e.signum).name
    finally:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        if server is not None:
            server.server_close()
        if sshd is not None:
            sshd.stop()
        for s in reversed(served):
            s.stop()
        if made and directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
    if stopped_by:
        what = ["sshd"] if nels else []
        what += ["the ENA stand-in and its upload area"] if ena else []
        what += ["the BioStudies stand-in"] if biostudies else []
        title = "NeLS sandbox" if nels else "Sandbox"
        removed = f"; removed {visible(str(directory))}" if made else ""
        click.echo(f"{title} stopped ({stopped_by}): {', '.join(what)} stopped{removed}", err=True)


def _ena_schemas(given: Path | None) -> Path:
    """ENA's schemas, checked before anything starts: the stand-in never fetches them."""
    from nels_sandbox.deposit import ena_schemas_in, local_ena_schemas

    if given is not None:
        if not ena_schemas_in(given):
            raise click.ClickException(
                f"{visible(str(given))} does not hold ENA's schemas (SRA.*.xsd, ENA.project.xsd)"
            )
        return given.absolute()
    found = local_ena_schemas()
    if found is None:
        raise click.ClickException(
            "ENA's schemas are not on this machine, and the Webin stand-in checks every "
            "document against them: give --xsd-dir, set NELS_ENA_XSD_DIR (or NELS_SPECS to "
            "the shared specs), or run nels-bundle ena prepare once online to cache them"
        )
    return found.absolute()


def _start_deposit(directory, schemas, served, ena, biostudies, *ports):
    from nels_sandbox.deposit import start_deposit
    from nels_sandbox.serving import quiet_ftp

    quiet_ftp()
    webin_port, upload_port, biostudies_port = ports
    try:
        return start_deposit(
            directory, schemas, served, ena=ena, biostudies=biostudies,
            webin_port=webin_port, upload_port=upload_port, biostudies_port=biostudies_port,
        )  # fmt: skip
    except OSError as e:
        asked = [f"{n} {p}" for n, p in zip(_PORT_OPTIONS, ports, strict=True) if p]
        raise click.ClickException(
            f"cannot start the stand-ins ({', '.join(asked) or 'free ports'}): {e.strerror or e}"
        ) from None


def _shell(value: str) -> str:
    """``value`` as one shell word; control characters (and bytes that were not
    UTF-8) as bash's ``$'\\xNN'``, so none reaches the terminal raw."""
    if visible(value) == value:
        return shlex.quote(value)
    return (
        "$'"
        + "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in b"'\\" else f"\\x{b:02x}"
            for b in os.fsencode(value)
        )
        + "'"
    )


def _export(name: str, value) -> str:
    return f"    export {name}={_shell(str(value))}"


def _print_deposit(d) -> None:
    """Where the stand-ins listen and their sandbox accounts, as the variables
    and options ``nels-bundle ena submit`` and ``biostudies submit`` take."""
    if d.webin_url:
        click.echo(
            f"ENA stand-in (Webin), documents checked against the schemas in {visible(d.xsd_dir)}"
        )
        click.echo(f"  Webin   {d.webin_url}  account {d.account}, password {d.password}")
        click.echo(
            f"  upload  FTPS {d.upload_host}:{d.upload_port}, certificate {visible(d.upload_ca)}"
        )
        click.echo("  for nels-bundle ena submit BUNDLE [--reads FOLDER]:")
        for name, value in (
            ("ENA_WEBIN", d.account),
            ("ENA_WEBIN_PASSWORD", d.password),
            ("NELS_ENA_WEBIN_URL", d.webin_url),
            ("NELS_ENA_UPLOAD_HOST", d.upload_host),
            ("NELS_ENA_UPLOAD_PORT", d.upload_port),
            ("NELS_ENA_UPLOAD_CA", d.upload_ca),
            ("NELS_ENA_XSD_DIR", d.xsd_dir),
            ("NELS_ENA_TAXONOMY_URL", d.taxonomy_url),
            ("NELS_ENA_CHECKLIST_DIR", d.checklist_dir),
        ):
            click.echo(_export(name, value))
    if d.biostudies_url:
        click.echo("BioStudies stand-in")
        click.echo(
            f"  API     {d.biostudies_url}  login {d.biostudies_login}, "
            f"password {d.biostudies_password}"
        )
        click.echo(f"  for nels-bundle biostudies submit BUNDLE --server-url {d.biostudies_url}:")
        click.echo(_export("BIOSTUDIES_LOGIN", d.biostudies_login))
        click.echo(_export("BIOSTUDIES_PASSWORD", d.biostudies_password))


def _serve(directory: Path, sshd, port: int):
    """The sandbox's world and its HTTP server, listening (not yet serving)
    when its addresses are printed."""
    from werkzeug.serving import make_server

    from nels_sandbox.nels_api import create_app
    from nels_sandbox.norseq import DeliverySpec, archived_delivery, make_delivery
    from nels_sandbox.world import World

    world = World(directory / "nels", sshd)
    password = secrets.token_urlsafe(9)
    user = world.add_user("demo", "Demo Researcher", password)
    seq = world.add_project(SEQ_PROJECT)
    own = world.add_project(OWN_PROJECT)
    world.add_member(seq, user, 3)
    world.add_member(own, user, 1)
    make_delivery(world.project_dir(seq) / "NorSeq" / RUN, DeliverySpec(run=RUN))
    # an earlier run, already in StoreBioinfo (its NeLS copy gone, as after the sync)
    archived_delivery(world, seq, DeliverySpec(run=ARCHIVED_RUN, lanes=1, seed=2))
    client_secret = secrets.token_urlsafe(16)
    world.add_client("nels-bundle", client_secret)
    token_file = directory / "access_token"  # demo's, to try the API at once (not printed)
    token_file.touch(mode=0o600)
    token_file.write_text(world.issue(user.nels_id, "nels-bundle")["access_token"] + "\n")
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
    click.echo(
        f"  sign-in {base}/oauth2/authorize?response_type=code&client_id=nels-bundle  "
        f"user 'demo', password {password}"
    )
    click.echo(f"  OAuth2 client 'nels-bundle', secret in {shown}/client_secret")
    click.echo(f"  SFTP    127.0.0.1:{sshd.port}, host key pinned in {visible(str(known_hosts))}")
    click.echo(f"  config  {visible(str(config))}  (set NELS_TOKEN to a token from the sign-in)")
    _print_tries(config, token_file, world.token_lifetime)
    return server


def _print_tries(config: Path, token_file: Path, lifetime: float) -> None:
    """Commands to paste: demo's token, StoreBioinfo listed, a run archived, one staged back."""
    c = f"nels-bundle --config {_shell(str(config))}"
    run = f"nels://Projects/{SEQ_PROJECT}/NorSeq/{RUN}"
    old = f"sbi://{SEQ_PROJECT}/{ARCHIVED_RUN}/reads/{ARCHIVED_RUN}"
    click.echo(
        f'  token   export NELS_TOKEN="$(cat {_shell(str(token_file))})"  '
        f"(user 'demo', valid {lifetime / 60:.0f} min)"
    )
    click.echo(f"  try     {c} sbi ls {SEQ_PROJECT}")
    click.echo(f"          {c} sbi archive {run} --dataset {RUN}")
    click.echo(f"          {c} sbi stage {old} nels://Projects/{SEQ_PROJECT}/restored/")
