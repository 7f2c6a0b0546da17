/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record the BPF program writes to the ring buffer, shared with user
 * space through BTF: the Rust side uses the skeleton's generated
 * `types::exectrace_record` and `types::exectrace_record_flags`, never a hand
 * copy. Fixed-width types only; fields are appended, never reordered.
 */
#ifndef EXECTRACE_RECORD_H
#define EXECTRACE_RECORD_H

enum exectrace_limits {
	/* Longer than PATH_MAX so that a 4095-byte name is told apart from a cut one. */
	EXECTRACE_FILENAME_CAP = 4352,
	EXECTRACE_INTERP_CAP = 4352,
	/* Largest argv capture budget a tracer may ask for. */
	EXECTRACE_ARGV_CAP_MAX = 1 << 21,
	/* Failed execs read argv from the caller's pointers: this many at most, */
	EXECTRACE_FAILED_MAX_ARGS = 256,
	/* each in chunks of at most this. */
	EXECTRACE_FAILED_ARG_CHUNK = 4096,
	/* Largest environment capture budget a tracer may ask for. */
	EXECTRACE_ENV_CAP_MAX = 1 << 21,
	/*
	 * Bytes kept of the kernel's tty name (struct tty_struct's name[64]),
	 * NUL included: a driver's name and a number ("pts3", "ttyUSB0"), far
	 * shorter in practice; a longer one is flagged EXECTRACE_REC_TTY_TRUNCATED.
	 * As short as TASK_COMM_LEN: the record is built on the BPF stack.
	 */
	EXECTRACE_TTY_CAP = 16,
	/*
	 * A resolved path (exe_path, cwd) is kept as its components, each
	 * NUL-terminated, the last one (the file) first: this many bytes at
	 * most, and at most EXECTRACE_PATH_MAX_DEPTH components. A component
	 * is read only while EXECTRACE_PATH_NAME_ROOM bytes are left, so any
	 * path of at most PATH_CAP - NAME_ROOM bytes (4096) and that many
	 * components is whole; a longer or deeper one is flagged cut.
	 */
	EXECTRACE_PATH_CAP = 4352,
	EXECTRACE_PATH_MAX_DEPTH = 64,
	EXECTRACE_PATH_NAME_ROOM = 256,
	/* mounts a walk may cross besides its components */
	EXECTRACE_PATH_MAX_MOUNTS = 16,
};

enum exectrace_record_flags {
	/* argv_len < argv_size: only a prefix of argv was captured */
	EXECTRACE_REC_ARGV_TRUNCATED = 1 << 0,
	EXECTRACE_REC_FILENAME_TRUNCATED = 1 << 1,
	EXECTRACE_REC_INTERP_TRUNCATED = 1 << 2,
	/* exec failed; err holds -errno */
	EXECTRACE_REC_FAILED = 1 << 3,
	/* a script or binfmt_misc handler: the interpreter follows the filename */
	EXECTRACE_REC_HAS_INTERP = 1 << 4,
	/* argv memory could not be read; argv_len is 0 */
	EXECTRACE_REC_ARGV_FAULT = 1 << 5,
	/* the pre-exec name was not seen (tracer started mid-exec): comm is the new one */
	EXECTRACE_REC_COMM_AFTER_EXEC = 1 << 6,
	/* failed exec only: argc and argv_size are lower bounds */
	EXECTRACE_REC_ARGC_LOWER_BOUND = 1 << 7,
	/* the kernel has no audit (CONFIG_AUDIT): loginuid and sessionid are unknown */
	EXECTRACE_REC_AUDIT_UNKNOWN = 1 << 8,
	/* the program runs from a memfd (memfd_create: fileless execution) */
	EXECTRACE_REC_EXE_MEMFD = 1 << 9,
	/* the tty's name is longer than EXECTRACE_TTY_CAP - 1 bytes: tty holds its start */
	EXECTRACE_REC_TTY_TRUNCATED = 1 << 10,
	/* the environment was asked for (env_size, env_len and the env bytes are set) */
	EXECTRACE_REC_HAS_ENV = 1 << 11,
	/* env_len < env_size: only a prefix of the environment was captured */
	EXECTRACE_REC_ENV_TRUNCATED = 1 << 12,
	/* environment memory could not be read; env_len is 0 */
	EXECTRACE_REC_ENV_FAULT = 1 << 13,
	/* the paths were asked for: exe_path_len and cwd_len are set */
	EXECTRACE_REC_HAS_PATHS = 1 << 14,
	/* exe_path is deeper or longer than the walk's bounds: it holds the components nearest the file */
	EXECTRACE_REC_EXE_PATH_CUT = 1 << 15,
	/*
	 * exe_path cannot be named from the task's root: a file in no
	 * directory (memfd, ...), one outside the task's root (chroot), or a
	 * failed read; exe_path_len is 0
	 */
	EXECTRACE_REC_EXE_PATH_UNRESOLVED = 1 << 16,
	/* the file that runs was deleted (unlinked); exe_path is the name it had */
	EXECTRACE_REC_EXE_DELETED = 1 << 17,
	EXECTRACE_REC_CWD_CUT = 1 << 18,
	EXECTRACE_REC_CWD_UNRESOLVED = 1 << 19,
	/* the working directory was deleted (rmdir); cwd is the name it had */
	EXECTRACE_REC_CWD_DELETED = 1 << 20,
	/*
	 * the file that runs is on overlayfs and is in its upper layer (it was
	 * added or changed there: in a container, after the image)
	 */
	EXECTRACE_REC_EXE_UPPER_LAYER = 1 << 21,
	/*
	 * the file is on overlayfs but this kernel cannot tell its layer (no
	 * BTF of the overlay module at load: before 5.11, or no
	 * CONFIG_DEBUG_INFO_BTF_MODULES, or the module loaded after the tracer)
	 */
	EXECTRACE_REC_EXE_UPPER_UNKNOWN = 1 << 22,
};

struct exectrace_record {
	__u64 seq;          /* per tracer, gap-free across delivered + dropped */
	__u64 ts_boot_ns;   /* CLOCK_BOOTTIME */
	__u64 cgroup_id;    /* cgroup v2 id of the process */
	__u32 pid;          /* process id (tgid) after exec, initial pid namespace */
	__u32 tid;          /* thread that called exec */
	__u32 ppid;
	__u32 uid;          /* real ids, initial user namespace */
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 pid_ns;       /* inode of the process's active pid namespace */
	__s32 err;          /* 0, or -errno of a failed exec */
	__u32 flags;        /* enum exectrace_record_flags */
	__u32 argc;         /* true argument count */
	__u32 argv_size;    /* true argv byte count, NULs included */
	__u32 argv_len;     /* argv bytes captured */
	__u16 filename_len; /* bytes, no NUL */
	__u16 interp_len;   /* bytes, no NUL; 0 without EXECTRACE_REC_HAS_INTERP */
	char comm[16];      /* name of the process before exec, NUL-padded */
	/*
	 * The file that runs (bprm->file, what /proc/PID/exe names: for a
	 * script, its interpreter): inode number and the kernel's dev_t of its
	 * file system (MAJOR << 20 | MINOR; user space encodes it as stat's
	 * st_dev). Both 0 for a failed exec.
	 */
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 loginuid;     /* audit login uid; 4294967295 when unset */
	__u32 sessionid;    /* audit session id; 4294967295 when unset */
	__u32 env_size;     /* true environment byte count, NULs included; 0 unless asked */
	__u32 env_len;      /* environment bytes captured */
	__u16 exe_path_len; /* bytes of exe_path (see EXECTRACE_PATH_CAP); 0 unless asked */
	__u16 cwd_len;      /* bytes of cwd */
	/* controlling terminal, the kernel's name ("pts3", "tty1"), NUL-padded; empty when none */
	char tty[EXECTRACE_TTY_CAP];
	/*
	 * then exe_path_len + cwd_len + filename_len + interp_len + argv_len +
	 * env_len bytes: exe_path, cwd, filename, interp, argv, env.
	 */
};

#endif
