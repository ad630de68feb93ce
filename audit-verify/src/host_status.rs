//! `status`: what the kernel's audit subsystem and auditd are doing now, what this kernel lets us
//! measure, and whether someone else's BPF programs sit on the audit path.

use std::{fs, path::Path};

use serde::Serialize;

use crate::{
    auditd_conf,
    capability::Capabilities,
    finding::{Finding, Severity},
    netlink::{AuditStatus, NetlinkError},
    snapshot::{Inputs, LogError, Probed, Snapshot},
    tamper::Attachment,
};

#[derive(Debug, Clone, Serialize)]
pub struct HostStatus {
    pub kernel: AuditStatus,
    /// `enabled` in words: off, on, locked.
    pub enabled_state: &'static str,
    pub loaded_rules: usize,
    pub auditd: Auditd,
    pub capabilities: Capabilities,
    pub tampering: TamperCheck,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Auditd {
    /// The daemon the kernel sends records to (0: none).
    pub pid: u32,
    pub alive: bool,
    pub config: String,
    pub log_file: Option<String>,
    pub log_file_bytes: Option<u64>,
    /// Why the config could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// Why the log file could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_error: Option<String>,
}

/// BPF programs not ours on audit functions.
#[derive(Debug, Clone, Serialize)]
pub struct TamperCheck {
    pub attachments: Vec<Attachment>,
    /// Why the scan could not run; then `attachments` proves nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[must_use]
pub fn enabled_state(enabled: u32) -> &'static str {
    match enabled {
        0 => "off",
        1 => "on",
        2 => "locked",
        _ => "unknown",
    }
}

/// Gathers everything. Fails only where nothing can be said (no audit in the kernel, not root).
///
/// # Errors
///
/// When the kernel cannot be asked over netlink (no audit in it, not root).
pub fn gather(auditd_conf_path: &Path) -> Result<HostStatus, NetlinkError> {
    let inputs = Inputs { auditd_conf: auditd_conf_path.to_owned(), ..Inputs::default() };
    let snapshot = Snapshot::gather(inputs)?;
    Ok(of(&snapshot, &Probed::gather()))
}

/// The status of the host in `snapshot`, with what its probes found.
#[must_use]
pub fn of(snapshot: &Snapshot, probed: &Probed) -> HostStatus {
    let kernel = snapshot.kernel.clone();
    let tampering = match &probed.tampering {
        Ok(attachments) => TamperCheck { attachments: attachments.clone(), error: None },
        Err(e) => TamperCheck { attachments: Vec::new(), error: Some(format!("tamper scan failed: {e}")) },
    };
    let capabilities = probed.capabilities.clone();
    let auditd = auditd_of(snapshot);
    let findings = findings(&kernel, &auditd, &tampering);
    HostStatus {
        enabled_state: enabled_state(kernel.enabled),
        kernel,
        loaded_rules: snapshot.loaded.rules.len() + snapshot.loaded.undecodable.len(),
        auditd,
        capabilities,
        tampering,
        findings,
    }
}

/// Whether `pid` names a live process. The kernel keeps a dead auditd's pid registered until it
/// next fails to send to it, so a registered pid alone proves nothing; a zombie is dead too.
#[must_use]
pub fn process_alive(pid: u32) -> bool {
    pid != 0
        && fs::read_to_string(format!("/proc/{pid}/stat"))
            // "pid (comm) state ...": comm may hold spaces or parentheses, so split at the last ") ".
            .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

fn auditd_of(snapshot: &Snapshot) -> Auditd {
    let pid = snapshot.kernel.pid;
    let mut auditd = Auditd {
        pid,
        alive: process_alive(pid),
        config: snapshot.inputs.auditd_conf.display().to_string(),
        log_file: None,
        log_file_bytes: None,
        config_error: None,
        log_error: None,
    };
    match (&snapshot.auditd_conf, &snapshot.log) {
        (Ok(_), Ok(log)) => {
            auditd.log_file = Some(log.path.display().to_string());
            auditd.log_file_bytes = Some(log.offset);
        }
        (Ok(conf), Err(e)) => {
            auditd.log_file = Some(conf.log_file().display().to_string());
            auditd.log_error = Some(match &**e {
                LogError::Read { path, source } => format!("{}: {source}", path.display()),
                LogError::Conf(e) => e.to_string(),
            });
        }
        (Err(e), _) => {
            auditd.config_error = Some(e.to_string());
            auditd.log_file = Some(auditd_conf::DEFAULT_LOG_FILE.into());
        }
    }
    auditd
}

fn findings(kernel: &AuditStatus, auditd: &Auditd, tampering: &TamperCheck) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |id, severity, message: String| out.push(Finding::new(id, severity, message));
    if kernel.enabled == 0 {
        add("audit_disabled", Severity::High, "kernel audit is off (enabled 0): nothing is recorded".into());
    }
    match (kernel.pid, auditd.alive) {
        (0, _) => add(
            "auditd_not_running",
            Severity::High,
            "no audit daemon is registered with the kernel (pid 0): records go to the kernel log or are lost".into(),
        ),
        (pid, false) => add(
            "auditd_dead",
            Severity::High,
            format!("the kernel's audit daemon pid {pid} no longer exists: records queue until the backlog drops them"),
        ),
        _ => {}
    }
    if let Some(error) = &auditd.config_error {
        add("auditd_config_unreadable", Severity::Medium, error.clone());
    }
    if let Some(error) = &auditd.log_error {
        add("audit_log_unreadable", Severity::Medium, format!("audit log {error}"));
    }
    if kernel.lost > 0 {
        add(
            "records_lost",
            Severity::Medium,
            format!(
                "the kernel has lost {} audit records since boot (`measure` shows whether it still does)",
                kernel.lost
            ),
        );
    }
    for a in &tampering.attachments {
        let holder = match (a.holder_pid, &a.holder_comm) {
            (Some(pid), Some(comm)) => format!("held by pid {pid} ({comm})"),
            (Some(pid), None) => format!("held by pid {pid}"),
            _ if a.program_id.is_none() => format!("kprobe programs loaded: {}", a.candidates.join(", ")),
            _ => "pinned, held by no process".into(),
        };
        let program = match a.program_id {
            Some(id) => format!("BPF program {id} ({})", a.program_name.as_deref().unwrap_or("unnamed")),
            None => "a kprobe in the kernel's registry".to_owned(),
        };
        add(
            "bpf_on_audit_path",
            Severity::High,
            format!(
                "{program} is attached as {} to {}, {holder}: it can hide or alter audit records",
                a.kind, a.function
            ),
        );
    }
    if let Some(e) = &tampering.error {
        add("tamper_scan_failed", Severity::Medium, e.clone());
    }
    out
}
