#!/bin/sh
# The kernel tests of one kernel, as run inside each guest of the matrix
# (and on the host for its line): a subset sized for emulation.
#
#   guest.sh ROOT STAGE
#
# ROOT: the source tree. STAGE: what run.sh built for the guests (the Rust
# test binaries listed in rust-tests, c-tests, go.test). Writes one line
# per suite, then "total PASSED FAILED", to STAGE/result-$(uname -r).
#
# Host-only (HOST_ONLY below): the stress and race loops. Each repeats
# something thousands of times (1000 close/read races, a stream of try_read
# loops, an exec storm of 64 spawners, 500 load cycles); under emulation
# each takes minutes, and what they test is the library's own concurrency,
# the same on every kernel. Everything else runs: every hook, filter, argv,
# signal and lifecycle test.
set -u
ROOT=$1
STAGE=$2
rel=$(uname -r)
out=$STAGE/result-$rel
log=$STAGE/log-$rel
: >"$out"
: >"$log"
export EXECTRACE_REQUIRE_BPF=1 HOME=${HOME:-/root}
total_pass=0
total_fail=0

HOST_ONLY="close_racing_blocked_reads_1000_times
try_read_loops_lose_no_wake_up_under_a_stream_of_execs
exec_storm_every_exec_delivered_or_counted
five_hundred_cycles_leak_nothing"

count() { # WORD LINE: N of "N WORD" in LINE, 0 if none
	n=$(echo "$2" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' | tail -n 1)
	echo "${n:-0}"
}

record() { # suite passed failed
	echo "$1 $2 $3" >>"$out"
	echo "guest $rel: $1: $2 passed, $3 failed"
	total_pass=$((total_pass + $2))
	total_fail=$((total_fail + $3))
}

# Rust: libtest's "test result: ... N passed; M failed" per binary.
skips=""
for t in $HOST_ONLY; do skips="$skips --skip $t"; done
while read -r name bin; do
	# shellcheck disable=SC2086
	timeout 900 "$bin" --test-threads=2 $skips >"$STAGE/rust-$name-$rel.txt" 2>&1
	rc=$?
	cat "$STAGE/rust-$name-$rel.txt" >>"$log"
	line=$(grep '^test result:' "$STAGE/rust-$name-$rel.txt" | tail -n 1)
	p=$(count passed "$line")
	f=$(count failed "$line")
	[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1 # died or timed out
	record "rust:$name" "$p" "$f"
done <"$STAGE/rust-tests"

# C: the harness's event, batch and rich-field tests ("N passed, M failed" last).
timeout 600 "$STAGE/c-tests" events_ batch_ rich_ >"$STAGE/c-$rel.txt" 2>&1
rc=$?
cat "$STAGE/c-$rel.txt" >>"$log"
line=$(tail -n 1 "$STAGE/c-$rel.txt")
p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
[ -n "$p" ] || { p=0; f=1; }
[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
record c "$p" "$f"

# Go: real events through the binding (its pid-namespace filter, the richer fields).
timeout 600 "$STAGE/go.test" -test.v -test.run '^(TestBasicEvent|TestPidNSOwn|TestRichFields)$' >"$STAGE/go-$rel.txt" 2>&1
rc=$?
cat "$STAGE/go-$rel.txt" >>"$log"
p=$(grep -c '^--- PASS' "$STAGE/go-$rel.txt")
f=$(grep -c '^--- FAIL' "$STAGE/go-$rel.txt")
[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
[ "$p" != 0 ] || [ "$f" != 0 ] || f=1 # nothing ran
record go "$p" "$f"

# Python: real events through the binding.
(cd "$ROOT/bindings/python" &&
	PYTHONPATH=$ROOT/bindings/python PYTHONDONTWRITEBYTECODE=1 \
		EXECTRACE_LIBRARY=$STAGE/lib/libexectrace.so.0 EXECTRACE_HEADER=$ROOT/include/exectrace.h \
		timeout 600 "$(cat "$STAGE/python")" -m pytest -q -p no:cacheprovider tests/test_events.py tests/test_rich.py \
		-k 'test_exact_argv_and_process_fields or test_failed_exec_reported_with_include_failed or test_rich_fields') \
	>"$STAGE/python-$rel.txt" 2>&1
rc=$?
cat "$STAGE/python-$rel.txt" >>"$log"
line=$(grep -E '[0-9]+ (passed|failed)' "$STAGE/python-$rel.txt" | tail -n 1)
p=$(count passed "$line")
f=$(count failed "$line")
[ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
[ "$p" != 0 ] || [ "$f" != 0 ] || f=1 # nothing ran
record python "$p" "$f"

# The command: one marked exec as JSON, as a uid nobody else runs as.
uid=4987
m="kernel-matrix-$$-$(date +%s%N)"
"$STAGE/exectrace" --uid $uid --count 1 --format json >"$STAGE/cli-$rel.json" 2>"$STAGE/cli-$rel.err" &
cli=$!
end=$(($(date +%s) + 120))
while kill -0 $cli 2>/dev/null && [ "$(date +%s)" -lt $end ]; do
	setpriv --reuid=$uid --regid=$uid --clear-groups /bin/true "$m"
	sleep 0.2 # the command's readiness is its first event: retry until it has one
done
kill $cli 2>/dev/null
wait $cli
rc=$?
cat "$STAGE/cli-$rel.json" "$STAGE/cli-$rel.err" >>"$log"
if [ "$rc" = 0 ] && grep -q "\"$m\"" "$STAGE/cli-$rel.json"; then
	record cli 1 0
else
	echo "guest $rel: cli exit $rc; output: $(cat "$STAGE/cli-$rel.json" "$STAGE/cli-$rel.err")"
	record cli 0 1
fi

echo "total $total_pass $total_fail" >>"$out"
echo "guest $rel: total: $total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
