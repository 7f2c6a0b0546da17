//! exectrace benchmark (issue 6): what the tracer costs and whether it loses
//! anything, measured side by side in one run. See bench/README.md.
//!
//! Run as root through bench/run.sh: `bench/run.sh` (full, ~12 min),
//! `bench/run.sh --quick` (smoke test), `bench/run.sh --soak 600`.
mod bpf_time;
mod consumers;
mod delivery;
mod interleave;
mod latency;
mod memory;
mod plan;
mod profile;
mod reader;
mod reader_cpu;
mod report;
mod soak;
mod spawner_process;
mod startup;
mod stats;
mod sys;
mod throughput;
mod traced;
mod traced_runs;
mod wake_cost;
mod waker;
mod workload;

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

use bpf_time::*;
use delivery::*;
use latency::*;
use memory::*;
use plan::*;
use profile::*;
use reader_cpu::*;
use soak::*;
use startup::*;
use stats::*;
use throughput::*;
use traced::*;
use traced_runs::*;
use wake_cost::{wake_cost_rows, WAKE_COST_NOTE};
use workload::*;

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

/// Rows 2-7 and the soak, in the order they have always been measured in:
/// start-up first (before any other tracer ran), the traced full-rate runs
/// that rows 2, 4 and 5 share next, each row's runs of its own after them.
/// One module per row: startup.rs (6), traced_runs.rs, bpf_time.rs (2),
/// delivery.rs (3), consumers.rs and reader_cpu.rs (4), wake_cost.rs (4c),
/// latency.rs (5), memory.rs (7), soak.rs (S).
fn main_bench(
    plan: &Plan,
    noop: &Noop,
    untraced_cpu: Option<f64>,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<()> {
    let rss_start = sys::rss();
    let startup = Startup::measure(plan)?;
    let mut traced = traced_runs(plan, noop, details, notes)?;
    in_kernel_rows(&traced, rows, details);
    opt_in_field_rows(plan, noop, &traced.tag, rows, details)?;
    let memory = burst_row(plan, noop, rows, notes)?;
    tiny_ring_row(plan, noop, rows)?;
    // Row 4: each consumer's CPU per event, then the traced runs' reader's.
    let bpf = median(&traced.bpf_ns_per_exec(Conf::Defaults));
    consumers::rows(plan, noop, bpf, untraced_cpu, rows, details, notes)?;
    reader_cpu_rows(&traced, bpf, untraced_cpu, rows, details);
    wake_cost_rows(plan, rows, details)?;
    latency_rows(plan, noop, &mut traced.load_latency, rows, details)?;
    startup.rows(rows);
    memory_rows(&rss_start, &memory, rows, details);

    // ---- soak (short in this mode)
    let s = soak(noop, plan.soak_secs, plan.soak_interval)?;
    rows.push(s.row(true));
    details.push("soak", s.json());
    // After every other note, as before the split (these explain the rows).
    notes.extend([IN_KERNEL_NOTE, OWN_CPU_NOTE, WAKE_COST_NOTE, TINY_RING_NOTE].map(String::from));
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
        consumers::consumers_only(&plan, &noop, &mut rows, &mut details, &mut notes)?;
    } else {
        title = format!("exectrace benchmark ({})", plan.mode);
        main_bench(&plan, &noop, untraced_cpu, &mut rows, &mut details, &mut notes)?;
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
