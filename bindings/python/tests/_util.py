"""Helpers for the tests: unique markers, spawning, matching events."""

from __future__ import annotations

import platform
import subprocess
import time
import uuid
from typing import List, Optional, Sequence

import exectrace

TRUE = b"/bin/true"
#: A uid no process on the host runs as: a tracer filtered on it stays idle.
IDLE_UID = 0xFFFF_FFF0


def marker(tag: str = "m") -> bytes:
    """A unique argument that identifies this test's exec."""
    return f"xt-py-{tag}-{uuid.uuid4().hex}".encode()


def spawn(args: Sequence[bytes], **kw: object) -> int:
    """Run a process to completion; returns its pid."""
    p = subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kw,  # type: ignore[arg-type]
    )
    p.wait(timeout=30)
    return p.pid


def mentions(ev: exectrace.Event, mark: bytes) -> bool:
    return mark in ev.argv or mark in ev.filename


def wait_for(
    t: exectrace.Tracer,
    mark: bytes,
    timeout: float = 10.0,
    seen: Optional[List[exectrace.Event]] = None,
) -> exectrace.Event:
    """Read until an event mentions `mark`; every event read goes to `seen`."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no event for {mark!r} within {timeout}s")
        ev = t.read(timeout=left)
        if ev is None:
            continue
        if seen is not None:
            seen.append(ev)
        if mentions(ev, mark):
            return ev


def drain_for(t: exectrace.Tracer, seconds: float) -> List[exectrace.Event]:
    """Every event read during `seconds`."""
    out: List[exectrace.Event] = []
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        ev = t.read(timeout=left)
        if ev is not None:
            out.append(ev)


# epoll_wait and epoll_pwait syscall numbers, where a blocked read sleeps.
_EPOLL_SYSCALLS = {"x86_64": {232, 281}, "aarch64": {22}}.get(platform.machine(), set())


def wait_blocked(native_id: int, in_epoll: bool = False, timeout: float = 10.0) -> None:
    """Wait until thread `native_id` of this process sleeps in a system call
    (in epoll_wait when `in_epoll`: inside the library's blocking read, not
    on a lock in front of it); AssertionError after `timeout` seconds."""
    task = f"/proc/self/task/{native_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"{task}/syscall") as f:
                nr = f.read().split(" ", 1)[0]
            with open(f"{task}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            nr, state = "", ""
        if nr.isdigit() and state == "S":
            if not in_epoll or not _EPOLL_SYSCALLS or int(nr) in _EPOLL_SYSCALLS:
                return
        time.sleep(0.001)
    raise AssertionError(f"thread {native_id} was not blocked within {timeout}s")


def spawn_as_idle(args: Sequence[bytes]) -> int:
    """Run a process as IDLE_UID (see a tracer filtered on it)."""
    return spawn(args, user=IDLE_UID, group=IDLE_UID, extra_groups=[])
