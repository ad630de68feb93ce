//! Rules-file lines, parsed as `auditctl` parses them (one line = one auditctl invocation).

use std::{path::Path, sync::Arc};

use serde::Serialize;

use super::{
    Action, Field, FilterList, Location, Op, Rule, Value,
    fields::{self, id},
};
use crate::syscalls::{self, Abi};

/// What one line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-D` (optionally only rules with a key: `-D -k key`).
    DeleteAll { key: Option<String> },
    /// `-a` / `-A` / `-w`: `prepend` for `-A`.
    Add { rule: Rule, prepend: bool },
    /// `-d` / `-W`.
    Delete { rule: Rule },
    /// `-b`, `-f`, `-r`, `-e`, `--backlog_wait_time`, `--loginuid-immutable`.
    Set { setting: &'static str, value: u32 },
    /// `-i`: ignore errors on later lines.
    IgnoreErrors,
    /// `-c`: continue past errors.
    ContinueOnError,
}

/// A syntax or vocabulary error, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParseError {
    pub location: Location,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A parsed line and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub location: Location,
    /// As written (augenrules moves lines by their text).
    pub text: String,
    pub command: Command,
}

/// Parses every line of a rules file as `auditctl -R` reads it: lines end at `\n` only (a CRLF file's
/// `\r` stays in the last word, as it does for auditctl), a line of spaces is blank, and a line whose first
/// word starts with `#` is a comment. Errors are collected.
#[must_use]
pub fn parse_file(path: &Path, text: &str) -> (Vec<Line>, Vec<ParseError>) {
    let file = Arc::new(path.to_owned());
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let location = Location { file: file.clone(), line: i + 1 };
        let trimmed = raw.trim_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_line(trimmed) {
            Ok(command) => lines.push(Line { location, text: raw.to_owned(), command }),
            Err(message) if raw.ends_with('\r') => errors.push(ParseError {
                location,
                message: format!(
                    "{message} (the line ends in a carriage return: a CRLF file, which auditctl reads as is)"
                ),
            }),
            Err(message) => errors.push(ParseError { location, message }),
        }
    }
    (lines, errors)
}

/// The words of a line as auditctl splits them: at spaces only (a tab is part of a word), with `\ ` a
/// space inside a word and `\\` a backslash.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some(' ' | '\\')) => word.push(chars.next().unwrap_or(' ')),
            ' ' => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Parses one non-comment line.
///
/// # Errors
///
/// When auditctl would refuse the line; the message is auditctl's reason.
pub fn parse_line(line: &str) -> Result<Command, String> {
    let words = words(line);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut builder = RuleBuilder::default();
    let mut command = None;
    let set = |setting, value: &str| -> Result<Command, String> {
        Ok(Command::Set { setting, value: fields::number(value).map_err(|e| format!("{setting}: {e}"))? })
    };
    for Opt { option, value } in options(&words) {
        let option = option.as_str();
        let mut args = OptValue { option, value };
        match option {
            "-D" => command = Some(Command::DeleteAll { key: None }),
            "-b" => command = Some(set("backlog_limit", args.get()?)?),
            "-f" => {
                let v = args.get()?;
                if !matches!(v, "0" | "1" | "2") {
                    return Err(format!("-f takes 0, 1 or 2, not `{v}`"));
                }
                command = Some(set("failure", v)?);
            }
            "-r" => command = Some(set("rate_limit", args.get()?)?),
            "-e" => {
                let v = args.get()?;
                if !matches!(v, "0" | "1" | "2") {
                    return Err(format!("-e takes 0, 1 or 2, not `{v}`"));
                }
                command = Some(set("enabled", v)?);
            }
            "--backlog_wait_time" => command = Some(set("backlog_wait_time", args.get()?)?),
            "--loginuid-immutable" => command = Some(Command::Set { setting: "loginuid_immutable", value: 1 }),
            "-i" => command = Some(Command::IgnoreErrors),
            "-c" => command = Some(Command::ContinueOnError),
            "-a" | "-A" | "-d" => {
                let (list, action) = list_action(args.get()?)?;
                builder.start(option, Rule::new(list, action))?;
            }
            "-w" | "-W" => {
                let path = args.get()?;
                builder.start(option, watch(path)?)?;
            }
            "-p" => builder.perm(args.get()?)?,
            "-S" => builder.syscalls(args.get()?)?,
            "-F" => builder.field(args.get()?)?,
            "-C" => builder.compare(args.get()?)?,
            "-k" => builder.key(args.get()?)?,
            "-l" | "-s" | "-m" | "-v" | "-h" | "-t" | "-q" | "--reset-lost" | "--signal" => {
                return Err(format!("`{option}` is not a rule or setting; it does not belong in a rules file"));
            }
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    match (command, builder.finish()?) {
        (Some(Command::DeleteAll { .. }), Some((_, rule))) if rule.fields.len() == 1 && rule.key().is_some() => {
            Ok(Command::DeleteAll { key: rule.key().map(str::to_owned) })
        }
        (Some(c), None) => Ok(c),
        (None, Some((op, rule))) => Ok(match op {
            "-a" | "-w" => Command::Add { rule, prepend: false },
            "-A" => Command::Add { rule, prepend: true },
            _ => Command::Delete { rule },
        }),
        (Some(_), Some(_)) => Err("a line holds either a rule or a setting, not both".into()),
        (None, None) => Err("no rule or setting on this line".into()),
    }
}

/// One option as auditctl's `getopt_long` sees it, with its argument if it takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt<'a> {
    /// `-e`, `--backlog_wait_time`: long options by their full name, even when abbreviated.
    pub option: String,
    pub value: Option<&'a str>,
}

/// auditctl's short options that take an argument (its optstring, `"…C:e:f:r:b:a:A:d:S:F:m:R:w:W:k:p:q:"`).
const SHORT_WITH_VALUE: &str = "CefrbaAdSFmRwWkpq";
/// auditctl's long options, and whether each takes an argument.
const LONG: [(&str, bool); 5] = [
    ("--loginuid-immutable", false),
    ("--backlog_wait_time", true),
    ("--reset-lost", false),
    ("--reset_backlog_wait_time_actual", false),
    ("--signal", true),
];

/// Splits one auditctl invocation into options as getopt does: `-e 2` and `-e2`, bundled flags (`-Di`),
/// `--opt=value` and `--opt value`, and long options abbreviated to a unique prefix (`--loginuid`).
/// A word that is no option (getopt's operand) is kept as written, for the caller to reject.
#[must_use]
pub fn options<'a>(words: &[&'a str]) -> Vec<Opt<'a>> {
    let mut out = Vec::new();
    let mut words = words.iter().copied();
    while let Some(word) = words.next() {
        if let Some(long) = word.strip_prefix("--").filter(|l| !l.is_empty()) {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let exact = LONG.iter().find(|(l, _)| l[2..] == *name);
            let mut prefixed = LONG.iter().filter(|(l, _)| l[2..].starts_with(name));
            let (full, takes) = match (exact, prefixed.next(), prefixed.next()) {
                (Some(l), _, _) | (None, Some(l), None) => *l,
                // Unknown or ambiguous: kept as written, for the caller to reject.
                _ => (word, false),
            };
            let value = if takes { inline.or_else(|| words.next()) } else { inline };
            out.push(Opt { option: full.to_owned(), value });
            continue;
        }
        let Some(mut flags) = word.strip_prefix('-').filter(|f| !f.is_empty() && !f.starts_with('-')) else {
            out.push(Opt { option: word.to_owned(), value: None });
            continue;
        };
        while let Some(c) = flags.chars().next() {
            let rest = &flags[c.len_utf8()..];
            if SHORT_WITH_VALUE.contains(c) {
                let value = if rest.is_empty() { words.next() } else { Some(rest) };
                out.push(Opt { option: format!("-{c}"), value });
                break;
            }
            out.push(Opt { option: format!("-{c}"), value: None });
            flags = rest;
        }
    }
    out
}

/// The argument [`options`] found for an option that needs one.
struct OptValue<'a> {
    option: &'a str,
    value: Option<&'a str>,
}

impl<'a> OptValue<'a> {
    fn get(&mut self) -> Result<&'a str, String> {
        self.value.ok_or_else(|| format!("`{}` needs a value", self.option))
    }
}

/// `always,exit` or `exit,always`.
fn list_action(text: &str) -> Result<(FilterList, Action), String> {
    let (a, b) = text.split_once(',').ok_or_else(|| format!("`{text}`: expected list,action such as always,exit"))?;
    let list = |s: &str| match s {
        "task" => Some(FilterList::Task),
        "exit" => Some(FilterList::Exit),
        "user" => Some(FilterList::User),
        "exclude" => Some(FilterList::Exclude),
        "filesystem" => Some(FilterList::Filesystem),
        "io_uring" => Some(FilterList::IoUring),
        _ => None,
    };
    let action = |s: &str| match s {
        "always" => Some(Action::Always),
        "never" => Some(Action::Never),
        _ => None,
    };
    if a == "entry" || b == "entry" {
        return Err("the entry list was removed from the kernel; use exit".into());
    }
    if a == "possible" || b == "possible" {
        return Err("the possible action was removed from the kernel; use always".into());
    }
    match (list(a), action(b), list(b), action(a)) {
        (Some(l), Some(act), _, _) | (_, _, Some(l), Some(act)) => Ok((l, act)),
        _ => Err(format!("`{text}`: unknown list or action")),
    }
}

/// `-w PATH`: an exit rule on every syscall, with the path as a watch (file) or dir (directory), as
/// auditctl builds it: trailing slashes trimmed, the kind chosen by what the path is now, all permissions
/// until `-p` narrows them.
fn watch(path: &str) -> Result<Rule, String> {
    if !path.starts_with('/') {
        return Err(format!("watch `{path}` is not an absolute path"));
    }
    let trimmed = if path.len() > 2 { path.trim_end_matches('/') } else { path };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    let kind = if Path::new(trimmed).is_dir() { id::DIR } else { id::WATCH };
    let mut rule = Rule::new(FilterList::Exit, Action::Always);
    rule.set_all_syscalls();
    rule.fields.push(Field { id: kind, op: Op::Eq, value: Value::Str(trimmed.to_owned()) });
    rule.fields.push(Field { id: id::PERM, op: Op::Eq, value: Value::Num(15) });
    Ok(rule)
}

/// Collects the parts of one rule in auditctl's order of effect.
#[derive(Default)]
struct RuleBuilder {
    op: Option<&'static str>,
    rule: Option<Rule>,
    keys: Vec<String>,
    syscalls_given: bool,
    is_watch: bool,
}

impl RuleBuilder {
    fn start(&mut self, op: &str, rule: Rule) -> Result<(), String> {
        if self.rule.is_some() {
            return Err(format!("a second rule (`{op}`) on one line"));
        }
        self.op = Some(match op {
            "-a" => "-a",
            "-A" => "-A",
            "-d" => "-d",
            "-w" => "-w",
            _ => "-W",
        });
        self.is_watch = matches!(op, "-w" | "-W");
        self.rule = Some(rule);
        Ok(())
    }

    fn rule(&mut self, what: &str) -> Result<&mut Rule, String> {
        self.rule.as_mut().ok_or_else(|| format!("`{what}` before -a/-A/-d/-w"))
    }

    fn perm(&mut self, letters: &str) -> Result<(), String> {
        let bits = fields::perm_bits(letters)?;
        let is_watch = self.is_watch;
        let rule = self.rule("-p")?;
        // On an -a rule auditctl turns -p into perm=, once a path or dir field names what it watches.
        if !is_watch && !rule.fields.iter().any(|f| f.id == id::WATCH || f.id == id::DIR) {
            return Err("-p needs a watch: -w, or -F path= or -F dir= before it".into());
        }
        rule.fields.retain(|f| f.id != id::PERM);
        rule.fields.push(Field { id: id::PERM, op: Op::Eq, value: Value::Num(bits) });
        Ok(())
    }

    fn syscalls(&mut self, list: &str) -> Result<(), String> {
        if self.is_watch {
            return Err("-S does not go with -w".into());
        }
        let rule = self.rule("-S")?;
        // Names resolve in the ABI of an -F arch= given before -S, else the native one (b64 here).
        let abi = match rule.field(id::ARCH).map(|f| &f.value) {
            Some(Value::Num(fields::ARCH_B32)) => Abi::B32,
            _ => Abi::B64,
        };
        for name in list.split(',') {
            if name == "all" {
                rule.set_all_syscalls();
                continue;
            }
            let nr = match name.parse::<u32>() {
                Ok(nr) => nr,
                Err(_) => syscalls::auditctl_number(abi, name)
                    .ok_or_else(|| format!("unknown syscall `{name}` for arch {}", abi_name(abi)))?,
            };
            rule.set_syscall(nr);
        }
        self.syscalls_given = true;
        Ok(())
    }

    fn field(&mut self, pair: &str) -> Result<(), String> {
        // `-F key=` is accepted and sets no key.
        if pair.strip_suffix('=').and_then(fields::id_of) == Some(id::FILTERKEY) {
            return Ok(());
        }
        let (name, op, value) = split_op(pair)?;
        let field_id = fields::id_of(name).ok_or_else(|| format!("unknown field `{name}` in `-F {pair}`"))?;
        if field_id == id::FILTERKEY {
            return self.key(value);
        }
        if field_id == id::FIELD_COMPARE {
            return Err("field_compare is written with -C".into());
        }
        if field_id == id::ARCH && self.syscalls_given {
            return Err("-F arch must come before -S, or syscall names resolve in the wrong ABI".into());
        }
        let value = fields::parse_value(field_id, op, value).map_err(|e| format!("-F {pair}: {e}"))?;
        if fields::is_string(field_id) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!("-F {pair}: `{name}` takes only = or !="));
        }
        push_field(self.rule("-F")?, Field { id: field_id, op, value }, pair)
    }

    fn compare(&mut self, pair: &str) -> Result<(), String> {
        let (a, op, b) = split_op(pair)?;
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(format!("-C {pair}: only = and != compare fields"));
        }
        let value = fields::comparison(a, b).ok_or_else(|| format!("-C {pair}: `{a}` and `{b}` cannot be compared"))?;
        push_field(self.rule("-C")?, Field { id: id::FIELD_COMPARE, op, value: Value::Num(value) }, pair)
    }

    /// Kept as written: auditctl keeps quotes, and a CRLF file's `\r`, in the key.
    #[expect(
        clippy::unnecessary_wraps,
        reason = "the same signature as the other option handlers, dispatched by one match"
    )]
    fn key(&mut self, key: &str) -> Result<(), String> {
        self.keys.push(key.to_owned());
        Ok(())
    }

    fn finish(mut self) -> Result<Option<(&'static str, Rule)>, String> {
        let Some(mut rule) = self.rule.take() else {
            return match self.keys.as_slice() {
                [] => Ok(None),
                // `-D -k key`: carried as a key-only rule, unpacked by parse_line.
                keys => {
                    let mut rule = Rule::new(FilterList::Exit, Action::Always);
                    rule.fields.push(key_field(keys));
                    Ok(Some(("-D", rule)))
                }
            };
        };
        // An exit rule with no -S watches every syscall (auditctl adds `all`).
        if rule.list == FilterList::Exit && !self.syscalls_given && !self.is_watch {
            rule.set_all_syscalls();
        }
        if !self.keys.is_empty() {
            let joined: usize = self.keys.iter().map(String::len).sum::<usize>() + self.keys.len() - 1;
            if joined > 256 {
                return Err(format!("key of {joined} bytes is longer than the kernel's 256"));
            }
            push_field(&mut rule, key_field(&self.keys), "key")?;
        }
        Ok(Some((self.op.expect("set with rule"), rule)))
    }
}

/// libaudit refuses a field once a rule has `AUDIT_MAX_FIELDS - 1` (63): one fewer than the kernel takes.
const MAX_FIELDS: usize = 63;

fn push_field(rule: &mut Rule, field: Field, written: &str) -> Result<(), String> {
    if rule.fields.len() >= MAX_FIELDS {
        return Err(format!("too many fields in rule at `{written}`: auditctl takes {MAX_FIELDS}"));
    }
    rule.fields.push(field);
    Ok(())
}

/// Several keys travel as one, joined by `\x01` (`AUDIT_KEY_SEPARATOR`).
fn key_field(keys: &[String]) -> Field {
    Field { id: id::FILTERKEY, op: Op::Eq, value: Value::Str(keys.join("\u{1}")) }
}

fn abi_name(abi: Abi) -> &'static str {
    match abi {
        Abi::B64 => "b64",
        Abi::B32 => "b32",
    }
}

/// `auid>=1000` → (`auid`, `>=`, `1000`), operators longest first.
fn split_op(pair: &str) -> Result<(&str, Op, &str), String> {
    const OPS: [(&str, Op); 8] = [
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("&=", Op::BitTest),
        ("=", Op::Eq),
        ("<", Op::Lt),
        (">", Op::Gt),
        ("&", Op::BitMask),
    ];
    let at = pair.find(['=', '!', '<', '>', '&']).ok_or_else(|| format!("`{pair}`: no operator"))?;
    let (name, rest) = pair.split_at(at);
    let (symbol, op) =
        OPS.iter().find(|(s, _)| rest.starts_with(s)).ok_or_else(|| format!("`{pair}`: bad operator"))?;
    let value = &rest[symbol.len()..];
    if name.is_empty() || value.is_empty() {
        return Err(format!("`{pair}`: expected name{symbol}value"));
    }
    Ok((name, *op, value))
}

/// The rule one `-a`/`-A`/`-w` line adds: for tests across the crate.
#[cfg(test)]
pub(crate) fn rule(line: &str) -> Rule {
    match parse_line(line).unwrap() {
        Command::Add { rule, .. } => rule,
        other => panic!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    #[test]
    fn syscall_rules_with_fields_and_keys() {
        let r = rule("-a always,exit -F arch=b64 -S adjtimex,settimeofday -F key=time-change");
        assert_eq!((r.list, r.action), (FilterList::Exit, Action::Always));
        assert!(r.has_syscall(159) && r.has_syscall(164), "adjtimex, settimeofday on x86_64");
        assert_eq!(r.key(), Some("time-change"));
        let r32 = rule("-a exit,always -F arch=b32 -S chmod -F auid>=1000 -F auid!=unset -k perm_mod");
        assert!(r32.has_syscall(15), "chmod is 15 on i386");
        assert!(r32.fields.contains(&Field { id: id::LOGINUID, op: Op::Ne, value: Value::Num(u32::MAX) }));
        let two_keys = rule("-a always,exit -S execve -k a -k b");
        assert_eq!(two_keys.key(), Some("a\u{1}b"));
    }

    #[test]
    fn watches_become_exit_rules_on_every_syscall() {
        let r = rule("-w /etc/passwd -p wa -k identity");
        assert!(r.all_syscalls());
        assert_eq!(r.fields[0], Field { id: id::WATCH, op: Op::Eq, value: Value::Str("/etc/passwd".into()) });
        assert_eq!(r.fields[1].value, Value::Num(10));
        let dir = rule("-w /etc/sudoers.d/ -p wa");
        assert_eq!(dir.fields[0].id, if Path::new("/etc/sudoers.d").is_dir() { id::DIR } else { id::WATCH });
        assert_eq!(dir.fields[0].value, Value::Str("/etc/sudoers.d".into()));
    }

    #[test]
    fn settings_and_controls() {
        assert_eq!(parse_line("-D"), Ok(Command::DeleteAll { key: None }));
        assert_eq!(parse_line("-D -k old"), Ok(Command::DeleteAll { key: Some("old".into()) }));
        assert_eq!(parse_line("-b 8192"), Ok(Command::Set { setting: "backlog_limit", value: 8192 }));
        assert_eq!(
            parse_line("--backlog_wait_time 60000"),
            Ok(Command::Set { setting: "backlog_wait_time", value: 60000 })
        );
        assert_eq!(parse_line("--backlog_wait_time=0"), Ok(Command::Set { setting: "backlog_wait_time", value: 0 }));
        assert_eq!(parse_line("-e 2"), Ok(Command::Set { setting: "enabled", value: 2 }));
        assert_eq!(parse_line("-i"), Ok(Command::IgnoreErrors));
        assert_eq!(parse_line("-c"), Ok(Command::ContinueOnError));
        assert!(matches!(parse_line("-A never,exit -S all"), Ok(Command::Add { prepend: true, .. })));
        assert!(matches!(parse_line("-d always,exit -S execve"), Ok(Command::Delete { .. })));
    }

    #[test]
    fn options_split_as_getopt_splits_them() {
        let opts = |line: &str| -> Vec<(String, Option<String>)> {
            let words: Vec<&str> = line.split_whitespace().collect();
            options(&words).into_iter().map(|o| (o.option, o.value.map(str::to_owned))).collect()
        };
        let pair = |o: &str, v: Option<&str>| (o.to_owned(), v.map(str::to_owned));
        assert_eq!(opts("-e2"), [pair("-e", Some("2"))]);
        assert_eq!(opts("-b 320 -e 2"), [pair("-b", Some("320")), pair("-e", Some("2"))]);
        assert_eq!(opts("-De2"), [pair("-D", None), pair("-e", Some("2"))]);
        assert_eq!(opts("-k -e"), [pair("-k", Some("-e"))], "an argument is taken verbatim");
        assert_eq!(opts("--loginuid"), [pair("--loginuid-immutable", None)], "a unique prefix");
        assert_eq!(opts("--backlog_wait_time=5"), [pair("--backlog_wait_time", Some("5"))]);
        assert_eq!(opts("--re"), [pair("--re", None)], "ambiguous: kept as written");
        assert_eq!(opts("stray"), [pair("stray", None)]);
        assert_eq!(parse_line("-e2"), Ok(Command::Set { setting: "enabled", value: 2 }));
        assert_eq!(parse_line("-b8192"), Ok(Command::Set { setting: "backlog_limit", value: 8192 }));
        assert!(parse_line("-a always,exit stray").unwrap_err().contains("unknown option `stray`"));
    }

    #[test]
    fn comparisons_and_numbers() {
        let r = rule("-a always,exit -F arch=b64 -S execve -C uid!=euid -F euid=0 -F a0=0x10");
        assert!(r.fields.contains(&Field { id: id::FIELD_COMPARE, op: Op::Ne, value: Value::Num(11) }));
        assert!(r.fields.contains(&Field { id: id::ARG0, op: Op::Eq, value: Value::Num(16) }));
        let exclude = rule("-a always,exclude -F msgtype=CWD");
        assert_eq!(exclude.list, FilterList::Exclude);
        let never = rule("-a never,filesystem -F fstype=tracefs");
        assert_eq!(never.action, Action::Never);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (line, needle) in [
            ("-a always,exit -F arch=b64 -S no_such_call", "unknown syscall `no_such_call`"),
            ("-a always,exit -S open -F arch=b32", "-F arch must come before -S"),
            ("-a always,entry -S open", "entry list"),
            ("-a sometimes,exit", "unknown list or action"),
            ("-a always,exit -F nosuchfield=1", "unknown field"),
            ("-a always,exit -F auid", "no operator"),
            ("-w etc/passwd", "not an absolute path"),
            ("-b", "needs a value"),
            ("-e 3", "0, 1 or 2"),
            ("-l", "does not belong"),
            ("-x", "unknown option"),
            ("-a always,exit -F exe>=/bin/x", "only = or !="),
        ] {
            let err = parse_line(line).unwrap_err();
            assert!(err.contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn options_are_read_the_getopt_way() {
        let attached = rule("-aalways,exit -Farch=b64 -Sexecve -Fauid>=1000 -kexec");
        assert_eq!(attached, rule("-a always,exit -F arch=b64 -S execve -F auid>=1000 -k exec"));
        assert_eq!(parse_line("-b8192"), Ok(Command::Set { setting: "backlog_limit", value: 8192 }));
        assert_eq!(parse_line("-e2"), Ok(Command::Set { setting: "enabled", value: 2 }));
        assert_eq!(parse_line("-Di"), Ok(Command::IgnoreErrors), "two flags in one word");
        assert!(parse_line("-a always,exit\t-S execve").is_err(), "a tab does not separate words");
        assert_eq!(words("-w /a\\ b -k x\\\\y"), ["-w", "/a b", "-k", "x\\y"]);
    }

    #[test]
    fn keys_and_perms_as_auditctl_takes_them() {
        assert_eq!(rule("-a always,exit -S chmod -k \"q\"").key(), Some("\"q\""), "quotes are kept");
        assert_eq!(rule("-a always,exit -S chmod -F key=").key(), None, "an empty key sets none");
        let perm = rule("-a always,exit -F path=/etc/shadow -p wa -k s");
        assert_eq!(perm.field(id::PERM).map(|f| &f.value), Some(&Value::Num(10)));
        assert!(parse_line("-a always,exit -S open -p r").unwrap_err().contains("needs a watch"));
        let (lines, _) = parse_file(Path::new("crlf.rules"), "-w /etc/hosts -p wa -k h\r\n");
        let Command::Add { rule, .. } = &lines[0].command else { panic!() };
        assert_eq!(rule.key(), Some("h\r"), "auditctl keeps a CRLF file's \\r");
    }

    #[test]
    fn the_field_limit_is_libaudits() {
        let mut line = "-a always,exit -S execve".to_owned();
        for i in 0..62 {
            write!(line, " -F a0!={i}").unwrap();
        }
        assert!(parse_line(&line).is_ok(), "63 fields with -S's arch-less rule");
        line.push_str(" -F a0!=62 -F a0!=63");
        assert!(parse_line(&line).unwrap_err().contains("too many fields"));
    }

    #[test]
    fn files_keep_line_numbers_and_collect_errors() {
        let text = "# comment\n\n-D\n-a always,exit -S bogus\n-w /etc/hosts -p wa\n";
        let (lines, errors) = parse_file(Path::new("/x/10-a.rules"), text);
        assert_eq!(lines.iter().map(|l| l.location.line).collect::<Vec<_>>(), [3, 5]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].to_string(), "/x/10-a.rules:4: unknown syscall `bogus` for arch b64");
    }
}
