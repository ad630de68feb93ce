//! Reconciles the layers of one window into a report: drops by stage and reason, backlog pressure,
//! per-rule and per-key rates, projected retention, and the findings that set the exit code.

use std::{collections::BTreeMap, fmt::Write as _, path::Path, time::Duration};

use audit_verify_common::rule_semantics::ARCH_B32;
use serde::Serialize;

use super::{
    emitted::Emitted,
    probe_backend::ProbeCounts,
    rule_filters::Translated,
    sampler::Samples,
    sensors::{FunctionDrops, SyscallHook},
    written::Written,
};
use crate::{
    auditd_conf::AuditdConf,
    barrier::Barrier,
    capability::Backend,
    finding::{Finding, Severity},
    prometheus::Gauges,
    rules::Rule,
};

pub struct Inputs<'a> {
    pub elapsed: Duration,
    pub backend: Backend,
    /// What the kprobe/fentry backend counted, when it ran.
    pub probes: Option<ProbeCounts>,
    pub sensors_error: Option<String>,
    pub rules: &'a [Translated],
    pub not_counted: &'a [Rule],
    pub hits: Option<Vec<(u64, u64)>>,
    /// Where the rule matcher ran (`None`: syscalls not counted).
    pub syscall_hook: Option<SyscallHook>,
    pub drops: Vec<FunctionDrops>,
    pub samples: Samples,
    pub emitted: Emitted,
    pub written: Written,
    pub barrier: Barrier,
    pub kernel_messages: BTreeMap<String, u64>,
    pub conf: Option<&'a AuditdConf>,
    pub log: &'a Path,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureReport {
    /// How the kernel layer was observed.
    pub backend: Backend,
    /// Where layer 1 counted syscalls (`None`: not counted).
    pub syscall_hook: Option<SyscallHook>,
    pub seconds: f64,
    pub generated: Counts,
    pub written: Counts,
    pub missing_events: u64,
    /// The first missing serials (at most 100).
    pub missing_serials: Vec<u32>,
    pub kernel_drops: KernelDrops,
    pub after_kernel_drops: AfterKernel,
    pub backlog: Backlog,
    /// Exit-list rules, in kernel order.
    pub rules: Vec<RuleRate>,
    /// Keys, noisiest (most bytes) first.
    pub keys: Vec<KeyRate>,
    pub retention: Retention,
    pub observer: Observer,
    pub findings: Vec<Finding>,
    /// The kprobe/fentry backend's hooks and counts (absent with the tracepoint backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeCounts>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    /// Records, EOE excluded (auditd writes none).
    pub records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KernelDrops {
    /// Growth of the kernel's `lost` counter: every record the kernel dropped.
    pub total: u64,
    /// By reason: `backlog_limit`, `rate_limit`, `hold_or_retry_queue_overflow`, `other`.
    pub by_reason: BTreeMap<String, u64>,
    /// How each reason was established.
    pub evidence: Vec<String>,
    /// What the kernel itself logged about lost records (rate-limited), with counts.
    pub kernel_said: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AfterKernel {
    /// Records the kernel handed on that never reached the log, beyond the kernel's own drops.
    pub records: u64,
    /// Where they went missing, as far as can be told: `auditd` (queue or writer), `disk`, or `none`.
    pub place: &'static str,
    pub evidence: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backlog {
    pub limit: u32,
    pub peak: u32,
    /// Share of samples with the backlog at or over the limit.
    pub at_limit_share: f64,
    pub samples: u64,
    /// Growth of `backlog_wait_time_actual` (ms tasks spent waiting for room), where the kernel has it.
    pub wait_time_actual_growth: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleRate {
    pub position: usize,
    pub rule: String,
    pub key: Option<String>,
    /// Syscalls this rule matched first, counted by eBPF (`None`: not independently counted).
    pub happened: Option<u64>,
    /// Syscalls it selects whose other filters the kernel side cannot evaluate.
    pub undecided: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_counted_because: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeyRate {
    pub key: String,
    pub events: u64,
    pub events_per_second: f64,
    /// Log bytes per hour at this rate (kernel record bytes scaled by what auditd adds on disk).
    pub bytes_per_hour: f64,
    /// Syscalls that happened under rules with this key (eBPF), where every such rule is countable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub happened: Option<u64>,
    /// `happened` minus the key's emitted events, when positive: selected, but no record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_recorded: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Retention {
    pub log_bytes_per_day: f64,
    pub max_log_file_mb: u64,
    pub num_logs: u64,
    pub max_log_file_action: String,
    /// Days of history the local logs hold at the measured rate (`None`: unbounded at this rate).
    pub days: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Observer {
    pub multicast_overruns: u64,
    pub own_events_excluded: u64,
    pub barrier: Barrier,
    /// Why the eBPF sensors did not run, if they did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensors_error: Option<String>,
    pub malformed_log_lines: u64,
}

/// Whether auditd wrote the window's marker, so that "missing" means missing.
#[must_use]
pub fn barrier_reached(report: &MeasureReport) -> bool {
    matches!(report.observer.barrier, Barrier::Reached { .. })
}

#[must_use]
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
pub fn reconcile(i: &Inputs<'_>) -> MeasureReport {
    let seconds = i.elapsed.as_secs_f64().max(0.001);
    let generated = Counts { events: i.emitted.events(), records: i.emitted.records_without_eoe() };
    let written = Counts { events: i.written.events, records: i.written.records };

    // Kernel drops: `lost` counts them all; dropped skbs name their function; the rest never had an skb,
    // which is what audit_log_start does when the backlog is full.
    let lost = i.samples.lost_delta();
    let said = i.kernel_messages.keys().any(|m| m.contains("backlog limit exceeded"));
    let (by_reason, evidence) = match &i.probes {
        Some(p) => super::probe_backend::attribute(p, lost),
        None => super::sensors::attribute(lost, &i.drops, said),
    };

    // After the kernel: records emitted but not on disk, beyond those the kernel dropped after emitting.
    let after_multicast = by_reason.get("hold_or_retry_queue_overflow").copied().unwrap_or(0);
    let unwritten = generated.records.saturating_sub(written.records);
    let after = unwritten.saturating_sub(after_multicast);
    let after_kernel = after_kernel(after, &i.barrier, i.log);

    let backlog = Backlog {
        limit: i.samples.last.backlog_limit,
        peak: i.samples.backlog_peak,
        at_limit_share: i.samples.at_limit as f64 / i.samples.count.max(1) as f64,
        samples: i.samples.count,
        wait_time_actual_growth: i.samples.wait_time_actual_delta(),
    };

    let rules = rule_rates(i);
    let by_key = i.emitted.by_key();
    let disk_ratio = match by_key.values().map(|k| k.bytes).sum::<u64>() {
        0 => 1.0,
        kernel_bytes => (i.written.bytes as f64 / kernel_bytes as f64).max(1.0),
    };
    let keys = key_rates(&by_key, &rules, seconds, disk_ratio);
    let retention = retention(i.conf, i.written.bytes as f64 / seconds * 86_400.0);
    let kernel_drops = KernelDrops { total: lost, by_reason, evidence, kernel_said: i.kernel_messages.clone() };
    let observer = Observer {
        multicast_overruns: i.emitted.overruns,
        own_events_excluded: i.emitted.own_events,
        barrier: i.barrier.clone(),
        sensors_error: i.sensors_error.clone(),
        malformed_log_lines: i.written.malformed_lines,
    };
    let mut report = MeasureReport {
        backend: i.backend,
        syscall_hook: i.syscall_hook.clone(),
        seconds,
        generated,
        written,
        missing_events: i.written.missing_events,
        missing_serials: i.written.missing_serials.clone(),
        kernel_drops,
        after_kernel_drops: after_kernel,
        backlog,
        rules,
        keys,
        retention,
        observer,
        findings: Vec::new(),
        probes: i.probes.clone(),
    };
    report.findings = findings(&report);
    report
}

fn after_kernel(records: u64, barrier: &Barrier, log: &Path) -> AfterKernel {
    if records == 0 {
        return AfterKernel { records, place: "none", evidence: "every emitted record is on disk".into() };
    }
    let free = log.parent().and_then(free_bytes);
    match (free, barrier) {
        (Some(free), _) if free < DISK_FULL_BELOW => AfterKernel {
            records,
            place: "disk",
            evidence: format!("the log's file system has {free} bytes free: auditd could not write them"),
        },
        (_, Barrier::TimedOut { waited_ms, cause }) => AfterKernel {
            records,
            place: "auditd",
            evidence: format!("auditd did not write a marker message within {waited_ms} ms: {cause}"),
        },
        _ => AfterKernel {
            records,
            place: "auditd",
            evidence: "auditd received them (the kernel reported no drop) but did not write them: its queue \
                       (q_depth / overflow_action) or its writer"
                .into(),
        },
    }
}

/// A log file system with less free space than this is full: auditd cannot write a record to it.
pub(crate) const DISK_FULL_BELOW: u64 = 1 << 20;

/// Bytes free to unprivileged writers on the file system holding `dir`.
pub(crate) fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statvfs we own.
    (unsafe { libc::statvfs(path.as_ptr(), &raw mut st) } == 0).then(|| st.f_bavail * st.f_frsize)
}

fn rule_rates(i: &Inputs<'_>) -> Vec<RuleRate> {
    let mut out: Vec<RuleRate> = i
        .rules
        .iter()
        .enumerate()
        .map(|(n, t)| {
            let (hit, undecided) = i.hits.as_ref().and_then(|h| h.get(n)).copied().unwrap_or((0, 0));
            let blind_to_b32 =
                matches!(i.syscall_hook, Some(SyscallHook::PerSyscall { .. })) && t.filter.admits(ARCH_B32);
            let countable = i.hits.is_some() && t.opaque_because.is_none() && !blind_to_b32;
            RuleRate {
                position: t.position + 1,
                rule: t.rule.to_string(),
                key: t.rule.key().map(str::to_owned),
                happened: countable.then_some(hit),
                undecided,
                not_counted_because: match (&i.sensors_error, &t.opaque_because, &i.hits) {
                    (Some(e), ..) => Some(format!("sensors not running: {e}")),
                    (None, None, None) => Some("syscall counting was turned off".into()),
                    (None, None, Some(_)) if blind_to_b32 => Some(
                        "it selects 32-bit syscalls, which the per-syscall tracepoints do not see (--count-32bit \
                         counts them on the sys_exit raw tracepoint)"
                            .into(),
                    ),
                    (None, reason, _) => reason.clone(),
                },
            }
        })
        .collect();
    out.extend(i.not_counted.iter().enumerate().map(|(n, rule)| RuleRate {
        position: i.rules.len() + n + 1,
        rule: rule.to_string(),
        key: rule.key().map(str::to_owned),
        happened: None,
        undecided: 0,
        not_counted_because: Some("beyond the 64 rules the kernel side evaluates".into()),
    }));
    out
}

#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
fn key_rates(
    by_key: &BTreeMap<String, super::emitted::KeyStats>,
    rules: &[RuleRate],
    seconds: f64,
    disk_ratio: f64,
) -> Vec<KeyRate> {
    let mut keys: Vec<KeyRate> = by_key
        .iter()
        .map(|(key, stats)| {
            // Countable only if every always-rule with this key is (never-rules have no key in practice).
            let with_key: Vec<&RuleRate> = rules.iter().filter(|r| r.key.as_deref() == Some(key)).collect();
            let happened = (!with_key.is_empty() && with_key.iter().all(|r| r.happened.is_some()))
                .then(|| with_key.iter().filter_map(|r| r.happened).sum::<u64>());
            KeyRate {
                key: key.clone(),
                events: stats.events,
                events_per_second: stats.events as f64 / seconds,
                bytes_per_hour: stats.bytes as f64 * disk_ratio / seconds * 3600.0,
                happened,
                not_recorded: happened.map(|h| h.saturating_sub(stats.events)).filter(|n| *n > 0),
            }
        })
        .collect();
    keys.sort_by(|a, b| b.bytes_per_hour.total_cmp(&a.bytes_per_hour));
    keys
}

#[expect(clippy::cast_precision_loss, reason = "megabytes from auditd.conf times a file count: far below 2^52")]
fn retention(conf: Option<&AuditdConf>, bytes_per_day: f64) -> Retention {
    // A key the file leaves out (or no readable file) is auditd's built-in value, not the shipped file's.
    let value = |key: &str| {
        conf.map_or_else(|| crate::auditd_conf::builtin_default(key).unwrap_or(""), |c| c.value(key)).to_owned()
    };
    let number = |key: &str| value(key).parse::<u64>().unwrap_or(0);
    let (max_mb, num_logs) = (number("max_log_file"), number("num_logs"));
    let action = value("max_log_file_action").to_ascii_uppercase();
    let capacity = (max_mb * num_logs) as f64 * 1024.0 * 1024.0;
    // auditd does not rotate with num_logs below 2 ("Log rotation disabled"): no rotation bounds the days.
    let rotates = action == "ROTATE" && num_logs >= 2 && max_mb > 0;
    let days = (bytes_per_day > 0.0 && rotates).then(|| capacity / bytes_per_day);
    Retention { log_bytes_per_day: bytes_per_day, max_log_file_mb: max_mb, num_logs, max_log_file_action: action, days }
}

fn findings(r: &MeasureReport) -> Vec<Finding> {
    let mut out = Vec::new();
    let k = &r.kernel_drops;
    if k.total > 0 {
        let reasons: Vec<String> = k.by_reason.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
        out.push(Finding::new(
            "kernel_drops",
            Severity::High,
            format!("the kernel dropped {} records: {}", k.total, reasons.join(", ")),
        ));
    }
    let a = &r.after_kernel_drops;
    if a.records > 0 {
        out.push(Finding::new(
            "lost_after_kernel",
            Severity::High,
            format!("{} records left the kernel but are not in the log ({}): {}", a.records, a.place, a.evidence),
        ));
    }
    if let Barrier::TimedOut { waited_ms, cause } = &r.observer.barrier {
        out.push(Finding::new(
            "auditd_not_writing",
            Severity::High,
            format!("a marker message was not written within {waited_ms} ms: {cause}"),
        ));
    }
    if r.backlog.limit > 0 && u64::from(r.backlog.peak) * 10 >= u64::from(r.backlog.limit) * 8 {
        out.push(Finding::new(
            "backlog_pressure",
            Severity::Medium,
            format!("the backlog peaked at {} of a limit of {}", r.backlog.peak, r.backlog.limit),
        ));
    }
    for key in r.keys.iter().filter(|k| k.not_recorded.is_some()) {
        out.push(Finding::new(
            "selected_not_recorded",
            Severity::Medium,
            format!(
                "{} syscalls selected by rules with key {} produced no record in the window",
                key.not_recorded.unwrap_or(0),
                key.key
            ),
        ));
    }
    if r.observer.multicast_overruns > 0 {
        out.push(Finding::new(
            "observer_overrun",
            Severity::Medium,
            format!(
                "our multicast socket overflowed {} times: generated counts are low",
                r.observer.multicast_overruns
            ),
        ));
    }
    out
}

impl MeasureReport {
    #[must_use]
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Window: {:.1} s, backend {}", self.seconds, self.backend);
        let _ = match &self.syscall_hook {
            Some(SyscallHook::PerSyscall { syscalls }) => {
                writeln!(s, "Syscalls counted on {syscalls} per-syscall tracepoints (64-bit only)")
            }
            Some(SyscallHook::RawSysExit { because }) => {
                writeln!(s, "Syscalls counted on the sys_exit raw tracepoint (every syscall): {because}")
            }
            None => writeln!(s, "Syscalls not counted"),
        };
        let _ = writeln!(
            s,
            "Generated (kernel): {} events, {} records; written (audit.log): {} events, {} records; missing events: {}",
            self.generated.events,
            self.generated.records,
            self.written.events,
            self.written.records,
            self.missing_events
        );
        let _ = writeln!(s, "Kernel drops: {}", self.kernel_drops.total);
        if let Some(p) = &self.probes {
            let hooks: Vec<String> = p
                .hooks
                .iter()
                .map(|h| format!("{} {}", h.symbol, h.attached.map_or_else(|| "skipped".into(), |m| format!("{m:?}"))))
                .collect();
            let _ = writeln!(s, "  hooks: {}", hooks.join(", "));
        }
        for (reason, n) in &self.kernel_drops.by_reason {
            let _ = writeln!(s, "  {reason:<22} {n}");
        }
        for e in &self.kernel_drops.evidence {
            let _ = writeln!(s, "  evidence: {e}");
        }
        let a = &self.after_kernel_drops;
        let _ = writeln!(s, "Lost after the kernel: {} records ({}): {}", a.records, a.place, a.evidence);
        let b = &self.backlog;
        let _ = writeln!(
            s,
            "Backlog: peak {} / limit {} ({:.0}% of {} samples at the limit), wait time growth {}",
            b.peak,
            b.limit,
            b.at_limit_share * 100.0,
            b.samples,
            b.wait_time_actual_growth.map_or_else(|| "n/a".into(), |w| format!("{w} ms"))
        );
        if !self.keys.is_empty() {
            let _ = writeln!(s, "Keys, noisiest first:");
            let _ =
                writeln!(s, "  {:<28} {:>10} {:>10} {:>14} {:>10}", "key", "events", "per s", "bytes/hour", "happened");
            for k in &self.keys {
                let happened = k.happened.map_or_else(|| "-".into(), |h| h.to_string());
                let _ = writeln!(
                    s,
                    "  {:<28} {:>10} {:>10.1} {:>14.0} {:>10}",
                    k.key, k.events, k.events_per_second, k.bytes_per_hour, happened
                );
            }
        }
        let r = &self.retention;
        let days = r.days.map_or_else(|| "unbounded at this rate".into(), |d| format!("{d:.1} days"));
        let _ = writeln!(
            s,
            "Retention: {} MB x {} logs ({}) at {:.0} bytes/day: {days}",
            r.max_log_file_mb, r.num_logs, r.max_log_file_action, r.log_bytes_per_day
        );
        for f in &self.findings {
            let _ = writeln!(s, "[{:?}] {}: {}", f.severity, f.id, f.message);
        }
        s
    }

    /// `node_exporter` textfile format. The kernel's `lost` growth is its own gauge rather than a
    /// `reason="all"` series beside the reasons, which would double every `sum()`.
    #[must_use]
    #[expect(
        clippy::cast_precision_loss,
        reason = "Prometheus gauges are f64; counts stay far below 2^52, where f64 is exact"
    )]
    pub fn prometheus(&self) -> String {
        let mut g = Gauges::new();
        g.one("window_seconds", "Length of the measurement window.", self.seconds);
        g.one("generated_events", "Events the kernel emitted in the window.", self.generated.events as f64);
        g.one("written_events", "Emitted events found in audit.log.", self.written.events as f64);
        g.one("missing_events", "Emitted events not in audit.log.", self.missing_events as f64);
        g.one(
            "lost_after_kernel_records",
            "Records lost between the kernel and the log.",
            self.after_kernel_drops.records as f64,
        );
        g.one("backlog_peak", "Highest backlog sampled.", f64::from(self.backlog.peak));
        g.one("backlog_limit", "The kernel's backlog_limit.", f64::from(self.backlog.limit));
        if let Some(days) = self.retention.days {
            g.one("retention_days", "Days the local logs hold at the measured rate.", days);
        }
        g.one(
            "kernel_lost",
            "Growth of the kernel's lost counter in the window: every record the kernel dropped.",
            self.kernel_drops.total as f64,
        );
        g.by_label(
            "kernel_drops",
            "Records the kernel dropped, by reason.",
            "reason",
            self.kernel_drops.by_reason.iter().map(|(reason, n)| (reason.as_str(), *n as f64)),
        );
        g.by_label(
            "key_events_per_second",
            "Events per second by rule key.",
            "key",
            self.keys.iter().map(|k| (k.key.as_str(), k.events_per_second)),
        );
        g.finish()
    }
}

#[cfg(test)]
mod retention_tests {
    use super::*;

    #[test]
    fn absent_keys_are_auditds_builtin_values_and_one_log_does_not_rotate() {
        let conf = |text: &str| AuditdConf::parse(Path::new("auditd.conf"), text).unwrap();
        let r = retention(Some(&conf("space_left = 75\n")), 1024.0 * 1024.0);
        assert_eq!((r.max_log_file_mb, r.num_logs, r.max_log_file_action.as_str(), r.days), (0, 0, "IGNORE", None));
        let r =
            retention(Some(&conf("max_log_file = 8\nnum_logs = 5\nmax_log_file_action = rotate\n")), 4.0 * 1_048_576.0);
        assert_eq!(r.days, Some(10.0));
        let r = retention(Some(&conf("max_log_file = 8\nnum_logs = 1\nmax_log_file_action = ROTATE\n")), 1_048_576.0);
        assert_eq!(r.days, None);
    }
}
