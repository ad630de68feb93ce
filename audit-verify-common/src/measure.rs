//! Layouts shared by the measurement sensors: audit drop attribution and in-kernel rule evaluation.

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
/// Syscall mask words (`AUDIT_BITMASK_SIZE`).
pub const MASK_WORDS: usize = 64;

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
        use CondField::*;
        [Uid, Euid, Auid, Gid, Success, Exit, Arg0, Arg1, Arg2, Arg3].into_iter().find(|f| *f as u32 == v).ok_or(v)
    }
}

/// Comparison operators, numbered as in `Cond::op`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CondOp {
    Eq = 1,
    Ne = 2,
    Lt = 3,
    Gt = 4,
    Le = 5,
    Ge = 6,
    BitMask = 7,
    BitTest = 8,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cond {
    /// A [`CondField`].
    pub field: u32,
    /// A [`CondOp`].
    pub op: u32,
    pub value: u32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<Cond>() == 16);

/// `AUDIT_ARCH_*` as the rule's `arch` filter; 0 matches both ABIs.
pub const ARCH_ANY: u32 = 0;
pub const ARCH_B64: u32 = 0xc000_003e;
pub const ARCH_B32: u32 = 0x4000_0003;

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

/// Per-rule counters: `RULE_HITS[i]` first matches, `RULE_HITS[MAX_RULES + i]` undecided.
pub const RULE_HIT_SLOTS: u32 = 2 * MAX_RULES;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers with explicit padding; every bit pattern is valid.
    unsafe impl aya::Pod for super::AddrRange {}
    unsafe impl aya::Pod for super::RuleFilter {}
}
