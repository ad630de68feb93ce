//! From a profile to the actions to run: for each probe, prove's planner picks the harmless action that
//! satisfies the probe alone (it is never loaded), and the action is made once per actor, then once more
//! through the 32-bit ABI and, for an `openat`, through `io_uring`, as the first actor.

use std::io;

use super::{Actor, Via, profile::Profile};
use crate::{
    prove::{
        action::{Action, Creds},
        eval::{self, Verdict},
        exec::{self, Arena, Ran},
        plan::{self, Ctx, Plan},
        recipes::Need,
    },
    rules::{
        Field, Op, Rule, Value,
        fields::{ARCH_B32, UNSET, id},
        parse::{Command, parse_line},
    },
    syscalls::Abi,
};

/// The uid and gid a logged-in user's own process runs as (the first `UID_MIN` account).
const USER: u32 = 1000;

/// One action to make, and what came of it.
#[derive(Debug)]
pub struct Run {
    pub actor: Actor,
    pub via: Via,
    pub action: Action,
    /// The child's pid, once run.
    pub pid: u32,
    /// `None` until it has run (a signal may stop the run first).
    pub ran: Option<Ran>,
}

impl Run {
    fn new(actor: Actor, via: Via, action: Action) -> Self {
        Self { actor, via, action, pid: 0, ran: None }
    }

    /// The action with the credentials its child has when forked: the prover's (root), before it sets
    /// its own. Task-list rules are evaluated then.
    #[must_use]
    pub fn at_fork(action: &Action) -> Action {
        Action { creds: Creds { auid: None, uid: [0; 3], gid: [0; 3] }, ..action.clone() }
    }

    /// Makes the action in a child.
    ///
    /// # Errors
    ///
    /// When the child cannot be run (pipe, fork, waitpid, or the action's arguments).
    pub fn run(&mut self, arena: &mut Arena) -> io::Result<()> {
        let (pid, ran) = match self.via {
            Via::IoUring => exec::run_via_io_uring(&self.action, arena)?,
            Via::Syscall | Via::Int80 => exec::run(&self.action, arena)?,
        };
        (self.pid, self.ran) = (pid, Some(ran));
        Ok(())
    }
}

/// One probe of one requirement, planned.
#[derive(Debug)]
pub struct Planned {
    /// Index of the requirement in the profile, and of the probe in it.
    pub requirement: usize,
    pub probe: usize,
    /// Why no action satisfies the probe here (then `runs` is empty).
    pub unprovable: Option<String>,
    pub runs: Vec<Run>,
}

/// Every probe of every requirement, with its actions.
#[must_use]
pub fn plan(profile: &Profile, ctx: &Ctx<'_>) -> Vec<Planned> {
    let mut out = Vec::new();
    for (requirement, r) in profile.requirements.iter().enumerate() {
        for (probe, (text, rule)) in r.probes.iter().enumerate() {
            let mut planned = Planned { requirement, probe, unprovable: None, runs: Vec::new() };
            match action_for(rule, ctx) {
                Err(why) => planned.unprovable = Some(why),
                Ok(action) => {
                    let first = r.actors[0];
                    for actor in &r.actors {
                        planned.runs.push(Run::new(*actor, Via::Syscall, as_actor(&action, *actor, rule, ctx)));
                    }
                    if action.abi == Abi::B64 && ctx.ia32 {
                        let twin = b32_twin(text, rule).and_then(|r32| Some((action_for(&r32, ctx).ok()?, r32)));
                        if let Some((a32, r32)) = twin {
                            planned.runs.push(Run::new(first, Via::Int80, as_actor(&a32, first, &r32, ctx)));
                        }
                    }
                    if action.abi == Abi::B64 && action.recipe.name == "openat" {
                        planned.runs.push(Run::new(first, Via::IoUring, as_actor(&action, first, rule, ctx)));
                    }
                }
            }
            out.push(planned);
        }
    }
    out
}

/// The planner's action for the probe alone, or why there is none.
fn action_for(rule: &Rule, ctx: &Ctx<'_>) -> Result<Action, String> {
    match plan::plan(std::slice::from_ref(rule), 0, ctx) {
        Plan::Run { action, .. } => Ok(*action),
        Plan::Unprovable(why) | Plan::Dead(why) | Plan::Symlink(why) => Err(why),
    }
}

/// The probe for the 32-bit ABI: a syscall probe written for `arch=b64` read again for `arch=b32` (the
/// syscall numbers differ), or a watch or path probe with no arch given `arch=b32`. `None` where the
/// calls do not exist on i386 or the probe already names another arch.
fn b32_twin(text: &str, rule: &Rule) -> Option<Rule> {
    if text.contains("arch=b64") {
        return match parse_line(&text.replace("arch=b64", "arch=b32")) {
            Ok(Command::Add { rule, .. }) => Some(rule),
            _ => None,
        };
    }
    if rule.field(id::ARCH).is_some() || !rule.all_syscalls() {
        return None;
    }
    let mut r32 = rule.clone();
    r32.fields.push(Field { id: id::ARCH, op: Op::Eq, value: Value::Num(ARCH_B32) });
    Some(r32)
}

/// The action as `actor` makes it: its loginuid, and for a user, uid and gid 1000 where the action needs
/// no privilege and the probe does not ask for other credentials.
fn as_actor(action: &Action, actor: Actor, rule: &Rule, ctx: &Ctx<'_>) -> Action {
    let mut a = action.clone();
    a.creds.auid = Some(match actor {
        Actor::Root => 0,
        Actor::User => USER,
        Actor::Service => UNSET,
    });
    if actor == Actor::User && a.recipe.need == Need::Any && a.creds.is_root() {
        let mut own = a.clone();
        own.creds.uid = [USER; 3];
        own.creds.gid = [USER; 3];
        if !matches!(eval::matches(rule, &own, ctx.host), Verdict::No(_)) {
            return own;
        }
    }
    a
}

/// A planning context on a scratch layout that does not exist, as a host with IA32 emulation, for the
/// unit tests.
#[cfg(test)]
pub(crate) fn with_ctx<T>(f: impl FnOnce(&Ctx<'_>) -> T) -> T {
    use std::path::{Path, PathBuf};

    use crate::prove::{eval::Host, scratch::Paths};
    let paths = Paths::under(Path::new("/nonexistent-av-cover"));
    let host = Host::new(PathBuf::from("/usr/bin/audit-verify"), UNSET);
    f(&Ctx { host: &host, paths: &paths, ia32: true, allow_mutation: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cover::profile::for_test as profile;

    /// Each actor gets its loginuid; the 32-bit twin is the same call by its i386 number, the `io_uring`
    /// twin the same openat; a user's own process has uid 1000 where the call needs no privilege.
    #[test]
    fn actors_and_twins() {
        let p = profile(
            "[[requirement]]\nid = \"A\"\ntitle = \"t\"\nactors = [\"user\", \"root\", \"service\"]\n\
             probes = [\"-w /etc/passwd -p wa\", \"-a always,exit -F arch=b64 -S adjtimex\"]\n",
        );
        let planned = with_ctx(|ctx| plan(&p, ctx));
        let watch = &planned[0];
        let shape: Vec<(Actor, Via, Option<u32>)> =
            watch.runs.iter().map(|r| (r.actor, r.via, r.action.creds.auid)).collect();
        assert_eq!(
            shape,
            [
                (Actor::User, Via::Syscall, Some(1000)),
                (Actor::Root, Via::Syscall, Some(0)),
                (Actor::Service, Via::Syscall, Some(UNSET)),
                (Actor::User, Via::Int80, Some(1000)),
                (Actor::User, Via::IoUring, Some(1000)),
            ]
        );
        assert_eq!(watch.runs[0].action.recipe.name, "openat");
        assert_eq!(watch.runs[0].action.creds.uid, [USER; 3], "a user's own open");
        assert_eq!(watch.runs[1].action.creds.uid, [0; 3]);
        assert_eq!((watch.runs[3].action.abi, watch.runs[3].action.nr), (Abi::B32, 295), "i386 openat");
        let time = &planned[1];
        assert_eq!(time.runs.len(), 4, "adjtimex has no io_uring twin: {:?}", time.runs);
        assert_eq!((time.runs[3].via, time.runs[3].action.nr), (Via::Int80, 124), "i386 adjtimex");
        assert_ne!(time.runs[0].action.creds.uid[1], 0, "adjtimex fails harmlessly only without privilege");
    }

    /// A probe on a path that does not exist here has no action: the planner's reason is kept.
    #[test]
    fn a_missing_target_is_unprovable_with_the_reason() {
        let p = profile("[[requirement]]\nid = \"A\"\ntitle = \"t\"\nprobes = [\"-w /nonexistent-av/x -p wa\"]\n");
        let planned = with_ctx(|ctx| plan(&p, ctx));
        assert!(planned[0].runs.is_empty());
        assert!(planned[0].unprovable.as_deref().is_some_and(|w| w.contains("does not exist")), "{planned:?}");
    }
}
