"""exectrace: every exec on a Linux host as an event (Python binding of libexectrace).

A pure-Python (ctypes) binding of the C library ``libexectrace.so.0``:
``$EXECTRACE_LIBRARY``, else the copy the package bundles, else the system's
(README.md, "Which library")::

    import exectrace

    with exectrace.Tracer() as t:
        for ev in t:
            print(ev.pid, ev.filename_str, *ev.argv_str)

Needs root, or CAP_BPF and CAP_PERFMON.
"""

from ._errors import (
    ExectraceError,
    ExectraceNotFoundError,
    ExectracePermissionError,
    ExectraceTimeoutError,
    ExectraceUnsupportedError,
    TracerClosed,
)
from ._event import Event, EventFlag, Stats
from ._ffi import ARGV_MAX, COMM_LEN, PATH_LEN
from ._tracer import Tracer, get_pid_ns, version

__all__ = [
    "Tracer",
    "Event",
    "EventFlag",
    "Stats",
    "get_pid_ns",
    "version",
    "ExectraceError",
    "ExectracePermissionError",
    "ExectraceNotFoundError",
    "ExectraceTimeoutError",
    "ExectraceUnsupportedError",
    "TracerClosed",
    "ARGV_MAX",
    "COMM_LEN",
    "PATH_LEN",
]

__version__ = "0.1.0"
