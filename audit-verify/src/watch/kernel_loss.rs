//! The kernel's drops, interval by interval: how much `lost` grew (its resets folded in) and why.
//!
//! Growth comes from the sampler ([`crate::measure::sampler`]), which sees `lost` go down when someone
//! resets it. A reset's `CONFIG_CHANGE` record (`op=set lost=0 old=N`, as the kernel's
//! `audit_log_config_change("lost", 0, lost, 1)` writes it) says what `lost` was at the reset, so what
//! grew between the sample before it and the reset is `N - before`: the two are paired here, in order.
//! Reasons come from the backend's attribution (`measure`'s, over the interval's deltas); Σ by reason
//! is made equal to Δlost and checked, and any remainder is `unattributed`.

use std::collections::{BTreeMap, VecDeque};

/// The reasons `watch` exports, in the order a capped interval fills them.
pub const REASONS: [&str; 5] =
    ["backlog_limit", "rate_limit", "hold_or_retry_queue_overflow", "out_of_memory", "unattributed"];

/// Where `unattributed` sits in [`REASONS`].
const UNATTRIBUTED: usize = 4;

/// Intervals a reset waits for its other half (the sampler's decrease, or the record) before it is
/// settled alone.
const PAIRING_INTERVALS: u32 = 3;

/// Drops per reason, indexed like [`REASONS`].
pub type ByReason = [u64; 5];

#[derive(Debug, Default)]
pub struct KernelLoss {
    /// Per reset the sampler saw: `lost` at the sample before it, and intervals waited.
    decreases: VecDeque<(u32, u32)>,
    /// Per reset record heard: its `old=`, and intervals waited.
    records: VecDeque<(u32, u32)>,
    /// Attributed drops that `lost` had not yet counted when the interval was read (the sensors are read
    /// a moment after the last sample); they are owed to the next interval, once.
    carry: ByReason,
    /// Whether attribution ahead of `lost` is carried: for the probe backend, where every call is a drop
    /// that `lost` counts a moment later. The tracepoint backend also sees kauditd free its extra
    /// reference to a record auditd already read (a free that is no drop): carried, those would take the
    /// reason of the next interval's real drops, so they are let go at once.
    carries: bool,
}

/// One interval's kernel loss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub lost: u64,
    pub by_reason: ByReason,
    /// Records dropped after the kernel emitted them (hold/retry queue overflow, counted in `lost`): the
    /// ledger sees them unwritten, and they are the kernel's.
    pub freed_after_emit: u64,
    /// Diagnostics for the log: pairings settled alone, attribution beyond `lost`.
    pub notes: Vec<String>,
}

impl KernelLoss {
    #[must_use]
    pub fn new(carries: bool) -> Self {
        Self { carries, ..Self::default() }
    }

    /// Δlost over an interval: `growth` and `decreases` from the sampler, `records` the reset records
    /// heard meanwhile; then the split by reason, `attribute` being the backend's (measure's reason keys)
    /// over the part of Δlost that earlier intervals' attribution does not already account for.
    pub fn interval(
        &mut self,
        growth: u64,
        decreases: &[u32],
        records: &[u32],
        attribute: impl FnOnce(u64) -> BTreeMap<String, u64>,
    ) -> Interval {
        let mut notes = Vec::new();
        let lost = growth + self.pair(decreases, records, &mut notes);
        // What was attributed last interval ahead of lost comes first; what of it lost still did not
        // count (kauditd's hold queue frees records uncounted without audit=1) is let go now.
        let (owed, _, left) = fill(lost, std::mem::take(&mut self.carry));
        let mut wanted = [0; 5];
        for (reason, n) in attribute(left) {
            wanted[index_of(&reason)] += n;
        }
        let (own, excess, unattributed) = fill(left, wanted);
        if excess.iter().any(|n| *n > 0) {
            notes.push(format!(
                "{} drops attributed beyond lost's growth of {left}: owed to the next interval",
                excess.iter().sum::<u64>()
            ));
        }
        self.carry = if self.carries { excess } else { [0; 5] };
        let mut by_reason = owed;
        by_reason.iter_mut().zip(own).for_each(|(a, b)| *a += b);
        by_reason[UNATTRIBUTED] += unattributed;
        // Only drops lost counted: the tracepoint backend also sees kauditd drop its extra reference to a
        // record auditd already read (a free that is no drop), which must not excuse a real loss.
        let freed_after_emit = by_reason[index_of("hold_or_retry_queue_overflow")];
        let interval = Interval { lost, by_reason, freed_after_emit, notes };
        debug_assert_eq!(interval.by_reason.iter().sum::<u64>(), interval.lost);
        interval
    }

    /// What grew between the sample before each reset and the reset itself.
    fn pair(&mut self, decreases: &[u32], records: &[u32], notes: &mut Vec<String>) -> u64 {
        self.decreases.extend(decreases.iter().map(|b| (*b, 0)));
        self.records.extend(records.iter().map(|o| (*o, 0)));
        let mut owed = 0;
        while !self.decreases.is_empty() && !self.records.is_empty() {
            let ((before, _), (old, _)) =
                (self.decreases.pop_front().unwrap_or_default(), self.records.pop_front().unwrap_or_default());
            owed += u64::from(old.saturating_sub(before));
        }
        for (before, waited) in &mut self.decreases {
            *waited += 1;
            if *waited == PAIRING_INTERVALS {
                notes.push(format!(
                    "lost was reset from at least {before} with no CONFIG_CHANGE record heard: what it counted \
                     in the last 20 ms before the reset is unknown"
                ));
            }
        }
        self.decreases.retain(|(_, w)| *w < PAIRING_INTERVALS);
        for (old, waited) in &mut self.records {
            *waited += 1;
            if *waited == PAIRING_INTERVALS {
                // The sampler never saw lost go down: it grew past `old` again between two samples, and the
                // sampler counted only now - before where lost grew by (old - before) + now.
                owed += u64::from(*old);
                notes.push(format!("lost was reset from {old} and grew past it between two samples"));
            }
        }
        self.records.retain(|(_, w)| *w < PAIRING_INTERVALS);
        owed
    }
}

/// `measure`'s reason keys to ours: what it calls `other` has no reason we can name.
fn index_of(reason: &str) -> usize {
    REASONS.iter().position(|r| *r == reason).unwrap_or(UNATTRIBUTED)
}

/// Fills `lost` from `wanted` in [`REASONS`] order: what is taken, what exceeds `lost`, and what of `lost`
/// is left unfilled.
fn fill(lost: u64, wanted: ByReason) -> (ByReason, ByReason, u64) {
    let mut left = lost;
    let mut out = [0; 5];
    let mut excess = [0; 5];
    for (i, want) in wanted.iter().enumerate() {
        let take = (*want).min(left);
        out[i] = take;
        excess[i] = want - take;
        left -= take;
    }
    (out, excess, left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(r, n)| ((*r).to_owned(), *n)).collect()
    }

    #[test]
    fn the_split_sums_to_the_growth_and_the_rest_is_unattributed() {
        let mut k = KernelLoss::new(true);
        let i = k.interval(10, &[], &[], |lost| {
            assert_eq!(lost, 10);
            reasons(&[("backlog_limit", 6), ("rate_limit", 1)])
        });
        assert_eq!(i.lost, 10);
        assert_eq!(i.by_reason, [6, 1, 0, 0, 3]);
        let i = k.interval(4, &[], &[], |_| reasons(&[("other", 4)]));
        assert_eq!(i.by_reason, [0, 0, 0, 0, 4], "measure's `other` has no reason to name");
    }

    #[test]
    fn attribution_ahead_of_lost_is_owed_to_the_next_interval_once() {
        let mut k = KernelLoss::new(true);
        let i = k.interval(2, &[], &[], |_| reasons(&[("hold_or_retry_queue_overflow", 5)]));
        assert_eq!(i.by_reason, [0, 0, 2, 0, 0]);
        assert_eq!(i.freed_after_emit, 2, "the two lost counted; the rest only when it does");
        assert_eq!(i.notes.len(), 1);
        let i = k.interval(3, &[], &[], |_| BTreeMap::new());
        assert_eq!(i.by_reason, [0, 0, 3, 0, 0], "the three lost counted late have their reason");
        // Frees that lost never counts: carried once, then let go.
        let i = k.interval(0, &[], &[], |_| reasons(&[("hold_or_retry_queue_overflow", 4)]));
        assert_eq!(i.by_reason, [0; 5]);
        let i = k.interval(0, &[], &[], |_| BTreeMap::new());
        assert_eq!(i.by_reason, [0; 5]);
        let i = k.interval(1, &[], &[], |_| BTreeMap::new());
        assert_eq!(i.by_reason, [0, 0, 0, 0, 1], "the carry did not outlive one interval");
        // Without carrying (the tracepoint backend), frees ahead of lost are let go at once.
        let mut k = KernelLoss::new(false);
        let _ = k.interval(2, &[], &[], |_| reasons(&[("hold_or_retry_queue_overflow", 5)]));
        let i = k.interval(3, &[], &[], |lost| reasons(&[("backlog_limit", lost)]));
        assert_eq!(i.by_reason, [3, 0, 0, 0, 0]);
    }

    #[test]
    fn a_reset_adds_what_grew_before_it_whichever_half_comes_first() {
        // lost 100 at the last sample, 130 at the reset (old=130), 7 since: 37.
        let mut k = KernelLoss::new(true);
        assert_eq!(k.interval(7, &[100], &[130], |_| BTreeMap::new()).lost, 37);
        // The record heard an interval after the sampler saw the decrease.
        let mut k = KernelLoss::new(true);
        assert_eq!(k.interval(7, &[100], &[], |_| BTreeMap::new()).lost, 7);
        assert_eq!(k.interval(0, &[], &[130], |_| BTreeMap::new()).lost, 30);
        // A decrease with no record ever: settled alone, with a note, and nothing invented.
        let mut k = KernelLoss::new(true);
        let notes: Vec<_> = (0..4)
            .flat_map(|n| k.interval(0, if n == 0 { &[5][..] } else { &[] }, &[], |_| BTreeMap::new()).notes)
            .collect();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(
            k.interval(0, &[], &[50], |_| BTreeMap::new()).lost,
            0,
            "the old decrease is gone: the record waits"
        );
    }

    #[test]
    fn a_reset_the_sampler_never_saw_adds_the_old_value() {
        // lost went 10 → reset at 12 → 15 between two samples: the sampler counted 5, the truth is 2 + 15.
        let mut k = KernelLoss::new(true);
        let mut total = k.interval(5, &[], &[12], |_| BTreeMap::new()).lost;
        for _ in 0..PAIRING_INTERVALS {
            total += k.interval(0, &[], &[], |_| BTreeMap::new()).lost;
        }
        assert_eq!(total, 17);
    }
}
