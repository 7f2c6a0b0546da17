//! The tracer configurations compared, and one traced run: a tracer with
//! a draining reader while the workload runs (rows 2, 4 and 5 come from these).
#[allow(unused_imports)]
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conf {
    NoTracer,
    Defaults,
    WakeEach,
    /// Defaults but for a bound five times as long (under the switched
    /// comparison's 30 ms gap, so that a detached tracer is quiet).
    LongBound,
    /// Defaults plus the opt-in environment (`include_env`).
    Env,
    /// Defaults plus the opt-in paths (`paths`: exe_path and cwd).
    Paths,
}

impl Conf {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Conf::NoTracer => "no tracer",
            Conf::Defaults => "tracer, defaults (4 ms wake-up bound)",
            Conf::WakeEach => "tracer, wake per event",
            Conf::LongBound => "tracer, 20 ms wake-up bound (a fifth of the wake-ups)",
            Conf::Env => "tracer, defaults + include_env",
            Conf::Paths => "tracer, defaults + paths",
        }
    }
    pub(crate) fn key(self) -> &'static str {
        match self {
            Conf::NoTracer => "no_tracer",
            Conf::Defaults => "defaults",
            Conf::WakeEach => "wake_per_event",
            Conf::LongBound => "bound_20ms",
            Conf::Env => "include_env",
            Conf::Paths => "paths",
        }
    }
    pub(crate) fn opts(self) -> TracerOpts {
        let mut o = TracerOpts::default();
        match self {
            Conf::WakeEach => o.wakeup_latency = Duration::ZERO,
            Conf::LongBound => o.wakeup_latency = Duration::from_millis(20),
            Conf::Env => o.include_env = true,
            Conf::Paths => o.paths = true,
            Conf::NoTracer | Conf::Defaults => {}
        }
        o
    }
}

/// A tracer with a draining reader, the workload, and the numbers around it.
pub(crate) struct TracedRun {
    pub(crate) work: WorkOut,
    pub(crate) reader: ReaderOut,
    pub(crate) drops: u64,
    /// Sum of the tracer's programs' run time, and execs seen by process_exec.
    pub(crate) bpf_ns: u64,
    pub(crate) bpf_execs: u64,
    pub(crate) bpf_per_prog: Vec<sys::ProgSample>,
    pub(crate) prog_names: Vec<String>,
}

pub(crate) fn traced_run(
    opts: &TracerOpts,
    api: Api,
    tag: &CStr,
    w: &Work<'_>,
    collect_latency: bool,
) -> Res<TracedRun> {
    let progress = Arc::new(Progress::default());
    let cfg = ReaderCfg { api, marker: tag.to_bytes().to_vec(), collect_latency, seq_cap: 0 };
    let rd = Reader::start(opts, cfg, progress)?;
    let res = (|| {
        let progs = TracerProgs::find(rd.handle.prog_fd())?;
        let s0 = progs.sample()?;
        let work = timed_work(w)?;
        let s1 = progs.sample()?;
        let (bpf_ns, bpf_execs, per) = sys::bpf_delta(&s0, &s1, EXEC_PROG);
        Ok((work, bpf_ns, bpf_execs, per, progs.names()))
    })();
    let (work, bpf_ns, bpf_execs, per, names) = match res {
        Ok(v) => v,
        Err(e) => {
            let _ = rd.finish();
            return Err(e);
        }
    };
    rd.wait_marked(work.spawned, Duration::from_millis(500));
    let drops = rd.handle.drops();
    let reader = rd.finish()?;
    Ok(TracedRun { work, reader, drops, bpf_ns, bpf_execs, bpf_per_prog: per, prog_names: names })
}
