"""Helpers for the tests: unique markers, spawning, matching events."""

from __future__ import annotations

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
