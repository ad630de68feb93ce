//! Everything the checks look at, gathered once: from the live host, or from a configuration tree under
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
    netlink::{AuditSocket, AuditStatus},
    rules::{
        self, Rule,
        augenrules::{self, RuleSource, SourceError},
    },
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
    pub fn active(&self) -> bool {
        self.conf.get("active").is_some_and(|e| e.value.eq_ignore_ascii_case("yes"))
    }

    pub fn path(&self) -> &str {
        self.conf.get("path").map_or("", |e| e.value.as_str())
    }

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
    /// The rules files (rules.d as augenrules reads it, else audit.rules); `None` when there are none.
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
    /// Files read from where, for paths named inside the configuration.
    root: Option<PathBuf>,
}

/// What the CLI passes in.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub root: Option<PathBuf>,
    pub framework: Option<Framework>,
    pub k8s_manifest: Option<PathBuf>,
    pub k8s_policy: Option<PathBuf>,
}

pub const AUDITD_CONF: &str = "/etc/audit/auditd.conf";
pub const RULES_DIR: &str = "/etc/audit/rules.d";
pub const RULES_FILE: &str = "/etc/audit/audit.rules";
pub const REMOTE_CONF: &str = "/etc/audit/audisp-remote.conf";
pub const PLUGIN_DIR: &str = "/etc/audit/plugins.d";

impl Facts {
    /// Gathers from the host (`options.root` is `None`) or from the tree under `options.root`.
    pub fn gather(options: &Options) -> Result<Self, LintError> {
        let mode = match &options.root {
            Some(root) => Mode::Offline { root: root.clone() },
            None => Mode::Live,
        };
        let mut facts = Self::from_files(mode, options)?;
        if facts.mode == Mode::Live {
            let mut socket = AuditSocket::open()?;
            facts.kernel = Some(socket.status()?);
            facts.loaded = Some(rules::loaded(&mut socket)?);
            facts.processes = Some(super::procs::list());
            facts.log_fs_bytes = facts.log.as_ref().and_then(|l| fs_size(l.files.first()?));
            k8s::add_running_apiserver(&mut facts, options)?;
        }
        Ok(facts)
    }

    /// The configuration files only: what `--root` sees, and the base of a live gathering.
    pub fn from_files(mode: Mode, options: &Options) -> Result<Self, LintError> {
        let root = match &mode {
            Mode::Live => None,
            Mode::Offline { root } => {
                if !root.is_dir() {
                    return Err(LintError::Input { path: root.clone(), message: "not a directory".into() });
                }
                Some(root.clone())
            }
        };
        let under = |p: &str| resolve(root.as_deref(), p);
        let auditd_conf = AuditdConf::load_daemon(&under(AUDITD_CONF))?;
        let plugin_dir = auditd_conf.get("plugin_dir").map_or(PLUGIN_DIR.to_owned(), |e| e.value.clone());
        let plugins = load_plugins(&under(&plugin_dir))?;
        let remote_path = under(REMOTE_CONF);
        let remote_conf = if remote_path.exists() { Some(AuditdConf::load(&remote_path)?) } else { None };
        let rules = load_rules(&under(RULES_DIR), &under(RULES_FILE))?;
        let log_file = under(&auditd_conf.log_file().to_string_lossy());
        let log = LogStats::read(&log_file);
        let mut facts = Self {
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
            k8s: k8s::K8sFacts::default(),
            prove: None,
            root,
        };
        k8s::load(&mut facts, options)?;
        Ok(facts)
    }

    /// A path named in the configuration (absolute on the host), where it is for this run.
    pub fn resolve(&self, path: &str) -> PathBuf {
        resolve(self.root.as_deref(), path)
    }

    pub fn is_live(&self) -> bool {
        self.mode == Mode::Live
    }

    /// The auditd.conf value of `key` (last one wins, as in auditd), or `default`, with its location.
    pub fn conf(&self, key: &str, default: &str) -> (String, Option<String>) {
        match self.auditd_conf.get(key) {
            Some(e) => (e.value.clone(), Some(format!("{}:{}", self.auditd_conf.path.display(), e.line))),
            None => (default.to_owned(), None),
        }
    }

    /// A location for a setting: its line, or the file with "(default)".
    pub fn conf_location(&self, key: &str) -> String {
        match self.auditd_conf.get(key) {
            Some(e) => format!("{}:{}", self.auditd_conf.path.display(), e.line),
            None => format!("{} ({key} not set: auditd's default)", self.auditd_conf.path.display()),
        }
    }
}

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

/// rules.d as augenrules reads it; without rules.d (or with no *.rules in it), audit.rules as auditctl -R
/// reads it; neither: `None`.
fn load_rules(dir: &Path, file: &Path) -> Result<Option<RuleSource>, LintError> {
    match augenrules::from_dir(dir) {
        Ok(source) => return Ok(Some(source)),
        Err(SourceError::Empty(_)) => {}
        Err(SourceError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    if file.exists() { Ok(Some(augenrules::from_file(file)?)) } else { Ok(None) }
}

fn fs_size(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a valid C string and a zeroed statvfs the call fills.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointers live across the call.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_blocks * st.f_frsize)
}
