//! Hosts for tests and the demo lab: network namespaces, veth pairs and bpffs pin
//! directories in drop guards, so that a failing test leaves nothing behind; and the privilege
//! gate of the privileged tests.
//!
//! Addresses are documentation addresses only (192.0.2.0/24, 2001:db8::/32).

pub mod bench;
pub mod daemon;
pub mod probe;
pub mod side_by_side;

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

/// The tutorial's configuration `name` (`examples/tutorial/` in the repository), as the lab
/// tests run it unchanged.
pub fn tutorial(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/tutorial")
        .join(name)
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

/// The tutorial's network: a switch namespace with a bridge, and hosts each with an `eth0`
/// plugged into it (the seed configs name `eth0`, and must run unchanged). GRO is on at the
/// bridge ports so that frames sent with XDP_TX reach the bridge.
pub struct Lab {
    /// The switch.
    pub sw: NetNs,
    /// The hosts, by role name (`lb01`, `client`, …), with their switch port names.
    pub hosts: Vec<(String, NetNs, String)>,
}

impl Lab {
    /// Builds the switch and one host per `(role, address/prefix)`.
    pub fn new(hosts: &[(&str, &str)]) -> Self {
        let sw = NetNs::new("s");
        // A switch, not a firewall: a new namespace calls iptables' and ip6tables' hooks for
        // every bridged frame (br_netfilter's `bridge-nf-call-*` default to 1), about a third
        // of the sender's cost of a frame through this lab (the veth, the bridge and the
        // receiver's XDP all run in the sending system call). The failover bench's silent
        // failure drops with nftables' bridge family, which these do not touch.
        for table in ["arptables", "iptables", "ip6tables"] {
            let path = format!("/proc/sys/net/bridge/bridge-nf-call-{table}");
            sw.exec(&["sh", "-c", &format!("[ ! -e {path} ] || echo 0 > {path}")]);
        }
        sw.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
        // Forward at once: no STP learning delay in a lab.
        sw.exec(&[
            "ip",
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        ]);
        sw.exec(&["ip", "link", "set", "br0", "up"]);
        let mut lab = Lab {
            sw,
            hosts: Vec::new(),
        };
        for (role, addr) in hosts {
            let ns = NetNs::new("h");
            let port = plug(&lab.sw, &ns, "eth0", "br0", "p");
            ns.exec(&["ip", "addr", "add", addr, "dev", "eth0"]);
            ns.exec(&["ethtool", "-K", "eth0", "gro", "on"]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            lab.hosts.push((role.to_string(), ns, port));
        }
        lab
    }

    /// A second segment: a bridge `br1` in the switch and an `eth1` on each host of
    /// `hosts` (`(role, address/prefix)`), plugged into it; the switch ports, in that order.
    /// Duplicate address detection is off on `eth1`, so its link-local address is usable at
    /// once.
    pub fn add_segment(&self, hosts: &[(&str, &str)]) -> Vec<String> {
        self.sw
            .exec(&["ip", "link", "add", "br1", "type", "bridge"]);
        self.sw.exec(&[
            "ip",
            "link",
            "set",
            "br1",
            "type",
            "bridge",
            "forward_delay",
            "0",
            "stp_state",
            "0",
        ]);
        self.sw.exec(&["ip", "link", "set", "br1", "up"]);
        let mut ports = Vec::new();
        for (role, addr) in hosts {
            let ns = self.host(role);
            let port = plug(&self.sw, ns, "eth1", "br1", "q");
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth1.accept_dad=0"]);
            ns.exec(&["ip", "addr", "add", addr, "dev", "eth1"]);
            ns.exec(&["ethtool", "-K", "eth1", "gro", "on"]);
            ns.exec(&["ip", "link", "set", "eth1", "up"]);
            ports.push(port);
        }
        ports
    }

    /// The tutorial's hosts: lb01 192.0.2.4, lb02 192.0.2.5 and a client 192.0.2.10.
    pub fn seed() -> Self {
        Lab::new(&[
            ("lb01", "192.0.2.4/24"),
            ("lb02", "192.0.2.5/24"),
            ("client", "192.0.2.10/24"),
        ])
    }

    /// The tutorial's hosts with IPv6 too: 2001:db8::4, ::5 and ::10 beside their IPv4
    /// addresses (without duplicate address detection, so they are usable at once).
    pub fn seed6() -> Self {
        let lab = Lab::seed();
        for (role, addr) in [
            ("lb01", "2001:db8::4/64"),
            ("lb02", "2001:db8::5/64"),
            ("client", "2001:db8::10/64"),
        ] {
            lab.host(role)
                .exec(&["ip", "addr", "add", addr, "dev", "eth0", "nodad"]);
        }
        lab
    }

    /// Captures ARP, VRRP and ICMPv6 on the switch's bridge into `file` until the returned
    /// process is dropped.
    pub fn capture(&self, file: &std::path::Path) -> Child {
        Child::spawn_in(
            &self.sw,
            &[
                "tcpdump",
                "-U",
                "-n",
                "-i",
                "br0",
                "-w",
                file.to_str().expect("a UTF-8 path"),
                "arp or ip proto 112 or ip6 proto 112 or icmp6",
            ],
            &file.with_extension("tcpdump.log"),
        )
        .expect("tcpdump")
    }

    /// The host playing `role`.
    pub fn host(&self, role: &str) -> &NetNs {
        &self
            .hosts
            .iter()
            .find(|(r, _, _)| r == role)
            .expect("no such host")
            .1
    }

    /// The switch port of `role`.
    pub fn port(&self, role: &str) -> &str {
        &self
            .hosts
            .iter()
            .find(|(r, _, _)| r == role)
            .expect("no such host")
            .2
    }

    /// Takes `role`'s link down (its switch port), as a cable pull.
    pub fn link_down(&self, role: &str) {
        self.sw
            .exec(&["ip", "link", "set", self.port(role), "down"]);
    }

    /// Brings `role`'s link back.
    pub fn link_up(&self, role: &str) {
        self.sw.exec(&["ip", "link", "set", self.port(role), "up"]);
    }
}

/// A child process, killed (SIGKILL) and reaped on drop unless it already exited.
pub struct Child {
    /// The process.
    pub child: std::process::Child,
}

impl Child {
    /// Starts `args` inside `ns` (network namespace only), stderr to `log`.
    pub fn spawn_in(ns: &NetNs, args: &[&str], log: &std::path::Path) -> std::io::Result<Self> {
        let log = std::fs::File::create(log)?;
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", ns.name))
            .arg("--")
            .args(args)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(Child { child })
    }

    /// Sends a signal.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal);
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_timeout(
        &mut self,
        timeout: std::time::Duration,
    ) -> Option<std::process::ExitStatus> {
        let end = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A veth from interface `iface` of host `ns` to a new port of bridge `bridge` in the switch
/// `sw` (GRO on, up; XDP_TX on a veth reaches the peer only with GRO or XDP there): the
/// port's name, unique to the run and starting with `tag`. The host's side is left to the
/// caller.
fn plug(sw: &NetNs, ns: &NetNs, iface: &str, bridge: &str, tag: &str) -> String {
    let port = unique(tag);
    sh(&[
        "ip", "link", "add", iface, "netns", &ns.name, "type", "veth", "peer", "name", &port,
        "netns", &sw.name,
    ]);
    sw.exec(&["ip", "link", "set", &port, "master", bridge]);
    sw.exec(&["ethtool", "-K", &port, "gro", "on"]);
    sw.exec(&["ip", "link", "set", &port, "up"]);
    port
}
