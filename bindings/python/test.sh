#!/usr/bin/env bash
# Tests of the Python binding: install the package with pip into a fresh
# venv, then run pytest as root against the real kernel.
#
#   EXECTRACE_PREFIX=/usr/local bindings/python/test.sh   # an existing install
#   bindings/python/test.sh                               # make install into a temp prefix
#
# EXECTRACE_REQUIRE_BPF=1 makes "cannot create a tracer" a failure, not a skip.
# Extra arguments go to pytest.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/exectrace-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ -n "${EXECTRACE_PREFIX:-}" ]; then
	prefix=$EXECTRACE_PREFIX
else
	prefix=$tmp/prefix
	echo "test.sh: make install PREFIX=$prefix"
	make -C "$ROOT" install PREFIX="$prefix"
fi
lib=$prefix/lib/libexectrace.so.0
if [ ! -e "$lib" ]; then
	echo "test.sh: $lib not found (EXECTRACE_PREFIX=${EXECTRACE_PREFIX:-})" >&2
	exit 1
fi
export EXECTRACE_LIBRARY=$lib
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [ -e "$prefix/include/exectrace.h" ]; then
	export EXECTRACE_HEADER=$prefix/include/exectrace.h
fi

# A venv that still sees the system's pytest.
"$PYTHON" -m venv --system-site-packages "$tmp/venv"
py=$tmp/venv/bin/python
if ! "$py" -c 'import pytest' 2>/dev/null; then
	"$py" -m pip install -q pytest
fi

# pip builds in the source directory (build/, *.egg-info): install from a
# copy so the work tree stays clean. Offline first (needs setuptools and
# wheel), else an isolated build that fetches them from the package index.
mkdir "$tmp/src"
cp -R "$HERE/pyproject.toml" "$HERE/README.md" "$HERE/exectrace" "$tmp/src/"
if ! "$py" -m pip install -q --no-deps --no-build-isolation "$tmp/src" >"$tmp/pip-offline.log" 2>&1; then
	"$py" -m pip install -q --no-deps "$tmp/src"
fi
# The tests must exercise the installed package, not the source tree.
installed=$(cd "$tmp" && "$py" -c 'import exectrace; print(exectrace.__file__)')
case "$installed" in
"$tmp/venv/"*) ;;
*)
	echo "test.sh: imported exectrace from $installed, not the venv" >&2
	exit 1
	;;
esac

cd "$tmp"
status=0
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -q -p no:cacheprovider \
	--rootdir "$HERE" -c "$HERE/pyproject.toml" "$HERE/tests" "$@" || status=$?
if [ "$status" -eq 5 ]; then
	echo "test.sh: pytest collected no tests" >&2
fi
exit "$status"
