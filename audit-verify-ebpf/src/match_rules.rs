//! Layer 1 of `measure`: what happened, independently of audit. At every syscall exit, the loaded exit
//! rules are evaluated in kernel order as `audit_filter_syscall` does (the first matching rule decides),
//! using what the task holds at that moment: syscall number and ABI, uid, euid, gid, auid, the return
//! value and the first four arguments. A rule with other filters (paths, exe, -C, LSM labels) is opaque:
//! unless one of the conditions we can evaluate fails, a syscall it selects is counted as undecided and
//! evaluation stops, since its real filter may match.
//!
//! Two entry points, one evaluation. `match_rules` sits on the `sys_exit` raw tracepoint and runs for
//! every syscall of the host (about 100 ns each on a retpoline VM, most of it the dispatch itself).
//! `match_rules_per_syscall` is attached to `syscalls:sys_exit_NAME` for each syscall the rules select:
//! the kernel tests its bitmap before running any program, so the syscalls no rule names cost nothing.
//! Those events never fire for 32-bit syscalls, which only the raw tracepoint sees.

use audit_verify_common::{
    measure::{Facts, MASK_WORDS, MAX_RULES, RuleFilter},
    rule_semantics::{ARCH_B32, ARCH_B64, FirstMatch, MASK_BITS, Match, first_match, in_mask},
};
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid, bpf_get_current_task, bpf_get_current_uid_gid, bpf_probe_read_kernel,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::{map, raw_tracepoint, tracepoint},
    maps::{Array, PerCpuArray},
    programs::{RawTracePointContext, TracePointContext},
};

#[unsafe(no_mangle)]
static RULE_COUNT: u32 = 0;
#[unsafe(no_mangle)]
static TASK_LOGINUID_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static TASK_CRED_OFFSET: u32 = 0;
#[unsafe(no_mangle)]
static CRED_EUID_OFFSET: u32 = 0;
/// `task_struct.thread_info.status`, where x86 keeps `TS_COMPAT`.
#[unsafe(no_mangle)]
static TASK_STATUS_OFFSET: u32 = 0;
/// Offset of `ret` in `syscalls:sys_exit_*` records on this kernel.
#[unsafe(no_mangle)]
static SYS_EXIT_RET_OFFSET: u32 = 0;

/// `x86_64` `struct pt_regs` is the syscall ABI itself: these offsets do not move between kernels.
const PT_REGS_ORIG_AX: usize = 15 * 8;
const PT_REGS_DI: usize = 14 * 8;
const PT_REGS_SI: usize = 13 * 8;
const PT_REGS_DX: usize = 12 * 8;
const PT_REGS_R10: usize = 7 * 8;
/// `arch/x86/include/asm/thread_info.h`: a 32-bit syscall is active.
const TS_COMPAT: u32 = 0x0002;

#[map]
static RULE_FILTERS: Array<RuleFilter> = Array::with_max_entries(MAX_RULES, 0);

#[map]
static RULE_HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(2 * MAX_RULES, 0);

/// The union of every counted rule's syscall mask: a syscall outside it leaves after one read.
#[unsafe(no_mangle)]
static ANY_RULE_MASK: [u32; MASK_WORDS] = [0; MASK_WORDS];

#[inline(always)]
fn global(g: &u32) -> u32 {
    unsafe { core::ptr::read_volatile(g) }
}

#[inline(always)]
unsafe fn read<T>(base: *const u8, offset: usize) -> Result<T, i32> {
    unsafe { bpf_probe_read_kernel(base.add(offset).cast::<T>()) }
}

/// Raw tracepoint `sys_exit`, args `(struct pt_regs *regs, long ret)`.
#[raw_tracepoint(tracepoint = "sys_exit")]
pub fn match_rules(ctx: RawTracePointContext) -> i32 {
    match try_match_rules(&ctx) {
        Ok(ret) | Err(ret) => ret,
    }
}

#[inline(always)]
fn try_match_rules(ctx: &RawTracePointContext) -> Result<i32, i32> {
    let regs: *const u8 = ctx.arg(0);
    let ret: i64 = ctx.arg(1);
    evaluate(regs, ret, None)
}

/// Tracepoint `syscalls:sys_exit_NAME`, attached once per selected syscall. Always a 64-bit syscall.
#[tracepoint]
pub fn match_rules_per_syscall(ctx: TracePointContext) -> u32 {
    let Ok(ret) = (unsafe { ctx.read_at::<i64>(global(&SYS_EXIT_RET_OFFSET) as usize) }) else { return 0 };
    // SAFETY: helpers with no preconditions; the verifier types both pointers.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    match evaluate(regs, ret, Some(ARCH_B64)) {
        Ok(_) | Err(_) => 0,
    }
}

/// The rules in kernel order against one syscall exit (`audit_filter_syscall`; the semantics are
/// audit-verify-common's). `arch`: known from the hook, or read from the task.
#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "`nr` is below `MASK_BITS` where it is cast")]
fn evaluate(regs: *const u8, ret: i64, arch: Option<u32>) -> Result<i32, i32> {
    let count = global(&RULE_COUNT).min(MAX_RULES);
    if count == 0 {
        return Ok(0);
    }
    let nr: u64 = unsafe { read(regs, PT_REGS_ORIG_AX)? };
    if nr >= u64::from(MASK_BITS) {
        return Ok(0);
    }
    let nr = nr as u32;
    if !in_mask(&ANY_RULE_MASK, nr) {
        return Ok(0);
    }
    // Our own process last: it costs a helper call, and only selected syscalls get here.
    if (bpf_get_current_pid_tgid() >> 32) as u32 == global(&crate::LOADER_TGID) {
        return Ok(0);
    }
    let task = unsafe { bpf_get_current_task() } as *const u8;
    let arch = if let Some(arch) = arch {
        arch
    } else {
        let status: u32 = unsafe { read(task, global(&TASK_STATUS_OFFSET) as usize)? };
        if status & TS_COMPAT != 0 { ARCH_B32 } else { ARCH_B64 }
    };
    // Number and ABI are read for every selected syscall; the rest only once a rule selects it, so that
    // a syscall no rule of its ABI names costs few reads.
    let mut facts: Option<Facts> = None;
    let decided = first_match(count, MAX_RULES, |i| -> Result<Match, i32> {
        let Some(rule) = RULE_FILTERS.get(i) else { return Ok(Match::No) };
        if !rule.selects(nr, arch) {
            return Ok(Match::No);
        }
        if facts.is_none() {
            facts = Some(unsafe { read_facts(task, regs, ret)? });
        }
        let Some(facts) = &facts else { return Ok(Match::No) };
        Ok(rule.judge(facts))
    })?;
    match decided {
        FirstMatch::Rule(i) => bump(i),
        FirstMatch::Undecided(i) => bump(MAX_RULES + i),
        FirstMatch::None => {}
    }
    Ok(0)
}

#[inline(always)]
#[expect(clippy::cast_possible_truncation, reason = "`bpf_get_current_uid_gid` packs the uid in the low half")]
unsafe fn read_facts(task: *const u8, regs: *const u8, ret: i64) -> Result<Facts, i32> {
    let auid: u32 = unsafe { read(task, global(&TASK_LOGINUID_OFFSET) as usize)? };
    let cred: *const u8 = unsafe { read(task, global(&TASK_CRED_OFFSET) as usize)? };
    let euid: u32 = unsafe { read(cred, global(&CRED_EUID_OFFSET) as usize)? };
    let uid_gid = bpf_get_current_uid_gid();
    let args = unsafe {
        [read(regs, PT_REGS_DI)?, read(regs, PT_REGS_SI)?, read(regs, PT_REGS_DX)?, read(regs, PT_REGS_R10)?]
    };
    Ok(Facts { uid: uid_gid as u32, gid: (uid_gid >> 32) as u32, euid, auid, ret, args })
}

#[inline(always)]
fn bump(slot: u32) {
    if let Some(p) = RULE_HITS.get_ptr_mut(slot) {
        // SAFETY: a per-CPU slot; tracepoints run with preemption off.
        unsafe { *p += 1 };
    }
}
