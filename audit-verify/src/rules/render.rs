//! Prints a [`Rule`] the way `auditctl -l` does, for reports.

use super::{
    Rule, Value,
    fields::{self, id},
};
use crate::syscalls::{self, Abi};

pub fn auditctl(rule: &Rule) -> String {
    if let Some(watch) = as_watch(rule) {
        return watch;
    }
    let mut out = format!("-a {},{}", action_name(rule), rule.list.name());
    let abi = match rule.field(id::ARCH).map(|f| &f.value) {
        Some(Value::Num(fields::ARCH_B32)) => Abi::B32,
        _ => Abi::B64,
    };
    let mut syscalls_written = false;
    for f in &rule.fields {
        if f.id == id::FILTERKEY {
            continue;
        }
        out.push(' ');
        out.push_str(&field(f));
        if f.id == id::ARCH {
            out.push_str(&syscall_part(rule, abi));
            syscalls_written = true;
        }
    }
    if !syscalls_written {
        out.push_str(&syscall_part(rule, abi));
    }
    if let Some(key) = rule.key() {
        for k in key.split('\u{1}') {
            out.push_str(" -F key=");
            out.push_str(k);
        }
    }
    out
}

fn action_name(rule: &Rule) -> &'static str {
    match rule.action {
        super::Action::Never => "never",
        super::Action::Possible => "possible",
        super::Action::Always => "always",
    }
}

/// `-w PATH -p PERMS [-k KEY]` for the rules `-w` makes.
fn as_watch(rule: &Rule) -> Option<String> {
    if rule.list != super::FilterList::Exit || !rule.all_syscalls() {
        return None;
    }
    let mut path = None;
    let mut perm = None;
    for f in &rule.fields {
        match (f.id, &f.value) {
            (id::WATCH | id::DIR, Value::Str(p)) if path.is_none() => path = Some(p),
            (id::PERM, Value::Num(bits)) if perm.is_none() => perm = Some(*bits),
            (id::FILTERKEY, _) => {}
            _ => return None,
        }
    }
    let mut out = format!("-w {} -p {}", path?, fields::perm_letters(perm?));
    if let Some(key) = rule.key() {
        out.push_str(" -k ");
        out.push_str(&key.replace('\u{1}', " -k "));
    }
    Some(out)
}

fn syscall_part(rule: &Rule, abi: Abi) -> String {
    if rule.all_syscalls() || !rule.uses_mask() {
        return String::new();
    }
    let names: Vec<String> = rule
        .syscalls()
        .map(|nr| syscalls::auditctl_name(abi, nr).map_or_else(|| nr.to_string(), str::to_owned))
        .collect();
    if names.is_empty() { String::new() } else { format!(" -S {}", names.join(",")) }
}

fn field(f: &super::Field) -> String {
    if f.id == id::FIELD_COMPARE {
        let (a, b) = match &f.value {
            Value::Num(n) => fields::comparison_names(*n).unwrap_or(("?", "?")),
            Value::Str(_) => ("?", "?"),
        };
        return format!("-C {a}{}{b}", f.op.symbol());
    }
    let name = fields::name_of(f.id).map_or_else(|| format!("field{}", f.id), str::to_owned);
    let value = match (&f.value, f.id) {
        (Value::Str(s), _) => s.clone(),
        (Value::Num(fields::ARCH_B64), id::ARCH) => "b64".into(),
        (Value::Num(fields::ARCH_B32), id::ARCH) => "b32".into(),
        (Value::Num(fields::UNSET), id::LOGINUID | id::UID | id::EUID) => "unset".into(),
        (Value::Num(bits), id::PERM) => fields::perm_letters(*bits),
        (Value::Num(n), id::EXIT) if n.cast_signed() < 0 => {
            let errno = n.cast_signed().unsigned_abs();
            fields::errno_name(errno).map_or_else(|| format!("{}", n.cast_signed()), |e| format!("-{e}"))
        }
        (Value::Num(n), id::MSGTYPE) => fields::record_type_name(*n).map_or_else(|| n.to_string(), str::to_owned),
        (Value::Num(n), 200..=203) => format!("0x{n:X}"),
        (Value::Num(n), id::FSTYPE) => fields::fstype_name(*n).map_or_else(|| n.to_string(), str::to_owned),
        (Value::Num(n), _) => n.to_string(),
    };
    format!("-F {name}{}{value}", f.op.symbol())
}

#[cfg(test)]
mod tests {
    use crate::rules::parse::{Command, parse_line};

    fn round(line: &str) -> String {
        match parse_line(line).unwrap() {
            Command::Add { rule, .. } => rule.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prints_like_auditctl_l() {
        assert_eq!(round("-w /etc/passwd -p wa -k identity"), "-w /etc/passwd -p wa -k identity");
        assert_eq!(
            round("-a always,exit -F arch=b64 -S open,openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -k access"),
            "-a always,exit -F arch=b64 -S open,openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -F key=access"
        );
        assert_eq!(
            round("-a always,exit -F arch=b32 -S chmod -C uid!=euid"),
            "-a always,exit -F arch=b32 -S chmod -C uid!=euid"
        );
        assert_eq!(round("-a never,exclude -F msgtype=CWD"), "-a never,exclude -F msgtype=CWD");
    }
}
