#!/bin/sh
# exectrace benchmark (issue 6). Builds bench/ in release mode and runs it as root.
#   bench/run.sh              full run (about 12 minutes on 2 cores)
#   bench/run.sh --quick      smoke test (well under a minute)
#   bench/run.sh --soak 600   10-minute soak: drops and RSS every 10 s
# Results: stdout, bench/results/latest.md and latest.json (--quick: quick.*, --soak: soak.*).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/exectrace-bench"
rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || true)
# Dirty: the code differs from HEAD (results from an earlier run do not count).
if ! git -C "$here" diff --quiet HEAD -- ':(top)' ':(top,exclude)bench/results' 2>/dev/null; then rev="$rev+dirty"; fi
if [ "$(id -u)" -eq 0 ]; then
    EXECTRACE_BENCH_REV="$rev" exec "$bin" "$@"
else
    exec sudo EXECTRACE_BENCH_REV="$rev" "$bin" "$@"
fi
