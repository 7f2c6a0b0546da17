//! What one wake-up of a sleeping thread takes from a busy CPU: the way the
//! reader wakes (its timer expiring with a scheduler tick) and the way it
//! did before (a timer interrupt of its own). A spinner pinned to one CPU
//! reads the clock in a tight loop; a jump between two reads is time that
//! CPU spent on something else. A waker (waker.rs) on the same CPU wakes
//! every 4 ms in some windows and not at all in others, in alternating
//! order; the lost time per second with it, minus without, over its
//! wake-ups per second is what one costs. Unlike exec throughput, this
//! resolves a few µs per wake-up on a noisy VM.
#[allow(unused_imports)]
use super::*;
use std::time::Duration;

use crate::sys::{self, monotonic_ns, Res};
use crate::waker::{Tick, Waker};

/// Jumps shorter than this are the loop's own (cache misses and the like).
const MIN_GAP_NS: u64 = 1_000;
/// Jumps this long or longer are the host preempting the vCPU or another
/// process's time slice, not a wake-up: left out.
const MAX_GAP_NS: u64 = 500_000;
/// After switching wakers, before a window: the last wake-up of the one
/// switched off falls in here.
const SETTLE: Duration = Duration::from_millis(20);

pub struct WakeCost {
    /// Per round: ns lost per wake-up, on the tick and off it.
    pub on_tick_ns: Vec<f64>,
    pub off_tick_ns: Vec<f64>,
    /// Median time lost per second with no waker, ns: the noise floor.
    pub idle_lost_ns_per_s: f64,
}

/// Time lost in jumps during `window`, as ns per second.
fn lost_per_s(window: Duration) -> f64 {
    let start = monotonic_ns();
    let end = start + window.as_nanos() as u64;
    let (mut prev, mut lost) = (start, 0);
    loop {
        let now = monotonic_ns();
        let gap = now - prev;
        if (MIN_GAP_NS..MAX_GAP_NS).contains(&gap) {
            lost += gap;
        }
        prev = now;
        if now >= end {
            return lost as f64 * 1e9 / (now - start) as f64;
        }
    }
}

/// `rounds` rounds of three `window`-long windows (no waker, on the tick,
/// off it), in alternating order, on the last CPU.
pub fn measure(rounds: usize, window: Duration, period: Duration) -> Res<WakeCost> {
    let cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
    std::thread::scope(|s| {
        s.spawn(|| -> Res<WakeCost> {
            // The wakers are created by this thread, so they inherit its CPU.
            sys::pin_to_cpu(cpu)?;
            let wakers = [Waker::start(period, Tick::On)?, Waker::start(period, Tick::Off)?];
            let (mut on, mut off, mut idle) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..rounds {
                let mut lost = [0.0; 3];
                let mut rate = [0.0; 3];
                let order: [usize; 3] = if round % 2 == 0 { [0, 1, 2] } else { [2, 1, 0] };
                for mode in order {
                    for (i, w) in wakers.iter().enumerate() {
                        w.set(mode == i + 1);
                    }
                    std::thread::sleep(SETTLE);
                    let (w0, t0) = (wakers.iter().map(Waker::wakes).sum::<u64>(), monotonic_ns());
                    lost[mode] = lost_per_s(window);
                    let (w1, t1) = (wakers.iter().map(Waker::wakes).sum::<u64>(), monotonic_ns());
                    rate[mode] = (w1 - w0) as f64 * 1e9 / (t1 - t0) as f64;
                }
                if rate[1] < 1.0 || rate[2] < 1.0 {
                    return Err(format!("wake-up cost: a waker did not wake ({:.0}/s, {:.0}/s)", rate[1], rate[2]));
                }
                on.push((lost[1] - lost[0]) / rate[1]);
                off.push((lost[2] - lost[0]) / rate[2]);
                idle.push(lost[0]);
            }
            for w in wakers {
                w.finish()?;
            }
            Ok(WakeCost { on_tick_ns: on, off_tick_ns: off, idle_lost_ns_per_s: crate::median(&idle) })
        })
        .join()
        .map_err(|_| "wake-up cost: the probe thread panicked".to_string())?
    })
}

/// How a wake-up's cost is measured (a note of the report).
pub(crate) const WAKE_COST_NOTE: &str =
    "CPU a wake-up takes from a busy CPU: a thread pinned to one CPU reads the clock in a tight loop and sums \
     the jumps of 1–500 µs between two reads (time the CPU spent elsewhere; longer ones are the host's); a \
     thread on the same CPU wakes every 4 ms, on the scheduler tick as the reader's timer does, or off it \
     with a timer interrupt of its own, or not at all, in alternating windows. Per round: the lost time per \
     second with the waker minus without, over its wake-ups per second; median over rounds, bootstrap 95% \
     interval.";

/// 4c: what the reader's wake-ups cost a busy CPU, with and without a timer
/// interrupt each (see linger_deadline in the library).
pub(crate) fn wake_cost_rows(plan: &Plan, rows: &mut Vec<Row>, details: &mut Json) -> Res<()> {
    let period = exectrace::DEFAULT_WAKEUP_LATENCY;
    log(format!(
        "wake-up cost: {} rounds of 3 x {} ms windows, a waker every {} ms",
        plan.wake_rounds,
        plan.wake_window.as_millis(),
        period.as_millis()
    ));
    let wc = wake_cost::measure(plan.wake_rounds, plan.wake_window, period)?;
    let mut wake_json = Json::obj().with("idle_lost_ns_per_s", wc.idle_lost_ns_per_s);
    // Paired per round: what the interrupt of its own adds.
    let extra: Vec<f64> = wc.off_tick_ns.iter().zip(&wc.on_tick_ns).map(|(off, on)| off - on).collect();
    let extra_iv = interleave::estimate(&extra);
    for (label, key, v) in [
        ("on the scheduler tick (the reader's timer)", "on_tick", &wc.on_tick_ns),
        ("off the tick (a timer interrupt of its own)", "off_tick", &wc.off_tick_ns),
    ] {
        let m = median(v);
        let iv = interleave::estimate(v);
        let more = if key == "off_tick" {
            format!(
                "; {:.1} µs [{:.1}, {:.1}] more than on the tick",
                extra_iv.median / 1000.0,
                extra_iv.lo / 1000.0,
                extra_iv.hi / 1000.0
            )
        } else {
            String::new()
        };
        rows.push(row(
            "4",
            &format!("CPU one wake-up every {} ms takes from a busy CPU (a spinner's lost time)", period.as_millis()),
            &format!("a thread waking {label}"),
            format!(
                "{:.1} µs [{:.1}, {:.1}]{more} (medians of {} rounds; {:.1} ms/s lost with no waker)",
                m / 1000.0,
                iv.lo / 1000.0,
                iv.hi / 1000.0,
                v.len(),
                wc.idle_lost_ns_per_s / 1e6
            ),
            "",
            Verdict::Info,
            Json::obj().with("ns_median", m).with("per_round", v.clone()),
        ));
        wake_json.push(key, median(v));
    }
    wake_json.push("off_minus_on_tick", extra_iv.median);
    details.push("wake_cost", wake_json);
    Ok(())
}
