//! exectrace benchmark (issue 6): what the tracer costs and whether it loses
//! anything, measured side by side in one run. See bench/README.md.
//!
//! Run as root through bench/run.sh: `bench/run.sh` (full, ~12 min),
//! `bench/run.sh --quick` (smoke test), `bench/run.sh --soak 600`.
mod consumers;
mod interleave;
mod reader;
mod report;
mod spawner_process;
mod sys;
mod wake_cost;
mod waker;

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use exectrace::TracerOpts;

use interleave::{Method, Placement};
use reader::{Api, Progress, Reader, ReaderCfg, ReaderOut};
use report::{row, thousands, Json, Row, Verdict};
use sys::{Noop, Res, TracerProgs};
use waker::Tick;

/// The program that runs once per exec; its run count is the exec count.
const EXEC_PROG: &str = "process_exec";

/// From a tracer's load to its throughput segment. For ~50 ms after
/// `Tracer::new` returns, execs run ~25% slower, then a few % slower for a
/// few hundred ms (25 ms bins, tracer vs none, 2 spawners). In 5 of 6
/// interleaved comparisons a segment timed 300 ms after the load read
/// 0.2-5% slower than one timed 1 or 2 s after, in the 6th 3% faster
/// (`--settle-check`): at the noise of this VM, so the longer wait. An
/// after-effect of loading, paid once, not a cost per exec.
const SETTLE: Duration = Duration::from_millis(1000);

/// A real command for one more throughput row: what a workload of
/// ordinary commands pays (the dynamic loader, libc and its pages, on top
/// of the exec the no-op is).
const REAL_COMMAND: &CStr = c"/usr/bin/true";
const REAL_COMMAND_WHAT: &str = "coreutils, dynamically linked";

struct Plan {
    mode: &'static str,
    /// Throughput (1): interleaved blocks with 1 and with 2 spawners in
    /// this process, with 2 in a process of their own, and the same with
    /// the tracers switched on and off instead of reloaded, and switched
    /// again with a real command as the child (`REAL_COMMAND`); the length
    /// of one segment.
    tput_blocks: [usize; 5],
    tput_seg: Duration,
    /// From a tracer's load to its segment (see `SETTLE`).
    tput_settle: Duration,
    /// Traced runs at full rate (2 spawners) for in-kernel time, reader CPU
    /// and latency under load (2, 4, 5): rounds, and seconds per run.
    rounds: usize,
    run_secs: f64,
    burst_per_spawner: u64,
    cost_rounds: usize,
    cost_secs: f64,
    /// What one wake-up costs a busy CPU (wake_cost.rs): rounds, and the
    /// length of each of a round's three windows.
    wake_rounds: usize,
    wake_window: Duration,
    lat_rounds: usize,
    lat_events: u64,
    pace: Duration,
    startup_n: usize,
    soak_secs: u64,
    soak_interval: u64,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            mode: "full",
            tput_blocks: [24, 40, 40, 200, 100],
            tput_seg: Duration::from_millis(250),
            tput_settle: SETTLE,
            rounds: 3,
            run_secs: 2.0,
            burst_per_spawner: 20_000,
            cost_rounds: 3,
            cost_secs: 2.0,
            wake_rounds: 60,
            wake_window: Duration::from_millis(200),
            lat_rounds: 3,
            lat_events: 1000,
            pace: Duration::from_millis(2),
            startup_n: 20,
            soak_secs: 60,
            soak_interval: 10,
        }
    }
    fn quick() -> Plan {
        Plan {
            mode: "quick",
            tput_blocks: [2, 3, 3, 3, 3],
            tput_seg: Duration::from_millis(100),
            tput_settle: Duration::from_millis(300),
            rounds: 1,
            run_secs: 0.3,
            burst_per_spawner: 2_000,
            cost_rounds: 1,
            cost_secs: 0.3,
            wake_rounds: 2,
            wake_window: Duration::from_millis(200),
            lat_rounds: 1,
            lat_events: 200,
            pace: Duration::from_millis(2),
            startup_n: 5,
            soak_secs: 6,
            soak_interval: 2,
        }
    }
}

struct Args {
    quick: bool,
    /// Nice value for the reading threads (default: inherited).
    reader_nice: Option<i32>,
    /// Only run a workload for profiling: (seconds, configuration).
    workload: Option<(u64, Conf)>,
    /// Spawners of the --workload mode.
    workload_spawners: usize,
    soak_only: Option<u64>,
    /// Only the throughput comparison (1).
    throughput_only: bool,
    /// Only the CPU per event of each consumer (4), with its own untraced
    /// and BPF baselines.
    consumers_only: bool,
    /// Only what a wake-up costs a busy CPU (4c), printed.
    wake_cost_only: bool,
    blocks: Option<usize>,
    switch_blocks: Option<usize>,
    /// Add a throughput arm whose segment starts 300 ms after its load.
    settle_check: bool,
    decompose: bool,
    rounds: Option<usize>,
    out: std::path::PathBuf,
}

fn usage() -> &'static str {
    r#"usage: exectrace-bench [--quick] [--soak SECONDS] [--rounds N] [--out DIR]

(default)        full run, about 12 minutes on 2 cores: every measurement of issue 6
--quick          short smoke-test run (well under a minute); numbers are rough;
                 writes results/quick.md and quick.json, not latest.*
--soak SECONDS   only the soak: highest exec rate with a default tracer for
                 SECONDS, drops and RSS every 10 s (results/soak.md, soak.json)
--throughput     only the exec throughput comparison (1)
--consumers      only the CPU per event of each consumer (4: Rust, C, Go, Python,
                 the CLI), with a short untraced and traced baseline; about 2 min
                 (results/consumers.md, consumers.json)
--wake-cost      only what one wake-up costs a busy CPU, on and off the
                 scheduler tick (row 4), printed; about 45 s
--blocks N       interleaved throughput blocks with 2 spawners, tracers loaded per segment (default 40; quick 3)
--switch-blocks N  blocks of the attach/detach comparison (default 200; quick 3)
--settle-check   one more throughput configuration: defaults, timed 300 ms after
                 the load instead of 1 s (what the load's after-effect weighs)
--decompose      four more configurations in the switched comparison: a 20 ms bound,
                 alone and with a thread waking on the tick every 4 ms, and no
                 tracer but that thread, on the scheduler tick as the reader does
                 (the wake-ups' share) and off it (a timer interrupt per wake-up)
--rounds N       traced full-rate runs for in-kernel time, reader CPU, latency (default 3; quick 1)
--out DIR        where latest.md / latest.json go (default: bench/results)
--workload SECONDS [--config none|defaults|wake-per-event] [--spawners N]
                 no measurement: N (2) spawners at full rate with a draining reader,
                 to profile, e.g. perf record -a -g -- <this> --workload 10
--reader-nice N  run the reading threads at nice N (e.g. -10)
Needs root (BPF, kernel.bpf_stats_enabled, a dedicated uid for the children)."#
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        quick: false,
        reader_nice: None,
        workload: None,
        soak_only: None,
        throughput_only: false,
        consumers_only: false,
        wake_cost_only: false,
        settle_check: false,
        decompose: false,
        workload_spawners: 2,
        blocks: None,
        switch_blocks: None,
        rounds: None,
        out: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{}", usage()));
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--soak" => {
                let v = val("--soak")?;
                let s: u64 = v.parse().map_err(|_| format!("--soak: not a number of seconds: {v}"))?;
                if s < 20 {
                    return Err("--soak needs at least 20 seconds (10 s warm-up, then 10 s samples)".into());
                }
                a.soak_only = Some(s);
            }
            "--throughput" => a.throughput_only = true,
            "--consumers" => a.consumers_only = true,
            "--wake-cost" => a.wake_cost_only = true,
            "--settle-check" => a.settle_check = true,
            "--decompose" => a.decompose = true,
            "--blocks" => {
                let v = val("--blocks")?;
                a.blocks = Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--blocks: bad value {v}"))?);
            }
            "--switch-blocks" => {
                let v = val("--switch-blocks")?;
                a.switch_blocks =
                    Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--switch-blocks: bad value {v}"))?);
            }
            "--rounds" => {
                let v = val("--rounds")?;
                a.rounds = Some(v.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--rounds: bad value {v}"))?);
            }
            "--out" => a.out = val("--out")?.into(),
            "--reader-nice" => {
                let v = val("--reader-nice")?;
                a.reader_nice = Some(v.parse().map_err(|_| format!("--reader-nice: not a number: {v}"))?);
            }
            "--workload" => {
                let v = val("--workload")?;
                let secs = v.parse().map_err(|_| format!("--workload: not a number of seconds: {v}"))?;
                a.workload = Some((secs, a.workload.map_or(Conf::Defaults, |w| w.1)));
            }
            "--config" => {
                let v = val("--config")?;
                let c = match v.as_str() {
                    "none" => Conf::NoTracer,
                    "defaults" => Conf::Defaults,
                    "wake-per-event" => Conf::WakeEach,
                    _ => return Err(format!("--config: none, defaults or wake-per-event, not {v}")),
                };
                a.workload = Some((a.workload.map_or(10, |w| w.0), c));
            }
            "--spawners" => {
                let v = val("--spawners")?;
                a.workload_spawners =
                    v.parse().ok().filter(|&n| n > 0).ok_or_else(|| format!("--spawners: bad value {v}"))?;
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    Ok(a)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--spawner-process") {
        // Internal: the spawners of a throughput run in their own process.
        if let Err(e) = spawner_process::child_main(&args[2..]) {
            eprintln!("exectrace-bench --spawner-process: error: {e}");
            std::process::exit(2);
        }
        std::process::exit(0);
    }
    let code = match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("exectrace-bench: error: {e}");
            2
        }
    };
    sys::restore_bpf_stats();
    std::process::exit(code);
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

// ---------------------------------------------------------------- workload

struct Work<'a> {
    noop: &'a CStr,
    marker: &'a CStr,
    spawners: usize,
    /// Execs per spawner; 0 = until `stop` or `duration`.
    per_spawner: u64,
    /// Stop after this long (from the release of the spawners).
    duration: Option<Duration>,
    uid: Option<u32>,
    /// Mean pause between execs (uniform in [pace/4, 7*pace/4]).
    pace: Option<Duration>,
    stop: Option<&'a AtomicBool>,
    done: Option<&'a AtomicU64>,
}

/// `spawners` spawners running until stopped, with nothing else set.
fn work<'a>(noop: &'a CStr, marker: &'a CStr, spawners: usize) -> Work<'a> {
    Work { noop, marker, spawners, per_spawner: 0, duration: None, uid: None, pace: None, stop: None, done: None }
}

#[derive(Debug, Default, Clone)]
struct WorkOut {
    spawned: u64,
    errors: u64,
    first_error: Option<String>,
    wall: Duration,
    /// CPU time of this process (spawners, reader, ...) and of its reaped
    /// children (the execs, including the BPF programs that run in them).
    cpu_ns: u64,
}

impl WorkOut {
    fn rate(&self) -> f64 {
        self.spawned as f64 / self.wall.as_secs_f64()
    }
    fn cpu_per_exec_ns(&self) -> f64 {
        self.cpu_ns as f64 / self.spawned.max(1) as f64
    }
}

fn run_work(w: &Work<'_>) -> Res<WorkOut> {
    type One = Res<(u64, u64, Option<String>)>;
    let barrier = Barrier::new(w.spawners + 1);
    let timeout = AtomicBool::new(false);
    let (results, wall, cpu_ns): (Vec<One>, Duration, u64) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..w.spawners)
            .map(|i| {
                let barrier = &barrier;
                let timeout = &timeout;
                s.spawn(move || -> One {
                    let set = w.uid.map(sys::thread_set_uid).transpose();
                    barrier.wait();
                    set?;
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ ((i as u64 + 1) * 0x1000_0001);
                    let (mut ok, mut errs, mut first) = (0u64, 0u64, None);
                    let mut k = 0u64;
                    loop {
                        if w.per_spawner > 0 && k >= w.per_spawner {
                            break;
                        }
                        if w.stop.is_some_and(|s| s.load(Ordering::Relaxed)) || timeout.load(Ordering::Relaxed) {
                            break;
                        }
                        k += 1;
                        if let Some(p) = w.pace {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            let f = 0.25 + 1.5 * (rng % 10_000) as f64 / 10_000.0;
                            std::thread::sleep(p.mul_f64(f));
                        }
                        match sys::spawn_wait(w.noop, Some(w.marker)) {
                            Ok(_) => {
                                ok += 1;
                                if let Some(d) = w.done {
                                    d.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                errs += 1;
                                first.get_or_insert(e);
                                if errs > 100 && ok == 0 {
                                    break;
                                }
                            }
                        }
                    }
                    if w.uid.is_some() {
                        sys::thread_set_uid(0)?;
                    }
                    Ok((ok, errs, first))
                })
            })
            .collect();
        // Timed from the release of all spawners (thread start-up excluded).
        barrier.wait();
        let t0 = Instant::now();
        let cpu0 = sys::process_cpu_ns();
        if let Some(d) = w.duration {
            while t0.elapsed() < d && !handles.iter().all(|h| h.is_finished()) {
                std::thread::sleep((d - t0.elapsed().min(d)).min(Duration::from_millis(20)));
            }
            timeout.store(true, Ordering::Relaxed);
        }
        let r: Vec<One> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("spawner panicked".into()))).collect();
        let wall = t0.elapsed();
        (r, wall, sys::process_cpu_ns() - cpu0)
    });
    let mut out = WorkOut { wall, cpu_ns, ..Default::default() };
    for r in results {
        let (ok, errs, first) = r?;
        out.spawned += ok;
        out.errors += errs;
        if out.first_error.is_none() {
            out.first_error = first;
        }
    }
    if out.spawned == 0 {
        return Err(format!(
            "no exec succeeded: {}",
            out.first_error.clone().unwrap_or_else(|| "unknown error".into())
        ));
    }
    Ok(out)
}

/// The workload, timed from the moment all spawners are released.
fn timed_work(w: &Work<'_>) -> Res<WorkOut> {
    run_work(w)
}

// ---------------------------------------------------------------- helpers

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conf {
    NoTracer,
    Defaults,
    WakeEach,
    /// Defaults but for a bound five times as long (under the switched
    /// comparison's 30 ms gap, so that a detached tracer is quiet).
    LongBound,
}

impl Conf {
    fn label(self) -> &'static str {
        match self {
            Conf::NoTracer => "no tracer",
            Conf::Defaults => "tracer, defaults (4 ms wake-up bound)",
            Conf::WakeEach => "tracer, wake per event",
            Conf::LongBound => "tracer, 20 ms wake-up bound (a fifth of the wake-ups)",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Conf::NoTracer => "no_tracer",
            Conf::Defaults => "defaults",
            Conf::WakeEach => "wake_per_event",
            Conf::LongBound => "bound_20ms",
        }
    }
    fn opts(self) -> TracerOpts {
        let mut o = TracerOpts::default();
        match self {
            Conf::WakeEach => o.wakeup_latency = Duration::ZERO,
            Conf::LongBound => o.wakeup_latency = Duration::from_millis(20),
            Conf::NoTracer | Conf::Defaults => {}
        }
        o
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile of unsorted samples.
fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[idx]
}

/// Counts of latencies per bucket (upper bounds in ms; the last is open).
fn histogram(v: &[u64]) -> Json {
    const EDGES_MS: [f64; 12] = [0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0];
    let mut counts = vec![0u64; EDGES_MS.len() + 1];
    for &x in v {
        let ms = x as f64 / 1e6;
        let i = EDGES_MS.iter().position(|&e| ms < e).unwrap_or(EDGES_MS.len());
        counts[i] += 1;
    }
    let mut o = Json::obj();
    for (i, c) in counts.into_iter().enumerate() {
        let k = if i < EDGES_MS.len() { format!("lt_{}ms", EDGES_MS[i]) } else { format!("ge_{}ms", EDGES_MS[i - 1]) };
        o.push(&k, c);
    }
    o
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

fn marker(tag: &str) -> CString {
    CString::new(format!("exectrace-bench-{}-{tag}", std::process::id())).unwrap()
}

fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

fn bytes_mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}

/// A tracer with a draining reader, the workload, and the numbers around it.
struct TracedRun {
    work: WorkOut,
    reader: ReaderOut,
    drops: u64,
    /// Sum of the tracer's programs' run time, and execs seen by process_exec.
    bpf_ns: u64,
    bpf_execs: u64,
    bpf_per_prog: Vec<sys::ProgSample>,
    prog_names: Vec<String>,
}

fn traced_run(opts: &TracerOpts, api: Api, tag: &CStr, w: &Work<'_>, collect_latency: bool) -> Res<TracedRun> {
    let progress = Arc::new(Progress::default());
    let cfg = ReaderCfg { api, marker: tag.to_bytes().to_vec(), collect_latency, seq_cap: 0 };
    let rd = Reader::start(opts, cfg, progress)?;
    let res = (|| {
        let progs = TracerProgs::find(rd.handle.prog_fd())?;
        let s0 = progs.sample()?;
        let work = timed_work(w)?;
        let s1 = progs.sample()?;
        let (bpf_ns, bpf_execs, per) = sys::bpf_delta(&s0, &s1, EXEC_PROG);
        Ok((work, bpf_ns, bpf_execs, per, progs.names()))
    })();
    let (work, bpf_ns, bpf_execs, per, names) = match res {
        Ok(v) => v,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    rd.wait_marked(work.spawned, Duration::from_millis(500));
    let drops = rd.handle.drops();
    let reader = rd.finish()?;
    Ok(TracedRun { work, reader, drops, bpf_ns, bpf_execs, bpf_per_prog: per, prog_names: names })
}

// ---------------------------------------------------------------- phases

struct TracedRunRow {
    conf: Conf,
    spawners: usize,
    round: usize,
    execs: u64,
    wall_s: f64,
    rate: f64,
    cpu_ns_per_exec: f64,
    bpf_ns_per_exec: Option<f64>,
    bpf_execs: u64,
    reader_cpu_ns_per_event: Option<f64>,
    /// Times the reader went to sleep: one wake-up each.
    wakeups: u64,
    events: u64,
    marked: u64,
    drops: u64,
    errors: u64,
    /// Other exectrace programs (not this run's) loaded when the run started.
    foreign: u64,
}

impl TracedRunRow {
    fn json(&self) -> Json {
        Json::obj()
            .with("config", self.conf.key())
            .with("spawners", self.spawners)
            .with("round", self.round)
            .with("execs", self.execs)
            .with("wall_s", self.wall_s)
            .with("execs_per_s", self.rate)
            .with("cpu_ns_per_exec", self.cpu_ns_per_exec)
            .with("bpf_ns_per_exec", self.bpf_ns_per_exec)
            .with("bpf_exec_count", self.bpf_execs)
            .with("reader_cpu_ns_per_event", self.reader_cpu_ns_per_event)
            .with("reader_wakeups", self.wakeups)
            .with("events", self.events)
            .with("marked_events", self.marked)
            .with("drops", self.drops)
            .with("spawn_errors", self.errors)
            .with("other_exectrace_programs_loaded", self.foreign)
    }
}

/// `--consumers`: row 4 per consumer alone. Its baselines are shorter
/// than a full run's: the untraced CPU per exec is this process's with its
/// children over untraced runs of 2 spawners (not row 1's interleaved
/// comparison), the BPF time per exec is from traced runs with a draining
/// Rust reader.
fn consumers_only(
    plan: &Plan,
    noop: &Noop,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<()> {
    let tag = marker("base");
    let w = Work { duration: Some(Duration::from_secs_f64(plan.run_secs)), ..work(&noop.path, &tag, 2) };
    let mut untraced = Vec::new();
    let mut bpf = Vec::new();
    for _ in 0..plan.rounds {
        untraced.push(timed_work(&w)?.cpu_per_exec_ns());
        let tr = traced_run(&Conf::Defaults.opts(), Api::RustRef, &tag, &w, false)?;
        bpf.push(tr.bpf_ns as f64 / tr.bpf_execs.max(1) as f64);
    }
    let (untraced, bpf) = (median(&untraced), median(&bpf));
    log(format!("baselines: untraced exec {:.1} µs CPU, BPF {:.2} µs per exec", untraced / 1000.0, bpf / 1000.0));
    notes.push(format!(
        "--consumers: an untraced exec's CPU ({:.1} µs) is the CPU of the spawning process and its children per exec over {} untraced runs of {} s with 2 spawners, not row 1's interleaved comparison; BPF time per exec ({:.2} µs) is from as many traced runs.",
        untraced / 1000.0,
        plan.rounds,
        plan.run_secs,
        bpf / 1000.0
    ));
    consumers::rows(plan, noop, bpf, Some(untraced), rows, details, notes)
}

fn main_bench(
    args: &Args,
    plan: &Plan,
    noop: &Noop,
    untraced_cpu: Option<f64>,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<()> {
    let rss_start = sys::rss();

    // ---- 6. start-up and close (first: before any other tracer ran)
    log(format!("start-up/close: {} x Tracer::new + close", plan.startup_n));
    let mut new_ms = Vec::new();
    let mut close_ms = Vec::new();
    for _ in 0..plan.startup_n {
        let t0 = Instant::now();
        let t = exectrace::Tracer::new(&TracerOpts::default()).map_err(|e| format!("Tracer::new: {e}"))?;
        let t1 = Instant::now();
        t.close();
        drop(t);
        let t2 = Instant::now();
        new_ms.push((t1 - t0).as_secs_f64() * 1e3);
        close_ms.push((t2 - t1).as_secs_f64() * 1e3);
    }
    let new_med = median(&new_ms);
    let close_med = median(&close_ms);

    // ---- calibration (also a warm-up)
    let tag = marker("tput");
    let cal_n = if plan.mode == "quick" { 100 } else { 400 };
    let cal = timed_work(&Work { per_spawner: cal_n, ..work(&noop.path, &tag, 1) })?;
    log(format!(
        "warm-up: {:.0} exec/s with 1 spawner; traced full-rate runs of {} s, {} rounds",
        cal.rate(),
        plan.run_secs,
        plan.rounds
    ));

    // ---- 2/4/5: traced runs at full rate (2 spawners), A B A B ...
    let spawners = 2;
    let mut runs: Vec<TracedRunRow> = Vec::new();
    let mut sat_lat: Vec<(Conf, Vec<u64>)> = vec![(Conf::Defaults, Vec::new()), (Conf::WakeEach, Vec::new())];
    let mut prog_names: Vec<String> = Vec::new();
    let mut per_prog: Vec<(Conf, Vec<sys::ProgSample>)> = Vec::new();
    for round in 0..plan.rounds {
        for (conf, lat) in sat_lat.iter_mut() {
            let conf = *conf;
            let w = Work { duration: Some(Duration::from_secs_f64(plan.run_secs)), ..work(&noop.path, &tag, spawners) };
            // Loaded before and still after: another tracer. (A tracer
            // closed just before is still listed while the kernel frees it.)
            let before = sys::exec_prog_ids();
            let tr = traced_run(&conf.opts(), Api::RustRef, &tag, &w, true)?;
            let foreign = sys::exec_prog_ids().iter().filter(|id| before.contains(id)).count() as u64;
            if prog_names.is_empty() {
                prog_names = tr.prog_names.clone();
            }
            per_prog.push((conf, tr.bpf_per_prog.clone()));
            lat.extend_from_slice(&tr.reader.latency_ns);
            let r = TracedRunRow {
                conf,
                spawners,
                round,
                execs: tr.work.spawned,
                wall_s: tr.work.wall.as_secs_f64(),
                rate: tr.work.rate(),
                cpu_ns_per_exec: tr.work.cpu_per_exec_ns(),
                bpf_ns_per_exec: (tr.bpf_execs > 0).then(|| tr.bpf_ns as f64 / tr.bpf_execs as f64),
                bpf_execs: tr.bpf_execs,
                reader_cpu_ns_per_event: (tr.reader.events > 0)
                    .then(|| tr.reader.cpu_ns as f64 / tr.reader.events as f64),
                wakeups: tr.reader.wakeups,
                events: tr.reader.events,
                marked: tr.reader.marked,
                drops: tr.drops,
                errors: tr.work.errors,
                foreign,
            };
            log(format!(
                "round {}/{} {spawners} spawners {:<40} {:>8.0} exec/s{}",
                round + 1,
                plan.rounds,
                conf.label(),
                r.rate,
                r.bpf_ns_per_exec.map(|v| format!("  bpf {v:.0} ns/exec")).unwrap_or_default()
            ));
            runs.push(r);
        }
    }
    let foreign_runs = runs.iter().filter(|r| r.foreign > 0).count();
    if foreign_runs > 0 {
        notes.push(format!(
            "Other exectrace tracers (not this benchmark's: e.g. tests running at the same time) were loaded at the start of \
             {foreign_runs} of {} traced full-rate runs; their programs also run on every exec, in every configuration.",
            runs.len()
        ));
    }
    let mut runs_json = Json::obj();
    runs_json.push("seconds_per_run", plan.run_secs);
    runs_json.push("runs", Json::Arr(runs.iter().map(|r| r.json()).collect()));
    details.push("traced_runs", runs_json);

    // ---- 2. in-kernel cost per exec
    let mut kern_json = Json::obj().with("programs", prog_names.clone());
    for c in [Conf::Defaults, Conf::WakeEach] {
        let v: Vec<f64> = runs.iter().filter(|r| r.conf == c).filter_map(|r| r.bpf_ns_per_exec).collect();
        let m = median(&v);
        // Per program, pooled over all runs of this config.
        let mut pooled: Vec<sys::ProgSample> = Vec::new();
        let mut execs = 0u64;
        for (_, per) in per_prog.iter().filter(|(cc, _)| *cc == c) {
            for p in per {
                if p.name == EXEC_PROG {
                    execs += p.run_cnt;
                }
                match pooled.iter_mut().find(|q| q.name == p.name) {
                    Some(q) => {
                        q.run_time_ns += p.run_time_ns;
                        q.run_cnt += p.run_cnt;
                    }
                    None => pooled.push(p.clone()),
                }
            }
        }
        let split: Vec<String> = pooled
            .iter()
            .filter(|p| p.run_cnt > 0)
            .map(|p| format!("{} {:.0}", p.name, p.run_time_ns as f64 / execs.max(1) as f64))
            .collect();
        let pooled_total: f64 = pooled.iter().map(|p| p.run_time_ns as f64).sum::<f64>() / execs.max(1) as f64;
        let (target, verdict) = if c == Conf::Defaults {
            ("≤ 2 µs per exec", Verdict::of(m <= 2000.0))
        } else {
            ("(reported)", Verdict::Info)
        };
        rows.push(row(
            "2",
            "In-kernel BPF time per exec",
            c.label(),
            // The median need not equal the pooled sum: say which is which.
            match v.len() {
                1 => format!("{:.2} µs (1 run: {} = {:.0} ns)", m / 1000.0, split.join(" + "), pooled_total),
                n => format!(
                    "{:.2} µs (median of {n} runs; pooled over them: {} = {:.0} ns)",
                    m / 1000.0,
                    split.join(" + "),
                    pooled_total
                ),
            },
            target,
            verdict,
            Json::obj().with("ns_per_exec_median", m).with("runs", v.len()),
        ));
        kern_json.push(
            c.key(),
            Json::obj().with("ns_per_exec_median", m).with("per_run", v).with(
                "per_program_pooled",
                Json::Arr(
                    pooled
                        .iter()
                        .map(|p| {
                            Json::obj()
                                .with("name", p.name.clone())
                                .with("run_time_ns", p.run_time_ns)
                                .with("run_cnt", p.run_cnt)
                                .with("ns_per_exec", p.run_time_ns as f64 / execs.max(1) as f64)
                        })
                        .collect(),
                ),
            ),
        );
    }
    details.push("in_kernel", kern_json);

    // ---- 3a. burst with defaults (also: memory, 7)
    let total = 2 * plan.burst_per_spawner;
    log(format!("delivery burst, defaults: 2 x {}", thousands(plan.burst_per_spawner)));
    let btag = marker("burst");
    let rss_before = sys::rss();
    let progress = Arc::new(Progress::default());
    let rd = Reader::start(
        &TracerOpts::default(),
        ReaderCfg { api: Api::RustRef, marker: btag.to_bytes().to_vec(), collect_latency: false, seq_cap: 0 },
        progress,
    )?;
    let progs = TracerProgs::find(rd.handle.prog_fd())?;
    let maps = progs.maps()?;
    let prog_mem = progs.prog_memlock();
    drop(progs);
    let w = timed_work(&Work { per_spawner: plan.burst_per_spawner, ..work(&noop.path, &btag, 2) });
    let w = match w {
        Ok(w) => w,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    let got = rd.wait_marked(w.spawned, Duration::from_secs(2));
    let drops = rd.handle.drops();
    let rss_with = sys::rss();
    let out = rd.finish()?;
    let lost = w.spawned.saturating_sub(out.marked);
    log(format!("  spawned {} received {} (live {got}) drops {drops}", w.spawned, out.marked));
    rows.push(row(
        "3",
        &format!("Delivery, burst of 2 x {} execs", thousands(plan.burst_per_spawner)),
        "tracer, defaults (4 MiB ring)",
        format!(
            "{} spawned, {} received, {} lost, drop counter {} ({:.0} exec/s)",
            thousands(w.spawned),
            thousands(out.marked),
            lost,
            drops,
            w.rate()
        ),
        "0 lost",
        Verdict::of(lost == 0 && drops == 0 && w.spawned == total),
        Json::obj()
            .with("spawned", w.spawned)
            .with("received", out.marked)
            .with("lost", lost)
            .with("drops", drops)
            .with("spawn_errors", w.errors)
            .with("events_total", out.events),
    ));
    if w.errors > 0 {
        notes.push(format!("burst: {} spawn errors (first: {:?})", w.errors, w.first_error));
    }

    // ---- 3b. tiny ring, slow reader, exact accounting
    let uid = sys::unused_uid();
    log(format!("delivery burst, 64 KiB ring, paused then slow reader, children as uid {uid}"));
    let ttag = marker("tiny");
    let topts = TracerOpts { ring_size: 64 * 1024, uid: Some(uid), ..TracerOpts::default() };
    let progress = Arc::new(Progress::default());
    progress.paused.store(true, Ordering::SeqCst);
    let rd = Reader::start(
        &topts,
        ReaderCfg {
            api: Api::RustRef,
            marker: ttag.to_bytes().to_vec(),
            collect_latency: false,
            seq_cap: total as usize,
        },
        progress.clone(),
    )?;
    let done = AtomicU64::new(0);
    let wres = std::thread::scope(|s| {
        let h = s.spawn(|| {
            timed_work(&Work {
                per_spawner: plan.burst_per_spawner,
                uid: Some(uid),
                done: Some(&done),
                ..work(&noop.path, &ttag, 2)
            })
        });
        // Paused for the first quarter, slow until the end, then drains.
        while !h.is_finished() && done.load(Ordering::Relaxed) < total / 4 {
            std::thread::sleep(Duration::from_millis(1));
        }
        progress.slow.store(true, Ordering::SeqCst);
        progress.paused.store(false, Ordering::SeqCst);
        let r = h.join().unwrap_or_else(|_| Err("spawner panicked".into()));
        progress.slow.store(false, Ordering::SeqCst);
        r
    });
    let w = match wres {
        Ok(w) => w,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    // Every child was reaped, so every exec's program has run: the drop
    // counter is final and exactly spawned - drops records are in the ring.
    let drops = rd.handle.drops();
    let expect = w.spawned.saturating_sub(drops);
    rd.wait_marked(expect, Duration::from_secs(2));
    std::thread::sleep(Duration::from_millis(100)); // nothing more may arrive
    let out = rd.finish()?;
    let missing_seqs = out.seq_seen.iter().take(w.spawned as usize).filter(|s| !**s).count() as u64;
    let exact = out.marked + drops == w.spawned
        && out.events == out.marked
        && out.seq_dupes == 0
        && out.seq_out_of_range == 0
        && missing_seqs == drops
        && w.spawned == total;
    log(format!(
        "  spawned {} received {} drops {} spawned-received {} (unmarked {}, seq gaps {}, dupes {}, out of range {})",
        w.spawned,
        out.marked,
        drops,
        w.spawned - out.marked,
        out.events - out.marked,
        missing_seqs,
        out.seq_dupes,
        out.seq_out_of_range
    ));
    rows.push(row(
        "3",
        &format!("Delivery, burst of 2 x {} execs", thousands(plan.burst_per_spawner)),
        "tiny ring (64 KiB), reader paused then slow, uid filter",
        format!(
            "{} spawned, {} received, drop counter {} = spawned − received {}; seq gaps {}",
            thousands(w.spawned),
            thousands(out.marked),
            thousands(drops),
            thousands(w.spawned - out.marked),
            thousands(missing_seqs)
        ),
        "drops = spawned − received, exactly",
        Verdict::of(exact),
        Json::obj()
            .with("uid", uid)
            .with("spawned", w.spawned)
            .with("received", out.marked)
            .with("drops", drops)
            .with("spawned_minus_received", w.spawned - out.marked)
            .with("unmarked_events", out.events - out.marked)
            .with("seq_gaps", missing_seqs)
            .with("seq_duplicates", out.seq_dupes)
            .with("seq_out_of_range", out.seq_out_of_range)
            .with("exact", exact),
    ));

    // ---- 4. CPU per event of each consumer, and the tracer's own CPU per exec with it
    let bpf: Vec<f64> = runs.iter().filter(|r| r.conf == Conf::Defaults).filter_map(|r| r.bpf_ns_per_exec).collect();
    let bpf = median(&bpf);
    consumers::rows(plan, noop, bpf, untraced_cpu, rows, details, notes)?;
    let mut cost_json = Json::obj();
    for c in [Conf::Defaults, Conf::WakeEach] {
        let of_c = || runs.iter().filter(|r| r.conf == c);
        let v: Vec<f64> = of_c().filter_map(|r| r.reader_cpu_ns_per_event).collect();
        let m = median(&v);
        // The same CPU per wake-up: what one trip through the scheduler costs.
        let (events, wakeups) = of_c().fold((0, 0), |(e, w), r| (e + r.events, w + r.wakeups));
        let per_wakeup = m * events as f64 / wakeups.max(1) as f64;
        rows.push(row(
            "4",
            "Reader CPU per event (full-rate runs, 2 spawners)",
            &format!("Rust read_with, {}", c.label()),
            format!(
                "{:.2} µs (median of {} runs); {:.1} events and {:.1} µs CPU per wake-up",
                m / 1000.0,
                v.len(),
                events as f64 / wakeups.max(1) as f64,
                per_wakeup / 1000.0
            ),
            "",
            Verdict::Info,
            Json::obj().with("ns_per_event_median", m).with("wakeups", wakeups).with("events", events),
        ));
        cost_json.push(&format!("full_rate_runs_{}", c.key()), m);
    }
    details.push("reader_cpu", cost_json);

    // ---- 4b. the tracer's own CPU per exec, from the two direct measurements
    // above: far less noisy than a throughput ratio on a shared VM.
    let reader: Vec<f64> =
        runs.iter().filter(|r| r.conf == Conf::Defaults).filter_map(|r| r.reader_cpu_ns_per_event).collect();
    let reader = median(&reader);
    let share = untraced_cpu.filter(|&c| c > 0.0).map(|c| (bpf + reader) / c);
    rows.push(row(
        "4",
        "The tracer's own CPU per exec (BPF time + reader CPU per event)",
        Conf::Defaults.label(),
        format!(
            "{:.2} µs = {:.2} + {:.2}{}",
            (bpf + reader) / 1000.0,
            bpf / 1000.0,
            reader / 1000.0,
            share
                .map(|s| format!(
                    " = {:.2}% of the CPU of an untraced exec ({:.1} µs, row 1, another process)",
                    s * 100.0,
                    untraced_cpu.unwrap_or(0.0) / 1000.0
                ))
                .unwrap_or_default()
        ),
        "",
        Verdict::Info,
        Json::obj().with("bpf_ns", bpf).with("reader_ns", reader).with("share_of_untraced_exec", share),
    ));

    wake_cost_rows(plan, rows, details)?;

    // ---- 5. latency, paced (one spawner, ~1 exec per pace) and under load
    let ltag = marker("lat");
    let mut paced: Vec<(Conf, Vec<u64>)> = vec![(Conf::Defaults, Vec::new()), (Conf::WakeEach, Vec::new())];
    for round in 0..plan.lat_rounds {
        for (conf, lat) in paced.iter_mut() {
            let w = Work { per_spawner: plan.lat_events, pace: Some(plan.pace), ..work(&noop.path, &ltag, 1) };
            let tr = traced_run(&conf.opts(), Api::RustRef, &ltag, &w, true)?;
            log(format!(
                "latency round {}/{} {:<40} {} samples",
                round + 1,
                plan.lat_rounds,
                conf.label(),
                tr.reader.latency_ns.len()
            ));
            lat.extend_from_slice(&tr.reader.latency_ns);
        }
    }
    let mut lat_json = Json::obj();
    let paced_item = format!("Latency exec → read, paced (1 spawner, ~{} ms apart)", plan.pace.as_millis());
    let load_item = format!("Latency exec → read, under load ({spawners} spawners at full rate)");
    let sets = paced.iter_mut().map(|(c, l)| (&paced_item, "paced", *c, l));
    for (item, key, conf, lat) in sets.chain(sat_lat.iter_mut().map(|(c, l)| (&load_item, "load", *c, l))) {
        let n = lat.len();
        let p50 = pct(lat, 0.50);
        let p99 = pct(lat, 0.99);
        let max = lat.iter().copied().max().unwrap_or(0);
        let limit = conf.opts().wakeup_latency + Duration::from_millis(2);
        let data = Json::obj().with("p50_ns", p50).with("p99_ns", p99).with("max_ns", max).with("samples", n);
        rows.push(row(
            "5",
            item,
            conf.label(),
            format!("p50 {}, p99 {}, max {} ({} events)", ms(p50), ms(p99), ms(max), thousands(n as u64)),
            &format!("p99 ≤ {} ms", limit.as_millis()),
            Verdict::of(n > 0 && p99 as u128 <= limit.as_nanos()),
            data.clone(),
        ));
        lat_json.push(&format!("{key}_{}", conf.key()), data.with("histogram", histogram(lat)));
    }
    details.push("latency", lat_json);

    // ---- 6. start-up
    rows.push(row(
        "6",
        "Start-up: Tracer::new → attached",
        "defaults",
        format!(
            "{:.1} ms (median of {}; min {:.1}, max {:.1})",
            new_med,
            new_ms.len(),
            new_ms.iter().cloned().fold(f64::INFINITY, f64::min),
            new_ms.iter().cloned().fold(0.0, f64::max)
        ),
        "≤ 100 ms",
        Verdict::of(new_med <= 100.0),
        Json::obj().with("median_ms", new_med).with("samples_ms", new_ms.clone()),
    ));
    rows.push(row(
        "6",
        "Close: Tracer::close + drop",
        "defaults",
        format!("{:.1} ms (median of {})", close_med, close_ms.len()),
        "",
        Verdict::Info,
        Json::obj().with("median_ms", close_med).with("samples_ms", close_ms.clone()),
    ));

    // ---- 7. memory
    let map_total: u64 = maps.iter().map(|m| m.memlock).sum();
    let mut mm: Vec<&sys::MapMem> = maps.iter().collect();
    mm.sort_by_key(|m| std::cmp::Reverse(m.memlock));
    let split: Vec<String> = mm.iter().take(4).map(|m| format!("{} {}", m.name, bytes_mib(m.memlock))).collect();
    rows.push(row(
        "7",
        "Reader process RSS, tracer open after the burst",
        "defaults",
        format!(
            "{} (+{} over no tracer; anon {}, file/shmem {})",
            kib(rss_with.rss_kib),
            kib(rss_with.rss_kib.saturating_sub(rss_before.rss_kib)),
            kib(rss_with.anon_kib),
            kib(rss_with.file_kib + rss_with.shmem_kib)
        ),
        "",
        Verdict::Info,
        Json::obj()
            .with("rss_kib", rss_with.rss_kib)
            .with("rss_before_tracer_kib", rss_before.rss_kib)
            .with("rss_at_start_kib", rss_start.rss_kib)
            .with("anon_kib", rss_with.anon_kib)
            .with("file_kib", rss_with.file_kib)
            .with("shmem_kib", rss_with.shmem_kib),
    ));
    rows.push(row(
        "7",
        "Kernel memory of the tracer's maps (memlock)",
        "defaults",
        format!(
            "{} in {} maps ({}, …); programs {}",
            bytes_mib(map_total),
            maps.len(),
            split.join(", "),
            bytes_mib(prog_mem)
        ),
        "",
        Verdict::Info,
        Json::obj().with("maps_bytes", map_total).with("programs_bytes", prog_mem),
    ));
    details.push(
        "memory",
        Json::obj().with(
            "maps",
            Json::Arr(
                maps.iter()
                    .map(|m| {
                        Json::obj()
                            .with("name", m.name.clone())
                            .with("type", m.kind)
                            .with("max_entries", m.max_entries)
                            .with("value_size", m.value_size)
                            .with("memlock_bytes", m.memlock)
                    })
                    .collect(),
            ),
        ),
    );

    // ---- soak (short in this mode)
    let _ = args;
    let s = soak(noop, plan.soak_secs, plan.soak_interval)?;
    rows.push(s.row(true));
    details.push("soak", s.json());
    Ok(())
}

// ---------------------------------------------------------------- soak

struct SoakSample {
    t_s: u64,
    spawned: u64,
    events: u64,
    drops: u64,
    rss_kib: u64,
}

struct Soak {
    secs: u64,
    interval: u64,
    samples: Vec<SoakSample>,
    rate: f64,
    errors: u64,
}

impl Soak {
    fn baseline(&self) -> u64 {
        self.samples.first().map_or(0, |s| s.rss_kib)
    }
    fn max_dev_kib(&self) -> i64 {
        let b = self.baseline() as i64;
        self.samples.iter().skip(1).map(|s| (s.rss_kib as i64 - b).abs()).max().unwrap_or(0)
    }
    fn drops(&self) -> u64 {
        self.samples.last().map_or(0, |s| s.drops)
    }
    fn pass(&self) -> bool {
        self.samples.len() >= 2 && self.max_dev_kib() <= 1024 && self.drops() == 0
    }
    fn row(&self, short: bool) -> Row {
        let label = if short && self.secs < 600 {
            format!("Soak, {} s (short; the target is for `--soak 600`)", self.secs)
        } else {
            format!("Soak, {} s", self.secs)
        };
        let last = self.samples.last();
        row(
            "S",
            &label,
            "tracer, defaults, 2 spawners at full rate",
            format!(
                "{} execs at {} exec/s; drops {}; RSS {} after warm-up, max deviation {} KiB",
                thousands(last.map_or(0, |s| s.spawned)),
                thousands(self.rate as u64),
                self.drops(),
                kib(self.baseline()),
                self.max_dev_kib()
            ),
            "RSS within ±1 MiB, 0 drops",
            Verdict::of(self.pass()),
            Json::obj()
                .with("seconds", self.secs)
                .with("rss_baseline_kib", self.baseline())
                .with("rss_max_deviation_kib", self.max_dev_kib())
                .with("drops", self.drops()),
        )
    }
    fn json(&self) -> Json {
        Json::obj()
            .with("seconds", self.secs)
            .with("interval_s", self.interval)
            .with("execs_per_s", self.rate)
            .with("spawn_errors", self.errors)
            .with(
                "samples",
                Json::Arr(
                    self.samples
                        .iter()
                        .map(|s| {
                            Json::obj()
                                .with("t_s", s.t_s)
                                .with("spawned", s.spawned)
                                .with("events", s.events)
                                .with("drops", s.drops)
                                .with("rss_kib", s.rss_kib)
                        })
                        .collect(),
                ),
            )
    }
}

fn soak(noop: &Noop, secs: u64, interval: u64) -> Res<Soak> {
    log(format!("soak: {secs} s at full rate (2 spawners), defaults; sample every {interval} s, first one is the warm-up baseline"));
    let tag = marker("soak");
    let progress = Arc::new(Progress::default());
    let rd = Reader::start(
        &TracerOpts::default(),
        ReaderCfg { api: Api::RustRef, marker: tag.to_bytes().to_vec(), collect_latency: false, seq_cap: 0 },
        progress.clone(),
    )?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let mut samples = Vec::new();
    let t0 = Instant::now();
    let wres = std::thread::scope(|s| {
        let h = s.spawn(|| timed_work(&Work { stop: Some(&stop), done: Some(&done), ..work(&noop.path, &tag, 2) }));
        let mut next = interval;
        while next <= secs && !h.is_finished() {
            let at = Duration::from_secs(next);
            let now = t0.elapsed();
            if now < at {
                std::thread::sleep(at - now);
            }
            let smp = SoakSample {
                t_s: next,
                spawned: done.load(Ordering::Relaxed),
                events: progress.events.load(Ordering::Relaxed),
                drops: rd.handle.drops(),
                rss_kib: sys::rss().rss_kib,
            };
            println!(
                "soak t={:>5}s execs={:>10} events={:>10} drops={} rss={} KiB{}",
                smp.t_s,
                smp.spawned,
                smp.events,
                smp.drops,
                smp.rss_kib,
                if samples.is_empty() { " (baseline after warm-up)" } else { "" }
            );
            samples.push(smp);
            next += interval;
        }
        stop.store(true, Ordering::SeqCst);
        h.join().unwrap_or_else(|_| Err("spawner panicked".into()))
    });
    let w = match wres {
        Ok(w) => w,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    rd.finish()?;
    Ok(Soak { secs, interval, samples, rate: w.rate(), errors: w.errors })
}

// ---------------------------------------------------------------- 1. throughput

/// Exec throughput with and without a tracer (see interleave.rs for the
/// method), with 1 and 2 spawners. Runs while kernel.bpf_stats_enabled is
/// still off: the statistics would slow every traced exec. Returns the CPU
/// of an untraced exec (ns; 2 spawners in another process).
fn throughput(
    args: &Args,
    plan: &Plan,
    noop: &Noop,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<f64> {
    let settle = plan.tput_settle;
    use interleave::{Arm, Setup};
    let tracer = |c: Conf| Arm { label: c.label().into(), setup: Setup::Tracer(c.opts(), None), settle };
    let nothing = |label: &str| Arm { label: label.into(), setup: Setup::Nothing, settle };
    // The arm the former 99% target applied to (the A/A arm is 1).
    const DEFAULTS: usize = 2;
    let base = || {
        vec![
            nothing(Conf::NoTracer.label()),
            nothing("no tracer, again (A/A: the method's own error)"),
            tracer(Conf::Defaults),
            tracer(Conf::WakeEach),
        ]
    };
    let mut reload_arms = base();
    if args.settle_check {
        reload_arms.push(Arm {
            label: format!("{}, timed 300 ms after its load", Conf::Defaults.label()),
            setup: Setup::Tracer(Conf::Defaults.opts(), None),
            settle: Duration::from_millis(300),
        });
    }
    // Where the defaults' cost goes: the same programs with a fifth of the
    // wake-ups, and the wake-ups without the programs. (Not in the reloaded
    // runs: a load's after-effect would swamp it.)
    let mut switch_arms = base();
    if args.decompose {
        switch_arms.push(tracer(Conf::LongBound));
        let ms = exectrace::DEFAULT_WAKEUP_LATENCY.as_millis();
        // The defaults' wake-ups with the 20 ms bound's reads.
        switch_arms.push(Arm {
            label: format!("{}, and a thread waking on the tick every {ms} ms", Conf::LongBound.label()),
            setup: Setup::Tracer(Conf::LongBound.opts(), Some(exectrace::DEFAULT_WAKEUP_LATENCY)),
            settle,
        });
        for (tick, what) in [
            (
                Tick::On,
                format!("a thread waking on the scheduler tick every {ms} ms instead (the defaults' wake-ups alone)"),
            ),
            (Tick::Off, format!("a thread waking every {ms} ms off the tick (a timer interrupt per wake-up)")),
        ] {
            switch_arms.push(Arm {
                label: format!("no tracer; {what}"),
                setup: Setup::Waker(exectrace::DEFAULT_WAKEUP_LATENCY, tick),
                settle,
            });
        }
    }
    let mut json = Json::obj().with("segment_ms", plan.tput_seg.as_millis() as u64);
    let mut untraced_cpu = 0.0;
    // The target is for the no-op child, the worst case; a real command
    // shows what a workload of ordinary commands pays.
    let real = std::path::Path::new(REAL_COMMAND.to_str().unwrap_or_default()).exists();
    if !real {
        notes.push(format!("{}: not found, so no throughput row for a real command", REAL_COMMAND.to_string_lossy()));
    }
    let runs = [
        (1usize, Placement::TracingProcess, Method::Reload, noop.path.as_c_str()),
        (2, Placement::TracingProcess, Method::Reload, noop.path.as_c_str()),
        (2, Placement::OtherProcess, Method::Reload, noop.path.as_c_str()),
        (2, Placement::OtherProcess, Method::Switch, noop.path.as_c_str()),
        (2, Placement::OtherProcess, Method::Switch, REAL_COMMAND),
    ];
    for ((spawners, placement, method, child), blocks) in runs.into_iter().zip(plan.tput_blocks) {
        let other = placement == Placement::OtherProcess;
        let switch = method == Method::Switch;
        let is_real = child == REAL_COMMAND;
        if is_real && !real {
            continue;
        }
        let item = format!(
            "Exec throughput, {spawners} spawner{}{}{}{}",
            if spawners > 1 { "s" } else { "" },
            if other { " in another process (agent deployment)" } else { "" },
            if switch { ", tracers attached and detached instead of loaded" } else { "" },
            if is_real {
                format!(", execing {} ({REAL_COMMAND_WHAT})", REAL_COMMAND.to_string_lossy())
            } else {
                String::new()
            }
        );
        let arms = if switch { &switch_arms[..] } else { &reload_arms[..] };
        log(format!(
            "throughput, {spawners} spawner(s){}{}{}: {blocks} blocks of {} x {} ms segments",
            if other { " in another process" } else { "" },
            if switch { ", switched" } else { "" },
            if is_real { format!(", execing {}", REAL_COMMAND.to_string_lossy()) } else { String::new() },
            arms.len(),
            plan.tput_seg.as_millis()
        ));
        let out = interleave::run(child, spawners, placement, arms, blocks, plan.tput_seg, method)?;
        let (base_rate, base_cpu) = out.medians(0);
        if switch && !is_real {
            untraced_cpu = base_cpu;
        }
        let mut sj = Json::obj().with("blocks", blocks);
        for (i, arm) in arms.iter().enumerate() {
            let (rate, cpu) = out.medians(i);
            let irqs = out.timer_irqs(i);
            let idle = out.idle_steal(i);
            let (value, target, verdict, data) = if i == 0 {
                (
                    format!(
                        "{} exec/s; CPU {:.1} µs/exec{} (medians of {blocks} segments){}",
                        thousands(rate as u64),
                        cpu / 1000.0,
                        irqs.map_or(String::new(), |(own, _)| format!("; {own:.0} timer interrupts/s")),
                        idle.map_or(String::new(), |x| format!(
                            "; CPUs idle {:.1}%, stolen {:.1}% (over all of them)",
                            x.idle * 100.0,
                            x.steal * 100.0
                        ))
                    ),
                    String::new(),
                    Verdict::Info,
                    Json::obj().with("execs_per_s", rate).with("cpu_ns_per_exec", cpu),
                )
            } else {
                let r = out.rate_ratio(i);
                let c = out.cpu_ratio(i);
                // A measurement, not a target (issue 19: on this VM the
                // A/A noise is as large as the effect); the target is the
                // tracer's own CPU per exec (row 4).
                let target = if switch && !is_real && i == DEFAULTS {
                    "was ≥ 99% of no tracer; a measurement since issue 19 (see row 4)".to_string()
                } else {
                    String::new()
                };
                let verdict = Verdict::Info;
                (
                    format!(
                        "{} exec/s = {} of no tracer; CPU per exec {}{}{}",
                        thousands(rate as u64),
                        r.text_pct(),
                        c.text_pct(),
                        irqs.map_or(String::new(), |(_, more)| format!("; timer interrupts {more:+.0}/s")),
                        idle.map_or(String::new(), |x| format!(
                            "; CPUs idle {:+.1}, stolen {:+.1} points",
                            x.more_idle * 100.0,
                            x.more_steal * 100.0
                        ))
                    ),
                    target,
                    verdict,
                    Json::obj()
                        .with("execs_per_s", rate)
                        .with("cpu_ns_per_exec", cpu)
                        .with("rate_ratio", r.median)
                        .with("rate_ratio_ci95", vec![r.lo, r.hi])
                        .with("cpu_ratio", c.median)
                        .with("cpu_ratio_ci95", vec![c.lo, c.hi]),
                )
            };
            let data = data
                .with("timer_irqs_per_s", irqs.map(|(own, _)| own))
                .with("timer_irqs_per_s_over_no_tracer", irqs.map(|(_, more)| more))
                .with("cpus_idle_share", idle.map(|x| x.idle))
                .with("cpus_stolen_share", idle.map(|x| x.steal))
                .with("cpus_idle_share_over_no_tracer", idle.map(|x| x.more_idle))
                .with("cpus_stolen_share_over_no_tracer", idle.map(|x| x.more_steal));
            log(format!("  {:<48} {value}", arm.label));
            rows.push(row("1", &item, &arm.label, value, &target, verdict, data.clone()));
            sj.push(&format!("arm_{i}"), data.with("label", arm.label.clone()));
            let per_block: Vec<f64> = out.segments[i].iter().map(|s| s.rate()).collect();
            sj.push(&format!("arm_{i}_segment_execs_per_s"), per_block);
        }
        let key = format!(
            "spawners_{spawners}{}{}{}",
            if other { "_other_process" } else { "" },
            if switch { "_switched" } else { "" },
            if is_real { "_real_command" } else { "" }
        );
        json.push(&key, sj.with("no_tracer_execs_per_s", base_rate).with("no_tracer_cpu_ns_per_exec", base_cpu));
    }
    details.push("throughput", json);
    notes.push(format!(
        "Throughput: the spawners run without a break while the configurations take turns in {} ms segments \
         (a tracer is created {} ms before its segment and closed after it), in blocks of one \
         segment each whose order alternates (A B C D, D C B A, ...). A ratio is the median over blocks of the \
         configuration's rate (or CPU per exec) over the no-tracer rate of the same block, with a bootstrap 95% \
         interval in brackets. The A/A row compares no tracer with itself: how far the method can be trusted here. \
         CPU per exec counts the spawners, the reader and the reaped execs (with the BPF programs in them), without \
         time stolen by the hypervisor. kernel.bpf_stats_enabled is off for these runs. \"In another process\": the \
         spawners run in a process of their own, the tracer and its reader in the bench, as with an agent that traces \
         a workload; with the spawners in the tracing process, every spawn also copies the tracer's fds into the child \
         and shoots down TLB entries on the reader's CPU. \"Attached and detached instead of loaded\": each tracer is \
         loaded once and read throughout; before each segment the bench attaches the programs of that segment's \
         tracer and detaches the others', then waits {} ms. Without a load in between, segments follow each other \
         closely and {} blocks fit in a few minutes: the most precise comparison (its A/A interval is about ±1%, \
         as large as the effect: since issue 19 a measurement, the target being the tracer's own CPU per exec, row 4). \
         It leaves out what a load \
         costs once, and, since a tracer is open in every segment, what its fds cost a spawning process that hosts it \
         (the rows with spawners in the tracing process show that, within their wider intervals).",
        plan.tput_seg.as_millis(),
        plan.tput_settle.as_millis(),
        interleave::SWITCH_GAP.as_millis(),
        plan.tput_blocks[3],
    ));
    Ok(untraced_cpu)
}

// ---------------------------------------------------------------- workload only

fn profile_workload(noop: &Noop, secs: u64, conf: Conf, spawners: usize) -> Res<()> {
    let tag = marker("workload");
    let w = Work { duration: Some(Duration::from_secs(secs)), ..work(&noop.path, &tag, spawners) };
    log(format!("workload: {spawners} spawners for {secs} s, {}", conf.label()));
    if conf == Conf::NoTracer {
        let wo = timed_work(&w)?;
        log(format!("{} execs, {:.0} exec/s, CPU {:.1} µs/exec", wo.spawned, wo.rate(), wo.cpu_per_exec_ns() / 1000.0));
        return Ok(());
    }
    let _guard = if std::env::var_os("EXECTRACE_BENCH_NO_BPF_STATS").is_some() {
        None
    } else {
        Some(sys::BpfStatsGuard::enable()?)
    };
    let mut tr = traced_run(&conf.opts(), Api::RustRef, &tag, &w, true)?;
    let p50 = pct(&mut tr.reader.latency_ns, 0.5);
    let p99 = pct(&mut tr.reader.latency_ns, 0.99);
    log(format!("latency exec → read: p50 {}, p99 {}", ms(p50), ms(p99)));
    log(format!(
        "{} execs, {:.0} exec/s, CPU {:.1} µs/exec; reader {} events, {:.2} µs CPU/event (user {:.2} sys {:.2}), {} wake-ups; BPF {:.0} ns/exec",
        tr.work.spawned,
        tr.work.rate(),
        tr.work.cpu_per_exec_ns() / 1000.0,
        tr.reader.events,
        tr.reader.cpu_ns as f64 / tr.reader.events.max(1) as f64 / 1000.0,
        tr.reader.user_ns as f64 / tr.reader.events.max(1) as f64 / 1000.0,
        tr.reader.sys_ns as f64 / tr.reader.events.max(1) as f64 / 1000.0,
        tr.reader.wakeups,
        tr.bpf_ns as f64 / tr.bpf_execs.max(1) as f64
    ));
    Ok(())
}

/// 4c: what the reader's wake-ups cost a busy CPU, with and without a timer
/// interrupt each (see linger_deadline in the library).
fn wake_cost_rows(plan: &Plan, rows: &mut Vec<Row>, details: &mut Json) -> Res<()> {
    let period = exectrace::DEFAULT_WAKEUP_LATENCY;
    log(format!(
        "wake-up cost: {} rounds of 3 x {} ms windows, a waker every {} ms",
        plan.wake_rounds,
        plan.wake_window.as_millis(),
        period.as_millis()
    ));
    let wc = wake_cost::measure(plan.wake_rounds, plan.wake_window, period)?;
    let mut wake_json = Json::obj().with("idle_lost_ns_per_s", wc.idle_lost_ns_per_s);
    // Paired per round: what the interrupt of its own adds.
    let extra: Vec<f64> = wc.off_tick_ns.iter().zip(&wc.on_tick_ns).map(|(off, on)| off - on).collect();
    let extra_iv = interleave::estimate(&extra);
    for (label, key, v) in [
        ("on the scheduler tick (the reader's timer)", "on_tick", &wc.on_tick_ns),
        ("off the tick (a timer interrupt of its own)", "off_tick", &wc.off_tick_ns),
    ] {
        let m = median(v);
        let iv = interleave::estimate(v);
        let more = if key == "off_tick" {
            format!(
                "; {:.1} µs [{:.1}, {:.1}] more than on the tick",
                extra_iv.median / 1000.0,
                extra_iv.lo / 1000.0,
                extra_iv.hi / 1000.0
            )
        } else {
            String::new()
        };
        rows.push(row(
            "4",
            &format!("CPU one wake-up every {} ms takes from a busy CPU (a spinner's lost time)", period.as_millis()),
            &format!("a thread waking {label}"),
            format!(
                "{:.1} µs [{:.1}, {:.1}]{more} (medians of {} rounds; {:.1} ms/s lost with no waker)",
                m / 1000.0,
                iv.lo / 1000.0,
                iv.hi / 1000.0,
                v.len(),
                wc.idle_lost_ns_per_s / 1e6
            ),
            "",
            Verdict::Info,
            Json::obj().with("ns_median", m).with("per_round", v.clone()),
        ));
        wake_json.push(key, median(v));
    }
    wake_json.push("off_minus_on_tick", extra_iv.median);
    details.push("wake_cost", wake_json);
    Ok(())
}

// ---------------------------------------------------------------- main

fn run() -> Res<()> {
    let args = parse_args()?;
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        return Err("run as root (bench/run.sh uses sudo when needed)".into());
    }
    let mut plan = if args.quick { Plan::quick() } else { Plan::full() };
    if let Some(r) = args.rounds {
        plan.rounds = r;
    }
    // Block SIGCHLD in every thread (they inherit it from this one). With
    // the default disposition a child's SIGCHLD is normally discarded, but
    // when a no-op child exits before glibc's posix_spawn has restored the
    // spawning thread's signal mask, the signal is queued and the kernel
    // wakes another thread for it: often the reader, whose epoll_wait then
    // returns EINTR once per exec, which would be charged to the tracer.
    // waitpid() does not need the signal.
    sys::block_sigchld()?;
    if let Some(n) = args.reader_nice {
        reader::READER_NICE.store(n, Ordering::SeqCst);
    }
    if args.wake_cost_only {
        let (mut rows, mut details) = (Vec::new(), Json::obj());
        wake_cost_rows(&plan, &mut rows, &mut details)?;
        println!("\n{}", report::markdown("exectrace wake-up cost", &[], &rows, &[]));
        return Ok(());
    }
    let t_start = Instant::now();
    let load_start = sys::loadavg();
    let noop = Noop::build()?;
    if let Some((secs, conf)) = args.workload {
        return profile_workload(&noop, secs, conf, args.workload_spawners);
    }
    log(format!("no-op binary: {} ({} bytes)", noop.path.to_string_lossy(), noop.size()));
    if let Some(b) = args.blocks {
        plan.tput_blocks[1] = b;
        plan.tput_blocks[2] = b;
    }
    if let Some(b) = args.switch_blocks {
        plan.tput_blocks[3] = b;
        plan.tput_blocks[4] = b;
    }
    let mut rows = Vec::new();
    let mut details = Json::obj();
    let mut notes = Vec::new();
    let untraced_cpu = if args.consumers_only {
        None
    } else if args.soak_only.is_none() {
        Some(throughput(&args, &plan, &noop, &mut rows, &mut details, &mut notes)?)
    } else {
        None
    };
    let guard = sys::BpfStatsGuard::enable()?;
    log(format!("kernel.bpf_stats_enabled=1 for the rest of the run (was {}, restored at exit)", guard.old));
    let soak_only = args.soak_only;
    let title;
    if let Some(secs) = soak_only {
        title = format!("exectrace soak ({secs} s)");
        let s = soak(&noop, secs, 10)?;
        rows.push(s.row(false));
        details.push("soak", s.json());
    } else if args.throughput_only {
        title = format!("exectrace benchmark ({}, throughput only)", plan.mode);
    } else if args.consumers_only {
        title = format!("exectrace benchmark ({}, consumers only)", plan.mode);
        consumers_only(&plan, &noop, &mut rows, &mut details, &mut notes)?;
    } else {
        title = format!("exectrace benchmark ({})", plan.mode);
        main_bench(&args, &plan, &noop, untraced_cpu, &mut rows, &mut details, &mut notes)?;
    }
    drop(guard);

    let elapsed = t_start.elapsed().as_secs();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mut meta: Vec<(String, String)> = vec![
        ("date".into(), report::utc_now()),
        (
            "command".into(),
            format!("bench/run.sh {}", std::env::args().skip(1).collect::<Vec<_>>().join(" ")).trim().to_string(),
        ),
        ("mode".into(), if soak_only.is_some() { "soak".into() } else { plan.mode.into() }),
        ("kernel".into(), std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().into()),
        ("cpu".into(), format!("{} × {}", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), cpu)),
        ("load average (1/5/15 min) at start / end".into(), format!("{} / {}", load_start, sys::loadavg())),
        ("duration".into(), format!("{} s", elapsed)),
    ];
    if let Ok(rev) = std::env::var("EXECTRACE_BENCH_REV") {
        if !rev.is_empty() {
            meta.insert(2, ("commit".into(), rev));
        }
    }
    if soak_only.is_none() && !args.throughput_only && !args.consumers_only {
        notes.push(
            "In-kernel time: kernel.bpf_stats_enabled run_time_ns of all the tracer's programs over the traced full-rate runs, divided by \
             process_exec's run count (every exec on the host, not only ours)."
                .into(),
        );
        notes.push(
            "The tracer's own CPU per exec: the in-kernel time (2), which includes what kernel.bpf_stats_enabled itself \
             costs (two clock reads per program run), plus the reader's CPU per event (4), one event per exec; \
             compared with the CPU of an untraced exec (1). Costs outside both (e.g. caches the tracer evicts) are only \
             in the throughput ratios."
                .into(),
        );
        notes.push(
            "CPU a wake-up takes from a busy CPU: a thread pinned to one CPU reads the clock in a tight loop and sums \
             the jumps of 1–500 µs between two reads (time the CPU spent elsewhere; longer ones are the host's); a \
             thread on the same CPU wakes every 4 ms, on the scheduler tick as the reader's timer does, or off it \
             with a timer interrupt of its own, or not at all, in alternating windows. Per round: the lost time per \
             second with the waker minus without, over its wake-ups per second; median over rounds, bootstrap 95% \
             interval."
                .into(),
        );
        notes.push(
            "Tiny-ring accounting: the children run as a uid no other process has and the tracer filters on it, so every event \
             and every drop is one of ours; the drop counter is read after every child was reaped (final)."
                .into(),
        );
    }
    let md = report::markdown(&title, &meta, &rows, &notes);
    let js = report::json(&meta, &rows, details);
    println!("\n{md}");
    std::fs::create_dir_all(&args.out).map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    // Only a full run replaces latest.*: quick runs (make test) must not.
    let (mdp, jsp) = if soak_only.is_some() {
        ("soak.md", "soak.json")
    } else if args.quick {
        ("quick.md", "quick.json")
    } else if args.consumers_only {
        ("consumers.md", "consumers.json")
    } else {
        ("latest.md", "latest.json")
    };
    std::fs::write(args.out.join(mdp), &md).map_err(|e| format!("writing {mdp}: {e}"))?;
    std::fs::write(args.out.join(jsp), &js).map_err(|e| format!("writing {jsp}: {e}"))?;
    log(format!("wrote {} and {}", args.out.join(mdp).display(), args.out.join(jsp).display()));
    let fails = rows.iter().filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Inconclusive)).count();
    if fails > 0 {
        log(format!(
            "{fails} target(s) not met (failed or inconclusive): see the table (exit status stays 0: the bench \
             itself ran fine)"
        ));
    } else {
        log("all targets met");
    }
    Ok(())
}
