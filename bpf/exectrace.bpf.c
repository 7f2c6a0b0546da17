// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exectrace: one ring-buffer record per exec.
 *
 * Successful execs are reported from tp_btf/sched_process_exec, in the new
 * process, once the kernel has built it: argv is read from the new mm
 * (arg_start..arg_end), so what is reported is what runs, not what a racing
 * thread left in the caller's memory. The caller's name (comm) is gone by
 * then; it is remembered per thread just before the point of no return
 * (tp_btf/sched_prepare_exec, 6.10+), or as exec renames the task
 * (tp_btf/task_rename, before 6.10).
 * Failed execs (opt-in) come from tp_btf/sys_exit. All hooks are BTF
 * tracepoints or trampolines: no tracefs or debugfs needed.
 */
#include "vmlinux_min.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "exectrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Knobs, set by user space before load; the verifier treats them as constants. */
const volatile __u32 argv_cap = 32768;
const volatile __u64 wakeup_ns = 4000000;
const volatile __u32 filter_pid_ns;	/* 0: any */
const volatile __u32 filter_uid;
const volatile bool filter_uid_on;
const volatile bool filter_cgroup_on;
const volatile __u32 slots_per_cpu = 2;
/* Environment bytes captured per exec; 0: the environment is not read. */
const volatile __u32 env_cap = 0;
/* Resolve exe_path and cwd (walk_path). */
const volatile bool want_paths = false;
/*
 * This file builds two objects (build.rs). Kernels before 5.12 have no BPF
 * compare-and-swap or fetch-and-add, and their verifier rejects an
 * instruction it does not know even in dead code, so a knob cannot hide
 * them: the object for those kernels is built with EXECTRACE_NO_ATOMICS
 * (and -mcpu=v2). There programs run with preemption disabled, so one
 * scratch slot per CPU is safe, and sequence numbers are read then bumped
 * (they may repeat under contention; the count of numbers taken stays
 * exact). Records are also never built on the stack there (see
 * process_exec): that needs the verifier of 5.12+, which takes a helper's
 * writes at a variable stack offset and lets a privileged program pass
 * stack bytes it has not proven written.
 */
#ifdef EXECTRACE_NO_ATOMICS
#define HAS_ATOMICS 0
#else
#define HAS_ATOMICS 1
#endif

/* Shared with user space through the skeleton's types, never declared twice. */
struct exectrace_record record_layout;
enum exectrace_record_flags record_flags_layout;
enum exectrace_limits record_limits_layout;

/* Sequence numbers taken (delivered + dropped); read by the reader through mmap. */
__u64 next_seq;
/* Set by the reader (through the mmapped .bss) while its linger timer is armed. */
__u32 reader_lingering;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/*
 * Events that could not be delivered: a counter per CPU, each on a cache
 * line of its own (DROP_STRIDE u64s apart). Mmapable, so that the reader
 * sums them from memory, without a syscall or a file descriptor kept open.
 * max_entries = CPUs * DROP_STRIDE, set at load.
 */
#define DROP_STRIDE 8
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, DROP_STRIDE);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

#define SCRATCH_SIZE(argv_cap, env_cap) \
	(sizeof(struct scratch_slot) + 2 * EXECTRACE_PATH_CAP + EXECTRACE_FILENAME_CAP + EXECTRACE_INTERP_CAP + \
	 (argv_cap) + (env_cap) + EXECTRACE_FAILED_ARG_CHUNK)

/*
 * A path walk's state (walk_path), kept in the slot rather than on the
 * stack, which the stack record fills, and re-read every step: values
 * loaded from a map are unknown to the verifier, so every step starts
 * from the same state and the walk is verified in a few states per step.
 */
struct walk_state {
	__u64 dentry;
	__u64 vfsmnt;
	__u64 mnt_root;
	__u64 parent;
	__u64 tmp;
	__u64 root_dentry;
	__u64 root_mnt;
	__u64 pwd_dentry;
	__u64 pwd_mnt;
	__u32 base;	/* where the path goes in the slot's data */
	__u32 len;
	__u32 depth;
	__u32 pad;
};

struct scratch_slot {
	__u32 busy;
	__u32 pad;
	struct walk_state w;
	struct exectrace_record rec;
	char data[];
};

/*
 * Records too large for the BPF stack (see process_exec) are built here,
 * then copied into the ring sized to the data: bpf_ringbuf_reserve() needs
 * a constant size. Not a per-CPU map: a preempted program would share its
 * slot with the next one on that CPU.
 * Each CPU owns slots_per_cpu slots, claimed with a compare-and-swap.
 * max_entries and value_size are set at load from the CPU count, argv_cap and env_cap.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, SCRATCH_SIZE(32768, 0));
} scratch SEC(".maps");

/*
 * Name of the calling thread just before exec: each CPU has COMM_SLOTS
 * entries, the one for a thread at tid % COMM_SLOTS. Exec may move the
 * thread to another CPU before sched_process_exec, which then looks at the
 * other CPUs too. No allocation, hashing or locks (task storage or a hash
 * map cost ~10x more per exec). A collision or a miss means the name is
 * unknown: the event is flagged EXECTRACE_REC_COMM_AFTER_EXEC, never given
 * another thread's name. max_entries = CPUs * COMM_SLOTS, set at load.
 */
#define COMM_SLOTS 64

/*
 * An entry names the exec it is for by the new process's mm (bprm->mm
 * before the switch, task->mm after): an exec killed between the two hooks
 * leaves an entry that no later exec matches, without a clock read per exec.
 */
struct comm_slot {
	__u32 tid;
	__u32 pad;
	__u64 mm;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COMM_SLOTS);
	__type(key, __u32);
	__type(value, struct comm_slot);
} comm_slots SEC(".maps");

const volatile __u32 nr_cpus = 1;

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

#define MAX_PID_NS_LEVEL 32

/*
 * A str helper's result as a length without the NUL, bounded for the
 * verifier. 64-bit throughout: with 32-bit values (no ALU32 in the object
 * for old kernels) the compiler bounds a zero-extended copy and then uses
 * the original register, whose bound the 5.10 verifier never learns.
 */
static __always_inline __u64 clamp_len(long n, __u64 cap)
{
	__u64 len = n > 0 ? n - 1 : 0;

	asm volatile("" : "+r"(len));
	if (len > cap - 1)
		len = cap - 1;
	return len;
}

/* Atomic: a program preempted on this CPU may share the counter. */
static __always_inline void count_drop(void)
{
	__u32 key = bpf_get_smp_processor_id() * DROP_STRIDE;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * The helpers below take `btf`, a constant at each call site: true when
 * `task` is a BTF pointer (a tp_btf argument), whose fields are plain loads
 * that the verifier guards; false for bpf_get_current_task()'s plain
 * address, read with CO-RE probe reads. The failed-exec path takes the
 * second: bpf_get_current_task_btf() is 5.11+, and failed execs are rare.
 */
#define TASK_READ(btf, task, field) \
	((btf) ? (task)->field : BPF_CORE_READ(task, field))
#define TASK_READ2(btf, task, a, b) \
	((btf) ? (task)->a->b : BPF_CORE_READ(task, a, b))

/* The task is in filter_pid_ns or one of its descendants. */
static __always_inline bool in_pid_ns(struct task_struct *task, bool btf)
{
	struct pid *pid = TASK_READ(btf, task, thread_pid);
	unsigned int level = btf ? pid->level : BPF_CORE_READ(pid, level);

	for (unsigned int i = 0; i <= MAX_PID_NS_LEVEL; i++) {
		if (i > level)
			break;
		struct upid up = {};

		bpf_core_read(&up, sizeof(up), &pid->numbers[i]);
		if (BPF_CORE_READ(up.ns, ns.inum) == filter_pid_ns)
			return true;
	}
	return false;
}

/* Called with task == current. */
static __always_inline bool wanted(struct task_struct *task, bool btf)
{
	if (filter_uid_on && TASK_READ2(btf, task, real_cred, uid.val) != filter_uid)
		return false;
	if (filter_pid_ns && !in_pid_ns(task, btf))
		return false;
	if (filter_cgroup_on && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return false;
	return true;
}

static __always_inline struct scratch_slot *claim_slot(void)
{
	__u32 base = bpf_get_smp_processor_id() * slots_per_cpu;

	if (!HAS_ATOMICS)
		return bpf_map_lookup_elem(&scratch, &base);
#if HAS_ATOMICS
	for (__u32 i = 0; i < 4; i++) {
		if (i >= slots_per_cpu)
			break;
		__u32 key = base + i;
		struct scratch_slot *s = bpf_map_lookup_elem(&scratch, &key);

		if (s && __sync_val_compare_and_swap(&s->busy, 0, 1) == 0)
			return s;
	}
#endif
	return NULL;
}

static __always_inline void release_slot(struct scratch_slot *s)
{
	if (HAS_ATOMICS)
		*(volatile __u32 *)&s->busy = 0;
}

/* Take a sequence number. The add without a used result is a plain XADD. */
static __always_inline __u64 take_seq(void)
{
#if HAS_ATOMICS
	return __sync_fetch_and_add(&next_seq, 1);
#else
	__u64 seq = next_seq;

	__sync_fetch_and_add(&next_seq, 1);
	return seq;
#endif
}

/* The common fields: ids, credentials, namespace, time. */
static __always_inline void fill_task(struct exectrace_record *r, struct task_struct *task, bool btf)
{
	const struct cred *cred = TASK_READ(btf, task, real_cred);
	struct pid *pid = TASK_READ(btf, task, thread_pid);
	unsigned int level = btf ? pid->level : BPF_CORE_READ(pid, level);
	struct upid up = {};

	r->ts_boot_ns = bpf_ktime_get_boot_ns();
	/*
	 * What bpf_get_current_cgroup_id() returns, as plain loads: a helper
	 * call costs more than the loads here (~25 ns per exec on the
	 * benchmark's VM). task == current.
	 */
	if (btf && bpf_core_field_exists(task->cgroups))
		r->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	else
		r->cgroup_id = bpf_get_current_cgroup_id();
	r->pid = TASK_READ(btf, task, tgid);
	r->ppid = TASK_READ2(btf, task, real_parent, tgid);
	if (btf) {
		r->uid = cred->uid.val;
		r->gid = cred->gid.val;
		r->euid = cred->euid.val;
		r->egid = cred->egid.val;
	} else {
		r->uid = BPF_CORE_READ(cred, uid.val);
		r->gid = BPF_CORE_READ(cred, gid.val);
		r->euid = BPF_CORE_READ(cred, euid.val);
		r->egid = BPF_CORE_READ(cred, egid.val);
	}
	if (level == 0 && btf) {
		r->pid_ns = pid->numbers[0].ns->ns.inum;	/* the host's: plain loads */
	} else {
		if (level > MAX_PID_NS_LEVEL)
			level = MAX_PID_NS_LEVEL;
		/* numbers[] indexed by a variable: not a plain BTF load. */
		bpf_core_read(&up, sizeof(up), &pid->numbers[level]);
		r->pid_ns = BPF_CORE_READ(up.ns, ns.inum);
	}
	r->err = 0;
	r->flags = 0;
	r->env_size = 0;
	r->env_len = 0;
	r->exe_path_len = 0;
	r->cwd_len = 0;
}

/*
 * The audit identity and the controlling terminal: loginuid and sessionid
 * exist only with CONFIG_AUDIT (flagged unknown without it), the tty only
 * for a process that has one (empty name otherwise). The tty's name is the
 * kernel's ("pts3"); user space presents it as a /dev path ("pts/3").
 */
static __always_inline void fill_identity(struct exectrace_record *r, struct task_struct *task, bool btf)
{
	struct tty_struct *tty;

	if (bpf_core_field_exists(task->loginuid) && bpf_core_field_exists(task->sessionid)) {
		r->loginuid = TASK_READ(btf, task, loginuid.val);
		r->sessionid = TASK_READ(btf, task, sessionid);
	} else {
		r->loginuid = (__u32)-1;
		r->sessionid = (__u32)-1;
		r->flags |= EXECTRACE_REC_AUDIT_UNKNOWN;
	}
	__builtin_memset(r->tty, 0, sizeof(r->tty));
	tty = TASK_READ2(btf, task, signal, tty);
	if (tty && bpf_probe_read_kernel_str(r->tty, sizeof(r->tty), tty->name) >= (long)sizeof(r->tty))
		r->flags |= EXECTRACE_REC_TTY_TRUNCATED;
}

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define TMPFS_MAGIC 0x01021994
#define HUGETLBFS_MAGIC 0x958458f6

/*
 * On overlayfs, whether the file is in the upper layer: its overlay inode
 * (struct ovl_inode around the VFS inode) has an upper dentry. The type is
 * the overlay module's: without its BTF the layer is flagged unknown.
 * r->tty is the scratch (filled afterwards by fill_identity); the inode's
 * address is read as a number, not used as a BTF pointer, because it is
 * moved back to the struct around it.
 */
static __always_inline void fill_upper(struct exectrace_record *r, struct file *file)
{
	__u64 *tmp = (__u64 *)r->tty;

	if (!bpf_core_type_exists(struct ovl_inode) ||
	    !bpf_core_field_exists(struct ovl_inode, __upperdentry) ||
	    bpf_core_read(&tmp[0], sizeof(tmp[0]), &file->f_inode)) {
		r->flags |= EXECTRACE_REC_EXE_UPPER_UNKNOWN;
		return;
	}
	struct ovl_inode *oi = (struct ovl_inode *)(tmp[0] - bpf_core_field_offset(struct ovl_inode, vfs_inode));

	if (bpf_core_read(&tmp[1], sizeof(tmp[1]), &oi->__upperdentry))
		r->flags |= EXECTRACE_REC_EXE_UPPER_UNKNOWN;
	else if (tmp[1])
		r->flags |= EXECTRACE_REC_EXE_UPPER_LAYER;
}

/*
 * The file that runs: its inode and device, and whether it is a memfd.
 * A memfd is a shmem or hugetlbfs file made by memfd_create(): no link
 * (nlink 0), a dentry of its own that is in no directory (its parent is
 * itself), named "memfd:NAME". A deleted tmpfs file has nlink 0 too but
 * still has its directory as parent; an O_TMPFILE one is named "#INO";
 * SysV shm and shared anonymous maps are not memfd_create's names.
 * Only a shmem or hugetlbfs file pays for more than the magic's load.
 * Called before fill_identity.
 */
static __always_inline void fill_exe(struct exectrace_record *r, struct linux_binprm *bprm)
{
	struct file *file = bprm->file;
	struct inode *inode;
	struct super_block *sb;
	unsigned long magic;

	r->exe_ino = 0;
	r->exe_dev = 0;
	if (!file)
		return;
	inode = file->f_inode;
	sb = inode->i_sb;
	r->exe_ino = inode->i_ino;
	r->exe_dev = sb->s_dev;
	magic = sb->s_magic;
	if (magic == OVERLAYFS_SUPER_MAGIC) {
		fill_upper(r, file);
		return;
	}
	if (magic != TMPFS_MAGIC && magic != HUGETLBFS_MAGIC)
		return;
	if (inode->__i_nlink != 0)
		return;
	struct dentry *d = file->f_path.dentry;
	/* The name's start goes where tty goes next (fill_identity): no stack to spare. */
	char *p = r->tty;

	if (d->d_parent != d)
		return;
	if (bpf_probe_read_kernel(p, 6, d->d_name.name))
		return;
	if (p[0] == 'm' && p[1] == 'e' && p[2] == 'm' && p[3] == 'f' && p[4] == 'd' && p[5] == ':')
		r->flags |= EXECTRACE_REC_EXE_MEMFD;
}

/*
 * Coalesced wake-ups: while the reader's linger timer is armed it looks at
 * the ring within wakeup_ns anyway, so no wake-up is needed. The flag is
 * read after the record's sequence number is taken (a full barrier); the
 * reader clears it before it re-reads next_seq to decide to go idle. So
 * either the reader sees this record coming, or this record wakes it.
 * Flag 0 lets the kernel skip the wake-up when the reader is still busy.
 */
static __always_inline __u64 wake_flags(void)
{
	if (wakeup_ns && *(volatile __u32 *)&reader_lingering)
		return BPF_RB_NO_WAKEUP;
	return 0;
}

/*
 * A scratch slot with the common fields of `task` filled in, or NULL when
 * none is free: that event is counted as dropped and takes its number.
 */
static __always_inline struct scratch_slot *begin_record(struct task_struct *task, bool btf)
{
	struct scratch_slot *s = claim_slot();

	if (!s) {
		__sync_fetch_and_add(&next_seq, 1);
		count_drop();
		return NULL;
	}
	fill_task(&s->rec, task, btf);
	return s;
}

/* Number `r` and copy it, with its `data_len` bytes of data, into the ring. */
static __always_inline void submit(struct exectrace_record *r, __u64 data_len)
{
	__u64 size = sizeof(*r) + data_len;

	if (size > sizeof(*r) + 2 * EXECTRACE_PATH_CAP + EXECTRACE_FILENAME_CAP + EXECTRACE_INTERP_CAP +
		       EXECTRACE_ARGV_CAP_MAX + EXECTRACE_ENV_CAP_MAX)
		return;
	r->seq = take_seq();
	if (bpf_ringbuf_output(&events, r, size, wake_flags()))
		count_drop();
}

/* Remember `task`'s current name (called just before exec renames it). */
static __always_inline void remember_comm(struct task_struct *task, struct mm_struct *new_mm)
{
	__u32 tid = task->pid;
	__u32 key = bpf_get_smp_processor_id() * COMM_SLOTS + tid % COMM_SLOTS;
	struct comm_slot *e = bpf_map_lookup_elem(&comm_slots, &key);

	if (!e)
		return;
	e->tid = 0;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	e->mm = (__u64)new_mm;
	asm volatile("" ::: "memory");
	e->tid = tid;
}

static __always_inline bool take_comm(__u32 key, __u32 tid, __u64 mm, char *comm)
{
	struct comm_slot *e = bpf_map_lookup_elem(&comm_slots, &key);

	if (!e || e->tid != tid || e->mm != mm)
		return false;
	__builtin_memcpy(comm, e->comm, sizeof(e->comm));
	asm volatile("" ::: "memory");
	if (e->tid != tid)
		return false;	/* overwritten while copying */
	e->tid = 0;
	return true;
}

/* The name remembered for thread `tid` before its exec into `mm`, used once. */
static __always_inline bool recall_comm(__u32 tid, __u64 mm, char *comm)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (take_comm(cpu * COMM_SLOTS + tid % COMM_SLOTS, tid, mm, comm))
		return true;
	for (__u32 c = 0; c < 1024; c++) {
		if (c >= nr_cpus)
			break;
		if (c != cpu && take_comm(c * COMM_SLOTS + tid % COMM_SLOTS, tid, mm, comm))
			return true;
	}
	return false;
}

SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(prepare_exec, struct task_struct *task, struct linux_binprm *bprm)
{
	remember_comm(task, bprm->mm);
	return 0;
}

/*
 * Before 6.10: exec renames the task in __set_task_comm(), which fires
 * task_rename while the old name is still in place. Renames by prctl or
 * /proc/PID/comm fire it too; only exec's happens with the new mm
 * installed but not yet set up (arg_start still 0). A BTF tracepoint: no
 * fentry trampolines or kprobes needed.
 */
SEC("tp_btf/task_rename")
int BPF_PROG(task_rename_fallback, struct task_struct *task, const char *comm)
{
	struct mm_struct *mm = task->mm;

	if (task->pid == (__u32)bpf_get_current_pid_tgid() && mm && mm->arg_start == 0)
		remember_comm(task, mm);
	return 0;
}

/*
 * Most records are small. Built on the BPF stack, which is hot in cache,
 * they need no scratch slot: no compare-and-swap and no cold cache lines to
 * fill before the copy into the ring. Longer ones, and scripts, take a slot.
 */
#define STACK_FILENAME_CAP 96
#define STACK_ARGV_CAP 152

struct stack_record {
	struct exectrace_record rec;
	char data[STACK_FILENAME_CAP + STACK_ARGV_CAP];
};

/*
 * A block of the new mm (argv, or the environment): the first `len` (at
 * most `cap`) of its `size` bytes, into `dst`; `fault` or `cut` flagged.
 * The bound is checked again here, on the register passed to the helper:
 * the 5.10 verifier does not carry a bound learned earlier to a copy the
 * compiler spilled before the comparison.
 */
static __always_inline __u64 read_block(struct exectrace_record *r, char *dst, __u64 len, __u64 cap,
					__u64 size, unsigned long start, __u32 fault, __u32 cut)
{
	asm volatile("" : "+r"(len));
	if (len > cap)
		len = cap;
	if (len && bpf_probe_read_user(dst, len, (const void *)start)) {
		r->flags |= fault;
		len = 0;
	}
	if (len < size)
		r->flags |= cut;
	return len;
}

static __always_inline __u64 read_argv(struct exectrace_record *r, char *dst, __u64 len, __u64 cap,
				       __u64 size, unsigned long start)
{
	len = read_block(r, dst, len, cap, size, start, EXECTRACE_REC_ARGV_FAULT,
			 EXECTRACE_REC_ARGV_TRUNCATED);
	r->argv_len = len;
	return len;
}


enum walk_result { WALK_DONE, WALK_CUT, WALK_UNRESOLVED };

/*
 * The path of (w->dentry, w->vfsmnt) from the task's root (w->root_*):
 * what d_path() gives, walked without it (bpf_d_path is not allowed at
 * these hooks). Up through d_parent to the mount's root, then to the
 * mount point in the parent mount (struct mount, around the vfsmount),
 * until the task's root. Components go to s->data + w->base leaf first,
 * each NUL-terminated: a name cannot hold '/' or NUL, so user space joins
 * them back exactly, newlines and all. Sets w->len to the bytes written.
 * WALK_CUT: deeper or longer than the bounds (the components nearest the
 * file are kept). WALK_UNRESOLVED: the root cannot be reached (a file in
 * no directory such as a memfd, one outside the task's root, a failed
 * read). Like the kernel's own walk without its rename lock, a rename of
 * an ancestor during the walk can mix its old and new names.
 */
static __always_inline enum walk_result walk_path(struct scratch_slot *s)
{
	struct walk_state *w = &s->w;

	/* Kernel pointers are taken out of the slot before a CO-RE read uses them. */
	struct vfsmount *vm = (struct vfsmount *)w->vfsmnt;

	w->len = 0;
	w->depth = 0;
	if (bpf_core_read(&w->mnt_root, sizeof(w->mnt_root), &vm->mnt_root))
		return WALK_UNRESOLVED;
	for (__u32 i = 0; i < EXECTRACE_PATH_MAX_DEPTH + EXECTRACE_PATH_MAX_MOUNTS; i++) {
		struct dentry *d = (struct dentry *)*(volatile __u64 *)&w->dentry;

		if ((__u64)d == w->root_dentry && w->vfsmnt == w->root_mnt)
			return WALK_DONE;
		if (bpf_core_read(&w->parent, sizeof(w->parent), &d->d_parent))
			return WALK_UNRESOLVED;
		if ((__u64)d == w->mnt_root || (__u64)d == w->parent) {
			struct mount *mnt = (struct mount *)(w->vfsmnt - bpf_core_field_offset(struct mount, mnt));

			/* The root of a dentry tree that is not its mount's: a pseudo file. */
			if ((__u64)d != w->mnt_root)
				return WALK_UNRESOLVED;
			if (bpf_core_read(&w->tmp, sizeof(w->tmp), &mnt->mnt_parent))
				return WALK_UNRESOLVED;
			/* The namespace's root, and the task's root not met: outside it. */
			if (w->tmp == (__u64)mnt)
				return WALK_UNRESOLVED;
			if (bpf_core_read(&w->dentry, sizeof(w->dentry), &mnt->mnt_mountpoint))
				return WALK_UNRESOLVED;
			w->vfsmnt = w->tmp + bpf_core_field_offset(struct mount, mnt);
			vm = (struct vfsmount *)w->vfsmnt;
			if (bpf_core_read(&w->mnt_root, sizeof(w->mnt_root), &vm->mnt_root))
				return WALK_UNRESOLVED;
			continue;
		}
		if (*(volatile __u32 *)&w->depth >= EXECTRACE_PATH_MAX_DEPTH)
			return WALK_CUT;
		if (bpf_core_read(&w->tmp, sizeof(w->tmp), &d->d_name.name))
			return WALK_UNRESOLVED;
		/* Offsets re-read from the map and bounded right here (see clamp_len). */
		__u64 at = *(volatile __u32 *)&w->base;
		__u64 len = *(volatile __u32 *)&w->len;

		if (len > EXECTRACE_PATH_CAP - EXECTRACE_PATH_NAME_ROOM)
			return WALK_CUT;
		if (at > EXECTRACE_PATH_CAP)
			return WALK_UNRESOLVED;
		const void *name = (const void *)w->tmp;
		long n = bpf_probe_read_kernel_str(s->data + at + len, EXECTRACE_PATH_NAME_ROOM, name);

		if (n <= 1)
			return WALK_UNRESOLVED;
		w->len += n;
		w->depth++;
		w->dentry = w->parent;
	}
	return WALK_CUT;
}

/* The file, or directory, is no longer linked where its path says. */
static __always_inline bool unlinked(struct dentry *d)
{
	return d->d_inode && (d->d_inode->__i_nlink == 0 || (!d->d_hash.pprev && d->d_parent != d));
}

/* Walk one path; its length, 0 when unresolved, and its flags. */
static __always_inline __u64 one_path(struct scratch_slot *s, __u32 cut, __u32 unresolved)
{
	enum walk_result res = walk_path(s);
	__u64 len = *(volatile __u32 *)&s->w.len;

	if (res == WALK_CUT)
		s->rec.flags |= cut;
	if (res == WALK_UNRESOLVED) {
		s->rec.flags |= unresolved;
		len = 0;
	}
	if (len > EXECTRACE_PATH_CAP)
		len = 0;
	return len;
}

/*
 * exe_path (bprm->file, what /proc/PID/exe names) and cwd (fs->pwd), both
 * from the exec'ing task's root (fs->root) in its mount namespace, into
 * s->data. Returns the bytes written, exe_path's then cwd's.
 *
 * A function of its own, with a frame of its own: the verifier allows 512
 * bytes of stack for the deepest chain of frames (each rounded up to 32),
 * process_exec's is mostly the stack record, and this one's spills must
 * not add to it. So the walks keep their state in the slot.
 */
static __noinline __u64 fill_paths(struct scratch_slot *s, struct task_struct *task,
				   struct linux_binprm *bprm)
{
	struct fs_struct *fs = task->fs;
	struct file *file = bprm->file;
	struct walk_state *w = &s->w;
	__u64 len;

	s->rec.flags |= EXECTRACE_REC_HAS_PATHS;
	if (!fs || !file) {
		s->rec.flags |= EXECTRACE_REC_EXE_PATH_UNRESOLVED | EXECTRACE_REC_CWD_UNRESOLVED;
		return 0;
	}
	w->root_dentry = (__u64)fs->root.dentry;
	w->root_mnt = (__u64)fs->root.mnt;
	w->pwd_dentry = (__u64)fs->pwd.dentry;
	w->pwd_mnt = (__u64)fs->pwd.mnt;
	if (unlinked(fs->pwd.dentry))
		s->rec.flags |= EXECTRACE_REC_CWD_DELETED;
	if (unlinked(file->f_path.dentry))
		s->rec.flags |= EXECTRACE_REC_EXE_DELETED;
	w->dentry = (__u64)file->f_path.dentry;
	w->vfsmnt = (__u64)file->f_path.mnt;
	w->base = 0;
	len = one_path(s, EXECTRACE_REC_EXE_PATH_CUT, EXECTRACE_REC_EXE_PATH_UNRESOLVED);
	s->rec.exe_path_len = len;

	w->dentry = w->pwd_dentry;
	w->vfsmnt = w->pwd_mnt;
	w->base = len;
	len = one_path(s, EXECTRACE_REC_CWD_CUT, EXECTRACE_REC_CWD_UNRESOLVED);
	s->rec.cwd_len = len;
	/* Re-read: a value from the map is one state for the verifier, whatever the walks did. */
	len = (__u64)*(volatile __u16 *)&s->rec.exe_path_len + *(volatile __u16 *)&s->rec.cwd_len;
	if (len > 2 * EXECTRACE_PATH_CAP)
		len = 2 * EXECTRACE_PATH_CAP;
	return len;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	struct stack_record sr;
	struct exectrace_record *r = &sr.rec;
	struct scratch_slot *s;
	__u32 tid = old_pid;
	long n;

	if (!wanted(task, true))
		return 0;
	if (!HAS_ATOMICS) {
		/*
		 * No stack record on these kernels: the record is built in the
		 * slot from the start, and the stack record's bytes are left out
		 * of this frame (fill_paths needs a frame of its own beside it).
		 */
		s = claim_slot();
		if (!s) {
			__sync_fetch_and_add(&next_seq, 1);
			count_drop();
			return 0;
		}
		r = &s->rec;
	}
	fill_task(r, task, true);
	r->tid = tid;
	fill_exe(r, bprm);
	fill_identity(r, task, true);
	if (!recall_comm(tid, (__u64)task->mm, r->comm)) {
		bpf_get_current_comm(r->comm, sizeof(r->comm));
		r->flags |= EXECTRACE_REC_COMM_AFTER_EXEC;
	}

	const char *filename = bprm->filename;
	const char *interp = bprm->interp;
	bool has_interp = interp && interp != filename;
	struct mm_struct *mm = task->mm;
	unsigned long start = mm->arg_start;
	unsigned long end = mm->arg_end;
	__u64 size = end > start ? end - start : 0;
	__u64 len = size > argv_cap ? argv_cap : size;
	__u64 off;

	r->argc = bprm->argc;
	r->argv_size = size;
	r->interp_len = 0;
	/* The environment and the paths are never read on this path: they have budgets of their own. */
	if (HAS_ATOMICS && !has_interp && !env_cap && !want_paths && len <= STACK_ARGV_CAP) {
		n = bpf_probe_read_kernel_str(sr.data, STACK_FILENAME_CAP, filename);
		if (n > 0 && n < STACK_FILENAME_CAP) {
			off = clamp_len(n, STACK_FILENAME_CAP);
			r->filename_len = off;
			len = read_argv(r, sr.data + off, len, STACK_ARGV_CAP, size, start);
			submit(r, off + len);
			return 0;
		}
	}

	if (HAS_ATOMICS) {
		s = claim_slot();
		if (!s) {
			__sync_fetch_and_add(&next_seq, 1);
			count_drop();
			return 0;
		}
		__builtin_memcpy(&s->rec, r, sizeof(*r));
		r = &s->rec;
	}

	/* The data: exe_path, cwd, filename, interp, argv, env. */
	__u64 paths = want_paths ? fill_paths(s, task, bprm) : 0;
	char *data = s->data + paths;

	n = bpf_probe_read_kernel_str(data, EXECTRACE_FILENAME_CAP, filename);
	if (n >= EXECTRACE_FILENAME_CAP)
		r->flags |= EXECTRACE_REC_FILENAME_TRUNCATED;
	off = clamp_len(n, EXECTRACE_FILENAME_CAP);
	r->filename_len = off;
	if (has_interp) {
		r->flags |= EXECTRACE_REC_HAS_INTERP;
		n = bpf_probe_read_kernel_str(data + off, EXECTRACE_INTERP_CAP, interp);
		if (n >= EXECTRACE_INTERP_CAP)
			r->flags |= EXECTRACE_REC_INTERP_TRUNCATED;
		n = clamp_len(n, EXECTRACE_INTERP_CAP);
		r->interp_len = n;
		off += n;
	}
	len = read_argv(r, data + off, len,
			argv_cap < EXECTRACE_ARGV_CAP_MAX ? argv_cap : EXECTRACE_ARGV_CAP_MAX, size, start);
	asm volatile("" : "+r"(len));
	if (len > EXECTRACE_ARGV_CAP_MAX)
		len = EXECTRACE_ARGV_CAP_MAX;
	off += len;
	if (env_cap) {
		/* Exactly as argv: one read of env_start..env_end, the true size beside it. */
		unsigned long es = mm->env_start;
		unsigned long ee = mm->env_end;
		__u64 esize = ee > es ? ee - es : 0;
		__u64 elen = esize > env_cap ? env_cap : esize;

		r->flags |= EXECTRACE_REC_HAS_ENV;
		r->env_size = esize;
		elen = read_block(r, data + off, elen,
				  env_cap < EXECTRACE_ENV_CAP_MAX ? env_cap : EXECTRACE_ENV_CAP_MAX, esize, es,
				  EXECTRACE_REC_ENV_FAULT, EXECTRACE_REC_ENV_TRUNCATED);
		asm volatile("" : "+r"(elen));
		if (elen > EXECTRACE_ENV_CAP_MAX)
			elen = EXECTRACE_ENV_CAP_MAX;
		r->env_len = elen;
		off += elen;
	}
	submit(r, paths + off);
	release_slot(s);
	return 0;
}

#if defined(__TARGET_ARCH_x86)
#define NR_execve 59
#define NR_execveat 322
#define TS_COMPAT 0x0002

/* Failed execs: the syscall returned an error, the caller lives on. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct scratch_slot *s;
	struct exectrace_record *r;
	const char *filename;
	const char *const *argv;
	long nr, n;

	if (ret >= 0)
		return 0;
	nr = BPF_CORE_READ(regs, orig_ax);
	if (nr != NR_execve && nr != NR_execveat)
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	/* A 32-bit caller's syscall numbers mean other calls. */
	if (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT)
		return 0;
	if (!wanted(task, false))
		return 0;
	s = begin_record(task, false);
	if (!s)
		return 0;
	r = &s->rec;
	r->tid = (__u32)bpf_get_current_pid_tgid();
	r->err = ret;
	r->flags = EXECTRACE_REC_FAILED;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	fill_identity(r, task, false);
	r->exe_ino = 0;
	r->exe_dev = 0;
	if (nr == NR_execve) {
		filename = (const char *)BPF_CORE_READ(regs, di);
		argv = (const char *const *)BPF_CORE_READ(regs, si);
	} else {
		filename = (const char *)BPF_CORE_READ(regs, si);
		argv = (const char *const *)BPF_CORE_READ(regs, dx);
	}

	__u64 off;

	n = bpf_probe_read_user_str(s->data, EXECTRACE_FILENAME_CAP, filename);
	if (n >= EXECTRACE_FILENAME_CAP)
		r->flags |= EXECTRACE_REC_FILENAME_TRUNCATED;
	off = clamp_len(n, EXECTRACE_FILENAME_CAP);
	r->filename_len = off;
	r->interp_len = 0;

	/* argv from the caller's pointers: there is no new process to read. */
	__u32 argc = 0;
	__u64 len = 0;
	bool complete = false;

	for (int i = 0; i < EXECTRACE_FAILED_MAX_ARGS; i++) {
		const char *arg = NULL;

		if (!argv || bpf_probe_read_user(&arg, sizeof(arg), &argv[i]))
			break;
		if (!arg) {
			complete = true;
			break;
		}
		if (len >= argv_cap)
			break;
		__u64 room = argv_cap - len;

		if (room > EXECTRACE_FAILED_ARG_CHUNK)
			room = EXECTRACE_FAILED_ARG_CHUNK;
		n = bpf_probe_read_user_str(s->data + off + len, room, arg);
		if (n < 0)
			break;
		/*
		 * Older kernels (6.1 and 6.12 here) return 0, not 1, for an
		 * empty string (strncpy_from_user_nofault counted the NUL only
		 * after other bytes); the NUL is written all the same. Count it
		 * without a branch: one more path per argument is too many for
		 * the 5.10 verifier. (n - 1) >> 63 is 1 for n == 0 only.
		 */
		__u64 empty = (__u64)(n - 1);

		asm volatile("" : "+r"(empty));
		n += empty >> 63;
		len += n;
		argc++;
		if (n >= room)
			break; /* cut: the rest is not captured */
	}
	r->argc = argc;
	r->argv_size = len;
	r->argv_len = len;
	if (!complete)
		r->flags |= EXECTRACE_REC_ARGV_TRUNCATED | EXECTRACE_REC_ARGC_LOWER_BOUND;
	submit(&s->rec, off + len);
	release_slot(s);
	return 0;
}
#endif
