#!/bin/sh
# exectrace benchmark (issue 6). Builds bench/ in release mode and runs it as root.
#   bench/run.sh              full run (about 15 minutes on 2 cores)
#   bench/run.sh --quick      smoke test (well under a minute)
#   bench/run.sh --soak 600   10-minute soak: drops and RSS every 10 s
#   bench/run.sh --consumers  only the CPU per event of each consumer (~2 min)
# Results: stdout, bench/results/latest.md and latest.json (--quick: quick.*,
# --soak: soak.*, --consumers: consumers.*).
#
# The consumers in processes of their own (bench/src/consumers.rs) use the
# library installed into bench/target/prefix (make install: the C library
# and the CLI) and the Go consumer built against it (when go is installed).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/exectrace-bench"
prefix="$here/target/prefix"
make -s -C "$root" install PREFIX="$prefix" >/dev/null
export EXECTRACE_BENCH_PREFIX="$prefix"
if command -v go >/dev/null 2>&1; then
    # As bindings/go/test.sh: key the go build cache on the install (cgo
    # packages are not keyed on pkg-config's output).
    key=$(cat "$prefix/lib/pkgconfig/exectrace.pc" "$prefix/include/exectrace.h" | sha256sum | cut -c1-16)
    (cd "$here/consumers/go" &&
        PKG_CONFIG_PATH="$prefix/lib/pkgconfig" CGO_ENABLED=1 GOPROXY=off GOTOOLCHAIN=local \
            CGO_CPPFLAGS="-DEXECTRACE_GO_BUILD_KEY_$key" go build -o "$here/target/consumer-go" .)
    export EXECTRACE_BENCH_GO_CONSUMER="$here/target/consumer-go"
fi
rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || true)
# Dirty: the code differs from HEAD (results from an earlier run do not count).
if ! git -C "$here" diff --quiet HEAD -- ':(top)' ':(top,exclude)bench/results' 2>/dev/null; then rev="$rev+dirty"; fi
if [ "$(id -u)" -eq 0 ]; then
    EXECTRACE_BENCH_REV="$rev" exec "$bin" "$@"
else
    exec sudo EXECTRACE_BENCH_REV="$rev" EXECTRACE_BENCH_PREFIX="$prefix" \
        EXECTRACE_BENCH_GO_CONSUMER="${EXECTRACE_BENCH_GO_CONSUMER:-}" "$bin" "$@"
fi
