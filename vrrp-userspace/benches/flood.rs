//! `cargo xtask bench flood`: floods from an attacker, vrrpd beside keepalived in one lab.
//!
//! vrrpd runs on `a1`/`a2` (VRID 50, VIP 192.0.2.3), keepalived on `b1`/`b2` (VRID 51, VIP
//! 192.0.2.13), both with the tutorial's keepalived.conf (v2, PASS, 1 s; `a1`/`b1` state MASTER
//! priority 100, `a2`/`b2` BACKUP 90). The attacker floods the switch with one class of frame at
//! a time, at rising rates; frames aimed at "our" VRID alternate between 50 and 51 so that both
//! daemons face the same flood in the same seconds. The generator is the kernel itself: a
//! live-frames BPF_PROG_TEST_RUN of a one-line XDP_TX program (`lab::bench::Flood`).
//!
//! For each class, rate and daemon: false takeovers (the backup advertising), master adverts
//! on the wire per second and adverts missed, the client's ping loss to the VIP (10 ms probe),
//! the daemons' CPU (both hosts, as a share of one CPU; XDP itself runs in softirq and is not
//! in this figure), log lines a second, and vrrpd's XDP drop counters.

mod common;

use std::{net::Ipv4Addr, time::Duration};

use anyhow::Result;
use common::{
    ATTACKER, ATTACKER_MAC, Conf, Interval, Kind, Node, Pair, fix_ip_checksum, forged_advert,
    plot_path,
};
use vrrp_userspace::{
    dataplane::monotonic_ns,
    lab::{
        Lab,
        bench::{Flood, Prober, cpu_seconds, keepalived_version, machine_line, write_section},
        daemon::run_dir,
    },
};

/// The routers under attack (vrrpd's, keepalived's) and their VIPs.
const VRIDS: [u8; 2] = [50, 51];
const VIPS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 3), Ipv4Addr::new(192, 0, 2, 13)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    WrongVrid,
    BadPass,
    BadChecksum,
    Ttl254,
    Truncated,
    ForgedPeer,
    UnrelatedUdp,
}

impl Class {
    const ALL: [Class; 7] = [
        Class::WrongVrid,
        Class::BadPass,
        Class::BadChecksum,
        Class::Ttl254,
        Class::Truncated,
        Class::ForgedPeer,
        Class::UnrelatedUdp,
    ];

    fn label(self) -> &'static str {
        match self {
            Class::WrongVrid => "wrong VRID (60)",
            Class::BadPass => "bad PASS, priority 255",
            Class::BadChecksum => "bad checksum, priority 255",
            Class::Ttl254 => "TTL 254, priority 255",
            Class::Truncated => "truncated (4 VRRP bytes)",
            Class::ForgedPeer => "correct PASS, priority 255, not a peer",
            Class::UnrelatedUdp => "unrelated UDP (broadcast)",
        }
    }

    /// Whether a daemon can be expected to stand this class: a valid advert from a host that is
    /// not a configured peer is, by the RFC, a better master (multicast VRRP has no peer list).
    fn invalid(self) -> bool {
        self != Class::ForgedPeer
    }

    fn frames(self) -> Vec<Vec<u8>> {
        match self {
            Class::WrongVrid => vec![forged_advert(60, VIPS[0], Interval::V2Second, b"1111")],
            Class::UnrelatedUdp => vec![udp_broadcast()],
            _ => VRIDS
                .iter()
                .zip(VIPS)
                .map(|(&vrid, vip)| {
                    let password = if self == Class::BadPass {
                        b"hack"
                    } else {
                        b"1111"
                    };
                    let mut f = forged_advert(vrid, vip, Interval::V2Second, password);
                    match self {
                        Class::BadChecksum => f[40] ^= 0x5a,
                        Class::Ttl254 => {
                            f[22] = 254;
                            fix_ip_checksum(&mut f);
                        }
                        Class::Truncated => {
                            f.truncate(14 + 20 + 4);
                            f[16..18].copy_from_slice(&24u16.to_be_bytes());
                            fix_ip_checksum(&mut f);
                        }
                        _ => {}
                    }
                    f
                })
                .collect(),
        }
    }
}

/// A UDP datagram to the subnet's broadcast address, port 9 (discard).
fn udp_broadcast() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&ATTACKER_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let payload = [0x42u8; 18];
    let udp_len = 8 + payload.len() as u16;
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&(20 + udp_len).to_be_bytes());
    f.extend_from_slice(&ATTACKER.octets());
    f.extend_from_slice(&[192, 0, 2, 255]);
    fix_ip_checksum(&mut f);
    f.extend_from_slice(&12345u16.to_be_bytes());
    f.extend_from_slice(&9u16.to_be_bytes());
    f.extend_from_slice(&udp_len.to_be_bytes());
    f.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    f.extend_from_slice(&payload);
    f
}

/// One daemon's figures for one step.
#[derive(Clone, Debug, Default)]
struct Figures {
    takeovers: usize,
    adverts_per_s: f64,
    missed: u64,
    loss_pct: f64,
    cpu_pct: f64,
    log_per_s: f64,
    /// vrrpd only: XDP drops a second, both hosts.
    xdp_drops_per_s: Option<f64>,
}

#[derive(Clone, Debug)]
struct Step {
    class: Class,
    /// Asked for (0: as fast as possible).
    rate: u64,
    seconds: f64,
    offered_pps: f64,
    delivered_pps: f64,
    daemons: [Figures; 2],
}

fn conf(kind: Kind, host: usize) -> Conf {
    let k = kind as usize;
    let (vrid, vip) = (VRIDS[k], VIPS[k]);
    Conf {
        router_id: format!("{}{}", kind.name(), host + 1),
        state: if host == 0 { "MASTER" } else { "BACKUP" },
        nopreempt: false,
        priority: if host == 0 { 100 } else { 90 },
        vrid,
        vip,
        interval: Interval::V2Second,
    }
}

/// Episodes of adverts (separated by more than three intervals) in `times`.
fn episodes(times: &[u64], interval: u64) -> usize {
    if times.is_empty() {
        return 0;
    }
    1 + times
        .windows(2)
        .filter(|w| w[1] - w[0] > 3 * interval)
        .count()
}

/// Adverts missing from `times` within `[from, to]`: each gap of more than 1.5 intervals
/// counts the adverts that should have filled it.
fn missed(times: &[u64], from: u64, to: u64, interval: u64) -> u64 {
    let mut points = vec![from];
    points.extend_from_slice(times);
    points.push(to);
    points
        .windows(2)
        .map(|w| {
            let gaps = (w[1] - w[0]) as f64 / interval as f64;
            (gaps - 1.5).ceil().max(0.0) as u64
        })
        .sum()
}

fn port_rx_packets(lab: &Lab, port: &str) -> u64 {
    let out = lab
        .sw
        .exec(&["ip", "-s", "-j", "link", "show", "dev", port]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    v[0]["stats64"]["rx"]["packets"].as_u64().unwrap_or(0)
}

fn xdp_drops(pair: &Pair) -> u64 {
    pair.nodes
        .iter()
        .flatten()
        .filter_map(|n| match n {
            Node::Vrrpd(v) => v.status(),
            Node::Keepalived(_) => None,
        })
        .map(|s| s.interface_drops.values().sum::<u64>())
        .sum()
}

struct Snapshot {
    at: u64,
    cpu: f64,
    log_lines: usize,
    sent: u64,
    received: u64,
    drops: u64,
}

fn snapshot(pair: &Pair, prober: &Prober) -> Snapshot {
    let pids: Vec<u32> = pair.nodes.iter().flatten().flat_map(Node::pids).collect();
    Snapshot {
        at: monotonic_ns(),
        cpu: cpu_seconds(&pids),
        log_lines: pair.nodes.iter().flatten().map(Node::log_lines).sum(),
        sent: prober.sent(),
        received: prober.received(),
        drops: xdp_drops(pair),
    }
}

fn figures(pair: &Pair, before: &Snapshot, after: &Snapshot, master: usize) -> Figures {
    let secs = (after.at - before.at) as f64 / 1e9;
    let interval = pair.interval.nanos();
    let ours = pair.captures[master].adverts(pair.vrid, before.at, after.at);
    let theirs = pair.captures[1 - master].adverts(pair.vrid, before.at, after.at);
    let sent = after.sent - before.sent;
    let received = after.received - before.received;
    Figures {
        takeovers: episodes(&theirs, interval),
        adverts_per_s: ours.len() as f64 / secs,
        missed: missed(&ours, before.at, after.at, interval),
        loss_pct: if sent == 0 {
            0.0
        } else {
            100.0 * sent.saturating_sub(received) as f64 / sent as f64
        },
        cpu_pct: 100.0 * (after.cpu - before.cpu) / secs,
        log_per_s: (after.log_lines - before.log_lines) as f64 / secs,
        xdp_drops_per_s: (pair.kind == Kind::Vrrpd)
            .then(|| (after.drops - before.drops) as f64 / secs),
    }
}

fn rate_label(rate: u64, offered: f64) -> String {
    if rate == 0 {
        format!("max ({})", pps(offered))
    } else {
        pps(rate as f64)
    }
}

fn pps(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.0} k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

fn report(steps: &[Step], command: &str) -> String {
    let mut out = format!(
        "Measured by `{command}` on {}, beside {}. Both pairs run the tutorial's \
         keepalived.conf (v2 PASS, 1 s, MASTER 100 / BACKUP 90) in one lab under the same flood; \
         the last rate of each class is the generator's maximum. Pairs of figures are vrrpd / keepalived. \
         Takeovers: times the backup started advertising. Adverts: the master's adverts on the wire a \
         second (1 expected), and adverts missing. Loss: the client's pings to the VIP (10 ms). CPU: both \
         hosts' daemon processes, % of one CPU (XDP runs in softirq, outside this figure). Log: lines a second.\n\n",
        machine_line(),
        keepalived_version()
    );
    out.push_str("### Highest rate without a false takeover or a missed master advert\n\n| class | step length | vrrpd | keepalived | target (vrrpd: clean at the maximum, CPU < 5%) |\n|---|---|---|---|---|\n");
    for class in Class::ALL {
        let of: Vec<&Step> = steps.iter().filter(|s| s.class == class).collect();
        let clean = |k: usize| {
            let mut best = "none".to_string();
            for s in &of {
                let f = &s.daemons[k];
                if f.takeovers == 0 && f.missed == 0 {
                    best = rate_label(s.rate, s.offered_pps);
                } else {
                    break;
                }
            }
            best
        };
        let top = of.last();
        let met = top.is_some_and(|s| {
            let f = &s.daemons[0];
            f.takeovers == 0 && f.missed == 0 && f.cpu_pct < 5.0
        });
        let target = if !class.invalid() {
            "not applicable: a valid advert (see below)".to_string()
        } else if met {
            "met".to_string()
        } else {
            "missed".to_string()
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {target} |\n",
            class.label(),
            of.iter()
                .map(|s| format!("{:.0} s", s.seconds))
                .collect::<Vec<_>>()
                .join(", "),
            clean(0),
            clean(1),
        ));
    }
    out.push_str("\n### Every step\n\n| class | rate (pps) | delivered (pps) | takeovers | adverts/s | missed | loss % | CPU % | log/s | vrrpd XDP drops/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for s in steps {
        let [v, k] = &s.daemons;
        out.push_str(&format!(
            "| {} | {} | {} | {} / {} | {:.2} / {:.2} | {} / {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {} |\n",
            s.class.label(),
            rate_label(s.rate, s.offered_pps),
            pps(s.delivered_pps),
            v.takeovers,
            k.takeovers,
            v.adverts_per_s,
            k.adverts_per_s,
            v.missed,
            k.missed,
            v.loss_pct,
            k.loss_pct,
            v.cpu_pct,
            k.cpu_pct,
            v.log_per_s,
            k.log_per_s,
            v.xdp_drops_per_s.map_or("-".into(), pps),
        ));
    }
    out
}

fn plot(steps: &[Step], path: &std::path::Path) -> Result<()> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (1100, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let max_rate = steps.iter().map(|s| s.offered_pps).fold(100.0, f64::max) * 2.0;
    let max_takeovers = steps
        .iter()
        .flat_map(|s| s.daemons.iter().map(|d| d.takeovers + d.missed as usize))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        * 1.2;
    for (k, panel) in panels.iter().enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{}: false takeovers + missed adverts", Kind::BOTH[k].name()),
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((5f64..max_rate).log_scale(), 0f64..max_takeovers)?;
        chart
            .configure_mesh()
            .x_desc("flood rate (frames/s)")
            .y_desc("events in the step")
            .draw()?;
        for (c, class) in Class::ALL.iter().enumerate() {
            let colour = Palette99::pick(c).mix(1.0);
            let points: Vec<(f64, f64)> = steps
                .iter()
                .filter(|s| s.class == *class)
                .map(|s| {
                    let d = &s.daemons[k];
                    (
                        s.offered_pps.max(1.0),
                        (d.takeovers + d.missed as usize) as f64,
                    )
                })
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(class.label())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )?;
        }
        if k == 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    // A quick or partial run is short (this suite has no parts) and only prints.
    let quick = !common::records();
    let (rates, seconds): (Vec<u64>, Vec<u64>) = if quick {
        (vec![10, 1_000, 100_000, 0], vec![2, 2, 2, 4])
    } else {
        (vec![10, 1_000, 100_000, 0], vec![10, 10, 10, 60])
    };
    let command = common::command("flood");
    let lab = Lab::new(&[
        ("a1", "192.0.2.4/24"),
        ("a2", "192.0.2.5/24"),
        ("b1", "192.0.2.6/24"),
        ("b2", "192.0.2.7/24"),
        ("client", "192.0.2.10/24"),
        ("attacker", "192.0.2.66/24"),
    ]);
    let dir = run_dir();
    let pairs = [
        Pair::start(
            &lab,
            &dir,
            Kind::Vrrpd,
            ["a1", "a2"],
            [conf(Kind::Vrrpd, 0), conf(Kind::Vrrpd, 1)],
        ),
        Pair::start(
            &lab,
            &dir,
            Kind::Keepalived,
            ["b1", "b2"],
            [conf(Kind::Keepalived, 0), conf(Kind::Keepalived, 1)],
        ),
    ];
    let probers = [0, 1].map(|k| {
        Prober::start(
            lab.host("client"),
            pairs[k].vip,
            Duration::from_millis(10),
            0x5700 + k as u16,
        )
        .expect("prober")
    });
    let attacker_port = lab.port("attacker").to_string();
    let mut steps = Vec::new();
    let started = std::time::Instant::now();
    for class in Class::ALL {
        let frames = class.frames();
        for (&rate, &secs) in rates.iter().zip(&seconds) {
            // Each step starts from one master per pair (the tutorial's: host 0).
            for p in &pairs {
                if p.wait_steady(Duration::from_secs(20)).is_none() {
                    eprintln!(
                        "flood: {} did not settle before a step:\n{}",
                        p.kind.name(),
                        p.logs()
                    );
                }
            }
            let masters = [0, 1].map(|k| pairs[k].master().unwrap_or(0));
            let before = [0, 1].map(|k| snapshot(&pairs[k], &probers[k]));
            let rx_before = port_rx_packets(&lab, &attacker_port);
            let flood = Flood::start(lab.host("attacker"), frames.clone(), rate)?;
            std::thread::sleep(Duration::from_secs(secs));
            let (_, offered) = flood.sent();
            drop(flood);
            let after = [0, 1].map(|k| snapshot(&pairs[k], &probers[k]));
            let rx_after = port_rx_packets(&lab, &attacker_port);
            let elapsed = (after[0].at - before[0].at) as f64 / 1e9;
            let step = Step {
                class,
                rate,
                seconds: secs as f64,
                offered_pps: offered,
                delivered_pps: (rx_after - rx_before) as f64 / elapsed,
                daemons: [0, 1].map(|k| figures(&pairs[k], &before[k], &after[k], masters[k])),
            };
            println!(
                "{:>6.0} s  {:<40} {:>10}  vrrpd {:?}\n{:>58}keepalived {:?}",
                started.elapsed().as_secs_f64(),
                class.label(),
                rate_label(rate, offered),
                step.daemons[0],
                "",
                step.daemons[1]
            );
            steps.push(step);
            for p in &pairs {
                p.captures.iter().for_each(|c| c.forget(after[0].at));
            }
        }
    }
    let table = report(&steps, &command);
    println!("{table}");
    let svg = plot_path("flood.svg");
    plot(&steps, &svg)?;
    println!("wrote {}", svg.display());
    if !quick {
        write_section("flood", &table)?;
    }
    drop(pairs);
    Ok(())
}
