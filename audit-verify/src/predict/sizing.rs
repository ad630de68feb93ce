//! Bytes and records per event, from what the matcher measured and the record formats the kernel writes
//! (kernel/auditsc.c `audit_log_exit`, `audit_log_task_info`, `audit_log_name`, `audit_log_execve_info`,
//! `audit_log_proctitle`) and auditd adds (`log_format = ENRICHED` interprets ids after a `\x1d`,
//! `name_format` prefixes `node=`). Measured per event: the length of the names an open gave and of the
//! program an execve runs, argc and the argument bytes of each execve, the command line PROCTITLE
//! holds. Estimated: the number of path names (per syscall, from a table: one for an open, two for an
//! execve), and at a typical width the values of fixed fields (pids,
//! inode numbers, the serial), `comm`/`exe` outside execve, the CWD, the dynamic loader's name, and
//! PROCTITLE and EXECVE arguments taken as hex and quoted respectively.

use std::collections::BTreeMap;

use audit_verify_common::measure::EventCost;
use serde::Serialize;

use crate::auditd_conf::AuditdConf;

/// How auditd writes records on this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Format {
    /// `log_format = ENRICHED`.
    pub enriched: bool,
    /// `node=NAME ` before each record (`name_format` other than NONE).
    pub node: Option<String>,
    /// An LSM labels tasks: SYSCALL carries `subj=`.
    pub lsm_subject: bool,
}

impl Format {
    /// From auditd.conf (its built-in values where absent) and the LSMs this kernel runs.
    #[must_use]
    pub fn of_host(conf: Option<&AuditdConf>) -> Self {
        let value = |key: &str| {
            conf.map_or_else(|| crate::auditd_conf::builtin_default(key).unwrap_or(""), |c| c.value(key)).to_owned()
        };
        let node = match value("name_format").to_ascii_uppercase().as_str() {
            "" | "NONE" => None,
            "USER" => Some(value("name")),
            _ => Some(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned()),
        };
        let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
        let lsm_subject = lsms.split(',').any(|l| matches!(l, "selinux" | "apparmor" | "smack"));
        Self { enriched: value("log_format").eq_ignore_ascii_case("ENRICHED"), node, lsm_subject }
    }
}

/// What one rule's events cost, on average.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sizing {
    pub records_per_event: f64,
    pub bytes_per_event: f64,
    /// Bytes per event by record type (a type an event may lack is weighted by how often it appears).
    pub bytes_by_type: BTreeMap<&'static str, f64>,
}

/// A string's length as the sizes are kept.
#[expect(clippy::cast_precision_loss, reason = "record texts are far shorter than 2^52 bytes")]
fn len(text: &str) -> f64 {
    text.len() as f64
}

/// `type=T msg=audit(1764590000.123:1234567): `, a ten-digit time and a seven-digit serial.
fn header(kind: &str, format: &Format) -> f64 {
    let node = format.node.as_ref().map_or(0.0, |n| len("node= ") + len(n));
    node + len("type= msg=audit(1764590000.123:1234567): ") + len(kind)
}

/// Typical widths, from a record of this host's log (`exe` and `comm` of a short program name).
const SYSCALL_BODY: &str = "arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd4a3b2c10 a2=0 a3=0 \
     items=1 ppid=12345 pid=12346 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 \
     fsgid=1000 tty=pts0 ses=3 comm=\"cat\" exe=\"\"";
const TYPICAL_EXE: f64 = 12.0;
const SUBJ: &str = " subj=unconfined";
const SYSCALL_ENRICHED: &str = "\x1dARCH=x86_64 SYSCALL=openat AUID=\"user\" UID=\"root\" GID=\"root\" \
     EUID=\"root\" SUID=\"root\" FSUID=\"root\" EGID=\"root\" SGID=\"root\" FSGID=\"root\"";
const PATH_BODY: &str = "item=0 name=\"\" inode=10199047 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 \
     nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0";
const PATH_ENRICHED: &str = "\x1dOUID=\"root\" OGID=\"root\"";
/// A name the matcher did not read: the dynamic loader's (`/lib64/ld-linux-x86-64.so.2`) is 27 bytes.
const TYPICAL_NAME: f64 = 27.0;
const CWD_BODY: &str = "cwd=\"/home/operator\"";

#[must_use]
#[expect(clippy::cast_precision_loss, reason = "counts far below 2^52, where f64 is exact")]
pub fn size(events: u64, cost: &EventCost, key: Option<&str>, format: &Format) -> Sizing {
    if events == 0 {
        return Sizing::default();
    }
    let n = events as f64;
    let per = |v: u64| v as f64 / n;
    let line = |kind: &str, body: f64| header(kind, format) + body + 1.0;
    let mut by_type = BTreeMap::new();
    let mut records = 0.0;
    let mut add = |kind: &'static str, count: f64, bytes_each: f64| {
        if count > 0.0 {
            records += count;
            by_type.insert(kind, count * bytes_each);
        }
    };

    let mean_name = if cost.names_read > 0 { cost.name_bytes as f64 / cost.names_read as f64 } else { TYPICAL_NAME };
    let exe = if cost.execs > 0 { mean_name } else { TYPICAL_EXE };
    let key_field = key.map_or(len(" key=(null)"), |k| len(" key=\"\"") + len(k));
    let syscall = len(SYSCALL_BODY)
        + exe
        + key_field
        + if format.lsm_subject { len(SUBJ) } else { 0.0 }
        + if format.enriched { len(SYSCALL_ENRICHED) } else { 0.0 };
    add("SYSCALL", 1.0, line("SYSCALL", syscall));
    add("CWD", per(cost.with_names), line("CWD", len(CWD_BODY)));
    // Names read are their own length; the others (an execve's loader) the typical one.
    let names = per(cost.names);
    if names > 0.0 {
        let read = per(cost.names_read).min(names);
        let mean = (read * mean_name + (names - read) * TYPICAL_NAME) / names;
        let body = len(PATH_BODY) + mean + if format.enriched { len(PATH_ENRICHED) } else { 0.0 };
        add("PATH", names, line("PATH", body));
    }
    if cost.execs > 0 {
        let (argc, bytes) = (cost.argc as f64 / cost.execs as f64, cost.arg_bytes as f64 / cost.execs as f64);
        // ` argc=N`, then ` aI="ARG"` per argument: the NUL after each is the space before the next.
        let index_digits = if argc > 10.0 { 2.0 } else { 1.0 };
        let body = len("argc=") + argc.log10().floor().max(0.0) + 1.0 + bytes + argc * (4.0 + index_digits);
        add("EXECVE", per(cost.execs), line("EXECVE", body));
    }
    let title = per(cost.title_bytes);
    add("PROCTITLE", 1.0, line("PROCTITLE", len("proctitle=") + 2.0 * title));
    let bytes = by_type.values().sum();
    Sizing { records_per_event: records, bytes_per_event: bytes, bytes_by_type: by_type }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execve_event_is_sized_from_its_arguments_and_names() {
        let format = Format { enriched: false, node: None, lsm_subject: false };
        // 10 execs of `/usr/bin/true` with argv ["true", "--version"]: 15 argument bytes, two names.
        let cost = EventCost {
            with_names: 10,
            names: 20,
            name_bytes: 130,
            names_read: 10,
            execs: 10,
            argc: 20,
            arg_bytes: 150,
            title_bytes: 140,
        };
        let s = size(10, &cost, Some("exec"), &format);
        assert!((s.records_per_event - 6.0).abs() < 1e-9, "SYSCALL CWD 2×PATH EXECVE PROCTITLE: {s:?}");
        let h = header("EXECVE", &format) + 1.0;
        // `argc=2 a0="true" a1="--version"`: 6 + 15 + 2 × 5 = 31 bytes, as the kernel writes it.
        assert!((s.bytes_by_type["EXECVE"] - (h + len("argc=2 a0=\"true\" a1=\"--version\""))).abs() < 1e-9);
        let proctitle = header("PROCTITLE", &format) + 1.0 + len("proctitle=") + 28.0;
        assert!((s.bytes_by_type["PROCTITLE"] - proctitle).abs() < 1e-9, "hex of 14 bytes");
        let enriched = size(10, &cost, Some("exec"), &Format { enriched: true, ..format.clone() });
        assert!(enriched.bytes_per_event > s.bytes_per_event + 100.0, "auditd's interpretations");
        let plain = size(5, &EventCost { title_bytes: 50, ..EventCost::default() }, None, &format);
        assert_eq!(plain.bytes_by_type.keys().copied().collect::<Vec<_>>(), ["PROCTITLE", "SYSCALL"]);
        assert_eq!(size(0, &cost, None, &format), Sizing::default());
    }
}
