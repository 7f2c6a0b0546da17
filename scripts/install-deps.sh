#!/bin/sh
# Install what building and testing libexectrace needs on Debian/Ubuntu,
# only when something is missing (idempotent; no-op on a ready machine).
# Rust (cargo, rustfmt, clippy), Go and Python 3 with pytest are expected
# from the machine's toolchain install.
set -eu

pkgs="clang llvm libelf-dev zlib1g-dev pkg-config make gcc g++ bpftool util-linux"
# libbpf-rs's `vendored` feature (Cargo.toml) builds libelf (elfutils) and
# zlib from the sources in the libbpf-sys crate, so that libexectrace.so and
# the exectrace command need only libc: elfutils' build needs these tools.
pkgs="$pkgs autoconf automake autopoint flex bison gawk"
# 32-bit compat exec test (skipped without it).
case "$(uname -m)" in x86_64) pkgs="$pkgs gcc-multilib" ;; esac
# The kernel matrix (tests/kernels): QEMU, an initramfs of busybox, the
# kernels' modules, apt-get download of other suites' kernels.
pkgs="$pkgs qemu-system-x86 busybox-static cpio kmod xz-utils debian-archive-keyring"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

for tool in cargo go python3; do
	command -v "$tool" >/dev/null || { echo "install-deps: $tool is required but not installed" >&2; exit 1; }
done
# pytest for the Python tests; wheel so that `pip install --no-build-isolation` works offline.
python3 -c 'import pytest' 2>/dev/null || python3 -m pip install -q pytest
python3 -c 'import wheel' 2>/dev/null || python3 -m pip install -q wheel
