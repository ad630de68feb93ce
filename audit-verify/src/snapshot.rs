//! One model of the host, gathered once: the kernel's audit status, the loaded rules (read once), the
//! rules files (through the one loader, [`RulesInput`]), auditd.conf, where the audit log ends now and,
//! for the commands that need them, others' BPF programs on the audit path, the kernel's BTF (parsed
//! once) and what this kernel lets us measure ([`Probed`]).
//!
//! Every analysis is a pure function of it: the rules diff ([`Snapshot::rules_diff`]), prove's planning
//! ([`Snapshot::prove_input`]), lint (`lint::Facts::from_snapshot`), status ([`crate::host_status`]). So
//! `check` and each command alone give the same verdict on the same inputs: they read the same model.
//!
//! What cannot be read is kept as the error, beside what could: only the kernel itself (netlink) is
//! needed to gather at all.

use std::{
    fs, io,
    path::{Path, PathBuf},
    sync::Arc,
};

use thiserror::Error;

use crate::{
    auditd_conf::{self, AuditdConf, ConfError},
    btf::{BtfError, KernelBtf},
    capability::{self, Capabilities},
    finding::Finding,
    netlink::{AuditSocket, AuditStatus, NetlinkError},
    prove,
    rules::{
        self, Rule,
        augenrules::{RuleSource, RulesInput, SourceError},
        diff::{self, RulesReport},
    },
    tamper::{self, Attachment},
};

/// What the operator names: the same flags mean the same thing in every command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub rules: RulesInput,
    pub auditd_conf: PathBuf,
    /// The audit log, instead of auditd.conf's `log_file` (`prove --log`).
    pub log: Option<PathBuf>,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            rules: RulesInput::Dir(PathBuf::from("/etc/audit/rules.d")),
            auditd_conf: PathBuf::from(auditd_conf::DEFAULT_PATH),
            log: None,
        }
    }
}

/// The kernel's rules, decoded, in kernel order.
#[derive(Debug, Clone, Default)]
pub struct LoadedRules {
    pub rules: Vec<Rule>,
    /// A finding per loaded rule that cannot be decoded.
    pub undecodable: Vec<Finding>,
}

/// An audit log and the byte where it ended when the snapshot was taken: what is written from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPosition {
    pub path: PathBuf,
    pub offset: u64,
}

impl LogPosition {
    /// The end of `path` now.
    ///
    /// # Errors
    ///
    /// When `path`'s metadata cannot be read.
    pub fn end_of(path: &Path) -> Result<Self, LogError> {
        let offset = fs::metadata(path).map_err(|source| LogError::Read { path: path.to_owned(), source })?.len();
        Ok(Self { path: path.to_owned(), offset })
    }
}

#[derive(Debug, Error)]
pub enum LogError {
    #[error("no audit log path: {0}")]
    Conf(#[source] Arc<ConfError>),
    #[error("cannot read the audit log {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The rest of the host, which only `status`, `check` and `measure` need: finding it out loads eBPF
/// programs.
#[derive(Debug)]
pub struct Probed {
    /// Others' BPF programs on audit functions, scanned before any of ours is loaded.
    pub tampering: Result<Vec<Attachment>, Arc<io::Error>>,
    pub btf: Result<KernelBtf, Arc<BtfError>>,
    pub capabilities: Capabilities,
}

/// The host, as read once.
#[derive(Debug)]
pub struct Snapshot {
    pub inputs: Inputs,
    pub kernel: AuditStatus,
    pub loaded: LoadedRules,
    pub rules: Result<RuleSource, Arc<SourceError>>,
    pub auditd_conf: Result<AuditdConf, Arc<ConfError>>,
    /// The same auditd.conf as auditd itself reads it ([`AuditdConf::load_daemon`]: a missing file is its
    /// built-in defaults, a refused line is left out), which lint judges.
    pub auditd_daemon_conf: Result<AuditdConf, Arc<ConfError>>,
    pub log: Result<LogPosition, Arc<LogError>>,
}

impl Probed {
    /// The tamper scan, the kernel's BTF and the capability probes, in that order: the scan runs before
    /// our own probes load anything, so that nothing of ours is on its list.
    pub fn gather() -> Self {
        let btf = KernelBtf::from_sys_fs().map_err(Arc::new);
        let aya_btf = btf.as_ref().ok().and_then(|b| b.aya.as_ref());
        let tampering = tamper::scan(std::process::id(), aya_btf).map_err(Arc::new);
        let capabilities = capability::probe(btf.as_ref().map_err(AsRef::as_ref));
        Self { tampering, btf, capabilities }
    }
}

impl Snapshot {
    /// The kernel (status and loaded rules), the files the inputs name, and the log's end. Fails only when
    /// the kernel cannot be asked (no audit in it, not root).
    ///
    /// # Errors
    ///
    /// When the kernel cannot be asked (no audit in it, not root).
    pub fn gather(inputs: Inputs) -> Result<Self, NetlinkError> {
        let mut socket = AuditSocket::open()?;
        let kernel = socket.status()?;
        let (rules, undecodable) = rules::loaded(&mut socket)?;
        Ok(Self::from_parts(inputs, kernel, LoadedRules { rules, undecodable }))
    }

    /// The files half of a snapshot, around kernel state read elsewhere.
    pub fn from_parts(inputs: Inputs, kernel: AuditStatus, loaded: LoadedRules) -> Self {
        let rules = inputs.rules.load().map_err(Arc::new);
        let auditd_conf = AuditdConf::load(&inputs.auditd_conf).map_err(Arc::new);
        let auditd_daemon_conf = AuditdConf::load_daemon(&inputs.auditd_conf).map_err(Arc::new);
        let log = match (&inputs.log, &auditd_conf) {
            (Some(path), _) => LogPosition::end_of(path),
            (None, Ok(conf)) => LogPosition::end_of(&conf.log_file()),
            (None, Err(e)) => Err(LogError::Conf(e.clone())),
        }
        .map_err(Arc::new);
        Self { inputs, kernel, loaded, rules, auditd_conf, auditd_daemon_conf, log }
    }

    /// The rules files against the loaded rules: the report of `audit-verify rules`, undecodable rules
    /// included.
    ///
    /// # Errors
    ///
    /// When the rules files could not be read (the error kept from [`Snapshot::gather`]).
    pub fn rules_diff(&self) -> Result<RulesReport, Arc<SourceError>> {
        let source = self.rules.as_ref().map_err(Arc::clone)?;
        let mut report = diff::compare(source, &self.loaded.rules);
        report.findings.extend(self.loaded.undecodable.iter().cloned());
        report.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        Ok(report)
    }

    /// What prove judges, with `diff` from [`Snapshot::rules_diff`].
    ///
    /// # Errors
    ///
    /// As [`Snapshot::rules_diff`].
    pub fn prove_input<'a>(&'a self, diff: &'a RulesReport) -> Result<prove::Input<'a>, Arc<SourceError>> {
        Ok(prove::Input {
            source: self.rules.as_ref().map_err(Arc::clone)?,
            loaded: &self.loaded.rules,
            undecodable: &self.loaded.undecodable,
            diff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed on drop.
    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn kernel() -> AuditStatus {
        AuditStatus::parse(&[0; 64]).unwrap()
    }

    #[test]
    fn files_are_read_from_the_inputs_and_the_log_from_their_auditd_conf() {
        let dir = Dir(std::env::temp_dir().join(format!("av-snapshot-{}", std::process::id())));
        fs::create_dir_all(dir.0.join("rules.d")).unwrap();
        fs::write(dir.0.join("rules.d/10-x.rules"), "-a always,exit -F arch=b64 -S uname -k x\n").unwrap();
        let log = dir.0.join("audit.log");
        fs::write(&log, "12345").unwrap();
        fs::write(dir.0.join("auditd.conf"), format!("log_file = {}\n", log.display())).unwrap();
        let inputs =
            Inputs { rules: RulesInput::Dir(dir.0.join("rules.d")), auditd_conf: dir.0.join("auditd.conf"), log: None };
        let snapshot = Snapshot::from_parts(inputs.clone(), kernel(), LoadedRules::default());
        assert_eq!(snapshot.log.as_ref().unwrap(), &LogPosition { path: log.clone(), offset: 5 });
        let diff = snapshot.rules_diff().unwrap();
        assert_eq!((diff.expected, diff.loaded), (1, 0));
        assert!(diff.findings.iter().any(|f| f.id == "not_loaded"), "{:?}", diff.findings);

        let missing = Inputs { auditd_conf: dir.0.join("nope.conf"), ..inputs };
        let snapshot = Snapshot::from_parts(missing, kernel(), LoadedRules::default());
        assert!(snapshot.auditd_conf.is_err());
        // auditd itself runs on its built-in defaults then, and lint judges those.
        assert!(snapshot.auditd_daemon_conf.as_ref().is_ok_and(|c| !c.exists()));
        assert!(matches!(snapshot.log.as_ref().map_err(|e| &**e), Err(LogError::Conf(_))), "{:?}", snapshot.log);
    }

    #[test]
    fn undecodable_loaded_rules_are_part_of_the_rules_diff() {
        let inputs =
            Inputs { rules: RulesInput::File(PathBuf::from("/nonexistent/audit.rules")), ..Default::default() };
        let loaded = LoadedRules {
            rules: Vec::new(),
            undecodable: vec![Finding::new("undecodable_rule", crate::finding::Severity::Medium, "x")],
        };
        let snapshot = Snapshot::from_parts(inputs, kernel(), loaded);
        assert!(snapshot.rules_diff().is_err(), "no rules file: no diff");
        let file = std::env::temp_dir().join(format!("av-snapshot-undecodable-{}.rules", std::process::id()));
        fs::write(&file, "-e 2\n").unwrap();
        let inputs = Inputs { rules: RulesInput::File(file.clone()), ..Default::default() };
        let snapshot = Snapshot::from_parts(inputs, kernel(), snapshot.loaded.clone());
        fs::remove_file(&file).unwrap();
        let ids: Vec<_> = snapshot.rules_diff().unwrap().findings.iter().map(|f| f.id).collect();
        assert_eq!(ids, ["undecodable_rule"]);
    }
}
