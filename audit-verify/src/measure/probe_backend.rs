//! The kprobe/fentry backend: probes on the audit functions themselves (audit-verify-ebpf's
//! `audit_probes.rs`). Every drop is counted in `audit_log_lost`, the one function that increments the
//! kernel's `lost`, with the message it was called with as its reason.
//!
//! [`HOOKS`] declares, per thing observed, the kernel symbol, why, and the mechanisms to try in order;
//! [`ProbeSensors::attach`] walks it once, logs every skip and records what attached. A kernel without
//! fentry (no BPF trampolines, or the `tracing` program type refused) gets kprobes; one without either
//! (this project's development VM) gets an error, and `measure` falls back to the tracepoint backend.

use std::collections::BTreeMap;

use anyhow::Context as _;
use audit_verify_common::{
    names,
    probes::{LostMessage, LostReason, MAX_RECORD_TYPE, ProbeCounter, SerialRange},
};
use aya::{
    Ebpf,
    maps::{MapData, PerCpuArray, PerCpuHashMap},
    programs::{FEntry, FExit, KProbe},
};
use serde::Serialize;

use crate::{btf::KernelBtf, capability::Backend, capability::program, ebpf};

/// A way to hook a kernel function.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    Fentry,
    Fexit,
    Kprobe,
    Kretprobe,
}

impl Mechanism {
    fn is_trampoline(self) -> bool {
        matches!(self, Mechanism::Fentry | Mechanism::Fexit)
    }
}

/// One thing observed: where, why, and how to try.
#[derive(Debug)]
pub struct Hook {
    pub symbol: &'static str,
    pub why: &'static str,
    /// Without it the backend is not worth using: `measure` falls back to tracepoints.
    pub required: bool,
    /// Mechanisms in order of preference, with the program that implements each.
    pub tries: &'static [(Mechanism, &'static str)],
}

/// The hook table. Prototypes and kernel version ranges are beside the programs, in `audit_probes.rs`.
pub const HOOKS: &[Hook] = &[
    Hook {
        symbol: "audit_log_lost",
        why: "every drop the kernel counts in `lost`, with its reason (the message argument)",
        required: true,
        tries: &[
            (Mechanism::Fentry, names::PROG_FENTRY_AUDIT_LOG_LOST),
            (Mechanism::Kprobe, names::PROG_KPROBE_AUDIT_LOG_LOST),
        ],
    },
    Hook {
        symbol: "audit_log_start",
        why: "records begun; a NULL return is a record refused before allocation",
        required: false,
        tries: &[
            (Mechanism::Fexit, names::PROG_FEXIT_AUDIT_LOG_START),
            (Mechanism::Kretprobe, names::PROG_KRETPROBE_AUDIT_LOG_START),
        ],
    },
    Hook {
        symbol: "audit_log_end",
        why: "records finished and queued for kauditd: type (nlmsghdr) and serial (the audit(...:N) prefix)",
        required: false,
        tries: &[
            (Mechanism::Fentry, names::PROG_FENTRY_AUDIT_LOG_END),
            (Mechanism::Kprobe, names::PROG_KPROBE_AUDIT_LOG_END),
        ],
    },
    Hook {
        symbol: "kauditd_hold_skb",
        why: "records auditd did not take, kept on the hold queue (or dropped when it is full)",
        required: false,
        tries: &[
            (Mechanism::Fentry, names::PROG_FENTRY_KAUDITD_HOLD_SKB),
            (Mechanism::Kprobe, names::PROG_KPROBE_KAUDITD_HOLD_SKB),
        ],
    },
    Hook {
        symbol: "kauditd_retry_skb",
        why: "records to resend to auditd (its socket was full)",
        required: false,
        tries: &[
            (Mechanism::Fentry, names::PROG_FENTRY_KAUDITD_RETRY_SKB),
            (Mechanism::Kprobe, names::PROG_KPROBE_KAUDITD_RETRY_SKB),
        ],
    },
    Hook {
        symbol: "kauditd_rehold_skb",
        why: "held records put back after a failed resend",
        required: false,
        tries: &[
            (Mechanism::Fentry, names::PROG_FENTRY_KAUDITD_REHOLD_SKB),
            (Mechanism::Kprobe, names::PROG_KPROBE_KAUDITD_REHOLD_SKB),
        ],
    },
    Hook {
        symbol: "netlink_unicast",
        why: "kauditd's sends to auditd: delivered (>= 0) or not (< 0)",
        required: false,
        tries: &[
            (Mechanism::Fexit, names::PROG_FEXIT_NETLINK_UNICAST),
            (Mechanism::Kretprobe, names::PROG_KRETPROBE_NETLINK_UNICAST),
        ],
    },
];

/// What one hook got.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HookOutcome {
    pub symbol: &'static str,
    /// `None`: every mechanism was refused (see `skipped`).
    pub attached: Option<Mechanism>,
    /// `mechanism: reason` for each refusal, in the order tried.
    pub skipped: Vec<String>,
}

/// Loaded and attached for one window; detached on drop.
pub struct ProbeSensors {
    object: Ebpf,
    hooks: Vec<HookOutcome>,
    /// The program that attached to `audit_log_lost`, whose runs the kernel may skip.
    lost_program: Option<&'static str>,
}

impl ProbeSensors {
    /// Tries every hook, with the kernel's BTF for the `audit_buffer` and `sk_buff` offsets (and, in aya's
    /// form, for fentry/fexit). Fails when a required hook attached with no mechanism.
    ///
    /// # Errors
    ///
    /// When the eBPF object cannot be loaded, or a required hook attached with no mechanism.
    pub fn attach(kernel_btf: &KernelBtf) -> anyhow::Result<Self> {
        let btf = &kernel_btf.offsets;
        let globals = ebpf::Globals {
            loader_tgid: std::process::id(),
            // audit_buffer is private to kernel/audit.c; skb has been its first member since 2.6.
            audit_buffer_skb_offset: btf.member_offset("audit_buffer", "skb").unwrap_or(0),
            skb_data_offset: btf.member_offset("sk_buff", "data")?,
            ..Default::default()
        };
        let mut object = ebpf::load(globals).context("loading audit-verify's eBPF object")?;
        let aya_btf = kernel_btf.aya.as_ref();
        let mut hooks = Vec::new();
        let mut lost_program = None;
        for hook in HOOKS {
            let mut outcome = HookOutcome { symbol: hook.symbol, attached: None, skipped: Vec::new() };
            for &(mechanism, prog) in hook.tries {
                match try_attach(&mut object, aya_btf, mechanism, prog, hook.symbol) {
                    Ok(()) => {
                        log::info!("probe backend: {} attached with {mechanism:?}", hook.symbol);
                        outcome.attached = Some(mechanism);
                        if hook.symbol == "audit_log_lost" {
                            lost_program = Some(prog);
                        }
                        break;
                    }
                    Err(e) => {
                        let reason = format!("{mechanism:?}: {}", super::short_error(&format!("{e:#}")));
                        log::info!("probe backend: {} skipped {reason}", hook.symbol);
                        outcome.skipped.push(reason);
                    }
                }
            }
            if outcome.attached.is_none() && hook.required {
                anyhow::bail!("{} could not be hooked ({})", hook.symbol, outcome.skipped.join("; "));
            }
            hooks.push(outcome);
        }
        Ok(Self { object, hooks, lost_program })
    }

    /// Fentry when every attached hook is fentry/fexit, kprobe otherwise.
    pub fn backend(&self) -> Backend {
        let mut attached = self.hooks.iter().filter_map(|h| h.attached);
        if attached.all(Mechanism::is_trampoline) { Backend::Fentry } else { Backend::Kprobe }
    }

    /// IDs of our programs, whose load and unload the kernel audits.
    #[must_use]
    pub fn program_ids(&self) -> Vec<u32> {
        self.object.programs().filter_map(|(_, p)| p.info().ok().map(|i| i.id())).collect()
    }

    fn attached(&self, symbol: &str) -> bool {
        self.hooks.iter().any(|h| h.symbol == symbol && h.attached.is_some())
    }

    /// Everything counted so far.
    ///
    /// # Errors
    ///
    /// When a counter map is missing or cannot be read.
    pub fn counts(&self) -> anyhow::Result<ProbeCounts> {
        let counters: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.object.map(names::MAP_PROBE_COUNTERS).context("counter map missing")?)?;
        let get = |c: ProbeCounter| -> anyhow::Result<u64> { Ok(counters.get(&(c as u32), 0)?.iter().sum()) };
        let when = |symbol: &str, c: ProbeCounter| -> anyhow::Result<Option<u64>> {
            Ok(if self.attached(symbol) { Some(get(c)?) } else { None })
        };

        let types: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.object.map(names::MAP_RECORD_TYPES).context("record type map missing")?)?;
        let mut record_types = BTreeMap::new();
        for (t, values) in (0..MAX_RECORD_TYPE).zip(types.iter()) {
            let n: u64 = values?.iter().sum();
            if n > 0 {
                record_types.insert(t, n);
            }
        }
        let serials: PerCpuArray<&MapData, SerialRange> =
            PerCpuArray::try_from(self.object.map(names::MAP_RECORD_SERIALS).context("serial map missing")?)?;
        let per_cpu = serials.get(&0, 0)?;
        let seen = per_cpu.iter().filter(|r| r.min != 0);
        let serial_range = seen.clone().map(|r| r.min).min().zip(seen.map(|r| r.max).max());

        let lost: PerCpuHashMap<&MapData, u64, LostMessage> =
            PerCpuHashMap::try_from(self.object.map(names::MAP_LOST_MESSAGES).context("lost message map missing")?)?;
        let mut lost_messages: BTreeMap<String, u64> = BTreeMap::new();
        for entry in &lost {
            let (_, values) = entry?;
            let text = values.iter().map(LostMessage::message).find(|m| !m.is_empty()).unwrap_or(b"");
            let text = if text.is_empty() { "(unreadable)".into() } else { String::from_utf8_lossy(text).into_owned() };
            *lost_messages.entry(text).or_default() += values.iter().map(|v| v.count).sum::<u64>();
        }
        Ok(ProbeCounts {
            hooks: self.hooks.clone(),
            lost_calls: get(ProbeCounter::LostCalls)?,
            lost_unclassified: get(ProbeCounter::LostUnclassified)?,
            lost_missed_runs: self.lost_program.map_or(0, |prog| recursion_misses(&self.object, prog)),
            lost_messages,
            log_start_calls: when("audit_log_start", ProbeCounter::LogStartCalls)?,
            log_start_null: when("audit_log_start", ProbeCounter::LogStartNull)?,
            records_ended: when("audit_log_end", ProbeCounter::LogEndRecords)?,
            record_types,
            serial_range,
            serial_unparsed: get(ProbeCounter::SerialUnparsed)?,
            hold_skb: when("kauditd_hold_skb", ProbeCounter::HoldSkb)?,
            retry_skb: when("kauditd_retry_skb", ProbeCounter::RetrySkb)?,
            rehold_skb: when("kauditd_rehold_skb", ProbeCounter::ReholdSkb)?,
            unicast_delivered: when("netlink_unicast", ProbeCounter::UnicastDelivered)?,
            unicast_failed: when("netlink_unicast", ProbeCounter::UnicastFailed)?,
        })
    }
}

/// How often the kernel skipped one of our programs instead of running it (`recursion_misses` in its
/// fdinfo, Linux 5.12+): a trampoline program is skipped when another task already runs it on that CPU,
/// which a preemptible kernel (`PREEMPT_LAZY`, the default from 7.x) allows. 0 where the kernel does not say.
fn recursion_misses(object: &Ebpf, prog: &str) -> u64 {
    use std::os::fd::{AsFd as _, AsRawFd as _};
    let Some(fd) = object.program(prog).and_then(|p| p.fd().ok()).map(|fd| fd.as_fd().as_raw_fd()) else {
        return 0;
    };
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| l.strip_prefix("recursion_misses:").and_then(|v| v.trim().parse().ok()))
        })
        .unwrap_or(0)
}

fn try_attach(
    object: &mut Ebpf,
    btf: Option<&aya::Btf>,
    mechanism: Mechanism,
    prog: &str,
    symbol: &str,
) -> anyhow::Result<()> {
    let no_btf = || anyhow::anyhow!("no kernel BTF");
    match mechanism {
        Mechanism::Fentry => {
            let p: &mut FEntry = program(object, prog)?;
            p.load(symbol, btf.ok_or_else(no_btf)?)?;
            p.attach()?;
        }
        Mechanism::Fexit => {
            let p: &mut FExit = program(object, prog)?;
            p.load(symbol, btf.ok_or_else(no_btf)?)?;
            p.attach()?;
        }
        Mechanism::Kprobe | Mechanism::Kretprobe => {
            let p: &mut KProbe = program(object, prog)?;
            p.load()?;
            p.attach(symbol, 0)?;
        }
    }
    Ok(())
}

/// What the probes counted over one window. Counters of hooks that did not attach are `None`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProbeCounts {
    /// The hook table's outcome: what attached, with what, and why the rest was skipped.
    pub hooks: Vec<HookOutcome>,
    /// `audit_log_lost` calls: each one a record dropped and counted in `lost`.
    pub lost_calls: u64,
    /// Drops whose message could not be kept (should be 0).
    pub lost_unclassified: u64,
    /// Runs of the `audit_log_lost` program the kernel skipped (`recursion_misses`): drops it never saw.
    pub lost_missed_runs: u64,
    /// `audit_log_lost` messages, verbatim, with counts.
    pub lost_messages: BTreeMap<String, u64>,
    pub log_start_calls: Option<u64>,
    /// `audit_log_start` returned NULL: backlog or memory drops, and exclude-list filtering (no drop).
    pub log_start_null: Option<u64>,
    /// `audit_log_end` with a record: queued, or dropped by the rate limit.
    pub records_ended: Option<u64>,
    /// Records ended, by netlink type.
    pub record_types: BTreeMap<u32, u64>,
    /// Lowest and highest serial of the records ended.
    pub serial_range: Option<(u64, u64)>,
    pub serial_unparsed: u64,
    pub hold_skb: Option<u64>,
    pub retry_skb: Option<u64>,
    pub rehold_skb: Option<u64>,
    /// kauditd's `netlink_unicast` to auditd: delivered, failed.
    pub unicast_delivered: Option<u64>,
    pub unicast_failed: Option<u64>,
}

/// The `measure` reason for an `audit_log_lost` message (the keys the tracepoint backend uses too).
#[must_use]
pub fn reason_key(message: &str) -> &'static str {
    match LostReason::classify(message.as_bytes()) {
        LostReason::BacklogLimit => "backlog_limit",
        LostReason::RateLimit => "rate_limit",
        LostReason::HoldQueueOverflow | LostReason::RetryQueueOverflow => "hold_or_retry_queue_overflow",
        LostReason::OutOfMemory => "out_of_memory",
        LostReason::Other => "other",
    }
}

/// Drops by reason from `audit_log_lost`'s messages: one call per drop, so nothing is inferred.
#[must_use]
pub fn attribute(p: &ProbeCounts, lost: u64) -> (BTreeMap<String, u64>, Vec<String>) {
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    let mut evidence = Vec::new();
    for (message, n) in &p.lost_messages {
        *by_reason.entry(reason_key(message).into()).or_default() += n;
        evidence.push(format!("audit_log_lost(\"{message}\") was called {n} times"));
    }
    let kept: u64 = p.lost_messages.values().sum();
    if p.lost_calls > kept {
        *by_reason.entry("other".into()).or_default() += p.lost_calls - kept;
        evidence.push(format!("{} audit_log_lost calls whose message could not be read", p.lost_calls - kept));
    }
    // Σ by reason = Δlost: what the probe never saw is exported as unattributed, never dropped.
    if lost > p.lost_calls {
        let unseen = lost - p.lost_calls;
        *by_reason.entry("unattributed".into()).or_default() += unseen;
        evidence.push(format!(
            "{unseen} drops the probe did not see; the kernel skipped its audit_log_lost program {} times \
             (recursion_misses: a preemptible kernel preempted it)",
            p.lost_missed_runs
        ));
    }
    evidence.push(if p.lost_calls == lost {
        format!("audit_log_lost was called {lost} times and lost rose by {lost}: every drop has its reason")
    } else {
        format!(
            "audit_log_lost was called {} times while lost rose by {lost} (the window's edges differ)",
            p.lost_calls
        )
    });
    (by_reason, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_has_a_program_per_mechanism_in_the_object() {
        let object = ebpf::load(ebpf::Globals::default());
        let Ok(object) = object else {
            eprintln!("skipped: the eBPF object does not load here (not root?)");
            return;
        };
        for hook in HOOKS {
            assert!(!hook.tries.is_empty(), "{}", hook.symbol);
            for (_, prog) in hook.tries {
                assert!(object.program(prog).is_some(), "{prog} missing from the object");
            }
        }
        assert!(HOOKS.iter().any(|h| h.required));
    }

    #[test]
    fn kernel_messages_map_to_reasons() {
        assert_eq!(reason_key("backlog limit exceeded"), "backlog_limit");
        assert_eq!(reason_key("rate limit exceeded"), "rate_limit");
        assert_eq!(reason_key("kauditd hold queue overflow"), "hold_or_retry_queue_overflow");
        assert_eq!(reason_key("kauditd retry queue overflow"), "hold_or_retry_queue_overflow");
        assert_eq!(reason_key("out of memory in audit_log_start"), "out_of_memory");
        assert_eq!(reason_key("something new"), "other");
    }

    /// On a kernel without kprobes and fentry (this project's development VM) the backend refuses to
    /// start and says why; on one with them, it attaches the required hook.
    #[test]
    fn attaches_or_says_why() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let Ok(btf) = KernelBtf::from_sys_fs() else {
            eprintln!("skipped: no kernel BTF");
            return;
        };
        match ProbeSensors::attach(&btf) {
            Ok(s) => {
                assert!(s.hooks.iter().any(|h| h.symbol == "audit_log_lost" && h.attached.is_some()));
                assert!(matches!(s.backend(), Backend::Fentry | Backend::Kprobe));
            }
            Err(e) => {
                let e = format!("{e:#}");
                assert!(e.contains("audit_log_lost") && e.contains("Kprobe"), "{e}");
            }
        }
    }

    /// Σ by reason = Δlost: drops the probe never saw (runs the kernel skipped) are unattributed.
    #[test]
    fn drops_the_probe_did_not_see_are_unattributed() {
        let p = ProbeCounts {
            lost_calls: 7,
            lost_missed_runs: 3,
            lost_messages: [("backlog limit exceeded".to_owned(), 7)].into(),
            ..ProbeCounts::default()
        };
        let (by_reason, evidence) = attribute(&p, 10);
        assert_eq!(by_reason.get("backlog_limit"), Some(&7));
        assert_eq!(by_reason.get("unattributed"), Some(&3));
        assert_eq!(by_reason.values().sum::<u64>(), 10);
        assert!(evidence.iter().any(|e| e.contains("skipped its audit_log_lost program 3 times")), "{evidence:?}");
        let (all_seen, _) = attribute(&ProbeCounts { lost_calls: 10, lost_missed_runs: 0, ..p }, 10);
        assert_eq!(all_seen.get("unattributed"), None);
    }
}
