//! The command line: one file per subcommand. Results go to stdout (tables or JSON), diagnostics to stderr.

mod check;
mod count_syscalls;
mod lint;
mod measure;
pub mod output;
mod prove;
mod rules;
mod status;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "audit-verify",
    version,
    about = "Proves, with evidence, whether Linux audit records what you think it records.",
    after_help = "Exit codes: 0 clean; 1 a finding at or above the failing severity; 2 the tool could not run; \
                  128+signal (130 SIGINT, 143 SIGTERM, 129 SIGHUP) when measure or prove was stopped by a signal \
                  and reported what it had done, marked partial. A closed stdout (| head) is not an error."
)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Kernel audit state, auditd, what this kernel lets us measure, and BPF programs on the audit path.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[arg(long, default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
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
        #[arg(long, default_value = "/etc/audit/rules.d", conflicts_with = "rules_file")]
        rules_dir: PathBuf,
        /// One rules file, read as `auditctl -R` reads it (e.g. /etc/audit/audit.rules).
        #[arg(long)]
        rules_file: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Over a window: what the kernel emitted, what auditd wrote, and where records were lost.
    Measure {
        /// Window length, in seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long)]
        json: bool,
        /// Also write the figures in node_exporter textfile format to this file.
        #[arg(long)]
        prometheus: Option<PathBuf>,
        /// Raise a synthetic load (user messages) until records are lost; one window per rate.
        #[arg(long)]
        load: bool,
        #[arg(long, default_value = audit_verify::auditd_conf::DEFAULT_PATH)]
        auditd_conf: PathBuf,
        /// How long to wait for auditd to write the window's last records, in seconds.
        #[arg(long, default_value_t = 5)]
        barrier_timeout: u64,
        /// Do not count syscalls in the kernel (layer 1): lower overhead on busy hosts; drops, loss and
        /// rates are still measured.
        #[arg(long, conflicts_with = "count_32bit")]
        no_syscall_count: bool,
        /// Count 32-bit syscalls too, on the sys_exit raw tracepoint: it runs on every syscall of the
        /// host (about 100 ns each), where the default per-syscall tracepoints cost only the selected ones.
        #[arg(long)]
        count_32bit: bool,
    },
    /// The load generator `measure --load` runs in a child process.
    #[command(hide = true)]
    EmitLoad {
        #[arg(long)]
        rate: u32,
        #[arg(long)]
        millis: u64,
    },
    /// Counts, in the kernel, the syscalls of a command (from its execve on) or of running processes.
    CountSyscalls {
        /// Follow this running process and what it forks from now on (repeatable).
        #[arg(long = "pid")]
        pids: Vec<u32>,
        /// With --pid: how long to count, in seconds.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        #[arg(long)]
        json: bool,
        /// The command to run and count.
        #[arg(last = true)]
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
            Command::Status { .. } | Command::Check { .. } | Command::Measure { .. } | Command::CountSyscalls { .. }
        )
    }

    /// Whether the command stops on a first SIGINT/SIGTERM/SIGHUP and reports what it has, marked partial.
    pub fn stops_gracefully(&self) -> bool {
        matches!(self.command, Command::Measure { .. } | Command::Prove { .. })
    }
}

/// Runs the command; a run that a signal cut short ends as [`Outcome::Interrupted`] whatever it found.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let outcome = run_command(cli)?;
    Ok(audit_verify::stop::requested().map_or(outcome, Outcome::Interrupted))
}

fn run_command(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Status { json, auditd_conf } => status::run(&auditd_conf, json),
        Command::Check { args } => check::run(args),
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
        } => measure::run(measure::Options {
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
        Command::Prove { args } => prove::run(args),
    }
}
