//! S: the soak, drops and the reader's RSS every interval.
#[allow(unused_imports)]
use super::*;

pub(crate) struct SoakSample {
    pub(crate) t_s: u64,
    pub(crate) spawned: u64,
    pub(crate) events: u64,
    pub(crate) drops: u64,
    pub(crate) rss_kib: u64,
}

pub(crate) struct Soak {
    pub(crate) secs: u64,
    pub(crate) interval: u64,
    pub(crate) samples: Vec<SoakSample>,
    pub(crate) rate: f64,
    pub(crate) errors: u64,
}

impl Soak {
    pub(crate) fn baseline(&self) -> u64 {
        self.samples.first().map_or(0, |s| s.rss_kib)
    }
    pub(crate) fn max_dev_kib(&self) -> i64 {
        let b = self.baseline() as i64;
        self.samples.iter().skip(1).map(|s| (s.rss_kib as i64 - b).abs()).max().unwrap_or(0)
    }
    pub(crate) fn drops(&self) -> u64 {
        self.samples.last().map_or(0, |s| s.drops)
    }
    pub(crate) fn pass(&self) -> bool {
        self.samples.len() >= 2 && self.max_dev_kib() <= 1024 && self.drops() == 0
    }
    pub(crate) fn row(&self, short: bool) -> Row {
        let label = if short && self.secs < 600 {
            format!("Soak, {} s (short; the target is for `--soak 600`)", self.secs)
        } else {
            format!("Soak, {} s", self.secs)
        };
        let last = self.samples.last();
        row(
            "S",
            &label,
            "tracer, defaults, 2 spawners at full rate",
            format!(
                "{} execs at {} exec/s; drops {}; RSS {} after warm-up, max deviation {} KiB",
                thousands(last.map_or(0, |s| s.spawned)),
                thousands(self.rate as u64),
                self.drops(),
                kib(self.baseline()),
                self.max_dev_kib()
            ),
            "RSS within ±1 MiB, 0 drops",
            Verdict::of(self.pass()),
            Json::obj()
                .with("seconds", self.secs)
                .with("rss_baseline_kib", self.baseline())
                .with("rss_max_deviation_kib", self.max_dev_kib())
                .with("drops", self.drops()),
        )
    }
    pub(crate) fn json(&self) -> Json {
        Json::obj()
            .with("seconds", self.secs)
            .with("interval_s", self.interval)
            .with("execs_per_s", self.rate)
            .with("spawn_errors", self.errors)
            .with(
                "samples",
                Json::Arr(
                    self.samples
                        .iter()
                        .map(|s| {
                            Json::obj()
                                .with("t_s", s.t_s)
                                .with("spawned", s.spawned)
                                .with("events", s.events)
                                .with("drops", s.drops)
                                .with("rss_kib", s.rss_kib)
                        })
                        .collect(),
                ),
            )
    }
}

pub(crate) fn soak(noop: &Noop, secs: u64, interval: u64) -> Res<Soak> {
    log(format!("soak: {secs} s at full rate (2 spawners), defaults; sample every {interval} s, first one is the warm-up baseline"));
    let tag = marker("soak");
    let progress = Arc::new(Progress::default());
    let rd = Reader::start(
        &TracerOpts::default(),
        ReaderCfg { api: Api::RustRef, marker: tag.to_bytes().to_vec(), collect_latency: false, seq_cap: 0 },
        progress.clone(),
    )?;
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let mut samples = Vec::new();
    let t0 = Instant::now();
    let wres = std::thread::scope(|s| {
        let h = s.spawn(|| timed_work(&Work { stop: Some(&stop), done: Some(&done), ..work(&noop.path, &tag, 2) }));
        let mut next = interval;
        while next <= secs && !h.is_finished() {
            let at = Duration::from_secs(next);
            let now = t0.elapsed();
            if now < at {
                std::thread::sleep(at - now);
            }
            let smp = SoakSample {
                t_s: next,
                spawned: done.load(Ordering::Relaxed),
                events: progress.events.load(Ordering::Relaxed),
                drops: rd.handle.drops(),
                rss_kib: sys::rss().rss_kib,
            };
            println!(
                "soak t={:>5}s execs={:>10} events={:>10} drops={} rss={} KiB{}",
                smp.t_s,
                smp.spawned,
                smp.events,
                smp.drops,
                smp.rss_kib,
                if samples.is_empty() { " (baseline after warm-up)" } else { "" }
            );
            samples.push(smp);
            next += interval;
        }
        stop.store(true, Ordering::SeqCst);
        h.join().unwrap_or_else(|_| Err("spawner panicked".into()))
    });
    let w = match wres {
        Ok(w) => w,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    rd.finish()?;
    Ok(Soak { secs, interval, samples, rate: w.rate(), errors: w.errors })
}
