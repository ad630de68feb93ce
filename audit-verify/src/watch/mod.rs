//! `watch`: `measure`'s layers kept running — the kernel's counters, its drops by reason, what it
//! emitted and what auditd wrote — with a canary through the pipeline and auditd's own state report,
//! served on `/metrics` and written to a textfile at each interval, until SIGTERM or SIGINT.
//!
//! One current-thread tokio runtime does the accounting, the canaries, the log and the HTTP answers, so
//! no scrape sees an interval half-applied. Two threads feed it: the sampler's and the multicast
//! listener's (both `measure`'s own).

mod hz;
mod interval;
pub mod kernel_loss;
pub mod ledger;
pub mod metrics;
mod server;
pub mod state_report;
pub mod stream;

use std::{
    net::SocketAddr,
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::{
    auditd_conf::AuditdConf,
    auditlog::Follower,
    barrier::Marker,
    btf::KernelBtf,
    measure::{emitted, probe_backend::ProbeSensors, sampler::Sampler, sensors::KernelSensors},
    netlink::{AuditSocket, listener::Listener},
};

/// Where records lost after the kernel were lost, as `lost_after_kernel_records_total{stage}` names it.
pub const STAGES: [&str; 3] = ["auditd_queue", "disk", "plugin_queue"];

#[derive(Debug, Clone)]
pub struct Config {
    /// Where to serve `/metrics`; `None`: only the textfile.
    pub listen: Option<SocketAddr>,
    /// A `node_exporter` textfile, replaced atomically at each interval.
    pub textfile: Option<PathBuf>,
    /// How often the kernel's counters and drops are folded into the metrics.
    pub interval: Duration,
    /// How often a canary is sent through the pipeline.
    pub canary_interval: Duration,
    /// How long after a later canary was written an unwritten event is judged lost.
    pub grace: Duration,
    pub auditd_conf: PathBuf,
}

/// How often the log is read and a stop request looked for: well under the second a stop may take.
const POLL: Duration = Duration::from_millis(100);

/// Runs until a stop is requested ([`crate::stop`]).
///
/// # Errors
///
/// When a layer cannot start (not root, no audit netlink, the log cannot be opened, the address is
/// taken) or the kernel's counters can no longer be read.
pub fn run(config: &Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(serve(config))
}

/// The backend that counts drops by reason: `measure`'s choice, made the same way.
pub enum Drops {
    Probes(ProbeSensors),
    Tracepoint(KernelSensors),
    /// Only the kernel's counters: every drop is unattributed.
    None,
}

impl Drops {
    fn attach() -> Self {
        let btf = match KernelBtf::from_sys_fs() {
            Ok(btf) => btf,
            Err(e) => {
                log::warn!("no kernel BTF ({e}): drops are counted but not attributed to a reason");
                return Self::None;
            }
        };
        match ProbeSensors::attach(&btf) {
            Ok(p) => return Self::Probes(p),
            Err(e) => log::info!("kprobe/fentry backend unavailable, using tracepoints: {e:#}"),
        }
        match KernelSensors::attach(&[], crate::measure::SyscallCounting::Off, true, &btf.offsets) {
            Ok(s) => Self::Tracepoint(s),
            Err(e) => {
                log::warn!("no drop sensor ({e:#}): drops are counted but not attributed to a reason");
                Self::None
            }
        }
    }

    fn backend(&self) -> crate::capability::Backend {
        match self {
            Self::Probes(p) => p.backend(),
            Self::Tracepoint(_) => crate::capability::Backend::Tracepoint,
            Self::None => crate::capability::Backend::CountersOnly,
        }
    }

    fn program_ids(&self) -> Vec<u32> {
        match self {
            Self::Probes(p) => p.program_ids(),
            Self::Tracepoint(s) => s.program_ids(),
            Self::None => Vec::new(),
        }
    }
}

async fn serve(config: &Config) -> anyhow::Result<()> {
    let conf = AuditdConf::load(&config.auditd_conf).ok();
    let log_path =
        conf.as_ref().map_or_else(|| PathBuf::from(crate::auditd_conf::DEFAULT_LOG_FILE), AuditdConf::log_file);
    let http = match config.listen {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?),
        None => None,
    };
    let drops = Drops::attach();
    let hz = hz::kernel_hz().inspect_err(|e| {
        log::warn!(
            "audit_verify_backlog_wait_time_actual_seconds_total is omitted: the kernel's tick rate is unknown ({e})"
        );
    });
    let backend = serde_json::to_value(drops.backend())?.as_str().unwrap_or("unknown").to_owned();
    let metrics = metrics::Metrics::new(env!("CARGO_PKG_VERSION"), &backend, hz.is_ok());
    let shared = stream::Pipeline::new(config.grace, drops.program_ids()).shared();
    let listener = Listener::start("watch-multicast", emitted::RECEIVE_BUFFER, stream::Emitted(shared.clone()))?;
    let sampler = Sampler::start()?;
    // The log last, from its end: what is emitted from here on is in it after this point.
    let start = std::fs::metadata(&log_path).map_or(0, |m| m.len());
    let follower = Follower::open(&log_path, start).with_context(|| format!("opening {}", log_path.display()))?;
    let mut watch = interval::Watch::new(interval::Parts {
        metrics,
        drops,
        sampler,
        shared: shared.clone(),
        follower,
        hz: hz.ok(),
        textfile: config.textfile.clone(),
        canary_timeout: config.canary_interval.max(Duration::from_secs(5)) + config.grace,
    });
    log::info!("watching: backend {backend}, log {}, metrics on {:?}", log_path.display(), config.listen);
    let mut socket = AuditSocket::open()?;
    let mut tick = tokio::time::interval(config.interval);
    let mut canary = tokio::time::interval(config.canary_interval);
    let mut poll = tokio::time::interval(POLL);
    for t in [&mut tick, &mut canary, &mut poll] {
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    tick.tick().await; // the first tick is immediate: the first interval ends one interval from now
    loop {
        tokio::select! {
            _ = poll.tick() => {
                if crate::stop::requested().is_some() {
                    break;
                }
                watch.read_log()?;
            }
            _ = tick.tick() => watch.interval()?,
            _ = canary.tick() => {
                let marker = Marker::for_purpose(stream::CANARY_PURPOSE);
                stream::lock(&shared).canary_sent(marker.clone(), Instant::now());
                if let Err(e) = marker.send(&mut socket) {
                    log::warn!("sending a canary: {e}");
                    socket = AuditSocket::open()?;
                }
            }
            accepted = async { http.as_ref().expect("guarded").accept().await }, if http.is_some() => {
                match accepted {
                    Ok((stream, _)) => { tokio::spawn(server::answer(stream, watch.encode())); }
                    Err(e) => log::warn!("accepting a /metrics connection: {e}"),
                }
            }
        }
    }
    // A last interval, so that the textfile holds everything counted.
    watch.interval()?;
    drop(listener.finish(Duration::ZERO));
    Ok(())
}
