"""A Python consumer of the installed exectrace package for
tests/packaging/run.sh: starts a tracer, runs ``/bin/true MARKER`` and waits
(at most 20 s) for that exec's event; prints which libexectrace it loaded.
Exit 0 when the event came, 77 when no tracer could be created (no BPF or no
privilege: a skip), 1 otherwise. Loading the library is never a skip."""

import subprocess
import sys
import time

import exectrace


def loaded_library() -> str:
    with open("/proc/self/maps") as maps:
        for line in maps:
            if "libexectrace" in line:
                return line.split(None, 5)[5].strip()
    return "?"


def main() -> int:
    marker = sys.argv[1].encode()
    exectrace.version()  # loads the library: a failure here is a failure
    print(f"consumer.py: exectrace from {exectrace.__file__}, library {loaded_library()}")
    try:
        t = exectrace.Tracer()
    except OSError as e:
        print(f"consumer.py: cannot create a tracer: {e}", file=sys.stderr)
        return 77
    with t:
        child = subprocess.Popen(["/bin/true", marker])
        child.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ev = t.read(timeout=0.5)
            if ev is not None and ev.pid == child.pid and marker in ev.argv:
                print(f"consumer.py: event pid={ev.pid} filename={ev.filename_str}")
                return 0
    print(f"consumer.py: no event for /bin/true {marker!r} within 20 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
