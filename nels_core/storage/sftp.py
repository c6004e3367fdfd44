"""The NeLS data host over SFTP, with asyncssh.

asyncssh is used because the transfer speed target needs many requests in
flight; its event loop runs in one background thread and this module offers
a plain synchronous interface on top.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import posixpath
import queue
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import asyncssh

from ..checksums import StreamHasher
from ..credentials import SshCredentials
from ..errors import (
    AlreadyExistsError,
    ConfigError,
    HostKeyError,
    NelsError,
    NotFoundError,
    TransferError,
    UnsafePathError,
)
from ..model import Entry
from .base import CHUNK, Storage, area_root
from .local_source import FileSpan, LocalFile, local_file
from .sftp_wire import (
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_WRITE,
    NO_SUCH_FILE,
    PERMISSION_DENIED,
    ChannelClosed,
    Endpoint,
    WireChannel,
    WireError,
    find_ssh,
)

# Fast AEAD ciphers first: with AES-NI they cost far less than chacha20.
_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)
_CREATE_EXCL = asyncssh.FXF_WRITE | asyncssh.FXF_CREAT | asyncssh.FXF_EXCL
_QUEUE_DEPTH = 64  # chunks buffered between the SSH loop and the caller
# Bytes of writes in flight. Measured on loopback (benchmarks/sftp_transfer.py):
# 2-4 MiB uploads ~1.4x faster than 16 MiB (64 x 255 KiB), which only fills
# buffers on both ends; reads keep max_requests.
_WRITE_WINDOW = 4 << 20
_HASH_BUFFERS = 8  # CHUNK-sized buffers a spliced file's sums are read into, reused
log = logging.getLogger(__name__)
_KEEPALIVES = 4  # unanswered keepalives, spread over the idle timeout, end a connection


@dataclass(frozen=True)
class Hop:
    """An SSH host: the data host, or a bastion to jump through."""

    host: str
    port: int = 22
    known_hosts: str | None = None  # known_hosts text pinning this host's key
    accept_unknown_host: bool = False  # only for sandboxes and first contact
    username: str | None = None  # bastion only: defaults to the data host's
    private_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SftpConfig:
    data_host: Hop
    credentials: Callable[[], SshCredentials] | SshCredentials = field(repr=False)
    bastion: Hop | None = None
    max_requests: int = 64
    block_size: int | None = None  # None: the server's advertised limit
    connect_timeout: float = 30.0
    # a connection that answers nothing (not even keepalives) this long is given up
    idle_timeout: float = 60.0
    # "auto": bulk bytes through the OpenSSH client when installed, else asyncssh
    transport: str = "auto"
    # a regular local file given to write() goes from the page cache into the
    # OpenSSH route without being read into Python (False: read like any stream)
    splice_files: bool = True


class _Loop:
    """One event loop thread per process, shared by every connection."""

    _lock = threading.Lock()
    _loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None or cls._loop.is_closed():
                loop = asyncio.new_event_loop()
                loop.set_exception_handler(_quietly)
                logging.getLogger("asyncio").addFilter(_drop_lost_writes)
                threading.Thread(target=loop.run_forever, name="nels-sftp", daemon=True).start()
                cls._loop = loop
            return cls._loop

    @classmethod
    def run(cls, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, cls.get()).result(timeout)


def _warn_unpinned(hop: Hop) -> None:
    # on every connection: a setting meant for a sandbox must not go unnoticed
    log.warning(
        "host-key pinning is off for %s:%s (accept_unknown_host): anyone between "
        "here and there could pose as it; give its known_hosts instead",
        hop.host,
        hop.port,
    )


def _quietly(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """What the loop would print as "Task exception was never retrieved": after
    a cut, requests nobody awaits any more fail too. The first failure is
    reported to the caller; the rest are for debugging only."""
    log.debug("SFTP loop: %s", context.get("message"), exc_info=context.get("exception"))


_LOST_WRITES = {
    "socket.send() raised exception.",
    "pipe closed by peer or os.write(pipe, data) raised exception.",
}


def _drop_lost_writes(record: logging.LogRecord) -> bool:
    # asyncio warns on every write after a connection is lost, and when the
    # ssh child it waits for is already reaped; the caller already has the
    # one clear error about it
    message = record.getMessage()
    return message not in _LOST_WRITES and not message.startswith("Unknown child process pid")


def _known_hosts(hop: Hop):
    if hop.accept_unknown_host:
        _warn_unpinned(hop)
        return None
    if not hop.known_hosts:
        raise ConfigError(
            f"no pinned host key for {hop.host}; give known_hosts, or set "
            "accept_unknown_host for a sandbox"
        )
    try:
        return asyncssh.import_known_hosts(hop.known_hosts)
    except (ValueError, asyncssh.KeyImportError) as e:
        raise ConfigError(f"known_hosts for {hop.host} cannot be read: {e}") from None


def _client_key(pem: str, what: str):
    try:
        return asyncssh.import_private_key(pem)
    except (asyncssh.KeyImportError, ValueError):
        # never echo key material
        raise ConfigError(f"the {what} private key cannot be read") from None


def _connection_gone(e: BaseException) -> bool:
    """True when the connection cannot be used again and must be reopened."""
    if isinstance(e, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection | ChannelClosed):
        return True
    return not isinstance(e, asyncssh.SFTPError | WireError)


def _map_error(e: Exception, path: str) -> NelsError:
    if isinstance(e, ChannelClosed) and e.detail:  # e.g. it answered what is not SFTP
        return TransferError(f"connection to the NeLS data host lost during {path!r}: {e.detail}")
    if isinstance(e, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection | ChannelClosed):
        return TransferError(f"connection to the NeLS data host lost during {path!r}")
    if isinstance(e, WireError):
        if e.code == NO_SUCH_FILE:
            return NotFoundError(f"no such file or folder in NeLS: {path!r}")
        if e.code == PERMISSION_DENIED:
            return TransferError(f"the NeLS data host refused access to {path!r}")
        return TransferError(f"SFTP error on {path!r}: {e}")
    if isinstance(e, asyncssh.SFTPNoSuchFile):
        return NotFoundError(f"no such file or folder in NeLS: {path!r}")
    if isinstance(e, asyncssh.SFTPPermissionDenied):
        return TransferError(f"the NeLS data host refused access to {path!r}")
    if isinstance(e, asyncssh.SFTPFailure | asyncssh.SFTPError):
        return TransferError(f"SFTP error on {path!r}: {e.reason}")
    if isinstance(e, asyncssh.HostKeyNotVerifiable):
        return HostKeyError(f"the NeLS data host's key does not match the pinned key: {e.reason}")
    if isinstance(e, asyncssh.PermissionDenied):
        return TransferError("the NeLS data host refused the SSH credentials")
    if isinstance(e, asyncssh.Error | OSError | asyncio.TimeoutError):
        return TransferError(f"connection to the NeLS data host lost during {path!r}: {e}")
    return TransferError(f"{path!r}: {e}")


def _connect_error(e: Exception, config: SftpConfig) -> NelsError:
    """Why a connection could not be made: never "lost", it never was."""
    hop = config.data_host
    where = f"the NeLS data host {hop.host}:{hop.port}"
    if config.bastion is not None:
        where += f" (through {config.bastion.host}:{config.bastion.port})"
    if isinstance(e, socket.gaierror):
        return TransferError(f"{where} was never reached: its name does not resolve")
    if isinstance(e, ConnectionRefusedError):
        return TransferError(f"{where} was never reached: it refused the connection")
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return TransferError(
            f"{where} was never reached: no answer within {config.connect_timeout:g} s"
        )
    if isinstance(e, ChannelClosed):
        return TransferError(f"{where} closed the data channel while it was set up: {e}")
    if isinstance(e, asyncssh.ConnectionLost | ConnectionResetError | asyncssh.DisconnectError):
        if not isinstance(e, asyncssh.PermissionDenied | asyncssh.HostKeyNotVerifiable):
            return TransferError(f"{where} closed the connection while it was set up")
    if isinstance(e, OSError) and not isinstance(e, asyncssh.Error):
        return TransferError(f"{where} was never reached: {e.strerror or e}")
    return _map_error(e, hop.host)


class SftpStorage(Storage):
    def __init__(self, config: SftpConfig):
        self.config = config
        self._conn: asyncssh.SSHClientConnection | None = None
        self._tunnel: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self.home: str = ""
        self._area_real: dict[str, str] = {}  # area -> its resolved path
        self._read_len = 32768
        self._write_len = 32768
        self._wire: WireChannel | None = None  # bulk data channel, when used
        self._owner: tuple = ()
        self._connect_lock = threading.Lock()

    # --- connection -----------------------------------------------------------
    def _credentials(self) -> SshCredentials:
        c = self.config.credentials
        return c() if callable(c) else c

    async def _connect(self) -> None:
        creds = self._credentials()
        hop = self.config.data_host
        opts = dict(
            encryption_algs=_CIPHERS,
            compression_algs=None,
            window=16 * 1024 * 1024,
            max_pktsize=256 * 1024,
            connect_timeout=self.config.connect_timeout,
            login_timeout=self.config.connect_timeout,
            agent_path=None,
            keepalive_interval=self.config.idle_timeout / _KEEPALIVES,
            keepalive_count_max=_KEEPALIVES,
            config=None,
            preferred_auth="publickey",
        )
        tunnel = ()
        if self.config.bastion is not None:
            b = self.config.bastion
            self._tunnel = await asyncssh.connect(
                b.host,
                b.port,
                username=b.username or creds.username,
                client_keys=[_client_key(b.private_key or creds.private_key, "bastion")],
                known_hosts=_known_hosts(b),
                **opts,
            )
            tunnel = self._tunnel
        self._conn = await asyncssh.connect(
            hop.host,
            hop.port,
            tunnel=tunnel,
            username=creds.username,
            client_keys=[_client_key(creds.private_key, "NeLS SSH")],
            known_hosts=_known_hosts(hop),
            **opts,
        )
        # names that are not UTF-8 (old instruments write Latin-1) travel as
        # Python does with file names, so a folder holding one still lists
        self._sftp = await self._conn.start_sftp_client(path_errors="surrogateescape")
        self.home = await self._sftp.realpath(".")
        # whose tree: the key of its kept listings, shared by every connection to it
        self._owner = ("sftp", hop.host, hop.port, creds.username, self.home)
        limits = self._sftp.limits
        self._read_len = self.config.block_size or limits.max_read_len or 32768
        self._write_len = self.config.block_size or limits.max_write_len or 32768
        if self._use_wire():
            bastion = self.config.bastion
            self._wire = await WireChannel.open(
                _endpoint(hop, creds.username, creds.private_key),
                _endpoint(bastion, creds.username, creds.private_key) if bastion else None,
                self.config.connect_timeout,
                self.config.idle_timeout,
            )
            self._read_len = self.config.block_size or self._wire.max_read
            self._write_len = self.config.block_size or self._wire.max_write

    def _use_wire(self) -> bool:
        t = self.config.transport
        if t not in ("auto", "openssh", "asyncssh"):
            raise ConfigError(f"transport must be auto, openssh or asyncssh, not {t!r}")
        if t == "openssh" and find_ssh() is None:
            raise ConfigError("transport 'openssh' needs the OpenSSH client 'ssh' installed")
        return t == "openssh" or (t == "auto" and find_ssh() is not None)

    def _ensure(self) -> asyncssh.SFTPClient:
        with self._connect_lock:  # one connection, however many threads ask
            if self._sftp is None:
                try:
                    _Loop.run(self._connect())
                except NelsError:
                    self._reset()
                    raise
                except Exception as e:
                    self._reset()
                    raise _connect_error(e, self.config) from None
            return self._sftp

    def _reset(self) -> None:
        for c in (self._conn, self._tunnel, self._wire):
            if c is not None:
                c.abort()
        self._conn = self._tunnel = self._sftp = self._wire = None
        self._area_real.clear()
        self._swept = frozenset()  # a cut may have left partials: look again

    def close(self) -> None:
        if self._conn is None:
            return

        async def _close():
            if self._wire is not None:
                await self._wire.close()
            for c in (self._conn, self._tunnel):
                if c is not None:
                    c.close()
                    await c.wait_closed()

        try:
            _Loop.run(_close(), timeout=10)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        self._conn = self._tunnel = self._sftp = self._wire = None

    def _call(self, path: str, coro_fn: Callable[[asyncssh.SFTPClient], object]):
        """Run one SFTP coroutine; a dropped connection is reopened next time."""
        sftp = self._ensure()
        try:
            return _Loop.run(coro_fn(sftp))
        except NelsError:
            raise
        except Exception as e:
            if _connection_gone(e):
                self._reset()
            raise _map_error(e, path) from None

    # --- paths ----------------------------------------------------------------
    async def _checked(self, sftp, path: str, must_exist: bool = True) -> str:
        """The absolute path, refused if the server resolves it out of its area."""
        full = posixpath.join(self.home, path) if path else self.home
        target = full if must_exist else posixpath.dirname(full)
        try:
            real = await sftp.realpath(target)
        except asyncssh.SFTPNoSuchFile:
            shown = path if must_exist else posixpath.dirname(path) or "."
            raise NotFoundError(f"no such file or folder in NeLS: {shown!r}") from None
        area = area_root(path)
        if path == area:
            return full
        bound = self._area_real.get(area)
        if bound is None:
            bound = await sftp.realpath(posixpath.join(self.home, area)) if area else self.home
            self._area_real[area] = bound
        if real != bound and not real.startswith(bound.rstrip("/") + "/"):
            raise UnsafePathError(f"{path!r} leads outside its NeLS area (through a symlink)")
        return full

    # --- the storage hooks ----------------------------------------------------
    def _entry(self, path: str, attrs: asyncssh.SFTPAttrs) -> Entry:
        is_dir = attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY
        return Entry(path, is_dir, 0 if is_dir else (attrs.size or 0), attrs.mtime, attrs.mtime)

    def stat(self, path: str) -> Entry:
        async def go(sftp):
            full = await self._checked(sftp, path)
            return self._entry(path, await sftp.stat(full))

        return self._call(path, go)

    def exists(self, path: str) -> bool:
        try:
            self.stat(path)
            return True
        except (NotFoundError, UnsafePathError):
            return False

    def _scan(self, path: str, with_stat: bool) -> list[Entry]:
        prefix = f"{path}/" if path else ""

        async def go(sftp):
            full = await self._checked(sftp, path)
            out = []
            links = []
            if self._wire is not None:  # parses 100,000 names far faster
                for name, a in await self._wire.listdir(full):
                    if name in (".", ".."):
                        continue
                    if a.is_link:
                        links.append(name)
                    else:
                        size = 0 if a.is_dir else a.size or 0
                        out.append(Entry(prefix + name, a.is_dir, size, a.mtime, a.mtime))
            else:
                for n in await sftp.readdir(full):
                    if n.filename in (".", ".."):
                        continue
                    if n.attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
                        links.append(n.filename)
                    else:
                        out.append(self._entry(prefix + n.filename, n.attrs))
            for name in links:  # follow links only where they stay in their area
                try:
                    await self._checked(sftp, prefix + name)
                    entry = self._entry(prefix + name, await sftp.stat(f"{full}/{name}"))
                    out.append(replace(entry, link=True))
                except (UnsafePathError, NotFoundError, asyncssh.SFTPError):
                    continue
            return out

        return self._call(path, go)

    def _complete(self, entries: list[Entry]) -> list[Entry]:
        return entries  # readdir already carried the attributes

    def _cache_owner(self) -> tuple:
        self._ensure()
        return self._owner

    def _refresh(self, entries: list[Entry]) -> list[Entry]:
        """A kept page's sizes and times, asked for all at once (one round trip's wait)."""

        async def go(sftp):
            async def fresh(e: Entry) -> Entry | None:
                try:
                    attrs = await sftp.stat(posixpath.join(self.home, e.path))
                except asyncssh.SFTPNoSuchFile:
                    return None  # gone since: its folder's time says so next time
                return replace(self._entry(e.path, attrs), link=e.link)

            return [f for f in await asyncio.gather(*map(fresh, entries)) if f is not None]

        return self._call("", go)

    def _real_folder(self, path: str) -> str:
        async def go(sftp):
            return await sftp.realpath(await self._checked(sftp, path))

        return self._call(path, go)

    def read_chunks(self, path: str, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        self._ensure()
        loop = _Loop.get()
        out: queue.SimpleQueue = queue.SimpleQueue()
        task = asyncio.run_coroutine_threadsafe(self._produce(path, offset, length, out), loop)
        return self._consume(path, out, task, loop)

    async def _produce(self, path, offset, length, out: queue.SimpleQueue) -> None:
        """Keep ``max_requests`` reads in flight; hand chunks over in order.

        Hand-over never waits for the reading thread: a semaphore, released
        by the reader as it takes chunks, bounds what is buffered.
        """
        pending: list[tuple[int, int, asyncio.Future]] = []
        slots = asyncio.Semaphore(_QUEUE_DEPTH)
        try:
            full = await self._checked(self._sftp, path)
            async with await self._open(full, write=False) as f:
                size = await f.size()
                end = size if length is None else min(size, offset + length)
                pos = offset
                while pos < end or pending:
                    while pos < end and len(pending) < self.config.max_requests:
                        n = min(self._read_len, end - pos)
                        pending.append((pos, n, _spawn(f.read(n, pos))))
                        pos += n
                    at, n, fut = pending.pop(0)
                    data = await fut
                    if len(data) < n:
                        # short read: drop what is in flight and go on from here
                        for _, _, other in pending:
                            other.cancel()
                        pending.clear()
                        if not data:
                            raise TransferError(f"{path!r} ended at {at} bytes, expected {end}")
                        pos = at + len(data)
                    await slots.acquire()
                    out.put((data, slots))
            out.put((None, None))
        except asyncio.CancelledError:
            raise  # the reader went away
        except BaseException as e:  # the reader raises what happened here
            out.put((e, None))
        finally:
            for _, _, fut in pending:
                fut.cancel()

    def read_files(self, paths: Iterable[str]) -> Iterator[bytes]:
        paths = list(paths)
        if not paths:
            return iter(())
        self._ensure()
        loop = _Loop.get()
        out: queue.SimpleQueue = queue.SimpleQueue()
        task = asyncio.run_coroutine_threadsafe(self._produce_files(paths, out), loop)
        return self._consume(paths[0], out, task, loop)

    async def _produce_files(self, paths: list[str], out: queue.SimpleQueue) -> None:
        """Keep ``max_requests`` files being read, and hand them over in order,
        as many again at most waiting for the caller. Each file waits on five
        round trips (realpath, open, read, end of file, close): one file at a
        time, 40,000 small files take minutes over a real network."""
        in_flight = self.config.max_requests
        slots = asyncio.Semaphore(in_flight)
        pending: collections.deque[tuple[str, asyncio.Future]] = collections.deque()
        try:
            for path in paths:
                if len(pending) == in_flight:
                    if not await self._hand_over(pending.popleft(), out, slots):
                        return
                pending.append((path, _spawn(self._whole(path))))
            while pending:
                if not await self._hand_over(pending.popleft(), out, slots):
                    return
            out.put((None, None))
        except asyncio.CancelledError:
            raise  # the reader went away
        except BaseException as e:
            out.put((e, None))
        finally:
            for _, fut in pending:
                fut.cancel()

    @staticmethod
    async def _hand_over(read: tuple[str, asyncio.Future], out, slots) -> bool:
        path, fut = read
        try:
            data = await fut
        except asyncio.CancelledError:
            raise
        except BaseException as e:  # named by its own path, not the first's
            out.put((_Failed(e, path), None))
            return False
        await slots.acquire()
        out.put((data, slots))
        return True

    async def _whole(self, path: str) -> bytes:
        full = await self._checked(self._sftp, path)
        async with await self._open(full, write=False) as f:
            parts = []
            at = 0
            while piece := await f.read(self._read_len, at):
                parts.append(piece)
                at += len(piece)
            return b"".join(parts)

    def _consume(self, path, out: queue.SimpleQueue, task, loop) -> Iterator[bytes]:
        try:
            while True:
                item, slots = out.get()
                if item is None:
                    return
                if isinstance(item, _Failed):
                    item, path = item.error, item.path
                if isinstance(item, BaseException):
                    if isinstance(item, NelsError):
                        raise item
                    if _connection_gone(item):
                        self._reset()
                    raise _map_error(item, path) from None
                loop.call_soon_threadsafe(slots.release)
                yield item
        finally:
            task.cancel()

    def _write_source(self, partial: str, source, hasher: StreamHasher, progress=None) -> int:
        """A regular local file is sent straight from the page cache on the
        OpenSSH route (:mod:`.local_source`); anything else as a stream."""
        self._ensure()
        file = local_file(source) if self._wire is not None and self.config.splice_files else None
        if file is None:
            return super()._write_source(partial, source, hasher, progress)
        stored = self._write_file(partial, file, hasher, progress)
        source.seek(file.end)  # read to its end, as the stream route leaves it
        return stored

    def _write_partial(self, partial: str, chunks: Iterable[bytes], hasher: StreamHasher) -> int:
        """Hash and hand over pieces from this thread while the loop sends.

        Hand-over never waits for the loop to run: a semaphore bounds what is
        buffered, so reading and hashing here overlap with sending there.
        """
        self._ensure()
        loop = _Loop.get()
        queue: asyncio.Queue = asyncio.Queue()
        slots = threading.Semaphore(_QUEUE_DEPTH)
        task = asyncio.run_coroutine_threadsafe(self._upload(partial, queue, slots), loop)

        def hand_over(item) -> bool:
            while not slots.acquire(timeout=0.5):
                if task.done():
                    return False
            loop.call_soon_threadsafe(queue.put_nowait, item)
            return True

        with self._sending(partial, task):
            for chunk in chunks:
                if not isinstance(chunk, bytes):
                    chunk = bytes(chunk)  # sent uncopied: a reused buffer must not change
                hasher.update(chunk)
                view = memoryview(chunk)
                if not all(
                    hand_over(view[i : i + self._write_len])
                    for i in range(0, len(view), self._write_len)
                ):
                    break
            loop.call_soon_threadsafe(queue.put_nowait, None)
            return task.result()

    def _write_file(self, partial: str, file: LocalFile, hasher: StreamHasher, progress) -> int:
        """The loop splices the file into the OpenSSH route while this thread
        hashes it: nothing passes between them, and no byte through Python."""
        sending = self._upload_file(partial, file, progress)
        task = asyncio.run_coroutine_threadsafe(sending, _Loop.get())
        with self._sending(partial, task):
            _hash_file(file, hasher, lambda: task.done() and task.exception() is not None)
            stored = task.result()
        if not file.unchanged():
            raise TransferError(
                f"{file.name!r} changed while it was being sent to {partial!r}; "
                "nothing was stored: send it again once it is complete"
            )
        return stored

    @contextlib.contextmanager
    def _sending(self, partial: str, task):
        """An upload's failure said in NeLS's terms (the connection dropped
        if it broke); its task on the loop ended whatever happened."""
        try:
            yield
        except NelsError:
            raise
        except Exception as e:
            if _connection_gone(e):
                self._reset()
            raise _map_error(e, partial) from None
        finally:
            task.cancel()

    async def _open_partial(self, partial: str):
        full = await self._checked(self._sftp, partial, must_exist=False)
        try:
            return await self._open(full, write=True)  # exclusive: the name is ours alone
        except (asyncssh.SFTPNoSuchFile, WireError) as e:
            if isinstance(e, WireError) and e.code != NO_SUCH_FILE:
                raise
            raise NotFoundError(
                f"folder does not exist: {posixpath.dirname(partial) or '.'!r}"
            ) from None

    def _writes_in_flight(self) -> int:
        return min(self.config.max_requests, max(4, _WRITE_WINDOW // self._write_len))

    async def _upload(self, partial: str, queue: asyncio.Queue, slots: threading.Semaphore) -> int:
        f = await self._open_partial(partial)
        pending: list[asyncio.Future] = []
        in_flight = self._writes_in_flight()
        try:
            async with f:
                pos = 0
                while (chunk := await queue.get()) is not None:
                    slots.release()
                    pending.append(_spawn(f.write(chunk, pos)))
                    pos += len(chunk)
                    if len(pending) >= in_flight:
                        await pending.pop(0)
                while pending:
                    await pending.pop(0)
                return await f.size()
        finally:
            for fut in pending:
                fut.cancel()

    async def _upload_file(self, partial: str, file: LocalFile, progress=None) -> int:
        """Send ``file`` as spans for the pipe to splice: a window of writes in
        flight, without a task or a hand-over per write. ``progress`` hears
        of each write the server confirmed."""
        f = await self._open_partial(partial)
        size, in_flight = self._write_len, self._writes_in_flight()
        pending: collections.deque[tuple[asyncio.Future, int]] = collections.deque()

        async def confirm() -> None:
            reply, n = pending.popleft()
            await f.confirm(reply)
            if progress:
                progress(n)

        async with f:
            file.warm(file.start, _WRITE_WINDOW)
            for at in range(file.start, file.end, size):
                if (at - file.start) // CHUNK != (at - file.start + size) // CHUNK:
                    # disk files: read ahead by the kernel, not in the loop's splice
                    file.warm(at + _WRITE_WINDOW, CHUNK)
                n = min(size, file.end - at)
                pending.append((f.send(FileSpan(file, at, n), at - file.start), n))
                await f.drain()
                if len(pending) >= in_flight:
                    await confirm()
            while pending:
                await confirm()
            return await f.size()

    async def _open(self, full: str, write: bool):
        if self._wire is not None:
            flags = FXF_WRITE | FXF_CREAT | FXF_EXCL if write else FXF_READ
            return _WireFile(self._wire, await self._wire.open_file(full, flags))
        mode = _CREATE_EXCL if write else "rb"
        return _AsyncsshFile(await self._sftp.open(full, mode, encoding=None))

    def _commit(self, partial: str, final: str, overwrite: bool) -> None:
        async def go(sftp):
            src = await self._checked(sftp, partial)
            dst = await self._checked(sftp, final, must_exist=False)
            if await sftp.isdir(dst):
                raise AlreadyExistsError(f"{final!r} is a folder")
            if overwrite:
                try:
                    await sftp.posix_rename(src, dst)  # atomic replace
                    return
                except asyncssh.SFTPOpUnsupported:
                    pass
            try:
                # SFTPv3 rename refuses an existing target: an atomic no-clobber
                await sftp.rename(src, dst)
            except asyncssh.SFTPFailure:
                if await sftp.exists(dst):
                    if not overwrite:
                        raise AlreadyExistsError(f"{final!r} already exists") from None
                    await sftp.remove(dst)
                    await sftp.rename(src, dst)
                else:
                    raise

        self._call(final, go)

    def _discard(self, partial: str) -> None:
        if self._sftp is None:
            return  # connection gone: the partial stays hidden, never under the final name

        async def go(sftp):
            try:
                await sftp.remove(posixpath.join(self.home, partial))
            except asyncssh.SFTPNoSuchFile:
                pass

        self._call(partial, go)

    def remove(self, path: str, recursive: bool = False) -> None:
        async def go(sftp):
            full = posixpath.join(self.home, path)
            attrs = await sftp.lstat(full)
            if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
                await sftp.remove(full)
                return
            await self._checked(sftp, path)
            if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                if recursive:
                    await sftp.rmtree(full)
                else:
                    try:
                        await sftp.rmdir(full)
                    except asyncssh.SFTPFailure:
                        raise TransferError(f"folder {path!r} is not empty") from None
            else:
                await sftp.remove(full)

        self._call(path, go)
        self._changed(path)

    def mkdir(self, path: str, parents: bool = True) -> None:
        async def go(sftp):
            parts = path.split("/")
            steps = ["/".join(parts[: i + 1]) for i in range(len(parts))] if parents else [path]
            for step in steps:  # one component at a time, each checked
                full = await self._checked(sftp, step, must_exist=False)
                if await sftp.isfile(full):
                    raise AlreadyExistsError(f"{step!r} exists and is a file")
                if not await sftp.isdir(full):
                    await sftp.mkdir(full)

        self._call(path, go)
        self._changed(path.split("/")[0] if parents else path)


class _AsyncsshFile:
    """An open remote file over asyncssh, as the transfer loops use it."""

    def __init__(self, f: asyncssh.SFTPClientFile):
        self._f = f

    async def read(self, n: int, offset: int) -> bytes:
        return await self._f.read(n, offset)

    async def write(self, data: bytes | memoryview, offset: int) -> None:
        await self._f.write(bytes(data), offset)

    async def size(self) -> int:
        return (await self._f.stat()).size

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self._f.close()


class _WireFile:
    """An open remote file over the OpenSSH channel, same surface."""

    def __init__(self, wire: WireChannel, handle: bytes):
        self._wire, self._handle = wire, handle

    async def read(self, n: int, offset: int) -> bytes:
        return self._wire.data(await self._wire.read(self._handle, offset, n))

    async def write(self, data: bytes | memoryview, offset: int) -> None:
        fut = self._wire.write(self._handle, offset, data)
        await self._wire.drain()  # bounded by the pipe, not by memory
        self._wire.written(await fut)

    def send(self, data: bytes | memoryview | FileSpan, offset: int) -> asyncio.Future:
        """A write in flight; :meth:`drain` after it, :meth:`confirm` its answer."""
        return self._wire.write(self._handle, offset, data)

    async def drain(self) -> None:
        await self._wire.drain()

    async def confirm(self, sent: asyncio.Future) -> None:
        self._wire.written(await sent)

    async def size(self) -> int:
        return (await self._wire.fstat(self._handle)).size or 0

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        try:
            await self._wire.close_handle(self._handle)
        except WireError:
            if exc[0] is None:
                raise


def _endpoint(hop: Hop, username: str, key: str) -> Endpoint:
    if not hop.accept_unknown_host and not hop.known_hosts:
        raise ConfigError(f"no pinned host key for {hop.host}")
    known = None if hop.accept_unknown_host else hop.known_hosts
    return Endpoint(hop.host, hop.port, hop.username or username, hop.private_key or key, known)


def _hash_file(file: LocalFile, hasher: StreamHasher, stop: Callable[[], bool]) -> None:
    """The file's sums, read into a few reused buffers (once for both sums);
    a file found shorter than it was is marked so. ``stop``: the send failed,
    the sums are not needed."""
    if not hasher.hashing:
        hasher.size += file.end - file.start  # no sum wants the bytes: only their count
        return
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    for _ in range(_HASH_BUFFERS):
        free.put(bytearray(CHUNK))
    for pos in range(file.start, file.end, CHUNK):
        if stop():
            return
        buf = free.get()  # back once both sums are done with it
        view = memoryview(buf)[: min(CHUNK, file.end - pos)]
        if file.read_into(view, pos) < len(view):
            file.short = True
            return
        hasher.lend(view, functools.partial(free.put, buf))


@dataclass(frozen=True)
class _Failed:
    """A file of several read at once that could not be: what, and which."""

    error: BaseException
    path: str


def _spawn(coro) -> asyncio.Future:
    """A request in flight whose failure, if nobody awaits it, stays quiet:
    the first failure awaited is the one reported."""
    fut = asyncio.ensure_future(coro)
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return fut
