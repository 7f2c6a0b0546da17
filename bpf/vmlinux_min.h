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
	unsigned long env_start;
	unsigned long env_end;
};

struct qstr {
	unsigned int len;	/* in an anonymous union in the kernel: CO-RE finds it */
	const unsigned char *name;
};

struct super_block {
	unsigned int s_dev;	/* dev_t */
	unsigned long s_magic;
};

struct inode {
	unsigned long i_ino;
	unsigned int __i_nlink;	/* in a union with i_nlink */
	struct super_block *i_sb;
};

struct hlist_bl_node {
	struct hlist_bl_node *next, **pprev;
};

struct dentry {
	struct hlist_bl_node d_hash;
	struct dentry *d_parent;
	struct qstr d_name;
	struct inode *d_inode;
};

struct vfsmount {
	struct dentry *mnt_root;
};

struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
};

struct fs_struct {
	struct path root, pwd;
};

/* overlayfs's inode (a module's type: CO-RE finds it in the module's BTF, 5.11+) */
struct ovl_inode {
	struct dentry *__upperdentry;
	struct inode vfs_inode;
};

struct tty_struct {
	char name[64];
};

struct signal_struct {
	struct tty_struct *tty;
};

struct thread_info {
	u32 status;
};

struct kernfs_node {
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
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
	struct fs_struct *fs;
	struct signal_struct *signal;
	struct css_set *cgroups;	/* CONFIG_CGROUPS only */
	kuid_t loginuid;	/* CONFIG_AUDIT only */
	unsigned int sessionid;	/* CONFIG_AUDIT only */
};

struct linux_binprm {
	struct mm_struct *mm;
	int argc;
	const char *filename;
	const char *interp;
	struct file *file;
};

struct pt_regs {
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
};

#pragma clang attribute pop

#endif
