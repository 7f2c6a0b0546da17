//! `exectrace`: print every exec on this host, as text or NDJSON.
mod args;
mod format;
mod output;

use std::io;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use exectrace::{Error, EventRef, Tracer};

use args::{Format, Run};
use format::Exec;
use output::Output;

/// Block SIGINT and SIGTERM in this thread (and the threads it starts):
/// from here on they wait for `close_on_signal` instead of killing the
/// process before its output is flushed.
fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: plain signal-mask calls on a zeroed sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Wait for SIGINT/SIGTERM (or the duration) on a thread that closes the
/// tracer: close() wakes the blocked read.
fn close_on_signal(set: libc::sigset_t, tracer: Arc<Tracer>, duration: Option<Duration>) {
    std::thread::spawn(move || {
        let deadline = duration.map(|d| Instant::now() + d);
        loop {
            let r = match deadline {
                // SAFETY: a valid set, blocked in every thread.
                None => unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) },
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
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

/// Events taken per turn of the read loop: the latency bound is checked
/// between turns, which take well under a millisecond.
const BATCH: usize = 256;

fn main() -> ExitCode {
    let args = match args::parse_from(std::env::args_os()) {
        Ok(Run::Trace(a)) => a,
        Ok(Run::Man(dir)) => {
            return match args::write_man(&dir) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!(
                        "exectrace: writing the man page into {}: {e}",
                        dir.display()
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Ok(Run::Completions(shell)) => {
            args::write_completions(shell, &mut io::stdout().lock());
            return ExitCode::SUCCESS;
        }
        // Usage errors exit with 2, --help and --version with 0.
        Err(e) => e.exit(),
    };
    let stop_signals = block_stop_signals();
    let opts = args.tracer_opts();
    let tracer = match Tracer::new(&opts) {
        Ok(t) => Arc::new(t),
        // An option out of the library's range is a usage error too.
        Err(Error::InvalidArgument(m)) => args::usage_error(m),
        Err(e) => {
            eprintln!("exectrace: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    close_on_signal(stop_signals, Arc::clone(&tracer), args.duration);

    let line = |out: &mut Vec<u8>, e: &EventRef<'_>| match args.format {
        Format::Text => format::text(out, &Exec::of(e)),
        Format::Json => format::json(out, &Exec::of(e)),
    };
    let mut out = Output::new(io::stdout().lock(), opts.wakeup_latency);
    let mut n = 0u64;
    let status = loop {
        let max = match args.count.map(|c| c.saturating_sub(n)) {
            Some(0) => break Ok(()),
            Some(left) => left.min(BATCH as u64) as usize,
            None => BATCH,
        };
        // Block only with nothing left to write; else take what is ready
        // and write it all once the ring is drained.
        let timeout = (!out.is_empty()).then_some(Duration::ZERO);
        let mut written = Ok(());
        let batch = tracer.read_many(timeout, max, |e| {
            written = out.line(|buf| line(buf, e));
            written.is_ok()
        });
        match batch {
            Ok(taken) => {
                n += taken as u64;
                let flushed = if taken == 0 {
                    out.flush()
                } else {
                    out.flush_if_due()
                };
                if written.and(flushed).is_err() {
                    break Ok(()); // stdout closed (e.g. `| head`)
                }
            }
            Err(Error::Closed) => break Ok(()),
            Err(e) => break Err(e),
        }
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
