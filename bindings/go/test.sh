#!/usr/bin/env bash
# Go binding checks: go vet, the example command builds, go test -race
# against the running kernel (as root).
#
# EXECTRACE_PREFIX=/some/prefix uses the library installed there (lib/,
# include/, lib/pkgconfig/exectrace.pc); without it the library is built
# and installed into a temporary prefix with `make install`.
# EXECTRACE_REQUIRE_BPF=1 turns "cannot load the BPF program" skips into
# failures. Extra arguments go to `go test` (e.g. -run TestBasicEvent -v).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${EXECTRACE_PREFIX:-}" ]; then
	prefix=$(cd "$EXECTRACE_PREFIX" && pwd)
else
	prefix=$tmp/prefix
	echo "== make install PREFIX=$prefix"
	make -C "$ROOT" install PREFIX="$prefix"
fi
if [ ! -f "$prefix/lib/pkgconfig/exectrace.pc" ]; then
	echo "test.sh: no $prefix/lib/pkgconfig/exectrace.pc" >&2
	exit 1
fi
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CGO_ENABLED=1
# The go build cache does not key cgo packages on pkg-config's output or on
# the headers they include, so a build against another prefix (or another
# header) could be reused, e.g. one linked with -L of a deleted temp prefix.
# Key it: the .pc holds the prefix, the header the ABI.
key=$(cat "$prefix/lib/pkgconfig/exectrace.pc" "$prefix/include/exectrace.h" | sha256sum | cut -c1-16)
export CGO_CPPFLAGS="${CGO_CPPFLAGS:+$CGO_CPPFLAGS }-DEXECTRACE_GO_BUILD_KEY_$key"
# Standard library only: nothing to download, and nothing may be.
export GOPROXY=off GOTOOLCHAIN=local

cd "$here"
echo "== go vet ./..."
go vet ./...
echo "== go build ./cmd/exectrace"
go build -o "$tmp/exectrace" ./cmd/exectrace
"$tmp/exectrace" --help >/dev/null 2>&1
echo "== go test -race -count=1 ./..."
go test -race -count=1 "$@" ./...
