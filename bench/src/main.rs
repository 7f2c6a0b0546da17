//! exectrace benchmark (issue 6): what the tracer costs and whether it loses
//! anything, measured side by side in one run. See bench/README.md.
//!
//! Run as root through bench/run.sh: `bench/run.sh` (full, ~12 min),
//! `bench/run.sh --quick` (smoke test), `bench/run.sh --soak 600`.
mod consumers;
mod interleave;
mod plan;
mod profile;
mod reader;
mod report;
mod soak;
mod spawner_process;
mod stats;
mod sys;
mod throughput;
mod traced;
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

use plan::*;
use profile::*;
use soak::*;
use stats::*;
use throughput::*;
use traced::*;
use wake_cost::wake_cost_rows;
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

// ---------------------------------------------------------------- rows 2-7
// Measured together: the traced runs of traced.rs feed rows 2, 4 and 5.

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

    // ---- 2b. what the opt-in fields add in the kernel: defaults, env and
    // paths, interleaved over the same rounds, each against the defaults
    // of its own round.
    log(format!("opt-in fields: {} rounds of defaults / include_env / paths", plan.rounds));
    let confs = [Conf::Defaults, Conf::Env, Conf::Paths];
    let mut opt_ns: Vec<Vec<f64>> = vec![Vec::new(); confs.len()];
    for _ in 0..plan.rounds {
        for (i, c) in confs.iter().enumerate() {
            let w = Work {
                duration: Some(Duration::from_secs_f64(plan.run_secs / 2.0)),
                ..work(&noop.path, &tag, spawners)
            };
            let tr = traced_run(&c.opts(), Api::RustRef, &tag, &w, false)?;
            opt_ns[i].push(tr.bpf_ns as f64 / tr.bpf_execs.max(1) as f64);
        }
    }
    let mut opt_json = Json::obj();
    for (i, c) in confs.iter().enumerate().skip(1) {
        let extra: Vec<f64> = opt_ns[i].iter().zip(&opt_ns[0]).map(|(x, d)| x - d).collect();
        let (m, d) = (median(&opt_ns[i]), median(&extra));
        rows.push(row(
            "2",
            "In-kernel BPF time per exec, an opt-in field",
            c.label(),
            format!(
                "{:.2} µs, {:+.2} µs over the defaults of the same round (medians of {})",
                m / 1000.0,
                d / 1000.0,
                extra.len()
            ),
            "(reported; default only if ≤ +0.3 µs)",
            Verdict::Info,
            Json::obj().with("ns_per_exec_median", m).with("extra_ns_median", d),
        ));
        opt_json.push(c.key(), Json::obj().with("per_run", opt_ns[i].clone()).with("extra_ns", extra));
    }
    details.push("opt_in_fields", opt_json);

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
