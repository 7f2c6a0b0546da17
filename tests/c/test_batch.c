/* exectrace_read_batch: real events (matched by marker) in the documented
 * layout, -ENOSPC without losing the event, bad arguments, and shutdown
 * from another thread waking a blocked batch read. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 5000
#define BUF_CAP (256u << 10)

static void *batch_buf(size_t cap)
{
	void *p = NULL;
	if (posix_memalign(&p, EXECTRACE_RECORD_ALIGN, cap) != 0) {
		perror("posix_memalign");
		exit(2);
	}
	memset(p, 0xa5, cap); /* stale bytes: the layout must not rely on zeros */
	return p;
}

/* A tracer that sees only execs of `uid` (nobody else uses it). */
static exectrace *uid_tracer(uint32_t uid)
{
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = uid;
	return H_TRACER(&o);
}

static pid_t spawn_as(uint32_t uid, char *const *argv)
{
	struct h_spawn s = { .path = argv[0], .argv = argv, .set_ids = 1, .uid = uid, .gid = uid };
	pid_t pid = h_spawn(&s);
	if (pid > 0 && h_wait(pid) != 0)
		h_note("%s did not exit 0", argv[0]);
	return pid;
}

/* Every documented invariant of one record of a batch of `cap` bytes at
 * offset `at`; returns 0 if the record is broken (and records why). */
static int check_layout(const struct exectrace_batch_record *r, size_t at, size_t cap)
{
	int before = h_failures();
	CHECK_INT((uintptr_t)r % EXECTRACE_RECORD_ALIGN, 0);
	CHECK_INT(r->size % EXECTRACE_RECORD_ALIGN, 0);
	CHECK(r->hdr_size >= sizeof(*r));
	CHECK(r->size >= r->hdr_size);
	CHECK(at + r->size <= cap);
	CHECK(r->filename_off >= r->hdr_size);
	CHECK(r->filename_off + r->filename_len < r->size);
	CHECK(r->interp_off + r->interp_len < r->size);
	CHECK(r->argv_off + r->argv_len <= r->size);
	CHECK_INT(r->reserved, 0);
	if (h_failures() != before)
		return 0;
	const char *base = (const char *)r;
	CHECK_INT(base[r->filename_off + r->filename_len], 0);
	CHECK_INT(strlen(exectrace_record_filename(r)), r->filename_len);
	CHECK_INT(strlen(exectrace_record_interpreter(r)), r->interp_len);
	CHECK(memchr(r->comm, 0, sizeof(r->comm)) != NULL);
	CHECK(r->argv_len == 0 || base[r->argv_off + r->argv_len - 1] == 0);
	unsigned n = 0;
	for (const char *a = exectrace_record_argv_first(r); a; a = exectrace_record_argv_next(r, a))
		n++;
	CHECK_INT(n, r->argv_count);
	return h_failures() == before;
}

static int record_has_arg(const struct exectrace_batch_record *r, const char *marker)
{
	for (const char *a = exectrace_record_argv_first(r); a; a = exectrace_record_argv_next(r, a))
		if (strcmp(a, marker) == 0)
			return 1;
	return 0;
}

/* Many processes, each with its own marker, read in batches: every one is
 * found once, with exactly its fields, in a well-formed layout. (Flags but
 * EXECTRACE_EVENT_COMM_AFTER_EXEC: the program can miss the pre-exec name
 * when many execs race, as when other test suites run at the same time;
 * test_events.c checks comm.) */
static void test_batch_events(void)
{
	enum { N = 24 };
	char markers[N][64];
	pid_t pids[N];
	int found[N] = { 0 };
	char *argv_tail[] = { "", "two words", "tab\tand\nnewline", "" };
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	char *buf = batch_buf(BUF_CAP);
	uint64_t before = h_boottime_ns();
	for (int i = 0; i < N; i++) {
		h_marker(markers[i], sizeof(markers[i]));
		char *argv[] = { "/bin/true", markers[i], argv_tail[0], argv_tail[1], argv_tail[2],
				 argv_tail[3], NULL };
		struct h_spawn s = { .path = "/bin/true", .argv = argv };
		pids[i] = h_spawn(&s);
		CHECK_INT(h_wait(pids[i]), 0);
	}
	uint64_t after = h_boottime_ns();
	int nfound = 0, batches = 0, most = 0;
	unsigned long events = 0;
	double deadline = h_now() + WAIT_MS / 1000.0;
	uint64_t last_seq = 0;
	int broken = 0;
	while (nfound < N && h_now() < deadline && !broken) {
		size_t need = 12345;
		int n = exectrace_read_batch(t, buf, BUF_CAP, 200, &need);
		REQUIRE(n >= 0);
		CHECK_INT(need, 12345); /* written only with -ENOSPC */
		if (n == 0)
			continue;
		batches++;
		most = n > most ? n : most;
		const struct exectrace_batch_record *r = (const void *)buf;
		size_t at = 0;
		for (int k = 0; k < n && !broken; k++, at += r->size, r = exectrace_record_next(r)) {
			if (!check_layout(r, at, BUF_CAP)) {
				broken = 1;
				break;
			}
			events++;
			CHECK(r->seq >= last_seq || last_seq - r->seq < 64); /* CPUs may reorder a little */
			last_seq = r->seq > last_seq ? r->seq : last_seq;
			for (int i = 0; i < N; i++) {
				if (!record_has_arg(r, markers[i]))
					continue;
				CHECK_INT(found[i], 0);
				found[i]++;
				nfound++;
				CHECK_INT(r->pid, pids[i]);
				CHECK_INT(r->tid, pids[i]);
				CHECK_INT(r->ppid, getpid());
				CHECK_INT(r->uid, getuid());
				CHECK_INT(r->gid, getgid());
				CHECK_INT(r->euid, geteuid());
				CHECK_INT(r->egid, getegid());
				CHECK(r->pid_ns != 0);
				CHECK(r->cgroup_id != 0);
				CHECK_INT(r->result, 0);
				CHECK_INT(r->flags & ~EXECTRACE_EVENT_COMM_AFTER_EXEC, 0);
				CHECK(r->timestamp_ns >= before && r->timestamp_ns <= after);
				CHECK_STR(exectrace_record_filename(r), "/bin/true");
				CHECK_STR(exectrace_record_interpreter(r), "");
				CHECK_INT(r->argc, 6);
				CHECK_INT(r->argv_count, 6);
				uint32_t size = 0;
				const char *want[] = { "/bin/true", markers[i], argv_tail[0], argv_tail[1],
						       argv_tail[2], argv_tail[3] };
				int j = 0;
				for (const char *a = exectrace_record_argv_first(r); a && j < 6;
				     a = exectrace_record_argv_next(r, a), j++) {
					CHECK_STR(a, want[j]);
					size += (uint32_t)strlen(want[j]) + 1;
				}
				CHECK_INT(j, 6);
				CHECK_INT(r->argv_size, size);
				CHECK_INT(r->argv_len, size);
			}
		}
	}
	CHECK_INT(nfound, N);
	h_note("%d marked events in %d batches (%lu events, at most %d per batch)", nfound, batches,
	       events, most);
	exectrace_stats st = { .size = sizeof(st) };
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK(st.events >= events); /* batches count like single reads */
	exectrace_close(t);
	free(buf);
}

/* A script: the interpreter has its own string, the argv is as run. */
static void test_batch_script(void)
{
	char marker[64], path[128];
	h_marker(marker, sizeof(marker));
	snprintf(path, sizeof(path), "/tmp/%s.sh", marker);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	REQUIRE(chmod(path, 0755) == 0);
	uint32_t uid = h_unused_uid();
	exectrace *t = uid_tracer(uid);
	char *buf = batch_buf(BUF_CAP);
	if (t) {
		char *argv[] = { path, marker, NULL };
		spawn_as(uid, argv);
		int n = exectrace_read_batch(t, buf, BUF_CAP, WAIT_MS, NULL);
		CHECK_INT(n, 1);
		const struct exectrace_batch_record *r = (const void *)buf;
		if (n == 1 && check_layout(r, 0, BUF_CAP)) {
			CHECK(r->flags & EXECTRACE_EVENT_HAS_INTERP);
			CHECK_STR(exectrace_record_filename(r), path);
			CHECK_STR(exectrace_record_interpreter(r), "/bin/sh");
			const char *a = exectrace_record_argv_first(r);
			CHECK(a && strcmp(a, "/bin/sh") == 0);
			a = a ? exectrace_record_argv_next(r, a) : NULL;
			CHECK(a && strcmp(a, path) == 0);
			a = a ? exectrace_record_argv_next(r, a) : NULL;
			CHECK(a && strcmp(a, marker) == 0);
			CHECK(!a || !exectrace_record_argv_next(r, a));
		}
		exectrace_close(t);
	}
	unlink(path);
	free(buf);
}

/* One event larger than the buffer: -ENOSPC with the size it needs, again
 * and again, until a buffer of that size takes it. A second event that
 * does not fit after a first one waits for the next call. */
static void test_batch_enospc(void)
{
	char marker[64], marker2[64];
	h_marker(marker, sizeof(marker));
	h_marker(marker2, sizeof(marker2));
	static char big[20000];
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	uint32_t uid = h_unused_uid();
	exectrace *t = uid_tracer(uid);
	REQUIRE(t);
	char *argv[] = { "/bin/true", marker, big, NULL };
	spawn_as(uid, argv);
	char *argv2[] = { "/bin/true", marker2, NULL };
	spawn_as(uid, argv2);

	char *small = batch_buf(512);
	size_t need = 0;
	for (int i = 0; i < 3; i++) {
		need = 0;
		CHECK_INT(exectrace_read_batch(t, small, 512, WAIT_MS, &need), -ENOSPC);
		CHECK(need > sizeof(big) && need < sizeof(big) + 1024);
		CHECK_INT(need % EXECTRACE_RECORD_ALIGN, 0);
	}
	char msg[256];
	CHECK(exectrace_last_error(msg, sizeof(msg)) > 0);
	CHECK(strstr(msg, "buffer") != NULL);
	CHECK_INT(exectrace_read_batch(t, small, 512, 0, NULL), -ENOSPC); /* NULL needed is fine */
	REQUIRE(need > 0 && need < (1u << 20));

	/* Exactly the size it asked for: the big event, alone (the second one,
	 * ~120 bytes more, does not fit after it). */
	char *fit = batch_buf(need + 64);
	size_t again = 7;
	int n = exectrace_read_batch(t, fit, need + 64, WAIT_MS, &again);
	CHECK_INT(n, 1);
	CHECK_INT(again, 7);
	const struct exectrace_batch_record *r = (const void *)fit;
	if (n == 1 && check_layout(r, 0, need + 64)) {
		CHECK_INT(r->size, need);
		CHECK(record_has_arg(r, marker));
		CHECK(record_has_arg(r, big));
		CHECK_INT(r->flags & ~EXECTRACE_EVENT_COMM_AFTER_EXEC, 0);
	}
	/* The second is still there, and then nothing. */
	n = exectrace_read_batch(t, small, 512, WAIT_MS, NULL);
	CHECK_INT(n, 1);
	r = (const void *)small;
	if (n == 1 && check_layout(r, 0, 512))
		CHECK(record_has_arg(r, marker2));
	CHECK_INT(exectrace_read_batch(t, small, 512, 0, NULL), 0);
	exectrace_stats st = { .size = sizeof(st) };
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.events, 2);
	CHECK_INT(st.drops, 0);
	exectrace_close(t);
	free(small);
	free(fit);
}

static void test_batch_misuse(void)
{
	char *buf = batch_buf(4096);
	size_t need = 99;
	CHECK_INT(exectrace_read_batch(NULL, buf, 4096, 0, &need), -EINVAL);
	exectrace *t = uid_tracer(h_unused_uid());
	REQUIRE(t);
	CHECK_INT(exectrace_read_batch(t, NULL, 4096, 0, &need), -EINVAL);
	CHECK_INT(exectrace_read_batch(t, buf + 4, 4000, 0, &need), -EINVAL);
	char msg[256];
	exectrace_last_error(msg, sizeof(msg));
	CHECK(strstr(msg, "aligned") != NULL);
	CHECK_INT(need, 99);
	/* No event: 0 at once, or after the timeout. */
	CHECK_INT(exectrace_read_batch(t, buf, 4096, 0, &need), 0);
	CHECK_INT(exectrace_read_batch(t, buf, 0, 0, &need), 0);
	double s = h_now();
	CHECK_INT(exectrace_read_batch(t, buf, 4096, 150, &need), 0);
	double took = h_now() - s;
	CHECK(took >= 0.14 && took < 5);
	CHECK_INT(need, 99);
	CHECK_STR(exectrace_strerror(-ENOSPC), "buffer too small for the next event");
	exectrace_close(t);
	free(buf);
}

struct batch_reader {
	exectrace *t;
	int timeout_ms;
	atomic_int tid;
	int result;
};

static void *batch_reader_main(void *p)
{
	struct batch_reader *r = p;
	char *buf = batch_buf(BUF_CAP);
	atomic_store(&r->tid, (int)h_gettid());
	r->result = exectrace_read_batch(r->t, buf, BUF_CAP, r->timeout_ms, NULL);
	free(buf);
	return NULL;
}

/* A batch read blocked without (or with a long) timeout is woken by a
 * shutdown from another thread, with -ECANCELED, as is every later one. */
static void test_batch_shutdown_wakes(void)
{
	exectrace *t = uid_tracer(h_unused_uid());
	REQUIRE(t);
	struct batch_reader r[2] = { { .t = t, .timeout_ms = -1 }, { .t = t, .timeout_ms = 60000 } };
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		atomic_init(&r[i].tid, 0);
		r[i].result = 1;
		REQUIRE(pthread_create(&th[i], NULL, batch_reader_main, &r[i]) == 0);
		while (atomic_load(&r[i].tid) == 0)
			sched_yield();
		/* The first sleeps in epoll_wait, the second behind it on the lock. */
		CHECK_INT(h_wait_blocked((pid_t)atomic_load(&r[i].tid), i == 0, 5000), 0);
	}
	double s = h_now();
	CHECK_INT(exectrace_shutdown(t), 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(r[i].result, -ECANCELED);
	}
	double took = h_now() - s;
	CHECK(took < 1.0);
	h_note("blocked batch reads woken by shutdown in %.2f ms", took * 1000);
	char *buf = batch_buf(4096);
	CHECK_INT(exectrace_read_batch(t, buf, 4096, -1, NULL), -ECANCELED);
	CHECK_INT(exectrace_read_batch(t, buf, 4096, 0, NULL), -ECANCELED);
	exectrace_close(t);
	free(buf);
}

void register_batch_tests(void)
{
	static const struct h_test tests[] = {
		{ "batch_events", test_batch_events, H_BPF, 0 },
		{ "batch_script", test_batch_script, H_BPF, 0 },
		{ "batch_enospc", test_batch_enospc, H_BPF, 0 },
		{ "misuse_batch", test_batch_misuse, H_BPF, 0 },
		{ "batch_shutdown_wakes", test_batch_shutdown_wakes, H_BPF, 0 },
	};
	h_register(tests, sizeof(tests) / sizeof(tests[0]));
}
