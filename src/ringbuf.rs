//! A BPF ring-buffer consumer over the map's mmap, one record at a time.
//!
//! libbpf's ring_buffer__consume() hands every available record to a
//! callback; a blocking `read()` of one event wants them one by one, decoded
//! straight from the shared pages. Layout (kernel/bpf/ringbuf.c): page 0 is the
//! consumer position (ours to write), page 1 the producer position, then the
//! data pages mapped twice so a record that wraps is still contiguous. Each
//! record starts with an 8-byte header: u32 length with BUSY/DISCARD bits, u32
//! page offset.
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::sys::{page_size, SharedMapping};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HDR_SZ: u64 = 8;

pub(crate) struct RingReader {
    /// Page 0: the consumer position, ours to write.
    consumer: SharedMapping,
    /// The producer position's page, then the data pages twice.
    producer: SharedMapping,
    data: *const u8,
    mask: u64,
    size: usize,
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
        Ok(RingReader {
            consumer,
            producer,
            data,
            mask: size as u64 - 1,
            size,
            pending: 0,
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        self.consumer.atomic_u64(0)
    }

    fn producer_pos(&self) -> &AtomicU64 {
        self.producer.atomic_u64(0)
    }

    /// The next committed record, without consuming it (call `advance` once
    /// done with the bytes). Discarded records are skipped. `None` when the
    /// ring is empty or the next record is still being written.
    pub(crate) fn peek(&mut self) -> Option<&[u8]> {
        debug_assert_eq!(self.pending, 0, "advance() the previous record first");
        loop {
            let cons = self.consumer_pos().load(Ordering::Relaxed);
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                return None;
            }
            // SAFETY: (cons & mask) < size and the header is 8-byte aligned
            // within the double-mapped data area.
            let hdr = unsafe { &*(self.data.add((cons & self.mask) as usize) as *const AtomicU32) };
            let len_word = hdr.load(Ordering::Acquire);
            if len_word & BUSY_BIT != 0 {
                return None;
            }
            let len = (len_word & !(BUSY_BIT | DISCARD_BIT)) as u64;
            let total = (len + HDR_SZ + 7) & !7;
            if len_word & DISCARD_BIT != 0 {
                self.consumer_pos().store(cons + total, Ordering::Release);
                continue;
            }
            if len as usize > self.size {
                // Cannot happen with a sane kernel; refuse to read past the mapping.
                self.consumer_pos().store(prod, Ordering::Release);
                return None;
            }
            self.pending = total;
            let start = ((cons + HDR_SZ) & self.mask) as usize;
            // SAFETY: the data area is mapped twice, so start + len (< 2*size)
            // stays inside the mapping; the kernel does not touch a committed
            // record until we move the consumer position past it.
            return Some(unsafe { std::slice::from_raw_parts(self.data.add(start), len as usize) });
        }
    }

    /// Release the record returned by the last `peek`.
    pub(crate) fn advance(&mut self) {
        let cons = self.consumer_pos().load(Ordering::Relaxed);
        self.consumer_pos()
            .store(cons + self.pending, Ordering::Release);
        self.pending = 0;
    }
}
