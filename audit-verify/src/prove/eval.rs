//! Would the kernel's exit filter match this action? The same question `audit_filter_rules()` answers,
//! asked before the action runs, for the rule being proven and for every rule ahead of it on the exit list
//! (the first matching rule decides the record's key).

use std::{
    cell::RefCell,
    collections::HashMap,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use super::plan::{Action, Creds};
use super::recipes::Expect;
use crate::rules::{
    Field, Op, Rule, Value,
    fields::{self, ARCH_B32, ARCH_B64, UNSET, id},
};
use crate::syscalls::Abi;

/// Three-valued: a field the planner does not model is `Unknown`, never guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No(String),
    Unknown(String),
}

/// What the evaluation needs to know about the host: file identities (cached) and our own exe.
pub struct Host {
    pub exe: PathBuf,
    /// The loginuid a child inherits.
    pub parent_auid: u32,
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
        Self { exe, parent_auid, stats: RefCell::default() }
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

/// Every condition of `rule` against `action`: `No` as soon as one fails, else `Unknown` if one is not
/// modelled, else `Yes`.
pub fn matches(rule: &Rule, action: &Action, host: &Host) -> Verdict {
    if rule.uses_mask() && !rule.has_syscall(action.nr) {
        return Verdict::No("syscall".into());
    }
    let mut unknown = None;
    for f in &rule.fields {
        match field(f, action, host) {
            Verdict::Yes => {}
            Verdict::No(why) => return Verdict::No(why),
            Verdict::Unknown(why) => unknown = unknown.or(Some(why)),
        }
    }
    unknown.map_or(Verdict::Yes, Verdict::Unknown)
}

fn yes_if(ok: bool, what: impl FnOnce() -> String) -> Verdict {
    if ok { Verdict::Yes } else { Verdict::No(what()) }
}

fn name(f: &Field) -> String {
    let value = match &f.value {
        Value::Num(n) if f.id == id::EXIT => (*n as i32).to_string(),
        Value::Num(n) => n.to_string(),
        Value::Str(s) => s.clone(),
    };
    format!("{}{}{value}", fields::name_of(f.id).unwrap_or("field"), f.op.symbol())
}

/// `audit_comparator` on unsigned values.
pub fn compare(left: u64, op: Op, right: u64) -> bool {
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

fn field(f: &Field, action: &Action, host: &Host) -> Verdict {
    let num = match f.value {
        Value::Num(n) => Some(u64::from(n)),
        Value::Str(_) => None,
    };
    let cmp = |left: u64| yes_if(num.is_some_and(|n| compare(left, f.op, n)), || name(f));
    let c = &action.creds;
    match f.id {
        id::FILTERKEY => Verdict::Yes,
        id::ARCH => cmp(u64::from(match action.abi {
            Abi::B64 => ARCH_B64,
            Abi::B32 => ARCH_B32,
        })),
        id::UID | id::EUID | 3 | 4 | id::GID | id::EGID | 7 | 8 | id::LOGINUID => {
            cmp(u64::from(cred(c, f.id, host).expect("a credential id")))
        }
        // loginuid_set
        24 => cmp(u64::from(c.auid.unwrap_or(host.parent_auid) != UNSET)),
        id::SUCCESS => match success(action.expect) {
            Some(ok) => {
                // The kernel compares return_valid (1 success, 2 failure) with the value's meaning.
                let want = num.unwrap_or(0) != 0;
                yes_if(if f.op == Op::Ne { ok != want } else { ok == want }, || name(f))
            }
            None => Verdict::Unknown(name(f)),
        },
        id::EXIT => match action.expect {
            Expect::Ok(v) => cmp(v as u64 & 0xffff_ffff),
            Expect::Err(e) => cmp(u64::from((-e) as u32)),
            Expect::NoReturn => cmp(0),
            _ => Verdict::Unknown(name(f)),
        },
        id::WATCH => path_field(f, action, |watched, object| match (host.lstat(watched), host.lstat(object)) {
            (Some(w), Some(o)) => w.dev == o.dev && w.ino == o.ino,
            _ => false,
        }),
        id::DIR => path_field(f, action, |dir, object| object == dir || object.starts_with(dir)),
        // `audit_match_perm`: the call's class shares a bit with the rule's.
        id::PERM => yes_if(num.is_some_and(|n| n & u64::from(action.perm) != 0), || name(f)),
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
        200..=203 => match action.arg_value((f.id - 200) as usize) {
            Some(v) => cmp(v),
            None => Verdict::Unknown(name(f)),
        },
        id::FIELD_COMPARE => comparison(f, action, host),
        _ => Verdict::Unknown(name(f)),
    }
}

fn path_field(f: &Field, action: &Action, test: impl Fn(&Path, &Path) -> bool) -> Verdict {
    let Value::Str(path) = &f.value else { return Verdict::Unknown(name(f)) };
    let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let hit = action.object.as_deref().is_some_and(|o| test(Path::new(trimmed), o));
    yes_if(if f.op == Op::Ne { !hit } else { hit }, || name(f))
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
        id::EUID | 4 => c.uid[1],
        3 => c.uid[2],
        id::GID => c.gid[0],
        id::EGID | 8 => c.gid[1],
        7 => c.gid[2],
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
            "suid" => 3,
            "fsuid" => 4,
            "gid" => id::GID,
            "egid" => id::EGID,
            "sgid" => 7,
            "fsgid" => 8,
            "auid" | "loginuid" => id::LOGINUID,
            "obj_uid" => return action.object.as_deref().and_then(|o| host.lstat(o)).map(|s| s.uid),
            "obj_gid" => return action.object.as_deref().and_then(|o| host.lstat(o)).map(|s| s.gid),
            _ => return None,
        };
        cred(&action.creds, subject, host)
    };
    let text = || format!("-C {a}{}{b}", f.op.symbol());
    match (value(a), value(b)) {
        (Some(x), Some(y)) => yes_if(if f.op == Op::Ne { x != y } else { x == y }, text),
        _ => Verdict::Unknown(text()),
    }
}
