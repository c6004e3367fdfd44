"""Read files checked before a deposit sends anything: whole, not empty,
pairs of equal length; each file read once, remembered in the bundle."""

import gzip
import zlib

import pytest
from test_ena_xml import bundle

from nels_core.deposit.isa_reader import read_bundle
from nels_core.reads_check import CHECKED, ReadFile, ReadsError, check_reads, count_records
from nels_core.storage.local import LocalStorage

RECORD = b"@r\nACGT\n+\nIIII\n"


def chunks(data: bytes, size: int = 7):
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_records_are_counted_in_every_form():
    plain = RECORD * 5
    assert count_records(chunks(plain)) == 5
    assert count_records(chunks(gzip.compress(plain))) == 5
    # several gzip members, as bgzip writes them, with its empty end block
    members = gzip.compress(RECORD * 2) + gzip.compress(RECORD * 3) + gzip.compress(b"")
    assert count_records(chunks(members)) == 5
    assert count_records([plain[:-1]]) == 5  # the last newline missing


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "0 bytes"),
        (gzip.compress(b""), "holds no reads"),
        (gzip.compress(RECORD * 50)[:-12], "cut short"),
        (RECORD * 2 + b"@r\nAC\n", "not whole FASTQ records"),
        (gzip.compress(RECORD) + b"garbage!", "data after the end"),
    ],
)
def test_what_ena_would_refuse_is_named(data, said):
    with pytest.raises((ValueError, zlib.error), match=said):
        count_records(chunks(data))


class Counting(LocalStorage):
    def __init__(self, root):
        super().__init__(root)
        self.reads = 0

    def read_chunks(self, path, offset=0, length=None):
        self.reads += 1
        return super().read_chunks(path, offset, length)


def test_pairs_must_match_and_checks_are_remembered(tmp_path):
    reads, b = tmp_path / "reads", tmp_path / "bundle"
    reads.mkdir()
    b.mkdir()
    (reads / "a_R1.fq.gz").write_bytes(gzip.compress(RECORD * 3))
    (reads / "a_R2.fq.gz").write_bytes(gzip.compress(RECORD * 3))
    (reads / "b_R1.fq.gz").write_bytes(gzip.compress(RECORD * 3))
    (reads / "b_R2.fq.gz").write_bytes(gzip.compress(RECORD * 2))
    store = Counting(reads)
    good = [ReadFile("a_R1.fq.gz", "m1", "a"), ReadFile("a_R2.fq.gz", "m2", "a")]
    assert check_reads(store, "", good, b) == {"a_R1.fq.gz": 3, "a_R2.fq.gz": 3}
    assert store.reads == 2 and (b / CHECKED).is_file()
    assert check_reads(store, "", good, b) and store.reads == 2  # remembered: not read again
    bad = [ReadFile("b_R1.fq.gz", "m3", "b"), ReadFile("b_R2.fq.gz", "m4", "b")]
    bad.append(ReadFile("gone.fq.gz", "m5"))
    with pytest.raises(ReadsError) as e:
        check_reads(store, "", good + bad, b)
    said = str(e.value)
    assert "run b: paired files hold different numbers of reads" in said
    assert "b_R1.fq.gz 3, b_R2.fq.gz 2" in said and "gone.fq.gz: not in the reads folder" in said
    # a changed file (another MD5) is read again
    assert check_reads(store, "", [ReadFile("a_R1.fq.gz", "new-md5", "")], b) and store.reads == 6


def test_an_empty_read_file_is_caught_at_export_and_before_sending(tmp_path, specs):
    from conftest import cli

    from nels_core.delivery import DeliveryError

    folder = bundle(tmp_path / "ok")
    source = tmp_path / "ok" / "UiB_Hansen_SalmonLice_2023"
    victim = next(source.rglob("*_R1_001.fastq.gz"))
    victim.write_bytes(gzip.compress(b""))  # an empty gzip: 20 bytes
    with pytest.raises(DeliveryError, match="holds no reads"):
        _strict(source, tmp_path)
    # the bundle made before the file went empty: ena submit refuses before sending
    r = cli("ena", "submit", str(folder), "--dry-run", "--xsd-dir", str(specs / "ena"))
    assert r.returncode == 1 and "holds no reads" in r.stderr and victim.name in r.stderr
    assert "nothing was sent" in r.stderr
    deposit = read_bundle(folder)
    assert deposit.samples  # the bundle itself is untouched


def _strict(source, tmp_path):
    from nels_core.isa.export import export_bundle

    store = LocalStorage(source)
    export_bundle(store, "", str(source), source.name, tmp_path / "out", strict=True)
