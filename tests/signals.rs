//! Signals: the kernel's verifier gives up with EAGAIN when the loading
//! thread has a signal pending, and a process that spawns children gets a
//! SIGCHLD per child. A tracer must load anyway, and a reader interrupted by
//! signals must keep delivering.
mod common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use exectrace::{Tracer, TracerOpts};

extern "C" fn count_signal(_: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::Relaxed);
}

static SIGNALS: AtomicU64 = AtomicU64::new(0);

fn install_handler() {
    // SAFETY: a handler that only does an atomic add; no SA_RESTART, so an
    // interrupted call returns EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = count_signal as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut()), 0);
    }
}

fn gettid() -> libc::pid_t {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// Sends SIGUSR2 to thread `tid` every `every` until dropped.
struct Shower {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Shower {
    fn start(tid: libc::pid_t, every: Duration) -> Shower {
        install_handler();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = 0;
            while !s.load(Ordering::Relaxed) {
                // SAFETY: tgkill to a live thread of this process.
                unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR2) };
                sent += 1;
                if !every.is_zero() {
                    std::thread::sleep(every);
                }
            }
            sent
        });
        Shower {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Shower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_tracer_loads_while_its_thread_is_showered_with_signals() {
    // Whether BPF loads here at all (else skip), before the shower.
    let Some(first) = default_tracer() else {
        return;
    };
    // Back to back: a signal is pending at almost any moment of the load.
    let shower = Shower::start(gettid(), Duration::ZERO);
    let before = SIGNALS.load(Ordering::Relaxed);
    let mut tracers = vec![first];
    for i in 0..3 {
        let t = Tracer::new(&TracerOpts::default())
            .unwrap_or_else(|e| panic!("load {i} under a shower of signals: {e}"));
        tracers.push(t);
    }
    let sent = shower.stop();
    let handled = SIGNALS.load(Ordering::Relaxed) - before;
    assert!(sent > 10, "the shower sent only {sent} signals");
    assert!(handled > 0, "no signal reached the loading thread");

    let m = marker("signals-load");
    run(Command::new("/bin/true").arg(&m));
    for t in &tracers {
        assert!(find_marker(t, &m).is_some(), "no event for {m}");
    }
}

#[test]
fn a_reader_interrupted_by_signals_keeps_delivering() {
    let Some(t) = default_tracer() else { return };
    let t = Arc::new(t);
    let m = marker("signals-read");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let t = t.clone();
        let m = m.clone();
        std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            // Until all 20 came, or a deadline far beyond what they take
            // (also under emulation, where the shower slows everything).
            let mut got = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while got < 20 && std::time::Instant::now() < deadline {
                if find(&t, Duration::from_secs(1), |e| is_marked(e, &m)).is_some() {
                    got += 1;
                }
            }
            got
        })
    };
    let shower = Shower::start(rx.recv().unwrap(), Duration::from_micros(200));
    for _ in 0..20 {
        run(Command::new("/bin/true").arg(&m));
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = join_within(reader, Duration::from_secs(180));
    let sent = shower.stop();
    assert!(sent > 10, "the shower sent only {sent} signals");
    assert_eq!(
        got, 20,
        "events for {m} with the reader showered with signals"
    );
}
