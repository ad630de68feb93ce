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
    /// `-F path=` / `-w FILE`: the syscall's object is the watched inode ([`Facts::watch_hits`], bit =
    /// the rule's position).
    Watch = 11,
    /// `-F dir=` / `-w DIR`: the syscall's object is the directory or beneath it ([`Facts::dir_hits`]).
    Dir = 12,
    /// `-F perm=` (`-p`): the access the syscall asks for ([`Facts::access`]).
    Perm = 13,
}

impl TryFrom<u32> for CondField {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        use CondField::{Arg0, Arg1, Arg2, Arg3, Auid, Dir, Euid, Exit, Gid, Perm, Success, Uid, Watch};
        [Uid, Euid, Auid, Gid, Success, Exit, Arg0, Arg1, Arg2, Arg3, Watch, Dir, Perm]
            .into_iter()
            .find(|f| *f as u32 == v)
            .ok_or(v)
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
/// arguments as the 64-bit registers hold them; for `predict`, the file the syscall touched, where a
/// syscall-exit tracepoint can see it (the file an `open` returned, the program an `execve` runs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub auid: u32,
    pub ret: i64,
    pub args: [u64; 4],
    /// [`OBJECT_KNOWN`] when the file the syscall touched was found (its inode and every parent up to its
    /// file system's root); else path conditions cannot be decided.
    pub object: u32,
    /// Bit `i`: the object (or, for a creating open, its parent) is rule `i`'s watched inode.
    pub watch_hits: u64,
    /// Bit `i`: the object is rule `i`'s watched directory or lies beneath it.
    pub dir_hits: u64,
    /// The `AUDIT_PERM_*` bits the syscall asks for (`audit_match_perm`): from the open flags, exec, or
    /// [`PERM_ALL`] for the syscalls of a class (userspace keeps a perm rule's mask to its classes).
    pub access: u32,
}

/// [`Facts::object`]: the object was found.
pub const OBJECT_KNOWN: u32 = 1;

/// `AUDIT_PERM_*` (include/uapi/linux/audit.h).
pub const PERM_EXEC: u32 = 1;
pub const PERM_WRITE: u32 = 2;
pub const PERM_READ: u32 = 4;
pub const PERM_ATTR: u32 = 8;
pub const PERM_ALL: u32 = 15;

/// `ACC_MODE(flags)` as `audit_match_perm` applies it to `open`'s flags: `O_RDONLY` reads, `O_WRONLY`
/// writes, `O_RDWR` (and the invalid 3) both (include/linux/fs.h, `"\004\002\006\006"`).
#[inline(always)]
#[must_use]
#[expect(clippy::inline_always, reason = "the eBPF matcher runs it and the verifier needs it inlined")]
pub const fn acc_mode(flags: u64) -> u32 {
    match flags & 3 {
        0 => PERM_READ,
        1 => PERM_WRITE,
        _ => PERM_READ | PERM_WRITE,
    }
}

/// Key of the watched-inode map: an inode as the kernel names it (`i_sb->s_dev`, `MKDEV` encoding, and
/// `i_ino`), the pair `audit_watch` and `audit_tree` compare.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[expect(clippy::pub_underscore_fields, reason = "explicit padding, public so both sides can write a literal")]
pub struct InodeKey {
    pub ino: u64,
    pub dev: u32,
    pub _pad: u32,
}
const _: () = assert!(size_of::<InodeKey>() == 16);

/// What a watched inode means to each candidate rule (bit = rule position).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InodeRules {
    /// Rules whose `path=` is this inode.
    pub watch: u64,
    /// Rules whose `dir=` is this inode (or a file system mounted beneath their directory).
    pub dir: u64,
}
const _: () = assert!(size_of::<InodeRules>() == 16);

/// Watched inodes one prediction compares with (targets and the mount roots beneath directory ones).
pub const MAX_WATCHED_INODES: u32 = 1024;
/// Parents walked from an object towards its file system's root; deeper objects are not decided.
pub const MAX_PATH_DEPTH: u32 = 32;

/// What the events a rule decided would cost to record, summed in the kernel per rule: the inputs
/// `predict` sizes records from (the formats are the kernel's; the sizing is userspace's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventCost {
    /// Events with at least one path name (they carry a CWD record).
    pub with_names: u64,
    /// Path names (one PATH record each).
    pub names: u64,
    /// Bytes of the names the matcher could read (the user's path string of an open; the path of the
    /// program an execve runs).
    pub name_bytes: u64,
    /// Names whose bytes were read (the rest are sized at a typical length).
    pub names_read: u64,
    /// Successful execve/execveat events (one EXECVE record each), their argument count and bytes.
    pub execs: u64,
    pub argc: u64,
    pub arg_bytes: u64,
    /// Bytes of the command lines a PROCTITLE record holds (at most 128 each, `MAX_PROCTITLE_AUDIT_LEN`).
    pub title_bytes: u64,
}
const _: () = assert!(size_of::<EventCost>() == 64);

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
            CondField::Watch => id::WATCH,
            CondField::Dir => id::DIR,
            CondField::Perm => id::PERM,
        }
    }
}

#[expect(clippy::inline_always, reason = "the eBPF matcher runs it and the verifier needs it inlined")]
impl Cond {
    /// Whether the condition holds for `facts`, as `audit_filter_rules` decides it; `None` when `facts`
    /// cannot tell (a path condition on a syscall whose file the matcher did not find). A field or
    /// operator number we do not know never holds (the kernel refuses such a rule).
    #[inline(always)]
    #[must_use]
    pub fn decides(&self, facts: &Facts) -> Option<bool> {
        let (Ok(field), Some(op)) = (CondField::try_from(self.field), Op::from_code(self.op)) else {
            return Some(false);
        };
        let left = match field {
            // `audit_watch_compare` / `match_tree_refs`: equality only (auditctl refuses other operators).
            CondField::Watch | CondField::Dir => {
                if facts.object != OBJECT_KNOWN {
                    return None;
                }
                let hits = if matches!(field, CondField::Watch) { facts.watch_hits } else { facts.dir_hits };
                return Some(self.value < 64 && hits & (1 << self.value) != 0);
            }
            // `audit_match_perm`: `mask & perm_of(syscall)`, whatever the operator.
            CondField::Perm => return Some(facts.access & self.value != 0),
            CondField::Uid => facts.uid,
            CondField::Euid => facts.euid,
            CondField::Auid => facts.auid,
            CondField::Gid => facts.gid,
            CondField::Success => {
                return Some(rule_semantics::success_holds(op, self.value, rule_semantics::succeeded(facts.ret)));
            }
            CondField::Exit => rule_semantics::exit_value(facts.ret),
            CondField::Arg0 => rule_semantics::low_32_bits(facts.args[0]),
            CondField::Arg1 => rule_semantics::low_32_bits(facts.args[1]),
            CondField::Arg2 => rule_semantics::low_32_bits(facts.args[2]),
            CondField::Arg3 => rule_semantics::low_32_bits(facts.args[3]),
        };
        Some(rule_semantics::compare_field(field.kernel_id(), op, left, self.value))
    }

    /// [`Cond::decides`], an undecidable condition counting as not holding.
    #[inline(always)]
    #[must_use]
    pub fn holds(&self, facts: &Facts) -> bool {
        self.decides(facts) == Some(true)
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
    /// conditions held here fails, else `Undecided` when the rule has filters we cannot evaluate (or
    /// one `facts` cannot decide), else `Yes`.
    #[inline(always)]
    #[must_use]
    #[expect(clippy::cast_possible_truncation, reason = "`i` < `MAX_CONDS`, a small constant")]
    pub fn judge(&self, facts: &Facts) -> Match {
        let mut unknown = self.opaque != 0;
        for i in 0..MAX_CONDS {
            if i as u32 >= self.cond_count {
                break;
            }
            match self.conds[i].decides(facts) {
                Some(false) => return Match::No,
                None => unknown = true,
                Some(true) => {}
            }
        }
        if unknown { Match::Undecided } else { Match::Yes }
    }
}

/// Kernel struct offsets `predict` reads objects and command lines with (from BTF at load time), and
/// whether it runs: all zero, as `measure` loads the matcher, the matcher reads none of it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PredictOffsets {
    /// 1: find objects and sum [`EventCost`]s.
    pub enabled: u32,
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdt_fd: u32,
    pub fdt_max_fds: u32,
    /// `file.f_path.dentry`.
    pub file_dentry: u32,
    pub dentry_parent: u32,
    pub dentry_inode: u32,
    /// `dentry.d_name.len`: the high half of `d_name.hash_len`.
    pub dentry_name_len: u32,
    pub inode_ino: u32,
    pub inode_sb: u32,
    pub sb_dev: u32,
    pub task_mm: u32,
    pub mm_exe_file: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
}
const _: () = assert!(size_of::<PredictOffsets>() == 64);

/// `x86_64` syscall numbers whose object the matcher finds at exit (`arch/x86/entry/syscalls/syscall_64.tbl`).
pub mod nr {
    pub const OPEN: u32 = 2;
    pub const CREAT: u32 = 85;
    pub const OPENAT: u32 = 257;
    pub const OPENAT2: u32 = 437;
    pub const EXECVE: u32 = 59;
    pub const EXECVEAT: u32 = 322;
}

/// Per-rule counters: `RULE_HITS[i]` first matches, `RULE_HITS[MAX_RULES + i]` undecided.
pub const RULE_HIT_SLOTS: u32 = 2 * MAX_RULES;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers with explicit padding; every bit pattern is valid.
    unsafe impl aya::Pod for super::AddrRange {}
    unsafe impl aya::Pod for super::RuleFilter {}
    unsafe impl aya::Pod for super::InodeKey {}
    unsafe impl aya::Pod for super::InodeRules {}
    unsafe impl aya::Pod for super::EventCost {}
    unsafe impl aya::Pod for super::PredictOffsets {}
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
    fn path_conditions_decide_only_when_the_object_was_found() {
        let watch = |field: CondField, bit| rule(&[(field, Op::Eq, bit)]);
        let found = Facts { object: OBJECT_KNOWN, watch_hits: 1 << 3, dir_hits: 1 << 5, ..Facts::default() };
        assert_eq!(watch(CondField::Watch, 3).judge(&found), Match::Yes);
        assert_eq!(watch(CondField::Watch, 4).judge(&found), Match::No);
        assert_eq!(watch(CondField::Dir, 5).judge(&found), Match::Yes);
        assert_eq!(watch(CondField::Dir, 3).judge(&found), Match::No, "a watch bit is not a dir bit");
        let unseen = Facts { object: 0, ..found };
        assert_eq!(watch(CondField::Watch, 3).judge(&unseen), Match::Undecided);
        // A condition that fails still decides, whatever is unknown beside it.
        let rooted = rule(&[(CondField::Dir, Op::Eq, 5), (CondField::Euid, Op::Eq, 0)]);
        assert_eq!(rooted.judge(&Facts { euid: 1000, ..unseen }), Match::No);
        let perm_wa = rule(&[(CondField::Perm, Op::Eq, PERM_WRITE | PERM_ATTR)]);
        assert_eq!(perm_wa.judge(&Facts { access: acc_mode(0), ..found }), Match::No, "O_RDONLY reads");
        assert_eq!(perm_wa.judge(&Facts { access: acc_mode(0o1101), ..found }), Match::Yes, "O_WRONLY|O_CREAT");
        assert_eq!(perm_wa.judge(&Facts { access: acc_mode(2), ..found }), Match::Yes, "O_RDWR");
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
