/* A tiny test harness for the C tests of libexectrace: plain C, no framework.
 *
 * A test is a `void fn(void)` registered with a name; CHECK records a failure
 * and goes on, REQUIRE records one and returns from the test. The program
 * ends with the line `N passed, M failed`.
 */
#ifndef EXECTRACE_TEST_HARNESS_H
#define EXECTRACE_TEST_HARNESS_H

#include <exectrace.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* ---- registry ---------------------------------------------------------- */

enum { H_PLAIN = 0, H_BPF = 1 }; /* H_BPF: needs a tracer (root + BPF) */

struct h_test {
	const char *name;
	void (*fn)(void);
	int needs;
	unsigned timeout_s; /* watchdog; 0 = default */
};

void h_register(const struct h_test *tests, size_t n);
int h_main(int argc, char **argv);

/* ---- assertions -------------------------------------------------------- */

void h_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void h_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void h_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Failures recorded so far in the running test (to stop loops early). */
int h_failures(void);

#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c))                                                         \
			h_fail(__FILE__, __LINE__, "CHECK(%s)", #c);              \
	} while (0)
#define REQUIRE(c)                                                                \
	do {                                                                      \
		if (!(c)) {                                                       \
			h_fail(__FILE__, __LINE__, "REQUIRE(%s)", #c);            \
			return;                                                   \
		}                                                                 \
	} while (0)
#define CHECK_INT(a, b)                                                           \
	do {                                                                      \
		long long h_a_ = (long long)(a), h_b_ = (long long)(b);           \
		if (h_a_ != h_b_)                                                 \
			h_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld%s", #a, #b, \
			       h_a_, h_b_, h_errhint(h_a_));                     \
	} while (0)
#define REQUIRE_INT(a, b)                                                         \
	do {                                                                      \
		long long h_a_ = (long long)(a), h_b_ = (long long)(b);           \
		if (h_a_ != h_b_) {                                               \
			h_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld%s", #a, #b, \
			       h_a_, h_b_, h_errhint(h_a_));                     \
			return;                                                   \
		}                                                                 \
	} while (0)
#define CHECK_STR(a, b)                                                           \
	do {                                                                      \
		const char *h_a_ = (a), *h_b_ = (b);                              \
		if (strcmp(h_a_, h_b_) != 0)                                      \
			h_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
			       h_a_, h_b_);                                       \
	} while (0)

/* " (ENOENT: last error ...)" for negative errno values, else "". */
const char *h_errhint(long long v);

/* ---- helpers ------------------------------------------------------------ */

/* A tracer from opts (NULL: defaults); on failure records it and returns NULL. */
exectrace *h_tracer(const exectrace_opts *opts, const char *file, int line);
#define H_TRACER(opts) h_tracer((opts), __FILE__, __LINE__)
exectrace_opts h_opts(void); /* zeroed, size set */
exectrace_event *h_event(void); /* calloc'ed, size set; free() it */

/* A marker unique to this process and call: "ctest-<pid>-<random>-<n>". */
void h_marker(char *buf, size_t len);
uint64_t h_random(void);
/* A random uid in [1500000000, 2000000000): no other process (or other test
 * suite running at the same time) execs as it. */
uint32_t h_unused_uid(void);
double h_now(void); /* CLOCK_MONOTONIC seconds */
uint64_t h_boottime_ns(void);
void h_sleep_ms(unsigned ms);

struct h_spawn {
	const char *path;          /* execve path */
	char *const *argv;         /* NULL-terminated */
	int set_ids;               /* setgroups(0)+setgid(gid)+setuid(uid) first */
	uid_t uid;
	gid_t gid;
	const char *comm;          /* prctl(PR_SET_NAME) first */
	const char *cgroup_procs;  /* write "0" to this cgroup.procs first */
};
/* fork + (optional setup) + execve. Returns the child's pid, or -1. The
 * child exits 127 when execve fails, 126 when the setup fails. */
pid_t h_spawn(const struct h_spawn *s);
/* Spawn /bin/true with argv {"/bin/true", marker, NULL} and reap it. */
pid_t h_spawn_true(const char *marker);
/* waitpid; returns the exit status, or -1 on a signal. */
int h_wait(pid_t pid);

/* Whether one of ev's arguments is exactly `marker`, or its filename contains it. */
int h_event_matches(const exectrace_event *ev, const char *marker);
/* Read (timed) until an event matching `marker` arrives: 0, or the last
 * error (-ETIMEDOUT after timeout_ms). `reads` (if non-NULL) is increased
 * for every successful read, `seen` for each event whose filename/args
 * contain `other` (if non-NULL). */
int h_read_marked(exectrace *t, exectrace_event *ev, const char *marker, int timeout_ms,
		  unsigned long *reads, const char *other, int *seen);

/* The calling thread's kernel tid. */
pid_t h_gettid(void);
/* Wait until thread `tid` of this process is blocked in a syscall (one of
 * epoll_wait/epoll_pwait[2] when `want_epoll`, else any): 0, or -1 after
 * timeout_ms. */
int h_wait_blocked(pid_t tid, int want_epoll, int timeout_ms);

/* Whether BPF tracers can be created here (decided once at start). */
int h_have_bpf(void);

#endif
