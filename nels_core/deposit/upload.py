"""Read files to the Webin upload area: FTP with explicit TLS, resumable,
streamed from NeLS (no local copy), each file's MD5 checked against the
bundle's manifest as it goes.

A transfer that breaks leaves a partial file; the next run asks its size
and sends only the rest (REST), hashing the part already there from the
source again so the MD5 covers every byte. A file whose bytes do not match
the manifest is removed from the upload area and named: the RUN XML that
would cite it is never sent.
"""

from __future__ import annotations

import ftplib
import posixpath
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..checksums import StreamHasher
from ..errors import NelsError, TransferError
from ..redact import scrub

WEBIN_FTP = "webin2.ebi.ac.uk"


class UploadError(NelsError):
    pass


@dataclass(frozen=True)
class UploadArea:
    host: str = WEBIN_FTP
    port: int = 21
    account: str = ""  # Webin-NNNN
    password: str = field(default="", repr=False)
    cafile: str | None = None  # a CA to trust besides the system's (the sandbox's)
    timeout: float = 60.0


@dataclass
class Uploaded:
    name: str
    size: int
    md5: str
    resumed_from: int = 0
    skipped: bool = False  # already complete in the upload area


class _Chunks:
    """A file-like view of a chunk iterator, for ftplib's ``storbinary``."""

    def __init__(
        self,
        chunks: Iterator[bytes],
        hasher: StreamHasher,
        read: Callable[[int], None] | None = None,
    ):
        self.chunks, self.hasher, self.buffer = chunks, hasher, b""
        self.on_read = read  # told the bytes read so far (hashed: resumed ones included)

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.hasher.update(chunk)
            self.buffer += chunk
            if self.on_read:
                self.on_read(self.hasher.size)
        if size < 0:
            out, self.buffer = self.buffer, b""
        else:
            out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out


def connect(area: UploadArea) -> ftplib.FTP_TLS:
    context = ssl.create_default_context(cafile=area.cafile)
    ftp = ftplib.FTP_TLS(context=context, timeout=area.timeout)
    try:
        ftp.connect(area.host, area.port)
        ftp.login(area.account, area.password)  # AUTH TLS first: the password goes encrypted
        ftp.prot_p()
    except ftplib.error_perm as e:
        ftp.close()
        raise UploadError(
            f"the Webin upload area refused the login for {area.account}: "
            + scrub(str(e), [area.password])  # the server's reply line, whatever it echoes
        ) from None
    except (OSError, ssl.SSLError, EOFError) as e:
        ftp.close()
        raise TransferError(
            f"cannot reach the Webin upload area {area.host}:{area.port}: {e}"
        ) from None
    return ftp


def check_login(area: UploadArea) -> None:
    """Log in to the upload area and out again: the Webin account is tried
    before anything is sent, even when nothing is to be uploaded (a wrong
    password must not read as "ENA already holds everything")."""
    ftp = connect(area)
    try:
        ftp.quit()
    except (OSError, EOFError, ftplib.Error):
        ftp.close()


def upload(
    store,
    base: str,
    files: list[tuple[str, str, str]],
    area: UploadArea,
    progress: Callable[[int, int], None] | None = None,
    sending: Callable[[int, int, str, int, int], None] | None = None,
) -> list[Uploaded]:
    """``files``: (name in the upload area, expected MD5, path below ``base`` in ``store``).
    ``progress(files done, files)`` after each file; ``sending(file number, files,
    name, bytes sent, bytes of the file)`` as its bytes go."""
    ftp = connect(area)
    made: set[str] = set()
    out = []
    try:
        for n, (name, md5, path) in enumerate(files, 1):
            source = posixpath.join(base, path) if base else path
            told = sending and (
                lambda done, size, n=n, name=name: sending(n, len(files), name, done, size)
            )
            out.append(_one(ftp, store, source, name, md5.lower(), made, told))
            if progress:
                progress(n, len(files))
    finally:
        try:
            ftp.quit()
        except (OSError, EOFError, ftplib.Error):
            ftp.close()
    return out


def _one(
    ftp: ftplib.FTP_TLS,
    store,
    source: str,
    name: str,
    md5: str,
    made: set[str],
    sending: Callable[[int, int], None] | None = None,
) -> Uploaded:
    size = store.stat(source).size
    if size == 0:
        # a missing remote file also has size 0: never take it for complete
        raise UploadError(f"{source}: 0 bytes; ENA refuses an empty read file")
    _mkdirs(ftp, posixpath.dirname(name), made)
    there = _remote_size(ftp, name)
    if there == size:
        # complete from an earlier run: check it is these bytes before citing it
        h = StreamHasher(sha256=False)
        for chunk in store.read_chunks(source):
            h.update(chunk)
        if h.md5 != md5:
            _refuse(ftp, name, source, md5, h.md5)
        return Uploaded(name, size, md5, skipped=True)
    if there > size:
        ftp.delete(name)  # not a prefix of this file: start over
        there = 0
    hasher = StreamHasher(sha256=False)
    if there:
        for chunk in store.read_chunks(source, 0, there):  # the part already sent, hashed again
            hasher.update(chunk)
    reader = _Chunks(
        store.read_chunks(source, there), hasher, sending and (lambda done: sending(done, size))
    )
    try:
        ftp.storbinary(f"STOR {name}", reader, blocksize=1 << 20, rest=there or None)
    except (OSError, EOFError, ftplib.Error) as e:
        raise TransferError(
            f"upload of {name} broke after about {hasher.size:,} of {size:,} bytes ({e}); "
            "run again to resume"
        ) from None
    if hasher.md5 != md5:
        _refuse(ftp, name, source, md5, hasher.md5)
    return Uploaded(name, size, md5, resumed_from=there)


def _refuse(ftp, name: str, source: str, expected: str, actual: str) -> None:
    try:
        ftp.delete(name)
    except ftplib.Error:
        pass
    raise UploadError(
        f"{source}: its bytes have MD5 {actual}, the bundle says {expected} (taken from the "
        "delivery's checksum file, which disagrees with the bytes); removed from the upload "
        "area, nothing cites it. Exporting again repeats the same value: run "
        "'nels-bundle isa export --verify' to check every file, and ask the sequencing "
        "facility whether the file or its checksum is wrong"
    )


def _remote_size(ftp: ftplib.FTP_TLS, name: str) -> int:
    try:
        ftp.voidcmd("TYPE I")
        return ftp.size(name) or 0
    except ftplib.error_perm:
        return 0


def _mkdirs(ftp: ftplib.FTP_TLS, folder: str, made: set[str]) -> None:
    parts = [p for p in folder.split("/") if p]
    for i in range(1, len(parts) + 1):
        path = "/".join(parts[:i])
        if path in made:
            continue
        try:
            ftp.mkd(path)
        except ftplib.error_perm:
            pass  # there already
        made.add(path)
