/* Real events from spawned processes, matched by a unique marker argument
 * (the host runs unrelated processes: never "the next event"). */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 5000
#define PROC_PID_INIT_INO 0xEFFFFFFCu

static uint32_t self_pid_ns(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint32_t)st.st_ino : 0;
}

static void self_comm(char *buf, size_t len)
{
	buf[0] = 0;
	FILE *f = fopen("/proc/self/comm", "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

/* The event pid is the pid in the initial namespace: equal to fork()'s when
 * we run there. */
static void check_pid(const exectrace_event *ev, pid_t child)
{
	if (self_pid_ns() == PROC_PID_INIT_INO) {
		CHECK_INT(ev->pid, child);
		CHECK_INT(ev->tid, child);
	} else {
		h_note("not in the initial pid namespace: pid %u not compared", ev->pid);
		CHECK_INT(ev->pid, ev->tid);
	}
}

static void test_argv_exact(void)
{
	char marker[64];
	h_marker(marker, sizeof(marker));
	char *argv[] = { "/bin/true", marker, "", "with spaces", "tab\tand\nnewline",
			 "quotes '\"", "", NULL };
	uint32_t want_size = 0, want_argc = 0;
	for (char **a = argv; *a; a++) {
		want_size += (uint32_t)strlen(*a) + 1;
		want_argc++;
	}
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	uint64_t before = h_boottime_ns();
	struct h_spawn s = { .path = "/bin/true", .argv = argv };
	pid_t child = h_spawn(&s);
	CHECK(child > 0);
	CHECK_INT(h_wait(child), 0);
	uint64_t after = h_boottime_ns();
	int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		char comm[32];
		self_comm(comm, sizeof(comm));
		CHECK_INT(ev->size, sizeof(*ev)); /* not rewritten */
		CHECK_STR(ev->filename, "/bin/true");
		CHECK_INT(ev->argc, want_argc);
		CHECK_INT(ev->argv_count, want_argc);
		CHECK_INT(ev->argv_size, want_size);
		CHECK_INT(ev->argv_len, want_size);
		int i = 0;
		for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a), i++) {
			REQUIRE(i < (int)want_argc);
			CHECK_STR(a, argv[i]);
		}
		CHECK_INT(i, want_argc);
		CHECK_INT(ev->flags, 0);
		CHECK_INT(ev->result, 0);
		check_pid(ev, child);
		CHECK_INT(ev->ppid, getpid());
		CHECK_INT(ev->uid, getuid());
		CHECK_INT(ev->gid, getgid());
		CHECK_INT(ev->euid, geteuid());
		CHECK_INT(ev->egid, getegid());
		CHECK_INT(ev->pid_ns, self_pid_ns());
		CHECK_STR(ev->comm, comm);
		CHECK_STR(ev->interpreter, "");
		CHECK(ev->cgroup_id != 0);
		CHECK_INT(ev->reserved, 0);
		CHECK(ev->timestamp_ns >= before && ev->timestamp_ns <= after);
	}
	exectrace_close(t);
	free(ev);
}

static void test_uid_gid(void)
{
	char marker[64];
	h_marker(marker, sizeof(marker));
	char *argv[] = { "/bin/true", marker, NULL };
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	struct h_spawn s = { .path = "/bin/true", .argv = argv, .set_ids = 1, .uid = 1000, .gid = 2000 };
	pid_t child = h_spawn(&s);
	CHECK_INT(h_wait(child), 0);
	int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(ev->uid, 1000);
		CHECK_INT(ev->gid, 2000);
		CHECK_INT(ev->euid, 1000);
		CHECK_INT(ev->egid, 2000);
		check_pid(ev, child);
	}
	exectrace_close(t);
	free(ev);
}

static void test_comm(void)
{
	char marker[64];
	h_marker(marker, sizeof(marker));
	char *argv[] = { "/bin/true", marker, NULL };
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	struct h_spawn s = { .path = "/bin/true", .argv = argv, .comm = "ctest-comm" };
	pid_t child = h_spawn(&s);
	CHECK_INT(h_wait(child), 0);
	int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_STR(ev->comm, "ctest-comm");
		CHECK_INT(ev->flags & EXECTRACE_EVENT_COMM_AFTER_EXEC, 0);
		check_pid(ev, child);
	}
	exectrace_close(t);
	free(ev);
}

/* Only the filtered uid arrives: a root exec before it is never seen. */
static void test_filter_uid(void)
{
	char mroot[64], muser[64];
	h_marker(mroot, sizeof(mroot));
	h_marker(muser, sizeof(muser));
	exectrace_opts o = h_opts();
	uint32_t uid = h_unused_uid();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = uid;
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	h_spawn_true(mroot);
	char *argv[] = { "/bin/true", muser, NULL };
	struct h_spawn s = { .path = "/bin/true", .argv = argv, .set_ids = 1, .uid = uid, .gid = uid };
	CHECK_INT(h_wait(h_spawn(&s)), 0);
	int seen_root = 0;
	int r = h_read_marked(t, ev, muser, WAIT_MS, NULL, mroot, &seen_root);
	CHECK_INT(r, 0);
	CHECK_INT(seen_root, 0);
	if (r == 0)
		CHECK_INT(ev->uid, uid);
	exectrace_close(t);
	free(ev);
}

static void test_timeout(void)
{
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = h_unused_uid();
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	memset(ev, 0xa5, sizeof(*ev));
	ev->size = sizeof(*ev);
	exectrace_event *copy = malloc(sizeof(*ev));
	REQUIRE(copy);
	memcpy(copy, ev, sizeof(*ev));

	double s = h_now();
	CHECK_INT(exectrace_read_timeout(t, ev, 200), -ETIMEDOUT);
	double took = h_now() - s;
	CHECK(took >= 0.195);
	CHECK(took < 1.5);
	char msg[128];
	CHECK(exectrace_last_error(msg, sizeof(msg)) > 0);

	s = h_now();
	CHECK_INT(exectrace_read_timeout(t, ev, 0), -EAGAIN);
	CHECK(h_now() - s < 0.1);
	CHECK_INT(exectrace_read_timeout(t, ev, 1), -ETIMEDOUT);
	/* ev is written only on success. */
	CHECK(memcmp(ev, copy, sizeof(*ev)) == 0);
	exectrace_close(t);
	free(copy);
	free(ev);
}

/* ev->size and NULL ev on a live tracer. */
static void test_event_size(void)
{
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = h_unused_uid();
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	CHECK_INT(exectrace_read(t, NULL), -EINVAL);
	CHECK_INT(exectrace_read_timeout(t, NULL, 0), -EINVAL);
	CHECK_INT(exectrace_read_timeout(t, NULL, 10), -EINVAL);

	static const uint32_t bad[] = { 0, 4, 8, offsetof(exectrace_event, argv),
					offsetof(exectrace_event, loginuid) - 1 };
	exectrace_event *ev = h_event();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(ev, 0x5a, sizeof(*ev));
		ev->size = bad[i];
		CHECK_INT(exectrace_read_timeout(t, ev, 0), -EINVAL);
		CHECK_INT(exectrace_read_timeout(t, ev, 10), -EINVAL);
		CHECK_INT(ev->size, bad[i]);
		CHECK_INT((unsigned char)ev->filename[0], 0x5a);
	}
	free(ev);

	/* A larger (newer) event struct is fine. */
	struct {
		exectrace_event ev;
		unsigned char more[64];
	} *big = calloc(1, sizeof(*big));
	REQUIRE(big);
	big->ev.size = sizeof(*big);
	CHECK_INT(exectrace_read_timeout(t, &big->ev, 10), -ETIMEDOUT);
	exectrace_close(t);

	/* ... and receives events. */
	char marker[64];
	h_marker(marker, sizeof(marker));
	t = H_TRACER(NULL);
	if (t) {
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, &big->ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
		CHECK_INT(big->ev.size, sizeof(*big));
		exectrace_close(t);
	}
	free(big);
}

static void test_failed_execs(void)
{
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_INCLUDE_FAILED;
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	char marker[64], path[160];

	/* A path that does not exist: -ENOENT. */
	h_marker(marker, sizeof(marker));
	snprintf(path, sizeof(path), "/nonexistent-ctest/%s", marker);
	char *argv1[] = { "x", marker, NULL };
	struct h_spawn s = { .path = path, .argv = argv1 };
	pid_t child = h_spawn(&s);
	CHECK_INT(h_wait(child), 127);
	int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_STR(ev->filename, path);
		CHECK_INT(ev->result, -ENOENT);
		CHECK(ev->flags & EXECTRACE_EVENT_FAILED);
		check_pid(ev, child);
	}

	/* A file without execute permission: -EACCES (also for root). */
	h_marker(marker, sizeof(marker));
	snprintf(path, sizeof(path), "/tmp/%s-XXXXXX", marker);
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	CHECK(write(fd, "#!/bin/sh\n", 10) == 10);
	close(fd);
	CHECK(chmod(path, 0644) == 0);
	char *argv2[] = { path, marker, NULL };
	s.path = path;
	s.argv = argv2;
	child = h_spawn(&s);
	CHECK_INT(h_wait(child), 127);
	r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_STR(ev->filename, path);
		CHECK_INT(ev->result, -EACCES);
		CHECK(ev->flags & EXECTRACE_EVENT_FAILED);
		check_pid(ev, child);
	}
	unlink(path);

	/* A successful exec on the same tracer is not flagged. */
	h_marker(marker, sizeof(marker));
	h_spawn_true(marker);
	r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(ev->result, 0);
		CHECK_INT(ev->flags & EXECTRACE_EVENT_FAILED, 0);
	}
	exectrace_close(t);

	/* Without the option, failed execs are not reported. */
	t = H_TRACER(NULL);
	if (t) {
		char mfail[64];
		h_marker(mfail, sizeof(mfail));
		snprintf(path, sizeof(path), "/nonexistent-ctest/%s", mfail);
		char *argv3[] = { "x", mfail, NULL };
		s.path = path;
		s.argv = argv3;
		CHECK_INT(h_wait(h_spawn(&s)), 127);
		h_marker(marker, sizeof(marker));
		h_spawn_true(marker);
		int seen = 0;
		CHECK_INT(h_read_marked(t, ev, marker, WAIT_MS, NULL, mfail, &seen), 0);
		CHECK_INT(seen, 0);
		exectrace_close(t);
	}
	free(ev);
}

/* exectrace_fd with poll(): readable after a marked exec, then drained. */
static void test_poll_fd(void)
{
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	int fd = exectrace_fd(t);
	CHECK(fd >= 0);
	CHECK_INT(exectrace_fd(t), fd);
	int pfd = exectrace_prog_fd(t);
	CHECK(pfd >= 0);
	CHECK(pfd != fd);
	CHECK(fcntl(fd, F_GETFD) >= 0);

	char marker[64];
	h_marker(marker, sizeof(marker));
	double start = h_now();
	h_spawn_true(marker);
	int found = 0, polls = 0;
	while (!found && h_now() - start < WAIT_MS / 1000.0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 500);
		if (n < 0 && errno == EINTR)
			continue;
		REQUIRE(n >= 0);
		if (n == 0)
			continue;
		polls++;
		CHECK(p.revents & POLLIN);
		int r;
		while ((r = exectrace_read_timeout(t, ev, 0)) == 0)
			found |= h_event_matches(ev, marker);
		CHECK_INT(r, -EAGAIN);
	}
	CHECK(found);
	CHECK(polls >= 1);
	if (found)
		h_note("marked event via poll after %.1f ms", (h_now() - start) * 1000);

	/* After shutdown the fd polls readable and reads say -ECANCELED. */
	CHECK_INT(exectrace_shutdown(t), 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	CHECK_INT(poll(&p, 1, 1000), 1);
	CHECK_INT(exectrace_read_timeout(t, ev, 0), -ECANCELED);
	exectrace_close(t);
	free(ev);
}

static void test_stats(void)
{
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	unsigned long reads = 0;
	uint64_t last_seq = 0;
	int first = 1;
	for (int i = 0; i < 3; i++) {
		char marker[64];
		h_marker(marker, sizeof(marker));
		h_spawn_true(marker);
		/* Read one by one to check that seq increases. */
		double deadline = h_now() + WAIT_MS / 1000.0;
		int found = 0;
		while (!found && h_now() < deadline) {
			int r = exectrace_read_timeout(t, ev, 200);
			if (r == -ETIMEDOUT)
				continue;
			CHECK_INT(r, 0);
			if (r)
				break;
			reads++;
			if (!first)
				CHECK(ev->seq > last_seq);
			first = 0;
			last_seq = ev->seq;
			found = h_event_matches(ev, marker);
		}
		CHECK(found);
	}
	exectrace_stats st;
	memset(&st, 0xff, sizeof(st));
	st.size = sizeof(st);
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.size, sizeof(st));
	CHECK_INT(st.reserved, 0);
	CHECK_INT(st.events, reads);
	CHECK_INT(st.malformed, 0);
	CHECK(st.drops < 1000000);
	h_note("stats: %llu events, %llu drops", (unsigned long long)st.events,
	       (unsigned long long)st.drops);

	/* Sizes: NULL, < 8 refused; 8 writes 8 bytes; larger with zero tail ok. */
	CHECK_INT(exectrace_get_stats(t, NULL), -EINVAL);
	for (uint32_t sz = 0; sz < 8; sz++) {
		memset(&st, 0, sizeof(st));
		st.size = sz;
		CHECK_INT(exectrace_get_stats(t, &st), -EINVAL);
	}
	memset(&st, 0xee, sizeof(st));
	st.size = 8;
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.size, 8);
	CHECK(st.events == 0xeeeeeeeeeeeeeeeeull); /* beyond size: untouched */
	memset(&st, 0xee, sizeof(st));
	st.size = offsetof(exectrace_stats, drops);
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.events, reads);
	CHECK(st.drops == 0xeeeeeeeeeeeeeeeeull);
	struct {
		exectrace_stats st;
		uint64_t more[2];
	} big;
	memset(&big, 0, sizeof(big));
	big.st.size = sizeof(big);
	CHECK_INT(exectrace_get_stats(t, &big.st), 0);
	CHECK_INT(big.st.events, reads);
	CHECK(big.more[0] == 0 && big.more[1] == 0);

	/* Still works after shutdown. */
	CHECK_INT(exectrace_shutdown(t), 0);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.events, reads);
	exectrace_close(t);
	free(ev);
}

/* Older (smaller) and newer (larger, zero tail) option structs. */
static void test_opts_sizes(void)
{
	/* Only `size`: all defaults. */
	exectrace_opts o = h_opts();
	o.size = 4;
	o.flags = 0xffffffff; /* beyond size: ignored */
	exectrace *t = H_TRACER(&o);
	if (t) {
		char marker[64];
		h_marker(marker, sizeof(marker));
		exectrace_event *ev = h_event();
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
		exectrace_close(t);
		free(ev);
	}

	/* A caller built before cgroup_path existed: its uid filter is honoured. */
	o = h_opts();
	o.size = offsetof(exectrace_opts, cgroup_path);
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = h_unused_uid();
	o.cgroup_path = (const char *)(uintptr_t)1; /* beyond size: never read */
	o.reserved = 7;                              /* likewise */
	t = H_TRACER(&o);
	if (t) {
		char marker[64];
		h_marker(marker, sizeof(marker));
		exectrace_event *ev = h_event();
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, ev, marker, 300, NULL, NULL, NULL), -ETIMEDOUT);
		exectrace_close(t);
		free(ev);
	}

	/* A newer caller with a zero tail. */
	struct {
		exectrace_opts o;
		unsigned char tail[32];
	} big;
	memset(&big, 0, sizeof(big));
	big.o.size = sizeof(big);
	big.o.flags = EXECTRACE_OPT_WAKE_PER_EVENT;
	t = H_TRACER(&big.o);
	exectrace_close(t);

	/* Every documented option, set. */
	o = h_opts();
	o.flags = EXECTRACE_OPT_INCLUDE_FAILED | EXECTRACE_OPT_WAKE_PER_EVENT;
	o.argv_budget = 4096;
	o.ring_size = 1 << 16;
	o.wakeup_latency_us = 1000;
	o.pid_ns = self_pid_ns();
	t = H_TRACER(&o);
	if (t) {
		char marker[64];
		h_marker(marker, sizeof(marker));
		exectrace_event *ev = h_event();
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
		exectrace_close(t);
		free(ev);
	}
	/* The code paths for kernels before 6.10/5.12, forced on this one. */
	o.flags = EXECTRACE_OPT_FALLBACK_HOOKS;
	o.wakeup_latency_us = 0;
	t = H_TRACER(&o);
	if (t) {
		char marker[64];
		h_marker(marker, sizeof(marker));
		exectrace_event *ev = h_event();
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
		exectrace_close(t);
		free(ev);
	}
}

static void test_argv_budget(void)
{
	exectrace_opts o = h_opts();
	o.argv_budget = 64;
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	char marker[64], longarg[200];
	h_marker(marker, sizeof(marker));
	memset(longarg, 'a', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = 0;
	char *argv[] = { "/bin/true", marker, longarg, "z", NULL };
	struct h_spawn s = { .path = "/bin/true", .argv = argv };
	CHECK_INT(h_wait(h_spawn(&s)), 0);
	/* The marker is within the first 64 bytes. */
	int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(ev->flags & EXECTRACE_EVENT_ARGV_TRUNCATED);
		CHECK(ev->flags & EXECTRACE_EVENT_TRUNCATED);
		CHECK_INT(ev->argc, 4);
		CHECK_INT(ev->argv_size, 10 + strlen(marker) + 1 + 200 + 2);
		CHECK(ev->argv_len <= 65);
		CHECK(ev->argv_count < 4);
		/* The block is walkable and NUL-terminated. */
		CHECK_INT(ev->argv[ev->argv_len - 1], 0);
		uint32_t n = 0;
		for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a))
			n++;
		CHECK_INT(n, ev->argv_count);
	}
	exectrace_close(t);
	free(ev);
}

static void test_pid_ns_filter(void)
{
	/* Our own namespace: seen. */
	exectrace_opts o = h_opts();
	o.pid_ns = self_pid_ns();
	REQUIRE(o.pid_ns != 0);
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	char marker[64];
	h_marker(marker, sizeof(marker));
	h_spawn_true(marker);
	CHECK_INT(h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
	CHECK_INT(ev->pid_ns, o.pid_ns);
	exectrace_close(t);

	/* A namespace that does not exist: not seen. */
	o.pid_ns = 12345;
	t = H_TRACER(&o);
	if (t) {
		h_marker(marker, sizeof(marker));
		h_spawn_true(marker);
		CHECK_INT(h_read_marked(t, ev, marker, 300, NULL, NULL, NULL), -ETIMEDOUT);
		exectrace_close(t);
	}
	free(ev);
}

static int cgroup2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (!f)
		return -1;
	char line[1024];
	int found = -1;
	while (fgets(line, sizeof(line), f)) {
		char mnt[512], fstype[64];
		/* id parent maj:min root mountpoint opts... - fstype source sopts */
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(out, len, "%s", mnt);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static void test_cgroup_filter(void)
{
	exectrace_opts o = h_opts();
	exectrace *t = NULL;

	/* Missing (-ENOENT), not cgroup v2 (-EINVAL). */
	o.cgroup_path = "/nonexistent-ctest-cgroup";
	CHECK_INT(exectrace_new(&o, &t), -ENOENT);
	o.cgroup_path = "/proc";
	CHECK_INT(exectrace_new(&o, &t), -EINVAL);
	CHECK(t == NULL);

	char mnt[512], dir[700], procs[760];
	if (cgroup2_mount(mnt, sizeof(mnt)) != 0) {
		h_skip("no cgroup2 mount");
		return;
	}
	char marker[64], mout[64];
	h_marker(marker, sizeof(marker));
	h_marker(mout, sizeof(mout));
	snprintf(dir, sizeof(dir), "%s/%s", mnt, marker);
	if (mkdir(dir, 0755) != 0) {
		h_skip("cannot create a cgroup under %s: %s", mnt, strerror(errno));
		return;
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	struct stat st;
	CHECK(stat(dir, &st) == 0);

	o = h_opts();
	o.cgroup_path = dir;
	t = H_TRACER(&o);
	if (t) {
		exectrace_event *ev = h_event();
		h_spawn_true(mout); /* outside the cgroup: not seen */
		char *argv[] = { "/bin/true", marker, NULL };
		struct h_spawn s = { .path = "/bin/true", .argv = argv, .cgroup_procs = procs };
		CHECK_INT(h_wait(h_spawn(&s)), 0);
		int seen_out = 0;
		int r = h_read_marked(t, ev, marker, WAIT_MS, NULL, mout, &seen_out);
		CHECK_INT(r, 0);
		CHECK_INT(seen_out, 0);
		if (r == 0)
			CHECK_INT(ev->cgroup_id, st.st_ino);
		exectrace_close(t);
		free(ev);
	}
	/* The child has been reaped: the cgroup is empty again. */
	for (int i = 0; i < 50 && rmdir(dir) != 0; i++)
		h_sleep_ms(20);
	CHECK(access(dir, F_OK) != 0);
}

/* 16 tracers at once, each sees the marked exec. */
static void test_many_tracers(void)
{
	enum { N = 16 };
	exectrace *t[N];
	exectrace_event *ev = h_event();
	for (int i = 0; i < N; i++)
		t[i] = H_TRACER(NULL);
	char marker[64];
	h_marker(marker, sizeof(marker));
	h_spawn_true(marker);
	for (int i = 0; i < N; i++) {
		if (t[i])
			CHECK_INT(h_read_marked(t[i], ev, marker, WAIT_MS, NULL, NULL, NULL), 0);
		exectrace_close(t[i]);
	}
	free(ev);
}

/* Several threads reading one tracer: each event goes to exactly one. */
enum { READERS = 3, EXECS = 24 };
struct reader_arg {
	exectrace *t;
	char (*markers)[64];
	int *counts;
	int result;
	pthread_mutex_t *lock;
};

static void *reader_main(void *p)
{
	struct reader_arg *a = p;
	exectrace_event *ev = h_event();
	int r;
	while ((r = exectrace_read(a->t, ev)) == 0) {
		for (int i = 0; i < EXECS; i++) {
			if (h_event_matches(ev, a->markers[i])) {
				pthread_mutex_lock(a->lock);
				a->counts[i]++;
				pthread_mutex_unlock(a->lock);
			}
		}
	}
	a->result = r;
	free(ev);
	return NULL;
}

static void test_concurrent_readers(void)
{
	exectrace_opts o = h_opts();
	uint32_t uid = h_unused_uid();
	o.flags = EXECTRACE_OPT_FILTER_UID;
	o.uid = uid;
	exectrace *t = H_TRACER(&o);
	REQUIRE(t);
	char markers[EXECS][64];
	int counts[EXECS] = { 0 };
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	for (int i = 0; i < EXECS; i++)
		h_marker(markers[i], sizeof(markers[i]));
	struct reader_arg args[READERS];
	pthread_t th[READERS];
	for (int i = 0; i < READERS; i++) {
		args[i] = (struct reader_arg){ t, markers, counts, 1, &lock };
		REQUIRE(pthread_create(&th[i], NULL, reader_main, &args[i]) == 0);
	}
	for (int i = 0; i < EXECS; i++) {
		char *argv[] = { "/bin/true", markers[i], NULL };
		struct h_spawn s = { .path = "/bin/true", .argv = argv, .set_ids = 1, .uid = uid, .gid = uid };
		CHECK_INT(h_wait(h_spawn(&s)), 0);
	}
	/* Wait until all were delivered (or 5 s), then stop the readers. */
	double deadline = h_now() + WAIT_MS / 1000.0;
	for (;;) {
		int total = 0;
		pthread_mutex_lock(&lock);
		for (int i = 0; i < EXECS; i++)
			total += counts[i] > 0;
		pthread_mutex_unlock(&lock);
		if (total == EXECS || h_now() > deadline)
			break;
		h_sleep_ms(10);
	}
	CHECK_INT(exectrace_shutdown(t), 0);
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].result, -ECANCELED);
	}
	for (int i = 0; i < EXECS; i++)
		CHECK_INT(counts[i], 1);
	exectrace_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	CHECK_INT(exectrace_get_stats(t, &st), 0);
	CHECK_INT(st.events, EXECS);
	exectrace_close(t);
}

void register_event_tests(void);
void register_event_tests(void)
{
	static const struct h_test tests[] = {
		{ "events_argv_exact", test_argv_exact, H_BPF, 0 },
		{ "events_uid_gid", test_uid_gid, H_BPF, 0 },
		{ "events_comm", test_comm, H_BPF, 0 },
		{ "events_filter_uid", test_filter_uid, H_BPF, 0 },
		{ "events_timeout", test_timeout, H_BPF, 0 },
		{ "misuse_event_size", test_event_size, H_BPF, 0 },
		{ "events_failed_execs", test_failed_execs, H_BPF, 0 },
		{ "events_poll_fd", test_poll_fd, H_BPF, 0 },
		{ "events_stats", test_stats, H_BPF, 0 },
		{ "events_opts_sizes", test_opts_sizes, H_BPF, 0 },
		{ "events_argv_budget", test_argv_budget, H_BPF, 0 },
		{ "events_pid_ns_filter", test_pid_ns_filter, H_BPF, 0 },
		{ "events_cgroup_filter", test_cgroup_filter, H_BPF, 0 },
		{ "events_many_tracers", test_many_tracers, H_BPF, 0 },
		{ "events_concurrent_readers", test_concurrent_readers, H_BPF, 0 },
	};
	h_register(tests, sizeof(tests) / sizeof(tests[0]));
}
