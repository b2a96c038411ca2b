//! Running commands and saying what is happening.
use std::{
    io::{BufRead as _, BufReader, Write as _},
    process::{Command, Stdio},
};

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

/// What the test binaries of one `cargo test` said in their `test result:` lines.
#[derive(Debug, Default, PartialEq)]
pub struct TestTotals {
    pub passed: u64,
    pub ignored: u64,
}

impl TestTotals {
    /// Adds one line of `cargo test` output if it is a binary's `test result:` line.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            if let (Some(n), Some(what)) = (words.next(), words.next()) {
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "passed" => self.passed += n,
                    "ignored" => self.ignored += n,
                    _ => {}
                }
            }
        }
    }
}

/// Runs `cargo test`, passing its output through as it comes, and adds up the tests that the
/// binaries report; a failure is an error naming the command.
pub fn run_counting_tests(cmd: &mut Command) -> Result<TestTotals> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {cmd:?}"))?;
    let mut totals = TestTotals::default();
    let stdout = child.stdout.take().context("no stdout")?;
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        writeln!(out, "{line}")?;
        totals.add(&line);
    }
    drop(out);
    let status = child.wait()?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::TestTotals;

    #[test]
    fn adds_up_the_result_lines() {
        let mut t = TestTotals::default();
        for line in [
            "test result: ok. 12 passed; 0 failed; 3 ignored; 0 measured; 0 filtered out; finished in 0.41s",
            "running 4 tests",
            "test result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; finished in 1.00s",
        ] {
            t.add(line);
        }
        assert_eq!(
            t,
            TestTotals {
                passed: 16,
                ignored: 3
            }
        );
    }
}
