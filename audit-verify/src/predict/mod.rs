//! `predict`: what a candidate rule set would cost, measured on the live workload without loading it.
//! The candidate rules go, in their own order, into `measure`'s in-kernel matcher (first match wins, as
//! `audit_filter_syscall` decides), which also finds the file a syscall touched where an exit tracepoint
//! can see it and sums what each rule's events would take to record. The loaded rules are not touched:
//! they are read before and after the window, and the report says whether they changed.

mod candidate;
mod classes;
mod inodes;
pub mod report;
pub mod sizing;
pub mod write_rate;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use audit_verify_common::measure::PredictOffsets;

pub use candidate::PATH_LIMIT;
pub use report::PredictReport;

use crate::{
    auditd_conf::AuditdConf,
    btf::{Btf, KernelBtf},
    measure::{
        SyscallCounting,
        sensors::{KernelSensors, PredictSetup},
    },
    netlink::AuditSocket,
    rules::{self, Location, Rule},
};

/// What to predict and how.
#[derive(Debug, Clone)]
pub struct Config {
    pub duration: Duration,
    pub auditd_conf: PathBuf,
    /// Measure auditd's write rate after the window, with a one-second burst of user messages sent by
    /// this binary's hidden `emit-load` (the audit-verify executable); `None`: not measured.
    pub write_rate_with: Option<PathBuf>,
}

/// A candidate rule and the file line it came from.
#[derive(Debug, Clone)]
pub struct CandidateRule {
    pub rule: Rule,
    pub location: Option<Location>,
}

/// The candidate rules of a rules source, in load order (`-D` and settings lines are not rules).
#[must_use]
pub fn candidates(source: &rules::augenrules::RuleSource) -> Vec<CandidateRule> {
    source
        .lines
        .iter()
        .filter_map(|l| match &l.command {
            rules::parse::Command::Add { rule, .. } => {
                Some(CandidateRule { rule: rule.clone(), location: Some(l.location.clone()) })
            }
            _ => None,
        })
        .collect()
}

/// The struct offsets the matcher reads objects and command lines with.
fn offsets(btf: &Btf) -> anyhow::Result<PredictOffsets> {
    let m = |s: &str, f: &str| btf.member_offset(s, f).with_context(|| format!("kernel BTF: {s}.{f}"));
    Ok(PredictOffsets {
        enabled: 1,
        task_files: m("task_struct", "files")?,
        files_fdt: m("files_struct", "fdt")?,
        fdt_fd: m("fdtable", "fd")?,
        fdt_max_fds: m("fdtable", "max_fds")?,
        file_dentry: m("file", "f_path")? + m("path", "dentry")?,
        dentry_parent: m("dentry", "d_parent")?,
        dentry_inode: m("dentry", "d_inode")?,
        // `len` is the high half of `hash_len` on a little-endian machine.
        dentry_name_len: m("dentry", "d_name")? + m("qstr", "hash_len")? + 4,
        inode_ino: m("inode", "i_ino")?,
        inode_sb: m("inode", "i_sb")?,
        sb_dev: m("super_block", "s_dev")?,
        task_mm: m("task_struct", "mm")?,
        mm_exe_file: m("mm_struct", "exe_file")?,
        mm_arg_start: m("mm_struct", "arg_start")?,
        mm_arg_end: m("mm_struct", "arg_end")?,
    })
}

/// One prediction window, started: the matcher is attached with the candidate rules.
pub struct Window {
    started: Instant,
    candidate: candidate::Candidate,
    locations: Vec<Option<Location>>,
    sensors: KernelSensors,
    loaded_before: Vec<Rule>,
    conf: Option<AuditdConf>,
}

impl Window {
    /// Attaches the matcher with `rules`, in their order. Needs root.
    ///
    /// # Errors
    ///
    /// When the loaded rules cannot be read, there is no kernel BTF, or the matcher does not load.
    pub fn start(rules: &[CandidateRule], auditd_conf: &std::path::Path) -> anyhow::Result<Self> {
        let (loaded_before, _) = rules::loaded(&mut AuditSocket::open()?).context("reading the loaded rules")?;
        let btf = KernelBtf::from_sys_fs().context("kernel BTF, for task and file offsets")?;
        let plain: Vec<Rule> = rules.iter().map(|c| c.rule.clone()).collect();
        let candidate = candidate::translate(&plain);
        let exit_locations: Vec<Option<Location>> =
            rules.iter().filter(|c| c.rule.list == rules::FilterList::Exit).map(|c| c.location.clone()).collect();
        let setup = PredictSetup {
            offsets: offsets(&btf.offsets)?,
            inodes: candidate.inodes.clone(),
            names_per_syscall: classes::names_per_syscall(),
        };
        let sensors =
            KernelSensors::attach_with(&candidate.rules, SyscallCounting::Selected, false, &btf.offsets, Some(&setup))
                .context("attaching the rule matcher")?;
        Ok(Self {
            started: Instant::now(),
            candidate,
            locations: exit_locations,
            sensors,
            loaded_before,
            conf: AuditdConf::load(auditd_conf).ok(),
        })
    }

    /// Stops the matcher and sizes what it counted.
    ///
    /// # Errors
    ///
    /// When the counters cannot be read back, or the loaded rules cannot be read again.
    pub fn finish(self, config: &Config) -> anyhow::Result<PredictReport> {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let hits = self.sensors.rule_hits()?.unwrap_or_default();
        let costs = self.sensors.rule_costs()?;
        let hook = self.sensors.hook.clone();
        drop(self.sensors);
        let (loaded_after, _) = rules::loaded(&mut AuditSocket::open()?).context("reading the loaded rules")?;
        let status = AuditSocket::open()?.status().context("reading the kernel's audit status")?;
        let write_rate = match &config.write_rate_with {
            Some(exe) => write_rate::measure(exe, &config.auditd_conf),
            None => write_rate::WriteRate::skipped("--no-write-rate"),
        };
        Ok(report::build(&report::Inputs {
            seconds,
            candidate: &self.candidate,
            locations: &self.locations,
            hits: &hits,
            costs: &costs,
            hook,
            conf: self.conf.as_ref(),
            backlog_limit: status.backlog_limit,
            write_rate,
            loaded_unchanged: loaded_after == self.loaded_before,
        }))
    }
}

/// Predicts `rules` over `config.duration` of the live workload (a stop request ends the window early).
///
/// # Errors
///
/// As [`Window::start`] and [`Window::finish`].
pub fn run(rules: &[CandidateRule], config: &Config) -> anyhow::Result<PredictReport> {
    let window = Window::start(rules, &config.auditd_conf)?;
    crate::stop::sleep(config.duration);
    window.finish(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every struct member the matcher reads is in this kernel's BTF, at distinct offsets.
    #[test]
    fn the_object_offsets_resolve_on_this_kernel() {
        let Ok(kernel) = KernelBtf::from_sys_fs() else {
            eprintln!("skipped: no /sys/kernel/btf/vmlinux on this kernel");
            return;
        };
        let o = offsets(&kernel.offsets).unwrap();
        assert_eq!(o.enabled, 1);
        assert_eq!(o.mm_arg_end, o.mm_arg_start + 8);
        assert_ne!(o.task_files, o.task_mm);
        assert_ne!(o.dentry_parent, o.dentry_inode);
        assert!(o.dentry_name_len > 4, "inside d_name, past the hash");
    }
}
