//! The syscall counter's map layout.

/// Syscall numbers at or above this are counted in [`Stat::OutOfRange`] rather than by number.
/// `x86_64` and i386 numbers both stay well below it.
pub const MAX_SYSCALL_NR: u32 = 1024;

/// Capacity of the followed-process set; an LRU map, so the oldest entries leave first.
pub const MAX_FOLLOWED_TGIDS: u32 = 16384;

/// Counters the sensor keeps about itself, so that what it did not count is reported, not hidden.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// Syscalls of the loader itself, skipped in the kernel.
    SelfSkipped = 0,
    /// Syscalls of followed processes whose number was `>= MAX_SYSCALL_NR`.
    OutOfRange = 1,
    /// Forks of followed processes whose child was added to the set.
    ForksFollowed = 2,
    /// Children that could not be added to the set (map update failed).
    FollowFailed = 3,
}

impl Stat {
    pub const ALL: [Stat; 4] = [Stat::SelfSkipped, Stat::OutOfRange, Stat::ForksFollowed, Stat::FollowFailed];
    #[expect(clippy::cast_possible_truncation, reason = "a constant array of a few entries")]
    pub const COUNT: u32 = Self::ALL.len() as u32;
}

impl TryFrom<u32> for Stat {
    type Error = u32;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::ALL.into_iter().find(|s| *s as u32 == value).ok_or(value)
    }
}
