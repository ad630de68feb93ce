//! `prove`: for every loaded rule, run a harmless action the rule must record and find the record.
//!
//! The loaded rules (netlink, kernel order) are mapped to the rules files by canonical equality, as
//! [`diff`] pairs them. For each exit rule the [`plan`]ner picks a call from [`recipes`] that satisfies
//! every condition of the rule and that no earlier exit rule matches first; [`exec`] runs it in a child.
//! The multicast socket is read from before the first action; after the last, a user message is sent and
//! awaited in audit.log ([`barrier`]), so a record missing from the log up to the barrier is missing,
//! not late. Each rule then ends in one [`State`].
//!
//! The prover changes no rule and no setting, so it works with locked rules (`enabled 2`). Its children
//! are reaped before the barrier and its scratch directory is removed on return.
//!
//! First match wins on the exit list: when an earlier `always` rule matches every action the planner
//! knows for a rule, the record carries the earlier rule's key. We report that as `shadowed` (this
//! rule's key never appears for the action, which is what a search by key would miss), with the record
//! that carries the other key as evidence. Shadowing is judged over the rule's whole match set: where
//! an action outside the earlier rule's set exists (another euid, another call), the rule is proven with
//! it and the proof's `note` says for which part it is shadowed ([`plan::Partly`]).
//!
//! Two verdicts come before any action: `dead` for a rule no event can match ([`dead`]), and `symlink`
//! for a read or exec watch on a symlink, which the kernel places on the link while open and exec resolve
//! it.

pub mod action;
pub mod collect;
pub mod dead;
pub mod eval;
pub mod exec;
pub mod plan;
pub mod recipes;
pub mod report;
pub mod scratch;

use std::{
    fs, io,
    time::{Duration, Instant},
};

use serde::Serialize;
use thiserror::Error;

use self::{
    collect::Seen,
    eval::Host,
    exec::Ran,
    plan::{Ctx, Plan},
};
use crate::{
    auditlog::AuditLogError,
    barrier::{Barrier, BarrierError},
    finding::Finding,
    netlink::{AuditSocket, NetlinkError, listener::ListenerError},
    rules::{
        Location, Rule,
        augenrules::RuleSource,
        diff::{self, RulesReport},
        fields::{ARCH_B32, ARCH_B64, UNSET},
    },
    snapshot::LogPosition,
    syscalls::Abi,
};

#[derive(Debug, Error)]
pub enum ProveError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("cannot create the scratch directory")]
    Scratch(#[source] io::Error),
    #[error(transparent)]
    Multicast(#[from] ListenerError),
    #[error("cannot run an action in a child process")]
    Exec(#[source] io::Error),
    #[error(transparent)]
    Log(#[from] AuditLogError),
    #[error(transparent)]
    Barrier(#[from] BarrierError),
}

/// How one rule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The action's record is in audit.log with this rule's key.
    Proven,
    /// Loaded, the action ran, and no record: the kernel did not emit one.
    Failed,
    /// The kernel emitted the record (multicast) but audit.log does not have it.
    NotWritten,
    /// In the files, not in the kernel.
    NotLoaded,
    /// An earlier rule decides first: a never rule hides it, or an always rule's key is recorded instead.
    Shadowed,
    /// No harmless action exercises it; the reason says why.
    Unprovable,
    /// Its conditions exclude each other (or the syscalls' possible results): no event can match it.
    Dead,
    /// A watch on a symlink: the kernel watches the link's own inode, while opening or executing the path
    /// resolves the target, so what the operator means to watch never fires it.
    Symlink,
    /// A signal stopped the run before this rule's action ran.
    NotRun,
}

impl State {
    /// Every state, in declaration order: the series of `check --prometheus`'s `prove_rules` family, each
    /// written even at 0 so an alert on one state never sees it vanish.
    pub const ALL: [State; 9] = [
        State::Proven,
        State::Failed,
        State::NotWritten,
        State::NotLoaded,
        State::Shadowed,
        State::Unprovable,
        State::Dead,
        State::Symlink,
        State::NotRun,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            State::Proven => "proven",
            State::Failed => "failed",
            State::NotWritten => "not_written",
            State::NotLoaded => "not_loaded",
            State::Shadowed => "shadowed",
            State::Unprovable => "unprovable",
            State::Dead => "dead",
            State::Symlink => "symlink",
            State::NotRun => "not_run",
        }
    }

    /// Whether this state fails the run (exit 1).
    #[must_use]
    pub fn is_gap(self) -> bool {
        matches!(
            self,
            State::Failed | State::NotWritten | State::NotLoaded | State::Shadowed | State::Dead | State::Symlink
        )
    }
}

/// The record that proves (or, for `shadowed`, shows) what happened.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub serial: u64,
    /// `SECS.MILLIS:SERIAL`.
    pub event: String,
    /// audit.log file, line and byte offset of the SYSCALL record; absent when only the kernel's
    /// multicast copy exists (`not_written`).
    pub file: Option<String>,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    /// The key the record carries.
    pub key: Option<String>,
    pub pid: u32,
}

impl Evidence {
    /// The evidence a record of one of our children gives.
    #[must_use]
    pub fn of(s: &Seen) -> Self {
        Self {
            serial: s.serial,
            event: s.event.clone(),
            file: s.file.clone(),
            line: s.line,
            offset: s.offset,
            key: s.key.clone(),
            pid: s.pid,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleProof {
    /// `file:line`, or absent for a loaded rule in no rules file.
    pub source: Option<String>,
    /// As `auditctl -l` prints it.
    pub rule: String,
    pub key: Option<String>,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The call that was run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What the action changed (`--allow-mutation` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<String>,
    /// For a proven rule: the part of its match set an earlier rule decides first (shadowed there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip)]
    order: (usize, usize),
    /// A loaded always rule on a list that records events: the rules `--require-proven` asks about.
    #[serde(skip)]
    records: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProveReport {
    pub sources: Vec<String>,
    pub loaded: usize,
    pub barrier: Option<Barrier>,
    pub elapsed_ms: u64,
    pub rules: Vec<RuleProof>,
}

impl RuleProof {
    /// A loaded always rule on a list that records events (exit, `io_uring`): one a record can prove.
    #[must_use]
    pub fn records(&self) -> bool {
        self.records
    }
}

impl ProveReport {
    #[must_use]
    pub fn count(&self, state: State) -> usize {
        self.rules.iter().filter(|r| r.state == state).count()
    }

    /// Exit 1 when any rule is failed, `not_written`, `not_loaded`, shadowed, dead or a symlink watch.
    #[must_use]
    pub fn has_gaps(&self) -> bool {
        self.rules.iter().any(|r| r.state.is_gap())
    }

    /// Loaded rules that record events (always rules on the exit and `io_uring` lists) but are not proven.
    /// Never, exclude and filesystem rules have no record of their own and are not counted.
    #[must_use]
    pub fn unproven(&self) -> usize {
        self.rules.iter().filter(|r| r.records && r.state != State::Proven).count()
    }

    /// What `--require-proven` asks: every loaded rule that records events proven, and at least one.
    #[must_use]
    pub fn all_proven(&self) -> bool {
        self.unproven() == 0 && self.count(State::Proven) > 0
    }
}

pub struct Options<'a> {
    /// The audit log, read from this position on.
    pub log: LogPosition,
    /// Bound on the barrier wait.
    pub timeout: Duration,
    pub allow_mutation: bool,
    /// Called with (rules done, rules to run) while actions run.
    pub progress: &'a mut dyn FnMut(usize, usize),
}

/// A rule with an action to run, and what came of it.
struct Trial {
    index: usize,
    plan: Plan,
    pid: u32,
    ran: Ran,
}

/// What prove judges, all from one gathering of the host ([`crate::snapshot`]): the rules files, the
/// rules loaded in the kernel, and the rules diff between them, whose per-rule results (loaded where,
/// not loaded why, shadowed by which line) prove takes as they are.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub source: &'a RuleSource,
    /// In kernel order.
    pub loaded: &'a [Rule],
    /// Loaded rules that could not be decoded.
    pub undecodable: &'a [Finding],
    /// `rules::diff::compare(source, loaded)`.
    pub diff: &'a RulesReport,
}

/// Proves every rule loaded in the kernel against the rules files.
///
/// # Errors
///
/// When the scratch directory cannot be created, the multicast socket cannot be joined, an action's
/// child cannot be run, the audit log cannot be followed, or the barrier cannot be sent or the log read for it.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the options belong to this one run; `progress` is a `&mut` that cannot be called through `&Options`"
)]
pub fn prove(input: Input<'_>, socket: &mut AuditSocket, options: Options<'_>) -> Result<ProveReport, ProveError> {
    let start = Instant::now();
    let Input { source, loaded, undecodable, diff: report } = input;
    let locations = &report.loaded_from;
    let shadowed_by =
        |at: &Location| report.expected_rules.iter().find(|e| e.location == *at).and_then(|e| e.shadowed_by.as_ref());

    let scratch = scratch::Scratch::create().map_err(ProveError::Scratch)?;
    let host = Host::new(std::env::current_exe().map_err(ProveError::Exec)?, own_loginuid());
    let ctx =
        Ctx { host: &host, paths: &scratch.paths, ia32: exec::ia32_works(), allow_mutation: options.allow_mutation };

    let mut proofs: Vec<Option<RuleProof>> = vec![None; loaded.len()];
    let mut trials = Vec::new();
    for (index, rule) in loaded.iter().enumerate() {
        let base = proof(rule, locations[index].as_ref(), source);
        if let Some(never) = locations[index].as_ref().and_then(shadowed_by) {
            let reason = diff::ExpectedRule::shadowed_message(never);
            proofs[index] = Some(RuleProof { state: State::Shadowed, reason: Some(reason), ..base });
            continue;
        }
        match plan::plan(loaded, index, &ctx) {
            Plan::Unprovable(why) => {
                proofs[index] = Some(RuleProof { state: State::Unprovable, reason: Some(why), ..base });
            }
            Plan::Dead(why) => proofs[index] = Some(RuleProof { state: State::Dead, reason: Some(why), ..base }),
            Plan::Symlink(why) => {
                proofs[index] = Some(RuleProof { state: State::Symlink, reason: Some(why), ..base });
            }
            plan @ Plan::Run { .. } => trials.push(Trial { index, plan, pid: 0, ran: Ran::Died(String::new()) }),
        }
    }

    let total = trials.len();
    let (ran, collected) = collect::around(socket, &options.log, options.timeout, || {
        let mut arena = exec::Arena::new().map_err(ProveError::Exec)?;
        // A signal stops new actions; the barrier still runs, so what did run is judged with evidence.
        let mut ran = total;
        for (done, trial) in trials.iter_mut().enumerate() {
            if crate::stop::requested().is_some() {
                ran = done;
                break;
            }
            (options.progress)(done, total);
            let Plan::Run { action, .. } = &trial.plan else { continue };
            if action.recipe.mutation && !action.on_target {
                scratch.reset_victim().map_err(ProveError::Scratch)?;
            }
            (trial.pid, trial.ran) = exec::run(action, &mut arena).map_err(ProveError::Exec)?;
        }
        (options.progress)(ran, total);
        Ok(ran)
    })?;
    let collect::Collected { written, emitted, barrier } = collected;

    let stopped_by = crate::stop::requested().map(crate::stop::signal_name);
    for (i, trial) in trials.iter().enumerate() {
        let base = proof(&loaded[trial.index], locations[trial.index].as_ref(), source);
        proofs[trial.index] = Some(if i < ran {
            let heard = Heard { written: &written, emitted: &emitted, barrier: &barrier };
            judge(trial, base, loaded, locations, &heard, &host)
        } else {
            let why = format!("not run: {} stopped the run first", stopped_by.as_deref().unwrap_or("a signal"));
            RuleProof { state: State::NotRun, reason: Some(why), ..base }
        });
    }
    let mut rules: Vec<RuleProof> = proofs.into_iter().flatten().collect();
    rules.extend(not_loaded(source, report));
    for f in undecodable {
        rules.push(RuleProof {
            source: f.location.clone(),
            rule: String::new(),
            key: None,
            state: State::Unprovable,
            evidence: None,
            reason: Some(f.message.clone()),
            action: None,
            changed: None,
            note: None,
            order: (usize::MAX, usize::MAX),
            records: false,
        });
    }
    rules.sort_by_key(|r| r.order);
    Ok(ProveReport {
        sources: source.files.iter().map(|f| f.display().to_string()).collect(),
        loaded: loaded.len(),
        barrier: Some(barrier),
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        rules,
    })
}

/// The loginuid our children inherit.
#[must_use]
pub fn own_loginuid() -> u32 {
    fs::read_to_string("/proc/self/loginuid").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(UNSET)
}

fn order(source: &RuleSource, at: Option<&Location>) -> (usize, usize) {
    at.map_or((usize::MAX, 0), |at| {
        (source.files.iter().position(|f| **f == *at.file).unwrap_or(usize::MAX - 1), at.line)
    })
}

fn proof(rule: &Rule, at: Option<&Location>, source: &RuleSource) -> RuleProof {
    RuleProof {
        source: at.map(ToString::to_string),
        rule: rule.to_string(),
        key: rule.key().map(str::to_owned),
        state: State::Unprovable,
        evidence: None,
        reason: None,
        action: None,
        changed: None,
        note: None,
        order: order(source, at),
        records: rule.action == crate::rules::Action::Always
            && matches!(rule.list, crate::rules::FilterList::Exit | crate::rules::FilterList::IoUring),
    }
}

/// Rules in the files that the kernel does not hold, with diff's reason.
fn not_loaded(source: &RuleSource, report: &diff::RulesReport) -> Vec<RuleProof> {
    report
        .expected_rules
        .iter()
        .filter_map(|e| match &e.loaded {
            diff::Loaded::No { why } => Some(RuleProof {
                source: Some(e.location.to_string()),
                rule: e.rule.to_string(),
                key: e.rule.key().map(str::to_owned),
                state: State::NotLoaded,
                evidence: None,
                reason: Some(diff::ExpectedRule::not_loaded_message(why)),
                action: None,
                changed: None,
                note: None,
                order: order(source, Some(&e.location)),
                records: false,
            }),
            diff::Loaded::At(_) => None,
        })
        .collect()
}

/// What the run saw: the records auditd wrote up to the barrier, those the kernel emitted, the barrier.
struct Heard<'a> {
    written: &'a [Seen],
    emitted: &'a [Seen],
    barrier: &'a Barrier,
}

/// The state of one rule whose action ran.
#[expect(
    clippy::too_many_lines,
    reason = "one decision over what the child, multicast and audit.log said, each case with its reason beside it"
)]
fn judge(
    trial: &Trial,
    base: RuleProof,
    loaded: &[Rule],
    locations: &[Option<Location>],
    heard: &Heard<'_>,
    host: &Host,
) -> RuleProof {
    let Heard { written, emitted, barrier } = *heard;
    let Plan::Run { action, blocked_by, unknown, partly } = &trial.plan else { return base };
    let rule = &loaded[trial.index];
    let mut out = RuleProof { action: Some(action.describe()), changed: action.mutation(), ..base };
    let arch = match action.abi {
        Abi::B64 => ARCH_B64,
        Abi::B32 => ARCH_B32,
    };
    let ret = match &trial.ran {
        Ran::Returned(r) => Some(*r),
        Ran::Exited => None,
        Ran::SetupFailed { step, errno } => {
            out.state = State::Unprovable;
            out.reason = Some(format!(
                "the child could not prepare the action: {step} failed ({}){}",
                io::Error::from_raw_os_error(*errno),
                if *step == "writing /proc/self/loginuid" {
                    "; the kernel refuses a loginuid change when loginuid_immutable is set or without CAP_AUDIT_CONTROL"
                } else {
                    ""
                }
            ));
            out.changed = None;
            return out;
        }
        Ran::Died(how) => {
            out.state = State::Unprovable;
            out.reason = Some(format!("the action's child {how} before reporting"));
            return out;
        }
    };
    let ours = |s: &&Seen| s.is_of(trial.pid, action.nr, arch, ret);
    let returned = ret.map_or("no return".to_owned(), |r| {
        if r < 0 {
            io::Error::from_raw_os_error(i32::try_from(-r).unwrap_or(i32::MAX)).to_string()
        } else {
            format!("{r}")
        }
    });
    // The rule whose key the record carries decided first, so it stands earlier in kernel order: only
    // earlier rules are candidates (a later copy with the same key is not the cause).
    let key_owner = |key: &Option<String>| -> String {
        let i = blocked_by
            .as_ref()
            .map(|b| b.index)
            .filter(|i| loaded[*i].key().map(str::to_owned) == *key)
            .or_else(|| loaded[..trial.index].iter().rposition(|r| r.key().map(str::to_owned) == *key));
        i.map_or("another rule".to_owned(), |i| match &locations[i] {
            Some(at) => format!("the rule at {at}"),
            None => format!("loaded rule {}", i + 1),
        })
    };
    // What the call really returned, where it differs from the plan: if the rule excludes that outcome,
    // neither a record under another key nor no record says anything about this rule.
    let excluded = ret.filter(|r| !action::returned_as_expected(action.expect, *r)).and_then(|r| {
        let mut actual = (**action).clone();
        actual.expect =
            if r < 0 { recipes::Expect::Err(i32::try_from(-r).unwrap_or(i32::MAX)) } else { recipes::Expect::Ok(r) };
        match eval::matches(rule, &actual, host) {
            eval::Verdict::No(what) => Some(what),
            _ => None,
        }
    });
    if let Some(record) = written.iter().rev().find(ours) {
        out.evidence = Some(Evidence::of(record));
        if record.key.as_deref() == rule.key() {
            out.state = State::Proven;
            out.note = partly.as_ref().map(|p| partly_note(p, locations, action));
        } else if let Some(what) = &excluded {
            out.state = State::Unprovable;
            out.reason = Some(format!(
                "the action returned {returned}, not {}, and this rule's `{what}` excludes that, so its record \
                 (key {:?}) says nothing about this rule",
                action::expect_text(action.expect),
                record.key.as_deref().unwrap_or("(none)")
            ));
        } else {
            out.state = State::Shadowed;
            // The planner looked for an action outside the earlier rule's set (other calls, other
            // credentials) and found none: the whole match set is shadowed.
            let whole = if blocked_by.is_some() {
                "; no harmless action for this rule falls outside that rule's set (fully shadowed)"
            } else {
                ""
            };
            out.reason = Some(format!(
                "the action was recorded with key {:?} of {}: an earlier always rule matches it first, so this \
                 rule's key never appears for it{whole}",
                record.key.as_deref().unwrap_or("(none)"),
                key_owner(&record.key)
            ));
        }
        return out;
    }
    let barrier_note = match barrier {
        Barrier::TimedOut { waited_ms, cause } => {
            format!("; auditd did not write the barrier message within {waited_ms} ms: {cause}")
        }
        Barrier::Reached { .. } => String::new(),
    };
    if let Some(record) = emitted.iter().rev().find(ours) {
        out.state = State::NotWritten;
        out.evidence = Some(Evidence::of(record));
        out.reason = Some(format!(
            "the kernel emitted the record (event {}) but audit.log does not have it{barrier_note}",
            record.event
        ));
        return out;
    }
    if let Some(b) = blocked_by.as_ref().filter(|b| b.never) {
        out.state = State::Shadowed;
        let owner = key_owner_never(b.index, locations);
        out.reason = Some(match &b.undecided {
            None if loaded[b.index].list == crate::rules::FilterList::Task => format!(
                "{owner} is a never rule on the task list that matches the prover's children: a process forked \
                 under it has no audit context, so nothing it does is recorded"
            ),
            None => format!("{owner} is a never rule that matches the action first: no record"),
            // No record either way; the earlier never rule is the likely cause, and we say how sure we are.
            Some(what) => format!(
                "no record, and {owner} is a never rule ahead of it that matches the action on everything \
                 the planner can evaluate (it cannot evaluate `{what}`): most likely shadowed"
            ),
        });
        return out;
    }
    if let Some(what) = excluded {
        out.state = State::Unprovable;
        out.reason = Some(format!(
            "the action returned {returned}, not {}, and this rule's `{what}` excludes that outcome",
            action::expect_text(action.expect)
        ));
        return out;
    }
    if let Some(what) = unknown {
        out.state = State::Unprovable;
        out.reason = Some(format!(
            "the planner does not model `{what}`; the action tried (returned {returned}) was not recorded"
        ));
        return out;
    }
    out.state = State::Failed;
    out.reason = Some(format!(
        "loaded, the action ran (returned {returned}, expected {}), and no record reached the barrier{barrier_note}",
        action::expect_text(action.expect)
    ));
    out
}

/// "shadowed for euid=0 by the rule at F:L …; proven outside that part".
fn partly_note(p: &plan::Partly, locations: &[Option<Location>], action: &action::Action) -> String {
    let c = &action.creds;
    let effect =
        if p.never { "a never rule, leaves those events unrecorded" } else { "records those events under its key" };
    format!(
        "shadowed for {}: {} decides those events first ({effect}); proven outside that part, as uid={} euid={}{}",
        p.on,
        key_owner_never(p.index, locations),
        c.uid[0],
        c.uid[1],
        c.auid.map_or(String::new(), |a| format!(" auid={a}"))
    )
}

fn key_owner_never(index: usize, locations: &[Option<Location>]) -> String {
    match &locations[index] {
        Some(at) => format!("the rule at {at}"),
        None => format!("loaded rule {}", index + 1),
    }
}
