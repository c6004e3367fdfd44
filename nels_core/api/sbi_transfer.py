"""StoreBioinfo (SBI) transfer jobs, streamed both ways.

SBI is reached only through NeLS's asynchronous jobs (shared/NELS.md):
upload is ``initiate_upload`` -> a single-use url -> a multipart POST of the
field ``file`` -> ``upload_done`` -> ``job_state`` until 101 (done) or 102
(failed); download is ``initiate_download`` -> ``job_state`` ->
``download_reference`` -> a single-use url to GET.

Bytes are never held whole: the multipart body is made as it is read, from
any iterable of chunks of a known size, and hashed (MD5) as it goes; a
download is handed on chunk by chunk. Steps that change nothing when asked
again (``job_state``, ``download_reference``) are retried on 500 "Error";
the others are sent once and their failure is an error naming the file.
The single-use urls carry no bearer token: the recording sends none there.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import requests

from ..checksums import StreamHasher
from ..errors import ApiError, AuthError, ChecksumMismatchError, NelsError, TransferError
from ..redact import scrub

SUBMITTED, DONE, FAILED, PROCESSING = 100, 101, 102, 103
STATE_NAMES = {SUBMITTED: "submitted", DONE: "done", FAILED: "failed", PROCESSING: "processing"}
CHUNK = 1024 * 1024
# a 500 "Error" is NeLS's answer to a passing fault too: worth asking again
# where asking again changes nothing
RETRY_ALSO_500 = (500, 502, 503, 504)

StateSeen = Callable[[str, int, int], None]  # (file name, job id, state id)
BytesMoved = Callable[[int], None]


@dataclass(frozen=True)
class SbiPlace:
    """A folder inside one subtype of one dataset."""

    project_id: int
    dataset_id: int
    subtype: str
    folder: str = ""  # NeLS's location_in_sub_type, "" for the subtype's top


@dataclass(frozen=True)
class Moved:
    """One file moved by one job: what went through, counted and hashed."""

    name: str
    job_id: int
    size: int
    md5: str


class SbiJobError(TransferError):
    """A transfer step or job failed; names the file, the job and its state."""

    def __init__(self, message: str, name: str, job_id: int | None = None, state=None, status=None):
        super().__init__(message)
        self.name = name
        self.job_id = job_id
        self.state = state
        self.status = status  # the HTTP status when NeLS refused a step


def state_name(state) -> str:
    return STATE_NAMES.get(state, f"unknown state {state!r}")


class SbiTransfer:
    """Transfer jobs through one :class:`~nels_core.api.client.NelsApi`."""

    def __init__(
        self,
        api,
        *,
        poll_interval: float = 0.1,
        max_poll_interval: float = 5.0,
        poll_timeout: float = 3600.0,
        chunk: int = CHUNK,
        on_state: StateSeen | None = None,
    ):
        self.api = api
        self.poll_interval = poll_interval
        self.max_poll_interval = max(max_poll_interval, poll_interval)
        self.poll_timeout = poll_timeout
        self.chunk = chunk
        self.on_state = on_state

    # --- upload -----------------------------------------------------------------
    def upload(
        self,
        place: SbiPlace,
        name: str,
        source: BinaryIO | Iterable[bytes],
        size: int,
        *,
        on_bytes: BytesMoved | None = None,
        expected_md5: str | None = None,
        on_state: StateSeen | None = None,
        wait: bool = True,
    ) -> Moved:
        """Send ``size`` bytes from ``source`` as ``name`` and wait for the job
        (with ``wait`` off, return once it is told the upload is done: NeLS
        processes it on its own, and :meth:`wait` waits for it later).

        With ``expected_md5`` the job is left unfinished (``upload_done`` never
        sent, so SBI stores nothing) when the bytes sent do not match it.
        """
        job = self._call(
            place,
            "initiate_upload",
            {"location_in_sub_type": place.folder, "file_name": name},
            name=name,
        )
        if not isinstance(job, dict) or not job.get("url") or "jobId" not in job:
            raise SbiJobError(f"{name}: initiate_upload answer lacks url or jobId", name)
        job_id = int(job["jobId"])
        seen = on_state or self.on_state
        _tell(seen, name, job_id, SUBMITTED)
        hasher = StreamHasher(sha256=False, threaded=True)
        body = _MultipartBody(name, _chunks(source, self.chunk), size, hasher, on_bytes)
        self._send_body(job["url"], body, name, job_id)
        if expected_md5 and hasher.md5 != expected_md5.lower():
            raise ChecksumMismatchError(
                f"{name}: MD5 of the bytes sent {hasher.md5} does not match the delivered "
                f"{expected_md5}; job {job_id} left unfinished, nothing stored"
            )
        self._call(place, "upload_done", {"job_id": job_id}, name=name, job_id=job_id)
        if wait:
            self.wait(place, job_id, name, on_state=seen)
        return Moved(name, job_id, body.sent, hasher.md5 or "")

    def _send_body(self, url: str, body: _MultipartBody, name: str, job_id: int) -> None:
        headers = {"Content-Type": f"multipart/form-data; boundary={body.boundary}"}
        try:
            r = self.api.session.post(url, data=body, headers=headers, timeout=self.api.timeout)
        except Exception as e:  # noqa: BLE001 - the source's own failure comes first
            if body.failure is not None:
                raise body.failure from None
            raise SbiJobError(
                f"{name}: sending to transfer job {job_id} broke off ({type(e).__name__}); "
                "nothing stored",
                name,
                job_id,
            ) from None
        if body.failure is not None:
            raise body.failure
        if r.status_code >= 400:
            said = scrub(r.text or r.reason or "", [url])
            raise SbiJobError(
                f"{name}: transfer job {job_id} refused the bytes: {r.status_code} "
                f"{said or 'no message'}; nothing stored",
                name,
                job_id,
                status=r.status_code,
            )

    # --- download ---------------------------------------------------------------
    def download(
        self,
        place: SbiPlace,
        name: str,
        *,
        on_bytes: BytesMoved | None = None,
        on_state: StateSeen | None = None,
        md5: bool = True,
    ):
        """A :class:`Receiving`: iterate it for the file's chunks (the job has
        run and its url been taken); afterwards it holds size and (unless
        ``md5`` is false: a caller whose sink hashes them already) MD5."""
        job_id = self.start_download(place, name, on_state=on_state)
        return self.finish_download(
            place, name, job_id, on_bytes=on_bytes, on_state=on_state, md5=md5
        )

    def start_download(
        self, place: SbiPlace, name: str, *, on_state: StateSeen | None = None
    ) -> int:
        """The id of a new download job for ``name``: NeLS prepares the file
        by itself meanwhile, so a caller may start the next files' jobs while
        an earlier one's bytes move."""
        job = self._call(
            place,
            "initiate_download",
            {"location_in_sub_type": place.folder, "file_name": name},
            name=name,
        )
        if not isinstance(job, dict) or "jobId" not in job:
            raise SbiJobError(f"{name}: initiate_download answer lacks jobId", name)
        job_id = int(job["jobId"])
        _tell(on_state or self.on_state, name, job_id, SUBMITTED)
        return job_id

    def finish_download(
        self,
        place: SbiPlace,
        name: str,
        job_id: int,
        *,
        on_bytes: BytesMoved | None = None,
        on_state: StateSeen | None = None,
        md5: bool = True,
    ):
        """The :class:`Receiving` of a started job, once it is done; its url is
        taken only now, as it is used (it serves one download)."""
        seen = on_state or self.on_state
        self.wait(place, job_id, name, on_state=seen)
        ref = self._call(
            place, "download_reference", {"job_id": job_id}, name=name, job_id=job_id, again=True
        )
        if not isinstance(ref, dict) or not ref.get("url"):
            raise SbiJobError(f"{name}: download_reference answer lacks url", name, job_id)
        try:
            r = self.api.session.get(ref["url"], stream=True, timeout=self.api.timeout)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise SbiJobError(
                f"{name}: download of job {job_id} unreachable ({type(e).__name__})", name, job_id
            ) from None
        if r.status_code >= 400:
            r.close()
            raise SbiJobError(
                f"{name}: the download url of job {job_id} was refused ({r.status_code})",
                name,
                job_id,
                status=r.status_code,
            )
        return Receiving(r, name, job_id, self.chunk, on_bytes, md5=md5)

    def download_to(
        self, place: SbiPlace, name: str, sink, *, on_bytes: BytesMoved | None = None
    ) -> Moved:
        """Download into a writable stream; returns what was written."""
        receiving = self.download(place, name, on_bytes=on_bytes)
        for chunk in receiving:
            sink.write(chunk)
        return receiving.moved()

    # --- jobs -------------------------------------------------------------------
    def wait(
        self, place: SbiPlace, job_id: int, name: str, *, on_state: StateSeen | None = None
    ) -> None:
        """Poll until the job is done; a failed job, or one still running
        after ``poll_timeout``, is an error naming the file and the state."""
        deadline = time.monotonic() + self.poll_timeout
        interval = self.poll_interval
        while True:
            state = self._call(
                place, "job_state", {"job_id": job_id}, name=name, job_id=job_id, again=True
            )
            code = state.get("state_id") if isinstance(state, dict) else None
            _tell(on_state or self.on_state, name, job_id, code)
            if code == DONE:
                return
            if code == FAILED:
                raise SbiJobError(
                    f"{name}: StoreBioinfo transfer job {job_id} ended in state 102 (failed)",
                    name,
                    job_id,
                    code,
                )
            if code not in (SUBMITTED, PROCESSING):
                raise SbiJobError(
                    f"{name}: StoreBioinfo transfer job {job_id} is in {state_name(code)}",
                    name,
                    job_id,
                    code,
                )
            if time.monotonic() + interval > deadline:
                raise SbiJobError(
                    f"{name}: StoreBioinfo transfer job {job_id} still {state_name(code)} "
                    f"(state {code}) after {self.poll_timeout:g} s; it may yet finish: "
                    "run again later to check",
                    name,
                    job_id,
                    code,
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.max_poll_interval)

    def _call(
        self, place: SbiPlace, method: str, payload: dict, *, name: str, job_id=None, again=False
    ):
        url = self.api.sbi_data_url(place.project_id, place.dataset_id, place.subtype)
        try:
            return self.api.request(
                "POST",
                url,
                json={"method": method, "payload": payload},
                idempotent=again,
                retry_statuses=RETRY_ALSO_500 if again else (),
            )
        except AuthError:
            raise  # about the token, not the file: the caller's advice on tokens applies
        except ApiError as e:
            job = f" (job {job_id})" if job_id is not None else ""
            raise SbiJobError(
                f"{name}: StoreBioinfo refused {method}{job}: {e.status} "
                f"{e.message or 'no message'}{_why(e.status, method)}",
                name,
                job_id,
                status=e.status,
            ) from None


def _tell(seen: StateSeen | None, name: str, job_id: int, state) -> None:
    if seen is not None:
        seen(name, job_id, state)


def _why(status: int, method: str) -> str:
    if status == 405:
        return " (the dataset is locked or the membership read-only)"
    if status == 406:
        return " (StoreBioinfo refuses this name; names with spaces are refused)"
    if status == 404 and method.startswith("initiate"):
        return " (no such dataset, subtype or file)"
    return ""


class Receiving:
    """A download's bytes, chunk by chunk, hashed and counted as they pass."""

    def __init__(self, response, name: str, job_id: int, chunk: int, on_bytes, md5: bool = True):
        self.response = response
        self.name = name
        self.job_id = job_id
        self.chunk = chunk
        self.on_bytes = on_bytes
        self.hasher = StreamHasher(sha256=False, md5=md5)
        length = response.headers.get("Content-Length")
        self.expected = int(length) if length and length.isdigit() else None

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self.response.iter_content(self.chunk):
                self.hasher.update(chunk)
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
                yield chunk
        except requests.RequestException as e:
            raise SbiJobError(
                f"{self.name}: download of job {self.job_id} broke off ({type(e).__name__})",
                self.name,
                self.job_id,
            ) from None
        finally:
            self.response.close()
        if self.expected is not None and self.hasher.size != self.expected:
            raise SbiJobError(
                f"{self.name}: download of job {self.job_id} ended after {self.hasher.size} "
                f"of {self.expected} bytes",
                self.name,
                self.job_id,
            )

    def moved(self) -> Moved:
        return Moved(self.name, self.job_id, self.hasher.size, self.hasher.md5 or "")


class _MultipartBody:
    """One file's ``multipart/form-data`` body, made as it is read.

    requests sees a file-like object with a length, so it sends a
    Content-Length (NeLS's Apache wants one) and reads it block by block.
    A source that ends early or runs long stops the send with an error
    naming the file, kept in ``failure``: the HTTP stack would hide it.
    """

    def __init__(self, name: str, chunks: Iterator[bytes], size: int, hasher, on_bytes):
        self.boundary = uuid.uuid4().hex
        head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{_header_safe(name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.name = name
        self.size = size
        self.sent = 0
        self.failure: NelsError | None = None
        self._length = len(head) + size + len(tail)
        self._pieces = self._make(head, chunks, tail, hasher, on_bytes)
        self._buffer = memoryview(b"")

    def __len__(self) -> int:
        return self._length

    def __iter__(self):  # requests takes a body with __iter__ and a length as a stream
        while block := self.read(CHUNK):
            yield block

    def read(self, n: int = -1) -> bytes:
        while not self._buffer:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._buffer = memoryview(piece)
        if n is None or n < 0:
            n = len(self._buffer)
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return bytes(out)

    def _make(self, head, chunks, tail, hasher, on_bytes) -> Iterator[bytes]:
        yield head
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if self.sent + len(chunk) > self.size:
                    raise SbiJobError(
                        f"{self.name}: the source holds more than {self.size} bytes", self.name
                    )
                hasher.update(chunk)
                self.sent += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                yield chunk
        except NelsError as e:
            self.failure = e
            raise
        except Exception as e:  # noqa: BLE001 - the source's failure, named
            self.failure = TransferError(f"{self.name}: reading the source failed: {e}")
            raise
        if self.sent != self.size:
            self.failure = SbiJobError(
                f"{self.name}: the source ended after {self.sent} of {self.size} bytes "
                "(did it change meanwhile?); nothing stored",
                self.name,
            )
            raise self.failure
        hasher.finish()
        yield tail


def _chunks(source: BinaryIO | Iterable[bytes], size: int) -> Iterator[bytes]:
    if hasattr(source, "read"):
        while block := source.read(size):
            yield block
    else:
        yield from source


def _header_safe(name: str) -> str:
    """A file name fit for the Content-Disposition header, as browsers send it
    (quotes and line breaks percent-escaped)."""
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
