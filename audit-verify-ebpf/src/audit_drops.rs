//! Records the kernel built and then dropped: `skb:kfree_skb` events whose location lies in an audit
//! function (ranges from kallsyms, passed in by userspace). The function tells the reason: `audit_log_end`
//! drops for the rate limit, `kauditd_hold_skb` / `kauditd_retry_skb` when their queues overflow.
//! Backlog-limit drops happen in `audit_log_start` before an skb exists: they only show in `lost`.

use audit_verify_common::measure::{AddrRange, MAX_AUDIT_RANGES};
use aya_ebpf::{
    macros::{map, tracepoint},
    maps::{Array, PerCpuArray},
    programs::TracePointContext,
};

#[unsafe(no_mangle)]
static AUDIT_RANGE_COUNT: u32 = 0;

/// Lowest start and highest end of the ranges.
#[unsafe(no_mangle)]
static AUDIT_SPAN_START: u64 = 0;
#[unsafe(no_mangle)]
static AUDIT_SPAN_END: u64 = 0;

/// Offset of `location` in the `kfree_skb` record, read from tracefs.
#[unsafe(no_mangle)]
static KFREE_SKB_LOCATION_OFFSET: u32 = 16;

#[map]
static AUDIT_RANGES: Array<AddrRange> = Array::with_max_entries(MAX_AUDIT_RANGES, 0);

#[map]
static DROPS_BY_RANGE: PerCpuArray<u64> = PerCpuArray::with_max_entries(MAX_AUDIT_RANGES, 0);

#[tracepoint(category = "skb", name = "kfree_skb")]
pub fn audit_drops(ctx: TracePointContext) -> u32 {
    match try_audit_drops(&ctx) {
        Ok(ret) | Err(ret) => ret,
    }
}

#[inline(always)]
fn try_audit_drops(ctx: &TracePointContext) -> Result<u32, u32> {
    let offset = unsafe { core::ptr::read_volatile(&raw const KFREE_SKB_LOCATION_OFFSET) } as usize;
    let location: u64 = unsafe { ctx.read_at(offset) }.map_err(|_| 0u32)?;
    let count = unsafe { core::ptr::read_volatile(&raw const AUDIT_RANGE_COUNT) }.min(MAX_AUDIT_RANGES);
    // Most frees are network packets far from audit code: reject them on the span of all ranges.
    let (low, high) = (unsafe { core::ptr::read_volatile(&raw const AUDIT_SPAN_START) }, unsafe {
        core::ptr::read_volatile(&raw const AUDIT_SPAN_END)
    });
    if location < low || location >= high {
        return Ok(0);
    }
    // Ranges are few (about ten); a linear scan keeps the verifier's job trivial.
    for i in 0..MAX_AUDIT_RANGES {
        if i >= count {
            break;
        }
        let Some(range) = AUDIT_RANGES.get(i) else { break };
        if location >= range.start && location < range.end {
            if let Some(slot) = DROPS_BY_RANGE.get_ptr_mut(i) {
                // SAFETY: a per-CPU slot; tracepoints run with preemption off.
                unsafe { *slot += 1 };
            }
            break;
        }
    }
    Ok(0)
}
