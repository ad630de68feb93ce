//! The hidden `generate` subcommand: man pages and shell completions from the clap definitions, so they
//! never drift from `--help`. A subcommand rather than an xtask step because xtask cannot link this
//! crate (its build script builds the eBPF object).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use clap_complete::Shell;

use super::{Outcome, output::errln};

#[derive(Debug, Subcommand)]
pub enum What {
    /// One roff page per visible command (audit-verify.1, audit-verify-check.1, …) into DIR.
    Man {
        /// Where to write the pages (created if missing).
        dir: PathBuf,
    },
    /// The completion script for SHELL into DIR.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: Shell,
        /// Where to write the script (created if missing).
        dir: PathBuf,
    },
}

pub fn run(what: What) -> anyhow::Result<Outcome> {
    let dir = match &what {
        What::Man { dir } | What::Completions { dir, .. } => dir,
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut command = super::command();
    match what {
        What::Man { dir } => clap_mangen::generate_to(command, &dir)
            .with_context(|| format!("writing man pages to {}", dir.display()))?,
        What::Completions { shell, dir } => {
            let name = command.get_name().to_owned();
            let path = clap_complete::generate_to(shell, &mut command, name, &dir)
                .with_context(|| format!("writing {shell} completions to {}", dir.display()))?;
            errln!("generate: wrote {}", path.display());
        }
    }
    Ok(Outcome::Clean)
}
