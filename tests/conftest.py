"""Shared fixtures: a real OpenSSH sshd, the NeLS sandbox world and API server."""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from nels_core.home import Home
from nels_core.model import Account, Membership, Project, Role, User
from nels_core.storage.local import LocalStorage
from nels_sandbox.nels_api import create_app
from nels_sandbox.sshd import Sshd, find_sshd
from nels_sandbox.world import World

ROOT = Path(__file__).resolve().parent.parent

try:  # the Galaxy tests run in Galaxy's own environment (./dev test does both)
    import galaxy.files  # noqa: F401
except ImportError:
    collect_ignore = ["in_galaxy"]
SPECS = Path(os.environ.get("NELS_SPECS", ROOT.parent / "shared" / "specs"))
# ENA's sample checklists for every deposit the tests make, and the CLI they run
os.environ.setdefault("NELS_ENA_CHECKLIST_DIR", str(SPECS / "ena" / "checklists"))


def cli(*args, config=None, env=None, cwd=None, timeout=60):
    """nels-bundle in its own process, as a user runs it; the demo's config is
    out of its reach unless given."""
    full_env = {**os.environ, "NELS_BUNDLE_DEMO_DIR": "/nonexistent", **(env or {})}
    if config:
        full_env["NELS_BUNDLE_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "nels_cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


def missing(program: str, package: str) -> None:
    """A test that cannot run fails on CI and skips elsewhere, saying why."""
    if os.environ.get("CI"):
        pytest.fail(f"{program} is missing on CI: ./dev test installs Debian's {package}")
    pytest.skip(f"{program} is not installed (./dev test installs Debian's {package})")


def need(module: str, extra: str):
    """``module``, imported; a test without it skips (fails on CI), naming the
    extra that brings it. An installed module that fails to import is a failure."""
    if importlib.util.find_spec(module.partition(".")[0]) is None:
        pytest.skip(f"{module} is not installed: pip install -e '.[{extra}]' (./dev test does)")
    return importlib.import_module(module)


def _fail_skip_on_ci(rep) -> None:
    """On CI (``CI`` set) a skip is a failure, naming why it skipped: a test
    that cannot run there must not pass silently. Expected failures (xfail,
    reported as skipped with ``wasxfail``) are left alone."""
    if not os.environ.get("CI") or not rep.skipped or hasattr(rep, "wasxfail"):
        return
    if isinstance(rep.longrepr, tuple):  # (path, line, "Skipped: reason")
        path, line, reason = rep.longrepr
        where = f"{path}:{line}: " if line is not None else f"{path}: "
    else:
        reason, where = str(rep.longrepr), ""
    rep.outcome = "failed"
    rep.longrepr = (
        f"{where}{reason}\n"
        "This skip is a failure because CI is set: on CI every test must run "
        "(./dev test installs everything the suite needs)."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the item, so fixtures can keep screenshots of
    failures; on CI a skip in any phase becomes a failure."""
    outcome = yield
    rep = outcome.get_result()
    _fail_skip_on_ci(rep)
    setattr(item, f"rep_{rep.when}", rep)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped whole (a module-level importorskip) fails on CI too."""
    outcome = yield
    _fail_skip_on_ci(outcome.get_result())


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "sshd_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sshd)


@pytest.fixture(scope="session")
def specs() -> Path:
    if not SPECS.is_dir():
        pytest.skip(f"published specs not found at {SPECS} (set NELS_SPECS)")
    return SPECS


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis (Debian's redis-server) on loopback, for Celery."""
    from nels_sandbox.redis_server import RedisServer, find_redis

    if find_redis() is None:
        missing("redis-server", "redis-server")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def galaxy_stack(tmp_path_factory, specs, redis_server):
    """One real Galaxy for the whole suite, with NeLS, ENA's stand-ins and a
    Celery worker (tests/galaxy_stack.py)."""
    from galaxy_stack import start_stack, stop_stack

    if find_sshd() is None:
        missing("OpenSSH sshd", "openssh-server")
    stack = start_stack(tmp_path_factory, specs, redis_server)
    yield stack
    stop_stack(stack)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def browser_context(request):
    """A fresh chromium (Debian's, through Playwright); screenshots of every
    page it holds go to test-artifacts/ when the test fails."""
    playwright = need("playwright.sync_api", "dev")
    if not os.path.exists(CHROMIUM):
        missing("Debian's chromium", "chromium")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(accept_downloads=True)
        context.set_default_timeout(20_000)
        yield context
        call = getattr(request.node, "rep_call", None)  # set by the report hook above
        if call is not None and call.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            for n, pg in enumerate(context.pages):
                name = f"{request.node.name}{f'-{n}' if n else ''}.png"
                pg.screenshot(path=str(ARTIFACTS / name), full_page=True)
        browser.close()


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    if find_sshd() is None:
        missing("OpenSSH sshd", "openssh-server")
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


class Cast:
    """The people and projects every storage test uses.

    Project ``UiB Test Project`` (folder ``UiB-Test-Project``): alice PI,
    carol power user, bob member, dave read-only (4). ``Locked_2020`` is
    locked, bob a member. ``Sensitive_Cohort`` is sensitive, alice only.
    erin belongs to nothing.
    """

    def __init__(self, world: World):
        self.world = world
        w = world
        self.alice = w.add_user("alice", "Alice PI", "alice-pw", nels_id=261)
        self.carol = w.add_user("carol", "Carol Power", "carol-pw")
        self.bob = w.add_user("bob", "Bob Member", "bob-pw")
        self.dave = w.add_user("dave", "Dave Reader", "dave-pw")
        self.erin = w.add_user("erin", "Erin Outsider", "erin-pw")
        self.project = w.add_project("UiB Test Project", 1125299, description="test")
        self.locked = w.add_project("Locked_2020", locked=True)
        self.sensitive = w.add_project("Sensitive_Cohort", issensitive=True)
        for user, role in ((self.alice, 1), (self.carol, 2), (self.bob, 3), (self.dave, 4)):
            w.add_member(self.project, user, role)
        w.add_member(self.locked, self.bob, 3)
        w.add_member(self.sensitive, self.alice, 1)
        pdir = w.project_dir(self.project)
        (pdir / "raw").mkdir()
        (pdir / "raw" / "reads.fastq").write_bytes(b"@r1\nACGT\n+\nIIII\n")
        (w.project_dir(self.locked) / "old").mkdir()
        (w.project_dir(self.locked) / "old" / "a.txt").write_text("locked\n")
        w.add_client("galaxy", "galaxy-secret", redirect_uris=("http://127.0.0.1/cb",))
        w.legacy_clients["legacy-key"] = "legacy-secret"

    def account(self, user) -> Account:
        memberships = []
        for p in self.world.projects.values():
            if user.nels_id in p.members:
                project = Project(
                    p.id, p.name, p.description, issensitive=p.issensitive, locked=p.locked
                )
                memberships.append(Membership(project, Role(p.members[user.nels_id])))
        return Account.of(User(user.nels_id, user.name, username=user.username), memberships)


@pytest.fixture
def cast(tmp_path, sshd_server) -> Cast:
    sshd_server.revoke_all()
    return Cast(World(tmp_path / "nels", sshd_server))


@pytest.fixture
def local_cast(tmp_path) -> Cast:
    """The same cast without an sshd, for local-backend-only tests."""
    return Cast(World(tmp_path / "nels"))


def sftp_storage(cast: Cast, user, **kw):
    from nels_core.credentials import SshCredentials
    from nels_core.storage.sftp import Hop, SftpConfig, SftpStorage

    sshd = cast.world.sshd
    creds = SshCredentials("127.0.0.1", sshd.login, user.private_key)
    return SftpStorage(
        SftpConfig(Hop("127.0.0.1", sshd.port, known_hosts=sshd.known_hosts), creds, **kw)
    )


@pytest.fixture(params=["local", "sftp", "sftp-asyncssh"])
def backend(request):
    """local; sftp with bulk bytes through OpenSSH; sftp on asyncssh alone."""
    return request.param


@pytest.fixture
def home_for(request, backend, tmp_path):
    """``home_for(user)``: that user's Home on the backend under test."""
    if backend.startswith("sftp"):
        cast = request.getfixturevalue("cast")
    else:
        cast = request.getfixturevalue("local_cast")
    opened = []

    def make(user_name: str) -> Home:
        user = getattr(cast, user_name)
        if backend == "local":
            storage = LocalStorage(cast.world.home(user))
        else:
            transport = "asyncssh" if backend == "sftp-asyncssh" else "openssh"
            storage = sftp_storage(cast, user, transport=transport)
        home = Home(storage, cast.account(user))
        opened.append(home)
        return home

    make.cast = cast
    yield make
    for h in opened:
        h.close()


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["PUBLIC_URL"] = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


def sftp_config(folder: Path, api_url: str, port: int, known_hosts: str, **sftp) -> Path:
    """A CLI config for the sftp backend through the sandbox API; ``sftp``
    adds settings of the ``[sftp]`` table (transport, idle_timeout...)."""
    (folder / "known_hosts").write_text(known_hosts)
    extra = "".join(
        f"{k} = {v!r}\n".replace("'", '"') if isinstance(v, str) else f"{k} = {v}\n"
        for k, v in sftp.items()
    )
    config = folder / "c.toml"
    config.write_text(
        '[storage]\nbackend = "sftp"\n'
        f'[sftp]\nhost = "127.0.0.1"\nport = {port}\nknown_hosts_file = "known_hosts"\n{extra}'
        f'[api]\nurl = "{api_url}/nels-api2"\n'
    )
    return config


@pytest.fixture
def nels_server(cast):
    server = LiveServer(create_app(cast.world))
    server.cast = cast
    yield server
    server.stop()


@pytest.fixture
def seek_server(specs):
    """The SEEK sandbox on a loopback port, checking SEEK's published schemas.

    Alice and Bob are members of project P1 (Alice its administrator),
    Carol of P2 only, Dave of nothing.
    """
    from nels_sandbox.seek import create_app as create_seek_app
    from nels_sandbox.seek_schemas import SeekSchemas
    from nels_sandbox.seek_world import SeekWorld

    world = SeekWorld()
    people = {
        name: world.add_person(
            name,
            "Tester",
            token=f"token-{name.lower()}",
            login=name.lower(),
            password=f"pw-{name.lower()}",
            email=f"{name.lower()}@uib.no",
        )
        for name in ("Alice", "Bob", "Carol", "Dave")
    }
    p1 = world.add_project("P1", members=[people["Bob"].id], admins=[people["Alice"].id])
    p2 = world.add_project("P2", members=[people["Carol"].id])
    server = LiveServer(create_seek_app(world, SeekSchemas(specs)))
    world.base_url = server.url
    server.world, server.people, server.projects = world, people, {"P1": p1, "P2": p2}
    yield server
    server.stop()


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A throwaway PostgreSQL cluster (Debian's), as the production database."""
    import shutil
    import socket
    import subprocess

    bin_dir = _postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL", "postgresql")
    need("psycopg", "dev")
    import tempfile

    # not under pytest's own folders: those are closed to the postgres user
    data = Path(tempfile.mkdtemp(prefix="nels-pg-")) / "data"
    as_postgres = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(data.parent, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, bin_dir / "initdb", "-D", data, "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = f"-h 127.0.0.1 -p {port} -k {data}"
    subprocess.run(
        [
            *as_postgres,
            bin_dir / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-w",
            "start",
            "-l",
            data.parent / "log",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_postgres, bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
        capture_output=True,
    )
    shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each database the extension supports, empty."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nels-bundle.db'}"
    url = request.getfixturevalue("postgres_url")
    return fresh_database(url, f"t{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}")


def fresh_database(postgres_url: str, name: str) -> str:
    """An empty database ``name`` in the tests' PostgreSQL cluster; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
