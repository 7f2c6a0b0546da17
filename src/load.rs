//! Loading: open the BPF object the kernel can run, set its knobs, size
//! its maps, load and attach it, and explain a failure by its errno and
//! libbpf's last messages. What stays is an `Attached`, which the reader
//! (tracer.rs) uses.
use std::cell::RefCell;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Once;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, PrintLevel};

use crate::error::{Error, Result};
use crate::fd::{self, SharedMapping};
use crate::host;
use crate::opts::{Hooks, TracerOpts};
use crate::ringbuf::RingReader;
use crate::skel::types::bss as Bss;

/// Scratch slots per CPU in the BPF program: one, plus one for a program
/// preempted on the same CPU (with BPF atomics; one without).
const SLOTS_PER_CPU: u32 = 2;

thread_local! {
    static LIBBPF_LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Route libbpf's messages to `capture_libbpf_log`, once per process.
fn init_libbpf_log() {
    static PRINT: Once = Once::new();
    PRINT.call_once(|| {
        libbpf_rs::set_print(Some((PrintLevel::Warn, capture_libbpf_log)));
    });
}

/// libbpf's messages go to the thread that caused them, to explain a failed
/// load in the error, instead of to stderr.
fn capture_libbpf_log(_level: PrintLevel, msg: String) {
    LIBBPF_LOG.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() >= 64 {
            l.remove(0);
        }
        l.push(msg.trim_end().to_string());
    });
}

pub(crate) fn take_libbpf_log() -> String {
    LIBBPF_LOG.with(|l| std::mem::take(&mut *l.borrow_mut()).join("\n"))
}

fn errno_of(e: &libbpf_rs::Error) -> i32 {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return n;
            }
        }
        src = s.source();
    }
    // libbpf-rs keeps the io::Error out of the source chain: its kind is
    // what is left of the errno.
    use libbpf_rs::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied => libc::EPERM,
        K::NotFound => libc::ENOENT,
        K::AlreadyExists => libc::EEXIST,
        K::WouldBlock => libc::EAGAIN,
        K::Interrupted => libc::EINTR,
        K::TimedOut => libc::ETIMEDOUT,
        K::Unsupported => libc::EOPNOTSUPP,
        K::TooBig => libc::E2BIG,
        K::OutOfMemory => libc::ENOMEM,
        _ => libc::EINVAL,
    }
}

fn load_error(what: &str, e: libbpf_rs::Error) -> Error {
    let errno = errno_of(&e);
    let log = take_libbpf_log();
    let tail: Vec<&str> = log.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    // The verifier refuses a program with EACCES too: its log says so.
    let verifier = log.contains("PROG LOAD LOG");
    let message = if verifier {
        format!(
            "{what}: the kernel's verifier rejected the program (a bug of exectrace on this \
             kernel: please report it with this message): {e}\n{}",
            tail.join("\n")
        )
    } else {
        format!("{what}: {e}\n{}", tail.join("\n"))
    };
    match errno {
        libc::EPERM | libc::EACCES if !verifier => Error::PermissionDenied(format!(
            "{message}\n(needs root, or CAP_BPF and CAP_PERFMON; a locked-down kernel or \
             seccomp policy can also refuse bpf())"
        )),
        _ => Error::Load { errno, message },
    }
}

/// The running kernel has the `sched_prepare_exec` tracepoint (6.10+).
fn has_prepare_exec_tracepoint() -> bool {
    match libbpf_rs::btf::Btf::from_vmlinux() {
        Ok(btf) => btf
            .type_by_name::<libbpf_rs::btf::types::Typedef<'_>>("btf_trace_sched_prepare_exec")
            .is_some(),
        Err(_) => false,
    }
}

/// What a running tracer keeps of the BPF object once attached: the links,
/// the ring and the mappings of the .bss and the drop counters. libbpf's
/// object, with its map, program and BTF fds, is closed once attached:
/// every open fd of a process is copied into each child it spawns and
/// closed again at the child's exec, ~0.2 µs per fd per exec on a 2-core VM
/// when the tracing process is the one that spawns.
pub(crate) struct Attached {
    /// One per attached program; closing them detaches.
    pub(crate) links: Vec<OwnedFd>,
    pub(crate) ring: RingReader,
    /// For the reader's epoll set.
    pub(crate) ring_fd: OwnedFd,
    /// The program's .bss: `next_seq` and `reader_lingering`.
    pub(crate) bss: SharedMapping,
    /// The program's `drops` map: `cpus` counters, `drop_stride` u64s apart.
    pub(crate) drops: SharedMapping,
    pub(crate) cpus: usize,
    pub(crate) drop_stride: usize,
    /// The program that reports execs.
    pub(crate) prog_fd: OwnedFd,
}

/// The two BPF objects build.rs makes from the one program: with BPF
/// atomics (5.12+), and without them for older kernels, whose verifier
/// rejects those instructions even in dead code. `Hooks::Fallback` takes
/// the second on any kernel, so the host's tests cover what old kernels
/// load.
pub(crate) fn load(opts: &TracerOpts, cgroup: Option<&OwnedFd>) -> Result<Attached> {
    init_libbpf_log();
    take_libbpf_log();
    if opts.hooks == Hooks::Auto && host::kernel_at_least(5, 12) {
        load_object!(crate::skel::atomics, SLOTS_PER_CPU, opts, cgroup)
    } else {
        // One scratch slot per CPU: without compare-and-swap a slot cannot
        // be claimed, and these kernels run programs without preemption.
        load_object!(crate::skel::no_atomics, 1, opts, cgroup)
    }
}

/// Open, configure, load and attach the object of skeleton module `$skel`,
/// with `$slots` scratch slots per CPU. A macro, not a generic function:
/// each skeleton has types of its own, with the same names.
macro_rules! load_object {
    ($skel:path, $slots:expr, $opts:expr, $cgroup:expr) => {{
        use $skel as skel;
        let opts: &TracerOpts = $opts;
        let cgroup: Option<&OwnedFd> = $cgroup;
        let slots: u32 = $slots;
        // The object lives only while loading: see `Loaded`.
        let mut object = MaybeUninit::<OpenObject>::uninit();
        let mut open = skel::ExectraceSkelBuilder::default()
            .open(&mut object)
            .map_err(|e| load_error("opening the BPF object", e))?;

        let ncpus = libbpf_rs::num_possible_cpus()
            .map_err(|e| load_error("counting possible CPUs", e))? as u32;
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF object has read-only knobs");
        let default_argv_cap = rodata.argv_cap;
        rodata.argv_cap = opts.argv_budget;
        let default_env_cap = rodata.env_cap;
        rodata.env_cap = opts.env_cap();
        rodata.want_paths = opts.paths;
        rodata.wakeup_ns = opts.wakeup_latency.as_nanos() as u64;
        rodata.slots_per_cpu = slots;
        rodata.nr_cpus = ncpus;
        rodata.filter_pid_ns = opts.pid_ns.unwrap_or(0);
        rodata.filter_uid = opts.uid.unwrap_or(0);
        rodata.filter_uid_on = opts.uid.is_some();
        rodata.filter_cgroup_on = cgroup.is_some();

        let map_err = |e| load_error("sizing the BPF maps", e);
        open.maps
            .events
            .set_max_entries(opts.ring_size)
            .map_err(map_err)?;
        // The scratch slot's size follows the budgets (see SCRATCH_SIZE in the program).
        let slot_size = open.maps.scratch.value_size() - default_argv_cap - default_env_cap
            + opts.argv_budget
            + opts.env_cap();
        open.maps
            .scratch
            .set_value_size(slot_size)
            .map_err(map_err)?;
        open.maps
            .scratch
            .set_max_entries(ncpus * slots)
            .map_err(map_err)?;
        // The program's DROP_STRIDE entries, per CPU.
        let drop_stride = open.maps.drops.max_entries();
        open.maps
            .drops
            .set_max_entries(ncpus * drop_stride)
            .map_err(map_err)?;
        // The program's COMM_SLOTS entries, per CPU.
        let comm_slots = open.maps.comm_slots.max_entries();
        open.maps
            .comm_slots
            .set_max_entries(ncpus * comm_slots)
            .map_err(map_err)?;

        let prepare = opts.hooks == Hooks::Auto && has_prepare_exec_tracepoint();
        open.progs.prepare_exec.set_autoload(prepare);
        open.progs.task_rename_fallback.set_autoload(!prepare);
        if opts.include_failed && !cfg!(target_arch = "x86_64") {
            return Err(Error::KernelTooOld(
                "failed-exec reporting is implemented for x86_64 only".into(),
            ));
        }
        open.progs.sys_exit.set_autoload(opts.include_failed);

        let held = fd::SignalsHeld::new();
        let mut skel = open
            .load()
            .map_err(|e| load_error("loading the BPF program", e))?;
        drop(held);
        if let Some(cg) = cgroup {
            let fd = cg.as_raw_fd() as u32;
            skel.maps
                .cgroup_filter
                .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                .map_err(|e| load_error("setting the cgroup filter", e))?;
        }
        skel.attach()
            .map_err(|e| load_error("attaching the BPF programs", e))?;

        // Keep our own fds of what the tracer uses from now on; the object and
        // its fds go when `skel` is dropped below (the kernel objects live on,
        // held by these fds and the links' references).
        let io = |what: &'static str| move |e| Error::io(what, e);
        let dup = |fd: BorrowedFd<'_>, what| fd.try_clone_to_owned().map_err(io(what));
        let mut links = Vec::new();
        for link in [
            &skel.links.prepare_exec,
            &skel.links.task_rename_fallback,
            &skel.links.process_exec,
            &skel.links.sys_exit,
        ]
        .into_iter()
        .flatten()
        {
            // A raw tracepoint link lives while any fd of it is open: dropping
            // the skeleton closes libbpf's, ours keeps the program attached.
            links.push(dup(link.as_fd(), "dup of a link fd")?);
        }
        let ring_fd = dup(skel.maps.events.as_fd(), "dup of the ring buffer fd")?;
        let ring = RingReader::new(ring_fd.as_fd(), opts.ring_size as usize)
            .map_err(io("mapping the ring buffer"))?;
        let bss = SharedMapping::new(skel.maps.bss.as_fd(), 0, size_of::<Bss>(), true)
            .map_err(io("mapping the program's .bss"))?;
        let drops = SharedMapping::new(
            skel.maps.drops.as_fd(),
            0,
            (ncpus * drop_stride) as usize * 8,
            false,
        )
        .map_err(io("mapping the drop counters"))?;
        let prog_fd = dup(skel.progs.process_exec.as_fd(), "dup of the program fd")?;
        drop(skel);
        Ok(Attached {
            links,
            ring,
            ring_fd,
            bss,
            drops,
            cpus: ncpus as usize,
            drop_stride: drop_stride as usize,
            prog_fd,
        })
    }};
}
use load_object;

#[cfg(test)]
mod tests {
    use super::errno_of;

    #[test]
    fn a_load_error_keeps_its_errno() {
        for errno in [
            libc::EAGAIN,
            libc::EINTR,
            libc::EPERM,
            libc::ENOENT,
            libc::EEXIST,
            libc::E2BIG,
            libc::ENOMEM,
            libc::EINVAL,
        ] {
            let e = libbpf_rs::Error::from(std::io::Error::from_raw_os_error(errno));
            assert_eq!(errno_of(&e), errno, "{e}");
        }
    }
}
