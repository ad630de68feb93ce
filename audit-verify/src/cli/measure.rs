//! `audit-verify measure` (and its hidden load generator).

use std::{io::IsTerminal as _, path::Path, time::Duration};

use anyhow::Context as _;
use audit_verify::{
    finding::Severity,
    measure::{self, Config, MeasureReport, SyscallCounting, load},
    stop, textfile,
};

use super::{
    Outcome,
    output::{self, err, errln, out, outln},
};

pub struct Options<'a> {
    pub duration: u64,
    pub json: bool,
    pub prometheus: Option<&'a Path>,
    pub load: bool,
    pub auditd_conf: &'a Path,
    pub barrier_timeout: Duration,
    pub syscalls: SyscallCounting,
}

pub fn run(o: &Options<'_>) -> anyhow::Result<Outcome> {
    let config = Config {
        duration: Duration::from_secs(o.duration),
        auditd_conf: o.auditd_conf.to_owned(),
        barrier_timeout: o.barrier_timeout,
        syscalls: o.syscalls,
    };
    let (report, load_report) = if o.load {
        let exe = std::env::current_exe().context("locating our own binary for the load generator")?;
        errln!("measure: raising the rate of user messages, {} s per step, until records are lost", o.duration);
        let ramp = load::ramp(
            &config,
            |rate, d| Ok(load::spawn_self(&exe, rate, d)?),
            |step| {
                errln!(
                    "  {:>6}/s target: {:.0}/s emitted, {} kernel drops, {} missing, {} lost after the kernel",
                    step.target_rate,
                    step.emitted_rate,
                    step.kernel_drops,
                    step.missing_events,
                    step.lost_after_kernel
                );
            },
        )?;
        (ramp.last.clone(), Some(ramp))
    } else {
        (measure_with_progress(&config)?, None)
    };
    if let Some(path) = o.prometheus {
        textfile::write(path, report.prometheus().as_bytes())?;
    }
    if o.json {
        let text = match &load_report {
            Some(l) => output::json(l)?,
            None => output::json(&report)?,
        };
        outln!("{text}");
    } else {
        if let Some(line) = output::partial_line(&format!("the window ran {:.1} of {} s", report.seconds, o.duration)) {
            outln!("{line}");
        }
        out!("{}", report.human());
        if let Some(l) = &load_report {
            match l.loss_starts_at {
                Some(rate) => outln!("Loss starts at about {rate} events per second with the current settings."),
                None => outln!("No loss up to {} events per second.", l.steps.last().map_or(0, |s| s.target_rate)),
            }
        }
    }
    let high = report.findings.iter().any(|f| f.severity >= Severity::High);
    Ok(if high { Outcome::Findings } else { Outcome::Clean })
}

fn measure_with_progress(config: &Config) -> anyhow::Result<MeasureReport> {
    let window = measure::Window::start(config)?;
    let seconds = config.duration.as_secs();
    let tty = std::io::stderr().is_terminal();
    errln!("measure: observing for {seconds} s");
    // stop::sleep returns early on SIGINT/SIGTERM/SIGHUP: the window ends there and is reported partial.
    let stopped = (1..=seconds).rev().any(|left| {
        if tty {
            err!("\r  {left:>3} s left ");
        }
        stop::sleep(Duration::from_secs(1))
    });
    if !stopped {
        stop::sleep(config.duration.saturating_sub(Duration::from_secs(seconds)));
    }
    if tty {
        errln!("\r  reconciling   ");
    }
    window.finish()
}

/// The hidden `emit-load` subcommand.
pub fn emit_load(rate: u32, millis: u64) -> anyhow::Result<Outcome> {
    load::emit(rate, Duration::from_millis(millis))?;
    Ok(Outcome::Clean)
}
