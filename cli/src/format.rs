//! Text and JSON lines for events. Nothing an exec'd program puts in its
//! argv, filename or name can break a line or forge another one: control
//! bytes are escaped in text, and JSON is always valid UTF-8 with exact bytes
//! kept for values that are not.
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;

use exectrace::Event;

/// `[pid, comm="sh", uid=1002, gid=1003, filename=/usr/bin/which] which ps`
pub fn text(ev: &Event) -> String {
    let mut s = String::with_capacity(128);
    let _ = write!(
        s,
        "[{}, comm=\"{}\", uid={}, gid={}, filename=",
        ev.pid,
        escape(ev.comm.as_bytes(), true),
        ev.uid,
        ev.gid
    );
    s.push_str(&shell_quote(ev.filename.as_bytes()));
    if let Some(i) = &ev.interpreter {
        s.push_str(", interpreter=");
        s.push_str(&shell_quote(i.as_bytes()));
    }
    if ev.failed() {
        let _ = write!(s, ", error={}", errno_name(-ev.result));
    }
    if ev.truncated {
        let _ = write!(s, ", truncated argc={} bytes={}", ev.argc, ev.argv_size);
    }
    s.push(']');
    for a in &ev.argv {
        s.push(' ');
        s.push_str(&shell_quote(a.as_bytes()));
    }
    s
}

/// Quote for a POSIX shell: bare when safe, '...' when printable, $'...'
/// (with \xNN escapes) when it holds control or non-UTF-8 bytes.
pub fn shell_quote(b: &[u8]) -> String {
    let safe = |c: u8| c.is_ascii_alphanumeric() || b"@%+=:,./-_".contains(&c);
    if !b.is_empty() && b.iter().all(|&c| safe(c)) {
        return String::from_utf8_lossy(b).into_owned();
    }
    let plain =
        std::str::from_utf8(b).is_ok_and(|s| !s.chars().any(|c| c.is_control() || is_invisible(c)));
    if plain {
        return format!("'{}'", String::from_utf8_lossy(b).replace('\'', r"'\''"));
    }
    format!("$'{}'", escape(b, false))
}

/// Backslash escapes for control bytes, backslash, quotes and invalid UTF-8.
fn escape(b: &[u8], double_quoted: bool) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str(r"\\"),
                '\'' if !double_quoted => out.push_str(r"\'"),
                '"' if double_quoted => out.push_str("\\\""),
                '\n' => out.push_str(r"\n"),
                '\t' => out.push_str(r"\t"),
                '\r' => out.push_str(r"\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for byte in c.encode_utf8(&mut buf).bytes() {
                        let _ = write!(out, "\\x{byte:02x}");
                    }
                }
                c if is_invisible(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// Invisible format and separator characters (bidi overrides, zero-width,
/// line/paragraph separators) that can disguise a line in a terminal.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn errno_name(e: i32) -> String {
    let name = match e {
        libc::ENOENT => "ENOENT",
        libc::EACCES => "EACCES",
        libc::ENOEXEC => "ENOEXEC",
        libc::E2BIG => "E2BIG",
        libc::EPERM => "EPERM",
        libc::ENOTDIR => "ENOTDIR",
        libc::ELOOP => "ELOOP",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EFAULT => "EFAULT",
        libc::ENOMEM => "ENOMEM",
        libc::ETXTBSY => "ETXTBSY",
        libc::EINVAL => "EINVAL",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// One JSON object. Keys of the original Go package first: filename, argv,
/// truncated, pid, uid, gid, comm. A value that is not UTF-8 is written with
/// U+FFFD replacements and its exact bytes as base64 in `<key>_base64`
/// (for argv: `argv_base64`, every argument).
pub fn json(ev: &Event) -> String {
    let mut s = String::with_capacity(256);
    s.push('{');
    json_str_field(&mut s, "filename", &ev.filename);
    s.push_str(",\"argv\":[");
    for (i, a) in ev.argv.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, a.as_bytes());
    }
    s.push(']');
    if ev
        .argv
        .iter()
        .any(|a| std::str::from_utf8(a.as_bytes()).is_err())
    {
        s.push_str(",\"argv_base64\":[");
        for (i, a) in ev.argv.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{}\"", base64(a.as_bytes()));
        }
        s.push(']');
    }
    let _ = write!(
        s,
        ",\"truncated\":{},\"pid\":{},\"uid\":{},\"gid\":{},",
        ev.truncated, ev.pid, ev.uid, ev.gid
    );
    json_str_field(&mut s, "comm", &ev.comm);
    let _ = write!(
        s,
        ",\"tid\":{},\"ppid\":{},\"euid\":{},\"egid\":{},\"cgroup_id\":{},\"pid_ns\":{},\"seq\":{},\"timestamp_ns\":{},\"argc\":{},\"argv_size\":{},\"result\":{}",
        ev.tid, ev.ppid, ev.euid, ev.egid, ev.cgroup_id, ev.pid_ns, ev.seq, ev.timestamp_ns, ev.argc, ev.argv_size, ev.result
    );
    if let Some(i) = &ev.interpreter {
        s.push(',');
        json_str_field(&mut s, "interpreter", i);
    }
    s.push('}');
    s
}

fn json_str_field(s: &mut String, key: &str, v: &OsStr) {
    let _ = write!(s, "\"{key}\":");
    json_str(s, v.as_bytes());
    if std::str::from_utf8(v.as_bytes()).is_err() {
        let _ = write!(s, ",\"{key}_base64\":\"{}\"", base64(v.as_bytes()));
    }
}

fn json_str(s: &mut String, b: &[u8]) {
    s.push('"');
    for c in String::from_utf8_lossy(b).chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &x)| n | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn ev(argv: &[&[u8]]) -> Event {
        Event {
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
            comm: "sh".into(),
            filename: "/usr/bin/which".into(),
            interpreter: None,
            argv: argv
                .iter()
                .map(|a| OsString::from_vec(a.to_vec()))
                .collect(),
            argc: argv.len() as u32,
            argv_size: 0,
            truncated: false,
            result: 0,
            flags: 0,
        }
    }

    #[test]
    fn text_line_like_the_original() {
        assert_eq!(
            text(&ev(&[b"which", b"ps"])),
            "[1188922, comm=\"sh\", uid=1002, gid=1003, filename=/usr/bin/which] which ps"
        );
    }

    #[test]
    fn text_cannot_be_forged() {
        let line = text(&ev(&[
            b"echo",
            b"x\n[1, comm=\"evil\"] rm -rf /",
            b"\x1b[2J",
            b"",
            b"it's",
            b"\xff\xfe",
        ]));
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
        let bidi = text(&ev(&[
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
    fn json_is_valid_and_lossless() {
        let j = json(&ev(&[b"a\"b", b"\xff", b"\n"]));
        let want = concat!(
            r#"{"filename":"/usr/bin/which","argv":["a\"b",""#,
            "\u{fffd}",
            r#"","\n"],"argv_base64":["YSJi","/w==","Cg=="],"#,
            r#""truncated":false,"pid":1188922,"uid":1002,"gid":1003,"comm":"sh","#
        );
        assert!(j.starts_with(want), "{j}");
        assert!(!j.contains('\n'));
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
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
