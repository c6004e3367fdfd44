"""The web app's stand-in world, for ``nels-bundle serve --demo`` and the
tests: a local NeLS tree with a NorSeq delivery, the NeLS sandbox for
sign-in (OAuth2), the SEEK sandbox, a Redis for the job queue, and (when
ENA's schemas are here) the ENA and BioStudies stand-ins, all on 127.0.0.1.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from nels_cli.demo import ARCHIVED_RUN, OWN_PROJECT, RUN, SEQ_PROJECT
from nels_sandbox.deposit import DepositSandboxes, start_deposit

DEMO_USER = "demo"


@dataclass
class Sandboxes:
    directory: Path
    nels_url: str
    seek_url: str
    username: str
    password: str = field(repr=False)
    seek_token: str = field(repr=False)
    seek_project: str
    client_id: str
    client_secret: str = field(repr=False)
    served: list = field(default_factory=list, repr=False)
    nels_world: object = field(default=None, repr=False)
    seek_world: object = field(default=None, repr=False)
    redis_url: str = ""  # the job queue (Redis, for Celery)
    seq_project_id: int = 0  # the NeLS (and StoreBioinfo) project with the delivery
    deposit: DepositSandboxes | None = None  # ENA and BioStudies stand-ins, when started

    def stop(self) -> None:
        for s in self.served:
            s.stop()

    def add_user(self, username: str, name: str, password: str):
        """Another NeLS user, with a home the web app finds by NeLS id."""
        user = self.nels_world.add_user(username, name, password)
        link = self.directory / "nels" / "by-id" / str(user.nels_id)
        link.symlink_to(self.nels_world.home(user), target_is_directory=True)
        return user


def start_deposit_sandboxes(sb: Sandboxes, xsd_dir: Path | None) -> DepositSandboxes:
    """Stand-ins for ENA and BioStudies beside the others, stopped with them.
    The Webin stand-in checks every document against ENA's schemas, so it needs them."""
    sb.deposit = start_deposit(sb.directory, xsd_dir, sb.served)
    return sb.deposit


def start_sandboxes(
    directory: Path, samples: tuple[str, ...] | None = None, sshd=None
) -> Sandboxes:
    """The NeLS API (with a local tree) and SEEK sandboxes, running on loopback
    ports; with ``sshd`` (``nels_sandbox.sshd.Sshd``, started) the tree is
    also served over SFTP, as the NeLS data host serves it."""
    from nels_sandbox.nels_api import create_app as nels_app
    from nels_sandbox.norseq import DeliverySpec, archived_delivery, make_delivery
    from nels_sandbox.seek import create_app as seek_app
    from nels_sandbox.seek_world import SeekWorld
    from nels_sandbox.serving import Served, quiet
    from nels_sandbox.world import World

    quiet()
    world = World(directory / "nels", sshd)
    password = secrets.token_urlsafe(9)
    user = world.add_user(DEMO_USER, "Demo Researcher", password)
    seq = world.add_project(SEQ_PROJECT, description="Salmon louse RNA-seq")
    own = world.add_project(OWN_PROJECT)
    world.add_member(seq, user, 3)
    world.add_member(own, user, 1)
    spec = DeliverySpec(run=RUN) if samples is None else DeliverySpec(run=RUN, samples=samples)
    make_delivery(world.project_dir(seq) / "NorSeq" / RUN, spec)
    # an earlier run, synced by the helpdesk to StoreBioinfo: files to stage back
    archived_delivery(world, seq, DeliverySpec(run=ARCHIVED_RUN, lanes=1, seed=2))
    # the web app finds a home by NeLS id, as a site that mounts NeLS homes would
    by_id = directory / "nels" / "by-id"
    by_id.mkdir(parents=True, exist_ok=True)
    (by_id / str(user.nels_id)).symlink_to(world.home(user), target_is_directory=True)
    client_secret = secrets.token_urlsafe(16)
    world.add_client("nels-bundle-web", client_secret)

    seek = SeekWorld()
    seek_token = secrets.token_urlsafe(24)
    person = seek.add_person("Demo", "Researcher", token=seek_token, email="demo@example.org")
    project = seek.add_project("Salmon lice", admins=[person.id])

    from nels_sandbox.redis_server import RedisServer

    redis = RedisServer(directory / "redis").start()  # the job queue's broker
    nels = Served(nels_app(world)).start()
    nels.server.app.config["PUBLIC_URL"] = nels.url
    seek_served = Served(seek_app(seek)).start()
    seek.base_url = seek_served.url
    return Sandboxes(
        directory=directory,
        nels_url=nels.url,
        seek_url=seek_served.url,
        username=DEMO_USER,
        password=password,
        seek_token=seek_token,
        seek_project=project.id,
        client_id="nels-bundle-web",
        client_secret=client_secret,
        served=[nels, seek_served, redis],
        redis_url=redis.url(),
        nels_world=world,
        seek_world=seek,
        seq_project_id=seq.id,
    )


def demo_web_config(sb: Sandboxes, public_url: str = "http://localhost") -> dict:
    """The web app's settings for the sandboxes; secrets fresh for each run.
    NeLS's stand-in learns the sign-in callback at ``public_url`` (by default
    the address Flask's test client uses)."""
    from cryptography.fernet import Fernet

    register_callback(sb, public_url)

    return {
        "DEMO": True,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "TOKEN_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": f"sqlite:///{sb.directory / 'web.db'}",
        "WORK_DIR": str(sb.directory / "work"),
        "NELS_API_URL": f"{sb.nels_url}/nels-api2",
        "NELS_OAUTH_URL": f"{sb.nels_url}/oauth2",
        "NELS_CLIENT_ID": sb.client_id,
        "NELS_CLIENT_SECRET": sb.client_secret,
        "PUBLIC_URL": public_url,
        **_storage_config(sb),
        "SEEK_URLS": [sb.seek_url],
        "REDIS_URL": sb.redis_url,
        "SESSION_COOKIE_SECURE": False,  # plain http on 127.0.0.1
        **_deposit_config(sb.deposit),
    }


def serve_demo(app, sb: Sandboxes):
    """The demo web app on a loopback port of its own, started (a ``Served``).
    Its address is known once it listens: the sign-in callback is built
    there from then on, and NeLS's stand-in accepts it."""
    from nels_sandbox.serving import Served

    web = Served(app)
    app.config["PUBLIC_URL"] = web.url
    register_callback(sb, web.url)
    return web.start()


def start_job_worker(app, sb: Sandboxes):
    """A Celery worker for ``app`` in a thread of this process (the tests'
    way), stopped with the sandboxes (before the Redis it consumes from)."""
    from nels_sandbox.job_worker import ThreadWorker

    worker = ThreadWorker(app).start()
    sb.served.insert(0, worker)
    return worker


def register_callback(sb: Sandboxes, public_url: str) -> None:
    """The web app's callback registered with NeLS, as a site's operator does."""
    from nels_web.auth import callback_url

    sb.nels_world.register_redirect_uri(sb.client_id, callback_url(public_url))


def _storage_config(sb: Sandboxes) -> dict:
    """Over SFTP when the sandbox tree is served by an sshd, else the mounted tree."""
    sshd = getattr(sb.nels_world, "sshd", None)
    if sshd is None:
        return {
            "NELS_STORAGE": "local",
            "NELS_LOCAL_ROOT": str(sb.directory / "nels" / "by-id" / "{nels_id}"),
        }
    return {
        "NELS_STORAGE": "sftp",
        "NELS_SFTP_HOST": "127.0.0.1",
        "NELS_SFTP_PORT": sshd.port,
        "NELS_KNOWN_HOSTS": sshd.known_hosts,
    }


def _deposit_config(d: DepositSandboxes | None) -> dict:
    """Deposits go to the stand-ins' "test" servers only; without them, nowhere."""
    if d is None:
        return {"ENA_SERVERS": {}, "BIOSTUDIES_SERVERS": {}}
    return {
        "ENA_SERVERS": {"test": d.webin_url},
        "ENA_UPLOAD_HOST": d.upload_host,
        "ENA_UPLOAD_PORT": d.upload_port,
        "ENA_UPLOAD_CA": d.upload_ca,
        "ENA_XSD_DIR": d.xsd_dir,
        "ENA_TAXONOMY_URL": d.taxonomy_url,
        "ENA_CHECKLIST_DIR": d.checklist_dir,
        "BIOSTUDIES_SERVERS": {"test": d.biostudies_url},
    }
