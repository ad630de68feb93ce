//! The tracepoint backend's kernel sensors for one window: `skb:kfree_skb` in audit functions (drops the
//! kernel made after building a record) and `sys_exit` rule matching (what happened).

use anyhow::Context as _;
use audit_verify_common::{
    measure::{AddrRange, MASK_WORDS, MAX_AUDIT_RANGES, MAX_RULES, RuleFilter},
    names,
};
use aya::{
    Ebpf,
    maps::{Array, MapData, PerCpuArray},
    programs::{RawTracePoint, TracePoint},
};

use super::rule_filters::Translated;
use crate::{btf::Btf, capability::program, ebpf, kallsyms::AuditSymbols, tracefs::Tracefs};

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
    counting: bool,
    _tracefs: Tracefs,
}

/// `audit_log_end` (rate limit), `audit_buffer_free` (where it is not inlined), and kauditd's queue
/// handling (hold and retry overflows), compiler-split variants included.
fn frees_records(symbol: &str) -> bool {
    let base = crate::kallsyms::base_name(symbol);
    base == "audit_log_end" || base == "audit_buffer_free" || base.starts_with("kauditd_")
}

impl KernelSensors {
    /// Attaches the drop sensor, and the rule matcher when `count_syscalls`.
    pub fn attach(rules: &[Translated], count_syscalls: bool) -> anyhow::Result<Self> {
        let tracefs = Tracefs::ensure()?;
        let symbols = AuditSymbols::load().context("reading /proc/kallsyms")?;
        // Only the functions that free records they give up on: `kfree_skb` fires for every skb freed
        // anywhere, so each range checked costs on every network packet too.
        let ranges: Vec<(String, AddrRange)> = symbols
            .ranges()
            .filter(|(name, ..)| frees_records(name))
            .take(MAX_AUDIT_RANGES as usize)
            .map(|(name, start, end)| (name.to_owned(), AddrRange { start, end }))
            .collect();
        anyhow::ensure!(!ranges.is_empty(), "no audit functions in /proc/kallsyms (addresses hidden? run as root)");
        let btf = Btf::from_sys_fs().context("kernel BTF, for task field offsets")?;
        let thread_info = btf.member_offset("task_struct", "thread_info")?;
        let globals = ebpf::Globals {
            loader_tgid: std::process::id(),
            audit_range_count: ranges.len() as u32,
            audit_span: (
                ranges.iter().map(|(_, r)| r.start).min().unwrap_or(0),
                ranges.iter().map(|(_, r)| r.end).max().unwrap_or(0),
            ),
            kfree_skb_location_offset: tracefs.field_offset("skb", "kfree_skb", "location")?,
            rule_count: rules.len().min(MAX_RULES as usize) as u32,
            any_rule_mask: ebpf::SyscallMask(rules.iter().take(MAX_RULES as usize).fold(
                [0; MASK_WORDS],
                |mut any, t| {
                    any.iter_mut().zip(t.filter.mask).for_each(|(a, m)| *a |= m);
                    any
                },
            )),
            task_loginuid_offset: btf.member_offset("task_struct", "loginuid")?,
            task_cred_offset: btf.member_offset("task_struct", "cred")?,
            cred_euid_offset: btf.member_offset("cred", "euid")?,
            task_status_offset: thread_info + btf.member_offset("thread_info", "status")?,
            ..Default::default()
        };
        let mut object = ebpf::load(globals).context("loading audit-verify's eBPF object")?;
        {
            let mut map: Array<&mut MapData, AddrRange> =
                Array::try_from(object.map_mut(names::MAP_AUDIT_RANGES).context("audit range map missing")?)?;
            for (i, (_, range)) in ranges.iter().enumerate() {
                map.set(i as u32, range, 0)?;
            }
        }
        {
            let mut map: Array<&mut MapData, RuleFilter> =
                Array::try_from(object.map_mut(names::MAP_RULE_FILTERS).context("rule filter map missing")?)?;
            for (i, t) in rules.iter().take(MAX_RULES as usize).enumerate() {
                map.set(i as u32, t.filter, 0)?;
            }
        }
        let drops: &mut TracePoint = program(&mut object, names::PROG_AUDIT_DROPS)?;
        drops.load().context("loading the kfree_skb sensor")?;
        drops.attach("skb", "kfree_skb").context("attaching skb:kfree_skb")?;
        if count_syscalls {
            let matcher: &mut RawTracePoint = program(&mut object, names::PROG_MATCH_RULES)?;
            matcher.load().context("loading the sys_exit rule matcher")?;
            matcher.attach("sys_exit").context("attaching the sys_exit raw tracepoint")?;
        }
        let rules = if count_syscalls { rules.len() } else { 0 };
        Ok(Self {
            object,
            ranges: ranges.into_iter().map(|(n, _)| n).collect(),
            rules,
            counting: count_syscalls,
            _tracefs: tracefs,
        })
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
        if !self.counting {
            return Ok(None);
        }
        let sums = self.per_cpu_sums(names::MAP_RULE_HITS, 2 * MAX_RULES)?;
        Ok(Some((0..self.rules.min(MAX_RULES as usize)).map(|i| (sums[i], sums[MAX_RULES as usize + i])).collect()))
    }
}
