"""Checksums a facility delivered beside the data, found and used.

For ``a/b/x.fastq.gz`` we look at ``a/b/x.fastq.gz.md5``, then at an
``md5sum.txt`` in ``a/b``, ``a``, ... up to the area root, where the file is
named relative to that checksum file's folder.
"""

from __future__ import annotations

from .checksums import CHECKSUM_LIST_NAMES, parse_md5_list, parse_md5_single
from .errors import NotFoundError
from .home import Home
from .storage.base import area_root


def delivered_md5(home: Home, path: str) -> str | None:
    try:
        return parse_md5_single(home.read_bytes(path + ".md5").decode(), path + ".md5")
    except NotFoundError:
        pass
    stop = area_root(path)
    folder, _, name = path.rpartition("/")
    rel = name
    while folder and folder != stop:
        for list_name in CHECKSUM_LIST_NAMES:
            candidate = f"{folder}/{list_name}"
            try:
                text = home.read_bytes(candidate).decode()
            except NotFoundError:
                continue
            found = parse_md5_list(text, candidate).get(rel)
            if found:
                return found
        folder, _, up = folder.rpartition("/")
        rel = f"{up}/{rel}"
    return None
