//! The eBPF object, built from audit-verify-ebpf by build.rs and embedded in the binary.

use audit_verify_common::names;
use aya::{Ebpf, EbpfError, EbpfLoader};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/audit-verify"));

/// Load-time settings passed to the programs as globals.
#[derive(Debug, Clone, Copy, Default)]
pub struct Globals {
    /// Our TGID: the sensors skip it in the kernel.
    pub loader_tgid: u32,
    /// Offset of `child_pid` in `sched_process_fork` records on this kernel.
    pub fork_child_pid_offset: u32,
}

/// Parses the object and creates its maps; programs are loaded one by one by their users.
pub fn load(globals: Globals) -> Result<Ebpf, EbpfError> {
    let Globals { loader_tgid, fork_child_pid_offset } = globals;
    EbpfLoader::new()
        .override_global(names::GLOBAL_LOADER_TGID, &loader_tgid, true)
        .override_global(names::GLOBAL_FORK_CHILD_PID_OFFSET, &fork_child_pid_offset, true)
        .load(OBJECT)
}
