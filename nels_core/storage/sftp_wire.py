"""SFTP version 3 spoken over an OpenSSH client process (``ssh -s sftp``).

Bulk bytes go this way when the ``ssh`` program exists: OpenSSH does the
SSH packet work in C, which Python cannot match on upload (the server
grants only 32 KiB packets, so asyncssh would packetise every 32 KiB in
Python). We keep the SFTP requests, their pipelining and all checks.

Only what bulk transfer needs is here: open, read, write, fstat, close,
opendir/readdir, and the ``limits@openssh.com`` extension (draft-ietf-
secsh-filexfer-02 and OpenSSH's PROTOCOL file).
"""

from __future__ import annotations

import asyncio
import collections
import os
import shlex
import shutil
import struct
from dataclasses import dataclass
from typing import NamedTuple

import asyncssh

from .local_source import FileSpan
from .pipe_writer import PipeWriter, widen
from .sftp_packets import PacketReader
from .ssh_agent import KeyAgent, secrets_folder

# packet types
INIT, VERSION, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT = 1, 2, 3, 4, 5, 6, 7, 8
OPENDIR, READDIR, STAT, EXTENDED = 11, 12, 17, 200
STATUS, HANDLE, DATA, NAME, ATTRS, EXTENDED_REPLY = 101, 102, 103, 104, 105, 201
# status codes
OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED = 0, 1, 2, 3
# open flags
FXF_READ, FXF_WRITE, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 0x1, 0x2, 0x8, 0x10, 0x20
# attribute flags
A_SIZE, A_UIDGID, A_PERMISSIONS, A_ACMODTIME, A_EXTENDED = 0x1, 0x2, 0x4, 0x8, 0x80000000
S_IFMT, S_IFDIR, S_IFLNK = 0o170000, 0o040000, 0o120000

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEAD = struct.Struct(">IBI")  # length, type, request id
_SAFE_LEN = 32 * 1024  # what every server accepts when it states no limits
READDIRS_IN_FLIGHT = 8  # a listing's READDIRs asked ahead (OpenSSH: 100 names each)
_PIPE_SIZE = 1 << 20  # 1 MiB pipes instead of 64 KiB: four times fewer wake-ups per write
# requests waiting for ssh's stdin: views of the caller's bytes, not copies
_WRITE_BUFFER = 4 << 20


def find_ssh() -> str | None:
    return shutil.which("ssh")


class WireError(Exception):
    """A failed SFTP request: ``code`` is the SFTP status code."""

    def __init__(self, code: int, message: str):
        self.code = code
        super().__init__(message or f"SFTP status {code}")


class ChannelClosed(WireError):
    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__(-1, f"the OpenSSH connection closed{': ' + detail if detail else ''}")


class Attrs(NamedTuple):  # a tuple: made 100,000 times for a big folder's listing
    size: int | None = None
    permissions: int | None = None
    mtime: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.permissions is not None and self.permissions & S_IFMT == S_IFDIR

    @property
    def is_link(self) -> bool:
        return self.permissions is not None and self.permissions & S_IFMT == S_IFLNK


def _string(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf, self.pos = buf, 0

    def u32(self) -> int:
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def u64(self) -> int:
        (v,) = _U64.unpack_from(self.buf, self.pos)
        self.pos += 8
        return v

    def string(self) -> bytes:
        n = self.u32()
        v = self.buf[self.pos : self.pos + n]
        self.pos += n
        return v

    def attrs(self) -> Attrs:
        flags = self.u32()
        size = self.u64() if flags & A_SIZE else None
        if flags & A_UIDGID:
            self.pos += 8
        perms = self.u32() if flags & A_PERMISSIONS else None
        mtime = None
        if flags & A_ACMODTIME:
            self.pos += 4
            mtime = self.u32()
        if flags & A_EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return Attrs(size, perms, mtime)


def _read_names(body: bytes, out: list[tuple[str, Attrs]]) -> None:
    """The names and attributes of one NAME answer, in one loop without a
    call per field: a folder of 100,000 files is 1,000 of these answers."""
    u32, u64 = _U32.unpack_from, _U64.unpack_from
    (count,) = u32(body, 0)
    pos = 4
    for _ in range(count):
        (n,) = u32(body, pos)
        name = body[pos + 4 : pos + 4 + n]
        pos += 4 + n
        (n,) = u32(body, pos)
        pos += 4 + n  # the longname, unused
        (flags,) = u32(body, pos)
        pos += 4
        size = permissions = mtime = None
        if flags & A_SIZE:
            (size,) = u64(body, pos)
            pos += 8
        if flags & A_UIDGID:
            pos += 8
        if flags & A_PERMISSIONS:
            (permissions,) = u32(body, pos)
            pos += 4
        if flags & A_ACMODTIME:
            (mtime,) = u32(body, pos + 4)
            pos += 8
        if flags & A_EXTENDED:
            r = _Reader(body)
            r.pos = pos
            for _ in range(r.u32()):
                r.string()
                r.string()
            pos = r.pos
        out.append((name.decode(errors="surrogateescape"), Attrs(size, permissions, mtime)))


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    username: str
    private_key: str
    known_hosts: str | None  # None: accept any host key (sandboxes only)


class WireChannel:
    """One ``ssh -s sftp`` process and the SFTP requests in flight over it."""

    def __init__(self, proc: asyncio.subprocess.Process, stdin: PipeWriter, secrets_dir: str):
        self._proc = proc
        self._stdin = stdin
        self._secrets_dir = secrets_dir
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._version: asyncio.Future = asyncio.get_running_loop().create_future()
        self._version.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._stdout: asyncio.BaseTransport | None = None
        self._closed: Exception | None = None
        self.max_read = self.max_write = _SAFE_LEN
        self.extensions: dict[bytes, bytes] = {}

    # --- start and stop -------------------------------------------------------
    @classmethod
    async def open(
        cls,
        target: Endpoint,
        bastion: Endpoint | None = None,
        timeout: float = 30.0,
        idle_timeout: float = 60.0,
    ) -> WireChannel:
        ssh = find_ssh()
        if ssh is None:
            raise FileNotFoundError("the OpenSSH client 'ssh' is not installed")
        secrets_dir = secrets_folder()  # 0700, named after this process
        agent: KeyAgent | None = None
        child_end, our_end = PipeWriter.new_pipe(_PIPE_SIZE)
        answers, child_out = os.pipe()
        widen(answers, _PIPE_SIZE)
        try:
            ends = [("t", target)] + ([("b", bastion)] if bastion is not None else [])
            keys = {tag: asyncssh.import_private_key(end.private_key) for tag, end in ends}
            agent = KeyAgent(secrets_dir, list(keys.values()))
            sock = await agent.__aenter__()
            times = (timeout, idle_timeout)
            argv = [ssh, *_options(target, keys["t"], secrets_dir, "t", sock, times)]
            if bastion is not None:
                jump = [
                    ssh,
                    *_options(bastion, keys["b"], secrets_dir, "b", sock, times),
                    "-W",
                    "%h:%p",
                    bastion.host,
                ]
                argv += ["-o", "ProxyCommand=" + shlex.join(jump).replace("'%h:%p'", "%h:%p")]
            argv += ["-s", target.host, "sftp"]
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=child_end,
                stdout=child_out,
                stderr=asyncio.subprocess.PIPE,
                env=_child_environment(),
            )
        except BaseException:
            if agent is not None:
                agent.close()
            shutil.rmtree(secrets_dir, ignore_errors=True)
            os.close(our_end)
            os.close(answers)
            raise
        finally:
            os.close(child_end)  # ssh holds its own copies
            os.close(child_out)
        loop = asyncio.get_running_loop()
        channel = cls(proc, PipeWriter(our_end, loop, _WRITE_BUFFER), secrets_dir)
        try:
            reader = PacketReader(channel._answer, channel._lost)
            channel._stdout, _ = await loop.connect_read_pipe(
                lambda: reader, open(answers, "rb", buffering=0)
            )
            await asyncio.wait_for(channel._handshake(), timeout)
        except BaseException:
            await channel.close()
            raise
        finally:
            # authentication is over once VERSION arrives: the agent stops
            agent.close()
            shutil.rmtree(secrets_dir, ignore_errors=True)
        return channel

    async def _handshake(self) -> None:
        self._stdin.write(_U32.pack(5) + bytes([INIT]) + _U32.pack(3))
        try:
            body = await self._version
        except ChannelClosed as e:  # what ssh said is the reason, if it said anything
            raise ChannelClosed(await self._stderr() or e.detail) from None
        r = _Reader(body)  # after the version: the extensions, name and data
        while r.pos < len(r.buf):
            name = r.string()
            self.extensions[name] = r.string()
        if b"limits@openssh.com" in self.extensions:
            r = _Reader(await self._extended(b"limits@openssh.com", b""))
            r.u64()
            self.max_read = r.u64() or _SAFE_LEN
            self.max_write = r.u64() or _SAFE_LEN

    async def _stderr(self) -> str:
        try:
            err = await asyncio.wait_for(self._proc.stderr.read(4096), 2)
        except (TimeoutError, ConnectionError):
            err = b""
        return err.decode(errors="replace").strip().splitlines()[-1:][0] if err.strip() else ""

    async def close(self) -> None:
        self._stdin.close()  # ssh sees EOF and ends
        if self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except (TimeoutError, ConnectionError, ProcessLookupError):
                self._proc.kill()
                await self._proc.wait()
        if self._stdout is not None:
            self._stdout.close()
        self._fail(ChannelClosed())
        shutil.rmtree(self._secrets_dir, ignore_errors=True)

    def abort(self) -> None:
        if self._proc.returncode is None:
            self._proc.kill()

    # --- packets ----------------------------------------------------------------
    def _answer(self, kind: int, rid: int, body: bytes) -> None:
        """A packet from the server (see ``PacketReader``) to whoever asked."""
        if not self._version.done():  # the first answer: to INIT
            if kind == VERSION:
                self._version.set_result(body)
            else:
                self._version.set_exception(WireError(-1, f"unexpected SFTP answer {kind} to INIT"))
            return
        fut = self._waiting.pop(rid, None)
        if fut is not None and not fut.done():
            fut.set_result((kind, body))

    def _lost(self, error: Exception | None) -> None:
        self._fail(ChannelClosed(str(error) if error else ""))

    def _fail(self, error: Exception) -> None:
        self._closed = self._closed or error
        if not self._version.done():
            self._version.set_exception(self._closed)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(self._closed)
        self._waiting.clear()

    def _send(
        self, kind: int, payload: bytes, data: bytes | memoryview | FileSpan = b""
    ) -> asyncio.Future:
        """Queue one request; ``data`` follows ``payload`` uncopied (a span of a
        local file is spliced into the pipe)."""
        if self._closed is None and self._stdin.error is not None:
            self._fail(ChannelClosed())  # ssh is gone
        if self._closed is not None:
            raise self._closed
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        rid = self._next_id
        fut = asyncio.get_running_loop().create_future()
        # a request nobody awaits any more (its sender failed first) stays quiet
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting[rid] = fut
        head = _HEAD.pack(5 + len(payload) + len(data), kind, rid)
        self._stdin.write(head + payload, data)
        return fut

    async def _request(self, kind: int, payload: bytes) -> tuple[int, bytes]:
        fut = self._send(kind, payload)
        await self.drain()
        return await fut

    @staticmethod
    def _status(body: bytes) -> tuple[int, str]:
        r = _Reader(body)
        code = r.u32()
        return code, r.string().decode(errors="replace")

    def _expect(self, kind: int, body: bytes, wanted: int) -> bytes:
        if kind == wanted:
            return body
        if kind == STATUS:
            code, message = self._status(body)
            raise WireError(code, message)
        raise WireError(-1, f"unexpected SFTP answer {kind}")

    async def _extended(self, name: bytes, payload: bytes) -> bytes:
        kind, body = await self._request(EXTENDED, _string(name) + payload)
        return self._expect(kind, body, EXTENDED_REPLY)

    # --- operations ---------------------------------------------------------------
    async def open_file(self, path: str, flags: int) -> bytes:
        kind, body = await self._request(
            OPEN, _string(_encoded(path)) + _U32.pack(flags) + _U32.pack(0)
        )
        return _Reader(self._expect(kind, body, HANDLE)).string()

    async def close_handle(self, handle: bytes) -> None:
        kind, body = await self._request(CLOSE, _string(handle))
        code, message = self._status(self._expect(kind, body, STATUS))
        if code != OK:
            raise WireError(code, message)

    async def fstat(self, handle: bytes) -> Attrs:
        kind, body = await self._request(FSTAT, _string(handle))
        return _Reader(self._expect(kind, body, ATTRS)).attrs()

    def read(self, handle: bytes, offset: int, length: int) -> asyncio.Future:
        """A read in flight; its result is (kind, body) for :meth:`data`."""
        return self._send(READ, _string(handle) + _U64.pack(offset) + _U32.pack(length))

    def data(self, answer: tuple[int, bytes]) -> bytes:
        """A READ's bytes (a DATA answer's body is its bytes alone), b"" at the end."""
        kind, body = answer
        if kind == DATA:
            return body
        if kind == STATUS:
            code, message = self._status(body)
            if code == EOF:
                return b""
            raise WireError(code, message)
        raise WireError(-1, f"unexpected SFTP answer {kind}")

    def write(
        self, handle: bytes, offset: int, data: bytes | memoryview | FileSpan
    ) -> asyncio.Future:
        return self._send(WRITE, _string(handle) + _U64.pack(offset) + _U32.pack(len(data)), data)

    def written(self, answer: tuple[int, bytes]) -> None:
        code, message = self._status(self._expect(*answer, STATUS))
        if code != OK:
            raise WireError(code, message)

    async def drain(self) -> None:
        try:
            await self._stdin.drain()
        except ConnectionError:
            self._fail(ChannelClosed())
            raise self._closed from None

    async def listdir(self, path: str) -> list[tuple[str, Attrs]]:
        """The folder's names and attributes. Several READDIRs stay in flight:
        OpenSSH answers at most 100 names to each, one after the other in the
        order asked, so a folder of 100,000 is not 1,000 round trips waited
        out one by one (the requests asked after the end are answered EOF)."""
        kind, body = await self._request(OPENDIR, _string(_encoded(path)))
        handle = _Reader(self._expect(kind, body, HANDLE)).string()
        out: list[tuple[str, Attrs]] = []
        asked = _string(handle)
        in_flight = collections.deque(self._send(READDIR, asked) for _ in range(READDIRS_IN_FLIGHT))
        ended = False
        try:
            while in_flight:
                kind, body = await in_flight.popleft()
                if kind == STATUS:
                    code, message = self._status(body)
                    if code != EOF:
                        raise WireError(code, message)
                    ended = True
                    continue
                _read_names(self._expect(kind, body, NAME), out)
                if not ended:
                    in_flight.append(self._send(READDIR, asked))
            return out
        finally:
            for answer in in_flight:  # an error midway: the handle closes after them
                await asyncio.wait([answer])
            await self.close_handle(handle)


def _encoded(path: str) -> bytes:
    """A name back to its bytes, the non-UTF-8 ones included (as listed)."""
    return path.encode("utf-8", "surrogateescape")


def _child_environment() -> dict[str, str]:
    """What ``ssh`` needs and nothing else: never the user's token or agent."""
    return {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}


def _options(
    end: Endpoint,
    key: asyncssh.SSHKey,
    secrets_dir: str,
    tag: str,
    agent: str,
    times: tuple[float, float],
) -> list[str]:
    timeout, idle = times
    # only the public half is written: ssh finds its private half in our agent
    public = os.path.join(secrets_dir, f"{tag}_key.pub")
    with open(public, "wb") as f:
        f.write(key.export_public_key())
    if end.known_hosts is None:
        hosts = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    else:
        kh = os.path.join(secrets_dir, f"{tag}_known_hosts")
        with open(kh, "w") as f:
            f.write(end.known_hosts)
        hosts = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={kh}"]
    return [
        "-F",
        "/dev/null",  # no user or system config
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"IdentityAgent={agent}",
        "-o",
        "PasswordAuthentication=no",
        "-o",
        "Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,"
        "chacha20-poly1305@openssh.com",
        "-o",
        "Compression=no",
        "-o",
        f"ConnectTimeout={int(timeout)}",
        "-o",
        f"ServerAliveInterval={max(1, int(idle / 4))}",
        "-o",
        "ServerAliveCountMax=4",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        *hosts,
        "-i",
        public,
        "-p",
        str(end.port),
        "-l",
        end.username,
    ]
