//! `exectrace`: print every exec on this host, as text or NDJSON.
mod format;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use exectrace::{Error, Tracer, TracerOpts};

const USAGE: &str = "\
usage: exectrace [--pid-ns N] [--uid N] [--cgroup PATH] [--include-failed]
                 [--format text|json] [--count N] [--duration D]
                 [--argv-budget BYTES] [--ring-size BYTES] [--wakeup-latency D]

Prints one line per exec. Needs root (or CAP_BPF and CAP_PERFMON).
  --pid-ns N          only this pid namespace (inode) and its descendants
  --uid N             only this real uid
  --cgroup PATH       only this cgroup v2 directory and its descendants
  --include-failed    also failed exec attempts (with their error)
  --format text|json  output format (default text)
  --count N           exit after N events
  --duration D        exit after D (e.g. 10s, 500ms, 2m)
  --argv-budget BYTES argv bytes captured per exec (default 32768)
  --ring-size BYTES   ring buffer size, a power of two (default 4194304)
  --wakeup-latency D  delivery latency bound (default 4ms; 0 = every event)
On exit, the counts of events and drops go to stderr.";

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Text,
    Json,
}

struct Args {
    opts: TracerOpts,
    format: Format,
    count: Option<u64>,
    duration: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (use ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("bad duration {s:?}"))
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        opts: TracerOpts::default(),
        format: Format::Text,
        count: None,
        duration: None,
    };
    fn num<T: std::str::FromStr>(flag: &str, v: Option<String>) -> Result<T, String> {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{flag}: not a valid number: {v:?}"))
    }
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next());
        match flag.as_str() {
            "--pid-ns" => a.opts.pid_ns = Some(num(&flag, value())?),
            "--uid" => a.opts.uid = Some(num(&flag, value())?),
            "--cgroup" => {
                a.opts.cgroup = Some(PathBuf::from(value().ok_or("--cgroup needs a path")?))
            }
            "--include-failed" => a.opts.include_failed = true,
            "--format" | "--output" => {
                a.format = match value().as_deref() {
                    Some("text") => Format::Text,
                    Some("json") => Format::Json,
                    other => return Err(format!("--format must be text or json, got {other:?}")),
                }
            }
            "--count" => a.count = Some(num(&flag, value())?),
            "--duration" => {
                a.duration = Some(parse_duration(&value().ok_or("--duration needs a value")?)?)
            }
            "--argv-budget" => a.opts.argv_budget = num(&flag, value())?,
            "--ring-size" => a.opts.ring_size = num(&flag, value())?,
            "--wakeup-latency" => {
                a.opts.wakeup_latency =
                    parse_duration(&value().ok_or("--wakeup-latency needs a value")?)?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(a)
}

/// Block SIGINT/SIGTERM here and wait for them (or the duration) on a
/// thread that closes the tracer: close() wakes the blocked read.
fn close_on_signal(tracer: Arc<Tracer>, duration: Option<Duration>) {
    // SAFETY: plain signal-mask calls on a zeroed sigset.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    std::thread::spawn(move || {
        let deadline = duration.map(|d| std::time::Instant::now() + d);
        loop {
            let r = match deadline {
                None => unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) },
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    let ts = libc::timespec {
                        tv_sec: left.as_secs() as _,
                        tv_nsec: left.subsec_nanos() as _,
                    };
                    // SAFETY: valid set and timespec.
                    unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) }
                }
            };
            if r > 0 {
                break;
            }
        }
        tracer.close();
    });
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("exectrace: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let tracer = match Tracer::new(&args.opts) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("exectrace: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    close_on_signal(Arc::clone(&tracer), args.duration);

    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut n = 0u64;
    let status = loop {
        if args.count.is_some_and(|c| n >= c) {
            break Ok(());
        }
        // Flush only when no event is waiting: cheap under exec storms,
        // prompt when idle.
        let ev = match tracer.try_read() {
            Ok(Some(ev)) => Ok(ev),
            Ok(None) => match out.flush() {
                Ok(()) => tracer.read(),
                Err(_) => break Ok(()),
            },
            Err(e) => Err(e),
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(Error::Closed) => break Ok(()),
            Err(e) => break Err(e),
        };
        let line = match args.format {
            Format::Text => format::text(&ev),
            Format::Json => format::json(&ev),
        };
        if writeln!(out, "{line}").is_err() {
            break Ok(()); // stdout closed (e.g. `| head`)
        }
        n += 1;
    };
    let _ = out.flush();
    let stats = tracer.stats();
    tracer.close();
    eprintln!(
        "exectrace: {} events, {} dropped",
        stats.events, stats.drops
    );
    match status {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("exectrace: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Args, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_every_flag() {
        let a = parse(&[
            "--pid-ns",
            "4026531836",
            "--uid=1000",
            "--cgroup",
            "/sys/fs/cgroup/x",
            "--include-failed",
            "--format",
            "json",
            "--count",
            "5",
            "--duration",
            "1.5s",
            "--wakeup-latency",
            "0",
        ])
        .unwrap();
        assert_eq!(a.opts.pid_ns, Some(4026531836));
        assert_eq!(a.opts.uid, Some(1000));
        assert_eq!(
            a.opts.cgroup.as_deref(),
            Some(std::path::Path::new("/sys/fs/cgroup/x"))
        );
        assert!(a.opts.include_failed);
        assert!(a.format == Format::Json);
        assert_eq!(a.count, Some(5));
        assert_eq!(a.duration, Some(Duration::from_millis(1500)));
        assert_eq!(a.opts.wakeup_latency, Duration::ZERO);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["--uid", "x"]).is_err());
        assert!(parse(&["--format", "xml"]).is_err());
        assert!(parse(&["--duration", "5 parsecs"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--count"]).is_err());
    }
}
