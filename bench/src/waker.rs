//! A thread that wakes on a timer and does nothing else: what a reader's
//! wake-ups cost without the tracer. Under a steady stream of execs the
//! library's reader wakes once per bound and makes the same three calls
//! (epoll_wait on an epoll holding a timerfd, read the timerfd, re-arm it);
//! comparing this thread with the tracer in the throughput segments tells
//! the wake-ups' share of the tracer's cost from the BPF programs' and the
//! decoding's. The reader sets its timer to expire with a scheduler tick;
//! `Tick::Off` wakes the same number of times with a timer interrupt of its
//! own each time, as the reader did before: the difference is what a
//! timer interrupt costs.
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sys::{monotonic_ns, Res};

struct Shared {
    on: AtomicBool,
    stop: AtomicBool,
    wakes: AtomicU64,
}

/// Where the wake-ups fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// On the last scheduler tick of each period, as the reader's (when it
    /// falls in the period's second half; else at the period's end).
    On,
    /// A period after the last wake-up: a timer interrupt each.
    Off,
}

pub struct Waker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Res<u64>>>,
}

/// An fd closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: an fd this module opened and owns.
        unsafe { libc::close(self.0) };
    }
}

fn check(r: i32, what: &str) -> Res<i32> {
    if r < 0 {
        return Err(format!("waker: {what}: {}", io::Error::last_os_error()));
    }
    Ok(r)
}

impl Waker {
    /// Start the thread, off (parked) until `set(true)`.
    pub fn start(period: Duration, tick: Tick) -> Res<Waker> {
        let tick_ns = match tick {
            Tick::Off => 0,
            Tick::On => tick_ns()?,
        };
        // SAFETY: plain syscalls; results checked.
        let tfd = Fd(check(
            unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) },
            "timerfd_create",
        )?);
        let ep = Fd(check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll_create1")?);
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: 0 };
        check(unsafe { libc::epoll_ctl(ep.0, libc::EPOLL_CTL_ADD, tfd.0, &mut ev) }, "epoll_ctl")?;
        let shared =
            Arc::new(Shared { on: AtomicBool::new(false), stop: AtomicBool::new(false), wakes: AtomicU64::new(0) });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("bench-waker".into())
            .spawn(move || wake_loop(&sh, &tfd, &ep, period, tick_ns))
            .map_err(|e| format!("waker: spawn: {e}"))?;
        Ok(Waker { shared, thread: Some(thread) })
    }

    /// On: wake every period. Off: park after the current wake-up (within
    /// one period).
    pub fn set(&self, on: bool) {
        self.shared.on.store(on, Ordering::SeqCst);
        if on {
            if let Some(t) = &self.thread {
                t.thread().unpark();
            }
        }
    }

    /// Wake-ups so far.
    pub fn wakes(&self) -> u64 {
        self.shared.wakes.load(Ordering::Relaxed)
    }

    /// Stop the thread; the number of wake-ups it had.
    pub fn finish(mut self) -> Res<u64> {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> Res<u64> {
        let Some(t) = self.thread.take() else { return Ok(0) };
        self.shared.stop.store(true, Ordering::SeqCst);
        t.thread().unpark();
        t.join().map_err(|_| "waker: the thread panicked".to_string())?
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        let _ = self.stop_thread();
    }
}

/// The scheduler tick's period: the resolution of the coarse clocks.
fn tick_ns() -> Res<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid clock id and out-pointer.
    check(unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC_COARSE, &mut ts) }, "clock_getres")?;
    match ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64 {
        0 => Err("waker: the coarse clock has no resolution".into()),
        ns => Ok(ns),
    }
}

/// `tick_ns` 0: a period from now; else as `Tick::On` says.
fn wake_loop(sh: &Shared, tfd: &Fd, ep: &Fd, period: Duration, tick_ns: u64) -> Res<u64> {
    let period_ns = period.as_nanos() as u64;
    while !sh.stop.load(Ordering::SeqCst) {
        if !sh.on.load(Ordering::SeqCst) {
            std::thread::park();
            continue;
        }
        let (flags, at) = match tick_ns {
            0 => (0, period_ns),
            t => {
                let now = monotonic_ns();
                let end = now + period_ns;
                let on_tick = end - end % t;
                (libc::TFD_TIMER_ABSTIME, if on_tick >= now + period_ns.div_ceil(2) { on_tick } else { end })
            }
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec { tv_sec: (at / 1_000_000_000) as _, tv_nsec: (at % 1_000_000_000) as _ },
        };
        // SAFETY: fds owned by this thread's caller for its whole life.
        check(unsafe { libc::timerfd_settime(tfd.0, flags, &spec, std::ptr::null_mut()) }, "timerfd_settime")?;
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let n = unsafe { libc::epoll_wait(ep.0, &mut ev, 1, -1) };
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            check(n, "epoll_wait")?;
        }
        let mut expirations = 0u64;
        // EAGAIN after an EINTR is fine: nothing to clear.
        unsafe { libc::read(tfd.0, (&mut expirations as *mut u64).cast(), 8) };
        sh.wakes.fetch_add(1, Ordering::Relaxed);
    }
    Ok(sh.wakes.load(Ordering::Relaxed))
}
