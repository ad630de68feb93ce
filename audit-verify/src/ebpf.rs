//! The eBPF object, built from audit-verify-ebpf by build.rs and embedded in the binary.

use audit_verify_common::names;
use aya::{Ebpf, EbpfError, EbpfLoader};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/audit-verify"));

/// Load-time settings passed to the programs as globals. Each sensor fills what it needs; the rest stay 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Globals {
    /// Our TGID: the sensors skip it in the kernel.
    pub loader_tgid: u32,
    /// Offset of `child_pid` in `sched_process_fork` records on this kernel.
    pub fork_child_pid_offset: u32,
    /// How many `AUDIT_RANGES` entries are filled, and the span they cover.
    pub audit_range_count: u32,
    pub audit_span: (u64, u64),
    /// Offset of `location` in `kfree_skb` records on this kernel.
    pub kfree_skb_location_offset: u32,
    /// How many `RULE_FILTERS` entries are filled, and the union of their syscall masks.
    pub rule_count: u32,
    pub any_rule_mask: SyscallMask,
    /// Offsets from kernel BTF: `task_struct.loginuid`, `task_struct.cred`, `cred.euid`,
    /// `task_struct.thread_info.status`.
    pub task_loginuid_offset: u32,
    pub task_cred_offset: u32,
    pub cred_euid_offset: u32,
    pub task_status_offset: u32,
    /// Offset of `ret` in `syscalls:sys_exit_*` records on this kernel.
    pub sys_exit_ret_offset: u32,
    /// Offsets from kernel BTF for the probe backend: `audit_buffer.skb`, `sk_buff.data`.
    pub audit_buffer_skb_offset: u32,
    pub skb_data_offset: u32,
    /// `predict`'s offsets and switch (all zero: the matcher reads no objects, as for `measure`).
    pub predict: audit_verify_common::measure::PredictOffsets,
}

/// A syscall bit mask (`AUDIT_BITMASK_SIZE` words); arrays this long have no `Default` of their own.
#[derive(Debug, Clone, Copy)]
pub struct SyscallMask(pub [u32; audit_verify_common::measure::MASK_WORDS]);

impl Default for SyscallMask {
    fn default() -> Self {
        Self([0; audit_verify_common::measure::MASK_WORDS])
    }
}

/// Parses the object and creates its maps; programs are loaded one by one by their users.
///
/// # Errors
///
/// When the object does not parse (BTF relocation against this kernel) or a map cannot be created.
pub fn load(globals: Globals) -> Result<Ebpf, EbpfError> {
    let Globals {
        loader_tgid,
        fork_child_pid_offset,
        audit_range_count,
        audit_span,
        kfree_skb_location_offset,
        rule_count,
        any_rule_mask,
        task_loginuid_offset,
        task_cred_offset,
        cred_euid_offset,
        task_status_offset,
        sys_exit_ret_offset,
        audit_buffer_skb_offset,
        skb_data_offset,
        predict,
    } = globals;
    EbpfLoader::new()
        .override_global(names::GLOBAL_LOADER_TGID, &loader_tgid, true)
        .override_global(names::GLOBAL_FORK_CHILD_PID_OFFSET, &fork_child_pid_offset, true)
        .override_global(names::GLOBAL_AUDIT_RANGE_COUNT, &audit_range_count, true)
        .override_global(names::GLOBAL_AUDIT_SPAN_START, &audit_span.0, true)
        .override_global(names::GLOBAL_AUDIT_SPAN_END, &audit_span.1, true)
        .override_global(names::GLOBAL_KFREE_SKB_LOCATION_OFFSET, &kfree_skb_location_offset, true)
        .override_global(names::GLOBAL_RULE_COUNT, &rule_count, true)
        .override_global(names::GLOBAL_ANY_RULE_MASK, &any_rule_mask.0, true)
        .override_global(names::GLOBAL_TASK_LOGINUID_OFFSET, &task_loginuid_offset, true)
        .override_global(names::GLOBAL_TASK_CRED_OFFSET, &task_cred_offset, true)
        .override_global(names::GLOBAL_CRED_EUID_OFFSET, &cred_euid_offset, true)
        .override_global(names::GLOBAL_TASK_STATUS_OFFSET, &task_status_offset, true)
        .override_global(names::GLOBAL_SYS_EXIT_RET_OFFSET, &sys_exit_ret_offset, true)
        .override_global(names::GLOBAL_AUDIT_BUFFER_SKB_OFFSET, &audit_buffer_skb_offset, true)
        .override_global(names::GLOBAL_SKB_DATA_OFFSET, &skb_data_offset, true)
        .override_global(names::GLOBAL_PREDICT_OFFSETS, &predict, true)
        .load(OBJECT)
}
