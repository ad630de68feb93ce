//! audit-verify: proves, with evidence, whether Linux audit records what its operator thinks it records.
//!
//! Layout by capability: [`netlink`] speaks to the kernel's audit subsystem, [`guard`] is the only way we
//! change its state, [`capability`] finds what this kernel lets us measure, [`sensor`] holds the eBPF
//! sensors, [`tamper`] looks for others' BPF programs on the audit path, [`host_status`] puts it together.

// Every dependency must earn its place. The unit tests' build also links the dev-dependencies, which only
// the integration tests use: expected there, so that a workspace-wide setting does not flag them either.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![cfg_attr(test, expect(unused_crate_dependencies, reason = "the dev-dependencies are the integration tests'"))]

// The binary's own dependencies (src/main.rs and src/cli/): the binary cannot check its dependencies
// (it links all of the library's too), so they are named here, where the check runs.
use clap as _;
use clap_complete as _;
use clap_mangen as _;
use env_logger as _;
use serde_json as _;

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
pub mod watch;
