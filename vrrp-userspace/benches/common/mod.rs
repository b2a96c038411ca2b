//! What the lab suites (failover, flood, scale) share: the two daemons behind one interface,
//! their keepalived.conf, and pairs of them in one lab.

#![allow(dead_code, reason = "each suite uses part of this module")]

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Duration,
};

use vrrp_userspace::{
    config::{Auth, Instance, Version, Vip},
    daemon::Frames as _,
    dataplane::monotonic_ns,
    frames::WireFrames,
    lab::{
        Lab, NetNs, PinDir,
        bench::{Capture, process_tree},
        daemon::{Keepalived, Vrrpd, last_logged_state},
    },
    units::{Centis, Priority, Vrid},
    wire::checksum,
};

/// Which daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vrrpd,
    Keepalived,
}

impl Kind {
    pub const BOTH: [Kind; 2] = [Kind::Vrrpd, Kind::Keepalived];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Vrrpd => "vrrpd",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// `vrrpd`, built by cargo for this bench (release profile).
pub fn vrrpd_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// A running daemon.
pub enum Node {
    Vrrpd(Vrrpd),
    Keepalived(Keepalived),
}

impl Node {
    /// Starts `kind` in `ns` with `config`; `pins` are a crashed vrrpd's, to take over.
    pub fn start(
        kind: Kind,
        ns: &NetNs,
        config: &Path,
        dir: &Path,
        name: &str,
        pins: Option<PinDir>,
    ) -> Node {
        match kind {
            Kind::Vrrpd => Node::Vrrpd(match pins {
                Some(p) => Vrrpd::start_with_pins(&vrrpd_bin(), ns, config, dir, name, p),
                None => Vrrpd::start(&vrrpd_bin(), ns, config, dir, name),
            }),
            Kind::Keepalived => Node::Keepalived(Keepalived::start(ns, config, dir, name)),
        }
    }

    pub fn pid(&self) -> u32 {
        match self {
            Node::Vrrpd(v) => v.child.child.id(),
            Node::Keepalived(k) => k.child.child.id(),
        }
    }

    /// The daemon's processes (keepalived forks its VRRP process).
    pub fn pids(&self) -> Vec<u32> {
        process_tree(self.pid())
    }

    pub fn log_text(&self) -> String {
        match self {
            Node::Vrrpd(v) => v.log_text(),
            Node::Keepalived(k) => k.log_text(),
        }
    }

    /// Lines logged so far.
    pub fn log_lines(&self) -> usize {
        self.log_text().lines().count()
    }

    /// The state the log last reported for instance `VI_1`.
    pub fn state(&self) -> Option<String> {
        last_logged_state(&self.log_text(), "VI_1")
    }

    /// Sends SIGTERM (no wait).
    pub fn term(&self) {
        let child = match self {
            Node::Vrrpd(v) => &v.child,
            Node::Keepalived(k) => &k.child,
        };
        child.signal(nix::sys::signal::Signal::SIGTERM);
    }

    /// Waits for the process to exit after [`Node::term`].
    pub fn wait_exit(mut self) {
        let child = match &mut self {
            Node::Vrrpd(v) => &mut v.child,
            Node::Keepalived(k) => &mut k.child,
        };
        let _ = child.wait_timeout(Duration::from_secs(5));
    }

    /// Crashes the daemon (SIGKILL); a vrrpd's pins, for its restart.
    pub fn kill9(self) -> Option<PinDir> {
        match self {
            Node::Vrrpd(v) => Some(v.kill9()),
            Node::Keepalived(k) => {
                k.kill9();
                None
            }
        }
    }
}

/// The advert interval under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// VRRPv2 with PASS, 1 s.
    V2Second,
    /// VRRPv3, 100 ms.
    V3Hundred,
    /// VRRPv3, 10 ms.
    V3Ten,
}

impl Interval {
    pub const ALL: [Interval; 3] = [Interval::V2Second, Interval::V3Hundred, Interval::V3Ten];

    pub fn label(self) -> &'static str {
        match self {
            Interval::V2Second => "v2 PASS, 1 s",
            Interval::V3Hundred => "v3, 100 ms",
            Interval::V3Ten => "v3, 10 ms",
        }
    }

    pub fn centis(self) -> u64 {
        match self {
            Interval::V2Second => 100,
            Interval::V3Hundred => 10,
            Interval::V3Ten => 1,
        }
    }

    pub fn nanos(self) -> u64 {
        self.centis() * 10_000_000
    }

    /// Skew_Time for `priority`: RFC 9568 section 6.1's `((256 - priority) * interval) / 256`
    /// centiseconds, not rounded to whole ones (as keepalived and vrrpd compute it; v2: RFC
    /// 3768's `(256 - priority) / 256` seconds).
    pub fn skew_ns(self, priority: u64) -> u64 {
        match self {
            Interval::V2Second => (256 - priority) * 1_000_000_000 / 256,
            _ => (256 - priority) * self.centis() * 10_000_000 / 256,
        }
    }

    /// Master_Down_Interval for a backup of `priority`.
    pub fn master_down_ns(self, priority: u64) -> u64 {
        3 * self.nanos() + self.skew_ns(priority)
    }

    fn conf_lines(self) -> &'static str {
        match self {
            Interval::V2Second => {
                "    advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n"
            }
            Interval::V3Hundred => "    version 3\n    advert_int 0.1\n",
            Interval::V3Ten => "    version 3\n    advert_int 0.01\n",
        }
    }
}

/// A keepalived.conf with one instance `VI_1`, which both daemons run unchanged.
#[derive(Clone, Debug)]
pub struct Conf {
    pub router_id: String,
    pub state: &'static str,
    pub nopreempt: bool,
    pub priority: u8,
    pub vrid: u8,
    pub vip: Ipv4Addr,
    pub interval: Interval,
}

impl Conf {
    pub fn text(&self) -> String {
        format!(
            "global_defs {{\n    router_id {}\n}}\nvrrp_instance VI_1 {{\n    state {}\n{}    interface eth0\n    virtual_router_id {}\n    priority {}\n{}    virtual_ipaddress {{\n        {}\n    }}\n}}\n",
            self.router_id,
            self.state,
            if self.nopreempt {
                "    nopreempt\n"
            } else {
                ""
            },
            self.vrid,
            self.priority,
            self.interval.conf_lines(),
            self.vip
        )
    }

    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.conf", self.router_id));
        std::fs::write(&path, self.text()).expect("write a config");
        path
    }
}

/// Two hosts running one daemon kind for one router, with a capture on each host's switch port.
pub struct Pair {
    pub kind: Kind,
    pub vrid: u8,
    pub vip: Ipv4Addr,
    pub interval: Interval,
    /// Host role names in the lab.
    pub roles: [String; 2],
    pub configs: [PathBuf; 2],
    pub nodes: [Option<Node>; 2],
    pub captures: [Capture; 2],
    /// Starts so far (log and socket names stay unique).
    pub starts: usize,
}

impl Pair {
    /// Starts `kind` on hosts `roles` of `lab`, both with `conf` but their own router_id.
    pub fn start(lab: &Lab, dir: &Path, kind: Kind, roles: [&str; 2], conf: [Conf; 2]) -> Pair {
        let configs = [conf[0].write(dir), conf[1].write(dir)];
        let captures = [
            Capture::start(&lab.sw, lab.port(roles[0])).expect("capture"),
            Capture::start(&lab.sw, lab.port(roles[1])).expect("capture"),
        ];
        let mut pair = Pair {
            kind,
            vrid: conf[0].vrid,
            vip: conf[0].vip,
            interval: conf[0].interval,
            roles: [roles[0].to_string(), roles[1].to_string()],
            configs,
            nodes: [None, None],
            captures,
            starts: 0,
        };
        for i in 0..2 {
            pair.restart(lab, dir, i, None);
        }
        pair
    }

    /// (Re)starts the daemon of host `i`.
    pub fn restart(&mut self, lab: &Lab, dir: &Path, i: usize, pins: Option<PinDir>) {
        self.starts += 1;
        let name = format!("{}-{}", self.roles[i], self.starts);
        self.nodes[i] = Some(Node::start(
            self.kind,
            lab.host(&self.roles[i]),
            &self.configs[i],
            dir,
            &name,
            pins,
        ));
    }

    /// The host whose adverts are the newest, if any.
    pub fn master(&self) -> Option<usize> {
        let last = |i: usize| self.captures[i].last_advert(self.vrid);
        match (last(0), last(1)) {
            (Some(a), Some(b)) => Some(if a >= b { 0 } else { 1 }),
            (Some(_), None) => Some(0),
            (None, Some(_)) => Some(1),
            (None, None) => None,
        }
    }

    /// One master advertising (within 1.5 intervals), the other silent for 3 intervals, and
    /// both daemons saying so in their logs: the master index.
    pub fn steady(&self) -> Option<usize> {
        let now = monotonic_ns();
        let m = self.master()?;
        let b = 1 - m;
        let a = self.interval.nanos();
        let fresh = self.captures[m]
            .last_advert(self.vrid)
            .is_some_and(|t| now - t < a + a / 2 + 5_000_000);
        let quiet = self.captures[b]
            .last_advert(self.vrid)
            .is_none_or(|t| now - t > 3 * a);
        let logged = |i: usize, s: &str| {
            self.nodes[i]
                .as_ref()
                .and_then(Node::state)
                .is_some_and(|st| st == s)
        };
        (fresh && quiet && logged(m, "MASTER") && logged(b, "BACKUP")).then_some(m)
    }

    /// Waits up to `timeout` for [`Pair::steady`].
    pub fn wait_steady(&self, timeout: Duration) -> Option<usize> {
        let end = monotonic_ns() + timeout.as_nanos() as u64;
        loop {
            if let Some(m) = self.steady() {
                return Some(m);
            }
            if monotonic_ns() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Both daemons' logs, for a report of what went wrong.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .zip(&self.roles)
            .map(|(n, r)| {
                let log = n.as_ref().map(Node::log_text).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- {} {r}:\n{}",
                    self.kind.name(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Milliseconds from nanoseconds.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `p50 / p99 / max` of `values` (ms), or `n/a`.
pub fn summary(values: &[f64]) -> String {
    use vrrp_userspace::lab::bench::quantile;
    match (
        quantile(values, 0.5),
        quantile(values, 0.99),
        quantile(values, 1.0),
    ) {
        (Some(a), Some(b), Some(c)) => format!("{a:.1} / {b:.1} / {c:.1}"),
        _ => "n/a".into(),
    }
}

/// The command line that runs `suite` as this process was asked to, for a table's heading.
pub fn command(suite: &str) -> String {
    format!(
        "cargo xtask bench {suite}{}{}",
        if quick() { " --quick" } else { "" },
        only().map_or(String::new(), |o| format!(" --only \"{o}\""))
    )
}

/// Whether `--quick` was given: a short run.
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// `--only TEXT`: the part of a suite to run (xdp: the paths, failover: the cells whose name
/// contains TEXT).
pub fn only() -> Option<String> {
    flag_value("--only")
}

/// The argument after `flag` on the command line, if the flag is there (None too when it is
/// last).
pub fn flag_value(flag: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != flag);
    args.next()?;
    args.next()
}

/// Whether this run is the record: a full run, neither quick nor partial, which rewrites its
/// section of BENCHMARKS.md and its plot in `docs/bench/`.
pub fn records() -> bool {
    !quick() && only().is_none()
}

/// Where a plot goes: `docs/bench/` beside BENCHMARKS.md for the record, `target/bench/` for a
/// quick or partial run (which must not overwrite the recorded figures).
pub fn plot_path(name: &str) -> PathBuf {
    let under = if records() {
        "../docs/bench"
    } else {
        "../target/bench"
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(under);
    std::fs::create_dir_all(&dir).expect("create docs/bench");
    dir.join(name)
}

/// The attacker of the flood suites: a host on the lab's switch that is no router.
pub const ATTACKER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x66];
pub const ATTACKER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);

/// An advert for `vrid` and `vip` at priority 255 from the attacker, as `interval`'s routers
/// send them (v2 with PASS `password` at 1 s, v3 otherwise, `password` then unused).
pub fn forged_advert(vrid: u8, vip: Ipv4Addr, interval: Interval, password: &[u8; 4]) -> Vec<u8> {
    let mut i = Instance::new("VI_1", "eth0", Vrid::new(vrid).expect("a VRID"));
    if interval == Interval::V2Second {
        i.version = Version::V2;
        let mut pw = [0u8; 8];
        pw[..4].copy_from_slice(password);
        i.auth = Auth::Pass { password: pw };
    } else {
        i.version = Version::V3;
    }
    i.advert_interval = Centis(interval.centis() as u32);
    i.vips = vec![Vip {
        address: vip.into(),
        prefix_len: 32,
        dev: "eth0".into(),
        label: None,
        scope: Default::default(),
        broadcast: None,
    }];
    let mut f = WireFrames::advert(&i, ATTACKER, Priority(255));
    f[6..12].copy_from_slice(&ATTACKER_MAC);
    f
}

/// Recomputes the IPv4 header checksum of an Ethernet frame.
pub fn fix_ip_checksum(f: &mut [u8]) {
    f[24..26].fill(0);
    let sum = checksum::finish(checksum::sum(&f[14..34]));
    f[24..26].copy_from_slice(&sum.to_be_bytes());
}
