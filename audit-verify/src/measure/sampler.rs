//! The kernel's own counters (`lost`, `backlog`, `backlog_wait_time_actual`), sampled every few
//! milliseconds in a thread so that the backlog's peak is seen, not just its end value.
//!
//! `measure` reads one window at its end ([`Sampler::stop`]); `watch` reads one interval after another
//! ([`Sampler::take`]), each interval starting where the last ended, so nothing falls between two.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::netlink::{AuditSocket, AuditStatus, NetlinkError};

pub const INTERVAL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct Samples {
    pub first: AuditStatus,
    pub last: AuditStatus,
    pub backlog_peak: u32,
    /// Samples whose backlog was at or above the limit.
    pub at_limit: u64,
    pub count: u64,
    /// Growth of `lost` over the samples, resets folded in: after a reset only what was counted since
    /// it (the value read then) is added; what grew between the sample before and the reset is in
    /// the reset's `CONFIG_CHANGE` record (`old=`), which `watch` adds from [`Samples::resets`].
    pub lost_growth: u64,
    /// For each time `lost` went down (a reset), the value of the sample before it.
    pub resets: Vec<u32>,
}

impl Samples {
    fn new(first: AuditStatus) -> Self {
        Self {
            backlog_peak: first.backlog,
            last: first.clone(),
            first,
            at_limit: 0,
            count: 1,
            lost_growth: 0,
            resets: Vec::new(),
        }
    }

    fn add(&mut self, now: AuditStatus) {
        self.backlog_peak = self.backlog_peak.max(now.backlog);
        self.at_limit += u64::from(now.backlog_limit > 0 && now.backlog >= now.backlog_limit);
        self.count += 1;
        self.lost_growth += lost_growth(self.last.lost, now.lost, &mut self.resets);
        self.last = now;
    }

    /// `lost` grew by this much, resets folded in.
    pub fn lost_delta(&self) -> u64 {
        self.lost_growth
    }

    pub fn wait_time_actual_delta(&self) -> Option<u64> {
        Some(u64::from(self.last.backlog_wait_time_actual?.wrapping_sub(self.first.backlog_wait_time_actual?)))
    }
}

/// Growth of `lost` from one sample to the next. The kernel's counter only goes down when it is reset
/// (`auditctl --reset-lost`): then it counts from 0, and `before` is kept for the reset's record.
fn lost_growth(before: u32, now: u32, resets: &mut Vec<u32>) -> u64 {
    if now < before {
        resets.push(before);
        u64::from(now)
    } else {
        u64::from(now - before)
    }
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    current: Arc<Mutex<Samples>>,
    handle: JoinHandle<Result<(), NetlinkError>>,
}

impl Sampler {
    pub fn start() -> Result<Self, NetlinkError> {
        let mut socket = AuditSocket::open()?;
        let current = Arc::new(Mutex::new(Samples::new(socket.status()?)));
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), current.clone());
        let handle = std::thread::Builder::new()
            .name("audit-sampler".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(INTERVAL);
                    let now = socket.status()?;
                    shared.lock().unwrap_or_else(PoisonError::into_inner).add(now);
                }
                let now = socket.status()?;
                shared.lock().unwrap_or_else(PoisonError::into_inner).add(now);
                Ok(())
            })
            .expect("spawning the sampler thread");
        Ok(Self { stop, current, handle })
    }

    /// The samples since the last `take` (or the start), and a new interval from the last of them.
    pub fn take(&self) -> Samples {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let next = Samples::new(current.last.clone());
        std::mem::replace(&mut *current, next)
    }

    /// Whether the sampling thread has ended (its socket failed): `stop` returns why.
    pub fn failed(&self) -> bool {
        self.handle.is_finished()
    }

    pub fn stop(self) -> Result<Samples, NetlinkError> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the sampler thread does not panic")?;
        Ok(Arc::try_unwrap(self.current).map_or_else(
            |shared| shared.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            |m| m.into_inner().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_adds_what_was_counted_since_and_keeps_the_value_before() {
        let mut resets = Vec::new();
        assert_eq!(lost_growth(10, 15, &mut resets), 5);
        assert_eq!(lost_growth(15, 15, &mut resets), 0);
        assert_eq!(lost_growth(15, 3, &mut resets), 3, "reset to 0, then 3 more");
        assert_eq!(resets, [15]);
    }
}
