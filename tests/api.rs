//! The Rust API: reads, timeouts, close from another thread, stats and loss
//! accounting, polling, several tracers at once, typed errors.
mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use exectrace::{Error, Hooks, Tracer, TracerOpts};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn tracer_is_send_and_sync() {
    assert_send_sync::<Tracer>();
}

/// A tracer that matches nothing on this host (a uid nobody uses).
fn quiet_tracer() -> Option<Tracer> {
    tracer(&TracerOpts {
        uid: Some(0x7ead_beef),
        ..Default::default()
    })
}

#[test]
fn timeouts_and_try_read() {
    let Some(t) = quiet_tracer() else { return };
    let start = Instant::now();
    assert!(t
        .read_timeout(Duration::from_millis(200))
        .unwrap()
        .is_none());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(t.try_read().unwrap().is_none());
}

#[test]
fn close_from_another_thread_wakes_a_blocked_read() {
    let Some(t) = quiet_tracer() else { return };
    let t = Arc::new(t);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = {
        let t = Arc::clone(&t);
        std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            t.read()
        })
    };
    let tid = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        wait_blocked_in_epoll(tid, Duration::from_secs(10)),
        "the reader never blocked"
    );
    t.close();
    let res = join_within(reader, Duration::from_secs(10));
    assert!(matches!(res, Err(Error::Closed)), "{res:?}");
    // Idempotent, and every later call says closed.
    t.close();
    assert!(t.is_closed());
    assert!(matches!(t.read(), Err(Error::Closed)));
    assert!(matches!(t.try_read(), Err(Error::Closed)));
    assert!(matches!(
        t.read_timeout(Duration::from_millis(10)),
        Err(Error::Closed)
    ));
    // Counters stay readable after close, and nothing was traced.
    assert_eq!(t.stats().events, 0);
}

#[test]
fn close_racing_blocked_reads_1000_times() {
    // A tracer closed while its reader is anywhere between entering read()
    // and sleeping in it.
    for _ in 0..1000 {
        let Some(t) = quiet_tracer() else { return };
        let t = Arc::new(t);
        let go = Arc::new(Barrier::new(2));
        let reader = {
            let (t, go) = (Arc::clone(&t), Arc::clone(&go));
            std::thread::spawn(move || {
                go.wait();
                t.read()
            })
        };
        go.wait();
        t.close();
        assert!(matches!(reader.join().unwrap(), Err(Error::Closed)));
    }
}

#[test]
fn several_threads_reading_get_each_event_once() {
    let Some(t) = default_tracer() else { return };
    let t = Arc::new(t);
    let m = marker("multi");
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (t, m, count) = (Arc::clone(&t), m.clone(), Arc::clone(&count));
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while let Ok(ev) = t.read() {
                    if has_arg(&ev, &m) {
                        seen.push(ev.seq);
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                seen
            })
        })
        .collect();
    for _ in 0..50 {
        run(Command::new("/bin/true").arg(&m));
    }
    // All 50 arrive (or the deadline passes); a duplicate would show as more.
    wait_until(Duration::from_secs(30), || {
        count.load(std::sync::atomic::Ordering::Relaxed) >= 50
    });
    t.close();
    let mut all: Vec<u64> = readers
        .into_iter()
        .flat_map(|r| join_within(r, Duration::from_secs(10)))
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "no event delivered twice");
    assert_eq!(n, 50, "every event delivered once");
}

#[test]
fn pollable_fd_becomes_readable() {
    let Some(t) = default_tracer() else { return };
    let m = marker("poll");
    let fd = t.as_fd().as_raw_fd();
    run(Command::new("/bin/true").arg(&m));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, 1000) };
        assert!(n >= 0);
        if n == 1 {
            while let Some(ev) = t.try_read().unwrap() {
                if is_marked(&ev, &m) {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the marked event never came through poll"
        );
    }
}

#[test]
fn coalesced_and_per_event_wakeups_both_deliver_promptly() {
    for latency in [
        Duration::ZERO,
        Duration::from_millis(4),
        Duration::from_millis(50),
    ] {
        let opts = TracerOpts {
            wakeup_latency: latency,
            ..Default::default()
        };
        let Some(t) = tracer(&opts) else { return };
        let m = marker("latency");
        // Three back-to-back execs: only the first may wake the reader.
        for _ in 0..3 {
            run(Command::new("/bin/true").arg(&m));
        }
        let got = collect(&t, latency + Duration::from_millis(500), |e| has_arg(e, &m));
        assert_eq!(got.len(), 3, "latency bound {latency:?}");
        assert_eq!(t.stats().drops, 0);
    }
}

#[test]
fn try_read_loops_lose_no_wake_up_under_a_stream_of_execs() {
    // The CLI's pattern: try_read until None (each None is a drain that
    // may set the linger timer, or find it already set), then a blocking
    // read. A drain that left the program's wake-ups off without a timer
    // due would stall the read below while marked execs are pending.
    const EXECS: usize = 300;
    let opts = TracerOpts {
        wakeup_latency: Duration::from_millis(20),
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    let m = marker("stream");
    let m2 = m.clone();
    let spawner = std::thread::spawn(move || {
        for _ in 0..EXECS {
            run(Command::new("/bin/true").arg(&m2));
        }
    });
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < EXECS {
        assert!(
            Instant::now() < deadline,
            "{seen} of {EXECS} marked execs in 60 s"
        );
        while let Some(ev) = t.try_read().unwrap() {
            seen += usize::from(has_arg(&ev, &m));
        }
        if seen == EXECS {
            break;
        }
        // With a lost wake-up the read below would still find the
        // records, but only when its own timeout ends.
        let started = Instant::now();
        let got = t.read_timeout(Duration::from_secs(3)).unwrap();
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(2),
            "a read waited {waited:?} with {seen} of {EXECS} marked execs received"
        );
        if let Some(ev) = got {
            seen += usize::from(has_arg(&ev, &m));
        }
    }
    spawner.join().unwrap();
    assert_eq!(t.stats().drops, 0);
}

#[test]
fn drops_are_counted_exactly() {
    // A ring of a few dozen records that nobody reads while 200 execs of a
    // dedicated uid happen: received + dropped == spawned. On both code
    // paths (with BPF atomics, and the pre-5.12 one).
    for (uid, hooks) in [(4322, Hooks::Auto), (4330, Hooks::Fallback)] {
        let opts = TracerOpts {
            uid: Some(uid),
            ring_size: 16 * 1024,
            argv_budget: 1024,
            hooks,
            ..Default::default()
        };
        let Some(t) = tracer(&opts) else { return };
        let m = marker("drops");
        for _ in 0..200 {
            run(command_as("/bin/true", None, Some((uid, uid))).arg(&m));
        }
        let got = collect(&t, Duration::from_secs(1), |e| has_arg(e, &m));
        let s = t.stats();
        assert!(s.drops > 0, "{hooks:?}: the tiny ring must overflow: {s:?}");
        assert_eq!(got.len() as u64 + s.drops, 200, "{hooks:?}: {s:?}");
        assert_eq!(s.events, got.len() as u64);
        // Sequence numbers count delivered and dropped events alike.
        assert!(got.iter().all(|e| e.seq < 200), "{hooks:?}");
    }
}

#[test]
fn sixteen_tracers_each_see_every_matching_exec() {
    let mut ts = Vec::new();
    for i in 0..16 {
        let opts = if i % 2 == 0 {
            TracerOpts::default()
        } else {
            TracerOpts {
                uid: Some(0),
                ..Default::default()
            }
        };
        match tracer(&opts) {
            Some(t) => ts.push(t),
            None => return,
        }
    }
    let m = marker("sixteen");
    run(Command::new("/bin/true").arg(&m));
    for (i, t) in ts.iter().enumerate() {
        let ev = find_marker(t, &m).unwrap_or_else(|| panic!("tracer {i} missed the exec"));
        assert_eq!(ev.argv.len(), 2);
    }
}

#[test]
fn bad_options_are_rejected_with_a_clear_error() {
    let cases = [
        TracerOpts {
            ring_size: 12345,
            ..Default::default()
        },
        TracerOpts {
            ring_size: 8192,
            ..Default::default()
        },
        TracerOpts {
            argv_budget: 0,
            ..Default::default()
        },
        TracerOpts {
            argv_budget: 64 << 20,
            ..Default::default()
        },
        TracerOpts {
            wakeup_latency: Duration::from_secs(60),
            ..Default::default()
        },
        TracerOpts {
            pid_ns: Some(0),
            ..Default::default()
        },
    ];
    for opts in cases {
        match Tracer::new(&opts) {
            Err(Error::InvalidArgument(msg)) => assert!(!msg.is_empty()),
            other => panic!("{opts:?}: {other:?}"),
        }
    }
}

#[test]
fn a_detached_tracer_sees_nothing_until_attached_again() {
    let Some(t) = default_tracer() else { return };
    t.set_attached(false).unwrap();
    t.set_attached(false).unwrap();
    let off = marker("detached");
    run(Command::new("/bin/true").arg(&off));
    t.set_attached(true).unwrap();
    t.set_attached(true).unwrap();
    let on = marker("reattached");
    run(Command::new("/bin/true").arg(&on));
    // A record of the first exec would come before the second's.
    let mut saw_off = false;
    let found = find(&t, Duration::from_secs(10), |e| {
        saw_off |= is_marked(e, &off);
        is_marked(e, &on)
    });
    assert!(found.is_some(), "the exec after re-attaching is seen");
    assert!(!saw_off, "the exec while detached is not");
    t.close();
    assert!(matches!(t.set_attached(true), Err(Error::Closed)));
}

#[test]
fn read_many_takes_ready_events_in_one_call_and_leaves_refused_ones() {
    let uid = 1_500_000_000 + std::process::id() % 400_000_000;
    let Some(t) = common::tracer(&TracerOpts {
        uid: Some(uid),
        ..Default::default()
    }) else {
        return;
    };
    let marks: Vec<String> = (0..5)
        .map(|i| common::marker(&format!("many{i}")))
        .collect();
    for m in &marks {
        common::run(common::command_as("/bin/true", None, Some((uid, uid))).arg(m));
    }
    let arg1 = |ev: &exectrace::EventRef<'_>| ev.args().nth(1).map(<[u8]>::to_vec);
    // Refusing the first event takes nothing, and leaves it for the next read.
    let mut seen = Vec::new();
    let n = t
        .read_many(Some(Duration::from_secs(10)), 10, |ev| {
            seen.push(arg1(ev));
            false
        })
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(seen, vec![Some(marks[0].clone().into_bytes())]);
    // At most `max`, then the rest (all ready by now) in one call; the
    // one refused after others waits for the call after.
    let mut got = Vec::new();
    let mut take = |max: usize, refuse_at: usize| {
        let mut k = 0;
        t.read_many(Some(Duration::from_secs(10)), max, |ev| {
            k += 1;
            if k == refuse_at {
                return false;
            }
            got.push(arg1(ev).unwrap());
            true
        })
        .unwrap()
    };
    assert_eq!(take(2, 0), 2);
    assert_eq!(take(10, 2), 1);
    assert_eq!(take(10, 0), 2);
    let want: Vec<Vec<u8>> = marks.iter().map(|m| m.clone().into_bytes()).collect();
    assert_eq!(got, want);
    assert_eq!(t.read_many(Some(Duration::ZERO), 10, |_| true).unwrap(), 0);
    assert_eq!(t.stats().events, 5);
    t.close();
    assert!(matches!(
        t.read_many(None, 10, |_| true),
        Err(exectrace::Error::Closed)
    ));
}
