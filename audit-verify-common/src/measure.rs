//! Layouts shared by the measurement sensors: audit drop attribution and in-kernel rule evaluation.
//! The evaluation itself is here too, on [`crate::rule_semantics`], so that userspace tests run the
//! code the eBPF matcher runs.

use crate::rule_semantics::{self, Match, Op};

/// Address ranges of the kernel's audit functions (from kallsyms) that `skb:kfree_skb` locations are
/// matched against; drops are counted per range.
pub const MAX_AUDIT_RANGES: u32 = 256;

/// `[start, end)` of one audit function's text.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddrRange {
    pub start: u64,
    pub end: u64,
}
const _: () = assert!(size_of::<AddrRange>() == 16);

/// Rules evaluated in the kernel, in kernel order (first match decides, as in `audit_filter_syscall`).
pub const MAX_RULES: u32 = 64;
/// Conditions per rule the kernel side can evaluate.
pub const MAX_CONDS: usize = 8;
pub use crate::rule_semantics::MASK_WORDS;

/// What a condition looks at.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CondField {
    Uid = 1,
    Euid = 2,
    Auid = 3,
    Gid = 4,
    Success = 5,
    Exit = 6,
    Arg0 = 7,
    Arg1 = 8,
    Arg2 = 9,
    Arg3 = 10,
}

impl TryFrom<u32> for CondField {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        use CondField::{Arg0, Arg1, Arg2, Arg3, Auid, Euid, Exit, Gid, Success, Uid};
        [Uid, Euid, Auid, Gid, Success, Exit, Arg0, Arg1, Arg2, Arg3].into_iter().find(|f| *f as u32 == v).ok_or(v)
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[expect(clippy::pub_underscore_fields, reason = "explicit padding, public so both sides can write a literal")]
pub struct Cond {
    /// A [`CondField`].
    pub field: u32,
    /// An [`Op`], by its kernel number.
    pub op: u32,
    pub value: u32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<Cond>() == 16);

/// [`RuleFilter::arch`] when the rule has no `arch` filter: both ABIs.
pub const ARCH_ANY: u32 = 0;

/// One rule in the form the kernel side evaluates.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleFilter {
    pub mask: [u32; MASK_WORDS],
    pub arch: u32,
    /// `arch!=` rather than `arch=`.
    pub arch_negated: u32,
    /// 1 when the rule has filters the kernel side cannot evaluate: a syscall it selects is then
    /// "undecided" and evaluation stops there, because the real filter may or may not have matched.
    pub opaque: u32,
    pub cond_count: u32,
    pub conds: [Cond; MAX_CONDS],
}
const _: () = assert!(size_of::<RuleFilter>() == 4 * MASK_WORDS + 16 + 16 * MAX_CONDS);

impl Default for RuleFilter {
    fn default() -> Self {
        Self {
            mask: [0; MASK_WORDS],
            arch: 0,
            arch_negated: 0,
            opaque: 0,
            cond_count: 0,
            conds: [Cond::default(); MAX_CONDS],
        }
    }
}

/// What one syscall exit shows the conditions: the task's ids, the return value and the first four
/// arguments as the 64-bit registers hold them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub auid: u32,
    pub ret: i64,
    pub args: [u64; 4],
}

impl CondField {
    /// The kernel's field id (`AUDIT_*`), for the comparator `audit_filter_rules` uses on it.
    #[inline(always)]
    #[must_use]
    pub const fn kernel_id(self) -> u32 {
        use rule_semantics::id;
        match self {
            CondField::Uid => id::UID,
            CondField::Euid => id::EUID,
            CondField::Auid => id::LOGINUID,
            CondField::Gid => id::GID,
            CondField::Success => id::SUCCESS,
            CondField::Exit => id::EXIT,
            CondField::Arg0 => id::ARG0,
            CondField::Arg1 => id::ARG1,
            CondField::Arg2 => id::ARG2,
            CondField::Arg3 => id::ARG3,
        }
    }
}

#[expect(clippy::inline_always, reason = "the eBPF matcher runs it and the verifier needs it inlined")]
impl Cond {
    /// Whether the condition holds for `facts`, as `audit_filter_rules` decides it. A field or operator
    /// number we do not know never holds (the kernel refuses such a rule).
    #[inline(always)]
    #[must_use]
    pub fn holds(&self, facts: &Facts) -> bool {
        let (Ok(field), Some(op)) = (CondField::try_from(self.field), Op::from_code(self.op)) else { return false };
        let left = match field {
            CondField::Uid => facts.uid,
            CondField::Euid => facts.euid,
            CondField::Auid => facts.auid,
            CondField::Gid => facts.gid,
            CondField::Success => {
                return rule_semantics::success_holds(op, self.value, rule_semantics::succeeded(facts.ret));
            }
            CondField::Exit => rule_semantics::exit_value(facts.ret),
            CondField::Arg0 => rule_semantics::low_32_bits(facts.args[0]),
            CondField::Arg1 => rule_semantics::low_32_bits(facts.args[1]),
            CondField::Arg2 => rule_semantics::low_32_bits(facts.args[2]),
            CondField::Arg3 => rule_semantics::low_32_bits(facts.args[3]),
        };
        rule_semantics::compare_field(field.kernel_id(), op, left, self.value)
    }
}

#[expect(clippy::inline_always, reason = "the eBPF matcher runs these and the verifier needs them inlined")]
impl RuleFilter {
    /// Whether the rule's arch filter lets syscalls of ABI `arch` through.
    #[inline(always)]
    #[must_use]
    pub fn admits(&self, arch: u32) -> bool {
        let op = if self.arch_negated != 0 { Op::Ne } else { Op::Eq };
        self.arch == ARCH_ANY || rule_semantics::arch_admits(op, self.arch, arch)
    }

    /// Whether the rule is evaluated for syscall `nr` of ABI `arch` at all: its arch and its mask.
    #[inline(always)]
    #[must_use]
    pub fn selects(&self, nr: u32, arch: u32) -> bool {
        self.admits(arch) && rule_semantics::in_mask(&self.mask, nr)
    }

    /// The rule against a syscall it selects, as the kernel ANDs its conditions: `No` when one of the
    /// conditions held here fails, else `Undecided` when the rule has filters we cannot evaluate, else
    /// `Yes`.
    #[inline(always)]
    #[must_use]
    #[expect(clippy::cast_possible_truncation, reason = "`i` < `MAX_CONDS`, a small constant")]
    pub fn judge(&self, facts: &Facts) -> Match {
        for i in 0..MAX_CONDS {
            if i as u32 >= self.cond_count {
                break;
            }
            if !self.conds[i].holds(facts) {
                return Match::No;
            }
        }
        if self.opaque != 0 { Match::Undecided } else { Match::Yes }
    }
}

/// Per-rule counters: `RULE_HITS[i]` first matches, `RULE_HITS[MAX_RULES + i]` undecided.
pub const RULE_HIT_SLOTS: u32 = 2 * MAX_RULES;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers with explicit padding; every bit pattern is valid.
    unsafe impl aya::Pod for super::AddrRange {}
    unsafe impl aya::Pod for super::RuleFilter {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule_semantics::ARCH_B64;

    fn rule(conds: &[(CondField, Op, u32)]) -> RuleFilter {
        let mut f =
            RuleFilter { arch: ARCH_B64, cond_count: u32::try_from(conds.len()).unwrap(), ..RuleFilter::default() };
        f.mask[1] = 1 << 27; // syscall 59, execve
        for (i, (field, op, value)) in conds.iter().enumerate() {
            f.conds[i] = Cond { field: *field as u32, op: op.code(), value: *value, _pad: 0 };
        }
        f
    }

    #[test]
    fn a_rule_is_judged_with_the_kernels_semantics() {
        let facts = Facts { auid: 1000, ret: -512, args: [0x1_0000_0000, 0, 0, 0], ..Facts::default() };
        let exit_eintr = rule(&[(CondField::Exit, Op::Eq, (-4i32).cast_unsigned())]);
        assert_eq!(exit_eintr.judge(&facts), Match::Yes, "-ERESTARTSYS is audited as -EINTR");
        let failed = rule(&[(CondField::Success, Op::Eq, 0), (CondField::Auid, Op::Ge, 1000)]);
        assert_eq!(failed.judge(&facts), Match::Yes);
        assert_eq!(rule(&[(CondField::Success, Op::Eq, 2)]).judge(&facts), Match::No, "2 means success");
        assert_eq!(rule(&[(CondField::Arg0, Op::Eq, 0)]).judge(&facts), Match::Yes, "low 32 bits");
        assert_eq!(rule(&[(CondField::Auid, Op::BitMask, 8)]).judge(&facts), Match::No, "ids take no bit ops");
        let opaque = RuleFilter { opaque: 1, ..exit_eintr };
        assert_eq!(opaque.judge(&facts), Match::Undecided);
        // A rule with a filter we cannot evaluate (say `-C uid!=euid`) still fails on one we can.
        let opaque_euid_root = RuleFilter { opaque: 1, ..rule(&[(CondField::Euid, Op::Eq, 0)]) };
        assert_eq!(opaque_euid_root.judge(&Facts { euid: 1000, ..facts }), Match::No);
        assert_eq!(opaque_euid_root.judge(&Facts { euid: 0, ..facts }), Match::Undecided);
        let bad_op = RuleFilter { conds: [Cond { op: 7, ..exit_eintr.conds[0] }; MAX_CONDS], ..exit_eintr };
        assert_eq!(bad_op.judge(&facts), Match::No, "an operator number the kernel would refuse");
    }

    #[test]
    fn arch_and_mask_select() {
        let f = rule(&[]);
        assert!(f.selects(59, ARCH_B64));
        assert!(!f.selects(58, ARCH_B64));
        assert!(!f.selects(59, crate::rule_semantics::ARCH_B32));
        let not_b64 = RuleFilter { arch_negated: 1, ..f };
        assert!(not_b64.selects(59, crate::rule_semantics::ARCH_B32));
        assert!(RuleFilter { arch: ARCH_ANY, ..f }.selects(59, ARCH_B64));
    }
}
