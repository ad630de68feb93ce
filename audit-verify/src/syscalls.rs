//! Syscall names and numbers per ABI, generated at build time from the kernel's uapi headers.

use serde::Serialize;

mod tables {
    include!(concat!(env!("OUT_DIR"), "/syscall_tables.rs"));
}

/// The syscall ABI a rule or a record names (`arch=b64` / `arch=b32` on `x86_64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Abi {
    B64,
    B32,
}

impl Abi {
    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::B64 => tables::B64,
            Abi::B32 => tables::B32,
        }
    }
}

#[must_use]
pub fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    let table = abi.table();
    table.binary_search_by_key(&nr, |(_, n)| *n).ok().map(|i| table[i].0)
}

#[must_use]
pub fn number(abi: Abi, name: &str) -> Option<u32> {
    abi.table().iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
}

/// Where libaudit's syscall table (the names auditctl takes after `-S` and prints in `-l`) differs from
/// the kernel's uapi names: the kernel's name is then refused. `tests/rules_oracle.rs` compares every name
/// with `ausyscall --dump`.
const LIBAUDIT_NAMES: [(Abi, u32, &str); 4] = [
    (Abi::B64, 17, "pread"),
    (Abi::B64, 18, "pwrite"),
    (Abi::B32, 283, "sys_kexec_load"),
    (Abi::B32, 423, "sched_rr_get_interval64"),
];

/// The name auditctl uses for a syscall.
#[must_use]
pub fn auditctl_name(abi: Abi, nr: u32) -> Option<&'static str> {
    LIBAUDIT_NAMES.iter().find(|(a, n, _)| *a == abi && *n == nr).map(|(_, _, name)| *name).or_else(|| name(abi, nr))
}

/// The syscall an auditctl `-S` name means, or `None` where auditctl refuses the name.
#[must_use]
pub fn auditctl_number(abi: Abi, name: &str) -> Option<u32> {
    if let Some((_, nr, _)) = LIBAUDIT_NAMES.iter().find(|(a, _, n)| *a == abi && *n == name) {
        return Some(*nr);
    }
    number(abi, name).filter(|nr| !LIBAUDIT_NAMES.iter().any(|(a, n, _)| *a == abi && n == nr))
}

/// Every syscall of an ABI under auditctl's names.
pub fn auditctl_names(abi: Abi) -> impl Iterator<Item = (&'static str, u32)> {
    abi.table().iter().map(move |&(_, nr)| (auditctl_name(abi, nr).unwrap_or_default(), nr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_abis_resolve_both_ways() {
        assert_eq!(number(Abi::B64, "execve"), Some(59));
        assert_eq!(number(Abi::B32, "execve"), Some(11));
        assert_eq!(name(Abi::B64, 257), Some("openat"));
        assert_eq!(name(Abi::B32, 295), Some("openat"));
        assert_eq!(number(Abi::B64, "no_such_call"), None);
        assert_eq!(number(Abi::B64, "socketcall"), None, "i386 only");
        assert!(number(Abi::B32, "socketcall").is_some());
    }

    #[test]
    fn auditctl_uses_libaudits_names() {
        assert_eq!(auditctl_number(Abi::B64, "pread"), Some(17));
        assert_eq!(auditctl_number(Abi::B64, "pread64"), None, "auditctl refuses the kernel's name");
        assert_eq!(auditctl_number(Abi::B32, "pread64"), Some(180), "i386's libaudit name is the kernel's");
        assert_eq!(auditctl_name(Abi::B64, 18), Some("pwrite"));
        assert_eq!(name(Abi::B64, 18), Some("pwrite64"), "tracepoints keep the kernel's name");
        assert_eq!(auditctl_number(Abi::B64, "execve"), Some(59));
    }
}
