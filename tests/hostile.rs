//! Hostile and odd execs: each event is correct or flagged truncated, the
//! tracer keeps running, later events still arrive, and under a storm every
//! exec is delivered or counted.
mod common;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use exectrace::{flags, Tracer, TracerOpts, MAX_ARGV_BUDGET};

/// `helper many-args N SIZE /bin/true` with a stack limit that lets the
/// kernel accept several MiB of argv.
fn many_args(n: usize, size: usize) -> Command {
    let mut cmd = Command::new(helper());
    cmd.args(["many-args", &n.to_string(), &size.to_string(), "/bin/true"]);
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256 << 20,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_STACK, &lim);
            Ok(())
        });
    }
    cmd
}

/// The /bin/true exec done by a `many_args` helper with this pid.
fn find_pid(t: &Tracer, pid: u32) -> exectrace::Event {
    find(t, Duration::from_secs(10), |e| {
        e.pid == pid && e.filename == "/bin/true"
    })
    .expect("event")
}

fn still_works(t: &Tracer) {
    let m = marker("after");
    run(Command::new("/bin/true").arg(&m));
    find_marker(t, &m).expect("later events still arrive");
}

#[test]
fn hundred_thousand_empty_arguments() {
    let Some(t) = default_tracer() else { return };
    let pid = run(&mut many_args(100_000, 0));
    let ev = find_pid(&t, pid);
    assert_eq!(ev.argc, 100_001);
    assert_eq!(ev.argv_size, 10 + 100_000);
    assert!(ev.truncated);
    assert_eq!(ev.argv[0], "/bin/true");
    assert!(ev.argv[1..].iter().all(|a| a.is_empty()));
    assert_eq!(
        ev.argv.len(),
        32 * 1024 - 10 + 1,
        "every captured byte is one empty argument"
    );
    still_works(&t);
}

#[test]
fn megabytes_of_argv() {
    let Some(t) = default_tracer() else { return };
    // 2 MiB of argv: the prefix within the default budget, flagged.
    let pid = run(&mut many_args(2048, 1023));
    let ev = find_pid(&t, pid);
    assert_eq!(ev.argc, 2049);
    assert_eq!(ev.argv_size as usize, 10 + 2048 * 1024);
    assert!(ev.truncated);
    assert_ne!(ev.flags & flags::ARGV_TRUNCATED, 0);
    still_works(&t);

    // The largest budget captures a 1 MiB argv whole.
    let big = TracerOpts {
        argv_budget: MAX_ARGV_BUDGET,
        ring_size: 8 << 20,
        ..Default::default()
    };
    let Some(t) = tracer(&big) else { return };
    let pid = run(&mut many_args(1024, 1023));
    let ev = find_pid(&t, pid);
    assert!(!ev.truncated);
    assert_eq!(ev.argv.len(), 1025);
    assert!(ev.argv[1..]
        .iter()
        .all(|a| a.len() == 1023 && a.as_bytes().iter().all(|&b| b == b'a')));
    still_works(&t);
}

#[test]
fn thousand_arguments_of_a_kibibyte() {
    let Some(t) = tracer(&TracerOpts {
        argv_budget: 2 << 20,
        ..Default::default()
    }) else {
        return;
    };
    let pid = run(&mut many_args(1000, 1024));
    let ev = find_pid(&t, pid);
    assert!(!ev.truncated);
    assert_eq!(ev.argc, 1001);
    assert_eq!(ev.argv.len(), 1001);
    assert!(ev.argv[1..].iter().all(|a| a.len() == 1024));
}

/// A copy of /bin/true reachable by an absolute path of exactly `len` bytes.
fn long_path(len: usize) -> (PathBuf, PathBuf) {
    let root = tempdir("long");
    let mut p = root.clone();
    let name_len = |p: &Path| p.as_os_str().len();
    while name_len(&p) + 1 + 200 < len - 10 {
        p.push("d".repeat(200));
    }
    std::fs::create_dir_all(&p).unwrap();
    let left = len - name_len(&p) - 1;
    p.push("t".repeat(left));
    std::fs::copy("/bin/true", &p).unwrap();
    assert_eq!(name_len(&p), len);
    (p, root)
}

#[test]
fn filename_of_4095_bytes() {
    let Some(t) = default_tracer() else { return };
    let (path, root) = long_path(4095);
    let m = marker("long");
    run(Command::new(&path).arg(&m));
    let ev = find_marker(&t, &m).expect("event");
    assert_eq!(ev.filename.as_bytes(), path.as_os_str().as_bytes());
    assert!(!ev.truncated);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn compat_32_bit_exec() {
    let Some(t) = default_tracer() else { return };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers/exec32.c");
    let bin = std::env::temp_dir().join(marker("exec32"));
    let built = Command::new("cc")
        .args(["-m32", "-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .stderr(Stdio::null())
        .status();
    if !built.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("EXECTRACE_REQUIRE_BPF").is_none()
                || !Path::new("/usr/lib32").exists(),
            "gcc-multilib is installed but a 32-bit build failed"
        );
        eprintln!("SKIP: no 32-bit toolchain (gcc-multilib)");
        return;
    }
    let m = marker("compat");
    let pid = run(Command::new(&bin).args(["/bin/true", &m]));
    // The 32-bit program's own exec, and the compat execve it makes.
    let ev = find(&t, Duration::from_secs(10), |e| {
        e.pid == pid && e.filename == "/bin/true"
    })
    .expect("compat exec");
    assert_eq!(argv_bytes(&ev), vec![b"/bin/true".to_vec(), m.into_bytes()]);
    let _ = std::fs::remove_file(bin);
}

#[test]
fn text_output_cannot_be_forged() {
    if default_tracer().is_none() {
        return;
    }
    let m = marker("forge");
    let evil = [
        m.as_str(),
        "x\n[1, comm=\"init\", uid=0, gid=0, filename=/bin/sh] sh",
        "\x1b[2K\x1b[1A\rhidden",
        "\u{202e}txt.exe",
        "tab\there",
    ];
    let out = cli_sees(
        Command::new(env!("CARGO_BIN_EXE_exectrace")).args(["--uid", "4326", "--count", "1"]),
        4326,
        &evil,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        !stdout.trim_end().contains(['\n', '\r', '\x1b']),
        "{stdout:?}"
    );
    assert!(stdout.contains(r"$'x\n[1, comm="), "{stdout}");
    assert!(
        stdout.contains(r"$'\u202etxt.exe'") && !stdout.contains('\u{202e}'),
        "{stdout}"
    );
}

#[test]
fn exec_storm_every_exec_delivered_or_counted() {
    // 64 spawners for 10 s, all as a dedicated uid the tracer filters on.
    let Some(t) = tracer(&TracerOpts {
        uid: Some(4327),
        ..Default::default()
    }) else {
        return;
    };
    let t = Arc::new(t);
    let stop = Arc::new(AtomicBool::new(false));
    let spawned = Arc::new(AtomicU64::new(0));
    let got = Arc::new(AtomicU64::new(0));
    let reader = {
        let (t, got) = (Arc::clone(&t), Arc::clone(&got));
        std::thread::spawn(move || {
            while let Ok(ev) = t.read() {
                if ev.uid == 4327 {
                    got.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let spawners: Vec<_> = (0..64)
        .map(|_| {
            let (stop, spawned) = (Arc::clone(&stop), Arc::clone(&spawned));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let st = command_as("/bin/true", None, Some((4327, 4327)))
                        .stdout(Stdio::null())
                        .status();
                    if st.is_ok_and(|s| s.success()) {
                        spawned.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for s in spawners {
        s.join().unwrap();
    }
    let total = spawned.load(Ordering::Relaxed);
    // The reader drains until every exec is accounted for (or the deadline).
    wait_until(Duration::from_secs(60), || {
        got.load(Ordering::Relaxed) + t.stats().drops >= total
    });
    let drops = t.stats().drops;
    t.close();
    join_within(reader, Duration::from_secs(10));
    let got = got.load(Ordering::Relaxed);
    eprintln!(
        "storm: {total} execs in {:?}, {got} received, {drops} dropped",
        start.elapsed()
    );
    assert!(total > 1000, "the storm ran ({total} execs)");
    assert_eq!(got + drops, total, "every exec delivered or counted");
}
