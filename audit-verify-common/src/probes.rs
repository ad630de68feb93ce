//! Layouts shared by the kprobe/fentry backend: counters on the audit functions themselves, and the
//! messages `audit_log_lost` was called with (one per drop, the reason in the kernel's own words).

/// Counters kept by the probe programs, summed over CPUs in userspace.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeCounter {
    /// `audit_log_start` returned.
    LogStartCalls = 0,
    /// ... with NULL: no record (dropped, or excluded by an exclude-list rule, or audit not initialised).
    LogStartNull = 1,
    /// `audit_log_end` with a buffer: a record finished (queued, unless the rate limit drops it).
    LogEndRecords = 2,
    /// `audit_log_lost` calls: every drop the kernel counts in `lost`.
    LostCalls = 3,
    /// Drops whose message could not be kept (map full or unreadable string).
    LostUnclassified = 4,
    /// `kauditd_hold_skb`: a record auditd did not take, kept for a future daemon (or dropped).
    HoldSkb = 5,
    /// `kauditd_retry_skb`: a record to send again.
    RetrySkb = 6,
    /// `kauditd_rehold_skb`: a held record put back after a failed resend.
    ReholdSkb = 7,
    /// `netlink_unicast` from the kauditd thread returned >= 0: delivered to auditd's socket.
    UnicastDelivered = 8,
    /// ... returned < 0: not delivered (auditd gone, or its socket full).
    UnicastFailed = 9,
    /// Records with a netlink type >= [`MAX_RECORD_TYPE`], not counted by type.
    TypeOutOfRange = 10,
    /// Records whose `audit(...:serial)` prefix could not be read or parsed.
    SerialUnparsed = 11,
}

impl ProbeCounter {
    pub const ALL: [ProbeCounter; 12] = [
        ProbeCounter::LogStartCalls,
        ProbeCounter::LogStartNull,
        ProbeCounter::LogEndRecords,
        ProbeCounter::LostCalls,
        ProbeCounter::LostUnclassified,
        ProbeCounter::HoldSkb,
        ProbeCounter::RetrySkb,
        ProbeCounter::ReholdSkb,
        ProbeCounter::UnicastDelivered,
        ProbeCounter::UnicastFailed,
        ProbeCounter::TypeOutOfRange,
        ProbeCounter::SerialUnparsed,
    ];
    #[expect(clippy::cast_possible_truncation, reason = "a constant array of a few entries")]
    pub const COUNT: u32 = Self::ALL.len() as u32;
}

impl TryFrom<u32> for ProbeCounter {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        Self::ALL.into_iter().find(|c| *c as u32 == v).ok_or(v)
    }
}

/// Netlink audit message types are below 3000 (include/uapi/linux/audit.h); the map is a power of two.
pub const MAX_RECORD_TYPE: u32 = 4096;

/// Lowest and highest serial of the records one CPU saw queued (`min == 0`: none; serials start at 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SerialRange {
    pub min: u64,
    pub max: u64,
}
const _: () = assert!(size_of::<SerialRange>() == 16);

/// Distinct messages `audit_log_lost` can be called with; they are string literals, so few.
pub const MAX_LOST_MESSAGES: u32 = 32;
/// Bytes of each message kept, NUL included; the longest in Linux 6.x is 33.
pub const LOST_MESSAGE_LEN: usize = 56;

/// How often one `audit_log_lost` message was seen on one CPU, and its text (NUL-terminated).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LostMessage {
    pub count: u64,
    pub text: [u8; LOST_MESSAGE_LEN],
}
const _: () = assert!(size_of::<LostMessage>() == 8 + LOST_MESSAGE_LEN);

impl Default for LostMessage {
    fn default() -> Self {
        Self { count: 0, text: [0; LOST_MESSAGE_LEN] }
    }
}

impl LostMessage {
    /// The text up to its NUL.
    #[must_use]
    pub fn message(&self) -> &[u8] {
        let end = self.text.iter().position(|b| *b == 0).unwrap_or(LOST_MESSAGE_LEN);
        &self.text[..end]
    }
}

/// Why the kernel dropped a record, from `audit_log_lost`'s message (kernel/audit.c).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// "backlog limit exceeded": `audit_log_start`, the queue was over `backlog_limit`.
    BacklogLimit = 1,
    /// "rate limit exceeded": `audit_log_end`, over `rate_limit` records per second.
    RateLimit = 2,
    /// "kauditd hold queue overflow": no auditd, and the hold queue is full.
    HoldQueueOverflow = 3,
    /// "kauditd retry queue overflow": auditd's socket full, and the retry queue is full.
    RetryQueueOverflow = 4,
    /// "out of memory in `audit_log_start`".
    OutOfMemory = 5,
    /// Any other message.
    Other = 6,
}

impl LostReason {
    #[must_use]
    pub fn classify(message: &[u8]) -> Self {
        match message {
            b"backlog limit exceeded" => Self::BacklogLimit,
            b"rate limit exceeded" => Self::RateLimit,
            b"kauditd hold queue overflow" => Self::HoldQueueOverflow,
            b"kauditd retry queue overflow" => Self::RetryQueueOverflow,
            b"out of memory in audit_log_start" => Self::OutOfMemory,
            _ => Self::Other,
        }
    }
}

impl TryFrom<u32> for LostReason {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        use LostReason::{BacklogLimit, HoldQueueOverflow, Other, OutOfMemory, RateLimit, RetryQueueOverflow};
        [BacklogLimit, RateLimit, HoldQueueOverflow, RetryQueueOverflow, OutOfMemory, Other]
            .into_iter()
            .find(|r| *r as u32 == v)
            .ok_or(v)
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers and bytes, no padding; every bit pattern is valid.
    unsafe impl aya::Pod for super::SerialRange {}
    unsafe impl aya::Pod for super::LostMessage {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_round_trip() {
        for c in ProbeCounter::ALL {
            assert_eq!(ProbeCounter::try_from(c as u32), Ok(c));
        }
        assert_eq!(ProbeCounter::try_from(ProbeCounter::COUNT), Err(ProbeCounter::COUNT));
    }

    #[test]
    fn every_kernel_message_has_its_reason() {
        assert_eq!(LostReason::classify(b"backlog limit exceeded"), LostReason::BacklogLimit);
        assert_eq!(LostReason::classify(b"rate limit exceeded"), LostReason::RateLimit);
        assert_eq!(LostReason::classify(b"kauditd hold queue overflow"), LostReason::HoldQueueOverflow);
        assert_eq!(LostReason::classify(b"kauditd retry queue overflow"), LostReason::RetryQueueOverflow);
        assert_eq!(LostReason::classify(b"out of memory in audit_log_start"), LostReason::OutOfMemory);
        assert_eq!(LostReason::classify(b"backlog limit"), LostReason::Other);
        for r in 1..=6 {
            assert_eq!(LostReason::try_from(r).map(|r| r as u32), Ok(r));
        }
    }

    #[test]
    fn message_stops_at_nul() {
        let mut m = LostMessage::default();
        m.text[..5].copy_from_slice(b"abc\0d");
        assert_eq!(m.message(), b"abc");
    }
}
