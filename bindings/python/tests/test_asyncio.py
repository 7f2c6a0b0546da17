"""An asyncio reader through fileno() and loop.add_reader()."""

from __future__ import annotations

import asyncio

import exectrace
from _util import TRUE, marker


def test_asyncio_add_reader(tracer) -> None:
    t = tracer()
    mark = marker("aio")

    async def main() -> exectrace.Event:
        loop = asyncio.get_running_loop()
        found: asyncio.Future = loop.create_future()
        wakeups = 0

        def on_readable() -> None:
            nonlocal wakeups
            wakeups += 1
            # Readable: drain without blocking until nothing is ready.
            while True:
                ev = t.read(timeout=0)
                if ev is None:
                    return
                if mark in ev.argv and not found.done():
                    found.set_result(ev)

        loop.add_reader(t.fileno(), on_readable)
        try:
            proc = await asyncio.create_subprocess_exec(TRUE, mark)
            await proc.wait()
            ev = await asyncio.wait_for(found, timeout=10)
            assert ev.pid == proc.pid
            assert wakeups >= 1
            return ev
        finally:
            loop.remove_reader(t.fileno())

    ev = asyncio.run(main())
    assert ev.argv == (TRUE, mark)
