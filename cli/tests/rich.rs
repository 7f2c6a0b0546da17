//! The command's richer fields (issue 20) against the running kernel:
//! --paths, --env and --env-budget, tty, the file that runs; each compared
//! with what /proc and stat(2) say.
#[path = "../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const CLI: &str = env!("CARGO_BIN_EXE_exectrace");

/// Run the command (its args should hold a --uid filter and --count 1) and
/// start a child with `spawn` every 100 ms until it exits. The children
/// stay alive: the caller reads their /proc, then ends them ([`end`]).
fn cli_sees_live(args: &[&str], mut spawn: impl FnMut() -> Child) -> (Output, Vec<Child>) {
    let mut cli = Command::new(CLI)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the command");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut children = Vec::new();
    while cli.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = cli.kill();
            end(children);
            panic!(
                "the command never printed the exec: {:?}",
                cli.wait_with_output()
            );
        }
        children.push(spawn());
        std::thread::sleep(Duration::from_millis(100));
    }
    (cli.wait_with_output().unwrap(), children)
}

/// End the shells of [`waiting_shell`]: their stdin closes, `read` returns.
fn end(children: Vec<Child>) {
    for mut c in children {
        drop(c.stdin.take());
        c.wait().unwrap();
    }
}

/// `cmd -c 'read x' m` as `uid`, in a session of its own (so without a
/// controlling terminal), waiting for a line on stdin.
fn waiting_shell(mut cmd: Command, m: &str, uid: u32) -> Child {
    cmd.args(["-c", "read x", m])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(uid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn().expect("spawn sh")
}

/// The one JSON line of `out`, and its keys in their order.
fn json_line(out: &Output) -> (Value, Vec<String>) {
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let line = stdout.trim_end();
    let keys: Keys = serde_json::from_str(line).expect("valid JSON");
    (serde_json::from_str(line).expect("valid JSON"), keys.0)
}

/// An object's keys as the line has them (a `Value`'s map is sorted).
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Keys, M::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The child whose pid the event names.
fn child_of<'c>(ev: &Value, children: &'c [Child]) -> &'c Child {
    let pid = ev["pid"].as_u64().expect("pid");
    children
        .iter()
        .find(|c| u64::from(c.id()) == pid)
        .unwrap_or_else(|| panic!("no child has pid {pid}: {ev}"))
}

fn readlink(p: String) -> String {
    fs::read_link(p)
        .unwrap()
        .into_os_string()
        .into_string()
        .unwrap()
}

/// A relative exec through a symlink with its directory as cwd: filename
/// as passed, exe_path and cwd as /proc/PID/exe and /proc/PID/cwd name
/// them, exe_inode and exe_dev as stat(2) of the binary, no tty in a
/// session without a terminal; no environment when not asked.
#[test]
fn paths_in_json_are_what_proc_says() {
    if default_tracer().is_none() {
        return;
    }
    let dir = tempdir("cli-paths");
    std::os::unix::fs::symlink("/bin/sh", dir.join("lnk")).unwrap();
    let m = marker("cli-paths");
    let (out, children) = cli_sees_live(
        &[
            "--format", "json", "--paths", "--uid", "4340", "--count", "1",
        ],
        || {
            let mut cmd = Command::new("./lnk");
            cmd.current_dir(&dir);
            waiting_shell(cmd, &m, 4340)
        },
    );
    let (ev, keys) = json_line(&out);
    let pid = child_of(&ev, &children).id();
    let exe = readlink(format!("/proc/{pid}/exe"));
    let cwd = readlink(format!("/proc/{pid}/cwd"));
    let loginuid = fs::read_to_string(format!("/proc/{pid}/loginuid")).ok();
    let sessionid = fs::read_to_string(format!("/proc/{pid}/sessionid")).ok();
    end(children);
    assert_eq!(ev["filename"], "./lnk", "{ev}");
    assert_eq!(ev["argv"][3], m.as_str(), "{ev}");
    assert_eq!(ev["exe_path"], exe.as_str(), "{ev}");
    assert_eq!(ev["cwd"], cwd.as_str(), "{ev}");
    assert_eq!(
        cwd,
        fs::canonicalize(&dir)
            .unwrap()
            .into_os_string()
            .into_string()
            .unwrap()
    );
    for flag in ["exe_path_cut", "exe_deleted", "cwd_cut", "cwd_deleted"] {
        assert_eq!(ev[flag], false, "{flag}: {ev}");
    }
    let st = fs::metadata("/bin/sh").unwrap();
    assert_eq!(ev["exe_inode"], st.ino(), "{ev}");
    assert_eq!(ev["exe_dev"], st.dev(), "{ev}");
    let st_exe = fs::metadata(&exe).unwrap();
    assert_eq!((st_exe.ino(), st_exe.dev()), (st.ino(), st.dev()));
    assert_eq!(ev["exe_memfd"], false, "{ev}");
    assert_eq!(ev["tty"], "", "{ev}: a new session has no terminal");
    assert!(
        ev["exe_upper_layer"].is_boolean() || ev["exe_upper_layer"].is_null(),
        "{ev}"
    );
    let audit = |v: Option<String>| match v {
        Some(s) => Value::from(s.trim().parse::<u32>().unwrap()),
        None => Value::Null,
    };
    assert_eq!(ev["loginuid"], audit(loginuid), "{ev}");
    assert_eq!(ev["sessionid"], audit(sessionid), "{ev}");
    // The new keys come after all of the original's, in this order.
    let at = keys.iter().position(|k| k == "result").unwrap() + 1;
    assert_eq!(
        keys[at..],
        [
            "exe_path",
            "exe_path_cut",
            "exe_deleted",
            "cwd",
            "cwd_cut",
            "cwd_deleted",
            "loginuid",
            "sessionid",
            "tty",
            "exe_inode",
            "exe_dev",
            "exe_memfd",
            "exe_upper_layer"
        ],
        "{ev}"
    );
    fs::remove_dir_all(dir).unwrap();
}

/// --env gives the environment exactly as /proc/PID/environ; with
/// --env-budget it is cut at exactly that many bytes and flagged, with
/// the true size. Without --env (or --paths) there are no such keys.
#[test]
fn env_only_when_asked_and_cut_at_the_budget() {
    if default_tracer().is_none() {
        return;
    }
    let m = marker("cli-env");
    let shell = |uid| {
        let mut cmd = Command::new("/bin/sh");
        cmd.env_clear()
            .env("XT_A", "1")
            .env("XT_EMPTY", "")
            .env("XT_NL", "line\nbreak")
            .env("XT_LONG", "v".repeat(200));
        waiting_shell(cmd, &m, uid)
    };
    let environ = |ev: &Value, children: Vec<Child>| {
        let pid = child_of(ev, &children).id();
        let e = fs::read(format!("/proc/{pid}/environ")).unwrap();
        end(children);
        e
    };
    let strings = |v: &Value| -> Vec<u8> {
        let mut b = Vec::new();
        for s in v.as_array().unwrap_or_else(|| panic!("{v}")) {
            b.extend_from_slice(s.as_str().unwrap().as_bytes());
            b.push(0);
        }
        b
    };

    let (out, children) = cli_sees_live(
        &["--format", "json", "--env", "--uid", "4341", "--count", "1"],
        || shell(4341),
    );
    let (ev, keys) = json_line(&out);
    let whole = environ(&ev, children);
    assert!(whole.len() > 200, "{whole:?}");
    assert_eq!(strings(&ev["env"]), whole, "{ev}");
    assert_eq!(ev["env_size"], whole.len(), "{ev}");
    assert_eq!(ev["env_truncated"], false, "{ev}");
    assert!(ev.get("env_base64").is_none() && ev.get("exe_path").is_none());
    assert_eq!(keys[keys.len() - 3..], ["env", "env_size", "env_truncated"]);

    let (out, children) = cli_sees_live(
        &[
            "--format",
            "json",
            "--env",
            "--env-budget",
            "64",
            "--uid",
            "4344",
            "--count",
            "1",
        ],
        || shell(4344),
    );
    let (ev, _) = json_line(&out);
    let environ = environ(&ev, children);
    assert_eq!(environ, whole);
    assert_eq!(ev["env_truncated"], true, "{ev}");
    assert_eq!(ev["env_size"], environ.len(), "{ev}: the true size");
    let mut got = strings(&ev["env"]);
    if !environ[..64].ends_with(b"\0") {
        got.pop(); // the cut last string has no NUL of its own
    }
    assert_eq!(got, environ[..64], "{ev}: the first 64 bytes");
    assert_eq!(ev["truncated"], false, "{ev}: argv has a budget of its own");

    let (out, children) = cli_sees_live(
        &["--format", "json", "--uid", "4345", "--count", "1"],
        || shell(4345),
    );
    end(children);
    let (ev, keys) = json_line(&out);
    for k in ["env", "env_size", "env_truncated", "exe_path", "cwd"] {
        assert!(ev.get(k).is_none(), "{k} not asked for: {ev}");
    }
    assert_eq!(keys.last().unwrap(), "exe_upper_layer", "{ev}");
}

/// Under a pseudo-terminal (script(1) gives its command one) the text line
/// names it as tty(1) does; JSON likewise.
#[test]
fn tty_under_a_terminal_in_text_and_json() {
    if default_tracer().is_none() {
        return;
    }
    for format in ["text", "json"] {
        let m = marker("cli-tty");
        // The shell prints its terminal and pid, then becomes the marked
        // exec as uid 4342 (setpriv execs it in the same process).
        let script = format!(
            "tty; echo $$; exec setpriv --reuid=4342 --regid=4342 --clear-groups /bin/true {m}"
        );
        let mut runs = Vec::new();
        let (out, children) = cli_sees_live(
            &["--format", format, "--uid", "4342", "--count", "1"],
            || {
                Command::new("script")
                    .args(["-qec", &script, "/dev/null"])
                    .env("SHELL", "/bin/sh")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("script(1) from util-linux")
            },
        );
        for c in children {
            let o = c.wait_with_output().unwrap();
            let text = String::from_utf8(o.stdout).unwrap();
            let mut lines = text.lines().map(str::trim);
            if let (Some(tty), Some(pid)) = (lines.next(), lines.next()) {
                runs.push((tty.to_string(), pid.to_string()));
            }
        }
        assert!(out.status.success(), "{out:?}");
        let line = String::from_utf8(out.stdout).unwrap();
        let (pid, tty) = if format == "json" {
            let ev: Value = serde_json::from_str(line.trim_end()).unwrap();
            (
                ev["pid"].to_string(),
                ev["tty"].as_str().unwrap().to_string(),
            )
        } else {
            let pid = line[1..line.find(',').unwrap()].to_string();
            let fields = &line[..line.find(']').unwrap()];
            let tty = fields
                .split(", ")
                .find_map(|f| f.strip_prefix("tty="))
                .unwrap_or_else(|| panic!("no tty= in {line}"))
                .to_string();
            assert!(line.ends_with(&format!("] /bin/true {m}\n")), "{line}");
            (pid, tty)
        };
        let (dev, _) = runs
            .iter()
            .find(|(_, p)| *p == pid)
            .unwrap_or_else(|| panic!("no run with pid {pid}: {runs:?}: {line}"));
        assert!(dev.starts_with("/dev/pts/"), "{dev}");
        assert_eq!(format!("/dev/{tty}"), *dev, "{format}: {line}");
    }
}

/// A working directory whose name holds a newline and a whole fake event
/// line: the text line stays one line, the name quoted as $'...'.
#[test]
fn text_cwd_cannot_forge_a_line() {
    if default_tracer().is_none() {
        return;
    }
    let top = tempdir("cli-forge-cwd");
    let fake = "x\n[1, comm=\"init\", uid=0, gid=0, filename=/bin/sh] sh";
    // Its slashes make it three directories deep: the whole is the cwd.
    let dir = top.join(fake);
    fs::create_dir_all(&dir).unwrap();
    let m = marker("cli-forge-cwd");
    let (out, children) = cli_sees_live(&["--paths", "--uid", "4343", "--count", "1"], || {
        let mut cmd = command_as("/bin/true", None, Some((4343, 4343)));
        cmd.arg(&m).current_dir(&dir);
        spawn(&mut cmd)
    });
    for mut c in children {
        c.wait().unwrap();
    }
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let canon = fs::canonicalize(&top).unwrap();
    let want = format!(
        r#", cwd=$'{}/x\n[1, comm="init", uid=0, gid=0, filename=/bin/sh] sh'] /bin/true {m}"#,
        canon.display()
    );
    assert!(stdout.trim_end().ends_with(&want), "{stdout}\nwant: {want}");
    fs::remove_dir_all(top).unwrap();
}

/// Bad values of the new options are usage errors (status 2), from clap
/// or from the library's range checks.
#[test]
fn new_options_usage_errors() {
    for (bad, says) in [
        (&["--env", "--env-budget", "x"][..], "--env-budget"),
        (&["--env", "--env-budget=-1"], "--env-budget"),
        (&["--env-budget", "100"], "--env"),
        (&["--paths=1"], "--paths"),
        (&["--env", "--env-budget", "0"], "env_budget must be"),
        (&["--env", "--env-budget", "4000000"], "env_budget must be"),
    ] {
        let out = Command::new(CLI).args(bad).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{bad:?}: {stderr}"
        );
    }
    let help = Command::new(CLI).arg("--help").output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    for s in [
        "--paths",
        "--env",
        "--env-budget <BYTES>",
        "exe_upper_layer",
        "cwd=",
    ] {
        assert!(help.contains(s), "{s} not in --help: {help}");
    }
}
