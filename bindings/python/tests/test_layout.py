"""The ctypes declarations match include/exectrace.h (compiled with gcc)."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from exectrace import _ffi


def header_path() -> Path:
    candidates = []
    if os.environ.get("EXECTRACE_HEADER"):
        candidates.append(Path(os.environ["EXECTRACE_HEADER"]))
    if os.environ.get("EXECTRACE_PREFIX"):
        candidates.append(Path(os.environ["EXECTRACE_PREFIX"]) / "include" / "exectrace.h")
    candidates.append(Path(__file__).resolve().parents[3] / "include" / "exectrace.h")
    for c in candidates:
        if c.is_file():
            return c
    pytest.skip(f"exectrace.h not found (tried {', '.join(map(str, candidates))})")


def c_layout(tmp_path: Path) -> dict:
    """sizeof/offsetof/constants as the C compiler sees them."""
    cc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    hdr = header_path()
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "exectrace.h"', "int main(void) {"]
    for sname, cls in _ffi.STRUCTS.items():
        lines.append(f'printf("size {sname} %zu\\n", sizeof(struct {sname}));')
        lines.append(f'printf("align {sname} %zu\\n", _Alignof(struct {sname}));')
        for fname, _ in cls._fields_:
            lines.append(
                f'printf("field {sname}.{fname} %zu %zu\\n", offsetof(struct {sname}, {fname}),'
                f" sizeof(((struct {sname} *)0)->{fname}));"
            )
    for cname in _ffi.CONSTANTS:
        lines.append(f'printf("const {cname} %llu\\n", (unsigned long long)({cname}));')
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Werror", "-I", str(hdr.parent), str(src), "-o", str(exe)],
        check=True,
    )
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    result: dict = {}
    for line in out.splitlines():
        kind, name, *vals = line.split()
        result[(kind, name)] = tuple(int(v) for v in vals)
    return result


def test_structs_and_constants_match_header(tmp_path: Path) -> None:
    c = c_layout(tmp_path)
    for sname, cls in _ffi.STRUCTS.items():
        assert ctypes.sizeof(cls) == c[("size", sname)][0], sname
        assert ctypes.alignment(cls) == c[("align", sname)][0], sname
        for fname, _ in cls._fields_:
            desc = getattr(cls, fname)
            assert (desc.offset, desc.size) == c[("field", f"{sname}.{fname}")], f"{sname}.{fname}"
    for cname, value in _ffi.CONSTANTS.items():
        assert c[("const", cname)] == (value,), cname


def test_every_header_constant_is_mirrored() -> None:
    text = header_path().read_text()
    defined = set(re.findall(r"^#define (EXECTRACE_[A-Z0-9_]+) ", text, re.M))
    assert defined == set(_ffi.CONSTANTS)


def _declarations(text: str) -> dict:
    """name -> (returns void, parameter count) of the header's functions."""
    body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    body = re.sub(r"//[^\n]*", "", body)
    decls = {}
    for m in re.finditer(r"^([A-Za-z_][\w \t\*]*?)\b(exectrace_\w+)\(([^)]*)\);", body, re.M):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3).strip()
        if "static" in ret or "typedef" in ret:
            continue
        count = 0 if params in ("", "void") else params.count(",") + 1
        decls[name] = (ret == "void", count)
    return decls


def test_every_function_has_a_prototype() -> None:
    decls = _declarations(header_path().read_text())
    assert decls, "no declarations parsed from the header"
    assert set(decls) == set(_ffi.PROTOTYPES)
    for name, (returns_void, count) in decls.items():
        restype, argtypes = _ffi.PROTOTYPES[name]
        assert (restype is None) == returns_void, name
        assert len(argtypes) == count, name


def test_loaded_library_has_prototypes_declared() -> None:
    lib = _ffi.lib()
    for name, (restype, argtypes) in _ffi.PROTOTYPES.items():
        fn = getattr(lib, name)
        assert fn.restype is restype, name
        assert list(fn.argtypes) == list(argtypes), name
