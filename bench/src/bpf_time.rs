//! 2: in-kernel BPF time per exec, from the traced full-rate runs, and what
//! each opt-in field adds to it (runs of their own).
#[allow(unused_imports)]
use super::*;

/// How the in-kernel time is measured (a note of the report).
pub(crate) const IN_KERNEL_NOTE: &str = "In-kernel time: kernel.bpf_stats_enabled run_time_ns of all the tracer's programs over the traced full-rate runs, divided by \
     process_exec's run count (every exec on the host, not only ours).";

/// Row 2 per configuration of the traced full-rate runs, with the split
/// per program; adds "in_kernel" to `details`.
pub(crate) fn in_kernel_rows(t: &TracedRuns, rows: &mut Vec<Row>, details: &mut Json) {
    let mut kern_json = Json::obj().with("programs", t.prog_names.clone());
    for c in [Conf::Defaults, Conf::WakeEach] {
        let v = t.bpf_ns_per_exec(c);
        let m = median(&v);
        // Per program, pooled over all runs of this config.
        let mut pooled: Vec<sys::ProgSample> = Vec::new();
        let mut execs = 0u64;
        for (_, per) in t.per_prog.iter().filter(|(cc, _)| *cc == c) {
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
}

/// What the opt-in fields add in the kernel: defaults, env and paths,
/// interleaved over the same rounds, each against the defaults of its own
/// round (`tag`: the traced full-rate runs' marker). Adds "opt_in_fields".
pub(crate) fn opt_in_field_rows(
    plan: &Plan,
    noop: &Noop,
    tag: &CStr,
    rows: &mut Vec<Row>,
    details: &mut Json,
) -> Res<()> {
    log(format!("opt-in fields: {} rounds of defaults / include_env / paths", plan.rounds));
    let confs = [Conf::Defaults, Conf::Env, Conf::Paths];
    let mut opt_ns: Vec<Vec<f64>> = vec![Vec::new(); confs.len()];
    for _ in 0..plan.rounds {
        for (i, c) in confs.iter().enumerate() {
            let w = full_rate(noop, tag, plan.run_secs / 2.0);
            let tr = traced_run(&c.opts(), Api::RustRef, tag, &w, false)?;
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
    Ok(())
}
