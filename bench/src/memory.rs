//! 7: the reader process's RSS and the kernel memory of the tracer's maps
//! and programs, sampled during the defaults burst of row 3 (delivery.rs).
#[allow(unused_imports)]
use super::*;

/// What row 7 reports, but for the RSS at the start of the run.
pub(crate) struct TracerMemory {
    /// The RSS just before the tracer was created, and with it open.
    pub(crate) rss_before: sys::Rss,
    pub(crate) rss_with: sys::Rss,
    pub(crate) maps: Vec<sys::MapMem>,
    pub(crate) prog_mem: u64,
}

/// The memlock of the maps and of the programs of `rd`'s tracer.
pub(crate) fn kernel_memory(rd: &Reader) -> Res<(Vec<sys::MapMem>, u64)> {
    let progs = TracerProgs::find(rd.handle.prog_fd())?;
    Ok((progs.maps()?, progs.prog_memlock()))
}

/// Row 7; adds "memory" (the maps) to `details`.
pub(crate) fn memory_rows(rss_start: &sys::Rss, m: &TracerMemory, rows: &mut Vec<Row>, details: &mut Json) {
    let TracerMemory { rss_before, rss_with, maps, prog_mem } = m;
    let map_total: u64 = maps.iter().map(|m| m.memlock).sum();
    let mut mm: Vec<&sys::MapMem> = maps.iter().collect();
    mm.sort_by_key(|m| std::cmp::Reverse(m.memlock));
    let split: Vec<String> = mm.iter().take(4).map(|m| format!("{} {}", m.name, bytes_mib(m.memlock))).collect();
    rows.push(row(
        "7",
        "Reader process RSS, tracer open after the burst",
        "defaults",
        format!(
            "{} (+{} over no tracer; anon {}, file/shmem {})",
            kib(rss_with.rss_kib),
            kib(rss_with.rss_kib.saturating_sub(rss_before.rss_kib)),
            kib(rss_with.anon_kib),
            kib(rss_with.file_kib + rss_with.shmem_kib)
        ),
        "",
        Verdict::Info,
        Json::obj()
            .with("rss_kib", rss_with.rss_kib)
            .with("rss_before_tracer_kib", rss_before.rss_kib)
            .with("rss_at_start_kib", rss_start.rss_kib)
            .with("anon_kib", rss_with.anon_kib)
            .with("file_kib", rss_with.file_kib)
            .with("shmem_kib", rss_with.shmem_kib),
    ));
    rows.push(row(
        "7",
        "Kernel memory of the tracer's maps (memlock)",
        "defaults",
        format!(
            "{} in {} maps ({}, …); programs {}",
            bytes_mib(map_total),
            maps.len(),
            split.join(", "),
            bytes_mib(*prog_mem)
        ),
        "",
        Verdict::Info,
        Json::obj().with("maps_bytes", map_total).with("programs_bytes", *prog_mem),
    ));
    details.push(
        "memory",
        Json::obj().with(
            "maps",
            Json::Arr(
                maps.iter()
                    .map(|m| {
                        Json::obj()
                            .with("name", m.name.clone())
                            .with("type", m.kind)
                            .with("max_entries", m.max_entries)
                            .with("value_size", m.value_size)
                            .with("memlock_bytes", m.memlock)
                    })
                    .collect(),
            ),
        ),
    );
}
