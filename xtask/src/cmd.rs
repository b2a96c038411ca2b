//! Running commands and saying what is happening.
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// One progress line, marked so it stands out among cargo's output.
pub fn say(what: &str) {
    eprintln!("\x1b[1m[xtask]\x1b[0m {what}");
}

/// `cargo` with the toolchain that runs xtask (stable).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command with inherited stdio; a non-zero exit is an error naming the command.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// Runs a command and returns its stdout, or None if it could not run or failed.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
