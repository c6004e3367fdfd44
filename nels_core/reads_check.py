"""Read files checked as ENA will: whole, not empty, pairs of equal length.

ENA refuses a run whose FASTQ is empty or truncated, and one whose paired
files hold different numbers of reads, after the upload. We check before
anything is sent, streaming the bytes where they are (NeLS over SFTP): the
gzip stream must end properly (a cut transfer leaves one that does not), and
the lines are counted (four per record). A check is remembered in the bundle
by MD5 and size, so a file is read once however often the deposit is re-run.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import NelsError, NotFoundError
from .local_files import write_whole

CHECKED = "reads-checked.tsv"  # in the bundle: path, md5, records
_GZIP_MAGIC = b"\x1f\x8b"


class ReadsError(NelsError, ValueError):
    """Read files ENA would refuse; the message names each one and why."""


@dataclass(frozen=True)
class ReadFile:
    path: str  # relative to the store's base, as the bundle names it
    md5: str  # with the path, what a remembered check is keyed by
    pair: str = ""  # files of one run's pair share this key (the run's name)


def count_records(chunks: Iterable[bytes]) -> int:
    """FASTQ records in a stream, plain or gzip (one member or many, as bgzip
    writes); raises ValueError saying what is wrong with it."""
    lines = 0
    tail = b""
    inflate = None
    first = True
    members = 0  # gzip members ended so far
    for chunk in chunks:
        if first:
            first = False
            if chunk[:2] == _GZIP_MAGIC:
                inflate = zlib.decompressobj(wbits=31)
        if inflate is None:
            lines += chunk.count(b"\n")
            tail = chunk[-1:] or tail
            continue
        data = chunk
        while data:
            try:
                out = inflate.decompress(data)
            except zlib.error as e:
                if members:
                    raise ValueError("data after the end of the gzip stream is not gzip") from None
                raise ValueError(f"not a valid gzip stream ({e})") from None
            lines += out.count(b"\n")
            tail = out[-1:] or tail
            if inflate.eof:  # a member ended: another may follow
                members += 1
                data = inflate.unused_data
                inflate = zlib.decompressobj(wbits=31) if data else _Ended()
            else:
                data = b""
    if first:
        raise ValueError("0 bytes: the file holds no reads")
    if inflate is not None and not inflate.eof:
        raise ValueError("the gzip stream is cut short (truncated, as by a broken transfer)")
    if tail and tail != b"\n":
        lines += 1  # a last line without its newline
    if lines == 0:
        raise ValueError("holds no reads")
    if lines % 4:
        raise ValueError(f"{lines} lines: not whole FASTQ records (four lines each)")
    return lines // 4


class _Ended:
    """Between gzip members: the next chunk starts a new one."""

    eof = True
    unused_data = b""

    def decompress(self, data: bytes) -> bytes:
        self.unused_data = data
        return b""


def check_reads(store, base: str, files: list[ReadFile], bundle: Path | None = None) -> dict:
    """Records per file path; ReadsError naming every file ENA would refuse.
    ``bundle``: where checks are remembered (and looked up) by path and MD5."""
    known = _remembered(bundle)
    counts: dict[str, int] = {}
    problems: list[str] = []
    for f in files:
        key = (f.path, f.md5)
        if key in known:
            counts[f.path] = known[key]
            continue
        where = f"{base}/{f.path}" if base else f.path
        try:
            counts[f.path] = count_records(store.read_chunks(where))
        except NotFoundError:
            problems.append(f"{f.path}: not in {f'nels://{base}' if base else 'the reads folder'}")
            continue
        except (ValueError, zlib.error) as e:
            problems.append(f"{f.path}: {e}")
            continue
        known[key] = counts[f.path]
    pairs: dict[str, list[ReadFile]] = {}
    for f in files:
        if f.pair and f.path in counts:
            pairs.setdefault(f.pair, []).append(f)
    for pair, members in pairs.items():
        if len({counts[f.path] for f in members}) > 1:
            shown = ", ".join(f"{f.path} {counts[f.path]:,}" for f in members)
            problems.append(f"run {pair}: paired files hold different numbers of reads ({shown})")
    if bundle is not None:
        _remember(bundle, known)
    if problems:
        raise ReadsError(
            f"{len(problems)} read file problem{'' if len(problems) == 1 else 's'} ENA would "
            "refuse; nothing was sent:\n" + "\n".join(f"- {p}" for p in problems)
        )
    return counts


def _remembered(bundle: Path | None) -> dict:
    if bundle is None or not (bundle / CHECKED).is_file():
        return {}
    with open(bundle / CHECKED, encoding="utf-8", newline="") as f:
        return {
            (row[0], row[1]): int(row[2])
            for row in csv.reader(f, delimiter="\t")
            if len(row) == 3 and row[2].isdigit()
        }


def _remember(bundle: Path, known: dict) -> None:
    text = io.StringIO()
    table = csv.writer(text, delimiter="\t", lineterminator="\n")
    table.writerows((path, md5, records) for (path, md5), records in sorted(known.items()))
    write_whole(bundle / CHECKED, text.getvalue().encode())
