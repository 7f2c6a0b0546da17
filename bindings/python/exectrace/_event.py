"""Event and Stats: immutable Python views of what the library reports."""

from __future__ import annotations

import ctypes
import enum
import os
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple

from . import _ffi


class EventFlag(enum.IntFlag):
    """Bits of :attr:`Event.flags` (``EXECTRACE_EVENT_*``)."""

    ARGV_TRUNCATED = _ffi.EVENT_ARGV_TRUNCATED
    """argv was cut at the tracer's argv budget or at ``ARGV_MAX``."""
    FILENAME_TRUNCATED = _ffi.EVENT_FILENAME_TRUNCATED
    """The filename was cut."""
    INTERP_TRUNCATED = _ffi.EVENT_INTERP_TRUNCATED
    """The interpreter path was cut."""
    FAILED = _ffi.EVENT_FAILED
    """The exec failed; ``result`` is -errno."""
    HAS_INTERP = _ffi.EVENT_HAS_INTERP
    """A script or binfmt_misc program: ``interpreter`` is set."""
    ARGV_FAULT = _ffi.EVENT_ARGV_FAULT
    """argv memory could not be read."""
    COMM_AFTER_EXEC = _ffi.EVENT_COMM_AFTER_EXEC
    """The pre-exec name was missed: ``comm`` is the new name."""
    ARGC_LOWER_BOUND = _ffi.EVENT_ARGC_LOWER_BOUND
    """Failed exec: ``argc`` and ``argv_size`` are lower bounds."""
    TRUNCATED = _ffi.EVENT_TRUNCATED
    """Any truncation flag: the event is not complete."""


def _header_field(i: int, doc: str) -> property:
    """A read-only attribute: item i of the record's unpacked header."""

    def get(self: "Event") -> int:
        return self._h[i]  # type: ignore[no-any-return]

    return property(get, doc=doc)


# struct exectrace_batch_record (exectrace.h), native byte order. Only the
# first 128 bytes: fields a newer library appends after them are skipped.
_HEADER = struct.Struct("=IIIiQQQ18I16s")
assert _HEADER.size == ctypes.sizeof(_ffi.exectrace_batch_record)
_SIZE, _FLAGS, _RESULT, _SEQ, _TS, _CGROUP = 0, 2, 3, 4, 5, 6
_PID, _TID, _PPID, _UID, _GID, _EUID, _EGID, _PIDNS = range(7, 15)
_ARGC, _ARGV_SIZE, _ARGV_COUNT, _ARGV_LEN = range(15, 19)
_FILENAME_OFF, _FILENAME_LEN, _INTERP_OFF, _INTERP_LEN, _ARGV_OFF = range(19, 24)
_COMM = 25


class Event:
    """One exec, as reported by the kernel. Immutable.

    Strings are kept as ``bytes`` (lossless: Linux paths and arguments are
    arbitrary bytes); the ``*_str`` properties decode them like
    :func:`os.fsdecode` (undecodable bytes become surrogate escapes, and
    ``os.fsencode`` gives the bytes back).

    An event keeps its record as the library wrote it (a few hundred
    bytes) and decodes each field when it is first read: ``argv`` is split
    once, on first use.
    """

    __slots__ = ("_h", "_rec", "_argv")

    #: The field names, in the order of ``repr``.
    FIELDS = (
        "seq", "timestamp_ns", "cgroup_id", "pid", "tid", "ppid", "uid", "gid",
        "euid", "egid", "pid_ns", "result", "argc", "argv_size", "flags",
        "truncated", "failed", "comm", "filename", "interpreter", "argv",
    )  # fmt: skip

    def __init__(self, header: tuple, record: bytes) -> None:
        self._h = header
        self._rec = record
        self._argv: Optional[Tuple[bytes, ...]] = None

    seq = _header_field(_SEQ, "Per-tracer sequence number; a gap means dropped (and counted) events.")
    timestamp_ns = _header_field(
        _TS,
        "Time of the exec, ``CLOCK_BOOTTIME`` nanoseconds"
        " (compare with ``time.clock_gettime_ns(time.CLOCK_BOOTTIME)``).",
    )
    cgroup_id = _header_field(_CGROUP, "cgroup v2 id of the process (the inode of its cgroup directory).")
    pid = _header_field(_PID, "Process id after exec (initial pid namespace).")
    tid = _header_field(_TID, "Thread that called exec.")
    ppid = _header_field(_PPID, "Parent process id.")
    uid = _header_field(_UID, "Real user id.")
    gid = _header_field(_GID, "Real group id.")
    euid = _header_field(_EUID, "Effective user id after exec.")
    egid = _header_field(_EGID, "Effective group id after exec.")
    pid_ns = _header_field(_PIDNS, "Inode of the process's pid namespace.")
    result = _header_field(_RESULT, "0, or -errno of a failed exec.")
    argc = _header_field(_ARGC, "True argument count (may exceed ``len(argv)`` when truncated).")
    argv_size = _header_field(_ARGV_SIZE, "True argv size in bytes, NULs included.")
    flags = _header_field(_FLAGS, ":class:`EventFlag` bits.")
    argv_count = _header_field(_ARGV_COUNT, "Strings captured in ``argv`` (the C field ``argv_count``).")
    argv_len = _header_field(
        _ARGV_LEN, "Bytes of the captured argv block, NULs included (the C ``argv_len``)."
    )

    @property
    def truncated(self) -> bool:
        """argv, filename or interpreter was cut: the event is not complete."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_TRUNCATED)

    @property
    def failed(self) -> bool:
        """The exec failed (only reported with ``include_failed=True``)."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_FAILED)

    @property
    def comm(self) -> bytes:
        """Name of the calling process before exec (at most 15 bytes)."""
        return self._h[_COMM].split(b"\0", 1)[0]

    @property
    def filename(self) -> bytes:
        """Path as passed to exec."""
        off = self._h[_FILENAME_OFF]
        return self._rec[off : off + self._h[_FILENAME_LEN]]

    @property
    def interpreter(self) -> bytes:
        """Interpreter of a script; ``b""`` if none."""
        off = self._h[_INTERP_OFF]
        return self._rec[off : off + self._h[_INTERP_LEN]]

    @property
    def argv(self) -> Tuple[bytes, ...]:
        """The arguments, ``argv[0]`` included, as captured."""
        argv = self._argv
        if argv is None:
            h = self._h
            n = h[_ARGV_LEN]
            if n:
                off = h[_ARGV_OFF]
                # argv_count NUL-terminated strings back to back.
                argv = tuple(self._rec[off : off + n - 1].split(b"\0"))
            else:
                argv = ()
            self._argv = argv
        return argv

    @property
    def argv_str(self) -> Tuple[str, ...]:
        """``argv`` decoded with :func:`os.fsdecode`."""
        return tuple(os.fsdecode(a) for a in self.argv)

    @property
    def comm_str(self) -> str:
        """``comm`` decoded with :func:`os.fsdecode`."""
        return os.fsdecode(self.comm)

    @property
    def filename_str(self) -> str:
        """``filename`` decoded with :func:`os.fsdecode`."""
        return os.fsdecode(self.filename)

    @property
    def interpreter_str(self) -> str:
        """``interpreter`` decoded with :func:`os.fsdecode`."""
        return os.fsdecode(self.interpreter)

    @property
    def errno(self) -> int:
        """The errno of a failed exec, else 0."""
        r = self._h[_RESULT]
        return -r if r < 0 else 0

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Event(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in self.FIELDS) + ")"

    def __reduce__(self) -> tuple:
        return (Event, (self._h, self._rec))


def events_from_batch(buf: memoryview, count: int) -> List[Event]:
    """The first `count` records of a buffer filled by exectrace_read_batch.

    Each event gets a copy of its own record, so that it does not keep the
    buffer (reused by the next read) or its neighbours alive.
    """
    unpack = _HEADER.unpack_from
    out = []
    append = out.append
    off = 0
    for _ in range(count):
        h = unpack(buf, off)
        end = off + h[_SIZE]
        append(Event(h, buf[off:end].tobytes()))
        off = end
    return out


@dataclass(frozen=True)
class Stats:
    """Counters of a tracer."""

    events: int
    """Events returned by reads."""
    drops: int
    """Events the kernel could not deliver (ring buffer full)."""
    malformed: int
    """Records that failed to decode (a bug if ever non-zero)."""
