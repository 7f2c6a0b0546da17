//! 500 new/close cycles leave fds, kernel objects and memory as they were.
//! Alone in its test binary so that no other tracer of this process runs;
//! its tests count this process's fds, so they take turns (ALONE).
mod common;

use std::collections::HashSet;

use common::*;
use exectrace::{Tracer, TracerOpts};

static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let l = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// (programs, maps, links) of the kernel, by id.
fn bpf_ids() -> (HashSet<u32>, HashSet<u32>, HashSet<u32>) {
    use libbpf_rs::query::{LinkInfoIter, MapInfoIter, ProgInfoIter};
    (
        ProgInfoIter::default().map(|p| p.id).collect(),
        MapInfoIter::default().map(|m| m.id).collect(),
        LinkInfoIter::default().map(|l| l.id).collect(),
    )
}

/// (programs, maps, links) that other processes hold: through an fd
/// (fdinfo's prog_id, map_id, link_id; a link's fdinfo names its program),
/// and the maps of those programs. Other test runs on the host load tracers
/// of their own meanwhile; what they hold is theirs, not a leak of ours
/// (this process's own fds are counted apart).
fn held_by_others() -> (HashSet<u32>, HashSet<u32>, HashSet<u32>) {
    use libbpf_rs::query::{ProgInfoIter, ProgInfoQueryOptions};
    let me = std::process::id().to_string();
    let (mut progs, mut maps, mut links) = (HashSet::new(), HashSet::new(), HashSet::new());
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = p.file_name();
        let pid = pid.to_string_lossy();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A process may exit while we look.
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        for info in fds
            .flatten()
            .filter_map(|f| std::fs::read_to_string(f.path()).ok())
        {
            for (key, id) in info.lines().filter_map(|l| l.split_once(':')) {
                let Ok(id) = id.trim().parse() else { continue };
                match key {
                    "prog_id" => progs.insert(id),
                    "map_id" => maps.insert(id),
                    "link_id" => links.insert(id),
                    _ => false,
                };
            }
        }
    }
    let with_maps = ProgInfoQueryOptions::default().include_map_ids(true);
    for p in ProgInfoIter::with_query_opts(with_maps).filter(|p| progs.contains(&p.id)) {
        maps.extend(p.map_ids);
    }
    (progs, maps, links)
}

#[test]
fn five_hundred_cycles_leak_nothing() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let opts = TracerOpts {
        include_failed: true,
        ..Default::default()
    };
    let Some(t) = tracer(&opts) else { return };
    drop(t);
    // Warm up allocator and libbpf caches, then measure.
    for _ in 0..20 {
        Tracer::new(&opts).unwrap().close();
    }
    let (fds, rss) = (open_fds(), rss_kib());
    let (progs, maps, links) = bpf_ids();
    for i in 0..500 {
        let t = Tracer::new(&opts).unwrap();
        if i % 100 == 0 {
            let _ = t.try_read();
        }
        t.close();
        drop(t);
    }
    assert_eq!(open_fds(), fds, "open fds");
    // Ours were all created and closed above, so no id new since the start
    // may remain but those other processes hold. Kernel objects are freed
    // after an RCU grace period: give it a moment.
    let left = || {
        let (now, theirs) = (bpf_ids(), held_by_others());
        let new = |now: &HashSet<u32>, then: &HashSet<u32>, theirs: &HashSet<u32>| {
            now.difference(then)
                .filter(|id| !theirs.contains(id))
                .count()
        };
        (
            new(&now.0, &progs, &theirs.0),
            new(&now.1, &maps, &theirs.1),
            new(&now.2, &links, &theirs.2),
        )
    };
    let mut after = left();
    for _ in 0..50 {
        if after == (0, 0, 0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = left();
    }
    assert_eq!(after.0, 0, "BPF programs left behind");
    assert_eq!(after.1, 0, "BPF maps left behind");
    assert_eq!(after.2, 0, "BPF links left behind");
    let grown = rss_kib().saturating_sub(rss);
    assert!(grown < 1024, "RSS grew by {grown} KiB over 500 cycles");
}

/// Every fd a process holds is copied into each child it spawns and closed
/// at the child's exec, so a tracer in a process that spawns pays per fd per
/// exec: it keeps only epoll, a timerfd, its program and one link per attached
/// program (the ring, .bss and drop counters stay mapped, not open).
#[test]
fn a_running_tracer_holds_only_the_fds_it_uses() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(first) = default_tracer() else {
        return;
    };
    drop(first);
    for (opts, links) in [
        (TracerOpts::default(), 2),
        (
            TracerOpts {
                include_failed: true,
                ..Default::default()
            },
            3,
        ),
    ] {
        let before = open_fds();
        let t = Tracer::new(&opts).unwrap();
        let held = open_fds() - before;
        assert_eq!(held, 3 + links, "fds held by a tracer ({opts:?})");
        t.close();
        drop(t);
        assert_eq!(open_fds(), before);
    }
}
