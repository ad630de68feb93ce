//! The kernel's audit rule semantics, written once for its three readers: the in-kernel matcher of
//! `measure` (audit-verify-ebpf's `match_rules.rs`), the prover's "would this action match?" and the rule
//! diff's implication and shadowing. Everything here is allocation-free, loops only over constant bounds
//! and is `#[inline(always)]`, because the eBPF verifier has to accept it inside the matcher.
//!
//! Kernel sources: kernel/auditfilter.c (`audit_comparator`, `audit_uid_comparator`, `audit_to_op`,
//! `audit_field_valid`) and kernel/auditsc.c (`audit_filter_rules`, `audit_filter_syscall`,
//! `audit_return_fixup`), unchanged in these respects from 4.x to 6.x.
// The module's premise (see above); clippy's advice is for code that runs where calls are cheap.
#![expect(clippy::inline_always, reason = "the eBPF matcher runs these and the verifier needs them inlined")]

/// `AUDIT_ARCH_X86_64` and `AUDIT_ARCH_I386`, as `-F arch=b64` / `b32` store them.
pub const ARCH_B64: u32 = 0xc000_003e;
pub const ARCH_B32: u32 = 0x4000_0003;

/// `AUDIT_BITMASK_SIZE`: words of a rule's syscall mask.
pub const MASK_WORDS: usize = 64;
/// Bits of a rule's syscall mask: syscall numbers at or above it are never in one.
pub const MASK_BITS: u32 = 2048;
const _: () = assert!(MASK_BITS as usize == MASK_WORDS * 32);

/// `(u32)-1`: "unset" for the loginuid and other ids (`AUDIT_UID_UNSET`).
pub const UNSET: u32 = u32::MAX;

/// `AUDIT_*` field ids (include/uapi/linux/audit.h) whose meaning the semantics here depend on, or that
/// the userspace crate uses by name. The full name table is generated from the header by build.rs.
pub mod id {
    pub const UID: u32 = 1;
    pub const EUID: u32 = 2;
    pub const SUID: u32 = 3;
    pub const FSUID: u32 = 4;
    pub const GID: u32 = 5;
    pub const EGID: u32 = 6;
    pub const SGID: u32 = 7;
    pub const FSGID: u32 = 8;
    pub const LOGINUID: u32 = 9;
    pub const ARCH: u32 = 11;
    pub const MSGTYPE: u32 = 12;
    pub const LOGINUID_SET: u32 = 24;
    pub const FSTYPE: u32 = 26;
    pub const EXIT: u32 = 103;
    pub const SUCCESS: u32 = 104;
    pub const WATCH: u32 = 105;
    pub const PERM: u32 = 106;
    pub const DIR: u32 = 107;
    pub const FILETYPE: u32 = 108;
    pub const OBJ_UID: u32 = 109;
    pub const OBJ_GID: u32 = 110;
    pub const FIELD_COMPARE: u32 = 111;
    pub const EXE: u32 = 112;
    pub const ARG0: u32 = 200;
    pub const ARG1: u32 = 201;
    pub const ARG2: u32 = 202;
    pub const ARG3: u32 = 203;
    pub const FILTERKEY: u32 = 210;
}

/// A comparison operator, numbered as `fieldflags` carries it (`AUDIT_EQUAL` … `AUDIT_BIT_TEST`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "user", derive(serde::Serialize))]
pub enum Op {
    Eq = 0x4000_0000,
    Ne = 0x3000_0000,
    Lt = 0x1000_0000,
    Gt = 0x2000_0000,
    Le = 0x5000_0000,
    Ge = 0x6000_0000,
    /// `&`: some bit of the value is set.
    BitMask = 0x0800_0000,
    /// `&=`: every bit of the value is set.
    BitTest = 0x4800_0000,
}

impl Op {
    pub const ALL: [Op; 8] = [Op::Eq, Op::Ne, Op::Lt, Op::Gt, Op::Le, Op::Ge, Op::BitMask, Op::BitTest];

    /// The `fieldflags` number.
    #[inline(always)]
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// `audit_to_op`: any other number is `Audit_bad`, a rule the kernel refuses.
    #[inline(always)]
    #[must_use]
    pub const fn from_code(code: u32) -> Option<Op> {
        // A match, not a search over ALL: the eBPF side decodes with it and must not loop.
        Some(match code {
            0x4000_0000 => Op::Eq,
            0x3000_0000 => Op::Ne,
            0x1000_0000 => Op::Lt,
            0x2000_0000 => Op::Gt,
            0x5000_0000 => Op::Le,
            0x6000_0000 => Op::Ge,
            0x0800_0000 => Op::BitMask,
            0x4800_0000 => Op::BitTest,
            _ => return None,
        })
    }

    /// How auditctl writes it.
    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::BitMask => "&",
            Op::BitTest => "&=",
        }
    }
}

impl TryFrom<u32> for Op {
    type Error = u32;
    #[inline(always)]
    fn try_from(code: u32) -> Result<Self, u32> {
        Op::from_code(code).ok_or(code)
    }
}

/// `audit_comparator`: both sides are `u32`, so the kernel compares the low 32 bits of whatever it
/// holds (a 64-bit syscall argument, the `long` return code), unsigned: `exit<0` never matches.
#[inline(always)]
#[must_use]
pub fn compare(op: Op, left: u32, right: u32) -> bool {
    match op {
        Op::Eq => left == right,
        Op::Ne => left != right,
        Op::Lt => left < right,
        Op::Gt => left > right,
        Op::Le => left <= right,
        Op::Ge => left >= right,
        Op::BitMask => left & right != 0,
        Op::BitTest => left & right == right,
    }
}

/// `audit_uid_comparator` / `audit_gid_comparator`: as [`compare`], except that the bit operators never
/// match (the kernel also refuses to load them on these fields).
#[inline(always)]
#[must_use]
pub fn compare_id(op: Op, left: u32, right: u32) -> bool {
    !matches!(op, Op::BitMask | Op::BitTest) && compare(op, left, right)
}

/// Fields `audit_filter_rules` compares with the uid/gid comparator.
#[inline(always)]
#[must_use]
pub const fn is_id_field(field: u32) -> bool {
    matches!(
        field,
        id::UID
            | id::EUID
            | id::SUID
            | id::FSUID
            | id::LOGINUID
            | id::OBJ_UID
            | id::GID
            | id::EGID
            | id::SGID
            | id::FSGID
            | id::OBJ_GID
    )
}

/// Field `field`'s value `left` against the rule's `op right`, with the comparator the kernel uses for
/// that field. (`success` is not a plain comparison: see [`success_holds`].)
#[inline(always)]
#[must_use]
pub fn compare_field(field: u32, op: Op, left: u32, right: u32) -> bool {
    if is_id_field(field) { compare_id(op, left, right) } else { compare(op, left, right) }
}

/// `MAX_ERRNO`: a return value in `[-4095, -1]` is an error (`IS_ERR_VALUE`).
pub const MAX_ERRNO: i64 = 4095;

/// Whether a syscall that returned `ret` succeeded, as `audit_syscall_exit` decides it
/// (`is_syscall_success`): every value outside `[-MAX_ERRNO, -1]` is success, even a negative pointer.
#[inline(always)]
#[must_use]
pub fn succeeded(ret: i64) -> bool {
    !(-MAX_ERRNO..0).contains(&ret)
}

/// `-ERESTARTSYS` … `-ERESTART_RESTARTBLOCK` and the `-ENOIOCTLCMD` among them (include/linux/errno.h).
const ERESTARTSYS: i64 = 512;
const ENOIOCTLCMD: i64 = 515;
const ERESTART_RESTARTBLOCK: i64 = 516;
const EINTR: i64 = 4;

/// The value `exit` is compared with for a syscall that returned `ret`: `audit_return_fixup` turns the
/// restart codes the signal code will rewrite into `-EINTR` (what the process sees), then
/// `audit_comparator` takes the low 32 bits.
#[inline(always)]
#[must_use]
pub fn exit_value(ret: i64) -> u32 {
    let restart = (-ERESTART_RESTARTBLOCK..=-ERESTARTSYS).contains(&ret) && ret != -ENOIOCTLCMD;
    low_32_bits((if restart { -EINTR } else { ret }).cast_unsigned())
}

/// The low 32 bits of a 64-bit value: what `audit_comparator`, whose operands are `u32`, compares of a
/// syscall argument or return code.
#[inline(always)]
#[must_use]
#[expect(clippy::cast_possible_truncation, reason = "the truncation is the kernel's semantics")]
pub const fn low_32_bits(value: u64) -> u32 {
    value as u32
}

/// `AUDITSC_SUCCESS` / `AUDITSC_FAILURE`: what `success` compares (`ctx->return_valid`).
pub const AUDITSC_SUCCESS: u32 = 1;
pub const AUDITSC_FAILURE: u32 = 2;

/// `-F success<op>value` for a syscall that did (`ok`) or did not succeed: the kernel compares
/// `return_valid` with `AUDITSC_SUCCESS` when the value is non-zero, else with `AUDITSC_FAILURE`. So
/// `success=2` means `success=1`, `success>1` matches failures and `success>0` nothing.
#[inline(always)]
#[must_use]
pub fn success_holds(op: Op, value: u32, ok: bool) -> bool {
    let valid = if ok { AUDITSC_SUCCESS } else { AUDITSC_FAILURE };
    compare(op, valid, if value != 0 { AUDITSC_SUCCESS } else { AUDITSC_FAILURE })
}

/// Whether a rule's `arch` condition (`op` is `=` or `!=`, the only ones the kernel accepts) admits a
/// syscall of ABI `arch`.
#[inline(always)]
#[must_use]
pub fn arch_admits(op: Op, rule_arch: u32, arch: u32) -> bool {
    compare(op, arch, rule_arch)
}

/// `audit_in_mask`: whether a rule's syscall mask selects syscall `nr`.
#[inline(always)]
#[must_use]
pub fn in_mask(mask: &[u32; MASK_WORDS], nr: u32) -> bool {
    if nr >= MASK_BITS {
        return false;
    }
    // The eBPF verifier must see a bound on the register that indexes. LLVM proves `word < 64` from the
    // check above and drops a plain mask, then indexes with an unbounded copy hoisted out of the caller's
    // loop; a volatile re-read hides the range from LLVM, so the mask stays where the verifier needs it.
    let word = (nr >> 5) as usize;
    // SAFETY: reads a local.
    let word = unsafe { core::ptr::read_volatile(&raw const word) } & (MASK_WORDS - 1);
    // Volatile too because the matcher passes a global the loader overrides (`ANY_RULE_MASK`): read
    // plainly, LLVM folds it to its all-zero initialiser.
    // SAFETY: `word` is in bounds.
    let bits = unsafe { core::ptr::read_volatile(&raw const mask[word]) };
    bits & (1 << (nr & 31)) != 0
}

/// One rule against one event: matched, not matched, or not decidable from what the reader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    Yes,
    No,
    Undecided,
}

/// What a first-match filter list (`audit_filter_syscall` on the exit list) decides for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstMatch {
    /// Rule `i` matches and every rule before it does not: rule `i` decides.
    Rule(u32),
    /// Rule `i` may match, so which rule decides is unknown from `i` on.
    Undecided(u32),
    /// No rule matches.
    None,
}

/// Walks rules `0..count` (at most `max`) in list order, as `audit_filter_syscall` does: the first that
/// matches decides, and the walk stops there. `rule(i)` judges rule `i`; its error ends the walk.
///
/// # Errors
///
/// The first error `rule` returns.
#[inline(always)]
pub fn first_match<E>(count: u32, max: u32, mut rule: impl FnMut(u32) -> Result<Match, E>) -> Result<FirstMatch, E> {
    // A constant bound for the verifier; `count` only shortens it.
    for i in 0..max {
        if i >= count {
            break;
        }
        match rule(i)? {
            Match::Yes => return Ok(FirstMatch::Rule(i)),
            Match::Undecided => return Ok(FirstMatch::Undecided(i)),
            Match::No => {}
        }
    }
    Ok(FirstMatch::None)
}

/// Whether every value satisfying `left op_a a` also satisfies `left op_b b`, over all of `u32`, for the
/// comparison [`compare`] makes: the implication between two conditions on one field.
#[must_use]
pub fn implies(have: (Op, u32), want: (Op, u32)) -> bool {
    implies_within(u32::MAX, have, want)
}

/// Whether some value satisfies both conditions: two rules whose conditions on a field are not
/// compatible never match the same event.
#[must_use]
pub fn compatible(a: (Op, u32), b: (Op, u32)) -> bool {
    compatible_within(u32::MAX, a, b)
}

/// [`implies`] over the values `0..=max` (`max` is `2^k - 1`): exhaustive tests run it on a small `k`.
pub(crate) fn implies_within(max: u32, (op_a, a): (Op, u32), (op_b, b): (Op, u32)) -> bool {
    witnesses(max, a, b).into_iter().filter(|x| *x <= max).all(|x| !compare(op_a, x, a) || compare(op_b, x, b))
}

/// [`compatible`] over the values `0..=max`.
pub(crate) fn compatible_within(max: u32, (op_a, a): (Op, u32), (op_b, b): (Op, u32)) -> bool {
    witnesses(max, a, b).into_iter().filter(|x| *x <= max).any(|x| compare(op_a, x, a) && compare(op_b, x, b))
}

/// Instead of reasoning per operator pair, [`implies_within`] looks for a counterexample and
/// [`compatible_within`] for a common value among these: the extreme members of the sets the operators
/// describe (smallest, largest, the values themselves and their neighbours, the lowest and highest bit of
/// a mask, the union of two masks, the largest value clear of a mask or missing one of its bits). For
/// every pair of conditions, such a value exists among them whenever one exists at all; the exhaustive
/// tests check exactly that.
fn witnesses(max: u32, a: u32, b: u32) -> [u32; 19] {
    let low_bit = |v: u32| v & v.wrapping_neg();
    let high_bit = |v: u32| if v == 0 { 0 } else { 1 << v.ilog2() };
    [
        0,
        1,
        max,
        max.wrapping_sub(1),
        a.wrapping_sub(1),
        a,
        a.wrapping_add(1),
        b.wrapping_sub(1),
        b,
        b.wrapping_add(1),
        low_bit(a),
        high_bit(a),
        low_bit(b),
        a | b,
        a & !b,
        max & !b,
        max ^ low_bit(b),
        max & !a,
        max ^ low_bit(a),
    ]
}

#[cfg(test)]
#[path = "rule_semantics_tests.rs"]
mod tests;
