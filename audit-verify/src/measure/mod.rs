//! `measure`: over a window, what happened (syscalls the rules select, counted by eBPF), what the kernel
//! emitted (the audit multicast stream), and what auditd wrote (audit.log), with the kernel's drops by
//! reason and the backlog's pressure. Where a layer cannot be observed, the report says so.

pub(crate) mod emitted;
mod kmsg;
pub mod load;
pub mod probe_backend;
pub mod report;
mod rule_filters;
pub(crate) mod sampler;
pub(crate) mod sensors;
mod written;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;

pub use report::MeasureReport;
pub use sensors::SyscallHook;

use crate::{
    auditd_conf::AuditdConf,
    auditlog::Follower,
    btf::{BtfError, KernelBtf},
    capability::Backend,
    netlink::{AuditSocket, listener::Listener},
    rules::{self, Rule},
};

/// What a window needs from the host, read once by the caller (`check` hands over its snapshot's).
#[derive(Debug, Clone, Copy)]
pub struct Host<'a> {
    /// The loaded rules, in kernel order.
    pub loaded: &'a [Rule],
    pub btf: Result<&'a KernelBtf, &'a BtfError>,
}

/// The backend a window measured with: the probe backend where it attached (it counts every drop, so
/// `kfree_skb` is not attached then); else the tracepoint backend where its `kfree_skb` sensor attached; else
/// only the kernel's counters.
#[must_use]
pub fn backend(probes: Option<Backend>, kfree_skb_attached: bool) -> Backend {
    match (probes, kfree_skb_attached) {
        (Some(probes), _) => probes,
        (None, true) => Backend::Tracepoint,
        (None, false) => Backend::CountersOnly,
    }
}

/// What to measure and how.
#[derive(Debug, Clone)]
pub struct Config {
    pub duration: Duration,
    pub auditd_conf: PathBuf,
    /// How long to wait for auditd to write the window's last records.
    pub barrier_timeout: Duration,
    /// Whether and how layer 1 counts what happened.
    pub syscalls: SyscallCounting,
}

/// Layer 1: whether and where the rule matcher counts syscalls in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallCounting {
    /// Not counted: the lowest overhead; the window still measures what the kernel emitted, dropped and
    /// auditd wrote.
    Off,
    /// On `syscalls:sys_exit_NAME` for each selected syscall, where each has one: the other syscalls
    /// cost nothing, and rules that select 32-bit syscalls are not counted (those events skip them).
    Selected,
    /// On the `sys_exit` raw tracepoint: both ABIs, at a cost on every syscall of the host.
    Every,
}

/// One window, started: every layer is already observing.
pub struct Window {
    started: Instant,
    follower: Follower,
    conf: Option<AuditdConf>,
    listener: Listener<emitted::Counter>,
    sampler: sampler::Sampler,
    kernel_log: Option<kmsg::KernelLog>,
    sensors: Result<sensors::KernelSensors, String>,
    /// The kprobe/fentry backend, where this kernel lets it attach.
    probes: Option<probe_backend::ProbeSensors>,
    rules: Vec<rule_filters::Translated>,
    not_counted: Vec<rules::Rule>,
    barrier_timeout: Duration,
}

impl Window {
    /// Starts observing, with the loaded rules and the kernel's BTF read now. Needs root.
    ///
    /// # Errors
    ///
    /// When the loaded rules cannot be read, or as [`Window::start_on`].
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let (loaded, _) = rules::loaded(&mut AuditSocket::open()?).context("reading the loaded rules")?;
        let btf = KernelBtf::from_sys_fs();
        Self::start_on(config, Host { loaded: &loaded, btf: btf.as_ref() })
    }

    /// Starts observing the host as `host` describes it. Needs root.
    ///
    /// # Errors
    ///
    /// When a layer the window needs cannot start (not root, no audit netlink, no eBPF).
    pub fn start_on(config: &Config, host: Host<'_>) -> anyhow::Result<Self> {
        let conf = AuditdConf::load(&config.auditd_conf).ok();
        let log =
            conf.as_ref().map_or_else(|| PathBuf::from(crate::auditd_conf::DEFAULT_LOG_FILE), AuditdConf::log_file);
        let (translated, not_counted) = rule_filters::translate(host.loaded);
        // The probe backend first: only where it does not attach does the tracepoint backend's kfree_skb
        // sensor, which runs on every freed network buffer, earn its cost.
        let probes = match host.btf {
            Ok(btf) => probe_backend::ProbeSensors::attach(btf)
                .inspect_err(|e| log::info!("kprobe/fentry backend unavailable, using tracepoints: {e:#}"))
                .ok(),
            Err(e) => {
                log::info!("kprobe/fentry backend unavailable without kernel BTF: {e}");
                None
            }
        };
        let sensors = host
            .btf
            .map_err(|e| anyhow::anyhow!("kernel BTF, for task field offsets: {e}"))
            .and_then(|btf| {
                sensors::KernelSensors::attach(&translated, config.syscalls, probes.is_none(), &btf.offsets)
            })
            .map_err(|e| short_error(&format!("{e:#}")));
        let kernel_log = kmsg::KernelLog::from_now().ok();
        let mut own_programs = sensors.as_ref().map(sensors::KernelSensors::program_ids).unwrap_or_default();
        own_programs.extend(probes.iter().flat_map(probe_backend::ProbeSensors::program_ids));
        let listener = emitted::listen(own_programs)?;
        let sampler = sampler::Sampler::start()?;
        // The log last, so that nothing emitted from here on is missed in it. The follower holds the file
        // open: if auditd rotates it during the window, the follower finishes it, then reads the new one.
        let log_start = std::fs::metadata(&log).map_or(0, |m| m.len());
        let follower = Follower::open(&log, log_start).with_context(|| format!("opening {}", log.display()))?;
        Ok(Self {
            started: Instant::now(),
            follower,
            conf,
            listener,
            sampler,
            kernel_log,
            sensors,
            probes,
            rules: translated,
            not_counted,
            barrier_timeout: config.barrier_timeout,
        })
    }

    /// Stops every layer, waits for auditd to write what the kernel emitted, and reconciles.
    ///
    /// # Errors
    ///
    /// When a layer cannot be read back or auditd's log cannot be followed.
    pub fn finish(self) -> anyhow::Result<MeasureReport> {
        let Window {
            started,
            mut follower,
            conf,
            listener,
            sampler,
            kernel_log,
            sensors,
            probes,
            rules,
            not_counted,
            barrier_timeout,
        } = self;
        let elapsed = started.elapsed();
        let kfree_skb_attached = sensors.as_ref().is_ok_and(|s| s.counts_drops);
        let (hits, drops, syscall_hook, sensors_error) = match sensors {
            // Read, then detach at once: the barrier below must not be counted as load.
            Ok(sensors) => (sensors.rule_hits()?, sensors.drops()?, sensors.hook.clone(), None),
            Err(e) => (None, Vec::new(), None, Some(e)),
        };
        let backend = backend(probes.as_ref().map(probe_backend::ProbeSensors::backend), kfree_skb_attached);
        let probe_counts = probes.as_ref().map(probe_backend::ProbeSensors::counts).transpose()?;
        drop(probes);
        let samples = sampler.stop()?;
        // The barrier: a marker message. Once it arrives on the multicast socket, everything emitted before
        // it has; once it is in the log, everything auditd will write of the window is there.
        let marker = listener.send_barrier(&mut AuditSocket::open()?)?;
        let emitted = emitted::emitted(listener.finish(barrier_timeout)?);
        let (written, barrier) = written::collect(&mut follower, &marker, barrier_timeout, &emitted)?;
        let log = follower.path().to_owned();
        let kernel_messages = kernel_log.map(|mut k| k.audit_messages()).unwrap_or_default();
        Ok(report::reconcile(&report::Inputs {
            elapsed,
            backend,
            probes: probe_counts,
            sensors_error,
            rules: &rules,
            not_counted: &not_counted,
            hits,
            syscall_hook,
            drops,
            samples,
            emitted,
            written,
            barrier,
            kernel_messages,
            conf: conf.as_ref(),
            log: &log,
        }))
    }
}

/// A load error without the verifier's full log (kept in `-v` diagnostics): the cause, and the log's
/// last line, which says why.
fn short_error(full: &str) -> String {
    log::debug!("{full}");
    match full.split_once("Verifier output:") {
        Some((cause, log)) => {
            // The log ends with statistics; the reason is the line before them.
            let stats = ["processed ", "verification time", "stack depth", ":"];
            let last = log
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !stats.iter().any(|s| l.starts_with(s)))
                .unwrap_or("");
            format!("{}: verifier: {last}", cause.trim().trim_end_matches('.'))
        }
        None => full.to_owned(),
    }
}

/// Measures one window of `config.duration` while the host does what it does; a stop request
/// ([`crate::stop`]) ends the window early, and the report covers what was observed until then.
///
/// # Errors
///
/// As [`Window::start`] and [`Window::finish`].
pub fn run(config: &Config) -> anyhow::Result<MeasureReport> {
    let window = Window::start(config)?;
    crate::stop::sleep(config.duration);
    window.finish()
}

/// [`run`] on the host as `host` describes it (a stop request ends the window early there too).
///
/// # Errors
///
/// As [`Window::start_on`] and [`Window::finish`].
pub fn run_on(config: &Config, host: Host<'_>) -> anyhow::Result<MeasureReport> {
    let window = Window::start_on(config, host)?;
    crate::stop::sleep(config.duration);
    window.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_named_is_the_one_that_attached() {
        assert_eq!(backend(Some(Backend::Fentry), false), Backend::Fentry, "kfree_skb is not attached then");
        assert_eq!(backend(Some(Backend::Kprobe), false), Backend::Kprobe);
        assert_eq!(backend(None, true), Backend::Tracepoint);
        assert_eq!(backend(None, false), Backend::CountersOnly, "the tracepoint sensors failed");
    }
}
