//! A BPF ring-buffer consumer over the map's mmap, one record at a time.
//!
//! libbpf's ring_buffer__consume() hands every available record to a
//! callback; a blocking `read()` of one event wants them one by one, decoded
//! straight from the shared pages. Layout (kernel/bpf/ringbuf.c): page 0 is the
//! consumer position (ours to write), page 1 the producer position, then the
//! data pages mapped twice so a record that wraps is still contiguous. Each
//! record starts with an 8-byte header: u32 length with BUSY/DISCARD bits, u32
//! page offset.
//!
//! Both positions sit on cache lines the producing CPUs also use: the
//! producer position is re-read only once the records known to be there are
//! consumed, and the consumer position is published every `publish_every`
//! bytes and whenever the ring looks empty, not after every record.
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{fence, AtomicU32, Ordering};

use crate::fd::{page_size, SharedMapping};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HDR_SZ: u64 = 8;
/// Consumed bytes not yet published hide this much of the ring from the
/// producers, at most: an eighth of it, capped.
const PUBLISH_MAX: u64 = 64 << 10;

pub(crate) struct RingReader {
    /// Page 0: the consumer position, ours to write.
    consumer: SharedMapping,
    /// The producer position's page, then the data pages twice.
    producer: SharedMapping,
    data: *const u8,
    mask: u64,
    size: usize,
    /// Our consumer position; the kernel's copy may lag by < publish_every.
    cons: u64,
    /// The consumer position last stored for the kernel.
    published: u64,
    publish_every: u64,
    /// The producer position last read: records before it are committed or busy.
    prod: u64,
    /// Bytes of the record handed out by `peek`, consumed by `advance`.
    pending: u64,
}

// SAFETY: `data` points into `producer`, owned by this value; records are
// only touched through &mut self, positions atomically.
unsafe impl Send for RingReader {}

impl RingReader {
    /// Map the ring buffer behind `fd`, whose data area is `size` bytes,
    /// with the sizes the kernel's ringbuf_map_mmap_kern()/_user() accept.
    pub(crate) fn new(fd: BorrowedFd<'_>, size: usize) -> io::Result<Self> {
        let page = page_size();
        let consumer = SharedMapping::new(fd, 0, page, true)?;
        let producer = SharedMapping::new(fd, page, page + 2 * size, false)?;
        // SAFETY: the data area starts one page into the producer mapping.
        let data = unsafe { producer.as_ptr().add(page) };
        let cons = consumer.atomic_u64(0).load(Ordering::Acquire);
        Ok(RingReader {
            consumer,
            producer,
            data,
            mask: size as u64 - 1,
            size,
            cons,
            published: cons,
            publish_every: (size as u64 / 8).min(PUBLISH_MAX),
            prod: cons,
            pending: 0,
        })
    }

    fn publish(&mut self) {
        if self.published != self.cons {
            self.consumer
                .atomic_u64(0)
                .store(self.cons, Ordering::Release);
            self.published = self.cons;
        }
    }

    /// The producer position, re-read once everything before the cached one
    /// is consumed. When nothing new is there, publish our position first
    /// and look once more: the kernel wakes the reader for a record only if
    /// it sees the consumer at that record (bpf_ringbuf_commit()), so
    /// either that wake-up comes or this look finds the record.
    fn refresh(&mut self) -> bool {
        if self.cons < self.prod {
            return true;
        }
        self.prod = self.producer.atomic_u64(0).load(Ordering::Acquire);
        if self.cons < self.prod {
            return true;
        }
        self.go_idle();
        self.prod = self.producer.atomic_u64(0).load(Ordering::Acquire);
        self.cons < self.prod
    }

    /// Publish before the caller may sleep; the fence orders the store
    /// before the next look at the ring (the kernel has its own, between
    /// writing a record's header and reading our position).
    fn go_idle(&mut self) {
        self.publish();
        fence(Ordering::SeqCst);
    }

    /// The next committed record, without consuming it (call `advance` once
    /// done with the bytes). Discarded records are skipped. `None` when the
    /// ring is empty or the next record is still being written; the kernel
    /// then knows everything consumed.
    pub(crate) fn peek(&mut self) -> Option<&[u8]> {
        debug_assert_eq!(self.pending, 0, "advance() the previous record first");
        let mut idle = false;
        loop {
            if !self.refresh() {
                return None;
            }
            let cons = self.cons;
            // SAFETY: (cons & mask) < size and the header is 8-byte aligned
            // within the double-mapped data area.
            let hdr = unsafe { &*(self.data.add((cons & self.mask) as usize) as *const AtomicU32) };
            let len_word = hdr.load(Ordering::Acquire);
            if len_word & BUSY_BIT != 0 {
                if idle {
                    return None;
                }
                // Being written: publish, then look at it once more.
                self.go_idle();
                idle = true;
                continue;
            }
            let len = (len_word & !(BUSY_BIT | DISCARD_BIT)) as u64;
            let total = (len + HDR_SZ + 7) & !7;
            if len_word & DISCARD_BIT != 0 {
                self.consume(total);
                continue;
            }
            if len as usize > self.size {
                // Cannot happen with a sane kernel; refuse to read past the mapping.
                self.cons = self.prod;
                self.go_idle();
                return None;
            }
            self.pending = total;
            let start = ((cons + HDR_SZ) & self.mask) as usize;
            // SAFETY: the data area is mapped twice, so start + len (< 2*size)
            // stays inside the mapping; the kernel does not touch a committed
            // record until the published consumer position moves past it.
            return Some(unsafe { std::slice::from_raw_parts(self.data.add(start), len as usize) });
        }
    }

    /// Release the record returned by the last `peek`.
    pub(crate) fn advance(&mut self) {
        let n = std::mem::take(&mut self.pending);
        self.consume(n);
    }

    /// Leave the record returned by the last `peek` in the ring: the next
    /// `peek` returns it again.
    pub(crate) fn leave(&mut self) {
        self.pending = 0;
    }

    fn consume(&mut self, n: u64) {
        self.cons += n;
        if self.cons - self.published >= self.publish_every {
            self.publish();
        }
    }
}
