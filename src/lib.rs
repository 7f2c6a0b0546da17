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
mod fd;
pub mod ffi;
mod host;
mod links;
mod load;
mod opts;
mod ringbuf;
mod skel;
mod tracer;

pub use error::{Error, Result};
pub use event::{flags, DecodeError, Event, EventRef};
pub use host::pid_ns_of_self;
pub use opts::{
    Hooks, TracerOpts, DEFAULT_ARGV_BUDGET, DEFAULT_ENV_BUDGET, DEFAULT_RING_SIZE,
    DEFAULT_WAKEUP_LATENCY, MAX_ARGV_BUDGET, MAX_ENV_BUDGET, MAX_WAKEUP_LATENCY,
};
pub use tracer::{Stats, Tracer};
