/* The fields appended for issue 20 (exe path, cwd, audit ids, tty, exe
 * inode/device, environment) through exectrace_read and
 * exectrace_read_batch, against what the kernel and /proc say; events
 * matched by a unique marker argument. Also: an event struct of the first
 * release's size still works and is written only as far as it reaches. */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 5000
#define BUF_CAP (256u << 10)
/* sizeof(struct exectrace_event) in the first release. */
#define EVENT_SIZE_V0 41064u

/* The environment the marked processes get: 13 bytes a string, NUL included. */
static char *const rich_env[] = { "XTA_AAAAAA=1", "XTB_BBBBBB=2", "XTC_CCCCCC=3", NULL };
#define RICH_ENV_SIZE 39u

struct spawned {
	pid_t pid;
	char dir[64];      /* the child's working directory (a fresh temp dir) */
	char dir_real[PATH_MAX];
	char exe_real[PATH_MAX];
	struct stat exe_st;
};

/* fork, setsid (no controlling tty), chdir to a temporary directory, and
 * exec /bin/true `marker` with rich_env; reap it. 0 on success. */
static int spawn_rich(const char *marker, struct spawned *sp)
{
	snprintf(sp->dir, sizeof(sp->dir), "/tmp/ctest-rich-XXXXXX");
	if (!mkdtemp(sp->dir))
		return -1;
	if (!realpath(sp->dir, sp->dir_real) || !realpath("/bin/true", sp->exe_real) ||
	    stat("/bin/true", &sp->exe_st) != 0)
		return -1;
	char *argv[] = { "/bin/true", (char *)marker, NULL };
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setsid() < 0 || chdir(sp->dir) != 0)
			_exit(126);
		execve("/bin/true", argv, rich_env);
		_exit(127);
	}
	sp->pid = pid;
	int rc = h_wait(pid);
	return rc == 0 ? 0 : -1;
}

static void spawned_done(struct spawned *sp)
{
	rmdir(sp->dir);
}

/* /proc/self/<name> as a number (the child inherits ours); -1 if absent. */
static long long proc_self_u32(const char *name)
{
	char path[64], buf[32];
	snprintf(path, sizeof(path), "/proc/self/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

static void check_audit(uint32_t flags, uint32_t loginuid, uint32_t sessionid)
{
	if (flags & EXECTRACE_EVENT_AUDIT_UNKNOWN) {
		h_note("no audit in this kernel: loginuid/sessionid unknown");
		CHECK_INT(loginuid, EXECTRACE_AUDIT_UNSET);
		CHECK_INT(sessionid, EXECTRACE_AUDIT_UNSET);
		return;
	}
	CHECK_INT(loginuid, proc_self_u32("loginuid"));
	CHECK_INT(sessionid, proc_self_u32("sessionid"));
}

/* spawn_rich with a fresh marker, then read its event into ev: 0, or the
 * error of the read (-1 if the spawn failed). */
static int spawn_read(exectrace *t, exectrace_event *ev, struct spawned *sp)
{
	char marker[64];
	h_marker(marker, sizeof(marker));
	if (spawn_rich(marker, sp) != 0)
		return -1;
	return h_read_marked(t, ev, marker, WAIT_MS, NULL, NULL, NULL);
}

static exectrace *rich_tracer(uint32_t flags, uint32_t env_budget)
{
	exectrace_opts o = h_opts();
	o.flags = flags;
	o.env_budget = env_budget;
	return H_TRACER(&o);
}

/* Paths and environment on: every new field of struct exectrace_event. */
static void test_rich_read(void)
{
	exectrace *t = rich_tracer(EXECTRACE_OPT_PATHS | EXECTRACE_OPT_INCLUDE_ENV, 0);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	struct spawned sp;
	int r = spawn_read(t, ev, &sp);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(ev->flags & EXECTRACE_EVENT_HAS_PATHS);
		CHECK(ev->flags & EXECTRACE_EVENT_HAS_ENV);
		CHECK_INT(ev->flags & (EXECTRACE_EVENT_EXE_PATH_CUT | EXECTRACE_EVENT_CWD_CUT |
				       EXECTRACE_EVENT_EXE_PATH_UNRESOLVED |
				       EXECTRACE_EVENT_CWD_UNRESOLVED | EXECTRACE_EVENT_EXE_DELETED |
				       EXECTRACE_EVENT_CWD_DELETED | EXECTRACE_EVENT_ENV_TRUNCATED |
				       EXECTRACE_EVENT_ENV_FAULT | EXECTRACE_EVENT_EXE_MEMFD |
				       EXECTRACE_EVENT_TRUNCATED),
			  0);
		CHECK_STR(ev->exe_path, sp.exe_real);
		CHECK_STR(ev->cwd, sp.dir_real);
		CHECK_INT(ev->exe_inode, sp.exe_st.st_ino);
		CHECK_INT(ev->exe_dev, sp.exe_st.st_dev);
		CHECK_STR(ev->tty, ""); /* setsid: no controlling terminal */
		check_audit(ev->flags, ev->loginuid, ev->sessionid);
		CHECK_INT(ev->env_size, RICH_ENV_SIZE);
		CHECK_INT(ev->env_len, RICH_ENV_SIZE);
		CHECK_INT(ev->env_count, 3);
		int i = 0;
		for (const char *e = exectrace_env_first(ev); e; e = exectrace_env_next(ev, e), i++) {
			REQUIRE(i < 3);
			CHECK_STR(e, rich_env[i]);
		}
		CHECK_INT(i, 3);
		CHECK_INT(ev->reserved2, 0);
	}
	spawned_done(&sp);
	exectrace_close(t);
	free(ev);
}

/* Defaults: no environment, no paths; the always-on fields are there. */
static void test_rich_defaults(void)
{
	exectrace *t = H_TRACER(NULL);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	memset(ev->env, 0x5a, sizeof(ev->env));
	struct spawned sp;
	int r = spawn_read(t, ev, &sp);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK_INT(ev->flags & (EXECTRACE_EVENT_HAS_PATHS | EXECTRACE_EVENT_HAS_ENV), 0);
		CHECK_STR(ev->exe_path, "");
		CHECK_STR(ev->cwd, "");
		CHECK_INT(ev->env_size, 0);
		CHECK_INT(ev->env_len, 0);
		CHECK_INT(ev->env_count, 0);
		CHECK(exectrace_env_first(ev) == NULL);
		CHECK_INT(ev->exe_inode, sp.exe_st.st_ino);
		CHECK_INT(ev->exe_dev, sp.exe_st.st_dev);
		check_audit(ev->flags, ev->loginuid, ev->sessionid);
	}
	spawned_done(&sp);
	exectrace_close(t);
	free(ev);
}

/* env_budget 20: exactly the first 20 bytes (a cut last string closed by
 * a NUL), flagged, with the true size; argv is not affected. */
static void test_rich_env_budget(void)
{
	exectrace *t = rich_tracer(EXECTRACE_OPT_INCLUDE_ENV, 20);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	struct spawned sp;
	int r = spawn_read(t, ev, &sp);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(ev->flags & EXECTRACE_EVENT_HAS_ENV);
		CHECK(ev->flags & EXECTRACE_EVENT_ENV_TRUNCATED);
		CHECK_INT(ev->flags & EXECTRACE_EVENT_TRUNCATED, 0); /* argv's flag only */
		CHECK_INT(ev->env_size, RICH_ENV_SIZE);
		CHECK_INT(ev->env_len, 21);
		CHECK_INT(ev->env_count, 2);
		CHECK(memcmp(ev->env, "XTA_AAAAAA=1\0XTB_BBB\0", 21) == 0);
		const char *e = exectrace_env_first(ev);
		CHECK(e && strcmp(e, "XTA_AAAAAA=1") == 0);
		e = e ? exectrace_env_next(ev, e) : NULL;
		CHECK(e && strcmp(e, "XTB_BBB") == 0);
		CHECK(!e || !exectrace_env_next(ev, e));
	}
	spawned_done(&sp);
	exectrace_close(t);
	free(ev);
	/* Bad budgets are refused. */
	exectrace_opts o = h_opts();
	o.flags = EXECTRACE_OPT_INCLUDE_ENV;
	o.env_budget = (2u << 20) + 1;
	exectrace *bad = NULL;
	CHECK_INT(exectrace_new(&o, &bad), -EINVAL);
	o = h_opts();
	o.reserved2 = 1;
	CHECK_INT(exectrace_new(&o, &bad), -EINVAL);
	CHECK(bad == NULL);
}

/* The same fields in a batch record. */
static void test_rich_batch(void)
{
	char marker[64];
	h_marker(marker, sizeof(marker));
	exectrace *t = rich_tracer(EXECTRACE_OPT_PATHS | EXECTRACE_OPT_INCLUDE_ENV, 0);
	REQUIRE(t);
	void *mem = NULL;
	REQUIRE(posix_memalign(&mem, EXECTRACE_RECORD_ALIGN, BUF_CAP) == 0);
	char *buf = mem;
	memset(buf, 0xa5, BUF_CAP); /* stale bytes: the layout must not rely on zeros */
	struct spawned sp;
	CHECK_INT(spawn_rich(marker, &sp), 0);
	int found = 0;
	double deadline = h_now() + WAIT_MS / 1000.0;
	while (!found && h_now() < deadline) {
		int n = exectrace_read_batch(t, buf, BUF_CAP, 200, NULL);
		REQUIRE(n >= 0);
		const struct exectrace_batch_record *r = (const void *)buf;
		for (int k = 0; k < n && !found; k++, r = exectrace_record_next(r)) {
			REQUIRE(r->hdr_size >= sizeof(*r));
			REQUIRE(EXECTRACE_RECORD_HAS(r, tty_len));
			/* Every string within the record, NUL-terminated. */
			CHECK(r->exe_path_off + r->exe_path_len < r->size);
			CHECK(r->cwd_off + r->cwd_len < r->size);
			CHECK(r->tty_off + r->tty_len < r->size);
			CHECK(r->env_off + r->env_len <= r->size);
			CHECK_INT(strlen(exectrace_record_exe_path(r)), r->exe_path_len);
			CHECK_INT(strlen(exectrace_record_cwd(r)), r->cwd_len);
			CHECK_INT(strlen(exectrace_record_tty(r)), r->tty_len);
			unsigned envs = 0;
			for (const char *e = exectrace_record_env_first(r); e;
			     e = exectrace_record_env_next(r, e))
				envs++;
			CHECK_INT(envs, r->env_count);
			if (h_failures())
				break;
			const char *a = exectrace_record_argv_first(r);
			a = a ? exectrace_record_argv_next(r, a) : NULL;
			if (!a || strcmp(a, marker) != 0)
				continue;
			found = 1;
			CHECK(r->flags & EXECTRACE_EVENT_HAS_PATHS);
			CHECK(r->flags & EXECTRACE_EVENT_HAS_ENV);
			CHECK_STR(exectrace_record_exe_path(r), sp.exe_real);
			CHECK_STR(exectrace_record_cwd(r), sp.dir_real);
			CHECK_STR(exectrace_record_tty(r), "");
			CHECK_INT(r->exe_inode, sp.exe_st.st_ino);
			CHECK_INT(r->exe_dev, sp.exe_st.st_dev);
			check_audit(r->flags, r->loginuid, r->sessionid);
			CHECK_INT(r->env_size, RICH_ENV_SIZE);
			CHECK_INT(r->env_len, RICH_ENV_SIZE);
			CHECK_INT(r->env_count, 3);
			int i = 0;
			for (const char *e = exectrace_record_env_first(r); e && i < 3;
			     e = exectrace_record_env_next(r, e), i++)
				CHECK_STR(e, rich_env[i]);
			CHECK_INT(i, 3);
		}
	}
	CHECK(found);
	spawned_done(&sp);
	exectrace_close(t);
	free(buf);
}

/* A caller built against the first release's header (a smaller event):
 * the event is read, and nothing past its size is written. A size that
 * ends inside the new fields gets the fields it covers whole. */
static void test_rich_old_size(void)
{
	REQUIRE(offsetof(exectrace_event, loginuid) == EVENT_SIZE_V0);
	exectrace *t = rich_tracer(EXECTRACE_OPT_PATHS | EXECTRACE_OPT_INCLUDE_ENV, 0);
	REQUIRE(t);
	exectrace_event *ev = h_event();
	const uint32_t sizes[] = { EVENT_SIZE_V0, (uint32_t)offsetof(exectrace_event, tty) + 5 };
	for (size_t i = 0; i < 2; i++) {
		memset(ev, 0x5a, sizeof(*ev));
		ev->size = sizes[i];
		struct spawned sp;
		int r = spawn_read(t, ev, &sp);
		CHECK_INT(r, 0);
		if (r == 0) {
			CHECK_INT(ev->size, sizes[i]);
			CHECK_STR(ev->filename, "/bin/true");
			const unsigned char *p = (const unsigned char *)ev;
			size_t bad = 0;
			for (size_t k = sizes[i]; k < sizeof(*ev); k++)
				bad += p[k] != 0x5a;
			CHECK_INT(bad, 0);
			if (i == 1) {
				CHECK_INT(ev->exe_inode, sp.exe_st.st_ino);
				check_audit(ev->flags, ev->loginuid, ev->sessionid);
				CHECK_INT(ev->env_size, RICH_ENV_SIZE);
				/* The env block is beyond the size: none given, and flagged. */
				CHECK_INT(ev->env_len, 0);
				CHECK_INT(ev->env_count, 0);
				CHECK(ev->flags & EXECTRACE_EVENT_ENV_TRUNCATED);
			}
		}
		spawned_done(&sp);
	}
	/* Smaller than the first release's: refused, nothing written. */
	memset(ev, 0x5a, sizeof(*ev));
	ev->size = EVENT_SIZE_V0 - 1;
	CHECK_INT(exectrace_read_timeout(t, ev, 0), -EINVAL);
	CHECK_INT((unsigned char)ev->filename[0], 0x5a);
	exectrace_close(t);
	free(ev);
}

void register_rich_tests(void);
void register_rich_tests(void)
{
	static const struct h_test tests[] = {
		{ "rich_read", test_rich_read, H_BPF, 0 },
		{ "rich_defaults", test_rich_defaults, H_BPF, 0 },
		{ "rich_env_budget", test_rich_env_budget, H_BPF, 0 },
		{ "rich_batch", test_rich_batch, H_BPF, 0 },
		{ "rich_old_size", test_rich_old_size, H_BPF, 0 },
	};
	h_register(tests, sizeof(tests) / sizeof(tests[0]));
}
