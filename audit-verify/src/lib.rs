//! audit-verify: proves, with evidence, whether Linux audit records what its operator thinks it records.
//!
//! Layout by capability: [`netlink`] speaks to the kernel's audit subsystem, [`guard`] is the only way we
//! change its state, [`capability`] finds what this kernel lets us measure, [`sensor`] holds the eBPF
//! sensors, [`tamper`] looks for others' BPF programs on the audit path, [`host_status`] puts it together.

pub mod auditd_conf;
pub mod auditlog;
pub mod barrier;
pub mod btf;
pub mod capability;
pub mod check;
pub mod ebpf;
pub mod finding;
pub mod guard;
pub mod host_status;
pub mod junit;
pub mod kallsyms;
pub mod lint;
pub mod measure;
pub mod netlink;
pub mod prometheus;
pub mod prove;
pub mod rules;
pub mod sensor;
pub mod snapshot;
pub mod stop;
pub mod syscalls;
pub mod tamper;
pub mod textfile;
pub mod tracefs;
