//! The C ABI: `exectrace_*` functions over an opaque `exectrace` handle.
//! include/exectrace.h is generated from this file by cbindgen (cbindgen.toml);
//! `make header` regenerates it and a test fails when it is stale.
//!
//! Every export returns 0 (or a count) on success and -errno on failure, with
//! a message for the calling thread in `exectrace_last_error`. Out-params are
//! written only on success. No panic crosses the boundary: each body runs in
//! `guard`, which turns one into -EIO.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::{flags, Error, EventRef, Hooks, Tracer, TracerOpts};

/// Report failed exec attempts too (`result` = -errno).
pub const EXECTRACE_OPT_INCLUDE_FAILED: u32 = 1 << 0;
/// `uid` is set: only execs with that real uid.
pub const EXECTRACE_OPT_FILTER_UID: u32 = 1 << 1;
/// Wake the reader on every event (lowest latency, most CPU).
pub const EXECTRACE_OPT_WAKE_PER_EVENT: u32 = 1 << 2;
/// Use the hooks meant for kernels before 6.10 even on newer ones (testing).
pub const EXECTRACE_OPT_FALLBACK_HOOKS: u32 = 1 << 3;
/// Also capture the new process's environment (`env`), with its own byte
/// budget (`env_budget`). Off by default: environments often hold secrets.
pub const EXECTRACE_OPT_INCLUDE_ENV: u32 = 1 << 4;
/// Also resolve `exe_path` (the file that runs, symlinks resolved) and
/// `cwd` by a bounded walk in the kernel. Off by default: it costs per
/// path component.
pub const EXECTRACE_OPT_PATHS: u32 = 1 << 5;
const KNOWN_OPT_FLAGS: u32 = EXECTRACE_OPT_INCLUDE_FAILED
    | EXECTRACE_OPT_FILTER_UID
    | EXECTRACE_OPT_WAKE_PER_EVENT
    | EXECTRACE_OPT_FALLBACK_HOOKS
    | EXECTRACE_OPT_INCLUDE_ENV
    | EXECTRACE_OPT_PATHS;

/// argv was cut: at the tracer's argv budget or at `EXECTRACE_ARGV_MAX`.
pub const EXECTRACE_EVENT_ARGV_TRUNCATED: u32 = 1 << 0;
/// The filename was cut.
pub const EXECTRACE_EVENT_FILENAME_TRUNCATED: u32 = 1 << 1;
/// The interpreter path was cut.
pub const EXECTRACE_EVENT_INTERP_TRUNCATED: u32 = 1 << 2;
/// The exec failed; `result` is -errno.
pub const EXECTRACE_EVENT_FAILED: u32 = 1 << 3;
/// A script or binfmt_misc program: `interpreter` is set.
pub const EXECTRACE_EVENT_HAS_INTERP: u32 = 1 << 4;
/// argv memory could not be read.
pub const EXECTRACE_EVENT_ARGV_FAULT: u32 = 1 << 5;
/// The pre-exec name was missed (tracer attached mid-exec): `comm` is the new name.
pub const EXECTRACE_EVENT_COMM_AFTER_EXEC: u32 = 1 << 6;
/// Failed exec: `argc` and `argv_size` are lower bounds.
pub const EXECTRACE_EVENT_ARGC_LOWER_BOUND: u32 = 1 << 7;
/// The kernel has no audit support (CONFIG_AUDIT): `loginuid` and
/// `sessionid` are unknown (written as 4294967295).
pub const EXECTRACE_EVENT_AUDIT_UNKNOWN: u32 = 1 << 8;
/// The program runs from a memfd (`memfd_create`: fileless execution).
pub const EXECTRACE_EVENT_EXE_MEMFD: u32 = 1 << 9;
/// The tty's kernel name was longer than the tracer keeps (15 bytes):
/// `tty` is its start.
pub const EXECTRACE_EVENT_TTY_TRUNCATED: u32 = 1 << 10;
/// The environment was asked for (`EXECTRACE_OPT_INCLUDE_ENV`): `env`,
/// `env_size` are set.
pub const EXECTRACE_EVENT_HAS_ENV: u32 = 1 << 11;
/// The environment was cut: at the env budget, or (in `struct
/// exectrace_event`) at `EXECTRACE_ENV_MAX`.
pub const EXECTRACE_EVENT_ENV_TRUNCATED: u32 = 1 << 12;
/// The environment's memory could not be read: `env` is empty.
pub const EXECTRACE_EVENT_ENV_FAULT: u32 = 1 << 13;
/// The paths were asked for (`EXECTRACE_OPT_PATHS`).
pub const EXECTRACE_EVENT_HAS_PATHS: u32 = 1 << 14;
/// `exe_path` was deeper or longer than the walk's bounds (64 components,
/// 4096 bytes): it is "" (never a partial path).
pub const EXECTRACE_EVENT_EXE_PATH_CUT: u32 = 1 << 15;
/// `exe_path` cannot be named from the task's root (a memfd, a file
/// outside a chroot, a read fault): it is "".
pub const EXECTRACE_EVENT_EXE_PATH_UNRESOLVED: u32 = 1 << 16;
/// The file that runs had been deleted; `exe_path` is the name it had.
pub const EXECTRACE_EVENT_EXE_DELETED: u32 = 1 << 17;
/// `cwd` was beyond the walk's bounds: it is "".
pub const EXECTRACE_EVENT_CWD_CUT: u32 = 1 << 18;
/// `cwd` cannot be named from the task's root: it is "".
pub const EXECTRACE_EVENT_CWD_UNRESOLVED: u32 = 1 << 19;
/// The working directory had been removed; `cwd` is the name it had.
pub const EXECTRACE_EVENT_CWD_DELETED: u32 = 1 << 20;
/// The program file is on overlayfs, in its upper layer (added or changed
/// in a container after it started).
pub const EXECTRACE_EVENT_EXE_UPPER_LAYER: u32 = 1 << 21;
/// The program file is on overlayfs but this kernel cannot tell its layer
/// (no BTF of the overlay module): `EXECTRACE_EVENT_EXE_UPPER_LAYER` means
/// nothing then.
pub const EXECTRACE_EVENT_EXE_UPPER_UNKNOWN: u32 = 1 << 22;
/// Any of the argv, filename and interpreter truncation flags: the event
/// is not complete. (The environment, tty and path flags have their own
/// bits and do not set this one.)
pub const EXECTRACE_EVENT_TRUNCATED: u32 = 0x8000_0000;

// The C flags are the record's flags (from the program's BTF), checked here.
const _: () = {
    assert!(EXECTRACE_EVENT_ARGV_TRUNCATED == flags::ARGV_TRUNCATED);
    assert!(EXECTRACE_EVENT_FILENAME_TRUNCATED == flags::FILENAME_TRUNCATED);
    assert!(EXECTRACE_EVENT_INTERP_TRUNCATED == flags::INTERP_TRUNCATED);
    assert!(EXECTRACE_EVENT_FAILED == flags::FAILED);
    assert!(EXECTRACE_EVENT_HAS_INTERP == flags::HAS_INTERP);
    assert!(EXECTRACE_EVENT_ARGV_FAULT == flags::ARGV_FAULT);
    assert!(EXECTRACE_EVENT_COMM_AFTER_EXEC == flags::COMM_AFTER_EXEC);
    assert!(EXECTRACE_EVENT_ARGC_LOWER_BOUND == flags::ARGC_LOWER_BOUND);
    assert!(EXECTRACE_EVENT_AUDIT_UNKNOWN == flags::AUDIT_UNKNOWN);
    assert!(EXECTRACE_EVENT_EXE_MEMFD == flags::EXE_MEMFD);
    assert!(EXECTRACE_EVENT_TTY_TRUNCATED == flags::TTY_TRUNCATED);
    assert!(EXECTRACE_EVENT_HAS_ENV == flags::HAS_ENV);
    assert!(EXECTRACE_EVENT_ENV_TRUNCATED == flags::ENV_TRUNCATED);
    assert!(EXECTRACE_EVENT_ENV_FAULT == flags::ENV_FAULT);
    assert!(EXECTRACE_EVENT_HAS_PATHS == flags::HAS_PATHS);
    assert!(EXECTRACE_EVENT_EXE_PATH_CUT == flags::EXE_PATH_CUT);
    assert!(EXECTRACE_EVENT_EXE_PATH_UNRESOLVED == flags::EXE_PATH_UNRESOLVED);
    assert!(EXECTRACE_EVENT_EXE_DELETED == flags::EXE_DELETED);
    assert!(EXECTRACE_EVENT_CWD_CUT == flags::CWD_CUT);
    assert!(EXECTRACE_EVENT_CWD_UNRESOLVED == flags::CWD_UNRESOLVED);
    assert!(EXECTRACE_EVENT_CWD_DELETED == flags::CWD_DELETED);
    assert!(EXECTRACE_EVENT_EXE_UPPER_LAYER == flags::EXE_UPPER_LAYER);
    assert!(EXECTRACE_EVENT_EXE_UPPER_UNKNOWN == flags::EXE_UPPER_UNKNOWN);
};

/// Size of `comm`, NUL included.
pub const EXECTRACE_COMM_LEN: usize = 16;
/// Size of `filename` and `interpreter`, NUL included.
pub const EXECTRACE_PATH_LEN: usize = 4096;
/// Size of the argv block of `struct exectrace_event`.
pub const EXECTRACE_ARGV_MAX: usize = 32768;
/// Size of `exe_path` and `cwd`, NUL included: any path the kernel-side
/// walk resolves whole fits.
pub const EXECTRACE_RESOLVED_PATH_LEN: usize = 4608;
/// Size of `tty`, NUL included.
pub const EXECTRACE_TTY_LEN: usize = 32;
/// Size of the environment block of `struct exectrace_event`; a longer
/// captured environment is cut there (`EXECTRACE_EVENT_ENV_TRUNCATED`;
/// the batch read has no such limit).
pub const EXECTRACE_ENV_MAX: usize = 32768;
/// `loginuid` / `sessionid` when unset, or unknown
/// (`EXECTRACE_EVENT_AUDIT_UNKNOWN`).
pub const EXECTRACE_AUDIT_UNSET: u32 = 4294967295;

/// Options for `exectrace_new`. Zero every byte, set `size`, then set what
/// you need: zero means the default. Fields are only ever appended.
#[repr(C)]
pub struct exectrace_opts {
    /// `sizeof(struct exectrace_opts)`, as compiled by the caller.
    pub size: u32,
    /// `EXECTRACE_OPT_*` bits.
    pub flags: u32,
    /// Only this pid namespace (inode, see `exectrace_pid_ns`) and its descendants; 0 = all.
    pub pid_ns: u32,
    /// Only this real uid, when `flags` has `EXECTRACE_OPT_FILTER_UID`.
    pub uid: u32,
    /// Only this cgroup v2 directory and its descendants; NULL = all. Read during `exectrace_new` only.
    pub cgroup_path: *const c_char,
    /// argv bytes captured per exec; 0 = 32768. Events hold at most `EXECTRACE_ARGV_MAX`.
    pub argv_budget: u32,
    /// Ring-buffer bytes, a power of two; 0 = 4 MiB.
    pub ring_size: u32,
    /// Longest delay before the reader is woken, in µs; 0 = 4000. See `EXECTRACE_OPT_WAKE_PER_EVENT`.
    pub wakeup_latency_us: u32,
    /// Must be 0.
    pub reserved: u32,
    /// Environment bytes captured per exec (NULs included) with
    /// `EXECTRACE_OPT_INCLUDE_ENV`; 0 = 32768, at most 2 MiB.
    pub env_budget: u32,
    /// Must be 0.
    pub reserved2: u32,
}

/// One exec, written by `exectrace_read`. Caller-owned; set `size` before
/// the first read. Strings are NUL-terminated; bytes after the NUL are
/// unspecified.
#[repr(C)]
pub struct exectrace_event {
    /// `sizeof(struct exectrace_event)`, as compiled by the caller.
    pub size: u32,
    /// `EXECTRACE_EVENT_*` bits.
    pub flags: u32,
    /// Per-tracer sequence number; a gap means dropped (and counted) events.
    pub seq: u64,
    /// Time of the exec, CLOCK_BOOTTIME nanoseconds.
    pub timestamp_ns: u64,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Process id after exec (initial pid namespace).
    pub pid: u32,
    /// Thread that called exec.
    pub tid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective user id after exec.
    pub euid: u32,
    /// Effective group id after exec.
    pub egid: u32,
    /// Inode of the process's pid namespace.
    pub pid_ns: u32,
    /// 0, or -errno of a failed exec.
    pub result: i32,
    /// True argument count.
    pub argc: u32,
    /// True argv size in bytes, NULs included.
    pub argv_size: u32,
    /// Strings in `argv`.
    pub argv_count: u32,
    /// Bytes used in `argv`, NULs included (one more than the argv budget
    /// when a cut last string gets its closing NUL).
    pub argv_len: u32,
    /// Reserved, written as 0.
    pub reserved: u32,
    /// Name of the calling process before exec.
    pub comm: [c_char; EXECTRACE_COMM_LEN],
    /// Path as passed to exec.
    pub filename: [c_char; EXECTRACE_PATH_LEN],
    /// Interpreter of a script; "" if none.
    pub interpreter: [c_char; EXECTRACE_PATH_LEN],
    /// `argv_count` NUL-terminated strings back to back (see `exectrace_argv_next`).
    pub argv: [c_char; EXECTRACE_ARGV_MAX],
    /// Audit login uid (`/proc/PID/loginuid`); `EXECTRACE_AUDIT_UNSET` when
    /// unset, and when unknown (`EXECTRACE_EVENT_AUDIT_UNKNOWN`).
    /// This and the fields after it were appended after the first release
    /// (whose struct ended here, at 41064 bytes): each is written only when
    /// the caller's `size` covers it whole.
    pub loginuid: u32,
    /// Audit session id (`/proc/PID/sessionid`); as `loginuid`.
    pub sessionid: u32,
    /// Inode of the file that runs (for a script: its interpreter), as
    /// `stat(2)`'s `st_ino`; 0 for a failed exec.
    pub exe_inode: u64,
    /// Device of that file, as `stat(2)`'s `st_dev`; 0 for a failed exec.
    pub exe_dev: u64,
    /// True environment size in bytes, NULs included; 0 unless asked.
    pub env_size: u32,
    /// Strings in `env`.
    pub env_count: u32,
    /// Bytes used in `env`, NULs included.
    pub env_len: u32,
    /// Reserved, written as 0.
    pub reserved2: u32,
    /// Controlling terminal, named as under /dev (`pts/3`, `tty1`); "" when none.
    pub tty: [c_char; EXECTRACE_TTY_LEN],
    /// With `EXECTRACE_OPT_PATHS`: the absolute path of the file that runs,
    /// symlinks resolved, as /proc/PID/exe names it, relative to the
    /// exec'ing task's root (chroot, container) in its mount namespace.
    /// "" when not asked, cut or unresolved (see the flags).
    pub exe_path: [c_char; EXECTRACE_RESOLVED_PATH_LEN],
    /// With `EXECTRACE_OPT_PATHS`: the working directory at exec, as
    /// /proc/PID/cwd names it; "" as for `exe_path`.
    pub cwd: [c_char; EXECTRACE_RESOLVED_PATH_LEN],
    /// With `EXECTRACE_OPT_INCLUDE_ENV`: `env_count` NUL-terminated
    /// `NAME=value` strings back to back (see `exectrace_env_next`), cut at
    /// `EXECTRACE_ENV_MAX`.
    pub env: [c_char; EXECTRACE_ENV_MAX],
}

/// `sizeof(struct exectrace_event)` in the first release. Fields appended
/// later are written only when the caller's `size` covers them; callers
/// built against this size keep working.
const EVENT_SIZE_V0: usize = std::mem::offset_of!(exectrace_event, loginuid);
const _: () = assert!(EVENT_SIZE_V0 == 41064);

/// Counters of a tracer; set `size` first.
#[repr(C)]
pub struct exectrace_stats {
    /// `sizeof(struct exectrace_stats)`, as compiled by the caller.
    pub size: u32,
    /// Reserved, written as 0.
    pub reserved: u32,
    /// Events returned by reads.
    pub events: u64,
    /// Events the kernel could not deliver (ring buffer full).
    pub drops: u64,
    /// Records that failed to decode (a bug if ever non-zero).
    pub malformed: u64,
}

/// Alignment of the buffer of `exectrace_read_batch` and of every record in it.
pub const EXECTRACE_RECORD_ALIGN: usize = 8;

/// One event in the buffer of `exectrace_read_batch`: this fixed header,
/// then its strings, then padding up to `size`.
///
/// Layout of a batch: `n` records back to back from the start of the
/// buffer (8-byte aligned, `EXECTRACE_RECORD_ALIGN`); the next record
/// starts `size` bytes after this one (`exectrace_record_next`). Within a
/// record, `*_off` fields are byte offsets from the start of the record;
/// each string ends in a NUL that `*_len` does not count:
///
/// ```text
/// offset 0             struct exectrace_batch_record (hdr_size bytes)
/// filename_off         filename, filename_len bytes, NUL
/// interp_off           interpreter, interp_len bytes, NUL ("" without
///                      EXECTRACE_EVENT_HAS_INTERP)
/// argv_off             argv_count NUL-terminated strings back to back,
///                      argv_len bytes in all, NULs included
/// exe_path_off         exe path, exe_path_len bytes, NUL   } when hdr_size
/// cwd_off              cwd, cwd_len bytes, NUL             } >= 192
/// tty_off              tty, tty_len bytes, NUL             }
/// env_off              env_count NUL-terminated strings,   }
///                      env_len bytes in all                }
/// ... up to size       padding (unspecified bytes)
/// ```
///
/// Nothing is cut to fit a fixed array: the strings are as the tracer
/// captured them (see the `EXECTRACE_EVENT_*_TRUNCATED` flags). Fields are
/// only ever appended to this header: a field exists in a record when
/// `hdr_size` covers it (`offsetof(field) + sizeof(field) <= hdr_size`),
/// and a reader built against an older header skips the newer fields by
/// using the `*_off` offsets, never `sizeof`.
#[repr(C)]
pub struct exectrace_batch_record {
    /// Bytes of this record, header, strings and padding: a multiple of 8.
    pub size: u32,
    /// Bytes of this fixed header as the library wrote it (>= 128; 192
    /// since the exe path, cwd, tty, audit ids, exe inode and environment).
    pub hdr_size: u32,
    /// `EXECTRACE_EVENT_*` bits.
    pub flags: u32,
    /// 0, or -errno of a failed exec.
    pub result: i32,
    /// Per-tracer sequence number; a gap means dropped (and counted) events.
    pub seq: u64,
    /// Time of the exec, CLOCK_BOOTTIME nanoseconds.
    pub timestamp_ns: u64,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Process id after exec (initial pid namespace).
    pub pid: u32,
    /// Thread that called exec.
    pub tid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective user id after exec.
    pub euid: u32,
    /// Effective group id after exec.
    pub egid: u32,
    /// Inode of the process's pid namespace.
    pub pid_ns: u32,
    /// True argument count.
    pub argc: u32,
    /// True argv size in bytes, NULs included.
    pub argv_size: u32,
    /// Strings at `argv_off`.
    pub argv_count: u32,
    /// Bytes at `argv_off`, NULs included (one more than captured when a
    /// cut last string gets its closing NUL).
    pub argv_len: u32,
    /// Offset of the filename (path as passed to exec).
    pub filename_off: u32,
    /// Bytes of the filename, without its NUL.
    pub filename_len: u32,
    /// Offset of the interpreter of a script.
    pub interp_off: u32,
    /// Bytes of the interpreter, without its NUL; 0 if none.
    pub interp_len: u32,
    /// Offset of the argv strings.
    pub argv_off: u32,
    /// Reserved, written as 0.
    pub reserved: u32,
    /// Name of the calling process before exec, NUL-terminated.
    pub comm: [c_char; EXECTRACE_COMM_LEN],
    /// Audit login uid; `EXECTRACE_AUDIT_UNSET` when unset or unknown
    /// (`EXECTRACE_EVENT_AUDIT_UNKNOWN`). This and the fields after it
    /// were appended after the first release (whose header ended here, at
    /// 128 bytes): present when `hdr_size` >= 192 (`EXECTRACE_RECORD_HAS`).
    pub loginuid: u32,
    /// Audit session id; as `loginuid`.
    pub sessionid: u32,
    /// Inode of the file that runs, as `stat(2)`'s `st_ino`.
    pub exe_inode: u64,
    /// Device of the file that runs, as `stat(2)`'s `st_dev`.
    pub exe_dev: u64,
    /// True environment size in bytes, NULs included; 0 unless asked.
    pub env_size: u32,
    /// Strings at `env_off`.
    pub env_count: u32,
    /// Bytes at `env_off`, NULs included (one more than captured when a
    /// cut last string gets its closing NUL); 0 unless asked.
    pub env_len: u32,
    /// Offset of the environment strings.
    pub env_off: u32,
    /// Offset of the resolved exe path ("" unless `EXECTRACE_EVENT_HAS_PATHS`
    /// and neither cut nor unresolved).
    pub exe_path_off: u32,
    /// Bytes of the exe path, without its NUL.
    pub exe_path_len: u32,
    /// Offset of the working directory ("" as for the exe path).
    pub cwd_off: u32,
    /// Bytes of the working directory, without its NUL.
    pub cwd_len: u32,
    /// Offset of the controlling terminal's name (`pts/3`; "" when none).
    pub tty_off: u32,
    /// Bytes of the tty name, without its NUL.
    pub tty_len: u32,
}

const RECORD_HDR: usize = std::mem::size_of::<exectrace_batch_record>();
const _: () = assert!(RECORD_HDR == 192 && RECORD_HDR % EXECTRACE_RECORD_ALIGN == 0);

/// A tracer. Opaque; create with `exectrace_new`, free with `exectrace_close`.
pub struct exectrace {
    tracer: Tracer,
    /// Calls inside the library on this handle, so that close can wait for them.
    inflight: AtomicUsize,
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(msg: impl Into<String>) {
    let msg = msg.into();
    LAST_ERROR.with(|l| *l.borrow_mut() = msg);
}

fn fail(e: Error) -> c_int {
    let code = -e.errno();
    set_last_error(e.to_string());
    code
}

fn invalid(msg: &str) -> c_int {
    set_last_error(format!("invalid argument: {msg}"));
    -libc::EINVAL
}

/// Run an export's body; a panic becomes -EIO with a message.
fn guard(body: impl FnOnce() -> c_int) -> c_int {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(_) => {
            set_last_error("internal error: panic inside libexectrace (please report)");
            -libc::EIO
        }
    }
}

/// Copy a caller's size-prefixed struct into a zeroed `T`: a smaller
/// (older) struct leaves newer fields zero; a larger (newer) one must be
/// zero beyond what this library knows.
///
/// # Safety
/// `p` points to at least `*(p as *const u32)` readable bytes.
unsafe fn read_sized<T>(p: *const T, what: &str) -> Result<T, c_int> {
    // SAFETY: caller guarantees the size field is readable.
    let size = unsafe { ptr::read_unaligned(p as *const u32) } as usize;
    if size < 4 {
        return Err(invalid(&format!("{what}.size is {size}")));
    }
    let ours = std::mem::size_of::<T>();
    // SAFETY: T is a plain C struct for which all-zero bytes are valid.
    let mut out: T = unsafe { std::mem::zeroed() };
    // SAFETY: the caller's struct has `size` readable bytes; we copy at most
    // `ours` of them into `out`.
    unsafe {
        ptr::copy_nonoverlapping(
            p as *const u8,
            &mut out as *mut T as *mut u8,
            size.min(ours),
        )
    };
    if size > ours {
        // SAFETY: bytes ours..size are within the caller's struct.
        let tail = unsafe { std::slice::from_raw_parts((p as *const u8).add(ours), size - ours) };
        if tail.iter().any(|&b| b != 0) {
            set_last_error(format!(
                "{what} has non-zero bytes beyond the {ours} this library knows \
                 (built against a newer exectrace.h?)"
            ));
            return Err(-libc::E2BIG);
        }
    }
    Ok(out)
}

fn opts_from_c(o: &exectrace_opts) -> Result<TracerOpts, c_int> {
    if o.flags & !KNOWN_OPT_FLAGS != 0 {
        return Err(invalid(&format!(
            "unknown opts.flags bits {:#x}",
            o.flags & !KNOWN_OPT_FLAGS
        )));
    }
    if o.reserved != 0 {
        return Err(invalid("opts.reserved must be 0"));
    }
    let mut t = TracerOpts {
        include_failed: o.flags & EXECTRACE_OPT_INCLUDE_FAILED != 0,
        uid: (o.flags & EXECTRACE_OPT_FILTER_UID != 0).then_some(o.uid),
        pid_ns: (o.pid_ns != 0).then_some(o.pid_ns),
        ..Default::default()
    };
    if o.flags & EXECTRACE_OPT_FALLBACK_HOOKS != 0 {
        t.hooks = Hooks::Fallback;
    }
    if !o.cgroup_path.is_null() {
        // SAFETY: documented as a NUL-terminated string when non-NULL.
        let p = unsafe { CStr::from_ptr(o.cgroup_path) };
        t.cgroup = Some(PathBuf::from(OsStr::from_bytes(p.to_bytes())));
    }
    if o.argv_budget != 0 {
        t.argv_budget = o.argv_budget;
    }
    if o.ring_size != 0 {
        t.ring_size = o.ring_size;
    }
    if o.reserved2 != 0 {
        return Err(invalid("opts.reserved2 must be 0"));
    }
    t.include_env = o.flags & EXECTRACE_OPT_INCLUDE_ENV != 0;
    t.paths = o.flags & EXECTRACE_OPT_PATHS != 0;
    if o.env_budget != 0 {
        t.env_budget = o.env_budget;
    }
    if o.flags & EXECTRACE_OPT_WAKE_PER_EVENT != 0 {
        t.wakeup_latency = Duration::ZERO;
    } else if o.wakeup_latency_us != 0 {
        t.wakeup_latency = Duration::from_micros(o.wakeup_latency_us.into());
    }
    Ok(t)
}

/// Create a tracer and start tracing.
///
/// - `opts`: NULL for defaults, or options with `size` set.
/// - `out`: receives the handle on success; untouched on failure.
///
/// Returns 0, or: -EINVAL (bad argument or option), -E2BIG (unknown
/// non-zero option bytes), -EPERM (needs root, or CAP_BPF and CAP_PERFMON;
/// or kernel lockdown), -EOPNOTSUPP (kernel older than 5.8 or without BTF),
/// or another -errno from loading the BPF program. `exectrace_last_error`
/// says which.
///
/// Thread-safe. Asynchronous signals to the calling thread are held back
/// while the kernel verifies the program (milliseconds), then delivered.
#[no_mangle]
pub unsafe extern "C" fn exectrace_new(
    opts: *const exectrace_opts,
    out: *mut *mut exectrace,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return invalid("out is NULL");
        }
        let topts = if opts.is_null() {
            TracerOpts::default()
        } else {
            // SAFETY: non-NULL opts point to a struct with a valid size field.
            match unsafe { read_sized(opts, "opts") }.and_then(|o| opts_from_c(&o)) {
                Ok(t) => t,
                Err(code) => return code,
            }
        };
        match Tracer::new(&topts) {
            Ok(tracer) => {
                let h = Box::new(exectrace {
                    tracer,
                    inflight: AtomicUsize::new(0),
                });
                // SAFETY: out is non-NULL and writable per the contract.
                unsafe { *out = Box::into_raw(h) };
                0
            }
            Err(e) => fail(e),
        }
    })
}

/// Ends a call counted in `exectrace::inflight`, also when it unwinds.
struct Inflight<'a>(&'a AtomicUsize);

impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Run `f` on the tracer behind `t` as a call in flight, which
/// `exectrace_close` waits for; -EINVAL for NULL.
fn with_tracer(t: *const exectrace, f: impl FnOnce(&Tracer) -> c_int) -> c_int {
    if t.is_null() {
        return invalid("tracer is NULL");
    }
    // SAFETY: a non-NULL handle is live per the contract (close has not returned).
    let h = unsafe { &*t };
    h.inflight.fetch_add(1, Ordering::AcqRel);
    let _in = Inflight(&h.inflight);
    f(&h.tracer)
}

/// Copy `src` into a C string buffer, cutting it to fit; true if cut.
fn put_str(dst: &mut [c_char], src: &[u8]) -> bool {
    let n = src.len().min(dst.len() - 1);
    // SAFETY: c_char and u8 have the same size; n < dst.len().
    unsafe { ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr() as *mut u8, n) };
    dst[n] = 0;
    n < src.len()
}

/// Fill `ev` (which has `size` >= `EVENT_SIZE_V0` bytes) from a record.
///
/// # Safety
/// `ev` is valid for writes of `size` bytes.
unsafe fn fill_event(ev: *mut exectrace_event, size: usize, r: &EventRef<'_>) {
    let mut flags = r.flags();
    // SAFETY: per the contract every field below lies inside *ev. Arrays are
    // written through references to the fields, not the whole struct, so the
    // unspecified bytes are never read.
    unsafe {
        addr_of_mut!((*ev).seq).write(r.seq());
        addr_of_mut!((*ev).timestamp_ns).write(r.timestamp_ns());
        addr_of_mut!((*ev).cgroup_id).write(r.cgroup_id());
        addr_of_mut!((*ev).pid).write(r.pid());
        addr_of_mut!((*ev).tid).write(r.tid());
        addr_of_mut!((*ev).ppid).write(r.ppid());
        addr_of_mut!((*ev).uid).write(r.uid());
        addr_of_mut!((*ev).gid).write(r.gid());
        addr_of_mut!((*ev).euid).write(r.euid());
        addr_of_mut!((*ev).egid).write(r.egid());
        addr_of_mut!((*ev).pid_ns).write(r.pid_ns());
        addr_of_mut!((*ev).result).write(r.result());
        addr_of_mut!((*ev).argc).write(r.argc());
        addr_of_mut!((*ev).argv_size).write(r.argv_size());
        addr_of_mut!((*ev).reserved).write(0);
        put_str(&mut *addr_of_mut!((*ev).comm), r.comm());
        if put_str(&mut *addr_of_mut!((*ev).filename), r.filename()) {
            flags |= EXECTRACE_EVENT_FILENAME_TRUNCATED;
        }
        if put_str(
            &mut *addr_of_mut!((*ev).interpreter),
            r.interpreter().unwrap_or(b""),
        ) {
            flags |= EXECTRACE_EVENT_INTERP_TRUNCATED;
        }
        let argv = &mut *addr_of_mut!((*ev).argv);
        let (len, count, cut) = put_argv(argv, r.argv_block());
        if cut {
            flags |= EXECTRACE_EVENT_ARGV_TRUNCATED;
        }
        addr_of_mut!((*ev).argv_len).write(len);
        addr_of_mut!((*ev).argv_count).write(count);
        flags |= fill_event_ext(ev, size, r);
        addr_of_mut!((*ev).flags).write(with_truncated(flags));
    }
}

/// Whether an event of `size` bytes holds the field at `off` of `len` bytes.
fn covers(size: usize, off: usize, len: usize) -> bool {
    off + len <= size
}

/// Fill the fields appended after the first release, each only when
/// `size` covers it whole; returns the flags to add (cuts).
///
/// # Safety
/// `ev` is valid for writes of `size` bytes (at least `EVENT_SIZE_V0`).
unsafe fn fill_event_ext(ev: *mut exectrace_event, size: usize, r: &EventRef<'_>) -> u32 {
    use std::mem::offset_of;
    macro_rules! has {
        ($f:ident, $len:expr) => {
            covers(size, offset_of!(exectrace_event, $f), $len)
        };
    }
    let mut flags = 0;
    let audit = |v: Option<u32>| v.unwrap_or(EXECTRACE_AUDIT_UNSET);
    // SAFETY: each field is written only when it lies within the caller's
    // `size` bytes (checked by `has!` before its address is taken).
    unsafe {
        if has!(loginuid, 4) {
            addr_of_mut!((*ev).loginuid).write(audit(r.loginuid()));
        }
        if has!(sessionid, 4) {
            addr_of_mut!((*ev).sessionid).write(audit(r.sessionid()));
        }
        if has!(exe_inode, 8) {
            addr_of_mut!((*ev).exe_inode).write(r.exe_inode());
        }
        if has!(exe_dev, 8) {
            addr_of_mut!((*ev).exe_dev).write(r.exe_dev());
        }
        if has!(env_size, 4) {
            addr_of_mut!((*ev).env_size).write(r.env_size());
        }
        if has!(reserved2, 4) {
            addr_of_mut!((*ev).reserved2).write(0);
        }
        if has!(tty, EXECTRACE_TTY_LEN) {
            put_str(&mut *addr_of_mut!((*ev).tty), &r.tty());
        }
        for (is_exe, path) in [(true, r.exe_path()), (false, r.cwd())] {
            let fits = if is_exe {
                has!(exe_path, EXECTRACE_RESOLVED_PATH_LEN)
            } else {
                has!(cwd, EXECTRACE_RESOLVED_PATH_LEN)
            };
            if !fits {
                continue;
            }
            let dst = if is_exe {
                &mut *addr_of_mut!((*ev).exe_path)
            } else {
                &mut *addr_of_mut!((*ev).cwd)
            };
            let p = path.unwrap_or_default();
            if p.len() >= dst.len() {
                // Never a partial path: "" and the cut flag.
                dst[0] = 0;
                flags |= if is_exe {
                    EXECTRACE_EVENT_EXE_PATH_CUT
                } else {
                    EXECTRACE_EVENT_CWD_CUT
                };
            } else {
                put_str(dst, &p);
            }
        }
        if has!(env_len, 4) {
            let (len, count) = if has!(env, EXECTRACE_ENV_MAX) {
                let (len, count, cut) = put_argv(&mut *addr_of_mut!((*ev).env), r.env_block());
                if cut {
                    flags |= EXECTRACE_EVENT_ENV_TRUNCATED;
                }
                (len, count)
            } else {
                if !r.env_block().is_empty() {
                    flags |= EXECTRACE_EVENT_ENV_TRUNCATED;
                }
                (0, 0)
            };
            addr_of_mut!((*ev).env_count).write(count);
            addr_of_mut!((*ev).env_len).write(len);
        }
    }
    flags
}

/// `flags` with `EXECTRACE_EVENT_TRUNCATED` when any truncation flag is set.
/// The mask is the decoder's (`Event::truncated`): the event bits equal the
/// record's (asserted above).
fn with_truncated(flags: u32) -> u32 {
    if flags & crate::event::TRUNCATION != 0 {
        flags | EXECTRACE_EVENT_TRUNCATED
    } else {
        flags
    }
}

/// Copy an argv block so that every string ends in NUL; returns bytes used,
/// string count and whether anything was cut.
fn put_argv(dst: &mut [c_char], block: &[u8]) -> (u32, u32, bool) {
    if block.is_empty() {
        return (0, 0, false);
    }
    let complete = block.last() == Some(&0);
    // Room for the block plus a NUL to close a cut last string.
    let need = block.len() + usize::from(!complete);
    let (n, cut) = if need <= dst.len() {
        (block.len(), false)
    } else {
        (dst.len() - 1, true)
    };
    // SAFETY: n <= dst.len(), c_char is u8-sized.
    unsafe { ptr::copy_nonoverlapping(block.as_ptr(), dst.as_mut_ptr() as *mut u8, n) };
    let mut used = n;
    if cut || !complete {
        dst[n] = 0;
        used += 1;
    }
    // SAFETY: the first `used` bytes were just written.
    let written = unsafe { std::slice::from_raw_parts(dst.as_ptr() as *const u8, used) };
    let count = written.iter().filter(|&&b| b == 0).count();
    (used as u32, count as u32, cut)
}

fn read_common(t: *mut exectrace, ev: *mut exectrace_event, timeout: Option<Duration>) -> c_int {
    if ev.is_null() {
        return invalid("event is NULL");
    }
    // SAFETY: the size field of a non-NULL event is readable.
    let size = unsafe { ptr::read_unaligned(ev as *const u32) } as usize;
    if size < EVENT_SIZE_V0 {
        return invalid(&format!(
            "event.size is {size}, smaller than the oldest struct exectrace_event ({EVENT_SIZE_V0} bytes)"
        ));
    }
    // SAFETY: ev has `size` (>= EVENT_SIZE_V0) writable bytes.
    with_tracer(t, |tracer| {
        match tracer.read_with(timeout, |r| unsafe { fill_event(ev, size, r) }) {
            Ok(Some(())) => 0,
            Ok(None) if timeout == Some(Duration::ZERO) => {
                set_last_error("no event ready");
                -libc::EAGAIN
            }
            Ok(None) => {
                set_last_error("timed out");
                -libc::ETIMEDOUT
            }
            Err(e) => fail(e),
        }
    })
}

/// Block until the next event and write it to `ev`.
///
/// - `ev->size` must be at least 41064 (`sizeof(struct exectrace_event)`
///   in the first release). Only the fields that `ev->size` covers whole
///   are written: a caller built against an older header gets what it
///   knows; one with a smaller struct than this header's does not get the
///   later fields.
///
/// Returns 0, or: -ECANCELED (the tracer was shut down or closed, also
/// from another thread while this call waited), -EINVAL (NULL argument or
/// `ev->size` too small). `ev` is written only when 0 is returned.
///
/// Thread-safe: concurrent reads on one handle are served one at a time and
/// each event goes to exactly one of them.
#[no_mangle]
pub unsafe extern "C" fn exectrace_read(t: *mut exectrace, ev: *mut exectrace_event) -> c_int {
    guard(|| read_common(t, ev, None))
}

/// Like `exectrace_read`, waiting at most `timeout_ms` milliseconds
/// (negative: no limit; 0: do not wait).
///
/// Returns 0, -ETIMEDOUT when the time ran out, -EAGAIN when `timeout_ms`
/// is 0 and no event is ready (or another thread is reading), or the codes
/// of `exectrace_read`.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn exectrace_read_timeout(
    t: *mut exectrace,
    ev: *mut exectrace_event,
    timeout_ms: c_int,
) -> c_int {
    guard(|| {
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        read_common(t, ev, timeout)
    })
}

/// A NUL-terminated block of strings as a batch record holds it: the
/// captured block, plus a closing NUL for a cut last string; its length
/// and string count.
fn block_len(block: &[u8]) -> (usize, u32) {
    let len = block.len() + usize::from(block.last().is_some_and(|&b| b != 0));
    // A cut last string (no NUL in the block) is a string too.
    let count = block.iter().filter(|&&b| b == 0).count() + len - block.len();
    (len, count as u32)
}

/// The parts of a batch record after its header, in order.
struct RecordParts<'a> {
    filename: &'a [u8],
    interp: &'a [u8],
    argv: &'a [u8],
    exe_path: Vec<u8>,
    cwd: Vec<u8>,
    /// The tty's /dev name (at most 16 bytes: `pts/` and a 12-digit index).
    tty: [u8; EXECTRACE_TTY_LEN],
    tty_len: usize,
    env: &'a [u8],
}

impl<'a> RecordParts<'a> {
    fn of(r: &EventRef<'a>) -> Self {
        let name = r.tty();
        let mut tty = [0u8; EXECTRACE_TTY_LEN];
        let tty_len = name.len().min(EXECTRACE_TTY_LEN - 1);
        tty[..tty_len].copy_from_slice(&name[..tty_len]);
        RecordParts {
            filename: r.filename(),
            interp: r.interpreter().unwrap_or(b""),
            argv: r.argv_block(),
            exe_path: r.exe_path().unwrap_or_default(),
            cwd: r.cwd().unwrap_or_default(),
            tty,
            tty_len,
            env: r.env_block(),
        }
    }

    /// Bytes the record takes in a batch (a multiple of 8).
    fn size(&self) -> usize {
        let strs = self.filename.len()
            + self.interp.len()
            + self.exe_path.len()
            + self.cwd.len()
            + self.tty_len
            + 5;
        let size = RECORD_HDR + strs + block_len(self.argv).0 + block_len(self.env).0;
        size.next_multiple_of(EXECTRACE_RECORD_ALIGN)
    }
}

/// Write the record of `r` at `dst`.
///
/// # Safety
/// `dst` is 8-byte aligned and valid for writes of `size` bytes, where
/// `size` is `p.size()`, `p` being `RecordParts::of(r)`.
unsafe fn put_record(dst: *mut u8, size: usize, p: &RecordParts<'_>, r: &EventRef<'_>) {
    let (argv_len, argv_count) = block_len(p.argv);
    let (env_len, env_count) = block_len(p.env);
    let filename_off = RECORD_HDR;
    let interp_off = filename_off + p.filename.len() + 1;
    let argv_off = interp_off + p.interp.len() + 1;
    let exe_path_off = argv_off + argv_len;
    let cwd_off = exe_path_off + p.exe_path.len() + 1;
    let tty_off = cwd_off + p.cwd.len() + 1;
    let env_off = tty_off + p.tty_len + 1;
    let mut comm = [0 as c_char; EXECTRACE_COMM_LEN];
    put_str(&mut comm, r.comm());
    let audit = |v: Option<u32>| v.unwrap_or(EXECTRACE_AUDIT_UNSET);
    let hdr = exectrace_batch_record {
        size: size as u32,
        hdr_size: RECORD_HDR as u32,
        flags: with_truncated(r.flags()),
        result: r.result(),
        seq: r.seq(),
        timestamp_ns: r.timestamp_ns(),
        cgroup_id: r.cgroup_id(),
        pid: r.pid(),
        tid: r.tid(),
        ppid: r.ppid(),
        uid: r.uid(),
        gid: r.gid(),
        euid: r.euid(),
        egid: r.egid(),
        pid_ns: r.pid_ns(),
        argc: r.argc(),
        argv_size: r.argv_size(),
        argv_count,
        argv_len: argv_len as u32,
        filename_off: filename_off as u32,
        filename_len: p.filename.len() as u32,
        interp_off: interp_off as u32,
        interp_len: p.interp.len() as u32,
        argv_off: argv_off as u32,
        reserved: 0,
        comm,
        loginuid: audit(r.loginuid()),
        sessionid: audit(r.sessionid()),
        exe_inode: r.exe_inode(),
        exe_dev: r.exe_dev(),
        env_size: r.env_size(),
        env_count,
        env_len: env_len as u32,
        env_off: env_off as u32,
        exe_path_off: exe_path_off as u32,
        exe_path_len: p.exe_path.len() as u32,
        cwd_off: cwd_off as u32,
        cwd_len: p.cwd.len() as u32,
        tty_off: tty_off as u32,
        tty_len: p.tty_len as u32,
    };
    // SAFETY: per the contract every write below is inside dst..dst+size
    // (size() counted each part), and dst is aligned for the header.
    unsafe {
        ptr::write(dst as *mut exectrace_batch_record, hdr);
        for (off, bytes) in [
            (filename_off, p.filename),
            (interp_off, p.interp),
            (exe_path_off, &p.exe_path[..]),
            (cwd_off, &p.cwd[..]),
            (tty_off, &p.tty[..p.tty_len]),
        ] {
            ptr::copy_nonoverlapping(bytes.as_ptr(), dst.add(off), bytes.len());
            dst.add(off + bytes.len()).write(0);
        }
        for (off, block, len) in [(argv_off, p.argv, argv_len), (env_off, p.env, env_len)] {
            ptr::copy_nonoverlapping(block.as_ptr(), dst.add(off), block.len());
            if len > block.len() {
                dst.add(off + block.len()).write(0);
            }
        }
    }
}

/// Read the events that are ready, as many as fit, into `buf`: one call
/// for a whole batch, without the fixed-size `struct exectrace_event`.
///
/// - `buf`: `cap` writable bytes, 8-byte aligned (`EXECTRACE_RECORD_ALIGN`).
///   On success it holds the returned number of records back to back from
///   its start; see `struct exectrace_batch_record` for the layout and
///   `exectrace_record_next` to walk them.
/// - `timeout_ms`: how long to wait for the first event (negative: no
///   limit; 0: do not wait). Once one is there, the call takes what else is
///   ready without waiting.
/// - `needed`: NULL, or where the size of the buffer the next event needs
///   is written when -ENOSPC is returned (and only then).
///
/// Returns the number of records (>= 1), 0 when the time ran out (or,
/// with `timeout_ms` 0, when no event is ready or another thread is
/// reading), or: -ENOSPC (the next event alone is larger than `cap`; it
/// stays for the next call, with a buffer of `*needed` bytes), -ECANCELED
/// (the tracer was shut down or closed, also from another thread while
/// this call waited), -EINVAL (NULL `t` or `buf`, or `buf` not aligned).
/// An event that does not fit after others were written also stays for
/// the next call: none is lost. The largest record is 192 bytes plus
/// 8704 of filename and interpreter, plus the argv budget, plus 32 of
/// tty, plus 16 (NULs and padding); with `EXECTRACE_OPT_PATHS` plus 8704
/// of paths, with `EXECTRACE_OPT_INCLUDE_ENV` plus the env budget (about
/// 41 KiB with the default options); a buffer of 256 KiB or more is a
/// good choice.
///
/// Thread-safe: concurrent reads on one handle are served one at a time
/// and each event goes to exactly one of them.
#[no_mangle]
pub unsafe extern "C" fn exectrace_read_batch(
    t: *mut exectrace,
    buf: *mut c_void,
    cap: usize,
    timeout_ms: c_int,
    needed: *mut usize,
) -> c_int {
    guard(|| {
        if buf.is_null() {
            return invalid("buf is NULL");
        }
        if buf as usize % EXECTRACE_RECORD_ALIGN != 0 {
            return invalid("buf is not 8-byte aligned");
        }
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        let base = buf as *mut u8;
        let mut used = 0usize;
        let mut short = None;
        with_tracer(t, |tracer| {
            let taken = tracer.read_many(timeout, c_int::MAX as usize, |r| {
                let parts = RecordParts::of(r);
                let size = parts.size();
                if size > cap - used {
                    if used == 0 {
                        short = Some(size);
                    }
                    return false;
                }
                // SAFETY: used + size <= cap bytes of the caller's buffer,
                // and used is a multiple of 8 from an aligned start.
                unsafe { put_record(base.add(used), size, &parts, r) };
                used += size;
                true
            });
            match (taken, short) {
                (Ok(0), Some(size)) => {
                    if !needed.is_null() {
                        // SAFETY: non-NULL and writable per the contract.
                        unsafe { *needed = size };
                    }
                    set_last_error(format!(
                        "the next event needs a buffer of {size} bytes, {cap} given"
                    ));
                    -libc::ENOSPC
                }
                (Ok(n), _) => n as c_int,
                (Err(e), _) => fail(e),
            }
        })
    })
}

/// A file descriptor for poll/epoll/select: readable when an event may be
/// ready or the tracer was shut down. Then call `exectrace_read_timeout(t,
/// ev, 0)` until it returns -EAGAIN. Owned by the tracer: do not close it.
///
/// Returns the fd (>= 0), or -EINVAL if `t` is NULL.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn exectrace_fd(t: *const exectrace) -> c_int {
    guard(|| with_tracer(t, |tracer| tracer.as_fd().as_raw_fd()))
}

/// The fd of the loaded BPF program that reports execs (for
/// introspection, e.g. `bpftool prog show`). Owned by the tracer.
///
/// Returns the fd (>= 0), or -EINVAL if `t` is NULL.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn exectrace_prog_fd(t: *const exectrace) -> c_int {
    guard(|| with_tracer(t, |tracer| tracer.program_fd().as_raw_fd()))
}

/// Write the tracer's counters to `st` (`st->size` set by the caller).
///
/// Writes only the fields `st->size` covers (a larger struct from a newer
/// header keeps its tail untouched). Returns 0, or -EINVAL (NULL argument
/// or `st->size` < 8). Works after `exectrace_shutdown`.
///
/// Thread-safe; does not wait for a blocked reader.
#[no_mangle]
pub unsafe extern "C" fn exectrace_get_stats(
    t: *const exectrace,
    st: *mut exectrace_stats,
) -> c_int {
    guard(|| {
        if st.is_null() {
            return invalid("stats is NULL");
        }
        // SAFETY: st's size field is readable.
        let size = unsafe { ptr::read_unaligned(st as *const u32) } as usize;
        if size < 8 {
            return invalid(&format!("stats.size is {size}"));
        }
        let mut stats = None;
        let r = with_tracer(t, |tracer| {
            stats = Some(tracer.stats());
            0
        });
        let Some(s) = stats else { return r };
        let full = exectrace_stats {
            size: std::mem::size_of::<exectrace_stats>().min(size) as u32,
            reserved: 0,
            events: s.events,
            drops: s.drops,
            malformed: s.malformed,
        };
        // SAFETY: write only the bytes the caller's size covers.
        unsafe {
            ptr::copy_nonoverlapping(
                &full as *const exectrace_stats as *const u8,
                st as *mut u8,
                size.min(std::mem::size_of::<exectrace_stats>()),
            )
        };
        0
    })
}

/// Stop tracing and wake every thread blocked in a read on `t` (they
/// return -ECANCELED, as does every later read). The handle stays valid
/// until `exectrace_close`. Idempotent.
///
/// Returns 0, or -EINVAL if `t` is NULL.
///
/// Thread-safe: meant to be called while other threads read.
#[no_mangle]
pub unsafe extern "C" fn exectrace_shutdown(t: *mut exectrace) -> c_int {
    guard(|| {
        with_tracer(t, |tracer| {
            tracer.close();
            0
        })
    })
}

/// Shut the tracer down (see `exectrace_shutdown`), wait until no other
/// thread is inside a call on `t`, and free it. NULL is a no-op.
///
/// Threads already inside a call on `t` (typically blocked in a read) are
/// woken and return (reads with -ECANCELED) before `t` is freed. The
/// caller must make sure no call on `t` starts concurrently with or after
/// this one: a call still on its way in may find `t` freed. Bindings that
/// cannot promise that call `exectrace_shutdown` first, then close once
/// their own readers are out.
#[no_mangle]
pub unsafe extern "C" fn exectrace_close(t: *mut exectrace) {
    guard(|| {
        if t.is_null() {
            return 0;
        }
        // SAFETY: live handle; we are its last user once inflight is 0.
        let h = unsafe { &*t };
        h.tracer.close();
        while h.inflight.load(Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        // SAFETY: created by Box::into_raw in exectrace_new.
        drop(unsafe { Box::from_raw(t) });
        0
    });
}

/// Copy the calling thread's last error message into `buf` (NUL-terminated,
/// cut to `len`).
///
/// Returns the message length without NUL (may exceed `len - 1`: the
/// message was cut), 0 if there is none, or -EINVAL if `buf` is NULL while
/// `len` > 0.
///
/// Thread-safe; each thread has its own message.
#[no_mangle]
pub unsafe extern "C" fn exectrace_last_error(buf: *mut c_char, len: usize) -> c_int {
    guard(|| {
        if len > 0 && buf.is_null() {
            return invalid("buf is NULL");
        }
        LAST_ERROR.with(|l| {
            let msg = l.borrow();
            if len > 0 {
                // SAFETY: buf has len writable bytes per the contract.
                let dst = unsafe { std::slice::from_raw_parts_mut(buf, len) };
                put_str(dst, msg.as_bytes());
            }
            msg.len().min(i32::MAX as usize) as c_int
        })
    })
}

/// A static description of an `exectrace_*` return code (negative or
/// positive errno). Never NULL.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn exectrace_strerror(err: c_int) -> *const c_char {
    let s: &'static [u8] = match err.unsigned_abs() as i32 {
        0 => b"success\0",
        libc::ECANCELED => b"tracer closed\0",
        libc::ETIMEDOUT => b"timed out waiting for an event\0",
        libc::EAGAIN => b"no event ready\0",
        libc::EINVAL => b"invalid argument\0",
        libc::E2BIG => b"unknown non-zero option bytes (built against a newer header?)\0",
        libc::EPERM => b"permission denied: needs root, or CAP_BPF and CAP_PERFMON\0",
        libc::EACCES => b"access denied\0",
        libc::EOPNOTSUPP => b"kernel not supported: needs Linux 5.8+ with BTF\0",
        libc::ENOENT => b"not found\0",
        libc::ENOMEM => b"out of memory\0",
        libc::EIO => b"internal error\0",
        libc::ENOSPC => b"buffer too small for the next event\0",
        _ => b"error (see exectrace_last_error)\0",
    };
    s.as_ptr() as *const c_char
}

/// The library version, e.g. "0.1.0". Static; never NULL.
#[no_mangle]
pub extern "C" fn exectrace_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// Write the inode of the calling process's pid namespace (the value for
/// `opts.pid_ns`) to `out`.
///
/// Returns 0, -EINVAL if `out` is NULL, or -errno from reading
/// /proc/self/ns/pid.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn exectrace_pid_ns(out: *mut u32) -> c_int {
    guard(|| {
        if out.is_null() {
            return invalid("out is NULL");
        }
        match crate::pid_ns_of_self() {
            Ok(ns) => {
                // SAFETY: non-NULL and writable per the contract.
                unsafe { *out = ns };
                0
            }
            Err(e) => fail(Error::io("reading /proc/self/ns/pid", e)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_block_gets_nul_terminated_strings() {
        let mut buf = [0 as c_char; 8];
        assert_eq!(put_argv(&mut buf, b"a\0\0bc\0"), (6, 3, false));
        assert_eq!(put_argv(&mut buf, b"a\0bc"), (5, 2, false));
        // Cut by the buffer: 7 bytes kept and a NUL.
        assert_eq!(put_argv(&mut buf, b"abcdefghij\0"), (8, 1, true));
        assert_eq!(buf[7], 0);
        assert_eq!(put_argv(&mut buf, b""), (0, 0, false));
    }

    #[test]
    fn sized_struct_rules() {
        let mut o: exectrace_opts = unsafe { std::mem::zeroed() };
        o.size = 2;
        assert_eq!(unsafe { read_sized(&o, "opts") }.err(), Some(-libc::EINVAL));
        // A larger struct with a non-zero unknown tail is refused.
        let mut big = [0u8; 64];
        big[..4].copy_from_slice(&64u32.to_ne_bytes());
        big[60] = 1;
        let p = big.as_ptr() as *const exectrace_opts;
        assert_eq!(unsafe { read_sized(p, "opts") }.err(), Some(-libc::E2BIG));
        big[60] = 0;
        let p = big.as_ptr() as *const exectrace_opts;
        assert!(unsafe { read_sized(p, "opts") }.is_ok());
    }
}
