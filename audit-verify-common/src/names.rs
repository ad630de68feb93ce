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
