//! Configuration checks side by side with keepalived 2.2.7: `keepalived -t -f FILE` checks a configuration and prints
//! one line per complaint, `(FILE: Line N) message`. These helpers run it and `vrrpd check` on
//! the same file in the same directory.
//!
//! keepalived must be installed (`cargo xtask setup`) and the test run as root; otherwise the
//! test says it is skipped, and fails when `CI` is set.

use std::{path::Path, process::Command};

/// What a checker said about a file.
#[derive(Debug)]
pub struct Verdict {
    /// Exit status.
    pub code: i32,
    /// Everything printed (stdout and stderr).
    pub text: String,
}

impl Verdict {
    /// The lines that mention `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<&str> {
        self.text.lines().filter(|l| l.contains(needle)).collect()
    }

    /// Whether keepalived (or vrrpd) named line `line` of a file whose name ends with `file` in
    /// a message containing `needle`.
    pub fn says_at(&self, file: &str, line: u32, needle: &str) -> bool {
        let ka = format!("{file}: Line {line})");
        let ours = format!("{file}:{line}");
        self.text
            .lines()
            .any(|l| l.contains(needle) && (l.contains(&ka) || l.contains(&ours)))
    }
}

fn skip(test: &str, why: &str) -> Option<Verdict> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but keepalived cannot be run here: {why}");
    }
    eprintln!("SKIPPED (keepalived side) {test}: {why}; mandatory when CI is set");
    None
}

/// `keepalived -t -f FILE [extra]` run in `dir`; `None` when it cannot run here (skipped).
pub fn keepalived_t(test: &str, dir: &Path, file: &str, extra: &[&str]) -> Option<Verdict> {
    if !nix_root() {
        return skip(test, "not root");
    }
    let out = match Command::new("keepalived")
        .args(["-t", "-f", file])
        .args(extra)
        .current_dir(dir)
        .output()
    {
        Ok(o) => o,
        Err(e) => return skip(test, &format!("keepalived not runnable ({e})")),
    };
    Some(Verdict {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// `vrrpd check --config FILE [extra]` run in `dir`.
/// `vrrpd` is the binary under test (`env!("CARGO_BIN_EXE_vrrpd")` in an integration test).
pub fn vrrpd_check(vrrpd: &str, dir: &Path, file: &str, extra: &[&str]) -> Verdict {
    let out = Command::new(vrrpd)
        .args(["check", "--config", file])
        .args(extra)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("vrrpd runs");
    Verdict {
        code: out.status.code().unwrap_or(-1),
        text: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn nix_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A fresh directory for one test's files, removed when dropped.
pub struct Dir(pub std::path::PathBuf);

impl Dir {
    /// `$TMPDIR/vrrpd-NAME-PID`, empty.
    pub fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("vrrpd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Dir(d)
    }

    /// Write `text` to `name` inside (directories created).
    pub fn write(&self, name: &str, text: &str) -> &Dir {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(p, text).expect("write");
        self
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
