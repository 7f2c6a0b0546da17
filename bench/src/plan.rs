//! What a run measures and for how long (the modes and their plans),
//! and the command line.
#[allow(unused_imports)]
use super::*;

/// The program that runs once per exec; its run count is the exec count.
pub(crate) const EXEC_PROG: &str = "process_exec";

/// From a tracer's load to its throughput segment. For ~50 ms after
/// `Tracer::new` returns, execs run ~25% slower, then a few % slower for a
/// few hundred ms (25 ms bins, tracer vs none, 2 spawners). In 5 of 6
/// interleaved comparisons a segment timed 300 ms after the load read
/// 0.2-5% slower than one timed 1 or 2 s after, in the 6th 3% faster
/// (`--settle-check`): at the noise of this VM, so the longer wait. An
/// after-effect of loading, paid once, not a cost per exec.
pub(crate) const SETTLE: Duration = Duration::from_millis(1000);

/// A real command for one more throughput row: what a workload of
/// ordinary commands pays (the dynamic loader, libc and its pages, on top
/// of the exec the no-op is).
pub(crate) const REAL_COMMAND: &CStr = c"/usr/bin/true";
pub(crate) const REAL_COMMAND_WHAT: &str = "coreutils, dynamically linked";

pub(crate) struct Plan {
    pub(crate) mode: &'static str,
    /// Throughput (1): interleaved blocks with 1 and with 2 spawners in
    /// this process, with 2 in a process of their own, and the same with
    /// the tracers switched on and off instead of reloaded, and switched
    /// again with a real command as the child (`REAL_COMMAND`); the length
    /// of one segment.
    pub(crate) tput_blocks: [usize; 5],
    pub(crate) tput_seg: Duration,
    /// From a tracer's load to its segment (see `SETTLE`).
    pub(crate) tput_settle: Duration,
    /// Traced runs at full rate (2 spawners) for in-kernel time, reader CPU
    /// and latency under load (2, 4, 5): rounds, and seconds per run.
    pub(crate) rounds: usize,
    pub(crate) run_secs: f64,
    pub(crate) burst_per_spawner: u64,
    /// The CPU per event of each consumer (row 4, consumers.rs): rounds,
    /// interleaved, and seconds per round. Five: one consumer's rounds
    /// spread by ±20% with the host's scheduling (Python 1.32–1.85 µs in
    /// one run of three), too much for a median of three.
    pub(crate) cost_rounds: usize,
    pub(crate) cost_secs: f64,
    /// What one wake-up costs a busy CPU (wake_cost.rs): rounds, and the
    /// length of each of a round's three windows.
    pub(crate) wake_rounds: usize,
    pub(crate) wake_window: Duration,
    pub(crate) lat_rounds: usize,
    pub(crate) lat_events: u64,
    pub(crate) pace: Duration,
    pub(crate) startup_n: usize,
    pub(crate) soak_secs: u64,
    pub(crate) soak_interval: u64,
}

impl Plan {
    pub(crate) fn full() -> Plan {
        Plan {
            mode: "full",
            tput_blocks: [24, 40, 40, 200, 100],
            tput_seg: Duration::from_millis(250),
            tput_settle: SETTLE,
            rounds: 3,
            run_secs: 2.0,
            burst_per_spawner: 20_000,
            cost_rounds: 5,
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
    pub(crate) fn quick() -> Plan {
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

pub(crate) struct Args {
    pub(crate) quick: bool,
    /// Nice value for the reading threads (default: inherited).
    pub(crate) reader_nice: Option<i32>,
    /// Only run a workload for profiling: (seconds, configuration).
    pub(crate) workload: Option<(u64, Conf)>,
    /// Spawners of the --workload mode.
    pub(crate) workload_spawners: usize,
    pub(crate) soak_only: Option<u64>,
    /// Only the throughput comparison (1).
    pub(crate) throughput_only: bool,
    /// Only the CPU per event of each consumer (4), with its own untraced
    /// and BPF baselines.
    pub(crate) consumers_only: bool,
    /// Only what a wake-up costs a busy CPU (4c), printed.
    pub(crate) wake_cost_only: bool,
    pub(crate) blocks: Option<usize>,
    pub(crate) switch_blocks: Option<usize>,
    /// Add a throughput arm whose segment starts 300 ms after its load.
    pub(crate) settle_check: bool,
    pub(crate) decompose: bool,
    pub(crate) rounds: Option<usize>,
    pub(crate) out: std::path::PathBuf,
}

pub(crate) fn usage() -> &'static str {
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

pub(crate) fn parse_args() -> Res<Args> {
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
