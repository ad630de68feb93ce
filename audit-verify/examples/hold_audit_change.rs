//! Test helper: changes kernel audit state through the state guard, says so on stdout, then waits to be
//! killed. The state guard tests send it SIGINT/SIGTERM and check that the state comes back.
#![expect(unused_crate_dependencies, reason = "a separate crate that links all of the package's dependencies")]

use std::io::Write as _;

use audit_verify::guard::{Environment, Setting, StateGuard};

fn main() -> anyhow::Result<()> {
    let mut guard = StateGuard::new(Environment::Host)?;
    let before = guard.snapshot().expect("fresh guard").status;
    guard.set(Setting::BacklogLimit, before.backlog_limit + 4321)?;
    guard.set(Setting::RateLimit, 777)?;
    guard.run_auditctl(&["-a", "always,exit", "-F", "arch=b64", "-S", "uname", "-k", "audit-verify-hold"])?;
    guard.run_auditctl(&["-w", "/etc/hostname", "-p", "wa", "-k", "audit-verify-hold"])?;
    println!("changed");
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
