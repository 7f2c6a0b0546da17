"""Filters: uid, pid namespace, cgroup. Negative checks use a fence: an
exec that passes the filter, spawned after the one that must not; once the
fence is read, the filtered-out exec would have been read before it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

import exectrace
from _util import TRUE, drain_for, marker, mentions, spawn, wait_for
from test_events import own_cgroup_dir


def test_uid_filter(tracer) -> None:
    t = tracer(uid=1000)
    wanted, other, fence = marker("uid"), marker("root"), marker("fence")
    spawn([TRUE, wanted], user=1000, group=2000, extra_groups=[])
    spawn([TRUE, other])  # uid 0
    spawn([TRUE, fence], user=1000, group=2000, extra_groups=[])
    seen: list = []
    ev = wait_for(t, fence, seen=seen)
    assert ev.uid == 1000
    assert [e for e in seen if mentions(e, wanted)], "the matching child was not seen"
    assert not [e for e in seen if mentions(e, other)], "a uid-0 exec passed the filter"
    assert all(e.uid == 1000 for e in seen)


def test_pid_ns_filter_own_namespace(tracer) -> None:
    ns = exectrace.get_pid_ns()
    assert ns == os.stat("/proc/self/ns/pid").st_ino
    t = tracer(pid_ns=ns)
    mark = marker("ns")
    spawn([TRUE, mark])
    ev = wait_for(t, mark)
    assert ev.pid_ns == ns


class _Namespace:
    """A child pid namespace (via unshare) with a shell waiting inside it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", "/bin/sh", "-c", 'read m; exec /bin/true "$m"'],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        own = os.stat("/proc/self/ns/pid").st_ino
        deadline = time.monotonic() + 10
        while True:
            try:
                self.ns = os.stat(f"/proc/{self.proc.pid}/ns/pid_for_children").st_ino
            except FileNotFoundError:
                self.ns = own
            if self.ns != own:
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                self.close()
                pytest.skip(f"cannot create a pid namespace with unshare: {err.strip()}")
            time.sleep(0.01)

    def exec_marker(self, mark: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(mark + b"\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def child_ns():
    if not shutil.which("unshare"):
        pytest.skip("unshare not installed")
    ns = _Namespace()
    yield ns
    ns.close()


def test_pid_ns_filter_other_namespace(tracer, child_ns) -> None:
    t = tracer(pid_ns=child_ns.ns)
    host, inside = marker("host"), marker("inside")
    spawn([TRUE, host])  # in our namespace: filtered out
    child_ns.exec_marker(inside)  # in the child namespace: the fence
    seen: list = []
    ev = wait_for(t, inside, seen=seen)
    assert ev.pid_ns == child_ns.ns
    assert ev.pid != 1  # pids are those of the initial namespace
    # And for a few seconds more, nothing of our marker.
    seen += drain_for(t, 2.0)
    assert not [e for e in seen if mentions(e, host)]
    assert all(e.pid_ns == child_ns.ns for e in seen)


def test_pid_ns_filter_includes_descendants(tracer, child_ns) -> None:
    t = tracer(pid_ns=exectrace.get_pid_ns())
    inside = marker("inside")
    child_ns.exec_marker(inside)
    ev = wait_for(t, inside)
    assert ev.pid_ns == child_ns.ns


@pytest.fixture
def child_cgroup():
    own = own_cgroup_dir()
    if own is None:
        pytest.skip("no cgroup v2 hierarchy mounted")
    path = os.path.join(own, f"xt-py-{uuid.uuid4().hex[:12]}")
    try:
        os.mkdir(path)
    except OSError as e:
        pytest.skip(f"cannot create a cgroup: {e}")
    yield path
    for _ in range(100):
        try:
            os.rmdir(path)
            break
        except OSError:
            time.sleep(0.05)


def test_cgroup_filter(tracer, child_cgroup) -> None:
    t = tracer(cgroup=child_cgroup)
    outside, inside = marker("out"), marker("in")
    spawn([TRUE, outside])  # in our cgroup, the parent: filtered out

    def join() -> None:
        with open(os.path.join(child_cgroup, "cgroup.procs"), "w") as f:
            f.write("0")

    spawn([TRUE, inside], preexec_fn=join)
    seen: list = []
    ev = wait_for(t, inside, seen=seen)
    assert ev.cgroup_id == os.stat(child_cgroup).st_ino
    assert not [e for e in seen if mentions(e, outside)]


def test_cgroup_filter_own_cgroup(tracer) -> None:
    own = own_cgroup_dir()
    if own is None:
        pytest.skip("no cgroup v2 hierarchy mounted")
    t = tracer(cgroup=own)
    mark = marker("cg")
    spawn([TRUE, mark])
    assert wait_for(t, mark).cgroup_id == os.stat(own).st_ino


def test_missing_cgroup_is_an_oserror(bpf) -> None:
    with pytest.raises(OSError) as info:
        exectrace.Tracer(cgroup="/nonexistent/xt-py-cgroup")
    assert isinstance(info.value, exectrace.ExectraceError)
    assert info.value.errno is not None
    assert info.value.strerror
