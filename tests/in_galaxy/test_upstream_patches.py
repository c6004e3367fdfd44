"""The two changes we offer upstream, applied to the installed Galaxy's own
files in a scratch copy and exercised there."""

import importlib.util
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

from galaxy_plugin.file_source import NelsFilesSource

pytestmark = pytest.mark.galaxy
PLUGIN = Path(__file__).resolve().parents[2] / "galaxy_plugin"
GALAXY_LIB = Path(galaxy.files.__file__).resolve().parent.parent  # galaxy is a namespace


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
        },
    )
    assert isinstance(config, models.NelsFileSourceConfiguration)
    assert config.access_token == token and config.writable is True
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
