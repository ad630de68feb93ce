//! One trivial program per hook mechanism. Userspace loads and attaches each: success is the proof that
//! the kernel supports the mechanism, a refusal is the final answer (feature flags can lie; attaching cannot).
//! Ring buffers are probed from userspace by creating one, so that a kernel without them can still load
//! this object.

use aya_ebpf::{
    macros::{fentry, kprobe, raw_tracepoint, tracepoint},
    programs::{FEntryContext, ProbeContext, RawTracePointContext, TracePointContext},
};

#[tracepoint]
pub fn probe_tracepoint(_ctx: TracePointContext) -> u32 {
    0
}

#[raw_tracepoint]
pub fn probe_raw_tracepoint(_ctx: RawTracePointContext) -> i32 {
    0
}

/// Attached to `audit_log_end`, the function the kprobe backend hooks.
#[kprobe]
pub fn probe_kprobe(_ctx: ProbeContext) -> u32 {
    0
}

/// `void audit_log_end(struct audit_buffer *ab)`, kernel/audit.c, stable since 2.6.
#[fentry(function = "audit_log_end")]
pub fn probe_fentry(_ctx: FEntryContext) -> i32 {
    0
}
