//! Shared by the kernel tests: tracer creation that may skip only when
//! allowed, unique markers, spawning, and reading our own events.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use exectrace::{Event, Tracer, TracerOpts};

/// A tracer, or None (test skipped) when BPF cannot load here and
/// EXECTRACE_REQUIRE_BPF is not set.
pub fn tracer(opts: &TracerOpts) -> Option<Tracer> {
    match Tracer::new(opts) {
        Ok(t) => Some(t),
        Err(e) => {
            if std::env::var_os("EXECTRACE_REQUIRE_BPF").is_some_and(|v| v == "1") {
                panic!("EXECTRACE_REQUIRE_BPF=1 but the tracer cannot start: {e}");
            }
            eprintln!("SKIP: tracer cannot start here: {e}");
            None
        }
    }
}

/// A tracer with default options.
pub fn default_tracer() -> Option<Tracer> {
    tracer(&TracerOpts::default())
}

/// A string no other process on the host will pass to exec.
pub fn marker(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "xt-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn has_arg(ev: &Event, arg: &str) -> bool {
    ev.argv.iter().any(|a| a.as_bytes() == arg.as_bytes())
}

/// The first event that `pred` accepts, reading for at most `within`.
pub fn find(t: &Tracer, within: Duration, mut pred: impl FnMut(&Event) -> bool) -> Option<Event> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match t.read_timeout(left).expect("read") {
            Some(ev) if pred(&ev) => return Some(ev),
            Some(_) => {}
            None => return None,
        }
    }
}

/// Every event `pred` accepts within `within` (reads the whole time).
pub fn collect(t: &Tracer, within: Duration, mut pred: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + within;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        if let Some(ev) = t.read_timeout(left).expect("read") {
            if pred(&ev) {
                out.push(ev);
            }
        }
    }
}

/// The event carrying `marker` among its arguments (not the exec of the
/// helper that passes it on).
pub fn find_marker(t: &Tracer, marker: &str) -> Option<Event> {
    find(t, Duration::from_secs(10), |e| is_marked(e, marker))
}

/// Carries `marker`, and is not the exec of the test helper itself.
pub fn is_marked(ev: &Event, marker: &str) -> bool {
    has_arg(ev, marker) && !is_helper_exec(ev)
}

fn is_helper_exec(ev: &Event) -> bool {
    static HELPER_NAME: OnceLock<Vec<u8>> = OnceLock::new();
    let name = HELPER_NAME.get_or_init(|| helper().as_os_str().as_bytes().to_vec());
    ev.filename.as_bytes() == name.as_slice()
}

/// Run to completion; returns the child's pid.
pub fn run(cmd: &mut Command) -> u32 {
    let mut child = spawn(cmd);
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

/// Spawn with output discarded. A file a test just wrote can be refused
/// with ETXTBSY for a moment: a child another test thread forks meanwhile
/// holds the writer's fd until its own exec. Retried, as Go's os/exec does.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            r => return r.expect("spawn"),
        }
    }
    cmd.spawn().expect("spawn")
}

/// Run with the given name (prctl PR_SET_NAME) and ids before exec.
pub fn command_as(path: &str, name: Option<&str>, ids: Option<(u32, u32)>) -> Command {
    let mut cmd = Command::new(path);
    let name = name.map(|n| std::ffi::CString::new(n).unwrap());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(n) = &name {
                libc::prctl(libc::PR_SET_NAME, n.as_ptr() as libc::c_ulong, 0, 0, 0);
            }
            if let Some((uid, gid)) = ids {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd
}

/// tests/helpers/exec_helper.c, compiled once per test binary.
pub fn helper() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/exec_helper.c");
        let out = std::env::temp_dir().join(format!("xt-exec-helper-{}", std::process::id()));
        let st = Command::new("cc")
            .args(["-O2", "-Wall", "-Werror", "-pthread", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc (gcc) is needed to build the exec helper");
        assert!(st.success(), "building {}", src.display());
        out
    })
}

pub fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

pub fn argv_bytes(ev: &Event) -> Vec<Vec<u8>> {
    ev.argv.iter().map(|a| a.as_bytes().to_vec()).collect()
}

/// A fresh temporary directory, removed by the caller when it cares.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(marker(tag));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Run the `exectrace` command with `args` (which should include `--uid
/// UID --count 1`) and exec `/bin/true ARGS...` as that uid every 100 ms
/// until the command exits: no guess at how long it takes to start.
pub fn cli_sees(cli: &mut Command, uid: u32, exec_args: &[&str]) -> std::process::Output {
    let mut child = cli
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the command never printed the exec"
        );
        run(command_as("/bin/true", None, Some((uid, uid))).args(exec_args));
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// The calling thread's id, for `wait_blocked_in_epoll`.
pub fn gettid() -> libc::pid_t {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() }
}

/// Wait (at most `timeout`) until thread `tid` of this process sleeps in
/// epoll_wait: a reader that has reached its wait, not one on its way.
/// From /proc/self/task/TID/syscall (the syscall it is in) and its stat
/// (asleep), as the C harness's h_wait_blocked does.
pub fn wait_blocked_in_epoll(tid: libc::pid_t, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let epoll = [
        libc::SYS_epoll_wait,
        libc::SYS_epoll_pwait,
        libc::SYS_epoll_pwait2,
    ];
    loop {
        let sys = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"));
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"));
        if let (Ok(sys), Ok(stat)) = (sys, stat) {
            let nr = sys.split(' ').next().and_then(|n| n.parse::<i64>().ok());
            let asleep = stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('S'));
            if nr.is_some_and(|nr| epoll.contains(&nr)) && asleep {
                return true;
            }
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Join `h`, failing the test if the thread has not finished within `timeout`.
pub fn join_within<T>(h: std::thread::JoinHandle<T>, timeout: Duration) -> T {
    let deadline = Instant::now() + timeout;
    while !h.is_finished() {
        assert!(
            Instant::now() < deadline,
            "a thread did not finish within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    h.join().expect("the thread panicked")
}

/// Wait until `done()` holds, at most `timeout`; whether it did.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}
