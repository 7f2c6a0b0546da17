//! Operating-system helpers: clocks, memory, the no-op binary, spawning,
//! the bpf_stats sysctl, and BPF program/map introspection.
use std::ffi::{c_char, c_void, CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

pub type Res<T> = Result<T, String>;

fn clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_BOOTTIME, the clock of the events' timestamps.
pub fn boottime_ns() -> u64 {
    clock(libc::CLOCK_BOOTTIME)
}

/// CLOCK_MONOTONIC, the clock of timerfds and of the scheduler tick.
pub fn monotonic_ns() -> u64 {
    clock(libc::CLOCK_MONOTONIC)
}

/// Run the calling thread (and threads it creates later) on `cpu` only.
pub fn pin_to_cpu(cpu: usize) -> Res<()> {
    // SAFETY: zeroed cpu_set_t is empty; CPU_SET within its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: valid set of the size given; 0 = the calling thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) } != 0 {
        return Err(format!("sched_setaffinity(CPU {cpu}): {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// CPU time of the calling thread.
pub fn thread_cpu_ns() -> u64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Memory of this process from /proc/self/status, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rss {
    pub rss_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
    pub shmem_kib: u64,
}

pub fn rss() -> Rss {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| -> u64 {
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Rss { rss_kib: get("VmRSS:"), anon_kib: get("RssAnon:"), file_kib: get("RssFile:"), shmem_kib: get("RssShmem:") }
}

/// A tiny static binary that only calls exit(0), in its own temp directory.
pub struct Noop {
    dir: PathBuf,
    pub path: CString,
}

const NOOP_C: &str = r#"
/* exectrace bench: the cheapest possible program to exec. */
void _start(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov $60, %eax\n\txor %edi, %edi\n\tsyscall");
#elif defined(__aarch64__)
	__asm__ volatile("mov x8, #93\n\tmov x0, #0\n\tsvc #0");
#else
#error "no-op binary: unsupported architecture"
#endif
	for (;;) ;
}
"#;

impl Noop {
    pub fn build() -> Res<Noop> {
        let mut tmpl = *b"/tmp/exectrace-bench.XXXXXX\0";
        // SAFETY: a writable NUL-terminated template.
        let p = unsafe { libc::mkdtemp(tmpl.as_mut_ptr() as *mut c_char) };
        if p.is_null() {
            return Err(format!("mkdtemp: {}", io::Error::last_os_error()));
        }
        let dir = PathBuf::from(std::str::from_utf8(&tmpl[..tmpl.len() - 1]).unwrap());
        let mut noop = Noop { dir: dir.clone(), path: CString::default() };
        use std::os::unix::fs::PermissionsExt;
        // Other uids (the delivery test's) must reach the binary.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
        let src = dir.join("noop.c");
        let bin = dir.join("noop");
        std::fs::write(&src, NOOP_C).map_err(|e| format!("writing {}: {e}", src.display()))?;
        let out = std::process::Command::new("gcc")
            .args(["-static", "-nostdlib", "-O2", "-fno-stack-protector", "-Wl,--build-id=none", "-s", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .map_err(|e| format!("running gcc (needed to build the no-op binary): {e}"))?;
        if !out.status.success() {
            return Err(format!("gcc failed building the no-op binary:\n{}", String::from_utf8_lossy(&out.stderr)));
        }
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", bin.display()))?;
        let path = CString::new(bin.as_os_str().as_encoded_bytes()).unwrap();
        noop.path = path;
        // Smoke test: it runs and exits 0.
        spawn_wait(&noop.path, None).map_err(|e| format!("running the no-op binary: {e}"))?;
        Ok(noop)
    }

    pub fn size(&self) -> u64 {
        std::fs::metadata(Path::new(self.path.to_str().unwrap())).map(|m| m.len()).unwrap_or(0)
    }
}

impl Drop for Noop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// posix_spawn `path` (argv: path, then `marker` if any; empty environment)
/// and wait for it. Returns the child's CPU time (user + system, ns), or
/// Err(errno or description).
pub fn spawn_wait(path: &CStr, marker: Option<&CStr>) -> Result<u64, String> {
    let argv: [*mut c_char; 3] = [
        path.as_ptr() as *mut c_char,
        marker.map_or(std::ptr::null_mut(), |m| m.as_ptr() as *mut c_char),
        std::ptr::null_mut(),
    ];
    let envp: [*mut c_char; 1] = [std::ptr::null_mut()];
    let mut pid: libc::pid_t = 0;
    // SAFETY: NULL-terminated argv/envp of live C strings; default attrs.
    let r = unsafe {
        libc::posix_spawn(&mut pid, path.as_ptr(), std::ptr::null(), std::ptr::null(), argv.as_ptr(), envp.as_ptr())
    };
    if r != 0 {
        return Err(format!("posix_spawn: {}", io::Error::from_raw_os_error(r)));
    }
    let mut status = 0;
    // SAFETY: zeroed out-struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: plain wait4 on our own child, valid out-pointers.
        let w = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if w == pid {
            break;
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waitpid: {e}"));
        }
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!("child ended with status {status:#x}"));
    }
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    Ok(ns(ru.ru_utime) + ns(ru.ru_stime))
}

/// Change the real and effective uid of the calling thread only (the raw
/// syscall, not glibc's process-wide wrapper); the saved uid stays 0 so the
/// thread can change back. Children spawned by this thread get `uid`.
pub fn thread_set_uid(uid: u32) -> Res<()> {
    // SAFETY: raw setresuid(2) on the calling thread.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, 0u32) };
    if r != 0 {
        return Err(format!("setresuid({uid}): {}", io::Error::last_os_error()));
    }
    Ok(())
}

/// A uid no running process has: the delivery test's children use it, and
/// the tracer filters on it, so no other exec can reach that tracer.
pub fn unused_uid() -> u32 {
    let mut used = std::collections::HashSet::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let status = e.path().join("status");
            if let Ok(s) = std::fs::read_to_string(status) {
                if let Some(l) = s.lines().find(|l| l.starts_with("Uid:")) {
                    for v in l.split_whitespace().skip(1) {
                        if let Ok(u) = v.parse::<u32>() {
                            used.insert(u);
                        }
                    }
                }
            }
        }
    }
    let base = 0x4558_0000u32 + (std::process::id() & 0xffff); // "EX" << 16
    (0..1000).map(|i| base + i).find(|u| !used.contains(u)).unwrap_or(base)
}

// ---- kernel.bpf_stats_enabled: set for the run, restored after ----

const STATS_PATH: &CStr = c"/proc/sys/kernel/bpf_stats_enabled";
static STATS_OLD: AtomicU8 = AtomicU8::new(b'0');
static STATS_SET: AtomicBool = AtomicBool::new(false);

fn write_stats_raw(v: u8) -> bool {
    // SAFETY: open/write/close only (async-signal-safe: used from the signal handler).
    unsafe {
        let fd = libc::open(STATS_PATH.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let buf = [v, b'\n'];
        let ok = libc::write(fd, buf.as_ptr() as *const c_void, 2) == 2;
        libc::close(fd);
        ok
    }
}

/// Restore the sysctl if we changed it. Idempotent.
pub fn restore_bpf_stats() {
    if STATS_SET.swap(false, Ordering::SeqCst) {
        write_stats_raw(STATS_OLD.load(Ordering::SeqCst));
    }
}

extern "C" fn on_fatal_signal(sig: libc::c_int) {
    restore_bpf_stats();
    // SAFETY: back to the default action, then die of the same signal.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Enables bpf run-time statistics while alive; restores the old value on
/// drop, on exit paths that call `restore_bpf_stats`, and on SIGINT/SIGTERM/SIGHUP.
pub struct BpfStatsGuard {
    pub old: u8,
}

impl BpfStatsGuard {
    pub fn enable() -> Res<BpfStatsGuard> {
        let old = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
            .map_err(|e| format!("reading kernel.bpf_stats_enabled: {e}"))?;
        let old = old.trim().bytes().next().unwrap_or(b'0');
        STATS_OLD.store(old, Ordering::SeqCst);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            // SAFETY: installing a handler that only does async-signal-safe work.
            unsafe { libc::signal(sig, on_fatal_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
        }
        STATS_SET.store(true, Ordering::SeqCst);
        if !write_stats_raw(b'1') {
            STATS_SET.store(false, Ordering::SeqCst);
            return Err(format!("setting kernel.bpf_stats_enabled=1: {}", io::Error::last_os_error()));
        }
        Ok(BpfStatsGuard { old: old - b'0' })
    }
}

impl Drop for BpfStatsGuard {
    fn drop(&mut self) {
        restore_bpf_stats();
    }
}

// ---- BPF introspection ----

fn owned(fd: i32, what: &str) -> Res<OwnedFd> {
    if fd < 0 {
        return Err(format!("{what}: {}", io::Error::last_os_error()));
    }
    // SAFETY: a fresh fd returned by libbpf.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// bpf_prog_info of `fd`, with its map ids.
fn prog_info(fd: RawFd) -> Res<(libbpf_sys::bpf_prog_info, Vec<u32>)> {
    // SAFETY: zeroed plain-data struct (padding must be zero for the kernel).
    let mut info: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&info) as u32;
    // SAFETY: valid buffer of `len` bytes.
    let r = unsafe { libbpf_sys::bpf_obj_get_info_by_fd(fd, &mut info as *mut _ as *mut c_void, &mut len) };
    if r != 0 {
        return Err(format!("bpf_obj_get_info_by_fd(prog): {}", io::Error::from_raw_os_error(-r)));
    }
    let n = info.nr_map_ids;
    let mut ids = vec![0u32; n as usize];
    if n > 0 {
        // SAFETY: as above; map_ids points at n u32s.
        let mut info2: libbpf_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
        info2.nr_map_ids = n;
        info2.map_ids = ids.as_mut_ptr() as u64;
        let mut len = std::mem::size_of_val(&info2) as u32;
        let r = unsafe { libbpf_sys::bpf_obj_get_info_by_fd(fd, &mut info2 as *mut _ as *mut c_void, &mut len) };
        if r != 0 {
            return Err(format!("bpf_obj_get_info_by_fd(prog maps): {}", io::Error::from_raw_os_error(-r)));
        }
        ids.truncate(info2.nr_map_ids.min(n) as usize);
    }
    Ok((info, ids))
}

fn cname(b: &[c_char]) -> String {
    let bytes: Vec<u8> = b.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn fdinfo_field(fd: RawFd, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().parse().ok())
}

/// The BPF programs of one tracer: the one behind its program_fd() plus
/// every program that shares a map with it (maps are private to one loaded
/// object, so sharing one means same tracer).
pub struct TracerProgs {
    pub progs: Vec<(String, u32, OwnedFd)>,
    pub map_ids: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct ProgSample {
    pub name: String,
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

#[derive(Debug, Clone)]
pub struct MapMem {
    pub name: String,
    pub kind: u32,
    pub max_entries: u32,
    pub value_size: u32,
    pub memlock: u64,
}

impl TracerProgs {
    pub fn find(prog_fd: RawFd) -> Res<TracerProgs> {
        let (main_info, main_maps) = prog_info(prog_fd)?;
        let mut progs = Vec::new();
        let mut map_ids: Vec<u32> = main_maps.clone();
        let mut id = 0u32;
        loop {
            // SAFETY: plain libbpf call with an out-pointer.
            if unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut id) } != 0 {
                break;
            }
            // SAFETY: as above.
            let fd = match owned(unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) }, "prog fd by id") {
                Ok(fd) => fd,
                Err(_) => continue, // gone meanwhile
            };
            let Ok((info, maps)) = prog_info(fd.as_raw_fd()) else { continue };
            if info.id == main_info.id || maps.iter().any(|m| main_maps.contains(m)) {
                for m in maps {
                    if !map_ids.contains(&m) {
                        map_ids.push(m);
                    }
                }
                progs.push((cname(&info.name), info.id, fd));
            }
        }
        if !progs.iter().any(|p| p.1 == main_info.id) {
            return Err("the tracer's program was not found among loaded BPF programs".into());
        }
        progs.sort_by_key(|p| p.1);
        Ok(TracerProgs { progs, map_ids })
    }

    pub fn names(&self) -> Vec<String> {
        self.progs.iter().map(|p| p.0.clone()).collect()
    }

    pub fn sample(&self) -> Res<Vec<ProgSample>> {
        self.progs
            .iter()
            .map(|(name, _, fd)| {
                let (info, _) = prog_info(fd.as_raw_fd())?;
                Ok(ProgSample { name: name.clone(), run_time_ns: info.run_time_ns, run_cnt: info.run_cnt })
            })
            .collect()
    }

    /// Kernel memory of the programs themselves (fdinfo memlock).
    pub fn prog_memlock(&self) -> u64 {
        self.progs.iter().filter_map(|p| fdinfo_field(p.2.as_raw_fd(), "memlock:")).sum()
    }

    /// Kernel memory of each of the tracer's maps (fdinfo memlock).
    pub fn maps(&self) -> Res<Vec<MapMem>> {
        let mut out = Vec::new();
        for &id in &self.map_ids {
            // SAFETY: plain libbpf call.
            let fd = owned(unsafe { libbpf_sys::bpf_map_get_fd_by_id(id) }, "map fd by id")?;
            // SAFETY: zeroed plain-data struct.
            let mut info: libbpf_sys::bpf_map_info = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of_val(&info) as u32;
            // SAFETY: valid buffer.
            let r = unsafe {
                libbpf_sys::bpf_obj_get_info_by_fd(fd.as_raw_fd(), &mut info as *mut _ as *mut c_void, &mut len)
            };
            if r != 0 {
                return Err(format!("bpf_obj_get_info_by_fd(map): {}", io::Error::from_raw_os_error(-r)));
            }
            out.push(MapMem {
                name: cname(&info.name),
                kind: info.type_,
                max_entries: info.max_entries,
                value_size: info.value_size,
                memlock: fdinfo_field(fd.as_raw_fd(), "memlock:").unwrap_or(0),
            });
        }
        Ok(out)
    }
}

/// Per-exec in-kernel cost between two samples: (sum of run time deltas,
/// run count delta of the per-exec program, per-program deltas).
pub fn bpf_delta(before: &[ProgSample], after: &[ProgSample], exec_prog: &str) -> (u64, u64, Vec<ProgSample>) {
    let mut per = Vec::new();
    let mut total = 0;
    let mut execs = 0;
    for a in after {
        let b = before.iter().find(|b| b.name == a.name).cloned().unwrap_or_default();
        let d = ProgSample {
            name: a.name.clone(),
            run_time_ns: a.run_time_ns.saturating_sub(b.run_time_ns),
            run_cnt: a.run_cnt.saturating_sub(b.run_cnt),
        };
        total += d.run_time_ns;
        if a.name == exec_prog {
            execs = d.run_cnt;
        }
        per.push(d);
    }
    (total, execs, per)
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Local timer interrupts taken so far, summed over CPUs (the `LOC` line of
/// /proc/interrupts, x86), or None where there is no such line.
pub fn timer_interrupts() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/interrupts").ok()?;
    let line = text.lines().find_map(|l| l.trim_start().strip_prefix("LOC:"))?;
    Some(line.split_whitespace().map_while(|w| w.parse::<u64>().ok()).sum())
}

/// Time the CPUs spent idle (iowait included) and stolen by the
/// hypervisor so far, summed over CPUs, in ns (/proc/stat, whose unit is
/// USER_HZ: 10 ms, so only sums over many segments mean much), with the
/// number of CPUs it covers.
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    pub idle_ns: u64,
    pub steal_ns: u64,
    pub cpus: u32,
}

pub fn cpu_times() -> Option<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let ns = |ticks: u64| ticks * 1_000_000_000 / hz as u64;
    let total = text.lines().find_map(|l| l.strip_prefix("cpu "))?;
    // user nice system idle iowait irq softirq steal ...
    let f: Vec<u64> = total.split_whitespace().map_while(|w| w.parse().ok()).collect();
    if f.len() < 8 {
        return None;
    }
    let cpus =
        text.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    Some(CpuTimes { idle_ns: ns(f[3] + f[4]), steal_ns: ns(f[7]), cpus: cpus as u32 })
}

/// CPU time (user + system) of this process and of its reaped children.
pub fn process_cpu_ns() -> u64 {
    let mut total = 0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: zeroed out-struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        unsafe { libc::getrusage(who, &mut ru) };
        for tv in [ru.ru_utime, ru.ru_stime] {
            total += tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
        }
    }
    total
}

/// (user ns, system ns, voluntary context switches) of the calling thread.
pub fn thread_rusage() -> (u64, u64, u64) {
    // SAFETY: zeroed out-struct, valid pointer.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let ns = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    (ns(ru.ru_utime), ns(ru.ru_stime), ru.ru_nvcsw as u64)
}

/// Block SIGCHLD in the calling thread (and so in threads it creates later).
pub fn block_sigchld() -> Res<()> {
    // SAFETY: plain sigset manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if r != 0 {
            return Err(format!("pthread_sigmask: {}", io::Error::from_raw_os_error(r)));
        }
    }
    Ok(())
}

/// Ids of the loaded BPF programs named like the tracer's exec program: a
/// tracer's own and any other's (e.g. tests running at the same time), which
/// also run on our execs.
pub fn exec_prog_ids() -> Vec<u32> {
    let mut ids = Vec::new();
    let mut id = 0u32;
    // SAFETY: plain libbpf calls with out-pointers; fds closed by OwnedFd.
    while unsafe { libbpf_sys::bpf_prog_get_next_id(id, &mut id) } == 0 {
        let Ok(fd) = owned(unsafe { libbpf_sys::bpf_prog_get_fd_by_id(id) }, "prog fd") else { continue };
        let Ok((info, _)) = prog_info(fd.as_raw_fd()) else { continue };
        if cname(&info.name) == "process_exec" {
            ids.push(info.id);
        }
    }
    ids
}

// ---- attaching and detaching a running tracer (throughput, interleave.rs) ----
