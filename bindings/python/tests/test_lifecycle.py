"""Timeouts, closing (also from another thread), use after close,
iteration, context manager, errors."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

import exectrace
from _util import IDLE_UID, TRUE, marker, spawn, spawn_as_idle, wait_blocked, wait_for


def test_read_timeout_returns_none(tracer) -> None:
    t = tracer(uid=IDLE_UID)  # nothing on the host runs as this uid
    start = time.monotonic()
    assert t.read(timeout=0.3) is None
    took = time.monotonic() - start
    assert 0.29 <= took < 5
    start = time.monotonic()
    assert t.read(timeout=0) is None
    assert time.monotonic() - start < 1


def test_read_timeout_in_worker_thread(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    out: list = []
    th = threading.Thread(target=lambda: out.append(t.read(timeout=0.2)))
    th.start()
    th.join(10)
    assert out == [None]


def test_bad_timeout(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    with pytest.raises(ValueError):
        t.read(timeout=-1)
    with pytest.raises(TypeError):
        t.read(timeout="1")  # type: ignore[arg-type]


def _assert_closed_error(e: BaseException) -> None:
    assert isinstance(e, exectrace.TracerClosed)
    assert isinstance(e, exectrace.ExectraceError) and isinstance(e, OSError)
    assert e.errno == errno.ECANCELED
    assert "closed" in str(e)


def test_close_from_another_thread_wakes_blocked_read(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    result: list = []

    def reader() -> None:
        try:
            result.append(t.read())  # blocks: no event will come
        except BaseException as e:  # noqa: BLE001
            result.append(e)

    th = threading.Thread(target=reader)
    th.start()
    wait_blocked(th.native_id, in_epoll=True)
    assert th.is_alive(), f"read returned early: {result}"
    start = time.monotonic()
    t.close()
    th.join(5)
    assert not th.is_alive(), "close did not wake the blocked read"
    assert time.monotonic() - start < 5
    assert len(result) == 1
    _assert_closed_error(result[0])


def _when_blocked(native_id: int, action) -> threading.Thread:
    """A thread that runs `action` once thread `native_id` is blocked in the
    library's read."""

    def run() -> None:
        wait_blocked(native_id, in_epoll=True)
        action()

    th = threading.Thread(target=run)
    th.start()
    return th


def test_close_from_another_thread_wakes_main_thread_read(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    closer = _when_blocked(threading.get_native_id(), t.close)
    with pytest.raises(exectrace.TracerClosed) as info:
        t.read()
    closer.join(10)
    assert not closer.is_alive()
    _assert_closed_error(info.value)


def test_close_ends_iteration_in_another_thread(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    done = threading.Event()

    def loop() -> None:
        for _ in t:
            pass
        done.set()

    th = threading.Thread(target=loop)
    th.start()
    wait_blocked(th.native_id, in_epoll=True)
    assert not done.is_set()
    t.close()
    th.join(5)
    assert done.is_set()


def test_use_after_close(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    assert not t.closed
    t.close()
    t.close()  # idempotent
    assert t.closed
    for call in (t.read, lambda: t.read(timeout=0), lambda: t.read(timeout=1), t.fileno, t.stats, t.program_fd, lambda: iter(t)):
        with pytest.raises(exectrace.TracerClosed) as info:
            call()
        _assert_closed_error(info.value)
    with pytest.raises(exectrace.TracerClosed):
        with t:
            pass


def test_many_threads_reading_while_closing(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    errors: list = []

    def reader(timeout) -> None:
        try:
            while True:
                t.read(timeout=timeout)
        except exectrace.TracerClosed:
            pass
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(tmo,)) for tmo in (None, None, 0.01, 0, 0.05)]
    for th in threads:
        th.start()
    # Both blocking readers inside: one in the library, one on the lock
    # in front of it (the others poll).
    for th in threads[:2]:
        wait_blocked(th.native_id)
    closers = [threading.Thread(target=t.close) for _ in range(3)]
    for c in closers:
        c.start()
    for th in threads + closers:
        th.join(10)
        assert not th.is_alive()
    assert not errors
    assert t._handle is None


def test_iteration_with_context_manager(bpf) -> None:
    mark = marker("iter")
    with exectrace.Tracer() as t:
        spawn([TRUE, mark])
        deadline = time.monotonic() + 10
        for ev in t:
            assert isinstance(ev, exectrace.Event)
            if mark in ev.argv:
                break
            assert time.monotonic() < deadline, "marker not seen"
        assert not t.closed
    assert t.closed
    with pytest.raises(exectrace.TracerClosed):
        t.read(timeout=0)


def test_fileno_is_stable_and_pollable(tracer) -> None:
    import selectors

    t = tracer()
    fd = t.fileno()
    assert fd >= 0 and fd == t.fileno()
    mark = marker("sel")
    with selectors.DefaultSelector() as sel:
        sel.register(t, selectors.EVENT_READ)  # uses t.fileno()
        spawn([TRUE, mark])
        deadline = time.monotonic() + 10
        found = False
        while not found and time.monotonic() < deadline:
            if not sel.select(timeout=1):
                continue
            while True:
                ev = t.read(timeout=0)
                if ev is None:
                    break
                found = found or mark in ev.argv
        sel.unregister(t)
    assert found


def test_invalid_options() -> None:
    with pytest.raises(ValueError):
        exectrace.Tracer(uid=-1)
    with pytest.raises(ValueError):
        exectrace.Tracer(pid_ns=1 << 32)
    with pytest.raises(TypeError):
        exectrace.Tracer(uid="root")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        exectrace.Tracer(wakeup_latency=-0.1)


def test_library_rejects_bad_ring_size(bpf) -> None:
    with pytest.raises(exectrace.ExectraceError) as info:
        exectrace.Tracer(ring_size=12345)
    assert info.value.errno == errno.EINVAL
    assert "ring_size" in str(info.value)


def test_wakeup_latency_options(tracer) -> None:
    for lat in (0, 0.001, 0.05):
        t = tracer(wakeup_latency=lat)
        mark = marker("lat")
        spawn([TRUE, mark])
        wait_for(t, mark)


def test_permission_error_names_capabilities(bpf) -> None:
    """Without capabilities, creating a tracer raises PermissionError that
    says which capabilities are missing."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to drop capabilities")
    code = (
        "import exectrace\n"
        "try:\n"
        "    exectrace.Tracer()\n"
        "except PermissionError as e:\n"
        "    assert isinstance(e, exectrace.ExectraceError)\n"
        "    print('PermissionError', e.errno, e)\n"
        "else:\n"
        "    print('created')\n"
    )
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(exectrace.__file__))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--", sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"PermissionError {errno.EPERM} "), out.stdout
    assert "CAP_BPF" in out.stdout and "CAP_PERFMON" in out.stdout


def test_version_and_pid_ns() -> None:
    assert exectrace.version().count(".") >= 2
    assert exectrace.get_pid_ns() == os.stat("/proc/self/ns/pid").st_ino


class _Interrupted(Exception):
    pass


@pytest.fixture
def signal_when_blocked():
    """Send SIGALRM, handled by `handler`, to the main thread once it is
    blocked in the library's read (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled on the main thread only")
    old = signal.getsignal(signal.SIGALRM)
    senders: list = []
    main = threading.main_thread().ident

    def arm(handler) -> None:
        signal.signal(signal.SIGALRM, handler)
        send = lambda: signal.pthread_kill(main, signal.SIGALRM)  # noqa: E731
        senders.append(_when_blocked(threading.get_native_id(), send))

    yield arm
    for th in senders:
        th.join(10)
    signal.signal(signal.SIGALRM, old)


def test_signal_interrupts_blocking_read_on_main_thread(tracer, signal_when_blocked) -> None:
    """Like Ctrl-C: a Python signal handler runs during a blocking read."""
    t = tracer(uid=IDLE_UID)

    def handler(signum, frame):
        raise _Interrupted()

    signal_when_blocked(handler)
    start = time.monotonic()
    with pytest.raises(_Interrupted):
        t.read()
    assert time.monotonic() - start < 3
    # The tracer is still usable: no call counted in flight, lock released.
    assert t._calls == 0
    assert t.read(timeout=0) is None
    mark = marker("after-signal")
    spawn_as_idle([TRUE, mark])
    assert wait_for(t, mark).uid == IDLE_UID


def test_close_from_signal_handler_during_read(tracer, signal_when_blocked) -> None:
    t = tracer(uid=IDLE_UID)
    signal_when_blocked(lambda signum, frame: t.close())
    with pytest.raises(exectrace.TracerClosed):
        t.read()
    assert t.closed and t._handle is None


def test_library_found_through_library_path(tmp_path) -> None:
    """Without EXECTRACE_LIBRARY the library is found as libexectrace.so.0
    through the dynamic linker's search path."""
    from exectrace import _ffi

    loaded = _ffi.lib()._name
    env = dict(os.environ)
    env.pop("EXECTRACE_LIBRARY", None)
    if os.path.isabs(loaded):
        env["LD_LIBRARY_PATH"] = os.path.dirname(loaded) + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    pkg_parent = os.path.dirname(os.path.dirname(exectrace.__file__))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    code = "import exectrace, exectrace._ffi as f; print(exectrace.version(), f.lib()._name)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [exectrace.version(), "libexectrace.so.0"]


def test_bad_library_path_is_a_clear_error(tmp_path) -> None:
    env = dict(os.environ, EXECTRACE_LIBRARY=str(tmp_path / "nope.so"))
    pkg_parent = os.path.dirname(os.path.dirname(exectrace.__file__))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    code = (
        "import exectrace\n"
        "try:\n"
        "    exectrace.get_pid_ns()\n"
        "except OSError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "EXECTRACE_LIBRARY" in out.stdout and "nope.so" in out.stdout


def test_loads_while_signalled(bpf) -> None:
    """The kernel's verifier gives up when the loading thread has a signal
    pending; a load holds signals back and they are handled after it."""
    handled = []
    old = signal.signal(signal.SIGUSR1, lambda *_: handled.append(1))
    main = threading.get_ident()
    stop = threading.Event()
    sent = [0]

    def shower() -> None:
        while not stop.is_set():
            signal.pthread_kill(main, signal.SIGUSR1)
            sent[0] += 1

    th = threading.Thread(target=shower)
    th.start()
    try:
        for _ in range(5):
            exectrace.Tracer(uid=IDLE_UID).close()
    finally:
        stop.set()
        th.join()
        signal.signal(signal.SIGUSR1, old)
    assert sent[0] > 100, f"only {sent[0]} signals sent: the test did not do what it says"
    assert handled, "no signal was handled"
