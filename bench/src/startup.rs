//! 6: start-up (Tracer::new → attached) and close of a tracer with the defaults.
#[allow(unused_imports)]
use super::*;

/// The times of `plan.startup_n` tracers, in ms.
pub(crate) struct Startup {
    new_ms: Vec<f64>,
    close_ms: Vec<f64>,
}

impl Startup {
    /// First thing in the run: before any other tracer ran.
    pub(crate) fn measure(plan: &Plan) -> Res<Startup> {
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
        Ok(Startup { new_ms, close_ms })
    }

    pub(crate) fn rows(&self, rows: &mut Vec<Row>) {
        let (new_ms, close_ms) = (&self.new_ms, &self.close_ms);
        let new_med = median(new_ms);
        let close_med = median(close_ms);
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
    }
}
