//! From what was recorded to verdicts: each action's outcome, then each probe's, then each
//! requirement's. A record of the action, whatever rule or key wrote it, covers it.

use std::fmt::Write as _;

use super::{
    Actor, Attempt, Outcome, ProbeResult, RequirementResult, Verdict, Via, attempts::Planned, errno_text,
    profile::Requirement,
};
use crate::{
    barrier::Barrier,
    prove::{
        Evidence,
        collect::{Seen, URING},
        eval::{self, Host, Verdict as Match},
        exec::{IORING_OP_OPENAT, Ran},
    },
    rules::{Action as RuleAction, FilterList, Rule, Value, fields::id},
    syscalls::Abi,
};

/// `AUDIT_SYSCALL` and `AUDIT_URINGOP`: the record types an `exclude` rule may remove from the evidence.
const SYSCALL: u32 = 1300;
const URINGOP: u32 = 1336;

/// What the run saw, and the rules it ran against.
pub struct Heard<'a> {
    pub written: &'a [Seen],
    pub emitted: &'a [Seen],
    pub barrier: &'a Barrier,
    pub loaded: &'a [Rule],
    pub host: &'a Host,
}

/// The verdict of requirement `index` of the profile over its probes.
#[must_use]
pub fn requirement(index: usize, r: &Requirement, planned: &[Planned], heard: &Heard<'_>) -> RequirementResult {
    let mut out = RequirementResult {
        id: r.id.clone(),
        title: r.title.clone(),
        verdict: Verdict::Unprovable,
        reason: r.unprovable.clone(),
        evidence: None,
        probes: Vec::new(),
    };
    for p in planned.iter().filter(|p| p.requirement == index) {
        out.probes.push(probe(&r.probes[p.probe].0, p, heard));
    }
    if r.unprovable.is_some() || out.probes.is_empty() {
        return out;
    }
    let judged: Vec<&ProbeResult> = out.probes.iter().filter(|p| p.verdict != Verdict::Unprovable).collect();
    let unprovable: Vec<String> = out
        .probes
        .iter()
        .filter(|p| p.verdict == Verdict::Unprovable)
        .map(|p| format!("`{}` unprovable: {}", p.rule, p.reason.as_deref().unwrap_or("")))
        .collect();
    out.evidence = judged
        .iter()
        .flat_map(|p| &p.attempts)
        .find(|a| a.via == Via::Syscall && a.outcome == Outcome::Recorded)
        .and_then(|a| a.evidence.clone());
    let all = |v: Verdict| judged.iter().all(|p| p.verdict == v);
    let any = |v: Verdict| judged.iter().any(|p| p.verdict == v);
    out.verdict = if judged.is_empty() {
        Verdict::Unprovable
    } else if all(Verdict::Covered) {
        Verdict::Covered
    } else if all(Verdict::NotCovered) {
        Verdict::NotCovered
    } else if any(Verdict::NotCovered) || any(Verdict::Partial) {
        Verdict::Partial
    } else {
        Verdict::Blind
    };
    let mut reasons: Vec<String> = judged
        .iter()
        .filter(|p| p.verdict != Verdict::Covered)
        .map(|p| format!("`{}` {}: {}", p.rule, p.verdict.name(), p.reason.as_deref().unwrap_or("")))
        .collect();
    reasons.extend(unprovable);
    out.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    out
}

/// The verdict of one probe over its actions.
fn probe(rule: &str, planned: &Planned, heard: &Heard<'_>) -> ProbeResult {
    let attempts: Vec<Attempt> = planned.runs.iter().map(|r| attempt(r, heard)).collect();
    let mut out = ProbeResult { rule: rule.to_owned(), verdict: Verdict::Unprovable, reason: None, attempts };
    if let Some(why) = &planned.unprovable {
        out.reason = Some(why.clone());
        return out;
    }
    let (verdict, reason) = probe_verdict(&out.attempts, heard.loaded);
    (out.verdict, out.reason) = (verdict, reason);
    out
}

/// "user", "user and root", "user, root and service".
fn names(actors: &[Actor]) -> String {
    match actors {
        [] => String::new(),
        [one] => one.name().to_owned(),
        [rest @ .., last] => {
            format!("{} and {}", rest.iter().map(|a| a.name()).collect::<Vec<_>>().join(", "), last.name())
        }
    }
}

/// Covered when every action was recorded; otherwise what was not, and which verdict that is.
fn probe_verdict(attempts: &[Attempt], loaded: &[Rule]) -> (Verdict, Option<String>) {
    let primary: Vec<&Attempt> = attempts.iter().filter(|a| a.via == Via::Syscall).collect();
    if let Some(a) = primary.iter().find(|a| a.outcome == Outcome::NotRun) {
        return (Verdict::Unprovable, a.reason.clone());
    }
    let recorded: Vec<Actor> = primary.iter().filter(|a| a.outcome == Outcome::Recorded).map(|a| a.actor).collect();
    let missed: Vec<Actor> = primary.iter().filter(|a| a.outcome != Outcome::Recorded).map(|a| a.actor).collect();
    let unwritten = primary.iter().find(|a| a.outcome == Outcome::NotWritten).and_then(|a| a.reason.clone());
    if recorded.is_empty() {
        if let Some(rule) = excluded_by(loaded, SYSCALL) {
            return (
                Verdict::Blind,
                Some(format!(
                    "the action ran as {} and left no SYSCALL record: `{rule}` is an exclude rule that removes that \
                     record type, so no rule can record it",
                    names(&missed)
                )),
            );
        }
        let mut why = format!("the action ran as {} and no record of it reached the barrier", names(&missed));
        match (unwritten, primary.iter().find_map(|a| a.reason.as_deref())) {
            (Some(u), _) => {
                let _ = write!(why, " ({u})");
            }
            (None, Some(r)) => {
                let _ = write!(why, ": {r}");
            }
            (None, None) => {}
        }
        return (Verdict::NotCovered, Some(why));
    }
    let mut gaps: Vec<(Verdict, String)> = Vec::new();
    if missed == [Actor::Service] {
        gaps.push((
            Verdict::Blind,
            format!(
                "recorded as {}, not as a process without a loginuid (a service, a container started by a daemon): \
                 a filter on auid (auid>=1000, auid!=unset) leaves those out",
                names(&recorded)
            ),
        ));
    } else if !missed.is_empty() {
        gaps.push((Verdict::Partial, format!("recorded as {}, not as {}", names(&recorded), names(&missed))));
    }
    for a in attempts.iter().filter(|a| a.via != Via::Syscall) {
        match (a.via, a.outcome) {
            (Via::Int80, Outcome::NotRecorded | Outcome::NotWritten) => gaps.push((
                Verdict::Partial,
                "recorded through the 64-bit syscall, not through the 32-bit ABI (int 0x80): no rule for arch=b32 \
                 records it"
                    .into(),
            )),
            (Via::IoUring, Outcome::NotRecorded | Outcome::NotWritten) => gaps.push((
                Verdict::Blind,
                match excluded_by(loaded, URINGOP) {
                    Some(rule) => {
                        format!("its io_uring twin (IORING_OP_OPENAT) left no record: `{rule}` removes URINGOP records")
                    }
                    None => {
                        "its io_uring twin (IORING_OP_OPENAT of the same path, same flags) is not recorded: the kernel \
                             filters io_uring operations on their own list, and no `-a always,io_uring` rule covers it"
                            .into()
                    }
                },
            )),
            _ => {}
        }
    }
    let Some((first, _)) = gaps.first() else { return (Verdict::Covered, None) };
    let verdict = if gaps.iter().any(|(v, _)| *v == Verdict::Partial) { Verdict::Partial } else { *first };
    (verdict, Some(gaps.into_iter().map(|(_, w)| w).collect::<Vec<_>>().join("; ")))
}

/// An `exclude` rule that removes every record of type `code`: it has only `msgtype` conditions, and each
/// holds for `code` (the kernel drops a record that any exclude rule matches, always or never). One
/// narrowed by other fields (`auid=`, `pid=`) removes some of them only, so it is not named.
fn excluded_by(loaded: &[Rule], code: u32) -> Option<String> {
    loaded
        .iter()
        .filter(|r| r.list == FilterList::Exclude)
        .find(|r| {
            let types: Vec<_> = r.fields.iter().filter(|f| f.id == id::MSGTYPE).collect();
            !types.is_empty()
                && types.len() == r.fields.len()
                && types.iter().all(|f| match f.value {
                    Value::Num(n) => audit_verify_common::rule_semantics::compare(f.op, code, n),
                    Value::Str(_) => false,
                })
        })
        .map(ToString::to_string)
}

/// What came of one action: its record in the log, only on the multicast socket, none, or why it did not run.
fn attempt(run: &super::attempts::Run, heard: &Heard<'_>) -> Attempt {
    let mut action = run.action.describe();
    if run.via == Via::IoUring {
        action = format!("IORING_OP_OPENAT through io_uring, as {action}");
    }
    let mut out = Attempt {
        actor: run.actor,
        via: run.via,
        action,
        outcome: Outcome::NotRun,
        returned: None,
        evidence: None,
        reason: None,
    };
    let ret = match &run.ran {
        None => {
            out.reason = Some("not run: a signal stopped the run first".into());
            return out;
        }
        Some(Ran::SetupFailed { step, errno }) => {
            out.reason =
                Some(format!("the child could not prepare the action: {step} failed ({})", errno_text(*errno)));
            return out;
        }
        Some(Ran::Died(how)) => {
            out.reason = Some(format!("the action's child {how} before reporting"));
            return out;
        }
        Some(Ran::Returned(r)) => Some(*r),
        Some(Ran::Exited) => None,
    };
    out.returned = ret;
    let (nr, arch) = match (run.via, run.action.abi) {
        (Via::IoUring, _) => (IORING_OP_OPENAT, URING),
        (_, Abi::B64) => (run.action.nr, crate::rules::fields::ARCH_B64),
        (_, Abi::B32) => (run.action.nr, crate::rules::fields::ARCH_B32),
    };
    // A URINGOP record's `exit` is what the operation's issue handler returned (0 once it completed the
    // request), not the result the completion carries (io_issue_sqe, io_uring/io_uring.c): not compared.
    let expect = if run.via == Via::IoUring { None } else { ret };
    let ours = |s: &&Seen| s.is_of(run.pid, nr, arch, expect);
    if let Some(record) = heard.written.iter().rev().find(ours) {
        out.outcome = Outcome::Recorded;
        out.evidence = Some(Evidence::of(record));
    } else if let Some(record) = heard.emitted.iter().rev().find(ours) {
        out.outcome = Outcome::NotWritten;
        out.evidence = Some(Evidence::of(record));
        let late = match heard.barrier {
            Barrier::TimedOut { waited_ms, .. } => format!("; auditd did not write the barrier within {waited_ms} ms"),
            Barrier::Reached { .. } => String::new(),
        };
        out.reason = Some(format!(
            "the kernel emitted the record (event {}) but audit.log does not have it{late}",
            record.event
        ));
    } else {
        out.outcome = Outcome::NotRecorded;
        out.reason = Some(explain(run, heard.loaded, heard.host));
    }
    out
}

/// Why an action left no record, as far as the loaded rules tell before the action: the rule that decides
/// it first (a never rule, or an always rule whose record then went missing), or none that matches.
fn explain(run: &super::attempts::Run, loaded: &[Rule], host: &Host) -> String {
    let at = |i: usize| format!("`{}` (loaded rule {})", loaded[i], i + 1);
    if run.via == Via::IoUring {
        let uring = loaded.iter().filter(|r| r.list == FilterList::IoUring).count();
        return if uring == 0 {
            "no rule is loaded on the io_uring list".into()
        } else {
            format!("none of the {uring} rules on the io_uring list matches IORING_OP_OPENAT for it")
        };
    }
    // A never rule on the task list matched at fork (with the parent's credentials) leaves the child
    // without an audit context: nothing it does is recorded.
    let at_fork = super::attempts::Run::at_fork(&run.action);
    if let Some(i) = loaded.iter().position(|r| {
        r.list == FilterList::Task && r.action == RuleAction::Never && eval::matches(r, &at_fork, host) == Match::Yes
    }) {
        return format!("{}, a never rule on the task list, gives the child no audit context", at(i));
    }
    for (i, rule) in loaded.iter().enumerate().filter(|(_, r)| r.list == FilterList::Exit) {
        match eval::matches(rule, &run.action, host) {
            Match::No(_) => {}
            Match::Yes if rule.action == RuleAction::Never => {
                return format!("{}, a never rule, matches it first", at(i));
            }
            Match::Yes => {
                return format!("{} matches it, yet no record of it reached the barrier", at(i));
            }
            Match::Unknown(what) => {
                return format!("{} may match it first (its `{what}` is not known before the action)", at(i));
            }
        }
    }
    "no loaded rule matches it".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        cover::{
            attempts::{plan, with_ctx},
            profile::for_test,
        },
        rules::parse::{Command, parse_line},
    };

    fn attempt(actor: Actor, via: Via, outcome: Outcome) -> Attempt {
        Attempt { actor, via, action: String::new(), outcome, returned: Some(-1), evidence: None, reason: None }
    }

    fn rule(text: &str) -> Rule {
        match parse_line(text) {
            Ok(Command::Add { rule, .. }) => rule,
            other => panic!("{other:?}"),
        }
    }

    /// The verdicts over what was recorded, each with its reason.
    #[test]
    fn verdicts_follow_what_was_recorded() {
        use Outcome::{NotRecorded, NotRun, Recorded};
        let (u, r, s) = (Actor::User, Actor::Root, Actor::Service);
        let case = |attempts: &[Attempt], loaded: &[Rule]| probe_verdict(attempts, loaded);
        let sys = |actor, outcome| attempt(actor, Via::Syscall, outcome);
        assert_eq!(case(&[sys(u, Recorded), sys(r, Recorded)], &[]).0, Verdict::Covered);
        let (v, why) = case(&[sys(u, NotRecorded), sys(r, NotRecorded)], &[]);
        assert_eq!(v, Verdict::NotCovered);
        assert!(why.unwrap().contains("as user and root"));
        let (v, why) = case(&[sys(u, Recorded), sys(s, NotRecorded)], &[]);
        assert_eq!(v, Verdict::Blind);
        assert!(why.unwrap().contains("without a loginuid"));
        let (v, why) = case(&[sys(u, Recorded), sys(r, NotRecorded)], &[]);
        assert_eq!((v, why.as_deref()), (Verdict::Partial, Some("recorded as user, not as root")));
        let (v, why) = case(&[sys(u, Recorded), attempt(u, Via::Int80, NotRecorded)], &[]);
        assert_eq!(v, Verdict::Partial);
        assert!(why.unwrap().contains("int 0x80"));
        let (v, why) = case(&[sys(u, Recorded), attempt(u, Via::IoUring, NotRecorded)], &[]);
        assert_eq!(v, Verdict::Blind);
        assert!(why.unwrap().contains("io_uring"));
        // Both: partial leads, and both reasons are given.
        let (v, why) =
            case(&[sys(u, Recorded), attempt(u, Via::Int80, NotRecorded), attempt(u, Via::IoUring, NotRecorded)], &[]);
        assert_eq!(v, Verdict::Partial);
        assert!(why.as_deref().is_some_and(|w| w.contains("int 0x80") && w.contains("io_uring")), "{why:?}");
        // A twin that could not run says nothing; the action itself not running is unprovable.
        assert_eq!(case(&[sys(u, Recorded), attempt(u, Via::IoUring, NotRun)], &[]).0, Verdict::Covered);
        assert_eq!(case(&[sys(u, NotRun)], &[]).0, Verdict::Unprovable);
        // Nothing recorded under an exclude rule for SYSCALL records: blind, naming the rule.
        let exclude = [rule("-a always,exclude -F msgtype=SYSCALL")];
        let (v, why) = case(&[sys(u, NotRecorded)], &exclude);
        assert_eq!(v, Verdict::Blind);
        assert!(why.unwrap().contains("msgtype=SYSCALL"));
        let other = [rule("-a always,exclude -F msgtype=CWD")];
        assert_eq!(case(&[sys(u, NotRecorded)], &other).0, Verdict::NotCovered, "CWD records are not the evidence");
    }

    /// An action with no record is explained by the loaded rule that decides it first, or by none.
    #[test]
    fn a_missing_record_names_the_rule_that_decides_first() {
        let profile = for_test(
            "[[requirement]]\nid = \"A\"\ntitle = \"t\"\nprobes = [\"-a always,exit -F arch=b64 -S adjtimex\"]\n",
        );
        with_ctx(|ctx| {
            let host = ctx.host;
            let planned = plan(&profile, ctx);
            let run = &planned[0].runs[0];
            let why = |rules: &[&str]| explain(run, &rules.iter().map(|r| rule(r)).collect::<Vec<_>>(), host);
            assert_eq!(why(&["-a always,exit -F arch=b64 -S uname"]), "no loaded rule matches it");
            let never = why(&["-a never,exit -F arch=b64 -S adjtimex", "-a always,exit -F arch=b64 -S adjtimex"]);
            assert!(never.contains("a never rule, matches it first") && never.contains("loaded rule 1"), "{never}");
            assert!(why(&["-a never,task"]).contains("task list"));
            let always = why(&["-a always,exit -F arch=b64 -S adjtimex -F auid>=1000"]);
            assert!(always.contains("yet no record"), "{always}");
        });
    }

    /// The whole judgement over synthetic records: a requirement whose probes are covered is covered with
    /// the record; one probe not recorded at all while another is makes it partial.
    #[test]
    fn requirements_combine_their_probes() {
        let profile = for_test(
            "[[requirement]]\nid = \"A\"\ntitle = \"t\"\nprobes = [\"-a always,exit -F arch=b64 -S adjtimex\", \
             \"-a always,exit -F arch=b64 -S settimeofday\"]\n",
        );
        with_ctx(|ctx| {
            let host = ctx.host;
            let mut planned = plan(&profile, ctx);
            let mut records = Vec::new();
            for (pid, run) in (100..).zip(planned.iter_mut().flat_map(|p| p.runs.iter_mut())) {
                (run.pid, run.ran) = (pid, Some(Ran::Returned(-14)));
                let arch =
                    if run.via == Via::Int80 { crate::rules::fields::ARCH_B32 } else { crate::rules::fields::ARCH_B64 };
                records.push(Seen {
                    pid,
                    arch,
                    syscall: run.action.nr,
                    exit: Some(-14),
                    key: Some("time".into()),
                    serial: u64::from(pid),
                    event: format!("1.0:{pid}"),
                    file: Some("audit.log".into()),
                    line: Some(1),
                    offset: Some(u64::from(pid) * 100),
                });
            }
            let barrier = Barrier::Reached { offset: 0, waited_ms: 1 };
            let judge = |written: &[Seen]| {
                let heard = Heard { written, emitted: &[], barrier: &barrier, loaded: &[], host };
                requirement(0, &profile.requirements[0], &planned, &heard)
            };
            let all = judge(&records);
            assert_eq!(all.verdict, Verdict::Covered, "{all:?}");
            assert_eq!(all.evidence.as_ref().map(|e| (e.serial, e.offset)), Some((100, Some(10_000))));
            // The second probe's records gone: partial, naming it.
            // The plan's order: adjtimex (b64, then int 0x80), then settimeofday.
            assert_eq!(planned[0].runs.len(), 2);
            let some = judge(&records[..2]);
            assert_eq!(some.verdict, Verdict::Partial, "{some:?}");
            assert!(some.reason.as_deref().is_some_and(|w| w.contains("settimeofday` not_covered")), "{some:?}");
            let none = judge(&[]);
            assert_eq!(none.verdict, Verdict::NotCovered, "{none:?}");
            assert!(none.evidence.is_none());
        });
    }
}
