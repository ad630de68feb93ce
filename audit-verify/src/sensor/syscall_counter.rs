//! Counts the syscalls of a followed process tree (raw tracepoint `sys_enter`), skipping ourselves in the
//! kernel. The children a followed process forks are followed too (tracepoint `sched_process_fork`).

use std::collections::BTreeMap;

use anyhow::Context as _;
use audit_verify_common::{
    names,
    syscall_counter::{MAX_SYSCALL_NR, Stat},
};
use aya::{
    Ebpf,
    maps::{HashMap, MapData, PerCpuArray},
    programs::{RawTracePoint, TracePoint},
};
use serde::Serialize;

use crate::{capability::program, ebpf, tracefs::Tracefs};

/// What the sensor counted.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Syscall number → calls by followed processes.
    pub by_syscall: BTreeMap<u32, u64>,
    /// Our own syscalls, skipped in the kernel.
    pub self_skipped: u64,
    /// Calls whose number was out of the counted range.
    pub out_of_range: u64,
    pub forks_followed: u64,
    /// Children that could not be followed: their syscalls are missing from the counts.
    pub follow_failed: u64,
}

impl Counts {
    #[must_use]
    pub fn of(&self, nr: u32) -> u64 {
        self.by_syscall.get(&nr).copied().unwrap_or(0)
    }
}

/// The loaded and attached sensor; detached on drop.
pub struct SyscallCounter {
    object: Ebpf,
    _tracefs: Tracefs,
}

impl SyscallCounter {
    /// Loads the counter and the fork follower and attaches them (`raw_syscalls:sys_enter`,
    /// `sched:sched_process_fork`).
    ///
    /// # Errors
    ///
    /// When tracefs is missing, or the eBPF object or a program cannot be loaded or attached.
    pub fn attach() -> anyhow::Result<Self> {
        let tracefs = Tracefs::ensure()?;
        let fork_child_pid_offset = tracefs
            .field_offset("sched", "sched_process_fork", "child_pid")
            .context("reading the sched_process_fork record layout")?;
        let globals = ebpf::Globals { loader_tgid: std::process::id(), fork_child_pid_offset, ..Default::default() };
        let mut object = ebpf::load(globals).context("loading audit-verify's eBPF object")?;

        let counter: &mut RawTracePoint = program(&mut object, names::PROG_COUNT_SYSCALLS)?;
        counter.load().context("loading the sys_enter counter")?;
        counter.attach("sys_enter").context("attaching the sys_enter raw tracepoint")?;
        let forks: &mut TracePoint = program(&mut object, names::PROG_FOLLOW_FORKS)?;
        forks.load().context("loading the fork follower")?;
        forks.attach("sched", "sched_process_fork").context("attaching sched:sched_process_fork")?;
        Ok(Self { object, _tracefs: tracefs })
    }

    /// Follows `tgid` and, from now on, every process it forks.
    ///
    /// # Errors
    ///
    /// When the followed-process map cannot be updated.
    pub fn follow(&mut self, tgid: u32) -> anyhow::Result<()> {
        // aya reads and writes an LRU hash map through `HashMap`.
        let mut followed: HashMap<&mut MapData, u32, u32> =
            HashMap::try_from(self.object.map_mut(names::MAP_FOLLOWED_TGIDS).context("followed-TGID map missing")?)?;
        followed.insert(tgid, 1, 0).with_context(|| format!("following TGID {tgid}"))?;
        Ok(())
    }

    /// Sums the per-CPU counters.
    ///
    /// # Errors
    ///
    /// When a counter map is missing or cannot be read.
    pub fn counts(&self) -> anyhow::Result<Counts> {
        let per_cpu = |name: &str| -> anyhow::Result<PerCpuArray<&MapData, u64>> {
            Ok(PerCpuArray::try_from(self.object.map(name).with_context(|| format!("map {name} missing"))?)?)
        };
        let syscalls = per_cpu(names::MAP_SYSCALL_COUNTS)?;
        let mut counts = Counts::default();
        for nr in 0..MAX_SYSCALL_NR {
            let n: u64 = syscalls.get(&nr, 0)?.iter().sum();
            if n > 0 {
                counts.by_syscall.insert(nr, n);
            }
        }
        let stats = per_cpu(names::MAP_SENSOR_STATS)?;
        for stat in Stat::ALL {
            let n: u64 = stats.get(&(stat as u32), 0)?.iter().sum();
            match stat {
                Stat::SelfSkipped => counts.self_skipped = n,
                Stat::OutOfRange => counts.out_of_range = n,
                Stat::ForksFollowed => counts.forks_followed = n,
                Stat::FollowFailed => counts.follow_failed = n,
            }
        }
        Ok(counts)
    }
}
