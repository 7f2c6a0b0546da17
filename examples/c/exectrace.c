/* exectrace-c: the C twin of the `exectrace` command, on libexectrace's C ABI.
 *
 *   exectrace-c [--pid-ns N] [--uid N] [--cgroup PATH] [--include-failed]
 *               [--format text|json] [--count N]
 *
 * Prints one line per exec, like the CLI:
 *   [1188922, comm="sh", uid=1002, gid=1003, filename=/usr/bin/which] which ps
 * or one JSON object per line. Control characters and invalid UTF-8 are
 * escaped, so no argument can forge or break a line. SIGINT/SIGTERM stop it
 * (a thread waits for them and calls exectrace_shutdown); the counts of
 * events and drops go to stderr on exit.
 *
 * Build: cc -O2 -o exectrace-c exectrace.c $(pkg-config --cflags --libs exectrace) -lpthread
 */
#define _GNU_SOURCE
#include <exectrace.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: exectrace-c [--pid-ns N] [--uid N] [--cgroup PATH] [--include-failed]\n"
	"                   [--format text|json] [--count N]\n"
	"\n"
	"Prints one line per exec. Needs root (or CAP_BPF and CAP_PERFMON).\n"
	"  --pid-ns N          only this pid namespace (inode) and its descendants\n"
	"  --uid N             only this real uid\n"
	"  --cgroup PATH       only this cgroup v2 directory and its descendants\n"
	"  --include-failed    also failed exec attempts (with their error)\n"
	"  --format text|json  output format (default text)\n"
	"  --count N           exit after N events\n"
	"On exit, the counts of events and drops go to stderr.\n";

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Decode one character at s[0..n): its length, or 0 with *bad set to the
 * length of the maximal invalid subpart (as Rust's from_utf8_lossy and
 * utf8_chunks do). */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
	unsigned char c = s[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xbf;
	*bad = 1;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, bad;
	uint32_t cp;
	while (i < n) {
		size_t k = utf8_char(p + i, n - i, &cp, &bad);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Unicode general category Cc. */
static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Invisible format and separator characters (bidi overrides, zero-width,
 * line/paragraph separators) that can disguise a line in a terminal. */
static int is_invisible(uint32_t cp)
{
	return cp == 0x061c || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* ---- text ------------------------------------------------------------------- */

/* Backslash escapes for control characters, backslash, the quote in use and
 * invalid UTF-8 (the CLI's `escape`). */
static void put_escaped(FILE *f, const char *s, int double_quoted)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, bad;
	uint32_t cp;
	while (i < n) {
		size_t k = utf8_char(p + i, n - i, &cp, &bad);
		if (!k) {
			for (size_t j = 0; j < bad; j++)
				fprintf(f, "\\x%02x", p[i + j]);
			i += bad;
			continue;
		}
		if (cp == '\\')
			fputs("\\\\", f);
		else if (cp == '\'' && !double_quoted)
			fputs("\\'", f);
		else if (cp == '"' && double_quoted)
			fputs("\\\"", f);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp == '\r')
			fputs("\\r", f);
		else if (is_control(cp))
			for (size_t j = 0; j < k; j++)
				fprintf(f, "\\x%02x", p[i + j]);
		else if (is_invisible(cp))
			fprintf(f, "\\u%04x", (unsigned)cp);
		else
			fwrite(p + i, 1, k, f);
		i += k;
	}
}

/* Quote for a POSIX shell: bare when safe, '...' when printable, $'...' when
 * it holds control characters or invalid UTF-8 (the CLI's `shell_quote`). */
static void put_shell(FILE *f, const char *s)
{
	static const char safe_punct[] = "@%+=:,./-_";
	int safe = s[0] != 0;
	for (const char *c = s; *c && safe; c++) {
		unsigned char u = (unsigned char)*c;
		safe = (u < 0x80 && ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
				     (u >= 'A' && u <= 'Z') || strchr(safe_punct, u)));
	}
	if (safe) {
		fputs(s, f);
		return;
	}
	int plain = 1;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, bad;
	uint32_t cp;
	while (i < n && plain) {
		size_t k = utf8_char(p + i, n - i, &cp, &bad);
		if (!k || is_control(cp) || is_invisible(cp))
			plain = 0;
		i += k;
	}
	if (plain) {
		fputc('\'', f);
		for (const char *c = s; *c; c++) {
			if (*c == '\'')
				fputs("'\\''", f);
			else
				fputc(*c, f);
		}
		fputc('\'', f);
		return;
	}
	fputs("$'", f);
	put_escaped(f, s, 0);
	fputc('\'', f);
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	case E2BIG: return "E2BIG";
	case EPERM: return "EPERM";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case EFAULT: return "EFAULT";
	case ENOMEM: return "ENOMEM";
	case ETXTBSY: return "ETXTBSY";
	case EINVAL: return "EINVAL";
	default: return NULL;
	}
}

static void print_text(FILE *f, const struct exectrace_event *ev)
{
	fprintf(f, "[%u, comm=\"", ev->pid);
	put_escaped(f, ev->comm, 1);
	fprintf(f, "\", uid=%u, gid=%u, filename=", ev->uid, ev->gid);
	put_shell(f, ev->filename);
	if (ev->flags & EXECTRACE_EVENT_HAS_INTERP) {
		fputs(", interpreter=", f);
		put_shell(f, ev->interpreter);
	}
	if (ev->result != 0) {
		const char *name = errno_name(-ev->result);
		if (name)
			fprintf(f, ", error=%s", name);
		else
			fprintf(f, ", error=errno %d", -ev->result);
	}
	if (ev->flags & EXECTRACE_EVENT_TRUNCATED)
		fprintf(f, ", truncated argc=%u bytes=%u", ev->argc, ev->argv_size);
	fputc(']', f);
	for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a)) {
		fputc(' ', f);
		put_shell(f, a);
	}
	fputc('\n', f);
}

/* ---- JSON ------------------------------------------------------------------- */

static void put_json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, bad;
	uint32_t cp;
	fputc('"', f);
	while (i < n) {
		size_t k = utf8_char(p + i, n - i, &cp, &bad);
		if (!k) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD per maximal invalid subpart */
			i += bad;
			continue;
		}
		if (cp == '"')
			fputs("\\\"", f);
		else if (cp == '\\')
			fputs("\\\\", f);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\r')
			fputs("\\r", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp < 0x20 || cp == 0x7f || cp == 0x2028 || cp == 0x2029)
			fprintf(f, "\\u%04x", cp);
		else
			fwrite(p + i, 1, k, f);
		i += k;
	}
	fputc('"', f);
}

static void put_base64(FILE *f, const char *s)
{
	static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	fputc('"', f);
	for (size_t i = 0; i < n; i += 3) {
		size_t m = n - i < 3 ? n - i : 3;
		uint32_t v = 0;
		for (size_t j = 0; j < m; j++)
			v |= (uint32_t)p[i + j] << (16 - 8 * j);
		for (size_t j = 0; j < 4; j++)
			fputc(j <= m ? A[(v >> (18 - 6 * j)) & 63] : '=', f);
	}
	fputc('"', f);
}

/* "key":"value", plus "key_base64":"..." with the exact bytes when the
 * value is not UTF-8. */
static void put_json_field(FILE *f, const char *key, const char *v)
{
	fprintf(f, "\"%s\":", key);
	put_json_str(f, v);
	if (!utf8_valid(v)) {
		fprintf(f, ",\"%s_base64\":", key);
		put_base64(f, v);
	}
}

static void print_json(FILE *f, const struct exectrace_event *ev)
{
	fputc('{', f);
	put_json_field(f, "filename", ev->filename);
	fputs(",\"argv\":[", f);
	int any_bad = 0;
	for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a)) {
		if (a != ev->argv)
			fputc(',', f);
		put_json_str(f, a);
		any_bad |= !utf8_valid(a);
	}
	fputc(']', f);
	if (any_bad) {
		fputs(",\"argv_base64\":[", f);
		for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a)) {
			if (a != ev->argv)
				fputc(',', f);
			put_base64(f, a);
		}
		fputc(']', f);
	}
	fprintf(f, ",\"truncated\":%s,\"pid\":%u,\"uid\":%u,\"gid\":%u,",
		(ev->flags & EXECTRACE_EVENT_TRUNCATED) ? "true" : "false", ev->pid, ev->uid,
		ev->gid);
	put_json_field(f, "comm", ev->comm);
	fprintf(f,
		",\"tid\":%u,\"ppid\":%u,\"euid\":%u,\"egid\":%u,\"cgroup_id\":%llu,\"pid_ns\":%u,"
		"\"seq\":%llu,\"timestamp_ns\":%llu,\"argc\":%u,\"argv_size\":%u,\"result\":%d",
		ev->tid, ev->ppid, ev->euid, ev->egid, (unsigned long long)ev->cgroup_id, ev->pid_ns,
		(unsigned long long)ev->seq, (unsigned long long)ev->timestamp_ns, ev->argc,
		ev->argv_size, ev->result);
	if (ev->flags & EXECTRACE_EVENT_HAS_INTERP) {
		fputc(',', f);
		put_json_field(f, "interpreter", ev->interpreter);
	}
	fputs("}\n", f);
}

/* ---- signals ---------------------------------------------------------------- */

struct stopper {
	exectrace *t;
	sigset_t set;
};

/* SIGINT/SIGTERM are blocked in every thread; this one waits for them and
 * shuts the tracer down, which wakes the blocked read in main. main also
 * sends it SIGTERM to end it. */
static void *stopper_main(void *p)
{
	struct stopper *s = p;
	int sig;
	while (sigwait(&s->set, &sig) != 0)
		;
	exectrace_shutdown(s->t);
	return NULL;
}

/* ---- main ------------------------------------------------------------------- */

static int parse_u32(const char *flag, const char *v, uint32_t *out)
{
	char *end;
	if (!v) {
		fprintf(stderr, "exectrace-c: %s needs a value\n%s", flag, usage);
		return -1;
	}
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || n > UINT32_MAX || v[0] == '-') {
		fprintf(stderr, "exectrace-c: %s: not a valid number: \"%s\"\n%s", flag, v, usage);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

int main(int argc, char **argv)
{
	struct exectrace_opts opts;
	memset(&opts, 0, sizeof(opts));
	opts.size = sizeof(opts);
	int json = 0;
	uint64_t count = 0; /* 0: no limit */
	int have_count = 0;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		char flag[64];
		const char *val = NULL;
		/* --flag=value or --flag value */
		const char *eq = strchr(arg, '=');
		if (strncmp(arg, "--", 2) == 0 && eq && (size_t)(eq - arg) < sizeof(flag)) {
			memcpy(flag, arg, (size_t)(eq - arg));
			flag[eq - arg] = 0;
			val = eq + 1;
		} else {
			snprintf(flag, sizeof(flag), "%s", arg);
		}
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : NULL))
		if (!strcmp(flag, "--pid-ns")) {
			if (parse_u32(flag, VALUE(), &opts.pid_ns))
				return 2;
		} else if (!strcmp(flag, "--uid")) {
			if (parse_u32(flag, VALUE(), &opts.uid))
				return 2;
			opts.flags |= EXECTRACE_OPT_FILTER_UID;
		} else if (!strcmp(flag, "--cgroup")) {
			opts.cgroup_path = VALUE();
			if (!opts.cgroup_path) {
				fprintf(stderr, "exectrace-c: --cgroup needs a path\n%s", usage);
				return 2;
			}
		} else if (!strcmp(flag, "--include-failed")) {
			opts.flags |= EXECTRACE_OPT_INCLUDE_FAILED;
		} else if (!strcmp(flag, "--format") || !strcmp(flag, "--output")) {
			const char *v = VALUE();
			if (v && !strcmp(v, "text")) {
				json = 0;
			} else if (v && !strcmp(v, "json")) {
				json = 1;
			} else {
				fprintf(stderr, "exectrace-c: --format must be text or json\n%s", usage);
				return 2;
			}
		} else if (!strcmp(flag, "--count")) {
			uint32_t n;
			if (parse_u32(flag, VALUE(), &n))
				return 2;
			count = n;
			have_count = 1;
		} else if (!strcmp(flag, "-h") || !strcmp(flag, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else {
			fprintf(stderr, "exectrace-c: unknown argument \"%s\"\n%s", arg, usage);
			return 2;
		}
#undef VALUE
	}

	/* Before any thread exists, so that every thread inherits the mask. */
	struct stopper stop;
	sigemptyset(&stop.set);
	sigaddset(&stop.set, SIGINT);
	sigaddset(&stop.set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop.set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a closed stdout ends the loop instead */

	exectrace *t;
	int err = exectrace_new(&opts, &t);
	if (err) {
		char msg[1024];
		exectrace_last_error(msg, sizeof(msg));
		fprintf(stderr, "exectrace-c: cannot start: %s\n", msg[0] ? msg : exectrace_strerror(err));
		return 1;
	}
	stop.t = t;
	pthread_t stopper;
	if (pthread_create(&stopper, NULL, stopper_main, &stop) != 0) {
		fprintf(stderr, "exectrace-c: pthread_create failed\n");
		exectrace_close(t);
		return 1;
	}

	struct exectrace_event *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		fprintf(stderr, "exectrace-c: out of memory\n");
		return 1;
	}
	ev->size = sizeof(*ev);
	int status = 0;
	uint64_t n = 0;
	while (!have_count || n < count) {
		/* Flush only when no event is waiting: cheap under exec storms,
		 * prompt when idle. */
		int r = exectrace_read_timeout(t, ev, 0);
		if (r == -EAGAIN) {
			if (fflush(stdout) != 0)
				break; /* stdout closed (e.g. `| head`) */
			r = exectrace_read(t, ev);
		}
		if (r == -ECANCELED)
			break; /* SIGINT/SIGTERM */
		if (r != 0) {
			char msg[512];
			exectrace_last_error(msg, sizeof(msg));
			fprintf(stderr, "exectrace-c: read: %s\n", msg);
			status = 1;
			break;
		}
		if (json)
			print_json(stdout, ev);
		else
			print_text(stdout, ev);
		if (ferror(stdout))
			break;
		n++;
	}
	fflush(stdout);

	struct exectrace_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	exectrace_get_stats(t, &st);
	/* Stop the signal thread (it shuts the tracer down, already done or
	 * harmless), then free everything. */
	exectrace_shutdown(t);
	pthread_kill(stopper, SIGTERM);
	pthread_join(stopper, NULL);
	exectrace_close(t);
	free(ev);
	fprintf(stderr, "exectrace-c: %llu events, %llu dropped\n", (unsigned long long)st.events,
		(unsigned long long)st.drops);
	return status;
}
