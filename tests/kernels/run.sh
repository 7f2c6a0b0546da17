#!/bin/sh
# `make test-kernels`: the kernel tests on every kernel of the matrix,
# Debian's bullseye (5.10), bookworm (6.1) and trixie (6.12) kernels booted
# under QEMU, and on the host; one result line per kernel.
#
#   tests/kernels/run.sh [SUITE...]   suites: bullseye bookworm trixie host
#
# Builds the test programs once on the host; each guest runs them from the
# host's file system (boot.sh) through guest.sh. Needs root, qemu-system-x86,
# busybox-static, cpio (scripts/install-deps.sh). Kernels are downloaded
# once into $EXECTRACE_KERNEL_CACHE (fetch.sh). Exits non-zero when any
# kernel fails a test or does not boot.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/kernels
cd "$ROOT"
[ $# -gt 0 ] || set -- bullseye bookworm trixie host
per_kernel_limit=${EXECTRACE_KERNEL_TIMEOUT:-1200}
target=${CARGO_TARGET_DIR:-$ROOT/target}

stage=$(mktemp -d /var/tmp/exectrace-kernels.XXXXXX)
status=0
# Kept when anything failed: every suite's full output is there.
trap '[ "$status" = 0 ] && rm -rf "$stage" || echo "test-kernels: logs kept in $stage"' EXIT
echo "== test-kernels: building the test programs into $stage"
# Rust: every integration test binary of the workspace (their names and paths).
cargo test --release --locked --workspace --no-run --message-format=json 2>/dev/null |
	python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        if m["target"]["name"] != "header":  # no kernel in it
            print(m["target"]["name"], m["executable"])
' >"$stage/rust-tests"
[ -s "$stage/rust-tests" ] || { echo "test-kernels: no Rust test binaries were built" >&2; exit 1; }
cargo build --release --locked --workspace >/dev/null 2>&1 || cargo build --release --locked --workspace
mkdir -p "$stage/lib"
cp "$target/release/libexectrace.so" "$stage/lib/libexectrace.so.0"
ln -s libexectrace.so.0 "$stage/lib/libexectrace.so"
cp "$target/release/exectrace" "$stage/exectrace"
# The guest's PATH has no version managers' shims: the Python with pytest.
python3 -c 'import sys; print(sys.executable)' >"$stage/python"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
# C: the harness, against the staged library.
cc -O2 -g -Wall -Wextra -Werror -DEXPECTED_VERSION="\"$version\"" -Iinclude -o "$stage/c-tests" \
	tests/c/main.c tests/c/harness.c tests/c/test_*.c \
	-L"$stage/lib" -Wl,-rpath,"$stage/lib" -lexectrace -lpthread
# Go: the binding's test binary, linked the same way.
mkdir -p "$stage/pkgconfig"
cat >"$stage/pkgconfig/exectrace.pc" <<PC
Name: exectrace
Description: exectrace staged for the kernel matrix
Version: $version
Cflags: -I$ROOT/include
Libs: -L$stage/lib -Wl,-rpath,$stage/lib -lexectrace
PC
(cd bindings/go && PKG_CONFIG_PATH=$stage/pkgconfig CGO_ENABLED=1 GOPROXY=off GOTOOLCHAIN=local \
	CGO_CPPFLAGS="-DEXECTRACE_GO_BUILD_KEY_$(sha256sum "$stage/pkgconfig/exectrace.pc" | cut -c1-16)" \
	go test -c -o "$stage/go.test" .)

results=""
for suite in "$@"; do
	if [ "$suite" = host ]; then
		rel=$(uname -r)
		echo "== test-kernels: host $rel"
		"$HERE/guest.sh" "$ROOT" "$stage" || true
		results="$results
host $rel (this machine)"
	else
		read -r _ rel ver kdir <<FETCHED
$("$HERE/fetch.sh" "$suite")
FETCHED
		echo "== test-kernels: $suite: Debian linux-image-$rel $ver under QEMU (TCG)"
		start=$(date +%s)
		"$HERE/boot.sh" "$kdir" "$stage" "$HERE/guest.sh $ROOT $stage" "$per_kernel_limit" \
			>"$stage/console-$rel" 2>&1 || true
		grep -E '^(guest|boot):' "$stage/console-$rel" || true
		echo "   ($(($(date +%s) - start)) s)"
		results="$results
$suite $rel (Debian $ver)"
	fi
	line=$(tail -n 1 "$stage/result-$rel" 2>/dev/null || true)
	case "$line" in
	"total "*" 0") verdict=passed ;;
	"total "*) verdict=FAILED status=1 ;;
	*) verdict="FAILED (no result; see above)" status=1
		tail -n 30 "$stage/console-$rel" 2>/dev/null || true ;;
	esac
	if [ "$verdict" != passed ]; then
		grep -E '^(test .* FAILED|    FAIL|--- FAIL|FAILED |thread .* panicked)' "$stage/log-$rel" 2>/dev/null | head -n 30 || true
	fi
	read -r _ passed failed <<COUNTS
$line
COUNTS
	results="$results: ${passed:-0} passed, ${failed:-?} failed: $verdict"
done
echo
echo "== test-kernels: results"
echo "$results" | sed '/^$/d; s/^/  /'
exit $status
