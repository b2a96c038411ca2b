//! `cargo xtask bench xdp`: the XDP program's cost per packet on each path, measured in the
//! kernel with BPF_PROG_TEST_RUN, minus an empty XDP program's cost on the same frame measured
//! in the same run; and the verifier's instruction count.
//!
//! Each figure is the median of `RUNS` runs of `REPEAT` repetitions (the kernel reports the
//! mean time per repetition of a run). Paths that rewrite the frame are arranged so that the
//! rewrite is idempotent (a VMAC rewrite writes the same MAC back: the interface MAC is set to
//! that VMAC), except the ARP and NS replies, which turn a request into a reply that would take
//! another path on the next repetition. Those are measured as a flood instead: fresh copies of
//! the request sent through a veth pair (by the kernel, `lab::bench::Flood`) to the program
//! attached natively to the far end, and to the empty program on another pair, timed by the
//! kernel's own per-program statistics (BPF_ENABLE_STATS); the reply counter proves that every
//! packet took the path. Every figure is taken on one CPU (`--cpu N`, default 0): this thread
//! is pinned to it and the floods come from one sender pinned to it. After the paths, the
//! floors: one clock read, map lookup, counter or run of arithmetic each, in programs of their
//! own, timed the same way. The table is printed and written into BENCHMARKS.md between the
//! `xdp` markers (not with `--quick`, nor with `--only TEXT`, which runs the paths and floors
//! whose name contains TEXT).
//!
//! `--speed N` runs N alternating samples of the valid v2 advert and of the floor of plain
//! arithmetic instead, on one load of the program (one JIT layout), and prints how the two
//! move together: what makes a figure of this VM change from run to run.

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
    dataplane::{
        AttachMode, Dataplane, FLOOR_PROGRAM_NAMES, enable_run_stats, monotonic_ns, verdict,
    },
    frames::WireFrames,
    lab::{
        NetNs,
        bench::{Flood, machine_line, pin_to, write_section},
    },
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

/// A v2 advert listing `vip` instead of router 50's 192.0.2.3.
fn v2_listing(vip: &str) -> Vec<u8> {
    let mut i = instance(Version::V2, pass());
    i.vips[0].address = vip.parse().unwrap();
    WireFrames::advert(&i, PRIMARY, Priority(90))
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
    /// The path rewrites the frame into one that takes another path (the ARP and NS replies):
    /// it is measured under a flood of fresh copies instead of repetitions of one, and this
    /// counter must show that every packet took the path.
    counter: Option<Counter>,
    /// The interface MAC to configure while this case runs (to make a VMAC rewrite idempotent).
    iface_mac: Option<[u8; 6]>,
}

impl Case {
    /// A path measured by repeating one frame, the interface MAC as configured.
    fn new(name: &'static str, frame: Vec<u8>, expect: u32) -> Self {
        Case {
            name,
            frame,
            expect,
            counter: None,
            iface_mac: None,
        }
    }

    /// A reply path: measured as a flood, `counter` counting every packet that took it.
    fn replying(self, counter: Counter) -> Self {
        Case {
            counter: Some(counter),
            ..self
        }
    }

    /// With the interface MAC set to `mac` while it runs.
    fn with_iface_mac(self, mac: [u8; 6]) -> Self {
        Case {
            iface_mac: Some(mac),
            ..self
        }
    }
}

/// The program and the empty one, each attached natively to the receiving end of a veth pair
/// in a namespace of its own (`eth0` sends, `dut` receives): the replies are measured as a
/// flood of fresh requests through them.
struct Receivers {
    ours: NetNs,
    empty: NetNs,
}

impl Receivers {
    fn new(dp: &mut Dataplane) -> Result<Self> {
        let pair = |suffix: &str| {
            let ns = NetNs::new(suffix);
            // Nothing but the flood reaches the programs: no IPv6 (DAD, MLD) on the pair.
            ns.exec(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
            ns.exec(&[
                "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "dut",
            ]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            ns.exec(&["ip", "link", "set", "dut", "up"]);
            ns
        };
        let (ours, empty) = (pair("xo"), pair("xe"));
        let mode = ours.run(|| dp.attach("dut"))?;
        if mode != AttachMode::Native {
            bail!("the veth took the program in {mode:?} mode, not natively");
        }
        empty.run(|| dp.attach_noop("dut"))?;
        Ok(Receivers { ours, empty })
    }
}

/// Floods `ns`'s receiver with copies of `frame` for `time` and returns the mean run time per
/// packet of program `which` (0 ours, 1 the empty one) by the kernel's run statistics, and
/// the number of packets it ran on.
fn flood_run(
    dp: &Dataplane,
    ns: &NetNs,
    frame: &[u8],
    which: usize,
    time: Duration,
    cpu: usize,
) -> Result<(f64, u64)> {
    let _stats = enable_run_stats()?;
    let (t0, n0) = dp.run_stats()?[which];
    {
        // One sender pinned to the benchmark's CPU: the kernel runs the receiver's XDP program
        // on the sending CPU, so every packet is timed on that CPU (with a sender per CPU, the
        // figure moved with how the scheduler spread them over this VM's unequal vCPUs).
        let _flood = Flood::start_on(ns, vec![frame.to_vec()], cpu)?;
        std::thread::sleep(time);
    }
    let (t1, n1) = dp.run_stats()?[which];
    let n = n1 - n0;
    if n == 0 {
        bail!("the flood reached no program");
    }
    Ok((ns_of(t1 - t0) / n as f64, n))
}

fn main() -> Result<()> {
    let quick = common::quick();
    // `--only TEXT`: just the paths whose name contains TEXT (printed, BENCHMARKS.md untouched).
    let only = common::only();
    let (runs, repeat) = if quick {
        (5, 100_000)
    } else {
        (10, 10_000_000)
    };
    // The replies: how long each run floods the program (and the empty one) with requests.
    let flood_for = Duration::from_millis(if quick { 100 } else { 500 });
    // Every figure is taken on one CPU (`--cpu N`, 0 by default): the repeated runs in this
    // thread, the floods by a sender pinned to it. This VM's two vCPUs do not run at the same
    // speed, nor each at one speed over time (see BENCHMARKS.md): unpinned, a figure depended
    // on where the scheduler put the run.
    let cpu = cpu_arg()?;
    pin_to(cpu)?;

    let mut dp = Dataplane::load().context("loading the XDP program (root needed)")?;
    // Router 50: v2, PASS "1111", interval 1 s, our priority 100, master (for ARP and VMAC),
    // comparing each advert's addresses with its one, 192.0.2.3 (as the daemon sets it).
    let mut primary = [0u8; 16];
    primary[..4].copy_from_slice(&[192, 0, 2, 4]);
    let router = RouterConfig::new(2, Some(*b"1111\0\0\0\0"), 100, 100, primary, true)
        .with_addresses(false, &[[192, 0, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
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
    let iface = IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 3_600 * 1_000_000_000,
        pass_gap_ns: 0,
        mac: VMAC,
        ..IfaceConfig::default()
    };
    dp.set_iface(&iface)?;
    let receivers = Receivers::new(&mut dp)?;
    let mut flooded = u64::MAX;

    let mut v3i = instance(Version::V3, Auth::None);
    v3i.vrid = Vrid::new(51).unwrap();
    let v3 = WireFrames::advert(&v3i, PRIMARY, Priority(90));
    let good = v2(90);
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut g = good.clone();
        f(&mut g);
        g
    };
    if let Some(n) = speed_arg()? {
        return speed_pairs(&mut dp, &good, n);
    }
    // Offsets in the v2 frame: Ethernet 14, IPv4 20 (TTL at 22), VRRP at 34.
    let cases = vec![
        Case::new(
            "valid advert v2 PASS (stamped, passed; repeated: the precise clock once a tick)",
            good.clone(),
            verdict::PASS,
        ),
        Case::new(
            "valid advert v3 IPv4 (pseudo-header checksum; repeated)",
            v3,
            verdict::PASS,
        ),
        Case::new("drop: TTL 254", with(&|g| g[22] = 254), verdict::DROP),
        Case::new(
            "drop: bad IP header (fragment)",
            with(&|g| g[20] = 0x20),
            verdict::DROP,
        ),
        Case::new(
            "drop: truncated (IP length < 8 VRRP bytes)",
            with(&|g| {
                g[16] = 0;
                g[17] = 24
            }),
            verdict::DROP,
        ),
        Case::new("drop: bad version", with(&|g| g[34] = 0x41), verdict::DROP),
        Case::new("drop: bad type", with(&|g| g[34] = 0x22), verdict::DROP),
        Case::new(
            "drop: bad length (count)",
            with(&|g| g[37] = 2),
            verdict::DROP,
        ),
        Case::new(
            "drop: bad checksum",
            with(&|g| g[40] ^= 0xff),
            verdict::DROP,
        ),
        Case::new(
            "VRID not ours: passed for another speaker (counted)",
            v2_with_vrid(60),
            verdict::PASS,
        ),
        Case::new(
            "drop: bad password",
            v2_with_password(b"2222"),
            verdict::DROP,
        ),
        Case::new(
            "drop: bad interval (v2 mismatch)",
            v2_with_interval(2),
            verdict::DROP,
        ),
        Case::new(
            "drop: another address list (v2, one address)",
            v2_listing("192.0.2.9"),
            verdict::DROP,
        ),
        Case::new(
            "ARP request for the VIP: reply from the VMAC (XDP_TX)",
            arp_request(Ipv4Addr::new(192, 0, 2, 3)),
            verdict::TX,
        )
        .replying(Counter::ArpReplied),
        Case::new(
            "frame to the VMAC: rewritten, passed",
            udp(VMAC),
            verdict::PASS,
        ),
        // The NS reply turns its frame into an NA: a flood, as the ARP reply. The IPv6 VMAC
        // rewrite is made idempotent as the IPv4 one: the interface MAC is the IPv6 VMAC while
        // it runs.
        Case::new(
            "NS for the IPv6 VIP: NA from the VMAC (XDP_TX)",
            solicitation(vip6()),
            verdict::TX,
        )
        .replying(Counter::NdReplied),
        Case::new(
            "frame to the IPv6 VMAC: rewritten, passed",
            udp([0, 0, 0x5e, 0, 2, 50]),
            verdict::PASS,
        )
        .with_iface_mac([0, 0, 0x5e, 0, 2, 50]),
        Case::new(
            "unrelated NS (another address)",
            solicitation("2001:db8::4".parse().unwrap()),
            verdict::PASS,
        ),
        Case::new(
            "unrelated IPv4 (UDP)",
            udp([0x02, 0, 0, 0, 0, 0x04]),
            verdict::PASS,
        ),
        Case::new("unrelated IPv6 (ICMPv6)", ipv6_icmp(), verdict::PASS),
        Case::new(
            "advert tagged VLAN 10 (another VLAN's: passed untouched)",
            tagged(&good, 10),
            verdict::PASS,
        ),
        Case::new(
            "unrelated ARP (another address)",
            arp_request(Ipv4Addr::new(192, 0, 2, 4)),
            verdict::PASS,
        ),
    ];

    let instructions = dp.verified_instructions()?;
    let mut rows = Vec::new();
    for case in cases
        .iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
    {
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
        if let Some(mac) = case.iface_mac {
            dp.set_iface(&IfaceConfig { mac, ..iface })?;
        }
        for _ in 0..runs {
            if let Some(counter) = case.counter {
                // A flood of fresh copies through the program attached to a veth, timed by the
                // kernel's own run statistics; the counter proves every packet took the path.
                let counted = dp.counter(counter)?;
                let (o, n) = flood_run(&dp, &receivers.ours, &case.frame, 0, flood_for, cpu)?;
                let took = dp.counter(counter)? - counted;
                if took != n {
                    bail!("{}: {took} of {n} packets took the path", case.name);
                }
                let (e, m) = flood_run(&dp, &receivers.empty, &case.frame, 1, flood_for, cpu)?;
                flooded = flooded.min(n.min(m));
                ours.push(o);
                empty.push(e);
            } else {
                ours.push(ns_of(dp.test_run_repeat(&case.frame, repeat)?.duration));
                empty.push(ns_of(dp.test_run_noop(&case.frame, repeat)?.duration));
            }
        }
        if case.iface_mac.is_some() {
            dp.set_iface(&iface)?;
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

    // The floors: what one clock read, map lookup, counter or stretch of arithmetic costs on
    // this kernel and CPU, each a program of its own (`floor_*` in vrrp-ebpf/src/bench.rs),
    // timed as the paths are, on the unrelated UDP frame.
    let floor_frame = udp([0x02, 0, 0, 0, 0, 0x04]);
    let mut floor_rows = Vec::new();
    for (program, name) in FLOOR_PROGRAM_NAMES
        .iter()
        .zip(FLOORS)
        .filter(|(_, n)| only.as_ref().is_none_or(|o| n.contains(o.as_str())))
    {
        let (mut ours, mut empty) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(ns_of(
                dp.test_run_bench(program, &floor_frame, repeat)?.duration,
            ));
            empty.push(ns_of(dp.test_run_noop(&floor_frame, repeat)?.duration));
        }
        let (o, e) = (median(ours), median(empty));
        println!("{name:<58} {:>7.1} ns  (empty program {e:>5.1} ns)", o - e);
        floor_rows.push((name, o - e, e));
    }

    let flooded = if flooded == u64::MAX { 0 } else { flooded };
    let mut table = format!(
        "Measured by `{}` on {}, every figure on CPU {cpu}: median of {runs} runs of {repeat} repetitions each, minus the empty XDP program on the same frame in the same run (the ARP and NS replies, which turn their frame into another and cannot be repeated on one: a flood of fresh requests through a veth to the program attached natively, and to the empty one, {runs} runs of {flood_ms} ms, at least {flooded} packets each, timed by the kernel's own run statistics, BPF_ENABLE_STATS, with the reply counter checked to have moved for every packet). Verifier: {instructions} instructions processed.\n\n| path | ns/packet above the empty program | empty program, ns | target ≤ 30 ns |\n|---|---|---|---|\n",
        common::command("xdp"),
        machine_line(),
        flood_ms = flood_for.as_millis(),
    );
    for (name, cost, empty) in &rows {
        table.push_str(&format!(
            "| {name} | {cost:.1} | {empty:.1} | {} |\n",
            if *cost <= 30.0 { "met" } else { "missed" }
        ));
    }
    if !floor_rows.is_empty() {
        table.push_str(
            "\nThe floors, each one operation in a program of its own, timed the same way in the same run:\n\n| floor | ns/packet above the empty program | empty program, ns |\n|---|---|---|\n",
        );
        for (name, cost, empty) in &floor_rows {
            table.push_str(&format!("| {name} | {cost:.1} | {empty:.1} |\n"));
        }
    }
    let svg = common::plot_path("xdp.svg");
    plot(&rows, &svg)?;
    println!("wrote {}", svg.display());
    if !common::records() {
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

/// The floor that reads the vCPU's speed for `--speed`: the multiply-adds.
const SPEED_FLOOR: usize = 4;

/// What each floor (`FLOOR_PROGRAM_NAMES`, in that order) does.
const FLOORS: [&str; 5] = [
    "floor: the precise clock (bpf_ktime_get_ns, a helper call)",
    "floor: the coarse clock (bpf_ktime_get_coarse_ns, a helper call)",
    "floor: one array map lookup and read (inlined by the verifier)",
    "floor: one per-CPU counter (lookup, inlined, and increment)",
    "floor: 64 multiply-adds in registers (the vCPU's speed)",
];

/// `--speed N`: the samples of [`speed_pairs`].
fn speed_arg() -> Result<Option<usize>> {
    if !std::env::args().any(|a| a == "--speed") {
        return Ok(None);
    }
    common::flag_value("--speed")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n >= 10)
        .map(Some)
        .context("--speed needs a number of samples (10 or more)")
}

/// `n` samples, each the valid v2 advert (`advert`), the empty program on it, the floor of 64
/// multiply-adds and the empty program on its frame, 100,000 repetitions each (a few ms a
/// sample), all on one load of the program: whether the advert's cost moves with the
/// vCPU's speed (the floor: arithmetic in registers, no memory, no helper), or by itself
/// (the program's place in memory, which changes only from load to load). Printed only.
fn speed_pairs(dp: &mut Dataplane, advert: &[u8], n: usize) -> Result<()> {
    const REPEAT: u32 = 100_000;
    let floor_frame = udp([0x02, 0, 0, 0, 0, 0x04]);
    // Where the kernel put the program: `bpf_prog_TAG_vrrp` in kallsyms.
    let at = std::fs::read_to_string("/proc/kallsyms")?
        .lines()
        .filter(|l| l.ends_with("_vrrp\t[bpf]"))
        .filter_map(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .map(|a| format!("{a:#x} ({} mod 64)", a % 64))
        .collect::<Vec<_>>();
    let mut samples = Vec::with_capacity(n);
    let started = std::time::Instant::now();
    for _ in 0..n {
        let a = ns_of(dp.test_run_repeat(advert, REPEAT)?.duration);
        let ea = ns_of(dp.test_run_noop(advert, REPEAT)?.duration);
        let f = ns_of(
            dp.test_run_bench(FLOOR_PROGRAM_NAMES[SPEED_FLOOR], &floor_frame, REPEAT)?
                .duration,
        );
        let ef = ns_of(dp.test_run_noop(&floor_frame, REPEAT)?.duration);
        samples.push((a - ea, f - ef, ea));
    }
    let per_sample_ms = started.elapsed().as_secs_f64() * 1e3 / n as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (adverts, floors): (Vec<f64>, Vec<f64>) = samples.iter().map(|s| (s.0, s.1)).unzip();
    let (ma, mf) = (mean(&adverts), mean(&floors));
    let cov: f64 = samples.iter().map(|s| (s.0 - ma) * (s.1 - mf)).sum();
    let va: f64 = adverts.iter().map(|a| (a - ma).powi(2)).sum();
    let vf: f64 = floors.iter().map(|f| (f - mf).powi(2)).sum();
    let correlation = cov / (va * vf).sqrt().max(1e-12);
    // The floor's two levels: split halfway between its 10th and 90th percentiles.
    let mut sorted = floors.clone();
    sorted.sort_by(f64::total_cmp);
    let (p10, p90) = (sorted[n / 10], sorted[n * 9 / 10]);
    let split = (p10 + p90) / 2.0;
    let side = |slow: bool| -> Vec<(f64, f64, f64)> {
        samples
            .iter()
            .copied()
            .filter(|s| (s.1 > split) == slow)
            .collect()
    };
    let summary = |v: &[(f64, f64, f64)]| {
        if v.is_empty() {
            return "none".to_string();
        }
        format!(
            "{} samples: advert {:.1} ns, floor {:.1} ns, empty program {:.1} ns (medians)",
            v.len(),
            median(v.iter().map(|s| s.0).collect()),
            median(v.iter().map(|s| s.1).collect()),
            median(v.iter().map(|s| s.2).collect()),
        )
    };
    // How long the vCPU stays on one side: runs of consecutive samples.
    let mut stretches = Vec::new();
    let mut run = 1;
    for w in samples.windows(2) {
        if (w[0].1 > split) == (w[1].1 > split) {
            run += 1;
        } else {
            stretches.push(run);
            run = 1;
        }
    }
    stretches.push(run);
    println!(
        "{n} samples of {REPEAT} repetitions each, {per_sample_ms:.1} ms a sample, the program \
         at {}",
        at.join(", ")
    );
    println!(
        "the floor (64 multiply-adds): 10th / 90th percentile {p10:.1} / {p90:.1} ns, split at \
         {split:.1}"
    );
    println!("  floor at or below the split: {}", summary(&side(false)));
    println!("  floor above the split:       {}", summary(&side(true)));
    println!(
        "correlation of the advert's cost with the floor's, sample by sample: {correlation:.2}"
    );
    println!(
        "the vCPU stays on one side for {:.0} ms on average ({} stretches, the longest {:.0} ms)",
        n as f64 * per_sample_ms / stretches.len() as f64,
        stretches.len(),
        *stretches.iter().max().unwrap_or(&0) as f64 * per_sample_ms
    );
    Ok(())
}

/// `--cpu N`: the CPU every figure is taken on (0 by default).
fn cpu_arg() -> Result<usize> {
    if !std::env::args().any(|a| a == "--cpu") {
        return Ok(0);
    }
    common::flag_value("--cpu")
        .and_then(|n| n.parse().ok())
        .context("--cpu needs a CPU number")
}

fn ns_of(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// `frame` with an 802.1Q tag for VLAN `vid` after the MACs.
fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}
