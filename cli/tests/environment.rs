//! Where the tracer runs: without tracefs/debugfs, without privileges,
//! and what a killed tracer leaves in the kernel.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const CLI: &str = env!("CARGO_BIN_EXE_exectrace");

#[test]
fn works_without_tracefs_or_debugfs() {
    if default_tracer().is_none() {
        return;
    }
    let m = marker("no-tracefs");
    // A private mount namespace with tracefs and debugfs unmounted (they
    // are not mounted on a fresh machine either); the script fails if any
    // is still visible there.
    let script = format!(
        "umount -l /sys/kernel/tracing 2>/dev/null; umount -l /sys/kernel/debug 2>/dev/null; \
         if grep -qE ' - (tracefs|debugfs) ' /proc/self/mountinfo; then echo STILL-MOUNTED; exit 3; fi; \
         exec {CLI} --uid 4324 --count 1"
    );
    let out = cli_sees(
        Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-c", &script]),
        4324,
        &[&m],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains(&m), "{stdout}");
}

#[test]
fn unprivileged_start_fails_fast_naming_the_capabilities() {
    let start = Instant::now();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            CLI,
            "--count",
            "1",
        ])
        .output()
        .expect("setpriv (util-linux)");
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("permission denied")
            && stderr.contains("CAP_BPF")
            && stderr.contains("CAP_PERFMON"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// Ids of the BPF programs loaded from our object (by name).
fn our_prog_ids() -> HashSet<u32> {
    libbpf_rs::query::ProgInfoIter::default()
        .filter(|p| {
            let n = p.name.to_string_lossy();
            [
                "process_exec",
                "prepare_exec",
                "task_rename_fal",
                "sys_exit",
            ]
            .iter()
            .any(|k| n.starts_with(k))
        })
        .map(|p| p.id)
        .collect()
}

#[test]
fn a_killed_tracer_leaves_nothing_attached() {
    if default_tracer().is_none() {
        return;
    }
    let before = our_prog_ids();
    let mut cli = Command::new(CLI)
        .args(["--uid", "4325"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let theirs: HashSet<u32> = loop {
        let new: HashSet<u32> = our_prog_ids().difference(&before).copied().collect();
        if new.len() >= 2 {
            break new;
        }
        assert!(Instant::now() < deadline, "the tracer never loaded");
        std::thread::sleep(Duration::from_millis(50));
    };
    cli.kill().unwrap();
    cli.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while our_prog_ids().intersection(&theirs).count() > 0 {
        assert!(
            Instant::now() < deadline,
            "programs {theirs:?} still loaded after the process died"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
