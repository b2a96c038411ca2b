//! `vrrpd` and keepalived as processes in lab hosts, and the measurements the lab tests and the
//! demo make of them.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use super::{Child, Lab, NetNs, PinDir, unique};
use crate::status::InstanceStatus;

/// The VIP of the seed configs in the lab.
pub const VIP: &str = "192.0.2.3";
/// The VMAC of VRID 50 (the seed configs' virtual_router_id).
pub const VMAC_50: &str = "00:00:5e:00:01:32";
/// The IPv6 VIP of the lab's IPv6 instances.
pub const VIP6: &str = "2001:db8::3";
/// The IPv6 VMAC of VRID 50.
pub const VMAC6_50: &str = "00:00:5e:00:02:32";

/// Where the lab keeps logs, sockets, configs and captures: a fresh directory per run under
/// /tmp (see [`RunDir`]).
pub fn run_dir() -> RunDir {
    RunDir::new()
}

/// A lab run's directory (`/tmp/vrrp-lab-<unique>`), removed with everything in it on drop,
/// as the lab's other resources are; kept when the thread is panicking (a failing test), with
/// its path on stderr, so that the logs and captures of a failure can be read.
///
/// It derefs to its [`Path`]. Bind it before the daemons, captures and scripts that write into
/// it, so that they are stopped (dropped) before it is removed: a process killed after the
/// removal would write into a directory that is gone, or create it again.
pub struct RunDir {
    /// Empty once [`RunDir::keep`] took it.
    path: PathBuf,
}

impl Default for RunDir {
    fn default() -> Self {
        Self::new()
    }
}

impl RunDir {
    /// Creates a new directory under the system's temporary directory.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("vrrp-lab-{}", unique("d")));
        std::fs::create_dir_all(&path).expect("create the lab's run directory");
        RunDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory after the run whatever its outcome (for a run whose logs are read
    /// afterwards, as the chaos harness's), and gives its path.
    pub fn keep(self) -> PathBuf {
        let mut me = std::mem::ManuallyDrop::new(self);
        std::mem::take(&mut me.path)
    }
}

impl std::ops::Deref for RunDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for RunDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept the lab's run directory for inspection: {}",
                self.path.display()
            );
            return;
        }
        // A process that is still exiting (keepalived's VRRP child after its parent's SIGKILL)
        // may remove or write a file while the tree is walked: try again a little later.
        let mut tries = 0;
        loop {
            match std::fs::remove_dir_all(&self.path) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) if tries == 3 => {
                    eprintln!(
                        "could not remove the lab's run directory {}: {e}",
                        self.path.display()
                    );
                    return;
                }
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// A `vrrpd run` in a lab host, stopped (SIGKILL) and its pins removed on drop.
pub struct Vrrpd {
    /// The process.
    pub child: Child,
    /// Its control socket.
    pub socket: PathBuf,
    /// Its log (stderr).
    pub log: PathBuf,
    pins: PinDir,
    /// The binary it runs, for `vrrpd status` as an operator runs it.
    bin: PathBuf,
}

impl Vrrpd {
    /// Starts `vrrpd run --config CONFIG` in `ns`, with its socket and log in `dir`.
    pub fn start(bin: &Path, ns: &NetNs, config: &Path, dir: &Path, name: &str) -> Self {
        let pins = PinDir::new();
        Self::start_with_pins(bin, ns, config, dir, name, pins)
    }

    /// As [`Vrrpd::start`], reusing pins left by an earlier run (a restart after kill -9).
    pub fn start_with_pins(
        bin: &Path,
        ns: &NetNs,
        config: &Path,
        dir: &Path,
        name: &str,
        pins: PinDir,
    ) -> Self {
        Self::spawn(bin, ns, config, dir, name, pins, &[])
    }

    /// As [`Vrrpd::start`], with more arguments for `vrrpd run` (`--metrics-listen …`).
    pub fn start_with_args(
        bin: &Path,
        ns: &NetNs,
        config: &Path,
        dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> Self {
        Self::spawn(bin, ns, config, dir, name, PinDir::new(), extra)
    }

    fn spawn(
        bin: &Path,
        ns: &NetNs,
        config: &Path,
        dir: &Path,
        name: &str,
        pins: PinDir,
        extra: &[&str],
    ) -> Self {
        let socket = dir.join(format!("{name}.sock"));
        let log = dir.join(format!("{name}.{}.log", unique("l")));
        let mut args = vec![
            bin.to_str().unwrap(),
            "run",
            "--config",
            config.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
            "--pin-root",
            pins.path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let child = Child::spawn_in(ns, &args, &log).expect("start vrrpd");
        Vrrpd {
            child,
            socket,
            log,
            pins,
            bin: bin.to_path_buf(),
        }
    }

    /// The first instance's status, if the daemon answers.
    pub fn status(&self) -> Option<InstanceStatus> {
        self.statuses()?.into_iter().next()
    }

    /// Every instance's status, if the daemon answers.
    pub fn statuses(&self) -> Option<Vec<InstanceStatus>> {
        crate::control::query(&self.socket).ok()
    }

    /// `vrrpd status --json` as an operator runs it (every instance).
    pub fn status_json(&self) -> serde_json::Value {
        let out = std::process::Command::new(&self.bin)
            .args(["status", "--json", "--control-socket"])
            .arg(&self.socket)
            .output()
            .expect("vrrpd status runs");
        assert!(out.status.success(), "{out:?}\n{}", self.log_text());
        serde_json::from_slice(&out.stdout).expect("vrrpd status --json prints JSON")
    }

    /// The statuses and the log, for a failed assertion's message.
    pub fn report(&self) -> String {
        format!("{:?}\n{}", self.statuses(), self.log_text())
    }

    /// Each instance's state, in configuration order (empty if the daemon does not answer).
    pub fn states(&self) -> Vec<String> {
        self.statuses()
            .unwrap_or_default()
            .into_iter()
            .map(|s| s.state)
            .collect()
    }

    /// The first instance's state (`MASTER`, `BACKUP`, …), if the daemon answers.
    pub fn state(&self) -> Option<String> {
        self.status().map(|s| s.state)
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the process without cleanup (kill -9) and hands back its pins, as a crash does.
    pub fn kill9(mut self) -> PinDir {
        self.child.signal(nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait_timeout(Duration::from_secs(5));
        std::mem::take(&mut self.pins)
    }
}

/// Waits (at most `within`) until `lb01` is MASTER, before its peer starts: started together,
/// lb01 (`state MASTER`, priority 100) takes over only 39 ms before lb02's (90)
/// Master_Down_Timer runs out (keepalived 2.2.7's start rule), a race that a loaded or stalled
/// machine can lose (lb02 master for a moment: its announcements, transitions and reasons).
pub fn wait_master_first(lb01: &Vrrpd, within: Duration) {
    wait_for(within, || lb01.state().as_deref() == Some("MASTER")).unwrap_or_else(|| {
        panic!(
            "lb01 never MASTER {:?}\n{}",
            lb01.statuses(),
            lb01.log_text()
        )
    });
}

/// Starts vrrpd in the lab's lb01 with `conf1` and in lb02 with `conf2`, and waits until lb01
/// is MASTER and lb02 BACKUP (panicking with their states and logs if they are not within 8 s:
/// as in keepalived 2.2.7, `state MASTER` below priority 255 takes over only after its
/// Master_Down_Interval, 3.61 s at priority 100 and 1 s).
pub fn start_pair(bin: &Path, lab: &Lab, conf1: &Path, conf2: &Path, dir: &Path) -> (Vrrpd, Vrrpd) {
    let lb01 = Vrrpd::start(bin, lab.host("lb01"), conf1, dir, "lb01");
    wait_master_first(&lb01, Duration::from_secs(8));
    let lb02 = Vrrpd::start(bin, lab.host("lb02"), conf2, dir, "lb02");
    wait_for(Duration::from_secs(8), || {
        lb01.state().as_deref() == Some("MASTER") && lb02.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| {
        panic!(
            "lb01 {:?} / lb02 {:?}\n{}\n{}",
            lb01.statuses(),
            lb02.statuses(),
            lb01.log_text(),
            lb02.log_text()
        )
    });
    (lb01, lb02)
}

/// tshark's `field` of each frame of `pcap` that matches the display `filter`, one a line.
pub fn tshark_fields(pcap: &Path, filter: &str, field: &str) -> String {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-e", field])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `ns` holds the VIP on eth0.
pub fn has_vip(ns: &NetNs) -> bool {
    holds(ns, VIP)
}

/// Whether `ns` holds `addr` (IPv4 or IPv6) on eth0.
pub fn holds(ns: &NetNs, addr: &str) -> bool {
    let family = if addr.contains(':') { "inet6" } else { "inet" };
    ns.exec(&["ip", "-o", "addr", "show", "dev", "eth0"])
        .contains(&format!("{family} {addr}/"))
}

/// The IPv6 link-local address of `ns`'s eth0 (what its IPv6 adverts come from).
pub fn link_local(ns: &NetNs) -> String {
    let out = ns.exec(&[
        "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link",
    ]);
    let words: Vec<&str> = out.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| *w == "inet6")
        .expect("eth0 has a link-local address");
    words[i + 1]
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Polls `f` every 5 ms until it holds or `timeout` passes; how long it took.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The client's neighbour entry for the VIP: (MAC, state), if any.
pub fn neighbour(client: &NetNs) -> Option<(String, String)> {
    neighbour_of(client, VIP)
}

/// The client's neighbour entry (ARP or NDP) for `addr`: (MAC, state), if any.
pub fn neighbour_of(client: &NetNs, addr: &str) -> Option<(String, String)> {
    let out = client.exec(&["ip", "neigh", "show", addr, "dev", "eth0"]);
    let words: Vec<&str> = out.split_whitespace().collect();
    let mac = words
        .iter()
        .position(|w| *w == "lladdr")
        .map(|i| words[i + 1].to_string())?;
    Some((mac, words.last().unwrap_or(&"").to_string()))
}

/// Whether one ping from `client` to the VIP is answered within a second.
pub fn ping_once(client: &NetNs) -> bool {
    ping(client, VIP)
}

/// Whether one ping (IPv4 or IPv6) from `client` to `addr` is answered within a second.
pub fn ping(client: &NetNs, addr: &str) -> bool {
    std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", client.name))
        .args(["--", "ping", "-c", "1", "-W", "1", addr])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// keepalived (Debian's) running its VRRP process in a lab host, stopped on drop.
pub struct Keepalived {
    /// The parent process (it forks the VRRP child).
    pub child: Child,
    /// Its log (console logging).
    pub log: PathBuf,
}

impl Keepalived {
    /// Starts `keepalived --dont-fork --log-console --vrrp -f CONFIG` in `ns`, with its pid
    /// files and log in `dir`.
    pub fn start(ns: &NetNs, config: &Path, dir: &Path, name: &str) -> Self {
        let tag = unique("k");
        let pid = dir.join(format!("{name}.{tag}.pid"));
        let vrrp_pid = dir.join(format!("{name}.{tag}.vrrp.pid"));
        let log = dir.join(format!("{name}.{tag}.keepalived.log"));
        let child = Child::spawn_in(
            ns,
            &[
                "keepalived",
                "--dont-fork",
                "--log-console",
                "--vrrp",
                "--use-file",
                config.to_str().unwrap(),
                "--pid",
                pid.to_str().unwrap(),
                "--vrrp_pid",
                vrrp_pid.to_str().unwrap(),
            ],
            &log,
        )
        .expect("start keepalived");
        Keepalived { child, log }
    }

    /// Crashes keepalived: its VRRP child is killed with SIGKILL, and so is the parent, which
    /// is stopped first so that it neither restarts the child nor, by dying first, sends it the
    /// SIGTERM (parent-death signal) that would make it leave gracefully.
    pub fn kill9(mut self) {
        use nix::sys::signal::{Signal, kill};
        let parent = nix::unistd::Pid::from_raw(self.child.child.id() as i32);
        let _ = kill(parent, Signal::SIGSTOP);
        // Children first: the VRRP child's parent-death signal is SIGTERM, so a parent killed
        // first would have it leave gracefully (priority 0) before its own SIGKILL lands.
        for pid in super::bench::process_tree(self.child.child.id())
            .into_iter()
            .rev()
        {
            let _ = kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = self.child.wait_timeout(Duration::from_secs(5));
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The state a daemon's log last reported for `instance`: vrrpd's `NAME: FROM -> TO (why)` or
/// keepalived's `(NAME) Entering TO STATE`.
pub fn last_logged_state(log: &str, instance: &str) -> Option<String> {
    logged_states(log).remove(instance)
}

/// The state a daemon's log last reported for each instance (see [`last_logged_state`]).
pub fn logged_states(log: &str) -> std::collections::HashMap<String, String> {
    let mut states = std::collections::HashMap::new();
    for line in log.lines() {
        if let Some(i) = line.find(") Entering ") {
            let Some(open) = line[..i].rfind('(') else {
                continue;
            };
            if let Some(state) = line[i + ") Entering ".len()..].split_whitespace().next() {
                states.insert(line[open + 1..i].to_string(), state.to_string());
            }
        } else if let Some(arrow) = line.find(" -> ") {
            let Some(colon) = line[..arrow].rfind(": ") else {
                continue;
            };
            let name = line[..colon].rsplit(' ').next().unwrap_or_default();
            if let Some(state) = line[arrow + 4..].split_whitespace().next() {
                states.insert(name.to_string(), state.to_string());
            }
        }
    }
    states
}

/// FRR (Debian's 8.4) as a VRRP peer in a lab host: its own zebra and vrrpd, with their
/// configs, pid files, vty sockets, zebra API socket and logs in a directory of the run, so
/// that nothing is shared with another FRR on the machine. vrrpd is stopped before zebra on
/// drop.
///
/// FRR wants the host prepared as its VRRP documentation says ([`Frr::prepare_host`]): one
/// macvlan per VRID and family, in bridge mode, with the VMAC and the VIPs on it; FRR keeps it
/// in protodown while backup. `arp_ignore=1` on the parent stops the parent answering ARP for a
/// backup's VIP with its own MAC, and `arp_announce=2` its ARP requests for the master's
/// replies (which leave by eth0, the VIP's subnet being on both) giving the VIP as their sender
/// with eth0's MAC, which would take the VIP away from the VMAC in every neighbour cache.
pub struct Frr {
    /// FRR's vrrpd, while it runs (declared first: dropped, so killed, before zebra).
    vrrpd: Option<Child>,
    /// zebra, which vrrpd asks to set protodown.
    _zebra: Child,
    /// This FRR's directory: configs, sockets, pid files, logs.
    dir: PathBuf,
    /// vrrpd's log.
    pub log: PathBuf,
    /// zebra's log.
    pub zebra_log: PathBuf,
    /// The namespace, for restarts.
    ns: String,
}

/// The name of the macvlan [`Frr::prepare_host`] makes for `vrid` in a family.
pub fn frr_macvlan(vrid: u8, v6: bool) -> String {
    format!("vrrp{}-{vrid}", if v6 { 6 } else { 4 })
}

impl Frr {
    /// Prepares `ns` for FRR's VRRP on eth0: a macvlan per family that `vips` has (bridge mode,
    /// random IPv6 link-local, the VMAC of `vrid`, the VIPs, up; no duplicate address detection
    /// so that its link-local, FRR's IPv6 advert source, is usable at once), and
    /// `arp_ignore=1` and `arp_announce=2` on eth0.
    pub fn prepare_host(ns: &NetNs, vrid: u8, vips: &[&str]) {
        ns.exec(&["sysctl", "-qw", "net.ipv4.conf.eth0.arp_ignore=1"]);
        ns.exec(&["sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=2"]);
        for v6 in [false, true] {
            let mine: Vec<&&str> = vips.iter().filter(|a| a.contains(':') == v6).collect();
            if mine.is_empty() {
                continue;
            }
            let dev = frr_macvlan(vrid, v6);
            // `addrgenmode` in the same `ip link add` is refused here (EAFNOSUPPORT), so it is
            // set before the link comes up.
            ns.exec(&[
                "ip", "link", "add", &dev, "link", "eth0", "type", "macvlan", "mode", "bridge",
            ]);
            ns.exec(&["ip", "link", "set", &dev, "addrgenmode", "random"]);
            let mac = format!("00:00:5e:00:0{}:{vrid:02x}", if v6 { 2 } else { 1 });
            ns.exec(&["ip", "link", "set", &dev, "address", &mac]);
            if v6 {
                ns.exec(&[
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{dev}.accept_dad=0"),
                ]);
            }
            for vip in mine {
                let with_len = if v6 {
                    format!("{vip}/64")
                } else {
                    format!("{vip}/24")
                };
                ns.exec(&["ip", "addr", "add", &with_len, "dev", &dev]);
            }
            ns.exec(&["ip", "link", "set", &dev, "up"]);
        }
    }

    /// Starts zebra, then FRR's vrrpd with `vrrpd_conf` (the text of its config), in `ns`
    /// (already prepared by [`Frr::prepare_host`]); its files under `dir/NAME.TAG.frr/`.
    pub fn start(ns: &NetNs, dir: &Path, name: &str, vrrpd_conf: &str) -> Self {
        let dir = dir.join(format!("{name}.{}.frr", unique("f")));
        std::fs::create_dir_all(&dir).expect("create FRR's directory");
        std::fs::write(dir.join("zebra.conf"), format!("hostname {name}\n")).unwrap();
        std::fs::write(dir.join("vrrpd.conf"), vrrpd_conf).unwrap();
        let zebra_log = dir.join("zebra.log");
        let zserv = dir.join("zserv.api");
        let zebra_args = Self::args(&dir, "zebra");
        let zebra_args: Vec<&str> = zebra_args.iter().map(String::as_str).collect();
        let zebra = Child::spawn_in(ns, &zebra_args, &dir.join("zebra.out")).expect("start zebra");
        // vrrpd would retry, but a zebra that cannot start should fail here, with its log.
        wait_for(Duration::from_secs(10), || zserv.exists()).unwrap_or_else(|| {
            panic!(
                "zebra did not open {}: {}",
                zserv.display(),
                std::fs::read_to_string(&zebra_log).unwrap_or_default()
            )
        });
        let mut frr = Frr {
            vrrpd: None,
            _zebra: zebra,
            log: dir.join("vrrpd.log"),
            zebra_log,
            dir,
            ns: ns.name.clone(),
        };
        frr.start_vrrpd();
        frr
    }

    /// The command line of FRR daemon `daemon` with its files in `dir`. FRR checks that the
    /// user is in its vty group (`frrvty`); `-g frrvty` makes it so for root without changing
    /// the system's groups.
    fn args(dir: &Path, daemon: &str) -> Vec<String> {
        let path = |f: &str| dir.join(f).to_str().expect("a UTF-8 path").to_string();
        [
            format!("/usr/lib/frr/{daemon}"),
            "-u".into(),
            "root".into(),
            "-g".into(),
            "frrvty".into(),
            "-P".into(),
            "0".into(),
            "-f".into(),
            path(&format!("{daemon}.conf")),
            "-i".into(),
            path(&format!("{daemon}.pid")),
            "--vty_socket".into(),
            path(""),
            "-z".into(),
            path("zserv.api"),
            "--log".into(),
            format!("file:{}", path(&format!("{daemon}.log"))),
        ]
        .into()
    }

    /// Starts FRR's vrrpd (again, after [`Frr::stop`] or [`Frr::kill9`]).
    pub fn start_vrrpd(&mut self) {
        assert!(self.vrrpd.is_none(), "FRR's vrrpd already runs");
        let out = std::fs::File::create(self.dir.join("vrrpd.out")).expect("FRR's vrrpd.out");
        let child = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .arg("--")
            .args(Self::args(&self.dir, "vrrpd"))
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("start FRR's vrrpd");
        self.vrrpd = Some(Child { child });
    }

    /// Stops FRR's vrrpd with SIGTERM (a master sends priority 0 and sets protodown); its exit
    /// status, if it exited within 10 s.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.vrrpd.take()?;
        child.signal(nix::sys::signal::Signal::SIGTERM);
        child.wait_timeout(Duration::from_secs(10))
    }

    /// Crashes FRR's vrrpd (SIGKILL): no priority 0, and its macvlans stay as they were.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.vrrpd.take() {
            child.signal(nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait_timeout(Duration::from_secs(5));
        }
    }

    /// FRR's `show vrrp json` for the first virtual router, if its vrrpd answers.
    pub fn status(&self) -> Option<serde_json::Value> {
        self.vrrpd.as_ref()?;
        let out = std::process::Command::new("vtysh")
            .arg("--vty_socket")
            .arg(&self.dir)
            .args(["-d", "vrrpd", "-c", "show vrrp json"])
            .output()
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v.as_array()?.first().cloned()
    }

    /// FRR's state (`Master`, `Backup`, `Initialize`) for the family, if its vrrpd answers.
    pub fn state(&self, v6: bool) -> Option<String> {
        let s = self.status()?;
        Some(
            s[if v6 { "v6" } else { "v4" }]["status"]
                .as_str()?
                .to_string(),
        )
    }

    /// The address FRR advertises from in the family (IPv4: eth0's primary; IPv6: its
    /// macvlan's link-local), if its vrrpd answers.
    pub fn primary(&self, v6: bool) -> Option<String> {
        let s = self.status()?;
        Some(
            s[if v6 { "v6" } else { "v4" }]["primaryAddress"]
                .as_str()?
                .to_string(),
        )
    }

    /// Whether the macvlan of `vrid` in the family is up without protodown in `ns`: FRR there
    /// is master and the VIPs on it are live.
    pub fn holds(ns: &NetNs, vrid: u8, v6: bool) -> bool {
        let out = ns.exec(&["ip", "-d", "link", "show", "dev", &frr_macvlan(vrid, v6)]);
        out.contains("LOWER_UP") && !out.contains("protodown on")
    }

    /// vrrpd's log and zebra's so far.
    pub fn log_text(&self) -> String {
        format!(
            "FRR vrrpd:\n{}\nzebra:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(&self.zebra_log).unwrap_or_default()
        )
    }
}

impl Vrrpd {
    /// The directory of its bpffs pins (`--pin-root`), to check that a stopped daemon left
    /// nothing pinned.
    pub fn pin_dir(&self) -> &Path {
        &self.pins.path
    }
}

/// Whether `tool` (from Debian's `prometheus`) is installed; with `CI` set its absence fails.
pub fn installed(test: &str, tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    let why = format!("{tool} is not installed (Debian's prometheus; cargo xtask setup)");
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
    false
}

/// An HTTP/1.0 GET of `path` from `addr` inside `ns`: the status code and the body.
pub fn http_get(ns: &NetNs, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let addr = addr.to_string();
    let path = path.to_string();
    ns.run(move || {
        let mut s = TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply)?;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
        let code = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((code, body.to_string()))
    })
}

/// `promtool check metrics` on a scrape: it must find nothing to say.
pub fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run directory with what a lab run leaves in it: a log, a nested directory (FRR's),
    /// a unix socket (a daemon's control socket).
    fn filled() -> RunDir {
        let dir = run_dir();
        std::fs::write(dir.join("lb01.log"), "lb01: BACKUP -> MASTER\n").unwrap();
        std::fs::create_dir(dir.join("lb02.frr")).unwrap();
        std::fs::write(dir.join("lb02.frr").join("zebra.log"), "zebra\n").unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(dir.join("lb01.sock")).unwrap();
        dir
    }

    #[test]
    fn run_dir_is_removed_after_a_passing_run() {
        let dir = filled();
        let path = dir.to_path_buf();
        assert!(path.join("lb01.log").exists());
        drop(dir);
        assert!(!path.exists(), "{} is left", path.display());
    }

    #[test]
    fn run_dir_is_kept_when_the_run_panics() {
        let (tx, rx) = std::sync::mpsc::channel();
        let run = std::thread::spawn(move || {
            let dir = filled();
            tx.send(dir.to_path_buf()).unwrap();
            panic!("a lab test fails (on purpose: its run directory must be kept)");
        });
        assert!(run.join().is_err());
        let path = rx.recv().unwrap();
        let kept =
            path.join("lb02.frr").join("zebra.log").exists() && path.join("lb01.log").exists();
        let _ = std::fs::remove_dir_all(&path);
        assert!(kept, "{} was not kept", path.display());
    }

    #[test]
    fn a_kept_run_dir_outlives_its_guard() {
        let path = filled().keep();
        let kept = path.join("lb01.log").exists();
        let _ = std::fs::remove_dir_all(&path);
        assert!(kept, "{} was not kept", path.display());
    }
}
