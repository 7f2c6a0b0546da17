"""Shared fixtures. The tests run as root against the real kernel.

The host runs unrelated processes, so tests never take "the next event":
each spawns processes carrying a unique marker argument and looks for it.

If no tracer can be created (no privileges, no BPF), tests that need one
are skipped with the reason, or fail when EXECTRACE_REQUIRE_BPF=1.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, List

import pytest

import exectrace

_bpf_error: "str | None" = None
_bpf_checked = False


def _check_bpf() -> "str | None":
    global _bpf_checked, _bpf_error
    if not _bpf_checked:
        _bpf_checked = True
        try:
            exectrace.Tracer(uid=0xFFFF_FFF0).close()
        except Exception as e:  # noqa: BLE001 - any reason is reported
            _bpf_error = f"cannot create a tracer: {type(e).__name__}: {e}"
    return _bpf_error


@pytest.fixture
def bpf() -> None:
    """Require a working tracer (skip, or fail under EXECTRACE_REQUIRE_BPF=1)."""
    err = _check_bpf()
    if err:
        if os.environ.get("EXECTRACE_REQUIRE_BPF") == "1":
            pytest.fail(f"EXECTRACE_REQUIRE_BPF=1 and {err}")
        pytest.skip(err)


@pytest.fixture
def tracer(bpf: None) -> Iterator[Callable[..., exectrace.Tracer]]:
    """A factory of tracers that are all closed at the end of the test."""
    made: List[exectrace.Tracer] = []

    def make(**kw: object) -> exectrace.Tracer:
        t = exectrace.Tracer(**kw)  # type: ignore[arg-type]
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
