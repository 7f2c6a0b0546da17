//! In-kernel filters: pid namespace (with descendants), uid, cgroup v2.
mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use exectrace::TracerOpts;

fn ns_of(pid: u32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .unwrap()
        .ino() as u32
}

/// `sh -c SCRIPT ARGS...` as the first process of a new pid namespace,
/// waiting on its stdin (`read x`) until released; reaped on drop.
struct InNewPidNs {
    child: std::process::Child,
    /// The shell's pid (initial namespace).
    pid: u32,
    /// Inode of the new namespace.
    ns: u32,
}

impl InNewPidNs {
    fn start(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new(helper())
            .args(["newpidns-exec", "/bin/sh", "-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pid: u32 = line.trim().parse().unwrap();
        InNewPidNs {
            child,
            pid,
            ns: ns_of(pid),
        }
    }

    /// Let the script go on past `read x`, and wait for it.
    fn release(&mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

impl Drop for InNewPidNs {
    fn drop(&mut self) {
        self.release();
    }
}

#[test]
fn pid_namespace_filter_covers_descendants_only() {
    let own = exectrace::pid_ns_of_self().unwrap();
    let Some(same) = tracer(&TracerOpts {
        pid_ns: Some(own),
        ..Default::default()
    }) else {
        return;
    };

    // An exec in our namespace is seen.
    let m = marker("own-ns");
    run(Command::new("/bin/true").arg(&m));
    let ev = find_marker(&same, &m).expect("exec in our own pid namespace");
    assert_eq!(ev.pid_ns, own);

    // A child namespace: a process that sleeps in a new pid namespace; a
    // tracer on that namespace only, and the root-namespace tracer.
    let m_child = marker("child-ns");
    let mut ns_proc = InNewPidNs::start("read x; exec /bin/true \"$0\"", &[&m_child]);
    let (sh_pid, child_ns) = (ns_proc.pid, ns_proc.ns);
    assert_ne!(child_ns, own);
    let Some(only_child) = tracer(&TracerOpts {
        pid_ns: Some(child_ns),
        ..Default::default()
    }) else {
        return;
    };

    // Our own exec, not in the child namespace: the child-ns tracer sees nothing of it.
    let m_outside = marker("outside");
    run(Command::new("/bin/true").arg(&m_outside));
    // Let the child namespace exec.
    ns_proc.release();

    let ev = find_marker(&same, &m_child).expect("descendant namespace seen by the parent filter");
    assert_eq!(ev.pid_ns, child_ns);
    let ev = find_marker(&only_child, &m_child).expect("seen by the child-namespace filter");
    assert_eq!(ev.pid, sh_pid, "pid is in the initial namespace");
    let leaked = collect(&only_child, Duration::from_secs(2), |e| {
        is_marked(e, &m_outside)
    });
    assert!(
        leaked.is_empty(),
        "an exec outside the namespace leaked: {leaked:#?}"
    );
}

#[test]
fn a_different_namespace_sees_nothing_of_ours() {
    // A sibling namespace (child of ours, but our execs are not in it).
    let ns_proc = InNewPidNs::start("read x", &[]);
    let Some(t) = tracer(&TracerOpts {
        pid_ns: Some(ns_proc.ns),
        ..Default::default()
    }) else {
        return;
    };
    let m = marker("other-ns");
    for _ in 0..5 {
        run(Command::new("/bin/true").arg(&m));
    }
    let seen = collect(&t, Duration::from_secs(3), |e| has_arg(e, &m));
    drop(ns_proc);
    assert!(seen.is_empty(), "{seen:#?}");
}

#[test]
fn uid_filter() {
    let Some(t) = tracer(&TracerOpts {
        uid: Some(1234),
        ..Default::default()
    }) else {
        return;
    };
    let m_yes = marker("uid-yes");
    let m_no = marker("uid-no");
    run(command_as("/bin/true", None, Some((1234, 1234))).arg(&m_yes));
    run(command_as("/bin/true", None, Some((1235, 1235))).arg(&m_no));
    run(Command::new("/bin/true").arg(&m_no));
    let ev = find_marker(&t, &m_yes).expect("uid 1234 seen");
    assert_eq!(ev.uid, 1234);
    let other = collect(&t, Duration::from_secs(1), |e| is_marked(e, &m_no));
    assert!(other.is_empty(), "{other:#?}");
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on hybrid hosts); mounted here if nowhere.
fn cgroup2_root() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    if let Some(line) = mounts.lines().find(|l| l.contains(" - cgroup2 ")) {
        return PathBuf::from(line.split(' ').nth(4).unwrap());
    }
    let dir = std::env::temp_dir().join("xt-cgroup2");
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("mount")
        .args(["-t", "cgroup2", "none"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "mounting cgroup2 at {}", dir.display());
    dir
}

/// A cgroup v2 directory of our own, with a child `sub`.
fn make_cgroup(name: &str) -> PathBuf {
    let dir = cgroup2_root().join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    dir
}

fn in_cgroup(path: &str, cg: &std::path::Path, arg: &str) -> Command {
    let procs =
        std::ffi::CString::new(cg.join("cgroup.procs").as_os_str().as_encoded_bytes()).unwrap();
    let mut cmd = Command::new(path);
    cmd.arg(arg);
    // SAFETY: open/write/close are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    cmd
}

#[test]
fn cgroup_filter_covers_descendants() {
    let cg = make_cgroup(&marker("cg"));
    let opts = TracerOpts {
        cgroup: Some(cg.clone()),
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    let (m_in, m_sub, m_out) = (marker("cg-in"), marker("cg-sub"), marker("cg-out"));
    run(&mut in_cgroup("/bin/true", &cg, &m_in));
    run(&mut in_cgroup("/bin/true", &cg.join("sub"), &m_sub));
    run(Command::new("/bin/true").arg(&m_out));
    let ev = find_marker(&t, &m_in).expect("exec in the cgroup");
    let id = std::fs::metadata(&cg).unwrap().ino();
    assert_eq!(
        ev.cgroup_id, id,
        "cgroup id is the cgroup directory's inode"
    );
    find_marker(&t, &m_sub).expect("exec in a descendant cgroup");
    let out = collect(&t, Duration::from_secs(1), |e| has_arg(e, &m_out));
    assert!(out.is_empty(), "{out:#?}");
    drop(t);
    let _ = std::fs::remove_dir(cg.join("sub"));
    let _ = std::fs::remove_dir(&cg);

    // Not a cgroup v2 directory: a clear error.
    let bad = TracerOpts {
        cgroup: Some("/tmp".into()),
        ..Default::default()
    };
    let err = exectrace::Tracer::new(&bad).unwrap_err();
    assert!(matches!(err, exectrace::Error::InvalidArgument(_)), "{err}");
}

#[test]
fn filtered_out_execs_take_no_ring_space() {
    // A ring that holds only a few dozen records, never read while 300
    // non-matching execs run: nothing may be dropped, and a matching exec
    // afterwards is delivered.
    let opts = TracerOpts {
        uid: Some(4321),
        ring_size: 16 * 1024,
        argv_budget: 1024,
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    for _ in 0..300 {
        run(&mut Command::new("/bin/true"));
    }
    let m = marker("after");
    run(command_as("/bin/true", None, Some((4321, 4321))).arg(&m));
    find_marker(&t, &m).expect("delivered");
    assert_eq!(t.stats().drops, 0);
}
