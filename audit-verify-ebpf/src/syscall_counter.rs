//! Counts the syscalls of a followed set of processes, by syscall number.
//!
//! Userspace seeds `FOLLOWED_TGIDS`; `follow_forks` adds every child of a followed process, so a whole
//! process tree is followed. The loader's own TGID is a load-time global and is skipped here, in the kernel,
//! so that reading the counters never counts itself.

use audit_verify_common::syscall_counter::{MAX_FOLLOWED_TGIDS, MAX_SYSCALL_NR, Stat};
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{map, raw_tracepoint, tracepoint},
    maps::{LruHashMap, PerCpuArray},
    programs::{RawTracePointContext, TracePointContext},
};

#[unsafe(no_mangle)]
static FORK_CHILD_PID_OFFSET: u32 = 0;

#[map]
static FOLLOWED_TGIDS: LruHashMap<u32, u32> = LruHashMap::with_max_entries(MAX_FOLLOWED_TGIDS, 0);

#[map]
static SYSCALL_COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_SYSCALL_NR, 0);

#[map]
static SENSOR_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Stat::COUNT, 0);

#[inline(always)]
fn bump(map: &PerCpuArray<u64>, index: u32) {
    if let Some(slot) = map.get_ptr_mut(index) {
        // Per-CPU slot: no other CPU writes it, and preemption is off in tracepoints.
        unsafe { *slot += 1 };
    }
}

#[inline(always)]
fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
fn is_followed(tgid: u32) -> bool {
    FOLLOWED_TGIDS.get_ptr(tgid).is_some()
}

/// `raw_syscalls:sys_enter`, args `(struct pt_regs *regs, long id)`.
#[raw_tracepoint(tracepoint = "sys_enter")]
pub fn count_syscalls(ctx: RawTracePointContext) -> i32 {
    match try_count_syscalls(&ctx) {
        Ok(ret) | Err(ret) => ret,
    }
}

#[inline(always)]
#[expect(clippy::unnecessary_wraps, reason = "STYLE 4: every program is a thin entry over a `try_` function")]
fn try_count_syscalls(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let tgid = current_tgid();
    if tgid == unsafe { core::ptr::read_volatile(&raw const crate::LOADER_TGID) } {
        bump(&SENSOR_STATS, Stat::SelfSkipped as u32);
        return Ok(0);
    }
    if !is_followed(tgid) {
        return Ok(0);
    }
    let nr: i64 = ctx.arg(1);
    match u32::try_from(nr) {
        Ok(nr) if nr < MAX_SYSCALL_NR => bump(&SYSCALL_COUNTS, nr),
        _ => bump(&SENSOR_STATS, Stat::OutOfRange as u32),
    }
    Ok(0)
}

/// `sched:sched_process_fork`; runs in the parent, so the current TGID is the parent's.
#[tracepoint(category = "sched", name = "sched_process_fork")]
pub fn follow_forks(ctx: TracePointContext) -> u32 {
    match try_follow_forks(&ctx) {
        Ok(ret) | Err(ret) => ret,
    }
}

#[inline(always)]
fn try_follow_forks(ctx: &TracePointContext) -> Result<u32, u32> {
    if !is_followed(current_tgid()) {
        return Ok(0);
    }
    let offset = unsafe { core::ptr::read_volatile(&raw const FORK_CHILD_PID_OFFSET) } as usize;
    let child: i32 = unsafe { ctx.read_at(offset) }.map_err(|_| 0u32)?;
    // A new thread's child_pid is a TID of a followed TGID: adding it is harmless, and the LRU evicts it.
    match FOLLOWED_TGIDS.insert(child.cast_unsigned(), 1, 0) {
        Ok(()) => bump(&SENSOR_STATS, Stat::ForksFollowed as u32),
        Err(_) => bump(&SENSOR_STATS, Stat::FollowFailed as u32),
    }
    Ok(0)
}
