//! The tracer: load and attach the BPF program, then read events.
//!
//! Waiting: the reader sleeps in epoll on two fds: the ring buffer and a
//! one-shot timerfd, which `close` also sets to fire at once. After draining
//! the ring the reader arms the timer to fire within `wakeup_latency`
//! (unless it is already set and not yet due; on a scheduler tick when one
//! falls late enough, see `linger_deadline`) and says so in the program's
//! `reader_lingering` flag; while it is set the program writes records
//! without waking anyone, and the timer collects them. The reader
//! goes idle (flag cleared, no timer) only when every sequence number the
//! program took is accounted for, consumed or dropped; a record numbered
//! after that wakes it at once (see wake_flags() in the program). Bounded
//! latency, one wake-up per `wakeup_latency` under load, none while idle.
//! The same epoll fd is what `as_fd()` hands to event loops.
use std::mem::offset_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::event::{Event, EventRef};
use crate::fd::{self, SharedMapping};
use crate::host;
use crate::links::Links;
use crate::load;
use crate::opts::TracerOpts;
use crate::ringbuf::RingReader;
use crate::skel::types::bss as Bss;

/// Counters of one tracer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events handed to the caller.
    pub events: u64,
    /// Events the kernel could not deliver (ring full), summed over CPUs.
    pub drops: u64,
    /// Records that failed to decode and were skipped (a bug if ever non-zero).
    pub malformed: u64,
}

/// Traces execs. `Send + Sync`: share it (e.g. in an `Arc`) to `close()` it
/// from another thread while one thread blocks in `read()`. Reads are
/// serialised: with several reading threads each event goes to exactly one.
pub struct Tracer {
    closed: AtomicBool,
    state: Mutex<Option<Loaded>>,
    epoll: OwnedFd,
    /// The linger timer; `close` sets it to fire at once to wake readers.
    /// Outside `state`, which a blocked reader holds.
    timer: OwnedFd,
    events: AtomicU64,
    malformed: AtomicU64,
    /// Kept outside `state` so stats() does not wait for a blocked reader.
    drops: DropCounters,
    prog_fd: OwnedFd,
    /// Outside `state`, which a blocked reader holds.
    links: Mutex<Links>,
}

/// The reader's state: what it keeps of the attached program (see
/// `load::Attached`; the drop counters and the program's fd are in
/// `Tracer`) and where it is in the wake-up protocol.
struct Loaded {
    ring: RingReader,
    /// The program's .bss: `next_seq` and `reader_lingering`.
    bss: SharedMapping,
    linger: Option<Duration>,
    /// Records were consumed since the ring was last seen empty.
    active: bool,
    /// While the linger timer is set and has not been seen to fire: when
    /// it fires (CLOCK_MONOTONIC ns).
    armed_until: Option<u64>,
    /// The scheduler tick's period in ns, 0 if unknown.
    tick_ns: u64,
    /// Records taken off the ring, malformed ones included.
    consumed: u64,
}

impl Tracer {
    /// Load the BPF program with `opts` and start tracing. While the kernel
    /// verifies the program (milliseconds) the calling thread holds back
    /// asynchronous signals, which arrive once that is done: a pending
    /// signal makes the verifier give up.
    pub fn new(opts: &TracerOpts) -> Result<Tracer> {
        opts.validate()?;
        host::preflight()?;
        let cgroup = opts.cgroup.as_deref().map(host::open_cgroup2).transpose()?;
        let a = load::load(opts, cgroup.as_ref())?;

        let epoll = fd::epoll_create()?;
        let timer = fd::timerfd()?;
        // The ring's fd is not kept: `a.ring` maps the ring, which holds its
        // file open, and an epoll entry lasts as long as its file does.
        fd::epoll_add(&epoll, a.ring_fd.as_raw_fd())?;
        drop(a.ring_fd);
        fd::epoll_add(&epoll, timer.as_raw_fd())?;
        let loaded = Loaded {
            ring: a.ring,
            bss: a.bss,
            linger: (!opts.wakeup_latency.is_zero()).then_some(opts.wakeup_latency),
            active: false,
            armed_until: None,
            tick_ns: fd::tick_ns(),
            consumed: 0,
        };
        let drops = DropCounters {
            map: a.drops,
            cpus: a.cpus,
            stride: a.drop_stride,
        };
        let prog_fd = a.prog_fd;
        Ok(Tracer {
            closed: AtomicBool::new(false),
            state: Mutex::new(Some(loaded)),
            epoll,
            timer,
            events: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            drops,
            prog_fd,
            links: Mutex::new(Links::new(a.links)),
        })
    }

    /// Block until the next event.
    pub fn read(&self) -> Result<Event> {
        self.read_with(None, |e| e.to_event())
            .map(|e| e.expect("a read without deadline returns an event"))
    }

    /// Wait at most `timeout` for the next event; `Ok(None)` on timeout.
    pub fn read_timeout(&self, timeout: Duration) -> Result<Option<Event>> {
        self.read_with(Some(timeout), |e| e.to_event())
    }

    /// The next event if one is ready; never blocks. Also `Ok(None)` while
    /// another thread is reading.
    pub fn try_read(&self) -> Result<Option<Event>> {
        self.read_with(Some(Duration::ZERO), |e| e.to_event())
    }

    /// Hand the next event, borrowed from the ring buffer, to `f`: no
    /// allocation. `timeout` `None` blocks; `Some(ZERO)` never blocks.
    /// Returns `Ok(None)` on timeout and `Err(Error::Closed)` once closed.
    pub fn read_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&EventRef<'_>) -> R,
    ) -> Result<Option<R>> {
        let mut f = Some(f);
        let mut out = None;
        self.read_many(timeout, 1, |ev| {
            out = Some((f.take().expect("used once"))(ev));
            true
        })?;
        Ok(out)
    }

    /// Hand up to `max` events that are ready, borrowed from the ring one at
    /// a time, to `f`, in one turn of the reader's lock: waits (as
    /// [`read_with`](Self::read_with)) only until the first is there, then
    /// takes what is ready without waiting. `f` returns `true` when it took
    /// the event, `false` to leave it in the ring for the next read (and
    /// stop). Returns the count taken: 0 when the time ran out or `f` left
    /// the first event; `Err(Error::Closed)` once closed.
    pub fn read_many(
        &self,
        timeout: Option<Duration>,
        max: usize,
        mut f: impl FnMut(&EventRef<'_>) -> bool,
    ) -> Result<usize> {
        // The clock is read only before a wait: a read that finds its
        // events ready, the common case under load, reads no clock (a
        // tenth of the CLI's CPU per event on a VM). The deadline then
        // counts from the first wait, microseconds after the call at most.
        let mut deadline = None;
        let mut deadline_of = |t: Duration| *deadline.get_or_insert_with(|| Instant::now() + t);
        let mut guard = match timeout {
            None => self.state.lock(),
            Some(t) => match self.state.try_lock() {
                Some(g) => g,
                None => match self.state.try_lock_until(deadline_of(t)) {
                    Some(g) => g,
                    None if self.closed.load(Ordering::Acquire) => return Err(Error::Closed),
                    None => return Ok(0),
                },
            },
        };
        let mut taken = 0;
        let mut refused = false;
        loop {
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let loaded = guard.as_mut().ok_or(Error::Closed)?;
            while taken < max {
                let Some(bytes) = loaded.ring.peek() else {
                    break;
                };
                match EventRef::decode(bytes) {
                    Ok(ev) if !f(&ev) => {
                        loaded.ring.leave();
                        refused = true;
                        break;
                    }
                    Ok(_) => taken += 1,
                    // f was not called on a record that failed to decode.
                    Err(_) => {
                        self.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                loaded.ring.advance();
                loaded.active = true;
                loaded.consumed += 1;
            }
            if taken > 0 || refused || max == 0 {
                self.events.fetch_add(taken as u64, Ordering::Relaxed);
                return Ok(taken);
            }
            loaded.ring_drained(&self.timer, || self.drops.total());
            if self.closed.load(Ordering::SeqCst) {
                return Err(Error::Closed);
            }
            let wait_ms = match timeout {
                None => -1,
                Some(t) if t.is_zero() => return Ok(0),
                Some(t) => {
                    let left = deadline_of(t).saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            fd::epoll_wait(&self.epoll, wait_ms)?;
        }
    }

    /// Counters: events delivered, events dropped in the kernel.
    pub fn stats(&self) -> Stats {
        Stats {
            events: self.events.load(Ordering::Relaxed),
            drops: self.drops.total(),
            malformed: self.malformed.load(Ordering::Relaxed),
        }
    }

    /// Detach from the kernel and wake every blocked reader, which returns
    /// [`Error::Closed`]. Returns once no reader is inside. Idempotent.
    pub fn close(&self) {
        // With the check before epoll_wait in read_many(): a reader either
        // sees `closed` there or waits with this timer armed (a reader that
        // re-arms it for its linger does so before that check).
        self.closed.store(true, Ordering::SeqCst);
        fd::timerfd_set(&self.timer, Some(Duration::from_nanos(1)));
        self.links.lock().clear();
        let loaded = self.state.lock().take();
        drop(loaded);
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// File descriptor of the loaded BPF program that reports execs.
    pub fn program_fd(&self) -> BorrowedFd<'_> {
        self.prog_fd.as_fd()
    }

    /// Detach (`false`) or re-attach (`true`) the programs, keeping them
    /// and their maps loaded: for the benchmark, which switches a tracer on
    /// and off without loading in between. Not a stable API.
    #[doc(hidden)]
    pub fn set_attached(&self, on: bool) -> Result<()> {
        if self.is_closed() {
            return Err(Error::Closed);
        }
        self.links.lock().set(on)
    }
}

/// The program's per-CPU drop counters, mapped from its `drops` map.
struct DropCounters {
    map: SharedMapping,
    cpus: usize,
    /// u64s from one CPU's counter to the next (DROP_STRIDE in the program).
    stride: usize,
}

impl DropCounters {
    /// Events the program could not deliver, summed over CPUs.
    fn total(&self) -> u64 {
        (0..self.cpus)
            .map(|cpu| {
                self.map
                    .atomic_u64(cpu * self.stride * 8)
                    .load(Ordering::Relaxed)
            })
            .sum()
    }
}

impl Loaded {
    /// The ring was found empty. After consuming, linger: look again
    /// within `linger` (the timer), with the program's wake-ups off. When
    /// the timer has fired, turn wake-ups back on, then stay lingering while
    /// a numbered record is still on its way, else go idle.
    fn ring_drained(&mut self, timer: &OwnedFd, drops: impl FnOnce() -> u64) {
        let Some(linger) = self.linger else { return };
        let lingering = self.bss.atomic_u32(offset_of!(Bss, reader_lingering));
        let next_seq = self.bss.atomic_u64(offset_of!(Bss, next_seq));
        // Whether the linger timer, if set, may have fired by now.
        let due = self.armed_until.map(|t| fd::monotonic_ns() >= t);
        if self.active {
            self.active = false;
            // A timer set at an earlier drain and not yet due already looks
            // within `linger`: readers that drain several times per wake-up
            // (try_read loops) save a syscall per drain.
            if due == Some(false) {
                return;
            }
            lingering.store(1, Ordering::Relaxed);
            self.arm(timer, linger);
        } else if due == Some(true) && fd::timerfd_fired(timer) {
            lingering.store(0, Ordering::SeqCst);
            // Pairs with the program's full barrier between taking a
            // number and reading the flag (see wake_flags()).
            fence(Ordering::SeqCst);
            if next_seq.load(Ordering::SeqCst) > self.consumed + drops() {
                lingering.store(1, Ordering::Relaxed);
                self.arm(timer, linger);
            } else {
                self.armed_until = None;
            }
        }
    }

    /// Set the linger timer to fire within `linger` from now.
    fn arm(&mut self, timer: &OwnedFd, linger: Duration) {
        let at = linger_deadline(fd::monotonic_ns(), linger, self.tick_ns);
        self.armed_until = Some(at);
        fd::timerfd_set_at(timer, at);
    }
}

/// When a linger timer armed at `now` (CLOCK_MONOTONIC ns) fires: no later
/// than `now + linger`, and on a scheduler tick if one falls in the second
/// half of that time. Ticks fall on multiples of their period on that clock
/// (unless skewed by the `skew_tick` boot option), and a timer that expires
/// with the tick runs in the tick's interrupt instead of one of its own.
/// On the 2-core VM of the README, a wake-up every 4 ms takes ~49 µs from
/// a busy CPU with an interrupt of its own and ~23 µs on the tick
/// (`bench/run.sh --wake-cost`).
/// The second half, not any tick: wake-ups never come more often than
/// one per half `linger`.
fn linger_deadline(now: u64, linger: Duration, tick_ns: u64) -> u64 {
    let linger = linger.as_nanos().min(u64::MAX as u128 / 2) as u64;
    let latest = now.saturating_add(linger);
    if tick_ns != 0 {
        let on_tick = latest - latest % tick_ns;
        if on_tick >= now.saturating_add(linger.div_ceil(2)) {
            return on_tick;
        }
    }
    latest
}

/// The epoll fd: readable when an event may be ready or the tracer is
/// closed. After it polls readable, call `try_read` until it returns `None`.
impl AsFd for Tracer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("closed", &self.is_closed())
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::linger_deadline;
    use std::time::Duration;

    #[test]
    fn a_linger_ends_on_a_tick_in_its_second_half_or_at_its_bound() {
        let tick = 4_000_000;
        for linger_us in [
            1, 500, 1000, 2000, 3999, 4000, 4001, 5000, 7999, 8000, 20_000,
        ] {
            let linger = Duration::from_micros(linger_us);
            let ns = linger_us * 1000;
            let mut on_tick = 0;
            // now: a tick, just after one, and across two periods in odd steps.
            for now in (10_000_000_000u64..10_008_000_001).step_by(77_777).chain([
                10_000_000_000,
                10_000_000_001,
                10_003_999_999,
            ]) {
                let at = linger_deadline(now, linger, tick);
                assert!(
                    at <= now + ns,
                    "linger {linger_us} µs from {now}: {at} is late"
                );
                if at % tick == 0 {
                    assert!(
                        at - now >= ns.div_ceil(2),
                        "linger {linger_us} µs from {now}: {at} is early"
                    );
                    on_tick += 1;
                } else {
                    assert_eq!(at, now + ns, "linger {linger_us} µs from {now}");
                    // Only when no tick falls in the second half.
                    let last_tick = (now + ns) / tick * tick;
                    assert!(
                        last_tick < now + ns.div_ceil(2),
                        "linger {linger_us} µs from {now}: missed the tick {last_tick}"
                    );
                }
            }
            if ns >= tick / 2 {
                assert!(on_tick > 0, "linger {linger_us} µs never ended on a tick");
            }
            // Unknown period: always the bound.
            assert_eq!(linger_deadline(5, linger, 0), 5 + ns);
        }
        // The first deadline after a wake-up on a tick is the next tick.
        assert_eq!(
            linger_deadline(4_000_050_000, Duration::from_millis(4), tick),
            4_004_000_000
        );
        // Far-off and huge values do not overflow.
        assert_eq!(linger_deadline(u64::MAX - 1, Duration::MAX, tick), u64::MAX);
    }
}
