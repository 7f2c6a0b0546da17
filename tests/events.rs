//! What each exec reports: one event per successful execve/execveat, with
//! the fields of the new process. Real kernel, real processes.
mod common;

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::*;
use exectrace::{flags, Hooks, TracerOpts};

#[test]
fn execve_gives_exactly_one_event_with_exact_argv() {
    let Some(t) = default_tracer() else { return };
    let m = marker("execve");
    let args: Vec<OsString> = vec![
        m.clone().into(),
        "".into(),
        "  ".into(),
        "a b\tc\nd".into(),
        OsString::from_vec(b"\xff\xfe-not-utf8".to_vec()),
        "".into(),
    ];
    let pid = run(Command::new("/bin/true").args(&args));
    let evs = collect(&t, Duration::from_secs(2), |e| has_arg(e, &m));
    assert_eq!(evs.len(), 1, "exactly one event: {evs:#?}");
    let ev = &evs[0];
    assert_eq!(ev.filename, "/bin/true");
    let mut want = vec![OsString::from("/bin/true")];
    want.extend(args);
    assert_eq!(ev.argv, want);
    assert_eq!(ev.pid, pid);
    assert_eq!(ev.tid, pid);
    assert_eq!(ev.ppid, std::process::id());
    assert_eq!(ev.argc, 7);
    assert_eq!(
        ev.argv_size as usize,
        want.iter().map(|a| a.len() + 1).sum::<usize>()
    );
    assert!(!ev.truncated);
    assert_eq!(ev.result, 0);
    assert_eq!(ev.pid_ns, exectrace::pid_ns_of_self().unwrap());
    assert_eq!(ev.interpreter, None);
    let now = boottime_ns();
    assert!(
        ev.timestamp_ns <= now && now - ev.timestamp_ns < 30_000_000_000,
        "CLOCK_BOOTTIME"
    );
    let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    if cg.starts_with("0::") {
        assert_ne!(ev.cgroup_id, 0);
    }
}

fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn ids_and_comm_are_those_of_the_process() {
    let Some(t) = default_tracer() else { return };
    let m = marker("ids");
    let pid = run(command_as("/bin/true", Some("xt-comm-name"), Some((1000, 2000))).arg(&m));
    let ev = find_marker(&t, &m).expect("event");
    assert_eq!(
        (ev.pid, ev.uid, ev.gid, ev.euid, ev.egid),
        (pid, 1000, 2000, 1000, 2000)
    );
    assert_comm_always_right(&t, "ids");
}

/// 50 execs, each from a child named just before: every event has that
/// name (the exec may start on one CPU and finish on another).
fn assert_comm_always_right(t: &exectrace::Tracer, tag: &str) {
    let m = marker(tag);
    for i in 0..50 {
        run(command_as("/bin/true", Some(&format!("xt-comm-{i}")), None)
            .args([m.as_str(), &i.to_string()]));
    }
    let evs = collect(t, Duration::from_secs(2), |e| has_arg(e, &m));
    assert_eq!(evs.len(), 50);
    for ev in evs {
        let i = ev.argv[2].to_str().unwrap();
        assert_eq!(
            ev.comm,
            format!("xt-comm-{i}").as_str(),
            "comm is the caller's name before exec"
        );
        assert_eq!(ev.flags & flags::COMM_AFTER_EXEC, 0);
    }
}

#[test]
fn comm_fallback_hook_gives_the_same_name() {
    let opts = TracerOpts {
        hooks: Hooks::Fallback,
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    assert_comm_always_right(&t, "fallback");
}

#[test]
fn execveat_and_fexecve_are_reported() {
    let Some(t) = default_tracer() else { return };
    let h = helper();

    let m1 = marker("empty-path");
    let pid = run(Command::new(h).args(["execveat-empty", "/bin/true", &m1]));
    let evs = collect(&t, Duration::from_secs(2), |e| is_marked(e, &m1));
    assert_eq!(evs.len(), 1, "{evs:#?}");
    assert_eq!(evs[0].pid, pid);
    assert!(
        evs[0].filename.as_bytes().starts_with(b"/dev/fd/"),
        "{:?}",
        evs[0].filename
    );
    assert_eq!(
        argv_bytes(&evs[0]),
        vec![b"/bin/true".to_vec(), m1.as_bytes().to_vec()]
    );

    let m2 = marker("dirfd");
    run(Command::new(h).args(["execveat-rel", "/bin", "true", &m2]));
    let ev = find_marker(&t, &m2).expect("execveat with dirfd");
    assert!(
        ev.filename.as_bytes().ends_with(b"/true"),
        "{:?}",
        ev.filename
    );

    let m3 = marker("memfd");
    run(Command::new(h).args(["memfd-exec", "/bin/true", &m3]));
    let ev = find_marker(&t, &m3).expect("fexecve of a memfd");
    assert!(ev.filename.as_bytes().starts_with(b"/dev/fd/"));
}

#[test]
fn exec_from_a_non_main_thread_reports_the_process_id() {
    let Some(t) = default_tracer() else { return };
    let m = marker("thread");
    let pid = run(Command::new(helper()).args(["thread-exec", "/bin/true", &m]));
    let ev = find_marker(&t, &m).expect("event");
    assert_eq!(ev.pid, pid, "pid is the process id, not the thread's");
    assert_ne!(ev.tid, pid, "tid is the thread that called exec");
    assert!(ev.tid > 0);
}

#[test]
fn argv_is_what_the_new_process_has_not_what_a_racing_thread_wrote() {
    let Some(t) = default_tracer() else { return };
    for i in 0..5 {
        let m = marker("race");
        // sh -c 'sleep 2' MARKER RACED: $0 = MARKER, and RACED is rewritten
        // by two threads while execv copies it.
        let raced = "R".repeat(64);
        let mut child = spawn(Command::new(helper()).args([
            "race-argv",
            "/bin/sh",
            "-c",
            "sleep 2",
            &m,
            &raced,
        ]));
        let ev = find_marker(&t, &m).expect("event");
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("cmdline");
        child.wait().unwrap();
        let mut block = Vec::new();
        for a in &ev.argv {
            block.extend_from_slice(a.as_bytes());
            block.push(0);
        }
        assert_eq!(block, cmdline, "round {i}: event argv == /proc/pid/cmdline");
    }
}

#[test]
fn scripts_report_argv_as_run_and_the_interpreter() {
    let Some(t) = default_tracer() else { return };
    let dir = tempdir("script");
    let script = dir.join("hello.sh");
    std::fs::write(&script, "#!/bin/sh -e\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let m = marker("script");
    run(Command::new(&script).arg(&m));
    let ev = find_marker(&t, &m).expect("event");
    assert_eq!(ev.filename, script.as_os_str());
    assert_eq!(
        ev.interpreter.as_deref(),
        Some(std::ffi::OsStr::new("/bin/sh"))
    );
    let s = script.as_os_str().as_bytes().to_vec();
    assert_eq!(
        argv_bytes(&ev),
        vec![b"/bin/sh".to_vec(), b"-e".to_vec(), s, m.into_bytes()]
    );
    assert_eq!(ev.argc, 4);
    assert_ne!(ev.flags & flags::HAS_INTERP, 0);

    // Through a symlink: the name as passed.
    let link = dir.join("link");
    std::os::unix::fs::symlink("/bin/true", &link).unwrap();
    let m = marker("symlink");
    run(Command::new(&link).arg(&m));
    let ev = find_marker(&t, &m).expect("event");
    assert_eq!(ev.filename, link.as_os_str());
    assert_eq!(ev.interpreter, None);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Short records are built on the BPF stack, longer ones in a scratch slot
/// (a filename of 96 bytes or more, an argv of more than 152): every size
/// on either side of those limits arrives whole.
#[test]
fn records_on_either_side_of_the_small_record_limits_are_exact() {
    let Some(t) = default_tracer() else { return };
    let dir = tempdir("small");
    for name_len in [94, 95, 96, 97] {
        let prefix = dir.as_os_str().len() + 1;
        let path = dir.join("n".repeat(name_len - prefix));
        std::os::unix::fs::symlink("/bin/true", &path).unwrap();
        assert_eq!(path.as_os_str().len(), name_len);
        for argv_size in [151, 152, 153] {
            let m = marker("small");
            let pad = "p".repeat(argv_size - name_len - m.len() - 3);
            run(Command::new(&path).args([&m, &pad]));
            let ev = find_marker(&t, &m).expect("event");
            assert_eq!(ev.filename, path.as_os_str(), "{name_len}/{argv_size}");
            assert_eq!(
                ev.argv,
                [path.as_os_str(), os(&m), os(&pad)],
                "{name_len}/{argv_size}"
            );
            assert_eq!(ev.argv_size as usize, argv_size);
            assert_eq!(ev.argc, 3);
            assert!(!ev.truncated, "{ev:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn argv_beyond_the_budget_is_truncated_with_true_sizes() {
    let Some(t) = default_tracer() else { return };
    // Default budget: at least 32 KiB, no argument-count limit.
    let m = marker("budget");
    let small: Vec<String> = (0..3000).map(|i| format!("{i}")).collect(); // ~13 KiB, 3000 args
    run(Command::new("/bin/true").arg(&m).args(&small));
    let ev = find_marker(&t, &m).expect("event");
    assert!(!ev.truncated);
    assert_eq!(ev.argv.len(), 3002);

    let m = marker("over");
    let big = "x".repeat(10_000);
    let args = [m.as_str(), &big, &big, &big, &big]; // ~40 KiB
    run(Command::new("/bin/true").args(args));
    let ev = find_marker(&t, &m).expect("event");
    let size = "/bin/true".len() + 1 + m.len() + 1 + 4 * 10_001;
    assert!(ev.truncated);
    assert_ne!(ev.flags & flags::ARGV_TRUNCATED, 0);
    assert_eq!(ev.argc, 6);
    assert_eq!(ev.argv_size as usize, size);
    let captured: usize = ev.argv.iter().map(|a| a.len()).sum::<usize>() + ev.argv.len() - 1;
    assert_eq!(
        captured,
        32 * 1024,
        "the prefix up to the budget is delivered"
    );
    assert_eq!(
        ev.argv[..2],
        [OsString::from("/bin/true"), OsString::from(&m)]
    );

    // Configurable.
    let opts = TracerOpts {
        argv_budget: 100,
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    let m = marker("cfg");
    run(Command::new("/bin/true").args([&m, &"y".repeat(200)]));
    let ev = find_marker(&t, &m).expect("event");
    assert!(ev.truncated);
    assert_eq!(ev.argv.iter().map(|a| a.len() + 1).sum::<usize>() - 1, 100);
    assert_eq!(ev.argc, 3);
}

#[test]
fn failed_execs_are_off_by_default_and_reported_with_errno_when_asked() {
    let dir = tempdir("failed");
    let noexec = dir.join("not-executable");
    std::fs::write(&noexec, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let missing = dir.join("missing");

    // Both BPF objects: with atomics, and the one kernels before 5.12 load.
    let mut with = Vec::new();
    for hooks in [Hooks::Auto, Hooks::Fallback] {
        let opts = TracerOpts {
            include_failed: true,
            hooks,
            ..Default::default()
        };
        let Some(t) = tracer(&opts) else { return };
        with.push(t);
    }
    let Some(without) = default_tracer() else {
        return;
    };

    let m1 = marker("enoent");
    let m2 = marker("eacces");
    // Even root needs an x bit to exec: EACCES.
    let st = Command::new(helper())
        .args(["exec-fail"])
        .arg(&missing)
        .args([&m1, ""])
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new(helper())
        .args(["exec-fail"])
        .arg(&noexec)
        .arg(&m2)
        .status()
        .unwrap();
    assert!(st.success());

    for with in &with {
        let ev = find_marker(with, &m1).expect("ENOENT event");
        assert_eq!(ev.result, -libc::ENOENT);
        assert!(ev.failed());
        assert_ne!(ev.flags & flags::FAILED, 0);
        assert_eq!(ev.filename, missing.as_os_str());
        assert_eq!(
            argv_bytes(&ev),
            vec![
                missing.as_os_str().as_bytes().to_vec(),
                m1.as_bytes().to_vec(),
                vec![]
            ]
        );
        let ev = find_marker(with, &m2).expect("EACCES event");
        assert_eq!(ev.result, -libc::EACCES);
        let name = helper().file_name().unwrap().as_bytes();
        assert_eq!(
            ev.comm.as_bytes(),
            &name[..name.len().min(15)],
            "a failed exec keeps the caller's name"
        );
    }

    let none = collect(&without, Duration::from_secs(1), |e| {
        is_marked(e, &m1) || is_marked(e, &m2)
    });
    assert!(
        none.is_empty(),
        "failed execs are off by default: {none:#?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
