//! The planner: for one loaded rule, a harmless action that satisfies every condition of the rule and
//! that no rule ahead of it on the exit list matches first, or the reason there is none.
//!
//! It enumerates the entries of [`RECIPES`] whose syscall the rule selects, fills in the object (the
//! rule's watched path, else a scratch path), the credentials (uid/gid triples and the loginuid, chosen
//! from the values the rule's conditions name) and the free arguments, and asks [`eval::matches`] the
//! kernel's question for the rule and for every earlier exit rule.

use std::{
    convert::Infallible,
    path::{Path, PathBuf},
};

use audit_verify_common::rule_semantics::{FirstMatch, arch_admits, first_match};

use super::{
    action::{Action, Creds, NOBODY},
    dead,
    eval::{self, Host, Verdict},
    recipes::{self, A, Expect, Need, Obj, RECIPES, Recipe},
    scratch::{Paths, searchable_by_others},
};
use crate::{
    rules::{
        Action as RuleAction, FilterList, Op, Rule, Value,
        fields::{ARCH_B32, ARCH_B64, UNSET, id},
    },
    syscalls::{self, Abi},
};

/// What the planner may use.
pub struct Ctx<'a> {
    pub host: &'a Host,
    pub paths: &'a Paths,
    /// The i386 syscall ABI works here (checked by running one call).
    pub ia32: bool,
    pub allow_mutation: bool,
}

/// A rule ahead of this one whose match would decide the record first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Index in the loaded rules.
    pub index: usize,
    pub never: bool,
    /// Why the match is not certain: what of the earlier rule the planner cannot evaluate.
    pub undecided: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Plan {
    Run {
        action: Box<Action>,
        /// Every action found is matched first by this earlier rule.
        blocked_by: Option<Blocker>,
        /// A condition the planner could not evaluate: the action is tried, and only a record decides.
        unknown: Option<String>,
        /// An earlier rule decides part of this rule's events (those of its credentials), and the action
        /// was chosen outside that part.
        partly: Option<Partly>,
    },
    Unprovable(String),
    /// No event can match the rule ([`dead::dead`]).
    Dead(String),
    /// A read or exec watch on a symlink, which never fires for what the operator means.
    Symlink(String),
}

/// Part of a rule's match set that an earlier rule decides first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partly {
    /// The earlier rule, by index in the loaded rules.
    pub index: usize,
    pub never: bool,
    /// Its conditions on the credentials, as auditctl writes them (`euid=0`).
    pub on: String,
}

/// Credential fields the planner can choose values for (fsuid/fsgid follow the effective ids).
const CRED_FIELDS: [u32; 9] =
    [id::UID, id::EUID, id::SUID, id::FSUID, id::GID, id::EGID, id::SGID, id::FSGID, id::LOGINUID];

/// Plans the proof of `loaded[index]`.
pub fn plan<'r>(loaded: &'r [Rule], index: usize, ctx: &Ctx<'_>) -> Plan {
    let rule = &loaded[index];
    if let Some(why) = not_exercised(rule) {
        return Plan::Unprovable(why);
    }
    // The first ABI of this CPU the rule's arch condition admits, 64-bit preferred.
    let abi = match rule.field(id::ARCH).map(|f| (f.op, &f.value)) {
        None => Abi::B64,
        Some((op, Value::Num(arch))) if arch_admits(op, *arch, ARCH_B64) => Abi::B64,
        Some((op, Value::Num(arch))) if arch_admits(op, *arch, ARCH_B32) => Abi::B32,
        Some((_, v)) => {
            return Plan::Unprovable(format!("arch {v:?} is neither x86_64 nor i386: this CPU cannot run it"));
        }
    };
    if let Some(why) = dead::dead(rule, abi) {
        return Plan::Dead(format!("can match nothing: {why}"));
    }
    if let Some(why) = symlink_watch(rule, ctx.host) {
        return Plan::Symlink(why);
    }
    if abi == Abi::B32 && !ctx.ia32 {
        return Plan::Unprovable(
            "b32 rule, and the i386 syscall ABI is disabled on this kernel (ia32_emulation)".into(),
        );
    }
    let target = match target(rule, ctx.host) {
        Ok(t) => t,
        Err(why) => return Plan::Unprovable(why),
    };
    let earlier: Vec<usize> = (0..index).filter(|i| loaded[*i].list == FilterList::Exit).collect();
    let task_nevers: Vec<usize> = (0..loaded.len())
        .filter(|i| loaded[*i].list == FilterList::Task && loaded[*i].action == RuleAction::Never)
        .collect();
    let new = |extra: Vec<&'r Rule>| Search {
        rule,
        loaded,
        earlier: &earlier,
        task_nevers: &task_nevers,
        ctx,
        abi,
        target: target.as_deref(),
        extra,
        known: 0,
        failed_on: vec![],
    };
    let mut search = new(Vec::new());
    if let Some(plan) = search.run(ctx.allow_mutation) {
        return outside_blockers(plan, loaded, |extra| new(extra).run(ctx.allow_mutation));
    }
    if !ctx.allow_mutation
        && let Some(Plan::Run { action, .. }) = new(Vec::new()).run(true)
    {
        return Plan::Unprovable(format!(
            "only a mutating action fires this rule ({}; it would: {}); --allow-mutation runs it",
            action.describe(),
            action.mutation().unwrap_or_default()
        ));
    }
    Plan::Unprovable(search.why_not())
}

/// Shadowing is judged over the rule's whole match set: when the action found is decided first by an
/// earlier rule that names credentials (`-F euid=0`), the search runs again with those credentials'
/// neighbours as candidates (an unprivileged euid, another auid). An action outside the earlier rule's
/// set proves the rule, and the plan says which part is shadowed; none means the whole set is.
fn outside_blockers<'r>(
    mut plan: Plan,
    loaded: &'r [Rule],
    mut search: impl FnMut(Vec<&'r Rule>) -> Option<Plan>,
) -> Plan {
    let mut widened: Vec<usize> = Vec::new();
    let mut first: Option<Partly> = None;
    // Each round adds the blocker found: a few rounds cover rules split by user (auid=0, auid>=1000).
    for _ in 0..4 {
        let Plan::Run { blocked_by: Some(b), .. } = &plan else { break };
        let blocker = &loaded[b.index];
        let on: Vec<String> = blocker.fields.iter().filter(|f| CRED_FIELDS.contains(&f.id)).map(eval::name).collect();
        if on.is_empty() || widened.contains(&b.index) {
            break;
        }
        first.get_or_insert(Partly { index: b.index, never: b.never, on: on.join(" ") });
        widened.push(b.index);
        match search(widened.iter().map(|i| &loaded[*i]).collect()) {
            Some(Plan::Run { action, blocked_by: None, unknown, .. }) => {
                return Plan::Run { action, blocked_by: None, unknown, partly: first };
            }
            Some(next @ Plan::Run { .. }) => plan = next,
            _ => break,
        }
    }
    plan
}

/// Lists and actions whose rules do not fire on an action of ours.
fn not_exercised(rule: &Rule) -> Option<String> {
    let why = match (rule.list, rule.action) {
        (FilterList::Exit, RuleAction::Always) => return None,
        (FilterList::Exit, _) => "a never rule records nothing: its effect is the absence of records (see shadowed)",
        (FilterList::Exclude, _) => "an exclude rule drops record types; it has no record of its own",
        (FilterList::User, _) => "a user-list rule filters user-space messages; not exercised",
        (FilterList::Task, _) => "a task rule is evaluated at fork for the whole task; not exercised",
        (FilterList::Filesystem, _) => "a filesystem rule excludes file systems; it has no record of its own",
        (FilterList::IoUring, _) => "an io_uring rule needs an io_uring operation; not exercised",
        (FilterList::Entry, _) => "the entry list is not evaluated by this kernel",
    };
    Some(why.into())
}

/// A watch (`-w`, `path=`) on a symlink whose permissions are only read or execute: the kernel watches
/// the link's own inode, and open and exec resolve the link, so reading or running the path never fires
/// the rule. (With `w` or `a` it still fires when the link itself is replaced, as /etc/localtime is by
/// timedatectl, so those are proven on the link.)
fn symlink_watch(rule: &Rule, host: &Host) -> Option<String> {
    use crate::rules::fields::perm;
    let f = rule.fields.iter().find(|f| f.id == id::WATCH && f.op == Op::Eq)?;
    let Value::Str(path) = &f.value else { return None };
    let path = Path::new(path);
    if host.lstat(path).is_none_or(|s| s.mode & libc::S_IFMT != libc::S_IFLNK) {
        return None;
    }
    let perms = match rule.field(id::PERM).map(|f| &f.value) {
        Some(Value::Num(n)) => *n,
        _ => perm::READ | perm::WRITE | perm::EXEC | perm::ATTR,
    };
    if perms & (perm::WRITE | perm::ATTR) != 0 {
        return None;
    }
    let link = std::fs::read_link(path).map_or_else(|_| "?".to_owned(), |t| t.display().to_string());
    let resolved = std::fs::canonicalize(path).ok();
    let resolved = match resolved {
        Some(r) if r.as_os_str() != link.as_str() => format!(" (resolved: {})", r.display()),
        Some(_) => String::new(),
        None => " (dangling)".to_owned(),
    };
    Some(format!(
        "never fires: {} is a symlink to {link}{resolved}; the kernel watches the link itself, and opening or \
         executing the path resolves it: watch the target",
        path.display()
    ))
}

/// The watched file or directory of a `-w`/`path=`/`dir=` rule, which must exist: the kernel matches
/// watches by inode, so a missing path fires only once something creates it.
fn target(rule: &Rule, host: &Host) -> Result<Option<PathBuf>, String> {
    let Some(f) = rule.fields.iter().find(|f| matches!(f.id, id::WATCH | id::DIR) && f.op == Op::Eq) else {
        return Ok(None);
    };
    let Value::Str(path) = &f.value else { return Ok(None) };
    let path = PathBuf::from(if path.len() > 1 { path.trim_end_matches('/') } else { path });
    match host.lstat(&path) {
        None => Err(format!(
            "{} does not exist: the kernel matches watches by inode, so only creating it would fire the rule",
            path.display()
        )),
        Some(s) if !matches!(s.mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK) => Err(format!(
            "{} is a device, FIFO or socket: opening it could act on it, so no action is run",
            path.display()
        )),
        Some(_) => Ok(Some(path)),
    }
}

struct Search<'a> {
    rule: &'a Rule,
    loaded: &'a [Rule],
    earlier: &'a [usize],
    /// Never rules on the task list (see [`Search::first_earlier_match`]).
    task_nevers: &'a [usize],
    ctx: &'a Ctx<'a>,
    abi: Abi,
    target: Option<&'a Path>,
    /// Earlier rules whose credential values are candidates too, to find an action outside them.
    extra: Vec<&'a Rule>,
    /// Syscalls of the rule we have an entry for.
    known: usize,
    /// Conditions that ruled candidates out.
    failed_on: Vec<String>,
}

/// Whether the running kernel is at least `major.minor` (from /proc/sys/kernel/osrelease).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    static RELEASE: std::sync::OnceLock<(u32, u32)> = std::sync::OnceLock::new();
    let (have_major, have_minor) = *RELEASE.get_or_init(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
    });
    (have_major, have_minor) >= (major, minor)
}

impl<'a> Search<'a> {
    fn run(&mut self, allow_mutation: bool) -> Option<Plan> {
        let (ctx, abi) = (self.ctx, self.abi);
        let mut best: Option<(u8, Plan)> = None;
        for recipe in RECIPES.iter().filter(|r| allow_mutation || !r.mutation) {
            let Some(nr) = syscalls::number(abi, recipe.name) else { continue };
            if self.rule.uses_mask() && !self.rule.has_syscall(nr) {
                continue;
            }
            self.known += 1;
            // execve with a bad argv is recorded only where the kernel resolves the path before copying
            // argv, which it does from Linux 6.8 on (do_execveat_common); before, it fails with EFAULT first.
            if recipe.name.starts_with("execve") && self.target.is_some() && !kernel_at_least(6, 8) {
                let why = "execve's path lookup comes after copying argv before Linux 6.8".to_owned();
                if !self.failed_on.contains(&why) {
                    self.failed_on.push(why);
                }
                continue;
            }
            let Some(base) = self.instantiate(recipe, abi, nr, ctx) else { continue };
            for action in self.variants(base) {
                let unknown = match eval::matches(self.rule, &action, ctx.host) {
                    Verdict::Yes => None,
                    Verdict::Unknown(what) => Some(what),
                    Verdict::No(what) => {
                        if !self.failed_on.contains(&what) {
                            self.failed_on.push(what);
                        }
                        continue;
                    }
                };
                let blocked_by = self.first_earlier_match(&action);
                let score = u8::from(unknown.is_some()) + 2 * u8::from(blocked_by.is_some());
                let plan = Plan::Run { action: Box::new(action), blocked_by, unknown, partly: None };
                if score == 0 {
                    return Some(plan);
                }
                if best.as_ref().is_none_or(|(s, _)| score < *s) {
                    best = Some((score, plan));
                }
            }
        }
        best.map(|(_, p)| p)
    }

    fn why_not(&self) -> String {
        if self.known == 0 {
            let names: Vec<String> = self
                .rule
                .syscalls()
                .take(6)
                .map(|nr| syscalls::name(self.abi, nr).map_or(nr.to_string(), str::to_owned))
                .collect();
            return format!("no harmless invocation is known for {}", names.join(", "));
        }
        if let Some(exe) = self.failed_on.iter().find(|w| w.starts_with("exe=")) {
            // Only for the login and privilege programs is running them "an authentication session".
            const AUTH: [&str; 10] =
                ["su", "sudo", "passwd", "login", "sshd", "newgrp", "chsh", "chfn", "gpasswd", "pkexec"];
            let program = exe.rsplit('/').next().unwrap_or_default();
            let what = if AUTH.contains(&program) {
                "running the program itself (an authentication session) is not a harmless action"
            } else {
                "running the program itself would run its own code, which the prover does not control"
            };
            return format!(
                "{exe}: only that program making the call fires the rule; the prover runs its own code, and {what}"
            );
        }
        // The rule asks for an outcome no harmless call gives: say why, where we know.
        let errno = self.rule.fields.iter().find_map(|f| match f.value {
            Value::Num(n) if f.id == id::EXIT && f.op == Op::Eq => Some((n as i32).unsigned_abs() as i32),
            _ => None,
        });
        let hints: Vec<&str> = recipes::NO_HARMLESS
            .iter()
            .filter(|(call, e, _)| {
                Some(*e) == errno && syscalls::number(self.abi, call).is_some_and(|nr| self.rule.has_syscall(nr))
            })
            .map(|(_, _, why)| *why)
            .collect();
        if !hints.is_empty() {
            return format!("no harmless action satisfies {}: {}", self.failed_on.join(", "), hints.join("; "));
        }
        format!("no harmless action satisfies {}", self.failed_on.join(", "))
    }

    fn instantiate(&self, recipe: &'static Recipe, abi: Abi, nr: u32, ctx: &Ctx<'_>) -> Option<Action> {
        let p = ctx.paths;
        let (object, object2, expect, on_target) = match recipe.obj {
            Obj::None => (None, None, recipe.expect, false),
            Obj::Auto => match self.target {
                Some(t) => (Some(t.to_owned()), Some(p.missing2.clone()), recipe.on_target?, true),
                None => (Some(p.missing.clone()), Some(p.missing2.clone()), recipe.expect, false),
            },
            Obj::Locked => (Some(p.locked.clone()), Some(p.missing2.clone()), recipe.expect, false),
            Obj::Readable => (Some(p.readable.clone()), Some(p.missing2.clone()), recipe.expect, false),
            Obj::Victim => (Some(p.victim.clone()), Some(p.victim2.clone()), recipe.expect, false),
            Obj::Writable => (Some(p.writable.clone()), Some(p.missing2.clone()), recipe.expect, false),
            Obj::Sticky => (Some(p.sticky.clone()), Some(p.sticky2.clone()), recipe.expect, false),
            Obj::Dir => (Some(p.dir.clone()), Some(p.beside_dir.clone()), recipe.expect, false),
        };
        let stat = object.as_deref().and_then(|o| ctx.host.lstat(o));
        // chmod follows a symlink: "the same mode" would be the link's (0777), applied to its target.
        if stat.is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFLNK) && recipe.args.contains(&A::Mode) {
            return None;
        }
        let is_dir = stat.is_some_and(|s| s.mode & libc::S_IFMT == libc::S_IFDIR);
        let expect = match expect {
            Expect::ProbeW if is_dir => Expect::Err(libc::EISDIR),
            Expect::ProbeR if is_dir => Expect::OkAny,
            Expect::ProbeW | Expect::ProbeR => Expect::Err(libc::ENOTDIR),
            e => e,
        };
        Some(Action {
            abi,
            nr,
            recipe,
            overrides: [None; 6],
            creds: Creds::of(recipe.need),
            expect,
            perm: recipe.perm,
            object,
            object2,
            mode: stat.map_or(0o644, |s| s.mode),
            on_target,
        })
    }

    /// The base action with every combination of the credentials and free arguments the rule constrains.
    fn variants(&self, base: Action) -> Vec<Action> {
        let parent_auid = self.ctx.host.parent_auid;
        let mut out = vec![base];
        let slots: [(u32, usize); 7] =
            [(id::UID, 0), (id::EUID, 1), (id::SUID, 2), (id::GID, 3), (id::EGID, 4), (id::SGID, 5), (id::LOGINUID, 6)];
        for (field, slot) in slots {
            out = each_value(out, &self.candidates(field), |a, v| match slot {
                0..=2 => a.creds.uid[slot] = v,
                3..=5 => a.creds.gid[slot - 3] = v,
                _ => a.creds.auid = (v != parent_auid).then_some(v),
            });
        }
        for i in 0..4 {
            if out[0].recipe.free & (1 << i) != 0 {
                out =
                    each_value(out, &self.candidates(id::ARG0 + i as u32), |a, v| a.overrides[i] = Some(u64::from(v)));
            }
        }
        out.retain(|a| self.feasible(a));
        out.truncate(4096);
        out
    }

    /// Values worth trying for a field the rule constrains: the ones it names and their neighbours.
    /// Empty when the rule says nothing about the field (the default stays).
    fn candidates(&self, field: u32) -> Vec<u32> {
        let compared = |f: &crate::rules::Field| {
            f.id == id::FIELD_COMPARE
                && matches!(field, id::UID | id::EUID | id::SUID | id::GID | id::EGID | id::SGID | id::LOGINUID)
        };
        let named: Vec<u32> = std::iter::once(self.rule)
            .chain(self.extra.iter().copied())
            .flat_map(|r| r.fields.iter())
            .filter(|f| {
                f.id == field || (field == id::EUID && f.id == id::FSUID) || (field == id::EGID && f.id == id::FSGID)
            })
            .filter_map(|f| match f.value {
                Value::Num(n) => Some(n),
                Value::Str(_) => None,
            })
            .collect();
        if named.is_empty() && !self.rule.fields.iter().any(compared) {
            return Vec::new();
        }
        let mut values = vec![0, 1000, NOBODY];
        if field == id::LOGINUID {
            values.insert(0, self.ctx.host.parent_auid);
        }
        for n in named {
            values.extend([n, n.wrapping_add(1), n.wrapping_sub(1)]);
        }
        let parent_auid = self.ctx.host.parent_auid;
        values.retain(|v| *v != UNSET || (field == id::LOGINUID && parent_auid == UNSET));
        values.dedup();
        let mut seen = Vec::new();
        values.retain(|v| {
            let new = !seen.contains(v);
            seen.push(*v);
            new
        });
        values
    }

    /// The recipe's own needs: no capabilities for `NonRoot`, root for `Root`; a non-owner for the
    /// chmod on a real target, who can reach it.
    fn feasible(&self, a: &Action) -> bool {
        if !recipes::harmless(a.recipe, &a.overrides) {
            return false;
        }
        let euid = a.creds.uid[1];
        let ok = match a.recipe.need {
            Need::Any => true,
            Need::Root => euid == 0,
            Need::NonRoot => euid != 0,
        };
        if !ok {
            return false;
        }
        if a.on_target && a.recipe.need == Need::NonRoot {
            let ctx = self.ctx;
            let owner = a.object.as_deref().and_then(|o| ctx.host.lstat(o)).map(|s| s.uid);
            return owner != Some(euid) && a.object.as_deref().is_some_and(searchable_by_others);
        }
        true
    }

    /// The earlier rule that decides `action`'s record first, walking the exit list as the kernel does.
    /// An earlier rule that may match leaves the outcome open, unless a later one surely matches: the
    /// action is blocked either way, and that one is named.
    fn first_earlier_match(&self, action: &Action) -> Option<Blocker> {
        let host = self.ctx.host;
        // A never rule on the task list, wherever it stands, is evaluated when the child is forked, with
        // the prover's own credentials, and leaves the child without an audit context: nothing it does
        // is recorded, whatever the exit list says.
        if !self.task_nevers.is_empty() {
            let at_fork = Action { creds: Creds::of(Need::Any), ..action.clone() };
            let loaded = self.loaded;
            if let Some(&index) =
                self.task_nevers.iter().find(|i| eval::matches(&loaded[**i], &at_fork, host) == Verdict::Yes)
            {
                return Some(Blocker { index, never: true, undecided: None });
            }
        }
        let blocker = |k: u32, undecided| {
            let index = self.earlier[k as usize];
            Blocker { index, never: self.loaded[index].action == RuleAction::Never, undecided }
        };
        let verdict = |k: u32| eval::matches(&self.loaded[self.earlier[k as usize]], action, host);
        let count = self.earlier.len() as u32;
        let Ok(first) = first_match::<Infallible>(count, count, |k| Ok(verdict(k).kind()));
        match first {
            FirstMatch::Rule(k) => Some(blocker(k, None)),
            FirstMatch::Undecided(k) => {
                if let Some(sure) = (k + 1..count).find(|j| verdict(*j) == Verdict::Yes) {
                    return Some(blocker(sure, None));
                }
                let what = match verdict(k) {
                    Verdict::Unknown(what) => Some(what),
                    _ => None,
                };
                Some(blocker(k, what))
            }
            FirstMatch::None => None,
        }
    }
}

/// Every action in `actions` once per value, `set` applying the value; no values: `actions` unchanged.
fn each_value(actions: Vec<Action>, values: &[u32], set: impl Fn(&mut Action, u32)) -> Vec<Action> {
    if values.is_empty() {
        return actions;
    }
    let set = &set;
    actions
        .into_iter()
        .flat_map(|a| {
            values.iter().map(move |&v| {
                let mut a = a.clone();
                set(&mut a, v);
                a
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prove::action::BAD_POINTER;
    use crate::rules::parse::{self, Command};

    fn rules(text: &str) -> Vec<Rule> {
        text.lines()
            .map(|l| match parse::parse_line(l).unwrap() {
                Command::Add { rule, .. } => rule,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn with_ctx<T>(allow_mutation: bool, f: impl FnOnce(&Ctx<'_>) -> T) -> T {
        let root = PathBuf::from("/nonexistent-av-plan");
        let paths = Paths::under(&root);
        let mut host = Host::new(PathBuf::from("/usr/bin/audit-verify"), UNSET);
        // As on a host with SELinux: subj_* conditions are the LSM's to decide.
        host.lsm_labels = true;
        f(&Ctx { host: &host, paths: &paths, ia32: true, allow_mutation })
    }

    fn run_of(plan: Plan) -> (Action, Option<Blocker>) {
        match plan {
            Plan::Run { action, blocked_by, .. } => (*action, blocked_by),
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn credentials_and_errors_follow_the_rule() {
        let loaded = rules(
            "-a always,exit -F arch=b64 -S open,openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -k access\n\
             -a always,exit -F arch=b32 -S execve -C uid!=euid -F euid=0 -k setuid\n\
             -a always,exit -F arch=b64 -S clock_settime -F a0=0x0 -k time",
        );
        with_ctx(false, |ctx| {
            let (a, _) = run_of(plan(&loaded, 0, ctx));
            assert_eq!((a.recipe.name, a.expect, a.creds.auid), ("openat", Expect::Err(libc::EACCES), Some(1000)));
            assert_ne!(a.creds.uid[1], 0, "EACCES needs a non-root child");
            let (a, _) = run_of(plan(&loaded, 1, ctx));
            assert_eq!((a.abi, a.recipe.name, a.creds.uid[1]), (Abi::B32, "execve", 0));
            assert_ne!(a.creds.uid[0], 0, "uid != euid");
            let (a, _) = run_of(plan(&loaded, 2, ctx));
            assert_eq!((a.arg_value(0), a.arg_value(1)), (Some(0), Some(BAD_POINTER)));
        });
    }

    #[test]
    fn earlier_rules_unknown_calls_and_mutations() {
        let loaded = rules(
            "-a always,exit -F arch=b64 -S fchdir -k first\n\
             -a always,exit -F arch=b64 -S fchdir -F exit=-EBADF -k second\n\
             -a always,exit -F arch=b64 -S unlink -F success=1 -k deleted\n\
             -a always,exit -F arch=b64 -S setuid -F exe=/usr/bin/su -k su\n\
             -a always,exit -F arch=b64 -S ioctl -k ioctl",
        );
        with_ctx(false, |ctx| {
            assert_eq!(run_of(plan(&loaded, 1, ctx)).1, Some(Blocker { index: 0, never: false, undecided: None }));
            let Plan::Unprovable(why) = plan(&loaded, 2, ctx) else { panic!("unlink success=1 mutates") };
            assert!(why.contains("--allow-mutation"), "{why}");
            let Plan::Unprovable(why) = plan(&loaded, 3, ctx) else { panic!("exe is not ours") };
            assert!(why.starts_with("exe=/usr/bin/su"), "{why}");
            let Plan::Unprovable(why) = plan(&loaded, 4, ctx) else { panic!("no recipe for ioctl") };
            assert!(why.contains("ioctl"), "{why}");
        });
        with_ctx(true, |ctx| {
            let (a, _) = run_of(plan(&loaded, 2, ctx));
            assert!(a.recipe.mutation && a.mutation().unwrap().contains("scratch"), "{a:?}");
        });
    }

    #[test]
    fn the_abi_is_one_the_arch_condition_admits() {
        let loaded = rules(
            "-a always,exit -F arch!=0x28 -S execve -k not_arm\n\
             -a always,exit -F arch=0x28 -S execve -k arm",
        );
        with_ctx(false, |ctx| {
            assert_eq!(run_of(plan(&loaded, 0, ctx)).0.abi, Abi::B64, "any arch but ARM's: x86_64 will do");
            let Plan::Unprovable(why) = plan(&loaded, 1, ctx) else { panic!("an ARM rule") };
            assert!(why.contains("neither x86_64 nor i386"), "{why}");
        });
    }

    /// An earlier rule that may match leaves the record's rule open, but a later one that surely matches
    /// blocks the action either way, and is the one named.
    #[test]
    fn a_sure_match_after_an_undecided_one_blocks() {
        let loaded = rules(
            "-a never,exit -F arch=b64 -S fchdir -F subj_type=unconfined_t\n\
             -a always,exit -F arch=b64 -S fchdir -k sure\n\
             -a always,exit -F arch=b64 -S fchdir -k after",
        );
        with_ctx(false, |ctx| {
            let blocker = run_of(plan(&loaded, 2, ctx)).1.expect("rule 1 matches first");
            assert_eq!(blocker, Blocker { index: 1, never: false, undecided: None });
        });
    }

    /// An earlier never rule with a filter the planner cannot evaluate only might match: the blocker
    /// carries what is undecided, so the verdict can say how sure it is.
    #[test]
    fn an_undecidable_earlier_never_rule_is_an_uncertain_blocker() {
        let loaded = rules(
            "-a never,exit -F arch=b64 -S fchdir -F subj_type=unconfined_t\n\
             -a always,exit -F arch=b64 -S fchdir -k after",
        );
        with_ctx(false, |ctx| {
            let blocker = run_of(plan(&loaded, 1, ctx)).1.expect("the never rule may match first");
            assert_eq!((blocker.index, blocker.never), (0, true));
            assert!(blocker.undecided.as_deref().is_some_and(|w| w.contains("subj_type")), "{blocker:?}");
        });
    }

    /// On a kernel with no labelling LSM, a never rule on subj_type matches nothing and shadows nothing.
    #[test]
    fn an_lsm_never_rule_shadows_nothing_without_an_lsm() {
        let loaded = rules(
            "-a never,exit -F arch=b64 -S fchdir -F subj_type=crond_t\n\
             -a always,exit -F arch=b64 -S fchdir -k after",
        );
        let paths = Paths::under(Path::new("/nonexistent-av-plan"));
        let mut host = Host::new(PathBuf::from("/usr/bin/audit-verify"), UNSET);
        host.lsm_labels = false;
        let ctx = Ctx { host: &host, paths: &paths, ia32: true, allow_mutation: false };
        assert_eq!(run_of(plan(&loaded, 1, &ctx)).1, None);
    }

    /// An earlier execve rule for euid 0 shadows a watch only for root: the action runs as another euid,
    /// outside the earlier rule's set, and the plan says which part is shadowed.
    #[test]
    fn shadowing_for_root_only_is_proven_as_another_user() {
        let exe = std::env::current_exe().unwrap();
        let loaded = rules(&format!(
            "-a always,exit -F arch=b64 -S execve,execveat -F euid=0 -k rootcmd\n-w {} -p x -k mine",
            exe.display()
        ));
        with_ctx(false, |ctx| {
            let Plan::Run { action, blocked_by, partly, .. } = plan(&loaded, 1, ctx) else { panic!("runs") };
            assert_eq!(blocked_by, None);
            assert_ne!(action.creds.uid[1], 0, "{action:?}");
            assert_eq!(partly, Some(Partly { index: 0, never: false, on: "euid=0".into() }));
        });
        // With no credential condition the earlier rule shadows the whole set.
        let loaded =
            rules(&format!("-a always,exit -F arch=b64 -S execve,execveat -k all\n-w {} -p x -k mine", exe.display()));
        with_ctx(false, |ctx| {
            let Plan::Run { blocked_by, partly, .. } = plan(&loaded, 1, ctx) else { panic!("runs") };
            assert_eq!((blocked_by.map(|b| b.index), partly), (Some(0), None));
        });
    }

    /// `-a never,task` disables auditing of every process forked after it matched: whatever its position,
    /// it decides first.
    #[test]
    fn a_never_task_rule_blocks_everything() {
        let loaded = rules("-a always,exit -F arch=b64 -S fchdir -k k\n-a never,task");
        with_ctx(false, |ctx| {
            assert_eq!(run_of(plan(&loaded, 0, ctx)).1, Some(Blocker { index: 1, never: true, undecided: None }));
        });
    }
}
