//! The small fd, memory-mapping, timer and signal wrappers the tracer is
//! built on: epoll, timerfd, clocks, shared mappings of BPF maps.
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::{Error, Result};

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}
pub(crate) fn cvt(r: libc::c_int, context: &'static str) -> Result<RawFd> {
    if r < 0 {
        Err(Error::last_os(context))
    } else {
        Ok(r)
    }
}
/// A shared mapping of a BPF map (an mmapable array such as the program's
/// .bss, or a ring buffer's pages), unmapped on drop.
pub(crate) struct SharedMapping {
    addr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value; users access it atomically
// or, for a ring's committed records, read-only.
unsafe impl Send for SharedMapping {}
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    /// Map `len` bytes (rounded up to pages) of the map behind `fd`, from
    /// byte `offset` (page-aligned), read-write or read-only.
    pub(crate) fn new(
        fd: std::os::fd::BorrowedFd<'_>,
        offset: usize,
        len: usize,
        writable: bool,
    ) -> io::Result<Self> {
        let len = len.max(1).next_multiple_of(page_size());
        let prot = if writable {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        // SAFETY: a fresh shared mapping of the fd; the result is checked.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedMapping {
            addr: std::ptr::NonNull::new(addr.cast()).expect("mmap does not return NULL"),
            len,
        })
    }

    /// The start of the mapping.
    pub(crate) fn as_ptr(&self) -> *const u8 {
        self.addr.as_ptr()
    }

    /// The u64 at byte `offset`, shared with the BPF program.
    pub(crate) fn atomic_u64(&self, offset: usize) -> &std::sync::atomic::AtomicU64 {
        self.check(offset, 8);
        // SAFETY: in bounds and aligned (checked); the page stays mapped
        // while &self lives, and both sides only access it atomically.
        unsafe { &*(self.addr.as_ptr().add(offset) as *const std::sync::atomic::AtomicU64) }
    }

    /// The u32 at byte `offset`, shared with the BPF program.
    pub(crate) fn atomic_u32(&self, offset: usize) -> &std::sync::atomic::AtomicU32 {
        self.check(offset, 4);
        // SAFETY: as in atomic_u64.
        unsafe { &*(self.addr.as_ptr().add(offset) as *const std::sync::atomic::AtomicU32) }
    }

    fn check(&self, offset: usize, size: usize) {
        assert!(
            offset + size <= self.len && offset % size == 0,
            "bad offset {offset}"
        );
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what new() mapped.
        unsafe { libc::munmap(self.addr.as_ptr().cast(), self.len) };
    }
}

pub(crate) fn timerfd() -> Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned on success.
    let fd = cvt(
        unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        },
        "timerfd_create",
    )?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arm a one-shot timer (`None` disarms it); setting it also clears a pending expiry.
pub(crate) fn timerfd_set(fd: &OwnedFd, after: Option<Duration>) {
    settime(fd, 0, after.unwrap_or(Duration::ZERO));
}

/// Arm a one-shot timer to fire at `at_ns` on CLOCK_MONOTONIC (see
/// `monotonic_ns`); a time already past fires at once.
pub(crate) fn timerfd_set_at(fd: &OwnedFd, at_ns: u64) {
    // A zero it_value would disarm the timer instead.
    settime(
        fd,
        libc::TFD_TIMER_ABSTIME,
        Duration::from_nanos(at_ns.max(1)),
    );
}

fn settime(fd: &OwnedFd, flags: libc::c_int, value: Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: value.as_secs() as libc::time_t,
            tv_nsec: value.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: valid timerfd and itimerspec.
    unsafe { libc::timerfd_settime(fd.as_raw_fd(), flags, &spec, std::ptr::null_mut()) };
}

/// CLOCK_MONOTONIC in ns: the clock of the timerfd and of the kernel's
/// scheduler tick.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and timespec; cannot fail (vDSO).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The scheduler tick's period in ns (1/HZ), or 0 if unknown: the coarse
/// clocks advance once per tick, so their resolution is the period.
pub(crate) fn tick_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and timespec.
    if unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } != 0 {
        return 0;
    }
    let ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    // Kconfig offers HZ 100, 250, 300 and 1000; anything else is not a tick.
    if (1_000_000..=10_000_000).contains(&ns) {
        ns
    } else {
        0
    }
}

/// Whether the (non-blocking) timer expired since last set; clears it.
pub(crate) fn timerfd_fired(fd: &OwnedFd) -> bool {
    let mut n: u64 = 0;
    // SAFETY: reads 8 bytes into a valid u64.
    unsafe { libc::read(fd.as_raw_fd(), (&mut n as *mut u64).cast(), 8) == 8 }
}

pub(crate) fn epoll_create() -> Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned on success.
    let fd = cvt(
        unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
        "epoll_create1",
    )?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn epoll_add(ep: &OwnedFd, fd: RawFd) -> Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: fd as u64,
    };
    // SAFETY: valid epoll fd, target fd and event struct.
    cvt(
        unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) },
        "epoll_ctl",
    )?;
    Ok(())
}

/// Wait for any registered fd; `timeout_ms` -1 waits forever. EINTR counts as a wake-up.
pub(crate) fn epoll_wait(ep: &OwnedFd, timeout_ms: i32) -> Result<()> {
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: valid epoll fd and buffer of 4 events.
    let r = unsafe { libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), 4, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(Error::io("epoll_wait", e));
        }
    }
    Ok(())
}

/// Holds back asynchronous signals on the calling thread while alive. The
/// verifier gives up with EAGAIN whenever the loading thread has a signal
/// pending, and a process that spawns children may get a SIGCHLD every few
/// microseconds (glibc's posix_spawn blocks signals while it spawns, so a
/// child that exits meanwhile queues one); libbpf's five tries then all
/// fail. Signals raised by faults are left alone: blocked, they would kill.
pub(crate) struct SignalsHeld {
    old: libc::sigset_t,
}

impl SignalsHeld {
    pub(crate) fn new() -> SignalsHeld {
        // SAFETY: sigset_t is plain data, initialised by sigfillset and
        // written by pthread_sigmask; the signal numbers are valid.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut set);
            for sig in [
                libc::SIGSEGV,
                libc::SIGBUS,
                libc::SIGFPE,
                libc::SIGILL,
                libc::SIGTRAP,
                libc::SIGSYS,
            ] {
                libc::sigdelset(&mut set, sig);
            }
            // Cannot fail with SIG_BLOCK and valid pointers.
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            SignalsHeld { old }
        }
    }
}

impl Drop for SignalsHeld {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by new(); pending signals are delivered now.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}
