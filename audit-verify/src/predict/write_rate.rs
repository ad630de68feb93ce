//! auditd's write rate on this host, measured: one second of user messages from `measure --load`'s
//! generator at a rate above what auditd usually sustains, through a `measure` window with no rules
//! counted; the rate is what reached the log over the time auditd took to write it (the window and the
//! write barrier's wait). Where auditd kept up (the barrier came at once), the burst, not auditd, was the
//! limit, and the rate is a lower bound.

use std::{path::Path, time::Duration};

use serde::Serialize;

use crate::{
    barrier::Barrier,
    btf::KernelBtf,
    measure::{self, Host, SyscallCounting, load},
};

/// Messages per second the burst asks for.
const BURST_RATE: u32 = 10_000;
/// A barrier written within this long after the burst: auditd was not behind.
const KEPT_UP_MS: u64 = 250;

#[derive(Debug, Clone, Serialize)]
pub struct WriteRate {
    /// Records per second auditd wrote (`None`: the burst could not be measured; `basis` says why).
    pub records_per_second: Option<f64>,
    pub basis: String,
}

/// Runs the burst with `exe`'s hidden `emit-load`.
#[must_use]
#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52, where f64 is exact")]
pub fn measure(exe: &Path, conf_path: &Path) -> WriteRate {
    let run = || -> anyhow::Result<(u64, f64, u64)> {
        // (records written, seconds auditd took, ms the barrier waited)
        let config = measure::Config {
            duration: Duration::from_secs(1),
            auditd_conf: conf_path.to_owned(),
            barrier_timeout: Duration::from_secs(10),
            syscalls: SyscallCounting::Off,
        };
        let btf = KernelBtf::from_sys_fs();
        let window = measure::Window::start_on(&config, Host { loaded: &[], btf: btf.as_ref() })?;
        let mut child = load::spawn_self(exe, BURST_RATE, config.duration)?;
        let status = child.wait()?;
        let report = window.finish()?;
        // A burst that did not run measures nothing: no rate rather than a low one.
        anyhow::ensure!(status.success(), "the burst generator failed ({status})");
        let waited = match &report.observer.barrier {
            Barrier::Reached { waited_ms, .. } => *waited_ms,
            Barrier::TimedOut { cause, .. } => anyhow::bail!("auditd did not write the burst's barrier: {cause}"),
        };
        Ok((report.written.records, report.seconds + waited as f64 / 1000.0, waited))
    };
    match run() {
        Ok((written, seconds, waited_ms)) => {
            let rate = written as f64 / seconds.max(0.001);
            let bound = if waited_ms < KEPT_UP_MS { "; auditd kept up with the burst: at least this rate" } else { "" };
            WriteRate {
                records_per_second: Some(rate),
                basis: format!(
                    "measured: a burst of user messages at {BURST_RATE}/s for 1 s, {written} records written in \
                     {seconds:.2} s{bound}"
                ),
            }
        }
        Err(e) => WriteRate { records_per_second: None, basis: format!("not measured: {e:#}") },
    }
}

impl WriteRate {
    /// Not measured, and why.
    #[must_use]
    pub fn skipped(why: &str) -> Self {
        Self { records_per_second: None, basis: format!("not measured: {why}") }
    }
}
