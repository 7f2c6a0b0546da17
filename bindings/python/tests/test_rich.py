"""The fields beyond the original's (exe path, cwd, audit ids, tty, exe
inode/device, environment) against os.stat and /proc."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from _util import TRUE, marker, spawn, wait_for

ENV = {"XTA_AAAAAA": "1", "XTB_BBBBBB": "2", "XTC_CCCCCC": "3"}
ENV_BLOCK = tuple(f"{k}={v}".encode() for k, v in ENV.items())


def _proc_self(name: str) -> Optional[int]:
    try:
        return int(Path(f"/proc/self/{name}").read_text())
    except OSError:
        return None


def test_rich_fields_paths_env_and_budget(tracer, tmp_path: Path) -> None:
    full = tracer(paths=True, include_env=True)
    small = tracer(include_env=True, env_budget=20)
    plain = tracer()
    mark = marker("rich")
    # start_new_session: no controlling terminal.
    spawn([TRUE, mark], cwd=tmp_path, env=ENV, start_new_session=True)
    st = os.stat(TRUE)

    ev = wait_for(full, mark)
    assert ev.exe_path == os.path.realpath(TRUE)  # TRUE is bytes
    assert ev.exe_path_str == os.fsdecode(os.path.realpath(TRUE))
    assert ev.cwd == os.fsencode(os.path.realpath(tmp_path))
    assert (ev.exe_inode, ev.exe_dev) == (st.st_ino, st.st_dev)
    assert ev.tty == b"" and ev.tty_str == ""
    assert not ev.exe_memfd and ev.exe_upper_layer in (False, None)
    login = _proc_self("loginuid")
    if login is not None:
        assert (ev.loginuid, ev.sessionid) == (login, _proc_self("sessionid"))
    assert ev.env == ENV_BLOCK and ev.env_size == 39 and not ev.env_truncated
    assert ev.env_str == tuple(e.decode() for e in ENV_BLOCK)
    assert not (ev.exe_path_cut or ev.cwd_cut or ev.exe_deleted or ev.cwd_deleted)

    ev = wait_for(small, mark)
    assert ev.env == (ENV_BLOCK[0], b"XTB_BBB") and ev.env_size == 39 and ev.env_truncated
    assert not ev.truncated and ev.exe_path is None and ev.cwd is None

    ev = wait_for(plain, mark)
    assert ev.env is None and ev.env_size == 0 and ev.exe_path is None and ev.cwd is None
    assert (ev.exe_inode, ev.exe_dev) == (st.st_ino, st.st_dev)
    assert "exe_path=None" in repr(ev)
