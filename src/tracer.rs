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
use std::cell::RefCell;
use std::mem::{offset_of, size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject, PrintLevel};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::event::{Event, EventRef};
use crate::opts::{Hooks, TracerOpts};
use crate::ringbuf::RingReader;
use crate::skel::types::bss as Bss;
use crate::skel::ExectraceSkelBuilder;
use crate::sys::{self, SharedMapping};

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

/// Scratch slots per CPU in the BPF program: one, plus one for a program
/// preempted on the same CPU (with BPF atomics; one without).
const SLOTS_PER_CPU: u32 = 2;

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
}

/// What a running tracer keeps of the BPF object after load: the links and
/// mappings of the ring and the .bss (the drop counters and the program's
/// fd are in `Tracer`). libbpf's object, with its map, program and BTF fds,
/// is closed once attached: every open fd of a process is copied into each
/// child it spawns and closed again at the child's exec, ~0.2 µs per fd per
/// exec on a 2-core VM when the tracing process is the one that spawns.
struct Loaded {
    /// One per attached program; closing them detaches. Dropped first.
    _links: Vec<OwnedFd>,
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

thread_local! {
    static LIBBPF_LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// libbpf's messages go to the thread that caused them, to explain a failed
/// load in the error, instead of to stderr.
fn capture_libbpf_log(_level: PrintLevel, msg: String) {
    LIBBPF_LOG.with(|l| {
        let mut l = l.borrow_mut();
        if l.len() >= 64 {
            l.remove(0);
        }
        l.push(msg.trim_end().to_string());
    });
}

fn take_libbpf_log() -> String {
    LIBBPF_LOG.with(|l| std::mem::take(&mut *l.borrow_mut()).join("\n"))
}

fn errno_of(e: &libbpf_rs::Error) -> i32 {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if let Some(n) = io.raw_os_error() {
                return n;
            }
        }
        src = s.source();
    }
    // libbpf-rs keeps the io::Error out of the source chain: its kind is
    // what is left of the errno.
    use libbpf_rs::ErrorKind as K;
    match e.kind() {
        K::PermissionDenied => libc::EPERM,
        K::NotFound => libc::ENOENT,
        K::AlreadyExists => libc::EEXIST,
        K::WouldBlock => libc::EAGAIN,
        K::Interrupted => libc::EINTR,
        K::TimedOut => libc::ETIMEDOUT,
        K::Unsupported => libc::EOPNOTSUPP,
        K::TooBig => libc::E2BIG,
        K::OutOfMemory => libc::ENOMEM,
        _ => libc::EINVAL,
    }
}

fn load_error(what: &str, e: libbpf_rs::Error) -> Error {
    let errno = errno_of(&e);
    let log = take_libbpf_log();
    let tail: Vec<&str> = log.lines().rev().take(12).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    let message = format!("{what}: {e}\n{}", tail.join("\n"));
    match errno {
        libc::EPERM | libc::EACCES => Error::PermissionDenied(format!(
            "{message}\n(needs root, or CAP_BPF and CAP_PERFMON; a locked-down kernel or \
             seccomp policy can also refuse bpf())"
        )),
        _ => Error::Load { errno, message },
    }
}

/// The running kernel has the `sched_prepare_exec` tracepoint (6.10+).
fn has_prepare_exec_tracepoint() -> bool {
    match libbpf_rs::btf::Btf::from_vmlinux() {
        Ok(btf) => btf
            .type_by_name::<libbpf_rs::btf::types::Typedef<'_>>("btf_trace_sched_prepare_exec")
            .is_some(),
        Err(_) => false,
    }
}

impl Tracer {
    /// Load the BPF program with `opts` and start tracing. While the kernel
    /// verifies the program (milliseconds) the calling thread holds back
    /// asynchronous signals, which arrive once that is done: a pending
    /// signal makes the verifier give up.
    pub fn new(opts: &TracerOpts) -> Result<Tracer> {
        static PRINT: Once = Once::new();
        PRINT.call_once(|| {
            libbpf_rs::set_print(Some((PrintLevel::Warn, capture_libbpf_log)));
        });
        opts.validate()?;
        sys::preflight()?;
        take_libbpf_log();

        let cgroup = opts.cgroup.as_deref().map(sys::open_cgroup2).transpose()?;
        let (loaded, ring_fd, drops, prog_fd) = load(opts, cgroup.as_ref())?;

        let epoll = sys::epoll_create()?;
        let timer = sys::timerfd()?;
        // The ring's fd is not kept: `loaded.ring` maps the ring, which holds
        // its file open, and an epoll entry lasts as long as its file does.
        sys::epoll_add(&epoll, ring_fd.as_raw_fd())?;
        drop(ring_fd);
        sys::epoll_add(&epoll, timer.as_raw_fd())?;
        Ok(Tracer {
            closed: AtomicBool::new(false),
            state: Mutex::new(Some(loaded)),
            epoll,
            timer,
            events: AtomicU64::new(0),
            malformed: AtomicU64::new(0),
            drops,
            prog_fd,
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
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut guard = match deadline {
            None => self.state.lock(),
            Some(d) => match self.state.try_lock_until(d) {
                Some(g) => g,
                None if self.closed.load(Ordering::Acquire) => return Err(Error::Closed),
                None => return Ok(0),
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
            let wait_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            sys::epoll_wait(&self.epoll, wait_ms)?;
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
        sys::timerfd_set(&self.timer, Some(Duration::from_nanos(1)));
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
        let due = self.armed_until.map(|t| sys::monotonic_ns() >= t);
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
        } else if due == Some(true) && sys::timerfd_fired(timer) {
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
        let at = linger_deadline(sys::monotonic_ns(), linger, self.tick_ns);
        self.armed_until = Some(at);
        sys::timerfd_set_at(timer, at);
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

/// The running state, the ring's fd (for the epoll set), the drop counters,
/// the program's fd.
type LoadOutput = (Loaded, OwnedFd, DropCounters, OwnedFd);

fn load(opts: &TracerOpts, cgroup: Option<&OwnedFd>) -> Result<LoadOutput> {
    // The object lives only while loading: see `Loaded`.
    let mut object = MaybeUninit::<OpenObject>::uninit();
    let mut open = ExectraceSkelBuilder::default()
        .open(&mut object)
        .map_err(|e| load_error("opening the BPF object", e))?;

    let ncpus =
        libbpf_rs::num_possible_cpus().map_err(|e| load_error("counting possible CPUs", e))? as u32;
    let rodata = open
        .maps
        .rodata_data
        .as_deref_mut()
        .expect("the BPF object has read-only knobs");
    let default_argv_cap = rodata.argv_cap;
    rodata.argv_cap = opts.argv_budget;
    rodata.wakeup_ns = opts.wakeup_latency.as_nanos() as u64;
    let atomics = opts.hooks == Hooks::Auto && sys::kernel_at_least(5, 12);
    let slots = if atomics { SLOTS_PER_CPU } else { 1 };
    rodata.no_atomics = !atomics;
    // Same kernels (5.12+) and the same test switch (Hooks::Fallback).
    rodata.stack_records = atomics;
    rodata.slots_per_cpu = slots;
    rodata.nr_cpus = ncpus;
    rodata.filter_pid_ns = opts.pid_ns.unwrap_or(0);
    rodata.filter_uid = opts.uid.unwrap_or(0);
    rodata.filter_uid_on = opts.uid.is_some();
    rodata.filter_cgroup_on = cgroup.is_some();

    let map_err = |e| load_error("sizing the BPF maps", e);
    open.maps
        .events
        .set_max_entries(opts.ring_size)
        .map_err(map_err)?;
    // The scratch slot's size follows the argv budget (see SCRATCH_SIZE in the program).
    let slot_size = open.maps.scratch.value_size() - default_argv_cap + opts.argv_budget;
    open.maps
        .scratch
        .set_value_size(slot_size)
        .map_err(map_err)?;
    open.maps
        .scratch
        .set_max_entries(ncpus * slots)
        .map_err(map_err)?;
    // The program's DROP_STRIDE entries, per CPU.
    let drop_stride = open.maps.drops.max_entries();
    open.maps
        .drops
        .set_max_entries(ncpus * drop_stride)
        .map_err(map_err)?;
    // The program's COMM_SLOTS entries, per CPU.
    let comm_slots = open.maps.comm_slots.max_entries();
    open.maps
        .comm_slots
        .set_max_entries(ncpus * comm_slots)
        .map_err(map_err)?;

    let prepare = opts.hooks == Hooks::Auto && has_prepare_exec_tracepoint();
    open.progs.prepare_exec.set_autoload(prepare);
    open.progs.task_rename_fallback.set_autoload(!prepare);
    if opts.include_failed && !cfg!(target_arch = "x86_64") {
        return Err(Error::KernelTooOld(
            "failed-exec reporting is implemented for x86_64 only".into(),
        ));
    }
    if opts.include_failed && !sys::kernel_at_least(5, 11) {
        return Err(Error::KernelTooOld(
            "failed-exec reporting needs Linux 5.11+ (bpf_get_current_task_btf)".into(),
        ));
    }
    open.progs.sys_exit.set_autoload(opts.include_failed);

    let held = sys::SignalsHeld::new();
    let mut skel = open
        .load()
        .map_err(|e| load_error("loading the BPF program", e))?;
    drop(held);
    if let Some(cg) = cgroup {
        let fd = cg.as_raw_fd() as u32;
        skel.maps
            .cgroup_filter
            .update(&0u32.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| load_error("setting the cgroup filter", e))?;
    }
    skel.attach()
        .map_err(|e| load_error("attaching the BPF programs", e))?;

    // Keep our own fds of what the tracer uses from now on; the object and
    // its fds go when `skel` is dropped below (the kernel objects live on,
    // held by these fds and the links' references).
    let io = |what: &'static str| move |e| Error::io(what, e);
    let dup = |fd: BorrowedFd<'_>, what| fd.try_clone_to_owned().map_err(io(what));
    let mut links = Vec::new();
    for link in [
        &skel.links.prepare_exec,
        &skel.links.task_rename_fallback,
        &skel.links.process_exec,
        &skel.links.sys_exit,
    ]
    .into_iter()
    .flatten()
    {
        // A raw tracepoint link lives while any fd of it is open: dropping
        // the skeleton closes libbpf's, ours keeps the program attached.
        links.push(dup(link.as_fd(), "dup of a link fd")?);
    }
    let ring_fd = dup(skel.maps.events.as_fd(), "dup of the ring buffer fd")?;
    let ring = RingReader::new(ring_fd.as_fd(), opts.ring_size as usize)
        .map_err(io("mapping the ring buffer"))?;
    let bss = SharedMapping::new(skel.maps.bss.as_fd(), 0, size_of::<Bss>(), true)
        .map_err(io("mapping the program's .bss"))?;
    let drops = DropCounters {
        map: SharedMapping::new(
            skel.maps.drops.as_fd(),
            0,
            (ncpus * drop_stride) as usize * 8,
            false,
        )
        .map_err(io("mapping the drop counters"))?,
        cpus: ncpus as usize,
        stride: drop_stride as usize,
    };
    let prog_fd = dup(skel.progs.process_exec.as_fd(), "dup of the program fd")?;
    drop(skel);
    let linger = (!opts.wakeup_latency.is_zero()).then_some(opts.wakeup_latency);
    Ok((
        Loaded {
            _links: links,
            ring,
            bss,
            linger,
            active: false,
            armed_until: None,
            tick_ns: sys::tick_ns(),
            consumed: 0,
        },
        ring_fd,
        drops,
        prog_fd,
    ))
}

#[cfg(test)]
mod tests {
    use super::{errno_of, linger_deadline};
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

    #[test]
    fn a_load_error_keeps_its_errno() {
        for errno in [
            libc::EAGAIN,
            libc::EINTR,
            libc::EPERM,
            libc::ENOENT,
            libc::EEXIST,
            libc::E2BIG,
            libc::ENOMEM,
            libc::EINVAL,
        ] {
            let e = libbpf_rs::Error::from(std::io::Error::from_raw_os_error(errno));
            assert_eq!(errno_of(&e), errno, "{e}");
        }
    }
}
