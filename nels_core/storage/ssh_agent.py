"""A private SSH agent inside this process, so a private key never touches disk.

The OpenSSH client (``sftp_wire``) needs the user's key while it
authenticates. Writing the key to a file left it on disk whenever the
process was interrupted at the wrong moment; instead the key stays in this
process's memory and ``ssh`` asks us to sign through a Unix socket in a 0700
folder. Only the public key and known_hosts are written, and a folder left
by a killed process is swept at the next start.

Speaks the four messages of the agent protocol ``ssh`` uses to authenticate
(draft-miller-ssh-agent): list identities, sign, and failure for the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import struct
import tempfile

import asyncssh

from .partials import process_alive

_FAILURE, _REQUEST_IDENTITIES, _IDENTITIES_ANSWER = 5, 11, 12
_SIGN_REQUEST, _SIGN_RESPONSE = 13, 14
_RSA_SHA2_256, _RSA_SHA2_512 = 2, 4
_U32 = struct.Struct(">I")
_PREFIX = "nels-ssh-"
_MAX_MESSAGE = 256 * 1024  # far above any sign request; bounds a confused peer


def _string(b: bytes) -> bytes:
    return _U32.pack(len(b)) + b


def _strings(buf: bytes, count: int) -> tuple[list[bytes], int]:
    out, pos = [], 0
    for _ in range(count):
        (n,) = _U32.unpack_from(buf, pos)
        out.append(buf[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out, pos


def secrets_folder() -> str:
    """A fresh 0700 folder named after this process, after sweeping dead ones."""
    sweep_stale()
    return tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=_root())


def _root() -> str:
    # a Unix socket path holds at most 107 bytes; deep job folders (Galaxy's
    # TMPDIR) would not fit, and a 0700 folder is as private in /tmp
    root = tempfile.gettempdir()
    return root if len(root) <= 64 else "/tmp"


def sweep_stale(root: str | None = None) -> None:
    """Remove folders of ours whose process is gone (killed before cleaning up)."""
    root = root or _root()
    try:
        names = os.listdir(root)
    except OSError:
        return
    uid = os.getuid()
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        path = os.path.join(root, name)
        pid = name[len(_PREFIX) :].split("-", 1)[0]
        try:
            if os.lstat(path).st_uid != uid or (pid.isdigit() and process_alive(int(pid))):
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


class KeyAgent:
    """Serves ``keys`` on ``<folder>/agent`` while the ``async with`` lasts."""

    def __init__(self, folder: str, keys: list[asyncssh.SSHKey]):
        self.path = os.path.join(folder, "agent")
        self._keys = {k.public_data: k for k in keys}
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_unix_server(self._serve, path=self.path)
        return self.path

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (n,) = _U32.unpack(await reader.readexactly(4))
                if not 0 < n <= _MAX_MESSAGE:
                    return
                message = await reader.readexactly(n)
                writer.write(self._answer(message[0], message[1:]))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer(self, kind: int, body: bytes) -> bytes:
        if kind == _REQUEST_IDENTITIES:
            listed = b"".join(_string(blob) + _string(b"nels-bundle") for blob in self._keys)
            reply = bytes([_IDENTITIES_ANSWER]) + _U32.pack(len(self._keys)) + listed
        elif kind == _SIGN_REQUEST:
            reply = self._sign(body)
        else:
            reply = bytes([_FAILURE])
        return _U32.pack(len(reply)) + reply

    def _sign(self, body: bytes) -> bytes:
        try:
            (blob, data), pos = _strings(body, 2)
            (flags,) = _U32.unpack_from(body, pos)
        except struct.error:
            return bytes([_FAILURE])
        key = self._keys.get(blob)
        if key is None:
            return bytes([_FAILURE])
        algorithm = key.algorithm
        if algorithm == b"ssh-rsa":
            if flags & _RSA_SHA2_512:
                algorithm = b"rsa-sha2-512"
            elif flags & _RSA_SHA2_256:
                algorithm = b"rsa-sha2-256"
        try:
            signature = key.sign(data, algorithm)
        except ValueError:
            return bytes([_FAILURE])
        return bytes([_SIGN_RESPONSE]) + _string(signature)
