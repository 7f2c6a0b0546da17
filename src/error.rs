//! Typed errors that say what to do about them.
use std::fmt;
use std::io;

/// Why a tracer call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The tracer was closed (possibly by another thread while this call waited).
    Closed,
    /// An option or argument is out of range; the message names it.
    InvalidArgument(String),
    /// Missing privileges: loading needs root, or CAP_BPF and CAP_PERFMON
    /// (CAP_SYS_ADMIN on kernels before 5.8).
    PermissionDenied(String),
    /// The kernel has no BTF (`/sys/kernel/btf/vmlinux`): build it with CONFIG_DEBUG_INFO_BTF=y.
    NoBtf(String),
    /// The kernel lacks something the tracer needs (5.8+ with BTF is required).
    KernelTooOld(String),
    /// Kernel lockdown (confidentiality) forbids reading kernel memory from BPF.
    Lockdown(String),
    /// The kernel refused to load or attach the BPF program; the message has libbpf's reason.
    Load {
        /// Positive errno.
        errno: i32,
        /// What failed, with libbpf's last messages.
        message: String,
    },
    /// A system call failed.
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: io::Error,
    },
}

impl Error {
    /// The positive errno that best describes this error (the C ABI returns its negation).
    pub fn errno(&self) -> i32 {
        match self {
            Error::Closed => libc::ECANCELED,
            Error::InvalidArgument(_) => libc::EINVAL,
            Error::PermissionDenied(_) | Error::Lockdown(_) => libc::EPERM,
            Error::NoBtf(_) | Error::KernelTooOld(_) => libc::EOPNOTSUPP,
            Error::Load { errno, .. } => *errno,
            Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn last_os(context: &'static str) -> Self {
        Error::io(context, io::Error::last_os_error())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("tracer is closed"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::PermissionDenied(m) => write!(f, "permission denied: {m}"),
            Error::NoBtf(m) => write!(f, "kernel BTF not available: {m}"),
            Error::KernelTooOld(m) => write!(f, "kernel not supported: {m}"),
            Error::Lockdown(m) => write!(f, "kernel lockdown: {m}"),
            Error::Load { message, .. } => f.write_str(message),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
