//! The fields beyond the original's (issue 20): audit identity, tty, the
//! file that runs (inode, device, memfd), the environment, and the
//! resolved paths. Each is compared with what the kernel and /proc say,
//! on both BPF objects (`Hooks::Fallback` is what kernels before 5.12 load).
mod common;

use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use exectrace::{flags, Event, Hooks, Tracer, TracerOpts};

/// One tracer per BPF object, with `opts` otherwise.
fn both_objects(opts: TracerOpts) -> Vec<(Hooks, Tracer)> {
    let mut v = Vec::new();
    for hooks in [Hooks::Auto, Hooks::Fallback] {
        let o = TracerOpts {
            hooks,
            ..opts.clone()
        };
        match tracer(&o) {
            Some(t) => v.push((hooks, t)),
            None => return Vec::new(),
        }
    }
    v
}

/// The marked event, from each tracer.
fn marked(ts: &[(Hooks, Tracer)], m: &str) -> Vec<(Hooks, Event)> {
    ts.iter()
        .map(|(h, t)| {
            let ev = find_marker(t, m).unwrap_or_else(|| panic!("{h:?}: no event for {m}"));
            (*h, ev)
        })
        .collect()
}

fn read_trimmed(p: &str) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

/// A child that sets its audit login uid (root may, once per process)
/// before it execs a shell that prints what /proc says of itself: the
/// event's loginuid and sessionid are those.
#[test]
fn loginuid_and_sessionid_are_what_proc_says() {
    let ts = both_objects(TracerOpts::default());
    if ts.is_empty() {
        return;
    }
    let audit = Path::new("/proc/self/loginuid").exists();
    let m = marker("loginuid");
    let mut cmd = Command::new("/bin/sh");
    cmd.args([
        "-c",
        "cat /proc/self/loginuid; echo; cat /proc/self/sessionid; echo",
        &m,
    ]);
    if audit {
        // SAFETY: only async-signal-safe calls (open, write, close) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let fd = libc::open(c"/proc/self/loginuid".as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let n = libc::write(fd, b"4242".as_ptr().cast(), 4);
                libc::close(fd);
                if n != 4 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.stderr(Stdio::inherit()).output().expect("run sh");
    assert!(out.status.success(), "{out:?}");
    for (h, ev) in marked(&ts, &m) {
        if !audit {
            assert_ne!(ev.flags & flags::AUDIT_UNKNOWN, 0, "{h:?}");
            assert_eq!((ev.loginuid, ev.sessionid), (None, None), "{h:?}");
            continue;
        }
        let text = String::from_utf8(out.stdout.clone()).unwrap();
        let mut lines = text.lines();
        let loginuid: u32 = lines.next().unwrap().parse().unwrap();
        let sessionid: u32 = lines.next().unwrap().parse().unwrap();
        assert_eq!(loginuid, 4242);
        assert_eq!(ev.loginuid, Some(loginuid), "{h:?}");
        assert_eq!(ev.sessionid, Some(sessionid), "{h:?}");
        assert_ne!(sessionid, u32::MAX, "setting loginuid opens a session");
    }

    // Unchanged: those of this process (unset, 4294967295, on a machine
    // nobody logged into).
    let m = marker("loginuid-inherited");
    run(Command::new("/bin/true").arg(&m));
    for (h, ev) in marked(&ts, &m) {
        let want = |p| read_trimmed(p).map(|s| s.parse::<u32>().unwrap());
        assert_eq!(ev.loginuid, want("/proc/self/loginuid"), "{h:?}");
        assert_eq!(ev.sessionid, want("/proc/self/sessionid"), "{h:?}");
    }
}

/// Under a pseudo-terminal (script(1) gives its command one as its
/// controlling terminal) the event names it as tty(1) does; in a new
/// session without one, tty is empty.
#[test]
fn tty_is_the_controlling_terminal_or_empty() {
    let ts = both_objects(TracerOpts::default());
    if ts.is_empty() {
        return;
    }
    let m = marker("tty");
    let out = Command::new("script")
        .args(["-qec", &format!("tty; /bin/true {m}"), "/dev/null"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("script(1) from util-linux");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let dev = text
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("/dev/"))
        .unwrap_or_else(|| panic!("tty printed its terminal: {text:?}"))
        .to_string();
    assert!(dev.starts_with("pts/"), "{dev}");
    for (h, ev) in marked(&ts, &m) {
        assert_eq!(ev.tty, dev.as_str(), "{h:?}");
        assert_eq!(ev.flags & flags::TTY_TRUNCATED, 0);
    }

    let m = marker("no-tty");
    let mut cmd = Command::new("/bin/true");
    cmd.arg(&m);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run(&mut cmd);
    for (h, ev) in marked(&ts, &m) {
        assert_eq!(ev.tty, "", "{h:?}: a new session has no terminal");
    }
}

/// exe_inode and exe_dev are stat(2)'s st_ino and st_dev of the file that
/// runs: the binary behind a symlink, a script's interpreter.
#[test]
fn exe_inode_and_device_are_those_stat_gives() {
    let ts = both_objects(TracerOpts::default());
    if ts.is_empty() {
        return;
    }
    let st = fs::metadata("/bin/true").unwrap();
    let m = marker("inode");
    run(Command::new("/bin/true").arg(&m));
    for (h, ev) in marked(&ts, &m) {
        assert_eq!((ev.exe_inode, ev.exe_dev), (st.ino(), st.dev()), "{h:?}");
        assert!(!ev.exe_memfd);
    }

    let dir = tempdir("inode");
    let script = dir.join("s.sh");
    fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let sh = fs::metadata("/bin/sh").unwrap();
    let m = marker("inode-script");
    run(Command::new(&script).arg(&m));
    for (h, ev) in marked(&ts, &m) {
        assert_eq!(
            (ev.exe_inode, ev.exe_dev),
            (sh.ino(), sh.dev()),
            "{h:?}: a script's exe is its interpreter"
        );
    }
    fs::remove_dir_all(dir).unwrap();
}

/// An executable copy of /bin/true at `path`.
fn copy_of_true(path: &Path) {
    fs::copy("/bin/true", path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A copy of /bin/true that is open and already unlinked: its fd stays
/// valid for children, which exec it through /proc/self/fd/N.
fn deleted_copy_of_true(dir: &Path) -> fs::File {
    let path = dir.join("deleted-true");
    copy_of_true(&path);
    let f = fs::File::open(&path).unwrap();
    fs::remove_file(&path).unwrap();
    f
}

/// Fileless execution: a program copied into a memfd and run with
/// fexecve sets exe_memfd. What must not set it: an ordinary exec, and
/// the nearest lookalike, a deleted file on tmpfs (same file system type,
/// no link left either; but it is in a directory and not named "memfd:").
#[test]
fn exe_memfd_is_set_only_for_a_memfd() {
    let ts = both_objects(TracerOpts::default());
    if ts.is_empty() {
        return;
    }
    let m = marker("memfd");
    run(Command::new(helper()).args(["memfd-exec", "/bin/true", &m]));
    for (h, ev) in marked(&ts, &m) {
        assert!(ev.exe_memfd, "{h:?}: {ev:?}");
        assert_ne!(ev.flags & flags::EXE_MEMFD, 0);
        assert_ne!(ev.exe_inode, 0);
    }

    let m = marker("not-memfd");
    run(Command::new("/bin/true").arg(&m));
    for (h, ev) in marked(&ts, &m) {
        assert!(!ev.exe_memfd, "{h:?}");
    }

    let shm = Path::new("/dev/shm");
    let on_tmpfs = fs::metadata(shm).is_ok()
        && Command::new("stat")
            .args(["-f", "-c", "%T", "/dev/shm"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"tmpfs"));
    if on_tmpfs {
        let dir = shm.join(marker("memfd-lookalike"));
        fs::create_dir(&dir).unwrap();
        let f = deleted_copy_of_true(&dir);
        assert_eq!(f.metadata().unwrap().nlink(), 0);
        let m = marker("deleted-tmpfs");
        run(Command::new(format!("/proc/self/fd/{}", f.as_raw_fd())).arg(&m));
        for (h, ev) in marked(&ts, &m) {
            assert!(!ev.exe_memfd, "{h:?}: a deleted tmpfs file is no memfd");
            assert_eq!(ev.exe_inode, f.metadata().unwrap().ino());
        }
        fs::remove_dir_all(dir).unwrap();
    }
    let _ = std::io::stdout().flush();
}

/// A shell that waits for a line on stdin, so that /proc/PID can be read
/// while it lives; `m` is its $0.
fn waiting_shell(cmd: &mut Command, m: &str) -> std::process::Child {
    cmd.args(["-c", "read x", m])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sh")
}

fn nul_block(strings: &[std::ffi::OsString]) -> Vec<u8> {
    let mut v = Vec::new();
    for s in strings {
        v.extend_from_slice(s.as_bytes());
        v.push(0);
    }
    v
}

/// Off by default. When asked: exactly /proc/PID/environ, empty strings,
/// newlines and non-UTF-8 bytes kept; beyond the budget cut at exactly the
/// budget, flagged, with the true size.
#[test]
fn environment_only_when_asked_exact_and_cut_at_its_budget() {
    let plain = both_objects(TracerOpts::default());
    let with = both_objects(TracerOpts {
        include_env: true,
        ..Default::default()
    });
    let small = both_objects(TracerOpts {
        include_env: true,
        env_budget: 100,
        ..Default::default()
    });
    if plain.is_empty() || with.is_empty() || small.is_empty() {
        return;
    }
    let m = marker("env");
    let mut cmd = Command::new("/bin/sh");
    cmd.env_clear()
        .env("XT_A", "1")
        .env("XT_EMPTY", "")
        .env("XT_NL", "line\nbreak")
        .env(
            "XT_BYTES",
            std::ffi::OsStr::from_bytes(b"\xff\xfe-not-utf8"),
        )
        .env("XT_LONG", "v".repeat(200));
    let mut child = waiting_shell(&mut cmd, &m);
    // spawn() returns once exec has closed the child's cloexec fds, before
    // the new mm is set up: read /proc once the exec is reported.
    let plain_evs = marked(&plain, &m);
    let with_evs = marked(&with, &m);
    let small_evs = marked(&small, &m);
    let environ = fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    drop(child.stdin.take());
    child.wait().unwrap();

    for (h, ev) in plain_evs {
        assert!(ev.env.is_empty(), "{h:?}");
        assert_eq!((ev.env_size, ev.env_truncated), (0, false), "{h:?}");
        assert_eq!(ev.flags & flags::HAS_ENV, 0);
    }
    for (h, ev) in with_evs {
        assert_ne!(ev.flags & flags::HAS_ENV, 0);
        assert_eq!(
            nul_block(&ev.env),
            environ,
            "{h:?}: env == /proc/PID/environ"
        );
        assert_eq!(ev.env_size as usize, environ.len(), "{h:?}");
        assert!(!ev.env_truncated, "{h:?}");
        assert!(!ev.truncated, "{h:?}: argv is not truncated");
        assert!(has_arg(&ev, &m));
    }
    for (h, ev) in small_evs {
        assert!(ev.env_truncated, "{h:?}");
        assert_ne!(ev.flags & flags::ENV_TRUNCATED, 0);
        assert_eq!(ev.env_size as usize, environ.len(), "{h:?}: the true size");
        let mut got = nul_block(&ev.env);
        if !environ[..100].ends_with(b"\0") {
            got.pop(); // the cut last string has no NUL of its own
        }
        assert_eq!(got, environ[..100], "{h:?}: the first 100 bytes");
        assert!(!ev.truncated, "{h:?}: argv is whole: its budget is its own");
    }
}

fn with_paths() -> Vec<(Hooks, Tracer)> {
    both_objects(TracerOpts {
        paths: true,
        ..Default::default()
    })
}

/// A directory on a file system of its own when there is one (/dev/shm:
/// the walk then crosses mounts on the host too; /tmp is a tmpfs in the
/// kernel matrix's guests).
fn scratch_dir(tag: &str) -> std::path::PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        let d = shm.join(marker(tag));
        if fs::create_dir(&d).is_ok() {
            return d;
        }
    }
    tempdir(tag)
}

fn readlink(p: String) -> std::ffi::OsString {
    fs::read_link(p).unwrap().into_os_string()
}

/// A relative exec through a symlink: filename is as passed, exe_path the
/// resolved file (/proc/PID/exe), cwd the directory (/proc/PID/cwd). Not
/// there unless asked.
#[test]
fn paths_resolve_a_relative_exec_through_a_symlink() {
    let ts = with_paths();
    let plain = both_objects(TracerOpts::default());
    if ts.is_empty() || plain.is_empty() {
        return;
    }
    for dir in [scratch_dir("paths"), tempdir("paths")] {
        std::os::unix::fs::symlink("/bin/sh", dir.join("lnk")).unwrap();
        let m = marker("paths");
        let mut cmd = Command::new("./lnk");
        cmd.current_dir(&dir);
        let mut child = waiting_shell(&mut cmd, &m);
        let evs = marked(&ts, &m);
        let plain_evs = marked(&plain, &m);
        let exe = readlink(format!("/proc/{}/exe", child.id()));
        let cwd = readlink(format!("/proc/{}/cwd", child.id()));
        drop(child.stdin.take());
        child.wait().unwrap();
        assert_eq!(cwd, fs::canonicalize(&dir).unwrap().into_os_string());
        for (h, ev) in evs {
            assert_eq!(ev.filename, "./lnk", "{h:?}");
            assert_eq!(ev.exe_path.as_ref(), Some(&exe), "{h:?}: {ev:?}");
            assert_eq!(ev.cwd.as_ref(), Some(&cwd), "{h:?}");
            assert_ne!(ev.flags & flags::HAS_PATHS, 0);
            assert!(!ev.exe_path_cut && !ev.cwd_cut && !ev.exe_deleted && !ev.cwd_deleted);
        }
        for (h, ev) in plain_evs {
            assert_eq!((ev.exe_path, ev.cwd), (None, None), "{h:?}: off by default");
            assert_eq!(ev.flags & flags::HAS_PATHS, 0);
        }
        fs::remove_dir_all(dir).unwrap();
    }
}

/// Names with a newline are exact bytes; a deleted executable and a
/// removed working directory keep the path they had, flagged; a memfd has
/// no path from the root, flagged unresolved.
#[test]
fn paths_keep_odd_names_and_flag_deleted_and_unresolvable_files() {
    let ts = with_paths();
    if ts.is_empty() {
        return;
    }
    let top = scratch_dir("odd");
    let dir = top.join("new\nline dir");
    fs::create_dir(&dir).unwrap();
    let prog = dir.join("true\ncopy");
    copy_of_true(&prog);
    let canon = fs::canonicalize(&prog).unwrap().into_os_string();
    let m = marker("newline");
    run(Command::new(&prog).arg(&m).current_dir(&dir));
    for (h, ev) in marked(&ts, &m) {
        assert_eq!(ev.exe_path.as_ref(), Some(&canon), "{h:?}");
        assert_eq!(
            ev.cwd.as_deref(),
            Some(fs::canonicalize(&dir).unwrap().as_os_str()),
            "{h:?}"
        );
    }

    let f = deleted_copy_of_true(&dir);
    let gone = fs::canonicalize(&dir).unwrap().join("deleted-true");
    let cwd_gone = dir.join("removed");
    fs::create_dir(&cwd_gone).unwrap();
    let cwd_gone_c = std::ffi::CString::new(cwd_gone.as_os_str().as_bytes()).unwrap();
    let m = marker("deleted");
    let mut cmd = Command::new(format!("/proc/self/fd/{}", f.as_raw_fd()));
    cmd.arg(&m);
    // SAFETY: chdir and rmdir are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chdir(cwd_gone_c.as_ptr()) != 0 || libc::rmdir(cwd_gone_c.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    run(&mut cmd);
    for (h, ev) in marked(&ts, &m) {
        assert!(ev.exe_deleted, "{h:?}: {ev:?}");
        assert_eq!(ev.exe_path.as_deref(), Some(gone.as_os_str()), "{h:?}");
        assert!(ev.cwd_deleted, "{h:?}");
        assert_eq!(
            ev.cwd.as_deref(),
            Some(fs::canonicalize(&dir).unwrap().join("removed").as_os_str()),
            "{h:?}"
        );
    }
    drop(f);

    let m = marker("memfd-path");
    run(Command::new(helper())
        .args(["memfd-exec", "/bin/true", &m])
        .current_dir(&dir));
    for (h, ev) in marked(&ts, &m) {
        assert!(ev.exe_memfd);
        assert_eq!(ev.exe_path, None, "{h:?}");
        assert_ne!(ev.flags & flags::EXE_PATH_UNRESOLVED, 0, "{h:?}");
        assert!(!ev.exe_path_cut);
        assert_eq!(
            ev.cwd.as_deref(),
            Some(fs::canonicalize(&dir).unwrap().as_os_str())
        );
    }
    fs::remove_dir_all(top).unwrap();
}

/// A program and a working directory 70 directories deep, beyond the
/// walk's 64 components: flagged cut, no path given; the components
/// captured are the innermost ones, exactly.
#[test]
fn paths_deeper_than_the_walk_are_flagged_cut_never_wrong() {
    let ts = with_paths();
    if ts.is_empty() {
        return;
    }
    let top = tempdir("deep");
    let mut deep = top.clone();
    for i in 0..70 {
        deep.push(format!("d{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    let prog = deep.join("true");
    copy_of_true(&prog);
    let m = marker("deep");
    run(Command::new(&prog).arg(&m).current_dir(&deep));
    for (h, ev) in marked(&ts, &m) {
        assert!(ev.exe_path_cut && ev.cwd_cut, "{h:?}: {ev:?}");
        assert_eq!((ev.exe_path.as_ref(), ev.cwd.as_ref()), (None, None));
        assert_ne!(ev.flags & flags::EXE_PATH_CUT, 0);
    }
    // The components captured, innermost first, through the borrowed event.
    let (_, t) = &ts[0];
    let m = marker("deep-ref");
    run(Command::new(&prog).arg(&m).current_dir(&deep));
    let comps = common_find_ref(t, &m);
    let mut want = vec![b"true".to_vec()];
    want.extend((6..70).rev().map(|i| format!("d{i}").into_bytes()));
    assert_eq!(comps.len(), 64, "{comps:?}");
    assert_eq!(comps, want[..64]);
    fs::remove_dir_all(top).unwrap();
}

/// The exe_path components of the event carrying `m`, read through
/// `read_with` (the borrowed event).
fn common_find_ref(t: &Tracer, m: &str) -> Vec<Vec<u8>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let got = t
            .read_with(Some(std::time::Duration::from_secs(1)), |e| {
                let marked = e.args().any(|a| a == m.as_bytes());
                marked.then(|| e.exe_path_components().map(<[u8]>::to_vec).collect())
            })
            .expect("read");
        if let Some(Some(c)) = got {
            return c;
        }
    }
    panic!("no event for {m}");
}

/// In-kernel cost per exec of each option, from the program's run time
/// (kernel.bpf_stats_enabled, /proc/self/fdinfo of the program's fd),
/// under two shell loops of /bin/true. Not a test: run by hand on a quiet
/// machine, `cargo test --release --test rich -- --ignored --nocapture cost`.
#[test]
#[ignore]
fn cost_per_exec_of_each_option() {
    let secs: u64 = std::env::var("XT_COST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let old = fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled").unwrap();
    fs::write("/proc/sys/kernel/bpf_stats_enabled", "1").unwrap();
    let configs: [(&str, TracerOpts); 4] = [
        ("default", TracerOpts::default()),
        (
            "env",
            TracerOpts {
                include_env: true,
                ..Default::default()
            },
        ),
        (
            "paths",
            TracerOpts {
                paths: true,
                ..Default::default()
            },
        ),
        (
            "env+paths",
            TracerOpts {
                include_env: true,
                paths: true,
                ..Default::default()
            },
        ),
    ];
    for hooks in [Hooks::Auto, Hooks::Fallback] {
        for (name, opts) in &configs {
            let t = tracer(&TracerOpts {
                hooks,
                ..opts.clone()
            })
            .expect("tracer");
            let stat = |t: &Tracer| {
                let info =
                    fs::read_to_string(format!("/proc/self/fdinfo/{}", t.program_fd().as_raw_fd()))
                        .unwrap();
                let field = |k: &str| -> u64 {
                    info.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .map(|v| v.trim().parse().unwrap())
                        .unwrap_or(0)
                };
                (field("run_time_ns:"), field("run_cnt:"))
            };
            let loops: Vec<_> = (0..2)
                .map(|_| {
                    Command::new("/bin/sh")
                        .args(["-c", "while :; do /bin/true; done"])
                        .spawn()
                        .unwrap()
                })
                .collect();
            let (t0, c0) = stat(&t);
            let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
            while std::time::Instant::now() < end {
                let _ = t.read_timeout(std::time::Duration::from_millis(100));
            }
            let (t1, c1) = stat(&t);
            for mut l in loops {
                l.kill().unwrap();
                l.wait().unwrap();
            }
            let runs = (c1 - c0).max(1);
            eprintln!(
                "cost {hooks:?} {name}: {:.0} ns per exec over {runs} execs",
                (t1 - t0) as f64 / runs as f64
            );
        }
    }
    fs::write("/proc/sys/kernel/bpf_stats_enabled", old.trim()).unwrap();
}

/// In a private mount namespace with an overlay mounted: a program from
/// the lower layer and one from the upper layer; only the second sets
/// exe_upper_layer. Before 5.11 the kernel has no BTF of the overlay
/// module and the layer is flagged unknown, for both alike.
#[test]
fn exe_upper_layer_only_for_the_overlay_upper_layer() {
    let ts = both_objects(TracerOpts::default());
    if ts.is_empty() {
        return;
    }
    let top = tempdir("overlay");
    for d in ["lower", "upper", "work", "merged"] {
        fs::create_dir(top.join(d)).unwrap();
    }
    for (d, name) in [("lower", "low"), ("upper", "up")] {
        let p = top.join(d).join(name);
        copy_of_true(&p);
    }
    let (m1, m2) = (marker("lower"), marker("upper"));
    let t = top.display();
    let script = format!(
        "mount -t overlay overlay -o lowerdir={t}/lower,upperdir={t}/upper,workdir={t}/work {t}/merged \
         && {t}/merged/low {m1} && {t}/merged/up {m2}"
    );
    let st = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            &script,
        ])
        .status()
        .expect("unshare(1) from util-linux");
    assert!(st.success(), "overlay mount and execs: {script}");
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    unsafe { libc::uname(&mut uts) };
    let rel: Vec<u32> = unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .map(|n| n.parse().unwrap())
        .collect();
    let knowable = (rel[0], rel[1]) >= (5, 11);
    for ((h, low), (_, up)) in marked(&ts, &m1).into_iter().zip(marked(&ts, &m2)) {
        match (low.exe_upper_layer, up.exe_upper_layer) {
            (Some(false), Some(true)) => {}
            (None, None) if !knowable => {
                assert_ne!(low.flags & flags::EXE_UPPER_UNKNOWN, 0);
            }
            other => panic!("{h:?}: lower, upper: {other:?} (kernel {rel:?})"),
        }
    }
    let m = marker("not-overlay");
    run(Command::new("/bin/true").arg(&m));
    for (h, ev) in marked(&ts, &m) {
        assert_eq!(ev.exe_upper_layer, Some(false), "{h:?}");
    }
    fs::remove_dir_all(top).unwrap();
}
