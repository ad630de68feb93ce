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

/// [`crate::measure::AddrRange`]s of the audit functions.
pub const MAP_AUDIT_RANGES: &str = "AUDIT_RANGES";
/// Per-CPU drop counts, by range index.
pub const MAP_DROPS_BY_RANGE: &str = "DROPS_BY_RANGE";
/// [`crate::measure::RuleFilter`]s in kernel order.
pub const MAP_RULE_FILTERS: &str = "RULE_FILTERS";
/// Per-CPU hit counts, see [`crate::measure::RULE_HIT_SLOTS`].
pub const MAP_RULE_HITS: &str = "RULE_HITS";

/// Globals of the measurement sensors, set at load time.
pub const GLOBAL_AUDIT_RANGE_COUNT: &str = "AUDIT_RANGE_COUNT";
pub const GLOBAL_AUDIT_SPAN_START: &str = "AUDIT_SPAN_START";
pub const GLOBAL_AUDIT_SPAN_END: &str = "AUDIT_SPAN_END";
pub const GLOBAL_KFREE_SKB_LOCATION_OFFSET: &str = "KFREE_SKB_LOCATION_OFFSET";
pub const GLOBAL_RULE_COUNT: &str = "RULE_COUNT";
pub const GLOBAL_TASK_LOGINUID_OFFSET: &str = "TASK_LOGINUID_OFFSET";
pub const GLOBAL_TASK_CRED_OFFSET: &str = "TASK_CRED_OFFSET";
pub const GLOBAL_CRED_EUID_OFFSET: &str = "CRED_EUID_OFFSET";
pub const GLOBAL_TASK_STATUS_OFFSET: &str = "TASK_STATUS_OFFSET";
