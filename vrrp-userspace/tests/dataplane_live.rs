//! Tier 3, live: the XDP program attached to a veth in a network namespace, answering ARP for
//! a VIP from the VMAC, accepting frames to the VMAC, and closing its liveness gate once the
//! controller's heartbeat goes stale, even after the process that attached it is gone.
use vrrp_userspace::lab as common;

use std::{net::Ipv4Addr, time::Duration};

use common::VethPair;
use vrrp_common::maps::{Counter, Family, IfaceConfig, RouterConfig};
use vrrp_userspace::dataplane::{
    AttachMode, Attached, Dataplane, ModeChoice, detach_egress_pinned, detach_pinned,
    egress_pin_path, monotonic_ns, pin_path,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
const VRID: u8 = 50;
const VMAC: &str = "00:00:5e:00:01:32";

fn mac_of(lab: &VethPair) -> [u8; 6] {
    // nsenter keeps the host's /sys, so ask `ip` inside the namespace.
    let text = lab.b.exec(&["ip", "-o", "link", "show", "dev", &lab.b_if]);
    let after = text
        .split("link/ether ")
        .nth(1)
        .expect("an Ethernet address");
    let mut mac = [0u8; 6];
    for (m, part) in mac.iter_mut().zip(after[..17].split(':')) {
        *m = u8::from_str_radix(part, 16).unwrap();
    }
    mac
}

/// Configures `dp` as master of VRID 50 with VIP 192.0.2.3 and a fresh heartbeat that goes
/// stale after `stale`.
fn become_master(dp: &mut Dataplane, mac: [u8; 6], stale: Duration) {
    dp.set_router(
        Family::Ipv4,
        VRID,
        &RouterConfig::new(
            2,
            Some(*b"1111\0\0\0\0"),
            100,
            100,
            [192, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            true,
        ),
    )
    .unwrap();
    dp.add_vip(VIP, VRID).unwrap();
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: stale.as_nanos() as u64,
        pass_gap_ns: 10_000_000,
        mac,
        ..IfaceConfig::default()
    })
    .unwrap();
}

/// arping (Thomas Habets' 2.x, Debian's `arping`) from `a` for the VIP: the MACs that
/// answered, from lines like `58 bytes from 00:00:5e:00:01:32 (192.0.2.3): index=0 …`.
fn arping(lab: &VethPair) -> Vec<String> {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", lab.a.name))
        .args([
            "--",
            "arping",
            "-c",
            "2",
            "-w",
            "1",
            "-i",
            &lab.a_if,
            "192.0.2.3",
        ])
        .output()
        .expect("arping runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let rest = l.split(" bytes from ").nth(1)?;
            Some(rest.split_whitespace().next()?.to_ascii_lowercase())
        })
        .collect()
}

/// b's neighbour entry for a (192.0.2.1), which the kernel creates when it processes an ARP
/// request from a: empty while XDP consumes every request.
fn b_learned_a(lab: &VethPair) -> String {
    lab.b
        .exec(&["ip", "neigh", "show", "192.0.2.1", "dev", &lab.b_if])
        .trim()
        .to_string()
}

#[test]
fn live_arp_reply_from_vmac_vmac_frames_reach_the_vip_and_the_gate_outlives_the_process() {
    if !common::privileged("live_arp_reply_from_vmac") {
        return;
    }
    let lab = VethPair::new();
    // As in the lab: GRO on at the peer, so XDP_TX frames reach it.
    lab.a.exec(&["ethtool", "-K", &lab.a_if, "gro", "on"]);
    // As the controller does when master: the VIP on the interface.
    lab.b
        .exec(&["ip", "addr", "add", "192.0.2.3/32", "dev", &lab.b_if]);
    let mac = mac_of(&lab);
    let pins = common::PinDir::new();
    let pin_root = pins.path.clone();
    let b_if = lab.b_if.clone();

    let mut dp = lab.b.run(|| {
        let mut dp = Dataplane::load().unwrap();
        let attached = dp
            .attach_pinned(&b_if, &pin_root, ModeChoice::Generic)
            .expect("attach and pin");
        assert!(matches!(attached, Attached::New(_)), "{attached:?}");
        dp
    });
    become_master(&mut dp, mac, Duration::from_secs(3));

    // 1. ARP for the VIP is answered from the VMAC, by XDP: the reply carries the VMAC (the
    //    kernel would answer with the interface MAC), and b's kernel never saw the request.
    let answers = arping(&lab);
    assert!(!answers.is_empty(), "no ARP reply for the VIP");
    assert!(
        answers.iter().all(|m| m == VMAC),
        "replies from {answers:?}, want only {VMAC}"
    );
    assert!(dp.counter(Counter::ArpReplied).unwrap() >= 1);
    assert_eq!(
        b_learned_a(&lab),
        "",
        "b's kernel processed the ARP request"
    );

    // 2. A frame to the VMAC reaches a socket bound to the VIP (dst rewritten to b's MAC).
    lab.a.exec(&[
        "ip",
        "neigh",
        "replace",
        "192.0.2.3",
        "lladdr",
        VMAC,
        "dev",
        &lab.a_if,
        "nud",
        "permanent",
    ]);
    let got = lab.b.run(|| {
        let sock = std::net::UdpSocket::bind("192.0.2.3:5999").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        lab.a.run(|| {
            let tx = std::net::UdpSocket::bind("192.0.2.1:0").unwrap();
            tx.send_to(b"to the vip", "192.0.2.3:5999").unwrap();
        });
        let mut buf = [0u8; 64];
        let (n, from) = sock
            .recv_from(&mut buf)
            .expect("the datagram to the VMAC arrives");
        (buf[..n].to_vec(), from)
    });
    assert_eq!(got.0, b"to the vip");
    assert_eq!(got.1.ip(), Ipv4Addr::new(192, 0, 2, 1));
    assert!(dp.counter(Counter::VmacRewritten).unwrap() >= 1);

    // 3. The process's hold on the program goes (as when vrrpd is killed): the pinned link keeps
    //    the program attached, and while the heartbeat is fresh it still answers.
    drop(dp);
    lab.a.exec(&["ip", "neigh", "flush", "dev", &lab.a_if]);
    let answers = arping(&lab);
    assert!(
        !answers.is_empty() && answers.iter().all(|m| m == VMAC),
        "orphaned program, fresh heartbeat: {answers:?}"
    );

    // 4. Once the heartbeat is stale, ARP for the VIP is dropped: neither XDP nor the kernel
    //    (which holds the VIP) answers.
    std::thread::sleep(Duration::from_millis(3200));
    let answers = arping(&lab);
    assert!(
        answers.is_empty(),
        "stale heartbeat, yet ARP answered by {answers:?}"
    );

    // 5. A restarted controller takes the pinned link over and answers again.
    let mut dp = lab.b.run(|| {
        let mut dp = Dataplane::load().unwrap();
        let attached = dp
            .attach_pinned(&b_if, &pin_root, ModeChoice::Generic)
            .unwrap();
        assert_eq!(attached, Attached::TakenOver);
        dp
    });
    become_master(&mut dp, mac, Duration::from_secs(3));
    let answers = arping(&lab);
    assert!(
        !answers.is_empty() && answers.iter().all(|m| m == VMAC),
        "{answers:?}"
    );

    drop(dp);
    assert!(lab.b.run(|| detach_pinned(&pin_root, &b_if).unwrap()));
    let shown = lab.b.exec(&["ip", "-details", "link", "show", &lab.b_if]);
    assert!(
        !shown.contains("prog/xdp"),
        "still attached after detach: {shown}"
    );
}

/// Issue 11, item 4: a crash, then the interface deleted and re-created under the same name,
/// left pins to severed links, and every later start failed (`bpf_link_update failed: Link has
/// been severed`). A pin to a link on another interface (the old one renamed) must not be
/// taken over either. Both are unpinned and replaced by new links on the interface.
#[test]
fn live_severed_and_foreign_pins_are_replaced() {
    if !common::privileged("live_severed_and_foreign_pins_are_replaced") {
        return;
    }
    let lab = VethPair::new();
    let pins = common::PinDir::new();
    let pin_root = pins.path.clone();
    let b_if = lab.b_if.clone();
    let attach = || {
        lab.b.run(|| {
            let mut dp = Dataplane::load().unwrap();
            let xdp = dp
                .attach_pinned(&b_if, &pin_root, ModeChoice::Generic)
                .expect("XDP attached");
            let egress = dp
                .attach_egress_pinned(&b_if, &pin_root)
                .expect("tc egress attached");
            (dp, xdp, egress)
        })
    };
    let (xdp_pin, egress_pin) = lab.b.run(|| {
        (
            pin_path(&pin_root, &b_if).unwrap(),
            egress_pin_path(&pin_root, &b_if).unwrap(),
        )
    });
    let (dp, xdp, egress) = attach();
    assert!(matches!(
        (xdp, egress),
        (Attached::New(_), Attached::New(_))
    ));
    // The crash: the process goes, the pins stay.
    drop(dp);

    // The interface is deleted and re-created under the same name: the links are severed.
    lab.b.exec(&["ip", "link", "del", &b_if]);
    common::sh(&[
        "ip",
        "link",
        "add",
        &lab.a_if,
        "netns",
        &lab.a.name,
        "type",
        "veth",
        "peer",
        "name",
        &b_if,
        "netns",
        &lab.b.name,
    ]);
    lab.a
        .exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", &lab.a_if]);
    lab.b
        .exec(&["ip", "addr", "add", "192.0.2.2/24", "dev", &b_if]);
    lab.a.exec(&["ip", "link", "set", &lab.a_if, "up"]);
    lab.b.exec(&["ip", "link", "set", &b_if, "up"]);
    assert!(
        xdp_pin.exists() && egress_pin.exists(),
        "the pins outlived the interface"
    );

    // The restart replaces them with new links on the new interface, which work.
    let (mut dp, xdp, egress) = attach();
    assert_eq!(xdp, Attached::New(AttachMode::Generic));
    assert!(matches!(egress, Attached::New(_)), "{egress:?}");
    let shown = lab.b.exec(&["ip", "-details", "link", "show", &b_if]);
    assert!(shown.contains("prog/xdp"), "{shown}");
    lab.a.exec(&["ethtool", "-K", &lab.a_if, "gro", "on"]);
    become_master(&mut dp, mac_of(&lab), Duration::from_secs(3));
    let answers = arping(&lab);
    assert!(
        !answers.is_empty() && answers.iter().all(|m| m == VMAC),
        "the new link's program answers: {answers:?}"
    );
    drop(dp);
    // A sound pin is still taken over, as before.
    let (dp, xdp, egress) = attach();
    assert_eq!((xdp, egress), (Attached::TakenOver, Attached::TakenOver));
    drop(dp);

    // The interface is renamed and another takes its name: the pin now leads to a live link on
    // another interface, which is not ours to update. It is unpinned (the renamed interface
    // loses the program) and the new interface gets its own.
    let old = common::unique("o");
    let peer = common::unique("q");
    lab.b.exec(&["ip", "link", "set", &b_if, "down"]);
    lab.b.exec(&["ip", "link", "set", &b_if, "name", &old]);
    lab.b.exec(&[
        "ip", "link", "add", &b_if, "type", "veth", "peer", "name", &peer,
    ]);
    lab.b.exec(&["ip", "link", "set", &b_if, "up"]);
    let (dp, xdp, egress) = attach();
    assert_eq!(xdp, Attached::New(AttachMode::Generic));
    assert!(matches!(egress, Attached::New(_)), "{egress:?}");
    let renamed = lab.b.exec(&["ip", "-details", "link", "show", &old]);
    assert!(!renamed.contains("prog/xdp"), "{renamed}");
    let shown = lab.b.exec(&["ip", "-details", "link", "show", &b_if]);
    assert!(shown.contains("prog/xdp"), "{shown}");
    drop(dp);

    assert!(lab.b.run(|| detach_pinned(&pin_root, &b_if).unwrap()));
    assert!(
        lab.b
            .run(|| detach_egress_pinned(&pin_root, &b_if).unwrap())
    );
}
