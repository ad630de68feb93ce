#![expect(
    unused_crate_dependencies,
    reason = "the binary shares Cargo.toml with the library, whose lib.rs checks them"
)]

mod cli;

use std::process::ExitCode;

use audit_verify::{stop, tracefs};

fn main() -> ExitCode {
    let cli = cli::Cli::from_env();
    let mut logger = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(cli.log_level()));
    logger.format_target(false);
    if cli.json_log() {
        logger.format(cli::watch_log_line);
    }
    logger.init();
    // Before any thread exists: unshare(CLONE_NEWNS) refuses a multi-threaded process.
    if cli.needs_tracefs()
        && let Err(e) = tracefs::private_mount_namespace()
    {
        // Without root the command fails on its own, with its own one-line error; say nothing more then.
        let level = if is_root() { log::Level::Warn } else { log::Level::Debug };
        log::log!(level, "no private mount namespace ({e}): a tracefs or debugfs we mount is unmounted on exit only");
    }
    // Every command cleans up before a signal ends it (scratch directories, guarded audit state); measure
    // and prove first try to stop and report what they have.
    if cli.stops_gracefully() {
        stop::graceful();
    } else {
        stop::watch();
    }
    let outcome = match cli::run(cli) {
        Ok(outcome) => outcome,
        Err(e) => {
            cli::output::errln!("audit-verify: error: {e:#}");
            cli::Outcome::ToolFailed
        }
    };
    // A report that could not be written in full (other than to a closed pipe) is a failed run.
    if cli::output::failed() && outcome != cli::Outcome::ToolFailed {
        return cli::Outcome::ToolFailed.exit_code();
    }
    outcome.exit_code()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
