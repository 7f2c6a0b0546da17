//! Text and JSON lines for events. Nothing an exec'd program puts in its
//! argv, filename or name can break a line or forge another one: control
//! bytes are escaped in text, and JSON is always valid UTF-8 with exact bytes
//! kept for values that are not.
//!
//! Lines are written into the caller's buffer straight from the record the
//! tracer lends ([`exectrace::EventRef`]): no allocation per event, but for
//! the library's joined paths (with `--paths`) and a pseudo-terminal's name
//! (`pts/N`, built from the kernel's `ptsN`).
use std::borrow::Cow;
use std::io::{self, Write as _};

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as BASE64;
use exectrace::{flags, EventRef};
use nix::errno::Errno;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// The arguments of an event, walked as often as a line needs.
pub trait Args<'a>: Copy {
    fn each(self) -> impl Iterator<Item = &'a [u8]>;
}

impl<'a> Args<'a> for EventRef<'a> {
    fn each(self) -> impl Iterator<Item = &'a [u8]> {
        self.args()
    }
}

impl<'a> Args<'a> for &'a [&'a [u8]] {
    fn each(self) -> impl Iterator<Item = &'a [u8]> {
        self.iter().copied()
    }
}

/// The environment strings of an event, walked as its arguments are.
#[derive(Clone, Copy)]
pub struct EnvOf<'a>(&'a EventRef<'a>);

impl<'a> Args<'a> for EnvOf<'a> {
    fn each(self) -> impl Iterator<Item = &'a [u8]> {
        self.0.env()
    }
}

/// What a line shows of one exec (see [`exectrace::Event`] for each field):
/// the original's fields, then the richer ones.
#[derive(Clone)]
pub struct Exec<'a, A, E = A> {
    pub seq: u64,
    pub timestamp_ns: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub cgroup_id: u64,
    pub pid_ns: u32,
    pub comm: &'a [u8],
    pub filename: &'a [u8],
    pub interpreter: Option<&'a [u8]>,
    pub argv: A,
    pub argc: u32,
    pub argv_size: u32,
    pub truncated: bool,
    pub result: i32,
    /// None: a line of the original's fields alone.
    pub rich: Option<Rich<'a, E>>,
}

/// The fields beyond the original's.
#[derive(Clone)]
pub struct Rich<'a, E> {
    /// None: unknown (a kernel without audit support).
    pub loginuid: Option<u32>,
    pub sessionid: Option<u32>,
    /// Empty without a controlling terminal.
    pub tty: Cow<'a, [u8]>,
    pub exe_inode: u64,
    pub exe_dev: u64,
    pub exe_memfd: bool,
    /// None: unknown on this kernel.
    pub exe_upper_layer: Option<bool>,
    /// None: the event has no paths (not asked, or a failed exec).
    pub paths: Option<Paths<'a>>,
    /// None: the event has no environment (not asked, or a failed exec).
    pub env: Option<Env<E>>,
}

/// The resolved file that runs and working directory (`--paths`).
#[derive(Clone)]
pub struct Paths<'a> {
    pub exe: Resolved<'a>,
    pub cwd: Resolved<'a>,
}

/// One resolved path.
#[derive(Clone)]
pub struct Resolved<'a> {
    /// None when cut, or when it cannot be named from the process's root.
    pub path: Option<Cow<'a, [u8]>>,
    /// Beyond the walk's bounds.
    pub cut: bool,
    /// The file or directory had been removed.
    pub deleted: bool,
}

/// The environment (`--env`).
#[derive(Clone, Copy)]
pub struct Env<E> {
    pub strings: E,
    /// True size in bytes, NULs included.
    pub size: u32,
    /// Cut at the budget (or unreadable).
    pub truncated: bool,
}

impl<'a> Exec<'a, EventRef<'a>, EnvOf<'a>> {
    /// The line's view of a record borrowed from the ring.
    pub fn of(e: &'a EventRef<'a>) -> Self {
        let has = |flag: u32| e.flags() & flag != 0;
        Exec {
            seq: e.seq(),
            timestamp_ns: e.timestamp_ns(),
            pid: e.pid(),
            tid: e.tid(),
            ppid: e.ppid(),
            uid: e.uid(),
            gid: e.gid(),
            euid: e.euid(),
            egid: e.egid(),
            cgroup_id: e.cgroup_id(),
            pid_ns: e.pid_ns(),
            comm: e.comm(),
            filename: e.filename(),
            interpreter: e.interpreter(),
            argv: *e,
            argc: e.argc(),
            argv_size: e.argv_size(),
            truncated: e.truncated(),
            result: e.result(),
            rich: Some(Rich {
                loginuid: e.loginuid(),
                sessionid: e.sessionid(),
                tty: e.tty(),
                exe_inode: e.exe_inode(),
                exe_dev: e.exe_dev(),
                exe_memfd: e.exe_memfd(),
                exe_upper_layer: e.exe_upper_layer(),
                paths: has(flags::HAS_PATHS).then(|| Paths {
                    exe: Resolved {
                        path: e.exe_path().map(Cow::Owned),
                        cut: e.exe_path_cut(),
                        deleted: e.exe_deleted(),
                    },
                    cwd: Resolved {
                        path: e.cwd().map(Cow::Owned),
                        cut: e.cwd_cut(),
                        deleted: e.cwd_deleted(),
                    },
                }),
                env: has(flags::HAS_ENV).then_some(Env {
                    strings: EnvOf(e),
                    size: e.env_size(),
                    truncated: e.env_truncated(),
                }),
            }),
        }
    }
}

/// `[pid, comm="sh", uid=1002, gid=1003, filename=/usr/bin/which] which ps`
/// (no newline); with `cwd=` after the filename (and interpreter) when the
/// event has paths, and `tty=` when the process has a terminal.
pub fn text<'a, E>(out: &mut Vec<u8>, ev: &Exec<'a, impl Args<'a>, E>) {
    // Writes into a Vec cannot fail.
    let _ = write!(out, "[{}, comm=\"", ev.pid);
    escape(out, ev.comm, true);
    let _ = write!(out, "\", uid={}, gid={}, filename=", ev.uid, ev.gid);
    shell_quote(out, ev.filename);
    if let Some(i) = ev.interpreter {
        out.extend_from_slice(b", interpreter=");
        shell_quote(out, i);
    }
    if let Some(r) = &ev.rich {
        if let Some(p) = &r.paths {
            out.extend_from_slice(b", cwd=");
            resolved_text(out, &p.cwd);
        }
        if !r.tty.is_empty() {
            out.extend_from_slice(b", tty=");
            shell_quote(out, &r.tty);
        }
    }
    if ev.result != 0 {
        out.extend_from_slice(b", error=");
        errno_name(out, -ev.result);
    }
    if ev.truncated {
        let _ = write!(out, ", truncated argc={} bytes={}", ev.argc, ev.argv_size);
    }
    out.push(b']');
    for a in ev.argv.each() {
        out.push(b' ');
        shell_quote(out, a);
    }
}

/// A path quoted for a shell, `(cut)` or `(unresolved)` when there is no
/// whole path (a path is absolute, or quoted: neither can look like these),
/// and ` (deleted)` after it when removed.
fn resolved_text(out: &mut Vec<u8>, r: &Resolved<'_>) {
    match &r.path {
        Some(p) => shell_quote(out, p),
        None if r.cut => out.extend_from_slice(b"(cut)"),
        None => out.extend_from_slice(b"(unresolved)"),
    }
    if r.deleted {
        out.extend_from_slice(b" (deleted)");
    }
}

/// Quote for a POSIX shell: bare when safe, '...' when printable, $'...'
/// (with \xNN escapes) when it holds control or non-UTF-8 bytes.
pub fn shell_quote(out: &mut Vec<u8>, b: &[u8]) {
    let safe = |c: u8| c.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&c);
    if !b.is_empty() && b.iter().all(|&c| safe(c)) {
        out.extend_from_slice(b);
        return;
    }
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(|c| c.is_control() || is_invisible(c)) => {
            out.push(b'\'');
            for (i, part) in s.split('\'').enumerate() {
                if i > 0 {
                    out.extend_from_slice(br"'\''");
                }
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'\'');
        }
        _ => {
            out.extend_from_slice(b"$'");
            escape(out, b, false);
            out.push(b'\'');
        }
    }
}

/// Backslash escapes for control bytes, backslash, quotes and invalid UTF-8.
fn escape(out: &mut Vec<u8>, b: &[u8], double_quoted: bool) {
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.extend_from_slice(br"\\"),
                '\'' if !double_quoted => out.extend_from_slice(br"\'"),
                '"' if double_quoted => out.extend_from_slice(b"\\\""),
                '\n' => out.extend_from_slice(br"\n"),
                '\t' => out.extend_from_slice(br"\t"),
                '\r' => out.extend_from_slice(br"\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{byte:02x}");
                    }
                }
                c if is_invisible(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

/// Invisible format and separator characters (bidi overrides, zero-width,
/// line/paragraph separators) that can disguise a line in a terminal.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `ENOENT` for 2 (nix's names of the C library's errno values), `errno N`
/// for a number without a name.
fn errno_name(out: &mut Vec<u8>, e: i32) {
    let _ = match Errno::from_raw(e) {
        Errno::UnknownErrno => write!(out, "errno {e}"),
        known => write!(out, "{known:?}"),
    };
}

/// One JSON object (no newline). Keys of the original Go package first:
/// filename, argv, truncated, pid, uid, gid, comm. A value that is not UTF-8
/// is written with U+FFFD replacements and its exact bytes as base64 in
/// `<key>_base64` (for argv: `argv_base64`, every argument; env likewise).
///
/// The richer keys come after all of the original's: `exe_path`,
/// `exe_path_cut`, `exe_deleted`, `cwd`, `cwd_cut`, `cwd_deleted` when the
/// event has paths; `loginuid`, `sessionid`, `tty`, `exe_inode`,
/// `exe_dev`, `exe_memfd`, `exe_upper_layer`; `env`, `env_size`,
/// `env_truncated` when it has the environment. Keys not asked for are left
/// out; null is what this kernel cannot tell (loginuid, sessionid,
/// exe_upper_layer), or a path not given whole (cut, or not nameable from
/// the root).
pub fn json<'a>(out: &mut Vec<u8>, ev: &Exec<'a, impl Args<'a>, impl Args<'a>>) {
    let mut ser = serde_json::Serializer::with_formatter(out, Escapes);
    // Only the writer could fail, and a Vec does not.
    let _ = Json(ev).serialize(&mut ser);
}

struct Json<'e, E>(&'e E);

impl<'a, A: Args<'a>, E: Args<'a>> Serialize for Json<'_, Exec<'a, A, E>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ev = self.0;
        let mut m = s.serialize_map(None)?;
        bytes_entry(&mut m, "filename", ev.filename)?;
        strings_entry(&mut m, "argv", ev.argv)?;
        m.serialize_entry("truncated", &ev.truncated)?;
        m.serialize_entry("pid", &ev.pid)?;
        m.serialize_entry("uid", &ev.uid)?;
        m.serialize_entry("gid", &ev.gid)?;
        bytes_entry(&mut m, "comm", ev.comm)?;
        m.serialize_entry("tid", &ev.tid)?;
        m.serialize_entry("ppid", &ev.ppid)?;
        m.serialize_entry("euid", &ev.euid)?;
        m.serialize_entry("egid", &ev.egid)?;
        m.serialize_entry("cgroup_id", &ev.cgroup_id)?;
        m.serialize_entry("pid_ns", &ev.pid_ns)?;
        m.serialize_entry("seq", &ev.seq)?;
        m.serialize_entry("timestamp_ns", &ev.timestamp_ns)?;
        m.serialize_entry("argc", &ev.argc)?;
        m.serialize_entry("argv_size", &ev.argv_size)?;
        m.serialize_entry("result", &ev.result)?;
        if let Some(i) = ev.interpreter {
            bytes_entry(&mut m, "interpreter", i)?;
        }
        if let Some(r) = &ev.rich {
            rich_entries(&mut m, r)?;
        }
        m.end()
    }
}

fn rich_entries<'a, M: SerializeMap>(
    m: &mut M,
    r: &Rich<'a, impl Args<'a>>,
) -> Result<(), M::Error> {
    if let Some(p) = &r.paths {
        resolved_entries(m, "exe_path", &p.exe, "exe_path_cut", "exe_deleted")?;
        resolved_entries(m, "cwd", &p.cwd, "cwd_cut", "cwd_deleted")?;
    }
    m.serialize_entry("loginuid", &r.loginuid)?;
    m.serialize_entry("sessionid", &r.sessionid)?;
    bytes_entry(m, "tty", &r.tty)?;
    m.serialize_entry("exe_inode", &r.exe_inode)?;
    m.serialize_entry("exe_dev", &r.exe_dev)?;
    m.serialize_entry("exe_memfd", &r.exe_memfd)?;
    m.serialize_entry("exe_upper_layer", &r.exe_upper_layer)?;
    if let Some(env) = &r.env {
        strings_entry(m, "env", env.strings)?;
        m.serialize_entry("env_size", &env.size)?;
        m.serialize_entry("env_truncated", &env.truncated)?;
    }
    Ok(())
}

/// `"key":"/path"` (with `key_base64` when not UTF-8) or `"key":null`,
/// then its two flags.
fn resolved_entries<M: SerializeMap>(
    m: &mut M,
    key: &str,
    r: &Resolved<'_>,
    cut: &str,
    deleted: &str,
) -> Result<(), M::Error> {
    match &r.path {
        Some(p) => bytes_entry(m, key, p)?,
        None => m.serialize_entry(key, &())?,
    }
    m.serialize_entry(cut, &r.cut)?;
    m.serialize_entry(deleted, &r.deleted)
}

/// `"key":[...]`, and `"key_base64":[...]` (every string) after it when
/// any is not UTF-8.
fn strings_entry<'a, M: SerializeMap>(
    m: &mut M,
    key: &str,
    v: impl Args<'a>,
) -> Result<(), M::Error> {
    m.serialize_entry(key, &Strings(v, Lossy))?;
    if v.each().any(|a| std::str::from_utf8(a).is_err()) {
        m.serialize_key(&format_args!("{key}_base64"))?;
        m.serialize_value(&Strings(v, Base64))?;
    }
    Ok(())
}

/// `"key":"value"`, and `"key_base64":"..."` after it when not UTF-8.
fn bytes_entry<M: SerializeMap>(m: &mut M, key: &str, v: &[u8]) -> Result<(), M::Error> {
    m.serialize_entry(key, &Lossy.of(v))?;
    if std::str::from_utf8(v).is_err() {
        m.serialize_key(&format_args!("{key}_base64"))?;
        m.serialize_value(&Base64.of(v))?;
    }
    Ok(())
}

/// How bytes become a JSON string.
#[derive(Clone, Copy)]
enum Encoding {
    /// UTF-8, invalid sequences replaced by U+FFFD.
    Lossy,
    /// Standard base64 with padding (RFC 4648).
    Base64,
}
use Encoding::{Base64, Lossy};

impl Encoding {
    fn of(self, b: &[u8]) -> EncodedBytes<'_> {
        EncodedBytes(b, self)
    }
}

struct EncodedBytes<'b>(&'b [u8], Encoding);

impl Serialize for EncodedBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            // from_utf8 first: its ASCII fast path beats from_utf8_lossy's chunking.
            Lossy => match std::str::from_utf8(self.0) {
                Ok(v) => s.serialize_str(v),
                Err(_) => s.serialize_str(&String::from_utf8_lossy(self.0)),
            },
            Base64 => s.collect_str(&Base64Display::new(self.0, &BASE64)),
        }
    }
}

/// The arguments as an array of strings.
struct Strings<A>(A, Encoding);

impl<'a, A: Args<'a>> Serialize for Strings<A> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for a in self.0.each() {
            seq.serialize_element(&self.1.of(a))?;
        }
        seq.end()
    }
}

/// serde_json's compact output with the escapes the command has always
/// written: `\u0008` and `\u000c` (not `\b`, `\f`), and DEL, U+2028 and
/// U+2029 escaped too (they break some JSON-in-JavaScript readers and
/// terminals).
struct Escapes;

impl Formatter for Escapes {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // A byte scan: DEL is 0x7f, U+2028/U+2029 are E2 80 A8/A9 in UTF-8
        // (a search by char decodes every char: a fifth of the CLI's CPU).
        let b = fragment.as_bytes();
        let mut done = 0;
        let mut i = 0;
        while let Some(j) = b[i..].iter().position(|&c| c == 0x7f || c == 0xe2) {
            let at = i + j;
            let (escape, len): (&[u8], _) = match &b[at..] {
                [0x7f, ..] => (b"\\u007f", 1),
                [0xe2, 0x80, 0xa8, ..] => (b"\\u2028", 3),
                [0xe2, 0x80, 0xa9, ..] => (b"\\u2029", 3),
                _ => {
                    i = at + 1;
                    continue;
                }
            };
            w.write_all(&b[done..at])?;
            w.write_all(escape)?;
            done = at + len;
            i = done;
        }
        w.write_all(&b[done..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        match escape {
            CharEscape::Backspace => w.write_all(b"\\u0008"),
            CharEscape::FormFeed => w.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(w, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<'a>(argv: &'a [&'a [u8]]) -> Exec<'a, &'a [&'a [u8]]> {
        Exec {
            seq: 1,
            timestamp_ns: 2,
            pid: 1188922,
            tid: 1188922,
            ppid: 1,
            uid: 1002,
            gid: 1003,
            euid: 1002,
            egid: 1003,
            cgroup_id: 3,
            pid_ns: 4,
            comm: b"sh",
            filename: b"/usr/bin/which",
            interpreter: None,
            argv,
            argc: argv.len() as u32,
            argv_size: 0,
            truncated: false,
            result: 0,
            rich: None,
        }
    }

    /// The richer fields as a kernel without audit support or overlay BTF
    /// gives them, without a terminal, paths or environment.
    fn unknowns<'a>() -> Rich<'a, &'a [&'a [u8]]> {
        Rich {
            loginuid: None,
            sessionid: None,
            tty: Cow::Borrowed(b""),
            exe_inode: 5,
            exe_dev: 6,
            exe_memfd: false,
            exe_upper_layer: None,
            paths: None,
            env: None,
        }
    }

    fn resolved(path: Option<&[u8]>, cut: bool, deleted: bool) -> Resolved<'_> {
        Resolved {
            path: path.map(Cow::Borrowed),
            cut,
            deleted,
        }
    }

    fn line(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).expect("lines are UTF-8")
    }

    fn text_of(e: &Exec<'_, &[&[u8]]>) -> String {
        line(|o| text(o, e))
    }

    /// `s` holds `part` (the message shows all of `s`).
    #[track_caller]
    fn contains(s: &str, part: &str) {
        assert!(s.contains(part), "{part:?} is not in {s}");
    }

    #[track_caller]
    fn ends_with(s: &str, end: &str) {
        assert!(s.ends_with(end), "{s} does not end with {end:?}");
    }

    fn env_of<'a>(
        strings: &'a [&'a [u8]],
        size: u32,
        truncated: bool,
    ) -> Option<Env<&'a [&'a [u8]]>> {
        Some(Env {
            strings,
            size,
            truncated,
        })
    }

    fn json_of(e: &Exec<'_, &[&[u8]]>) -> String {
        line(|o| json(o, e))
    }

    #[test]
    fn text_line_like_the_original() {
        assert_eq!(
            text_of(&ev(&[b"which", b"ps"])),
            "[1188922, comm=\"sh\", uid=1002, gid=1003, filename=/usr/bin/which] which ps"
        );
    }

    #[test]
    fn text_cannot_be_forged() {
        let line = text_of(&ev(&[
            b"echo",
            b"x\n[1, comm=\"evil\"] rm -rf /",
            b"\x1b[2J",
            b"",
            b"it's",
            b"\xff\xfe",
        ]));
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
        let bidi = text_of(&ev(&[
            "\u{202e}txt.exe".as_bytes(),
            "a\u{2028}b".as_bytes(),
        ]));
        ends_with(&bidi, r"$'\u202etxt.exe' $'a\u2028b'");
        ends_with(
            &line,
            r#"echo $'x\n[1, comm="evil"] rm -rf /' $'\x1b[2J' '' 'it'\''s' $'\xff\xfe'"#,
        );
    }

    #[test]
    fn text_names_the_error_and_the_cut() {
        let mut e = ev(&[b"a"]);
        e.interpreter = Some(b"/bin/sh");
        e.result = -libc::ENOENT;
        e.truncated = true;
        e.argc = 7;
        e.argv_size = 99;
        e.comm = b"a\"b\\";
        assert_eq!(
            text_of(&e),
            "[1188922, comm=\"a\\\"b\\\\\", uid=1002, gid=1003, filename=/usr/bin/which, \
             interpreter=/bin/sh, error=ENOENT, truncated argc=7 bytes=99] a"
        );
    }

    #[test]
    fn errno_names_of_the_c_library() {
        let name = |e| line(|o| errno_name(o, e));
        for (e, n) in [
            (libc::ENOENT, "ENOENT"),
            (libc::EACCES, "EACCES"),
            (libc::ENOEXEC, "ENOEXEC"),
            (libc::E2BIG, "E2BIG"),
            (libc::EPERM, "EPERM"),
            (libc::ENOTDIR, "ENOTDIR"),
            (libc::ELOOP, "ELOOP"),
            (libc::ENAMETOOLONG, "ENAMETOOLONG"),
            (libc::EFAULT, "EFAULT"),
            (libc::ENOMEM, "ENOMEM"),
            (libc::ETXTBSY, "ETXTBSY"),
            (libc::EINVAL, "EINVAL"),
            (libc::EAGAIN, "EAGAIN"),
            (libc::EISDIR, "EISDIR"),
        ] {
            assert_eq!(name(e), n);
        }
        assert_eq!(name(4000), "errno 4000");
        assert_eq!(name(-3), "errno -3");
    }

    #[test]
    fn json_is_valid_and_lossless() {
        let j = json_of(&ev(&[b"a\"b", b"\xff", b"\n"]));
        let want = concat!(
            r#"{"filename":"/usr/bin/which","argv":["a\"b",""#,
            "\u{fffd}",
            r#"","\n"],"argv_base64":["YSJi","/w==","Cg=="],"#,
            r#""truncated":false,"pid":1188922,"uid":1002,"gid":1003,"comm":"sh","#
        );
        assert!(j.starts_with(want), "{j}");
        assert!(!j.contains('\n'));
        serde_json::from_str::<serde_json::Value>(&j).expect("valid JSON");
    }

    #[test]
    fn json_line_whole() {
        let mut e = ev(&[b"which", b"ps"]);
        e.filename = b"/usr/bin/\xffwhich";
        e.comm = b"s\xfeh";
        e.interpreter = Some(b"/bin/sh");
        e.result = -2;
        assert_eq!(
            json_of(&e),
            concat!(
                r#"{"filename":"/usr/bin/"#,
                "\u{fffd}",
                r#"which","filename_base64":"L3Vzci9iaW4v/3doaWNo","argv":["which","ps"],"#,
                r#""truncated":false,"pid":1188922,"uid":1002,"gid":1003,"comm":"s"#,
                "\u{fffd}",
                r#"h","comm_base64":"c/5o","tid":1188922,"ppid":1,"euid":1002,"egid":1003,"#,
                r#""cgroup_id":3,"pid_ns":4,"seq":1,"timestamp_ns":2,"argc":2,"argv_size":0,"#,
                r#""result":-2,"interpreter":"/bin/sh"}"#
            )
        );
    }

    #[test]
    fn json_escapes_as_before() {
        // Every control byte as \u00XX except \n \r \t; DEL, U+2028 and
        // U+2029 too; '/' and other characters as they are.
        let arg = "\u{8}\u{c}\u{1}\u{1f}\u{7f}\n\r\t\"\\/\u{2028}\u{2029}é\u{202e}";
        let j = json_of(&ev(&[arg.as_bytes()]));
        contains(
            &j,
            concat!(
                r#""argv":["\u0008\u000c\u0001\u001f\u007f\n\r\t\"\\/\u2028\u2029"#,
                "é\u{202e}\"],"
            ),
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(
                line(|out| {
                    let _ = Base64
                        .of(i.as_bytes())
                        .serialize(&mut serde_json::Serializer::new(out));
                }),
                format!("\"{o}\"")
            );
        }
    }

    #[test]
    fn json_richer_keys_after_the_originals_unknown_as_null() {
        let mut e = ev(&[b"which", b"ps"]);
        e.interpreter = Some(b"/bin/sh");
        let original = json_of(&e);
        e.rich = Some(unknowns());
        let j = json_of(&e);
        assert_eq!(
            j,
            format!(
                "{},{}}}",
                original.strip_suffix('}').unwrap(),
                concat!(
                    r#""loginuid":null,"sessionid":null,"tty":"","exe_inode":5,"exe_dev":6,"#,
                    r#""exe_memfd":false,"exe_upper_layer":null"#
                )
            )
        );
        let mut r = unknowns();
        r.loginuid = Some(u32::MAX);
        r.sessionid = Some(7);
        r.tty = Cow::Borrowed(b"pts/3");
        r.exe_memfd = true;
        r.exe_upper_layer = Some(false);
        e.rich = Some(r);
        ends_with(
            &json_of(&e),
            concat!(
                r#""interpreter":"/bin/sh","loginuid":4294967295,"sessionid":7,"tty":"pts/3","#,
                r#""exe_inode":5,"exe_dev":6,"exe_memfd":true,"exe_upper_layer":false}"#
            ),
        );
    }

    #[test]
    fn json_paths_and_env_when_the_event_has_them() {
        let env: &[&[u8]] = &[b"A=1", b"B=\xff", b"C=cu"];
        let mut e = ev(&[b"x"]);
        let mut r = unknowns();
        r.paths = Some(Paths {
            exe: resolved(Some(b"/tmp/a\n\xffb"), false, true),
            cwd: resolved(None, true, false),
        });
        r.env = env_of(env, 99, true);
        e.rich = Some(r);
        let j = json_of(&e);
        contains(
            &j,
            concat!(
                r#""result":0,"exe_path":"/tmp/a\n"#,
                "\u{fffd}",
                r#"b","exe_path_base64":"L3RtcC9hCv9i","exe_path_cut":false,"exe_deleted":true,"#,
                r#""cwd":null,"cwd_cut":true,"cwd_deleted":false,"loginuid":null,"#
            ),
        );
        ends_with(
            &j,
            concat!(
                r#""exe_upper_layer":null,"env":["A=1","B="#,
                "\u{fffd}",
                r#"","C=cu"],"env_base64":["QT0x","Qj3/","Qz1jdQ=="],"env_size":99,"#,
                r#""env_truncated":true}"#
            ),
        );
        let v: serde_json::Value = serde_json::from_str(&j).expect("valid JSON");
        assert_eq!(v["cwd"], serde_json::Value::Null);

        // Unresolvable (a memfd): null, not cut; UTF-8 paths have no base64.
        let mut r = unknowns();
        r.paths = Some(Paths {
            exe: resolved(None, false, false),
            cwd: resolved(Some(b"/"), false, false),
        });
        r.env = env_of(&[], 0, false);
        e.rich = Some(r);
        let j = json_of(&e);
        contains(
            &j,
            concat!(
                r#""exe_path":null,"exe_path_cut":false,"exe_deleted":false,"#,
                r#""cwd":"/","cwd_cut":false,"cwd_deleted":false,"#
            ),
        );
        ends_with(&j, r#""env":[],"env_size":0,"env_truncated":false}"#);
        assert!(!j.contains("_base64"), "{j}");
    }

    #[test]
    fn text_is_unchanged_without_paths_or_terminal() {
        let mut e = ev(&[b"which", b"ps"]);
        let original = text_of(&e);
        e.rich = Some(unknowns());
        assert_eq!(text_of(&e), original);
        let mut r = unknowns();
        r.env = env_of(&[b"A=1"], 4, false);
        e.rich = Some(r);
        assert_eq!(text_of(&e), original, "the environment is JSON's alone");
    }

    #[test]
    fn text_adds_cwd_and_tty() {
        let mut e = ev(&[b"a"]);
        e.interpreter = Some(b"/bin/sh");
        e.result = -libc::ENOENT;
        let mut r = unknowns();
        r.tty = Cow::Borrowed(b"pts/3");
        r.paths = Some(Paths {
            exe: resolved(Some(b"/usr/bin/dash"), false, false),
            cwd: resolved(Some(b"/home/op"), false, false),
        });
        e.rich = Some(r);
        assert_eq!(
            text_of(&e),
            "[1188922, comm=\"sh\", uid=1002, gid=1003, filename=/usr/bin/which, \
             interpreter=/bin/sh, cwd=/home/op, tty=pts/3, error=ENOENT] a"
        );
        let cwd = |c: Resolved<'static>| {
            let mut e = ev(&[b"a"]);
            let mut r = unknowns();
            r.paths = Some(Paths {
                exe: resolved(None, false, false),
                cwd: c,
            });
            e.rich = Some(r);
            text_of(&e)
        };
        let tail = |c| {
            let l = cwd(c);
            l[l.find(", cwd=").unwrap()..].to_string()
        };
        assert_eq!(tail(resolved(None, true, false)), ", cwd=(cut)] a");
        assert_eq!(tail(resolved(None, false, false)), ", cwd=(unresolved)] a");
        assert_eq!(
            tail(resolved(Some(b"/tmp/gone"), false, true)),
            ", cwd=/tmp/gone (deleted)] a"
        );
        assert_eq!(
            tail(resolved(Some(b"/a b"), false, false)),
            ", cwd='/a b'] a"
        );
        // A path cannot look like the markers, nor forge a line.
        assert_eq!(
            tail(resolved(Some(b"(cut)"), false, false)),
            ", cwd='(cut)'] a"
        );
        let forged = cwd(resolved(
            Some(b"/tmp/x\n[1, comm=\"init\", uid=0, gid=0, filename=/bin/sh] sh"),
            false,
            false,
        ));
        assert!(!forged.contains(['\n', '\r']), "{forged}");
        ends_with(
            &forged,
            r#", cwd=$'/tmp/x\n[1, comm="init", uid=0, gid=0, filename=/bin/sh] sh'] a"#,
        );
        let mut e = ev(&[b"a"]);
        let mut r = unknowns();
        r.tty = Cow::Borrowed(b"\x1b[2J");
        e.rich = Some(r);
        contains(&text_of(&e), r", tty=$'\x1b[2J']");
    }
}
