//! audit.log reader: records (RAW and ENRICHED), events, rotated files, and a follower.
//!
//! LAP_NOTE
//!
//! Layers, each usable alone: [`line::parse_line`] checks one line and parses its header, fields on
//! demand; [`record::Record`] owns a line and knows where it came from; [`event::EventAssembler`] groups
//! records into events in a bounded window; [`reader::LogReader`] reads finished files (a rotation set,
//! oldest first) and [`follow::Follower`] a growing one. Bad lines never stop a read: they are skipped and
//! counted in [`warnings::Warnings`], with file and line.

use std::{io, path::PathBuf};

use thiserror::Error;

pub mod event;
pub mod follow;
pub mod line;
pub mod reader;
pub mod record;
pub mod record_type;
mod split;
pub mod synth;
pub mod warnings;

pub use event::{Completion, Event, EventAssembler, Window};
pub use follow::Follower;
pub use line::{EventId, Field, Fields, LineError, ParsedLine, parse_line};
pub use reader::{Events, LogReader, rotated_files};
pub use record::{Location, Record};
pub use record_type::RecordType;
pub use split::MAX_LINE_LEN;
pub use warnings::{Warning, WarningKind, Warnings};

/// Errors that stop reading a file. Bad lines are not errors: see [`Warnings`].
#[derive(Debug, Error)]
pub enum AuditLogError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot list {path}: {source}")]
    ListDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} does not name a file")]
    NotAFile { path: PathBuf },
}

#[cfg(test)]
mod test_dir;
