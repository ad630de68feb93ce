//! `measure --load`: finds the event rate at which loss starts with the current settings, by sending user
//! messages (recorded whatever rules are loaded, as `auditctl -m` would) at rising rates, one window per
//! rate. The messages come from a child process, because the measurement leaves our own events out.

use std::{
    process::{Child, Command},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use serde::Serialize;

use super::{Config, MeasureReport, Window};
use crate::netlink::AuditSocket;

/// Rates tried, per second, until loss starts.
const RATES: [u32; 8] = [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000];

#[derive(Debug, Clone, Serialize)]
pub struct LoadStep {
    pub target_rate: u32,
    /// What the kernel emitted per second in the window.
    pub emitted_rate: f64,
    pub kernel_drops: u64,
    pub missing_events: u64,
    pub lost_after_kernel: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub steps: Vec<LoadStep>,
    /// The first rate with any loss; `None` if none up to the highest rate tried.
    pub loss_starts_at: Option<u32>,
    /// The report of the last window.
    pub last: MeasureReport,
}

/// Runs the ramp; `generator` starts the child that sends `rate` messages per second for `seconds`.
///
/// # Errors
///
/// When `generator` fails, or a window cannot be measured.
#[expect(clippy::missing_panics_doc, reason = "`last` is set by the first step, and `RATES` is a non-empty constant")]
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals stay far below 2^52, where f64 is exact; the result is a rate or a size to print"
)]
pub fn ramp(
    config: &Config,
    mut generator: impl FnMut(u32, Duration) -> anyhow::Result<Child>,
    mut progress: impl FnMut(&LoadStep),
) -> anyhow::Result<LoadReport> {
    let mut steps = Vec::new();
    let mut last = None;
    for rate in RATES {
        let window = Window::start(config)?;
        let mut child = generator(rate, config.duration).context("starting the load generator")?;
        // Polled, so that a stop request ends the step within a second; the partial step is reported.
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the load generator")? {
                break status;
            }
            if crate::stop::sleep(Duration::from_millis(100)) {
                let _ = child.kill();
                break child.wait().context("waiting for the load generator")?;
            }
        };
        let stopped = crate::stop::requested().is_some();
        anyhow::ensure!(stopped || status.success(), "the load generator failed ({status})");
        let report = window.finish()?;
        let step = LoadStep {
            target_rate: rate,
            emitted_rate: report.generated.events as f64 / report.seconds,
            kernel_drops: report.kernel_drops.total,
            missing_events: report.missing_events,
            lost_after_kernel: report.after_kernel_drops.records,
        };
        progress(&step);
        let loss = step.kernel_drops + step.missing_events + step.lost_after_kernel > 0;
        steps.push(step);
        last = Some(report);
        if loss || stopped {
            break;
        }
    }
    let loss_starts_at =
        steps.iter().find(|s| s.kernel_drops + s.missing_events + s.lost_after_kernel > 0).map(|s| s.target_rate);
    Ok(LoadReport { steps, loss_starts_at, last: last.expect("at least one rate") })
}

/// The generator's body (run in the child): `rate` user messages per second for `duration`, paced in
/// 10 ms slices. Returns how many were sent.
///
/// # Errors
///
/// When the audit socket cannot be opened or a message cannot be sent.
#[expect(
    clippy::cast_possible_truncation,
    reason = "elapsed seconds times a u32 rate: non-negative and far below 2^64"
)]
#[expect(clippy::cast_sign_loss, reason = "elapsed seconds times a u32 rate: non-negative and far below 2^64")]
pub fn emit(rate: u32, duration: Duration) -> anyhow::Result<u64> {
    let mut socket = AuditSocket::open()?;
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64;
        while sent < due {
            socket.send_user_message(&format!("audit-verify load {sent}"))?;
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(sent)
}

/// Starts `exe emit-load --rate R --seconds S` (this binary's hidden generator).
///
/// # Errors
///
/// When the child cannot be started.
pub fn spawn_self(exe: &std::path::Path, rate: u32, duration: Duration) -> std::io::Result<Child> {
    Command::new(exe)
        .args(["emit-load", "--rate", &rate.to_string(), "--millis", &duration.as_millis().to_string()])
        .spawn()
}
