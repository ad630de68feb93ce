//! Which syscalls a path or `-p` rule can record, as the kernel decides it: `audit_match_perm` takes the
//! open flags of `open`/`openat`/`openat2`, exec for `execve`/`execveat`, and for every other syscall
//! its class (`include/asm-generic/audit_dir_write.h`, `audit_write.h`, `audit_change_attr.h`,
//! `audit_read.h`, Linux 6.x, as `x86_64` builds them). A syscall outside the classes a rule's `-p` names never matches
//! it, so the prediction keeps such a rule's mask to those classes; a path rule without `-p` is kept to
//! the syscalls that look up a path at all (the kernel records no name for the others, so its path
//! conditions fail there).

use audit_verify_common::measure::{MASK_WORDS, PERM_ATTR, PERM_EXEC, PERM_READ, PERM_WRITE};

use crate::syscalls::{self, Abi};

/// `audit_dir_write.h`, with the PATH records each event carries (parent and child; rename both pairs).
const DIR_WRITE: &[(&str, u32)] = &[
    ("rename", 4),
    ("mkdir", 2),
    ("rmdir", 2),
    ("creat", 2),
    ("link", 3),
    ("unlink", 2),
    ("symlink", 2),
    ("mknod", 2),
    ("mkdirat", 2),
    ("mknodat", 2),
    ("unlinkat", 2),
    ("renameat", 4),
    ("linkat", 3),
    ("symlinkat", 2),
    ("renameat2", 4),
];

/// `audit_write.h` beyond the directory writes.
const WRITE: &[(&str, u32)] = &[
    ("acct", 1),
    ("swapon", 1),
    ("quotactl", 1),
    ("quotactl_fd", 0),
    ("truncate", 1),
    ("ftruncate", 0),
    ("bind", 0),
    ("fallocate", 0),
];

/// `audit_change_attr.h` (the fd forms record the file through `audit_file`).
const CHANGE_ATTR: &[(&str, u32)] = &[
    ("chmod", 1),
    ("fchmod", 1),
    ("chown", 1),
    ("fchown", 1),
    ("lchown", 1),
    ("setxattr", 1),
    ("lsetxattr", 1),
    ("fsetxattr", 1),
    ("removexattr", 1),
    ("lremovexattr", 1),
    ("fremovexattr", 1),
    ("fchownat", 1),
    ("fchmodat", 1),
    ("fchmodat2", 1),
    ("link", 3),
    ("linkat", 3),
    ("setxattrat", 1),
    ("removexattrat", 1),
];

/// `audit_read.h`.
const READ: &[(&str, u32)] = &[
    ("readlink", 1),
    ("quotactl", 1),
    ("listxattr", 1),
    ("llistxattr", 1),
    ("flistxattr", 1),
    ("getxattr", 1),
    ("lgetxattr", 1),
    ("fgetxattr", 1),
    ("readlinkat", 1),
    ("getxattrat", 1),
    ("listxattrat", 1),
];

/// Decided by their flags (`open*`) or as exec: the syscalls whose file the matcher finds at exit.
const OPENS: &[&str] = &["open", "openat", "openat2"];
const EXECS: &[&str] = &["execve", "execveat"];

/// Other syscalls that look a path up (and so can match a path rule without `-p`), one name each.
const OTHER_LOOKUPS: &[&str] = &[
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "chdir",
    "chroot",
    "statfs",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "mount",
    "umount2",
    "pivot_root",
    "inotify_add_watch",
    "fanotify_mark",
    "name_to_handle_at",
    "uselib",
    "swapoff",
];

fn set(mask: &mut [u32; MASK_WORDS], names: impl IntoIterator<Item = &'static str>) {
    for nr in names.into_iter().filter_map(|n| syscalls::number(Abi::B64, n)) {
        mask[nr as usize / 32] |= 1 << (nr % 32);
    }
}

fn names(table: &'static [(&'static str, u32)]) -> impl Iterator<Item = &'static str> {
    table.iter().map(|(n, _)| *n)
}

/// The 64-bit syscalls a rule with `-F perm=bits` can match.
#[must_use]
pub fn perm_mask(bits: u32) -> [u32; MASK_WORDS] {
    let mut mask = [0; MASK_WORDS];
    if bits & PERM_WRITE != 0 {
        set(&mut mask, names(DIR_WRITE).chain(names(WRITE)));
    }
    if bits & PERM_ATTR != 0 {
        set(&mut mask, names(CHANGE_ATTR));
    }
    if bits & PERM_READ != 0 {
        set(&mut mask, names(READ));
    }
    if bits & (PERM_READ | PERM_WRITE) != 0 {
        set(&mut mask, OPENS.iter().copied());
    }
    if bits & PERM_EXEC != 0 {
        set(&mut mask, EXECS.iter().copied());
    }
    mask
}

/// The 64-bit syscalls that look up a path: where a path rule without `-p` can match.
#[must_use]
pub fn path_mask() -> [u32; MASK_WORDS] {
    let mut mask = perm_mask(PERM_READ | PERM_WRITE | PERM_ATTR | PERM_EXEC);
    set(&mut mask, OTHER_LOOKUPS.iter().copied());
    mask
}

/// PATH records per event for the syscalls whose names the matcher does not count itself (it counts
/// opens and execs): `(64-bit number, names)`. An estimate: a failed lookup may record fewer.
#[must_use]
pub fn names_per_syscall() -> Vec<(u32, u32)> {
    let tables = [DIR_WRITE, WRITE, CHANGE_ATTR, READ];
    let lookups = OTHER_LOOKUPS.iter().map(|n| (*n, 1));
    let mut out: Vec<(u32, u32)> = tables
        .into_iter()
        .flatten()
        .copied()
        .chain(lookups)
        .filter_map(|(name, n)| Some((syscalls::number(Abi::B64, name)?, n)))
        .collect();
    out.sort_unstable();
    out.dedup_by_key(|(nr, _)| *nr);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(mask: &[u32; MASK_WORDS], name: &str) -> bool {
        audit_verify_common::rule_semantics::in_mask(mask, syscalls::number(Abi::B64, name).unwrap())
    }

    #[test]
    fn perm_keeps_a_rule_to_its_classes() {
        let wa = perm_mask(PERM_WRITE | PERM_ATTR);
        for name in ["openat", "unlinkat", "renameat2", "chmod", "fchownat", "truncate"] {
            assert!(has(&wa, name), "{name} can match -p wa");
        }
        for name in ["read", "execve", "readlink", "getxattr", "close"] {
            assert!(!has(&wa, name), "{name} cannot match -p wa");
        }
        let x = perm_mask(PERM_EXEC);
        assert!(has(&x, "execve") && !has(&x, "openat"), "open's flags never ask for exec");
        assert!(!has(&perm_mask(PERM_ATTR), "openat"), "nor for attributes");
        assert!(has(&path_mask(), "newfstatat") && !has(&path_mask(), "write"));
        let names = names_per_syscall();
        let of = |name| names.iter().find(|(nr, _)| Some(*nr) == syscalls::number(Abi::B64, name)).map(|(_, n)| *n);
        assert_eq!((of("renameat2"), of("unlinkat"), of("chmod"), of("write")), (Some(4), Some(2), Some(1), None));
    }
}
