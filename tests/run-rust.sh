#!/bin/sh
# Rust: formatting, lints, unit and kernel integration tests (release build,
# shared with `make build`).
set -eu
cd "$(dirname "$0")/.."
cargo fmt --check
cargo clippy --locked --release --all-targets -- -D warnings
cargo test --locked --release
