"""The Galaxy plugin's Galaxy-free half: homes from resolved settings."""

import pytest
from test_api_client import sign_in

from galaxy_plugin.homes import HomeCache, NelsSettings, build_home
from nels_core.errors import AccessDeniedError, ConfigError
from nels_core.model import Role


def settings(nels_server, **kw):
    sshd = nels_server.cast.world.sshd
    base = dict(
        api_url=f"{nels_server.url}/nels-api2",
        host="127.0.0.1",
        port=sshd.port,
        known_hosts=sshd.known_hosts,
    )
    return NelsSettings(**{**base, **kw})


def test_service_account_reads_projects_from_the_data_host(nels_server):
    """Legacy credential service: no user token, so no roles from the API.
    Projects come from the data host's own listing and count as a member's."""
    carol = nels_server.cast.carol  # a power user, who could delete with a token
    home = build_home(
        settings(
            nels_server,
            legacy_client_key="legacy-key",
            legacy_client_secret="legacy-secret",
            nels_id=carol.nels_id,
        )
    )
    assert [e.name for e in home.list("Projects").entries] == ["UiB-Test-Project"]
    assert home.account.membership("UiB-Test-Project").role is Role.MEMBER
    home.write("Projects/UiB-Test-Project/raw/new.txt", b"added")
    on_disk = nels_server.cast.world.project_dir(nels_server.cast.project) / "raw" / "new.txt"
    assert on_disk.read_bytes() == b"added"
    with pytest.raises(AccessDeniedError, match="member may not delete"):
        home.remove("Projects/UiB-Test-Project/raw/new.txt")
    assert on_disk.exists()
    home.close()


def test_token_gives_roles_from_the_api(nels_server):
    cast = nels_server.cast
    token = sign_in(nels_server, "carol", "carol-pw").tokens.access_token
    home = build_home(settings(nels_server, access_token=token))
    try:
        # who she is and her roles come from the API, not the data host's listing
        assert home.account.user.nels_id == cast.carol.nels_id
        assert home.account.membership("UiB-Test-Project").role is Role.POWER_USER
        assert home.account.membership("Locked_2020") is None  # not hers
        assert [e.name for e in home.list("Projects").entries] == ["UiB-Test-Project"]
        on_disk = cast.world.project_dir(cast.project) / "raw" / "new.txt"
        home.write("Projects/UiB-Test-Project/raw/new.txt", b"added")
        assert on_disk.read_bytes() == b"added"
        home.remove("Projects/UiB-Test-Project/raw/new.txt")  # a power user may delete
        assert not on_disk.exists()
        assert not home.exists("Projects/UiB-Test-Project/raw/new.txt")
    finally:
        home.close()


def test_missing_credentials_are_named(nels_server):
    with pytest.raises(ConfigError, match="access token"):
        build_home(settings(nels_server))
    with pytest.raises(ConfigError, match="root"):
        build_home(NelsSettings(backend="local"))
    with pytest.raises(ConfigError, match="'sftp' or 'local'"):
        build_home(NelsSettings(backend="s3", root="/tmp"))


def test_cache_reuses_then_expires(nels_server):
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    cache = HomeCache(size=2, ttl=60)
    s = settings(nels_server, access_token=token)
    first = cache.get(s)
    assert cache.get(s) is first
    cache.ttl = 0
    assert cache.get(s) is not first  # expired: built anew
    other = settings(nels_server, access_token=token, transport="asyncssh")
    cache.ttl = 60
    cache.get(other)
    third = settings(nels_server, access_token=token, timeout=5.0)
    cache.get(third)
    # least recently used dropped: the first settings' home, not the two newer
    assert list(cache._homes) == [other.fingerprint(), third.fingerprint()]
    cache.clear()


def test_settings_repr_hides_secrets():
    s = NelsSettings(access_token="tok-123", legacy_client_secret="sec-456")
    assert "tok-123" not in repr(s) and "sec-456" not in repr(s)
