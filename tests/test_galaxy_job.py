"""NeLS reached through a Galaxy job's file sources (``NELS_GALAXY_FILE_SOURCES``).

The JSON is shaped as Galaxy 26.1 writes it for a tool's ``<file_sources>``
configfile; the real Galaxy writes it in test_galaxy_server.py.
"""

from __future__ import annotations

import json

import pytest
from conftest import cli as run_cli

from nels_cli.demo import SEQ_PROJECT, seed
from nels_core.errors import ConfigError
from nels_core.galaxy_job import nels_source, parse_file_sources


def source(**over) -> dict:
    """One entry as Galaxy's ``to_dict(for_serialization=True)`` gives it."""
    return {
        "id": "nels",
        "type": "nels",
        "label": "NeLS",
        "doc": None,
        "writable": True,
        "browsable": True,
        "scheme": "gxfiles",
        "uri_root": "gxfiles://nels",
        "backend": "sftp",
        "api_url": "https://nels.example.org/nels-api2",
        "access_token": "tok-123",
        "host": "data.example.org",
        "port": 2222,
        "known_hosts": "[data.example.org]:2222 ssh-ed25519 AAAA",
        **over,
    }


def doc(*sources: dict) -> str:
    return json.dumps({"file_sources": list(sources), "config": {}})


def test_the_nels_source_gives_settings_and_the_path():
    others = {"id": "s3", "type": "s3fs", "uri_root": "s3://bucket", "scheme": "s3"}
    settings, path = nels_source(
        parse_file_sources(doc(others, source())), "gxfiles://nels/Projects/P1/run1/"
    )
    assert path == "Projects/P1/run1"
    assert (settings.host, settings.port, settings.access_token) == (
        "data.example.org",
        2222,
        "tok-123",
    )
    assert settings.api_url == "https://nels.example.org/nels-api2"
    # a source a user made from a template lives under its own root
    mine = source(id="u1", scheme="gxuserfiles", uri_root="gxuserfiles://u1", host="other.org")
    settings, path = nels_source([source(), mine], "gxuserfiles://u1/Personal/x")
    assert (settings.host, path) == ("other.org", "Personal/x")
    assert nels_source([mine], "gxuserfiles://u1")[1] == ""
    # NeLS's own addresses, as bundles record them: the admin's source reaches them
    settings, path = nels_source([mine, source()], "nels://Projects/P1/run1")
    assert (settings.host, path) == ("data.example.org", "Projects/P1/run1")
    assert nels_source([mine], "nels://Personal")[0].host == "other.org"
    # a source Galaxy wrote without uri_root has Galaxy's default root
    bare = {k: v for k, v in source(id="n2", host="n2.org").items() if k != "uri_root"}
    assert nels_source([bare], "gxfiles://n2/Personal/a")[0].host == "n2.org"


def test_an_oidc_token_in_the_headers_stands_in_for_a_missing_one():
    entry = source(access_token=None, http_headers={"Authorization": "Bearer oidc-tok"})
    assert nels_source([entry], "gxfiles://nels/Projects")[0].access_token == "oidc-tok"


@pytest.mark.parametrize(
    "sources, uri, message",
    [
        ([], "gxfiles://nels/Projects", "no NeLS file source"),
        ([source()], "gxfiles://other/x", "not in a NeLS file source of this Galaxy"),
        ([source()], "gxfiles://nelsx/Projects", "not in a NeLS file source of this Galaxy"),
        # Galaxy renders a vault secret the user never set as ""
        (
            [source(access_token="")],
            "gxfiles://nels/Projects",
            r"No NeLS access token in your Galaxy preferences: add yours under User > "
            r"Preferences > Manage information > Your NeLS account \(get one at "
            r"https://nels.elixir.no\), then run the tool again",
        ),
        (
            [source(access_token=None, token_help_url="https://nels.example.org/tokens")],
            "nels://Projects",
            r"get one at https://nels.example.org/tokens\)",
        ),
        ([source()], "gxfiles://nels/Projects/../../etc", "'..' is refused"),
    ],
)
def test_what_cannot_reach_nels_is_named(sources, uri, message):
    with pytest.raises(Exception, match=message):
        nels_source(sources, uri)


@pytest.mark.parametrize("text", ["not json", "[]", '{"file_sources": "x"}', '{"a": 1}'])
def test_a_document_that_is_not_galaxys_is_refused(text):
    with pytest.raises(ConfigError, match="not the JSON Galaxy writes"):
        parse_file_sources(text)


def test_cli_exports_a_nels_folder_through_the_jobs_file_sources(tmp_path):
    """The demo's home as a Galaxy admin's local-backend NeLS source: the
    export reads it with no config file at all."""
    seed(tmp_path / "demo")
    home = tmp_path / "demo" / "nels" / "users" / "demo"
    local = doc(source(backend="local", root=str(home), api_url=None, access_token=None))

    def cli(*args, sources):
        return run_cli(
            *args,
            config=tmp_path / "absent.toml",
            env={"NELS_GALAXY_FILE_SOURCES": sources},
        )

    # the folder as Galaxy's file dialog names it; the bundle records NeLS's own address
    uri = f"gxfiles://nels/Projects/{SEQ_PROJECT}/NorSeq"
    r = cli("isa", "export", uri, "--out", str(tmp_path / "b"), sources=local)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "b" / "export-report.json").read_text())
    assert report["source"] == f"nels://Projects/{SEQ_PROJECT}/NorSeq"
    assert report["investigation"] == SEQ_PROJECT
    assert "16 files" in r.stdout

    r = cli(
        "isa", "export", uri, "--out", str(tmp_path / "c"), sources=doc(source(access_token=""))
    )
    assert r.returncode == 1 and "No NeLS access token in your Galaxy preferences" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "c").exists()


def test_a_token_nels_refuses_is_told_as_galaxys_user_needs_it(nels_server, tmp_path):
    """In a tool's job, NeLS refusing the token from the user's vault says
    where to paste a new one, with no internal address."""
    from test_api_client import sign_in

    world = nels_server.cast.world
    expired = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    world.expire_all_tokens()

    def job(token: str):
        sources = doc(
            source(
                api_url=f"{nels_server.url}/nels-api2",
                access_token=token,
                host="127.0.0.1",
                port=world.sshd.port,
                known_hosts=world.sshd.known_hosts,
                token_help_url="https://nels.example.org/tokens",
            )
        )
        return run_cli(
            "ls",
            "gxfiles://nels/Projects",
            config=tmp_path / "absent.toml",
            env={"NELS_GALAXY_FILE_SOURCES": sources},
        )

    where = "User > Preferences > Manage information > Your NeLS account"
    for token, said in (
        (expired, "Your NeLS access token has expired"),
        (
            "never-issued",
            "NeLS did not accept your access token (it may have expired or been revoked)",
        ),
    ):
        r = job(token)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        message = " ".join(r.stderr.split())
        assert f"{said}: paste a new one under {where}" in message
        assert "(get one at https://nels.example.org/tokens), then run the tool again" in message
        assert nels_server.url not in r.stderr and token not in r.stderr
