"""The nels-bundle command on the demo tree and, through the API, over SFTP."""

import hashlib
import json

import pytest
from conftest import cli, sftp_config

from nels_cli.demo import RUN, SEQ_PROJECT, seed

RUN_DIR = f"Projects/{SEQ_PROJECT}/NorSeq/{RUN}"


@pytest.fixture
def demo(tmp_path):
    return seed(tmp_path / "demo")


def test_ls_json_pages_and_sorts(demo):
    r = cli(
        "ls",
        "--json",
        f"nels://{RUN_DIR}/fastq",
        "--limit",
        "4",
        "--sort",
        "size",
        "--reverse",
        "--query",
        "_R1_",
        config=demo,
    )
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert listing["total"] == 10  # 4 samples + Undetermined, 2 lanes, R1 only
    sizes = [e["size"] for e in listing["entries"]]
    assert len(sizes) == 4 and sizes == sorted(sizes, reverse=True)
    assert all(e["uri"].startswith("nels://") and "_R1_" in e["name"] for e in listing["entries"])


def test_get_verifies_against_delivered_md5(demo, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    fq = f"{RUN_DIR}/fastq/Gill-1_S3_L001_R1_001.fastq.gz"
    r = cli("get", f"nels://{fq}", str(target), config=demo)
    assert r.returncode == 0, r.stderr
    assert "matches the delivered checksum" in r.stderr
    # corrupt the stored file: the download is refused and nothing is kept
    stored = demo.parent / "nels" / "projects" / SEQ_PROJECT / "NorSeq" / RUN / "fastq"
    (stored / "Gill-1_S3_L001_R1_001.fastq.gz").write_bytes(b"corrupted")
    (target / "Gill-1_S3_L001_R1_001.fastq.gz").unlink()
    r = cli("get", f"nels://{fq}", str(target), config=demo)
    assert r.returncode == 1 and "does not match the delivered" in r.stderr
    assert list(target.iterdir()) == []


def test_put_mkdir_rm_and_refusals_are_one_line(demo, tmp_path):
    local = tmp_path / "result.tsv"
    local.write_text("a\tb\n")
    assert cli("mkdir", "nels://Personal/results", config=demo).returncode == 0
    r = cli("put", str(local), "nels://Personal/results/", config=demo)
    assert r.returncode == 0, r.stderr
    assert hashlib.md5(local.read_bytes()).hexdigest() in r.stderr
    r = cli("put", str(local), "nels://Personal/results/", config=demo)
    assert r.returncode == 1 and "already exists; add --overwrite" in r.stderr
    for args, words in (
        (("rm", f"nels://{RUN_DIR}/SampleSheet.csv"), "a member may not delete"),
        (("ls", "nels://../../etc"), "'..' is refused"),
        (("ls", "nels://Projects/Someone_Else_2024"), "no such NeLS project"),
        (("put", str(local), "nels://Personal/x.tsv"), "straight into"),
        # a name is shown as it is, never taken for markup
        (("ls", "nels://Personal/[red]gone[/red]"), "'Personal/[red]gone[/red]'"),
    ):
        r = cli(*args, config=demo)
        assert r.returncode == 1, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], r.stderr
    assert cli("rm", "-r", "nels://Personal/results", config=demo).returncode == 0


def test_no_configuration_says_what_to_do(tmp_path):
    r = cli("ls", env={"HOME": str(tmp_path)})
    assert r.returncode == 1 and "nels-bundle demo" in r.stderr
    # set but empty is unset; a folder is named as one
    r = cli("ls", env={"HOME": str(tmp_path), "NELS_BUNDLE_CONFIG": ""})
    assert r.returncode == 1 and "nels-bundle demo" in r.stderr and "Traceback" not in r.stderr
    r = cli("ls", env={"HOME": str(tmp_path), "NELS_BUNDLE_CONFIG": str(tmp_path)})
    assert r.returncode == 1 and "is a folder, not a file" in r.stderr, r.stderr


def test_bad_config_file_is_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage\nbackend=")
    r = cli("ls", config=bad)
    assert r.returncode == 1 and str(bad) in r.stderr


def test_demo_runs_and_is_repeatable(tmp_path):
    env = {"NELS_BUNDLE_DEMO_DIR": str(tmp_path / "d")}
    first = cli("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "0 mismatches" in first.stdout and "may not delete" in first.stdout
    again = cli("demo", env=env)
    assert again.returncode == 0 and "Seeded" not in again.stdout


def test_sftp_backend_through_the_api(nels_server, tmp_path):
    """Config -> token -> my-account and projects -> short-lived key -> sshd."""
    from test_api_client import sign_in

    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    sshd = nels_server.cast.world.sshd
    config = sftp_config(tmp_path, nels_server.url, sshd.port, sshd.known_hosts)
    r = cli("ls", "--json", "nels://Projects", config=config, env={"NELS_TOKEN": token})
    assert r.returncode == 0, r.stderr
    assert [e["name"] for e in json.loads(r.stdout)["entries"]] == [
        "Locked_2020",
        "UiB-Test-Project",
    ]
    r = cli(
        "rm",
        "nels://Projects/UiB-Test-Project/raw/reads.fastq",
        config=config,
        env={"NELS_TOKEN": token},
    )
    assert r.returncode == 1 and "member may not delete" in r.stderr
    assert token not in r.stderr
    # a token NeLS refuses, or says expired: what to do, no internal address
    nels_server.cast.world.expire_all_tokens()
    for used, said in (
        (token, "Your NeLS access token has expired"),
        ("never-issued", "NeLS did not accept your access token"),
    ):
        r = cli("ls", "nels://Projects", config=config, env={"NELS_TOKEN": used})
        message = " ".join(r.stderr.split())
        assert r.returncode == 1 and said in message, r.stderr
        assert "set a new one in $NELS_TOKEN (or the config file's [api] token)" in message
        assert nels_server.url not in r.stderr and used not in r.stderr


def test_a_cut_get_keeps_the_local_file_and_leaves_no_partial(demo, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from nels_cli.main import main
    from nels_core.errors import TransferError
    from nels_core.home import Home

    dest = tmp_path / "got"
    dest.mkdir()
    (dest / "SampleSheet.csv").write_text("what was here\n")

    whole = Home.read_chunks

    def cut(self, path, offset=0, length=None):
        if not path.endswith("SampleSheet.csv"):  # md5sum.txt reads whole
            yield from whole(self, path, offset, length)
            return
        yield b"[Header]\n"
        raise TransferError(f"connection to the NeLS data host lost during {path!r}")

    monkeypatch.setattr(Home, "read_chunks", cut)
    args = ["--config", str(demo), "get", f"nels://{RUN_DIR}/SampleSheet.csv", str(dest)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and "lost during" in r.output, r.output
    assert (dest / "SampleSheet.csv").read_text() == "what was here\n"
    assert [p.name for p in dest.iterdir()] == ["SampleSheet.csv"]  # the partial is gone


def test_hostile_names_are_listed_literally(demo):
    """Names are the server's: never markup, never raw control characters."""
    personal = demo.parent / "nels" / "users" / "demo" / "Personal" / "hostile"
    (personal / "a[").mkdir(parents=True)
    names = ("[reverse]x", "[link=file:evil]y", "esc\x1b[31mred", "a[/b]")
    for name in names:  # the last: a folder "a[" holding "b]"
        (personal / name).write_bytes(b"x")
    r = cli("ls", "-R", "nels://Personal/hostile", config=demo)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "\x1b" not in r.stdout
    for shown in ("[reverse]x", "[link=file:evil]y", "esc\\x1b[31mred", "a[/b]"):
        assert shown in r.stdout, r.stdout
    listed = json.loads(cli("ls", "nels://Personal/hostile", "--json", config=demo).stdout)
    assert {e["path"].rsplit("/", 1)[1] for e in listed["entries"]} == {"a[", *names[:3]}
    r = cli("get", "nels://Personal/hostile/[bold]esc\x1b[2J", config=demo)
    assert r.returncode == 1 and "'Personal/hostile/[bold]esc\\x1b[2J'" in r.stderr, r.stderr
