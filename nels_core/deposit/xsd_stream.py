"""ENA's schemas checked as a stream by the system's libxml2, through ctypes.

lxml builds a tree of each document and then validates it, and hands the GIL
back and forth between the two steps; on a deposit of 10,000 samples that is
most of ``ena prepare``'s time. libxml2 can validate while it parses, building
no tree at all, and a ctypes call lets go of the GIL for all of it, so the
check runs on the second core while Python builds the next documents: 0.07
CPU-s for a 13 MB RUN document, against 0.16 s with lxml.

It only says whether a document is valid. A document it passes is sent
(tests/test_ena_xsd_stream.py shows it judges ENA documents and hundreds of
mutations of them as lxml does); one it refuses is checked again with lxml,
which names each problem and its line, and whose verdict then stands.
Absent (``StreamSchema.load`` returns None) where the system has no
libxml2: lxml checks alone then, as before.
"""

from __future__ import annotations

import ctypes
import queue
import threading
from pathlib import Path
from types import SimpleNamespace

_V = ctypes.c_void_p
_NO_ENCODING = 0  # XML_CHAR_ENCODING_NONE: libxml2 reads the declaration
# a no-op for libxml2's error messages, which would otherwise go to stderr;
# it runs only for a document that is not valid (then lxml tells why)
_ERROR_FUNC = ctypes.CFUNCTYPE(None, _V, _V)
_SILENT = _ERROR_FUNC(lambda _ctx, _error: None)

_lock = threading.RLock()  # load() compiles, which loads the library
_library: list = []  # [the loaded libxml2 or None], once tried


def libxml2():
    """The system's libxml2 with the calls used here declared, or None."""
    with _lock:
        if not _library:
            _library.append(_load())
        return _library[0]


# (result, arguments) of the calls used; the long ones let go of the GIL (a
# ctypes.CDLL call), the quick ones keep it (ctypes.PyDLL): taking the GIL back
# after a call waits for the thread that holds it, up to 5 ms each time
_LONG = {
    "xmlSchemaParse": (_V, [_V]),
    "xmlSchemaValidateStream": (ctypes.c_int, [_V, _V, ctypes.c_int, _V, _V]),
}
_QUICK = {
    "xmlSchemaNewParserCtxt": (_V, [ctypes.c_char_p]),
    "xmlSchemaFreeParserCtxt": (None, [_V]),
    "xmlSchemaNewValidCtxt": (_V, [_V]),
    "xmlSchemaSetParserStructuredErrors": (None, [_V, _ERROR_FUNC, _V]),
    "xmlSchemaSetValidStructuredErrors": (None, [_V, _ERROR_FUNC, _V]),
    "xmlSetStructuredErrorFunc": (None, [_V, _ERROR_FUNC]),
    "xmlParserInputBufferCreateMem": (_V, [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]),
}


def _load():
    name = "libxml2.so.2"  # Debian's soname; find_library would run ldconfig
    try:
        released, held = ctypes.CDLL(name), ctypes.PyDLL(name)
    except OSError:
        return None
    calls = SimpleNamespace()
    try:
        for declared, library in ((_LONG, released), (_QUICK, held)):
            for call_name, (result, args) in declared.items():
                call = getattr(library, call_name)
                call.restype, call.argtypes = result, args
                setattr(calls, call_name, call)
    except AttributeError:  # a libxml2 built without schemas
        return None
    held.xmlInitParser()  # once, before any thread uses it
    return calls


class StreamSchema:
    """One compiled schema, shared by the threads that check against it, each
    check with a validation context of its own (lent from a pool)."""

    _compiled: dict[Path, StreamSchema | None] = {}

    @classmethod
    def load(cls, path: Path) -> StreamSchema | None:
        """The schema in ``path`` (its imports beside it), compiled once per
        process; None when there is no libxml2 or it cannot compile it."""
        with _lock:
            if path not in cls._compiled:
                cls._compiled[path] = cls._compile(path)
            return cls._compiled[path]

    @classmethod
    def _compile(cls, path: Path) -> StreamSchema | None:
        lib = libxml2()
        if lib is None:
            return None
        parsing = lib.xmlSchemaNewParserCtxt(str(path).encode())
        if not parsing:
            return None
        lib.xmlSchemaSetParserStructuredErrors(parsing, _SILENT, None)
        schema = lib.xmlSchemaParse(parsing)
        lib.xmlSchemaFreeParserCtxt(parsing)
        return cls(lib, schema) if schema else None

    def __init__(self, lib, schema: int):
        self._lib = lib
        self._schema = schema  # kept for the process's life, as lxml's are
        self._contexts: queue.SimpleQueue = queue.SimpleQueue()

    def valid(self, document: bytes) -> bool:
        """Whether ``document`` is well-formed and valid; the GIL is free meanwhile."""
        lib = self._lib
        try:
            context = self._contexts.get_nowait()
        except queue.Empty:
            context = lib.xmlSchemaNewValidCtxt(self._schema)
            lib.xmlSchemaSetValidStructuredErrors(context, _SILENT, None)
        try:
            lib.xmlSetStructuredErrorFunc(None, _SILENT)  # parse errors, this thread's
            # a copy of the bytes, which the parse frees with its input
            source = lib.xmlParserInputBufferCreateMem(document, len(document), _NO_ENCODING)
            return (
                bool(source)
                and lib.xmlSchemaValidateStream(context, source, _NO_ENCODING, None, None) == 0
            )
        finally:
            self._contexts.put(context)
