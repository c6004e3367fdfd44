"""The NeLS file source through galaxy.files, as Galaxy's web process and jobs use it."""

import hashlib
import os

import pytest
from galaxy import exceptions
from galaxy.files import ConfiguredFileSources, ConfiguredFileSourcesConf
from galaxy.files.models import FileSourcePluginsConfig, FilesSourceOptions
from test_api_client import sign_in

from galaxy_plugin.homes import HOMES

pytestmark = pytest.mark.galaxy


class Vault:
    def __init__(self, secrets):
        self._secrets = secrets

    def read_secret(self, key):
        return self._secrets.get(key)


class UserContext:
    """What Galaxy hands a file source about the signed-in user."""

    def __init__(self, username, token):
        self.username = username
        self.email = f"{username}@example.org"
        self.ftp_dir = None
        self.preferences = {"nels|username": username}
        self.user_vault = Vault({"preferences/nels/access_token": token})
        self.app_vault = Vault({})
        self.role_names = set()
        self.group_names = set()
        self.is_admin = False
        self.anonymous = False
        self.oidc_access_tokens = {}
        self.oidc_access_token_expirations = {}
        self.file_sources = None


@pytest.fixture(autouse=True)
def fresh_homes():
    HOMES.clear()
    yield
    HOMES.clear()


def nels_conf(nels_server, **over) -> dict:
    """A NeLS source on the sandbox, its token from the user's vault."""
    sshd = nels_server.cast.world.sshd
    return {
        "type": "nels",
        "id": "nels",
        "label": "NeLS",
        "doc": "Your NeLS projects",
        "writable": True,
        "backend": "sftp",
        "api_url": f"{nels_server.url}/nels-api2",
        "access_token": "${user.user_vault.read_secret('preferences/nels/access_token')}",
        "host": "127.0.0.1",
        "port": sshd.port,
        "known_hosts": sshd.known_hosts,
        **over,
    }


def sources_with(nels_server, **over) -> ConfiguredFileSources:
    return ConfiguredFileSources(
        FileSourcePluginsConfig(),
        ConfiguredFileSourcesConf(conf_dict=[nels_conf(nels_server, **over)]),
    )


@pytest.fixture
def galaxy_sources(nels_server):
    return sources_with(nels_server)


def user(nels_server, name):
    token = sign_in(nels_server, name, f"{name}-pw").tokens.access_token
    return UserContext(name, token)


def test_galaxy_finds_the_plugin_and_lists_projects(galaxy_sources, nels_server):
    src = galaxy_sources.find_best_match("gxfiles://nels/Projects")
    assert src is not None and src.plugin_type == "nels"
    d = src.to_dict()
    # Galaxy's own form, which its web client accepts (it refuses nels://)
    assert d["uri_root"] == "gxfiles://nels" and d["supports"] == {
        "pagination": True,
        "search": True,
        "sorting": True,
    }
    bob = user(nels_server, "bob")
    entries, total = src.list("/Projects", user_context=bob)
    # projects by their NeLS names, what limits them marked; folders in the URIs
    assert [(e.name, e.uri, e.path) for e in entries] == [
        ("Locked_2020 [locked]", "gxfiles://nels/Projects/Locked_2020", "/Projects/Locked_2020"),
        (
            "UiB Test Project",
            "gxfiles://nels/Projects/UiB-Test-Project",
            "/Projects/UiB-Test-Project",
        ),
    ]
    assert total == 2
    erin = user(nels_server, "erin")
    assert src.list("/Projects", user_context=erin) == ([], 0)
    with pytest.raises(exceptions.ObjectNotFound):
        src.list("/Projects/UiB-Test-Project", user_context=erin)


def test_sensitive_projects_are_flagged_for_their_members(galaxy_sources, nels_server):
    src = galaxy_sources.find_best_match("gxfiles://nels")
    entries, _ = src.list("/Projects", user_context=user(nels_server, "alice"))
    assert [(e.name, e.uri) for e in entries] == [
        ("Sensitive_Cohort [sensitive]", "gxfiles://nels/Projects/Sensitive_Cohort"),
        ("UiB Test Project", "gxfiles://nels/Projects/UiB-Test-Project"),
    ]
    carol, _ = src.list("/Projects", user_context=user(nels_server, "carol"))
    assert [e.name for e in carol] == ["UiB Test Project"]  # not a member: not shown
    dave, _ = src.list("/Projects", user_context=user(nels_server, "dave"))
    assert [e.name for e in dave] == ["UiB Test Project [read-only]"]


def test_pagination_search_sorting_recursion(galaxy_sources, nels_server):
    pdir = nels_server.cast.world.project_dir(nels_server.cast.project) / "raw"
    for i in range(12):
        (pdir / f"s{i:02d}_R1.fastq.gz").write_bytes(b"x" * (100 + i))
    (pdir / "z-qc").mkdir()
    src = galaxy_sources.find_best_match("gxfiles://nels")
    alice = user(nels_server, "alice")
    page, total = src.list("/Projects/UiB-Test-Project/raw", user_context=alice, limit=5, offset=5)
    # Galaxy's dialog asks no order: the folder first, then names (reads.fastq
    # before the s* files), so offset 5 starts at s03
    assert total == 14 and [e.name for e in page] == [f"s{i:02d}_R1.fastq.gz" for i in range(3, 8)]
    first, _ = src.list("/Projects/UiB-Test-Project/raw", user_context=alice, limit=2)
    assert [e.name for e in first] == ["z-qc", "reads.fastq"]
    # asked by name, names alone decide
    by_name, _ = src.list("/Projects/UiB-Test-Project/raw", user_context=alice, sort_by="-name")
    assert by_name[0].name == "z-qc" and by_name[1].name == "s11_R1.fastq.gz"
    hits, total = src.list("/Projects/UiB-Test-Project/raw", user_context=alice, query="S1")
    assert total == 2 and {e.name for e in hits} == {"s10_R1.fastq.gz", "s11_R1.fastq.gz"}
    biggest, _ = src.list(
        "/Projects/UiB-Test-Project/raw", user_context=alice, sort_by="-size", limit=1
    )
    assert biggest[0].name == "s11_R1.fastq.gz" and biggest[0].size == 111
    deep, total = src.list("/Projects/UiB-Test-Project", recursive=True, user_context=alice)
    assert "/Projects/UiB-Test-Project/raw/reads.fastq" in {e.path for e in deep}
    with pytest.raises(exceptions.RequestParameterInvalidException):
        src.list("/", user_context=alice, sort_by="colour")


def test_write_intent_offers_only_folders_files_may_go_into(galaxy_sources, nels_server):
    """Galaxy's folder picker for an export: NeLS refuses files straight in
    Personal, Projects and project roots, so those are never offered."""
    cast = nels_server.cast
    (cast.world.home(cast.bob) / "Personal" / "results" / "2026").mkdir(parents=True)
    (cast.world.project_dir(cast.project) / "galaxy").mkdir()
    src = galaxy_sources.find_best_match("gxfiles://nels")
    opts = FilesSourceOptions(write_intent=True)
    bob = user(nels_server, "bob")  # member of the test project, and of a locked one

    def offered(path, **kw):
        entries, total = src.list(path, user_context=bob, opts=opts, **kw)
        assert total == len(entries) or kw
        return [(e.name, e.uri) for e in entries]

    root = "gxfiles://nels"
    assert offered("/") == [
        ("Personal/results", f"{root}/Personal/results"),
        ("Projects/UiB Test Project/galaxy", f"{root}/Projects/UiB-Test-Project/galaxy"),
        ("Projects/UiB Test Project/raw", f"{root}/Projects/UiB-Test-Project/raw"),
    ]
    assert offered("/Projects") == [
        ("UiB Test Project/galaxy", f"{root}/Projects/UiB-Test-Project/galaxy"),
        ("UiB Test Project/raw", f"{root}/Projects/UiB-Test-Project/raw"),
    ]
    assert [n for n, _ in offered("/Projects/UiB-Test-Project")] == ["galaxy", "raw"]
    assert offered("/Personal/results") == [("2026", f"{root}/Personal/results/2026")]
    assert offered("/Projects/Locked_2020") == []  # locked: nowhere to write
    assert offered("/", query="raw") == [
        ("Projects/UiB Test Project/raw", f"{root}/Projects/UiB-Test-Project/raw")
    ]
    assert [n for n, _ in offered("/", limit=1, offset=1)] == ["Projects/UiB Test Project/galaxy"]
    dave = user(nels_server, "dave")  # read-only member, nothing in Personal
    assert src.list("/", user_context=dave, opts=opts) == ([], 0)
    with pytest.raises(exceptions.ObjectNotFound):  # not theirs: not found, as when reading
        src.list("/Projects/UiB-Test-Project", user_context=user(nels_server, "erin"), opts=opts)


def test_realize_checks_delivered_md5(galaxy_sources, nels_server, tmp_path):
    raw = nels_server.cast.world.project_dir(nels_server.cast.project) / "raw"
    data = os.urandom(3_000_000)
    (raw / "S1_L001_R1_001.fastq.gz").write_bytes(data)
    (raw / "md5sum.txt").write_text(f"{hashlib.md5(data).hexdigest()}  S1_L001_R1_001.fastq.gz\n")
    src = galaxy_sources.find_best_match("gxfiles://nels")
    bob = user(nels_server, "bob")
    target = tmp_path / "in.fastq.gz"
    src.realize_to(
        "/Projects/UiB-Test-Project/raw/S1_L001_R1_001.fastq.gz", str(target), user_context=bob
    )
    assert target.read_bytes() == data
    (raw / "md5sum.txt").write_text(f"{'0' * 32}  S1_L001_R1_001.fastq.gz\n")
    HOMES.clear()
    with pytest.raises(exceptions.MessageException, match="delivered checksum"):
        src.realize_to(
            "/Projects/UiB-Test-Project/raw/S1_L001_R1_001.fastq.gz", str(target), user_context=bob
        )
    assert not target.exists()


def test_write_and_refusals(galaxy_sources, nels_server, tmp_path):
    src = galaxy_sources.find_best_match("gxfiles://nels")
    local = tmp_path / "result.tsv"
    local.write_text("a\tb\n")
    bob = user(nels_server, "bob")
    written = src.write_from(
        "/Projects/UiB-Test-Project/galaxy/result.tsv", str(local), user_context=bob
    )
    assert written == "/Projects/UiB-Test-Project/galaxy/result.tsv"
    stored = nels_server.cast.world.project_dir(nels_server.cast.project) / "galaxy" / "result.tsv"
    assert stored.read_text() == "a\tb\n"
    local.write_text("changed\n")
    with pytest.raises(
        exceptions.InsufficientPermissionsException, match="member may not overwrite"
    ):
        src.write_from("/Projects/UiB-Test-Project/galaxy/result.tsv", str(local), user_context=bob)
    assert stored.read_text() == "a\tb\n"  # untouched
    with pytest.raises(exceptions.InsufficientPermissionsException, match="straight into"):
        src.write_from("/Projects/UiB-Test-Project/result.tsv", str(local), user_context=bob)
    with pytest.raises(exceptions.RequestParameterInvalidException, match=r"'\.\.'"):
        src.write_from("/Personal/../../etc/x", str(local), user_context=bob)
    carol = user(nels_server, "carol")  # a power user may replace it
    src.write_from("/Projects/UiB-Test-Project/galaxy/result.tsv", str(local), user_context=carol)
    assert stored.read_text() == "changed\n"


def test_serialised_for_a_job_and_rebuilt_without_a_user(galaxy_sources, nels_server, tmp_path):
    bob = user(nels_server, "bob")
    as_dict = galaxy_sources.to_dict(for_serialization=True, user_context=bob)
    (entry,) = as_dict["file_sources"]
    assert entry["access_token"] and "${" not in entry["access_token"]  # resolved for the job
    HOMES.clear()
    in_job = ConfiguredFileSources.from_dict(as_dict)
    src = in_job.find_best_match("gxfiles://nels/Projects/UiB-Test-Project/raw/reads.fastq")
    target = tmp_path / "reads.fastq"
    src.realize_to("/Projects/UiB-Test-Project/raw/reads.fastq", str(target), user_context=None)
    assert target.read_bytes().startswith(b"@r1")
    out = tmp_path / "out.txt"
    out.write_text("from a job\n")
    src.write_from("/Projects/UiB-Test-Project/jobs/out.txt", str(out), user_context=None)
    stored = nels_server.cast.world.project_dir(nels_server.cast.project) / "jobs" / "out.txt"
    assert stored.read_text() == "from a job\n"


def test_create_entry_makes_a_personal_folder(galaxy_sources, nels_server):
    from galaxy.files.models import EntryData

    src = galaxy_sources.find_best_match("gxfiles://nels")
    alice = user(nels_server, "alice")
    entry = src.create_entry(EntryData(name="exports"), user_context=alice)
    assert entry.uri == "gxfiles://nels/Personal/exports"
    assert (nels_server.cast.world.home(nels_server.cast.alice) / "Personal" / "exports").is_dir()


def test_local_backend_on_a_mounted_tree(nels_server, tmp_path):
    world = nels_server.cast.world
    conf = [
        {
            "type": "nels",
            "id": "nels_mount",
            "writable": True,
            "backend": "local",
            "root": str(world.root / "users") + "/${user.username}",
            "api_url": f"{nels_server.url}/nels-api2",
            "access_token": "${user.user_vault.read_secret('preferences/nels/access_token')}",
        }
    ]
    sources = ConfiguredFileSources(
        FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
    )
    src = sources.find_best_match("gxfiles://nels_mount")
    bob = user(nels_server, "bob")
    names = [e.name for e in src.list("/Projects", user_context=bob)[0]]
    assert names == ["Locked_2020 [locked]", "UiB Test Project"]
    with pytest.raises(exceptions.InsufficientPermissionsException):
        src.write_from("/Projects/Locked_2020/old/x.txt", __file__, user_context=bob)


def test_uris_are_galaxys_own_forms(nels_server):
    conf = [
        {"type": "nels", "id": "abc123", "backend": "local", "root": "/tmp"},
        {"type": "nels", "id": "u9", "scheme": "gxuserfiles", "backend": "local", "root": "/tmp"},
    ]
    sources = ConfiguredFileSources(
        FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
    )
    src = sources.find_best_match("gxfiles://abc123/Personal")
    assert src is not None and src.get_uri_root() == "gxfiles://abc123"
    mine = sources.find_best_match("gxuserfiles://u9/Personal")
    assert mine is not None and mine.get_uri_root() == "gxuserfiles://u9"
    assert sources.find_best_match("nels://Personal") is None


def test_token_from_galaxys_oidc_login(nels_server, tmp_path):
    """With oidc_auth_provider set, the user's token from Galaxy's own NeLS
    login is used, and travels with the config serialised for a job."""
    sshd = nels_server.cast.world.sshd
    conf = [
        {
            "type": "nels",
            "id": "nels_oidc",
            "writable": True,
            "oidc_auth_provider": "nels",
            "api_url": f"{nels_server.url}/nels-api2",
            "host": "127.0.0.1",
            "port": sshd.port,
            "known_hosts": sshd.known_hosts,
        }
    ]
    sources = ConfiguredFileSources(
        FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
    )
    src = sources.find_best_match("gxfiles://nels_oidc")
    bob = UserContext("bob", None)
    bob.oidc_access_tokens = {"nels": sign_in(nels_server, "bob", "bob-pw").tokens.access_token}
    assert [e.name for e in src.list("/Projects", user_context=bob)[0]] == [
        "Locked_2020 [locked]",
        "UiB Test Project",
    ]
    HOMES.clear()
    job = ConfiguredFileSources.from_dict(sources.to_dict(for_serialization=True, user_context=bob))
    target = tmp_path / "r.fastq"
    job.find_best_match("gxfiles://nels_oidc").realize_to(
        "/Projects/UiB-Test-Project/raw/reads.fastq", str(target), user_context=None
    )
    assert target.read_bytes().startswith(b"@r1")
    stranger = UserContext("erin", None)  # no NeLS login: a clear refusal
    HOMES.clear()
    with pytest.raises(exceptions.AuthenticationRequired, match="No NeLS access token"):
        src.list("/Projects", user_context=stranger)


def refusal(src, user_context) -> exceptions.MessageException:
    with pytest.raises(exceptions.MessageException) as err:
        src.list("/Projects", user_context=user_context)
    return err.value


def test_credential_problems_tell_the_researcher_what_to_do(galaxy_sources, nels_server):
    src = galaxy_sources.find_best_match("gxfiles://nels")
    where = "User > Preferences > Manage information > Your NeLS account"

    missing = refusal(src, UserContext("frank", None))
    assert isinstance(missing, exceptions.AuthenticationRequired) and missing.status_code == 403
    assert str(missing) == (
        f"No NeLS access token in your Galaxy preferences: add yours under {where} "
        "(get one at https://nels.elixir.no)."
    )
    wrong = refusal(src, UserContext("bob", "not-a-token"))
    assert isinstance(wrong, exceptions.AuthenticationFailed) and wrong.status_code == 401
    assert str(wrong).startswith("NeLS did not accept your access token") and where in str(wrong)

    bob = user(nels_server, "bob")
    nels_server.cast.world.expire_all_tokens()
    expired = refusal(src, bob)
    assert isinstance(expired, exceptions.FileSourceCredentialExpired)
    assert str(expired).startswith("Your NeLS access token has expired: paste a new one under")
    for e in (missing, wrong, expired):  # no internal address, no token
        assert "nels-api2" not in str(e) and nels_server.url not in str(e)
        assert "not-a-token" not in str(e)


def test_the_admins_token_page_is_named(nels_server):
    src = sources_with(nels_server, token_help_url="https://nels.example.org/how-to-token")
    e = refusal(src.find_best_match("gxfiles://nels"), UserContext("frank", None))
    assert "(get one at https://nels.example.org/how-to-token)" in str(e)


def test_faults_of_nels_or_the_setup_are_told_without_internals(nels_server, caplog):
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    bob = UserContext("bob", token)
    down = sources_with(nels_server, api_url="http://127.0.0.1:9/nels-api2", timeout=2)
    e = refusal(down.find_best_match("gxfiles://nels"), bob)
    assert isinstance(e, exceptions.GatewayTimeoutException)
    assert str(e) == "NeLS cannot be reached right now: try again in a few minutes"

    from nels_sandbox.keys import new_key_pair

    HOMES.clear()
    impostor = new_key_pair()[1]  # another server's key pinned
    port = nels_server.cast.world.sshd.port
    wrong_host = sources_with(nels_server, known_hosts=f"[127.0.0.1]:{port} {impostor}\n")
    e = refusal(wrong_host.find_best_match("gxfiles://nels"), bob)
    assert isinstance(e, exceptions.ServerNotConfiguredForRequest)
    assert "tell its admin" in str(e) and "key" not in str(e)
    assert "does not match the pinned key" in caplog.text  # the admin reads why in the log


def test_cuts_leave_no_partial_dataset_nor_nels_file(nels_server, tmp_path):
    """realize_to and write_from with the connection cut mid-transfer: one
    clear message, nothing truncated on either side, the retry whole."""
    import random

    from fault_proxy import PASS, FaultProxy

    sshd = nels_server.cast.world.sshd
    rng = random.Random("galaxy-cuts")
    data = rng.randbytes(3 * 1024 * 1024)
    raw = nels_server.cast.world.project_dir(nels_server.cast.project) / "raw"
    (raw / "big.bin").write_bytes(data)
    local = tmp_path / "local"
    local.mkdir()
    (local / "upload.bin").write_bytes(data)
    bob = user(nels_server, "bob")
    for i in range(3):
        # the 2nd connection carries the bytes (OpenSSH); the next ones pass
        cut = ("cut", rng.randrange(8000, 8000 + len(data)))
        with FaultProxy(sshd.port, [PASS, cut]) as proxy:
            HOMES.clear()
            src = sources_with(
                nels_server, port=proxy.port, known_hosts=proxy.known_hosts(sshd.host_public_key)
            ).find_best_match("gxfiles://nels")
            target = local / f"in{i}.bin"
            try:
                src.realize_to("/Projects/UiB-Test-Project/raw/big.bin", str(target), bob)
            except exceptions.MessageException as e:
                assert "\n" not in str(e) and "connection" in str(e)
                assert not target.exists()
                src.realize_to("/Projects/UiB-Test-Project/raw/big.bin", str(target), bob)
            assert target.read_bytes() == data
            assert sorted(p.name for p in local.iterdir() if p.name.startswith(".")) == []

            proxy.plans.append(("cut", rng.randrange(8000, 8000 + len(data))))
            HOMES.clear()  # a fresh connection, which the plan cuts
            nels_path = f"/Projects/UiB-Test-Project/galaxy/out{i}.bin"
            stored = raw.parent / "galaxy" / f"out{i}.bin"
            try:
                src.write_from(nels_path, str(local / "upload.bin"), bob)
            except exceptions.MessageException as e:
                assert "\n" not in str(e) and "connection" in str(e)
                assert not stored.exists()
                src.write_from(nels_path, str(local / "upload.bin"), bob)
            assert stored.read_bytes() == data
            assert [p.name for p in stored.parent.iterdir() if p.name.startswith(".")] == []
        assert proxy.faults >= 1


def test_a_name_that_is_not_utf8_lists_and_imports(galaxy_sources, nels_server, tmp_path):
    raw = nels_server.cast.world.project_dir(nels_server.cast.project) / "raw"
    with open(os.fsencode(raw) + b"/old\xe6\xf8\xe5.fastq", "wb") as f:  # Latin-1 "æøå"
        f.write(b"@r1\nACGT\n+\nIIII\n")
    src = galaxy_sources.find_best_match("gxfiles://nels")
    bob = user(nels_server, "bob")
    entries = src.list("/Projects/UiB-Test-Project/raw", user_context=bob)
    entries = entries[0] if isinstance(entries, tuple) else entries
    odd = next(e for e in entries if e.name.startswith("old"))
    assert odd.name == "old\\xe6\\xf8\\xe5.fastq"
    for e in entries:
        e.model_dump_json()  # what Galaxy's API sends: a surrogate here was a 500
    target = tmp_path / "odd.fastq"
    src.realize_to(odd.path, str(target), user_context=bob)
    assert target.read_bytes() == b"@r1\nACGT\n+\nIIII\n"
