//! Whether auditd accepts an auditd.conf, decided as its `load_config()` and `sanity_check()` decide
//! (src/auditd-config.c, audit 3.0.x). auditd exits when either fails, so a refused file means no
//! auditd at all: the kernel's backlog fills and records go to the kernel log or are lost.
//!
//! What auditd does, and this module with it (checked against auditd 3.0.9 itself by
//! `tests/lint_auditd.rs)`:
//! - lines are read with a 160-byte buffer: a longer line (and a last line with no newline, which
//!   `fgets` returns without one) is skipped with "too long", not fatal;
//! - tokens are split on spaces only (a tab or a CR is part of a token): `key = value [option]`;
//!   `key=value`, a missing value and a second token that is not `=` stop the parse;
//! - a token starting with `#` at the start of a line is a comment; anywhere else it is an option;
//! - an unknown keyword, an option on a keyword that takes none, and a value its parser rejects stop it;
//! - after the last line, unless the file is empty: `space_left` must be above `admin_space_left` (both
//!   in MB; a percentage on either side is not compared), and `flush = incremental[_async]` needs
//!   `freq` above 0. Both default to 0, so a file that sets neither space is refused.
//!
//! Checks that depend on the host (the log directory, the log group, an `exec` program) are made only
//! when the file is judged on the host it configures ([`Host::Live`]); otherwise they are listed in
//! [`Outcome::unchecked`].

use std::{ffi::CString, fs, os::unix::fs::MetadataExt as _, path::Path};

/// Where the host-dependent checks can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The file configures this host: paths and groups are looked up here.
    Live,
    /// A tree from elsewhere: host-dependent checks are not made.
    Offline,
}

/// Why auditd exits on this file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The line auditd names; `None` for the checks made after the last line.
    pub line: Option<usize>,
    /// auditd's own message.
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub refusal: Option<Refusal>,
    /// Lines auditd skips or warns about without refusing: (line, message).
    pub warnings: Vec<(usize, String)>,
    /// Host-dependent checks not made offline: (line, what).
    pub unchecked: Vec<(usize, String)>,
}

/// auditd's line buffer (`char buf[160]` in `load_config`).
const LINE_BUFFER: usize = 160;
const INT_MAX: u64 = i32::MAX as u64;

/// How each keyword's value is checked.
#[derive(Debug, Clone, Copy)]
enum Value {
    YesNo,
    Words(&'static [&'static str]),
    /// Digits only, at most this.
    Number {
        max: u64,
        too_large: &'static str,
    },
    /// Digits, at least `min`, at most `max` ("converted number (%s) is too small/large").
    Range {
        min: u64,
        max: u64,
    },
    /// Digits or a percentage below 100.
    Space,
    /// `failure_actions`, with those this keyword refuses; `exec` needs an absolute program path.
    Action {
        refused: &'static [&'static str],
    },
    LogFile,
    LogGroup,
    Email,
    /// `N` or `N-M`, ports.
    Ports,
    Any,
    /// Accepted with a warning.
    Deprecated,
}

const FAILURE_ACTIONS: &[&str] = &["ignore", "syslog", "rotate", "email", "exec", "suspend", "single", "halt"];
const TOO_LARGE: &str = "Error - converted number ({v}) is too large - line {l}";

/// auditd 3.0.9's keywords (the `keywords[]` table), whether each takes an option, and its value.
const KEYWORDS: &[(&str, bool, Value)] = &[
    ("local_events", false, Value::YesNo),
    ("write_logs", false, Value::YesNo),
    ("log_file", false, Value::LogFile),
    ("log_format", false, Value::Words(&["raw", "nolog", "enriched"])),
    ("log_group", false, Value::LogGroup),
    ("flush", false, Value::Words(&["none", "incremental", "incremental_async", "data", "sync"])),
    ("freq", false, Value::Number { max: INT_MAX, too_large: TOO_LARGE }),
    ("num_logs", false, Value::Number { max: 999, too_large: "num_logs must be 999 or less" }),
    ("dispatcher", false, Value::Deprecated),
    ("name_format", false, Value::Words(&["none", "hostname", "fqd", "numeric", "user"])),
    ("name", false, Value::Any),
    ("disp_qos", false, Value::Deprecated),
    ("max_log_file", false, Value::Number { max: u64::MAX, too_large: TOO_LARGE }),
    ("max_log_file_action", false, Value::Words(&["ignore", "syslog", "suspend", "rotate", "keep_logs"])),
    ("space_left", false, Value::Space),
    ("space_left_action", true, Value::Action { refused: &[] }),
    ("action_mail_acct", false, Value::Email),
    ("verify_email", false, Value::YesNo),
    ("admin_space_left", false, Value::Space),
    ("admin_space_left_action", true, Value::Action { refused: &[] }),
    ("disk_full_action", true, Value::Action { refused: &["email"] }),
    ("disk_error_action", true, Value::Action { refused: &["email", "rotate"] }),
    ("priority_boost", false, Value::Number { max: INT_MAX, too_large: TOO_LARGE }),
    ("tcp_listen_port", false, Value::Range { min: 1, max: 65535 }),
    ("tcp_listen_queue", false, Value::Range { min: 1, max: INT_MAX }),
    ("tcp_max_per_addr", false, Value::Range { min: 1, max: 1024 }),
    ("use_libwrap", false, Value::YesNo),
    ("tcp_client_ports", false, Value::Ports),
    ("tcp_client_max_idle", false, Value::Number { max: INT_MAX, too_large: TOO_LARGE }),
    ("transport", false, Value::Words(&["tcp", "krb5"])),
    ("enable_krb5", false, Value::YesNo),
    ("krb5_principal", false, Value::Any),
    ("krb5_key_file", false, Value::Any),
    ("distribute_network", false, Value::YesNo),
    ("q_depth", false, Value::Number { max: 99999, too_large: "q_depth must be 99999 or less" }),
    ("overflow_action", false, Value::Words(&["ignore", "syslog", "suspend", "single", "halt"])),
    ("max_restarts", false, Value::Number { max: INT_MAX, too_large: TOO_LARGE }),
    ("plugin_dir", false, Value::Any),
    ("end_of_event_timeout", false, Value::Number { max: INT_MAX, too_large: TOO_LARGE }),
];

/// What the parse keeps for the checks after the last line.
#[derive(Debug, Default)]
struct Parsed {
    /// MB, `None` when given as a percentage.
    space_left: Option<u64>,
    admin_space_left: Option<u64>,
    incremental: bool,
    freq: u64,
    verify_email: bool,
}

/// Judges `text` (the file's bytes) as auditd would load it.
#[must_use]
pub fn check(text: &[u8], host: Host) -> Outcome {
    let mut out = Outcome::default();
    let mut parsed =
        Parsed { space_left: Some(0), admin_space_left: Some(0), verify_email: true, ..Default::default() };
    let (lines, tail) = physical_lines(text);
    for (lineno, bytes) in lines.iter().enumerate().map(|(i, l)| (i + 1, l)) {
        let Some(bytes) = bytes else {
            out.warnings.push((lineno, format!("Skipping line {lineno}: too long")));
            continue;
        };
        let line = String::from_utf8_lossy(bytes);
        if let Err(message) = one_line(&line, lineno, host, &mut parsed, &mut out) {
            out.refusal = Some(Refusal { line: Some(lineno), message });
            return out;
        }
    }
    if tail {
        let lineno = lines.len() + 1;
        out.warnings.push((lineno, format!("Skipping line {lineno}: no newline at the end of the file")));
    }
    // load_config runs sanity_check only when its line counter moved: at least one full line.
    if !lines.is_empty() {
        out.refusal = sanity(&parsed).map(|message| Refusal { line: None, message });
    }
    out
}

/// The newline-terminated lines as `fgets` into auditd's buffer sees them (`None` for one it skips as
/// too long), and whether an unterminated last line follows: `fgets` returns it without a newline, so
/// auditd takes it for the start of a long line and skips it (and does not count it).
fn physical_lines(text: &[u8]) -> (Vec<Option<&[u8]>>, bool) {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        // The newline must fit in the buffer with the terminating NUL.
        lines.push((i + 1 < LINE_BUFFER).then_some(&rest[..i]));
        rest = &rest[i + 1..];
    }
    (lines, !rest.is_empty())
}

#[expect(clippy::too_many_lines, reason = "one match over auditd's keywords, in the order of its parser")]
fn one_line(line: &str, lineno: usize, host: Host, parsed: &mut Parsed, out: &mut Outcome) -> Result<(), String> {
    let tokens: Vec<&str> = line.split(' ').filter(|t| !t.is_empty()).collect();
    let Some(&name) = tokens.first() else { return Ok(()) };
    if name.starts_with('#') {
        return Ok(());
    }
    let stop = |why: &str| Err(format!("{why} for line {lineno}: auditd stops reading the file here"));
    match tokens.get(1) {
        None => return stop("Wrong number of arguments"),
        Some(&"=") => {}
        Some(_) => return stop("Missing equal sign"),
    }
    let Some(&value) = tokens.get(2) else { return stop("Wrong number of arguments") };
    let option = tokens.get(3).copied();
    if tokens.len() > 4 {
        out.warnings.push((lineno, format!("Wrong number of arguments for line {lineno}")));
    }
    let Some((keyword, takes_option, kind)) = KEYWORDS.iter().find(|(k, ..)| k.eq_ignore_ascii_case(name)) else {
        return Err(format!("Unknown keyword \"{name}\" in line {lineno}"));
    };
    if let (false, Some(option)) = (takes_option, option) {
        return Err(format!("Keyword \"{name}\" has invalid option \"{option}\" in line {lineno}"));
    }
    let not_found = || Err(format!("Option {value} not found - line {lineno}"));
    let lower = value.to_ascii_lowercase();
    match *kind {
        Value::YesNo => {
            if !matches!(lower.as_str(), "yes" | "no") {
                return not_found();
            }
            if *keyword == "verify_email" {
                parsed.verify_email = lower == "yes";
            }
        }
        Value::Words(words) => {
            if !words.contains(&lower.as_str()) {
                return not_found();
            }
            if *keyword == "flush" {
                parsed.incremental = lower.starts_with("incremental");
            }
        }
        Value::Number { max, too_large } => {
            let n = digits(value, lineno)?;
            if n > max {
                return Err(too_large.replace("{v}", value).replace("{l}", &lineno.to_string()));
            }
            if *keyword == "freq" {
                parsed.freq = n;
            }
        }
        Value::Range { min, max } => {
            let n = digits(value, lineno)?;
            if n > max {
                return Err(TOO_LARGE.replace("{v}", value).replace("{l}", &lineno.to_string()));
            }
            if n < min {
                return Err(format!("Error - converted number ({value}) is too small - line {lineno}"));
            }
        }
        Value::Space => {
            let mb = match value.strip_suffix('%') {
                Some(pct) => {
                    if digits(pct, lineno).map_err(|_| space_error(value, lineno))? >= 100 {
                        return Err(format!("Percentages should be less than 100 - line {lineno}"));
                    }
                    None
                }
                None => Some(digits(value, lineno).map_err(|_| space_error(value, lineno))?),
            };
            if *keyword == "space_left" {
                parsed.space_left = mb;
            } else {
                parsed.admin_space_left = mb;
            }
        }
        Value::Action { refused } => {
            if !FAILURE_ACTIONS.contains(&lower.as_str()) {
                return not_found();
            }
            if refused.contains(&lower.as_str()) {
                return Err(format!("Illegal option {value} for {keyword} - line {lineno}"));
            }
            if lower == "exec" {
                let Some(program) = option else {
                    return Err(format!("Executable path needed for line {lineno}"));
                };
                if !program.starts_with('/') {
                    return Err(format!("Absolute path needed for {program} - line {lineno}"));
                }
                match host {
                    Host::Live => check_exe(program, lineno)?,
                    Host::Offline => out.unchecked.push((lineno, format!("{program} is a root-owned 0750/0755 file"))),
                }
            }
        }
        Value::LogFile => log_file(value, lineno, host, out)?,
        Value::LogGroup => {
            if !value.starts_with(|c: char| c.is_ascii_digit()) {
                match host {
                    Host::Live if !group_exists(value) => {
                        return Err(format!("Group ID is non-numeric and unknown ({value}) - line {lineno}"));
                    }
                    Host::Live => {}
                    Host::Offline => out.unchecked.push((lineno, format!("group {value} exists"))),
                }
            }
        }
        Value::Email => {
            if parsed.verify_email {
                email(value)?;
            }
        }
        Value::Ports => {
            let (low, high) = value.split_once('-').unwrap_or((value, value));
            for port in [low, high] {
                if digits(port, lineno)? > 65535 {
                    return Err(TOO_LARGE.replace("{v}", port).replace("{l}", &lineno.to_string()));
                }
            }
        }
        Value::Any => {}
        Value::Deprecated => out.warnings.push((lineno, format!("The {keyword} option is deprecated - line {lineno}"))),
    }
    Ok(())
}

fn digits(value: &str, lineno: usize) -> Result<u64, String> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("Value {value} should only be numbers - line {lineno}"));
    }
    value.parse().map_err(|_| format!("Error converting string to a number (out of range) - line {lineno}"))
}

fn space_error(value: &str, lineno: usize) -> String {
    format!("Value {value} should only be numbers or percent - line {lineno}")
}

/// `log_file_parser`: the directory name is at least 4 characters (`/var`), exists, and an existing log
/// is a root-owned regular file.
fn log_file(value: &str, lineno: usize, host: Host, out: &mut Outcome) -> Result<(), String> {
    let dir = Path::new(value).parent().map_or_else(|| ".".to_owned(), |d| d.display().to_string());
    let dir = if dir.is_empty() { ".".to_owned() } else { dir };
    if dir.len() < 4 {
        return Err(format!("The directory name: {dir} is too short - line {lineno}"));
    }
    if host == Host::Offline {
        out.unchecked.push((lineno, format!("directory {dir} exists and {value}, if present, is root's")));
        return Ok(());
    }
    if !Path::new(&dir).is_dir() {
        return Err(format!("Could not open dir {dir} - line {lineno}"));
    }
    match fs::metadata(value) {
        Ok(m) if !m.is_file() => Err(format!("{value} is not a regular file")),
        Ok(m) if m.uid() != 0 => Err(format!("{value} is not owned by root")),
        // A root-owned file, or none yet: auditd creates it.
        _ => Ok(()),
    }
}

/// `check_exe_name`: a root-owned regular file with mode 0750 or 0755.
fn check_exe(program: &str, lineno: usize) -> Result<(), String> {
    let m = fs::metadata(program).map_err(|e| format!("Unable to stat {program} ({e}) - line {lineno}"))?;
    if !m.is_file() {
        return Err(format!("{program} is not a regular file - line {lineno}"));
    }
    if m.uid() != 0 {
        return Err(format!("{program} is not owned by root - line {lineno}"));
    }
    if !matches!(m.mode() & 0o777, 0o750 | 0o755) {
        return Err(format!("{program} permissions should be 0750 or 0755 - line {lineno}"));
    }
    Ok(())
}

fn group_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else { return false };
    // SAFETY: a valid C string; the result is only compared with NULL, never dereferenced.
    !unsafe { libc::getgrnam(c.as_ptr()) }.is_null()
}

/// `validate_email`'s permanent failures (a host that does not resolve is a temporary one: accepted).
fn email(acct: &str) -> Result<(), String> {
    if acct.len() < 2 {
        return Err(format!("email: {acct} is too short, expecting at least 2 characters"));
    }
    if !acct.chars().all(|c| c.is_ascii_alphanumeric() || "@.-_".contains(c)) {
        return Err(format!("email: {acct} has illegal character"));
    }
    if let Some(at) = acct.find('@')
        && acct.rfind('.').is_none_or(|dot| dot < at)
    {
        return Err(format!("email: {acct} should have . after @"));
    }
    Ok(())
}

fn sanity(p: &Parsed) -> Option<String> {
    if let (Some(space), Some(admin)) = (p.space_left, p.admin_space_left)
        && space <= admin
    {
        return Some(format!("Error - space_left({space}) must be larger than admin_space_left({admin})"));
    }
    if p.incremental && p.freq == 0 {
        return Some("Error - incremental flushing chosen, but 0 selected for freq".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> Option<Refusal> {
        check(text.as_bytes(), Host::Offline).refusal
    }

    const BASE: &str = "space_left = 75\nadmin_space_left = 50\n";

    #[test]
    fn an_empty_file_starts_on_defaults_but_one_comment_line_is_refused() {
        assert_eq!(refusal(""), None);
        let r = refusal("# nothing\n").unwrap();
        assert_eq!(
            (r.line, r.message.as_str()),
            (None, "Error - space_left(0) must be larger than admin_space_left(0)")
        );
    }

    #[test]
    fn tokens_are_split_on_spaces_only() {
        assert_eq!(refusal(BASE), None);
        assert_eq!(refusal(&format!("{BASE}freq=5\n")).unwrap().line, Some(3));
        assert_eq!(refusal(&format!("{BASE}freq\t=\t5\n")).unwrap().line, Some(3));
        assert!(refusal(&format!("{BASE}freq = 5\r\n")).unwrap().message.contains("only be numbers"));
        assert!(refusal(&format!("{BASE}log_file /x\n")).unwrap().message.starts_with("Missing equal sign"));
    }

    #[test]
    fn keywords_options_and_values() {
        assert!(refusal(&format!("{BASE}bogus = 1\n")).unwrap().message.starts_with("Unknown keyword \"bogus\""));
        assert_eq!(refusal(&format!("{BASE}DISK_FULL_ACTION = HALT now\n")), None);
        assert!(refusal(&format!("{BASE}max_log_file = 8 # MB\n")).unwrap().message.contains("invalid option \"#\""));
        assert!(refusal(&format!("{BASE}disk_full_action = email\n")).unwrap().message.starts_with("Illegal option"));
        assert!(refusal(&format!("{BASE}disk_error_action = rotate\n")).is_some());
        assert!(refusal(&format!("{BASE}disk_full_action = exec\n")).unwrap().message.starts_with("Executable path"));
        assert!(refusal(&format!("{BASE}num_logs = 1000\n")).is_some());
        assert!(refusal(&format!("{BASE}q_depth = 100000\n")).is_some());
        assert!(refusal(&format!("{BASE}transport = tls\n")).is_some());
        assert!(refusal(&format!("{BASE}tcp_max_per_addr = 2000\n")).is_some());
        assert_eq!(refusal(&format!("{BASE}dispatcher = /sbin/audispd\n")), None);
    }

    #[test]
    fn after_the_last_line() {
        let r = refusal(&format!("{BASE}flush = incremental_async\n")).unwrap();
        assert_eq!(r.message, "Error - incremental flushing chosen, but 0 selected for freq");
        assert!(refusal("space_left = 50\nadmin_space_left = 75\n").is_some());
        assert_eq!(refusal("space_left = 10%\nadmin_space_left = 25%\n"), None);
        assert!(refusal("space_left = 100%\nadmin_space_left = 5%\n").unwrap().message.starts_with("Percentages"));
    }

    #[test]
    fn long_lines_and_a_last_line_without_newline_are_skipped() {
        let long = format!("name = {}\n", "a".repeat(200));
        let out = check(format!("{BASE}{long}").as_bytes(), Host::Offline);
        assert_eq!((out.refusal, out.warnings.len()), (None, 1));
        // admin_space_left is lost: 75 is compared with 0 and passes; the other way round fails.
        assert_eq!(refusal("space_left = 75\nadmin_space_left = 50"), None);
        assert!(refusal("admin_space_left = 50\nspace_left = 75").is_some());
    }

    #[test]
    fn host_checks_are_listed_offline() {
        let out = check(format!("{BASE}log_group = nosuchgroup\n").as_bytes(), Host::Offline);
        assert_eq!((out.refusal, out.unchecked.len()), (None, 1));
        let out = check(format!("{BASE}log_group = nosuchgroup-xyz\n").as_bytes(), Host::Live);
        assert!(out.refusal.unwrap().message.starts_with("Group ID is non-numeric and unknown"));
    }
}
