"""Build hooks of the exectrace package (the metadata is in pyproject.toml).

The package carries its own ``exectrace/libexectrace.so.0``, built from the
repository's Rust sources while the package builds (``cargo build --release
--locked -p exectrace --lib``; needs cargo, clang and the build tools of
scripts/install-deps.sh), so that ``pip install ./bindings/python`` alone
gives a working package. Where the Rust sources are, first found of:

- ``$EXECTRACE_SOURCE_DIR``;
- ``_crate/`` beside this file: an sdist carries a copy of them there;
- the repository around this file (``bindings/python/../..``): pip and
  ``python -m build --wheel`` build in place.

``EXECTRACE_BUNDLE_LIBRARY=/path/to/libexectrace.so`` bundles an already
built library instead of building one. Cargo's own variables apply
(``CARGO_TARGET_DIR`` reuses a target directory). The library links libbpf,
libelf and zlib in and needs only libc, so the wheel is tagged for the
platform (``py3-none-linux_<arch>``), not for a Python version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
LIBRARY = "libexectrace.so.0"
# Where an sdist keeps its copy of the Rust sources, and what is copied
# (those present): what `cargo build -p exectrace --lib` reads, workspace
# members (cli/) included.
CRATE_COPY = "_crate"
CRATE_FILES = ("Cargo.toml", "Cargo.lock", "build.rs", "src", "bpf", "cli")


def _is_crate(d: Path) -> bool:
    return (d / "Cargo.toml").is_file() and (d / "bpf" / "exectrace.bpf.c").is_file()


def crate_root() -> Path:
    env = os.environ.get("EXECTRACE_SOURCE_DIR")
    candidates = [Path(env)] if env else [HERE / CRATE_COPY, HERE.parent.parent]
    for d in candidates:
        if _is_crate(d):
            return d.resolve()
    raise SystemExit(
        "exectrace: the libexectrace sources (Cargo.toml, bpf/) are not in "
        + " or ".join(str(d) for d in candidates)
        + "; build from a checkout of the repository, set EXECTRACE_SOURCE_DIR "
        "to one, or EXECTRACE_BUNDLE_LIBRARY to a built libexectrace.so"
    )


def cargo_build(root: Path) -> Path:
    """Build the C library with cargo; the path of the libexectrace.so made."""
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo and (Path.home() / ".cargo/bin/cargo").is_file():
        cargo = str(Path.home() / ".cargo/bin/cargo")
    if not cargo:
        raise SystemExit("exectrace: building libexectrace needs cargo (Rust)")
    cmd = [cargo, "build", "--release", "--locked", "-p", "exectrace", "--lib",
           "--message-format=json-render-diagnostics"]
    print(f"exectrace: building libexectrace in {root}: {' '.join(cmd[1:7])}", flush=True)
    # Diagnostics go to stderr; stdout has one JSON message a line.
    out = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, check=True, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line) if line.startswith("{") else {}
        if msg.get("reason") == "compiler-artifact" and "cdylib" in msg["target"]["kind"]:
            for f in msg["filenames"]:
                if f.endswith(".so"):
                    return Path(f)
    raise SystemExit("exectrace: cargo built no libexectrace.so")


class BuildPy(build_py):
    """Also put libexectrace.so.0 into the built package."""

    def run(self) -> None:
        super().run()
        prebuilt = os.environ.get("EXECTRACE_BUNDLE_LIBRARY")
        src = Path(prebuilt) if prebuilt else cargo_build(crate_root())
        dest = Path(self.build_lib) / "exectrace" / LIBRARY
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(src), str(dest))
        os.chmod(dest, 0o755)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        lib = os.path.join(self.build_lib, "exectrace", LIBRARY)
        return super().get_outputs(include_bytecode) + [lib]


class Sdist(sdist):
    """Carry the Rust sources, so that a wheel builds from the sdist alone."""

    def make_release_tree(self, base_dir: str, files: list) -> None:
        super().make_release_tree(base_dir, files)
        root = crate_root()
        for name in CRATE_FILES:
            src, dest = root / name, Path(base_dir) / CRATE_COPY / name
            if not src.exists():
                continue
            if src.is_dir():
                shutil.copytree(src, dest, ignore=shutil.ignore_patterns("target"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)


class BinaryDistribution(Distribution):
    """The package holds a native library: a platform wheel (platlib)."""

    def has_ext_modules(self) -> bool:
        return True


class BdistWheel(bdist_wheel):
    """Tagged for any Python 3: a library loaded with ctypes, no extension module."""

    def get_tag(self) -> tuple:
        return ("py3", "none", super().get_tag()[2])


setup(
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPy, "sdist": Sdist, "bdist_wheel": BdistWheel},
)
