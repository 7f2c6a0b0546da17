//! Spawners in a process of their own, as in an agent deployment: the
//! tracer runs in the agent, the execs happen elsewhere. A process that
//! spawns copies its fd table into every child, and its threads (the
//! tracer's reader among them) share the memory map whose TLB entries are
//! shot down at each posix_spawn's munmap; neither cost reaches a workload
//! that does not host the tracer.
//!
//! The bench starts itself with `--spawner-process N NOOP MARKER` and a
//! shared page on fd 3: the execs done, the CPU of the reaped execs, the
//! spawn errors, and a stop flag.
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys::{self, Res};

/// The page shared with the spawner process.
#[repr(C)]
struct Shared {
    done: AtomicU64,
    /// CPU (user + system) of the reaped execs, ns: where the BPF programs run.
    children_cpu_ns: AtomicU64,
    errors: AtomicU64,
    stop: AtomicU64,
}

const FD: i32 = 3;
const PAGE: usize = 4096;

struct Page {
    addr: *mut Shared,
}

// SAFETY: the page is only accessed through atomics.
unsafe impl Send for Page {}
unsafe impl Sync for Page {}

impl Page {
    fn map(fd: i32) -> Res<Page> {
        // SAFETY: a fresh shared mapping of a page-sized memfd.
        let addr = unsafe {
            libc::mmap(std::ptr::null_mut(), PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if addr == libc::MAP_FAILED {
            return Err(format!("mmap of the shared page: {}", std::io::Error::last_os_error()));
        }
        Ok(Page { addr: addr as *mut Shared })
    }

    fn get(&self) -> &Shared {
        // SAFETY: mapped for the life of self; Shared is atomics only, and
        // the memfd's page starts zeroed.
        unsafe { &*self.addr }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // SAFETY: our own mapping.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, PAGE) };
    }
}

/// The spawner process, seen from the bench.
pub struct SpawnerProcess {
    child: Child,
    page: Page,
    clock: libc::clockid_t,
}

impl SpawnerProcess {
    /// Start `spawners` spawners of `noop marker` in a new process; they run
    /// until `stop`.
    pub fn start(noop: &CStr, marker: &CStr, spawners: usize) -> Res<SpawnerProcess> {
        // SAFETY: plain memfd_create with a valid name.
        let fd = unsafe { libc::memfd_create(c"exectrace-bench-spawners".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a new fd we own.
        let memfd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: valid fd.
        if unsafe { libc::ftruncate(memfd.as_raw_fd(), PAGE as libc::off_t) } != 0 {
            return Err(format!("ftruncate: {}", std::io::Error::last_os_error()));
        }
        let page = Page::map(memfd.as_raw_fd())?;
        let exe = std::env::current_exe().map_err(|e| format!("the bench's own path: {e}"))?;
        let raw = memfd.as_raw_fd();
        let mut cmd = Command::new(exe);
        cmd.arg("--spawner-process")
            .arg(spawners.to_string())
            .arg(OsStr::from_bytes(noop.to_bytes()))
            .arg(OsStr::from_bytes(marker.to_bytes()));
        // SAFETY: fcntl, dup2 and prctl only, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself would keep close-on-exec.
                let moved = if raw == FD { libc::fcntl(FD, libc::F_SETFD, 0) } else { libc::dup2(raw, FD) };
                if moved < 0 || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("starting the spawner process: {e}"))?;
        let mut p = SpawnerProcess { child, page, clock: 0 };
        // SAFETY: valid pid and out-pointer.
        let r = unsafe { libc::clock_getcpuclockid(p.child.id() as libc::pid_t, &mut p.clock) };
        if r != 0 {
            let _ = p.stop();
            return Err(format!("clock_getcpuclockid: {}", std::io::Error::from_raw_os_error(r)));
        }
        Ok(p)
    }

    /// The counter of execs done.
    pub fn done(&self) -> &AtomicU64 {
        &self.page.get().done
    }

    /// CPU of the spawner process and of the execs it reaped, ns.
    pub fn cpu_ns(&self) -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: valid clock id and out-pointer.
        unsafe { libc::clock_gettime(self.clock, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64 + self.page.get().children_cpu_ns.load(Ordering::Relaxed)
    }

    /// Stop the spawners and wait for the process; Err if any spawn failed.
    pub fn stop(mut self) -> Res<()> {
        self.page.get().stop.store(1, Ordering::Relaxed);
        let status = self.child.wait().map_err(|e| format!("waiting for the spawner process: {e}"))?;
        let errors = self.page.get().errors.load(Ordering::Relaxed);
        match (status.success(), errors) {
            (true, 0) => Ok(()),
            (true, n) => Err(format!("{n} spawn errors in the spawner process")),
            (false, _) => Err(format!("the spawner process ended with {status}")),
        }
    }
}

/// Entry point of the spawner process: `args` after `--spawner-process`.
pub fn child_main(args: &[String]) -> Res<()> {
    let [n, noop, marker] = args else {
        return Err("--spawner-process N NOOP MARKER".into());
    };
    let n: usize = n.parse().map_err(|_| format!("--spawner-process: bad count {n}"))?;
    let noop = CString::new(noop.as_str()).map_err(|e| e.to_string())?;
    let marker = CString::new(marker.as_str()).map_err(|e| e.to_string())?;
    let page = Page::map(FD)?;
    // SAFETY: fd 3 was set up by the bench for us; the mapping holds the file.
    drop(unsafe { OwnedFd::from_raw_fd(FD) });
    // Same as the bench: children's SIGCHLD would only interrupt.
    sys::block_sigchld()?;
    let s = page.get();
    std::thread::scope(|scope| {
        for _ in 0..n {
            scope.spawn(|| {
                while s.stop.load(Ordering::Relaxed) == 0 {
                    match sys::spawn_wait(&noop, Some(&marker)) {
                        Ok(cpu_ns) => {
                            s.children_cpu_ns.fetch_add(cpu_ns, Ordering::Relaxed);
                            s.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            if s.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("exectrace-bench spawner process: {e}");
                            }
                        }
                    }
                }
            });
        }
    });
    Ok(())
}
