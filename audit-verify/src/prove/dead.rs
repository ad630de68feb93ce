//! Rules that can match nothing: their conditions exclude each other, or exclude every result the
//! selected syscalls can return. Such a rule is `dead`, a fact about the rule and not about the prover,
//! so it is decided before any action is planned, with the kernel's own comparison semantics
//! ([`kernel::compatible`], [`kernel::success_holds`], [`kernel::exit_value`]).

use audit_verify_common::rule_semantics::{self as kernel, Op};

use crate::{
    rules::{
        Field, Rule, Value,
        fields::{self, id},
    },
    syscalls::{self, Abi},
};

/// Syscalls whose only successful return value is 0 (on both ABIs): `-F exit=1` can never hold for them.
const RETURN_ZERO: &[&str] = &[
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "setuid32",
    "setgid32",
    "setreuid32",
    "setregid32",
    "setresuid32",
    "setresgid32",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "lchown",
    "fchownat",
    "chown32",
    "fchown32",
    "lchown32",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "mknod",
    "mknodat",
    "truncate",
    "ftruncate",
    "truncate64",
    "ftruncate64",
    "setxattr",
    "lsetxattr",
    "fsetxattr",
    "removexattr",
    "lremovexattr",
    "fremovexattr",
    "mount",
    "umount",
    "umount2",
    "kill",
    "tkill",
    "tgkill",
    "sethostname",
    "setdomainname",
    "settimeofday",
    "clock_settime",
    "init_module",
    "finit_module",
    "delete_module",
    "chdir",
    "fchdir",
    "chroot",
    "pivot_root",
    "swapon",
    "swapoff",
    "acct",
    "utime",
    "utimes",
    "utimensat",
    "futimesat",
    "access",
    "faccessat",
    "faccessat2",
];

/// Syscalls that return a file descriptor on success: a value in `[0, 2^31)`, never one that looks like an
/// errno. (Calls that return addresses or offsets, such as mmap or lseek, can return any 32 low bits.)
const RETURN_FD: &[&str] = &[
    "open",
    "openat",
    "openat2",
    "creat",
    "open_by_handle_at",
    "socket",
    "accept",
    "accept4",
    "memfd_create",
    "dup",
    "dup2",
    "dup3",
    "pidfd_open",
    "epoll_create",
    "epoll_create1",
    "eventfd",
    "eventfd2",
    "signalfd",
    "signalfd4",
    "timerfd_create",
    "inotify_init",
    "inotify_init1",
    "fanotify_init",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "fsopen",
    "fspick",
    "fsmount",
    "open_tree",
    "memfd_secret",
];

/// What a successful call of every syscall the rule selects can return, as `exit` compares it.
#[derive(PartialEq)]
enum Returns {
    Zero,
    Fd,
    Anything,
}

fn returns(rule: &Rule, abi: Abi) -> Returns {
    if !rule.uses_mask() || rule.all_syscalls() {
        return Returns::Anything;
    }
    let in_table = |table: &[&str], nr: u32| syscalls::name(abi, nr).is_some_and(|n| table.contains(&n));
    if rule.syscalls().all(|nr| in_table(RETURN_ZERO, nr)) {
        Returns::Zero
    } else if rule.syscalls().all(|nr| in_table(RETURN_ZERO, nr) || in_table(RETURN_FD, nr)) {
        Returns::Fd
    } else {
        Returns::Anything
    }
}

/// Why `rule` can match no event, if it cannot.
pub fn dead(rule: &Rule, abi: Abi) -> Option<String> {
    let numeric: Vec<&Field> = rule
        .fields
        .iter()
        .filter(|f| {
            matches!(f.value, Value::Num(_))
                && !matches!(f.id, id::FIELD_COMPARE | id::FILTERKEY | id::SUCCESS | id::PERM | id::EXIT)
                && !fields::is_string(f.id)
        })
        .collect();
    for (i, a) in numeric.iter().enumerate() {
        if !kernel::compatible(cond(a), cond(a)) {
            return Some(format!("`{}` holds for no value: the kernel compares unsigned", text(a)));
        }
        if let Some(b) = numeric[i + 1..].iter().find(|b| b.id == a.id && !kernel::compatible(cond(a), cond(b))) {
            return Some(format!("`{}` and `{}` exclude each other", text(a), text(b)));
        }
    }
    outcome(rule, abi)
}

fn cond(f: &Field) -> (Op, u32) {
    match f.value {
        Value::Num(n) => (f.op, n),
        Value::Str(_) => (f.op, 0),
    }
}

fn text(f: &Field) -> String {
    format!("-F {}", super::eval::name(f))
}

/// `success` and `exit` against what a call can return: an error in `[-4095, -1]`, or on success 0 for
/// the [`RETURN_ZERO`] calls and any value for the others.
fn outcome(rule: &Rule, abi: Abi) -> Option<String> {
    let success: Vec<&Field> = rule.fields.iter().filter(|f| f.id == id::SUCCESS).collect();
    let exit: Vec<&Field> = rule.fields.iter().filter(|f| f.id == id::EXIT).collect();
    if success.is_empty() && exit.is_empty() {
        return None;
    }
    let holds = |ok: bool| success.iter().all(|f| kernel::success_holds(f.op, cond(f).1, ok));
    let exits = |value: u32| exit.iter().all(|f| kernel::compare(f.op, value, cond(f).1));
    let returns = returns(rule, abi);
    let ok_values: Vec<u32> = if returns == Returns::Zero {
        vec![0]
    } else {
        // The extremes of the possible range and the values the conditions name, with neighbours: if a
        // value satisfies every condition, one of these does.
        let mut v = vec![0, 1, 2, 0x7fff_ffff, 0x8000_0000, u32::MAX];
        for f in &exit {
            let n = cond(f).1;
            v.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
        }
        if returns == Returns::Fd {
            v.retain(|n| *n < 0x8000_0000);
        }
        v
    };
    let zero_only = returns == Returns::Zero;
    let can_succeed = holds(true) && ok_values.into_iter().any(exits);
    let can_fail = holds(false) && (1..=4095).any(|e: i64| exits(kernel::exit_value(-e)));
    if can_succeed || can_fail {
        return None;
    }
    let conds: Vec<String> = success.iter().chain(&exit).map(|f| format!("`{}`", text(f))).collect();
    let calls = if zero_only {
        let names: Vec<&str> = rule.syscalls().filter_map(|nr| syscalls::name(abi, nr)).take(4).collect();
        format!(" for {}, which return{} 0 or an error", names.join(", "), if names.len() == 1 { "s" } else { "" })
    } else if returns == Returns::Fd {
        " for calls that return a file descriptor or an error".to_owned()
    } else {
        String::new()
    };
    Some(format!(
        "{} match{} no result a call can return{calls}",
        conds.join(" with "),
        if conds.len() == 1 { "es" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse::rule;

    fn verdict(text: &str) -> Option<String> {
        dead(&rule(&format!("-a always,exit -F arch=b64 {text} -k k")), Abi::B64)
    }

    #[test]
    fn contradictions_are_dead() {
        let why = verdict("-S setuid -F exit=1").expect("setuid returns 0 or an error");
        assert!(why.contains("setuid") && why.contains("exit=1"), "{why}");
        assert!(verdict("-S open -F exit<0").is_some(), "unsigned: nothing is below 0");
        assert!(verdict("-S open -F success=1 -F exit=-EPERM").is_some(), "an errno is a failure");
        assert!(verdict("-S open -F success=0 -F exit=3").is_some(), "3 is a success");
        let why = verdict("-S open -F auid>=1000 -F auid<500").expect("disjoint ranges");
        assert!(why.contains("exclude each other"), "{why}");
    }

    #[test]
    fn satisfiable_rules_are_not() {
        for text in [
            "-S setuid -F exit=0",
            "-S setuid -F success=1",
            "-S open -F exit=-EPERM",
            "-S open -F exit=3",
            "-S open,setuid -F exit=3",
            "-S open -F success=0",
            "-S open -F auid>=1000 -F auid!=-1",
            "-S mmap -F exit=-1",
            "-S all -F exit=-EINVAL",
        ] {
            assert_eq!(verdict(text), None, "{text}");
        }
    }
}
