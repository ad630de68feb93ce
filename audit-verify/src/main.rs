mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::from_env();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(cli.log_level()))
        .format_target(false)
        .init();
    match cli::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => {
            eprintln!("audit-verify: error: {e:#}");
            cli::Outcome::ToolFailed.exit_code()
        }
    }
}
