"""Tracer: the Python face of an ``exectrace *`` handle."""

from __future__ import annotations

import ctypes
import errno as _errno
import math
import os
import threading
import time
from collections import deque
from typing import Deque, Dict, Iterator, Optional, Union

from . import _ffi
from ._errors import TracerClosed, error_from
from ._event import Event, Stats, events_from_batch

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_U32_MAX = 0xFFFF_FFFF
_INT_MAX = 0x7FFF_FFFF
# A blocking read on the main thread waits in slices this long while no
# event comes, so that Ctrl-C (KeyboardInterrupt) and other signal handlers
# run promptly: Python runs them only between bytecodes, never inside a
# foreign call. (Events end a wait at once: not a cost per event.)
_MAIN_THREAD_SLICE_MS = 200
# The batch buffer's first size; it grows when one event needs more.
_BATCH_BUF_SIZE = 256 << 10


def _u32(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _U32_MAX:
        raise ValueError(f"{name} must be in 0..{_U32_MAX}, not {value}")
    return value


def get_pid_ns() -> int:
    """The inode of the calling process's pid namespace.

    Pass it as ``Tracer(pid_ns=...)`` to see only this namespace and its
    descendants; compare it with :attr:`Event.pid_ns`.
    """
    out = ctypes.c_uint32()
    rc = _ffi.lib().exectrace_pid_ns(ctypes.byref(out))
    if rc < 0:
        raise error_from(rc, "exectrace_pid_ns")
    return out.value


def version() -> str:
    """The version of the loaded libexectrace, e.g. ``"0.1.0"``."""
    return str(_ffi.lib().exectrace_version().decode())


class Tracer:
    """Reports every exec on the host (subject to the filters) as an :class:`Event`.

    Creating a tracer loads and attaches a BPF program: it needs root, or
    CAP_BPF and CAP_PERFMON. Tracing starts at once; events wait in a ring
    buffer until read. Signals that arrive while the kernel verifies the
    program (milliseconds) are handled right after.

    Args:
        pid_ns: only this pid namespace (an inode, see :func:`get_pid_ns`)
            and its descendants. ``None`` (or 0): all.
        uid: only execs with this real uid. ``None``: all.
        cgroup: only this cgroup v2 directory (e.g.
            ``"/sys/fs/cgroup/system.slice"``) and its descendants.
        include_failed: also report exec attempts that failed
            (:attr:`Event.failed`, :attr:`Event.result` = -errno).
        argv_budget: argv bytes captured per exec (default 32768).
        ring_size: ring-buffer bytes, a power of two (default 4 MiB).
        wakeup_latency: longest delay, in seconds, before a waiting reader
            is woken (default 0.004); 0 wakes it on every event (lowest
            latency, most CPU).
        fallback_hooks: use the hooks meant for kernels before 6.10 even
            on newer ones (testing).
        include_env: also capture each new process's environment
            (:attr:`Event.env`). Off by default: environments often hold
            secrets.
        env_budget: environment bytes captured per exec with
            ``include_env`` (default 32768, at most 2 MiB); beyond it
            :attr:`Event.env_truncated` is set.
        paths: also resolve :attr:`Event.exe_path` (the file that runs,
            symlinks resolved) and :attr:`Event.cwd` in the kernel (costs
            per path component).

    Raises:
        PermissionError: (an :class:`ExectraceError`) without the
            privileges; the message names the missing capabilities.
        ExectraceError: any other failure, with its errno and message.
        ValueError, TypeError: a bad argument.

    Use:

    - ``with Tracer() as t: for ev in t: ...`` — iteration blocks for the
      next event and ends when the tracer is closed (also from another
      thread).
    - :meth:`read` with a timeout.
    - :meth:`fileno` in ``selectors``/``asyncio``: when it polls readable,
      call ``read(timeout=0)`` until it returns ``None``.

    Events are read from the library in batches (one call takes every
    event that is ready, into one buffer per tracer) and handed out one by
    one. A tracer may be shared between threads: each event goes to one
    reader, and
    :meth:`close` from any thread wakes a blocked :meth:`read`, which
    raises :class:`TracerClosed`. Do not use a tracer in a child after
    ``os.fork()``: create a new one there.
    """

    def __init__(
        self,
        pid_ns: Optional[int] = None,
        uid: Optional[int] = None,
        cgroup: Optional[PathLike] = None,
        include_failed: bool = False,
        argv_budget: Optional[int] = None,
        ring_size: Optional[int] = None,
        wakeup_latency: Optional[float] = None,
        *,
        fallback_hooks: bool = False,
        include_env: bool = False,
        env_budget: Optional[int] = None,
        paths: bool = False,
    ) -> None:
        # Set first, so that __del__ works if anything below raises.
        self._handle: Optional[ctypes.c_void_p] = None
        self._closed = True
        self._cond = threading.Condition(threading.Lock())
        self._calls = 0  # calls into the library on this handle, in flight
        self._callers: Dict[int, int] = {}  # thread ident -> calls in flight
        self._read_lock = threading.Lock()  # serialises batch reads into self._buf
        # Decoded events not yet returned. Filled under _read_lock, taken
        # without it (deque.popleft is atomic).
        self._queue: Deque[Event] = deque()

        opts = _ffi.exectrace_opts()
        opts.size = ctypes.sizeof(opts)
        flags = 0
        if include_failed:
            flags |= _ffi.OPT_INCLUDE_FAILED
        if fallback_hooks:
            flags |= _ffi.OPT_FALLBACK_HOOKS
        if include_env:
            flags |= _ffi.OPT_INCLUDE_ENV
        if paths:
            flags |= _ffi.OPT_PATHS
        if env_budget is not None:
            opts.env_budget = _u32("env_budget", env_budget)
        if pid_ns is not None:
            opts.pid_ns = _u32("pid_ns", pid_ns)
        if uid is not None:
            opts.uid = _u32("uid", uid)
            flags |= _ffi.OPT_FILTER_UID
        if cgroup is not None:
            path = os.fsencode(cgroup)
            if b"\0" in path:
                raise ValueError("cgroup path contains a NUL byte")
            opts.cgroup_path = path  # the struct keeps the bytes alive
        if argv_budget is not None:
            opts.argv_budget = _u32("argv_budget", argv_budget)
        if ring_size is not None:
            opts.ring_size = _u32("ring_size", ring_size)
        if wakeup_latency is not None:
            if isinstance(wakeup_latency, bool) or not isinstance(wakeup_latency, (int, float)):
                raise TypeError("wakeup_latency must be a number of seconds")
            if not wakeup_latency >= 0 or math.isinf(wakeup_latency):
                raise ValueError(f"wakeup_latency must be >= 0 seconds, not {wakeup_latency}")
            if wakeup_latency == 0:
                flags |= _ffi.OPT_WAKE_PER_EVENT
            else:
                us = max(1, round(wakeup_latency * 1_000_000))
                opts.wakeup_latency_us = _u32("wakeup_latency (µs)", us)
        opts.flags = flags

        lib = _ffi.lib()
        handle = _ffi.Handle()
        rc = lib.exectrace_new(ctypes.byref(opts), ctypes.byref(handle))
        if rc < 0:
            raise error_from(rc, "cannot start tracing")
        self._buf = (ctypes.c_uint64 * (_BATCH_BUF_SIZE // 8))()  # 8-byte aligned
        # The batch read's out-parameter, made once rather than per read.
        self._needed = ctypes.c_size_t()
        self._needed_ref = ctypes.byref(self._needed)
        self._batches = 0  # batch reads that returned events
        self._handle = handle
        self._closed = False

    # --- calls into the library -----------------------------------------

    def _enter(self) -> ctypes.c_void_p:
        """Count a call in flight and return the handle, or raise if closed."""
        with self._cond:
            if self._closed or self._handle is None:
                raise TracerClosed()
            self._calls += 1
            me = threading.get_ident()
            self._callers[me] = self._callers.get(me, 0) + 1
            return self._handle

    def _exit(self) -> None:
        """End a call; the last one out after close() frees the handle."""
        free = None
        with self._cond:
            self._calls -= 1
            me = threading.get_ident()
            left = self._callers[me] - 1
            if left:
                self._callers[me] = left
            else:
                del self._callers[me]
            if self._closed:
                if self._calls == 0 and self._handle is not None:
                    free, self._handle = self._handle, None
                # Only close() waits, and only once closed is set: an open
                # tracer's reads skip the notify.
                self._cond.notify_all()
        if free is not None:
            # No call is in flight and none can start: closed is set.
            _ffi.lib().exectrace_close(free)

    # --- reading ----------------------------------------------------------

    def read(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting at most ``timeout`` seconds.

        ``None`` waits as long as it takes; ``0`` does not wait. Returns
        ``None`` when the time ran out (or, with ``timeout=0``, when no
        event is ready).

        Raises:
            TracerClosed: the tracer was closed, before or during the call
                (e.g. by :meth:`close` from another thread).
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError("timeout must be a number of seconds or None")
            if not timeout >= 0:
                raise ValueError(f"timeout must be >= 0 seconds, not {timeout}")
        if self._closed:
            raise TracerClosed()
        try:
            return self._queue.popleft()
        except IndexError:
            return self._read_batch(timeout)

    def _read_batch(self, timeout: Optional[float]) -> Optional[Event]:
        """Wait for a batch of events, queue them, return the first."""
        if timeout is not None:
            deadline: Optional[float] = time.monotonic() + timeout
            if not self._read_lock.acquire(timeout=min(timeout, threading.TIMEOUT_MAX)):
                if self._closed:
                    raise TracerClosed()
                return None
        else:
            deadline = None
            self._read_lock.acquire()
        try:
            # Another reader may have queued a batch meanwhile.
            if self._queue:
                return self._queue.popleft()
            handle = self._enter()
            try:
                n = self._read_into(handle, timeout, deadline)
                if n == 0:
                    return None
                if n == -_errno.ECANCELED:
                    raise TracerClosed()
                if n < 0:
                    raise error_from(n, "read")
            finally:
                self._exit()
            self._batches += 1
            events = events_from_batch(memoryview(self._buf).cast("B"), n)
            self._queue.extend(events[1:])
            return events[0]
        finally:
            self._read_lock.release()

    def _read_into(
        self, handle: ctypes.c_void_p, timeout: Optional[float], deadline: Optional[float]
    ) -> int:
        """One batch read into self._buf: the count, 0 when the time ran
        out, or -errno."""
        if timeout == 0:
            return self._read_batch_once(handle, 0)
        main = threading.current_thread() is threading.main_thread()
        if deadline is None and not main:
            return self._read_batch_once(handle, -1)
        while True:
            if deadline is None:
                ms = _MAIN_THREAD_SLICE_MS
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0
                ms = min(math.ceil(left * 1000), _INT_MAX)
                if main:
                    ms = min(ms, _MAIN_THREAD_SLICE_MS)
            rc = self._read_batch_once(handle, ms)
            if rc != 0:
                return rc
            # The time or a slice ran out: let signal handlers run, then
            # wait again (the check above ends a timed read).

    def _read_batch_once(self, handle: ctypes.c_void_p, ms: int) -> int:
        read_batch = _ffi.lib().exectrace_read_batch
        needed = self._needed  # only used under _read_lock
        while True:
            buf = self._buf
            rc = int(read_batch(handle, buf, ctypes.sizeof(buf), ms, self._needed_ref))
            if rc != -_errno.ENOSPC:
                return rc
            # One event needs a bigger buffer; it waits in the ring for it.
            self._buf = (ctypes.c_uint64 * ((needed.value + 7) // 8))()

    def __iter__(self) -> Iterator[Event]:
        """Events as they come; the loop ends when the tracer is closed."""
        if self._closed:
            raise TracerClosed()
        return self._events()

    def _events(self) -> Iterator[Event]:
        # read() without its per-call argument checks: queued events first,
        # none once closed (as read() raises then even with some queued).
        popleft = self._queue.popleft
        while not self._closed:
            try:
                ev = popleft()
            except IndexError:
                try:
                    ev = self._read_batch(None)
                except TracerClosed:
                    return
                if ev is None:
                    continue
            yield ev

    # --- other calls ------------------------------------------------------

    def fileno(self) -> int:
        """A file descriptor that polls readable when events may be ready.

        For ``selectors``, ``select``, or ``asyncio``'s ``loop.add_reader``:
        after it polls readable, call ``read(timeout=0)`` until it returns
        ``None``. It also polls readable once the tracer is closed. The fd
        belongs to the tracer: do not close it, and unregister it before
        :meth:`close`.
        """
        handle = self._enter()
        try:
            rc = int(_ffi.lib().exectrace_fd(handle))
            if rc < 0:
                raise error_from(rc, "fileno")
            return rc
        finally:
            self._exit()

    def program_fd(self) -> int:
        """The fd of the loaded BPF program (for introspection, e.g. bpftool)."""
        handle = self._enter()
        try:
            rc = int(_ffi.lib().exectrace_prog_fd(handle))
            if rc < 0:
                raise error_from(rc, "program_fd")
            return rc
        finally:
            self._exit()

    def stats(self) -> Stats:
        """The tracer's counters: events read, drops, malformed records."""
        st = _ffi.exectrace_stats()
        st.size = ctypes.sizeof(st)
        handle = self._enter()
        try:
            rc = _ffi.lib().exectrace_get_stats(handle, ctypes.byref(st))
            if rc < 0:
                raise error_from(rc, "stats")
        finally:
            self._exit()
        return Stats(events=st.events, drops=st.drops, malformed=st.malformed)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop tracing and free the tracer. Idempotent; any thread.

        Reads blocked in other threads wake up and raise
        :class:`TracerClosed`, as does every later use. Returns once the
        library's handle is freed (unless called from inside a call on
        this tracer on the same thread, e.g. a signal handler: then the
        handle is freed as that call returns).
        """
        with self._cond:
            if self._handle is None:
                self._closed = True
                return
            self._closed = True
            # Count this call so the handle outlives the shutdown below.
            self._calls += 1
            me = threading.get_ident()
            self._callers[me] = self._callers.get(me, 0) + 1
            handle = self._handle
        try:
            # Wakes every blocked read: they return -ECANCELED and leave.
            _ffi.lib().exectrace_shutdown(handle)
        finally:
            self._exit()
        with self._cond:
            me = threading.get_ident()
            while self._handle is not None and me not in self._callers:
                self._cond.wait()

    def __enter__(self) -> "Tracer":
        if self._closed:
            raise TracerClosed()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if getattr(self, "_handle", None) is not None:
                self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<exectrace.Tracer {'closed' if self._closed else 'open'}>"
