//! Checks of the host before loading: kernel version, privileges, BTF,
//! lockdown; the pid namespace and cgroup that filters name.
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::fd::cvt;

/// Inode of the calling process's pid namespace (`/proc/self/ns/pid`), the
/// value [`crate::TracerOpts::pid_ns`] takes.
pub fn pid_ns_of_self() -> io::Result<u32> {
    Ok(fs::metadata("/proc/self/ns/pid")?.ino() as u32)
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn effective_caps() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Fail fast, before any BPF call, with a message that says what to do.
pub(crate) fn preflight() -> Result<()> {
    let (major, minor) = kernel_version();
    if (major, minor) < (5, 8) {
        return Err(Error::KernelTooOld(format!(
            "kernel {major}.{minor} is older than 5.8 (BPF ring buffer, BTF tracepoints)"
        )));
    }
    if let Some(caps) = effective_caps() {
        let has = |c: u32| caps & (1u64 << c) != 0;
        if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) {
            let missing: Vec<&str> = [(CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")]
                .iter()
                .filter(|(c, _)| !has(*c))
                .map(|(_, n)| *n)
                .collect();
            return Err(Error::PermissionDenied(format!(
                "tracing execs needs root, or CAP_BPF and CAP_PERFMON (missing: {})",
                missing.join(", ")
            )));
        }
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(Error::NoBtf(
            "/sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y".into(),
        ));
    }
    if let Ok(l) = fs::read_to_string("/sys/kernel/security/lockdown") {
        if l.contains("[confidentiality]") {
            return Err(Error::Lockdown(
                "lockdown=confidentiality forbids BPF from reading kernel memory; \
                 boot with lockdown=integrity or none"
                    .into(),
            ));
        }
    }
    Ok(())
}

pub(crate) fn kernel_at_least(major: u32, minor: u32) -> bool {
    kernel_version() >= (major, minor)
}

fn kernel_version() -> (u32, u32) {
    // SAFETY: uname fills the zeroed struct.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    let rel: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let rel = String::from_utf8_lossy(&rel);
    let mut it = rel
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok());
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}
/// Open a cgroup v2 directory for the in-kernel filter.
pub(crate) fn open_cgroup2(path: &Path) -> Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidArgument("cgroup path contains a NUL byte".into()))?;
    // SAFETY: valid C string; the fd is owned on success.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(Error::io(
            format!("opening cgroup {}", path.display()),
            io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and out-pointer.
    cvt(
        unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) },
        "fstatfs on the cgroup",
    )?;
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    if st.f_type as i64 != CGROUP2_SUPER_MAGIC {
        return Err(Error::InvalidArgument(format!(
            "{} is not a cgroup v2 directory",
            path.display()
        )));
    }
    Ok(fd)
}
