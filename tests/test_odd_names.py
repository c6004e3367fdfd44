"""Names that are not UTF-8, and symlink loops, on every backend: a folder
always lists, such a file reads, and creating one is refused clearly."""

import json
import os

import pytest

from nels_core.errors import UnsafePathError

RAW = b"sample\xff\xfe.fastq"  # Latin-1 bytes from an old instrument PC
NAME = os.fsdecode(RAW)  # how Python (and our CLI's argv) carries it


def test_a_folder_with_a_non_utf8_name_lists_and_the_file_reads(home_for):
    cast = home_for.cast
    alice = home_for("alice")
    folder = cast.world.home(cast.alice) / "Personal" / "odd"
    folder.mkdir(parents=True)
    (folder / "good.txt").write_bytes(b"good")
    with open(os.fsencode(folder) + b"/" + RAW, "wb") as f:
        f.write(b"@r1\nACGT\n+\nIIII\n")
    names = [e.name for e in alice.list("Personal/odd").entries]
    assert sorted(names) == sorted(["good.txt", NAME])
    assert alice.read_bytes(f"Personal/odd/{NAME}") == b"@r1\nACGT\n+\nIIII\n"
    assert alice.stat(f"Personal/odd/{NAME}").size == 16
    # shown escaped, never as raw bytes: JSON carries it as an escape
    entry = next(e for e in alice.list("Personal/odd").entries if e.name == NAME)
    assert "\\udcff" in json.dumps(entry.to_dict())


def test_making_a_non_utf8_name_is_refused(home_for):
    alice = home_for("alice")
    alice.mkdir("Personal/odd")
    with pytest.raises(UnsafePathError, match="not UTF-8"):
        alice.write(f"Personal/odd/{NAME}", b"x")
    with pytest.raises(UnsafePathError, match="not UTF-8"):
        alice.mkdir(f"Personal/odd/{NAME}")
    assert alice.list("Personal/odd").entries == []


def test_a_symlink_loop_is_named_not_followed(home_for):
    cast = home_for.cast
    alice = home_for("alice")
    top = cast.world.home(cast.alice) / "Personal" / "loop"
    (top / "a").mkdir(parents=True)
    (top / "a" / "f.txt").write_text("x")
    os.symlink("..", top / "a" / "up")  # a/up -> loop: a/up/a/up/... for ever
    paths = [e.path for e in alice.list("Personal/loop", recursive=True).entries]
    assert paths.count("Personal/loop/a/f.txt") == 1
    assert not any("/up/" in p for p in paths), paths


def test_cli_shows_odd_names_escaped_and_names_the_loop(tmp_path):
    from conftest import cli

    from nels_cli.demo import seed

    config = seed(tmp_path / "demo")
    top = tmp_path / "demo" / "nels" / "users" / "demo" / "Personal" / "loop"
    (top / "a").mkdir(parents=True)
    os.symlink("..", top / "a" / "up")
    with open(os.fsencode(top / "a") + b"/" + RAW, "wb") as f:
        f.write(b"x")
    r = cli("ls", "-R", "nels://Personal/loop", config=config)
    assert r.returncode == 0, r.stderr
    assert "Personal/loop/a/sample\\xff\\xfe.fastq" in r.stdout
    assert "link back to a folder above it: Personal/loop/a/up -> Personal/loop" in r.stderr
    # the name as the shell passes it (raw bytes) reads back
    got = cli("get", f"nels://Personal/loop/a/{NAME}", str(tmp_path / "out"), config=config)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "out").read_bytes() == b"x"
