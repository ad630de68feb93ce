//! The command line: one file per subcommand. Results go to stdout (tables or JSON), diagnostics to stderr.

mod check;
mod count_syscalls;
mod generate;
mod lint;
mod log;
mod measure;
pub mod output;
mod prove;
mod rules;
mod status;
mod watch;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
pub use watch::log_line as watch_log_line;

/// What every subcommand's `--help` ends with: scripts and CI branch on these.
const EXIT_CODES: &str = "\
Exit codes:
  0    clean: nothing at or above the failing severity
  1    a finding at or above the failing severity (--fail-on where offered, else high): a gap in coverage
  2    the tool could not run (not root, no audit in the kernel, bad input)
  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM, 129 by SIGHUP: measure and prove stop within a
       second and print what they had done, marked partial (a second signal exits at once)
A closed stdout (| head) is not an error.";

#[derive(Debug, Parser)]
#[command(
    name = "audit-verify",
    version,
    about = "Proves, with evidence, whether Linux audit records what you think it records.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    /// Parses the process's arguments against [`command`]; exits 2 (or 0 for `--help`) as clap does.
    pub fn from_env() -> Self {
        Self::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit())
    }

    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    }
}

/// The command line as clap sees it: what parsing, `--help`, the man pages and the completions share.
pub fn command() -> clap::Command {
    Cli::command().mut_subcommands(|sub| match sub.get_name() {
        _ if sub.is_hide_set() => sub,
        "watch" => sub.after_help(watch::EXIT_CODES),
        _ => sub.after_help(EXIT_CODES),
    })
}

/// Seconds as a decimal (`0.5`, `5`): the one parser for every wait and window given in seconds.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text.parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(value).map_err(|_| format!("{text:?}: seconds must be finite and not negative"))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Kernel audit state, auditd, what this kernel lets us measure, and BPF programs on the audit path.
    Status {
        /// Print the report as JSON (docs/schema/status.schema.json) instead of a table.
        #[arg(long)]
        json: bool,
        /// auditd's configuration, for its log file.
        #[arg(long, value_name = "FILE", default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
        auditd_conf: PathBuf,
    },
    /// Everything in one pass (status, rules, prove, lint, measure) with one verdict and exit code.
    Check {
        #[command(flatten)]
        args: check::CheckArgs,
    },
    /// Compares the rules files with the rules loaded in the kernel, and finds mistakes in the files.
    Rules {
        /// A rules directory, read as augenrules reads it.
        #[arg(long, value_name = "DIR", default_value = "/etc/audit/rules.d", conflicts_with = "rules_file")]
        rules_dir: PathBuf,
        /// One rules file, read as `auditctl -R` reads it (e.g. /etc/audit/audit.rules).
        #[arg(long, value_name = "FILE")]
        rules_file: Option<PathBuf>,
        /// Print the report as JSON (docs/schema/rules.schema.json) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Over a window: what the kernel emitted, what auditd wrote, and where records were lost.
    Measure {
        /// Length of the measurement window, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        duration: u64,
        /// Print the report as JSON (docs/schema/measure.schema.json) instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the figures in `node_exporter` textfile format to this file (replaced atomically).
        #[arg(long, value_name = "FILE")]
        prometheus: Option<PathBuf>,
        /// Raise a synthetic load (user messages) until records are lost; one window per rate.
        #[arg(long)]
        load: bool,
        /// auditd's configuration, for its log file and retention settings.
        #[arg(long, value_name = "FILE", default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
        auditd_conf: PathBuf,
        /// How long to wait for auditd to write the last records (the write barrier), in seconds.
        #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
        barrier_timeout: Duration,
        /// Do not count syscalls in the kernel (layer 1): lower overhead on busy hosts; drops, loss and
        /// rates are still measured.
        #[arg(long, conflicts_with = "count_32bit")]
        no_syscall_count: bool,
        /// Count 32-bit syscalls too, on the `sys_exit` raw tracepoint: it runs on every syscall of the
        /// host (about 100 ns each), where the default per-syscall tracepoints cost only the selected ones.
        #[arg(long)]
        count_32bit: bool,
    },
    /// The load generator `measure --load` runs in a child process.
    #[command(hide = true)]
    EmitLoad {
        /// User messages per second.
        #[arg(long)]
        rate: u32,
        /// How long to emit, in milliseconds.
        #[arg(long)]
        millis: u64,
    },
    /// Counts, in the kernel, the syscalls of a command (from its execve on) or of running processes.
    CountSyscalls {
        /// Follow this running process and what it forks from now on (repeatable).
        #[arg(long = "pid", value_name = "PID")]
        pids: Vec<u32>,
        /// With --pid: how long to count, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 10)]
        duration: u64,
        /// Print the counts as JSON (docs/schema/count-syscalls.schema.json) instead of a table.
        #[arg(long)]
        json: bool,
        /// The command to run and count.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// The ten audit footguns: shipping, floods, disk full, mutability, Kubernetes audit, secrets in it,
    /// untested rules, retention, correlation, backlog. Live, or a configuration tree with --root.
    Lint {
        #[command(flatten)]
        args: lint::LintArgs,
    },
    /// Proves each loaded rule fires: runs a harmless action the rule must record and finds the record.
    Prove {
        #[command(flatten)]
        args: prove::ProveArgs,
    },
    /// What audit logs hold: events, types, keys and their rates, bad lines, serials never written.
    Log {
        /// Log files, each read with its rotated predecessors (FILE.N … FILE); auditd's default if none.
        files: Vec<PathBuf>,
        /// Machine-readable output (docs/schema/log.schema.json).
        #[arg(long)]
        json: bool,
    },
    /// Runs until stopped: kernel drops by reason, loss after the kernel by stage, backlog, canaries and
    /// auditd's state, served on /metrics for Prometheus and written to a textfile.
    Watch {
        #[command(flatten)]
        args: watch::WatchArgs,
    },
    /// Man pages and shell completions, generated from these definitions (for packagers).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: generate::What,
    },
}

/// How a run ended, as the exit code CI sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: nothing at or above the failing severity.
    Clean,
    /// 1: a coverage gap or a high finding.
    Findings,
    /// 2: the tool could not do its job.
    ToolFailed,
    /// 128 + the signal (130 for SIGINT, 143 SIGTERM, 129 SIGHUP): `measure` or `prove` stopped early
    /// and reported what it had done, marked partial.
    Interrupted(i32),
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Outcome::Clean => 0,
            Outcome::Findings => 1,
            Outcome::ToolFailed => 2,
            Outcome::Interrupted(signal) => audit_verify::stop::exit_status(signal),
        })
    }
}

impl Cli {
    /// Whether the command may attach tracepoints or look at kprobes, and so may mount tracefs or
    /// debugfs: main gives it a private mount namespace, so that nothing it mounts outlives it.
    pub fn needs_tracefs(&self) -> bool {
        matches!(
            self.command,
            Command::Status { .. }
                | Command::Check { .. }
                | Command::Measure { .. }
                | Command::CountSyscalls { .. }
                | Command::Watch { .. }
        )
    }

    /// Whether the command stops on a first SIGINT/SIGTERM/SIGHUP and reports what it has, marked partial.
    pub fn stops_gracefully(&self) -> bool {
        matches!(self.command, Command::Measure { .. } | Command::Prove { .. } | Command::Watch { .. })
    }

    /// Whether diagnostics go to stderr as JSON lines (`watch --json-log`).
    pub fn json_log(&self) -> bool {
        matches!(&self.command, Command::Watch { args } if args.json_log)
    }
}

/// Runs the command; a run that a signal cut short ends as [`Outcome::Interrupted`] whatever it found.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    // A daemon's requested stop is its normal end: watch exits 0 on it.
    let daemon = matches!(cli.command, Command::Watch { .. });
    let outcome = run_command(cli)?;
    if daemon {
        return Ok(outcome);
    }
    Ok(audit_verify::stop::requested().map_or(outcome, Outcome::Interrupted))
}

fn run_command(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Status { json, auditd_conf } => status::run(&auditd_conf, json),
        Command::Check { args } => check::run(&args),
        Command::Rules { rules_dir, rules_file, json } => rules::run(&rules_dir, rules_file.as_deref(), json),
        Command::Measure {
            duration,
            json,
            prometheus,
            load,
            auditd_conf,
            barrier_timeout,
            no_syscall_count,
            count_32bit,
        } => measure::run(&measure::Options {
            duration,
            json,
            prometheus: prometheus.as_deref(),
            load,
            auditd_conf: &auditd_conf,
            barrier_timeout,
            syscalls: match (no_syscall_count, count_32bit) {
                (true, _) => audit_verify::measure::SyscallCounting::Off,
                (false, true) => audit_verify::measure::SyscallCounting::Every,
                (false, false) => audit_verify::measure::SyscallCounting::Selected,
            },
        }),
        Command::EmitLoad { rate, millis } => measure::emit_load(rate, millis),
        Command::CountSyscalls { pids, duration, json, command } => {
            count_syscalls::run(&pids, duration, json, &command)
        }
        Command::Lint { args } => lint::run(args),
        Command::Prove { args } => prove::run(&args),
        Command::Log { files, json } => log::run(&files, json),
        Command::Watch { args } => watch::run(&args),
        Command::Generate { what } => generate::run(what),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command, hidden ones included, with its path (`audit-verify check`) and whether it or a
    /// parent is hidden.
    fn all_commands() -> Vec<(String, clap::Command, bool)> {
        fn walk(prefix: &str, hidden: bool, cmd: &clap::Command, out: &mut Vec<(String, clap::Command, bool)>) {
            let path = format!("{prefix}{}", cmd.get_name());
            let hidden = hidden || cmd.is_hide_set() || cmd.get_name() == "help";
            out.push((path.clone(), cmd.clone(), hidden));
            for sub in cmd.get_subcommands() {
                walk(&format!("{path} "), hidden, sub, out);
            }
        }
        let mut cmd = command();
        cmd.build();
        let mut out = Vec::new();
        walk("", false, &cmd, &mut out);
        out
    }

    #[test]
    fn every_flag_of_every_subcommand_has_help() {
        let missing: Vec<String> = all_commands()
            .iter()
            .flat_map(|(path, cmd, _)| {
                cmd.get_arguments().filter(|a| a.get_help().is_none()).map(move |a| format!("{path} {}", a.get_id()))
            })
            .collect();
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    #[test]
    fn every_visible_command_states_its_exit_codes() {
        for (path, mut cmd, hidden) in all_commands() {
            if hidden {
                continue;
            }
            let help = cmd.render_help().to_string();
            for code in ["0 ", "1 ", "2 ", "130 "] {
                assert!(
                    help.contains(&format!("\n  {code}")),
                    "{path} --help does not state exit code {code}:\n{help}"
                );
            }
        }
    }

    fn parse(args: &[&str]) -> Command {
        Cli::from_arg_matches(&command().try_get_matches_from(args).unwrap()).unwrap().command
    }

    #[test]
    fn the_write_wait_has_one_name_and_the_old_spellings_still_parse() {
        for (new, old) in [
            (vec!["av", "check", "--barrier-timeout", "1.5"], vec!["av", "check", "--prove-timeout", "1.5"]),
            (vec!["av", "prove", "--barrier-timeout", "1.5"], vec!["av", "prove", "--timeout", "1.5"]),
            (vec!["av", "check", "--duration", "3"], vec!["av", "check", "--measure-seconds", "3"]),
            (vec!["av", "lint", "--shipping-timeout", "2"], vec!["av", "lint", "--prove-timeout", "2"]),
        ] {
            assert_eq!(format!("{:?}", parse(&new)), format!("{:?}", parse(&old)), "{old:?} is not {new:?}");
        }
        assert!(matches!(parse(&["av", "measure", "--barrier-timeout", "0.25"]),
            Command::Measure { barrier_timeout, .. } if barrier_timeout == Duration::from_millis(250)));
        // The old spellings stay out of --help, so there is one name to learn.
        for sub in ["check", "prove", "lint"] {
            let help = command().find_subcommand_mut(sub).unwrap().render_help().to_string();
            for old in ["--timeout", "--prove-timeout", "--measure-seconds"] {
                assert!(!help.contains(old), "{sub} --help shows {old}");
            }
        }
    }

    #[test]
    fn seconds_are_decimal_finite_and_not_negative() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        for bad in ["-1", "inf", "NaN", "five", ""] {
            assert!(seconds(bad).is_err(), "{bad:?} accepted");
        }
    }
}
