//! `cover`: is every event a standard requires recorded on this host, whatever its rules look like?
//!
//! A [`profile`] lists a standard's requirements, each as *probe rules* (audit rule syntax) and the
//! actors who must be seen causing them. For each probe, prove's planner picks the harmless action that
//! satisfies it ([`crate::prove::plan`], against the probe alone: the probe is never loaded), and the
//! action runs, as each actor, against the rules actually loaded ([`attempts`]). Any record of the action
//! covers the probe, whatever rule or key wrote it; the record (key, serial, file offset) is the evidence.
//! Beside the action itself run its twins: the same call through the 32-bit ABI (`int 0x80`) and, for an
//! open, through `io_uring` (`IORING_OP_OPENAT`), which the kernel filters on its own list.
//!
//! [`judge`] turns what was recorded into a [`Verdict`]: covered; `not_covered` (the action ran, nothing
//! was recorded); `partial` (recorded for some ABIs or actors only); `blind` (a path these rules cannot
//! see, shown by doing it: the `io_uring` twin, a process without a loginuid, record types an `exclude`
//! rule removes); or `unprovable` with the reason.

pub mod attempts;
pub mod judge;
pub mod profile;
pub mod report;

use std::{
    io,
    time::{Duration, Instant},
};

use serde::Serialize;
use thiserror::Error;

pub use self::profile::{Actor, Profile, ProfileError};
use crate::{
    barrier::Barrier,
    finding::{Finding, Severity},
    netlink::AuditSocket,
    prove::{
        self, Evidence, ProveError,
        collect::{self, Collected},
        eval::Host,
        exec,
        plan::Ctx,
        scratch::Scratch,
    },
    rules::Rule,
    snapshot::LogPosition,
};

#[derive(Debug, Error)]
pub enum CoverError {
    #[error(transparent)]
    Prove(#[from] ProveError),
}

/// How one requirement, or one of its probes, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every action was recorded, for every actor, ABI and twin tried.
    Covered,
    /// The actions ran and nothing was recorded.
    NotCovered,
    /// Recorded for some ABIs, actors or probes only.
    Partial,
    /// A path these rules cannot see, shown by doing it: recorded, but not through the `io_uring` twin or
    /// for a process without a loginuid; or not recorded at all because an `exclude` rule removes the
    /// record type.
    Blind,
    /// No harmless action shows it; the reason says why.
    Unprovable,
}

impl Verdict {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Covered => "covered",
            Verdict::NotCovered => "not_covered",
            Verdict::Partial => "partial",
            Verdict::Blind => "blind",
            Verdict::Unprovable => "unprovable",
        }
    }
}

/// How an action was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The 64-bit syscall (or the probe's own ABI).
    Syscall,
    /// The same call through the 32-bit ABI, `int 0x80`.
    Int80,
    /// `IORING_OP_OPENAT` through a ring of the child's own: the `io_uring` twin of an `openat`.
    IoUring,
}

/// What came of one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A record of it is in audit.log.
    Recorded,
    /// The kernel emitted a record (multicast) that audit.log does not have.
    NotWritten,
    /// It ran and no record reached the barrier.
    NotRecorded,
    /// It could not run (its setup failed, or a signal stopped the run first).
    NotRun,
}

/// One action of one probe, as one actor.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub actor: Actor,
    pub via: Via,
    /// The call that was run (`openat(…) [b64] as uid=1000 … auid=1000, expecting ENOTDIR`).
    pub action: String,
    pub outcome: Outcome,
    /// What the call returned (negative: -errno), when it returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returned: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    /// The probe rule, as the profile writes it.
    pub rule: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementResult {
    /// The ID its source uses.
    pub id: String,
    pub title: String,
    pub verdict: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first record that covers it (for `covered`, `partial` and `blind`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    pub probes: Vec<ProbeResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    pub name: String,
    pub title: String,
    pub source: profile::Source,
    pub file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverReport {
    pub profile: ProfileSummary,
    /// Rules loaded in the kernel when the actions ran.
    pub loaded: usize,
    pub barrier: Option<Barrier>,
    pub elapsed_ms: u64,
    /// Requirements by verdict.
    pub counts: Counts,
    pub requirements: Vec<RequirementResult>,
    /// A finding per requirement not covered (and for no rules loaded at all).
    pub findings: Vec<Finding>,
    /// The signal that stopped the run before every action ran (JSON says so as `partial`/`interrupted`,
    /// as every command does).
    #[serde(skip)]
    pub interrupted: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub covered: usize,
    pub not_covered: usize,
    pub partial: usize,
    pub blind: usize,
    pub unprovable: usize,
}

impl Counts {
    fn of(results: &[RequirementResult]) -> Self {
        let n = |v: Verdict| results.iter().filter(|r| r.verdict == v).count();
        Self {
            covered: n(Verdict::Covered),
            not_covered: n(Verdict::NotCovered),
            partial: n(Verdict::Partial),
            blind: n(Verdict::Blind),
            unprovable: n(Verdict::Unprovable),
        }
    }
}

impl CoverReport {
    /// Whether any finding is at or above `fail_on`: exit 1.
    #[must_use]
    pub fn fails(&self, fail_on: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= fail_on)
    }
}

/// "No audit rules loaded": high whatever the profile, for `cover` and `check` alike. `None` when the
/// kernel holds rules (or holds some it could not decode).
#[must_use]
pub fn no_rules_finding(loaded: &[Rule], undecodable: usize) -> Option<Finding> {
    (loaded.is_empty() && undecodable == 0).then(|| {
        Finding::new("no_audit_rules", Severity::High, "no audit rules are loaded in the kernel")
            .at("kernel: 0 rules")
            .why("without rules the kernel records no syscall or file event, whatever the rules files say")
            .fix("load the rules (augenrules --load, or auditctl -R FILE) and check that the load succeeded")
    })
}

pub struct Options<'a> {
    /// The audit log, read from this position on.
    pub log: LogPosition,
    /// Bound on the barrier wait.
    pub timeout: Duration,
    /// Called with (actions done, actions to run).
    pub progress: &'a mut dyn FnMut(usize, usize),
}

/// Acts out every requirement of `profile` against the `loaded` rules and judges what was recorded.
///
/// # Errors
///
/// When the scratch directory cannot be made, the multicast socket joined, an action's child run, the
/// audit log followed, or the barrier sent or awaited.
#[expect(
    clippy::needless_pass_by_value,
    reason = "the options belong to this one run; `progress` is a `&mut` that cannot be called through `&Options`"
)]
pub fn cover(
    profile: &Profile,
    loaded: &[Rule],
    undecodable: usize,
    socket: &mut AuditSocket,
    options: Options<'_>,
) -> Result<CoverReport, CoverError> {
    let start = Instant::now();
    let scratch = Scratch::create().map_err(ProveError::Scratch)?;
    let host = Host::new(std::env::current_exe().map_err(ProveError::Exec)?, prove::own_loginuid());
    let ctx = Ctx { host: &host, paths: &scratch.paths, ia32: exec::ia32_works(), allow_mutation: false };
    let mut planned = attempts::plan(profile, &ctx);
    let total = planned.iter().map(|p| p.runs.len()).sum::<usize>();
    let (interrupted, Collected { written, emitted, barrier }) =
        collect::around(socket, &options.log, options.timeout, || {
            let mut arena = exec::Arena::new().map_err(ProveError::Exec)?;
            for (done, run) in planned.iter_mut().flat_map(|p| p.runs.iter_mut()).enumerate() {
                if let Some(signal) = crate::stop::requested() {
                    return Ok(Some(crate::stop::signal_name(signal)));
                }
                (options.progress)(done, total);
                run.run(&mut arena).map_err(ProveError::Exec)?;
            }
            (options.progress)(total, total);
            Ok(None)
        })?;
    let heard = judge::Heard { written: &written, emitted: &emitted, barrier: &barrier, loaded, host: &host };
    let requirements: Vec<RequirementResult> =
        profile.requirements.iter().enumerate().map(|(i, r)| judge::requirement(i, r, &planned, &heard)).collect();
    let mut findings: Vec<Finding> = no_rules_finding(loaded, undecodable).into_iter().collect();
    findings.extend(requirements.iter().filter_map(|r| report::finding(profile, r)));
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(CoverReport {
        profile: ProfileSummary {
            name: profile.name.clone(),
            title: profile.title.clone(),
            source: profile.source.clone(),
            file: profile.file.clone(),
        },
        loaded: loaded.len(),
        barrier: Some(barrier),
        elapsed_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        counts: Counts::of(&requirements),
        requirements,
        findings,
        interrupted,
    })
}

/// An error for a child that could not run, as [`io::Error`] says it.
fn errno_text(errno: i32) -> String {
    io::Error::from_raw_os_error(errno).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Action, FilterList};

    #[test]
    fn no_rules_loaded_is_high_and_only_then() {
        let f = no_rules_finding(&[], 0).expect("no rules");
        assert_eq!((f.id, f.severity), ("no_audit_rules", Severity::High));
        assert!(no_rules_finding(&[], 1).is_none(), "rules the tool cannot decode are rules");
        assert!(no_rules_finding(&[Rule::new(FilterList::Exit, Action::Always)], 0).is_none());
    }
}
