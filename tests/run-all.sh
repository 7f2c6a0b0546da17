#!/bin/sh
# Every test of the project, as `make test` runs it: the Rust checks and
# kernel tests, then the C, Go and Python tests against a fresh install of
# the library in a temporary prefix, the kernel tests on each kernel of the
# matrix (tests/kernels), then a quick benchmark smoke run.
# Needs root (BPF). EXECTRACE_REQUIRE_BPF=1 turns "BPF unavailable" skips
# into failures.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

if [ "$(id -u)" -ne 0 ]; then
	echo "run-all: the kernel tests need root (BPF); run as root or with sudo" >&2
	[ "${EXECTRACE_REQUIRE_BPF:-0}" = 1 ] && exit 1
fi

step() { printf '\n==== %s\n' "$*"; }

step "Rust: fmt, clippy, unit and kernel tests"
tests/run-rust.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step "install into $tmp/prefix"
make -s install PREFIX="$tmp/prefix"
export EXECTRACE_PREFIX="$tmp/prefix"

step "C tests (plain and sanitizers)"
tests/c/run.sh
step "Go tests"
bindings/go/test.sh
step "Python tests"
bindings/python/test.sh
step "packaging: self-contained library, pip install, static Go and C links"
tests/packaging/run.sh
step "kernel matrix: Debian 5.10, 6.1, 6.12 under QEMU, and the host"
tests/kernels/run.sh
step "benchmark smoke run"
# --decompose: its two extra configurations (waker.rs) are run too.
bench/run.sh --quick --decompose >"$tmp/bench.txt" 2>&1 || { cat "$tmp/bench.txt"; exit 1; }
tail -n 3 "$tmp/bench.txt"

printf '\nall test suites passed\n'
