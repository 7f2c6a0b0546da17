/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The kernel types exectrace.bpf.c reads, and only those fields.
 *
 * Hand-kept instead of a generated vmlinux.h: every struct carries
 * preserve_access_index, so libbpf relocates each field access against the
 * running kernel's BTF (CO-RE) and field order, padding and struct sizes here
 * do not matter. Add a field here before reading it.
 */
#ifndef EXECTRACE_VMLINUX_MIN_H
#define EXECTRACE_VMLINUX_MIN_H

#include <linux/types.h>
#include <linux/bpf.h>

typedef __u32 u32;
typedef __u64 u64;
typedef int pid_t;
typedef _Bool bool;
enum { false = 0, true = 1 };

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct { unsigned int val; } kuid_t;
typedef struct { unsigned int val; } kgid_t;

struct ns_common {
	unsigned int inum;
};

struct pid_namespace {
	struct ns_common ns;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
	kgid_t egid;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

struct thread_info {
	u32 status;
};

struct task_struct {
	struct thread_info thread_info;
	pid_t pid;
	pid_t tgid;
	struct task_struct *real_parent;
	struct pid *thread_pid;
	const struct cred *real_cred;
	struct mm_struct *mm;
	char comm[16];
};

struct linux_binprm {
	struct mm_struct *mm;
	int argc;
	const char *filename;
	const char *interp;
};

struct pt_regs {
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
};

#pragma clang attribute pop

#endif
