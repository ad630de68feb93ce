//! `audit-verify status`.

use std::path::Path;

use audit_verify::{
    finding::Severity,
    host_status::{self, HostStatus},
};

use super::{Outcome, output::outln};

pub fn run(auditd_conf: &Path, json: bool) -> anyhow::Result<Outcome> {
    let status = host_status::gather(auditd_conf)?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_human(&status);
    }
    let high = status.findings.iter().any(|f| f.severity >= Severity::High);
    Ok(if high { Outcome::Findings } else { Outcome::Clean })
}

fn print_human(s: &HostStatus) {
    let k = &s.kernel;
    let opt = |v: Option<u32>| v.map_or_else(|| "n/a".to_owned(), |v| v.to_string());
    outln!("Kernel audit");
    outln!("  enabled                   {} ({})", k.enabled, s.enabled_state);
    outln!("  failure                   {}", k.failure);
    outln!("  rate_limit                {}", k.rate_limit);
    outln!("  backlog_limit             {}", k.backlog_limit);
    outln!("  lost                      {}", k.lost);
    outln!("  backlog                   {}", k.backlog);
    outln!("  backlog_wait_time         {}", opt(k.backlog_wait_time));
    outln!("  backlog_wait_time_actual  {}", opt(k.backlog_wait_time_actual));
    outln!("  loaded rules              {}", s.loaded_rules);
    let a = &s.auditd;
    outln!("auditd");
    let state = if a.pid == 0 {
        "none registered"
    } else if a.alive {
        "running"
    } else {
        "gone"
    };
    outln!("  pid                       {} ({state})", a.pid);
    outln!("  config                    {}", a.config);
    let size = a.log_file_bytes.map_or_else(|| "unreadable".to_owned(), |b| format!("{b} bytes"));
    outln!("  log file                  {} ({size})", a.log_file.as_deref().unwrap_or("?"));
    outln!("Kernel capabilities (tried, not assumed)");
    for (name, support) in s.capabilities.entries() {
        let state = if support.available { "available".to_owned() } else { "unavailable".to_owned() };
        match &support.reason {
            Some(reason) => outln!("  {name:<25} {state}: {reason}"),
            None => outln!("  {name:<25} {state}"),
        }
    }
    outln!("  measurement backend       {}", s.capabilities.backend);
    outln!("BPF programs on the audit path (not ours)");
    match (&s.tampering.error, s.tampering.attachments.is_empty()) {
        (Some(e), _) => outln!("  unknown: {e}"),
        (None, true) => outln!("  none"),
        (None, false) => {
            for t in &s.tampering.attachments {
                let program = t.program_id.map_or_else(|| "unknown".to_owned(), |id| id.to_string());
                outln!(
                    "  program {program} {:?} {} on {} (found by {})",
                    t.program_name,
                    t.kind,
                    t.function,
                    t.found_by
                );
            }
        }
    }
    if !s.findings.is_empty() {
        outln!("Findings");
        for f in &s.findings {
            outln!("  [{:?}] {}: {}", f.severity, f.id, f.message);
        }
    }
}
