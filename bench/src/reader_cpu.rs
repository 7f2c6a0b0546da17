//! 4: the Rust reader's CPU per event in the traced full-rate runs, and the
//! tracer's own CPU per exec from it and row 2 (each consumer's: consumers.rs).
#[allow(unused_imports)]
use super::*;

/// How the tracer's own CPU per exec is made up (a note of the report).
pub(crate) const OWN_CPU_NOTE: &str =
    "The tracer's own CPU per exec: the in-kernel time (2), which includes what kernel.bpf_stats_enabled itself \
     costs (two clock reads per program run), plus the reader's CPU per event (4), one event per exec; \
     compared with the CPU of an untraced exec (1). Costs outside both (e.g. caches the tracer evicts) are only \
     in the throughput ratios.";

/// The reader's CPU per event and per wake-up (adds "reader_cpu" to
/// `details`), then the tracer's own CPU per exec with `bpf`, row 2's median.
pub(crate) fn reader_cpu_rows(
    t: &TracedRuns,
    bpf: f64,
    untraced_cpu: Option<f64>,
    rows: &mut Vec<Row>,
    details: &mut Json,
) {
    let mut cost_json = Json::obj();
    for c in [Conf::Defaults, Conf::WakeEach] {
        let v = t.reader_cpu_ns_per_event(c);
        let m = median(&v);
        // The same CPU per wake-up: what one trip through the scheduler costs.
        let (events, wakeups) = t.events_and_wakeups(c);
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
    let reader = median(&t.reader_cpu_ns_per_event(Conf::Defaults));
    rows.push(own_cpu_row(bpf, reader, untraced_cpu));
}

/// 4b: the tracer's own CPU per exec, from the two direct measurements
/// (`bpf` ns per exec, `reader` ns per event): far less noisy than a
/// throughput ratio on a shared VM.
fn own_cpu_row(bpf: f64, reader: f64, untraced_cpu: Option<f64>) -> Row {
    let share = untraced_cpu.filter(|&c| c > 0.0).map(|c| (bpf + reader) / c);
    row(
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
    )
}
