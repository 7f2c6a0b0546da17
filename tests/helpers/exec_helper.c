/*
 * Exec variants for the integration tests (tests/common/mod.rs builds it).
 *
 *   exec_helper MODE ARGS...
 *
 *   thread-exec PATH ARG...        a second thread calls execv(PATH, ARG...)
 *   execveat-empty PATH ARG...     execveat(open(PATH), "", ..., AT_EMPTY_PATH) (fexecve)
 *   execveat-rel DIR NAME ARG...   execveat(open(DIR), NAME, ...)
 *   memfd-exec PATH ARG...         copy PATH into a memfd, then fexecve it
 *   newpidns-exec PATH ARG...      unshare(CLONE_NEWPID), fork, child execs; prints child pid
 *   race-argv PATH ARG...          threads rewrite the last argument while execv runs
 *   many-args N SIZE PATH          execv(PATH, [PATH, N args of SIZE bytes 'a'])
 *   exec-fail PATH ARG...          execv, expected to fail; exit 0 on failure
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **exec_argv;
static const char *exec_path;

static void *thread_exec(void *arg)
{
	(void)arg;
	execv(exec_path, exec_argv);
	perror("execv");
	_exit(127);
}

static volatile int racing = 1;

static void *rewrite_last(void *arg)
{
	char *s = arg;
	size_t n = strlen(s);
	unsigned i = 0;

	while (racing) {
		for (size_t k = 0; k < n; k++)
			s[k] = (i & 1) ? 'B' : 'A';
		i++;
	}
	return NULL;
}

static int xexecveat(int dirfd, const char *path, char **argv, int flags)
{
	return (int)syscall(SYS_execveat, dirfd, path, argv, environ, flags);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exec_helper MODE ARGS...\n");
		return 2;
	}
	const char *mode = argv[1];

	if (!strcmp(mode, "thread-exec")) {
		pthread_t th;

		exec_path = argv[2];
		exec_argv = argv + 2;
		pthread_create(&th, NULL, thread_exec, NULL);
		pause();
		return 1;
	}
	if (!strcmp(mode, "execveat-empty")) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0)
			return perror("open"), 127;
		xexecveat(fd, "", argv + 2, AT_EMPTY_PATH);
		return perror("execveat"), 127;
	}
	if (!strcmp(mode, "execveat-rel") && argc >= 4) {
		int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);

		if (dfd < 0)
			return perror("open"), 127;
		xexecveat(dfd, argv[3], argv + 3, 0);
		return perror("execveat"), 127;
	}
	if (!strcmp(mode, "memfd-exec")) {
		int in = open(argv[2], O_RDONLY), mfd = memfd_create("xt-memfd", 0);
		char buf[65536];
		ssize_t n;

		if (in < 0 || mfd < 0)
			return perror("open/memfd_create"), 127;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(mfd, buf, n) != n)
				return perror("write"), 127;
		fexecve(mfd, argv + 2, environ);
		return perror("fexecve"), 127;
	}
	if (!strcmp(mode, "newpidns-exec")) {
		if (unshare(CLONE_NEWPID))
			return perror("unshare"), 127;
		pid_t c = fork();

		if (c == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		printf("%d\n", c);
		fflush(stdout);
		int st;

		waitpid(c, &st, 0);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
	}
	if (!strcmp(mode, "race-argv")) {
		pthread_t th[2];

		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, rewrite_last, argv[argc - 1]);
		execv(argv[2], argv + 2);
		return perror("execv"), 127;
	}
	if (!strcmp(mode, "many-args") && argc >= 5) {
		long n = atol(argv[2]), size = atol(argv[3]);
		char **av = calloc(n + 2, sizeof(char *));
		char *arg = malloc(size + 1);

		memset(arg, 'a', size);
		arg[size] = 0;
		av[0] = argv[4];
		for (long i = 1; i <= n; i++)
			av[i] = arg;
		execv(argv[4], av);
		return perror("execv"), 127;
	}
	if (!strcmp(mode, "exec-fail")) {
		execv(argv[2], argv + 2);
		return errno ? 0 : 1;
	}
	fprintf(stderr, "exec_helper: unknown mode %s\n", mode);
	return 2;
}
