//! The IPv6 neighbour discovery paths of the BPF object in the kernel (BPF_PROG_TEST_RUN): a
//! solicitation for an active IPv6 VIP turned into the advertisement from the VMAC (every byte
//! compared with `wire`'s, and decoded by it, checksum included), the cases that pass or are
//! dropped, the liveness gate, conflicts, frames to the IPv6 VMAC, and the tc egress program
//! that gives the kernel's own neighbour discovery from a VIP the VMAC.
use std::net::{Ipv4Addr, Ipv6Addr};

use vrrp_common::maps::{
    Counter, EventKind, Family, IfaceConfig, ROUTER_ND_ROUTER, RouterConfig, VipSlot, router_index,
};
use vrrp_userspace::{
    dataplane::{Dataplane, monotonic_ns, verdict},
    lab,
    wire::{self, checksum, ethernet, icmpv6, ipv6},
};

const IFACE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x04];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const VMAC6: [u8; 6] = [0, 0, 0x5e, 0, 2, 52];
/// tc's "no verdict, pass on" (TC_ACT_UNSPEC) and drop (TC_ACT_SHOT).
const TC_NEXT: u32 = -1i32 as u32;
const TC_SHOT: u32 = 2;

fn vip() -> Ipv6Addr {
    "2001:db8::3".parse().unwrap()
}

fn client() -> Ipv6Addr {
    "2001:db8::10".parse().unwrap()
}

fn primary() -> [u8; 16] {
    "fe80::4".parse::<Ipv6Addr>().unwrap().octets()
}

/// IPv6 router 52 (v3), master or not, with the Router flag for its advertisements or not.
fn router6(master: bool, nd_router: bool) -> RouterConfig {
    let mut r = RouterConfig::new(3, None, 100, 100, primary(), master);
    if nd_router {
        r.flags |= ROUTER_ND_ROUTER;
    }
    r
}

fn fresh(dp: &mut Dataplane) {
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 600 * 1_000_000_000,
        pass_gap_ns: 0,
        mac: IFACE_MAC,
        ..IfaceConfig::default()
    })
    .unwrap();
}

/// A heartbeat 5 s old, for a gate that closes after 3.64 s.
fn stale(dp: &mut Dataplane) {
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns() - 5_000_000_000,
        stale_after_ns: 3_640_000_000,
        pass_gap_ns: 0,
        mac: IFACE_MAC,
        ..IfaceConfig::default()
    })
    .unwrap();
}

/// IPv6 router 52 master (Router flag on) with VIP 2001:db8::3; IPv4 router 50 master with
/// 2001:db8::9 in its excluded VIPs; IPv6 router 53 backup with 2001:db8::5.
fn loaded() -> Dataplane {
    let mut dp = Dataplane::load().expect("the verifier accepts the programs");
    dp.set_router(Family::Ipv6, 52, &router6(true, true))
        .unwrap();
    dp.add_vip6(vip(), Family::Ipv6, 52).unwrap();
    let mut v4 = [0u8; 16];
    v4[..4].copy_from_slice(&[192, 0, 2, 4]);
    dp.set_router(
        Family::Ipv4,
        50,
        &RouterConfig::new(3, None, 100, 100, v4, true),
    )
    .unwrap();
    dp.add_vip6("2001:db8::9".parse().unwrap(), Family::Ipv4, 50)
        .unwrap();
    dp.set_router(Family::Ipv6, 53, &router6(false, false))
        .unwrap();
    dp.add_vip6("2001:db8::5".parse().unwrap(), Family::Ipv6, 53)
        .unwrap();
    fresh(&mut dp);
    dp
}

/// A neighbour solicitation frame from the client for `target`, with raw `options`, `src` →
/// `dst`, hop limit `hops`, the checksum right unless `bad_sum`.
fn ns_raw(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    options: &[u8],
    hops: u8,
    bad_sum: bool,
) -> Vec<u8> {
    let mut msg = vec![135, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&target.octets());
    msg.extend_from_slice(options);
    let mut c = checksum::finish(checksum::combine(&[
        checksum::sum(&msg),
        checksum::pseudo_v6(src, dst, 58, msg.len() as u32),
    ]));
    if bad_sum {
        c ^= 0x0101;
    }
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = icmpv6::multicast_mac(dst).to_vec();
    if !dst.is_multicast() {
        f = IFACE_MAC.to_vec();
    }
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x86, 0xdd]);
    let mut ip = [0u8; 40];
    ipv6::Repr {
        src,
        dst,
        next_header: 58,
        hop_limit: hops,
        payload_len: msg.len(),
    }
    .emit(&mut ip);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&msg);
    f
}

/// The source link-layer address option with the client's MAC.
fn slla() -> Vec<u8> {
    let mut o = vec![1, 1];
    o.extend_from_slice(&CLIENT_MAC);
    o
}

/// The usual solicitation: to the VIP's solicited-node group, with the client's MAC.
fn ns(target: Ipv6Addr) -> Vec<u8> {
    ns_raw(
        client(),
        icmpv6::solicited_node(target),
        target,
        &slla(),
        255,
        false,
    )
}

/// Decodes an advertisement frame with `wire` (checksum verified) and checks every field;
/// returns its IPv6 header.
fn decode_na(
    f: &[u8],
    eth_dst: [u8; 6],
    vmac: [u8; 6],
    ip_dst: Ipv6Addr,
    target: Ipv6Addr,
    router: bool,
    solicited: bool,
) {
    let (eth, l3) = ethernet::Repr::parse(f).expect("an Ethernet frame");
    assert_eq!((eth.dst, eth.src, eth.ethertype), (eth_dst, vmac, 0x86dd));
    let ip = ipv6::Repr::read(&f[l3..]).expect("an IPv6 header");
    assert_eq!(f[l3] >> 4, 6);
    assert_eq!(
        (ip.src, ip.dst, ip.next_header, ip.hop_limit, ip.payload_len),
        (target, ip_dst, 58, 255, 32)
    );
    assert_eq!(f.len(), l3 + 40 + 32, "nothing after the advertisement");
    let na = icmpv6::Repr::parse(&f[l3 + 40..], ip.src, ip.dst)
        .expect("the advertisement parses and its checksum verifies");
    assert_eq!(
        na,
        icmpv6::Repr::Advert {
            router,
            solicited,
            override_: true,
            target,
            target_mac: Some(vmac),
        }
    );
}

#[test]
fn kernel_ns_for_an_active_ipv6_vip_becomes_the_na_from_the_vmac() {
    if !lab::privileged("kernel_ns_for_an_active_ipv6_vip_becomes_the_na_from_the_vmac") {
        return;
    }
    let mut dp = loaded();

    // The usual solicitation: answered to the client, Solicited + Override + Router.
    let out = dp.test_run(&ns(vip())).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    let expected = icmpv6::Repr::Advert {
        router: true,
        solicited: true,
        override_: true,
        target: vip(),
        target_mac: Some(VMAC6),
    }
    .frame(CLIENT_MAC, VMAC6, &[], vip(), client());
    assert_eq!(out.frame, expected, "the advertisement, byte for byte");
    decode_na(&out.frame, CLIENT_MAC, VMAC6, client(), vip(), true, true);
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 1);

    // Behind a VLAN tag: another VLAN's solicitation, passed untouched while the routers are
    // untagged; answered, the tag kept, by routers on VLAN 7.
    let plain = ns(vip());
    let mut tagged = plain[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    tagged.extend_from_slice(&plain[12..]);
    let out = dp.test_run(&tagged).unwrap();
    assert_eq!((out.verdict, &out.frame), (verdict::PASS, &tagged));
    let mut iface = dp.iface().unwrap();
    iface.vlan = vrrp_common::maps::vlan_key(Some(7), None);
    dp.set_iface(&iface).unwrap();
    let out = dp.test_run(&tagged).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    iface.vlan = 0;
    dp.set_iface(&iface).unwrap();
    let expected = icmpv6::Repr::Advert {
        router: true,
        solicited: true,
        override_: true,
        target: vip(),
        target_mac: Some(VMAC6),
    }
    .frame(CLIENT_MAC, VMAC6, &[7], vip(), client());
    assert_eq!(out.frame, expected);

    // A unicast solicitation without options (24 bytes): the frame grows by the option.
    let out = dp
        .test_run(&ns_raw(client(), vip(), vip(), &[], 255, false))
        .unwrap();
    assert_eq!(out.verdict, verdict::TX);
    decode_na(&out.frame, CLIENT_MAC, VMAC6, client(), vip(), true, true);

    // With the source address and a nonce option (40 bytes), and Ethernet padding after it:
    // the frame shrinks to the advertisement.
    let mut opts = slla();
    opts.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
    let mut f = ns_raw(
        client(),
        icmpv6::solicited_node(vip()),
        vip(),
        &opts,
        255,
        false,
    );
    f.extend_from_slice(&[0; 10]);
    let out = dp.test_run(&f).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    decode_na(&out.frame, CLIENT_MAC, VMAC6, client(), vip(), true, true);

    // Duplicate address detection of our VIP by someone else: from ::, to the solicited-node
    // group; answered to all nodes, not solicited (RFC 4861 §7.2.4).
    let dad = ns_raw(
        Ipv6Addr::UNSPECIFIED,
        icmpv6::solicited_node(vip()),
        vip(),
        &[],
        255,
        false,
    );
    let out = dp.test_run(&dad).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    let all_nodes = icmpv6::ALL_NODES;
    decode_na(
        &out.frame,
        icmpv6::multicast_mac(all_nodes),
        VMAC6,
        all_nodes,
        vip(),
        true,
        false,
    );

    // Without the Router flag (the interface does not forward IPv6).
    dp.set_router(Family::Ipv6, 52, &router6(true, false))
        .unwrap();
    let out = dp.test_run(&ns(vip())).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    decode_na(&out.frame, CLIENT_MAC, VMAC6, client(), vip(), false, true);

    // An IPv6 address excluded from an IPv4 router's adverts: that router's VMAC.
    let other: Ipv6Addr = "2001:db8::9".parse().unwrap();
    let out = dp.test_run(&ns(other)).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    decode_na(
        &out.frame,
        CLIENT_MAC,
        [0, 0, 0x5e, 0, 1, 50],
        client(),
        other,
        false,
        true,
    );
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 7);
    assert_eq!(dp.counter(Counter::NdDropped).unwrap(), 0);
}

#[test]
fn kernel_ns_that_is_not_ours_passes_and_invalid_ones_for_our_vip_are_dropped() {
    if !lab::privileged("kernel_ns_that_is_not_ours_passes") {
        return;
    }
    let dp = loaded();
    // Not a VIP (same last byte as one, so it gets past the pre-filter), and a VIP of a router
    // we are backup of: passed untouched.
    for (f, name) in [
        (ns("2001:db8::1:3".parse().unwrap()), "not a VIP"),
        (
            ns("2001:db8::77".parse().unwrap()),
            "not a VIP, other last byte",
        ),
        (ns("2001:db8::5".parse().unwrap()), "backup's VIP"),
    ] {
        let out = dp.test_run(&f).unwrap();
        assert_eq!((out.verdict, &out.frame), (verdict::PASS, &f), "{name}");
    }
    assert_eq!(dp.counter(Counter::NdNotMaster).unwrap(), 1);
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 0);

    // Invalid solicitations for an active VIP (RFC 4861 §7.1.1): dropped, never passed (the
    // kernel would answer from its own MAC) nor answered.
    let sn = icmpv6::solicited_node(vip());
    let mut code1 = ns(vip());
    code1[14 + 40 + 1] = 1;
    let mut zero_option = slla();
    zero_option[1] = 0;
    let invalid = [
        (
            "bad checksum",
            ns_raw(client(), sn, vip(), &slla(), 255, true),
        ),
        (
            "hop limit 64",
            ns_raw(client(), sn, vip(), &slla(), 64, false),
        ),
        ("code 1", code1),
        (
            "zero-length option",
            ns_raw(client(), sn, vip(), &zero_option, 255, false),
        ),
        (
            "option past the end",
            ns_raw(client(), sn, vip(), &[1, 2, 0, 0, 0, 0, 0, 0], 255, false),
        ),
        (
            "DAD with a source address option",
            ns_raw(Ipv6Addr::UNSPECIFIED, sn, vip(), &slla(), 255, false),
        ),
        (
            "DAD not to the solicited-node group",
            ns_raw(Ipv6Addr::UNSPECIFIED, vip(), vip(), &[], 255, false),
        ),
    ];
    for (name, f) in &invalid {
        let out = dp.test_run(f).unwrap();
        assert_eq!(out.verdict, verdict::DROP, "{name}");
    }
    assert_eq!(
        dp.counter(Counter::NdDropped).unwrap(),
        invalid.len() as u64
    );
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 0);
}

#[test]
fn kernel_ipv6_liveness_gate_vmac_rewrite_and_conflicts() {
    if !lab::privileged("kernel_ipv6_liveness_gate_vmac_rewrite_and_conflicts") {
        return;
    }
    let mut dp = loaded();
    let mut events = dp.take_events().unwrap();

    // A frame to the active IPv6 VMAC: rewritten to the interface's MAC and passed.
    let mut to_vmac = ns_raw(client(), vip(), vip(), &slla(), 255, false);
    to_vmac[..6].copy_from_slice(&VMAC6);
    to_vmac[14 + 40] = 128; // an echo request, not a solicitation
    let out = dp.test_run(&to_vmac).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(&out.frame[..6], &IFACE_MAC);
    assert_eq!(&out.frame[6..], &to_vmac[6..]);
    assert_eq!(dp.counter(Counter::VmacRewritten).unwrap(), 1);

    // An advertisement from another MAC for our active VIP: a conflict, reported at once.
    let theirs = [0x02, 0, 0, 0, 0, 0x66];
    let claim = icmpv6::Repr::Advert {
        router: false,
        solicited: false,
        override_: true,
        target: vip(),
        target_mac: Some(theirs),
    }
    .frame(
        icmpv6::multicast_mac(icmpv6::ALL_NODES),
        theirs,
        &[],
        "fe80::66".parse().unwrap(),
        icmpv6::ALL_NODES,
    );
    let out = dp.test_run(&claim).unwrap();
    assert_eq!((out.verdict, &out.frame), (verdict::PASS, &claim));
    assert_eq!(dp.counter(Counter::NdConflict).unwrap(), 1);
    let ev = events.drain();
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::AddressConflict as u32
                && e.router == router_index(Family::Ipv6, 52)
                && e.mac == theirs
                && e.src == vip().octets()),
        "{ev:?}"
    );
    // Without the option, the Ethernet source is what it claims.
    let bare = icmpv6::Repr::Advert {
        router: false,
        solicited: false,
        override_: true,
        target: vip(),
        target_mac: None,
    }
    .frame(
        icmpv6::multicast_mac(icmpv6::ALL_NODES),
        theirs,
        &[],
        "fe80::66".parse().unwrap(),
        icmpv6::ALL_NODES,
    );
    dp.test_run(&bare).unwrap();
    assert_eq!(dp.counter(Counter::NdConflict).unwrap(), 2);
    // Our own VMAC's advertisement coming in: only another master of VRID 52 sends from it
    // (split brain); reported with the VMAC, for the controller to tell from another MAC.
    events.drain();
    let ours = icmpv6::unsolicited_na(VMAC6, vip(), true);
    assert_eq!(dp.test_run(&ours).unwrap().verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::NdConflict).unwrap(), 3);
    let ev = events.drain();
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::AddressConflict as u32
                && e.router == router_index(Family::Ipv6, 52)
                && e.mac == VMAC6
                && e.src == vip().octets()),
        "{ev:?}"
    );
    // A claim on a backup's VIP: no conflict.
    let backups = icmpv6::unsolicited_na(theirs, "2001:db8::5".parse().unwrap(), true);
    assert_eq!(dp.test_run(&backups).unwrap().verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::NdConflict).unwrap(), 3);

    // Backup: the VMAC's frames are dropped, solicitations for the VIP pass unanswered.
    dp.set_router(Family::Ipv6, 52, &router6(false, true))
        .unwrap();
    assert_eq!(dp.test_run(&to_vmac).unwrap().verdict, verdict::DROP);
    assert_eq!(dp.test_run(&ns(vip())).unwrap().verdict, verdict::PASS);

    // The liveness gate: master again, but the heartbeat is stale. Solicitations for the VIP
    // and frames to the VMAC are dropped, untouched.
    dp.set_router(Family::Ipv6, 52, &router6(true, true))
        .unwrap();
    stale(&mut dp);
    let f = ns(vip());
    let out = dp.test_run(&f).unwrap();
    assert_eq!((out.verdict, &out.frame), (verdict::DROP, &f));
    assert_eq!(dp.test_run(&to_vmac).unwrap().verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::GateClosed).unwrap(), 2);
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 0);
    fresh(&mut dp);
    assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::TX);
}

/// What the kernel sends to resolve a client while answering it from the VIP: a solicitation
/// from the VIP, with the interface's MAC.
fn kernel_ns_from_vip() -> Vec<u8> {
    icmpv6::Repr::Solicit {
        target: client(),
        source_mac: Some(IFACE_MAC),
    }
    .frame(
        icmpv6::multicast_mac(icmpv6::solicited_node(client())),
        IFACE_MAC,
        &[],
        vip(),
        icmpv6::solicited_node(client()),
    )
}

#[test]
fn kernel_egress_gives_the_kernels_nd_from_a_vip_the_vmac() {
    if !lab::privileged("kernel_egress_gives_the_kernels_nd_from_a_vip_the_vmac") {
        return;
    }
    let mut dp = loaded();
    // A solicitation from the VIP: Ethernet source and source link-layer option become the
    // VMAC; the checksum still verifies; nothing else changes.
    let f = kernel_ns_from_vip();
    let out = dp.test_run_egress(&f).unwrap();
    assert_eq!(out.verdict, TC_NEXT);
    let sn = icmpv6::solicited_node(client());
    let expected = icmpv6::Repr::Solicit {
        target: client(),
        source_mac: Some(VMAC6),
    }
    .frame(icmpv6::multicast_mac(sn), VMAC6, &[], vip(), sn);
    assert_eq!(out.frame, expected);
    assert!(icmpv6::Repr::parse(&out.frame[54..], vip(), sn).is_some());
    // The kernel's advertisement of the VIP (as it would answer a solicitation that reached it).
    let na = icmpv6::Repr::Advert {
        router: false,
        solicited: true,
        override_: true,
        target: vip(),
        target_mac: Some(IFACE_MAC),
    };
    let out = dp
        .test_run_egress(&na.frame(CLIENT_MAC, IFACE_MAC, &[], vip(), client()))
        .unwrap();
    assert_eq!(out.verdict, TC_NEXT);
    let expected = icmpv6::Repr::Advert {
        router: false,
        solicited: true,
        override_: true,
        target: vip(),
        target_mac: Some(VMAC6),
    };
    assert_eq!(
        out.frame,
        expected.frame(CLIENT_MAC, VMAC6, &[], vip(), client())
    );
    assert_eq!(dp.counter(Counter::NdEgressRewritten).unwrap(), 2);

    // Not ours: a solicitation from the link-local address, and other IPv6: untouched.
    let mut from_ll = icmpv6::Repr::Solicit {
        target: client(),
        source_mac: Some(IFACE_MAC),
    }
    .frame(
        icmpv6::multicast_mac(sn),
        IFACE_MAC,
        &[],
        "fe80::4".parse().unwrap(),
        sn,
    );
    let out = dp.test_run_egress(&from_ll).unwrap();
    assert_eq!((out.verdict, &out.frame), (TC_NEXT, &from_ll));
    from_ll[14 + 40] = 128;
    let out = dp.test_run_egress(&from_ll).unwrap();
    assert_eq!((out.verdict, &out.frame), (TC_NEXT, &from_ll));

    // Backup, or the controller gone: the kernel's neighbour discovery from the VIP is dropped.
    dp.set_router(Family::Ipv6, 52, &router6(false, true))
        .unwrap();
    assert_eq!(dp.test_run_egress(&f).unwrap().verdict, TC_SHOT);
    dp.set_router(Family::Ipv6, 52, &router6(true, true))
        .unwrap();
    stale(&mut dp);
    assert_eq!(dp.test_run_egress(&f).unwrap().verdict, TC_SHOT);
    assert_eq!(dp.counter(Counter::NdEgressDropped).unwrap(), 2);
    fresh(&mut dp);
    assert_eq!(dp.test_run_egress(&f).unwrap().verdict, TC_NEXT);
}

/// `VRRP_VIPSLOTS` holds 4 IPv4 and 2 IPv6 VIPs per last byte; more VIPs ending in the same
/// byte are found in the hash maps, a VIP removed from the ways lets a spilled one in, and an
/// address that only shares the last byte is not ours.
#[test]
fn kernel_vips_beyond_a_slots_ways_are_found_in_the_hash_maps() {
    if !lab::privileged("kernel_vips_beyond_a_slots_ways_are_found_in_the_hash_maps") {
        return;
    }
    let mut dp = loaded();
    let answered4 = |dp: &Dataplane, target: Ipv4Addr| {
        let r = wire::arp::Repr {
            op: wire::arp::Operation::Request,
            sha: CLIENT_MAC,
            spa: Ipv4Addr::new(198, 51, 100, 10),
            tha: [0; 6],
            tpa: target,
        };
        dp.test_run(&r.frame([0xff; 6], CLIENT_MAC))
            .unwrap()
            .verdict
            == verdict::TX
    };
    let answered6 = |dp: &Dataplane, a| dp.test_run(&ns(a)).unwrap().verdict == verdict::TX;

    // IPv6: 2001:db8::3 (router 52) and four more ending in 3: two in the ways, three beyond.
    let v6: Vec<Ipv6Addr> = (1..=4)
        .map(|i| format!("2001:db8:{i}::3").parse().unwrap())
        .collect();
    for a in &v6 {
        dp.add_vip6(*a, Family::Ipv6, 52).unwrap();
    }
    let slot = dp.vip_slot(3).unwrap();
    assert_eq!(slot.more6, 3, "{slot:?}");
    assert!(
        slot.router6
            .iter()
            .all(|r| *r == router_index(Family::Ipv6, 52))
    );
    for a in v6.iter().chain([vip()].iter()) {
        assert!(
            answered6(&dp, *a),
            "NS for {a} (one of 5 IPv6 VIPs ending in 3)"
        );
    }
    assert!(!answered6(&dp, "2001:db8:9::3".parse().unwrap()));
    // Removals reshuffle the ways: the remaining VIPs are answered, the removed ones not.
    dp.remove_vip6(v6[0]).unwrap();
    dp.remove_vip6(vip()).unwrap();
    assert_eq!(dp.vip_slot(3).unwrap().more6, 1);
    for a in &v6[1..] {
        assert!(answered6(&dp, *a), "NS for {a} after removals");
    }
    assert!(!answered6(&dp, v6[0]) && !answered6(&dp, vip()));

    // IPv4: the documentation ranges hold two addresses ending in .7 here; both fit in the
    // ways. A slot whose VIPs all spilled (as with five or more) sends the lookup to
    // VRRP_VIPS, which still answers them.
    let v4 = [Ipv4Addr::new(192, 0, 2, 7), Ipv4Addr::new(198, 51, 100, 7)];
    for a in v4 {
        dp.add_vip(a, 50).unwrap();
    }
    let slot = dp.vip_slot(7).unwrap();
    assert_eq!((slot.more4, slot.router4), (0, [50, 50, 0, 0]), "{slot:?}");
    assert!(v4.iter().all(|a| answered4(&dp, *a)));
    dp.set_vip_slot(
        7,
        &VipSlot {
            more4: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        v4.iter().all(|a| answered4(&dp, *a)),
        "found beyond the ways"
    );
    dp.remove_vip(v4[0]).unwrap();
    assert!(!answered4(&dp, v4[0]) && answered4(&dp, v4[1]));
    assert_eq!(
        dp.vip_slot(7).unwrap().more4,
        0,
        "rebuilt from the hash map"
    );
}

/// The advertisement's checksum (computed from words, folded once per carry) for VIPs and
/// askers chosen so that it comes out at each edge of the one's complement fold: 0x0000 (the
/// sum folds to exactly 0xffff), 0x0001, 0xfffe and 0x8000, for several targets and router
/// flags. Every advertisement must equal `wire`'s byte for byte, checksum included.
#[test]
fn kernel_na_checksum_is_right_at_the_edges_of_the_fold() {
    if !lab::privileged("kernel_na_checksum_is_right_at_the_edges_of_the_fold") {
        return;
    }
    let mut dp = loaded();
    let targets: [Ipv6Addr; 4] = [
        vip(),
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ff03".parse().unwrap(),
        "2001:db8:8000::1:3".parse().unwrap(),
        "fd00::fffe:3".parse().unwrap(),
    ];
    for t in &targets[1..] {
        dp.add_vip6(*t, Family::Ipv6, 52).unwrap();
    }
    let na = |target: Ipv6Addr, asker: Ipv6Addr, router: bool| {
        icmpv6::Repr::Advert {
            router,
            solicited: true,
            override_: true,
            target,
            target_mac: Some(VMAC6),
        }
        .frame(CLIENT_MAC, VMAC6, &[], target, asker)
    };
    // The checksum at 14 + 40 + 2.
    let csum = |f: &[u8]| u16::from_be_bytes([f[56], f[57]]);
    let mut seen = std::collections::BTreeSet::new();
    for (i, target) in targets.iter().enumerate() {
        let router = i % 2 == 0;
        dp.set_router(Family::Ipv6, 52, &router6(true, router))
            .unwrap();
        for want in [0x0000u16, 0x0001, 0xfffe, 0x8000] {
            // The asker's last 16 bits enter the sum once: with them 0 the sum is !c0, so
            // `w = !want - !c0` (one's complement) makes the checksum `want`.
            let base = Ipv6Addr::from((u128::from(*target) ^ (0xabcd << 64)) & !0xffff);
            let c0 = csum(&na(*target, base, router));
            let mut w = (!want) as u32 + c0 as u32;
            w = (w & 0xffff) + (w >> 16);
            let asker = Ipv6Addr::from(u128::from(base) | w as u128);
            let expected = na(*target, asker, router);
            assert_eq!(csum(&expected), want, "asker {asker} for target {target}");
            seen.insert(want);
            let out = dp.test_run(&ns_for(asker, *target)).unwrap();
            assert_eq!(out.verdict, verdict::TX, "NS for {target} from {asker}");
            assert_eq!(
                out.frame, expected,
                "NA for {target} to {asker}, checksum {want:#06x}"
            );
            decode_na(&out.frame, CLIENT_MAC, VMAC6, asker, *target, router, true);
        }
    }
    assert_eq!(seen.len(), 4);
    assert_eq!(dp.counter(Counter::NdReplied).unwrap(), 16);
    assert_eq!(dp.counter(Counter::NdDropped).unwrap(), 0);
}

/// The usual solicitation for `target`, from `asker`.
fn ns_for(asker: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    ns_raw(
        asker,
        icmpv6::solicited_node(target),
        target,
        &slla(),
        255,
        false,
    )
}
