/* A C consumer of libexectrace for tests/packaging/run.sh: starts a tracer,
 * runs `/bin/true MARKER` and waits (at most 20 s) for that exec's event.
 * Exit 0 when it came, 77 when no tracer could be created (no BPF or no
 * privilege: a skip), 1 otherwise. */
#define _GNU_SOURCE
#include <exectrace.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int has_marker(const struct exectrace_event *ev, const char *marker)
{
	for (const char *a = exectrace_argv_first(ev); a; a = exectrace_argv_next(ev, a))
		if (strcmp(a, marker) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	char msg[512];
	struct exectrace *t;
	if (argc != 2) {
		fprintf(stderr, "usage: %s MARKER\n", argv[0]);
		return 2;
	}
	const char *marker = argv[1];
	int r = exectrace_new(NULL, &t);
	if (r < 0) {
		exectrace_last_error(msg, sizeof msg);
		fprintf(stderr, "consumer.c: cannot create a tracer: %s\n", msg);
		return 77;
	}
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid) {
		perror("consumer.c: fork");
		return 1;
	}
	struct exectrace_event *ev = calloc(1, sizeof *ev);
	if (!ev)
		return 1;
	time_t deadline = time(NULL) + 20;
	while (time(NULL) < deadline) {
		ev->size = sizeof *ev;
		r = exectrace_read_timeout(t, ev, 500);
		if (r == -ETIMEDOUT)
			continue;
		if (r < 0) {
			exectrace_last_error(msg, sizeof msg);
			fprintf(stderr, "consumer.c: read: %s\n", msg);
			return 1;
		}
		if (ev->pid == (uint32_t)pid && has_marker(ev, marker)) {
			printf("consumer.c: event pid=%u filename=%s\n", ev->pid, ev->filename);
			exectrace_close(t);
			free(ev);
			return 0;
		}
	}
	fprintf(stderr, "consumer.c: no event for /bin/true %s within 20 s\n", marker);
	return 1;
}
