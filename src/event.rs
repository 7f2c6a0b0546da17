//! Events, and the decoder that turns ring-buffer records into them.
//!
//! The record layout is `struct exectrace_record` of bpf/exectrace.h, taken
//! from the skeleton's BTF-generated types. A record is untrusted input as far
//! as this decoder is concerned: every length is checked against the bytes
//! actually received.
use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::skel::types::{exectrace_record as RawRecord, exectrace_record_flags as RecFlag};

const HEADER_LEN: usize = std::mem::size_of::<RawRecord>();

/// One exec, owned. Strings are raw bytes (`OsString`): nothing is lost to
/// UTF-8 conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Per-tracer sequence number; a gap means events were dropped (and counted).
    pub seq: u64,
    /// When the exec happened, CLOCK_BOOTTIME nanoseconds.
    pub timestamp_ns: u64,
    /// Process id after exec (initial pid namespace): also right when a
    /// non-main thread called exec.
    pub pid: u32,
    /// Id of the thread that called exec.
    pub tid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Real user id (initial user namespace).
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective user id after exec (set-user-ID programs differ from `uid`).
    pub euid: u32,
    /// Effective group id after exec.
    pub egid: u32,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Inode of the process's pid namespace.
    pub pid_ns: u32,
    /// Name of the process that called exec, before the exec (at most 15 bytes).
    pub comm: OsString,
    /// Path as passed to exec (the kernel's copy; `/dev/fd/N` for fexecve).
    pub filename: OsString,
    /// Interpreter, for scripts and binfmt_misc programs.
    pub interpreter: Option<OsString>,
    /// argv as the new program receives it (for a script: interpreter, script, args).
    pub argv: Vec<OsString>,
    /// True argument count, also when argv is truncated.
    pub argc: u32,
    /// True argv size in bytes (NULs included), also when argv is truncated.
    pub argv_size: u32,
    /// Something was cut: argv (beyond the budget), filename or interpreter.
    pub truncated: bool,
    /// 0 for a successful exec; -errno for a failed attempt.
    pub result: i32,
    /// Raw record flags (`EXECTRACE_REC_*` of bpf/exectrace.h).
    pub flags: u32,
    /// Audit login uid (who logged in, `/proc/PID/loginuid`): 4294967295
    /// when unset. `None` when the kernel has no audit support
    /// (`CONFIG_AUDIT`; flag [`flags::AUDIT_UNKNOWN`]).
    pub loginuid: Option<u32>,
    /// Audit session id (`/proc/PID/sessionid`): 4294967295 when unset.
    /// `None` as for `loginuid`.
    pub sessionid: Option<u32>,
    /// Controlling terminal, named as under /dev (`pts/3`, `tty1`,
    /// `ttyS0`); empty when the process has none. The kernel calls a
    /// pseudo-terminal `pts3`: see [`EventRef::tty`].
    pub tty: OsString,
    /// Inode number of the file that runs, as `stat(2)`'s `st_ino`. The
    /// file that runs is what `/proc/PID/exe` names: for a script, its
    /// interpreter. 0 for a failed exec.
    pub exe_inode: u64,
    /// Device of the file that runs, as `stat(2)`'s `st_dev` (glibc's
    /// `makedev(major, minor)`). 0 for a failed exec.
    pub exe_dev: u64,
    /// The program runs from a memfd (`memfd_create`: fileless execution).
    pub exe_memfd: bool,
    /// The program file is on overlayfs and in its upper layer: added or
    /// changed in a container after it started from its image. `Some(false)`
    /// for any other file; `None` for a file on overlayfs whose layer this
    /// kernel cannot tell (no BTF of the overlay module when the tracer
    /// loaded: kernels before 5.11, or without CONFIG_DEBUG_INFO_BTF_MODULES;
    /// flag [`flags::EXE_UPPER_UNKNOWN`]).
    pub exe_upper_layer: Option<bool>,
    /// The new process's environment (`NAME=value` strings as in
    /// /proc/PID/environ), with [`crate::TracerOpts::include_env`]; empty
    /// otherwise, and for failed execs.
    pub env: Vec<OsString>,
    /// True environment size in bytes (NULs included), also when `env` is
    /// truncated; 0 when not asked.
    pub env_size: u32,
    /// `env` is only a prefix, cut at the budget (the last string may be
    /// cut short), or could not be read at all.
    pub env_truncated: bool,
    /// With [`crate::TracerOpts::paths`]: the absolute path of the file
    /// that runs, symlinks resolved, as /proc/PID/exe names it (for a
    /// script, its interpreter). It is relative to the exec'ing task's root
    /// directory (a chroot's, a container's) in its mount namespace. `None`
    /// when not asked, when cut ([`Event::exe_path_cut`]) and when it
    /// cannot be named from that root (a memfd, a file outside the root;
    /// flag [`flags::EXE_PATH_UNRESOLVED`]): never a wrong or partial path.
    /// A deleted file has the path it had ([`Event::exe_deleted`]).
    pub exe_path: Option<OsString>,
    /// With `paths`: the working directory at exec, as /proc/PID/cwd names
    /// it, relative to the same root; `None` as for `exe_path`.
    pub cwd: Option<OsString>,
    /// With `paths`: `exe_path` was deeper or longer than the walk's bounds
    /// (64 components, 4096 bytes); only the components nearest the file
    /// were captured ([`EventRef::exe_path_components`]).
    pub exe_path_cut: bool,
    /// With `paths`: `cwd` was beyond the walk's bounds.
    pub cwd_cut: bool,
    /// With `paths`: the file that runs had been deleted (unlinked).
    pub exe_deleted: bool,
    /// With `paths`: the working directory had been removed.
    pub cwd_deleted: bool,
}

impl Event {
    /// The exec failed (only reported with `include_failed`).
    pub fn failed(&self) -> bool {
        self.result != 0
    }
}

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

/// A record borrowed from the ring buffer: valid until the next read.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    hdr: RawRecord,
    exe_path: &'a [u8],
    cwd: &'a [u8],
    filename: &'a [u8],
    interpreter: Option<&'a [u8]>,
    argv: &'a [u8],
    env: &'a [u8],
}

/// Flags that make an event "truncated".
pub(crate) const TRUNCATION: u32 = RecFlag::EXECTRACE_REC_ARGV_TRUNCATED.0
    | RecFlag::EXECTRACE_REC_FILENAME_TRUNCATED.0
    | RecFlag::EXECTRACE_REC_INTERP_TRUNCATED.0
    | RecFlag::EXECTRACE_REC_ARGV_FAULT.0;

impl<'a> EventRef<'a> {
    /// Decode one record. Never panics, never reads outside `bytes`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() < HEADER_LEN {
            return Err(DecodeError("record shorter than its header"));
        }
        // SAFETY: RawRecord is plain old data (integers and byte arrays) and
        // `bytes` holds at least size_of::<RawRecord>() bytes; read_unaligned
        // copes with any alignment.
        let hdr: RawRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        let body = &bytes[HEADER_LEN..];
        let lens = [
            hdr.exe_path_len as usize,
            hdr.cwd_len as usize,
            hdr.filename_len as usize,
            hdr.interp_len as usize,
            hdr.argv_len as usize,
            hdr.env_len as usize,
        ];
        if lens.iter().sum::<usize>() != body.len() {
            return Err(DecodeError("record lengths do not add up to its size"));
        }
        let has_interp = hdr.flags & RecFlag::EXECTRACE_REC_HAS_INTERP.0 != 0;
        if !has_interp && hdr.interp_len != 0 {
            return Err(DecodeError(
                "interpreter bytes without the interpreter flag",
            ));
        }
        let mut rest = body;
        let [exe_path, cwd, filename, interp, argv, env] = lens.map(|n| {
            let (part, tail) = rest.split_at(n);
            rest = tail;
            part
        });
        Ok(EventRef {
            hdr,
            exe_path,
            cwd,
            filename,
            interpreter: has_interp.then_some(interp),
            argv,
            env,
        })
    }

    /// See [`Event::seq`].
    pub fn seq(&self) -> u64 {
        self.hdr.seq
    }
    /// See [`Event::timestamp_ns`].
    pub fn timestamp_ns(&self) -> u64 {
        self.hdr.ts_boot_ns
    }
    /// See [`Event::pid`].
    pub fn pid(&self) -> u32 {
        self.hdr.pid
    }
    /// See [`Event::tid`].
    pub fn tid(&self) -> u32 {
        self.hdr.tid
    }
    /// See [`Event::ppid`].
    pub fn ppid(&self) -> u32 {
        self.hdr.ppid
    }
    /// See [`Event::uid`].
    pub fn uid(&self) -> u32 {
        self.hdr.uid
    }
    /// See [`Event::gid`].
    pub fn gid(&self) -> u32 {
        self.hdr.gid
    }
    /// See [`Event::euid`].
    pub fn euid(&self) -> u32 {
        self.hdr.euid
    }
    /// See [`Event::egid`].
    pub fn egid(&self) -> u32 {
        self.hdr.egid
    }
    /// See [`Event::cgroup_id`].
    pub fn cgroup_id(&self) -> u64 {
        self.hdr.cgroup_id
    }
    /// See [`Event::pid_ns`].
    pub fn pid_ns(&self) -> u32 {
        self.hdr.pid_ns
    }
    /// See [`Event::result`].
    pub fn result(&self) -> i32 {
        self.hdr.err
    }
    /// See [`Event::flags`].
    pub fn flags(&self) -> u32 {
        self.hdr.flags
    }
    /// See [`Event::argc`].
    pub fn argc(&self) -> u32 {
        self.hdr.argc
    }
    /// See [`Event::argv_size`].
    pub fn argv_size(&self) -> u32 {
        self.hdr.argv_size
    }
    /// See [`Event::loginuid`].
    pub fn loginuid(&self) -> Option<u32> {
        self.audit_known().then_some(self.hdr.loginuid)
    }
    /// See [`Event::sessionid`].
    pub fn sessionid(&self) -> Option<u32> {
        self.audit_known().then_some(self.hdr.sessionid)
    }
    fn audit_known(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_AUDIT_UNKNOWN.0 == 0
    }
    /// The controlling terminal as the kernel names it (`pts3`), without
    /// NUL padding; empty when none.
    pub fn tty_kernel_name(&self) -> &[u8] {
        // SAFETY: [i8; N] and [u8; N] have the same layout.
        let raw: &[u8] = unsafe { &*(&self.hdr.tty[..] as *const [i8] as *const [u8]) };
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        &raw[..end]
    }
    /// See [`Event::tty`]: the kernel's name with a pseudo-terminal's
    /// `ptsN` written `pts/N`, its path under /dev (what `ps` and `tty(1)`
    /// show). Allocates only for those. Other kernel names are already
    /// their /dev name.
    pub fn tty(&self) -> Cow<'_, [u8]> {
        tty_dev_name(self.tty_kernel_name())
    }
    /// See [`Event::exe_inode`].
    pub fn exe_inode(&self) -> u64 {
        self.hdr.exe_ino
    }
    /// See [`Event::exe_dev`]: the kernel's dev_t (MAJOR << 20 | MINOR)
    /// re-encoded as user space's.
    pub fn exe_dev(&self) -> u64 {
        let dev = self.hdr.exe_dev as u64;
        makedev(dev >> 20, dev & 0xf_ffff)
    }
    /// See [`Event::exe_memfd`].
    pub fn exe_memfd(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_EXE_MEMFD.0 != 0
    }
    /// See [`Event::exe_upper_layer`].
    pub fn exe_upper_layer(&self) -> Option<bool> {
        let f = self.hdr.flags;
        (f & RecFlag::EXECTRACE_REC_EXE_UPPER_UNKNOWN.0 == 0)
            .then_some(f & RecFlag::EXECTRACE_REC_EXE_UPPER_LAYER.0 != 0)
    }
    /// The captured environment block: NUL-terminated strings back to back;
    /// when truncated, the last string may lack its NUL. Empty unless asked.
    pub fn env_block(&self) -> &'a [u8] {
        self.env
    }
    /// See [`Event::env`].
    pub fn env(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        split_args(self.env)
    }
    /// See [`Event::env_size`].
    pub fn env_size(&self) -> u32 {
        self.hdr.env_size
    }
    /// The components of `exe_path` as captured, the file's name first,
    /// up to the root (or to the walk's bound when cut). Empty when not
    /// asked or unresolved.
    pub fn exe_path_components(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        split_args(self.exe_path)
    }
    /// The components of `cwd` as captured, innermost first.
    pub fn cwd_components(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        split_args(self.cwd)
    }
    /// See [`Event::exe_path`].
    pub fn exe_path(&self) -> Option<Vec<u8>> {
        self.resolved(
            self.exe_path,
            RecFlag::EXECTRACE_REC_EXE_PATH_CUT.0 | RecFlag::EXECTRACE_REC_EXE_PATH_UNRESOLVED.0,
        )
    }
    /// See [`Event::cwd`].
    pub fn cwd(&self) -> Option<Vec<u8>> {
        self.resolved(
            self.cwd,
            RecFlag::EXECTRACE_REC_CWD_CUT.0 | RecFlag::EXECTRACE_REC_CWD_UNRESOLVED.0,
        )
    }
    fn resolved(&self, components: &[u8], not_whole: u32) -> Option<Vec<u8>> {
        let flags = self.hdr.flags;
        if flags & RecFlag::EXECTRACE_REC_HAS_PATHS.0 == 0 || flags & not_whole != 0 {
            return None;
        }
        Some(join_path(components))
    }
    /// See [`Event::exe_path_cut`].
    pub fn exe_path_cut(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_EXE_PATH_CUT.0 != 0
    }
    /// See [`Event::cwd_cut`].
    pub fn cwd_cut(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_CWD_CUT.0 != 0
    }
    /// See [`Event::exe_deleted`].
    pub fn exe_deleted(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_EXE_DELETED.0 != 0
    }
    /// See [`Event::cwd_deleted`].
    pub fn cwd_deleted(&self) -> bool {
        self.hdr.flags & RecFlag::EXECTRACE_REC_CWD_DELETED.0 != 0
    }
    /// See [`Event::env_truncated`].
    pub fn env_truncated(&self) -> bool {
        self.hdr.flags
            & (RecFlag::EXECTRACE_REC_ENV_TRUNCATED.0 | RecFlag::EXECTRACE_REC_ENV_FAULT.0)
            != 0
    }
    /// See [`Event::truncated`].
    pub fn truncated(&self) -> bool {
        self.hdr.flags & TRUNCATION != 0
    }
    /// The comm bytes, without NUL padding.
    pub fn comm(&self) -> &[u8] {
        // SAFETY: [i8; 16] and [u8; 16] have the same layout.
        let raw: &[u8; 16] = unsafe { &*(&self.hdr.comm as *const [i8; 16] as *const [u8; 16]) };
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        &raw[..end]
    }
    /// See [`Event::filename`].
    pub fn filename(&self) -> &'a [u8] {
        self.filename
    }
    /// See [`Event::interpreter`].
    pub fn interpreter(&self) -> Option<&'a [u8]> {
        self.interpreter
    }
    /// The captured argv block: NUL-terminated strings back to back; when
    /// truncated, the last string may lack its NUL.
    pub fn argv_block(&self) -> &'a [u8] {
        self.argv
    }
    /// The captured arguments, in order (empty ones kept).
    pub fn args(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        split_args(self.argv)
    }

    /// An owned copy.
    pub fn to_event(&self) -> Event {
        let os = |b: &[u8]| OsStr::from_bytes(b).to_os_string();
        Event {
            seq: self.seq(),
            timestamp_ns: self.timestamp_ns(),
            pid: self.pid(),
            tid: self.tid(),
            ppid: self.ppid(),
            uid: self.uid(),
            gid: self.gid(),
            euid: self.euid(),
            egid: self.egid(),
            cgroup_id: self.cgroup_id(),
            pid_ns: self.pid_ns(),
            comm: os(self.comm()),
            filename: os(self.filename),
            interpreter: self.interpreter.map(os),
            argv: self.args().map(os).collect(),
            argc: self.argc(),
            argv_size: self.argv_size(),
            truncated: self.truncated(),
            result: self.result(),
            flags: self.flags(),
            loginuid: self.loginuid(),
            sessionid: self.sessionid(),
            tty: os(&self.tty()),
            exe_inode: self.exe_inode(),
            exe_dev: self.exe_dev(),
            exe_memfd: self.exe_memfd(),
            exe_upper_layer: self.exe_upper_layer(),
            env: self.env().map(os).collect(),
            env_size: self.env_size(),
            env_truncated: self.env_truncated(),
            exe_path: self.exe_path().map(OsString::from_vec),
            cwd: self.cwd().map(OsString::from_vec),
            exe_path_cut: self.exe_path_cut(),
            cwd_cut: self.cwd_cut(),
            exe_deleted: self.exe_deleted(),
            cwd_deleted: self.cwd_deleted(),
        }
    }
}

/// An absolute path from its components, innermost first, each
/// NUL-terminated (the program's walk_path): "/" for none (the root).
fn join_path(components: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = split_args(components).collect();
    parts.reverse();
    let mut p = Vec::with_capacity(components.len() + 1);
    for c in parts {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    if p.is_empty() {
        p.push(b'/');
    }
    p
}

/// glibc's `makedev`: the `st_dev` of a device number.
fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// A kernel tty name as its path under /dev: the kernel names the
/// devpts terminal /dev/pts/N `ptsN` (driver "pts", index N).
fn tty_dev_name(kernel: &[u8]) -> Cow<'_, [u8]> {
    match kernel.strip_prefix(b"pts") {
        Some(n) if !n.is_empty() && n.iter().all(u8::is_ascii_digit) => {
            let mut v = b"pts/".to_vec();
            v.extend_from_slice(n);
            Cow::Owned(v)
        }
        _ => Cow::Borrowed(kernel),
    }
}

/// Split an argv block at NULs; a trailing piece without NUL (cut by the
/// budget) is the last argument.
fn split_args(mut block: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if block.is_empty() {
            return None;
        }
        match block.iter().position(|&b| b == 0) {
            Some(i) => {
                let arg = &block[..i];
                block = &block[i + 1..];
                Some(arg)
            }
            None => {
                let arg = block;
                block = &[];
                Some(arg)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hdr: RawRecord, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; HEADER_LEN];
        // SAFETY: writes HEADER_LEN bytes into a buffer of that size.
        unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast(), hdr) };
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn decodes_filename_interp_and_args() {
        let hdr = RawRecord {
            filename_len: 5,
            interp_len: 7,
            argv_len: 9,
            flags: RecFlag::EXECTRACE_REC_HAS_INTERP.0,
            ..Default::default()
        };
        let bytes = record(hdr, b"/x.sh/bin/sha\0\0b c\0\xff\0");
        let ev = EventRef::decode(&bytes).unwrap().to_event();
        assert_eq!(ev.filename, "/x.sh");
        assert_eq!(ev.interpreter.as_deref(), Some(OsStr::new("/bin/sh")));
        let args: Vec<&[u8]> = ev.argv.iter().map(|a| a.as_bytes()).collect();
        assert_eq!(args, vec![&b"a"[..], b"", b"b c", b"\xff"]);
    }

    #[test]
    fn cut_last_argument_is_kept() {
        let hdr = RawRecord {
            argv_len: 5,
            flags: RecFlag::EXECTRACE_REC_ARGV_TRUNCATED.0,
            ..Default::default()
        };
        let bytes = record(hdr, b"ab\0cd");
        let ev = EventRef::decode(&bytes).unwrap();
        assert!(ev.truncated());
        assert_eq!(ev.args().collect::<Vec<_>>(), vec![&b"ab"[..], b"cd"]);
    }

    /// xorshift64*: enough randomness for input shapes, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn within(outer: &[u8], inner: &[u8]) -> bool {
        let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
        inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
    }

    /// Truncated, oversized and random records: never a panic, and every
    /// slice returned lies within the input. Fixed seed, so repeatable;
    /// EXECTRACE_FUZZ_ITERS runs it longer.
    #[test]
    fn decoder_survives_random_records() {
        let iters: u64 = std::env::var("EXECTRACE_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200_000);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut buf = vec![0u8; 70_000];
        let mut ok = 0u64;
        for _ in 0..iters {
            let len = match rng.below(4) {
                0 => rng.below(HEADER_LEN as u64 + 1) as usize,
                1 => HEADER_LEN + rng.below(64) as usize,
                2 => HEADER_LEN + rng.below(buf.len() as u64 - HEADER_LEN as u64) as usize,
                _ => rng.below(buf.len() as u64) as usize,
            };
            for b in buf[..len].iter_mut() {
                *b = rng.next() as u8;
            }
            if len >= HEADER_LEN && rng.below(2) == 0 {
                // Lengths that (nearly) add up, so decoding gets far.
                let body = (len - HEADER_LEN) as u64;
                let f = rng.below(body.min(u16::MAX as u64) + 1);
                let i = rng.below((body - f).min(u16::MAX as u64) + 1);
                // SAFETY: the buffer holds a whole header.
                let mut hdr: RawRecord = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
                hdr.filename_len = f as u16;
                hdr.interp_len = i as u16;
                hdr.exe_path_len = 0;
                hdr.cwd_len = 0;
                hdr.env_len = 0;
                hdr.argv_len = (body - f - i + rng.below(3)).saturating_sub(1) as u32;
                if rng.below(2) == 0 {
                    hdr.flags |= RecFlag::EXECTRACE_REC_HAS_INTERP.0;
                }
                // SAFETY: as above.
                unsafe { std::ptr::write_unaligned(buf.as_mut_ptr().cast(), hdr) };
            }
            let input = &buf[..len];
            if let Ok(ev) = EventRef::decode(input) {
                ok += 1;
                assert!(within(input, ev.filename()));
                assert!(within(input, ev.argv_block()));
                assert!(ev.interpreter().is_none_or(|i| within(input, i)));
                assert!(ev.args().all(|a| within(input, a)));
                assert!(within(input, ev.env_block()));
                assert!(ev.exe_path_components().all(|a| within(input, a)));
                assert!(ev.cwd_components().all(|a| within(input, a)));
                assert!(ev.comm().len() <= 16);
                assert_eq!(ev.to_event().filename.len(), ev.filename().len());
            }
        }
        assert!(
            ok > iters / 20,
            "the generator reaches the success path ({ok}/{iters})"
        );
    }

    #[test]
    fn tty_names_and_devices_are_those_of_user_space() {
        assert_eq!(&*tty_dev_name(b"pts3"), b"pts/3");
        assert_eq!(&*tty_dev_name(b"pts12"), b"pts/12");
        assert_eq!(&*tty_dev_name(b"tty1"), b"tty1");
        assert_eq!(&*tty_dev_name(b"ttyS0"), b"ttyS0");
        assert_eq!(&*tty_dev_name(b"pts"), b"pts");
        assert_eq!(&*tty_dev_name(b""), b"");
        // st_dev of /dev/sda1 (8:1), and of a large minor (0:300) and major (300:5).
        assert_eq!(makedev(8, 1), 0x801);
        assert_eq!(makedev(0, 300), 0x10002c);
        assert_eq!(makedev(300, 5), 0x12c05);
        let hdr = RawRecord {
            exe_dev: (259 << 20) | 70_000,
            flags: RecFlag::EXECTRACE_REC_AUDIT_UNKNOWN.0,
            ..Default::default()
        };
        let ev = EventRef::decode(&record(hdr, b"")).unwrap().to_event();
        assert_eq!(ev.exe_dev, makedev(259, 70_000));
        assert_eq!((ev.loginuid, ev.sessionid), (None, None));
    }

    #[test]
    fn paths_are_joined_from_their_components_and_only_when_whole() {
        assert_eq!(join_path(b"true\0bin\0usr\0"), b"/usr/bin/true");
        assert_eq!(join_path(b"a\nb\0"), b"/a\nb");
        assert_eq!(join_path(b""), b"/");
        let body = b"true\0bin\0tmp\0";
        let hdr = RawRecord {
            exe_path_len: 9,
            cwd_len: 4,
            flags: RecFlag::EXECTRACE_REC_HAS_PATHS.0,
            ..Default::default()
        };
        let ev = EventRef::decode(&record(hdr, body)).unwrap().to_event();
        assert_eq!(ev.exe_path.as_deref(), Some(OsStr::new("/bin/true")));
        assert_eq!(ev.cwd.as_deref(), Some(OsStr::new("/tmp")));
        let hdr = RawRecord {
            flags: RecFlag::EXECTRACE_REC_HAS_PATHS.0 | RecFlag::EXECTRACE_REC_EXE_PATH_CUT.0,
            ..hdr
        };
        let bytes = record(hdr, body);
        let ev = EventRef::decode(&bytes).unwrap();
        assert_eq!(ev.exe_path(), None, "a cut path is not given as a path");
        assert_eq!(
            ev.exe_path_components().collect::<Vec<_>>(),
            [&b"true"[..], b"bin"]
        );
        let ev = EventRef::decode(&record(RawRecord::default(), b""))
            .unwrap()
            .to_event();
        assert_eq!((ev.exe_path, ev.cwd), (None, None), "not asked");
    }

    #[test]
    fn rejects_inconsistent_lengths() {
        let hdr = RawRecord {
            argv_len: 50,
            ..Default::default()
        };
        assert!(EventRef::decode(&record(hdr, b"short")).is_err());
        assert!(EventRef::decode(&[0u8; 10]).is_err());
        let hdr = RawRecord {
            interp_len: 1,
            ..Default::default()
        };
        assert!(EventRef::decode(&record(hdr, b"x")).is_err());
    }
}

/// Record flags of bpf/exectrace.h (`Event::flags`), from the program's BTF.
pub mod flags {
    use crate::skel::types::exectrace_record_flags as F;
    /// argv was cut at the budget.
    pub const ARGV_TRUNCATED: u32 = F::EXECTRACE_REC_ARGV_TRUNCATED.0;
    /// The filename was cut.
    pub const FILENAME_TRUNCATED: u32 = F::EXECTRACE_REC_FILENAME_TRUNCATED.0;
    /// The interpreter path was cut.
    pub const INTERP_TRUNCATED: u32 = F::EXECTRACE_REC_INTERP_TRUNCATED.0;
    /// The exec failed; `result` is -errno.
    pub const FAILED: u32 = F::EXECTRACE_REC_FAILED.0;
    /// The program is a script or binfmt_misc handler; `interpreter` is set.
    pub const HAS_INTERP: u32 = F::EXECTRACE_REC_HAS_INTERP.0;
    /// argv memory could not be read.
    pub const ARGV_FAULT: u32 = F::EXECTRACE_REC_ARGV_FAULT.0;
    /// The pre-exec name was missed (tracer attached mid-exec): comm is the new name.
    pub const COMM_AFTER_EXEC: u32 = F::EXECTRACE_REC_COMM_AFTER_EXEC.0;
    /// Failed exec: argc and argv_size are lower bounds.
    pub const ARGC_LOWER_BOUND: u32 = F::EXECTRACE_REC_ARGC_LOWER_BOUND.0;
    /// The kernel has no audit support: loginuid and sessionid are unknown.
    pub const AUDIT_UNKNOWN: u32 = F::EXECTRACE_REC_AUDIT_UNKNOWN.0;
    /// The program runs from a memfd.
    pub const EXE_MEMFD: u32 = F::EXECTRACE_REC_EXE_MEMFD.0;
    /// The tty's name was longer than the record keeps: `tty` is its start.
    pub const TTY_TRUNCATED: u32 = F::EXECTRACE_REC_TTY_TRUNCATED.0;
    /// The environment was asked for (`env`, `env_size` are set).
    pub const HAS_ENV: u32 = F::EXECTRACE_REC_HAS_ENV.0;
    /// The environment was cut at its budget.
    pub const ENV_TRUNCATED: u32 = F::EXECTRACE_REC_ENV_TRUNCATED.0;
    /// The environment's memory could not be read.
    pub const ENV_FAULT: u32 = F::EXECTRACE_REC_ENV_FAULT.0;
    /// The program file is in an overlayfs upper layer.
    pub const EXE_UPPER_LAYER: u32 = F::EXECTRACE_REC_EXE_UPPER_LAYER.0;
    /// The program file is on overlayfs; its layer is unknown on this kernel.
    pub const EXE_UPPER_UNKNOWN: u32 = F::EXECTRACE_REC_EXE_UPPER_UNKNOWN.0;
    /// The paths were asked for.
    pub const HAS_PATHS: u32 = F::EXECTRACE_REC_HAS_PATHS.0;
    /// exe_path is beyond the walk's bounds.
    pub const EXE_PATH_CUT: u32 = F::EXECTRACE_REC_EXE_PATH_CUT.0;
    /// exe_path cannot be named from the task's root (memfd, outside a chroot, read fault).
    pub const EXE_PATH_UNRESOLVED: u32 = F::EXECTRACE_REC_EXE_PATH_UNRESOLVED.0;
    /// The file that runs had been deleted.
    pub const EXE_DELETED: u32 = F::EXECTRACE_REC_EXE_DELETED.0;
    /// cwd is beyond the walk's bounds.
    pub const CWD_CUT: u32 = F::EXECTRACE_REC_CWD_CUT.0;
    /// cwd cannot be named from the task's root.
    pub const CWD_UNRESOLVED: u32 = F::EXECTRACE_REC_CWD_UNRESOLVED.0;
    /// The working directory had been removed.
    pub const CWD_DELETED: u32 = F::EXECTRACE_REC_CWD_DELETED.0;
}
