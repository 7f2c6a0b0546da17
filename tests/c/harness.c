#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_MAX_TESTS 256
#define H_DEFAULT_TIMEOUT 60

static struct h_test registry[H_MAX_TESTS];
static size_t nregistry;
static pthread_mutex_t h_lock = PTHREAD_MUTEX_INITIALIZER;
static int cur_failures;
static int cur_skipped;
static const char *cur_name = "";
static int have_bpf = -1;

void h_register(const struct h_test *tests, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (nregistry == H_MAX_TESTS) {
			fprintf(stderr, "harness: too many tests\n");
			exit(2);
		}
		registry[nregistry++] = tests[i];
	}
}

const char *h_errhint(long long v)
{
	static __thread char buf[512];
	if (v >= 0 || v < -4095)
		return "";
	char msg[400];
	exectrace_last_error(msg, sizeof(msg));
	snprintf(buf, sizeof(buf), " (%s; last error: %s)", strerror((int)-v), msg);
	return buf;
}

void h_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&h_lock);
	fprintf(stdout, "    FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	cur_failures++;
	pthread_mutex_unlock(&h_lock);
}

int h_failures(void)
{
	pthread_mutex_lock(&h_lock);
	int n = cur_failures;
	pthread_mutex_unlock(&h_lock);
	return n;
}

void h_skip(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&h_lock);
	fputs("    skip: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	cur_skipped = 1;
	pthread_mutex_unlock(&h_lock);
}

void h_note(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&h_lock);
	fputs("    note: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&h_lock);
}

/* ---- helpers ------------------------------------------------------------ */

exectrace_opts h_opts(void)
{
	exectrace_opts o;
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	return o;
}

exectrace_event *h_event(void)
{
	exectrace_event *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		perror("calloc");
		exit(2);
	}
	ev->size = sizeof(*ev);
	return ev;
}

exectrace *h_tracer(const exectrace_opts *opts, const char *file, int line)
{
	exectrace *t = NULL;
	int r = exectrace_new(opts, &t);
	if (r != 0) {
		h_fail(file, line, "exectrace_new: %d%s", r, h_errhint(r));
		return NULL;
	}
	if (!t)
		h_fail(file, line, "exectrace_new returned 0 but no handle");
	return t;
}

uint64_t h_random(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		perror("getrandom");
		exit(2);
	}
	return v;
}

uint32_t h_unused_uid(void)
{
	return 1500000000u + (uint32_t)(h_random() % 500000000u);
}

void h_marker(char *buf, size_t len)
{
	static unsigned long n;
	pthread_mutex_lock(&h_lock);
	unsigned long k = ++n;
	pthread_mutex_unlock(&h_lock);
	snprintf(buf, len, "ctest-%ld-%016llx-%lu", (long)getpid(),
		 (unsigned long long)h_random(), k);
}

double h_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t h_boottime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void h_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

pid_t h_spawn(const struct h_spawn *s)
{
	static char *const empty_env[] = { "PATH=/usr/bin:/bin", NULL };
	fflush(NULL);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Child: async-signal-safe calls only. */
	if (s->cgroup_procs) {
		int fd = open(s->cgroup_procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(126);
		close(fd);
	}
	if (s->set_ids) {
		if (setgroups(0, NULL) != 0 || setgid(s->gid) != 0 || setuid(s->uid) != 0)
			_exit(126);
	}
	if (s->comm && prctl(PR_SET_NAME, (unsigned long)s->comm, 0, 0, 0) != 0)
		_exit(126);
	execve(s->path, s->argv, empty_env);
	_exit(127);
}

int h_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

pid_t h_spawn_true(const char *marker)
{
	char *argv[] = { "/bin/true", (char *)marker, NULL };
	struct h_spawn s = { .path = "/bin/true", .argv = argv };
	pid_t pid = h_spawn(&s);
	if (pid > 0 && h_wait(pid) != 0)
		h_note("/bin/true %s did not exit 0", marker);
	return pid;
}

int h_event_matches(const exectrace_event *ev, const char *marker)
{
	if (strstr(ev->filename, marker))
		return 1;
	for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a))
		if (strcmp(a, marker) == 0)
			return 1;
	return 0;
}

int h_read_marked(exectrace *t, exectrace_event *ev, const char *marker, int timeout_ms,
		  unsigned long *reads, const char *other, int *seen)
{
	double deadline = h_now() + timeout_ms / 1000.0;
	for (;;) {
		int left = (int)((deadline - h_now()) * 1000.0);
		if (left < 0)
			left = 0;
		int r = exectrace_read_timeout(t, ev, left);
		if (r == -EAGAIN && left == 0)
			r = -ETIMEDOUT;
		if (r != 0)
			return r;
		if (reads)
			(*reads)++;
		if (other && seen && h_event_matches(ev, other))
			(*seen)++;
		if (h_event_matches(ev, marker))
			return 0;
	}
}

pid_t h_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static int is_epoll_syscall(long nr)
{
#ifdef SYS_epoll_wait
	if (nr == SYS_epoll_wait)
		return 1;
#endif
#ifdef SYS_epoll_pwait
	if (nr == SYS_epoll_pwait)
		return 1;
#endif
#ifdef SYS_epoll_pwait2
	if (nr == SYS_epoll_pwait2)
		return 1;
#endif
	return 0;
}

int h_wait_blocked(pid_t tid, int want_epoll, int timeout_ms)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/syscall", (long)tid);
	double deadline = h_now() + timeout_ms / 1000.0;
	for (;;) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			/* "running", or "<nr> <args...>" when blocked in a syscall. */
			if (buf[0] >= '0' && buf[0] <= '9') {
				long nr = strtol(buf, NULL, 10);
				if (!want_epoll || is_epoll_syscall(nr)) {
					/* Blocked and asleep, not just passing through. */
					char spath[64], sbuf[512];
					snprintf(spath, sizeof(spath), "/proc/self/task/%ld/stat",
						 (long)tid);
					int sfd = open(spath, O_RDONLY | O_CLOEXEC);
					if (sfd >= 0) {
						ssize_t m = read(sfd, sbuf, sizeof(sbuf) - 1);
						close(sfd);
						if (m > 0) {
							sbuf[m] = 0;
							char *p = strrchr(sbuf, ')');
							if (p && p[1] == ' ' && p[2] == 'S')
								return 0;
						}
					}
				}
			}
		}
		if (h_now() > deadline)
			return -1;
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
}

int h_have_bpf(void)
{
	return have_bpf == 1;
}

/* ---- runner -------------------------------------------------------------- */

static void on_alarm(int sig)
{
	(void)sig;
	static const char a[] = "\nTIMEOUT: test ";
	static const char b[] = " hung (watchdog); aborting\n0 passed, 1 failed\n";
	ssize_t w = write(1, a, sizeof(a) - 1);
	w = write(1, cur_name, strlen(cur_name));
	w = write(1, b, sizeof(b) - 1);
	(void)w;
	_exit(3);
}

static int selected(const char *name, int argc, char **argv)
{
	if (argc <= 1)
		return 1;
	for (int i = 1; i < argc; i++)
		if (strncmp(name, argv[i], strlen(argv[i])) == 0)
			return 1;
	return 0;
}

static void probe_bpf(void)
{
	exectrace *t = NULL;
	int r = exectrace_new(NULL, &t);
	if (r == 0) {
		have_bpf = 1;
		exectrace_close(t);
		return;
	}
	char msg[1024];
	exectrace_last_error(msg, sizeof(msg));
	have_bpf = 0;
	printf("BPF unavailable: exectrace_new: %s (%d): %s\n", exectrace_strerror(r), r, msg);
}

int h_main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *req = getenv("EXECTRACE_REQUIRE_BPF");
	int require_bpf = req && strcmp(req, "1") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	probe_bpf();
	if (!have_bpf && require_bpf) {
		printf("EXECTRACE_REQUIRE_BPF=1 and no tracer can be created: failing\n");
		failed++;
	}
	if (!have_bpf && !require_bpf)
		printf("skipping the tests that need BPF (set EXECTRACE_REQUIRE_BPF=1 to fail instead)\n");

	double t0 = h_now();
	for (size_t i = 0; i < nregistry; i++) {
		const struct h_test *tc = &registry[i];
		if (!selected(tc->name, argc, argv))
			continue;
		if (tc->needs == H_BPF && !have_bpf) {
			printf("SKIP %s (needs BPF)\n", tc->name);
			skipped++;
			continue;
		}
		cur_name = tc->name;
		cur_failures = 0;
		cur_skipped = 0;
		printf("RUN  %s\n", tc->name);
		double s = h_now();
		alarm(tc->timeout_s ? tc->timeout_s : H_DEFAULT_TIMEOUT);
		tc->fn();
		alarm(0);
		double took = h_now() - s;
		if (cur_failures) {
			printf("FAIL %s (%.2fs)\n", tc->name, took);
			failed++;
		} else if (cur_skipped) {
			printf("SKIP %s (%.2fs)\n", tc->name, took);
			skipped++;
		} else {
			printf("ok   %s (%.2fs)\n", tc->name, took);
			passed++;
		}
	}
	printf("%d skipped, %.1fs\n", skipped, h_now() - t0);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
