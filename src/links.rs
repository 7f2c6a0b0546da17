//! The attachments of a loaded tracer, which can be taken off and put back
//! without loading again (for the benchmark's switched comparison).
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use libbpf_rs::libbpf_sys;

use crate::error::{Error, Result};

/// One link per attached program, in attach order (the hook that remembers
/// the caller's name before the one that reads it). While detached, the
/// programs' fds instead: a running tracer holds no fd it does not use.
pub(crate) struct Links {
    attached: Vec<OwnedFd>,
    detached: Vec<OwnedFd>,
}

impl Links {
    pub(crate) fn new(attached: Vec<OwnedFd>) -> Links {
        Links {
            attached,
            detached: Vec::new(),
        }
    }

    /// Detach for good (close).
    pub(crate) fn clear(&mut self) {
        while let Some(link) = self.attached.pop() {
            drop(link);
        }
        self.detached.clear();
    }

    /// Detach (the reading program first: no event without its name) or
    /// re-attach every program. Idempotent.
    pub(crate) fn set(&mut self, on: bool) -> Result<()> {
        if on {
            // In attach order; a program that fails stays detached, with
            // the ones after it, for the next call.
            while let Some(prog) = self.detached.first() {
                // SAFETY: plain libbpf call; a tp_btf program attaches by its BTF id.
                let fd = unsafe {
                    libbpf_sys::bpf_raw_tracepoint_open(std::ptr::null(), prog.as_raw_fd())
                };
                self.attached.push(owned(fd, "re-attaching a program")?);
                self.detached.remove(0);
            }
            return Ok(());
        }
        let mut progs = Vec::new();
        for link in &self.attached {
            progs.push(prog_of(link)?);
        }
        while let Some(link) = self.attached.pop() {
            drop(link);
        }
        // Those still detached come after (attach order).
        progs.append(&mut self.detached);
        self.detached = progs;
        Ok(())
    }
}

/// The program a link attaches.
fn prog_of(link: &OwnedFd) -> Result<OwnedFd> {
    // SAFETY: bpf_link_info is plain data; the kernel fills `len` bytes of it.
    let mut info: libbpf_sys::bpf_link_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: valid fd, buffer and length.
    let r = unsafe { libbpf_sys::bpf_link_get_info_by_fd(link.as_raw_fd(), &mut info, &mut len) };
    if r < 0 {
        return Err(Error::io(
            "reading a link's program",
            std::io::Error::from_raw_os_error(-r),
        ));
    }
    // SAFETY: plain libbpf call.
    owned(
        unsafe { libbpf_sys::bpf_prog_get_fd_by_id(info.prog_id) },
        "opening a program by id",
    )
}

fn owned(fd: i32, what: &'static str) -> Result<OwnedFd> {
    if fd < 0 {
        // libbpf returns -errno (and sets errno).
        return Err(Error::io(what, std::io::Error::from_raw_os_error(-fd)));
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
