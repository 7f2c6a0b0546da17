"""Events from processes spawned by the tests carry exactly what was exec'd."""

from __future__ import annotations

import ctypes
import errno
import os
import time
from pathlib import Path

import pytest

import exectrace
from _util import IDLE_UID, TRUE, marker, spawn, spawn_as_idle, wait_for


def test_exact_argv_and_process_fields(tracer) -> None:
    t = tracer()
    mark = marker("argv")
    args = [TRUE, mark, b"", b"\xff\xfe\x80 not utf-8", "café ☃".encode(), b"two words", b""]
    pid = spawn(args)
    ev = wait_for(t, mark)

    assert ev.argv == tuple(args)
    assert ev.argc == len(args)
    assert ev.argv_size == sum(len(a) + 1 for a in args)
    assert ev.argv_count == len(args) and ev.argv_len == ev.argv_size
    assert ev.argv_str == tuple(os.fsdecode(a) for a in args)
    assert [os.fsencode(s) for s in ev.argv_str] == args  # lossless round trip
    assert ev.filename == TRUE and ev.filename_str == "/bin/true"
    assert ev.interpreter == b"" and ev.interpreter_str == ""
    assert ev.pid == pid and ev.tid == pid
    assert ev.ppid == os.getpid()
    assert ev.uid == ev.euid == os.getuid()
    assert ev.gid == ev.egid == os.getgid()
    assert ev.pid_ns == exectrace.get_pid_ns()
    assert ev.result == 0 and ev.errno == 0
    assert not ev.failed and not ev.truncated
    assert ev.flags & (exectrace.EventFlag.FAILED | exectrace.EventFlag.TRUNCATED) == 0
    # The child was forked from this thread and had its name until exec.
    assert ev.comm == Path("/proc/thread-self/comm").read_bytes().rstrip(b"\n")
    now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    assert 0 < now - ev.timestamp_ns < 60 * 10**9
    with pytest.raises(Exception):
        ev.pid = 1  # type: ignore[misc]  # frozen


def test_uid_gid_of_child(tracer) -> None:
    t = tracer()
    mark = marker("ids")
    spawn([TRUE, mark], user=1000, group=2000, extra_groups=[])
    ev = wait_for(t, mark)
    assert (ev.uid, ev.euid, ev.gid, ev.egid) == (1000, 1000, 2000, 2000)


PR_SET_NAME = 15


def test_comm_is_the_name_before_exec(tracer) -> None:
    t = tracer()
    mark = marker("comm")
    name = b"xt" + mark[-12:]  # 14 bytes: fits in comm (15 + NUL)

    def set_name() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0) != 0:
            os._exit(99)

    spawn([TRUE, mark], preexec_fn=set_name)
    ev = wait_for(t, mark)
    assert ev.comm == name
    assert ev.comm_str == name.decode()


def test_failed_exec_reported_with_include_failed(tracer) -> None:
    t = tracer(include_failed=True)
    mark = marker("enoent")
    path = b"/nonexistent-" + mark + b"/prog"
    with pytest.raises(FileNotFoundError):
        spawn([path, mark])
    ev = wait_for(t, mark)
    assert ev.failed
    assert ev.flags & exectrace.EventFlag.FAILED
    assert ev.result == -errno.ENOENT and ev.errno == errno.ENOENT
    assert ev.filename == path
    assert ev.ppid == os.getpid()  # the forked child that tried the exec


def test_failed_exec_not_reported_by_default(tracer) -> None:
    t = tracer()
    mark, fence = marker("enoent"), marker("fence")
    with pytest.raises(FileNotFoundError):
        spawn([b"/nonexistent-" + mark, mark])
    spawn([TRUE, fence])
    seen: list = []
    wait_for(t, fence, seen=seen)
    assert not [e for e in seen if mark in e.filename or mark in e.argv]


def test_argv_budget_truncates(tracer) -> None:
    t = tracer(argv_budget=256)
    mark = marker("budget")
    args = [TRUE, mark] + [b"x" * 100] * 10
    spawn(args)
    ev = wait_for(t, mark)
    assert ev.truncated
    assert ev.flags & exectrace.EventFlag.ARGV_TRUNCATED
    assert ev.argc == len(args)
    assert ev.argv_size == sum(len(a) + 1 for a in args)
    # 256 bytes captured, plus the NUL the library adds to close the cut string.
    assert ev.argv_len <= 256 + 1
    assert ev.argv[:2] == (TRUE, mark)
    # Every captured string is a prefix of the real one.
    for got, real in zip(ev.argv, args):
        assert real.startswith(got)


def test_script_interpreter(tracer, tmp_path: Path) -> None:
    t = tracer()
    mark = marker("script")
    script = tmp_path / "s.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    spawn([os.fsencode(script), mark])
    ev = wait_for(t, mark)
    assert ev.flags & exectrace.EventFlag.HAS_INTERP
    assert ev.interpreter == b"/bin/sh"
    assert ev.filename == os.fsencode(script)


def test_cgroup_id_is_the_cgroup_inode(tracer) -> None:
    cg = _own_cgroup_dir()
    if cg is None:
        pytest.skip("no cgroup v2 hierarchy mounted")
    t = tracer()
    mark = marker("cgid")
    spawn([TRUE, mark])
    ev = wait_for(t, mark)
    assert ev.cgroup_id == os.stat(cg).st_ino


def test_sequence_and_stats(tracer) -> None:
    t = tracer(uid=IDLE_UID)  # only the events of this test
    marks = [marker(f"seq{i}") for i in range(3)]
    for m in marks:
        spawn_as_idle([TRUE, m])
    evs = [wait_for(t, m) for m in marks]
    assert evs[0].seq < evs[1].seq < evs[2].seq
    assert evs[0].timestamp_ns <= evs[1].timestamp_ns <= evs[2].timestamp_ns
    st = t.stats()
    assert isinstance(st, exectrace.Stats)
    assert (st.events, st.drops, st.malformed) == (3, 0, 0)


def test_events_come_in_batches(tracer) -> None:
    """Events that are ready are taken by one library call, and handed out
    one by one in order."""
    t = tracer(uid=IDLE_UID)
    marks = [marker(f"batch{i}") for i in range(20)]
    for m in marks:
        spawn_as_idle([TRUE, m])
    # All 20 are in the ring before the first read.
    got = [wait_for(t, m) for m in marks]
    assert [ev.argv[1] for ev in got] == marks
    assert t._batches < len(marks), f"{t._batches} library calls for {len(marks)} events"
    assert t.read(timeout=0) is None


def test_buffer_grows_for_a_large_event(tracer) -> None:
    t = tracer(uid=IDLE_UID)
    t._buf = (ctypes.c_uint64 * 32)()  # 256 bytes: less than one event below
    mark = marker("big")
    big = b"B" * 5000
    spawn_as_idle([TRUE, mark, big])
    ev = wait_for(t, mark)
    assert ev.argv == (TRUE, mark, big)
    assert ctypes.sizeof(t._buf) >= 5000


def _own_cgroup_dir() -> "str | None":
    """Our cgroup v2 directory, if a cgroup2 hierarchy is mounted."""
    mount = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                mount = left.split()[4]
                break
    if mount is None:
        return None
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                rel = line[3:].strip()
                return os.path.join(mount, rel.lstrip("/"))
    return None


own_cgroup_dir = _own_cgroup_dir
