//! Command-line arguments (clap), and the man page and shell completions
//! generated from them.
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use clap_complete::Shell;
use exectrace::{TracerOpts, DEFAULT_ARGV_BUDGET, DEFAULT_ENV_BUDGET, DEFAULT_RING_SIZE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// [PID, comm=NAME, uid=N, gid=N, filename=PATH] ARGV..., quoted for a shell
    Text,
    /// One JSON object per line (NDJSON)
    Json,
}

const MORE: &str = "\
Text lines quote arguments for a shell and escape control bytes, so no \
argument can start a line of its own. They add cwd= with --paths ((cut) or \
(unresolved) when no whole path can be given, \" (deleted)\" after a removed \
directory) and tty= when the process has a terminal.

JSON lines use the keys filename, argv, truncated, pid, uid, gid, comm, then \
tid, ppid, euid, egid, cgroup_id, pid_ns, seq, timestamp_ns, argc, \
argv_size, result, interpreter (scripts only), then exe_path, exe_path_cut, \
exe_deleted, cwd, cwd_cut, cwd_deleted (with --paths), loginuid, sessionid, \
tty, exe_inode, exe_dev, exe_memfd, exe_upper_layer, and env, env_size, \
env_truncated (with --env). A key left out was not asked for (or the event \
has no such data: a failed exec has no paths or environment); null is a \
value this kernel cannot tell (loginuid and sessionid without audit \
support, exe_upper_layer of an overlayfs file without the overlay's BTF), \
or a path that is cut (exe_path_cut, cwd_cut true) or cannot be named from \
the process's root (a memfd): never a wrong or partial path. loginuid and \
sessionid are 4294967295 when unset; tty is \"\" without a terminal. A value \
that is not UTF-8 is also given exactly as base64 in <key>_base64 (for argv \
and env: argv_base64, env_base64, every string).

Exit status: 0 after SIGINT, SIGTERM, --count or --duration (or when stdout \
closes); 1 when the tracer cannot start or fails; 2 for a usage error.";

/// Print one line per exec on this host.
///
/// Needs root (or CAP_BPF and CAP_PERFMON). SIGINT and SIGTERM stop it
/// cleanly; on exit, the counts of events and drops go to stderr.
#[derive(Debug, Parser)]
#[command(name = "exectrace", version, max_term_width = 100, after_long_help = MORE)]
pub struct Args {
    /// Only this pid namespace and its descendants: its inode number, a path
    /// such as /proc/PID/ns/pid, or pid:[N] as readlink shows it
    #[arg(long, value_name = "NS", value_parser = parse_pid_ns)]
    pub pid_ns: Option<u32>,
    /// Only this real uid
    #[arg(long, value_name = "N")]
    pub uid: Option<u32>,
    /// Only this cgroup v2 directory and its descendants
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<PathBuf>,
    /// Also failed exec attempts (with their error)
    #[arg(long)]
    pub include_failed: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text, alias = "output")]
    pub format: Format,
    /// Exit after N events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Exit after D (e.g. 10s, 500ms, 1.5s, 2m)
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// argv bytes captured per exec
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_ARGV_BUDGET)]
    pub argv_budget: u32,
    /// Also resolve the file that runs and the working directory (JSON
    /// exe_path and cwd, text cwd=), as /proc/PID/exe and /proc/PID/cwd name
    /// them from the process's root
    #[arg(long)]
    pub paths: bool,
    /// Also the new process's environment (JSON env, env_size,
    /// env_truncated); it often holds secrets
    #[arg(long)]
    pub env: bool,
    /// Environment bytes captured per exec, with --env; beyond it env is cut
    /// and env_truncated set
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_ENV_BUDGET, requires = "env")]
    pub env_budget: u32,
    /// Ring buffer size, a power of two
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RING_SIZE)]
    pub ring_size: u32,
    /// Delivery latency bound (0 = every event); lines reach stdout within it
    #[arg(long, value_name = "D", value_parser = humantime::parse_duration, default_value = "4ms")]
    pub wakeup_latency: Duration,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Run {
    Trace(Args),
    /// `--generate-man DIR` (hidden, for `make install`): exectrace.1 into DIR.
    Man(PathBuf),
    /// `--generate-completions SHELL` (hidden): the script on stdout.
    Completions(Shell),
}

const GENERATE_MAN: &str = "generate-man";
const GENERATE_COMPLETIONS: &str = "generate-completions";

/// Parse the command line: the options of [`Args`], or one of the two
/// hidden generators. Those are not in `Args`, so the man page and the
/// completions (made from `Args` alone) do not offer them.
pub fn parse_from<I, T>(argv: I) -> Result<Run, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let generator = |id: &'static str, value: &'static str| {
        clap::Arg::new(id)
            .long(id)
            .value_name(value)
            .hide(true)
            .exclusive(true)
    };
    let m = Args::command()
        .arg(generator(GENERATE_MAN, "DIR").value_parser(clap::value_parser!(PathBuf)))
        .arg(generator(GENERATE_COMPLETIONS, "SHELL").value_parser(clap::value_parser!(Shell)))
        .try_get_matches_from(argv)?;
    if let Some(dir) = m.get_one::<PathBuf>(GENERATE_MAN) {
        return Ok(Run::Man(dir.clone()));
    }
    if let Some(shell) = m.get_one::<Shell>(GENERATE_COMPLETIONS) {
        return Ok(Run::Completions(*shell));
    }
    Args::from_arg_matches(&m).map(Run::Trace)
}

impl Args {
    pub fn tracer_opts(&self) -> TracerOpts {
        TracerOpts {
            pid_ns: self.pid_ns,
            uid: self.uid,
            cgroup: self.cgroup.clone(),
            include_failed: self.include_failed,
            argv_budget: self.argv_budget,
            include_env: self.env,
            env_budget: self.env_budget,
            paths: self.paths,
            ring_size: self.ring_size,
            wakeup_latency: self.wakeup_latency,
            ..TracerOpts::default()
        }
    }
}

/// Exit as clap does on a bad value (message, usage, status 2).
pub fn usage_error(message: impl std::fmt::Display) -> ! {
    Args::command()
        .error(clap::error::ErrorKind::ValueValidation, message)
        .exit()
}

/// A pid namespace: `4026531836`, `pid:[4026531836]`, or a path whose inode
/// is one (`/proc/PID/ns/pid`, or a bind mount of one).
fn parse_pid_ns(s: &str) -> Result<u32, String> {
    let number = s
        .strip_prefix("pid:[")
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) {
        return match number.parse::<u32>() {
            Ok(0) => Err("0 is not a namespace inode".into()),
            Ok(n) => Ok(n),
            Err(_) => Err(format!("{number} is not a namespace inode (too large)")),
        };
    }
    if !s.contains('/') {
        return Err("expected an inode number, pid:[N] or a path such as /proc/PID/ns/pid".into());
    }
    pid_ns_of_path(Path::new(s)).map_err(|e| format!("{s}: {e}"))
}

fn pid_ns_of_path(p: &Path) -> io::Result<u32> {
    let f = File::open(p)?;
    // SAFETY: an ioctl without argument on an fd we own (Linux 4.11+).
    let kind = unsafe { libc::ioctl(f.as_raw_fd(), libc::NS_GET_NSTYPE) };
    if kind < 0 {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::ENOTTY) {
            io::Error::other("not a namespace file")
        } else {
            e
        });
    }
    if kind != libc::CLONE_NEWPID {
        return Err(io::Error::other("not a pid namespace"));
    }
    let ino = f.metadata()?.ino();
    u32::try_from(ino).map_err(|_| io::Error::other(format!("inode {ino} out of range")))
}

/// The man page, exectrace(1).
pub fn write_man(dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join("exectrace.1");
    let mut f = File::create(&path)?;
    clap_mangen::Man::new(Args::command()).render(&mut f)?;
    Ok(path)
}

/// The completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn io::Write) {
    clap_complete::generate(shell, &mut Args::command(), "exectrace", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &[&str]) -> Result<Run, clap::Error> {
        parse_from(std::iter::once("exectrace").chain(v.iter().copied()))
    }

    fn parse(v: &[&str]) -> Result<Args, clap::Error> {
        match run(v)? {
            Run::Trace(a) => Ok(a),
            other => panic!("{v:?}: {other:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn parses_every_flag() {
        let a = parse(&[
            "--pid-ns",
            "4026531836",
            "--uid=1000",
            "--cgroup",
            "/sys/fs/cgroup/x",
            "--include-failed",
            "--format",
            "json",
            "--count",
            "5",
            "--duration",
            "1.5s",
            "--wakeup-latency",
            "0",
            "--argv-budget",
            "100",
            "--ring-size=8192",
            "--paths",
            "--env",
            "--env-budget",
            "200",
        ])
        .unwrap();
        let o = a.tracer_opts();
        assert_eq!(o.pid_ns, Some(4026531836));
        assert_eq!(o.uid, Some(1000));
        assert_eq!(
            o.cgroup.as_deref(),
            Some(std::path::Path::new("/sys/fs/cgroup/x"))
        );
        assert!(o.include_failed);
        assert_eq!(a.format, Format::Json);
        assert_eq!(a.count, Some(5));
        assert_eq!(a.duration, Some(Duration::from_millis(1500)));
        assert_eq!(o.wakeup_latency, Duration::ZERO);
        assert_eq!((o.argv_budget, o.ring_size), (100, 8192));
        assert!(o.paths && o.include_env);
        assert_eq!(o.env_budget, 200);
        let o = parse(&["--env"]).unwrap().tracer_opts();
        assert!(o.include_env && !o.paths);
        assert_eq!(o.env_budget, exectrace::DEFAULT_ENV_BUDGET);
        assert_eq!(parse(&["--output", "json"]).unwrap().format, Format::Json);
    }

    #[test]
    fn defaults_are_the_librarys() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.tracer_opts(), TracerOpts::default());
        assert_eq!(a.format, Format::Text);
        assert_eq!((a.count, a.duration), (None, None));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &["--uid", "x"][..],
            &["--format", "xml"],
            &["--duration", "5 parsecs"],
            &["--duration", "5"],
            &["--bogus"],
            &["--count"],
            &["--pid-ns", "x"],
            &["--pid-ns", "0"],
            &["--pid-ns", "4294967296"],
            &["--pid-ns", "pid:[]"],
            &["--pid-ns", "net:[4026531840]"],
            &["--pid-ns", "/proc/self/ns/net"],
            &["--pid-ns", "/nonexistent/ns/pid"],
            &["--pid-ns", "/etc/hostname"],
            &["--generate-man", "/tmp", "--uid", "1"],
            &["--generate-completions", "tcsh"],
            &["--env", "--env-budget", "x"],
            &["--env", "--env-budget", "-1"],
            &["--env", "--env-budget", "4294967296"],
            &["--env", "--env-budget"],
            &["--env-budget", "100"],
            &["--paths=yes"],
            &["--env=1"],
        ] {
            let e = run(bad).expect_err(&format!("{bad:?} accepted"));
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
    }

    #[test]
    fn pid_ns_as_number_link_text_or_path() {
        let own = std::fs::metadata("/proc/self/ns/pid").unwrap().ino() as u32;
        let link = std::fs::read_link("/proc/self/ns/pid").unwrap();
        for arg in [
            own.to_string(),
            format!("pid:[{own}]"),
            "/proc/self/ns/pid".to_string(),
            format!("/proc/{}/ns/pid", std::process::id()),
        ] {
            assert_eq!(
                parse(&["--pid-ns", &arg]).unwrap().pid_ns,
                Some(own),
                "{arg}"
            );
        }
        assert_eq!(link.to_str(), Some(format!("pid:[{own}]").as_str()));
    }

    #[test]
    fn version_is_the_librarys() {
        let lib = include_str!("../../Cargo.toml");
        let line = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
        assert!(
            lib.lines().any(|l| l == line),
            "root Cargo.toml lacks {line}"
        );
        let e = run(&["--version"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(e.exit_code(), 0);
        assert_eq!(
            e.to_string(),
            format!("exectrace {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn hidden_generators() {
        assert!(matches!(run(&["--generate-man", "/x"]), Ok(Run::Man(d)) if d == Path::new("/x")));
        assert!(matches!(
            run(&["--generate-completions", "zsh"]),
            Ok(Run::Completions(Shell::Zsh))
        ));
    }

    #[test]
    fn man_page_and_completions() {
        let dir = std::env::temp_dir().join(format!("xt-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let man = std::fs::read_to_string(write_man(&dir).unwrap()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(man.starts_with(".ie"), "{man}");
        assert!(man.contains(".TH exectrace 1"), "{man}");
        for flag in [
            "pid\\-ns",
            "wakeup\\-latency",
            "include\\-failed",
            "\\-\\-paths",
            "\\-\\-env",
            "env\\-budget",
            "exe_upper_layer",
            "version",
        ] {
            assert!(man.contains(flag), "{flag} not in the man page");
        }
        assert!(!man.contains("generate"), "hidden flags in the man page");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            write_completions(shell, &mut out);
            let script = String::from_utf8(out).unwrap();
            assert!(
                script.contains("pid-ns") && script.contains("wakeup-latency"),
                "{shell}"
            );
            assert!(!script.contains("generate"), "{shell}: hidden flags");
        }
    }
}
