//! Stopping on SIGINT, SIGTERM and SIGHUP: one watcher thread for the whole process.
//!
//! Commands that can report what they have so far (`measure`, `prove`) ask for a [`graceful`] stop: the
//! first signal only sets a flag that their loops poll ([`requested`], [`sleep`]), so they stop within
//! about a second, report the partial result and exit with 128 + the signal. A second signal, or any
//! signal in a process that did not ask for a graceful stop, runs the exit hooks (the state guard's
//! restore, the prover's scratch removal) and exits at once with 128 + the signal, as the default
//! action would have, minus what it would have left behind.
//!
//! Without a watcher (no guard, no graceful command) the signals keep their default action.

use std::{
    sync::{
        Mutex, Once,
        atomic::{AtomicBool, AtomicI32, Ordering},
    },
    time::{Duration, Instant},
};

use log::{error, warn};

/// The signal that asked for a graceful stop; 0 while none has.
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);
static GRACEFUL: AtomicBool = AtomicBool::new(false);
static WATCHER: Once = Once::new();
/// Run, in order, before a signal ends the process.
static EXIT_HOOKS: Mutex<Vec<fn(i32)>> = Mutex::new(Vec::new());

/// How often [`sleep`] looks at the flag: well under the second a stop may take.
const POLL: Duration = Duration::from_millis(50);

/// Makes the first SIGINT/SIGTERM/SIGHUP a request to stop instead of an exit.
pub fn graceful() {
    GRACEFUL.store(true, Ordering::SeqCst);
    watch();
}

/// Starts the watcher (once per process). Spawns a thread: call it after anything that needs a
/// single-threaded process (`unshare`).
pub fn watch() {
    WATCHER.call_once(spawn_watcher);
}

/// Registers `hook` to run before a signal exits the process (called once per kind of resource).
pub fn at_signal_exit(hook: fn(i32)) {
    EXIT_HOOKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(hook);
}

/// The signal that asked us to stop, if one has.
pub fn requested() -> Option<i32> {
    match STOP_SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Sleeps for `duration`, or until a stop is requested; returns whether one was.
#[expect(clippy::must_use_candidate, reason = "a caller that checks `requested()` afterwards may ignore it")]
pub fn sleep(duration: Duration) -> bool {
    let end = Instant::now() + duration;
    loop {
        if requested().is_some() {
            return true;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// `SIGINT`, as people and `kill -l` name it.
#[must_use]
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        other => format!("signal {other}"),
    }
}

/// The exit status of a run that a signal stopped: 128 + the signal, as a shell reports a killed child
/// (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
#[must_use]
pub fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(u8::MAX)
}

fn spawn_watcher() {
    use signal_hook::{
        consts::{SIGHUP, SIGINT, SIGTERM},
        iterator::Signals,
    };
    let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot watch signals ({e}); a signal ends the run without cleanup");
            return;
        }
    };
    let spawned = std::thread::Builder::new().name("signals".into()).spawn(move || {
        for signal in signals.forever() {
            let first = STOP_SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_ok();
            if first && GRACEFUL.load(Ordering::SeqCst) {
                warn!("{}: stopping and reporting what was done so far (again to exit now)", signal_name(signal));
                continue;
            }
            let hooks = EXIT_HOOKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            for hook in hooks {
                hook(signal);
            }
            std::process::exit(i32::from(exit_status(signal)));
        }
    });
    if let Err(e) = spawned {
        error!("cannot start the signal watcher ({e}); a signal ends the run without cleanup");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_128_plus_the_signal() {
        assert_eq!(exit_status(libc::SIGINT), 130);
        assert_eq!(exit_status(libc::SIGTERM), 143);
        assert_eq!(exit_status(libc::SIGHUP), 129);
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
    }
}
