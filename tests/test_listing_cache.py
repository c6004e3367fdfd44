"""Folder listings kept for a few minutes (nels_core.storage.listing_cache),
on both backends: a later page does not read the folder again, a change to
the folder shows at once, a growing file's size is read afresh, and the
memory they take is bounded."""

import os
import time

import pytest

from nels_core.errors import ConfigError
from nels_core.model import Entry
from nels_core.storage import listing_cache
from nels_core.storage.listing_cache import ListingCache

WORK = "Personal/kept"


@pytest.fixture
def alice(home_for):
    home = home_for("alice")
    home.mkdir(WORK)
    return home


def disk(home, rel: str) -> str:
    storage = home.storage
    return os.path.join(getattr(storage, "root", None) or storage.home, rel)


def settled(home, folder: str = WORK) -> None:
    """The folder last changed a minute ago, as a delivery that is complete."""
    long_ago = time.time() - 60
    os.utime(disk(home, folder), (long_ago, long_ago))


def counting_scans(home) -> list[str]:
    read: list[str] = []
    scan = home.storage._scan
    home.storage._scan = lambda path, with_stat: read.append(path) or scan(path, with_stat)
    return read


def test_later_pages_of_a_settled_folder_read_it_once(alice):
    for i in range(30):
        alice.write(f"{WORK}/s{i:02d}.fastq.gz", b"@r\nA\n+\nI\n")
    settled(alice)
    read = counting_scans(alice)
    pages = [alice.list(WORK, limit=10, offset=o) for o in (0, 10, 20, 0)]
    assert read == [WORK]  # the folder read once for four pages
    assert [e.name for e in pages[1].entries] == [f"s{i:02d}.fastq.gz" for i in range(10, 20)]
    assert pages[3].entries == pages[0].entries and pages[2].total == 30


def test_a_file_added_beside_shows_at_once(alice):
    alice.write(f"{WORK}/a.fastq.gz", b"a")
    settled(alice)
    assert [e.name for e in alice.list(WORK, limit=10).entries] == ["a.fastq.gz"]
    with open(disk(alice, f"{WORK}/b.fastq.gz"), "wb") as f:  # another process, on the server
        f.write(b"b")
    assert [e.name for e in alice.list(WORK, limit=10).entries] == ["a.fastq.gz", "b.fastq.gz"]


def test_a_change_made_here_in_the_same_second_shows_at_once(alice):
    alice.write(f"{WORK}/a.fastq.gz", b"a")
    settled(alice)
    alice.list(WORK, limit=10)
    alice.write(f"{WORK}/b.fastq.gz", b"b")
    settled(alice)  # the folder's time as it was: only the write itself says it changed
    assert [e.name for e in alice.list(WORK, limit=10).entries] == ["a.fastq.gz", "b.fastq.gz"]
    alice.storage.remove(f"{WORK}/a.fastq.gz")
    settled(alice)
    assert [e.name for e in alice.list(WORK, limit=10).entries] == ["b.fastq.gz"]


def test_a_folder_changed_just_before_it_was_read_is_read_again(alice):
    alice.write(f"{WORK}/a.fastq.gz", b"a")  # the folder's time is now
    read = counting_scans(alice)
    alice.list(WORK, limit=10)
    alice.list(WORK, limit=10)
    assert read == [WORK, WORK]  # a change later in that second would not move its time


def test_a_growing_file_shows_its_size_now(alice):
    alice.write(f"{WORK}/run.fastq.gz", b"x" * 10)
    settled(alice)
    assert alice.list(WORK, limit=10).entries[0].size == 10
    with open(disk(alice, f"{WORK}/run.fastq.gz"), "ab") as f:
        f.write(b"x" * 90)  # its folder's time stays as it was
    read = counting_scans(alice)
    assert alice.list(WORK, limit=10).entries[0].size == 100 and read == []


def entries(n: int, folder: str = "f") -> list[Entry]:
    return [Entry(f"{folder}/{i}", False) for i in range(n)]


def test_the_cache_holds_at_most_its_entries_the_least_used_dropped_first():
    cache = ListingCache(max_entries=100)
    old = time.time() - 60
    cache.put(("me",), old, time.time(), entries(40, "a"))
    cache.put(("me", "b"), old, time.time(), entries(40, "b"))
    assert cache.get(("me",), old) is not None  # "a" used since "b" was kept
    cache.put(("me", "c"), old, time.time(), entries(40, "c"))
    assert cache.get(("me", "b"), old) is None  # dropped to stay within 100
    assert cache.get(("me",), old) is not None and cache.get(("me", "c"), old) is not None
    cache.put(("me", "d"), old, time.time(), entries(101, "d"))
    assert cache.get(("me", "d"), old) is None  # larger than the whole cache: never kept
    assert cache.get(("me",), old + 1) is None  # the folder's time moved


def test_a_wrong_cache_size_is_named(monkeypatch):
    monkeypatch.setattr(listing_cache, "_made", [])
    monkeypatch.setenv("NELS_LISTING_CACHE_ENTRIES", "lots")
    with pytest.raises(ConfigError, match="NELS_LISTING_CACHE_ENTRIES.*'lots'"):
        listing_cache.listings()
    monkeypatch.setenv("NELS_LISTING_CACHE_ENTRIES", "0")  # keep nothing
    assert listing_cache.listings().max_entries == 0


def test_a_whole_folder_asked_for_is_read_again_not_entry_by_entry(alice):
    alice.write(f"{WORK}/a.fastq.gz", b"a")
    settled(alice)
    alice.list(WORK, limit=10)
    read = counting_scans(alice)
    refreshed = []
    refresh = alice.storage._refresh
    alice.storage._refresh = lambda page: refreshed.append(len(page)) or refresh(page)
    assert [e.name for e in alice.list(WORK).entries] == ["a.fastq.gz"]  # no limit
    assert read == [WORK] and refreshed == []
    alice.list(WORK, limit=10)
    assert read == [WORK] and refreshed == [1]  # a page: kept, its one entry read afresh
