//! The kernel's own counters (`lost`, `backlog`, `backlog_wait_time_actual`), sampled every few
//! milliseconds in a thread so that the backlog's peak is seen, not just its end value.

use std::{
    sync::{
        Arc,
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
}

impl Samples {
    /// `lost` grew by this much (the counter is a u32 that wraps).
    pub fn lost_delta(&self) -> u64 {
        u64::from(self.last.lost.wrapping_sub(self.first.lost))
    }

    pub fn wait_time_actual_delta(&self) -> Option<u64> {
        Some(u64::from(self.last.backlog_wait_time_actual?.wrapping_sub(self.first.backlog_wait_time_actual?)))
    }
}

pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<Samples, NetlinkError>>,
}

impl Sampler {
    pub fn start() -> Result<Self, NetlinkError> {
        let mut socket = AuditSocket::open()?;
        let first = socket.status()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("measure-sampler".into())
            .spawn(move || {
                let mut s = Samples { backlog_peak: first.backlog, last: first.clone(), first, at_limit: 0, count: 1 };
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(INTERVAL);
                    let now = socket.status()?;
                    s.backlog_peak = s.backlog_peak.max(now.backlog);
                    s.at_limit += u64::from(now.backlog_limit > 0 && now.backlog >= now.backlog_limit);
                    s.count += 1;
                    s.last = now;
                }
                s.last = socket.status()?;
                Ok(s)
            })
            .expect("spawning the sampler thread");
        Ok(Self { stop, handle })
    }

    pub fn stop(self) -> Result<Samples, NetlinkError> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the sampler thread does not panic")
    }
}
