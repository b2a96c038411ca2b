//! `cargo xtask chaos [--minutes N] [--seed S] [--keepalived] [--record]`: a lab of three hosts
//! running several VRRP instances, a client probing every VIP, and faults injected from a seeded
//! schedule while invariants are checked.
//!
//! The daemon is a black box: the built `vrrpd` binary (or Debian's keepalived with
//! `--keepalived`, same configs, same schedule), driven by signals, config files, the network
//! and `vrrpd status --json`. Nothing here links the daemon's internals.
//!
//! Lab: a bridge (`switch`), lb01 192.0.2.4, lb02 .5, lb03 .6 and a client .10 (and
//! 2001:db8::4/5/6/10). Every lb runs four instances at advert_int 0.2 s, VRRPv3:
//!
//! | instance | VRID | VIP | priorities lb01/02/03 | what |
//! |---|---|---|---|---|
//! | VI_1 | 51 | 192.0.2.51 | 150/100/50 | multicast, sync group VG_1, track_script `chk` (FAULT) |
//! | VI_2 | 52 | 192.0.2.52 | 150/100/50 | multicast, sync group VG_1 |
//! | VI_6 | 56 | 2001:db8::56 | 50/150/100 | IPv6, track_interface `trk0` (a veth whose peer goes down) weight -80 |
//! | VI_U | 53 | 192.0.2.53 | 100/50/150 | unicast peers, track_script `chk` weight -80, notify |
//!
//! Each step of the schedule draws a fault kind, a host and a hold time from the seed, injects
//! the fault, holds it, reverts it, waits for the lab to settle (each VIP back on its top host,
//! or 8 s), and checks: exactly one MAC answers ARP (arping) or ND (ndisc6) for each VIP and
//! exactly one host holds it; the client's longest gap in replies from each VIP since the
//! injection is within Master_Down_Interval of the priority-100 backup plus 10 ms (plus two
//! probe periods, the most a gap between replies overstates an outage, and plus any time in it
//! the whole machine was paused, which real-time threads pinned to each CPU measure); no daemon
//! exited that was not sent SIGTERM or SIGKILL (checked every 20 ms); no zombie children;
//! `vrrpd status` answered throughout a status loop. At the end: resident memory per daemon
//! process flat over its life, and after SIGTERM no VIP, pin, socket, attached program or
//! script process left. The seed and every step are printed, so a run can be replayed.

use std::{
    collections::BTreeMap,
    io::{Read as _, Seek as _, SeekFrom},
    path::{Path, PathBuf},
    process::{Command, ExitCode, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use vrrp_userspace::lab::{
    Child, Lab, NetNs, PinDir,
    bench::{Flood, StallWatch, keepalived_version, machine_line, process_tree, rss_kib},
    daemon::{Keepalived, Vrrpd, run_dir},
    probe::{self, realtime},
};

const ROLES: [&str; 3] = ["lb01", "lb02", "lb03"];
const ADDRS: [&str; 3] = ["192.0.2.4", "192.0.2.5", "192.0.2.6"];
const ADDRS6: [&str; 3] = ["2001:db8::4", "2001:db8::5", "2001:db8::6"];
/// Advert interval, centiseconds.
const ADVERT_CS: u64 = 20;

struct Inst {
    name: &'static str,
    vrid: u8,
    vip: &'static str,
    prios: [u8; 3],
}

const INSTANCES: [Inst; 4] = [
    Inst {
        name: "VI_1",
        vrid: 51,
        vip: "192.0.2.51",
        prios: [150, 100, 50],
    },
    Inst {
        name: "VI_2",
        vrid: 52,
        vip: "192.0.2.52",
        prios: [150, 100, 50],
    },
    Inst {
        name: "VI_6",
        vrid: 56,
        vip: "2001:db8::56",
        prios: [50, 150, 100],
    },
    Inst {
        name: "VI_U",
        vrid: 53,
        vip: "192.0.2.53",
        prios: [100, 50, 150],
    },
];

/// The client's ping period, ms. The probe sends on a fixed grid, so a gap between two replies
/// overstates the outage by less than two periods: the last request answered went out up to a
/// period before the failure, and the first answered after it up to a period after the
/// takeover.
const PROBE_MS: f64 = probe::PERIOD.as_secs_f64() * 1000.0;

/// The client's allowed outage: Master_Down_Interval of the backup that takes over (priority
/// 100: 3 × 200 ms + (256 − 100) × 200 ms / 256) plus 10 ms, as measured by a prober that
/// samples every [`PROBE_MS`] (a gap between replies is the outage plus up to two periods).
/// Time in which the whole machine was paused within the gap (a virtual machine's host took
/// every CPU: no daemon, kernel timer or probe ran) is added by the caller: no daemon can act
/// in it.
fn allowed_outage_ms() -> f64 {
    let adv = ADVERT_CS as f64 * 10.0;
    3.0 * adv + (256.0 - 100.0) * adv / 256.0 + 10.0 + 2.0 * PROBE_MS
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Kill,
    Stop,
    HupGood,
    HupMissingIf,
    HupSyntax,
    HupOverLimit,
    IfDown,
    Carrier,
    IfRecreate,
    LossOut,
    LossBoth,
    Flood,
    StatusLoop,
    TrackIfDown,
    ScriptFail,
    ScriptHang,
    ScriptLoud,
}

const KINDS: [Kind; 17] = [
    Kind::Kill,
    Kind::Stop,
    Kind::HupGood,
    Kind::HupMissingIf,
    Kind::HupSyntax,
    Kind::HupOverLimit,
    Kind::IfDown,
    Kind::Carrier,
    Kind::IfRecreate,
    Kind::LossOut,
    Kind::LossBoth,
    Kind::Flood,
    Kind::StatusLoop,
    Kind::TrackIfDown,
    Kind::ScriptFail,
    Kind::ScriptHang,
    Kind::ScriptLoud,
];

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Kill => "SIGKILL, restart",
            Kind::Stop => "SIGSTOP … SIGCONT",
            Kind::HupGood => "SIGHUP, good config",
            Kind::HupMissingIf => "SIGHUP, missing interface",
            Kind::HupSyntax => "SIGHUP, syntax error",
            Kind::HupOverLimit => "SIGHUP, over limit (VRID 300)",
            Kind::IfDown => "eth0 down … up",
            Kind::Carrier => "carrier loss (switch port)",
            Kind::IfRecreate => "eth0 deleted, re-created",
            Kind::LossOut => "advert loss, from the host",
            Kind::LossBoth => "advert loss, both ways",
            Kind::Flood => "flood of invalid adverts",
            Kind::StatusLoop => "`vrrpd status` tight loop",
            Kind::TrackIfDown => "tracked interface down",
            Kind::ScriptFail => "scripts fail",
            Kind::ScriptHang => "scripts hang",
            Kind::ScriptLoud => "scripts print 2 MB",
        }
    }

    fn applies_to_keepalived(self) -> bool {
        self != Kind::StatusLoop
    }
}

/// One step of the schedule.
#[derive(Clone, Copy, Debug)]
struct Step {
    kind: Kind,
    host: usize,
    hold_ms: u64,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on {} for {} ms",
            self.kind.label(),
            ROLES[self.host],
            self.hold_ms
        )
    }
}

/// The schedule: a function of the seed alone (never of what happened), so that vrrpd and
/// keepalived, and a replay, see the same faults in the same order.
struct Schedule(fastrand::Rng);

impl Iterator for Schedule {
    type Item = Step;
    fn next(&mut self) -> Option<Step> {
        Some(Step {
            kind: KINDS[self.0.usize(..KINDS.len())],
            host: self.0.usize(..3),
            hold_ms: self.0.u64(300..=2500),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Vrrpd,
    Keepalived,
}

/// A running daemon.
enum Proc {
    V(Vrrpd),
    K(Keepalived),
}

impl Proc {
    fn child(&mut self) -> &mut Child {
        match self {
            Proc::V(v) => &mut v.child,
            Proc::K(k) => &mut k.child,
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Proc::V(v) => v.child.child.id(),
            Proc::K(k) => k.child.child.id(),
        }
    }

    /// The daemon's own processes (keepalived's parent and VRRP child; not scripts).
    fn own_pids(&self) -> Vec<u32> {
        process_tree(self.pid())
            .into_iter()
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "vrrpd" || c.trim() == "keepalived")
            })
            .collect()
    }

    fn signal(&self, sig: Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig);
    }

    /// SIGSTOP/SIGCONT: to every process of the daemon (keepalived's work is in its child).
    fn signal_all(&self, sig: Signal) {
        for p in self.own_pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p as i32), sig);
        }
    }

    fn log_tail(&self, n: usize) -> String {
        let log = match self {
            Proc::V(v) => v.log_text(),
            Proc::K(k) => k.log_text(),
        };
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

struct Host {
    idx: usize,
    conf: PathBuf,
    proc: Option<Proc>,
    /// Priorities one higher (a good reload alternates between the two).
    bumped: bool,
    /// RSS samples (KiB) per daemon pid, in order.
    rss: BTreeMap<u32, Vec<u64>>,
}

/// A violation of an invariant.
struct Violation {
    step: usize,
    at: f64,
    invariant: &'static str,
    what: String,
}

struct Tally {
    injected: BTreeMap<Kind, usize>,
    skipped: BTreeMap<Kind, usize>,
    by_kind: BTreeMap<Kind, usize>,
    checks: BTreeMap<&'static str, usize>,
    violations: Vec<Violation>,
}

const INVARIANTS: [&str; 9] = [
    "recovers by itself within 8 s",
    "one MAC answers ARP/ND",
    "one host holds each VIP",
    "outage within window + 10 ms",
    "no unexpected exit",
    "no zombie",
    "status answers",
    "nothing left after SIGTERM",
    "RSS flat",
];

struct Chaos {
    daemon: Daemon,
    bin: PathBuf,
    dir: PathBuf,
    lab: Lab,
    hosts: Vec<Host>,
    probers: Vec<PingProbe>,
    start: Instant,
    tally: Tally,
    step_no: usize,
    current: Option<Step>,
    schedule_so_far: Vec<String>,
    /// Set by Ctrl-C (SIGINT) or SIGTERM. A terminal's Ctrl-C reaches the daemons too (they
    /// are in this process group) and ends them, so what is seen after it is not counted.
    interrupted: Arc<AtomicBool>,
}

/// The client's probe of one VIP: an ICMP echo request every 5 ms, each reply written as a line
/// in `ping -D`'s form (`[SECONDS] 64 bytes from VIP: icmp_seq=N`, CLOCK_REALTIME) to a file,
/// read as it comes. The probe is this program again (`chaos --probe VIP`, the lab's
/// [`probe`]) run in the client's namespace: iputils' `ping -i 0.005` spins (a non-blocking
/// `recvmsg` and `sched_yield` in a loop while no reply is due, whenever the interval is under
/// its 10 ms tick), and four of them took most of the machine's two CPUs from the daemons
/// under test.
struct PingProbe {
    vip: &'static str,
    _child: Child,
    file: PathBuf,
    offset: u64,
    partial: String,
    replies: Vec<f64>,
}

impl PingProbe {
    fn start(client: &NetNs, vip: &'static str, dir: &Path) -> Self {
        let file = dir.join(format!("ping-{}.log", vip.replace(':', "_")));
        let args = probe::args(vip);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = Child::spawn_in(client, &args, &file).expect("start the probe");
        PingProbe {
            vip,
            _child: child,
            file,
            offset: 0,
            partial: String::new(),
            replies: Vec::new(),
        }
    }

    fn read(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.file) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = String::new();
        let Ok(n) = f.read_to_string(&mut buf) else {
            return;
        };
        self.offset += n as u64;
        self.partial.push_str(&buf);
        let mut rest = String::new();
        let text = std::mem::take(&mut self.partial);
        let ends_complete = text.ends_with('\n');
        let lines: Vec<&str> = text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            if i == lines.len() - 1 && !ends_complete {
                rest = line.to_string();
                break;
            }
            if let Some(t) = probe::reply_time(line) {
                self.replies.push(t);
            }
        }
        self.partial = rest;
    }

    /// The longest stretch without a reply that ends after `from` and by `to` (realtime
    /// seconds): its start and end.
    fn longest_gap(&mut self, from: f64, to: f64) -> (f64, f64) {
        self.read();
        let mut last = self
            .replies
            .iter()
            .rev()
            .find(|&&t| t <= from)
            .copied()
            .unwrap_or(from);
        let mut longest = (from, from);
        for &t in self
            .replies
            .iter()
            .filter(|&&t| t > from && t <= to)
            .chain(std::iter::once(&to))
        {
            if t - last > longest.1 - longest.0 {
                longest = (last, t);
            }
            last = t;
        }
        // Keep a little history only.
        self.replies.retain(|&t| t > from - 5.0);
        longest
    }
}

/// The whole-machine stalls a [`StallWatch`] saw (monotonic ns), as realtime seconds.
fn paused_realtime(stalls: Vec<(u64, u64)>) -> Vec<(f64, f64)> {
    let mono = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0);
    let offset = realtime() - mono;
    stalls
        .into_iter()
        .map(|(a, b)| (a as f64 / 1e9 + offset, b as f64 / 1e9 + offset))
        .collect()
}

/// How much of `span` the stretches cover (they do not overlap one another), in seconds.
fn overlap(stretches: &[(f64, f64)], span: (f64, f64)) -> f64 {
    stretches
        .iter()
        .map(|&(a, b)| (b.min(span.1) - a.max(span.0)).max(0.0))
        .sum()
}

/// Runs a command in a namespace; its stdout, or None if it failed.
fn exec(ns: &NetNs, args: &[&str]) -> Option<String> {
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.name))
        .arg("--")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn script_files(dir: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    // One script for the check and the notify: its first argument is the host; it behaves as
    // the host's mode file says (absent: succeed).
    let body = format!(
        "#!/bin/sh\nm=$(cat {}/mode.\"$1\" 2>/dev/null)\ncase \"$m\" in\n  fail) exit 1 ;;\n  hang) exec sleep 20 ;;\n  loud) head -c 2000000 /dev/zero | tr '\\000' x; echo; echo loud >&2; exit 0 ;;\nesac\nexit 0\n",
        dir.display()
    );
    for name in ["chk.sh", "notify.sh"] {
        let p = dir.join(name);
        std::fs::write(&p, &body).expect("write a script");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

/// The keepalived.conf of host `i`; `bump` raises every priority by one; `broken` spoils it.
fn config_text(dir: &Path, i: usize, bump: bool, broken: Option<Kind>) -> String {
    let role = ROLES[i];
    let d = dir.display();
    let prio = |inst: &Inst| inst.prios[i] + u8::from(bump);
    let mut t = format!(
        "global_defs {{\n    router_id {role}\n}}\n\nvrrp_script chk {{\n    script \"{d}/chk.sh {role}\"\n    interval 1\n    timeout 1\n    fall 1\n    rise 1\n}}\n\nvrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify \"{d}/notify.sh {role}\"\n}}\n\n"
    );
    for inst in &INSTANCES {
        let mut iface = "eth0".to_string();
        let mut vrid = inst.vrid.to_string();
        if inst.name == "VI_U" {
            match broken {
                Some(Kind::HupMissingIf) => iface = "nosuch0".into(),
                Some(Kind::HupOverLimit) => vrid = "300".into(),
                _ => {}
            }
        }
        t += &format!(
            "vrrp_instance {} {{\n    state BACKUP\n    interface {iface}\n    virtual_router_id {vrid}\n    priority {}\n    advert_int 0.{}\n",
            inst.name,
            prio(inst),
            ADVERT_CS / 10
        );
        if !inst.vip.contains(':') {
            t += "    version 3\n";
        }
        match inst.name {
            "VI_1" => t += "    track_script {\n        chk\n    }\n",
            "VI_6" => t += "    track_interface {\n        trk0 weight -80\n    }\n",
            "VI_U" => {
                let peers: Vec<&str> = (0..3).filter(|&j| j != i).map(|j| ADDRS[j]).collect();
                t += &format!(
                    "    unicast_src_ip {}\n    unicast_peer {{\n        {}\n        {}\n    }}\n    track_script {{\n        chk weight -80\n    }}\n    notify \"{d}/notify.sh {role}\"\n",
                    ADDRS[i], peers[0], peers[1]
                );
            }
            _ => {}
        }
        t += &format!(
            "    virtual_ipaddress {{\n        {}\n    }}\n}}\n\n",
            inst.vip
        );
    }
    if broken == Some(Kind::HupSyntax) {
        t += "vrrp_instance VI_BROKEN {\n    priority {\n";
    }
    t
}

/// Frames of the invalid-advert flood: for each VRID, a v3 advert at priority 255 with a bad
/// checksum, and one with TTL 254 (IPv4); and a bad-checksum IPv6 advert for VI_6.
fn flood_frames() -> Vec<Vec<u8>> {
    fn sum(data: &[u8]) -> u32 {
        data.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum()
    }
    fn fold(mut s: u32) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }
    let src_mac = [0x02, 0, 0, 0, 0, 0x66];
    let mut frames = Vec::new();
    for inst in INSTANCES.iter().filter(|i| !i.vip.contains(':')) {
        for ttl in [255u8, 254] {
            let vip: std::net::Ipv4Addr = inst.vip.parse().unwrap();
            let src = [192, 0, 2, 66];
            let dst = [224, 0, 0, 18];
            let mut vrrp = vec![0x31, inst.vrid, 255, 1, 0, ADVERT_CS as u8, 0, 0];
            vrrp.extend_from_slice(&vip.octets());
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&src);
            pseudo.extend_from_slice(&dst);
            pseudo.extend_from_slice(&[0, 112, 0, vrrp.len() as u8]);
            pseudo.extend_from_slice(&vrrp);
            let mut c = fold(sum(&pseudo));
            if ttl == 255 {
                c ^= 0x5a5a; // a bad checksum
            }
            vrrp[6..8].copy_from_slice(&c.to_be_bytes());
            let mut ip = vec![0x45, 0xc0, 0, (20 + vrrp.len()) as u8, 0, 0, 0, 0, ttl, 112];
            ip.extend_from_slice(&[0, 0]);
            ip.extend_from_slice(&src);
            ip.extend_from_slice(&dst);
            let ipc = fold(sum(&ip));
            ip[10..12].copy_from_slice(&ipc.to_be_bytes());
            let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
            f.extend_from_slice(&src_mac);
            f.extend_from_slice(&[0x08, 0x00]);
            f.extend_from_slice(&ip);
            f.extend_from_slice(&vrrp);
            frames.push(f);
        }
    }
    // IPv6: VRID 56, bad checksum.
    let vip6: std::net::Ipv6Addr = INSTANCES[2].vip.parse().unwrap();
    let mut vrrp = vec![0x31, 56, 255, 1, 0, ADVERT_CS as u8, 0x12, 0x34];
    vrrp.extend_from_slice(&vip6.octets());
    let src: std::net::Ipv6Addr = "fe80::66".parse().unwrap();
    let dst: std::net::Ipv6Addr = "ff02::12".parse().unwrap();
    let mut f = vec![0x33, 0x33, 0, 0, 0, 0x12];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, vrrp.len() as u8, 112, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&vrrp);
    frames.push(f);
    frames
}

impl Chaos {
    fn t(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn violation(&mut self, invariant: &'static str, what: String) {
        let step = self.step_no;
        let at = self.t();
        if self.interrupted.load(Ordering::Relaxed) {
            let first = what.lines().next().unwrap_or_default();
            println!("  (after the interrupt, not counted) [{invariant}] {first}");
            return;
        }
        println!("  VIOLATION [{invariant}] at +{at:.1}s (step {step}): {what}");
        if let Some(s) = self.current {
            *self.tally.by_kind.entry(s.kind).or_default() += 1;
        }
        self.tally.violations.push(Violation {
            step,
            at,
            invariant,
            what,
        });
    }

    fn check(&mut self, invariant: &'static str) {
        *self.tally.checks.entry(invariant).or_default() += 1;
    }

    fn host_ns(&self, i: usize) -> &NetNs {
        self.lab.host(ROLES[i])
    }

    fn write_config(&self, i: usize, broken: Option<Kind>) {
        let h = &self.hosts[i];
        std::fs::write(&h.conf, config_text(&self.dir, i, h.bumped, broken))
            .expect("write a config");
    }

    fn start_daemon(&mut self, i: usize, pins: Option<PinDir>) {
        let ns_name = self.host_ns(i).name.clone();
        let ns = NetNs { name: ns_name };
        let h = &self.hosts[i];
        let p = match self.daemon {
            Daemon::Vrrpd => Proc::V(match pins {
                Some(p) => Vrrpd::start_with_pins(&self.bin, &ns, &h.conf, &self.dir, ROLES[i], p),
                None => Vrrpd::start(&self.bin, &ns, &h.conf, &self.dir, ROLES[i]),
            }),
            Daemon::Keepalived => Proc::K(Keepalived::start(&ns, &h.conf, &self.dir, ROLES[i])),
        };
        // `ns` is a second handle on the host's namespace: do not let it delete it.
        std::mem::forget(ns);
        self.hosts[i].proc = Some(p);
    }

    /// Checks that every daemon still runs; restarts (and reports) one that exited by itself.
    fn poll_exits(&mut self) {
        for (i, role) in ROLES.iter().enumerate() {
            let exited = self.hosts[i]
                .proc
                .as_mut()
                .and_then(|p| p.child().child.try_wait().ok().flatten());
            if let Some(status) = exited {
                let tail = self.hosts[i]
                    .proc
                    .as_ref()
                    .map(|p| p.log_tail(6))
                    .unwrap_or_default();
                let last = tail.lines().last().unwrap_or_default().to_string();
                self.violation(
                    "no unexpected exit",
                    format!(
                        "{role} exited by itself ({status}), last log line `{last}`; log:\n{tail}"
                    ),
                );
                // Drop it (its pins with it); it is started afresh once the fault is reverted.
                self.hosts[i].proc = None;
            }
        }
    }

    /// Starts the daemons that exited by themselves, with the good config.
    fn restart_dead(&mut self) {
        for (i, role) in ROLES.iter().enumerate() {
            if self.hosts[i].proc.is_none() {
                println!("  restarting {role}");
                self.write_config(i, None);
                self.start_daemon(i, None);
            }
        }
    }

    /// Sleeps `d`, polling exits every 20 ms.
    fn wait(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.poll_exits();
            std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
        }
    }

    /// Which hosts hold each VIP (ip addr), by instance.
    fn holders(&self) -> Vec<Vec<usize>> {
        let addrs: Vec<String> = (0..3)
            .map(|i| exec(self.host_ns(i), &["ip", "-o", "addr", "show"]).unwrap_or_default())
            .collect();
        INSTANCES
            .iter()
            .map(|inst| {
                (0..3)
                    .filter(|&i| {
                        addrs[i]
                            .split_whitespace()
                            .any(|w| w.split('/').next() == Some(inst.vip))
                    })
                    .collect()
            })
            .collect()
    }

    /// Waits until each VIP is held by its top-priority host alone, twice 300 ms apart (or
    /// `limit` passes); whether it did.
    fn settle(&mut self, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        let mut good = 0;
        while Instant::now() < end {
            let h = self.holders();
            let ok = INSTANCES.iter().zip(&h).all(|(inst, holders)| {
                let top = (0..3).max_by_key(|&j| inst.prios[j]).unwrap();
                holders == &[top]
            });
            good = if ok { good + 1 } else { 0 };
            if good >= 2 {
                return true;
            }
            self.wait(Duration::from_millis(300));
        }
        false
    }

    /// MACs that answer ARP (IPv4) or neighbour solicitation (IPv6) for each VIP, from the
    /// client; the requests go out in parallel.
    fn answering_macs(&self) -> Vec<Vec<String>> {
        let client = format!("--net=/run/netns/{}", self.lab.host("client").name);
        let children: Vec<_> = INSTANCES
            .iter()
            .map(|inst| {
                let mut c = Command::new("nsenter");
                c.arg(&client).arg("--");
                if inst.vip.contains(':') {
                    c.args(["ndisc6", "-m", "-q", "-n", "-r", "2", "-w", "500"])
                        .args([inst.vip, "eth0"]);
                } else {
                    c.args([
                        "arping", "-r", "-c", "2", "-W", "0.3", "-w", "1", "-i", "eth0",
                    ])
                    .arg(inst.vip);
                }
                c.stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("arping/ndisc6")
            })
            .collect();
        children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().map(|o| o.stdout).unwrap_or_default();
                let mut macs: Vec<String> = String::from_utf8_lossy(&out)
                    .split_whitespace()
                    .filter(|w| w.len() == 17 && w.matches(':').count() == 5)
                    .map(str::to_lowercase)
                    .collect();
                macs.sort();
                macs.dedup();
                macs
            })
            .collect()
    }

    /// Zombie children of any daemon seen in two samples 300 ms apart.
    fn zombies(&self) -> Vec<(usize, u32)> {
        let sample = || -> Vec<(usize, u32)> {
            let mut out = Vec::new();
            for (i, h) in self.hosts.iter().enumerate() {
                let Some(p) = &h.proc else { continue };
                for pid in process_tree(p.pid()) {
                    let stat =
                        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                    let state = stat.rfind(')').and_then(|j| stat.get(j + 2..j + 3));
                    if state == Some("Z") {
                        out.push((i, pid));
                    }
                }
            }
            out
        };
        let first = sample();
        if first.is_empty() {
            return first;
        }
        std::thread::sleep(Duration::from_millis(300));
        let second = sample();
        first.into_iter().filter(|z| second.contains(z)).collect()
    }

    fn nft(&self, cmd: &str) {
        if exec(&self.lab.sw, &["nft", cmd]).is_none() {
            println!("  (nft {cmd:?} failed)");
        }
    }

    fn recreate_eth0(&self, i: usize) {
        let role = ROLES[i];
        let ns = self.host_ns(i);
        let port = self.lab.port(role).to_string();
        let _ = exec(ns, &["ip", "link", "del", "eth0"]);
        std::thread::sleep(Duration::from_millis(100));
        let steps: Vec<(&NetNs, Vec<&str>)> = vec![
            (
                ns,
                vec![
                    "ip", "link", "add", "eth0", "type", "veth", "peer", "name", &port,
                ],
            ),
            (
                ns,
                vec!["ip", "link", "set", &port, "netns", &self.lab.sw.name],
            ),
            (
                &self.lab.sw,
                vec!["ip", "link", "set", &port, "master", "br0"],
            ),
            (&self.lab.sw, vec!["ethtool", "-K", &port, "gro", "on"]),
            (&self.lab.sw, vec!["ip", "link", "set", &port, "up"]),
        ];
        for (n, args) in steps {
            if exec(n, &args).is_none() {
                println!("  ({args:?} failed)");
            }
        }
        let a4 = format!("{}/24", ADDRS[i]);
        let a6 = format!("{}/64", ADDRS6[i]);
        let _ = exec(ns, &["ip", "addr", "add", &a4, "dev", "eth0"]);
        let _ = exec(ns, &["ip", "addr", "add", &a6, "dev", "eth0", "nodad"]);
        let _ = exec(ns, &["ethtool", "-K", "eth0", "gro", "on"]);
        let _ = exec(ns, &["ip", "link", "set", "eth0", "up"]);
    }

    fn set_mode(&self, i: usize, mode: Option<&str>) {
        let p = self.dir.join(format!("mode.{}", ROLES[i]));
        match mode {
            Some(m) => std::fs::write(p, m).expect("write a mode file"),
            None => {
                let _ = std::fs::remove_file(p);
            }
        }
    }

    /// Injects `s`, holds it, reverts it.
    fn run_fault(&mut self, s: Step) {
        let i = s.host;
        let hold = Duration::from_millis(s.hold_ms);
        let role = ROLES[i];
        match s.kind {
            Kind::Kill => {
                let pins = match self.hosts[i].proc.take() {
                    Some(Proc::V(v)) => Some(v.kill9()),
                    Some(Proc::K(k)) => {
                        k.kill9();
                        None
                    }
                    None => None,
                };
                self.wait(hold);
                self.start_daemon(i, pins);
            }
            Kind::Stop => {
                let stopped = self.hosts[i].proc.as_ref().map(|p| {
                    p.signal_all(Signal::SIGSTOP);
                    p.own_pids()
                });
                // While stopped it cannot exit: wait without polling, then continue exactly
                // the processes stopped.
                std::thread::sleep(hold);
                for pid in stopped.unwrap_or_default() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid as i32),
                        Signal::SIGCONT,
                    );
                }
            }
            Kind::HupGood => {
                self.hosts[i].bumped = !self.hosts[i].bumped;
                self.write_config(i, None);
                if let Some(p) = self.hosts[i].proc.as_ref() {
                    p.signal(Signal::SIGHUP);
                }
                self.wait(hold);
            }
            Kind::HupMissingIf | Kind::HupSyntax | Kind::HupOverLimit => {
                self.write_config(i, Some(s.kind));
                if let Some(p) = self.hosts[i].proc.as_ref() {
                    p.signal(Signal::SIGHUP);
                }
                self.wait(hold);
                self.write_config(i, None);
                if let Some(p) = self.hosts[i].proc.as_ref() {
                    p.signal(Signal::SIGHUP);
                }
            }
            Kind::IfDown => {
                let _ = exec(self.host_ns(i), &["ip", "link", "set", "eth0", "down"]);
                self.wait(hold);
                let _ = exec(self.host_ns(i), &["ip", "link", "set", "eth0", "up"]);
                let a6 = format!("{}/64", ADDRS6[i]);
                let _ = exec(
                    self.host_ns(i),
                    &["ip", "addr", "replace", &a6, "dev", "eth0", "nodad"],
                );
            }
            Kind::Carrier => {
                self.lab.link_down(role);
                self.wait(hold);
                self.lab.link_up(role);
            }
            Kind::IfRecreate => {
                let _ = exec(self.host_ns(i), &["ip", "link", "del", "eth0"]);
                self.wait(hold);
                self.recreate_eth0(i);
            }
            Kind::LossOut | Kind::LossBoth => {
                let port = self.lab.port(role).to_string();
                self.nft("add table bridge chaos");
                self.nft(
                    "add chain bridge chaos loss { type filter hook forward priority 0; policy accept; }",
                );
                let mut dirs = vec!["iifname"];
                if s.kind == Kind::LossBoth {
                    dirs.push("oifname");
                }
                for d in dirs {
                    self.nft(&format!(
                        "add rule bridge chaos loss {d} \"{port}\" ip protocol 112 drop"
                    ));
                    self.nft(&format!(
                        "add rule bridge chaos loss {d} \"{port}\" ip6 nexthdr 112 drop"
                    ));
                }
                self.wait(hold);
                self.nft("delete table bridge chaos");
            }
            Kind::Flood => {
                let client = NetNs {
                    name: self.lab.host("client").name.clone(),
                };
                let flood = Flood::start(&client, flood_frames(), 3000);
                std::mem::forget(client);
                match flood {
                    Ok(f) => {
                        self.wait(hold);
                        drop(f);
                    }
                    Err(e) => println!("  (flood failed to start: {e})"),
                }
            }
            Kind::StatusLoop => {
                let Some(Proc::V(v)) = self.hosts[i].proc.as_ref() else {
                    return;
                };
                let socket = v.socket.clone();
                let bin = self.bin.clone();
                let stop = Arc::new(AtomicBool::new(false));
                let (runs, fails) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
                let t = {
                    let (stop, runs, fails) = (stop.clone(), runs.clone(), fails.clone());
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let ok = Command::new(&bin)
                                .args(["status", "--json", "--control-socket"])
                                .arg(&socket)
                                .stdout(Stdio::piped())
                                .stderr(Stdio::null())
                                .output()
                                .is_ok_and(|o| {
                                    o.status.success()
                                        && serde_json::from_slice::<serde_json::Value>(&o.stdout)
                                            .is_ok_and(|j| {
                                                j.as_array().is_some_and(|a| a.len() == 4)
                                            })
                                });
                            runs.fetch_add(1, Ordering::Relaxed);
                            if !ok {
                                fails.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                };
                self.wait(hold);
                stop.store(true, Ordering::Relaxed);
                let _ = t.join();
                let (r, f) = (runs.load(Ordering::Relaxed), fails.load(Ordering::Relaxed));
                println!("  {r} status queries");
                self.check("status answers");
                if f > 0 {
                    self.violation(
                        "status answers",
                        format!("{f} of {r} `vrrpd status --json` on {role} failed"),
                    );
                }
            }
            Kind::TrackIfDown => {
                let _ = exec(self.host_ns(i), &["ip", "link", "set", "trk0p", "down"]);
                self.wait(hold);
                let _ = exec(self.host_ns(i), &["ip", "link", "set", "trk0p", "up"]);
            }
            Kind::ScriptFail | Kind::ScriptHang | Kind::ScriptLoud => {
                let mode = match s.kind {
                    Kind::ScriptFail => "fail",
                    Kind::ScriptHang => "hang",
                    _ => "loud",
                };
                self.set_mode(i, Some(mode));
                self.wait(hold);
                self.set_mode(i, None);
                if s.kind == Kind::ScriptHang {
                    // A check that started before the revert still hangs, and fails at its
                    // timeout (1 s after it started): the fault lasts until then, and the lab
                    // settles only after it (the host's instances go to FAULT and come back).
                    self.wait(Duration::from_millis(1200));
                }
            }
        }
    }

    /// The checks after a fault settled; `since`: when the fault was injected (realtime);
    /// `paused`: the stretches since then in which the whole machine was paused (realtime).
    fn check_invariants(&mut self, since: f64, paused: &[(f64, f64)]) {
        // One host holds each VIP.
        let holders = self.holders();
        for (inst, h) in INSTANCES.iter().zip(&holders) {
            self.check("one host holds each VIP");
            if h.len() != 1 {
                let names: Vec<&str> = h.iter().map(|&j| ROLES[j]).collect();
                self.violation(
                    "one host holds each VIP",
                    format!("{} ({}) held by {names:?}", inst.vip, inst.name),
                );
            }
        }
        // Exactly one MAC answers.
        let macs = self.answering_macs();
        for (inst, m) in INSTANCES.iter().zip(&macs) {
            self.check("one MAC answers ARP/ND");
            if m.len() != 1 {
                self.violation(
                    "one MAC answers ARP/ND",
                    format!("{} ({}) answered by {m:?}", inst.vip, inst.name),
                );
            }
        }
        // The client's outage.
        let now = realtime();
        let mut gaps = Vec::new();
        for k in 0..self.probers.len() {
            let (start, end) = self.probers[k].longest_gap(since, now);
            let gap = (end - start) * 1000.0;
            let paused_ms = overlap(paused, (start, end)) * 1000.0;
            let allowed = allowed_outage_ms() + paused_ms;
            let vip = self.probers[k].vip;
            gaps.push(format!("{vip} {gap:.0}"));
            self.check("outage within window + 10 ms");
            if gap > allowed {
                let of_it = if paused_ms > 0.0 {
                    format!(", of which the machine was paused {paused_ms:.0} ms")
                } else {
                    String::new()
                };
                self.violation(
                    "outage within window + 10 ms",
                    format!("{vip}: {gap:.0} ms without a reply (allowed {allowed:.0} ms{of_it})"),
                );
            }
        }
        println!("  longest gaps (ms): {}", gaps.join(", "));
        if !paused.is_empty() {
            let total: f64 = paused.iter().map(|(a, b)| b - a).sum();
            let longest = paused.iter().map(|(a, b)| b - a).fold(0.0, f64::max);
            println!(
                "  the whole machine was paused {} times, {:.0} ms in all (longest {:.0} ms)",
                paused.len(),
                total * 1000.0,
                longest * 1000.0
            );
        }
        // Zombies.
        self.check("no zombie");
        for (i, pid) in self.zombies() {
            self.violation(
                "no zombie",
                format!("zombie {pid} under {}'s daemon", ROLES[i]),
            );
        }
        // RSS.
        for h in &mut self.hosts {
            if let Some(p) = &h.proc {
                let pids = p.own_pids();
                let key = p.pid();
                h.rss.entry(key).or_default().push(rss_kib(&pids));
            }
        }
        self.check("no unexpected exit");
    }

    /// SIGTERM to every daemon, then what each left behind.
    fn final_term(&mut self) {
        println!("final SIGTERM to every daemon");
        for h in &self.hosts {
            if let Some(p) = &h.proc {
                p.signal(Signal::SIGTERM);
            }
        }
        for (i, role) in ROLES.iter().enumerate() {
            let Some(mut p) = self.hosts[i].proc.take() else {
                continue;
            };
            let status = p.child().wait_timeout(Duration::from_secs(15));
            self.check("nothing left after SIGTERM");
            match status {
                Some(s) if s.success() => {}
                Some(s) => self.violation(
                    "nothing left after SIGTERM",
                    format!(
                        "{} exited with {s} after SIGTERM; log:\n{}",
                        role,
                        p.log_tail(6)
                    ),
                ),
                None => self.violation(
                    "nothing left after SIGTERM",
                    format!("{} still runs 15 s after SIGTERM", role),
                ),
            }
            let ns = self.host_ns(i);
            let addrs = exec(ns, &["ip", "-o", "addr", "show"]).unwrap_or_default();
            let mut left = Vec::new();
            for inst in &INSTANCES {
                if addrs
                    .split_whitespace()
                    .any(|w| w.split('/').next() == Some(inst.vip))
                {
                    left.push(format!("VIP {}", inst.vip));
                }
            }
            let link = exec(ns, &["ip", "-d", "link", "show", "dev", "eth0"]).unwrap_or_default();
            if link.contains("prog/xdp") {
                left.push("an XDP program on eth0".into());
            }
            let net = exec(ns, &["bpftool", "net", "show", "dev", "eth0"]).unwrap_or_default();
            if net.lines().any(|l| l.contains("eth0(")) {
                left.push(format!(
                    "a program on eth0: {}",
                    net.trim().replace('\n', " | ")
                ));
            }
            if let Proc::V(v) = &p {
                if v.socket.exists() {
                    left.push(format!("socket {}", v.socket.display()));
                }
                let pins = walk(v.pin_dir());
                if !pins.is_empty() {
                    left.push(format!("pins {pins:?}"));
                }
            }
            if !left.is_empty() {
                self.violation(
                    "nothing left after SIGTERM",
                    format!("{}: {}", role, left.join(", ")),
                );
            }
            drop(p);
        }
        // Script processes still running from the run directory.
        std::thread::sleep(Duration::from_millis(200));
        let dir = self.dir.display().to_string();
        let mut orphans = Vec::new();
        for pid in all_pids() {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(&dir) && !cmd.contains("ping") {
                orphans.push(format!("{pid} {}", cmd.trim()));
            }
        }
        self.check("nothing left after SIGTERM");
        if !orphans.is_empty() {
            self.violation(
                "nothing left after SIGTERM",
                format!("processes left: {orphans:?}"),
            );
        }
    }

    /// RSS of each daemon process that lived through at least 6 checks: the median of its
    /// last third of samples against the median of its first third (skipping the first sample).
    fn check_rss(&mut self) -> Vec<String> {
        let mut lines: Vec<(usize, usize, String, u64)> = Vec::new();
        let mut bad = Vec::new();
        for (i, h) in self.hosts.iter().enumerate() {
            for (pid, s) in &h.rss {
                if s.len() < 6 {
                    continue;
                }
                let s = &s[1..];
                let third = s.len() / 3;
                let med = |v: &[u64]| {
                    let mut v = v.to_vec();
                    v.sort();
                    v[v.len() / 2]
                };
                let (a, b) = (med(&s[..third]), med(&s[s.len() - third..]));
                lines.push((
                    i,
                    s.len(),
                    format!(
                        "{} pid {pid}: {a} KiB → {b} KiB over {} checks",
                        ROLES[i],
                        s.len()
                    ),
                    b.saturating_sub(a),
                ));
                if b > a + a / 5 && b > a + 2048 {
                    bad.push(format!(
                        "{} pid {pid} grew from {a} KiB to {b} KiB",
                        ROLES[i]
                    ));
                }
            }
        }
        self.check("RSS flat");
        for b in bad {
            self.violation("RSS flat", b);
        }
        // Per host: how many processes were checked, the longest-lived one and the one that
        // grew most.
        let mut out = Vec::new();
        for i in 0..3 {
            let mine: Vec<&(usize, usize, String, u64)> =
                lines.iter().filter(|l| l.0 == i).collect();
            let (Some(longest), Some(most)) = (
                mine.iter().max_by_key(|l| l.1),
                mine.iter().max_by_key(|l| l.3),
            ) else {
                continue;
            };
            out.push(format!(
                "{} processes checked; longest-lived: {}; grew most: {}",
                mine.len(),
                longest.2,
                most.2
            ));
        }
        out
    }
}

fn walk(p: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

struct Opts {
    bin: PathBuf,
    minutes: f64,
    seed: u64,
    keepalived: bool,
    record: bool,
}

fn opts() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        bin: PathBuf::new(),
        minutes: 2.0,
        seed: realtime().to_bits() % 1_000_000_007,
        keepalived: false,
        record: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => {
                o.minutes = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--minutes N")?
            }
            "--seed" => o.seed = it.next().and_then(|v| v.parse().ok()).ok_or("--seed S")?,
            "--keepalived" => o.keepalived = true,
            "--record" => o.record = true,
            path if !path.starts_with('-') => o.bin = PathBuf::from(path),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.bin.as_os_str().is_empty() {
        return Err(
            "usage: chaos VRRPD_BIN [--minutes N] [--seed S] [--keepalived] [--record]".into(),
        );
    }
    Ok(o)
}

fn main() -> ExitCode {
    // `chaos --probe VIP`: the client's probe (see PingProbe).
    probe::run_if_asked();
    let o = match opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if !vrrp_userspace::lab::privileged("chaos") {
        return ExitCode::SUCCESS;
    }
    let daemon = if o.keepalived {
        Daemon::Keepalived
    } else {
        Daemon::Vrrpd
    };
    let name = if o.keepalived { "keepalived" } else { "vrrpd" };
    let command = format!(
        "cargo xtask chaos --minutes {} --seed {}{}",
        o.minutes,
        o.seed,
        if o.keepalived { " --keepalived" } else { "" }
    );
    println!("chaos: {name}, seed {} ({command})", o.seed);

    let lab = Lab::new(&[
        ("lb01", "192.0.2.4/24"),
        ("lb02", "192.0.2.5/24"),
        ("lb03", "192.0.2.6/24"),
        ("client", "192.0.2.10/24"),
    ]);
    for (role, a6) in ROLES
        .iter()
        .zip(ADDRS6)
        .chain([(&"client", "2001:db8::10")])
    {
        let a6 = format!("{a6}/64");
        lab.host(role)
            .exec(&["ip", "addr", "add", &a6, "dev", "eth0", "nodad"]);
    }
    for role in ROLES {
        lab.host(role).exec(&[
            "ip", "link", "add", "trk0", "type", "veth", "peer", "name", "trk0p",
        ]);
        lab.host(role).exec(&["ip", "link", "set", "trk0p", "up"]);
        lab.host(role).exec(&["ip", "link", "set", "trk0", "up"]);
    }
    // Kept after the run, whatever its outcome: the run's logs are read afterwards, and
    // RELIABILITY.md points at them.
    let dir = run_dir().keep();
    println!("run directory {}", dir.display());
    script_files(&dir);
    let hosts = (0..3)
        .map(|i| Host {
            idx: i,
            conf: dir.join(format!("{}.conf", ROLES[i])),
            proc: None,
            bumped: false,
            rss: BTreeMap::new(),
        })
        .collect();
    let mut c = Chaos {
        daemon,
        bin: o.bin.clone(),
        dir: dir.clone(),
        lab,
        hosts,
        probers: Vec::new(),
        start: Instant::now(),
        tally: Tally {
            injected: BTreeMap::new(),
            skipped: BTreeMap::new(),
            by_kind: BTreeMap::new(),
            checks: BTreeMap::new(),
            violations: Vec::new(),
        },
        step_no: 0,
        current: None,
        schedule_so_far: Vec::new(),
        interrupted: Arc::new(AtomicBool::new(false)),
    };
    for i in 0..3 {
        debug_assert_eq!(c.hosts[i].idx, i);
        c.write_config(i, None);
        c.start_daemon(i, None);
    }
    if !c.settle(Duration::from_secs(15)) {
        println!("the lab did not settle at start: holders {:?}", c.holders());
        for h in &c.hosts {
            if let Some(p) = &h.proc {
                println!("--- {}:\n{}", ROLES[h.idx], p.log_tail(20));
            }
        }
    }
    let client = NetNs {
        name: c.lab.host("client").name.clone(),
    };
    c.probers = INSTANCES
        .iter()
        .map(|inst| PingProbe::start(&client, inst.vip, &dir))
        .collect();
    std::mem::forget(client);
    c.wait(Duration::from_secs(2));
    c.start = Instant::now();
    let since = realtime();
    c.check_invariants(since, &[]);

    let deadline = Duration::from_secs_f64(o.minutes * 60.0);
    let mut schedule = Schedule(fastrand::Rng::with_seed(o.seed));
    // Ctrl-C (or SIGTERM) ends the schedule early: the run still tears down, checks and
    // reports.
    let interrupted = Arc::clone(&c.interrupted);
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&interrupted)) {
            eprintln!("cannot catch signal {sig}: {e}");
        }
    }
    while c.start.elapsed() < deadline {
        if interrupted.load(Ordering::Relaxed) {
            println!("interrupted: ending the schedule here");
            break;
        }
        let s = schedule.next().expect("an endless schedule");
        c.step_no += 1;
        let line = format!("#{} +{:.1}s {s}", c.step_no, c.t());
        c.schedule_so_far.push(line.clone());
        if daemon == Daemon::Keepalived && !s.kind.applies_to_keepalived() {
            println!("{line}: does not apply to keepalived, skipped");
            *c.tally.skipped.entry(s.kind).or_default() += 1;
            continue;
        }
        println!("{line}");
        c.current = Some(s);
        *c.tally.injected.entry(s.kind).or_default() += 1;
        let since = realtime();
        let watch = StallWatch::start();
        c.run_fault(s);
        c.restart_dead();
        let t = Instant::now();
        let settled = c.settle(Duration::from_secs(8));
        println!(
            "  {} after {:.1} s",
            if settled { "settled" } else { "NOT settled" },
            t.elapsed().as_secs_f64()
        );
        c.check("recovers by itself within 8 s");
        if !settled {
            c.violation(
                "recovers by itself within 8 s",
                "some VIP is not back on its top-priority host alone".into(),
            );
        }
        let paused = paused_realtime(watch.finish());
        c.check_invariants(since, &paused);
        c.current = None;
    }
    let rss = c.check_rss();
    c.final_term();

    // The report.
    let mut out = String::new();
    out += &format!(
        "Chaos run of {name}: `{command}`, {:.1} min, {} faults, on {}.\n{}\n\n",
        c.t() / 60.0,
        c.tally.injected.values().sum::<usize>(),
        machine_line(),
        if daemon == Daemon::Keepalived {
            keepalived_version()
        } else {
            "vrrpd from this tree (release build)".into()
        }
    );
    out += "| fault | injected | violations after it |\n|---|---:|---:|\n";
    for k in KINDS {
        let n = c.tally.injected.get(&k).copied().unwrap_or(0);
        let skipped = c.tally.skipped.get(&k).copied().unwrap_or(0);
        let v = c.tally.by_kind.get(&k).copied().unwrap_or(0);
        if n == 0 && skipped > 0 {
            out += &format!("| {} | n/a ({skipped} skipped) | |\n", k.label());
        } else {
            out += &format!("| {} | {n} | {v} |\n", k.label());
        }
    }
    out += "\n| invariant | checks | violations |\n|---|---:|---:|\n";
    for inv in INVARIANTS {
        let n = c.tally.checks.get(inv).copied().unwrap_or(0);
        let v = c
            .tally
            .violations
            .iter()
            .filter(|x| x.invariant == inv)
            .count();
        out += &format!("| {inv} | {n} | {v} |\n");
    }
    if !c.tally.violations.is_empty() {
        out += "\nViolations (the first 40), each with the step it followed:\n\n";
        for v in c.tally.violations.iter().take(40) {
            let fault = c
                .schedule_so_far
                .get(v.step.wrapping_sub(1))
                .cloned()
                .unwrap_or_else(|| "start/end".into());
            let first = v.what.lines().next().unwrap_or_default();
            out += &format!(
                "- +{:.1}s [{}] {first} — after {fault}\n",
                v.at, v.invariant
            );
        }
        if c.tally.violations.len() > 40 {
            out += &format!("- … and {} more\n", c.tally.violations.len() - 40);
        }
    }
    out += "\nResident memory per host (median of a process's first third of checks → last third):\n\n";
    for l in &rss {
        out += &format!("- {l}\n");
    }
    println!("\n{out}");
    if o.record {
        let section = if o.keepalived {
            "chaos-keepalived"
        } else {
            "chaos-vrrpd"
        };
        if let Err(e) = write_reliability(section, &out) {
            eprintln!("could not record: {e}");
        }
    }
    if c.tally.violations.is_empty() {
        println!("no violations (seed {})", o.seed);
        ExitCode::SUCCESS
    } else {
        println!(
            "{} violations; replay with `{command}`; the schedule so far:",
            c.tally.violations.len()
        );
        for l in &c.schedule_so_far {
            println!("  {l}");
        }
        ExitCode::FAILURE
    }
}

/// Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in RELIABILITY.md.
fn write_reliability(name: &str, body: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../RELIABILITY.md");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    let (Some(a), Some(b)) = (text.find(&begin), text.find(&end)) else {
        return Err(format!("RELIABILITY.md has no {begin} … {end} section"));
    };
    let new = format!("{}{begin}\n{body}{}", &text[..a], &text[b..]);
    std::fs::write(&path, new).map_err(|e| e.to_string())?;
    println!("wrote the {name} section of {}", path.display());
    Ok(())
}
