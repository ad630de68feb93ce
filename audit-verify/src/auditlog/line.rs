//! One audit.log line: `[node=HOST ]type=NAME msg=audit(SECS.MILLIS:SERIAL): fields[\x1dENRICHED fields]`.
//!
//! Only the header is parsed up front; fields are split when asked for, because most readers look at a
//! few fields of a few records and splitting every field of every line is where a parser spends its time.

use std::{borrow::Cow, fmt, ops::Range};

use thiserror::Error;

use super::record_type::RecordType;

/// Separates the raw fields from the fields auditd interprets with `log_format = ENRICHED`.
pub const ENRICHED_SEPARATOR: u8 = 0x1d;

/// Why a line is not a record. The line is skipped and counted as a warning.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("empty line")]
    Empty,
    #[error("NUL byte at column {column}")]
    Nul { column: usize },
    #[error("invalid UTF-8 at column {column}")]
    NotUtf8 { column: usize },
    #[error("no `type=` at the start of the line")]
    NoType,
    #[error("no `msg=audit(SECS.MILLIS:SERIAL):` header after the type")]
    NoHeader,
    #[error("malformed `msg=audit(…):` header: {reason}")]
    BadHeader { reason: &'static str },
}

/// Identifies an event: every record of one event carries the same timestamp and serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    pub secs: u64,
    pub millis: u16,
    pub serial: u64,
}

impl EventId {
    /// The timestamp in milliseconds since the epoch.
    #[must_use]
    pub fn time_ms(&self) -> u64 {
        self.secs.saturating_mul(1000).saturating_add(u64::from(self.millis))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}:{}", self.secs, self.millis, self.serial)
    }
}

/// What the header says, with the positions of the parts that stay in the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub node: Option<Range<usize>>,
    pub kind: RecordType,
    pub id: EventId,
    /// The raw fields, up to the ENRICHED separator or the end of the line.
    pub body: Range<usize>,
    /// The interpreted fields after the separator, if the line has one.
    pub enriched: Option<Range<usize>>,
}

/// A line checked and split into header and bodies, borrowing the text.
#[derive(Debug, Clone)]
pub struct ParsedLine<'a> {
    pub text: &'a str,
    pub header: Header,
}

impl<'a> ParsedLine<'a> {
    #[must_use]
    pub fn node(&self) -> Option<&'a str> {
        self.header.node.clone().map(|r| &self.text[r])
    }

    /// Raw fields, then the ENRICHED ones; `msg='…'` of user-space records is opened into its fields.
    #[must_use]
    pub fn fields(&self) -> Fields<'a> {
        Fields::new(&self.text[self.header.body.clone()], self.header.enriched.clone().map(|r| &self.text[r]))
    }

    /// The first raw field named `key`, else the first ENRICHED one.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<Field<'a>> {
        self.fields().find(|f| f.key == key)
    }
}

/// Checks a line (without its newline) and parses its header. Never panics, whatever the bytes.
///
/// # Errors
///
/// When the line is empty, not text, or has no `type=… msg=audit(…):` header.
pub fn parse_line(bytes: &[u8]) -> Result<ParsedLine<'_>, LineError> {
    if bytes.is_empty() {
        return Err(LineError::Empty);
    }
    let text = if is_ascii_without_nul(bytes) {
        // SAFETY: every byte is ASCII, and ASCII is UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    } else {
        // auditd never writes NUL; a NUL means a torn write or a file that is not an audit log.
        if let Some(column) = memchr::memchr(0, bytes) {
            return Err(LineError::Nul { column });
        }
        std::str::from_utf8(bytes).map_err(|e| LineError::NotUtf8 { column: e.valid_up_to() })?
    };
    let header = parse_header(text)?;
    Ok(ParsedLine { text, header })
}

/// Whether every byte is ASCII and none is NUL, as in nearly every line auditd writes (the kernel
/// hex-encodes what is not plain). One pass over 8 bytes at a time, in place of a NUL search and a UTF-8
/// validation: two passes over every byte of the log.
fn is_ascii_without_nul(bytes: &[u8]) -> bool {
    const LOW: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    // High bits of any byte, and of any byte that was 0 (the classic zero-byte test: exact when no byte
    // has its high bit set, and a line with one is not taken here anyway).
    let (mut high, mut zero) = (0u64, 0u64);
    for word in &mut words {
        let w = u64::from_ne_bytes(word.try_into().expect("chunks of 8"));
        high |= w;
        zero |= w.wrapping_sub(LOW) & !w;
    }
    (high | zero) & HIGH == 0 && words.remainder().iter().all(|&b| b != 0 && b < 0x80)
}

fn parse_header(text: &str) -> Result<Header, LineError> {
    let mut pos = 0;
    let mut node = None;
    if let Some(rest) = text.strip_prefix("node=") {
        let end = memchr::memchr(b' ', rest.as_bytes()).ok_or(LineError::NoType)?;
        node = Some(5..5 + end);
        pos = 5 + end + 1;
    }
    let rest = text[pos..].strip_prefix("type=").ok_or(LineError::NoType)?;
    pos += 5;
    let type_len = memchr::memchr(b' ', rest.as_bytes()).ok_or(LineError::NoHeader)?;
    if type_len == 0 {
        return Err(LineError::NoType);
    }
    let kind = RecordType::from_log(&rest[..type_len]);
    pos += type_len + 1;
    // auditd wrote `type=SYSCALL audit(…)` without `msg=` in some versions; auparse reads both.
    let after_type = &text[pos..];
    let skip = if after_type.starts_with("msg=audit(") {
        "msg=audit(".len()
    } else if after_type.starts_with("audit(") {
        "audit(".len()
    } else {
        return Err(LineError::NoHeader);
    };
    let rest = &after_type[skip..];
    pos += skip;

    let (secs, n) = digits(rest).ok_or(LineError::BadHeader { reason: "seconds" })?;
    let rest = rest[n..].strip_prefix('.').ok_or(LineError::BadHeader { reason: "no `.` after the seconds" })?;
    pos += n + 1;
    let (millis, n) = digits(rest).ok_or(LineError::BadHeader { reason: "milliseconds" })?;
    let millis =
        u16::try_from(millis).ok().filter(|m| *m < 1000).ok_or(LineError::BadHeader { reason: "milliseconds" })?;
    let rest = rest[n..].strip_prefix(':').ok_or(LineError::BadHeader { reason: "no `:` before the serial" })?;
    pos += n + 1;
    let (serial, n) = digits(rest).ok_or(LineError::BadHeader { reason: "serial" })?;
    let rest = rest[n..].strip_prefix(')').ok_or(LineError::BadHeader { reason: "no `)` after the serial" })?;
    pos += n + 1;
    // auditd's own DAEMON_CONFIG once came as `msg=audit(…) config changed`, with no colon.
    let rest = match rest.strip_prefix(':') {
        Some(r) => {
            pos += 1;
            r
        }
        None => rest,
    };
    if rest.starts_with(' ') {
        pos += 1;
    }

    let (body, enriched) = match memchr::memchr(ENRICHED_SEPARATOR, &text.as_bytes()[pos..]) {
        Some(i) => (pos..pos + i, Some(pos + i + 1..text.len())),
        None => (pos..text.len(), None),
    };
    Ok(Header { node, kind, id: EventId { secs, millis, serial }, body, enriched })
}

/// A leading run of 1 to 19 ASCII digits (so it always fits in a u64) and its length. Three of these run
/// for every line: accumulated here rather than through `str::parse`, which costs several times more.
fn digits(s: &str) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (n, b) in s.bytes().enumerate() {
        if !b.is_ascii_digit() {
            return (1..=19).contains(&n).then_some((value, n));
        }
        if n == 19 {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    (1..=19).contains(&s.len()).then_some((value, s.len()))
}

/// One `key=value`. `raw` is the value as written, quotes included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    pub key: &'a str,
    pub raw: &'a str,
    /// From the ENRICHED part: auditd's interpretation, not what the kernel sent.
    pub enriched: bool,
}

impl<'a> Field<'a> {
    /// The value as bytes: quotes removed, and hex decoded for the fields the kernel hex-encodes when they
    /// hold a space, a quote or a byte outside printable ASCII (`proctitle`, `name`, `cwd`, `exe`, …).
    #[must_use]
    pub fn decoded(&self) -> Cow<'a, [u8]> {
        let raw = self.raw;
        if let Some(inner) = unquote(raw) {
            return Cow::Borrowed(inner.as_bytes());
        }
        if !self.enriched
            && is_encodable(self.key)
            && let Some(bytes) = decode_hex(raw)
        {
            return Cow::Owned(bytes);
        }
        Cow::Borrowed(raw.as_bytes())
    }

    /// The value as text, hex decoded like [`Field::decoded`]; bytes that are not UTF-8 become U+FFFD.
    #[must_use]
    pub fn decoded_lossy(&self) -> Cow<'a, str> {
        match self.decoded() {
            Cow::Borrowed(b) => String::from_utf8_lossy(b),
            Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
        }
    }
}

fn unquote(raw: &str) -> Option<&str> {
    let b = raw.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return Some(&raw[1..raw.len() - 1]);
    }
    None
}

/// Fields written with `audit_log_untrustedstring` or `audit_log_n_hex`: quoted when clean, hex otherwise.
fn is_encodable(key: &str) -> bool {
    matches!(
        key,
        "proctitle"
            | "name"
            | "cwd"
            | "exe"
            | "comm"
            | "ocomm"
            | "path"
            | "key"
            | "data"
            | "cmd"
            | "acct"
            | "dir"
            | "file"
            | "watch"
            | "old"
            | "new"
            | "vm"
            | "root_dir"
            | "sauid"
            | "grp"
            | "id"
            | "new_group"
            | "old-disk"
            | "new-disk"
    ) || is_execve_arg(key)
}

/// `a0`, `a1`, … and `a3[0]`, `a3_len` excluded: the arguments of an EXECVE record.
fn is_execve_arg(key: &str) -> bool {
    let mut b = key.bytes();
    b.next() == Some(b'a') && key.len() > 1 && b.clone().all(|c| c.is_ascii_digit() || c == b'[' || c == b']')
}

/// Uppercase hex of even length, as the kernel writes it. Lowercase is a number (`a1=7ffd68212af8`).
#[must_use]
pub fn decode_hex(raw: &str) -> Option<Vec<u8>> {
    let b = raw.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks_exact(2).map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?)).collect()
}

/// Iterates the fields of a record, lazily. Words without `=` (as in AVC's `avc:  denied  { read }`) are
/// skipped; an unterminated quote runs to the end of its part.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a str,
    /// Where to go on after the inside of a `msg='…'`.
    outer: Option<&'a str>,
    enriched: Option<&'a str>,
    in_enriched: bool,
}

impl<'a> Fields<'a> {
    pub(super) fn new(body: &'a str, enriched: Option<&'a str>) -> Self {
        Self { rest: body, outer: None, enriched, in_enriched: false }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        loop {
            if let Some((key, raw)) = next_token(&mut self.rest, self.outer.is_none() && !self.in_enriched) {
                // User-space records carry their own fields inside msg='…'.
                if key == "msg" && !self.in_enriched && self.outer.is_none() && raw.starts_with('\'') {
                    let inner = unquote(raw).unwrap_or(&raw[1..]);
                    self.outer = Some(std::mem::replace(&mut self.rest, inner));
                    continue;
                }
                return Some(Field { key, raw, enriched: self.in_enriched });
            }
            if let Some(outer) = self.outer.take() {
                self.rest = outer;
                continue;
            }
            if let Some(enriched) = self.enriched.take() {
                self.rest = enriched;
                self.in_enriched = true;
                continue;
            }
            return None;
        }
    }
}

/// Takes the next `key=value` off the front of `s`. With `top`, a `msg='…'` runs to the last `'` of the
/// part: user space does not encode a `'` inside it (PAM writes `acct='it's'`), so the first one is not
/// the end. The part ends at the ENRICHED separator, so the last `'` is the one user space closed with.
fn next_token<'a>(s: &mut &'a str, top: bool) -> Option<(&'a str, &'a str)> {
    loop {
        let t = s.trim_start_matches(' ');
        if t.is_empty() {
            *s = t;
            return None;
        }
        let word_end = t.find([' ', '=']).unwrap_or(t.len());
        if t.as_bytes().get(word_end) != Some(&b'=') || word_end == 0 {
            // A word without `=`, or `=` with no key: skip up to the next space.
            let skip = if word_end == 0 { t.find(' ').unwrap_or(t.len()) } else { word_end };
            *s = &t[skip.max(1).min(t.len())..];
            continue;
        }
        let key = &t[..word_end];
        let v = &t[word_end + 1..];
        let len = match v.as_bytes().first() {
            Some(b'\'') if top && key == "msg" => v[1..].rfind('\'').map_or(v.len(), |i| i + 2),
            Some(&q @ (b'"' | b'\'')) => v[1..].find(q as char).map_or(v.len(), |i| i + 2),
            _ => v.find(' ').unwrap_or(v.len()),
        };
        *s = &v[len..];
        return Some((key, &v[..len]));
    }
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
