//! The kernel sensors of one window: rule matching at syscall exit (what happened), and, for the
//! tracepoint backend only, `skb:kfree_skb` in audit functions (drops the kernel made after building a
//! record). That tracepoint runs on every freed network buffer of the host, so it is attached only when the
//! probe backend, which counts every drop at `audit_log_lost`, did not attach.

use std::collections::BTreeMap;

use anyhow::Context as _;
use audit_verify_common::{
    measure::{AddrRange, MASK_WORDS, MAX_AUDIT_RANGES, MAX_RULES, RuleFilter},
    names,
    rule_semantics::ARCH_B64,
};
use aya::{
    Ebpf,
    maps::{Array, MapData, PerCpuArray},
    programs::{RawTracePoint, TracePoint},
};

use serde::Serialize;

use super::{SyscallCounting, rule_filters::Translated};
use crate::{
    btf::Btf,
    capability::program,
    ebpf,
    kallsyms::AuditSymbols,
    syscalls::{self, Abi},
    tracefs::Tracefs,
};

/// Where the rule matcher sees syscall exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "hook")]
pub enum SyscallHook {
    /// `syscalls:sys_exit_NAME` for each selected syscall: nothing runs for the others. These events
    /// skip 32-bit syscalls.
    PerSyscall { syscalls: usize },
    /// The `sys_exit` raw tracepoint: every syscall of the host, both ABIs.
    RawSysExit { because: String },
}

/// More attachments than this, and one raw tracepoint is the better trade.
const MAX_PER_SYSCALL_EVENTS: usize = 128;

/// Drops seen in one audit function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionDrops {
    pub function: String,
    pub drops: u64,
}

/// Loaded and attached for the window; detached on drop.
pub struct KernelSensors {
    object: Ebpf,
    ranges: Vec<String>,
    rules: usize,
    /// `None`: syscalls are not counted.
    pub hook: Option<SyscallHook>,
    /// Whether the `kfree_skb` drop sensor is attached.
    pub counts_drops: bool,
    _tracefs: Tracefs,
}

/// `audit_log_end` (rate limit), `audit_buffer_free` (where it is not inlined), and kauditd's queue
/// handling (hold and retry overflows), compiler-split variants included.
fn frees_records(symbol: &str) -> bool {
    let base = crate::kallsyms::base_name(symbol);
    base == "audit_log_end" || base == "audit_buffer_free" || base.starts_with("kauditd_")
}

impl KernelSensors {
    /// Attaches the rule matcher where `syscalls` says, and the `kfree_skb` drop sensor when `drops`.
    /// `btf` gives the task field offsets.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "`ranges` holds at most `MAX_AUDIT_RANGES` (a u32) and `rules` at most `MAX_RULES`"
    )]
    pub fn attach(rules: &[Translated], syscalls: SyscallCounting, drops: bool, btf: &Btf) -> anyhow::Result<Self> {
        let tracefs = Tracefs::ensure()?;
        let ranges: Vec<(String, AddrRange)> = if drops {
            let symbols = AuditSymbols::load().context("reading /proc/kallsyms")?;
            // Only the functions that free records they give up on: `kfree_skb` fires for every skb freed
            // anywhere, so each range checked costs on every network packet too.
            let ranges: Vec<_> = symbols
                .ranges()
                .filter(|(name, ..)| frees_records(name))
                .take(MAX_AUDIT_RANGES as usize)
                .map(|(name, start, end)| (name.to_owned(), AddrRange { start, end }))
                .collect();
            anyhow::ensure!(!ranges.is_empty(), "no audit functions in /proc/kallsyms (addresses hidden? run as root)");
            ranges
        } else {
            Vec::new()
        };
        let thread_info = btf.member_offset("task_struct", "thread_info")?;
        let union = |arch: Option<u32>| {
            let admitted = rules.iter().take(MAX_RULES as usize).filter(|t| arch.is_none_or(|a| t.filter.admits(a)));
            admitted.fold([0; MASK_WORDS], |mut any, t| {
                any.iter_mut().zip(t.filter.mask).for_each(|(a, m)| *a |= m);
                any
            })
        };
        let any_rule_mask = union(None);
        let hook = match syscalls {
            SyscallCounting::Off => None,
            SyscallCounting::Every => Some(Err("--count-32bit".to_owned())),
            // A 32-bit rule's numbers are other syscalls in the 64-bit table: only 64-bit rules pick events.
            SyscallCounting::Selected => Some(per_syscall_events(&tracefs, &union(Some(ARCH_B64)))),
        };
        let sys_exit_ret_offset = match &hook {
            Some(Ok(events)) => tracefs.field_offset("syscalls", &events[0], "ret")?,
            _ => 0,
        };
        let globals = ebpf::Globals {
            loader_tgid: std::process::id(),
            audit_range_count: ranges.len() as u32,
            audit_span: (
                ranges.iter().map(|(_, r)| r.start).min().unwrap_or(0),
                ranges.iter().map(|(_, r)| r.end).max().unwrap_or(0),
            ),
            kfree_skb_location_offset: if drops { tracefs.field_offset("skb", "kfree_skb", "location")? } else { 0 },
            rule_count: rules.len().min(MAX_RULES as usize) as u32,
            any_rule_mask: ebpf::SyscallMask(any_rule_mask),
            task_loginuid_offset: btf.member_offset("task_struct", "loginuid")?,
            task_cred_offset: btf.member_offset("task_struct", "cred")?,
            cred_euid_offset: btf.member_offset("cred", "euid")?,
            task_status_offset: thread_info + btf.member_offset("thread_info", "status")?,
            sys_exit_ret_offset,
            ..Default::default()
        };
        let mut object = ebpf::load(globals).context("loading audit-verify's eBPF object")?;
        {
            let mut map: Array<&mut MapData, AddrRange> =
                Array::try_from(object.map_mut(names::MAP_AUDIT_RANGES).context("audit range map missing")?)?;
            for (i, (_, range)) in (0u32..).zip(ranges.iter()) {
                map.set(i, range, 0)?;
            }
        }
        {
            let mut map: Array<&mut MapData, RuleFilter> =
                Array::try_from(object.map_mut(names::MAP_RULE_FILTERS).context("rule filter map missing")?)?;
            for (i, t) in (0..MAX_RULES).zip(rules.iter()) {
                map.set(i, t.filter, 0)?;
            }
        }
        if drops {
            let sensor: &mut TracePoint = program(&mut object, names::PROG_AUDIT_DROPS)?;
            sensor.load().context("loading the kfree_skb sensor")?;
            sensor.attach("skb", "kfree_skb").context("attaching skb:kfree_skb")?;
        }
        let hook = match hook {
            None => None,
            Some(Ok(events)) => {
                let matcher: &mut TracePoint = program(&mut object, names::PROG_MATCH_RULES_PER_SYSCALL)?;
                matcher.load().context("loading the per-syscall rule matcher")?;
                for event in &events {
                    matcher.attach("syscalls", event).with_context(|| format!("attaching syscalls:{event}"))?;
                }
                Some(SyscallHook::PerSyscall { syscalls: events.len() })
            }
            Some(Err(because)) => {
                let matcher: &mut RawTracePoint = program(&mut object, names::PROG_MATCH_RULES)?;
                matcher.load().context("loading the sys_exit rule matcher")?;
                matcher.attach("sys_exit").context("attaching the sys_exit raw tracepoint")?;
                Some(SyscallHook::RawSysExit { because })
            }
        };
        let rules = if hook.is_some() { rules.len() } else { 0 };
        let ranges = ranges.into_iter().map(|(n, _)| n).collect();
        Ok(Self { object, ranges, rules, hook, counts_drops: drops, _tracefs: tracefs })
    }

    fn per_cpu_sums(&self, name: &str, slots: u32) -> anyhow::Result<Vec<u64>> {
        let map: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(self.object.map(name).context("map missing")?)?;
        (0..slots).map(|i| Ok(map.get(&i, 0)?.iter().sum())).collect()
    }

    /// IDs of our programs, whose load and unload the kernel audits.
    pub fn program_ids(&self) -> Vec<u32> {
        self.object.programs().filter_map(|(_, p)| p.info().ok().map(|i| i.id())).collect()
    }

    /// Drops per audit function, only functions with drops.
    #[expect(clippy::cast_possible_truncation, reason = "`ranges` holds at most `MAX_AUDIT_RANGES`, a u32")]
    pub fn drops(&self) -> anyhow::Result<Vec<FunctionDrops>> {
        let sums = self.per_cpu_sums(names::MAP_DROPS_BY_RANGE, self.ranges.len() as u32)?;
        Ok(self
            .ranges
            .iter()
            .zip(sums)
            .filter(|(_, n)| *n > 0)
            .map(|(f, drops)| FunctionDrops { function: f.clone(), drops })
            .collect())
    }

    /// Per counted rule: (first matches, undecided); `None` when syscalls are not counted.
    pub fn rule_hits(&self) -> anyhow::Result<Option<Vec<(u64, u64)>>> {
        if self.hook.is_none() {
            return Ok(None);
        }
        let sums = self.per_cpu_sums(names::MAP_RULE_HITS, 2 * MAX_RULES)?;
        Ok(Some((0..self.rules.min(MAX_RULES as usize)).map(|i| (sums[i], sums[MAX_RULES as usize + i])).collect()))
    }
}

/// Which stage a drop in an audit function belongs to (audit-verify-ebpf's `audit_drops.rs` says why).
/// `kauditd_send_queue` gets the hold and retry handlers as constant function pointers; compilers
/// specialise and inline them (so on Linux 6.18 their frees show there): its drops are queue overflows
/// after the multicast copy, like theirs.
pub fn reason_of(function: &str) -> &'static str {
    match crate::kallsyms::base_name(function) {
        "audit_log_end" => "rate_limit",
        "kauditd_hold_skb" | "kauditd_retry_skb" | "kauditd_send_queue" => "hold_or_retry_queue_overflow",
        _ => "other",
    }
}

/// Drops by reason for the tracepoint backend, over a growth of `lost`: dropped records name the
/// function that freed them; the rest never had a record built, which is what `audit_log_start` does
/// when the backlog is full (`said`: the kernel logged "backlog limit exceeded").
#[must_use]
pub fn attribute(lost: u64, drops: &[FunctionDrops], said: bool) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut evidence = Vec::new();
    for d in drops {
        *by_reason.entry(reason_of(&d.function).into()).or_default() += d.drops;
        evidence.push(format!("{} records freed unsent in {}", d.drops, d.function));
    }
    let with_skb: u64 = drops.iter().map(|d| d.drops).sum();
    let before_skb = lost.saturating_sub(with_skb);
    if before_skb > 0 {
        by_reason.insert("backlog_limit".into(), before_skb);
        evidence.push(format!(
            "lost rose by {lost}, {before_skb} of them with no record ever built: audit_log_start refused them{}",
            if said { " (the kernel logged \"backlog limit exceeded\")" } else { "" }
        ));
    }
    if with_skb > lost {
        evidence.push(format!("{with_skb} freed records against a lost delta of {lost}: some frees were not drops"));
    }
    (by_reason, evidence)
}

/// The `syscalls:sys_exit_NAME` events for every syscall in `mask` (64-bit numbers), or why one raw
/// tracepoint must do instead.
fn per_syscall_events(tracefs: &Tracefs, mask: &[u32; MASK_WORDS]) -> Result<Vec<String>, String> {
    let selected: Vec<u32> =
        (0u32..).take(MASK_WORDS * 32).filter(|nr| mask[*nr as usize / 32] & (1 << (nr % 32)) != 0).collect();
    if selected.is_empty() {
        return Err("no 64-bit rule selects a syscall".into());
    }
    if selected.len() > MAX_PER_SYSCALL_EVENTS {
        return Err(format!("the rules select {} syscalls (more than {MAX_PER_SYSCALL_EVENTS})", selected.len()));
    }
    selected
        .into_iter()
        .map(|nr| {
            let name = syscalls::name(Abi::B64, nr).ok_or_else(|| format!("syscall {nr} has no 64-bit name"))?;
            let event = format!("sys_exit_{name}");
            if tracefs.root().join("events/syscalls").join(&event).is_dir() {
                Ok(event)
            } else {
                Err(format!("this kernel has no syscalls:{event} tracepoint"))
            }
        })
        .collect()
}
