//! `audit-verify status`.

use std::path::Path;

use audit_verify::{
    finding::Severity,
    host_status::{self, HostStatus},
};

use super::Outcome;

pub fn run(auditd_conf: &Path, json: bool) -> anyhow::Result<Outcome> {
    let status = host_status::gather(auditd_conf)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print_human(&status);
    }
    let high = status.findings.iter().any(|f| f.severity >= Severity::High);
    Ok(if high { Outcome::Findings } else { Outcome::Clean })
}

fn print_human(s: &HostStatus) {
    let k = &s.kernel;
    let opt = |v: Option<u32>| v.map_or_else(|| "n/a".to_owned(), |v| v.to_string());
    println!("Kernel audit");
    println!("  enabled                   {} ({})", k.enabled, s.enabled_state);
    println!("  failure                   {}", k.failure);
    println!("  rate_limit                {}", k.rate_limit);
    println!("  backlog_limit             {}", k.backlog_limit);
    println!("  lost                      {}", k.lost);
    println!("  backlog                   {}", k.backlog);
    println!("  backlog_wait_time         {}", opt(k.backlog_wait_time));
    println!("  backlog_wait_time_actual  {}", opt(k.backlog_wait_time_actual));
    println!("  loaded rules              {}", s.loaded_rules);
    let a = &s.auditd;
    println!("auditd");
    let state = if a.pid == 0 {
        "none registered"
    } else if a.alive {
        "running"
    } else {
        "gone"
    };
    println!("  pid                       {} ({state})", a.pid);
    println!("  config                    {}", a.config);
    let size = a.log_file_bytes.map_or_else(|| "unreadable".to_owned(), |b| format!("{b} bytes"));
    println!("  log file                  {} ({size})", a.log_file.as_deref().unwrap_or("?"));
    println!("Kernel capabilities (tried, not assumed)");
    for (name, support) in s.capabilities.entries() {
        let state = if support.available { "available".to_owned() } else { "unavailable".to_owned() };
        match &support.reason {
            Some(reason) => println!("  {name:<25} {state}: {reason}"),
            None => println!("  {name:<25} {state}"),
        }
    }
    println!("  measurement backend       {}", s.capabilities.backend);
    println!("BPF programs on the audit path (not ours)");
    match (&s.tampering.error, s.tampering.attachments.is_empty()) {
        (Some(e), _) => println!("  unknown: {e}"),
        (None, true) => println!("  none"),
        (None, false) => {
            for t in &s.tampering.attachments {
                let program = t.program_id.map_or_else(|| "unknown".to_owned(), |id| id.to_string());
                println!(
                    "  program {program} {:?} {} on {} (found by {})",
                    t.program_name, t.kind, t.function, t.found_by
                );
            }
        }
    }
    if !s.findings.is_empty() {
        println!("Findings");
        for f in &s.findings {
            println!("  [{:?}] {}: {}", f.severity, f.id, f.message);
        }
    }
}
