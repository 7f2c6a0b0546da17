//! Tracer configuration.
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Default argv capture budget per event, in bytes.
pub const DEFAULT_ARGV_BUDGET: u32 = 32 * 1024;
/// Largest argv capture budget: the program's `EXECTRACE_ARGV_CAP_MAX`
/// (bpf/exectrace.h; the kernel's own argv+envp limit is of this order).
pub const MAX_ARGV_BUDGET: u32 = crate::skel::types::exectrace_limits::EXECTRACE_ARGV_CAP_MAX.0;
/// Default environment capture budget per event, in bytes, when
/// [`TracerOpts::include_env`] is set.
pub const DEFAULT_ENV_BUDGET: u32 = 32 * 1024;
/// Largest environment capture budget: the program's `EXECTRACE_ENV_CAP_MAX`.
pub const MAX_ENV_BUDGET: u32 = crate::skel::types::exectrace_limits::EXECTRACE_ENV_CAP_MAX.0;
/// Default ring-buffer size, in bytes.
pub const DEFAULT_RING_SIZE: u32 = 4 * 1024 * 1024;
/// Default bound on the delay between an exec and the reader being woken.
pub const DEFAULT_WAKEUP_LATENCY: Duration = Duration::from_millis(4);
/// Largest wake-up latency bound.
pub const MAX_WAKEUP_LATENCY: Duration = Duration::from_secs(1);

/// Which kernel code paths the program uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hooks {
    /// The best the running kernel has: `sched_prepare_exec` (6.10+) to
    /// remember the caller's name, BPF atomics (5.12+) for scratch slots and
    /// sequence numbers, small records built on the BPF stack (5.12+).
    #[default]
    Auto,
    /// The paths for older kernels even where better ones exist, for
    /// testing them on a new kernel: `task_rename` for the name, no BPF
    /// atomics (one scratch slot per CPU; sequence numbers may repeat under
    /// contention), and every record built in a scratch slot.
    Fallback,
}

/// What to trace and how to deliver it. `TracerOpts::default()` traces every
/// successful exec on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracerOpts {
    /// Only execs in this pid namespace (inode number, see
    /// [`crate::pid_ns_of_self`]) or its descendants.
    pub pid_ns: Option<u32>,
    /// Only execs whose real uid is this.
    pub uid: Option<u32>,
    /// Only execs in this cgroup v2 directory or its descendants.
    pub cgroup: Option<PathBuf>,
    /// Also report failed exec attempts, with their -errno.
    pub include_failed: bool,
    /// argv bytes captured per exec (NULs included); beyond it the event is
    /// flagged truncated and the true argc and byte count are still reported.
    pub argv_budget: u32,
    /// Also capture the new process's environment (`Event::env`), read
    /// from its memory after exec as argv is. Off by default: environments
    /// are large and often hold secrets.
    pub include_env: bool,
    /// Environment bytes captured per exec (NULs included) with
    /// `include_env`, a budget of its own beside `argv_budget`; beyond it
    /// the event is flagged (`Event::env_truncated`) and the true size is
    /// still reported (`Event::env_size`).
    pub env_budget: u32,
    /// Also resolve the absolute path of the file that runs
    /// (`Event::exe_path`, what /proc/PID/exe names) and the working
    /// directory (`Event::cwd`), by a bounded walk of the kernel's dentries
    /// in BPF. Off by default: it costs per path component.
    pub paths: bool,
    /// Ring-buffer size in bytes: a power of two, at least one page and
    /// large enough for one full record.
    pub ring_size: u32,
    /// Longest delay between an exec and the reader waking; wake-ups within
    /// it are coalesced. `Duration::ZERO` wakes the reader on every event.
    pub wakeup_latency: Duration,
    /// Kernel hook selection (see [`Hooks`]).
    pub hooks: Hooks,
}

impl Default for TracerOpts {
    fn default() -> Self {
        TracerOpts {
            pid_ns: None,
            uid: None,
            cgroup: None,
            include_failed: false,
            argv_budget: DEFAULT_ARGV_BUDGET,
            include_env: false,
            env_budget: DEFAULT_ENV_BUDGET,
            paths: false,
            ring_size: DEFAULT_RING_SIZE,
            wakeup_latency: DEFAULT_WAKEUP_LATENCY,
            hooks: Hooks::Auto,
        }
    }
}

/// Bytes of a ring record besides argv: its 8-byte ring header, the record
/// header, filename and interpreter at their caps.
pub(crate) const RECORD_FIXED_MAX: u32 = {
    use crate::skel::types::{exectrace_limits as L, exectrace_record};
    8 + std::mem::size_of::<exectrace_record>() as u32
        + L::EXECTRACE_FILENAME_CAP.0
        + L::EXECTRACE_INTERP_CAP.0
};

/// Bytes of a record's two resolved paths at most.
const PATHS_MAX: u32 = 2 * crate::skel::types::exectrace_limits::EXECTRACE_PATH_CAP.0;

impl TracerOpts {
    /// The program's `env_cap`: the environment budget, 0 when not asked.
    pub(crate) fn env_cap(&self) -> u32 {
        if self.include_env {
            self.env_budget
        } else {
            0
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let page = crate::fd::page_size() as u32;
        if self.argv_budget == 0 || self.argv_budget > MAX_ARGV_BUDGET {
            return Err(Error::InvalidArgument(format!(
                "argv_budget must be 1..={MAX_ARGV_BUDGET} bytes, got {}",
                self.argv_budget
            )));
        }
        if !self.ring_size.is_power_of_two() || self.ring_size < page || self.ring_size > 1 << 30 {
            return Err(Error::InvalidArgument(format!(
                "ring_size must be a power of two between the page size ({page}) and 1 GiB, got {}",
                self.ring_size
            )));
        }
        if self.include_env && (self.env_budget == 0 || self.env_budget > MAX_ENV_BUDGET) {
            return Err(Error::InvalidArgument(format!(
                "env_budget must be 1..={MAX_ENV_BUDGET} bytes, got {}",
                self.env_budget
            )));
        }
        let paths = if self.paths { PATHS_MAX } else { 0 };
        let need = RECORD_FIXED_MAX + self.argv_budget + self.env_cap() + paths;
        if self.ring_size < need {
            return Err(Error::InvalidArgument(format!(
                "ring_size {} cannot hold one record of up to {need} bytes (argv_budget {}, \
                 environment {}): raise ring_size or lower the budgets",
                self.ring_size,
                self.argv_budget,
                self.env_cap()
            )));
        }
        if self.wakeup_latency > MAX_WAKEUP_LATENCY {
            return Err(Error::InvalidArgument(format!(
                "wakeup_latency must be at most {MAX_WAKEUP_LATENCY:?}, got {:?}",
                self.wakeup_latency
            )));
        }
        if self.pid_ns == Some(0) {
            return Err(Error::InvalidArgument(
                "pid_ns 0 is not a namespace inode".into(),
            ));
        }
        Ok(())
    }
}
