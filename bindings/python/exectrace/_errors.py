"""Exceptions: every library error is an OSError subclass with the errno."""

from __future__ import annotations

import errno as _errno
from typing import Dict, Type

from . import _ffi


class ExectraceError(OSError):
    """Base class of the errors raised by this package.

    ``errno`` is the library's error number and ``strerror`` its message
    for the calling thread (``exectrace_last_error``).
    """


class TracerClosed(ExectraceError):
    """The tracer was closed (``errno.ECANCELED``).

    Raised by a read that was blocked while another thread closed the
    tracer, and by any use of a tracer after ``close()``.
    """

    def __init__(self, *args: object) -> None:
        if not args:
            args = (_errno.ECANCELED, "tracer closed")
        super().__init__(*args)


class ExectracePermissionError(ExectraceError, PermissionError):
    """Not allowed to load the BPF program: needs root, or CAP_BPF and
    CAP_PERFMON (or the kernel is locked down)."""


class ExectraceNotFoundError(ExectraceError, FileNotFoundError):
    """Something named in the options (e.g. the cgroup directory) does not exist."""


class ExectraceTimeoutError(ExectraceError, TimeoutError):
    """A timed operation ran out of time."""


class ExectraceUnsupportedError(ExectraceError):
    """The kernel cannot run the tracer (Linux 5.8+ with BTF is needed)."""


_BY_ERRNO: Dict[int, Type[ExectraceError]] = {
    _errno.ECANCELED: TracerClosed,
    _errno.EPERM: ExectracePermissionError,
    _errno.EACCES: ExectracePermissionError,
    _errno.ENOENT: ExectraceNotFoundError,
    _errno.ETIMEDOUT: ExectraceTimeoutError,
    _errno.EOPNOTSUPP: ExectraceUnsupportedError,
}


def error_from(code: int, what: str = "") -> ExectraceError:
    """Build the exception for a negative return code of the library.

    Call it on the thread that made the failing call, right after it: the
    library's message is per thread.
    """
    err = -code if code < 0 else code
    msg = _ffi.last_error() or _ffi.strerror(code) or _errno.errorcode.get(err, "error")
    if err in (_errno.EPERM, _errno.EACCES) and "CAP_" not in msg:
        msg = f"{msg} (needs root, or CAP_BPF and CAP_PERFMON)"
    if what:
        msg = f"{what}: {msg}"
    cls = _BY_ERRNO.get(err, ExectraceError)
    return cls(err, msg)
