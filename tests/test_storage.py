"""Listing, streaming, atomic writes and symlink safety on both backends."""

import hashlib
import os

import pytest

from nels_core.errors import ChecksumMismatchError, NotFoundError, UnsafePathError

WORK = "Personal/work"


@pytest.fixture
def alice(home_for):
    home = home_for("alice")
    home.mkdir(WORK)
    return home


def _fill(home, n=25):
    for i in range(n):
        home.write(f"{WORK}/file-{i:02d}.txt", b"x" * (i * 10))


def test_list_pages_queries_and_sorts(alice):
    _fill(alice)
    page = alice.list(WORK, limit=10, offset=5)
    assert page.total == 25
    assert [e.name for e in page.entries] == [f"file-{i:02d}.txt" for i in range(5, 15)]
    assert all(e.mtime and not e.is_dir for e in page.entries)
    assert page.entries[1].size == 60  # sizes filled in for the page

    hits = alice.list(WORK, query="FILE-1")  # case-insensitive
    assert hits.total == 10 and all("file-1" in e.name for e in hits.entries)

    biggest = alice.list(WORK, sort_by="size", reverse=True, limit=3)
    assert [e.size for e in biggest.entries] == [240, 230, 220]

    assert alice.list(WORK, offset=30).entries == []
    with pytest.raises(ValueError, match="sort_by"):
        alice.list(WORK, sort_by="colour")


def test_folders_first_keeps_the_order_asked_within_each_group(alice):
    for name in ("b.txt", "D.txt", "a.txt"):
        alice.write(f"{WORK}/{name}", b"x" * len(name) * (3 if name == "a.txt" else 1))
    for name in ("z-dir", "C-dir"):
        alice.mkdir(f"{WORK}/{name}")
    names = [e.name for e in alice.list(WORK, folders_first=True).entries]
    assert names == ["C-dir", "z-dir", "a.txt", "b.txt", "D.txt"]
    page = alice.list(WORK, folders_first=True, sort_by="size", reverse=True, offset=1, limit=2)
    assert [e.name for e in page.entries] == ["C-dir", "a.txt"] and page.total == 5
    assert [e.name for e in alice.list(WORK).entries][:2] == ["a.txt", "b.txt"]


def test_recursive_listing_walks_the_tree(alice):
    alice.mkdir(f"{WORK}/a/b")
    alice.write(f"{WORK}/a/b/deep.txt", b"deep")
    alice.write(f"{WORK}/top.txt", b"top")
    paths = [e.path for e in alice.list(WORK, recursive=True).entries]
    assert paths == [f"{WORK}/a", f"{WORK}/a/b", f"{WORK}/a/b/deep.txt", f"{WORK}/top.txt"]


def test_write_reports_checksums_and_reads_back_streamed(alice):
    data = os.urandom(3 * 1024 * 1024 + 17)
    entry = alice.write(f"{WORK}/blob.bin", data)
    assert entry.size == len(data)
    assert entry.md5 == hashlib.md5(data).hexdigest()
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    chunks = list(alice.read_chunks(f"{WORK}/blob.bin"))
    assert len(chunks) > 1 and b"".join(chunks) == data
    assert b"".join(alice.read_chunks(f"{WORK}/blob.bin", 1000, 5000)) == data[1000:6000]


def test_checksum_mismatch_stores_nothing_and_keeps_the_original(alice):
    alice.write(f"{WORK}/keep.txt", b"original")
    with pytest.raises(ChecksumMismatchError, match="does not match"):
        alice.write(f"{WORK}/keep.txt", b"new bytes", overwrite=True, expected_md5="0" * 32)
    with pytest.raises(ChecksumMismatchError, match="expected 3 bytes"):
        alice.write(f"{WORK}/fresh.txt", b"four", expected_size=3)
    assert alice.read_bytes(f"{WORK}/keep.txt") == b"original"
    assert not alice.exists(f"{WORK}/fresh.txt")
    left = os.listdir(home_path(alice, WORK))
    assert left == ["keep.txt"]  # no temporary file left behind either


def test_partial_uploads_are_hidden(alice):
    home_dir = home_path(alice, WORK)
    open(os.path.join(home_dir, ".x.txt.nels-part-abc123"), "wb").write(b"half")
    alice.write(f"{WORK}/x.txt", b"whole")
    assert [e.name for e in alice.list(WORK).entries] == ["x.txt"]
    assert [e.name for e in alice.list(WORK, recursive=True).entries] == ["x.txt"]


def test_missing_things_are_named(alice):
    with pytest.raises(NotFoundError, match="nope.txt"):
        alice.read_bytes(f"{WORK}/nope.txt")
    with pytest.raises(NotFoundError, match="missing"):
        alice.write(f"{WORK}/missing/x.txt", b"x")
    alice.write(f"{WORK}/a-file.txt", b"x")
    for below_a_file in (f"{WORK}/a-file.txt/x", f"{WORK}/a-file.txt/x/y"):
        with pytest.raises(NotFoundError, match="no such file or folder"):
            alice.stat(below_a_file)
        assert not alice.exists(below_a_file)


def home_path(home, rel):
    storage = home.storage
    base = getattr(storage, "root", None) or storage.home
    return os.path.join(base, rel)


def test_symlinks_out_of_an_area_are_refused(alice):
    base = home_path(alice, WORK)
    os.symlink("/etc", os.path.join(base, "etc-link"))
    os.symlink("/etc/hostname", os.path.join(base, "host-link"))
    other = home_path(alice, "Projects/UiB-Test-Project/raw")
    os.symlink(other, os.path.join(base, "cross-area"))  # Personal -> a project
    with pytest.raises(UnsafePathError, match="outside"):
        alice.list(f"{WORK}/etc-link")
    with pytest.raises(UnsafePathError, match="outside"):
        alice.read_bytes(f"{WORK}/host-link")
    with pytest.raises(UnsafePathError, match="outside"):
        alice.write(f"{WORK}/etc-link/evil", b"x")
    with pytest.raises(UnsafePathError, match="outside"):
        alice.read_bytes(f"{WORK}/cross-area/reads.fastq")
    names = [e.name for e in alice.list(WORK).entries]
    assert "etc-link" not in names and "host-link" not in names and "cross-area" not in names


def test_links_inside_an_area_work(alice):
    base = home_path(alice, WORK)
    alice.write(f"{WORK}/real.txt", b"real")
    os.symlink(os.path.join(base, "real.txt"), os.path.join(base, "alias.txt"))
    assert alice.read_bytes(f"{WORK}/alias.txt") == b"real"
    # the project area itself is a link into shared project storage, as on NeLS
    assert alice.read_bytes("Projects/UiB-Test-Project/raw/reads.fastq").startswith(b"@r1")


def test_write_without_checksums_still_verifies_an_expected_md5(alice):
    entry = alice.write(f"{WORK}/plain.bin", b"abc", checksums=False)
    assert entry.md5 is None and entry.sha256 is None and entry.size == 3
    with pytest.raises(ChecksumMismatchError):
        alice.write(f"{WORK}/checked.bin", b"abc", checksums=False, expected_md5="0" * 32)
    good = hashlib.md5(b"abc").hexdigest()
    assert (
        alice.write(f"{WORK}/checked.bin", b"abc", checksums=False, expected_md5=good).md5 == good
    )


@pytest.mark.parametrize("name", ["n" * 240 + ".fastq", "ø" * 125 + ".gz"])  # 246, 253 bytes
def test_a_long_valid_name_is_written_whole(alice, name):
    """The hidden temporary name must fit wherever the final one does."""
    alice.write(f"{WORK}/{name}", b"@r1\nACGT\n")
    assert alice.read_bytes(f"{WORK}/{name}") == b"@r1\nACGT\n"
    assert [e.name for e in alice.list(WORK).entries] == [name]


def test_a_failed_write_names_the_users_target_not_the_temporary_one(alice, monkeypatch):
    from nels_core.errors import TransferError

    def lost(partial, chunks, hasher):  # as the SFTP backend reports a dropped connection
        raise TransferError(f"connection to the NeLS data host lost during {partial!r}")

    monkeypatch.setattr(alice.storage, "_write_partial", lost)
    with pytest.raises(TransferError) as e:
        alice.write(f"{WORK}/result.tsv", b"a\tb\n")
    assert str(e.value) == (f"connection to the NeLS data host lost during '{WORK}/result.tsv'")
    assert alice.list(WORK).entries == []


def test_a_fifo_or_a_folder_read_as_a_file_is_refused_at_once(tmp_path):
    from nels_core.storage.local import LocalStorage

    area = tmp_path / "Personal"
    (area / "run.fastq.gz").mkdir(parents=True)
    os.mkfifo(area / "reads.fastq.gz")  # nothing ever writes to it: opening it would hang
    store = LocalStorage(tmp_path)
    with pytest.raises(NotFoundError, match="not a regular file"):
        b"".join(store.read_chunks("Personal/reads.fastq.gz"))
    with pytest.raises(NotFoundError, match="is a folder"):
        b"".join(store.read_chunks("Personal/run.fastq.gz"))


def test_a_local_read_takes_what_the_file_holds_when_read_even_if_it_grew(tmp_path):
    from nels_core.storage.base import CHUNK
    from nels_core.storage.local import LocalStorage

    area = tmp_path / "Personal"
    area.mkdir()
    (area / "small.txt").write_bytes(b"0123456789")
    (area / "big.bin").write_bytes(bytes(range(256)) * (CHUNK // 128))  # two chunks
    store = LocalStorage(tmp_path)
    growing = store.read_chunks("Personal/small.txt")  # opened: 10 bytes then
    with open(area / "small.txt", "ab") as f:
        f.write(b"abc" * 1000)
    assert b"".join(growing) == b"0123456789" + b"abc" * 1000
    assert b"".join(store.read_chunks("Personal/small.txt", 3, 4)) == b"3456"
    whole = (area / "big.bin").read_bytes()
    assert b"".join(store.read_chunks("Personal/big.bin")) == whole
    assert (
        b"".join(store.read_chunks("Personal/big.bin", CHUNK - 5, 10))
        == whole[CHUNK - 5 : CHUNK + 5]
    )
    assert [len(c) for c in store.read_chunks("Personal/big.bin")] == [CHUNK, CHUNK]


def test_a_small_local_file_is_read_in_one_read_to_its_end(tmp_path, monkeypatch):
    """An export reads 40,000 small files: each costs one read, which comes back
    short at the file's end, not a second read to find the end; a file cut
    short after it was opened gives what it still holds."""
    from nels_core.storage import local

    reads = []

    class Counted:
        def __init__(self, f):
            self.f = f

        def read(self, n):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    opened = local.os.fdopen
    monkeypatch.setattr(local.os, "fdopen", lambda *a, **k: Counted(opened(*a, **k)))
    area = tmp_path / "Personal"
    area.mkdir()
    (area / "reads.fastq").write_bytes(b"@r\nACGT\n+\nIIII\n")
    (area / "empty.fastq").write_bytes(b"")
    store = local.LocalStorage(tmp_path)
    assert b"".join(store.read_chunks("Personal/reads.fastq")) == b"@r\nACGT\n+\nIIII\n"
    assert reads == [15 + 1]  # its 15 bytes and one more, which did not come
    reads.clear()
    assert b"".join(store.read_chunks("Personal/empty.fastq")) == b""
    assert reads == [1]
    cut = store.read_chunks("Personal/reads.fastq")
    (area / "reads.fastq").write_bytes(b"@r\n")
    assert b"".join(cut) == b"@r\n"


READ_ROUTES = ["openat2", "proc-fd", "checked-then-opened"]


def _take_route(route: str, monkeypatch) -> None:
    """Reads go the first way the system offers: openat2 (checked while the
    kernel resolves), else an O_PATH handle named by /proc, else resolve,
    check, then open. Each is made the first way here."""
    from nels_core.storage import beneath, local

    if route == "openat2":
        assert beneath.AVAILABLE, "this Linux refuses openat2 (before 5.6, or seccomp)"
    else:
        monkeypatch.setattr(beneath, "AVAILABLE", False)
    if route == "checked-then-opened":
        monkeypatch.setattr(local, "_PROC_FD", "")


@pytest.mark.parametrize("route", READ_ROUTES)
def test_a_link_out_to_a_fifo_or_device_is_refused_without_opening_it(tmp_path, monkeypatch, route):
    from nels_core.storage.local import LocalStorage

    _take_route(route, monkeypatch)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.mkfifo(outside / "pipe")  # opened for reading, it would wait for a writer for ever
    area = tmp_path / "home" / "Personal"
    area.mkdir(parents=True)
    os.symlink(outside / "pipe", area / "reads.fastq.gz")
    os.symlink("/dev/zero", area / "zeros.fastq.gz")  # read, it would never end
    os.mkfifo(area / "inside.fastq.gz")
    store = LocalStorage(tmp_path / "home")
    for name in ("reads.fastq.gz", "zeros.fastq.gz"):
        with pytest.raises(UnsafePathError, match="outside its NeLS area"):
            b"".join(store.read_chunks(f"Personal/{name}"))
    with pytest.raises(NotFoundError, match="not a regular file"):
        b"".join(store.read_chunks("Personal/inside.fastq.gz"))
    (area / "ok.txt").write_bytes(b"fine")
    assert b"".join(store.read_chunks("Personal/ok.txt")) == b"fine"


@pytest.mark.parametrize("route", READ_ROUTES)
def test_links_inside_an_area_read_and_links_between_areas_refused(tmp_path, monkeypatch, route):
    from nels_core.storage import beneath
    from nels_core.storage.local import LocalStorage

    _take_route(route, monkeypatch)
    home = tmp_path / "home"
    run = home / "Projects" / "A" / "run"
    run.mkdir(parents=True)
    (home / "Projects" / "B").mkdir()
    (home / "Projects" / "B" / "secret.txt").write_bytes(b"B's")
    (run / "reads.txt").write_bytes(b"A's reads")
    os.symlink("reads.txt", run / "relative.txt")
    os.symlink(run / "reads.txt", run / "absolute.txt")  # inside, named from /
    os.symlink("../../B/secret.txt", run / "to-b.txt")  # up and into another project
    os.symlink(home / "Projects" / "B" / "secret.txt", run / "to-b-absolute.txt")
    store = LocalStorage(home)
    served = []  # what the quick way opened itself

    def open_below(folder, path):
        fd = real_open_below(folder, path)
        if fd is not None:
            served.append(path)
        return fd

    real_open_below = beneath.open_below
    monkeypatch.setattr(beneath, "open_below", open_below)
    for name in ("reads.txt", "relative.txt", "absolute.txt"):
        assert b"".join(store.read_chunks(f"Projects/A/run/{name}")) == b"A's reads"
    for name in ("to-b.txt", "to-b-absolute.txt"):
        with pytest.raises(UnsafePathError, match="outside its NeLS area"):
            b"".join(store.read_chunks(f"Projects/A/run/{name}"))
    with pytest.raises(NotFoundError):
        b"".join(store.read_chunks("Projects/A/run/missing.txt"))
    # the quick way opened what stays below the area by relative steps; the
    # rest (an absolute link, a way out, a missing file) went the checked way
    assert served == (["run/reads.txt", "run/relative.txt"] if route == "openat2" else [])


def test_a_local_read_never_started_leaves_no_file_open(tmp_path):
    import gc

    from nels_core.storage.local import LocalStorage

    (tmp_path / "Personal").mkdir()
    (tmp_path / "Personal" / "a.txt").write_bytes(b"a")
    store = LocalStorage(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        store.read_chunks("Personal/a.txt")  # opened, then dropped unread
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_source_that_reuses_its_buffer_is_written_as_it_was_each_time(alice):
    """Uploads send views of the bytes they were given, not copies, so a
    buffer the source fills again must be taken as it was when handed over."""
    buffer = bytearray(300_000)
    expected = []

    def refilled():
        for i in range(12):  # several writes each, more than the pipe holds at once
            buffer[:] = bytes([i]) * len(buffer)
            expected.append(bytes(buffer))
            yield buffer

    entry = alice.write(f"{WORK}/refilled.bin", refilled())
    data = alice.read_bytes(f"{WORK}/refilled.bin")
    assert data == b"".join(expected)
    assert entry.md5 == hashlib.md5(data).hexdigest()


def test_many_small_files_are_read_whole_and_in_order(alice):
    # more files than requests may be in flight, of sizes across a read's length
    sizes = [0, 1, 17, 32767, 32768, 32769, 70000, *range(3, 300, 3)]
    want = [os.urandom(n) for n in sizes]
    for i, data in enumerate(want):
        alice.write(f"{WORK}/r{i:03d}.gz", data, checksums=False)
    paths = [f"{WORK}/r{i:03d}.gz" for i in range(len(want))]
    assert list(alice.read_files(paths[::-1])) == want[::-1]
    assert list(alice.read_files([])) == []
    assert alice.read_bytes(paths[5]) == want[5]  # the connection is fine afterwards


def test_reading_many_files_stops_at_the_first_that_cannot_be_read_naming_it(alice):
    for i in range(80):
        alice.write(f"{WORK}/r{i:02d}.gz", b"r%d" % i)
    base = home_path(alice, WORK)
    os.symlink("/etc/hostname", os.path.join(base, "r40.gz.link"))
    for bad, error, said in (
        (f"{WORK}/r40.gz.link", UnsafePathError, "r40.gz.link' leads outside"),
        (f"{WORK}/gone.gz", NotFoundError, "gone.gz"),
    ):
        paths = [f"{WORK}/r{i:02d}.gz" for i in range(40)] + [bad, f"{WORK}/r41.gz"]
        got = []
        with pytest.raises(error, match=said):
            for data in alice.read_files(paths):
                got.append(data)
        assert got == [b"r%d" % i for i in range(40)]  # each before it, in order
    assert alice.read_bytes(f"{WORK}/r79.gz") == b"r79"


@pytest.mark.parametrize("transport", ["openssh", "asyncssh"])
def test_many_files_over_sftp_are_read_several_at_once(cast, transport, monkeypatch):
    """Five round trips a file, one file at a time, is minutes for a delivery."""
    from conftest import sftp_storage

    from nels_core.storage.sftp import SftpStorage

    storage = sftp_storage(cast, cast.alice, transport=transport)
    storage.mkdir(WORK)
    for i in range(100):
        storage.write(f"{WORK}/r{i:02d}.gz", b"r%d" % i)
    now = most = 0
    real_open = SftpStorage._open

    async def counted(self, full, write):
        nonlocal now, most
        now += 1
        most = max(most, now)
        try:
            return await real_open(self, full, write)
        finally:
            now -= 1

    monkeypatch.setattr(SftpStorage, "_open", counted)
    paths = [f"{WORK}/r{i:02d}.gz" for i in range(100)]
    assert list(storage.read_files(paths)) == [b"r%d" % i for i in range(100)]
    assert most > 8
    storage.close()
