//! `struct audit_status` (include/uapi/linux/audit.h) and the `AUDIT_SET` mask.

use serde::Serialize;

/// `AUDIT_STATUS_*` mask bits: which fields an `AUDIT_SET` changes.
pub mod mask {
    pub const ENABLED: u32 = 0x0001;
    pub const FAILURE: u32 = 0x0002;
    pub const RATE_LIMIT: u32 = 0x0008;
    pub const BACKLOG_LIMIT: u32 = 0x0010;
    pub const BACKLOG_WAIT_TIME: u32 = 0x0020;
}

/// Eleven `u32`s; kernels before 5.9 send ten (no `backlog_wait_time_actual`), before 3.14 nine.
const FULL_LEN: usize = 11 * 4;
const MIN_LEN: usize = 9 * 4;

/// The kernel's audit status as `AUDIT_GET` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditStatus {
    /// 0 off, 1 on, 2 on and locked (rules immutable until reboot).
    pub enabled: u32,
    /// What the kernel does when it cannot log: 0 silent, 1 printk, 2 panic.
    pub failure: u32,
    /// The registered audit daemon, 0 if none.
    pub pid: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    pub lost: u32,
    pub backlog: u32,
    pub feature_bitmap: u32,
    pub backlog_wait_time: Option<u32>,
    pub backlog_wait_time_actual: Option<u32>,
}

impl AuditStatus {
    /// An `AUDIT_GET` reply's `struct audit_status`; the fields newer kernels append are optional.
    ///
    /// # Errors
    ///
    /// When `payload` is shorter than the fields every kernel sends.
    #[expect(clippy::missing_panics_doc, reason = "`must` reads only fields below `MIN_LEN`, checked first")]
    pub fn parse(payload: &[u8]) -> Result<Self, String> {
        if payload.len() < MIN_LEN {
            return Err(format!("audit_status of {} bytes, expected at least {MIN_LEN}", payload.len()));
        }
        let field =
            |i: usize| payload.get(i * 4..i * 4 + 4).map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
        let must = |i| field(i).expect("checked above");
        Ok(Self {
            enabled: must(1),
            failure: must(2),
            pid: must(3),
            rate_limit: must(4),
            backlog_limit: must(5),
            lost: must(6),
            backlog: must(7),
            feature_bitmap: must(8),
            backlog_wait_time: field(9),
            backlog_wait_time_actual: field(10),
        })
    }

    #[must_use]
    pub fn locked(&self) -> bool {
        self.enabled == 2
    }
}

/// An `AUDIT_SET` request: only the fields whose mask bit is set are changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub mask: u32,
    pub enabled: u32,
    pub failure: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    pub backlog_wait_time: u32,
}

impl StatusChange {
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let Self { mask, enabled, failure, rate_limit, backlog_limit, backlog_wait_time } = *self;
        // mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog, features, wait, wait_actual
        let words = [mask, enabled, failure, 0, rate_limit, backlog_limit, 0, 0, 0, backlog_wait_time, 0];
        let mut out = Vec::with_capacity(FULL_LEN);
        for word in words {
            out.extend_from_slice(&word.to_ne_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[u32]) -> Vec<u8> {
        w.iter().flat_map(|w| w.to_ne_bytes()).collect()
    }

    #[test]
    fn parses_the_5_9_layout_and_older_ones() {
        let new = AuditStatus::parse(&words(&[0, 1, 1, 42, 0, 8192, 3, 0, 0x7f, 60000, 12])).unwrap();
        assert_eq!((new.enabled, new.pid, new.backlog_limit, new.lost), (1, 42, 8192, 3));
        assert_eq!((new.backlog_wait_time, new.backlog_wait_time_actual), (Some(60000), Some(12)));
        let old = AuditStatus::parse(&words(&[0, 2, 1, 42, 0, 64, 0, 0, 0, 60000])).unwrap();
        assert!(old.locked());
        assert_eq!(old.backlog_wait_time_actual, None);
        assert!(AuditStatus::parse(&words(&[0, 1])).is_err());
    }

    #[test]
    fn a_change_puts_each_field_in_its_kernel_slot() {
        let change = StatusChange { mask: mask::BACKLOG_LIMIT, backlog_limit: 320, ..Default::default() };
        let bytes = change.encode();
        assert_eq!(bytes.len(), FULL_LEN);
        assert_eq!(&bytes[0..4], &mask::BACKLOG_LIMIT.to_ne_bytes());
        assert_eq!(&bytes[20..24], &320u32.to_ne_bytes());
    }
}
