#!/usr/bin/env bash
# Packaging checks (issue 21), each in a clean environment (no LD_LIBRARY_PATH,
# EXECTRACE_LIBRARY, PKG_CONFIG_PATH, PYTHONPATH, GOFLAGS, ...):
#   1. libexectrace.so.0 and the exectrace command need nothing but libc,
#      libgcc_s, libm and the dynamic loader (readelf -d NEEDED, and ldd);
#   2. C: a program linked with libexectrace.a through `pkg-config --static`
#      needs no libexectrace.so, and reads a real event;
#   3. Go: `go build -tags exectrace_static` (own GOCACHE and GOPATH) gives a
#      program without libexectrace.so that reads a real event; the default
#      build links libexectrace.so.0;
#   4. Python: `pip install ./bindings/python` into a fresh venv, and a wheel
#      from `python -m build` into another, each load the library the package
#      bundles and read a real event.
# Each consumer (consumer.c, goconsumer/, consumer.py) starts a tracer, runs
# `/bin/true MARKER` and waits for the event with that pid and marker.
#
#   EXECTRACE_PREFIX=/some/prefix tests/packaging/run.sh   # an existing `make install`
#   tests/packaging/run.sh                                 # make install into a temp prefix
#
# Needs root for the events; without BPF they skip, unless
# EXECTRACE_REQUIRE_BPF=1 (then a skip fails). PyPI must be reachable (pip's
# isolated builds fetch setuptools; `build` is installed into a venv).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/exectrace-packaging.XXXXXX")
pybuild=$ROOT/bindings/python/build
pyegg=$ROOT/bindings/python/exectrace.egg-info
# The in-place Python builds leave build/ and exectrace.egg-info/ (ignored by
# git) in bindings/python: remove them unless they were there before.
keep_pybuild=0
[ -e "$pybuild" ] || [ -e "$pyegg" ] && keep_pybuild=1
cleanup() {
	chmod -R u+w "$tmp" 2>/dev/null || true # the Go module cache is read-only
	rm -rf "$tmp"
	[ "$keep_pybuild" = 1 ] || rm -rf "$pybuild" "$pyegg"
}
trap cleanup EXIT

if [ -n "${EXECTRACE_PREFIX:-}" ]; then
	prefix=$(cd "$EXECTRACE_PREFIX" && pwd)
else
	prefix=$tmp/prefix
	echo "packaging: make install PREFIX=$prefix"
	make -s -C "$ROOT" install PREFIX="$prefix"
fi

case "$(uname -m)" in
x86_64) ldso=ld-linux-x86-64.so.2 ;;
aarch64) ldso=ld-linux-aarch64.so.1 ;;
*) echo "packaging: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
# What libexectrace.so.0, the exectrace command and programs linked with
# libexectrace.a may need at run time, and nothing else.
allowed="libc.so.6 libgcc_s.so.1 libm.so.6 $ldso"

# A command without the variables that could find a library for it.
clean() {
	env -u LD_LIBRARY_PATH -u LD_PRELOAD -u EXECTRACE_LIBRARY -u EXECTRACE_PREFIX \
		-u EXECTRACE_HEADER -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR -u PYTHONPATH \
		-u PYTHONHOME -u VIRTUAL_ENV -u PIP_PREFIX -u PIP_TARGET -u GOFLAGS -u CGO_LDFLAGS \
		-u CGO_CFLAGS -u CGO_CPPFLAGS "$@"
}

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL: $*"; }

# needs_only FILE: its NEEDED entries and everything ldd resolves are allowed.
needs_only() {
	local f=$1 needed bad="" lib
	needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
	for lib in $needed; do
		case " $allowed " in *" $lib "*) ;; *) bad="$bad $lib" ;; esac
	done
	# ldd lists what the needed libraries need in turn, and "not found".
	while read -r lib _; do
		lib=${lib##*/}
		case " $allowed linux-vdso.so.1 " in *" $lib "*) ;; *) bad="$bad $lib(ldd)" ;; esac
	done < <(clean ldd "$f")
	if [ -n "$bad" ]; then
		not_ok "$f needs$bad (NEEDED: $needed)"
		clean ldd "$f" | sed 's/^/    /'
	else
		ok "$(basename "$f") NEEDED: $needed"
	fi
}

# consumer NAME CMD...: run a consumer; 0 passes, 77 (no tracer) skips.
consumer() {
	local name=$1 rc=0
	shift
	(cd "$tmp" && clean "$@") || rc=$?
	case $rc in
	0) ok "$name read its event" ;;
	77)
		if [ "${EXECTRACE_REQUIRE_BPF:-0}" = 1 ]; then
			not_ok "$name: no tracer, and EXECTRACE_REQUIRE_BPF=1"
		else
			skipped=$((skipped + 1))
			echo "skip: $name: no tracer (BPF unavailable)"
		fi
		;;
	*) not_ok "$name exited $rc" ;;
	esac
}

marker() { echo "exectrace-packaging-$1-$$-$RANDOM$RANDOM"; }

echo "== the library and the command"
needs_only "$prefix/lib/libexectrace.so.0"
needs_only "$prefix/bin/exectrace"
ls -lL "$prefix/lib/libexectrace.so.0" "$prefix/lib/libexectrace.a" "$prefix/bin/exectrace"

echo "== C: libexectrace.a through pkg-config --static"
pc=$prefix/lib/pkgconfig
echo "pkg-config --static --libs-only-l: $(clean PKG_CONFIG_PATH="$pc" pkg-config --static --libs-only-l exectrace)"
# -l:libexectrace.a first: pkg-config's -lexectrace would link the .so.
if clean PKG_CONFIG_PATH="$pc" sh -c 'cc -O2 -Wall -Werror -o "$1" "$2" $(pkg-config --cflags exectrace) \
	-Wl,--as-needed -l:libexectrace.a $(pkg-config --static --libs exectrace)' \
	sh "$tmp/consumer-c" "$HERE/consumer.c"; then
	needs_only "$tmp/consumer-c"
	consumer "C (static)" "$tmp/consumer-c" "$(marker c)"
else
	not_ok "C: static link of consumer.c"
fi

echo "== Go: -tags exectrace_static, and the default"
gobuild() {
	(cd "$HERE/goconsumer" && clean PKG_CONFIG_PATH="$pc" GOCACHE="$tmp/go/cache" \
		GOPATH="$tmp/go/path" GOMODCACHE="$tmp/go/path/pkg/mod" GOPROXY=off \
		GOTOOLCHAIN=local CGO_ENABLED=1 go build "$@")
}
if gobuild -tags exectrace_static -o "$tmp/consumer-go-static" .; then
	needs_only "$tmp/consumer-go-static"
	consumer "Go (static)" "$tmp/consumer-go-static" "$(marker go)"
else
	not_ok "Go: go build -tags exectrace_static"
fi
if gobuild -o "$tmp/consumer-go" . &&
	readelf -d "$tmp/consumer-go" | grep -q 'NEEDED.*\[libexectrace\.so\.0\]'; then
	ok "Go default build links libexectrace.so.0 (pkg-config)"
else
	not_ok "Go default build: no NEEDED libexectrace.so.0"
fi

echo "== Python: pip install ./bindings/python, python -m build"
# loaded VENV [VAR=VALUE]: the libexectrace that the venv's exectrace loads.
loaded() {
	local venv=$1
	shift
	(cd "$tmp" && clean "$@" "$venv/bin/python" -c \
		'import exectrace; exectrace.version(); print(open("/proc/self/maps").read())' |
		grep -o '/[^ ]*libexectrace[^ ]*' | sort -u) || true
}
# pip_check NAME VENV: the venv's exectrace loads its bundled library (and
# EXECTRACE_LIBRARY before it) and reads an event.
pip_check() {
	local name=$1 venv=$2 out
	out=$(loaded "$venv")
	case "$out" in
	"$venv/"*/exectrace/libexectrace.so.0) ok "$name loads the bundled $out" ;;
	*) not_ok "$name loads '${out:-nothing}', not the copy in $venv" ;;
	esac
	out=$(loaded "$venv" EXECTRACE_LIBRARY="$prefix/lib/libexectrace.so.0")
	case "$out" in
	"$prefix/lib/libexectrace.so"*) ok "$name: EXECTRACE_LIBRARY comes first" ;;
	*) not_ok "$name loads '${out:-nothing}' despite EXECTRACE_LIBRARY=$prefix/lib/libexectrace.so.0" ;;
	esac
	consumer "$name" "$venv/bin/python" "$HERE/consumer.py" "$(marker py)"
}
# The repository's target directory: the library is built already.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
clean "$PYTHON" -m venv "$tmp/venv"
if (cd "$ROOT" && clean "$tmp/venv/bin/pip" install -q --no-cache-dir ./bindings/python); then
	pip_check "pip install ./bindings/python" "$tmp/venv"
else
	not_ok "pip install ./bindings/python"
fi
clean "$PYTHON" -m venv "$tmp/venv-build"
clean "$PYTHON" -m venv "$tmp/venv-wheel"
if clean "$tmp/venv-build/bin/pip" install -q build &&
	(cd "$ROOT/bindings/python" && clean "$tmp/venv-build/bin/python" -m build -q \
		--outdir "$tmp/dist" . >"$tmp/build.log" 2>&1); then
	wheels=$(cd "$tmp/dist" && ls ./*.whl)
	case "$wheels" in
	"./exectrace-"*"-py3-none-linux_$(uname -m).whl") ok "python -m build: $wheels" ;;
	*) not_ok "python -m build made $wheels, not one py3-none-linux_$(uname -m) wheel" ;;
	esac
	if clean "$tmp/venv-wheel/bin/pip" install -q --no-index "$tmp/dist/"*.whl; then
		pip_check "wheel of python -m build" "$tmp/venv-wheel"
	else
		not_ok "pip install of the wheel"
	fi
else
	cat "$tmp/build.log" 2>/dev/null || true
	not_ok "python -m build"
fi

echo "packaging: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
