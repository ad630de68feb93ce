//! One interval of `watch`: the kernel's growth of `lost` split by reason, the backlog, what the
//! ledger judged lost after the kernel (and where), auditd's state, per-key counts, the textfile.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    path::PathBuf,
    time::{Instant, SystemTime},
};

use super::{
    Drops,
    kernel_loss::{KernelLoss, REASONS},
    ledger::KeyCounts,
    metrics::{Metrics, label},
    state_report::{self, StateReport},
    stream::{self, Shared},
};
use crate::{
    auditlog::Follower,
    host_status::process_alive,
    measure::{
        probe_backend::{self, ProbeCounts},
        report::{DISK_FULL_BELOW, free_bytes},
        sampler::Sampler,
        sensors,
    },
};

/// What [`Watch::new`] is built from.
pub struct Parts {
    pub metrics: Metrics,
    pub drops: Drops,
    pub sampler: Sampler,
    pub shared: Shared,
    pub follower: Follower,
    pub hz: Option<u64>,
    pub textfile: Option<PathBuf>,
    pub canary_timeout: std::time::Duration,
}

pub struct Watch {
    p: Parts,
    kernel: KernelLoss,
    /// The drop sensors' cumulative counts at the last interval, to take deltas.
    last_functions: BTreeMap<String, u64>,
    last_probes: ProbeCounts,
    /// Per key, what the metrics already hold.
    last_keys: HashMap<String, KeyCounts>,
    /// Records the kernel dropped after emitting them (hold/retry queue overflow): the ledger sees them
    /// unwritten, but they are kernel drops, not auditd's; so many of its missing records are theirs.
    /// Each credit lasts until the events of its time have been judged (two canary timeouts), so that an
    /// old one cannot hide a later loss.
    after_multicast: VecDeque<(Instant, u64)>,
    state_paths: Vec<PathBuf>,
    state: Option<StateReport>,
}

impl Watch {
    pub fn new(p: Parts) -> Self {
        let carries = matches!(p.drops, Drops::Probes(_));
        Self {
            p,
            kernel: KernelLoss::new(carries),
            last_functions: BTreeMap::new(),
            last_probes: ProbeCounts::default(),
            last_keys: HashMap::new(),
            after_multicast: VecDeque::new(),
            state_paths: state_report::PATHS.iter().map(PathBuf::from).collect(),
            state: None,
        }
    }

    pub fn encode(&self) -> String {
        self.p.metrics.encode()
    }

    /// Reads what auditd wrote since the last call, through rotations.
    ///
    /// # Errors
    ///
    /// When the log cannot be read.
    pub fn read_log(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        let mut pipeline = stream::lock(&self.p.shared);
        while let Some(record) = self.p.follower.next_record()? {
            if let Some(canary) = pipeline.written(&record, now, SystemTime::now()) {
                let at = canary.at.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                self.p.metrics.canary_last_success.get_or_create(&label("path", "log")).set(at);
                self.p.metrics.canary_latency.get_or_create(&label("path", "log")).set(canary.latency.as_secs_f64());
            }
        }
        let failed = pipeline.canaries_failed(now, self.p.canary_timeout);
        self.p.metrics.canary_failures.get_or_create(&label("path", "log")).inc_by(failed);
        Ok(())
    }

    /// Folds one interval into the metrics and writes the textfile.
    ///
    /// # Errors
    ///
    /// When the sampler stopped (the kernel's counters cannot be read) or a sensor map cannot be read.
    pub fn interval(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.p.sampler.failed(), "the kernel's audit counters can no longer be read");
        // The sensors first, then the counters: a drop is counted in lost before its record is freed, so
        // lost read last has every drop the sensors saw (the rest is owed to the next interval).
        let attribute = self.drop_deltas()?;
        let samples = self.p.sampler.take();
        let resets = std::mem::take(&mut stream::lock(&self.p.shared).resets);
        let interval = self.kernel.interval(samples.lost_growth, &samples.resets, &resets, attribute);
        for note in &interval.notes {
            // Frees ahead of lost are routine with the tracepoint backend (see kernel_loss): not a warning.
            log::info!("{note}");
        }
        let m = &self.p.metrics;
        m.kernel_lost.inc_by(interval.lost);
        for (reason, n) in REASONS.iter().zip(interval.by_reason) {
            m.kernel_dropped.get_or_create(&label("reason", reason)).inc_by(n);
        }
        if interval.freed_after_emit > 0 {
            self.after_multicast.push_back((Instant::now(), interval.freed_after_emit));
        }
        let status = &samples.last;
        m.backlog.set(i64::from(status.backlog));
        m.backlog_peak.set(i64::from(samples.backlog_peak));
        m.backlog_limit.set(i64::from(status.backlog_limit));
        if let (Some(c), Some(hz), Some(jiffies)) = (&m.wait_time_actual, self.p.hz, samples.wait_time_actual_delta()) {
            #[expect(clippy::cast_precision_loss, reason = "jiffies stay far below 2^52 in any interval")]
            c.inc_by(jiffies as f64 / hz as f64);
        }
        let alive = process_alive(status.pid);
        m.auditd_up.set(i64::from(alive));
        self.read_state(status.pid, alive);
        self.judge();
        if let Some(path) = &self.p.textfile
            && let Err(e) = crate::textfile::write(path, self.p.metrics.encode().as_bytes())
        {
            log::warn!("{e}");
        }
        Ok(())
    }

    /// This interval's drops by reason from the backend's sensors, as a function of Δlost.
    fn drop_deltas(&mut self) -> anyhow::Result<impl FnOnce(u64) -> BTreeMap<String, u64> + use<>> {
        let attribution: Box<dyn FnOnce(u64) -> BTreeMap<String, u64>> = match &self.p.drops {
            Drops::Probes(p) => {
                let now = p.counts()?;
                let mut delta = ProbeCounts {
                    lost_calls: now.lost_calls - self.last_probes.lost_calls,
                    lost_missed_runs: now.lost_missed_runs - self.last_probes.lost_missed_runs,
                    ..ProbeCounts::default()
                };
                for (message, n) in &now.lost_messages {
                    let before = self.last_probes.lost_messages.get(message).copied().unwrap_or(0);
                    delta.lost_messages.insert(message.clone(), n - before);
                }
                self.last_probes = now;
                Box::new(move |lost| probe_backend::attribute(&delta, lost).0)
            }
            Drops::Tracepoint(s) => {
                let mut delta = s.drops()?;
                for d in &mut delta {
                    let before = self.last_functions.insert(d.function.clone(), d.drops).unwrap_or(0);
                    d.drops -= before;
                }
                delta.retain(|d| d.drops > 0);
                if !delta.is_empty() {
                    log::debug!("records freed unsent this interval: {delta:?}");
                }
                Box::new(move |lost| sensors::attribute(lost, &delta, false).0)
            }
            Drops::None => Box::new(|_| BTreeMap::new()),
        };
        Ok(attribution)
    }

    /// Reads the report asked for last interval, and asks for the next.
    fn read_state(&mut self, pid: u32, alive: bool) {
        if let Some((report, at)) = state_report::read(&self.state_paths) {
            let m = &self.p.metrics;
            let flag = |v: Option<bool>| i64::from(v.unwrap_or(false));
            m.logging_suspended.set(flag(report.logging_suspended));
            m.disk_error.set(flag(report.disk_error));
            m.plugin_queue_overflow.set(flag(report.plugin_queue_overflow));
            m.plugin_queue_depth.set(report.plugin_queue_depth.map_or(0, |d| i64::try_from(d).unwrap_or(i64::MAX)));
            m.state_last_read.set(at.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()));
            self.state = Some(report);
        }
        if alive {
            state_report::request(pid);
        }
    }

    /// What the ledger judged lost after the kernel, less the kernel's own drops after emitting, by stage.
    fn judge(&mut self) {
        let mut pipeline = stream::lock(&self.p.shared);
        pipeline.ledger.judge(Instant::now());
        let mut lost = pipeline.ledger.take_missing();
        let orphans = pipeline.ledger.take_orphans();
        if orphans > 0 {
            log::warn!(
                "{orphans} records the kernel emitted while no auditd was registered, or in an auditd's own \
                 registration, were never written: the kernel discards the first unless audit=1 is on its command \
                 line and does not count them in lost; auditd does not write the second"
            );
        }
        let expiry = self.p.canary_timeout * 2;
        self.after_multicast.retain(|(at, _)| at.elapsed() < expiry);
        for (_, credit) in &mut self.after_multicast {
            let kernels = lost.min(*credit);
            (lost, *credit) = (lost - kernels, *credit - kernels);
        }
        self.after_multicast.retain(|(_, credit)| *credit > 0);
        if lost > 0 {
            let stage = self.stage();
            log::warn!("{lost} records the kernel emitted were not written by auditd ({stage})");
            self.p.metrics.lost_after_kernel.get_or_create(&label("stage", stage)).inc_by(lost);
        }
        for (key, counts) in pipeline.ledger.per_key() {
            let held = self.last_keys.entry(key.to_owned()).or_default();
            if counts != *held {
                self.p.metrics.events_emitted.get_or_create(&label("key", key)).inc_by(counts.emitted - held.emitted);
                self.p.metrics.events_written.get_or_create(&label("key", key)).inc_by(counts.written - held.written);
                *held = counts;
            }
        }
        if pipeline.ledger.unmatched > 0 {
            log::warn!(
                "{} events were not judged: more than the ledger holds waited for a canary",
                pipeline.ledger.unmatched
            );
            pipeline.ledger.unmatched = 0;
        }
    }

    /// Where records the kernel handed on were lost: a full disk, auditd's plugin queue, else its queue.
    fn stage(&self) -> &'static str {
        let log_dir = self.p.follower.path().parent().map(PathBuf::from);
        let disk_full = log_dir.as_deref().and_then(free_bytes).is_some_and(|free| free < DISK_FULL_BELOW)
            || self.state.as_ref().is_some_and(|s| s.no_space_left == Some(true) || s.disk_error == Some(true));
        if disk_full {
            "disk"
        } else if self.state.as_ref().is_some_and(|s| s.plugin_queue_overflow == Some(true)) {
            "plugin_queue"
        } else {
            "auditd_queue"
        }
    }
}
