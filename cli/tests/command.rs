//! The `exectrace` command against the running kernel: what it prints,
//! how it stops.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

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

#[test]
fn the_command_stops_cleanly_on_sigterm() {
    if default_tracer().is_none() {
        return;
    }
    let cli = Command::new(env!("CARGO_BIN_EXE_exectrace"))
        .args(["--uid", "4329"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: plain kill of our child.
    unsafe { libc::kill(cli.id() as i32, libc::SIGTERM) };
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("0 events, 0 dropped"), "{stderr}");
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
