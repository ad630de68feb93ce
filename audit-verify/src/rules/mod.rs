//! Audit rules, read from both ends: the rules files an operator meant to load, and the rules the kernel
//! holds. Both become the same [`Rule`], the kernel's own form (field ids, operator codes, syscall bit
//! mask), so that comparing them is exact rather than textual.

pub mod augenrules;
pub mod diff;
pub mod fields;
mod filevercmp;
pub mod kernel;
pub mod parse;
mod render;

use std::{fmt, path::PathBuf, sync::Arc};

use serde::Serialize;

use crate::{
    finding::{Finding, Severity},
    netlink::{AuditSocket, NetlinkError},
};

/// The kernel's rules, decoded, in kernel order. A rule that cannot be decoded becomes a finding.
///
/// # Errors
///
/// When the kernel cannot be asked for its rules.
pub fn loaded(socket: &mut AuditSocket) -> Result<(Vec<Rule>, Vec<Finding>), NetlinkError> {
    let mut rules = Vec::new();
    let mut findings = Vec::new();
    for (i, raw) in socket.list_rules()?.iter().enumerate() {
        match kernel::decode(raw) {
            Ok(rule) => rules.push(rule),
            Err(e) => findings.push(
                Finding::new(
                    "undecodable_rule",
                    Severity::Medium,
                    format!("loaded rule {} cannot be read: {e}", i + 1),
                )
                .at(format!("kernel rule {}", i + 1)),
            ),
        }
    }
    Ok((rules, findings))
}

/// Where a line came from: every parsed rule keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub file: Arc<PathBuf>,
    /// 1-based.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `AUDIT_FILTER_*`: the list a rule is evaluated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterList {
    User = 0,
    Task = 1,
    /// Deprecated since 2.6.x; auditctl refuses it, the kernel still lists it.
    Entry = 2,
    Exit = 4,
    Exclude = 5,
    Filesystem = 6,
    IoUring = 7,
}

impl FilterList {
    pub const ALL: [FilterList; 7] = [
        FilterList::User,
        FilterList::Task,
        FilterList::Entry,
        FilterList::Exit,
        FilterList::Exclude,
        FilterList::Filesystem,
        FilterList::IoUring,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FilterList::User => "user",
            FilterList::Task => "task",
            FilterList::Entry => "entry",
            FilterList::Exit => "exit",
            FilterList::Exclude => "exclude",
            FilterList::Filesystem => "filesystem",
            FilterList::IoUring => "io_uring",
        }
    }
}

impl TryFrom<u32> for FilterList {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        Self::ALL.into_iter().find(|l| *l as u32 == v).ok_or(v)
    }
}

/// `AUDIT_NEVER` / `AUDIT_ALWAYS` (`possible` is refused by kernels since 2.6.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Never = 0,
    Possible = 1,
    Always = 2,
}

impl TryFrom<u32> for Action {
    type Error = u32;
    fn try_from(v: u32) -> Result<Self, u32> {
        [Action::Never, Action::Possible, Action::Always].into_iter().find(|a| *a as u32 == v).ok_or(v)
    }
}

/// The kernel's operators and their semantics live in audit-verify-common, shared with the eBPF side.
pub use audit_verify_common::rule_semantics::{MASK_WORDS, Op};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Value {
    Num(u32),
    Str(String),
}

/// One `-F`/`-C` condition (or the key) in kernel form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Field {
    /// `AUDIT_*` field id.
    pub id: u32,
    pub op: Op,
    pub value: Value,
}

/// The top `AUDIT_SYSCALL_CLASSES` bits name syscall classes; the kernel expands and clears them.
const CLASS_BITS: usize = 16;

/// A rule in the kernel's form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub list: FilterList,
    pub action: Action,
    pub mask: [u32; MASK_WORDS],
    /// In the order given; matching ignores order (conditions are ANDed), so does [`Rule::canonical`].
    pub fields: Vec<Field>,
}

impl Rule {
    #[must_use]
    pub fn new(list: FilterList, action: Action) -> Self {
        Self { list, action, mask: [0; MASK_WORDS], fields: Vec::new() }
    }

    pub fn set_syscall(&mut self, nr: u32) {
        if let Some(word) = self.mask.get_mut(nr as usize / 32) {
            *word |= 1 << (nr % 32);
        }
    }

    #[must_use]
    pub fn has_syscall(&self, nr: u32) -> bool {
        audit_verify_common::rule_semantics::in_mask(&self.mask, nr)
    }

    pub fn set_all_syscalls(&mut self) {
        self.mask = [u32::MAX; MASK_WORDS];
    }

    /// Syscall numbers selected, class bits excluded.
    pub fn syscalls(&self) -> impl Iterator<Item = u32> + '_ {
        (0u32..).take(MASK_WORDS * 32 - CLASS_BITS).filter(|nr| self.has_syscall(*nr))
    }

    /// True when every real syscall bit is set (`-S all`, watches).
    #[must_use]
    pub fn all_syscalls(&self) -> bool {
        self.syscalls().count() == MASK_WORDS * 32 - CLASS_BITS
    }

    #[must_use]
    pub fn field(&self, id: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    /// The key (`-k` / `-F key=`); several keys are joined by `\x01` in the kernel.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match &self.field(fields::id::FILTERKEY)?.value {
            Value::Str(s) => Some(s),
            Value::Num(_) => None,
        }
    }

    /// Whether the kernel looks at the syscall mask: only on the exit and `io_uring` lists.
    #[must_use]
    pub fn uses_mask(&self) -> bool {
        matches!(self.list, FilterList::Exit | FilterList::IoUring)
    }

    /// The form two rules are compared in: class bits cleared (the kernel clears them), the mask cleared
    /// where the kernel ignores it (auditctl fills it on some lists, not on others), fields sorted.
    #[must_use]
    pub fn canonical(&self) -> Rule {
        let mut rule = self.clone();
        if !rule.uses_mask() {
            rule.mask = [0; MASK_WORDS];
        }
        for bit in MASK_WORDS * 32 - CLASS_BITS..MASK_WORDS * 32 {
            rule.mask[bit / 32] &= !(1 << (bit % 32));
        }
        rule.fields.sort();
        rule
    }
}

impl fmt::Display for Rule {
    /// As `auditctl -l` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render::auditctl(self))
    }
}
