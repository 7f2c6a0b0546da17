//! Lines gathered in one buffer and written out in few writes: when the
//! reader has drained the ring (the caller's `flush`), when the buffer is
//! full, and once its oldest line has waited the latency bound (an exec
//! storm that never lets the ring drain still shows its lines within the
//! bound, checked after each batch of events: `flush_if_due`). The bytes
//! are the same as with a write per line.
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// The buffer is written out at this size (a pipe's default capacity).
const CAPACITY: usize = 64 * 1024;

pub struct Output<W: Write> {
    w: W,
    buf: Vec<u8>,
    bound: Duration,
    /// When the oldest line still in `buf` was added.
    oldest: Option<Instant>,
}

impl<W: Write> Output<W> {
    /// Lines reach `w` at most `bound` after they are added, plus the time
    /// to the next `flush_if_due`.
    pub fn new(w: W, bound: Duration) -> Self {
        Output {
            w,
            buf: Vec::with_capacity(CAPACITY + 8 * 1024),
            bound,
            oldest: None,
        }
    }

    /// No line waits to be written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Add the line `write` puts into the buffer (without its newline).
    /// The clock is read only for the first line of a buffer: on a VM a
    /// clock read per line was a tenth of the CLI's CPU.
    pub fn line(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.buf.is_empty() && !self.bound.is_zero() {
            self.oldest = Some(Instant::now());
        }
        self.add(write)
    }

    fn add(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        write(&mut self.buf);
        self.buf.push(b'\n');
        if self.buf.len() >= CAPACITY || self.bound.is_zero() {
            self.flush()?;
        }
        Ok(())
    }

    /// Write out the lines if the oldest has waited the bound.
    pub fn flush_if_due(&mut self) -> io::Result<()> {
        self.flush_if_due_at(Instant::now())
    }

    fn flush_if_due_at(&mut self, now: Instant) -> io::Result<()> {
        match self.oldest {
            Some(t) if now.duration_since(t) >= self.bound => self.flush(),
            _ => Ok(()),
        }
    }

    /// Write out every line added so far.
    pub fn flush(&mut self) -> io::Result<()> {
        self.oldest = None;
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.w.write_all(&self.buf).and_then(|()| self.w.flush());
        self.buf.clear();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write it gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Add a line as if the clock read `at` when it came to an empty buffer.
    fn add(o: &mut Output<Writes>, s: &str, at: Instant) {
        if o.is_empty() && !o.bound.is_zero() {
            o.oldest = Some(at);
        }
        o.add(|b| b.extend_from_slice(s.as_bytes())).unwrap();
    }

    #[test]
    fn one_write_per_drained_batch() {
        let t0 = Instant::now();
        let mut o = Output::new(Writes::default(), Duration::from_millis(4));
        add(&mut o, "a", t0);
        add(&mut o, "b", t0 + Duration::from_millis(1));
        assert!(o.w.0.is_empty() && !o.is_empty());
        o.flush().unwrap();
        assert!(o.is_empty());
        o.flush().unwrap();
        add(&mut o, "c", t0 + Duration::from_millis(2));
        o.flush().unwrap();
        assert_eq!(o.w.0, [b"a\nb\n".to_vec(), b"c\n".to_vec()]);
    }

    #[test]
    fn no_line_waits_longer_than_the_bound() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut o = Output::new(Writes::default(), ms(4));
        add(&mut o, "a", t0);
        add(&mut o, "b", t0 + ms(3));
        o.flush_if_due_at(t0 + ms(3)).unwrap();
        assert!(o.w.0.is_empty());
        add(&mut o, "c", t0 + ms(4));
        o.flush_if_due_at(t0 + ms(4)).unwrap();
        // The bound counts from the oldest line still waiting.
        add(&mut o, "d", t0 + ms(7));
        o.flush_if_due_at(t0 + ms(7)).unwrap();
        add(&mut o, "e", t0 + ms(10));
        o.flush_if_due_at(t0 + ms(10)).unwrap();
        assert_eq!(o.w.0.len(), 1);
        add(&mut o, "f", t0 + ms(11));
        o.flush_if_due_at(t0 + ms(11)).unwrap();
        assert_eq!(o.w.0, [b"a\nb\nc\n".to_vec(), b"d\ne\nf\n".to_vec()]);
        // The real clock: the first line's time was read when it came.
        let mut real = Output::new(Writes::default(), ms(4));
        real.line(|b| b.push(b'x')).unwrap();
        let stamped = real.oldest.expect("the first line is stamped");
        real.flush_if_due_at(stamped + ms(4)).unwrap();
        assert_eq!(real.w.0, [b"x\n".to_vec()]);

        let mut every = Output::new(Writes::default(), Duration::ZERO);
        add(&mut every, "a", t0);
        add(&mut every, "b", t0);
        assert_eq!(every.w.0, [b"a\n".to_vec(), b"b\n".to_vec()]);
    }

    #[test]
    fn a_full_buffer_is_written_out() {
        let t0 = Instant::now();
        let mut o = Output::new(Writes::default(), Duration::from_secs(1));
        let line = "x".repeat(999);
        for _ in 0..CAPACITY / 1000 {
            add(&mut o, &line, t0);
        }
        assert!(o.w.0.is_empty());
        add(&mut o, &line, t0);
        assert_eq!(o.w.0.len(), 1);
        assert_eq!(o.w.0[0].len(), (CAPACITY / 1000 + 1) * 1000);
        assert!(o.is_empty());
    }
}
