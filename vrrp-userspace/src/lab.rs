//! Hosts for tests and the demo lab: network namespaces, veth pairs and bpffs pin
//! directories in drop guards, so that a failing test leaves nothing behind; and the privilege
//! gate of the privileged tests.
//!
//! Addresses are documentation addresses only (192.0.2.0/24).

use std::{
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

/// Whether this process may load BPF programs and create network namespaces.
///
/// When it may not: with `CI` set this panics (a privileged test that skips itself in CI is a
/// failure), otherwise it prints why the test is skipped and returns false.
pub fn privileged(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    let netns = root
        && Command::new("ip")
            .args(["netns", "list"])
            .output()
            .is_ok_and(|o| o.status.success());
    if root && netns {
        return true;
    }
    let why = if !root {
        "not root"
    } else {
        "`ip netns` does not work"
    };
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but the privileged tests cannot run here: {why}");
    }
    eprintln!("SKIPPED {test}: {why} (privileged test; it is mandatory when CI is set)");
    false
}

/// A name unique to this test run: `vt<pid>-<n><suffix>`, short enough for an interface name.
pub fn unique(suffix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("vt{}{n}{suffix}", std::process::id() % 100_000);
    assert!(name.len() < 16, "interface name {name} too long");
    name
}

/// Runs a command to completion and panics with its output if it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("could not run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace, deleted (with its interfaces) on drop.
pub struct NetNs {
    /// The name under /run/netns.
    pub name: String,
}

impl NetNs {
    /// A new namespace named `vt<pid><n><suffix>`, with `lo` up.
    pub fn new(suffix: &str) -> Self {
        let name = unique(suffix);
        sh(&["ip", "netns", "add", &name]);
        let ns = NetNs { name };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace (network only: /sys stays the host's, so bpffs
    /// pins remain visible), panicking if it fails.
    pub fn exec(&self, args: &[&str]) -> String {
        let net = format!("--net=/run/netns/{}", self.name);
        let mut full = vec!["nsenter", net.as_str(), "--"];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// Runs `f` on a thread that has entered this namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(format!("/run/netns/{}", self.name))
                    .expect("open netns file");
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .expect("thread in namespace panicked")
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces joined by a veth pair with 192.0.2.1/24 (`a`) and 192.0.2.2/24 (`b`).
pub struct VethPair {
    /// The namespace with 192.0.2.1.
    pub a: NetNs,
    /// The namespace with 192.0.2.2.
    pub b: NetNs,
    /// a's end of the pair.
    pub a_if: String,
    /// b's end of the pair.
    pub b_if: String,
}

impl Default for VethPair {
    fn default() -> Self {
        Self::new()
    }
}

impl VethPair {
    /// Two new namespaces and the veth pair between them, up and addressed.
    pub fn new() -> Self {
        let a = NetNs::new("a");
        let b = NetNs::new("b");
        let a_if = unique("x");
        let b_if = unique("y");
        sh(&[
            "ip", "link", "add", &a_if, "netns", &a.name, "type", "veth", "peer", "name", &b_if,
            "netns", &b.name,
        ]);
        a.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &a_if]);
        b.exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &b_if]);
        a.exec(&["ip", "link", "set", &a_if, "up"]);
        b.exec(&["ip", "link", "set", &b_if, "up"]);
        VethPair { a, b, a_if, b_if }
    }
}

/// A directory of bpffs pins, removed with everything in it on drop (a pinned link left behind
/// would keep its program and maps alive after the test).
pub struct PinDir {
    /// The directory.
    pub path: std::path::PathBuf,
}

impl Default for PinDir {
    fn default() -> Self {
        Self::new()
    }
}

impl PinDir {
    /// A new, not yet created, directory name under /sys/fs/bpf.
    pub fn new() -> Self {
        PinDir {
            path: std::path::PathBuf::from(format!("/sys/fs/bpf/vrrpd-test-{}", unique("p"))),
        }
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
