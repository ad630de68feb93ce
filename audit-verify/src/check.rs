//! `check`: everything audit-verify knows, in one pass with one verdict. Status, the rules files against
//! the kernel, a proof of every loaded rule, with `--profile` the profile's requirements acted out
//! ([`crate::cover`]), the ten footguns (fed the proof's results) and a short measurement window. A
//! kernel with no rules loaded is a high finding whatever else is asked. A part that cannot run is
//! reported as such and makes the verdict "could not run", never a silent pass.
//!
//! The host is read once ([`Snapshot`], [`Probed`]) and every part judges that one model of it, with the
//! same functions the commands alone use: `check --rules-dir X --auditd-conf Y` and `rules`, `prove` and
//! `lint` given X and Y find the same things.

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::{
    cover::{self, CoverReport, Profile},
    finding::{Finding, Severity},
    host_status::{self, HostStatus},
    junit,
    lint::{self, Facts, Framework, LintReport, facts::ProveResult},
    measure::{self, MeasureReport},
    netlink::AuditSocket,
    prove::{self, ProveReport, State},
    rules::diff::RulesReport,
    snapshot::{Inputs, LogPosition, Probed, Snapshot},
};

/// The parts, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Status,
    Rules,
    Prove,
    Lint,
    Measure,
    /// With `--profile` only, after prove.
    Cover,
}

impl Section {
    pub const ALL: [Section; 5] = [Section::Status, Section::Rules, Section::Prove, Section::Lint, Section::Measure];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Section::Status => "status",
            Section::Rules => "rules",
            Section::Prove => "prove",
            Section::Lint => "lint",
            Section::Measure => "measure",
            Section::Cover => "cover",
        }
    }
}

pub struct Options<'a> {
    /// The rules files and auditd.conf every part reads.
    pub inputs: Inputs,
    pub framework: Option<Framework>,
    /// Act out this profile's requirements too (`--profile`).
    pub profile: Option<Profile>,
    /// Length of the measurement window; zero skips it.
    pub measure: Duration,
    /// How long prove and measure wait for auditd to write their last records (`--barrier-timeout`).
    pub prove_timeout: Duration,
    pub fail_on: Severity,
    /// Told when each part starts.
    pub progress: &'a mut dyn FnMut(Section),
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Version of this document's shape (docs/schema/check.schema.json).
    pub schema_version: u32,
    pub host: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub seconds: f64,
    /// `pass`, `fail` (a finding at or above `fail_on`) or `error` (a part could not run).
    pub verdict: &'static str,
    pub fail_on: Severity,
    pub summary: Summary,
    /// Every finding once (the same id at the same place, seen by two parts, is kept once).
    pub findings: Vec<SectionFinding>,
    /// Parts that could not run, and why.
    pub errors: Vec<SectionError>,
    pub status: Option<HostStatus>,
    pub rules: Option<RulesReport>,
    pub prove: Option<ProveReport>,
    pub lint: Option<LintReport>,
    pub measure: Option<MeasureReport>,
    /// With `--profile`: the profile's requirements acted out.
    pub cover: Option<CoverReport>,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub high: usize,
    pub medium: usize,
    pub info: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionFinding {
    pub section: Section,
    #[serde(flatten)]
    pub finding: Finding,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionError {
    pub section: Section,
    pub error: String,
}

pub const SCHEMA_VERSION: u32 = 1;

pub fn run(options: Options<'_>) -> CheckReport {
    let start = Instant::now();
    let started = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut errors = Vec::new();
    let mut fail = |section, e: String| errors.push(SectionError { section, error: e });

    // The host, read once: every part below is judged on this one model of it.
    (options.progress)(Section::Status);
    let snapshot = match Snapshot::gather(options.inputs) {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let why = chain(&e);
            for section in Section::ALL.into_iter().filter(|s| *s != Section::Measure || !options.measure.is_zero()) {
                fail(section, why.clone());
            }
            if options.profile.is_some() {
                fail(Section::Cover, why);
            }
            return report(start, started, options.fail_on, errors, Parts::default());
        }
    };
    let probed = Probed::gather();
    let status = Some(host_status::of(&snapshot, &probed));

    (options.progress)(Section::Rules);
    let rules_report = snapshot.rules_diff().map_err(|e| fail(Section::Rules, chain(&*e))).ok();

    (options.progress)(Section::Prove);
    let input = rules_report.as_ref().and_then(|diff| snapshot.prove_input(diff).ok());
    let prove_report = match (input, &snapshot.log) {
        (Some(input), Ok(log)) => {
            let mut quiet = |_: usize, _: usize| {};
            let prove_options = prove::Options {
                log: log.clone(),
                timeout: options.prove_timeout,
                allow_mutation: false,
                progress: &mut quiet,
            };
            let proof = AuditSocket::open()
                .map_err(prove::ProveError::from)
                .and_then(|mut socket| prove::prove(input, &mut socket, prove_options));
            proof.map_err(|e| fail(Section::Prove, chain(&e))).ok()
        }
        (None, _) => None, // the rules files could not be read: already reported under rules
        (_, Err(e)) => {
            fail(Section::Prove, chain(&**e));
            None
        }
    };

    let cover_report = options.profile.as_ref().and_then(|profile| {
        (options.progress)(Section::Cover);
        // From the log's end now: prove's records are behind it.
        let log = match &snapshot.log {
            Ok(log) => LogPosition::end_of(&log.path).map_err(|e| chain(&e)),
            Err(e) => Err(chain(&**e)),
        };
        let log = log.map_err(|e| fail(Section::Cover, e)).ok()?;
        let mut quiet = |_: usize, _: usize| {};
        let cover_options = cover::Options { log, timeout: options.prove_timeout, progress: &mut quiet };
        let loaded = &snapshot.loaded;
        let report = AuditSocket::open().map_err(prove::ProveError::from).map_err(cover::CoverError::from).and_then(
            |mut socket| cover::cover(profile, &loaded.rules, loaded.undecodable.len(), &mut socket, cover_options),
        );
        report.map_err(|e| fail(Section::Cover, chain(&e))).ok()
    });
    // Whatever the profile, and whether the rules files could be read or not.
    let no_rules = cover::no_rules_finding(&snapshot.loaded.rules, snapshot.loaded.undecodable.len());

    (options.progress)(Section::Lint);
    // Lint reads the rules files and auditd.conf from the snapshot, as every other part does.
    let lint_options = lint::facts::Options { framework: options.framework, ..Default::default() };
    let lint_report = match Facts::from_snapshot(&snapshot, &lint_options) {
        Ok(mut facts) => {
            facts.prove = prove_report.as_ref().map(prove_results);
            Some(lint::check(&facts))
        }
        Err(e) => {
            fail(Section::Lint, chain(&e));
            None
        }
    };

    let measure_report = if options.measure.is_zero() {
        None
    } else {
        (options.progress)(Section::Measure);
        let config = measure::Config {
            duration: options.measure,
            auditd_conf: snapshot.inputs.auditd_conf.clone(),
            barrier_timeout: options.prove_timeout,
            syscalls: measure::SyscallCounting::Selected,
        };
        let host = measure::Host { loaded: &snapshot.loaded.rules, btf: probed.btf.as_ref().map_err(AsRef::as_ref) };
        measure::run_on(&config, host).map_err(|e| fail(Section::Measure, format!("{e:#}"))).ok()
    };

    let parts = Parts {
        status,
        rules: rules_report,
        prove: prove_report,
        lint: lint_report,
        measure: measure_report,
        cover: cover_report,
        no_rules,
    };
    report(start, started, options.fail_on, errors, parts)
}

/// What the parts that ran produced.
#[derive(Default)]
struct Parts {
    status: Option<HostStatus>,
    rules: Option<RulesReport>,
    prove: Option<ProveReport>,
    lint: Option<LintReport>,
    measure: Option<MeasureReport>,
    cover: Option<CoverReport>,
    /// "No audit rules loaded", judged on the kernel alone.
    no_rules: Option<Finding>,
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// The verdict over the parts: their findings, once each, most severe first.
fn report(start: Instant, started: u64, fail_on: Severity, errors: Vec<SectionError>, parts: Parts) -> CheckReport {
    let Parts {
        status,
        rules: rules_report,
        prove: prove_report,
        lint: lint_report,
        measure: measure_report,
        cover: cover_report,
        no_rules,
    } = parts;
    let mut findings: Vec<SectionFinding> = Vec::new();
    // Lint first: it judges the rules and the proof too (#4, #7) and says why and how to fix. A finding
    // another part also made is kept once; one without a place yields to the same id with a place.
    let mut rules_findings: Vec<Finding> = no_rules.into_iter().collect();
    rules_findings.extend(rules_report.as_ref().map(|r| r.findings.clone()).unwrap_or_default());
    let sections: [(Section, Vec<Finding>); 5] = [
        (Section::Lint, lint_report.as_ref().map(|l| l.findings.clone()).unwrap_or_default()),
        (Section::Status, status.as_ref().map(|s| s.findings.clone()).unwrap_or_default()),
        (Section::Rules, rules_findings),
        (Section::Cover, cover_report.as_ref().map(|c| c.findings.clone()).unwrap_or_default()),
        (Section::Measure, measure_report.as_ref().map(|m| m.findings.clone()).unwrap_or_default()),
    ];
    for (section, list) in sections {
        for finding in list {
            let seen = findings.iter().any(|f| {
                f.finding.id == finding.id
                    && (f.finding.location == finding.location
                        || finding.location.is_none()
                        || section == Section::Status)
            });
            if !seen {
                findings.push(SectionFinding { section, finding });
            }
        }
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.finding.severity));
    let summary = Summary {
        high: findings.iter().filter(|f| f.finding.severity == Severity::High).count(),
        medium: findings.iter().filter(|f| f.finding.severity == Severity::Medium).count(),
        info: findings.iter().filter(|f| f.finding.severity == Severity::Info).count(),
    };
    let failing = findings.iter().any(|f| f.finding.severity >= fail_on);
    let verdict = if !errors.is_empty() {
        "error"
    } else if failing {
        "fail"
    } else {
        "pass"
    };
    CheckReport {
        schema_version: SCHEMA_VERSION,
        host: hostname(),
        started,
        seconds: start.elapsed().as_secs_f64(),
        verdict,
        fail_on,
        summary,
        findings,
        errors,
        status,
        rules: rules_report,
        prove: prove_report,
        lint: lint_report,
        measure: measure_report,
        cover: cover_report,
    }
}

/// What lint's footgun 7 ("rules never tested") needs from a proof: the rules prove exercised. Rules
/// not loaded or shadowed are left out (the rules diff already reports them), and so are unprovable ones,
/// which were not exercised and are neither tested nor failed.
fn prove_results(report: &ProveReport) -> Vec<ProveResult> {
    report
        .rules
        .iter()
        .filter(|r| matches!(r.state, State::Proven | State::Failed | State::NotWritten))
        .map(|r| ProveResult {
            rule: r.rule.clone(),
            location: r.source.clone(),
            proven: r.state == State::Proven,
            detail: match (&r.reason, &r.evidence) {
                (Some(reason), _) => format!("{}: {reason}", r.state.name()),
                (None, _) => r.state.name().to_owned(),
            },
        })
        .collect()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

impl CheckReport {
    /// A suite per part. Prove: a case per rule. Lint: a case per footgun. The others: a case per
    /// finding at or above `fail_on`, or one passing case.
    #[must_use]
    pub fn junit(&self) -> String {
        let mut suites = Vec::new();
        for error in &self.errors {
            suites.push(junit::TestSuite {
                name: format!("audit-verify check: {}", error.section.name()),
                seconds: 0.0,
                cases: vec![junit::TestCase {
                    classname: "audit-verify.check".into(),
                    name: format!("{} ran", error.section.name()),
                    outcome: junit::Outcome::Failed {
                        kind: "could_not_run".into(),
                        message: error.error.clone(),
                        body: String::new(),
                    },
                }],
            });
        }
        for section in [Section::Status, Section::Rules, Section::Measure] {
            if self.errors.iter().any(|e| e.section == section) {
                continue;
            }
            suites.push(self.findings_suite(section));
        }
        if let Some(prove) = &self.prove {
            suites.push(prove::report::suite(prove));
        }
        if let Some(cover) = &self.cover {
            suites.push(cover::report::suite(cover));
        }
        if let Some(lint) = &self.lint {
            suites.push(self.lint_suite(lint));
        }
        junit::document("audit-verify check", &suites)
    }

    fn findings_suite(&self, section: Section) -> junit::TestSuite {
        let mut cases: Vec<junit::TestCase> = self
            .findings
            .iter()
            .filter(|f| f.section == section && f.finding.severity >= self.fail_on)
            .map(|f| junit::TestCase {
                classname: format!("audit-verify.{}", section.name()),
                name: format!("{} {}", f.finding.id, f.finding.location.as_deref().unwrap_or("")).trim().to_owned(),
                outcome: junit::Outcome::Failed {
                    kind: f.finding.id.into(),
                    message: f.finding.message.clone(),
                    body: f.finding.rule.clone().unwrap_or_default(),
                },
            })
            .collect();
        if cases.is_empty() && !(section == Section::Measure && self.measure.is_none()) {
            cases.push(junit::TestCase {
                classname: format!("audit-verify.{}", section.name()),
                name: format!("no {:?} findings or worse", self.fail_on).to_lowercase(),
                outcome: junit::Outcome::Passed { output: None },
            });
        }
        junit::TestSuite { name: format!("audit-verify check: {}", section.name()), seconds: 0.0, cases }
    }

    fn lint_suite(&self, lint: &LintReport) -> junit::TestSuite {
        let cases = (1..=10u8)
            .map(|number| {
                let failing: Vec<&Finding> =
                    lint.findings.iter().filter(|f| f.footgun == Some(number) && f.severity >= self.fail_on).collect();
                let skipped: Vec<&lint::Skipped> = lint.skipped.iter().filter(|s| s.footgun == number).collect();
                let outcome = match (failing.as_slice(), skipped.as_slice()) {
                    ([], []) => junit::Outcome::Passed { output: None },
                    ([], s) => junit::Outcome::Skipped {
                        message: s.iter().map(|s| s.reason.as_str()).collect::<Vec<_>>().join("; "),
                    },
                    (f, _) => junit::Outcome::Failed {
                        kind: f[0].id.into(),
                        message: f.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join("; "),
                        body: f.iter().filter_map(|f| f.location.clone()).collect::<Vec<_>>().join("\n"),
                    },
                };
                junit::TestCase {
                    classname: "audit-verify.lint".into(),
                    name: format!("footgun {number}: {}", lint::footgun_title(number)),
                    outcome,
                }
            })
            .collect();
        junit::TestSuite { name: "audit-verify check: lint".into(), seconds: 0.0, cases }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No rules loaded is a high finding under rules, whatever else ran: the verdict fails.
    #[test]
    fn no_rules_loaded_fails_the_check() {
        let parts = Parts { no_rules: cover::no_rules_finding(&[], 0), ..Parts::default() };
        let r = report(Instant::now(), 0, Severity::High, Vec::new(), parts);
        assert_eq!(r.verdict, "fail");
        assert_eq!((r.findings[0].section, r.findings[0].finding.id), (Section::Rules, "no_audit_rules"));
        assert_eq!(r.summary.high, 1);
        let clean = report(Instant::now(), 0, Severity::High, Vec::new(), Parts::default());
        assert_eq!(clean.verdict, "pass");
    }
}
