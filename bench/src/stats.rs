//! Medians, percentiles, histograms and the units the table prints.
#[allow(unused_imports)]
use super::*;

pub(crate) fn median(v: &[f64]) -> f64 {
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
pub(crate) fn pct(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let idx = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[idx]
}

/// Counts of latencies per bucket (upper bounds in ms; the last is open).
pub(crate) fn histogram(v: &[u64]) -> Json {
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

pub(crate) fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

pub(crate) fn kib(k: u64) -> String {
    format!("{:.1} MiB", k as f64 / 1024.0)
}

pub(crate) fn bytes_mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / (1024.0 * 1024.0))
}
