"""Event and Stats: immutable Python copies of the C structures."""

from __future__ import annotations

import ctypes
import enum
import os
from dataclasses import dataclass
from typing import Tuple

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


@dataclass(frozen=True)
class Event:
    """One exec, as reported by the kernel.

    Strings are kept as ``bytes`` (lossless: Linux paths and arguments are
    arbitrary bytes); the ``*_str`` properties decode them like
    :func:`os.fsdecode` (undecodable bytes become surrogate escapes, and
    ``os.fsencode`` gives the bytes back).
    """

    seq: int
    """Per-tracer sequence number; a gap means dropped (and counted) events."""
    timestamp_ns: int
    """Time of the exec, ``CLOCK_BOOTTIME`` nanoseconds
    (compare with ``time.clock_gettime_ns(time.CLOCK_BOOTTIME)``)."""
    cgroup_id: int
    """cgroup v2 id of the process (the inode of its cgroup directory)."""
    pid: int
    """Process id after exec (initial pid namespace)."""
    tid: int
    """Thread that called exec."""
    ppid: int
    """Parent process id."""
    uid: int
    """Real user id."""
    gid: int
    """Real group id."""
    euid: int
    """Effective user id after exec."""
    egid: int
    """Effective group id after exec."""
    pid_ns: int
    """Inode of the process's pid namespace."""
    result: int
    """0, or -errno of a failed exec."""
    argc: int
    """True argument count (may exceed ``len(argv)`` when truncated)."""
    argv_size: int
    """True argv size in bytes, NULs included."""
    flags: int
    """:class:`EventFlag` bits."""
    truncated: bool
    """argv, filename or interpreter was cut: the event is not complete."""
    failed: bool
    """The exec failed (only reported with ``include_failed=True``)."""
    comm: bytes
    """Name of the calling process before exec (at most 15 bytes)."""
    filename: bytes
    """Path as passed to exec."""
    interpreter: bytes
    """Interpreter of a script; ``b""`` if none."""
    argv: Tuple[bytes, ...]
    """The arguments, ``argv[0]`` included, as captured."""

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
    def argv_count(self) -> int:
        """Strings captured in ``argv`` (the C field ``argv_count``)."""
        return len(self.argv)

    @property
    def argv_len(self) -> int:
        """Bytes of the captured argv block, NULs included (the C ``argv_len``)."""
        return sum(len(a) + 1 for a in self.argv)

    @property
    def errno(self) -> int:
        """The errno of a failed exec, else 0."""
        return -self.result if self.result < 0 else 0


_ARGV_OFFSET = _ffi.exectrace_event.argv.offset


def event_from_c(ev: _ffi.exectrace_event) -> Event:
    """Copy a filled C event into an :class:`Event`."""
    n = ev.argv_len
    if n:
        n = min(n, _ffi.ARGV_MAX)
        raw = ctypes.string_at(ctypes.addressof(ev) + _ARGV_OFFSET, n)
        # argv_count NUL-terminated strings back to back.
        argv = tuple(raw[:-1].split(b"\0")) if raw.endswith(b"\0") else tuple(raw.split(b"\0"))
    else:
        argv = ()
    flags = ev.flags
    return Event(
        seq=ev.seq,
        timestamp_ns=ev.timestamp_ns,
        cgroup_id=ev.cgroup_id,
        pid=ev.pid,
        tid=ev.tid,
        ppid=ev.ppid,
        uid=ev.uid,
        gid=ev.gid,
        euid=ev.euid,
        egid=ev.egid,
        pid_ns=ev.pid_ns,
        result=ev.result,
        argc=ev.argc,
        argv_size=ev.argv_size,
        flags=flags,
        truncated=bool(flags & _ffi.EVENT_TRUNCATED),
        failed=bool(flags & _ffi.EVENT_FAILED),
        comm=ev.comm,
        filename=ev.filename,
        interpreter=ev.interpreter,
        argv=argv,
    )


@dataclass(frozen=True)
class Stats:
    """Counters of a tracer."""

    events: int
    """Events returned by reads."""
    drops: int
    """Events the kernel could not deliver (ring buffer full)."""
    malformed: int
    """Records that failed to decode (a bug if ever non-zero)."""
