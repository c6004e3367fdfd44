import hashlib

import pytest

from nels_core.checksums import ChecksumFileError, StreamHasher, parse_md5_list, parse_md5_single
from nels_core.delivered import delivered_md5
from nels_core.home import Home
from nels_core.model import Account, User
from nels_core.storage.local import LocalStorage


@pytest.mark.parametrize("threaded", [False, True])
def test_stream_hasher_matches_hashlib(threaded):
    h = StreamHasher(threaded=threaded)
    buf = bytearray(b"abc")
    h.update(buf)
    buf[:] = b"XYZ"  # a caller reusing its buffer must not change what was hashed
    for part in (b"", memoryview(b"def" * 1000), *(bytes([i]) * 4096 for i in range(40))):
        h.update(part)
    data = b"abc" + b"def" * 1000 + b"".join(bytes([i]) * 4096 for i in range(40))
    assert (h.md5, h.sha256, h.size) == (
        hashlib.md5(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
        len(data),
    )


def test_md5sum_files_both_layouts():
    text = (
        "# made by md5sum\nD41D8CD98F00B204E9800998ECF8427E  ./fastq/a.fq.gz\n"
        "0cc175b9c0f1b6a831c399e269772661 *b.fq.gz\n\n"
    )
    assert parse_md5_list(text) == {
        "fastq/a.fq.gz": "d41d8cd98f00b204e9800998ecf8427e",
        "b.fq.gz": "0cc175b9c0f1b6a831c399e269772661",
    }
    with pytest.raises(ChecksumFileError, match="md5sum.txt, line 2"):
        parse_md5_list("d41d8cd98f00b204e9800998ecf8427e  a\nnot a checksum line\n")
    assert (
        parse_md5_single("0CC175B9C0F1B6A831C399E269772661  a.fq.gz\n", "a.md5")
        == "0cc175b9c0f1b6a831c399e269772661"
    )
    with pytest.raises(ChecksumFileError, match="x.md5"):
        parse_md5_single("garbage", "x.md5")


def test_delivered_md5_is_found_beside_or_above(tmp_path):
    root = tmp_path / "home"
    run = root / "Personal" / "run1"
    (run / "fastq").mkdir(parents=True)
    (run / "md5sum.txt").write_text("0cc175b9c0f1b6a831c399e269772661  fastq/a.fq.gz\n")
    (run / "fastq" / "b.fq.gz.md5").write_text("92eb5ffee6ae2fec3ad71c777531578f\n")
    home = Home(LocalStorage(root), Account(User(1, "u")))
    assert delivered_md5(home, "Personal/run1/fastq/a.fq.gz") == "0cc175b9c0f1b6a831c399e269772661"
    assert delivered_md5(home, "Personal/run1/fastq/b.fq.gz") == "92eb5ffee6ae2fec3ad71c777531578f"
    assert delivered_md5(home, "Personal/run1/fastq/c.fq.gz") is None
