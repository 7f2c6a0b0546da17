#!/bin/sh
# Rust: formatting and lints (library, command and benchmark), unit and
# kernel integration tests (release build, shared with `make build`). The
# workspace is the library (root) and the command (cli/).
set -eu
cd "$(dirname "$0")/.."
cargo fmt --all --check
cargo clippy --locked --release --workspace --all-targets -- -D warnings
# The benchmark is a workspace of its own.
(cd bench && cargo fmt --check && cargo clippy --locked --release --all-targets -- -D warnings)
cargo test --locked --release --workspace
