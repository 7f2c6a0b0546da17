//! The load: spawner threads exec the no-op at full rate or a fixed count,
//! and what it cost them.
#[allow(unused_imports)]
use super::*;

pub(crate) struct Work<'a> {
    pub(crate) noop: &'a CStr,
    pub(crate) marker: &'a CStr,
    pub(crate) spawners: usize,
    /// Execs per spawner; 0 = until `stop` or `duration`.
    pub(crate) per_spawner: u64,
    /// Stop after this long (from the release of the spawners).
    pub(crate) duration: Option<Duration>,
    pub(crate) uid: Option<u32>,
    /// Mean pause between execs (uniform in [pace/4, 7*pace/4]).
    pub(crate) pace: Option<Duration>,
    pub(crate) stop: Option<&'a AtomicBool>,
    pub(crate) done: Option<&'a AtomicU64>,
}

/// `spawners` spawners running until stopped, with nothing else set.
pub(crate) fn work<'a>(noop: &'a CStr, marker: &'a CStr, spawners: usize) -> Work<'a> {
    Work { noop, marker, spawners, per_spawner: 0, duration: None, uid: None, pace: None, stop: None, done: None }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct WorkOut {
    pub(crate) spawned: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) wall: Duration,
    /// CPU time of this process (spawners, reader, ...) and of its reaped
    /// children (the execs, including the BPF programs that run in them).
    pub(crate) cpu_ns: u64,
}

impl WorkOut {
    pub(crate) fn rate(&self) -> f64 {
        self.spawned as f64 / self.wall.as_secs_f64()
    }
    pub(crate) fn cpu_per_exec_ns(&self) -> f64 {
        self.cpu_ns as f64 / self.spawned.max(1) as f64
    }
}

pub(crate) fn run_work(w: &Work<'_>) -> Res<WorkOut> {
    type One = Res<(u64, u64, Option<String>)>;
    let barrier = Barrier::new(w.spawners + 1);
    let timeout = AtomicBool::new(false);
    let (results, wall, cpu_ns): (Vec<One>, Duration, u64) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..w.spawners)
            .map(|i| {
                let barrier = &barrier;
                let timeout = &timeout;
                s.spawn(move || -> One {
                    let set = w.uid.map(sys::thread_set_uid).transpose();
                    barrier.wait();
                    set?;
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ ((i as u64 + 1) * 0x1000_0001);
                    let (mut ok, mut errs, mut first) = (0u64, 0u64, None);
                    let mut k = 0u64;
                    loop {
                        if w.per_spawner > 0 && k >= w.per_spawner {
                            break;
                        }
                        if w.stop.is_some_and(|s| s.load(Ordering::Relaxed)) || timeout.load(Ordering::Relaxed) {
                            break;
                        }
                        k += 1;
                        if let Some(p) = w.pace {
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            let f = 0.25 + 1.5 * (rng % 10_000) as f64 / 10_000.0;
                            std::thread::sleep(p.mul_f64(f));
                        }
                        match sys::spawn_wait(w.noop, Some(w.marker)) {
                            Ok(_) => {
                                ok += 1;
                                if let Some(d) = w.done {
                                    d.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                errs += 1;
                                first.get_or_insert(e);
                                if errs > 100 && ok == 0 {
                                    break;
                                }
                            }
                        }
                    }
                    if w.uid.is_some() {
                        sys::thread_set_uid(0)?;
                    }
                    Ok((ok, errs, first))
                })
            })
            .collect();
        // Timed from the release of all spawners (thread start-up excluded).
        barrier.wait();
        let t0 = Instant::now();
        let cpu0 = sys::process_cpu_ns();
        if let Some(d) = w.duration {
            while t0.elapsed() < d && !handles.iter().all(|h| h.is_finished()) {
                std::thread::sleep((d - t0.elapsed().min(d)).min(Duration::from_millis(20)));
            }
            timeout.store(true, Ordering::Relaxed);
        }
        let r: Vec<One> =
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("spawner panicked".into()))).collect();
        let wall = t0.elapsed();
        (r, wall, sys::process_cpu_ns() - cpu0)
    });
    let mut out = WorkOut { wall, cpu_ns, ..Default::default() };
    for r in results {
        let (ok, errs, first) = r?;
        out.spawned += ok;
        out.errors += errs;
        if out.first_error.is_none() {
            out.first_error = first;
        }
    }
    if out.spawned == 0 {
        return Err(format!(
            "no exec succeeded: {}",
            out.first_error.clone().unwrap_or_else(|| "unknown error".into())
        ));
    }
    Ok(out)
}

/// The workload, timed from the moment all spawners are released.
pub(crate) fn timed_work(w: &Work<'_>) -> Res<WorkOut> {
    run_work(w)
}

pub(crate) fn marker(tag: &str) -> CString {
    CString::new(format!("exectrace-bench-{}-{tag}", std::process::id())).unwrap()
}
