//! Everything the checks look at, gathered once: from the live host (its [`Snapshot`], plus what only
//! lint looks at: plugins, audisp-remote, processes, logs, Kubernetes), or from a configuration tree under
//! `--root` (then nothing live is read, and the live parts stay `None`).

use std::{
    fmt, fs,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::{Framework, LintError, k8s, logstats::LogStats, procs::Process};
use crate::{
    auditd_conf::AuditdConf,
    finding::Finding,
    netlink::AuditStatus,
    rules::{
        Rule,
        augenrules::{RuleSource, RulesInput},
    },
    snapshot::{Inputs, Snapshot},
};

/// Live host, or a tree linted offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Live,
    Offline { root: PathBuf },
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Live => f.write_str("live"),
            Mode::Offline { root } => write!(f, "offline: {}", root.display()),
        }
    }
}

/// One auditd plugin (`plugins.d/*.conf`, same `key = value` syntax as auditd.conf).
#[derive(Debug, Clone)]
pub struct Plugin {
    pub conf: AuditdConf,
}

impl Plugin {
    #[must_use]
    pub fn active(&self) -> bool {
        self.conf.get("active").is_some_and(|e| e.value.eq_ignore_ascii_case("yes"))
    }

    #[must_use]
    pub fn path(&self) -> &str {
        self.conf.get("path").map_or("", |e| e.value.as_str())
    }

    #[must_use]
    pub fn name(&self) -> String {
        self.conf.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// A result of `prove` for one rule: the hook through which `check` will feed rules that were exercised
/// for real. `check` fills it from `prove`; `lint` alone leaves it empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProveResult {
    /// The rule as `auditctl -l` prints it.
    pub rule: String,
    /// Where it is written (`file:line`), when known.
    pub location: Option<String>,
    pub proven: bool,
    /// What prove saw (or did not see).
    pub detail: String,
}

/// What the checks judge.
#[derive(Debug)]
pub struct Facts {
    pub mode: Mode,
    pub framework: Option<Framework>,
    pub auditd_conf: AuditdConf,
    pub plugins: Vec<Plugin>,
    /// audisp-remote.conf, when the file exists.
    pub remote_conf: Option<AuditdConf>,
    /// The rules files, through [`RulesInput`] (rules.d as augenrules reads it, else audit.rules); `None`
    /// when there are none.
    pub rules: Option<RuleSource>,
    /// Live only.
    pub kernel: Option<AuditStatus>,
    /// Live only: the loaded rules, and those that could not be decoded.
    pub loaded: Option<(Vec<Rule>, Vec<Finding>)>,
    /// Live only.
    pub processes: Option<Vec<Process>>,
    /// From the audit logs found (also under `--root`, when a tree carries them).
    pub log: Option<LogStats>,
    /// Size of the log's file system in bytes (live only; for `space_left` given in %).
    pub log_fs_bytes: Option<u64>,
    pub k8s: k8s::K8sFacts,
    /// `None`: prove has not run.
    pub prove: Option<Vec<ProveResult>>,
    /// `None`: the rules were not predicted (`lint --predict`).
    pub prediction: Option<crate::predict::PredictReport>,
    /// Files read from where, for paths named inside the configuration.
    root: Option<PathBuf>,
    /// Where the rules files were looked for: what a finding about them as a whole points at.
    rules_input: RulesInput,
}

/// What the CLI passes in.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub root: Option<PathBuf>,
    pub framework: Option<Framework>,
    pub k8s_manifest: Option<PathBuf>,
    pub k8s_policy: Option<PathBuf>,
    /// The rules files, instead of rules.d (or audit.rules) under the root.
    pub rules: Option<RulesInput>,
    /// auditd.conf, instead of the one under the root.
    pub auditd_conf: Option<PathBuf>,
}

impl Options {
    /// The live inputs these options name: the same defaults as every other command.
    #[must_use]
    pub fn inputs(&self) -> Inputs {
        let defaults = Inputs::default();
        Inputs {
            rules: self.rules.clone().unwrap_or(defaults.rules),
            auditd_conf: self.auditd_conf.clone().unwrap_or(defaults.auditd_conf),
            log: None,
        }
    }
}

pub const AUDITD_CONF: &str = "/etc/audit/auditd.conf";
pub const RULES_DIR: &str = "/etc/audit/rules.d";
pub const RULES_FILE: &str = "/etc/audit/audit.rules";
pub const REMOTE_CONF: &str = "/etc/audit/audisp-remote.conf";
pub const PLUGIN_DIR: &str = "/etc/audit/plugins.d";

impl Facts {
    /// Gathers from the host (`options.root` is `None`) or from the tree under `options.root`.
    ///
    /// # Errors
    ///
    /// As [`Facts::offline`] or [`Facts::from_snapshot`].
    pub fn gather(options: &Options) -> Result<Self, LintError> {
        match &options.root {
            Some(root) => Self::offline(root, options),
            None => Self::from_snapshot(&Snapshot::gather(options.inputs())?, options),
        }
    }

    /// The live host in `snapshot`, and what only lint reads beside it. The rules files and auditd.conf
    /// are the snapshot's (`options.rules` and `options.auditd_conf` named them when lint gathered it).
    ///
    /// # Errors
    ///
    /// When the rules files or auditd.conf exist but cannot be read or parsed, or a Kubernetes input is invalid.
    pub fn from_snapshot(snapshot: &Snapshot, options: &Options) -> Result<Self, LintError> {
        let auditd_conf = snapshot.auditd_daemon_conf.clone().map_err(LintError::Conf)?;
        let rules = match &snapshot.rules {
            Ok(source) => Some(source.clone()),
            Err(e) if e.is_absent() => None,
            Err(e) => return Err(LintError::Rules(e.clone())),
        };
        let input = snapshot.inputs.rules.clone();
        let mut facts = Self::from_conf(Mode::Live, None, auditd_conf, (input, rules), options)?;
        facts.kernel = Some(snapshot.kernel.clone());
        facts.loaded = Some((snapshot.loaded.rules.clone(), snapshot.loaded.undecodable.clone()));
        let processes = super::procs::list();
        k8s::add_running_apiserver(&mut facts.k8s, &processes, options.k8s_policy.is_some())?;
        facts.processes = Some(processes);
        facts.log_fs_bytes = facts.log.as_ref().and_then(|l| fs_size(l.files.first()?));
        Ok(facts)
    }

    /// The configuration tree under `root`, read as the host would read it; nothing live.
    ///
    /// # Errors
    ///
    /// When `root` is not a directory, or a file in it that is present cannot be read or parsed.
    pub fn offline(root: &Path, options: &Options) -> Result<Self, LintError> {
        if !root.is_dir() {
            return Err(LintError::Input { path: root.to_owned(), message: "not a directory".into() });
        }
        let under = |p: &str| resolve(Some(root), p);
        let auditd_conf = AuditdConf::load_daemon(&options.auditd_conf.clone().unwrap_or_else(|| under(AUDITD_CONF)))?;
        let input = options.rules.clone().unwrap_or_else(|| RulesInput::Dir(under(RULES_DIR)));
        let rules = match input.load() {
            Ok(source) => Some(source),
            Err(e) if e.is_absent() => None,
            Err(e) => return Err(e.into()),
        };
        let mode = Mode::Offline { root: root.to_owned() };
        Self::from_conf(mode, Some(root.to_owned()), auditd_conf, (input, rules), options)
    }

    /// The configuration files beside auditd.conf and the rules: what both modes read the same way.
    fn from_conf(
        mode: Mode,
        root: Option<PathBuf>,
        auditd_conf: AuditdConf,
        (rules_input, rules): (RulesInput, Option<RuleSource>),
        options: &Options,
    ) -> Result<Self, LintError> {
        let under = |p: &str| resolve(root.as_deref(), p);
        let plugin_dir = auditd_conf.get("plugin_dir").map_or(PLUGIN_DIR.to_owned(), |e| e.value.clone());
        let plugins = load_plugins(&under(&plugin_dir))?;
        let remote_path = under(REMOTE_CONF);
        let remote_conf = if remote_path.exists() { Some(AuditdConf::load(&remote_path)?) } else { None };
        let log_file = under(&auditd_conf.log_file().to_string_lossy());
        let log = LogStats::read(&log_file);
        let k8s = k8s::load(
            &|p| resolve(root.as_deref(), p),
            options.k8s_manifest.as_deref(),
            options.k8s_policy.as_deref(),
        )?;
        Ok(Self {
            mode,
            framework: options.framework,
            auditd_conf,
            plugins,
            remote_conf,
            rules,
            kernel: None,
            loaded: None,
            processes: None,
            log,
            log_fs_bytes: None,
            k8s,
            prove: None,
            prediction: None,
            root,
            rules_input,
        })
    }

    /// A path named in the configuration (absolute on the host), where it is for this run.
    #[must_use]
    pub fn resolve(&self, path: &str) -> PathBuf {
        resolve(self.root.as_deref(), path)
    }

    /// Where the rules files were looked for (the rules directory or file).
    #[must_use]
    pub fn rules_path(&self) -> &Path {
        self.rules_input.path()
    }

    #[must_use]
    pub fn is_live(&self) -> bool {
        self.mode == Mode::Live
    }

    /// The auditd.conf value of `key` (last one wins, as in auditd), or `default`, with its location.
    #[must_use]
    pub fn conf(&self, key: &str, default: &str) -> (String, Option<String>) {
        match self.auditd_conf.get(key) {
            Some(e) => (e.value.clone(), Some(format!("{}:{}", self.auditd_conf.path.display(), e.line))),
            None => (default.to_owned(), None),
        }
    }

    /// A location for a setting: its line, or the file with "(default)".
    #[must_use]
    pub fn conf_location(&self, key: &str) -> String {
        match self.auditd_conf.get(key) {
            Some(e) => format!("{}:{}", self.auditd_conf.path.display(), e.line),
            None => format!("{} ({key} not set: auditd's default)", self.auditd_conf.path.display()),
        }
    }
}

#[must_use]
pub fn resolve(root: Option<&Path>, path: &str) -> PathBuf {
    match root {
        Some(root) => root.join(path.trim_start_matches('/')),
        None => PathBuf::from(path),
    }
}

fn load_plugins(dir: &Path) -> Result<Vec<Plugin>, LintError> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> =
        entries.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.extension().is_some_and(|e| e == "conf")).collect();
    paths.sort();
    paths.iter().map(|p| Ok(Plugin { conf: AuditdConf::load(p)? })).collect()
}

fn fs_size(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid C string and a zeroed statvfs the call fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointers live across the call.
    if unsafe { libc::statvfs(c.as_ptr(), &raw mut st) } != 0 {
        return None;
    }
    Some(st.f_blocks * st.f_frsize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed on drop.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn offline_reads_the_rules_and_auditd_conf_it_is_given_instead_of_the_trees() {
        let scratch = Scratch(std::env::temp_dir().join(format!("av-facts-{}", std::process::id())));
        let root = scratch.0.join("root");
        fs::create_dir_all(root.join("etc/audit/rules.d")).unwrap();
        fs::write(root.join("etc/audit/auditd.conf"), "disk_full_action = HALT\n").unwrap();
        fs::write(root.join("etc/audit/rules.d/10-tree.rules"), "-w /etc/hosts -p wa\n").unwrap();
        fs::create_dir_all(scratch.0.join("given")).unwrap();
        let (conf, file) = (scratch.0.join("given/auditd.conf"), scratch.0.join("given/audit.rules"));
        fs::write(&conf, "disk_full_action = IGNORE\n").unwrap();
        fs::write(&file, "-e 2\n").unwrap();

        let tree = Facts::offline(&root, &Options::default()).unwrap();
        assert_eq!(tree.conf("disk_full_action", "").0, "HALT");
        assert_eq!(tree.rules_path(), root.join("etc/audit/rules.d"));

        let options = Options {
            auditd_conf: Some(conf.clone()),
            rules: Some(RulesInput::File(file.clone())),
            ..Default::default()
        };
        let given = Facts::offline(&root, &options).unwrap();
        assert_eq!(given.conf("disk_full_action", "").0, "IGNORE");
        assert_eq!(given.auditd_conf.path, conf);
        assert_eq!(given.rules.as_ref().map(|r| r.files.clone()), Some(vec![file.clone()]));
        assert_eq!(given.rules_path(), file);
    }
}
