//! exectrace: every `execve`/`execveat` on a Linux host as an event.
//!
//! ```no_run
//! let tracer = exectrace::Tracer::new(&exectrace::TracerOpts::default())?;
//! loop {
//!     let ev = tracer.read()?;
//!     println!("{} {:?} {:?}", ev.pid, ev.filename, ev.argv);
//! }
//! # Ok::<(), exectrace::Error>(())
//! ```
//!
//! The BPF program (bpf/exectrace.bpf.c) reports each successful exec once,
//! from the new process, with argv read from its memory after the kernel
//! copied it; failed attempts only when asked. Events that cannot be
//! delivered are counted ([`Stats::drops`]) and leave a gap in [`Event::seq`].
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
mod event;
pub mod ffi;
mod opts;
mod ringbuf;
mod sys;
mod tracer;

#[allow(
    clippy::all,
    dead_code,
    unused_imports,
    non_camel_case_types,
    missing_docs
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/exectrace.skel.rs"));
}

/// The same program built without BPF atomics, for kernels before 5.12.
#[allow(
    clippy::all,
    dead_code,
    unused_imports,
    non_camel_case_types,
    missing_docs
)]
mod skel_no_atomics {
    include!(concat!(env!("OUT_DIR"), "/exectrace_no_atomics.skel.rs"));
}

pub use error::{Error, Result};
pub use event::{DecodeError, Event, EventRef};
pub use opts::{
    Hooks, TracerOpts, DEFAULT_ARGV_BUDGET, DEFAULT_RING_SIZE, DEFAULT_WAKEUP_LATENCY,
    MAX_ARGV_BUDGET, MAX_WAKEUP_LATENCY,
};
pub use sys::pid_ns_of_self;
pub use tracer::{Stats, Tracer};

/// Record flags of bpf/exectrace.h (`Event::flags`), from the program's BTF.
pub mod flags {
    use crate::skel::types::exectrace_record_flags as F;
    /// argv was cut at the budget.
    pub const ARGV_TRUNCATED: u32 = F::EXECTRACE_REC_ARGV_TRUNCATED.0;
    /// The filename was cut.
    pub const FILENAME_TRUNCATED: u32 = F::EXECTRACE_REC_FILENAME_TRUNCATED.0;
    /// The interpreter path was cut.
    pub const INTERP_TRUNCATED: u32 = F::EXECTRACE_REC_INTERP_TRUNCATED.0;
    /// The exec failed; `result` is -errno.
    pub const FAILED: u32 = F::EXECTRACE_REC_FAILED.0;
    /// The program is a script or binfmt_misc handler; `interpreter` is set.
    pub const HAS_INTERP: u32 = F::EXECTRACE_REC_HAS_INTERP.0;
    /// argv memory could not be read.
    pub const ARGV_FAULT: u32 = F::EXECTRACE_REC_ARGV_FAULT.0;
    /// The pre-exec name was missed (tracer attached mid-exec): comm is the new name.
    pub const COMM_AFTER_EXEC: u32 = F::EXECTRACE_REC_COMM_AFTER_EXEC.0;
    /// Failed exec: argc and argv_size are lower bounds.
    pub const ARGC_LOWER_BOUND: u32 = F::EXECTRACE_REC_ARGC_LOWER_BOUND.0;
}
