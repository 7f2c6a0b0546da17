//! The traced full-rate runs that rows 2, 4 and 5 share: after a warm-up,
//! the defaults and wake per event in turn (A B A B ...), 2 spawners.
#[allow(unused_imports)]
use super::*;

/// Spawners of the full-rate runs (and of the opt-in field runs of row 2).
pub(crate) const FULL_RATE_SPAWNERS: usize = 2;

/// `secs` of full-rate work, as in the traced full-rate runs.
pub(crate) fn full_rate<'a>(noop: &'a Noop, tag: &'a CStr, secs: f64) -> Work<'a> {
    Work { duration: Some(Duration::from_secs_f64(secs)), ..work(&noop.path, tag, FULL_RATE_SPAWNERS) }
}

pub(crate) struct TracedRunRow {
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

pub(crate) struct TracedRuns {
    /// The marker of the children (the opt-in field runs use it too).
    pub(crate) tag: CString,
    runs: Vec<TracedRunRow>,
    /// Exec → read latencies per configuration: row 5 under load.
    pub(crate) load_latency: Vec<(Conf, Vec<u64>)>,
    pub(crate) prog_names: Vec<String>,
    /// Each run's time per program: row 2's split.
    pub(crate) per_prog: Vec<(Conf, Vec<sys::ProgSample>)>,
}

impl TracedRuns {
    fn of(&self, c: Conf) -> impl Iterator<Item = &TracedRunRow> {
        self.runs.iter().filter(move |r| r.conf == c)
    }
    pub(crate) fn bpf_ns_per_exec(&self, c: Conf) -> Vec<f64> {
        self.of(c).filter_map(|r| r.bpf_ns_per_exec).collect()
    }
    pub(crate) fn reader_cpu_ns_per_event(&self, c: Conf) -> Vec<f64> {
        self.of(c).filter_map(|r| r.reader_cpu_ns_per_event).collect()
    }
    /// Events read and reader wake-ups, summed over the runs of `c`.
    pub(crate) fn events_and_wakeups(&self, c: Conf) -> (u64, u64) {
        self.of(c).fold((0, 0), |(e, w), r| (e + r.events, w + r.wakeups))
    }
}

/// The warm-up, then `plan.rounds` rounds of the defaults and wake per
/// event; adds the runs to `details` ("traced_runs").
pub(crate) fn traced_runs(plan: &Plan, noop: &Noop, details: &mut Json, notes: &mut Vec<String>) -> Res<TracedRuns> {
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

    // ---- traced runs at full rate (2 spawners), A B A B ...
    let spawners = FULL_RATE_SPAWNERS;
    let mut runs: Vec<TracedRunRow> = Vec::new();
    let mut sat_lat: Vec<(Conf, Vec<u64>)> = vec![(Conf::Defaults, Vec::new()), (Conf::WakeEach, Vec::new())];
    let mut prog_names: Vec<String> = Vec::new();
    let mut per_prog: Vec<(Conf, Vec<sys::ProgSample>)> = Vec::new();
    for round in 0..plan.rounds {
        for (conf, lat) in sat_lat.iter_mut() {
            let conf = *conf;
            let w = full_rate(noop, &tag, plan.run_secs);
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
    Ok(TracedRuns { tag, runs, load_latency: sat_lat, prog_names, per_prog })
}
