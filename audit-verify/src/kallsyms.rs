//! Kernel text symbols of the audit subsystem, from /proc/kallsyms.
//!
//! The compiler splits functions (`audit_log_end.part.0`, `.isra.N`, `.cold`): a symbol counts under the
//! name before its first dot.

use std::{collections::BTreeMap, fs, io};

/// Prefixes of the functions that decide what audit records and delivers. A probe on one of these can
/// hide or alter records, which is why the tamper check lists them.
pub const AUDIT_FUNCTION_PREFIXES: [&str; 6] =
    ["audit_log", "kauditd_", "audit_filter", "__audit_", "audit_send", "audit_receive"];

#[must_use]
pub fn is_audit_function(symbol: &str) -> bool {
    let base = base_name(symbol);
    AUDIT_FUNCTION_PREFIXES.iter().any(|p| base.starts_with(p))
}

/// `audit_log_end.part.0` → `audit_log_end`.
#[must_use]
pub fn base_name(symbol: &str) -> &str {
    symbol.split('.').next().unwrap_or(symbol)
}

/// Audit text symbols by address, with where each ends (the next text symbol).
#[derive(Debug, Default, Clone)]
pub struct AuditSymbols {
    by_address: BTreeMap<u64, String>,
    ends: BTreeMap<u64, u64>,
}

impl AuditSymbols {
    /// The audit text symbols of the running kernel.
    ///
    /// # Errors
    ///
    /// When `/proc/kallsyms` cannot be read.
    pub fn load() -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string("/proc/kallsyms")?))
    }

    #[must_use]
    pub fn parse(text: &str) -> Self {
        let text_symbols: Vec<(u64, &str)> = text
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let address = u64::from_str_radix(words.next()?, 16).ok()?;
                let kind = words.next()?;
                let name = words.next()?;
                (matches!(kind, "t" | "T") && address != 0).then_some((address, name))
            })
            .collect();
        let starts: std::collections::BTreeSet<u64> = text_symbols.iter().map(|(a, _)| *a).collect();
        let mut symbols = Self::default();
        for (address, name) in text_symbols.into_iter().filter(|(_, n)| is_audit_function(n)) {
            symbols.by_address.insert(address, name.to_owned());
            if let Some(end) = starts.range(address + 1..).next() {
                symbols.ends.insert(address, *end);
            }
        }
        symbols
    }

    /// `(name, start, end)` of every audit function whose end is known.
    pub fn ranges(&self) -> impl Iterator<Item = (&str, u64, u64)> {
        self.by_address.iter().filter_map(|(start, name)| Some((name.as_str(), *start, *self.ends.get(start)?)))
    }

    /// The audit function starting exactly at `address`.
    pub fn at(&self, address: u64) -> Option<&str> {
        self.by_address.get(&address).map(String::as_str)
    }

    /// Distinct base names (`audit_log_end`, not `audit_log_end.part.0`).
    pub fn base_names(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self.by_address.values().map(|s| base_name(s)).collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::unreadable_literal, reason = "the addresses as /proc/kallsyms prints them, in the text")]
    fn keeps_audit_text_symbols_with_split_variants() {
        let text = "ffffffff81200000 T audit_log_start\n\
                    ffffffff81200100 t audit_log_end.part.0\n\
                    ffffffff81200200 t kauditd_thread\n\
                    ffffffff81300000 T vfs_read\n\
                    ffffffff81400000 d audit_backlog_limit\n\
                    0000000000000000 T audit_filter_uring\n";
        let s = AuditSymbols::parse(text);
        assert_eq!(s.at(0xffffffff81200100), Some("audit_log_end.part.0"));
        assert_eq!(s.at(0xffffffff81300000), None, "not an audit function");
        assert_eq!(s.at(0xffffffff81400000), None, "data, not text");
        assert_eq!(s.base_names().collect::<Vec<_>>(), ["audit_log_end", "audit_log_start", "kauditd_thread"]);
        let ranges: Vec<_> = s.ranges().collect();
        assert_eq!(ranges[0], ("audit_log_start", 0xffffffff81200000, 0xffffffff81200100), "ends at the next symbol");
        assert_eq!(ranges[2], ("kauditd_thread", 0xffffffff81200200, 0xffffffff81300000), "even a non-audit one");
        assert!(is_audit_function("audit_filter_syscall.constprop.0"));
        assert!(!is_audit_function("auditd_helper"));
    }
}
