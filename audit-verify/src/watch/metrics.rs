//! The `/metrics` families (names and labels as the metric contract fixes them, shared with the fleet's
//! alert rules and dashboard), registered once and encoded by the Prometheus project's own client.
//! Counters count since `watch` started and never go down; every family is updated on the runtime's one
//! thread between scrapes, so a scrape sees one interval whole (Σ by reason = total at every scrape).

use std::sync::atomic::AtomicU64;

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

type Labels = [(&'static str, String); 1];
type FloatGauge = Gauge<f64, AtomicU64>;

/// One label set of one label.
#[must_use]
pub fn label(name: &'static str, value: &str) -> Labels {
    [(name, value.to_owned())]
}

pub struct Metrics {
    registry: Registry,
    pub kernel_lost: Counter,
    pub kernel_dropped: Family<Labels, Counter>,
    pub lost_after_kernel: Family<Labels, Counter>,
    pub backlog: Gauge,
    pub backlog_peak: Gauge,
    pub backlog_limit: Gauge,
    /// `None` where the kernel's tick rate is unknown: the family is then not registered.
    pub wait_time_actual: Option<Counter<f64, AtomicU64>>,
    pub events_emitted: Family<Labels, Counter>,
    pub events_written: Family<Labels, Counter>,
    pub canary_last_success: Family<Labels, FloatGauge>,
    pub canary_latency: Family<Labels, FloatGauge>,
    pub canary_failures: Family<Labels, Counter>,
    pub auditd_up: Gauge,
    pub logging_suspended: Gauge,
    pub disk_error: Gauge,
    pub plugin_queue_overflow: Gauge,
    pub plugin_queue_depth: Gauge,
    pub state_last_read: FloatGauge,
}

impl Metrics {
    /// Every family; `wait_time_in_seconds` says whether `backlog_wait_time_actual` can be converted.
    #[must_use]
    pub fn new(version: &str, backend: &str, wait_time_in_seconds: bool) -> Self {
        let mut registry = Registry::with_prefix("audit_verify");
        let m = Self {
            kernel_lost: Counter::default(),
            kernel_dropped: Family::default(),
            lost_after_kernel: Family::default(),
            backlog: Gauge::default(),
            backlog_peak: Gauge::default(),
            backlog_limit: Gauge::default(),
            wait_time_actual: wait_time_in_seconds.then(Counter::default),
            events_emitted: Family::default(),
            events_written: Family::default(),
            canary_last_success: Family::default(),
            canary_latency: Family::default(),
            canary_failures: Family::default(),
            auditd_up: Gauge::default(),
            logging_suspended: Gauge::default(),
            disk_error: Gauge::default(),
            plugin_queue_overflow: Gauge::default(),
            plugin_queue_depth: Gauge::default(),
            state_last_read: FloatGauge::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "kernel_lost_records",
            "Growth of the kernel's lost counter since watch started (resets folded in)",
            m.kernel_lost.clone(),
        );
        r.register(
            "kernel_dropped_records",
            "Kernel drops by reason; the sum over reasons equals kernel_lost_records_total",
            m.kernel_dropped.clone(),
        );
        r.register(
            "lost_after_kernel_records",
            "Records the kernel emitted that auditd never wrote, by stage",
            m.lost_after_kernel.clone(),
        );
        r.register("backlog_records", "The kernel's audit backlog at the last sample", m.backlog.clone());
        r.register(
            "backlog_peak_records",
            "The kernel's audit backlog peak over the last interval",
            m.backlog_peak.clone(),
        );
        r.register("backlog_limit_records", "The kernel's audit backlog limit", m.backlog_limit.clone());
        if let Some(c) = &m.wait_time_actual {
            r.register(
                "backlog_wait_time_actual_seconds",
                "Time tasks waited for room in the kernel's audit backlog",
                c.clone(),
            );
        }
        r.register("events_emitted", "Events the kernel emitted, by key", m.events_emitted.clone());
        r.register("events_written", "Events auditd wrote, by key", m.events_written.clone());
        r.register(
            "canary_last_success_timestamp_seconds",
            "When a canary last went through, by path",
            m.canary_last_success.clone(),
        );
        r.register(
            "canary_latency_seconds",
            "The last canary's time from sending to written, by path",
            m.canary_latency.clone(),
        );
        r.register(
            "canary_failures",
            "Canaries not through within the canary timeout, by path",
            m.canary_failures.clone(),
        );
        r.register("auditd_up", "1 when a live auditd is registered with the kernel", m.auditd_up.clone());
        r.register("auditd_logging_suspended", "auditd's state report: logging suspended", m.logging_suspended.clone());
        r.register("auditd_disk_error", "auditd's state report: disk error detected", m.disk_error.clone());
        r.register(
            "auditd_plugin_queue_overflow",
            "auditd's state report: plugin queue overflow detected",
            m.plugin_queue_overflow.clone(),
        );
        r.register(
            "auditd_plugin_queue_depth",
            "auditd's state report: current plugin queue depth",
            m.plugin_queue_depth.clone(),
        );
        r.register(
            "auditd_state_last_read_timestamp_seconds",
            "When auditd's state report was last read",
            m.state_last_read.clone(),
        );
        let info: Family<[(&'static str, String); 2], Gauge> = Family::default();
        info.get_or_create(&[("version", version.to_owned()), ("backend", backend.to_owned())]).set(1);
        r.register("watch_info", "audit-verify watch's version and measuring backend", info);
        // Every reason and stage from the start: a series that appears only at its first drop makes
        // `increase()` miss that drop.
        for reason in super::kernel_loss::REASONS {
            m.kernel_dropped.get_or_create(&label("reason", reason)).inc_by(0);
        }
        for stage in super::STAGES {
            m.lost_after_kernel.get_or_create(&label("stage", stage)).inc_by(0);
        }
        m.canary_failures.get_or_create(&label("path", "log")).inc_by(0);
        Self { registry, ..m }
    }

    /// The exposition text.
    #[must_use]
    #[expect(clippy::missing_panics_doc, reason = "writing to a String cannot fail")]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_contract_and_every_reason_and_stage_is_there_from_the_start() {
        let m = Metrics::new("0.1.0", "tracepoint", false);
        m.kernel_lost.inc_by(3);
        let text = m.encode();
        for line in [
            "audit_verify_kernel_lost_records_total 3",
            "audit_verify_kernel_dropped_records_total{reason=\"unattributed\"} 0",
            "audit_verify_kernel_dropped_records_total{reason=\"hold_or_retry_queue_overflow\"} 0",
            "audit_verify_lost_after_kernel_records_total{stage=\"plugin_queue\"} 0",
            "audit_verify_backlog_peak_records 0",
            "audit_verify_canary_failures_total{path=\"log\"} 0",
            "audit_verify_watch_info{version=\"0.1.0\",backend=\"tracepoint\"} 1",
            "# TYPE audit_verify_kernel_lost_records counter",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert!(!text.contains("backlog_wait_time_actual"), "omitted without the tick rate");
        assert!(
            Metrics::new("0", "x", true).encode().contains("audit_verify_backlog_wait_time_actual_seconds_total 0")
        );
    }
}
