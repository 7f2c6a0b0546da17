//! `--workload`: only the load, for a profiler.
#[allow(unused_imports)]
use super::*;

pub(crate) fn profile_workload(noop: &Noop, secs: u64, conf: Conf, spawners: usize) -> Res<()> {
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
