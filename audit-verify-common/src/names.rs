//! Program, map and global names, declared once for both sides.

/// Raw tracepoint on `sys_enter` that counts the syscalls of the followed processes.
pub const PROG_COUNT_SYSCALLS: &str = "count_syscalls";
/// Tracepoint `sched/sched_process_fork` that makes children of followed processes followed too.
pub const PROG_FOLLOW_FORKS: &str = "follow_forks";

/// Capability probes: one trivial program per hook mechanism. Loading and attaching them is the test.
pub const PROG_PROBE_TRACEPOINT: &str = "probe_tracepoint";
pub const PROG_PROBE_RAW_TRACEPOINT: &str = "probe_raw_tracepoint";
pub const PROG_PROBE_KPROBE: &str = "probe_kprobe";
pub const PROG_PROBE_FENTRY: &str = "probe_fentry";

/// TGIDs whose syscalls are counted (value unused).
pub const MAP_FOLLOWED_TGIDS: &str = "FOLLOWED_TGIDS";
/// Per-CPU syscall counts, indexed by syscall number.
pub const MAP_SYSCALL_COUNTS: &str = "SYSCALL_COUNTS";
/// Per-CPU counters about the sensor itself, indexed by [`crate::syscall_counter::Stat`].
pub const MAP_SENSOR_STATS: &str = "SENSOR_STATS";

/// Global: the loader's TGID, whose own syscalls are never counted.
pub const GLOBAL_LOADER_TGID: &str = "LOADER_TGID";
/// Global: offset of `child_pid` in the `sched_process_fork` record, read from tracefs at load time.
pub const GLOBAL_FORK_CHILD_PID_OFFSET: &str = "FORK_CHILD_PID_OFFSET";

/// `skb:kfree_skb` in audit functions: records the kernel dropped after building them.
pub const PROG_AUDIT_DROPS: &str = "audit_drops";
/// Raw tracepoint `sys_exit`: which loaded rule each syscall's event matches first.
pub const PROG_MATCH_RULES: &str = "match_rules";
/// The same matcher on `syscalls:sys_exit_NAME`, one attachment per selected syscall.
pub const PROG_MATCH_RULES_PER_SYSCALL: &str = "match_rules_per_syscall";

/// [`crate::measure::AddrRange`]s of the audit functions.
pub const MAP_AUDIT_RANGES: &str = "AUDIT_RANGES";
/// Per-CPU drop counts, by range index.
pub const MAP_DROPS_BY_RANGE: &str = "DROPS_BY_RANGE";
/// [`crate::measure::RuleFilter`]s in kernel order.
pub const MAP_RULE_FILTERS: &str = "RULE_FILTERS";
/// Per-CPU hit counts, see [`crate::measure::RULE_HIT_SLOTS`].
pub const MAP_RULE_HITS: &str = "RULE_HITS";

/// `predict`: watched inodes ([`crate::measure::InodeKey`] → [`crate::measure::InodeRules`]).
pub const MAP_WATCHED_INODES: &str = "WATCHED_INODES";
/// `predict`: per-CPU [`crate::measure::EventCost`] of the events each rule decided.
pub const MAP_RULE_COSTS: &str = "RULE_COSTS";
/// `predict`: PATH records a syscall's event carries, by 64-bit syscall number (for those whose names
/// the matcher does not count itself).
pub const MAP_NAMES_PER_SYSCALL: &str = "NAMES_PER_SYSCALL";
/// Global [`crate::measure::PredictOffsets`].
pub const GLOBAL_PREDICT_OFFSETS: &str = "PREDICT_OFFSETS";

/// Globals of the measurement sensors, set at load time.
pub const GLOBAL_AUDIT_RANGE_COUNT: &str = "AUDIT_RANGE_COUNT";
pub const GLOBAL_AUDIT_SPAN_START: &str = "AUDIT_SPAN_START";
pub const GLOBAL_AUDIT_SPAN_END: &str = "AUDIT_SPAN_END";
pub const GLOBAL_KFREE_SKB_LOCATION_OFFSET: &str = "KFREE_SKB_LOCATION_OFFSET";
pub const GLOBAL_RULE_COUNT: &str = "RULE_COUNT";
pub const GLOBAL_ANY_RULE_MASK: &str = "ANY_RULE_MASK";
pub const GLOBAL_TASK_LOGINUID_OFFSET: &str = "TASK_LOGINUID_OFFSET";
pub const GLOBAL_TASK_CRED_OFFSET: &str = "TASK_CRED_OFFSET";
pub const GLOBAL_CRED_EUID_OFFSET: &str = "CRED_EUID_OFFSET";
pub const GLOBAL_TASK_STATUS_OFFSET: &str = "TASK_STATUS_OFFSET";
pub const GLOBAL_SYS_EXIT_RET_OFFSET: &str = "SYS_EXIT_RET_OFFSET";

/// The kprobe/fentry backend (audit-verify-ebpf/src/audit_probes.rs): one program per hook and mechanism,
/// named `<mechanism>_<hook>`. Userspace tries them in the order its hook table declares.
pub const PROG_FEXIT_AUDIT_LOG_START: &str = "fexit_audit_log_start";
pub const PROG_KRETPROBE_AUDIT_LOG_START: &str = "kretprobe_audit_log_start";
pub const PROG_FENTRY_AUDIT_LOG_END: &str = "fentry_audit_log_end";
pub const PROG_KPROBE_AUDIT_LOG_END: &str = "kprobe_audit_log_end";
pub const PROG_FENTRY_AUDIT_LOG_LOST: &str = "fentry_audit_log_lost";
pub const PROG_KPROBE_AUDIT_LOG_LOST: &str = "kprobe_audit_log_lost";
pub const PROG_FENTRY_KAUDITD_HOLD_SKB: &str = "fentry_kauditd_hold_skb";
pub const PROG_KPROBE_KAUDITD_HOLD_SKB: &str = "kprobe_kauditd_hold_skb";
pub const PROG_FENTRY_KAUDITD_RETRY_SKB: &str = "fentry_kauditd_retry_skb";
pub const PROG_KPROBE_KAUDITD_RETRY_SKB: &str = "kprobe_kauditd_retry_skb";
pub const PROG_FENTRY_KAUDITD_REHOLD_SKB: &str = "fentry_kauditd_rehold_skb";
pub const PROG_KPROBE_KAUDITD_REHOLD_SKB: &str = "kprobe_kauditd_rehold_skb";
pub const PROG_FEXIT_NETLINK_UNICAST: &str = "fexit_netlink_unicast";
pub const PROG_KRETPROBE_NETLINK_UNICAST: &str = "kretprobe_netlink_unicast";

/// Per-CPU counters of the probe backend, indexed by [`crate::probes::ProbeCounter`].
pub const MAP_PROBE_COUNTERS: &str = "PROBE_COUNTERS";
/// Per-CPU records queued by `audit_log_end`, indexed by netlink message type (`< MAX_RECORD_TYPE`).
pub const MAP_RECORD_TYPES: &str = "RECORD_TYPES";
/// Per-CPU [`crate::probes::SerialRange`] of the records queued.
pub const MAP_RECORD_SERIALS: &str = "RECORD_SERIALS";
/// Per-CPU hash: `audit_log_lost`'s message pointer → [`crate::probes::LostMessage`].
pub const MAP_LOST_MESSAGES: &str = "LOST_MESSAGES";

/// Globals of the probe backend, offsets from kernel BTF set at load time.
pub const GLOBAL_AUDIT_BUFFER_SKB_OFFSET: &str = "AUDIT_BUFFER_SKB_OFFSET";
pub const GLOBAL_SKB_DATA_OFFSET: &str = "SKB_DATA_OFFSET";
