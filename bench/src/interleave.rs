//! Exec throughput of several configurations, compared in many short,
//! interleaved segments.
//!
//! On a shared VM the exec rate drifts by several percent from one second to
//! the next, so a few long runs per configuration cannot resolve a 1%
//! difference, and a fixed order (A then B) biases it. Here the spawners run
//! without a break while the configurations take turns in short segments: a
//! tracer is created before its segment and closed after it, outside the
//! timed window (`Method::Reload`), or loaded once and only attached for its
//! segments (`Method::Switch`). Blocks hold one segment per configuration, in an order that
//! alternates (A B C, C B A, ...) so that a drift within a block favours no
//! one. Each configuration is compared with the first (no tracer) of the same
//! block; the result is the median of those per-block ratios with a
//! bootstrap 95% confidence interval. A second no-tracer configuration
//! measures the method itself: its ratio should be 1, within its interval.
use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exectrace::TracerOpts;

use crate::reader::{Api, Progress, Reader, ReaderCfg};
use crate::spawner_process::SpawnerProcess;
use crate::sys::{self, Res};
use crate::waker::{Tick, Waker};

/// What an arm runs next to the spawners.
pub enum Setup {
    /// Nothing: the baseline.
    Nothing,
    /// A tracer with these options, and a thread reading it; with a period,
    /// also a thread waking on the tick that often (waker.rs), to tell the
    /// reader's wake-ups from its reads.
    Tracer(TracerOpts, Option<Duration>),
    /// No tracer: a thread waking every this long and doing nothing else
    /// (waker.rs), the cost of a reader's wake-ups alone; on the scheduler
    /// tick as the reader's are, or off it.
    Waker(Duration, Tick),
}

/// One configuration taking part.
pub struct Arm {
    pub label: String,
    pub setup: Setup,
    /// From `Tracer::new` to the timed window: loading has an after-effect
    /// that a user pays once, not per exec (see `SETTLE` in plan.rs).
    pub settle: Duration,
}

/// One timed segment of one configuration.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub execs: u64,
    pub secs: f64,
    /// CPU of the spawners, the reader and the reaped execs (with the BPF
    /// programs that run in them), ns. Excludes time stolen by the
    /// hypervisor.
    pub cpu_ns: u64,
    /// Local timer interrupts on all CPUs, where the kernel counts them.
    pub timer_irqs: Option<u64>,
    /// CPU time idle and stolen by the hypervisor, all CPUs, ns; and the
    /// CPUs' time in the segment (secs × CPUs), ns.
    pub idle_steal: Option<(u64, u64, f64)>,
}

impl Segment {
    pub fn rate(&self) -> f64 {
        self.execs as f64 / self.secs
    }
    pub fn cpu_per_exec(&self) -> f64 {
        self.cpu_ns as f64 / self.execs.max(1) as f64
    }
    pub fn timer_irq_rate(&self) -> Option<f64> {
        Some(self.timer_irqs? as f64 / self.secs)
    }
}

/// Shares of the CPUs' time (0..1) idle and stolen; `more_*` over no tracer.
#[derive(Debug, Clone, Copy)]
pub struct IdleSteal {
    pub idle: f64,
    pub steal: f64,
    pub more_idle: f64,
    pub more_steal: f64,
}

/// A median over blocks and its bootstrap 95% interval.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Estimate {
    pub fn text_pct(&self) -> String {
        format!("{:.1}% [{:.1}, {:.1}]", self.median * 100.0, self.lo * 100.0, self.hi * 100.0)
    }
}

/// `segments[arm][block]`.
pub struct Outcome {
    pub segments: Vec<Vec<Segment>>,
}

impl Outcome {
    /// Per block, `f(arm) / f(arm 0)`.
    fn ratios(&self, arm: usize, f: impl Fn(&Segment) -> f64) -> Vec<f64> {
        self.segments[arm].iter().zip(&self.segments[0]).map(|(a, b)| f(a) / f(b)).collect()
    }

    /// Exec rate relative to arm 0 (no tracer), per block.
    pub fn rate_ratio(&self, arm: usize) -> Estimate {
        estimate(&self.ratios(arm, Segment::rate))
    }

    /// CPU per exec relative to arm 0, per block.
    pub fn cpu_ratio(&self, arm: usize) -> Estimate {
        estimate(&self.ratios(arm, Segment::cpu_per_exec))
    }

    /// Median over blocks of an arm's timer interrupts per second, and of
    /// their excess over arm 0's in the same block.
    pub fn timer_irqs(&self, arm: usize) -> Option<(f64, f64)> {
        let rates = |a: usize| self.segments[a].iter().map(Segment::timer_irq_rate).collect::<Option<Vec<f64>>>();
        let (own, base) = (rates(arm)?, rates(0)?);
        let excess: Vec<f64> = own.iter().zip(&base).map(|(a, b)| a - b).collect();
        Some((crate::median(&own), crate::median(&excess)))
    }

    /// An arm's CPUs idle and stolen, as shares of the CPUs' time over all
    /// its segments (sums: /proc/stat counts in 10 ms units), and the same
    /// minus arm 0's.
    pub fn idle_steal(&self, arm: usize) -> Option<IdleSteal> {
        let share = |a: usize| {
            let (mut idle, mut steal, mut all) = (0.0, 0.0, 0.0);
            for s in &self.segments[a] {
                let (i, st, t) = s.idle_steal?;
                (idle, steal, all) = (idle + i as f64, steal + st as f64, all + t);
            }
            (all > 0.0).then(|| (idle / all, steal / all))
        };
        let ((idle, steal), (idle0, steal0)) = (share(arm)?, share(0)?);
        Some(IdleSteal { idle, steal, more_idle: idle - idle0, more_steal: steal - steal0 })
    }

    /// Median exec rate and CPU per exec of an arm over its segments.
    pub fn medians(&self, arm: usize) -> (f64, f64) {
        let s = &self.segments[arm];
        (
            crate::median(&s.iter().map(Segment::rate).collect::<Vec<_>>()),
            crate::median(&s.iter().map(Segment::cpu_per_exec).collect::<Vec<_>>()),
        )
    }
}

/// Median of `v` and a percentile-bootstrap 95% interval of it. Fixed seed:
/// the same data give the same interval.
pub fn estimate(v: &[f64]) -> Estimate {
    let median = crate::median(v);
    if v.len() < 2 {
        return Estimate { median, lo: median, hi: median };
    }
    const RESAMPLES: usize = 2000;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut sample = vec![0.0; v.len()];
    let mut medians = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for x in sample.iter_mut() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            *x = v[(rng % v.len() as u64) as usize];
        }
        medians.push(crate::median(&sample));
    }
    medians.sort_by(|a, b| a.total_cmp(b));
    Estimate { median, lo: medians[RESAMPLES * 25 / 1000], hi: medians[RESAMPLES * 975 / 1000] }
}

/// Where the spawners run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Threads of the bench, the process that also hosts the tracer.
    TracingProcess,
    /// A process of their own, as the workload of an agent would be.
    OtherProcess,
}

/// What the segments read: execs done and CPU so far.
struct Meter<'a> {
    done: &'a AtomicU64,
    other: Option<&'a SpawnerProcess>,
}

impl Meter<'_> {
    fn now(&self) -> Reading {
        let other = self.other.map_or(0, SpawnerProcess::cpu_ns);
        Reading {
            execs: self.done.load(Ordering::Relaxed),
            at: Instant::now(),
            cpu_ns: sys::process_cpu_ns() + other,
            timer_irqs: sys::timer_interrupts(),
            cpu_times: sys::cpu_times(),
        }
    }
}

struct Reading {
    execs: u64,
    at: Instant,
    cpu_ns: u64,
    timer_irqs: Option<u64>,
    cpu_times: Option<sys::CpuTimes>,
}

/// How a traced segment gets its tracer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Created `settle` before the segment, closed after it: the user's
    /// whole cost, fds and memory of an open tracer included.
    Reload,
    /// Loaded once, its reader running throughout; its programs are
    /// attached `SWITCH_GAP` before the segment and detached after it
    /// (`Handle::set_attached`). No load between segments, so they follow each
    /// other closely and many more fit in a run; an open tracer's fds and
    /// memory are in every segment, so this suits spawners in another
    /// process, which do not see them.
    Switch,
}

/// From attaching (or detaching) to the timed window: the previous
/// configuration's last wake-up and the attach itself fall in it.
pub const SWITCH_GAP: Duration = Duration::from_millis(30);

/// `blocks` blocks of one `seg`-long segment per arm, with `spawners`
/// spawners execing `child` without a break, placed as `placement` says.
pub fn run(
    child: &CStr,
    spawners: usize,
    placement: Placement,
    arms: &[Arm],
    blocks: usize,
    seg: Duration,
    method: Method,
) -> Res<Outcome> {
    let tag = crate::marker("tput");
    let mut segments: Vec<Vec<Segment>> = arms.iter().map(|_| Vec::with_capacity(blocks)).collect();
    let mut switched = match method {
        Method::Reload => Vec::new(),
        Method::Switch => {
            let t = switched_setups(arms)?;
            // Past the loads' after-effect before the first segment.
            std::thread::sleep(arms.iter().map(|a| a.settle).max().unwrap_or_default());
            t
        }
    };
    let mut blocks_of = |meter: &Meter<'_>| -> Res<()> {
        for block in 0..blocks {
            let order: Vec<usize> =
                if block % 2 == 0 { (0..arms.len()).collect() } else { (0..arms.len()).rev().collect() };
            for i in order {
                let s = match method {
                    Method::Reload => segment(&arms[i], meter, seg)?,
                    Method::Switch => switched_segment(&mut switched, i, meter, seg)?,
                };
                segments[i].push(s);
            }
        }
        Ok(())
    };
    let out = run_blocks(child, &tag, spawners, placement, &mut blocks_of);
    for setup in switched {
        setup.finish()?;
    }
    out?;
    Ok(Outcome { segments })
}

fn run_blocks(
    child: &CStr,
    tag: &CStr,
    spawners: usize,
    placement: Placement,
    blocks_of: &mut dyn FnMut(&Meter<'_>) -> Res<()>,
) -> Res<()> {
    if placement == Placement::OtherProcess {
        let p = SpawnerProcess::start(child, tag, spawners)?;
        let res = blocks_of(&Meter { done: p.done(), other: Some(&p) });
        let stopped = p.stop();
        res?;
        return stopped;
    }
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let w = crate::Work { stop: Some(&stop), done: Some(&done), ..crate::work(child, tag, spawners) };
    std::thread::scope(|s| -> Res<()> {
        let load = s.spawn(|| crate::run_work(&w));
        let res = blocks_of(&Meter { done: &done, other: None });
        stop.store(true, Ordering::Relaxed);
        let work = load.join().map_err(|_| "the spawners panicked".to_string())?;
        res?;
        let work = work?;
        match work.errors {
            0 => Ok(()),
            n => Err(format!("{n} spawn errors: {}", work.first_error.unwrap_or_default())),
        }
    })
}

/// An arm's standing setup under `Method::Switch`, switched on for its
/// segments only.
enum Switched {
    Nothing,
    /// Loaded and read throughout; attached (and its waker on) for its
    /// segments.
    Tracer(Reader, Option<Waker>),
    Waker(Waker),
}

impl Switched {
    fn set(&mut self, on: bool) -> Res<()> {
        match self {
            Switched::Nothing => Ok(()),
            Switched::Tracer(r, waker) => {
                if let Some(w) = waker {
                    w.set(on);
                }
                r.handle.set_attached(on)
            }
            Switched::Waker(w) => {
                w.set(on);
                Ok(())
            }
        }
    }

    fn events(&self) -> Option<u64> {
        match self {
            Switched::Tracer(r, ..) => Some(r.progress.events.load(Ordering::SeqCst)),
            _ => None,
        }
    }

    fn finish(self) -> Res<()> {
        match self {
            Switched::Nothing => Ok(()),
            Switched::Tracer(r, waker) => {
                if let Some(w) = waker {
                    w.finish()?;
                }
                r.finish().map(drop)
            }
            Switched::Waker(w) => w.finish().map(drop),
        }
    }
}

fn reader_cfg() -> ReaderCfg {
    ReaderCfg { api: Api::RustRef, marker: Vec::new(), collect_latency: false, seq_cap: 0 }
}

/// Per arm, its standing setup for `Method::Switch`, all off.
fn switched_setups(arms: &[Arm]) -> Res<Vec<Switched>> {
    let mut out = Vec::new();
    for arm in arms {
        out.push(match &arm.setup {
            Setup::Nothing => Switched::Nothing,
            Setup::Tracer(o, waker) => {
                let reader = Reader::start(o, reader_cfg(), Arc::new(Progress::default()))?;
                reader.handle.set_attached(false)?;
                let waker = waker.map(|p| Waker::start(p, Tick::On)).transpose()?;
                Switched::Tracer(reader, waker)
            }
            Setup::Waker(period, tick) => Switched::Waker(Waker::start(*period, *tick)?),
        });
    }
    Ok(out)
}

fn switched_segment(setups: &mut [Switched], arm: usize, meter: &Meter<'_>, seg: Duration) -> Res<Segment> {
    for (i, t) in setups.iter_mut().enumerate() {
        if i != arm {
            t.set(false)?;
        }
    }
    setups[arm].set(true)?;
    std::thread::sleep(SWITCH_GAP);
    let before: Vec<Option<u64>> = setups.iter().map(Switched::events).collect();
    let s = timed(meter, seg);
    // The switch is what the comparison rests on: check that it works. A
    // detached tracer gets nothing (the gap outlasts a wake-up bound); the
    // attached one gets our execs, give or take one bound at either end.
    for (i, t) in setups.iter().enumerate() {
        let (Some(b), Some(a)) = (before[i], t.events()) else { continue };
        let got = a - b;
        if i != arm && got != 0 {
            return Err(format!("a detached tracer received {got} events in a {} ms segment", seg.as_millis()));
        }
        if i == arm && (got as f64) < 0.8 * s.execs as f64 {
            return Err(format!("an attached tracer received {got} events for {} execs", s.execs));
        }
    }
    Ok(s)
}

fn segment(arm: &Arm, meter: &Meter<'_>, seg: Duration) -> Res<Segment> {
    let (mut reader, mut waker) = (None, None);
    match &arm.setup {
        Setup::Nothing => {}
        Setup::Tracer(o, period) => {
            reader = Some(Reader::start(o, reader_cfg(), Arc::new(Progress::default()))?);
            if let Some(p) = period {
                let w = Waker::start(*p, Tick::On)?;
                w.set(true);
                waker = Some(w);
            }
            std::thread::sleep(arm.settle);
        }
        Setup::Waker(period, tick) => {
            let w = Waker::start(*period, *tick)?;
            w.set(true);
            waker = Some(w);
        }
    }
    let s = timed(meter, seg);
    if let Some(r) = reader.take() {
        r.finish()?;
    }
    if let Some(w) = waker.take() {
        w.finish()?;
    }
    Ok(s)
}

fn timed(meter: &Meter<'_>, seg: Duration) -> Segment {
    let a = meter.now();
    std::thread::sleep(seg);
    let b = meter.now();
    let secs = (b.at - a.at).as_secs_f64();
    Segment {
        execs: b.execs - a.execs,
        secs,
        cpu_ns: b.cpu_ns - a.cpu_ns,
        timer_irqs: a.timer_irqs.zip(b.timer_irqs).map(|(x, y)| y - x),
        idle_steal: a.cpu_times.zip(b.cpu_times).map(|(x, y)| {
            (y.idle_ns.saturating_sub(x.idle_ns), y.steal_ns.saturating_sub(x.steal_ns), secs * 1e9 * y.cpus as f64)
        }),
    }
}
