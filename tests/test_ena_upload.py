"""Read upload to a real FTPS server (pyftpdlib, explicit TLS, the sandbox's
Webin upload area): streamed from storage, resumed after a break, each file's
MD5 checked against what the manifest says."""

import hashlib
import os

import pytest
from conftest import need

from nels_core.deposit.upload import UploadArea, UploadError, upload
from nels_core.errors import TransferError
from nels_core.storage.local import LocalStorage
from nels_sandbox.ftp import UploadArea as SandboxArea

ACCOUNT, PASSWORD = "Webin-12345", "pw-webin"


@pytest.fixture
def area(tmp_path):
    need("pyftpdlib", "sandbox")
    server = SandboxArea(tmp_path / "upload-area", {ACCOUNT: PASSWORD}).start()
    yield server
    server.stop()


def target(server, password=PASSWORD) -> UploadArea:
    return UploadArea(server.host, server.port, ACCOUNT, password, cafile=str(server.cert))


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "nels"
    (root / "run1").mkdir(parents=True)
    files = []
    for i, size in enumerate((3 << 20, 5 << 20 | 123, 17)):
        data = os.urandom(size)
        (root / "run1" / f"S{i}_R1.fastq.gz").write_bytes(data)
        files.append(
            (f"P/run1/S{i}_R1.fastq.gz", hashlib.md5(data).hexdigest(), f"run1/S{i}_R1.fastq.gz")
        )
    return LocalStorage(root), files


def test_files_arrive_whole_under_their_upload_names(area, source):
    store, files = source
    done = upload(store, "", files, target(area))
    assert [d.name for d in done] == [f[0] for f in files]
    for name, md5, _ in files:
        assert hashlib.md5(area.file(ACCOUNT, name).read_bytes()).hexdigest() == md5
    again = upload(store, "", files, target(area))  # a second run sends nothing
    assert all(d.skipped for d in again)


def test_each_files_bytes_are_told_as_they_go(area, source):
    store, files = source
    told = []
    upload(store, "", files, target(area), sending=lambda *a: told.append(a))
    for n, (name, _, path) in enumerate(files, 1):
        size = store.stat(path).size
        mine = [t for t in told if t[0] == n]
        assert {(t[1], t[2], t[4]) for t in mine} == {(3, name, size)}
        sent = [t[3] for t in mine]
        assert sent == sorted(sent) and sent[-1] == size  # growing, to the whole file
    assert len([t for t in told if t[0] == 2]) >= 5  # 5 MiB told in 1 MiB steps or finer


class Breaks(LocalStorage):
    """Storage whose read stream dies after ``limit`` bytes, once, as a dropped mount does."""

    limit = 2 << 20

    def read_chunks(self, path, offset=0, length=None):
        sent = 0
        for chunk in super().read_chunks(path, offset, length):
            if self.limit is not None and offset == 0 and sent + len(chunk) > self.limit:
                Breaks.limit = None
                raise OSError("connection to NeLS lost")
            sent += len(chunk)
            yield chunk


def test_a_broken_upload_resumes_where_it_stopped(area, source):
    store, files = source
    broken = Breaks(store.root)
    big = [files[1]]
    with pytest.raises((TransferError, OSError)):
        upload(broken, "", big, target(area))
    partial = area.file(ACCOUNT, big[0][0]).stat().st_size
    assert 0 < partial < store.stat(big[0][2]).size
    (done,) = upload(broken, "", big, target(area))
    # the server may still have been writing when we looked: it says how much it holds
    assert partial <= done.resumed_from < store.stat(big[0][2]).size
    data = area.file(ACCOUNT, big[0][0]).read_bytes()
    assert hashlib.md5(data).hexdigest() == big[0][1]


def test_bytes_that_differ_from_the_manifest_are_removed_and_named(area, source):
    store, files = source
    name, _, path = files[2]
    wrong = [(name, "0" * 32, path)]
    with pytest.raises(UploadError, match="the bundle says 0000") as e:
        upload(store, "", wrong, target(area))
    assert not area.file(ACCOUNT, name).exists()
    # what is wrong, and what to do (not the advice that repeats the wrong value)
    assert "delivery's checksum file" in str(e.value) and "isa export --verify" in str(e.value)


def test_a_wrong_password_is_refused_without_showing_it(area, source):
    store, files = source
    with pytest.raises(UploadError, match="refused the login for Webin-12345") as e:
        upload(store, "", files, target(area, "not-the-password"))
    assert "not-the-password" not in str(e.value)


def test_an_empty_file_is_refused_not_taken_for_uploaded(area, source, tmp_path):
    store, files = source
    name, _, path = files[0]
    (tmp_path / "empty.fastq.gz").write_bytes(b"")
    empty = LocalStorage(tmp_path)
    with pytest.raises(UploadError, match="0 bytes; ENA refuses an empty read file"):
        upload(
            empty, "", [(name, "d41d8cd98f00b204e9800998ecf8427e", "empty.fastq.gz")], target(area)
        )
    assert not area.file(ACCOUNT, name).exists()
