//! Text and JSON lines for events. Nothing an exec'd program puts in its
//! argv, filename or name can break a line or forge another one: control
//! bytes are escaped in text, and JSON is always valid UTF-8 with exact bytes
//! kept for values that are not.
//!
//! Lines are written into the caller's buffer straight from the record the
//! tracer lends ([`exectrace::EventRef`]): no allocation per event.
use std::io::{self, Write as _};

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD as BASE64;
use exectrace::EventRef;
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

/// What a line shows of one exec (see [`exectrace::Event`] for each field).
#[derive(Clone, Copy)]
pub struct Exec<'a, A> {
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
}

impl<'a> Exec<'a, EventRef<'a>> {
    /// The line's view of a record borrowed from the ring.
    pub fn of(e: &'a EventRef<'a>) -> Self {
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
        }
    }
}

/// `[pid, comm="sh", uid=1002, gid=1003, filename=/usr/bin/which] which ps`
/// (no newline).
pub fn text<'a>(out: &mut Vec<u8>, ev: &Exec<'a, impl Args<'a>>) {
    // Writes into a Vec cannot fail.
    let _ = write!(out, "[{}, comm=\"", ev.pid);
    escape(out, ev.comm, true);
    let _ = write!(out, "\", uid={}, gid={}, filename=", ev.uid, ev.gid);
    shell_quote(out, ev.filename);
    if let Some(i) = ev.interpreter {
        out.extend_from_slice(b", interpreter=");
        shell_quote(out, i);
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
/// `<key>_base64` (for argv: `argv_base64`, every argument).
pub fn json<'a>(out: &mut Vec<u8>, ev: &Exec<'a, impl Args<'a>>) {
    let mut ser = serde_json::Serializer::with_formatter(out, Escapes);
    // Only the writer could fail, and a Vec does not.
    let _ = Json(ev).serialize(&mut ser);
}

struct Json<'e, E>(&'e E);

impl<'a, A: Args<'a>> Serialize for Json<'_, Exec<'a, A>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ev = self.0;
        let mut m = s.serialize_map(None)?;
        bytes_entry(&mut m, "filename", ev.filename)?;
        m.serialize_entry("argv", &Strings(ev.argv, Lossy))?;
        if ev.argv.each().any(|a| std::str::from_utf8(a).is_err()) {
            m.serialize_entry("argv_base64", &Strings(ev.argv, Base64))?;
        }
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
        m.end()
    }
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
            Lossy => s.serialize_str(&String::from_utf8_lossy(self.0)),
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
        let mut rest = fragment;
        while let Some(i) = rest.find(['\u{7f}', '\u{2028}', '\u{2029}']) {
            let c = rest[i..].chars().next().expect("found at i");
            w.write_all(&rest.as_bytes()[..i])?;
            write!(w, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
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
        assert!(bidi.ends_with(r"$'\u202etxt.exe' $'a\u2028b'"), "{bidi}");
        assert!(
            line.ends_with(
                r#"echo $'x\n[1, comm="evil"] rm -rf /' $'\x1b[2J' '' 'it'\''s' $'\xff\xfe'"#
            ),
            "{line}"
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
        assert!(
            j.contains(concat!(
                r#""argv":["\u0008\u000c\u0001\u001f\u007f\n\r\t\"\\/\u2028\u2029"#,
                "é\u{202e}\"],"
            )),
            "{j}"
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
}
