"""The benchmark's Python consumer (bench/src/consumers.rs): a tracer with
the defaults and ``for ev in Tracer()``, as a user writes it, counting the
events whose argv holds MARKER.

    python3 consume.py MARKER END

Prints "ready" once tracing, "done EVENTS MARKED" when it reads the event
of a process with END in its argv, then waits for stdin to close.
"""

import os
import sys

import exectrace


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: consume.py MARKER END")
    mark, end = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
    events = marked = 0
    with exectrace.Tracer() as t:
        print("ready", flush=True)
        for ev in t:
            events += 1
            argv = ev.argv
            if mark in argv:
                marked += 1
            elif end in argv:
                print(f"done {events} {marked}", flush=True)
                sys.stdin.read()
                return


main()
