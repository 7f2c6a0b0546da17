"""Records in the layout of struct exectrace_batch_record (exectrace.h)
become Events with every field; no kernel needed."""

from __future__ import annotations

import ctypes
import pickle
import struct

import pytest

import exectrace
from exectrace import _ffi
from exectrace._event import events_from_batch

_R = _ffi.exectrace_batch_record


def record(seq: int, flags: int, comm: bytes, filename: bytes, interp: bytes, argv, argc: int) -> bytes:
    """One record as the header documents it: the fixed header, then the
    NUL-terminated strings at their offsets, padded to 8 bytes."""
    hdr = ctypes.sizeof(_R)
    block = b"".join(a + b"\0" for a in argv)
    ioff = hdr + len(filename) + 1
    aoff = ioff + len(interp) + 1
    size = (aoff + len(block) + 7) & ~7
    r = _R(
        size=size, hdr_size=hdr, flags=flags, result=-2, seq=seq, timestamp_ns=111, cgroup_id=222,
        pid=10, tid=11, ppid=12, uid=13, gid=14, euid=15, egid=16, pid_ns=17,
        argc=argc, argv_size=len(block) + 9, argv_count=len(argv), argv_len=len(block),
        filename_off=hdr, filename_len=len(filename), interp_off=ioff, interp_len=len(interp),
        argv_off=aoff, comm=comm,
    )  # fmt: skip
    out = bytearray(size)
    out[:hdr] = bytes(r)
    out[hdr : hdr + len(filename)] = filename
    out[ioff : ioff + len(interp)] = interp
    out[aoff : aoff + len(block)] = block
    return bytes(out)


def test_records_decode_to_events() -> None:
    recs = [
        record(7, 0, b"bash", b"/bin/true", b"", [b"/bin/true", b"", b"\xff a"], 3),
        record(8, _ffi.EVENT_HAS_INTERP, b"make", b"/x.sh", b"/bin/sh", [b"/bin/sh", b"/x.sh"], 2),
        record(9, _ffi.EVENT_ARGV_TRUNCATED | _ffi.EVENT_TRUNCATED | _ffi.EVENT_FAILED, b"x" * 15,
               b"/nope", b"", [b"cu"], 5),
        record(10, 0, b"", b"", b"", [], 0),
    ]  # fmt: skip
    # Stale bytes after the records, as in a reused buffer.
    buf = memoryview(b"".join(recs) + b"\xa5" * 64)
    evs = events_from_batch(buf, 4)
    assert [e.seq for e in evs] == [7, 8, 9, 10]
    a, b, c, d = evs
    assert (a.timestamp_ns, a.cgroup_id, a.pid, a.tid, a.ppid) == (111, 222, 10, 11, 12)
    assert (a.uid, a.gid, a.euid, a.egid, a.pid_ns, a.result) == (13, 14, 15, 16, 17, -2)
    assert a.errno == 2 and not a.failed and not a.truncated
    assert (a.comm, a.filename, a.interpreter) == (b"bash", b"/bin/true", b"")
    assert a.argv == (b"/bin/true", b"", b"\xff a")
    assert a.argv_str == ("/bin/true", "", "\udcff a")
    assert (a.argc, a.argv_count, a.argv_len, a.argv_size) == (3, 3, 15, 24)
    assert b.flags & exectrace.EventFlag.HAS_INTERP and b.interpreter == b"/bin/sh"
    assert b.filename_str == "/x.sh" and b.interpreter_str == "/bin/sh" and b.comm_str == "make"
    assert c.truncated and c.failed and c.argv == (b"cu",) and c.argc == 5
    assert c.comm == b"x" * 15
    assert d.argv == () and d.filename == b"" and d.comm == b""
    # Each event holds its own record, not the buffer.
    assert all(len(e._rec) == len(r) for e, r in zip(evs, recs))


def test_event_is_immutable_comparable_and_picklable() -> None:
    rec = record(1, 0, b"sh", b"/bin/true", b"", [b"/bin/true", b"m"], 2)
    (a,) = events_from_batch(memoryview(rec), 1)
    (b,) = events_from_batch(memoryview(rec), 1)
    assert a == b and hash(a) == hash(b) and a is not b
    with pytest.raises(AttributeError):
        a.pid = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.extra = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(a)) == a
    text = repr(a)
    assert text.startswith("Event(seq=1, ") and "argv=(b'/bin/true', b'm')" in text
    assert set(exectrace.Event.FIELDS) <= set(dir(a))


def test_header_struct_matches_ctypes() -> None:
    from exectrace._event import _EXT, _HEADER

    assert _HEADER.size == _R.loginuid.offset == 128
    assert ctypes.sizeof(_R) == 192
    r = _R(size=136, seq=5, pid=9, argv_off=130, comm=b"abc")
    h = _HEADER.unpack(bytes(r)[: _HEADER.size])
    assert (h[0], h[4], h[7], h[23], h[25].rstrip(b"\0")) == (136, 5, 9, 130, b"abc")
    assert struct.calcsize("=IIIiQQQ18I16s") == 128
    r = _R(size=200, hdr_size=192, loginuid=7, exe_inode=9, tty_off=193, tty_len=4)
    b = bytes(r)
    h = _HEADER.unpack(b[: _HEADER.size]) + _EXT.unpack(b[_HEADER.size :])
    assert (h[26], h[28], h[38], h[39]) == (7, 9, 193, 4)


def test_record_of_an_older_library_has_no_rich_fields() -> None:
    """hdr_size 128 (a library before the exe path, env, ... fields): they
    read as unknown, not as whatever bytes follow the old header."""
    flags = _ffi.EVENT_HAS_ENV | _ffi.EVENT_HAS_PATHS
    rec = bytearray(record(1, flags, b"sh", b"/bin/true", b"", [b"/bin/true"], 1))
    struct.pack_into("=I", rec, 4, 128)
    rec[128:192] = b"\xa5" * 64
    (e,) = events_from_batch(memoryview(bytes(rec)), 1)
    assert (e.loginuid, e.sessionid, e.env, e.exe_path, e.cwd) == (None,) * 5
    assert e.exe_upper_layer is None and e.tty == b"" and e.exe_inode == 0
    assert e.argv == (b"/bin/true",)
