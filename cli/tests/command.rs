//! The `exectrace` command against the running kernel: what it prints,
//! how it stops.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn the_command_prints_events_and_counts() {
    if default_tracer().is_none() {
        return;
    }
    let m = marker("cli");
    let out = cli_sees(
        Command::new(env!("CARGO_BIN_EXE_exectrace"))
            .args(["--format", "json", "--uid", "4328", "--count", "1"]),
        4328,
        &[m.as_str(), "line\nbreak"],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("{\"filename\":\"/bin/true\",\"argv\":[\"/bin/true\","),
        "{stdout}"
    );
    assert!(
        stdout.contains(&m) && stdout.contains("\"line\\nbreak\""),
        "{stdout}"
    );
    assert!(stdout.contains("\"uid\":4328"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("1 events, 0 dropped"), "{stderr}");
}

/// Poll `ready` until it holds, for at most `within`.
fn wait_for(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ready() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether process `pid` blocks `sig` (its main thread's SigBlk in
/// /proc/PID/status): from then on the signal waits for the command's
/// signal thread instead of killing it.
fn blocks(pid: u32, sig: libc::c_int) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

/// The child's exit and output, or a failure (and the child killed) after
/// `within`.
fn output_within(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!(
                "the command did not exit within {within:?}: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn stops_cleanly_on(sig: libc::c_int, uid: &str) {
    if default_tracer().is_none() {
        return;
    }
    let cli = Command::new(env!("CARGO_BIN_EXE_exectrace"))
        .args(["--uid", uid])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Not a guess at how long it takes to start: the signal is sent once
    // the command holds it back (before the tracer loads).
    wait_for(
        "the command blocks the signal",
        Duration::from_secs(10),
        || blocks(cli.id(), sig),
    );
    // SAFETY: plain kill of our child.
    unsafe { libc::kill(cli.id() as i32, sig) };
    let out = output_within(cli, Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("0 events, 0 dropped"), "{stderr}");
}

#[test]
fn the_command_stops_cleanly_on_sigterm() {
    stops_cleanly_on(libc::SIGTERM, "4329");
}

#[test]
fn the_command_stops_cleanly_on_sigint() {
    stops_cleanly_on(libc::SIGINT, "4330");
}

/// Lines reach stdout while the command keeps running (its output is
/// buffered, and written out once the ring is drained), and the path form
/// of --pid-ns selects the namespace.
#[test]
fn a_quiet_host_sees_lines_promptly() {
    if default_tracer().is_none() {
        return;
    }
    let m = marker("prompt");
    let mut cli = Command::new(env!("CARGO_BIN_EXE_exectrace"))
        .args(["--uid", "4331", "--pid-ns", "/proc/self/ns/pid"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = cli.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    // Each exec carries a marker of its own, and its line must come before
    // the next exec: a line that waited for later events fails the test.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut i = 0;
    let (line, m) = 'seen: loop {
        assert!(Instant::now() < deadline, "no line for {m}.*");
        i += 1;
        let mi = format!("{m}.{i}.");
        run(command_as("/bin/true", None, Some((4331, 4331))).arg(&mi));
        while let Ok(l) = lines.recv_timeout(Duration::from_secs(2)) {
            if l.contains(&mi) {
                break 'seen (l, mi);
            }
            assert!(!l.contains(&m), "a line came late: {l}");
        }
    };
    assert!(line.ends_with(&format!("] /bin/true {m}")), "{line}");
    assert!(cli.try_wait().unwrap().is_none(), "the command exited");
    wait_for(
        "the command blocks SIGTERM",
        Duration::from_secs(10),
        || blocks(cli.id(), libc::SIGTERM),
    );
    // SAFETY: plain kill of our child.
    unsafe { libc::kill(cli.id() as i32, libc::SIGTERM) };
    let out = output_within(cli, Duration::from_secs(10));
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn version_and_usage_errors() {
    let cli = || Command::new(env!("CARGO_BIN_EXE_exectrace"));
    let out = cli().arg("--version").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("exectrace {}\n", env!("CARGO_PKG_VERSION"))
    );
    for bad in [
        "x",
        "0",
        "-1",
        "99999999999",
        "pid:[",
        "/proc/self/ns/net",
        "/proc/self/ns",
        "/nonexistent",
        "",
    ] {
        let out = cli().arg(format!("--pid-ns={bad}")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--pid-ns {bad:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ")
                && stderr.contains("--pid-ns")
                && !stderr.contains("panicked"),
            "--pid-ns {bad:?}: {stderr}"
        );
    }
    // Values the library refuses (before it needs any privilege).
    for (bad, says) in [
        (
            &["--ring-size", "1000"][..],
            "ring_size must be a power of two",
        ),
        (&["--argv-budget", "0"], "argv_budget must be"),
        (
            &["--wakeup-latency", "2s"],
            "wakeup_latency must be at most",
        ),
    ] {
        let out = cli().args(bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{bad:?}: {stderr}"
        );
    }
}

#[test]
fn man_page_and_completions_from_the_binary() {
    let dir = tempdir("man");
    let st = Command::new(env!("CARGO_BIN_EXE_exectrace"))
        .arg("--generate-man")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let man = std::fs::read_to_string(dir.join("exectrace.1")).unwrap();
    assert!(
        man.contains(".SH OPTIONS") && man.contains("\\-\\-pid\\-ns"),
        "{man}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_exectrace"))
        .args(["--generate-completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("complete -F _exectrace"), "{script}");
    let mut bash = Command::new("bash")
        .args(["-n", "/dev/stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    bash.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(bash.wait().unwrap().success(), "bash -n: {script}");
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
