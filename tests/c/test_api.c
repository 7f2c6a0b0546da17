/* The C ABI without events: version, errors, pid namespace, and misuse
 * (NULL pointers, wrong sizes, garbage options). */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>

/* A value exectrace_new must leave alone when it fails. */
#define SENTINEL ((exectrace *)(uintptr_t)0x5e5e5e5e)

static void test_version(void)
{
	const char *v = exectrace_version();
	REQUIRE(v != NULL);
	unsigned a, b, c;
	char extra;
	CHECK(sscanf(v, "%u.%u.%u%c", &a, &b, &c, &extra) >= 3);
#ifdef EXPECTED_VERSION
	CHECK_STR(v, EXPECTED_VERSION);
#endif
	CHECK(exectrace_version() == v); /* static */
}

static void test_strerror(void)
{
	static const int codes[] = { 0,      ECANCELED, ETIMEDOUT, EAGAIN, EINVAL, E2BIG,
				     EPERM,  EACCES,    EOPNOTSUPP, ENOENT, ENOMEM, EIO,
				     12345,  INT_MAX,   1 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *p = exectrace_strerror(codes[i]);
		const char *n = exectrace_strerror(-codes[i]);
		REQUIRE(p != NULL && n != NULL);
		CHECK(strlen(p) > 0);
		CHECK_STR(p, n);
	}
	CHECK(exectrace_strerror(INT_MIN) != NULL);
	CHECK(strcmp(exectrace_strerror(-ECANCELED), exectrace_strerror(-ETIMEDOUT)) != 0);
	CHECK(strcmp(exectrace_strerror(-ETIMEDOUT), exectrace_strerror(-EAGAIN)) != 0);
}

static void *other_thread_error(void *arg)
{
	char buf[256] = "untouched";
	int *out = arg;
	/* A fresh thread has no message of its own. */
	out[0] = exectrace_last_error(buf, sizeof(buf));
	out[1] = buf[0] == 0;
	/* Its own failure sets its own message. */
	out[2] = exectrace_pid_ns(NULL);
	out[3] = exectrace_last_error(buf, sizeof(buf));
	out[4] = strstr(buf, "out") != NULL;
	return NULL;
}

static void test_last_error(void)
{
	char buf[512], small[5];
	CHECK_INT(exectrace_new(NULL, NULL), -EINVAL);
	int n = exectrace_last_error(buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_INT(n, strlen(buf));
	h_note("message for exectrace_new(NULL, NULL): %s", buf);
	/* The length without copying. */
	CHECK_INT(exectrace_last_error(NULL, 0), n);
	/* Cut to the buffer, NUL-terminated, full length returned. */
	memset(small, 'x', sizeof(small));
	CHECK_INT(exectrace_last_error(small, sizeof(small)), n);
	CHECK_INT(small[4], 0);
	CHECK(strncmp(small, buf, 4) == 0);
	CHECK_INT(exectrace_last_error(NULL, 5), -EINVAL);

	/* Thread-local. */
	CHECK_INT(exectrace_read(NULL, NULL), -EINVAL);
	char mine[512];
	exectrace_last_error(mine, sizeof(mine));
	pthread_t th;
	int out[5] = { -1, -1, -1, -1, -1 };
	REQUIRE(pthread_create(&th, NULL, other_thread_error, out) == 0);
	pthread_join(th, NULL);
	CHECK_INT(out[0], 0);
	CHECK_INT(out[1], 1);
	CHECK_INT(out[2], -EINVAL);
	CHECK(out[3] > 0);
	CHECK_INT(out[4], 1);
	char after[512];
	exectrace_last_error(after, sizeof(after));
	CHECK_STR(after, mine);
}

static void test_pid_ns(void)
{
	struct stat st;
	REQUIRE(stat("/proc/self/ns/pid", &st) == 0);
	uint32_t ns = 0;
	CHECK_INT(exectrace_pid_ns(&ns), 0);
	CHECK_INT(ns, (uint32_t)st.st_ino);
	CHECK_INT(exectrace_pid_ns(NULL), -EINVAL);
}

static void test_null_handle(void)
{
	exectrace_event *ev = h_event();
	exectrace_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CHECK_INT(exectrace_read(NULL, ev), -EINVAL);
	CHECK_INT(exectrace_read(NULL, NULL), -EINVAL);
	CHECK_INT(exectrace_read_timeout(NULL, ev, 0), -EINVAL);
	CHECK_INT(exectrace_read_timeout(NULL, ev, 100), -EINVAL);
	CHECK_INT(exectrace_read_timeout(NULL, ev, -1), -EINVAL);
	CHECK_INT(exectrace_read_timeout(NULL, NULL, -1), -EINVAL);
	CHECK_INT(exectrace_fd(NULL), -EINVAL);
	CHECK_INT(exectrace_prog_fd(NULL), -EINVAL);
	CHECK_INT(exectrace_get_stats(NULL, &st), -EINVAL);
	CHECK_INT(exectrace_get_stats(NULL, NULL), -EINVAL);
	CHECK_INT(exectrace_shutdown(NULL), -EINVAL);
	exectrace_close(NULL); /* no-op */
	exectrace_close(NULL);
	free(ev);
}

/* Every way exectrace_new can be called wrongly: -EINVAL/-E2BIG, `out`
 * untouched. None of these gets as far as loading BPF. */
static void test_new_misuse(void)
{
	exectrace_opts o = h_opts();
	exectrace *t = SENTINEL;

	CHECK_INT(exectrace_new(&o, NULL), -EINVAL);

	for (uint32_t size = 0; size < 4; size++) {
		o = h_opts();
		o.size = size;
		CHECK_INT(exectrace_new(&o, &t), -EINVAL);
		CHECK(t == SENTINEL);
	}

	/* Unknown flag bits, one at a time. */
	for (int bit = 6; bit < 32; bit++) {
		o = h_opts();
		o.flags = 1u << bit;
		CHECK_INT(exectrace_new(&o, &t), -EINVAL);
		CHECK(t == SENTINEL);
	}
	o = h_opts();
	o.flags = EXECTRACE_OPT_INCLUDE_FAILED | 0x100;
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);

	o = h_opts();
	o.reserved = 1;
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	CHECK(t == SENTINEL);

	/* Out-of-range values. */
	o = h_opts();
	o.ring_size = 3 * 4096; /* not a power of two */
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	o = h_opts();
	o.ring_size = 4096; /* too small for one record */
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	o = h_opts();
	o.ring_size = 1u << 31;
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	o = h_opts();
	o.argv_budget = 2 * 1024 * 1024 + 1;
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	o = h_opts();
	o.wakeup_latency_us = 1000001;
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	CHECK(t == SENTINEL);

	/* A newer caller's larger struct with non-zero bytes we don't know. */
	struct {
		exectrace_opts o;
		unsigned char tail[24];
	} big;
	for (size_t i = 0; i < sizeof(big.tail); i++) {
		memset(&big, 0, sizeof(big));
		big.o.size = sizeof(big);
		big.tail[i] = 0x80;
		CHECK_INT(exectrace_new(&big.o, &t), -E2BIG);
		CHECK(t == SENTINEL);
	}
	/* Tail counted by size only: bytes past `size` are not looked at. */
	memset(&big, 0, sizeof(big));
	big.o.size = sizeof(big.o) + 8;
	big.o.flags = 1u << 20; /* and still checked */
	big.tail[8] = 1;
	CHECK_INT(exectrace_new(&big.o, &t), -EINVAL);
	CHECK(t == SENTINEL);
}

/* Random bytes as options: an error, never a crash or a tracer. */
static void test_garbage_opts(void)
{
	exectrace *t = SENTINEL;
	union {
		exectrace_opts o;
		unsigned char b[sizeof(exectrace_opts) + 32];
	} g;
	int einval = 0, e2big = 0;
	for (int i = 0; i < 1000; i++) {
		for (size_t k = 0; k < sizeof(g.b); k += 8) {
			uint64_t r = h_random();
			memcpy(g.b + k, &r, sizeof(g.b) - k < 8 ? sizeof(g.b) - k : 8);
		}
		/* Half the time a larger struct with a random tail. */
		g.o.size = (i & 1) ? sizeof(g.b) : sizeof(g.o);
		/* Keep the odds of a valid random `flags` + `reserved` (and
		 * so a random cgroup_path pointer being read) at zero. */
		g.o.flags |= 1u << 31;
		int r = exectrace_new(&g.o, &t);
		CHECK(r < 0);
		CHECK(t == SENTINEL);
		if (r == -EINVAL)
			einval++;
		else if (r == -E2BIG)
			e2big++;
		else
			h_fail(__FILE__, __LINE__, "garbage opts: %d%s", r, h_errhint(r));
		if (h_failures())
			return;
	}
	CHECK(einval >= 400);
	CHECK(e2big >= 400);

	/* Plausible garbage: valid flags, random numbers. */
	for (int i = 0; i < 300; i++) {
		exectrace_opts o = h_opts();
		uint64_t r1 = h_random(), r2 = h_random();
		o.flags = (uint32_t)(r1 & 0x7); /* no FALLBACK_HOOKS */
		o.uid = (uint32_t)(r1 >> 32);
		o.argv_budget = (uint32_t)r2;
		o.ring_size = (uint32_t)(r2 >> 32) | 1u; /* odd: never a power of two > 1 */
		o.wakeup_latency_us = (uint32_t)h_random();
		int r = exectrace_new(&o, &t);
		CHECK_INT(r, -EINVAL);
		CHECK(t == SENTINEL);
		if (h_failures())
			return;
	}
}

void register_api_tests(void);
void register_api_tests(void)
{
	static const struct h_test tests[] = {
		{ "api_version", test_version, H_PLAIN, 0 },
		{ "api_strerror", test_strerror, H_PLAIN, 0 },
		{ "api_last_error", test_last_error, H_PLAIN, 0 },
		{ "api_pid_ns", test_pid_ns, H_PLAIN, 0 },
		{ "misuse_null_handle", test_null_handle, H_PLAIN, 0 },
		{ "misuse_new", test_new_misuse, H_PLAIN, 0 },
		{ "misuse_garbage_opts", test_garbage_opts, H_PLAIN, 0 },
	};
	h_register(tests, sizeof(tests) / sizeof(tests[0]));
}
