//! 3: delivery of a burst, with the defaults (3a; row 7's memory is sampled
//! during it) and through a tiny ring with a paused then slow reader (3b).
#[allow(unused_imports)]
use super::*;

/// How the tiny ring's drops are counted (a note of the report).
pub(crate) const TINY_RING_NOTE: &str = "Tiny-ring accounting: the children run as a uid no other process has and the tracer filters on it, so every event \
     and every drop is one of ours; the drop counter is read after every child was reaped (final).";

fn item(plan: &Plan) -> String {
    format!("Delivery, burst of 2 x {} execs", thousands(plan.burst_per_spawner))
}

/// 3a: a burst of 2 spawners with the defaults; returns the memory of row 7.
pub(crate) fn burst_row(plan: &Plan, noop: &Noop, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Res<TracerMemory> {
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
    let (maps, prog_mem) = kernel_memory(&rd)?;
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
        &item(plan),
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
    Ok(TracerMemory { rss_before, rss_with, maps, prog_mem })
}

/// 3b: the same burst through a 64 KiB ring, the reader paused then slow;
/// the children's uid is the tracer's filter, so the accounting is exact.
pub(crate) fn tiny_ring_row(plan: &Plan, noop: &Noop, rows: &mut Vec<Row>) -> Res<()> {
    let total = 2 * plan.burst_per_spawner;
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
        &item(plan),
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
    Ok(())
}
