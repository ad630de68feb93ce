//! A record: one parsed line that owns its text, with where it came from.

use std::{path::Path, sync::Arc};

use super::{
    line::{EventId, Field, Fields, Header, LineError, ParsedLine, parse_line},
    record_type::RecordType,
};

/// Where a line is: the file, its 1-based line number and the byte offset of its first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<Path>,
    pub line: u64,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct Record {
    text: Box<str>,
    header: Header,
    pub location: Location,
}

impl Record {
    /// Parses `bytes` (one line, without its newline) and keeps a copy of it.
    ///
    /// # Errors
    ///
    /// As [`parse_line`].
    pub fn parse(bytes: &[u8], location: Location) -> Result<Self, LineError> {
        let ParsedLine { text, header } = parse_line(bytes)?;
        Ok(Self { text: text.into(), header, location })
    }

    /// Like [`Record::parse`], but a line with invalid UTF-8 or a NUL is kept rather than lost: those bytes
    /// become U+FFFD, and the error comes back beside the record so the caller can warn. The kernel
    /// hex-encodes what it does not trust, so such bytes come from user space (a message sent with
    /// `audit_log_user_message`) or a damaged disk, and the rest of the record is still evidence.
    ///
    /// # Errors
    ///
    /// When the line, repaired, still has no record header.
    #[inline]
    pub fn parse_lossy(bytes: &[u8], location: Location) -> Result<(Self, Option<LineError>), LineError> {
        match parse_line(bytes) {
            Ok(ParsedLine { text, header }) => Ok((Self { text: text.into(), header, location }, None)),
            Err(e @ (LineError::Nul { .. } | LineError::NotUtf8 { .. })) => {
                let text = String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}");
                let ParsedLine { header, .. } = parse_line(text.as_bytes())?;
                Ok((Self { text: text.into(), header, location }, Some(e)))
            }
            Err(e) => Err(e),
        }
    }

    /// The `node=` prefix auditd adds with `name_format`, if any.
    #[must_use]
    pub fn node(&self) -> Option<&str> {
        self.header.node.clone().map(|r| &self.text[r])
    }

    #[must_use]
    pub fn kind(&self) -> &RecordType {
        &self.header.kind
    }

    #[must_use]
    pub fn id(&self) -> EventId {
        self.header.id
    }

    /// The whole line as written, without the newline.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The raw fields, as the kernel or the sending program wrote them.
    #[must_use]
    pub fn body(&self) -> &str {
        &self.text[self.header.body.clone()]
    }

    /// The interpreted fields auditd appends with `log_format = ENRICHED`.
    #[must_use]
    pub fn enriched(&self) -> Option<&str> {
        self.header.enriched.clone().map(|r| &self.text[r])
    }

    /// Every field, split on demand: raw ones first, then ENRICHED ones.
    #[must_use]
    pub fn fields(&self) -> Fields<'_> {
        let Self { text, header, location: _ } = self;
        Fields::new(&text[header.body.clone()], header.enriched.clone().map(|r| &text[r]))
    }

    /// The first raw field named `key`, else the first ENRICHED one.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<Field<'_>> {
        self.fields().find(|f| f.key == key)
    }
}
