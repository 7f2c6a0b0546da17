/* Shutdown and close from another thread while reads are blocked (issue 7:
 * the close/read race, many times, under AddressSanitizer in run.sh). */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Tracers that see no events: a uid nobody uses. */
static exectrace *quiet_tracer(void)
{
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = h_unused_uid();
	o.ring_size = 1 << 16; /* cheaper to create */
	return H_TRACER(&o);
}

enum read_kind { READ_BLOCKING, READ_TIMEOUT_INF, READ_TIMEOUT_LONG, READ_LOOP };

struct reader {
	exectrace *t;
	enum read_kind kind;
	pthread_t th;
	atomic_int tid;
	atomic_int done;
	int result;
	unsigned long events;
};

static void *reader_main(void *p)
{
	struct reader *r = p;
	exectrace_event *ev = h_event();
	atomic_store(&r->tid, (int)h_gettid());
	int res;
	switch (r->kind) {
	case READ_BLOCKING:
		res = exectrace_read(r->t, ev);
		break;
	case READ_TIMEOUT_INF:
		res = exectrace_read_timeout(r->t, ev, -1);
		break;
	case READ_TIMEOUT_LONG:
		res = exectrace_read_timeout(r->t, ev, 60000);
		break;
	case READ_LOOP:
	default:
		while ((res = exectrace_read(r->t, ev)) == 0)
			r->events++;
		break;
	}
	r->result = res;
	atomic_store(&r->done, 1);
	free(ev);
	return NULL;
}

static int start_reader(struct reader *r, exectrace *t, enum read_kind kind)
{
	r->t = t;
	r->kind = kind;
	atomic_init(&r->tid, 0);
	atomic_init(&r->done, 0);
	r->result = 1;
	r->events = 0;
	if (pthread_create(&r->th, NULL, reader_main, r) != 0)
		return -1;
	while (atomic_load(&r->tid) == 0)
		sched_yield();
	return 0;
}

/* Wait until a reader sleeps in the library (epoll_wait for the first
 * reader, a futex for the ones queued behind it). */
static int wait_inside(struct reader *r, int first)
{
	return h_wait_blocked((pid_t)atomic_load(&r->tid), first, 5000);
}

static void test_shutdown_wakes_read(void)
{
	exectrace *t = quiet_tracer();
	REQUIRE(t);
	struct reader r;
	REQUIRE(start_reader(&r, t, READ_BLOCKING) == 0);
	CHECK_INT(wait_inside(&r, 1), 0);
	h_sleep_ms(50);
	CHECK_INT(atomic_load(&r.done), 0); /* really blocked */
	double s = h_now();
	CHECK_INT(exectrace_shutdown(t), 0);
	pthread_join(r.th, NULL);
	double took = h_now() - s;
	CHECK_INT(r.result, -ECANCELED);
	CHECK(took < 1.0);
	h_note("blocked read woken by shutdown in %.2f ms", took * 1000);

	/* Every later read is -ECANCELED; shutdown is idempotent; the handle
	 * stays valid for fd/stats until close. */
	exectrace_event *ev = h_event();
	CHECK_INT(exectrace_read(t, ev), -ECANCELED);
	CHECK_INT(exectrace_read_timeout(t, ev, 0), -ECANCELED);
	CHECK_INT(exectrace_read_timeout(t, ev, 100), -ECANCELED);
	CHECK_INT(exectrace_read_timeout(t, ev, -1), -ECANCELED);
	CHECK_INT(exectrace_shutdown(t), 0);
	CHECK(exectrace_fd(t) >= 0);
	exectrace_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	char msg[256];
	CHECK(exectrace_last_error(msg, sizeof(msg)) > 0);
	exectrace_close(t);
	free(ev);
}

/* Several blocked readers of every kind: all woken by one shutdown. */
static void test_shutdown_wakes_all(void)
{
	exectrace *t = quiet_tracer();
	REQUIRE(t);
	struct reader r[4];
	static const enum read_kind kinds[4] = { READ_BLOCKING, READ_TIMEOUT_INF,
						 READ_TIMEOUT_LONG, READ_BLOCKING };
	for (int i = 0; i < 4; i++) {
		REQUIRE(start_reader(&r[i], t, kinds[i]) == 0);
		CHECK_INT(wait_inside(&r[i], 0), 0);
	}
	CHECK_INT(exectrace_shutdown(t), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(r[i].th, NULL);
		CHECK_INT(r[i].result, -ECANCELED);
	}
	exectrace_close(t);
}

static int race_iterations(void)
{
	const char *s = getenv("EXECTRACE_C_RACE_ITERS");
	int n = s ? atoi(s) : 1000;
	return n > 0 ? n : 1000;
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* exectrace_close while another thread is blocked in a read on the same
 * handle, with a fresh tracer each time: the reader returns -ECANCELED,
 * close returns, no use-after-free (AddressSanitizer), no hang. One
 * iteration in four has a second reader queued behind the first (on the
 * tracer's lock); the kinds of read alternate. */
static void test_close_race(void)
{
	int n = race_iterations();
	int fds_before = count_fds();
	double worst = 0, start = h_now();
	for (int i = 0; i < n && !h_failures(); i++) {
		exectrace *t = quiet_tracer();
		REQUIRE(t);
		struct reader r[2];
		int want = (i % 4 == 3) ? 2 : 1, nr = 0;
		for (int k = 0; k < want; k++) {
			if (start_reader(&r[k], t, (enum read_kind)((i + k) % 3)) != 0) {
				h_fail(__FILE__, __LINE__, "pthread_create");
				break;
			}
			nr++;
			/* The read has started (the contract: close may only race
			 * calls that began before it): wait until it sleeps in the
			 * library. */
			if (wait_inside(&r[k], k == 0) != 0) {
				h_fail(__FILE__, __LINE__, "iteration %d: reader %d not blocked in the library after 5 s", i, k);
				break;
			}
		}
		/* Vary the moment of close a little. */
		if (i % 2)
			for (volatile unsigned spin = (unsigned)(h_random() % 20000); spin; spin--)
				;
		double s = h_now();
		exectrace_close(t);
		double took = h_now() - s;
		if (took > worst)
			worst = took;
		for (int k = 0; k < nr; k++) {
			pthread_join(r[k].th, NULL);
			CHECK_INT(r[k].result, -ECANCELED);
		}
	}
	CHECK(worst < 2.0);
	/* 1000 tracers later, no descriptor is left behind. */
	CHECK_INT(count_fds(), fds_before);
	h_note("%d close/read races in %.1f s, slowest close %.2f ms", n, h_now() - start,
	       worst * 1000);
}

/* A busy host for the next test: a child that execs /bin/true ~1000/s. */
static pid_t exec_loop(void)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	for (;;) {
		pid_t c = fork();
		if (c == 0) {
			char *argv[] = { "/bin/true", "ctest-exec-loop", NULL };
			char *envp[] = { NULL };
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (c > 0)
			waitpid(c, NULL, 0);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

/* shutdown at a random moment while a reader loops over live events (mid
 * read, mid decode, between reads), then join and close: the reader always
 * ends with -ECANCELED. This is the documented safe pattern, so any timing
 * is allowed. */
static void test_shutdown_race_live(void)
{
	pid_t loop = exec_loop();
	REQUIRE(loop > 0);
	int n = race_iterations() / 10;
	unsigned long events = 0;
	for (int i = 0; i < n && !h_failures(); i++) {
		exectrace_opts o = h_opts();
		o.flags = EXECTRACE_OPT_WAKE_PER_EVENT;
		o.ring_size = 1 << 16;
		exectrace *t = H_TRACER(&o);
		if (!t)
			break;
		struct reader r;
		if (start_reader(&r, t, READ_LOOP) != 0) {
			h_fail(__FILE__, __LINE__, "pthread_create");
			exectrace_close(t);
			break;
		}
		h_sleep_ms((unsigned)(h_random() % 4));
		for (volatile unsigned spin = (unsigned)(h_random() % 50000); spin; spin--)
			;
		CHECK_INT(exectrace_shutdown(t), 0);
		pthread_join(r.th, NULL);
		CHECK_INT(r.result, -ECANCELED);
		events += r.events;
		exectrace_close(t);
	}
	kill(loop, SIGKILL);
	waitpid(loop, NULL, 0);
	h_note("%d shutdown races over %lu live events", n, events);
	if (n >= 50)
		CHECK(events > 0); /* the races did meet live events */
}

void register_thread_tests(void);
void register_thread_tests(void)
{
	static const struct h_test tests[] = {
		{ "threads_shutdown_wakes_read", test_shutdown_wakes_read, H_BPF, 0 },
		{ "threads_shutdown_wakes_all", test_shutdown_wakes_all, H_BPF, 0 },
		{ "threads_close_race", test_close_race, H_BPF, 600 },
		{ "threads_shutdown_race_live", test_shutdown_race_live, H_BPF, 300 },
	};
	h_register(tests, sizeof(tests) / sizeof(tests[0]));
}
