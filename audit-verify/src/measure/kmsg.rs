//! What the kernel said about lost records: `audit_log_lost()` prints its reason ("backlog limit exceeded",
//! "rate limit exceeded", "kauditd hold queue overflow", ...) to the kernel log, rate-limited. We read
//! /dev/kmsg from the window's start; the reasons seen name the causes, the counts come from elsewhere.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::OpenOptionsExt,
};

pub struct KernelLog {
    file: File,
}

impl KernelLog {
    /// Opens /dev/kmsg positioned at its end: only messages from now on are read.
    pub fn from_now() -> io::Result<Self> {
        let mut file = File::options().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg")?;
        file.seek(SeekFrom::End(0))?;
        Ok(Self { file })
    }

    /// The audit messages since, by text, with how often each appeared. Records printed to the kernel
    /// log when no daemon listens (`audit: type=...`) are counted under one entry.
    pub fn audit_messages(&mut self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(message) = audit_message(&String::from_utf8_lossy(&buf[..n])) {
                        *out.entry(message).or_default() += 1;
                    }
                }
                // EPIPE: the ring buffer wrapped past us; go on with what is there.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
                Err(_) => break, // EAGAIN: nothing more
            }
        }
        out
    }
}

/// `6,1234,5678,-;audit: backlog limit exceeded` → `backlog limit exceeded`.
fn audit_message(record: &str) -> Option<String> {
    let text = record.split_once(';')?.1.lines().next()?.trim();
    let message = text.strip_prefix("audit: ")?;
    if message.starts_with("type=") {
        return Some("records printed to the kernel log (no audit daemon took them)".into());
    }
    // "audit_lost=5 audit_rate_limit=0 audit_backlog_limit=64": numbers vary, keep one entry.
    if message.starts_with("audit_lost=") {
        return Some("audit_lost counter report".into());
    }
    Some(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::audit_message;

    #[test]
    fn keeps_audit_reasons_only() {
        assert_eq!(audit_message("4,100,2000,-;audit: backlog limit exceeded"), Some("backlog limit exceeded".into()));
        assert_eq!(
            audit_message("4,101,2001,-;audit: audit_lost=12 audit_rate_limit=0 audit_backlog_limit=64"),
            Some("audit_lost counter report".into())
        );
        assert_eq!(audit_message("6,102,2002,-;eth0: link up"), None);
    }
}
