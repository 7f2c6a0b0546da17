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
    AUDIT_UNKNOWN = _ffi.EVENT_AUDIT_UNKNOWN
    """No audit support in the kernel: ``loginuid``/``sessionid`` unknown."""
    EXE_MEMFD = _ffi.EVENT_EXE_MEMFD
    """The program runs from a memfd (fileless execution)."""
    TTY_TRUNCATED = _ffi.EVENT_TTY_TRUNCATED
    """The tty's name was longer than kept: ``tty`` is its start."""
    HAS_ENV = _ffi.EVENT_HAS_ENV
    """The environment was asked for (``include_env=True``)."""
    ENV_TRUNCATED = _ffi.EVENT_ENV_TRUNCATED
    """The environment was cut at its budget."""
    ENV_FAULT = _ffi.EVENT_ENV_FAULT
    """The environment's memory could not be read."""
    HAS_PATHS = _ffi.EVENT_HAS_PATHS
    """The paths were asked for (``paths=True``)."""
    EXE_PATH_CUT = _ffi.EVENT_EXE_PATH_CUT
    """``exe_path`` was beyond the kernel walk's bounds."""
    EXE_PATH_UNRESOLVED = _ffi.EVENT_EXE_PATH_UNRESOLVED
    """``exe_path`` cannot be named from the task's root (memfd, chroot)."""
    EXE_DELETED = _ffi.EVENT_EXE_DELETED
    """The file that runs had been deleted."""
    CWD_CUT = _ffi.EVENT_CWD_CUT
    """``cwd`` was beyond the kernel walk's bounds."""
    CWD_UNRESOLVED = _ffi.EVENT_CWD_UNRESOLVED
    """``cwd`` cannot be named from the task's root."""
    CWD_DELETED = _ffi.EVENT_CWD_DELETED
    """The working directory had been removed."""
    EXE_UPPER_LAYER = _ffi.EVENT_EXE_UPPER_LAYER
    """The program file is in an overlayfs upper layer."""
    EXE_UPPER_UNKNOWN = _ffi.EVENT_EXE_UPPER_UNKNOWN
    """The program file is on overlayfs; its layer is unknown here."""
    TRUNCATED = _ffi.EVENT_TRUNCATED
    """Any truncation flag: the event is not complete."""


def _header_field(i: int, doc: str) -> property:
    """A read-only attribute: item i of the record's unpacked header."""
    if i >= _LOGINUID:  # an appended field

        def get(self: "Event") -> int:
            return self._h[i]  # type: ignore[no-any-return]

    else:

        def get(self: "Event") -> int:
            return (self._hdr or self._unpack())[i]  # type: ignore[no-any-return]

    return property(get, doc=doc)


# struct exectrace_batch_record (exectrace.h), native byte order: its
# first release's 128 bytes (_HEADER), then the fields appended since
# (_EXT, up to 192 bytes), present when hdr_size covers them. Fields a
# newer library appends after them are skipped.
_R = _ffi.exectrace_batch_record
_HEADER = struct.Struct("=IIIiQQQ18I16s")
assert _HEADER.size == _R.loginuid.offset
_EXT = struct.Struct("=IIQQ10I")
_FULL_SIZE = _HEADER.size + _EXT.size
assert _FULL_SIZE == ctypes.sizeof(_R)
# argv needs only argv_len and argv_off: one small unpack, not the header's.
_ARGV_AT = _R.argv_len.offset
_argv_len_off = struct.Struct(f"=I{_R.argv_off.offset - _ARGV_AT - 4}xI").unpack_from
_SIZE, _FLAGS, _RESULT, _SEQ, _TS, _CGROUP = 0, 2, 3, 4, 5, 6
_PID, _TID, _PPID, _UID, _GID, _EUID, _EGID, _PIDNS = range(7, 15)
_ARGC, _ARGV_SIZE, _ARGV_COUNT, _ARGV_LEN = range(15, 19)
_FILENAME_OFF, _FILENAME_LEN, _INTERP_OFF, _INTERP_LEN, _ARGV_OFF = range(19, 24)
_COMM = 25
_HDR_SIZE = 1
_LOGINUID, _SESSIONID, _EXE_INODE, _EXE_DEV = 26, 27, 28, 29
_ENV_SIZE, _ENV_COUNT, _ENV_LEN, _ENV_OFF = 30, 31, 32, 33
_EXE_PATH_OFF, _EXE_PATH_LEN, _CWD_OFF, _CWD_LEN, _TTY_OFF, _TTY_LEN = range(34, 40)
# The appended fields of a record without them (an older library).
_NO_EXT = (_ffi.AUDIT_UNSET, _ffi.AUDIT_UNSET) + (0,) * 12
_UNKNOWN_AUDIT = _ffi.EVENT_AUDIT_UNKNOWN
_UPPER_UNKNOWN = _ffi.EVENT_EXE_UPPER_UNKNOWN


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

    # Unpacked when first read (most loops read only argv, which unpacks
    # its own two fields): _hdr the first 128 bytes' fields, _full all
    # (with the appended ones, fewer read), None until then.
    __slots__ = ("_hdr", "_full", "_rec", "_argv", "_env")

    #: The field names, in the order of ``repr``.
    FIELDS = (
        "seq", "timestamp_ns", "cgroup_id", "pid", "tid", "ppid", "uid", "gid",
        "euid", "egid", "pid_ns", "result", "argc", "argv_size", "flags",
        "truncated", "failed", "comm", "filename", "interpreter", "argv",
        "exe_path", "cwd", "loginuid", "sessionid", "tty", "exe_inode", "exe_dev",
        "exe_memfd", "exe_upper_layer", "env", "env_size", "env_truncated",
    )  # fmt: skip

    def __init__(self, header: tuple, record: bytes) -> None:
        self._hdr: Optional[tuple] = header
        self._full: Optional[tuple] = header
        self._rec = record
        self._argv: Optional[Tuple[bytes, ...]] = None
        self._env: Optional[Tuple[bytes, ...]] = None

    def _unpack(self) -> tuple:
        """The fields of the first 128 bytes, unpacked once."""
        h = self._hdr = _HEADER.unpack_from(self._rec)
        return h

    @property
    def _h(self) -> tuple:
        """The whole header; the appended fields read as unset in a record
        of an older library (hdr_size 128). The fields of the first 128
        bytes read ``self._hdr or self._unpack()`` instead: cheaper."""
        full = self._full
        if full is None:
            rec = self._rec
            h = self._hdr or self._unpack()
            if h[_HDR_SIZE] >= _FULL_SIZE and len(rec) >= _FULL_SIZE:
                full = h + _EXT.unpack_from(rec, _HEADER.size)
            else:
                full = h + _NO_EXT
            self._full = full
        return full

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
        return bool((self._hdr or self._unpack())[_FLAGS] & _ffi.EVENT_TRUNCATED)

    @property
    def failed(self) -> bool:
        """The exec failed (only reported with ``include_failed=True``)."""
        return bool((self._hdr or self._unpack())[_FLAGS] & _ffi.EVENT_FAILED)

    @property
    def comm(self) -> bytes:
        """Name of the calling process before exec (at most 15 bytes)."""
        return (self._hdr or self._unpack())[_COMM].split(b"\0", 1)[0]

    @property
    def filename(self) -> bytes:
        """Path as passed to exec."""
        h = self._hdr or self._unpack()
        off = h[_FILENAME_OFF]
        return self._rec[off : off + h[_FILENAME_LEN]]

    @property
    def interpreter(self) -> bytes:
        """Interpreter of a script; ``b""`` if none."""
        h = self._hdr or self._unpack()
        off = h[_INTERP_OFF]
        return self._rec[off : off + h[_INTERP_LEN]]

    @property
    def argv(self) -> Tuple[bytes, ...]:
        """The arguments, ``argv[0]`` included, as captured."""
        argv = self._argv
        if argv is None:
            rec = self._rec
            n, off = _argv_len_off(rec, _ARGV_AT)
            argv = self._argv = _split(rec, n, off)
        return argv

    def _rich(self) -> bool:
        """The record has the appended fields (a library as new as this)."""
        return bool((self._hdr or self._unpack())[_HDR_SIZE] >= _FULL_SIZE)

    def _str_at(self, off: int, length: int) -> bytes:
        h = self._h
        o = h[off]
        return self._rec[o : o + h[length]]

    @property
    def loginuid(self) -> Optional[int]:
        """Audit login uid (``/proc/PID/loginuid``), 4294967295 when unset;
        ``None`` when the kernel has no audit support."""
        if not self._rich() or self._h[_FLAGS] & _UNKNOWN_AUDIT:
            return None
        return self._h[_LOGINUID]  # type: ignore[no-any-return]

    @property
    def sessionid(self) -> Optional[int]:
        """Audit session id (``/proc/PID/sessionid``); ``None`` as ``loginuid``."""
        if not self._rich() or self._h[_FLAGS] & _UNKNOWN_AUDIT:
            return None
        return self._h[_SESSIONID]  # type: ignore[no-any-return]

    exe_inode = _header_field(_EXE_INODE, "Inode of the file that runs, as ``os.stat``'s ``st_ino``.")
    exe_dev = _header_field(_EXE_DEV, "Device of the file that runs, as ``os.stat``'s ``st_dev``.")
    env_size = _header_field(_ENV_SIZE, "True environment size in bytes, NULs included; 0 unless asked.")

    @property
    def tty(self) -> bytes:
        """Controlling terminal, named as under /dev (``b"pts/3"``); ``b""`` if none."""
        return self._str_at(_TTY_OFF, _TTY_LEN)

    @property
    def tty_str(self) -> str:
        """``tty`` decoded with :func:`os.fsdecode`."""
        return os.fsdecode(self.tty)

    @property
    def exe_memfd(self) -> bool:
        """The program runs from a memfd (fileless execution)."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_EXE_MEMFD)

    @property
    def exe_upper_layer(self) -> Optional[bool]:
        """The program file is in an overlayfs upper layer (added or changed
        in a container after it started); ``None`` for an overlayfs file
        whose layer this kernel cannot tell."""
        f = self._h[_FLAGS]
        if not self._rich() or f & _UPPER_UNKNOWN:
            return None
        return bool(f & _ffi.EVENT_EXE_UPPER_LAYER)

    def _path(self, off: int, length: int, not_whole: int) -> Optional[bytes]:
        f = self._h[_FLAGS]
        if not self._rich() or not f & _ffi.EVENT_HAS_PATHS or f & not_whole:
            return None
        return self._str_at(off, length)

    @property
    def exe_path(self) -> Optional[bytes]:
        """With ``paths=True``: the absolute path of the file that runs,
        symlinks resolved, as /proc/PID/exe names it (relative to the
        task's root). ``None`` when not asked, cut or unresolved: never a
        wrong or partial path."""
        return self._path(
            _EXE_PATH_OFF, _EXE_PATH_LEN, _ffi.EVENT_EXE_PATH_CUT | _ffi.EVENT_EXE_PATH_UNRESOLVED
        )

    @property
    def exe_path_str(self) -> Optional[str]:
        """``exe_path`` decoded with :func:`os.fsdecode`."""
        p = self.exe_path
        return None if p is None else os.fsdecode(p)

    @property
    def cwd(self) -> Optional[bytes]:
        """With ``paths=True``: the working directory at exec; ``None`` as ``exe_path``."""
        return self._path(_CWD_OFF, _CWD_LEN, _ffi.EVENT_CWD_CUT | _ffi.EVENT_CWD_UNRESOLVED)

    @property
    def cwd_str(self) -> Optional[str]:
        """``cwd`` decoded with :func:`os.fsdecode`."""
        p = self.cwd
        return None if p is None else os.fsdecode(p)

    @property
    def exe_path_cut(self) -> bool:
        """``exe_path`` was beyond the kernel walk's bounds (it is ``None``)."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_EXE_PATH_CUT)

    @property
    def cwd_cut(self) -> bool:
        """``cwd`` was beyond the kernel walk's bounds (it is ``None``)."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_CWD_CUT)

    @property
    def exe_deleted(self) -> bool:
        """The file that runs had been deleted (``exe_path`` is the name it had)."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_EXE_DELETED)

    @property
    def cwd_deleted(self) -> bool:
        """The working directory had been removed."""
        return bool(self._h[_FLAGS] & _ffi.EVENT_CWD_DELETED)

    @property
    def env(self) -> Optional[Tuple[bytes, ...]]:
        """With ``include_env=True``: the environment (``b"NAME=value"``
        strings) as captured; ``None`` when not asked."""
        if not self._rich() or not self._h[_FLAGS] & _ffi.EVENT_HAS_ENV:
            return None
        env = self._env
        if env is None:
            h = self._h
            env = self._env = _split(self._rec, h[_ENV_LEN], h[_ENV_OFF])
        return env

    @property
    def env_str(self) -> Optional[Tuple[str, ...]]:
        """``env`` decoded with :func:`os.fsdecode`."""
        env = self.env
        return None if env is None else tuple(os.fsdecode(e) for e in env)

    @property
    def env_truncated(self) -> bool:
        """``env`` is only a prefix (cut at ``env_budget``) or could not be read."""
        return bool(self._h[_FLAGS] & (_ffi.EVENT_ENV_TRUNCATED | _ffi.EVENT_ENV_FAULT))

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
        r = (self._hdr or self._unpack())[_RESULT]
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


def _split(rec: bytes, length: int, off: int) -> Tuple[bytes, ...]:
    """The NUL-terminated strings back to back at rec[off:off + length]."""
    if not length:
        return ()
    return tuple(rec[off : off + length - 1].split(b"\0"))


def events_from_batch(buf: memoryview, count: int) -> List[Event]:
    """The first `count` records of a buffer filled by exectrace_read_batch.

    Each event gets a copy of its own record, so that it does not keep the
    buffer (reused by the next read) or its neighbours alive.
    """
    # Not Event(): __init__ is a Python call per event; the header is
    # unpacked only if a field asks for it.
    new = Event.__new__
    # Records are 8-aligned and start with their size: index the buffer's
    # u32s rather than unpack each size.
    words = buf[: len(buf) & ~3].cast("I")
    out = []
    append = out.append
    off = 0
    for _ in range(count):
        end = off + words[off >> 2]
        ev = new(Event)
        ev._hdr = ev._full = ev._argv = ev._env = None
        ev._rec = buf[off:end].tobytes()
        append(ev)
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
