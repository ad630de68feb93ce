//! `audit-verify count-syscalls`: the first sensor, from the command line.

use std::time::Duration;

use anyhow::bail;
use audit_verify::{
    sensor::{stopped_child::StoppedChild, syscall_counter::SyscallCounter},
    syscalls::{self, Abi},
};
use serde_json::json;

use super::{
    Outcome,
    output::{errln, outln},
};

pub fn run(pids: &[u32], duration: u64, json: bool, command: &[String]) -> anyhow::Result<Outcome> {
    if pids.is_empty() == command.is_empty() {
        bail!("give either --pid PID (repeatable) or a command after `--`");
    }
    let mut sensor = SyscallCounter::attach()?;
    let exit_code = if command.is_empty() {
        for pid in pids {
            sensor.follow(*pid)?;
        }
        errln!("counting syscalls of {pids:?} and their new children for {duration} s");
        std::thread::sleep(Duration::from_secs(duration));
        None
    } else {
        let child = StoppedChild::spawn(command)?;
        sensor.follow(child.pid())?;
        Some(child.resume_and_wait()?)
    };
    let counts = sensor.counts()?;
    let rows: Vec<(u32, &str, u64)> =
        counts.by_syscall.iter().map(|(nr, n)| (*nr, syscalls::name(Abi::B64, *nr).unwrap_or("?"), *n)).collect();
    if json {
        let by_syscall: Vec<_> = rows.iter().map(|(nr, name, n)| json!({"nr": nr, "name": name, "count": n})).collect();
        let report = json!({
            "command_exit_code": exit_code,
            "syscalls": by_syscall,
            "total": counts.by_syscall.values().sum::<u64>(),
            "self_skipped": counts.self_skipped,
            "out_of_range": counts.out_of_range,
            "forks_followed": counts.forks_followed,
            "follow_failed": counts.follow_failed,
        });
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{:>5}  {:<24} {:>10}", "nr", "syscall", "count");
        for (nr, name, n) in &rows {
            outln!("{nr:>5}  {name:<24} {n:>10}");
        }
        outln!("forks followed {}, not followed {}", counts.forks_followed, counts.follow_failed);
    }
    if counts.follow_failed > 0 {
        log::warn!("{} children could not be followed: their syscalls are missing", counts.follow_failed);
    }
    Ok(Outcome::Clean)
}
