//! The one way the CLI writes to stdout and stderr.
//!
//! `println!` and `eprintln!` panic when the other end of the pipe is gone (`audit-verify status | head
//! -c 10` ended in a panic and exit 101). As ripgrep does, a closed pipe here means the reader has seen
//! enough: the rest of the output is dropped quietly and the run still ends with its own exit code. Any
//! other write error (a full disk behind a redirect) is reported once and makes the run fail
//! ([`failed`]), because a report that was cut short must not look complete.

use std::{
    fmt,
    io::{self, Write},
    sync::atomic::{AtomicBool, Ordering},
};

/// Set once stdout's reader went away: later results are not even formatted into the pipe.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// Set when writing a result failed for another reason than a closed pipe.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Writes results (`out!`, `outln!`).
pub fn stdout(args: fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        } else if !STDOUT_FAILED.swap(true, Ordering::Relaxed) {
            let _ = writeln!(io::stderr(), "audit-verify: error: writing the results to stdout: {e}");
        }
    }
}

/// Writes progress and diagnostics (`err!`, `errln!`). Progress that cannot be shown is not worth
/// stopping a run for, so every error is ignored.
pub fn stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// Whether some result could not be written (other than to a closed pipe): the run must not exit 0.
pub fn failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

/// `print!` that survives a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::stdout(format_args!($($arg)*)) };
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    () => { $crate::cli::output::stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => { $crate::cli::output::stderr(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::output::stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {err, errln, out, outln};

/// A report as pretty JSON; when a signal cut the run short, marked at the top level with
/// `"partial": true` and `"interrupted": "SIGINT"` (the report covers what was done until then).
pub fn json(report: &impl serde::Serialize) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(report)?;
    if let (Some(signal), Some(object)) = (audit_verify::stop::requested(), value.as_object_mut()) {
        object.insert("partial".into(), true.into());
        object.insert("interrupted".into(), audit_verify::stop::signal_name(signal).into());
    }
    serde_json::to_string_pretty(&value)
}

/// The table's line saying the run was cut short, if it was.
pub fn partial_line(what_was_done: &str) -> Option<String> {
    let signal = audit_verify::stop::requested()?;
    Some(format!(
        "PARTIAL: interrupted by {}; {what_was_done} (exit {})",
        audit_verify::stop::signal_name(signal),
        audit_verify::stop::exit_status(signal)
    ))
}
