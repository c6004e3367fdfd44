"""Hidden partials of uploads: who may see, clear and sweep them, and which
names are kept for them."""

import json
import os
import subprocess
import time

import pytest

from nels_core.errors import AccessDeniedError, UnsafePathError
from nels_core.storage import partials

FOLDER = "Projects/UiB-Test-Project/raw"


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_only_abandoned_partials_are_swept(home_for):
    cast = home_for.cast
    bob = home_for("bob")
    on_disk = cast.world.project_dir(cast.project) / "raw"
    host = partials._HOST
    planted = {
        f".a.fastq{partials.MARK}{host}-{_dead_pid()}-0000aaaa": "swept",  # its process is gone
        f".b.fastq{partials.MARK}{host}-1-0000bbbb": "kept",  # pid 1 lives
        f".c.fastq{partials.MARK}ffffff-4242-0000cccc": "kept",  # another host, fresh
        f".d.fastq{partials.MARK}ffffff-4242-0000dddd": "swept",  # another host, a day old
        f".e.fastq{partials.MARK}{host}-{os.getpid()}-0000eeee": "swept",  # ours, not writing
        ".f.fastq.nels-part-0123456789ab": "kept",  # older format, fresh
    }
    for name in planted:
        (on_disk / name).write_bytes(b"half")
        if name.startswith(".d."):
            then = time.time() - partials.STALE_AFTER - 60
            os.utime(on_disk / name, (then, then))
    assert bob.list(FOLDER).total == 1  # only reads.fastq: partials hidden
    bob.write(f"{FOLDER}/new.txt", b"new")
    left = {e.name for e in bob.list(FOLDER, partials=True).entries}
    expected = {n for n, fate in planted.items() if fate == "kept"}
    assert left == expected | {"reads.fastq", "new.txt"}


def test_a_member_may_clear_a_partial_but_not_a_file(home_for):
    cast = home_for.cast
    bob, dave = home_for("bob"), home_for("dave")
    on_disk = cast.world.project_dir(cast.project) / "raw"
    name = f".x.bin{partials.MARK}ffffff-1-0000ffff"
    (on_disk / name).write_bytes(b"half")
    with pytest.raises(AccessDeniedError):
        dave.remove(f"{FOLDER}/{name}")  # read-only: may not add, so may not clear
    bob.remove(f"{FOLDER}/{name}")
    assert not (on_disk / name).exists()
    with pytest.raises(AccessDeniedError, match="member may not delete"):
        bob.remove(f"{FOLDER}/reads.fastq")


@pytest.mark.parametrize("name", [".a.nels-part-1", ".results.tsv.nels-part-ffffff-1-00"])
def test_names_kept_for_partials_are_refused(home_for, name):
    alice = home_for("alice")
    alice.mkdir("Personal/work")
    with pytest.raises(UnsafePathError, match="kept for uploads in progress"):
        alice.write(f"Personal/work/{name}", b"x")
    with pytest.raises(UnsafePathError, match="kept for uploads in progress"):
        alice.mkdir(f"Personal/work/{name}")
    alice.write("Personal/work/nels-part-is-fine.txt", b"x")  # not hidden: a normal name


def test_ls_all_shows_partials(tmp_path):
    from conftest import cli

    from nels_cli.demo import seed

    config = seed(tmp_path / "demo")
    assert cli("mkdir", "nels://Personal/up", config=config).returncode == 0
    personal = tmp_path / "demo" / "nels" / "users" / "demo" / "Personal" / "up"
    name = f".big.bin{partials.MARK}ffffff-1-0000abcd"
    (personal / name).write_bytes(b"half")
    assert name not in cli("ls", "nels://Personal/up", config=config).stdout
    shown = cli("ls", "--all", "--json", "nels://Personal/up", config=config)
    assert [e["name"] for e in json.loads(shown.stdout)["entries"]] == [name]
    assert cli("rm", f"nels://Personal/up/{name}", config=config).returncode == 0
    assert not (personal / name).exists()
