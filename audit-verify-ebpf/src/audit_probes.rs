//! The kprobe/fentry backend: probes on the audit subsystem's own functions, so that every drop is
//! counted where the kernel counts it (`audit_log_lost`, the only function that increments `lost`) and
//! carries the kernel's own reason (its `message` argument).
//!
//! Each hook has an fentry/fexit program and a kprobe/kretprobe program with the same body; userspace
//! (audit-verify/src/measure/probe_backend.rs) declares which to try in which order and attaches one.
//! Prototypes are from `kernel/audit.c` and `net/netlink/af_netlink.c`, checked against Linux 6.1 and 6.18:
//! <https://elixir.bootlin.com/linux/v6.18/source/kernel/audit.c>.

use audit_verify_common::probes::{
    LOST_MESSAGE_LEN, LostMessage, MAX_LOST_MESSAGES, MAX_RECORD_TYPE, ProbeCounter, SerialRange,
};
use aya_ebpf::{
    helpers::{bpf_get_current_comm, bpf_probe_read_kernel, bpf_probe_read_kernel_str_bytes},
    macros::{fentry, fexit, kprobe, kretprobe, map},
    maps::{PerCpuArray, PerCpuHashMap},
    programs::{FEntryContext, FExitContext, ProbeContext, RetProbeContext},
};

/// `offsetof(struct audit_buffer, skb)` (kernel/audit.c; 0 in every kernel so far), from BTF.
#[unsafe(no_mangle)]
static AUDIT_BUFFER_SKB_OFFSET: u32 = 0;
/// `offsetof(struct sk_buff, data)`, from BTF.
#[unsafe(no_mangle)]
static SKB_DATA_OFFSET: u32 = 0;

#[map]
static PROBE_COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(ProbeCounter::COUNT, 0);
#[map]
static RECORD_TYPES: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_RECORD_TYPE, 0);
#[map]
static RECORD_SERIALS: PerCpuArray<SerialRange> = PerCpuArray::with_max_entries(1, 0);
#[map]
static LOST_MESSAGES: PerCpuHashMap<u64, LostMessage> = PerCpuHashMap::with_max_entries(MAX_LOST_MESSAGES, 0);

/// `NLMSG_HDRLEN`: the record text follows the 16-byte netlink header.
const NLMSG_HDRLEN: usize = 16;
/// `offsetof(struct nlmsghdr, nlmsg_type)`: uapi, fixed.
const NLMSG_TYPE: usize = 4;
/// Enough of the text for `audit(<sec>.<ms>:<serial>): `.
const PREFIX_LEN: usize = 40;

#[inline(always)]
fn global(g: &u32) -> usize {
    unsafe { core::ptr::read_volatile(g) as usize }
}

#[inline(always)]
fn bump(counter: ProbeCounter) {
    if let Some(p) = PROBE_COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: a per-CPU slot; BPF programs run with migration off.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
unsafe fn read<T>(base: *const u8, offset: usize) -> Result<T, u32> {
    unsafe { bpf_probe_read_kernel(base.add(offset).cast::<T>()).map_err(|_| 0u32) }
}

// ---- audit_log_start ------------------------------------------------------------------------------
// struct audit_buffer *audit_log_start(struct audit_context *ctx, gfp_t gfp_mask, int type);
// kernel/audit.c, this prototype since 2.6.12. Returns NULL after audit_log_lost("backlog limit
// exceeded") or ("out of memory in audit_log_start"), and also, without a drop, when an exclude rule
// filters the type out or audit is not initialised: NULLs are counted, drops are counted at audit_log_lost.

#[fexit(function = "audit_log_start")]
pub fn fexit_audit_log_start(ctx: FExitContext) -> i32 {
    // The return value follows the three arguments (works before bpf_get_func_ret, Linux 5.17).
    on_log_start_return(ctx.arg::<u64>(3));
    0
}

#[kretprobe]
pub fn kretprobe_audit_log_start(ctx: RetProbeContext) -> u32 {
    on_log_start_return(ctx.ret::<u64>());
    0
}

#[inline(always)]
fn on_log_start_return(ab: u64) {
    bump(ProbeCounter::LogStartCalls);
    if ab == 0 {
        bump(ProbeCounter::LogStartNull);
    }
}

// ---- audit_log_end --------------------------------------------------------------------------------
// void audit_log_end(struct audit_buffer *ab); kernel/audit.c, since 2.6.12 (compilers may split it into
// audit_log_end.part.0, as 6.18's does; the exported symbol stays the entry). Queues ab->skb on
// audit_queue unless the rate limit drops it (then audit_log_lost("rate limit exceeded")).
// Read: ab->skb->data, the netlink header (nlmsg_type: the record type) and the text after it, which
// audit_log_start wrote as "audit(<sec>.<ms>:<serial>): " (the serial). Offsets of audit_buffer.skb and
// sk_buff.data come from BTF at load time.

#[fentry(function = "audit_log_end")]
pub fn fentry_audit_log_end(ctx: FEntryContext) -> i32 {
    let _ = on_log_end(ctx.arg::<*const u8>(0));
    0
}

#[kprobe]
pub fn kprobe_audit_log_end(ctx: ProbeContext) -> u32 {
    if let Some(ab) = ctx.arg::<*const u8>(0) {
        let _ = on_log_end(ab);
    }
    0
}

#[inline(always)]
fn on_log_end(ab: *const u8) -> Result<u32, u32> {
    if ab.is_null() {
        return Ok(0);
    }
    bump(ProbeCounter::LogEndRecords);
    let skb: *const u8 = unsafe { read(ab, global(&AUDIT_BUFFER_SKB_OFFSET))? };
    let data: *const u8 = unsafe { read(skb, global(&SKB_DATA_OFFSET))? };
    let record_type: u16 = unsafe { read(data, NLMSG_TYPE)? };
    match RECORD_TYPES.get_ptr_mut(u32::from(record_type)) {
        // SAFETY: a per-CPU slot.
        Some(p) if u32::from(record_type) < MAX_RECORD_TYPE => unsafe { *p += 1 },
        _ => bump(ProbeCounter::TypeOutOfRange),
    }
    let prefix: [u8; PREFIX_LEN] = match unsafe { read(data, NLMSG_HDRLEN) } {
        Ok(p) => p,
        Err(e) => {
            bump(ProbeCounter::SerialUnparsed);
            return Err(e);
        }
    };
    match parse_serial(&prefix) {
        Some(serial) => {
            if let Some(range) = RECORD_SERIALS.get_ptr_mut(0) {
                // SAFETY: a per-CPU slot.
                let range = unsafe { &mut *range };
                // The map starts zeroed: 0 is "none yet" for min (serials start at 1).
                if range.min == 0 || serial < range.min {
                    range.min = serial;
                }
                if serial > range.max {
                    range.max = serial;
                }
            }
        }
        None => bump(ProbeCounter::SerialUnparsed),
    }
    Ok(0)
}

/// The digits between the first ':' and the following ')' of `audit(1700000000.123:456): `.
#[inline(always)]
fn parse_serial(prefix: &[u8; PREFIX_LEN]) -> Option<u64> {
    let mut serial: u64 = 0;
    let mut in_serial = false;
    for &c in prefix {
        if !in_serial {
            in_serial = c == b':';
        } else if c.is_ascii_digit() {
            serial = serial * 10 + u64::from(c - b'0');
        } else {
            return (c == b')').then_some(serial);
        }
    }
    None
}

// ---- audit_log_lost -------------------------------------------------------------------------------
// void audit_log_lost(const char *message); kernel/audit.c, since 2.6.12. It increments audit_lost (the
// `lost` counter) and nothing else does. Callers and messages in 6.x: audit_log_start ("backlog limit
// exceeded", "out of memory in audit_log_start"), audit_log_end ("rate limit exceeded"),
// kauditd_hold_skb ("kauditd hold queue overflow", and "kauditd retry queue overflow" since 5.17),
// kauditd_retry_skb ("kauditd retry queue overflow").
// Read: the message, a string literal, so its address identifies it; its text is read once per CPU.

#[fentry(function = "audit_log_lost")]
pub fn fentry_audit_log_lost(ctx: FEntryContext) -> i32 {
    on_log_lost(ctx.arg::<*const u8>(0));
    0
}

#[kprobe]
pub fn kprobe_audit_log_lost(ctx: ProbeContext) -> u32 {
    on_log_lost(ctx.arg::<*const u8>(0).unwrap_or(core::ptr::null()));
    0
}

#[inline(always)]
fn on_log_lost(message: *const u8) {
    bump(ProbeCounter::LostCalls);
    let key = message as u64;
    if let Some(seen) = LOST_MESSAGES.get_ptr_mut(key) {
        // SAFETY: this CPU's value; a message first seen on another CPU has count 0 and no text here.
        unsafe { (*seen).count += 1 };
        return;
    }
    let mut value = LostMessage { count: 1, text: [0; LOST_MESSAGE_LEN] };
    if message.is_null() || unsafe { bpf_probe_read_kernel_str_bytes(message, &mut value.text) }.is_err() {
        bump(ProbeCounter::LostUnclassified);
    }
    if LOST_MESSAGES.insert(key, value, 0).is_err() {
        bump(ProbeCounter::LostUnclassified);
    }
}

// ---- kauditd's send path --------------------------------------------------------------------------
// static void kauditd_hold_skb(struct sk_buff *skb, int error);
// static void kauditd_retry_skb(struct sk_buff *skb, int error);
// static void kauditd_rehold_skb(struct sk_buff *skb, int error);
// kernel/audit.c: since 4.11 (kauditd rework) with `(struct sk_buff *skb)`, `int error` since 5.17.
// kauditd_send_queue() gets them as function pointers; a compiler may specialise and inline them into it
// (no symbol, no BTF function): userspace then logs the hook as skipped. Only calls are counted.

#[fentry(function = "kauditd_hold_skb")]
pub fn fentry_kauditd_hold_skb(_ctx: FEntryContext) -> i32 {
    bump(ProbeCounter::HoldSkb);
    0
}

#[kprobe]
pub fn kprobe_kauditd_hold_skb(_ctx: ProbeContext) -> u32 {
    bump(ProbeCounter::HoldSkb);
    0
}

#[fentry(function = "kauditd_retry_skb")]
pub fn fentry_kauditd_retry_skb(_ctx: FEntryContext) -> i32 {
    bump(ProbeCounter::RetrySkb);
    0
}

#[kprobe]
pub fn kprobe_kauditd_retry_skb(_ctx: ProbeContext) -> u32 {
    bump(ProbeCounter::RetrySkb);
    0
}

#[fentry(function = "kauditd_rehold_skb")]
pub fn fentry_kauditd_rehold_skb(_ctx: FEntryContext) -> i32 {
    bump(ProbeCounter::ReholdSkb);
    0
}

#[kprobe]
pub fn kprobe_kauditd_rehold_skb(_ctx: ProbeContext) -> u32 {
    bump(ProbeCounter::ReholdSkb);
    0
}

// int netlink_unicast(struct sock *ssk, struct sk_buff *skb, u32 portid, int nonblock);
// net/netlink/af_netlink.c, since 2.6.12. kauditd's only unicast is the record to auditd
// (auditd_send_unicast_skb): >= 0 delivered, < 0 not (-ECONNREFUSED: auditd gone; -EAGAIN: its socket
// is full). Only calls made by the kauditd thread are counted.

#[fexit(function = "netlink_unicast")]
#[expect(clippy::cast_possible_truncation, reason = "the `int` return value is the register's low half")]
pub fn fexit_netlink_unicast(ctx: FExitContext) -> i32 {
    on_unicast_return(ctx.arg::<u64>(4) as i32);
    0
}

#[kretprobe]
#[expect(clippy::cast_possible_truncation, reason = "the `int` return value is the register's low half")]
pub fn kretprobe_netlink_unicast(ctx: RetProbeContext) -> u32 {
    on_unicast_return(ctx.ret::<u64>() as i32);
    0
}

#[inline(always)]
fn on_unicast_return(ret: i32) {
    let Ok(comm) = bpf_get_current_comm() else { return };
    if comm[..8] != *b"kauditd\0" {
        return;
    }
    bump(if ret >= 0 { ProbeCounter::UnicastDelivered } else { ProbeCounter::UnicastFailed });
}
