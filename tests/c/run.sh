#!/usr/bin/env bash
# C tests of libexectrace, against an INSTALLED library (header, .so, .a, .pc).
#
#   tests/c/run.sh                          # make install into a temp prefix first
#   EXECTRACE_PREFIX=/usr/local tests/c/run.sh   # or test an existing install
#
# Steps: library checks (SONAME, exported symbols = header functions,
# symlinks), the header compiled as C and C++ (and included twice), the test
# program run plain and under AddressSanitizer + UndefinedBehaviorSanitizer
# (LeakSanitizer too), one test program linked statically against
# libexectrace.a, and the example program examples/c/exectrace.c (built and
# run against marked processes). Exits non-zero on any failure.
#
# Environment: EXECTRACE_PREFIX (install prefix to test), EXECTRACE_REQUIRE_BPF=1
# (a tracer that cannot be created is a failure, not a skip),
# EXECTRACE_C_RACE_ITERS (close/read race iterations, default 1000), CC, CXX.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CC=${CC:-cc}
CXX=${CXX:-c++}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/exectrace-ctest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)

failures=()
fail() {
	echo "run.sh: FAIL: $*" >&2
	failures+=("$*")
}
step() { echo; echo "=== $* ==="; }

# ---- the install under test ---------------------------------------------------
if [ -n "${EXECTRACE_PREFIX:-}" ]; then
	PREFIX=$EXECTRACE_PREFIX
	echo "testing the install at $PREFIX"
else
	PREFIX=$WORK/prefix
	step "make install PREFIX=$PREFIX"
	if ! make -C "$ROOT" install PREFIX="$PREFIX" >"$WORK/install.log" 2>&1; then
		tail -n 40 "$WORK/install.log" >&2
		echo "run.sh: FAIL: make install failed" >&2
		exit 1
	fi
	tail -n 3 "$WORK/install.log"
fi
PCDIR=""
for d in "$PREFIX"/lib/pkgconfig "$PREFIX"/lib64/pkgconfig "$PREFIX"/lib/*-linux-gnu/pkgconfig; do
	if [ -f "$d/exectrace.pc" ]; then PCDIR=$d; break; fi
done
if [ -z "$PCDIR" ]; then
	echo "run.sh: FAIL: no exectrace.pc under $PREFIX" >&2
	exit 1
fi
export PKG_CONFIG_PATH=$PCDIR
LIBDIR=$(pkg-config --variable=libdir exectrace)
VERSION=$(pkg-config --modversion exectrace)
CFLAGS_PC=$(pkg-config --cflags exectrace)
LIBS_PC=$(pkg-config --libs exectrace)
echo "exectrace $VERSION: cflags '$CFLAGS_PC', libs '$LIBS_PC'"
[ -d "$LIBDIR" ] || { echo "run.sh: FAIL: libdir $LIBDIR of exectrace.pc does not exist" >&2; exit 1; }
# Binaries find the library under test without LD_LIBRARY_PATH.
RPATH="-Wl,-rpath,$LIBDIR"

# ---- the library ---------------------------------------------------------------
step "library: SONAME, exports, files"
SO=$LIBDIR/libexectrace.so.0
for f in "$LIBDIR/libexectrace.so" "$SO" "$LIBDIR/libexectrace.a" \
	"$(pkg-config --variable=includedir exectrace)/exectrace.h"; do
	[ -e "$f" ] || fail "missing $f"
done
soname=$(readelf -d "$SO" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" = "libexectrace.so.0" ]; then
	echo "SONAME $soname"
else
	fail "SONAME of $SO is '$soname', want libexectrace.so.0"
fi
nm -D --defined-only "$SO" | awk '{print $NF}' | sort -u >"$WORK/exports"
if grep -v '^exectrace_' "$WORK/exports" >"$WORK/foreign"; then
	fail "exports other than exectrace_*: $(head -n 20 "$WORK/foreign" | tr '\n' ' ')"
fi
# Every function the header declares is exported, and nothing else.
HEADER=$(pkg-config --variable=includedir exectrace)/exectrace.h
# (declarations start a line; comments and the static inline helpers don't count)
grep -E '^[A-Za-z]' "$HEADER" | grep -v '^static' | grep -oE '\bexectrace_[a-z_]+\(' | tr -d '(' |
	sort -u >"$WORK/declared"
if ! diff -u "$WORK/declared" "$WORK/exports" >"$WORK/exports.diff"; then
	fail "header declarations and exports differ: $(cat "$WORK/exports.diff")"
fi
echo "$(wc -l <"$WORK/exports") exported symbols, all exectrace_*, same as the header"

# ---- the header ----------------------------------------------------------------
step "header: C, C++, included twice"
# Self-contained (nothing included before it), every type, macro and helper.
cat >"$WORK/hdr1.c" <<'EOF'
#include <exectrace.h>
#include <string.h>
int main(void)
{
	static struct exectrace_event ev;
	exectrace_opts o;
	exectrace_stats st;
	exectrace *t = 0;
	int n = 0;
	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	ev.size = sizeof(ev);
	o.size = sizeof(o);
	o.flags = EXECTRACE_OPT_INCLUDE_FAILED | EXECTRACE_OPT_FILTER_UID |
		  EXECTRACE_OPT_WAKE_PER_EVENT | EXECTRACE_OPT_FALLBACK_HOOKS |
		  EXECTRACE_OPT_INCLUDE_ENV | EXECTRACE_OPT_PATHS;
	o.env_budget = 64;
	for (const char *e = exectrace_env_first(&ev); e; e = exectrace_env_next(&ev, e))
		n++;
	for (const char *a = exectrace_argv_first(&ev); a; a = exectrace_argv_next(&ev, a))
		n++;
	if (ev.flags & (EXECTRACE_EVENT_TRUNCATED | EXECTRACE_EVENT_FAILED | EXECTRACE_EVENT_HAS_INTERP))
		n++;
	int (*f)(const exectrace_opts *, exectrace **) = exectrace_new;
	(void)f;
	return n + (t != 0) + (int)sizeof(ev.comm) + EXECTRACE_PATH_LEN + EXECTRACE_ARGV_MAX;
}
EOF
{ echo '#include <exectrace.h>'; cat "$WORK/hdr1.c"; } >"$WORK/hdr.c"
hdr_ok=1
for std in c99 c11 gnu17; do
	if ! $CC -std=$std -pedantic -Wall -Wextra -Werror $CFLAGS_PC -fsyntax-only "$WORK/hdr1.c"; then
		fail "header does not compile as C ($std)"; hdr_ok=0
	fi
done
for std in c++11 c++17 c++20; do
	if ! $CXX -std=$std -pedantic -Wall -Wextra -Werror -x c++ $CFLAGS_PC -fsyntax-only "$WORK/hdr1.c"; then
		fail "header does not compile as C++ ($std)"; hdr_ok=0
	fi
done
if ! $CC -Wall -Wextra -Werror $CFLAGS_PC -fsyntax-only "$WORK/hdr.c" 2>"$WORK/twice.log" ||
	! $CXX -Wall -Wextra -Werror -x c++ $CFLAGS_PC -fsyntax-only "$WORK/hdr.c" 2>>"$WORK/twice.log"; then
	head -n 6 "$WORK/twice.log" >&2
	fail "header cannot be included twice in one translation unit"; hdr_ok=0
fi
[ $hdr_ok = 1 ] && echo "header ok: C99/C11/GNU17, C++11/17/20, -pedantic -Wall -Wextra -Werror, double inclusion"

# ---- sanitizer options -----------------------------------------------------------
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
ASAN_BASE="halt_on_error=1:abort_on_error=0:exitcode=66:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# LeakSanitizer needs ptrace-like access to the process; check it really
# reports here before relying on it.
printf '#include <stdlib.h>\nvoid *volatile p;\nint main(void){p=malloc(33);p=0;return 0;}\n' >"$WORK/leak.c"
detect_leaks=0
if $CC $SAN_FLAGS -o "$WORK/leak" "$WORK/leak.c" 2>"$WORK/leak.log"; then
	ASAN_OPTIONS="$ASAN_BASE:detect_leaks=1" "$WORK/leak" >"$WORK/leak.out" 2>&1
	if grep -q "LeakSanitizer: detected memory leaks" "$WORK/leak.out"; then
		detect_leaks=1
	else
		echo "note: LeakSanitizer does not work here ($(grep -m1 -i sanitizer "$WORK/leak.out" || echo 'no report for a known leak')); leaks not checked"
	fi
else
	fail "cannot build with $SAN_FLAGS: $(head -n 3 "$WORK/leak.log")"
fi
export ASAN_OPTIONS="$ASAN_BASE:detect_leaks=$detect_leaks"
echo "ASAN_OPTIONS=$ASAN_OPTIONS"
echo "UBSAN_OPTIONS=$UBSAN_OPTIONS"

# ---- the tests -----------------------------------------------------------------
TEST_SRC=("$HERE"/main.c "$HERE"/harness.c "$HERE"/test_api.c "$HERE"/test_events.c "$HERE"/test_threads.c "$HERE"/test_batch.c "$HERE"/test_rich.c)
WARN="-Wall -Wextra -Werror"
DEFS="-DEXPECTED_VERSION=\"$VERSION\""
bpf_skipped=0

run_tests() { # name binary [test-prefix...]
	local name=$1 bin=$2
	shift 2
	echo "--- $name: $bin $*"
	timeout 600 "$bin" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
	local rc=$?
	cat "$WORK/$name.out"
	# Library or sanitizer output on stderr (a panic message, a report).
	if [ -s "$WORK/$name.err" ]; then
		echo "--- $name: stderr"
		grep -v '^ \+[0-9]\+: \|^ \+at ' "$WORK/$name.err" | head -n 60
	fi
	local last
	last=$(tail -n 1 "$WORK/$name.out")
	if [ $rc -ne 0 ] || ! [[ $last =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
		fail "$name: exit $rc, '$last'"
	fi
	if grep -q '^BPF unavailable' "$WORK/$name.out"; then bpf_skipped=1; fi
}

step "tests, plain"
if $CC $WARN -O2 -g $DEFS $CFLAGS_PC -o "$WORK/ctest" "${TEST_SRC[@]}" $LIBS_PC $RPATH -lpthread; then
	# (grep reads it all: with -q, ldd could die of SIGPIPE and fail the pipeline)
	ldd "$WORK/ctest" | grep -F "$LIBDIR/libexectrace.so.0" >/dev/null ||
		fail "ctest does not load libexectrace from $LIBDIR: $(ldd "$WORK/ctest" | grep exectrace)"
	run_tests plain "$WORK/ctest"
else
	fail "building the tests"
fi

step "tests, AddressSanitizer + UndefinedBehaviorSanitizer"
if $CC $WARN -O1 -g $SAN_FLAGS $DEFS $CFLAGS_PC -o "$WORK/ctest-san" "${TEST_SRC[@]}" $LIBS_PC $RPATH -lpthread; then
	run_tests sanitizers "$WORK/ctest-san"
else
	fail "building the tests with sanitizers"
fi

step "tests, linked statically against libexectrace.a"
STATIC_LIBS=$(pkg-config --static --libs exectrace | sed 's/-lexectrace\b/-Wl,-Bstatic -lexectrace -Wl,-Bdynamic/')
if $CC $WARN -O2 -g $DEFS $CFLAGS_PC -o "$WORK/ctest-static" "${TEST_SRC[@]}" $STATIC_LIBS -lpthread; then
	if readelf -d "$WORK/ctest-static" | grep -q 'NEEDED.*libexectrace'; then
		fail "ctest-static still needs libexectrace.so"
	fi
	echo "libs: $STATIC_LIBS"
	run_tests static "$WORK/ctest-static" api misuse events_argv_exact events_failed events_poll \
		events_stats threads_shutdown_wakes_read batch_events rich_read rich_batch
else
	fail "linking the tests statically"
fi

# ---- the example -------------------------------------------------------------------
# exectrace-c --uid U --count 1 prints the event of a process we run as U
# (a random uid nobody else uses): one line, exactly the expected arguments, a line
# break in an argument escaped rather than forging a second event line.
cat >"$WORK/expected-text" <<'EOF'
/bin/echo MARKER $'x\n[1, comm="evil", uid=0, gid=0, filename=/bin/sh] forged' '' 'two words' $'\x1b[2J\xff'
EOF
cat >"$WORK/check-json.py" <<'EOF'
import base64, json, sys
line, marker, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
ev = json.loads(line)
keys = list(ev)
assert keys[:8] == ["filename", "argv", "argv_base64", "truncated", "pid", "uid", "gid", "comm"], keys
want = ["/bin/echo", marker, 'x\n[1, comm="evil", uid=0, gid=0, filename=/bin/sh] forged',
        "", "two words", "\x1b[2J\ufffd"]
assert ev["argv"] == want, ev["argv"]
assert base64.b64decode(ev["argv_base64"][5]) == b"\x1b[2J\xff", ev["argv_base64"]
assert ev["filename"] == "/bin/echo" and ev["comm"] == "setpriv", ev
assert ev["uid"] == uid and ev["gid"] == uid and ev["euid"] == uid and ev["result"] == 0, ev
assert ev["truncated"] is False and ev["argc"] == 6 and ev["pid"] == ev["tid"], ev
for k in ("ppid", "egid", "cgroup_id", "pid_ns", "seq", "timestamp_ns", "argv_size"):
    assert isinstance(ev[k], int), k
EOF

example_case() { # binary label format
	local bin=$1 label=$2 fmt=$3 uid=$((1500000000 + RANDOM * 32768 + RANDOM))
	local marker="ctest-ex-$$-$RANDOM$RANDOM"
	local out=$WORK/ex-$label.out err=$WORK/ex-$label.err
	"$bin" --uid "$uid" --count 1 --format "$fmt" >"$out" 2>"$err" &
	local pid=$! n=0
	# Exec until it has seen one (it may not be attached yet at first).
	while kill -0 $pid 2>/dev/null && [ $n -lt 100 ]; do
		setpriv --reuid="$uid" --regid="$uid" --clear-groups /bin/echo "$marker" \
			"$(printf 'x\n[1, comm="evil", uid=0, gid=0, filename=/bin/sh] forged')" \
			"" "two words" "$(printf '\033[2J\377')" >/dev/null
		sleep 0.1
		n=$((n + 1))
	done
	if kill -0 $pid 2>/dev/null; then
		kill -TERM $pid
		fail "example $label: no event after $n execs"
	fi
	wait $pid
	local rc=$?
	if [ $rc -ne 0 ]; then fail "example $label: exit $rc: $(cat "$err")"; return; fi
	if [ "$(wc -l <"$out")" -ne 1 ]; then fail "example $label: $(wc -l <"$out") lines, want 1"; fi
	local line
	line=$(head -n 1 "$out")
	if [ "$fmt" = text ]; then
		local prefix="^\[[0-9]+, comm=\"setpriv\", uid=$uid, gid=$uid, filename=/bin/echo\] "
		local want rest
		want=$(sed "s/MARKER/$marker/" "$WORK/expected-text")
		rest=$(printf '%s\n' "$line" | sed -E "s|$prefix||")
		if ! printf '%s\n' "$line" | grep -qE "$prefix" || [ "$rest" != "$want" ]; then
			fail "example $label: got: $line"
			echo "  want: [..., uid=$uid, gid=$uid, filename=/bin/echo] $want" >&2
		fi
	elif ! python3 "$WORK/check-json.py" "$line" "$marker" "$uid" 2>"$WORK/json.err"; then
		fail "example $label: $(tail -n 1 "$WORK/json.err"): $line"
	fi
	if ! grep -qE '^exectrace-c: 1 events, [0-9]+ dropped$' "$err"; then
		fail "example $label: stderr: $(cat "$err")"
	fi
	echo "$label: $line"
	echo "$label: $(cat "$err")"
}

example_signal() { # binary label: SIGINT stops it cleanly, counts on stderr
	local bin=$1 label=$2 err=$WORK/ex-sig-$label.err
	"$bin" --uid $((1500000000 + RANDOM * 32768 + RANDOM)) >/dev/null 2>"$err" &
	local pid=$! i=0
	# Wait until its signal mask is set (SIGINT blocked) and its thread runs.
	while [ $i -lt 100 ]; do
		if [ "$(ls /proc/$pid/task 2>/dev/null | wc -l)" -ge 2 ]; then break; fi
		sleep 0.05
		i=$((i + 1))
	done
	kill -INT $pid
	local t0=$SECONDS
	wait $pid
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -qE '^exectrace-c: 0 events, [0-9]+ dropped$' "$err"; then
		fail "example $label: SIGINT: exit $rc, stderr: $(cat "$err")"
	elif [ $((SECONDS - t0)) -gt 2 ]; then
		fail "example $label: SIGINT took $((SECONDS - t0)) s"
	else
		echo "$label: SIGINT -> exit 0, $(cat "$err")"
	fi
}

step "example: examples/c/exectrace.c"
ex_built=1
make -s -C "$ROOT/examples/c" BUILD="$WORK" CC="$CC" CFLAGS="-O2 -g" LDFLAGS="$RPATH" ||
	{ fail "building the example"; ex_built=0; }
mkdir -p "$WORK/san"
make -s -C "$ROOT/examples/c" BUILD="$WORK/san" CC="$CC" CFLAGS="-O1 -g $SAN_FLAGS" LDFLAGS="$RPATH" ||
	{ fail "building the example with sanitizers"; ex_built=0; }
if [ $ex_built = 1 ]; then
	"$WORK/exectrace-c" --bogus >/dev/null 2>&1
	[ $? -eq 2 ] || fail "example: an unknown argument should exit 2"
	"$WORK/exectrace-c" --help | grep -q '^usage: exectrace-c' || fail "example: --help"
	if [ $bpf_skipped = 1 ] && [ "${EXECTRACE_REQUIRE_BPF:-}" != 1 ]; then
		echo "SKIP: running the example needs BPF"
	elif ! command -v setpriv >/dev/null; then
		fail "setpriv (util-linux) is needed to run the example test"
	else
		for v in "plain:$WORK/exectrace-c" "sanitizers:$WORK/san/exectrace-c"; do
			label=${v%%:*} bin=${v#*:}
			example_case "$bin" "$label-text" text
			example_case "$bin" "$label-json" json
			example_signal "$bin" "$label"
		done
	fi
fi

# ---- summary -------------------------------------------------------------------------
echo
echo "run.sh: $(($(date +%s) - START)) s"
if [ $bpf_skipped = 1 ]; then
	if [ "${EXECTRACE_REQUIRE_BPF:-}" = 1 ]; then
		fail "EXECTRACE_REQUIRE_BPF=1 but BPF is unavailable"
	else
		echo "run.sh: SKIPPED the tests that need BPF: no tracer can be created here (see 'BPF unavailable' above)"
	fi
fi
if [ ${#failures[@]} -ne 0 ]; then
	echo "run.sh: ${#failures[@]} failure(s):"
	printf '  - %s\n' "${failures[@]}"
	exit 1
fi
echo "run.sh: all C tests passed"
