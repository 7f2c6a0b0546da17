"""ctypes declarations for libexectrace's C ABI (include/exectrace.h).

The structures mirror the C header field for field; tests/test_layout.py
compiles a C program against the header and compares sizes, offsets and
constants with what is declared here. Every function gets ``argtypes`` and
``restype``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import Optional

# --- constants (EXECTRACE_* in exectrace.h) ---------------------------------

OPT_INCLUDE_FAILED = 1 << 0
OPT_FILTER_UID = 1 << 1
OPT_WAKE_PER_EVENT = 1 << 2
OPT_FALLBACK_HOOKS = 1 << 3
OPT_INCLUDE_ENV = 1 << 4
OPT_PATHS = 1 << 5

EVENT_ARGV_TRUNCATED = 1 << 0
EVENT_FILENAME_TRUNCATED = 1 << 1
EVENT_INTERP_TRUNCATED = 1 << 2
EVENT_FAILED = 1 << 3
EVENT_HAS_INTERP = 1 << 4
EVENT_ARGV_FAULT = 1 << 5
EVENT_COMM_AFTER_EXEC = 1 << 6
EVENT_ARGC_LOWER_BOUND = 1 << 7
EVENT_AUDIT_UNKNOWN = 1 << 8
EVENT_EXE_MEMFD = 1 << 9
EVENT_TTY_TRUNCATED = 1 << 10
EVENT_HAS_ENV = 1 << 11
EVENT_ENV_TRUNCATED = 1 << 12
EVENT_ENV_FAULT = 1 << 13
EVENT_HAS_PATHS = 1 << 14
EVENT_EXE_PATH_CUT = 1 << 15
EVENT_EXE_PATH_UNRESOLVED = 1 << 16
EVENT_EXE_DELETED = 1 << 17
EVENT_CWD_CUT = 1 << 18
EVENT_CWD_UNRESOLVED = 1 << 19
EVENT_CWD_DELETED = 1 << 20
EVENT_EXE_UPPER_LAYER = 1 << 21
EVENT_EXE_UPPER_UNKNOWN = 1 << 22
EVENT_TRUNCATED = 0x8000_0000

COMM_LEN = 16
PATH_LEN = 4096
ARGV_MAX = 32768
RESOLVED_PATH_LEN = 4608
TTY_LEN = 32
ENV_MAX = 32768
AUDIT_UNSET = 4294967295
RECORD_ALIGN = 8

#: C constant name -> value, for the layout test.
CONSTANTS = {
    "EXECTRACE_OPT_INCLUDE_FAILED": OPT_INCLUDE_FAILED,
    "EXECTRACE_OPT_FILTER_UID": OPT_FILTER_UID,
    "EXECTRACE_OPT_WAKE_PER_EVENT": OPT_WAKE_PER_EVENT,
    "EXECTRACE_OPT_FALLBACK_HOOKS": OPT_FALLBACK_HOOKS,
    "EXECTRACE_OPT_INCLUDE_ENV": OPT_INCLUDE_ENV,
    "EXECTRACE_OPT_PATHS": OPT_PATHS,
    "EXECTRACE_EVENT_ARGV_TRUNCATED": EVENT_ARGV_TRUNCATED,
    "EXECTRACE_EVENT_FILENAME_TRUNCATED": EVENT_FILENAME_TRUNCATED,
    "EXECTRACE_EVENT_INTERP_TRUNCATED": EVENT_INTERP_TRUNCATED,
    "EXECTRACE_EVENT_FAILED": EVENT_FAILED,
    "EXECTRACE_EVENT_HAS_INTERP": EVENT_HAS_INTERP,
    "EXECTRACE_EVENT_ARGV_FAULT": EVENT_ARGV_FAULT,
    "EXECTRACE_EVENT_COMM_AFTER_EXEC": EVENT_COMM_AFTER_EXEC,
    "EXECTRACE_EVENT_ARGC_LOWER_BOUND": EVENT_ARGC_LOWER_BOUND,
    "EXECTRACE_EVENT_AUDIT_UNKNOWN": EVENT_AUDIT_UNKNOWN,
    "EXECTRACE_EVENT_EXE_MEMFD": EVENT_EXE_MEMFD,
    "EXECTRACE_EVENT_TTY_TRUNCATED": EVENT_TTY_TRUNCATED,
    "EXECTRACE_EVENT_HAS_ENV": EVENT_HAS_ENV,
    "EXECTRACE_EVENT_ENV_TRUNCATED": EVENT_ENV_TRUNCATED,
    "EXECTRACE_EVENT_ENV_FAULT": EVENT_ENV_FAULT,
    "EXECTRACE_EVENT_HAS_PATHS": EVENT_HAS_PATHS,
    "EXECTRACE_EVENT_EXE_PATH_CUT": EVENT_EXE_PATH_CUT,
    "EXECTRACE_EVENT_EXE_PATH_UNRESOLVED": EVENT_EXE_PATH_UNRESOLVED,
    "EXECTRACE_EVENT_EXE_DELETED": EVENT_EXE_DELETED,
    "EXECTRACE_EVENT_CWD_CUT": EVENT_CWD_CUT,
    "EXECTRACE_EVENT_CWD_UNRESOLVED": EVENT_CWD_UNRESOLVED,
    "EXECTRACE_EVENT_CWD_DELETED": EVENT_CWD_DELETED,
    "EXECTRACE_EVENT_EXE_UPPER_LAYER": EVENT_EXE_UPPER_LAYER,
    "EXECTRACE_EVENT_EXE_UPPER_UNKNOWN": EVENT_EXE_UPPER_UNKNOWN,
    "EXECTRACE_EVENT_TRUNCATED": EVENT_TRUNCATED,
    "EXECTRACE_COMM_LEN": COMM_LEN,
    "EXECTRACE_PATH_LEN": PATH_LEN,
    "EXECTRACE_ARGV_MAX": ARGV_MAX,
    "EXECTRACE_RESOLVED_PATH_LEN": RESOLVED_PATH_LEN,
    "EXECTRACE_TTY_LEN": TTY_LEN,
    "EXECTRACE_ENV_MAX": ENV_MAX,
    "EXECTRACE_AUDIT_UNSET": AUDIT_UNSET,
    "EXECTRACE_RECORD_ALIGN": RECORD_ALIGN,
}

# --- structures -------------------------------------------------------------


class exectrace_opts(Structure):
    """struct exectrace_opts."""

    _fields_ = [
        ("size", c_uint32),
        ("flags", c_uint32),
        ("pid_ns", c_uint32),
        ("uid", c_uint32),
        ("cgroup_path", c_char_p),
        ("argv_budget", c_uint32),
        ("ring_size", c_uint32),
        ("wakeup_latency_us", c_uint32),
        ("reserved", c_uint32),
        ("env_budget", c_uint32),
        ("reserved2", c_uint32),
    ]


#: The run of fields that struct exectrace_event and struct
#: exectrace_batch_record share, in this order.
_PROCESS_FIELDS = [
    ("seq", c_uint64),
    ("timestamp_ns", c_uint64),
    ("cgroup_id", c_uint64),
    ("pid", c_uint32),
    ("tid", c_uint32),
    ("ppid", c_uint32),
    ("uid", c_uint32),
    ("gid", c_uint32),
    ("euid", c_uint32),
    ("egid", c_uint32),
    ("pid_ns", c_uint32),
]

#: The argv counts, which come later in both, in this order.
_ARGV_FIELDS = [
    ("argc", c_uint32),
    ("argv_size", c_uint32),
    ("argv_count", c_uint32),
    ("argv_len", c_uint32),
]


#: The fields appended after the first release that both share, in this
#: order, after the first release's fields.
_RICH_FIELDS = [
    ("loginuid", c_uint32),
    ("sessionid", c_uint32),
    ("exe_inode", c_uint64),
    ("exe_dev", c_uint64),
    ("env_size", c_uint32),
    ("env_count", c_uint32),
    ("env_len", c_uint32),
]


class exectrace_event(Structure):
    """struct exectrace_event (about 80 KiB: allocate once, reuse)."""

    _fields_ = [
        ("size", c_uint32),
        ("flags", c_uint32),
        *_PROCESS_FIELDS,
        ("result", c_int32),
        *_ARGV_FIELDS,
        ("reserved", c_uint32),
        ("comm", c_char * COMM_LEN),
        ("filename", c_char * PATH_LEN),
        ("interpreter", c_char * PATH_LEN),
        ("argv", c_char * ARGV_MAX),
        *_RICH_FIELDS,
        ("reserved2", c_uint32),
        ("tty", c_char * TTY_LEN),
        ("exe_path", c_char * RESOLVED_PATH_LEN),
        ("cwd", c_char * RESOLVED_PATH_LEN),
        ("env", c_char * ENV_MAX),
    ]


class exectrace_stats(Structure):
    """struct exectrace_stats."""

    _fields_ = [
        ("size", c_uint32),
        ("reserved", c_uint32),
        ("events", c_uint64),
        ("drops", c_uint64),
        ("malformed", c_uint64),
    ]


class exectrace_batch_record(Structure):
    """struct exectrace_batch_record: the fixed header of one record that
    exectrace_read_batch writes (its strings follow, at the offsets)."""

    _fields_ = [
        ("size", c_uint32),
        ("hdr_size", c_uint32),
        ("flags", c_uint32),
        ("result", c_int32),
        *_PROCESS_FIELDS,
        *_ARGV_FIELDS,
        ("filename_off", c_uint32),
        ("filename_len", c_uint32),
        ("interp_off", c_uint32),
        ("interp_len", c_uint32),
        ("argv_off", c_uint32),
        ("reserved", c_uint32),
        ("comm", c_char * COMM_LEN),
        *_RICH_FIELDS,
        ("env_off", c_uint32),
        ("exe_path_off", c_uint32),
        ("exe_path_len", c_uint32),
        ("cwd_off", c_uint32),
        ("cwd_len", c_uint32),
        ("tty_off", c_uint32),
        ("tty_len", c_uint32),
    ]


#: The opaque `exectrace *` handle.
Handle = c_void_p

#: C structure name -> ctypes class, for the layout test.
STRUCTS = {
    "exectrace_opts": exectrace_opts,
    "exectrace_event": exectrace_event,
    "exectrace_stats": exectrace_stats,
    "exectrace_batch_record": exectrace_batch_record,
}

#: Every function of exectrace.h: name -> (restype, argtypes).
PROTOTYPES = {
    "exectrace_new": (c_int, [POINTER(exectrace_opts), POINTER(Handle)]),
    "exectrace_read": (c_int, [Handle, POINTER(exectrace_event)]),
    "exectrace_read_timeout": (c_int, [Handle, POINTER(exectrace_event), c_int]),
    "exectrace_read_batch": (c_int, [Handle, c_void_p, c_size_t, c_int, POINTER(c_size_t)]),
    "exectrace_fd": (c_int, [Handle]),
    "exectrace_prog_fd": (c_int, [Handle]),
    "exectrace_get_stats": (c_int, [Handle, POINTER(exectrace_stats)]),
    "exectrace_shutdown": (c_int, [Handle]),
    "exectrace_close": (None, [Handle]),
    "exectrace_last_error": (c_int, [POINTER(c_char), c_size_t]),
    "exectrace_strerror": (c_char_p, [c_int]),
    "exectrace_version": (c_char_p, []),
    "exectrace_pid_ns": (c_int, [POINTER(c_uint32)]),
}

# --- loading ----------------------------------------------------------------

SONAME = "libexectrace.so.0"

_lib: Optional[ctypes.CDLL] = None
_lib_lock = threading.Lock()


def _open() -> ctypes.CDLL:
    """Load libexectrace, the first found of (README.md, "Which library"):
    ``$EXECTRACE_LIBRARY`` (an explicit choice: an error if it fails), the
    copy bundled in this package (built with it, so it matches these
    declarations), the system's ``libexectrace.so.0`` (dynamic loader path),
    ``ctypes.util.find_library``."""
    path = os.environ.get("EXECTRACE_LIBRARY")
    if path:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            raise OSError(
                e.errno or 2, f"cannot load EXECTRACE_LIBRARY={path!r}: {e}"
            ) from None
    bundled = os.path.join(os.path.dirname(os.path.abspath(__file__)), SONAME)
    if os.path.exists(bundled):
        try:
            return ctypes.CDLL(bundled)
        except OSError:
            pass  # e.g. a wheel on an older glibc: try the system's
    try:
        return ctypes.CDLL(SONAME)
    except OSError as first:
        found = ctypes.util.find_library("exectrace")
        if found:
            try:
                return ctypes.CDLL(found)
            except OSError:
                pass
        raise OSError(
            2,
            f"cannot load {SONAME} ({first}); install the package with its copy "
            "(`pip install ./bindings/python`), install libexectrace "
            "(`make install`, then ldconfig) or set EXECTRACE_LIBRARY to its path",
        ) from None


def lib() -> ctypes.CDLL:
    """The loaded library with every prototype declared (loaded once)."""
    global _lib
    if _lib is not None:
        return _lib
    with _lib_lock:
        if _lib is None:
            dll = _open()
            for name, (restype, argtypes) in PROTOTYPES.items():
                fn = getattr(dll, name)
                fn.restype = restype
                fn.argtypes = argtypes
            _lib = dll
    return _lib


def last_error() -> str:
    """The calling thread's last error message from the library ("" if none)."""
    dll = lib()
    buf = ctypes.create_string_buffer(512)
    n = dll.exectrace_last_error(buf, len(buf))
    if n >= len(buf):
        buf = ctypes.create_string_buffer(n + 1)
        n = dll.exectrace_last_error(buf, len(buf))
    if n <= 0:
        return ""
    return buf.value.decode("utf-8", "replace")


def strerror(code: int) -> str:
    """The library's static description of a return code."""
    s = lib().exectrace_strerror(code)
    return s.decode("utf-8", "replace") if s else ""
