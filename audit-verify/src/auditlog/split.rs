//! Splits a byte stream into lines with their offsets and numbers, in bounded memory.
//!
//! A line longer than [`MAX_LINE_LEN`] is dropped as it streams by, so a file of one 2 GB line costs no
//! more memory than a normal one. A last line without its newline is held, not returned: a follower will
//! see the rest of it on the next read; a reader of a finished file takes it with `take_partial`.

use std::io::{self, Read};

/// auditd's records are at most `MAX_AUDIT_MESSAGE_LENGTH` (8970) bytes plus the ENRICHED fields; a line of
/// a megabyte is not a record.
pub const MAX_LINE_LEN: usize = 1 << 20;
const CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Line { bytes: &'a [u8], line: u64, offset: u64 },
    TooLong { line: u64, offset: u64, len: u64 },
}

#[derive(Debug)]
pub struct LineSplitter<R> {
    src: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes in `buf[start..scanned]` hold no newline: no need to search them again.
    scanned: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// Lines returned so far (the next one is `line + 1`).
    line: u64,
    /// Inside an over-long line: its offset and the bytes dropped so far.
    skipping: Option<(u64, u64)>,
}

impl<R: Read> LineSplitter<R> {
    /// `offset` and `lines_before` describe where `src` starts, for the locations we report.
    pub fn new(src: R, offset: u64, lines_before: u64) -> Self {
        Self { src, buf: Vec::new(), start: 0, end: 0, scanned: 0, base: offset, line: lines_before, skipping: None }
    }

    /// The next complete line, or `None` when the source has no more bytes for now.
    pub fn next_item(&mut self) -> io::Result<Option<Item<'_>>> {
        loop {
            let from = self.scanned.max(self.start);
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.end]) {
                let (line_start, nl) = (self.start, from + i);
                self.start = nl + 1;
                self.scanned = self.start;
                self.line += 1;
                if let Some((offset, len)) = self.skipping.take() {
                    return Ok(Some(Item::TooLong { line: self.line, offset, len: len + (nl - line_start) as u64 }));
                }
                let offset = self.base + line_start as u64;
                return Ok(Some(Item::Line { bytes: &self.buf[line_start..nl], line: self.line, offset }));
            }
            self.scanned = self.end;
            let held = self.end - self.start;
            if held >= MAX_LINE_LEN || (self.skipping.is_some() && held > 0) {
                let offset = self.base + self.start as u64;
                self.skipping.get_or_insert((offset, 0)).1 += held as u64;
                self.base += self.end as u64;
                (self.start, self.end, self.scanned) = (0, 0, 0);
            } else if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.base += self.start as u64;
                (self.start, self.end, self.scanned) = (0, held, held);
            }
            if self.buf.len() - self.end < CHUNK / 2 {
                self.buf.resize(self.end + CHUNK, 0);
            }
            let n = loop {
                match self.src.read(&mut self.buf[self.end..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r?,
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.end += n;
        }
    }

    /// The offset of the first byte not yet returned as part of a line.
    pub fn position(&self) -> u64 {
        match self.skipping {
            Some((offset, _)) => offset,
            None => self.base + self.start as u64,
        }
    }

    /// Lines returned so far.
    pub fn lines(&self) -> u64 {
        self.line
    }

    /// Hands over a held partial last line, for a source that will not grow any more: the bytes, or the
    /// length of an over-long one. The splitter goes on after it.
    pub fn take_partial(&mut self) -> Option<Item<'_>> {
        let (start, end) = (self.start, self.end);
        let held = (end - start) as u64;
        let offset = self.base + start as u64;
        (self.start, self.scanned) = (end, end);
        let item = match self.skipping.take() {
            Some((offset, len)) => Item::TooLong { line: self.line + 1, offset, len: len + held },
            None if held > 0 => Item::Line { bytes: &self.buf[start..end], line: self.line + 1, offset },
            None => return None,
        };
        self.line += 1;
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    type Lines = Vec<(String, u64, u64)>;

    fn collect(data: &[u8]) -> (Lines, Option<(String, u64, u64)>) {
        let mut s = LineSplitter::new(Cursor::new(data.to_vec()), 0, 0);
        let mut out = Vec::new();
        while let Some(item) = s.next_item().unwrap() {
            match item {
                Item::Line { bytes, line, offset } => out.push((String::from_utf8_lossy(bytes).into(), line, offset)),
                Item::TooLong { line, offset, len } => out.push((format!("<{len}>"), line, offset)),
            }
        }
        let partial = s.take_partial().map(|item| match item {
            Item::Line { bytes, line, offset } => (String::from_utf8_lossy(bytes).into_owned(), line, offset),
            Item::TooLong { line, offset, len } => (format!("<{len}>"), line, offset),
        });
        assert_eq!(s.take_partial(), None, "handed over once");
        (out, partial)
    }

    #[test]
    fn lines_offsets_and_a_held_partial() {
        let (lines, partial) = collect(b"ab\n\ncd\nef");
        assert_eq!(lines, [("ab".into(), 1, 0), (String::new(), 2, 3), ("cd".into(), 3, 4)]);
        assert_eq!(partial, Some(("ef".into(), 4, 7)));
    }

    #[test]
    fn a_line_of_megabytes_is_dropped_in_bounded_memory() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE_LEN + 17));
        data.extend(b"\nlast\n");
        let mut s = LineSplitter::new(Cursor::new(data), 0, 0);
        let mut items = Vec::new();
        while let Some(item) = s.next_item().unwrap() {
            items.push(match item {
                Item::Line { bytes, line, offset } => (String::from_utf8_lossy(bytes).into_owned(), line, offset, 0),
                Item::TooLong { line, offset, len } => ("<long>".into(), line, offset, len),
            });
        }
        let long = 3 * MAX_LINE_LEN as u64 + 17;
        assert_eq!(items, [("first".into(), 1, 0, 0), ("<long>".into(), 2, 6, long), ("last".into(), 3, 7 + long, 0)]);
        assert!(s.buf.len() <= MAX_LINE_LEN + CHUNK, "buffer grew to {}", s.buf.len());
    }
}
