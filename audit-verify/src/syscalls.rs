//! Syscall names and numbers per ABI, generated at build time from the kernel's uapi headers.

use serde::Serialize;

mod tables {
    include!(concat!(env!("OUT_DIR"), "/syscall_tables.rs"));
}

/// The syscall ABI a rule or a record names (`arch=b64` / `arch=b32` on x86_64).
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

pub fn name(abi: Abi, nr: u32) -> Option<&'static str> {
    let table = abi.table();
    table.binary_search_by_key(&nr, |(_, n)| *n).ok().map(|i| table[i].0)
}

pub fn number(abi: Abi, name: &str) -> Option<u32> {
    abi.table().iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr)
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
}
