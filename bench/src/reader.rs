//! Tracers (through the Rust API or the C ABI) and the threads that drain them.
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use exectrace::ffi;
use exectrace::{Tracer, TracerOpts};

use crate::sys::{self, Res};

/// How the reading thread takes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `Tracer::read_with`: zero-copy, borrowed from the ring.
    RustRef,
    /// `Tracer::read`: an owned `Event` per call.
    RustOwned,
    /// `exectrace_read` into a caller-owned `struct exectrace_event`.
    CAbi,
    /// `exectrace_read_batch`: every ready event per call, into one buffer.
    CBatch,
}

impl Api {
    pub fn label(self) -> &'static str {
        match self {
            Api::RustRef => "Rust read_with (zero-copy)",
            Api::RustOwned => "Rust read (owned Event)",
            Api::CAbi => "C ABI exectrace_read",
            Api::CBatch => "C ABI exectrace_read_batch",
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            Api::RustRef => "rust_read_with",
            Api::RustOwned => "rust_read",
            Api::CAbi => "c_abi",
            Api::CBatch => "c_batch",
        }
    }
}

pub struct CHandle(*mut ffi::exectrace);
// SAFETY: the C ABI handle is documented thread-safe.
unsafe impl Send for CHandle {}
unsafe impl Sync for CHandle {}

/// One tracer under test.
pub enum Handle {
    Rust(Arc<Tracer>),
    C(Arc<CHandle>),
}

fn c_last_error() -> String {
    let mut buf = vec![0 as std::ffi::c_char; 1024];
    // SAFETY: buffer of the given length.
    unsafe { ffi::exectrace_last_error(buf.as_mut_ptr(), buf.len()) };
    // SAFETY: NUL-terminated by exectrace_last_error.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

impl Handle {
    pub fn new(opts: &TracerOpts, api: Api) -> Res<Handle> {
        if !matches!(api, Api::CAbi | Api::CBatch) {
            return Tracer::new(opts).map(|t| Handle::Rust(Arc::new(t))).map_err(|e| format!("Tracer::new: {e}"));
        }
        // SAFETY: zeroed opts mean defaults; size set.
        let mut o: ffi::exectrace_opts = unsafe { std::mem::zeroed() };
        o.size = std::mem::size_of::<ffi::exectrace_opts>() as u32;
        if let Some(uid) = opts.uid {
            o.flags |= ffi::EXECTRACE_OPT_FILTER_UID;
            o.uid = uid;
        }
        if opts.wakeup_latency.is_zero() {
            o.flags |= ffi::EXECTRACE_OPT_WAKE_PER_EVENT;
        } else {
            o.wakeup_latency_us = opts.wakeup_latency.as_micros() as u32;
        }
        o.ring_size = opts.ring_size;
        o.argv_budget = opts.argv_budget;
        let mut h = std::ptr::null_mut();
        // SAFETY: valid opts and out-pointer.
        let r = unsafe { ffi::exectrace_new(&o, &mut h) };
        if r != 0 {
            return Err(format!("exectrace_new: {r}: {}", c_last_error()));
        }
        Ok(Handle::C(Arc::new(CHandle(h))))
    }

    pub fn prog_fd(&self) -> RawFd {
        match self {
            Handle::Rust(t) => t.program_fd().as_raw_fd(),
            // SAFETY: live handle.
            Handle::C(h) => unsafe { ffi::exectrace_prog_fd(h.0) },
        }
    }

    /// Take the programs off their hooks (`false`) or put them back, with
    /// no load in between (the library's hidden `Tracer::set_attached`).
    pub fn set_attached(&self, on: bool) -> Res<()> {
        match self {
            Handle::Rust(t) => t.set_attached(on).map_err(|e| format!("set_attached({on}): {e}")),
            Handle::C(_) => Err("switching needs a Rust handle".into()),
        }
    }

    /// Drops counted by the kernel so far.
    pub fn drops(&self) -> u64 {
        match self {
            Handle::Rust(t) => t.stats().drops,
            Handle::C(h) => {
                // SAFETY: zeroed stats with size set; live handle.
                let mut st: ffi::exectrace_stats = unsafe { std::mem::zeroed() };
                st.size = std::mem::size_of::<ffi::exectrace_stats>() as u32;
                unsafe { ffi::exectrace_get_stats(h.0, &mut st) };
                st.drops
            }
        }
    }

    /// Wake the reader (it returns Closed) and detach.
    pub fn shutdown(&self) {
        match self {
            Handle::Rust(t) => t.close(),
            // SAFETY: live handle.
            Handle::C(h) => unsafe {
                ffi::exectrace_shutdown(h.0);
            },
        }
    }

    /// Free (after the reader thread has been joined).
    pub fn close(self) {
        match self {
            Handle::Rust(t) => t.close(),
            Handle::C(h) => {
                let h = Arc::try_unwrap(h).ok().expect("reader joined before close");
                // SAFETY: last user of the handle.
                unsafe { ffi::exectrace_close(h.0) };
            }
        }
    }

    fn clone_ref(&self) -> Handle {
        match self {
            Handle::Rust(t) => Handle::Rust(t.clone()),
            Handle::C(h) => Handle::C(h.clone()),
        }
    }
}

/// Live counters shared with the main thread, plus knobs to slow the reader.
#[derive(Default)]
pub struct Progress {
    pub events: AtomicU64,
    pub marked: AtomicU64,
    /// Reader waits while set (it holds no lock meanwhile).
    pub paused: AtomicBool,
    /// Reader sleeps a little after every few events while set.
    pub slow: AtomicBool,
}

pub struct ReaderCfg {
    pub api: Api,
    pub marker: Vec<u8>,
    pub collect_latency: bool,
    /// Track sequence numbers 0..seq_cap (a tracer private to the run).
    pub seq_cap: usize,
}

#[derive(Debug, Default)]
pub struct ReaderOut {
    pub events: u64,
    pub marked: u64,
    pub cpu_ns: u64,
    /// User and system CPU of the reading thread (getrusage RUSAGE_THREAD), ns.
    pub user_ns: u64,
    pub sys_ns: u64,
    /// Times the reading thread went to sleep (voluntary context switches): wake-ups.
    pub wakeups: u64,
    /// exec timestamp -> returned by read, for marked events (ns).
    pub latency_ns: Vec<u64>,
    pub seq_seen: Vec<bool>,
    pub seq_dupes: u64,
    pub seq_out_of_range: u64,
    pub error: Option<String>,
}

impl ReaderOut {
    fn record(&mut self, cfg: &ReaderCfg, marked: bool, seq: u64, ts: u64, now: u64) {
        self.events += 1;
        if marked {
            self.marked += 1;
            if cfg.collect_latency {
                self.latency_ns.push(now.saturating_sub(ts));
            }
        }
        if cfg.seq_cap > 0 {
            match self.seq_seen.get_mut(seq as usize) {
                Some(s) if *s => self.seq_dupes += 1,
                Some(s) => *s = true,
                None => self.seq_out_of_range += 1,
            }
        }
    }
}

/// The batch buffer of `Api::CBatch` (grown when one event needs more).
const BATCH_BYTES: usize = 256 << 10;

/// One `exectrace_read_batch` (blocking) into `buf`; `f` gets each record
/// and its argv block. Err(None) once the tracer is shut down.
fn read_batch(
    ch: &CHandle,
    buf: &mut Vec<u64>,
    mut f: impl FnMut(&ffi::exectrace_batch_record, &[u8]),
) -> Result<(), Option<String>> {
    let mut need = 0usize;
    // SAFETY: live handle; an 8-byte aligned buffer of len * 8 bytes.
    let n = unsafe { ffi::exectrace_read_batch(ch.0, buf.as_mut_ptr().cast(), buf.len() * 8, -1, &mut need) };
    if n == -libc::ENOSPC {
        buf.resize(need.div_ceil(8), 0);
        return Ok(());
    }
    if n == -libc::ECANCELED {
        return Err(None);
    }
    if n < 0 {
        return Err(Some(format!("exectrace_read_batch: {n}: {}", c_last_error())));
    }
    let base = buf.as_ptr() as *const u8;
    let mut off = 0usize;
    for _ in 0..n {
        // SAFETY: the library wrote n records back to back from the start,
        // each 8-byte aligned, its strings within its `size`.
        let rec = unsafe { &*(base.add(off) as *const ffi::exectrace_batch_record) };
        let argv = unsafe { std::slice::from_raw_parts(base.add(off + rec.argv_off as usize), rec.argv_len as usize) };
        f(rec, argv);
        off += rec.size as usize;
    }
    Ok(())
}

fn argv_has(block: &[u8], marker: &[u8]) -> bool {
    block.split(|&b| b == 0).any(|a| a == marker)
}

pub struct Reader {
    pub handle: Handle,
    pub progress: Arc<Progress>,
    thread: Option<std::thread::JoinHandle<ReaderOut>>,
}

impl Reader {
    /// Create a tracer and a thread that drains it until shut down.
    pub fn start(opts: &TracerOpts, cfg: ReaderCfg, progress: Arc<Progress>) -> Res<Reader> {
        let handle = Handle::new(opts, cfg.api)?;
        let h2 = handle.clone_ref();
        let p2 = progress.clone();
        let thread = std::thread::Builder::new()
            .name("reader".into())
            .spawn(move || read_loop(h2, cfg, p2))
            .map_err(|e| format!("spawning the reader: {e}"))?;
        Ok(Reader { handle, progress, thread: Some(thread) })
    }

    /// Shut the tracer down, join the reader, free the tracer.
    pub fn finish(mut self) -> Res<ReaderOut> {
        self.progress.paused.store(false, Ordering::SeqCst);
        self.progress.slow.store(false, Ordering::SeqCst);
        self.handle.shutdown();
        let out = self.thread.take().unwrap().join().map_err(|_| "the reader thread panicked".to_string())?;
        let Reader { handle, .. } = self;
        handle.close();
        match out.error.clone() {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Wait until the reader has seen `want` marked events, or no progress
    /// for `idle`. Returns the marked count.
    pub fn wait_marked(&self, want: u64, idle: Duration) -> u64 {
        let mut last = u64::MAX;
        let mut since = std::time::Instant::now();
        loop {
            let m = self.progress.marked.load(Ordering::SeqCst);
            if m >= want {
                return m;
            }
            let e = self.progress.events.load(Ordering::SeqCst);
            if e != last {
                last = e;
                since = std::time::Instant::now();
            } else if since.elapsed() >= idle {
                return m;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Nice value for reading threads; i32::MIN = leave as inherited.
pub static READER_NICE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(i32::MIN);

fn read_loop(h: Handle, cfg: ReaderCfg, p: Arc<Progress>) -> ReaderOut {
    let nice = READER_NICE.load(Ordering::SeqCst);
    if nice != i32::MIN {
        // SAFETY: setpriority on this thread's id.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
    }
    let mut out = ReaderOut { seq_seen: vec![false; cfg.seq_cap], ..Default::default() };
    let marker = cfg.marker.clone();
    let mut cev: Option<Box<ffi::exectrace_event>> = None;
    if cfg.api == Api::CAbi {
        // SAFETY: all-zero is a valid exectrace_event; size set.
        let mut ev: Box<ffi::exectrace_event> = unsafe { Box::new(std::mem::zeroed()) };
        ev.size = std::mem::size_of::<ffi::exectrace_event>() as u32;
        cev = Some(ev);
    }
    let mut batch = vec![0u64; if cfg.api == Api::CBatch { BATCH_BYTES / 8 } else { 0 }];
    let cpu0 = sys::thread_cpu_ns();
    let ru0 = sys::thread_rusage();
    let mut n = 0u64;
    loop {
        while p.paused.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        if p.slow.load(Ordering::Relaxed) && n.is_multiple_of(8) {
            std::thread::sleep(Duration::from_micros(200));
        }
        if let (Handle::C(ch), Api::CBatch) = (&h, cfg.api) {
            let r = read_batch(ch, &mut batch, |rec, argv| {
                let m = argv_has(argv, &marker);
                n += 1;
                out.record(&cfg, m, rec.seq, rec.timestamp_ns, sys::boottime_ns());
                p.events.fetch_add(1, Ordering::Relaxed);
                if m {
                    p.marked.fetch_add(1, Ordering::Release);
                }
            });
            match r {
                Ok(()) => continue,
                Err(None) => break,
                Err(Some(e)) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
        let got: Result<(bool, u64, u64, u64), Option<String>> = match (&h, cfg.api) {
            (Handle::Rust(t), Api::RustRef) => match t.read_with(None, |ev| {
                let now = sys::boottime_ns();
                (ev.args().any(|a| a == &marker[..]), ev.seq(), ev.timestamp_ns(), now)
            }) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => continue,
                Err(exectrace::Error::Closed) => Err(None),
                Err(e) => Err(Some(format!("read_with: {e}"))),
            },
            (Handle::Rust(t), _) => match t.read() {
                Ok(ev) => {
                    let now = sys::boottime_ns();
                    let m = ev.argv.iter().any(|a| a.as_encoded_bytes() == &marker[..]);
                    Ok((m, ev.seq, ev.timestamp_ns, now))
                }
                Err(exectrace::Error::Closed) => Err(None),
                Err(e) => Err(Some(format!("read: {e}"))),
            },
            (Handle::C(ch), _) => {
                let ev = cev.as_mut().unwrap();
                // SAFETY: live handle; caller-owned event with size set.
                let r = unsafe { ffi::exectrace_read(ch.0, &mut **ev) };
                if r == 0 {
                    let now = sys::boottime_ns();
                    let len = (ev.argv_len as usize).min(ev.argv.len());
                    // SAFETY: c_char and u8 have the same layout.
                    let block = unsafe { std::slice::from_raw_parts(ev.argv.as_ptr() as *const u8, len) };
                    Ok((argv_has(block, &marker), ev.seq, ev.timestamp_ns, now))
                } else if r == -libc::ECANCELED {
                    Err(None)
                } else {
                    Err(Some(format!("exectrace_read: {r}: {}", c_last_error())))
                }
            }
        };
        match got {
            Ok((m, seq, ts, now)) => {
                n += 1;
                out.record(&cfg, m, seq, ts, now);
                p.events.fetch_add(1, Ordering::Relaxed);
                if m {
                    p.marked.fetch_add(1, Ordering::Release);
                }
            }
            Err(None) => break,
            Err(Some(e)) => {
                out.error = Some(e);
                break;
            }
        }
    }
    out.cpu_ns = sys::thread_cpu_ns() - cpu0;
    let ru1 = sys::thread_rusage();
    out.user_ns = ru1.0 - ru0.0;
    out.sys_ns = ru1.1 - ru0.1;
    out.wakeups = ru1.2 - ru0.2;
    out
}
