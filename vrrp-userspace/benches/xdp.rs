//! `cargo xtask bench xdp`: the XDP program's cost per packet on each path, measured in the
//! kernel with BPF_PROG_TEST_RUN, minus an empty XDP program's cost on the same frame measured
//! in the same run; and the verifier's instruction count.
//!
//! Each figure is the median of `RUNS` runs of `REPEAT` repetitions (the kernel reports the
//! mean time per repetition of a run). Paths that rewrite the frame are arranged so that the
//! rewrite is idempotent (the VMAC rewrite writes the same MAC back), except the ARP reply,
//! which turns a request into a reply: it runs once per test run, on a fresh copy of the request
//! each time, and the kernel's own per-program statistics (BPF_ENABLE_STATS) time the program
//! and its baseline alone, without the system call's own timer overhead; the ARP-reply counter
//! proves that every run took the reply path. The table is printed and written into
//! BENCHMARKS.md between the `xdp` markers (not with `--quick`).

mod common;

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use vrrp_common::maps::{Counter, Family, IfaceConfig, RouterConfig};
use vrrp_userspace::{
    config::{Auth, Instance, V3Checksum, Version, Vip},
    daemon::Frames as _,
    dataplane::{Dataplane, enable_run_stats, monotonic_ns, verdict},
    frames::WireFrames,
    lab::bench::{machine_line, write_section},
    units::{Centis, Priority, Vrid},
    wire::icmpv6,
};

const VMAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 50];
const PRIMARY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);

fn instance(version: Version, auth: Auth) -> Instance {
    let mut i = Instance::new("VI_1", "eth0", Vrid::new(50).unwrap());
    i.version = version;
    i.auth = auth;
    i.priority = Priority(90);
    i.advert_interval = Centis(100);
    i.v3_checksum = V3Checksum::PseudoHeader;
    i.vips = vec![Vip {
        address: "192.0.2.3".parse().unwrap(),
        prefix_len: 32,
        dev: "eth0".into(),
        label: None,
        scope: Default::default(),
        broadcast: None,
    }];
    i
}

fn pass() -> Auth {
    Auth::Pass {
        password: *b"1111\0\0\0\0",
    }
}

fn v2(priority: u8) -> Vec<u8> {
    WireFrames::advert(&instance(Version::V2, pass()), PRIMARY, Priority(priority))
}

/// An ARP request from the client for `target`.
fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    let client = [0x02, 0, 0, 0, 0, 0x0a];
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&client);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&client);
    f.extend_from_slice(&[192, 0, 2, 10]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

/// A UDP datagram frame to `dst_mac`.
fn udp(dst_mac: [u8; 6]) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[192, 0, 2, 10, 192, 0, 2, 3]);
    f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50, 0, 8, 0, 0]);
    f.resize(60, 0);
    f
}

fn ipv6_icmp() -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 58, 255]);
    f.extend_from_slice(
        &"2001:db8::10"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    f.extend_from_slice(&"ff02::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
    f
}

fn vip6() -> Ipv6Addr {
    "2001:db8::3".parse().unwrap()
}

/// A neighbour solicitation from the client for `target`, to its solicited-node group.
fn solicitation(target: Ipv6Addr) -> Vec<u8> {
    let client = [0x02, 0, 0, 0, 0, 0x0a];
    let group = icmpv6::solicited_node(target);
    icmpv6::Repr::Solicit {
        target,
        source_mac: Some(client),
    }
    .frame(
        icmpv6::multicast_mac(group),
        client,
        &[],
        "2001:db8::10".parse().unwrap(),
        group,
    )
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    expect: u32,
    /// The path rewrites the frame into one that takes another path (the ARP reply): each run
    /// gets a fresh copy, and this counter must show that every run took the path.
    counter: Option<Counter>,
}

fn main() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, repeat) = if quick {
        (5, 100_000)
    } else {
        (10, 10_000_000)
    };
    // The ARP reply: runs of one repetition each, this many per sample.
    let single_runs: u64 = if quick { 2_000 } else { 20_000 };

    let mut dp = Dataplane::load().context("loading the XDP program (root needed)")?;
    // Router 50: v2, PASS "1111", interval 1 s, our priority 100, master (for ARP and VMAC).
    let mut primary = [0u8; 16];
    primary[..4].copy_from_slice(&[192, 0, 2, 4]);
    let router = RouterConfig::new(2, Some(*b"1111\0\0\0\0"), 100, 100, primary, true);
    dp.set_router(Family::Ipv4, 50, &router)?;
    // Router 51 for the v3 advert.
    dp.set_router(
        Family::Ipv4,
        51,
        &RouterConfig {
            version: 3,
            auth_type: 0,
            auth_data: [0; 8],
            ..router
        },
    )?;
    dp.add_vip(Ipv4Addr::new(192, 0, 2, 3), 50)?;
    // IPv6 router 50, master, with 2001:db8::3 (the neighbour discovery responder).
    dp.set_router(
        Family::Ipv6,
        50,
        &RouterConfig {
            version: 3,
            ..router
        },
    )?;
    dp.add_vip6(vip6(), Family::Ipv6, 50)?;
    // The interface MAC is set to the VMAC so that the VMAC rewrite is idempotent; a heartbeat
    // that stays fresh for the whole run; every valid advert passed to the stack.
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 3_600 * 1_000_000_000,
        pass_gap_ns: 0,
        mac: VMAC,
        _pad: [0; 2],
    })?;

    let mut v3i = instance(Version::V3, Auth::None);
    v3i.vrid = Vrid::new(51).unwrap();
    let v3 = WireFrames::advert(&v3i, PRIMARY, Priority(90));
    let good = v2(90);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut g = good.clone();
        f(&mut g);
        g
    };
    // Offsets in the v2 frame: Ethernet 14, IPv4 20 (TTL at 22), VRRP at 34.
    let cases = vec![
        Case {
            name: "valid advert v2 PASS (stamped, passed)",
            frame: good.clone(),
            expect: verdict::PASS,
            counter: None,
        },
        Case {
            name: "valid advert v3 IPv4 (pseudo-header checksum)",
            frame: v3,
            expect: verdict::PASS,
            counter: None,
        },
        Case {
            name: "drop: TTL 254",
            frame: with(&|g| g[22] = 254),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad IP header (fragment)",
            frame: with(&|g| g[20] = 0x20),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: truncated (IP length < 8 VRRP bytes)",
            frame: with(&|g| {
                g[16] = 0;
                g[17] = 24
            }),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad version",
            frame: with(&|g| g[34] = 0x41),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad type",
            frame: with(&|g| g[34] = 0x22),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad length (count)",
            frame: with(&|g| g[37] = 2),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad checksum",
            frame: with(&|g| g[40] ^= 0xff),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: unknown VRID",
            frame: v2_with_vrid(60),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad password",
            frame: v2_with_password(b"2222"),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "drop: bad interval (v2 mismatch)",
            frame: v2_with_interval(2),
            expect: verdict::DROP,
            counter: None,
        },
        Case {
            name: "ARP request for the VIP: reply from the VMAC (XDP_TX)",
            frame: arp_request(Ipv4Addr::new(192, 0, 2, 3)),
            expect: verdict::TX,
            counter: Some(Counter::ArpReplied),
        },
        Case {
            name: "frame to the VMAC: rewritten, passed",
            frame: udp(VMAC),
            expect: verdict::PASS,
            counter: None,
        },
        // The NS reply and the IPv6 VMAC rewrite change their frame (the second writes the
        // interface MAC, here the IPv4 VMAC): fresh copies, counted, as the ARP reply.
        Case {
            name: "NS for the IPv6 VIP: NA from the VMAC (XDP_TX)",
            frame: solicitation(vip6()),
            expect: verdict::TX,
            counter: Some(Counter::NdReplied),
        },
        Case {
            name: "frame to the IPv6 VMAC: rewritten, passed",
            frame: udp([0, 0, 0x5e, 0, 2, 50]),
            expect: verdict::PASS,
            counter: Some(Counter::VmacRewritten),
        },
        Case {
            name: "unrelated NS (another address)",
            frame: solicitation("2001:db8::4".parse().unwrap()),
            expect: verdict::PASS,
            counter: None,
        },
        Case {
            name: "unrelated IPv4 (UDP)",
            frame: udp([0x02, 0, 0, 0, 0, 0x04]),
            expect: verdict::PASS,
            counter: None,
        },
        Case {
            name: "unrelated IPv6 (ICMPv6)",
            frame: ipv6_icmp(),
            expect: verdict::PASS,
            counter: None,
        },
        Case {
            name: "unrelated ARP (another address)",
            frame: arp_request(Ipv4Addr::new(192, 0, 2, 4)),
            expect: verdict::PASS,
            counter: None,
        },
    ];

    let instructions = dp.verified_instructions()?;
    let mut rows = Vec::new();
    for case in &cases {
        let first = dp.test_run(&case.frame)?;
        if first.verdict != case.expect {
            bail!(
                "{}: verdict {} where {} was expected",
                case.name,
                first.verdict,
                case.expect
            );
        }
        let (mut ours, mut empty) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            if let Some(counter) = case.counter {
                // Each run on a fresh copy of the frame; the kernel's own run statistics time
                // the programs alone, and the counter proves every run took the path.
                let _stats = enable_run_stats()?;
                let counted = dp.counter(counter)?;
                let [(t0, n0), (e0, m0)] = dp.run_stats()?;
                for _ in 0..single_runs {
                    dp.test_run_repeat(&case.frame, 1)?;
                    dp.test_run_noop(&case.frame, 1)?;
                }
                let [(t1, n1), (e1, m1)] = dp.run_stats()?;
                let took = dp.counter(counter)? - counted;
                if took != single_runs || n1 - n0 != single_runs {
                    bail!(
                        "{}: {took} of {single_runs} runs took the path ({} counted)",
                        case.name,
                        n1 - n0
                    );
                }
                ours.push(ns(t1 - t0) / (n1 - n0) as f64);
                empty.push(ns(e1 - e0) / (m1 - m0) as f64);
            } else {
                ours.push(ns(dp.test_run_repeat(&case.frame, repeat)?.duration));
                empty.push(ns(dp.test_run_noop(&case.frame, repeat)?.duration));
            }
        }
        let (o, e) = (median(ours), median(empty));
        println!(
            "{:<58} {:>7.1} ns  (empty program {:>5.1} ns)",
            case.name,
            o - e,
            e
        );
        rows.push((case.name, o - e, e));
    }
    println!("verifier: {instructions} instructions processed");

    let mut table = format!(
        "Measured by `cargo xtask bench xdp{}` on {}: median of {runs} runs of {repeat} repetitions each, minus the empty XDP program on the same frame in the same run (the ARP reply, which turns its frame into another: {single_runs} runs on fresh copies each time, timed by the kernel's own run statistics, BPF_ENABLE_STATS, for both programs, with the ARP-reply counter checked to have moved on every run). Verifier: {instructions} instructions processed.\n\n| path | ns/packet above the empty program | empty program, ns | target ≤ 30 ns |\n|---|---|---|---|\n",
        if quick { " --quick" } else { "" },
        machine_line(),
    );
    for (name, cost, empty) in &rows {
        table.push_str(&format!(
            "| {name} | {cost:.1} | {empty:.1} | {} |\n",
            if *cost <= 30.0 { "met" } else { "missed" }
        ));
    }
    let svg = common::plot_path("xdp.svg");
    plot(&rows, &svg)?;
    println!("wrote {}", svg.display());
    if quick {
        println!("{table}");
    } else {
        write_section("xdp", &table)?;
    }
    Ok(())
}

/// A bar a path: ns above the empty program, against the 30 ns target.
fn plot(rows: &[(&str, f64, f64)], path: &std::path::Path) -> Result<()> {
    use plotters::prelude::*;
    let height = 80 + 28 * rows.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = rows.iter().map(|r| r.1).fold(40.0f64, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "XDP: ns per packet above an empty program (target 30 ns)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(330)
        .build_cartesian_2d(0f64..max, (0..rows.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => rows.get(*i).map_or(String::new(), |r| r.0.to_string()),
            _ => String::new(),
        })
        .x_desc("ns/packet")
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
        let colour = if r.1 <= 30.0 { BLUE } else { RED };
        Rectangle::new(
            [
                (0.0, SegmentValue::Exact(i)),
                (r.1.max(0.0), SegmentValue::Exact(i + 1)),
            ],
            colour.filled(),
        )
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![
            (30.0, SegmentValue::Exact(0)),
            (30.0, SegmentValue::Exact(rows.len())),
        ],
        BLACK.stroke_width(2),
    )))?;
    root.present()?;
    Ok(())
}

fn v2_with_password(pw: &[u8; 4]) -> Vec<u8> {
    let mut p = [0u8; 8];
    p[..4].copy_from_slice(pw);
    WireFrames::advert(
        &instance(Version::V2, Auth::Pass { password: p }),
        PRIMARY,
        Priority(90),
    )
}

fn v2_with_vrid(vrid: u8) -> Vec<u8> {
    let mut i = instance(Version::V2, pass());
    i.vrid = Vrid::new(vrid).unwrap();
    WireFrames::advert(&i, PRIMARY, Priority(90))
}

fn v2_with_interval(seconds: u32) -> Vec<u8> {
    let mut i = instance(Version::V2, pass());
    i.advert_interval = Centis(seconds * 100);
    WireFrames::advert(&i, PRIMARY, Priority(90))
}

fn ns(d: Duration) -> f64 {
    d.as_nanos() as f64
}
