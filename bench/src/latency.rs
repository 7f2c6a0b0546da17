//! 5: exec → read latency, paced (runs of its own: 1 spawner, ~1 exec per
//! pace) and under load (from the traced full-rate runs).
#[allow(unused_imports)]
use super::*;

/// The paced runs, then row 5 for them and for `load` (the latencies of the
/// traced full-rate runs, sorted in place); adds "latency" to `details`.
pub(crate) fn latency_rows(
    plan: &Plan,
    noop: &Noop,
    load: &mut [(Conf, Vec<u64>)],
    rows: &mut Vec<Row>,
    details: &mut Json,
) -> Res<()> {
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
    let load_item = format!("Latency exec → read, under load ({FULL_RATE_SPAWNERS} spawners at full rate)");
    let sets = paced.iter_mut().map(|(c, l)| (&paced_item, "paced", *c, l));
    for (item, key, conf, lat) in sets.chain(load.iter_mut().map(|(c, l)| (&load_item, "load", *c, l))) {
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
    Ok(())
}
