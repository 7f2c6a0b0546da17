//! Consumers in processes of their own: the Go binding, the Python binding
//! and the CLI, each reading a default tracer while the spawners run. Their
//! CPU is the on-CPU time of all their threads (`/proc/PID/task/*/schedstat`)
//! from "tracing" to "has read the end marker's event", divided by the
//! events they read in that time.
//!
//! bench/run.sh installs the library into a prefix of its own and builds the
//! Go consumer (bench/consumers/go); it passes them in
//! `EXECTRACE_BENCH_PREFIX` and `EXECTRACE_BENCH_GO_CONSUMER`. The Python
//! consumer is bench/consumers/python/consume.py on bindings/python. Both
//! print `ready`, then `done EVENTS MARKED` after the event of the end
//! marker. The CLI writes its lines to a file: it is ready once a probe
//! exec's line is there, done once the end marker's is.
use std::ffi::{CStr, CString};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use exectrace::TracerOpts;

use crate::reader::Api;
use crate::report::{row, thousands, Json, Row, Verdict};
use crate::sys::{self, Noop, Res};
use crate::{full_rate, log, marker, median, timed_work, traced_run, work, Conf, Plan, Work, WorkOut};

/// Longest wait for a consumer to start tracing or to read the end marker.
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum External {
    Go,
    Python,
    CliJson,
    CliText,
}

impl External {
    pub const ALL: [External; 4] = [External::Go, External::Python, External::CliJson, External::CliText];

    pub fn label(self) -> &'static str {
        match self {
            External::Go => "Go binding, blocking Read loop",
            External::Python => "Python binding, for ev in Tracer()",
            External::CliJson => "CLI --format json to a file",
            External::CliText => "CLI --format text to a file",
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            External::Go => "go",
            External::Python => "python",
            External::CliJson => "cli_json",
            External::CliText => "cli_text",
        }
    }
    /// The aim for this consumer's CPU per event, ns.
    pub fn aim_ns(self) -> f64 {
        match self {
            External::Go => 2000.0,
            External::Python => 8000.0,
            External::CliJson | External::CliText => 1500.0,
        }
    }
}

/// What the consumers need, found from bench/run.sh's environment.
pub struct Tools {
    prefix: Option<PathBuf>,
    go: Option<PathBuf>,
}

impl Tools {
    pub fn from_env() -> Tools {
        let path = |v: &str| std::env::var_os(v).map(PathBuf::from).filter(|p| p.exists());
        Tools { prefix: path("EXECTRACE_BENCH_PREFIX"), go: path("EXECTRACE_BENCH_GO_CONSUMER") }
    }

    /// The command that runs `kind` (stdin, stdout still to set), or why not.
    fn command(&self, kind: External, marker: &CStr, end: &CStr) -> Res<Command> {
        let prefix = self
            .prefix
            .as_ref()
            .ok_or("EXECTRACE_BENCH_PREFIX (an install of the library) is not set: run bench/run.sh")?;
        let args = [marker.to_string_lossy().into_owned(), end.to_string_lossy().into_owned()];
        match kind {
            External::Go => {
                let go = self.go.as_ref().ok_or("no Go consumer built (is go installed?)")?;
                let mut c = Command::new(go);
                c.args(args).env("LD_LIBRARY_PATH", prefix.join("lib"));
                Ok(c)
            }
            External::Python => {
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                let mut c = Command::new("python3");
                c.arg(root.join("consumers/python/consume.py"))
                    .args(args)
                    .env("PYTHONPATH", root.join("../bindings/python"))
                    .env("PYTHONDONTWRITEBYTECODE", "1")
                    .env("EXECTRACE_LIBRARY", prefix.join("lib/libexectrace.so.0"));
                Ok(c)
            }
            External::CliJson | External::CliText => {
                let mut c = Command::new(prefix.join("bin/exectrace"));
                c.args(["--format", if kind == External::CliJson { "json" } else { "text" }]);
                Ok(c)
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct ExtOut {
    pub work: WorkOut,
    pub events: u64,
    pub marked: u64,
    pub cpu_ns: u64,
}

/// On-CPU time of every thread of `pid` so far, ns.
fn tasks_cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    dir.filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Ends a consumer that is still running when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
            let t0 = Instant::now();
            while matches!(self.0.try_wait(), Ok(None)) && t0.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Run `kind` while `work` runs the spawners (their argv holds `marker`).
pub fn measure(
    tools: &Tools,
    kind: External,
    noop: &CStr,
    marker: &CStr,
    work: impl FnOnce() -> Res<WorkOut>,
) -> Res<ExtOut> {
    // Neither holds the other nor the marker: lines are matched by substring.
    let end = CString::new(format!("exectrace-bench-{}-end-{}", std::process::id(), kind.key())).unwrap();
    let cmd = tools.command(kind, marker, &end)?;
    match kind {
        External::Go | External::Python => by_stdout(cmd, noop, &end, work),
        External::CliJson | External::CliText => by_file(cmd, noop, marker, &end, work),
    }
}

fn by_stdout(mut cmd: Command, noop: &CStr, end: &CStr, work: impl FnOnce() -> Res<WorkOut>) -> Res<ExtOut> {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = Reaped(cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?);
    let pid = child.0.id();
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(l) if l == "ready" => {}
        other => return Err(format!("{cmd:?}: expected \"ready\", got {other:?}")),
    }
    let cpu0 = tasks_cpu_ns(pid);
    let work = work()?;
    // The end marker, again now and then in case the consumer lost it.
    let t0 = Instant::now();
    let done = loop {
        sys::spawn_wait(noop, Some(end))?;
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(l) => break l,
            Err(mpsc::RecvTimeoutError::Timeout) if t0.elapsed() < PATIENCE => continue,
            Err(e) => return Err(format!("{cmd:?}: no \"done\" line ({e})")),
        }
    };
    let cpu_ns = tasks_cpu_ns(pid) - cpu0;
    let mut f = done.split_whitespace().skip(1).map(|v| v.parse::<u64>());
    let (Some(Ok(events)), Some(Ok(marked))) = (f.next(), f.next()) else {
        return Err(format!("{cmd:?}: bad line {done:?}"));
    };
    drop(child.0.stdin.take());
    let status = child.0.wait().map_err(|e| format!("waiting for {cmd:?}: {e}"))?;
    if !status.success() {
        return Err(format!("{cmd:?}: {status}"));
    }
    Ok(ExtOut { work, events, marked, cpu_ns })
}

/// Lines appended to a file, read as they come.
struct Tail {
    file: std::fs::File,
    buf: Vec<u8>,
    /// Complete lines in `buf` so far.
    lines: Vec<(usize, usize)>,
    scanned: usize,
}

impl Tail {
    fn poll(&mut self) {
        let _ = self.file.read_to_end(&mut self.buf);
        while let Some(i) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') {
            self.lines.push((self.scanned, self.scanned + i));
            self.scanned += i + 1;
        }
    }
    fn holds(&self, line: usize, needle: &[u8]) -> bool {
        let (a, b) = self.lines[line];
        self.buf[a..b].windows(needle.len()).any(|w| w == needle)
    }
    /// Index of the first complete line from `from` on that holds `needle`.
    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        (from..self.lines.len()).find(|&i| self.holds(i, needle))
    }
    /// Wait (running `exec` now and then) for a line holding `needle`.
    fn wait_for(&mut self, from: usize, needle: &CStr, exec: impl Fn() -> Res<()>) -> Res<usize> {
        let t0 = Instant::now();
        let mut last_exec: Option<Instant> = None;
        loop {
            if last_exec.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
                exec()?;
                last_exec = Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(10));
            self.poll();
            if let Some(i) = self.find(from, needle.to_bytes()) {
                return Ok(i);
            }
            if t0.elapsed() > PATIENCE {
                return Err(format!("no line with {needle:?} within {PATIENCE:?}"));
            }
        }
    }
}

fn by_file(
    mut cmd: Command,
    noop: &CStr,
    marker: &CStr,
    end: &CStr,
    work: impl FnOnce() -> Res<WorkOut>,
) -> Res<ExtOut> {
    let path = std::env::temp_dir().join(format!("exectrace-bench-{}-{}.out", std::process::id(), sys::monotonic_ns()));
    let out = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let _rm = RemoveOnDrop(path.clone());
    // Its counts at exit would only clutter the benchmark's log.
    cmd.stdin(Stdio::null()).stdout(out).stderr(Stdio::null());
    let mut child = Reaped(cmd.spawn().map_err(|e| format!("starting {cmd:?}: {e}"))?);
    let pid = child.0.id();
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tail = Tail { file, buf: Vec::new(), lines: Vec::new(), scanned: 0 };
    let probe = CString::new(format!("exectrace-bench-{}-probe-{}", std::process::id(), sys::monotonic_ns())).unwrap();
    let ready = tail.wait_for(0, &probe, || sys::spawn_wait(noop, Some(&probe)).map(drop))?;
    let cpu0 = tasks_cpu_ns(pid);
    let work = work()?;
    let done = tail.wait_for(ready + 1, end, || sys::spawn_wait(noop, Some(end)).map(drop))?;
    let cpu_ns = tasks_cpu_ns(pid) - cpu0;
    // The lines after the probe's, the end marker's included.
    let events = (done - ready) as u64;
    let marked = (ready + 1..=done).filter(|&i| tail.holds(i, marker.to_bytes())).count() as u64;
    // SAFETY: signalling our own child; it prints its counts and exits.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let _ = child.0.wait();
    Ok(ExtOut { work, events, marked, cpu_ns })
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A consumer of the benchmark's rows: a reading thread in this process
/// (Rust or C), or a program of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consumer {
    InProcess(Api),
    Program(External),
}

impl Consumer {
    const ALL: [Consumer; 8] = [
        Consumer::InProcess(Api::RustOwned),
        Consumer::InProcess(Api::RustRef),
        Consumer::InProcess(Api::CAbi),
        Consumer::InProcess(Api::CBatch),
        Consumer::Program(External::ALL[0]),
        Consumer::Program(External::ALL[1]),
        Consumer::Program(External::ALL[2]),
        Consumer::Program(External::ALL[3]),
    ];
    fn label(self) -> &'static str {
        match self {
            Consumer::InProcess(a) => a.label(),
            Consumer::Program(p) => p.label(),
        }
    }
    fn key(self) -> &'static str {
        match self {
            Consumer::InProcess(a) => a.key(),
            Consumer::Program(p) => p.key(),
        }
    }
    /// The target for BPF time + this consumer's CPU per event, as a share
    /// of an untraced exec's CPU (issue 19).
    fn share_target(self) -> f64 {
        match self {
            Consumer::InProcess(_) => 0.01,
            Consumer::Program(_) => 0.02,
        }
    }
}

#[derive(Default)]
struct Acc {
    per_round: Vec<f64>,
    events: u64,
    marked: u64,
    spawned: u64,
    error: Option<String>,
}

/// Row 4 per consumer: its CPU per event while 2 spawners exec the no-op
/// for `plan.cost_secs`, rounds interleaved, and with the BPF time per
/// exec (`bpf_ns`) the tracer's own CPU per exec against its target.
pub fn rows(
    plan: &Plan,
    noop: &Noop,
    bpf_ns: f64,
    untraced_cpu: Option<f64>,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<()> {
    let tools = Tools::from_env();
    let tag = marker("cost");
    let mut accs: Vec<Acc> = Consumer::ALL.iter().map(|_| Acc::default()).collect();
    for round in 0..plan.cost_rounds {
        for (&c, acc) in Consumer::ALL.iter().zip(accs.iter_mut()) {
            if acc.error.is_some() {
                continue;
            }
            let w = Work { duration: Some(Duration::from_secs_f64(plan.cost_secs)), ..work(&noop.path, &tag, 2) };
            let got = match c {
                Consumer::InProcess(api) => traced_run(&TracerOpts::default(), api, &tag, &w, false)
                    .map(|t| (t.reader.cpu_ns, t.reader.events, t.reader.marked, t.work.spawned)),
                Consumer::Program(p) => measure(&tools, p, &noop.path, &tag, || timed_work(&w))
                    .map(|o| (o.cpu_ns, o.events, o.marked, o.work.spawned)),
            };
            match got {
                Ok((cpu_ns, events, marked, spawned)) => {
                    let per = cpu_ns as f64 / events.max(1) as f64;
                    log(format!(
                        "consumer cost round {}/{} {:<36} {:>6.2} µs/event over {} events ({marked} of {spawned} marked)",
                        round + 1,
                        plan.cost_rounds,
                        c.label(),
                        per / 1000.0,
                        events
                    ));
                    acc.per_round.push(per);
                    acc.events += events;
                    acc.marked += marked;
                    acc.spawned += spawned;
                }
                Err(e) => {
                    log(format!("consumer {}: not measured: {e}", c.label()));
                    acc.error = Some(e);
                }
            }
        }
    }
    let mut json = Json::obj().with("bpf_ns_per_exec", bpf_ns).with("untraced_exec_cpu_ns", untraced_cpu);
    for (c, acc) in Consumer::ALL.into_iter().zip(accs) {
        let target = c.share_target();
        let aim = match c {
            Consumer::Program(p) => format!("; aim ≤ {:.1} µs/event", p.aim_ns() / 1000.0),
            Consumer::InProcess(_) => String::new(),
        };
        let target_text = format!("BPF + consumer ≤ {:.0}% of an untraced exec{aim}", target * 100.0);
        if let Some(e) = acc.error {
            notes.push(format!("{}: not measured: {e}", c.label()));
            rows.push(row(
                "4",
                "CPU per event of each consumer",
                c.label(),
                format!("not measured: {e}"),
                &target_text,
                Verdict::Fail,
                Json::obj().with("error", e),
            ));
            continue;
        }
        let m = median(&acc.per_round);
        let share = untraced_cpu.filter(|&u| u > 0.0).map(|u| (bpf_ns + m) / u);
        let all = acc.marked == acc.spawned;
        let verdict = match share {
            Some(s) => Verdict::of(s <= target && all),
            None => Verdict::Info,
        };
        let value = format!(
            "{:.2} µs/event (median of {}, {} events{}); own CPU per exec {:.2} µs{}",
            m / 1000.0,
            acc.per_round.len(),
            thousands(acc.events),
            if all {
                ", every marked one delivered".to_string()
            } else {
                format!(", only {} of {} marked delivered", thousands(acc.marked), thousands(acc.spawned))
            },
            (bpf_ns + m) / 1000.0,
            share.map(|s| format!(" = {:.2}%", s * 100.0)).unwrap_or_default()
        );
        let data = Json::obj()
            .with("ns_per_event_median", m)
            .with("per_round", acc.per_round.clone())
            .with("events", acc.events)
            .with("marked", acc.marked)
            .with("spawned", acc.spawned)
            .with("share_of_untraced_exec", share)
            .with("share_target", target);
        json.push(c.key(), data.clone());
        rows.push(row("4", "CPU per event of each consumer", c.label(), value, &target_text, verdict, data));
    }
    details.push("consumers", json);
    Ok(())
}

/// `--consumers`: row 4 per consumer alone. Its baselines are shorter
/// than a full run's: the untraced CPU per exec is this process's with its
/// children over untraced runs of 2 spawners (not row 1's interleaved
/// comparison), the BPF time per exec is from traced runs with a draining
/// Rust reader.
pub(crate) fn consumers_only(
    plan: &Plan,
    noop: &Noop,
    rows: &mut Vec<Row>,
    details: &mut Json,
    notes: &mut Vec<String>,
) -> Res<()> {
    let tag = marker("base");
    let w = full_rate(noop, &tag, plan.run_secs);
    let mut untraced = Vec::new();
    let mut bpf = Vec::new();
    for _ in 0..plan.rounds {
        untraced.push(timed_work(&w)?.cpu_per_exec_ns());
        let tr = traced_run(&Conf::Defaults.opts(), Api::RustRef, &tag, &w, false)?;
        bpf.push(tr.bpf_ns as f64 / tr.bpf_execs.max(1) as f64);
    }
    let (untraced, bpf) = (median(&untraced), median(&bpf));
    log(format!("baselines: untraced exec {:.1} µs CPU, BPF {:.2} µs per exec", untraced / 1000.0, bpf / 1000.0));
    notes.push(format!(
        "--consumers: an untraced exec's CPU ({:.1} µs) is the CPU of the spawning process and its children per exec over {} untraced runs of {} s with 2 spawners, not row 1's interleaved comparison; BPF time per exec ({:.2} µs) is from as many traced runs.",
        untraced / 1000.0,
        plan.rounds,
        plan.run_secs,
        bpf / 1000.0
    ));
    self::rows(plan, noop, bpf, Some(untraced), rows, details, notes)
}
