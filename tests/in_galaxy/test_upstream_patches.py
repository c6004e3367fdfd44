"""The two changes we offer upstream, applied to the installed Galaxy's own
files in a scratch copy and exercised there."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import galaxy
import pytest
import yaml
from galaxy.files import ConfiguredFileSources, ConfiguredFileSourcesConf
from galaxy.files.models import FileSourcePluginsConfig
from test_api_client import sign_in
from test_file_source import nels_conf

from galaxy_plugin.file_source import NelsFilesSource

pytestmark = pytest.mark.galaxy
PLUGIN = Path(__file__).resolve().parents[2] / "galaxy_plugin"
GALAXY_LIB = Path(galaxy.files.__file__).resolve().parent.parent  # galaxy is a namespace
WRITE_CHECK = "galaxy-file-source-write-check.patch"


def patched_module(tmp_path, relative: str, patch: str, name: str):
    """Galaxy's installed ``relative`` file with ``patch`` applied, imported as ``name``."""
    target = tmp_path / "lib" / "galaxy" / relative
    target.parent.mkdir(parents=True)
    shutil.copy(GALAXY_LIB / relative, target)
    subprocess.run(
        ["patch", "-p1", "--forward", "--quiet", "-i", str(PLUGIN / "patches" / patch)],
        cwd=tmp_path,
        check=True,
    )
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_entry_points_patch_finds_the_plugin_without_the_shim(tmp_path, monkeypatch):
    plugins = patched_module(
        tmp_path, "files/plugins.py", "galaxy-file-source-entry-points.patch", "patched_plugins"
    )
    stock = plugins.plugins_dict

    def without_shim(module, key):  # as if galaxy/files/sources/nels.py were absent
        found = stock(module, key)
        found.pop("nels", None)
        return found

    monkeypatch.setattr(plugins, "plugins_dict", without_shim)
    loader = plugins.FileSourcePluginLoader()
    assert loader.get_plugin_type_class("nels") is NelsFilesSource
    assert loader.get_plugin_type_class("posix").__name__ == "PosixFilesSource"


def test_user_template_patch_gives_a_config_the_plugin_runs_with(tmp_path, nels_server):
    models = patched_module(
        tmp_path,
        "files/templates/models.py",
        "galaxy-user-file-source-templates-nels.patch",
        "patched_template_models",
    )
    from galaxy.util.config_templates import apply_syntactic_sugar

    raw = yaml.safe_load((PLUGIN / "samples" / "nels_user_file_source_template.yml").read_text())
    template = models.FileSourceTemplate(**apply_syntactic_sugar(raw)[0])
    assert template.type == "nels"
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    sshd = nels_server.cast.world.sshd
    config = models.template_to_configuration(
        template,
        variables={"writable": True},
        secrets={"access_token": token},
        user_details={},
        environment={
            "nels_api_url": f"{nels_server.url}/nels-api2",
            "nels_data_host": "127.0.0.1",
            "nels_known_hosts": sshd.known_hosts,
            "nels_token_help_url": "https://nels.example.org/tokens",
        },
    )
    assert isinstance(config, models.NelsFileSourceConfiguration)
    assert config.access_token == token and config.writable is True
    assert config.token_help_url == "https://nels.example.org/tokens"
    # what Galaxy's user file-source manager does next: run the plugin with it
    conf = {**config.model_dump(), "id": "3f1c6e", "scheme": "gxuserfiles", "port": sshd.port}
    sources = ConfiguredFileSources(
        FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=[conf])
    )
    src = sources.find_best_match("gxuserfiles://3f1c6e/Projects")
    entries, _ = src.list("/Projects", user_context=None)
    assert [e.uri for e in entries] == [
        "gxuserfiles://3f1c6e/Projects/Locked_2020",
        "gxuserfiles://3f1c6e/Projects/UiB-Test-Project",
    ]


CHECK_WRITES = """
import json, sys
import galaxy.files
from galaxy import exceptions
from galaxy.files import ConfiguredFileSources, ConfiguredFileSourcesConf
from galaxy.files.models import FileSourcePluginsConfig

assert galaxy.files.__file__.startswith(sys.argv[1]), galaxy.files.__file__
conf, token, uris = json.loads(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])


class Vault:
    def read_secret(self, key):
        return token if key == "preferences/nels/access_token" else None


class User:
    username, email, ftp_dir, preferences = "bob", "bob@example.org", None, {}
    user_vault, app_vault = Vault(), Vault()
    role_names, group_names, is_admin, anonymous = set(), set(), False, False
    oidc_access_tokens, oidc_access_token_expirations, file_sources = {}, {}, None


sources = ConfiguredFileSources(
    FileSourcePluginsConfig(), ConfiguredFileSourcesConf(conf_dict=conf)
)
said = {}
for uri in uris:
    try:
        sources.check_write(uri, User())
        said[uri] = "ok"
    except exceptions.MessageException as e:
        said[uri] = f"{type(e).__name__}: {e}"
print(json.dumps(said))
"""


def test_write_check_patch_refuses_an_export_target_before_any_work(tmp_path, nels_server):
    """Galaxy asks the file source before a history export starts (the
    write_store service), and NeLS's rules answer through the plugin's hook."""
    lib = tmp_path / "lib" / "galaxy"
    shutil.copytree(GALAXY_LIB / "files", lib / "files")
    service = "webapps/galaxy/services/histories.py"
    (lib / service).parent.mkdir(parents=True)
    shutil.copy(GALAXY_LIB / service, lib / service)
    subprocess.run(
        ["patch", "-p1", "--forward", "--quiet", "-i", str(PLUGIN / "patches" / WRITE_CHECK)],
        cwd=tmp_path,
        check=True,
    )
    compile((lib / service).read_text(), service, "exec")  # the service's hunk stands
    nels = nels_conf(nels_server)
    posix = {"type": "posix", "id": "scratch", "root": str(tmp_path), "writable": True}
    project = "gxfiles://nels/Projects/UiB-Test-Project"
    uris = [
        f"{project}/raw/new.tar.gz",
        f"{project}/history.tar.gz",
        f"{project}/raw/reads.fastq",
        "gxfiles://nels/Projects/Locked_2020/old/b.tar.gz",
        "gxfiles://scratch/history.tar.gz",
    ]
    token = sign_in(nels_server, "bob", "bob-pw").tokens.access_token
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK_WRITES,
            str(lib),
            json.dumps([nels, posix]),
            token,
            json.dumps(uris),
        ],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "lib")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    said = json.loads(run.stdout.splitlines()[-1])
    assert said[uris[0]] == "ok" and said[uris[4]] == "ok"
    assert said[uris[1]].startswith("InsufficientPermissionsException: ")
    assert "NeLS refuses files written straight into" in said[uris[1]]
    assert "a member may not overwrite here" in said[uris[2]]
    assert "the project is locked in NeLS" in said[uris[3]]
