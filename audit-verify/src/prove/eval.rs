//! Would the kernel's exit filter match this action? The same question `audit_filter_rules()` answers,
//! asked before the action runs, for the rule being proven and for every rule ahead of it on the exit list
//! (the first matching rule decides the record's key).

use std::{
    cell::RefCell,
    collections::HashMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use audit_verify_common::rule_semantics::{self as kernel, Match};

use super::{
    action::{Action, Creds},
    recipes::Expect,
};
use crate::rules::{
    Field, Op, Rule, Value,
    fields::{self, ARCH_B32, ARCH_B64, UNSET, id},
};
use crate::syscalls::Abi;

/// Three-valued: a field the planner does not model is `Unknown`, never guessed. The reasons name the
/// condition that failed or could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No(String),
    Unknown(String),
}

impl Verdict {
    /// The verdict without its reason, as the shared first-match walk takes it.
    pub fn kind(&self) -> Match {
        match self {
            Verdict::Yes => Match::Yes,
            Verdict::No(_) => Match::No,
            Verdict::Unknown(_) => Match::Undecided,
        }
    }
}

/// What the evaluation needs to know about the host: file identities (cached) and our own exe.
pub struct Host {
    pub exe: PathBuf,
    /// The loginuid a child inherits.
    pub parent_auid: u32,
    /// Whether an LSM that gives audit rules their subj_*/obj_* labels is active (SELinux, Smack,
    /// AppArmor). Without one the kernel keeps such a rule but its label condition never matches.
    pub lsm_labels: bool,
    stats: RefCell<HashMap<PathBuf, Option<Stat>>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Host {
    pub fn new(exe: PathBuf, parent_auid: u32) -> Self {
        Self { exe, parent_auid, lsm_labels: lsm_labels(), stats: RefCell::default() }
    }

    /// `lstat`, cached: the planner asks about the same few paths thousands of times.
    pub fn lstat(&self, path: &Path) -> Option<Stat> {
        if let Some(s) = self.stats.borrow().get(path) {
            return *s;
        }
        let stat = std::fs::symlink_metadata(path).ok().map(|m| Stat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            uid: m.uid(),
            gid: m.gid(),
        });
        self.stats.borrow_mut().insert(path.to_owned(), stat);
        stat
    }
}

/// LSMs whose `security_audit_rule_match` answers subj_*/obj_* conditions.
const LABEL_LSMS: [&str; 3] = ["selinux", "smack", "apparmor"];

/// Whether a labelling LSM is active: /sys/kernel/security/lsm lists the active LSMs. Where securityfs is
/// not mounted, /proc/self/attr/current answers: it fails with EINVAL when no LSM provides a label.
fn lsm_labels() -> bool {
    match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(list) => list.trim().split(',').any(|l| LABEL_LSMS.contains(&l)),
        Err(_) => match std::fs::read("/proc/self/attr/current") {
            Ok(_) => true,
            Err(e) => e.raw_os_error() != Some(libc::EINVAL),
        },
    }
}

/// subj_user … subj_clr and obj_user … obj_lev_high: the conditions an LSM evaluates (`f->lsm_rule`).
fn is_lsm_field(field: u32) -> bool {
    fields::name_of(field)
        .is_some_and(|n| (n.starts_with("subj_") || n.starts_with("obj_")) && !matches!(n, "obj_uid" | "obj_gid"))
}

/// Every condition of `rule` against `action`, ANDed as the kernel does: `No` as soon as one fails, else
/// `Unknown` if one is not modelled, else `Yes`.
pub fn matches(rule: &Rule, action: &Action, host: &Host) -> Verdict {
    if rule.uses_mask() && !rule.has_syscall(action.nr) {
        return Verdict::No("syscall".into());
    }
    // The reason kept is the one of the condition that decides the conjunction.
    let mut verdict = Verdict::Yes;
    for f in &rule.fields {
        let next = field(f, action, host);
        match next.kind() {
            Match::No => return next,
            Match::Undecided if verdict == Verdict::Yes => verdict = next,
            _ => {}
        }
    }
    verdict
}

fn yes_if(ok: bool, what: impl FnOnce() -> String) -> Verdict {
    if ok { Verdict::Yes } else { Verdict::No(what()) }
}

/// A condition as auditctl writes it (`exit=-13`, `auid>=1000`), for reasons.
pub fn name(f: &Field) -> String {
    let value = match &f.value {
        Value::Num(n) if f.id == id::EXIT && is_errno(*n) => {
            let errno = (*n as i32).unsigned_abs();
            fields::errno_name(errno).map_or((*n as i32).to_string(), |e| format!("-{e}"))
        }
        Value::Num(n) if f.id == id::EXIT => (*n as i32).to_string(),
        Value::Num(n) => n.to_string(),
        Value::Str(s) => s.clone(),
    };
    format!("{}{}{value}", fields::name_of(f.id).unwrap_or("field"), f.op.symbol())
}

fn field(f: &Field, action: &Action, host: &Host) -> Verdict {
    let num = match f.value {
        Value::Num(n) => Some(n),
        Value::Str(_) => None,
    };
    // The kernel compares 32-bit values: a 64-bit argument by its low half.
    let cmp = |left: u64| yes_if(num.is_some_and(|n| kernel::compare_field(f.id, f.op, left as u32, n)), || name(f));
    let c = &action.creds;
    match f.id {
        id::FILTERKEY => Verdict::Yes,
        id::ARCH => cmp(u64::from(match action.abi {
            Abi::B64 => ARCH_B64,
            Abi::B32 => ARCH_B32,
        })),
        id::UID | id::EUID | id::SUID | id::FSUID | id::GID | id::EGID | id::SGID | id::FSGID | id::LOGINUID => {
            cmp(u64::from(cred(c, f.id, host).expect("a credential id")))
        }
        id::LOGINUID_SET => cmp(u64::from(c.auid.unwrap_or(host.parent_auid) != UNSET)),
        id::SUCCESS => match success(action.expect) {
            Some(ok) => yes_if(num.is_some_and(|n| kernel::success_holds(f.op, n, ok)), || name(f)),
            None => Verdict::Unknown(name(f)),
        },
        id::EXIT => match action.expect {
            Expect::Ok(v) => cmp(u64::from(kernel::exit_value(v))),
            Expect::Err(e) => cmp(u64::from(kernel::exit_value(-i64::from(e)))),
            Expect::NoReturn => cmp(0),
            // Unknown value, known sign: a success is never an errno and a failure always one, so
            // `exit=-EPERM` cannot match a success (nor `exit=0` a failure).
            e => match (success(e), num) {
                (Some(ok), Some(n)) if matches!(f.op, Op::Eq | Op::Ne) && is_errno(n) == ok => {
                    yes_if(f.op == Op::Ne, || name(f))
                }
                _ => Verdict::Unknown(name(f)),
            },
        },
        id::WATCH => path_field(f, action, |watched, object| match (host.lstat(watched), host.lstat(object)) {
            (Some(w), Some(o)) => w.dev == o.dev && w.ino == o.ino,
            _ => false,
        }),
        id::DIR => path_field(f, action, |dir, object| object == dir || object.starts_with(dir)),
        // `audit_match_perm`: the call's class shares a bit with the rule's.
        id::PERM => yes_if(num.is_some_and(|n| n & action.perm != 0), || name(f)),
        id::FILETYPE => match action.object.as_deref().and_then(|o| host.lstat(o)) {
            Some(s) => cmp(u64::from(s.mode & libc::S_IFMT)),
            None => Verdict::No(name(f)),
        },
        id::EXE => match &f.value {
            Value::Str(exe) => {
                let same = Path::new(exe) == host.exe;
                yes_if(if f.op == Op::Ne { !same } else { same }, || name(f))
            }
            Value::Num(_) => Verdict::Unknown(name(f)),
        },
        id::ARG0..=id::ARG3 => match action.arg_value((f.id - id::ARG0) as usize) {
            Some(v) => cmp(v),
            None => Verdict::Unknown(name(f)),
        },
        id::FIELD_COMPARE => comparison(f, action, host),
        // `audit_filter_rules`: with no LSM rule attached (no LSM provides the label) the result stays 0.
        lsm if is_lsm_field(lsm) && !host.lsm_labels => {
            Verdict::No(format!("{} (no LSM on this kernel provides it, so it never matches)", name(f)))
        }
        _ => Verdict::Unknown(name(f)),
    }
}

fn path_field(f: &Field, action: &Action, test: impl Fn(&Path, &Path) -> bool) -> Verdict {
    let Value::Str(path) = &f.value else { return Verdict::Unknown(name(f)) };
    let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let hit = action.object.as_deref().is_some_and(|o| test(Path::new(trimmed), o));
    yes_if(if f.op == Op::Ne { !hit } else { hit }, || name(f))
}

/// Whether `exit` value `n` (as the rule stores it, 32 bits) is an errno, `[-4095, -1]`.
fn is_errno(n: u32) -> bool {
    n >= kernel::exit_value(-4095)
}

fn success(expect: Expect) -> Option<bool> {
    match expect {
        Expect::Ok(_) | Expect::OkAny | Expect::NoReturn => Some(true),
        Expect::Err(_) | Expect::ErrAny | Expect::ProbeW => Some(false),
        Expect::ProbeR => None,
    }
}

fn cred(c: &Creds, field: u32, host: &Host) -> Option<u32> {
    Some(match field {
        id::UID => c.uid[0],
        id::EUID | id::FSUID => c.uid[1],
        id::SUID => c.uid[2],
        id::GID => c.gid[0],
        id::EGID | id::FSGID => c.gid[1],
        id::SGID => c.gid[2],
        id::LOGINUID => c.auid.unwrap_or(host.parent_auid),
        _ => return None,
    })
}

/// `-C a op b`: subject ids against each other or against the object's owner.
fn comparison(f: &Field, action: &Action, host: &Host) -> Verdict {
    let Value::Num(which) = f.value else { return Verdict::Unknown(name(f)) };
    let Some((a, b)) = fields::comparison_names(which) else { return Verdict::Unknown(name(f)) };
    let value = |n: &str| -> Option<u32> {
        let subject = match n {
            "uid" => id::UID,
            "euid" => id::EUID,
            "suid" => id::SUID,
            "fsuid" => id::FSUID,
            "gid" => id::GID,
            "egid" => id::EGID,
            "sgid" => id::SGID,
            "fsgid" => id::FSGID,
            "auid" | "loginuid" => id::LOGINUID,
            "obj_uid" => return action.object.as_deref().and_then(|o| host.lstat(o)).map(|s| s.uid),
            "obj_gid" => return action.object.as_deref().and_then(|o| host.lstat(o)).map(|s| s.gid),
            _ => return None,
        };
        cred(&action.creds, subject, host)
    };
    let text = || format!("-C {a}{}{b}", f.op.symbol());
    match (value(a), value(b)) {
        // `audit_field_compare` compares ids with the uid/gid comparator.
        (Some(x), Some(y)) => yes_if(kernel::compare_id(f.op, x, y), text),
        _ => Verdict::Unknown(text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{prove::recipes::RECIPES, rules::parse::rule, syscalls};

    fn openat(expect: Expect) -> Action {
        let recipe = RECIPES.iter().find(|r| r.name == "openat").expect("an openat recipe");
        Action {
            abi: Abi::B64,
            nr: syscalls::number(Abi::B64, "openat").unwrap(),
            recipe,
            overrides: [None; 6],
            creds: Creds { auid: Some(1000), uid: [0; 3], gid: [0; 3] },
            expect,
            perm: recipe.perm,
            object: None,
            object2: None,
            mode: 0,
            on_target: false,
        }
    }

    fn host() -> Host {
        Host::new(PathBuf::from("/usr/bin/audit-verify"), UNSET)
    }

    #[test]
    fn arguments_are_compared_by_their_low_32_bits() {
        // AT_FDCWD is 0xffff_ffff_ffff_ff9c in the register; the kernel compares 0xffff_ff9c.
        let r = rule("-a always,exit -F arch=b64 -S openat -F a0=-100 -k cwd");
        assert_eq!(matches(&r, &openat(Expect::Err(libc::ENOENT)), &host()), Verdict::Yes);
        let r = rule("-a always,exit -F arch=b64 -S openat -F a0=0xffffff9c -k cwd");
        assert_eq!(matches(&r, &openat(Expect::Err(libc::ENOENT)), &host()), Verdict::Yes);
    }

    #[test]
    fn success_and_exit_as_the_kernel_compares_them() {
        let failing = openat(Expect::Err(libc::ENOENT));
        let r = |text: &str| rule(&format!("-a always,exit -F arch=b64 -S openat {text} -k k"));
        assert_eq!(matches(&r("-F success=0"), &failing, &host()), Verdict::Yes);
        assert_eq!(matches(&r("-F exit=-ENOENT"), &failing, &host()), Verdict::Yes);
        // `success>1` compares return_valid (2 on failure) with AUDITSC_SUCCESS (1): it means "failed".
        assert_eq!(matches(&r("-F success>1"), &failing, &host()), Verdict::Yes);
        assert!(matches!(matches(&r("-F success>1"), &openat(Expect::Ok(3)), &host()), Verdict::No(_)));
        assert!(matches!(matches(&r("-F exit<0"), &failing, &host()), Verdict::No(_)), "unsigned, as the kernel");
    }

    /// `-F exit=-EPERM` cannot match a call that succeeds, whatever it returns, nor `exit=0` a failure.
    #[test]
    fn the_sign_of_an_unknown_result_decides_exit() {
        let r = |text: &str| rule(&format!("-a always,exit -F arch=b64 -S openat {text} -k k"));
        assert!(matches!(matches(&r("-F exit=-EPERM"), &openat(Expect::OkAny), &host()), Verdict::No(_)));
        assert_eq!(matches(&r("-F exit!=-EPERM"), &openat(Expect::OkAny), &host()), Verdict::Yes);
        assert!(matches!(matches(&r("-F exit=0"), &openat(Expect::ErrAny), &host()), Verdict::No(_)));
        assert!(matches!(matches(&r("-F exit=3"), &openat(Expect::OkAny), &host()), Verdict::Unknown(_)));
        assert!(matches!(matches(&r("-F exit=-EPERM"), &openat(Expect::ErrAny), &host()), Verdict::Unknown(_)));
    }

    /// Without a labelling LSM the kernel never matches a subj_type condition; with one, only the LSM knows.
    #[test]
    fn lsm_labels_match_nothing_without_an_lsm() {
        let r = rule("-a never,exit -F arch=b64 -S openat -F subj_type=crond_t");
        let action = openat(Expect::Err(libc::ENOENT));
        let mut h = host();
        h.lsm_labels = false;
        let Verdict::No(why) = matches(&r, &action, &h) else { panic!("no LSM: no match") };
        assert!(why.contains("subj_type=crond_t") && why.contains("no LSM"), "{why}");
        h.lsm_labels = true;
        assert!(matches!(matches(&r, &action, &h), Verdict::Unknown(_)));
    }
}
