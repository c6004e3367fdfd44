"""The package as a newcomer and as Galaxy's environment meet it."""

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SPECS

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("flask", "isatools", "pandas", "werkzeug", "yaml")


def test_core_imports_without_heavy_dependencies():
    # Galaxy's environment has none of these: nels_core must not need them.
    blocker = f"import sys\nfor m in {HEAVY!r}: sys.modules[m] = None\n"
    code = blocker + (
        "import pkgutil, importlib, nels_core\n"
        "for m in pkgutil.walk_packages(nels_core.__path__, 'nels_core.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_imports_point_one_way():
    """nels_core never imports a plugin, the sandbox or the CLI."""
    for path in (ROOT / "nels_core").rglob("*.py"):
        text = path.read_text()
        for other in ("galaxy_plugin", "seek_plugin", "nels_sandbox", "nels_cli"):
            assert f"import {other}" not in text and f"from {other}" not in text, path


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "./dev demo" in readme and "./dev test" in readme
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_fresh_clone_runs_the_readme_commands(tmp_path):
    """A fresh clone of the committed tree: its own venv, the demo, a slice of the tests."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip(f"needs git and a git checkout ({ROOT} has no .git or git is missing)")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTEST"))}
    env["NELS_BUNDLE_DEMO_DIR"] = str(tmp_path / "demo")
    env["NELS_SPECS"] = str(SPECS)  # the clone has no ../shared beside it
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # the demo serves the web app until stopped: start it, open its page, stop it
    demo = subprocess.Popen(
        ["./dev", "demo", "--port", str(port), "--dir", str(tmp_path / "web-demo")],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed = []
        for line in demo.stdout:  # the venv is built first: minutes on a fresh machine
            printed.append(line)
            if "open http://" in line:
                break
        assert any(f"open http://127.0.0.1:{port}" in p for p in printed), "".join(printed)[-3000:]
        page = _get_when_up(f"http://127.0.0.1:{port}/")
        assert "Sign in with NeLS" in page
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
    walk = subprocess.run(  # the command-line walk through the same venv
        [str(clone / ".venv" / "bin" / "nels-bundle"), "demo"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert walk.returncode == 0, walk.stderr[-3000:]
    assert "0 mismatches" in walk.stdout
    # the test command itself, narrowed so it does not recurse into this test
    test = subprocess.run(
        ["./dev", "test", "-q", "tests/test_paths.py", "tests/test_cassettes.py"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert test.returncode == 0, test.stdout[-3000:] + test.stderr[-3000:]
    assert " passed" in test.stdout


def _get_when_up(url: str, seconds: float = 60) -> str:
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
