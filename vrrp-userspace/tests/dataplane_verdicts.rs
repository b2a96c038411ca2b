//! The XDP program in the kernel (BPF_PROG_TEST_RUN) on crafted frames: one case per verdict
//! and drop reason, asserting the verdict, the counters, the maps and, for rewritten frames,
//! every output byte; then a differential test of 100 000 random and mutated frames against
//! `wire`'s classification of the same bytes.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::{
    DropReason,
    maps::{
        Counter, EventKind, Family, IFACE_EXCLUSIVE, IFACE_NO_ACCEPT, IfaceConfig,
        ROUTER_CSUM_MSG_ONLY, ROUTER_MASTER, ROUTER_NO_ACCEPT, ROUTER_SKIP_SAME_SENDER,
        RouterConfig, router_index, vlan_key,
    },
};
use vrrp_userspace::{
    config::{V3Checksum, Version},
    dataplane::{Dataplane, monotonic_ns, verdict},
    lab,
    wire::{self, arp, checksum, icmpv6, vrrp},
};

const IFACE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x04];
const VMAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 50];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const PASSWORD: [u8; 8] = *b"1111\0\0\0\0";
const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 5);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// Router IPv4 51's second address where the tests compare addresses.
const OTHER4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);

fn src6() -> Ipv6Addr {
    "fe80::5".parse().unwrap()
}

fn router(version: u32, auth_type: u32, master: bool) -> RouterConfig {
    let mut primary = [0u8; 16];
    primary[..4].copy_from_slice(&[192, 0, 2, 4]);
    RouterConfig::new(
        version,
        (auth_type == 1).then_some(PASSWORD),
        100,
        100,
        primary,
        master,
    )
}

/// An IPv6 VIP of router IPv6 53 (master), and one of router IPv6 52 (backup).
fn vip6() -> Ipv6Addr {
    "2001:db8::3".parse().unwrap()
}

fn backup_vip6() -> Ipv6Addr {
    "2001:db8::5".parse().unwrap()
}

/// Routers: IPv4 50 (v2 PASS "1111", 1 s, master), IPv4 51 (v3), IPv6 52 (v3), IPv6 53 (v3,
/// master); VIP 192.0.2.3 of router 50, 2001:db8::3 of router 53 and 2001:db8::5 of router 52;
/// a fresh heartbeat; every valid advert passed to the stack.
fn loaded() -> Dataplane {
    let mut dp = Dataplane::load().expect("the verifier accepts the program");
    dp.set_router(Family::Ipv4, 50, &router(2, 1, true))
        .unwrap();
    dp.set_router(Family::Ipv4, 51, &router(3, 0, false))
        .unwrap();
    dp.set_router(Family::Ipv6, 52, &router(3, 0, false))
        .unwrap();
    dp.set_router(Family::Ipv6, 53, &router(3, 0, true))
        .unwrap();
    dp.add_vip(VIP, 50).unwrap();
    dp.add_vip6(vip6(), Family::Ipv6, 53).unwrap();
    dp.add_vip6(backup_vip6(), Family::Ipv6, 52).unwrap();
    fresh(&mut dp, 0);
    dp
}

fn fresh(dp: &mut Dataplane, pass_gap_ns: u64) {
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 600 * 1_000_000_000,
        pass_gap_ns,
        mac: IFACE_MAC,
        ..IfaceConfig::default()
    })
    .unwrap();
}

/// Sets `VRRP_IFACE`'s flags, keeping the rest.
fn set_flags(dp: &mut Dataplane, flags: u32) {
    let mut iface = dp.iface().unwrap();
    iface.flags = flags;
    dp.set_iface(&iface).unwrap();
}

/// Sets the VLAN tags (`vlan_key`) of the program's routers, keeping the rest.
fn set_vlan(dp: &mut Dataplane, vlan: u32) {
    let mut iface = dp.iface().unwrap();
    iface.vlan = vlan;
    dp.set_iface(&iface).unwrap();
}

/// `f` with VLAN tags inserted after the MACs: (TPID, VLAN id), outer first.
fn tagged(f: &[u8], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut out = f[..12].to_vec();
    for (tpid, vid) in tags {
        out.extend_from_slice(&tpid.to_be_bytes());
        // Priority 5 in the TCI's top bits: only the low 12 bits are the VLAN id.
        out.extend_from_slice(&((5 << 13) | vid).to_be_bytes());
    }
    out.extend_from_slice(&f[12..]);
    out
}

/// The addresses each router compares adverts with in the differential test (router 53's
/// list names one twice: compared by its count).
fn listed(family: Family, vrid: u8) -> Option<Vec<IpAddr>> {
    match (family, vrid) {
        (Family::Ipv4, 50) => Some(vec![IpAddr::V4(VIP)]),
        (Family::Ipv4, 51) => Some(vec![IpAddr::V4(VIP), IpAddr::V4(OTHER4)]),
        (Family::Ipv6, 52) => Some(vec![IpAddr::V6(vip6())]),
        (Family::Ipv6, 53) => Some(vec![IpAddr::V6(vip6()), IpAddr::V6(vip6())]),
        _ => None,
    }
}

/// Addresses as the program's maps take them (IPv4 in the first four bytes).
fn bytes16(list: &[IpAddr]) -> Vec<[u8; 16]> {
    list.iter()
        .map(|a| match a {
            IpAddr::V4(a) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&a.octets());
                b
            }
            IpAddr::V6(a) => a.octets(),
        })
        .collect()
}

/// `loaded()`'s router, comparing adverts with `list`.
fn with_list(r: RouterConfig, list: &[IpAddr]) -> RouterConfig {
    r.with_addresses(list[0].is_ipv6(), &bytes16(list))
}

fn policy(family: Family, vrid: u8) -> Option<wire::RouterPolicy> {
    match (family, vrid) {
        (Family::Ipv4, 50) => Some(wire::RouterPolicy {
            version: Version::V2,
            auth_type: 1,
            auth_data: PASSWORD,
            interval_cs: 100,
            addresses: listed(family, vrid),
        }),
        (Family::Ipv4, 51) | (Family::Ipv6, 52) | (Family::Ipv6, 53) => Some(wire::RouterPolicy {
            version: Version::V3,
            auth_type: 0,
            auth_data: [0; 8],
            interval_cs: 100,
            addresses: listed(family, vrid),
        }),
        _ => None,
    }
}

fn v2(vrid: u8, priority: u8) -> vrrp::Repr {
    vrrp::Repr {
        version: Version::V2,
        vrid,
        priority,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(VIP)],
        auth: Some(vrrp::Auth {
            kind: 1,
            data: PASSWORD,
        }),
    }
}

fn v3(vrid: u8, addresses: Vec<IpAddr>) -> vrrp::Repr {
    vrrp::Repr {
        version: Version::V3,
        vrid,
        priority: 90,
        interval_cs: 100,
        addresses,
        auth: None,
    }
}

fn frame(repr: &vrrp::Repr) -> Vec<u8> {
    let src = if repr.is_ipv6() {
        IpAddr::V6(src6())
    } else {
        IpAddr::V4(SRC4)
    };
    wire::emit_advert_frame(repr, src, V3Checksum::PseudoHeader)
}

/// Recomputes the VRRP checksum of an IPv4 v2 frame after a deliberate change.
fn fix_v2_checksum(f: &mut [u8], ip_total: usize) {
    let msg = &mut f[34..14 + ip_total];
    msg[6] = 0;
    msg[7] = 0;
    let c = checksum::finish(checksum::sum(msg));
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}

fn arp_request(target: Ipv4Addr) -> (arp::Repr, Vec<u8>) {
    let r = arp::Repr {
        op: arp::Operation::Request,
        sha: CLIENT_MAC,
        spa: Ipv4Addr::new(192, 0, 2, 10),
        tha: [0; 6],
        tpa: target,
    };
    (r, r.frame([0xff; 6], CLIENT_MAC))
}

fn udp_to(dst_mac: [u8; 6]) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[192, 0, 2, 10, 192, 0, 2, 3, 0x30, 0x39, 0, 80, 0, 8, 0, 0]);
    f.resize(60, 0);
    f
}

/// Runs one frame and checks the verdict and that exactly `reason` (if any) moved.
fn expect_drop(dp: &Dataplane, name: &str, f: &[u8], reason: DropReason, slot: u8) {
    let before = dp.drops(slot).unwrap();
    let total_before = dp.drops_total().unwrap();
    let out = dp.test_run(f).unwrap();
    assert_eq!(out.verdict, verdict::DROP, "{name}: verdict");
    let after = dp.drops(slot).unwrap();
    assert_eq!(
        after.by_reason[reason as usize],
        before.by_reason[reason as usize] + 1,
        "{name}: {reason:?} in slot {slot}"
    );
    let total_after = dp.drops_total().unwrap();
    let moved: u64 =
        total_after.by_reason.iter().sum::<u64>() - total_before.by_reason.iter().sum::<u64>();
    assert_eq!(moved, 1, "{name}: exactly one drop counted");
}

fn expect_valid(dp: &Dataplane, name: &str, f: &[u8]) {
    let before = dp.counter(Counter::AdvertValid).unwrap();
    let out = dp.test_run(f).unwrap();
    assert_eq!(out.verdict, verdict::PASS, "{name}: verdict");
    assert_eq!(out.frame, f, "{name}: a valid advert passes unchanged");
    assert_eq!(
        dp.counter(Counter::AdvertValid).unwrap(),
        before + 1,
        "{name}"
    );
}

#[test]
fn kernel_verdicts_one_per_path_and_reason() {
    if !lab::privileged("kernel_verdicts_one_per_path_and_reason") {
        return;
    }
    let mut dp = loaded();

    // Valid adverts, stamped.
    let good = frame(&v2(50, 90));
    expect_valid(&dp, "v2 PASS", &good);
    let stamp = dp.newest_advert(Family::Ipv4, 50).unwrap();
    assert_eq!(
        (stamp.priority, stamp.interval_cs, &stamp.src[..4]),
        (90, 100, &SRC4.octets()[..])
    );
    expect_valid(
        &dp,
        "v3 IPv4, pseudo-header checksum",
        &frame(&v3(51, vec![IpAddr::V4(VIP)])),
    );
    assert_eq!(dp.newest_advert(Family::Ipv4, 51).unwrap().csum_variant, 0);
    let msg_only = wire::emit_advert_frame(
        &v3(51, vec![IpAddr::V4(VIP)]),
        IpAddr::V4(SRC4),
        V3Checksum::MessageOnly,
    );
    expect_valid(&dp, "v3 IPv4, message-only checksum (RFC 9568)", &msg_only);
    assert_eq!(dp.newest_advert(Family::Ipv4, 51).unwrap().csum_variant, 1);
    let v6 = frame(&v3(
        52,
        vec![
            IpAddr::V6("fe80::52".parse().unwrap()),
            IpAddr::V6("2001:db8::3".parse().unwrap()),
        ],
    ));
    expect_valid(&dp, "v3 IPv6", &v6);
    assert_eq!(
        dp.newest_advert(Family::Ipv6, 52).unwrap().src,
        src6().octets()
    );
    // Padded to 60 bytes: lengths come from the IP header.
    assert_eq!(frame(&v3(51, vec![IpAddr::V4(VIP)])).len(), 60);
    // Tagged, for routers on that VLAN (see kernel_vlan_tags_judged_only_on_their_vlan).
    let mut one_tag = good[..12].to_vec();
    one_tag.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
    one_tag.extend_from_slice(&good[12..]);
    set_vlan(&mut dp, vlan_key(Some(7), None));
    expect_valid(&dp, "one VLAN tag", &one_tag);
    let mut qinq = good[..12].to_vec();
    qinq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x07]);
    qinq.extend_from_slice(&good[12..]);
    set_vlan(&mut dp, vlan_key(Some(100), Some(7)));
    expect_valid(&dp, "QinQ", &qinq);
    set_vlan(&mut dp, 0);
    // IPv4 options (IHL 6): the VRRP message starts after them.
    let mut opts = good[..34].to_vec();
    opts.extend_from_slice(&[1, 1, 1, 0]);
    opts.extend_from_slice(&good[34..54]);
    opts[14] = 0x46;
    opts[17] = 44;
    expect_valid(&dp, "IPv4 options", &opts);

    // Every drop reason.
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut g = good.clone();
        f(&mut g);
        g
    };
    expect_drop(
        &dp,
        "TTL 254",
        &with(&|g| g[22] = 254),
        DropReason::BadTtl,
        50,
    );
    let mut v6_hop = v6.clone();
    v6_hop[21] = 1;
    expect_drop(&dp, "hop limit 1", &v6_hop, DropReason::BadTtl, 52);
    // An advert to a unicast address (`unicast_peer`) is not held to hop limit 255: keepalived
    // checks only multicast adverts', and sends IPv6 unicast ones with the kernel's default.
    let unicast6 = |hop_limit: u8, dst: Ipv6Addr| {
        let mut f = v6.clone();
        f[21] = hop_limit;
        f[38..54].copy_from_slice(&dst.octets());
        let len = u16::from_be_bytes([f[18], f[19]]) as usize;
        let msg = &mut f[54..54 + len];
        msg[6..8].copy_from_slice(&[0, 0]);
        let pseudo = checksum::pseudo_v6(src6(), dst, 112, len as u32);
        let c = checksum::finish(checksum::combine(&[pseudo, checksum::sum(msg)]));
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        f
    };
    let peer: Ipv6Addr = "2001:db8::4".parse().unwrap();
    expect_valid(&dp, "unicast IPv6, hop limit 64", &unicast6(64, peer));
    expect_drop(
        &dp,
        "multicast IPv6, hop limit 64",
        &unicast6(64, "ff02::12".parse().unwrap()),
        DropReason::BadTtl,
        52,
    );
    expect_drop(
        &dp,
        "fragment",
        &with(&|g| g[20] = 0x20),
        DropReason::BadIpHeader,
        0,
    );
    expect_drop(
        &dp,
        "IHL 4",
        &with(&|g| g[14] = 0x44),
        DropReason::BadIpHeader,
        0,
    );
    expect_drop(
        &dp,
        "total length past the frame",
        &with(&|g| g[17] = 200),
        DropReason::BadIpHeader,
        0,
    );
    let mut v6_long = v6.clone();
    v6_long[19] = 200;
    expect_drop(
        &dp,
        "IPv6 payload past the frame",
        &v6_long,
        DropReason::BadIpHeader,
        0,
    );
    expect_drop(
        &dp,
        "VRRP shorter than its fixed part",
        &with(&|g| g[17] = 24),
        DropReason::Truncated,
        0,
    );
    expect_drop(
        &dp,
        "version 4",
        &with(&|g| g[34] = 0x41),
        DropReason::BadVersion,
        50,
    );
    let mut v2_over_v6 = v6.clone();
    v2_over_v6[54] = 0x21;
    expect_drop(&dp, "v2 over IPv6", &v2_over_v6, DropReason::BadVersion, 52);
    expect_drop(
        &dp,
        "type 2",
        &with(&|g| g[34] = 0x22),
        DropReason::BadType,
        50,
    );
    expect_drop(
        &dp,
        "count does not match the length",
        &with(&|g| g[37] = 2),
        DropReason::BadLength,
        50,
    );
    let mut empty_v3 = frame(&v3(51, vec![IpAddr::V4(VIP)]));
    empty_v3[37] = 0;
    empty_v3[17] -= 4;
    expect_drop(
        &dp,
        "v3 with no address",
        &empty_v3,
        DropReason::BadLength,
        51,
    );
    expect_drop(
        &dp,
        "bad checksum",
        &with(&|g| g[42] ^= 0x55),
        DropReason::BadChecksum,
        50,
    );
    expect_drop(
        &dp,
        "interval 0",
        &with(&|g| {
            g[39] = 0;
            fix_v2_checksum(g, 40)
        }),
        DropReason::BadInterval,
        50,
    );
    set_flags(&mut dp, IFACE_EXCLUSIVE);
    expect_drop(
        &dp,
        "unknown VRID (vrrpd_exclusive)",
        &frame(&v2(60, 90)),
        DropReason::UnknownVrid,
        60,
    );
    set_flags(&mut dp, 0);
    let mut v2_for_v3_router = v2(51, 90);
    v2_for_v3_router.auth = Some(vrrp::Auth {
        kind: 0,
        data: [0; 8],
    });
    expect_drop(
        &dp,
        "v2 for a v3 router",
        &frame(&v2_for_v3_router),
        DropReason::BadVersion,
        51,
    );
    let mut no_auth = v2(50, 90);
    no_auth.auth = Some(vrrp::Auth {
        kind: 0,
        data: [0; 8],
    });
    expect_drop(
        &dp,
        "no authentication for a PASS router",
        &frame(&no_auth),
        DropReason::AuthTypeMismatch,
        50,
    );
    let mut wrong = v2(50, 90);
    wrong.auth = Some(vrrp::Auth {
        kind: 1,
        data: *b"1112\0\0\0\0",
    });
    expect_drop(
        &dp,
        "wrong password",
        &frame(&wrong),
        DropReason::BadPassword,
        50,
    );
    let mut tail = v2(50, 90);
    tail.auth = Some(vrrp::Auth {
        kind: 1,
        data: *b"1111\0\0\0x",
    });
    expect_drop(
        &dp,
        "password differing in its 8th byte",
        &frame(&tail),
        DropReason::BadPassword,
        50,
    );
    let mut slow = v2(50, 90);
    slow.interval_cs = 200;
    expect_drop(
        &dp,
        "v2 interval 2 s for a 1 s router",
        &frame(&slow),
        DropReason::BadInterval,
        50,
    );

    // Unrelated frames pass untouched, counting nothing.
    let counters = dp.counters().unwrap();
    let drops = dp.drops_total().unwrap();
    for f in [
        udp_to(IFACE_MAC),
        arp_request(Ipv4Addr::new(192, 0, 2, 4)).1,
        v6_icmp(),
    ] {
        let out = dp.test_run(&f).unwrap();
        assert_eq!((out.verdict, out.frame), (verdict::PASS, f));
    }
    assert_eq!(dp.counters().unwrap(), counters);
    assert_eq!(dp.drops_total().unwrap(), drops);
    reader_agrees(&dp);
}

/// `vrrpd status`'s batched reader (its own descriptors, one BPF_MAP_LOOKUP_BATCH a map)
/// reads what the per-key lookups read, for every VRID and router.
fn reader_agrees(dp: &Dataplane) {
    let counts = dp.counter_reader().unwrap().read().unwrap();
    assert_eq!(counts.drops.len(), 256);
    assert!(
        counts.drops_total.by_reason.iter().sum::<u64>() > 0,
        "the cases counted drops"
    );
    for vrid in 0..=255u8 {
        assert_eq!(
            counts.drops[usize::from(vrid)],
            dp.drops(vrid).unwrap(),
            "VRID {vrid}"
        );
        for family in [Family::Ipv4, Family::Ipv6] {
            let seen: u64 = dp.advert_stamps(family, vrid).iter().map(|s| s.count).sum();
            assert_eq!(counts.adverts_seen(family, vrid), seen, "{family:?} {vrid}");
            assert_eq!(
                counts.newest(family, vrid),
                dp.newest_advert(family, vrid),
                "{family:?} {vrid}"
            );
        }
    }
    assert_eq!(counts.drops_total, dp.drops_total().unwrap());
    // The event counters and the interface's settings, which the metrics read.
    assert_eq!(counts.events, dp.counters().unwrap());
    assert!(
        counts.events[Counter::AdvertValid as usize] > 0,
        "the cases counted valid adverts"
    );
    assert_eq!(counts.iface, dp.iface().unwrap());
    assert!(
        counts.adverts_seen(Family::Ipv4, 50) > 0,
        "the cases stamped VRID 50"
    );
}

fn v6_icmp() -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0x0a, 0x86, 0xdd];
    f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 58, 255]);
    f.extend_from_slice(&"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&"ff02::1".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
    f
}

#[test]
fn kernel_arp_reply_vmac_rewrite_conflicts_and_the_liveness_gate() {
    if !lab::privileged("kernel_arp_reply_vmac_rewrite_conflicts_and_the_liveness_gate") {
        return;
    }
    let mut dp = loaded();
    let mut events = dp.take_events().unwrap();

    // An ARP request for the VIP becomes the reply from the VMAC, every byte as wire builds it.
    let (request, f) = arp_request(VIP);
    let out = dp.test_run(&f).unwrap();
    assert_eq!(out.verdict, verdict::TX);
    let mut expected = arp::reply_to(&request, VMAC).frame(CLIENT_MAC, VMAC);
    expected[42..].copy_from_slice(&f[42..]);
    assert_eq!(out.frame, expected, "the reply, byte for byte");
    let reply = arp::Repr::parse(&out.frame[14..]).unwrap();
    assert_eq!(
        (reply.op, reply.sha, reply.spa, reply.tha, reply.tpa),
        (arp::Operation::Reply, VMAC, VIP, CLIENT_MAC, request.spa)
    );
    assert_eq!(dp.counter(Counter::ArpReplied).unwrap(), 1);

    // A frame to the VMAC is rewritten to the interface's MAC and passed.
    let f = udp_to(VMAC);
    let out = dp.test_run(&f).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(&out.frame[..6], &IFACE_MAC);
    assert_eq!(&out.frame[6..], &f[6..]);
    assert_eq!(dp.counter(Counter::VmacRewritten).unwrap(), 1);

    // A GARP from another MAC claiming our active VIP: a conflict, reported at once, and
    // dropped: a gratuitous request for an address the kernel holds is one it answers, from
    // the interface's own MAC (a preempting peer's GARPs drew such replies).
    let theirs = [0x02, 0, 0, 0, 0, 0x66];
    let out = dp.test_run(&arp::garp(theirs, VIP)).unwrap();
    assert_eq!(out.verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::ArpConflict).unwrap(), 1);
    let ev = events.drain();
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::AddressConflict as u32
                && e.mac == theirs
                && e.src[..4] == VIP.octets()),
        "{ev:?}"
    );
    // A GARP from our own VMAC coming in: only another master of VRID 50 sends from it (split
    // brain); reported with the VMAC, for the controller to tell from another MAC.
    let out = dp.test_run(&arp::garp(VMAC, VIP)).unwrap();
    assert_eq!(out.verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::ArpConflict).unwrap(), 2);
    let ev = events.drain();
    assert!(
        ev.iter()
            .any(|e| e.kind == EventKind::AddressConflict as u32
                && e.router == router_index(Family::Ipv4, 50)
                && e.mac == VMAC
                && e.src[..4] == VIP.octets()),
        "{ev:?}"
    );
    // A reply claiming it, which the kernel answers with nothing: a conflict, passed.
    let claim = arp::Repr {
        op: arp::Operation::Reply,
        sha: theirs,
        spa: VIP,
        tha: IFACE_MAC,
        tpa: Ipv4Addr::new(192, 0, 2, 4),
    };
    let out = dp.test_run(&claim.frame(IFACE_MAC, theirs)).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::ArpConflict).unwrap(), 3);
    events.drain();

    // Adverts that need the controller now: priority 0, and a superior one while master.
    dp.test_run(&frame(&v2(50, 0))).unwrap();
    dp.test_run(&frame(&v2(50, 200))).unwrap();
    let kinds: Vec<u32> = events.drain().iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&(EventKind::PriorityZero as u32)),
        "{kinds:?}"
    );
    assert!(kinds.contains(&(EventKind::Superior as u32)), "{kinds:?}");
    // A steady master's adverts wake nobody.
    dp.test_run(&frame(&v2(50, 90))).unwrap();
    dp.test_run(&frame(&v2(50, 90))).unwrap();
    let quiet = events.drain();
    assert!(
        quiet.iter().all(|e| e.kind == EventKind::NewMaster as u32) && quiet.len() <= 1,
        "{quiet:?}"
    );

    // Backup: ARP for the VIP passes unanswered, frames to the VMAC are dropped.
    dp.set_router(Family::Ipv4, 50, &router(2, 1, false))
        .unwrap();
    let out = dp.test_run(&arp_request(VIP).1).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::ArpNotMaster).unwrap(), 1);
    assert_eq!(dp.test_run(&udp_to(VMAC)).unwrap().verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::VmacDropped).unwrap(), 1);

    // The liveness gate: master again, but the controller's heartbeat is stale. ARP for the
    // VIP is dropped (neither answered from the VMAC nor passed to the kernel), and so are
    // frames to the VMAC.
    dp.set_router(Family::Ipv4, 50, &router(2, 1, true))
        .unwrap();
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns() - 5_000_000_000,
        stale_after_ns: 3_640_000_000,
        pass_gap_ns: 0,
        mac: IFACE_MAC,
        ..IfaceConfig::default()
    })
    .unwrap();
    let replied = dp.counter(Counter::ArpReplied).unwrap();
    let (_, f) = arp_request(VIP);
    let out = dp.test_run(&f).unwrap();
    assert_eq!(
        out.verdict,
        verdict::DROP,
        "stale heartbeat: ARP for the VIP dropped"
    );
    assert_eq!(out.frame, f, "and not rewritten");
    assert_eq!(dp.counter(Counter::ArpReplied).unwrap(), replied);
    assert_eq!(dp.test_run(&udp_to(VMAC)).unwrap().verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::GateClosed).unwrap(), 2);
    // A fresh heartbeat opens it again.
    fresh(&mut dp, 0);
    assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::TX);
}

const SECOND: u64 = 1_000_000_000;

/// A heartbeat stamped `at`, stale after `stale` ns and held for at most `hold` ns.
fn heartbeat(dp: &mut Dataplane, at: u64, stale: u64, hold: u64) {
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: at,
        stale_after_ns: stale,
        hold_ns: hold,
        pass_gap_ns: 0,
        mac: IFACE_MAC,
        ..IfaceConfig::default()
    })
    .unwrap();
}

/// What the program does with an ARP request for the VIP of router IPv4 50, a frame to its
/// VMAC and a solicitation for the VIP of router IPv6 53 (both master).
fn served(dp: &Dataplane) -> [u32; 3] {
    [
        dp.test_run(&arp_request(VIP).1).unwrap().verdict,
        dp.test_run(&udp_to(VMAC)).unwrap().verdict,
        dp.test_run(&dataplane_ns(vip6())).unwrap().verdict,
    ]
}

const ALL_SERVED: [u32; 3] = [verdict::TX, verdict::PASS, verdict::TX];

/// Issue 15: the daemon died (its heartbeat is stale), its pinned program lives on. It keeps
/// answering for a router's VIPs until the first valid advert of another router for that VRID
/// (the new master), then stops at once for that router only; an advert for another VRID, or a
/// priority 0, is no takeover.
#[test]
fn kernel_stale_gate_holds_until_another_router_takes_over() {
    if !lab::privileged("kernel_stale_gate_holds_until_another_router_takes_over") {
        return;
    }
    let mut dp = loaded();
    // Last heartbeat 5 s ago, stale after 3.64 s, held at most 7.28 s: stale, within the bound,
    // and no advert of anyone since.
    heartbeat(
        &mut dp,
        monotonic_ns() - 5 * SECOND,
        3_640_000_000,
        7_280_000_000,
    );
    assert_eq!(served(&dp), ALL_SERVED, "stale, no one took over: served");
    assert_eq!(dp.counter(Counter::GateHeld).unwrap(), 3);
    assert_eq!(dp.counter(Counter::GateClosed).unwrap(), 0);

    // A valid advert for another VRID (IPv4 51), and a priority 0 for VRID 50 (a router
    // leaving): neither takes router 50 over.
    expect_valid(&dp, "VRID 51", &frame(&v3(51, vec![IpAddr::V4(VIP)])));
    expect_valid(&dp, "VRID 50, priority 0", &frame(&v2(50, 0)));
    assert_eq!(served(&dp), ALL_SERVED, "no takeover of router 50 yet");

    // The new master's first advert for VRID 50: router 50's ARP and VMAC frames are dropped
    // from now on (neither answered nor passed to the kernel); router IPv6 53 is still served.
    expect_valid(&dp, "VRID 50 from the new master", &frame(&v2(50, 90)));
    let closed = dp.counter(Counter::GateClosed).unwrap();
    let (_, f) = arp_request(VIP);
    let out = dp.test_run(&f).unwrap();
    assert_eq!((out.verdict, &out.frame), (verdict::DROP, &f), "taken over");
    assert_eq!(served(&dp), [verdict::DROP, verdict::DROP, verdict::TX]);
    assert_eq!(dp.counter(Counter::GateClosed).unwrap(), closed + 3);

    // The same for IPv6: an advert for VRID 53 closes router IPv6 53's gate.
    expect_valid(
        &dp,
        "IPv6 VRID 53",
        &frame(&v3(53, vec![IpAddr::V6(vip6())])),
    );
    assert_eq!(served(&dp), [verdict::DROP; 3]);

    // The daemon is back (a fresh heartbeat): served again whatever was heard before.
    fresh(&mut dp, 0);
    assert_eq!(served(&dp), ALL_SERVED, "fresh heartbeat");
}

/// With a fresh heartbeat another router's adverts change nothing (the controller judges
/// them); only adverts that arrive after the last heartbeat are a takeover.
#[test]
fn kernel_gate_counts_only_adverts_after_the_last_heartbeat() {
    if !lab::privileged("kernel_gate_counts_only_adverts_after_the_last_heartbeat") {
        return;
    }
    let mut dp = loaded();
    expect_valid(&dp, "VRID 50, fresh heartbeat", &frame(&v2(50, 90)));
    assert_eq!(
        served(&dp),
        ALL_SERVED,
        "fresh heartbeat: served regardless"
    );
    assert_eq!(dp.counter(Counter::GateHeld).unwrap(), 0);

    // A heartbeat after that advert, stale after 1 ms: once the program's coarse clock (which
    // may lag by a couple of kernel ticks) is past it, the heartbeat is stale, and the earlier
    // advert is no takeover.
    heartbeat(&mut dp, monotonic_ns(), 1_000_000, 600 * SECOND);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(served(&dp), ALL_SERVED, "an advert before the heartbeat");
    assert_eq!(dp.counter(Counter::GateHeld).unwrap(), 3, "held, not fresh");
    expect_valid(&dp, "VRID 50 after the heartbeat", &frame(&v2(50, 90)));
    assert_eq!(served(&dp), [verdict::DROP, verdict::DROP, verdict::TX]);
}

/// A dead daemon's program stops answering when the heartbeat is older than the bound
/// (`hold_ns`), even if no one ever takes over; a bound no longer than the staleness closes
/// the gate as soon as the heartbeat is stale.
#[test]
fn kernel_stale_gate_closes_past_its_bound_without_a_takeover() {
    if !lab::privileged("kernel_stale_gate_closes_past_its_bound_without_a_takeover") {
        return;
    }
    let mut dp = loaded();
    heartbeat(
        &mut dp,
        monotonic_ns() - 8 * SECOND,
        3_640_000_000,
        7_280_000_000,
    );
    assert_eq!(served(&dp), [verdict::DROP; 3], "past the bound");
    assert_eq!(dp.counter(Counter::GateClosed).unwrap(), 3);
    assert_eq!(dp.counter(Counter::GateHeld).unwrap(), 0);
    heartbeat(&mut dp, monotonic_ns() - 5 * SECOND, 3_640_000_000, 0);
    assert_eq!(
        served(&dp),
        [verdict::DROP; 3],
        "no bound: closed once stale"
    );
    heartbeat(
        &mut dp,
        monotonic_ns() - 5 * SECOND,
        3_640_000_000,
        7_280_000_000,
    );
    assert_eq!(served(&dp), ALL_SERVED, "within the bound");
}

#[test]
fn kernel_adverts_for_vrids_not_ours_pass_unless_exclusive() {
    if !lab::privileged("kernel_adverts_for_vrids_not_ours_pass_unless_exclusive") {
        return;
    }
    let mut dp = loaded();
    // VRID 60 is another speaker's (keepalived's): passed untouched, counted, never stamped,
    // never a drop, in both families and versions.
    let foreign = [
        frame(&v2(60, 90)),
        frame(&v3(60, vec![IpAddr::V4(VIP)])),
        frame(&v3(60, vec![IpAddr::V6(vip6())])),
    ];
    for (i, f) in foreign.iter().enumerate() {
        let drops = dp.drops_total().unwrap();
        let out = dp.test_run(f).unwrap();
        assert_eq!(
            (out.verdict, &out.frame),
            (verdict::PASS, f),
            "frame {i}: another speaker's advert passes untouched"
        );
        assert_eq!(dp.counter(Counter::AdvertNotOurs).unwrap(), i as u64 + 1);
        assert_eq!(
            dp.drops_total().unwrap(),
            drops,
            "frame {i}: no drop counted"
        );
    }
    assert_eq!(dp.counter(Counter::AdvertValid).unwrap(), 0);
    assert_eq!(dp.newest_advert(Family::Ipv4, 60), None);
    assert_eq!(dp.newest_advert(Family::Ipv6, 60), None);
    // Our own routers are judged as before.
    expect_valid(&dp, "our VRID 50", &frame(&v2(50, 90)));
    let mut wrong = v2(50, 90);
    wrong.auth = Some(vrrp::Auth {
        kind: 1,
        data: *b"2222\0\0\0\0",
    });
    expect_drop(
        &dp,
        "our VRID 50, wrong password",
        &frame(&wrong),
        DropReason::BadPassword,
        50,
    );

    // vrrpd_exclusive: vrrpd is the host's only speaker; the same adverts are dropped.
    set_flags(&mut dp, IFACE_EXCLUSIVE);
    expect_drop(&dp, "v2 VRID 60", &foreign[0], DropReason::UnknownVrid, 60);
    expect_drop(&dp, "v3 VRID 60", &foreign[1], DropReason::UnknownVrid, 60);
    expect_drop(
        &dp,
        "v3/IPv6 VRID 60",
        &foreign[2],
        DropReason::UnknownVrid,
        60,
    );
    assert_eq!(dp.counter(Counter::AdvertNotOurs).unwrap(), 3);
    expect_valid(&dp, "our VRID 50, exclusive", &frame(&v2(50, 90)));
    // The flag is read per frame: cleared, they pass again.
    set_flags(&mut dp, 0);
    assert_eq!(dp.test_run(&foreign[0]).unwrap().verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::AdvertNotOurs).unwrap(), 4);
}

#[test]
fn kernel_vlan_tags_judged_only_on_their_vlan() {
    if !lab::privileged("kernel_vlan_tags_judged_only_on_their_vlan") {
        return;
    }
    const Q: u16 = 0x8100;
    const AD: u16 = 0x88a8;
    let mut dp = loaded();
    set_flags(&mut dp, IFACE_EXCLUSIVE);
    let good = frame(&v2(50, 90));
    let mut bad_sum = good.clone();
    bad_sum[42] ^= 0x55;
    let unknown = frame(&v2(60, 90));
    let arp = arp_request(VIP).1;
    let ns = dataplane_ns(vip6());
    let to_vmac = udp_to(VMAC);
    let all = [&good, &bad_sum, &unknown, &arp, &ns, &to_vmac];
    let stacks: [&[(u16, u16)]; 3] = [&[(Q, 10)], &[(AD, 100), (Q, 10)], &[(Q, 0)]];

    // The program's routers are untagged (eth0's): a tagged frame belongs to the routers of
    // its VLAN's interface (eth0.10), not to these. Passed untouched, nothing counted: not
    // judged as an advert (valid, bad checksum, unknown VRID, even exclusive), no ARP or NA
    // answered for eth0's VIPs, no VMAC rewrite.
    let counters = dp.counters().unwrap();
    let drops = dp.drops_total().unwrap();
    for tags in stacks {
        for f in all {
            let t = tagged(f, tags);
            let out = dp.test_run(&t).unwrap();
            assert_eq!(
                (out.verdict, &out.frame),
                (verdict::PASS, &t),
                "tags {tags:x?}"
            );
        }
    }
    assert_eq!(dp.counters().unwrap(), counters);
    assert_eq!(dp.drops_total().unwrap(), drops);

    // Routers on VLAN 10 (the program of an interface whose frames arrive tagged 10): frames
    // tagged 10 are judged; untagged ones and those of other VLANs are passed untouched.
    set_vlan(&mut dp, vlan_key(Some(10), None));
    let t = tagged(&good, &[(Q, 10)]);
    expect_valid(&dp, "tagged 10, valid", &t);
    expect_drop(
        &dp,
        "tagged 10, bad checksum",
        &tagged(&bad_sum, &[(Q, 10)]),
        DropReason::BadChecksum,
        50,
    );
    expect_drop(
        &dp,
        "tagged 10, unknown VRID",
        &tagged(&unknown, &[(Q, 10)]),
        DropReason::UnknownVrid,
        60,
    );
    let out = dp.test_run(&tagged(&arp, &[(Q, 10)])).unwrap();
    assert_eq!(out.verdict, verdict::TX, "ARP tagged 10 answered");
    let reply = arp::Repr::parse(&out.frame[18..]).unwrap();
    assert_eq!(
        (reply.op, reply.sha, reply.spa),
        (arp::Operation::Reply, VMAC, VIP)
    );
    assert_eq!(
        &out.frame[12..16],
        &[0x81, 0x00, 0xa0, 10],
        "the tag is kept"
    );
    assert_eq!(
        (&out.frame[..6], &out.frame[6..12]),
        (&CLIENT_MAC[..], &VMAC[..])
    );
    let out = dp.test_run(&tagged(&ns, &[(Q, 10)])).unwrap();
    assert_eq!(out.verdict, verdict::TX, "NS tagged 10 answered");
    assert_eq!(&out.frame[12..16], &[0x81, 0x00, 0xa0, 10]);
    let out = dp.test_run(&tagged(&to_vmac, &[(Q, 10)])).unwrap();
    assert_eq!(
        (out.verdict, &out.frame[..6]),
        (verdict::PASS, &IFACE_MAC[..])
    );
    let counters = dp.counters().unwrap();
    let drops = dp.drops_total().unwrap();
    for tags in [
        &[][..],
        &[(Q, 11)],
        &[(AD, 100), (Q, 10)],
        &[(Q, 10), (Q, 10)],
    ] {
        for f in all {
            let t = tagged(f, tags);
            let out = dp.test_run(&t).unwrap();
            assert_eq!(
                (out.verdict, &out.frame),
                (verdict::PASS, &t),
                "tags {tags:x?}"
            );
        }
    }
    assert_eq!(dp.counters().unwrap(), counters);
    assert_eq!(dp.drops_total().unwrap(), drops);

    // QinQ: routers on outer 100, inner 10.
    set_vlan(&mut dp, vlan_key(Some(100), Some(10)));
    let qinq = [(AD, 100), (Q, 10)];
    expect_valid(&dp, "QinQ 100/10, valid", &tagged(&good, &qinq));
    expect_drop(
        &dp,
        "QinQ 100/10, bad checksum",
        &tagged(&bad_sum, &qinq),
        DropReason::BadChecksum,
        50,
    );
    let out = dp.test_run(&tagged(&arp, &qinq)).unwrap();
    assert_eq!(out.verdict, verdict::TX, "ARP QinQ 100/10 answered");
    let reply = arp::Repr::parse(&out.frame[22..]).unwrap();
    assert_eq!(
        (reply.op, reply.sha, reply.spa),
        (arp::Operation::Reply, VMAC, VIP)
    );
    for tags in [
        &[][..],
        &[(Q, 10)],
        &[(AD, 101), (Q, 10)],
        &[(AD, 100), (Q, 11)],
    ] {
        let t = tagged(&arp, tags);
        let out = dp.test_run(&t).unwrap();
        assert_eq!(
            (out.verdict, &out.frame),
            (verdict::PASS, &t),
            "ARP tags {tags:x?}"
        );
        let t = tagged(&good, tags);
        let out = dp.test_run(&t).unwrap();
        assert_eq!(
            (out.verdict, &out.frame),
            (verdict::PASS, &t),
            "advert tags {tags:x?}"
        );
    }
}

/// An IPv6 packet from a client to `dst` (MAC `dst_mac`): next header `next`, 8 bytes of
/// payload starting with `first` (an ICMPv6 type, or a port's high byte).
fn v6_to(dst_mac: [u8; 6], dst: Ipv6Addr, next: u8, first: u8) -> Vec<u8> {
    let mut f = dst_mac.to_vec();
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, next, 64]);
    f.extend_from_slice(&"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&[first, 0, 0, 0, 0, 1, 0, 1]);
    f
}

#[test]
fn kernel_no_accept_drops_ip_to_a_masters_vips_but_not_vrrp_arp_nd_or_routed_traffic() {
    if !lab::privileged(
        "kernel_no_accept_drops_ip_to_a_masters_vips_but_not_vrrp_arp_nd_or_routed_traffic",
    ) {
        return;
    }
    let mut dp = loaded();
    let vmac6 = [0, 0, 0x5e, 0, 2, 53];
    let no_accept = |dp: &mut Dataplane, family, vrid, master: bool| {
        let mut r = router(
            if family == Family::Ipv4 { 2 } else { 3 },
            (family == Family::Ipv4) as u32,
            master,
        );
        r.flags |= ROUTER_NO_ACCEPT;
        dp.set_router(family, vrid, &r).unwrap();
    };
    no_accept(&mut dp, Family::Ipv4, 50, true);
    no_accept(&mut dp, Family::Ipv6, 53, true);
    let dropped = |dp: &Dataplane| dp.counter(Counter::NoAcceptDropped).unwrap();
    let to_vip_vmac = udp_to(VMAC);
    let to_vip_nic = udp_to(IFACE_MAC);
    let mut routed = udp_to(VMAC);
    routed[30..34].copy_from_slice(&[198, 51, 100, 7]);
    let echo6 = v6_to(vmac6, vip6(), 58, 128);
    let udp6 = v6_to(IFACE_MAC, vip6(), 17, 0);
    let client: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let unicast_ns = icmpv6::Repr::Solicit {
        target: vip6(),
        source_mac: Some(CLIENT_MAC),
    }
    .frame(vmac6, CLIENT_MAC, &[], client, vip6());

    // Without the interface's flag the program never looks: everything passes as before.
    for f in [&to_vip_vmac, &to_vip_nic, &echo6, &udp6] {
        assert_eq!(dp.test_run(f).unwrap().verdict, verdict::PASS);
    }
    assert_eq!(dropped(&dp), 0);

    set_flags(&mut dp, IFACE_NO_ACCEPT);
    // IP to the VIPs, through the VMAC or the NIC's own MAC, either family: dropped.
    for (name, f) in [
        ("IPv4 to the VIP via the VMAC", &to_vip_vmac),
        ("IPv4 to the VIP via the NIC's MAC", &to_vip_nic),
        ("ICMPv6 echo to the IPv6 VIP", &echo6),
        ("UDP to the IPv6 VIP", &udp6),
    ] {
        let before = dropped(&dp);
        let out = dp.test_run(f).unwrap();
        assert_eq!((out.verdict, &out.frame), (verdict::DROP, f), "{name}");
        assert_eq!(dropped(&dp), before + 1, "{name}: counted");
    }
    let drops = dropped(&dp);
    // Traffic routed through the master (to another address) is rewritten and passed.
    let out = dp.test_run(&routed).unwrap();
    assert_eq!(
        (out.verdict, &out.frame[..6]),
        (verdict::PASS, &IFACE_MAC[..])
    );
    // ARP for the VIP is still answered from the VMAC, neighbour discovery for the IPv6 VIP
    // too (multicast: answered here; unicast to the VIP: passed to the kernel), and adverts
    // are still judged and stamped.
    assert_eq!(
        dp.test_run(&arp_request(VIP).1).unwrap().verdict,
        verdict::TX
    );
    assert_eq!(
        dp.test_run(&dataplane_ns(vip6())).unwrap().verdict,
        verdict::TX
    );
    let out = dp.test_run(&unicast_ns).unwrap();
    assert_eq!(
        (out.verdict, &out.frame[..6]),
        (verdict::PASS, &IFACE_MAC[..])
    );
    expect_valid(&dp, "advert", &frame(&v2(50, 90)));
    // Another VLAN's frames are not this interface's routers'.
    let other = tagged(&to_vip_nic, &[(0x8100, 7)]);
    assert_eq!(dp.test_run(&other).unwrap().verdict, verdict::PASS);
    assert_eq!(dropped(&dp), drops);

    // A backup does not hold the VIPs: nothing to refuse (its VMAC frames are dropped as
    // before, counted as such).
    no_accept(&mut dp, Family::Ipv4, 50, false);
    assert_eq!(dp.test_run(&to_vip_nic).unwrap().verdict, verdict::PASS);
    assert_eq!(dp.test_run(&to_vip_vmac).unwrap().verdict, verdict::DROP);
    assert_eq!(dp.counter(Counter::VmacDropped).unwrap(), 1);
    // Accept_Mode on (keepalived's default), master: passed.
    dp.set_router(Family::Ipv4, 50, &router(2, 1, true))
        .unwrap();
    dp.set_router(Family::Ipv6, 53, &router(3, 0, true))
        .unwrap();
    for f in [&to_vip_vmac, &to_vip_nic, &echo6, &udp6] {
        assert_eq!(dp.test_run(f).unwrap().verdict, verdict::PASS);
    }
    assert_eq!(dropped(&dp), drops);
}

/// A neighbour solicitation for `target` from a client, to its solicited-node group.
fn dataplane_ns(target: Ipv6Addr) -> Vec<u8> {
    let client: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let group = icmpv6::solicited_node(target);
    icmpv6::Repr::Solicit {
        target,
        source_mac: Some(CLIENT_MAC),
    }
    .frame(icmpv6::multicast_mac(group), CLIENT_MAC, &[], client, group)
}

#[test]
fn kernel_valid_adverts_reach_the_stack_at_a_bounded_rate() {
    if !lab::privileged("kernel_valid_adverts_reach_the_stack_at_a_bounded_rate") {
        return;
    }
    let mut dp = loaded();
    fresh(&mut dp, 60 * 1_000_000_000);
    let f = frame(&v2(50, 90));
    assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::PASS);
    for _ in 0..5 {
        assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::DROP);
    }
    assert_eq!(dp.counter(Counter::AdvertValid).unwrap(), 6, "all recorded");
    assert_eq!(dp.counter(Counter::AdvertPassed).unwrap(), 1);
    assert_eq!(dp.counter(Counter::AdvertRateLimited).unwrap(), 5);
    assert_eq!(dp.newest_advert(Family::Ipv4, 50).unwrap().count, 6);
    let _ = router_index(Family::Ipv4, 50);
}

/// The precise clock is read once per router, CPU and tick: the first advert of a tick gets
/// its exact arrival; later ones in the same tick count in `same_tick`, and the controller
/// reads their arrival as one tick later (never early).
/// A v3/IPv4 advert checksummed the other way than the router's own (`v3_checksum_as_v2`) is
/// accepted, counted as `advert_other_csum` and wakes the controller once per episode (a change
/// of variant, or the first advert after three intervals of silence), not per advert; the router's own variant counts nothing. v2
/// and v3/IPv6 have one variant and never count.
#[test]
fn kernel_other_checksum_variant_counted_and_reported_once() {
    if !lab::privileged("kernel_other_checksum_variant_counted_and_reported_once") {
        return;
    }
    // One CPU, so that every run lands in the same per-CPU stamp.
    let mut cpu0 = nix::sched::CpuSet::new();
    cpu0.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpu0).unwrap();
    let mut dp = loaded();
    let mut events = dp.take_events().unwrap();
    let other = |dp: &Dataplane| dp.counter(Counter::AdvertOtherChecksum).unwrap();
    let msg_only = |vrid| {
        wire::emit_advert_frame(
            &v3(vrid, vec![IpAddr::V4(VIP)]),
            IpAddr::V4(SRC4),
            V3Checksum::MessageOnly,
        )
    };
    let pseudo = |vrid| frame(&v3(vrid, vec![IpAddr::V4(VIP)]));
    let mismatch_events = |ev: &[vrrp_common::maps::Event]| {
        ev.iter()
            .filter(|e| e.kind == EventKind::ChecksumMismatch as u32)
            .count()
    };

    // Router 51 checksums with the pseudo-header (the default): its own variant is quiet.
    for _ in 0..3 {
        expect_valid(&dp, "v3 IPv4, our variant", &pseudo(51));
    }
    assert_eq!(other(&dp), 0);
    let ev = events.drain();
    assert_eq!(mismatch_events(&ev), 0, "{ev:?}");

    // The peer switches to message-only: every advert counts, one event for the episode.
    for _ in 0..5 {
        expect_valid(&dp, "v3 IPv4, the other variant", &msg_only(51));
    }
    assert_eq!(other(&dp), 5);
    let ev = events.drain();
    assert_eq!(mismatch_events(&ev), 1, "{ev:?}");
    let e = ev
        .iter()
        .find(|e| e.kind == EventKind::ChecksumMismatch as u32)
        .unwrap();
    assert_eq!(
        (e.router, &e.src[..4]),
        (router_index(Family::Ipv4, 51), &SRC4.octets()[..])
    );

    // Router 51 set to v3_checksum_as_v2: now message-only is ours, the pseudo-header the other.
    let mut as_v2 = router(3, 0, false);
    as_v2.flags |= ROUTER_CSUM_MSG_ONLY;
    dp.set_router(Family::Ipv4, 51, &as_v2).unwrap();
    for _ in 0..3 {
        expect_valid(&dp, "v3 IPv4, as v2, our variant", &msg_only(51));
    }
    assert_eq!(other(&dp), 5);
    assert_eq!(mismatch_events(&events.drain()), 0);
    for _ in 0..4 {
        expect_valid(&dp, "v3 IPv4, as v2, the other variant", &pseudo(51));
    }
    assert_eq!(other(&dp), 9);
    assert_eq!(mismatch_events(&events.drain()), 1);
    // After three intervals (3 s) of silence, the same peer and variant: a new episode.
    std::thread::sleep(std::time::Duration::from_millis(3_100));
    expect_valid(&dp, "v3 IPv4, as v2, the other variant again", &pseudo(51));
    assert_eq!(other(&dp), 10);
    assert_eq!(mismatch_events(&events.drain()), 1);

    // One variant only: v2 and v3 over IPv6 never count.
    expect_valid(&dp, "v2", &frame(&v2(50, 90)));
    expect_valid(
        &dp,
        "v3 IPv6",
        &frame(&v3(52, vec![IpAddr::V6(backup_vip6())])),
    );
    assert_eq!(other(&dp), 10);
    assert_eq!(mismatch_events(&events.drain()), 0);
}

#[test]
fn kernel_adverts_listing_other_addresses_are_dropped_as_keepalived_drops_them() {
    if !lab::privileged(
        "kernel_adverts_listing_other_addresses_are_dropped_as_keepalived_drops_them",
    ) {
        return;
    }
    // One CPU: `skip_check_adv_addr` follows the sender last stamped on this CPU.
    let mut cpu0 = nix::sched::CpuSet::new();
    cpu0.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpu0).unwrap();
    let mut dp = loaded();
    let (vip, other, third) = (
        IpAddr::V4(VIP),
        IpAddr::V4(OTHER4),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 6)),
    );
    let from = |src: Ipv4Addr, list: Vec<IpAddr>| {
        wire::emit_advert_frame(&v3(51, list), IpAddr::V4(src), V3Checksum::PseudoHeader)
    };
    let ours = [vip, other];
    dp.set_router(Family::Ipv4, 51, &with_list(router(3, 0, false), &ours))
        .unwrap();

    // Our list in any order; another count, or another address, dropped.
    expect_valid(&dp, "our list", &from(SRC4, vec![vip, other]));
    expect_valid(
        &dp,
        "our list, the other order",
        &from(SRC4, vec![other, vip]),
    );
    for (name, list) in [
        ("one address of two", vec![vip]),
        ("three addresses", vec![vip, other, third]),
        ("another address", vec![vip, third]),
        ("one of ours twice", vec![vip, vip]),
    ] {
        expect_drop(&dp, name, &from(SRC4, list), DropReason::AddressList, 51);
    }
    // IPv6: the whole address counts, in any order.
    let (a, b) = (IpAddr::V6(vip6()), IpAddr::V6(backup_vip6()));
    let swapped: IpAddr = "2001:db8::5:0:0:3".parse().unwrap();
    dp.set_router(Family::Ipv6, 52, &with_list(router(3, 0, false), &[a, b]))
        .unwrap();
    expect_valid(&dp, "IPv6, our list", &frame(&v3(52, vec![b, a])));
    expect_drop(
        &dp,
        "IPv6, one of two",
        &frame(&v3(52, vec![a])),
        DropReason::AddressList,
        52,
    );
    expect_drop(
        &dp,
        "IPv6, another address",
        &frame(&v3(52, vec![a, swapped])),
        DropReason::AddressList,
        52,
    );

    // skip_check_adv_addr, while backup: the sender already followed is not compared; a new
    // sender is, and every sender once we are master.
    let mut skip = with_list(router(3, 0, false), &ours);
    skip.flags |= ROUTER_SKIP_SAME_SENDER;
    dp.set_router(Family::Ipv4, 51, &skip).unwrap();
    expect_valid(
        &dp,
        "skip: the master followed",
        &from(SRC4, vec![vip, other]),
    );
    expect_valid(
        &dp,
        "skip: the master followed, another list",
        &from(SRC4, vec![vip]),
    );
    let newcomer = Ipv4Addr::new(192, 0, 2, 7);
    expect_drop(
        &dp,
        "skip: a new sender",
        &from(newcomer, vec![vip]),
        DropReason::AddressList,
        51,
    );
    expect_valid(
        &dp,
        "skip: the master followed still",
        &from(SRC4, vec![third]),
    );
    skip.flags |= ROUTER_MASTER;
    dp.set_router(Family::Ipv4, 51, &skip).unwrap();
    expect_drop(
        &dp,
        "skip, as master",
        &from(SRC4, vec![vip]),
        DropReason::AddressList,
        51,
    );

    // A list of ours naming an address twice: the count alone.
    dp.set_router(
        Family::Ipv4,
        51,
        &with_list(router(3, 0, false), &[vip, vip]),
    )
    .unwrap();
    expect_valid(&dp, "twice: any two", &from(SRC4, vec![third, other]));
    expect_drop(
        &dp,
        "twice: one",
        &from(SRC4, vec![vip]),
        DropReason::AddressList,
        51,
    );

    // Not compared unless asked: `RouterConfig::new` alone.
    dp.set_router(Family::Ipv4, 51, &router(3, 0, false))
        .unwrap();
    expect_valid(&dp, "not compared", &from(SRC4, vec![third]));
}

#[test]
fn kernel_adverts_sharing_a_tick_are_stamped_never_early() {
    if !lab::privileged("kernel_adverts_sharing_a_tick_are_stamped_never_early") {
        return;
    }
    // One CPU, so that every run lands in the same per-CPU stamp.
    let mut cpu0 = nix::sched::CpuSet::new();
    cpu0.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &cpu0).unwrap();
    let dp = loaded();
    let f = frame(&v2(50, 90));
    let tick = vrrp_userspace::dataplane::tick_ns();
    assert!(
        (1_000_000..=10_000_000).contains(&tick),
        "a tick of {tick} ns"
    );

    // A first advert in a fresh tick: the exact arrival, nothing shared.
    let before = monotonic_ns();
    assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::PASS);
    let after = monotonic_ns();
    let first = dp.advert_stamps(Family::Ipv4, 50)[0];
    assert_eq!((first.count, first.same_tick), (1, 0), "{first:?}");
    assert!((before..=after).contains(&first.time_ns), "{first:?}");
    let newest = dp.newest_advert(Family::Ipv4, 50).unwrap();
    assert_eq!(newest.time_ns, first.time_ns, "exact: no margin");

    // A flood: 1000 more in one system call, a few ticks at most. Later ones in a tick keep
    // the tick's first arrival and count; the controller's bound is a tick later.
    std::thread::sleep(std::time::Duration::from_nanos(3 * tick));
    assert_eq!(dp.test_run_repeat(&f, 1000).unwrap().verdict, verdict::PASS);
    let done = monotonic_ns();
    let flood = dp.advert_stamps(Family::Ipv4, 50)[0];
    assert_eq!(flood.count, 1001);
    assert!(flood.same_tick >= 1, "{flood:?}");
    assert!(flood.tick > first.tick && flood.time_ns > first.time_ns);
    assert!(flood.time_ns <= done);
    let newest = dp.newest_advert(Family::Ipv4, 50).unwrap();
    assert_eq!(newest.time_ns, flood.time_ns + tick);

    // A tick later the next advert is stamped exactly again.
    std::thread::sleep(std::time::Duration::from_nanos(3 * tick));
    let before = monotonic_ns();
    assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::PASS);
    let after = monotonic_ns();
    let next = dp.advert_stamps(Family::Ipv4, 50)[0];
    assert_eq!((next.count, next.same_tick), (1002, 0), "{next:?}");
    assert!((before..=after).contains(&next.time_ns) && next.tick > flood.tick);
    assert_eq!(
        dp.newest_advert(Family::Ipv4, 50).unwrap().time_ns,
        next.time_ns
    );

    // A priority 0 right behind an advert, in the same tick (the master's last advert and its
    // goodbye): stamped exactly all the same, since Skew_Time starts from it.
    let bye = frame(&v2(50, 0));
    let mut shared = false;
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_nanos(2 * tick));
        assert_eq!(dp.test_run(&f).unwrap().verdict, verdict::PASS);
        let last = dp.advert_stamps(Family::Ipv4, 50)[0];
        let before = monotonic_ns();
        dp.test_run(&bye).unwrap();
        let after = monotonic_ns();
        let zero = dp.advert_stamps(Family::Ipv4, 50)[0];
        if zero.tick != last.tick {
            continue;
        }
        shared = true;
        assert_eq!((zero.priority, zero.same_tick), (0, 0), "{zero:?}");
        assert!((before..=after).contains(&zero.time_ns), "{zero:?}");
        let newest = dp.newest_advert(Family::Ipv4, 50).unwrap();
        assert_eq!((newest.time_ns, newest.priority), (zero.time_ns, 0));
        break;
    }
    assert!(
        shared,
        "no priority 0 landed in its advert's tick in 50 tries"
    );
}

/// xorshift64*: a small deterministic generator, so a failing frame can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A neighbour solicitation or advertisement of a random kind: for the active VIP, the
/// backup's, or another address; from the client or from :: (DAD); with none, one or two
/// options, sometimes a zero-length one; hop limit mostly 255.
fn random_nd(rng: &mut Rng) -> Vec<u8> {
    let client: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let target = [
        vip6(),
        vip6(),
        backup_vip6(),
        "2001:db8::1:3".parse().unwrap(),
    ][rng.below(4)];
    let src = if rng.below(4) == 0 {
        Ipv6Addr::UNSPECIFIED
    } else {
        client
    };
    let dst = if rng.below(4) == 0 {
        target
    } else {
        icmpv6::solicited_node(target)
    };
    let kind = if rng.below(5) == 0 { 136 } else { 135 };
    let mut msg = vec![kind, 0, 0, 0, 0, 0, 0, 0];
    msg.extend_from_slice(&target.octets());
    for _ in 0..rng.below(3) {
        let mut opt = [[1u8, 1], [14, 1], [2, 1], [1, 0]][rng.below(4)].to_vec();
        opt.extend_from_slice(&CLIENT_MAC);
        msg.extend_from_slice(&opt);
    }
    let c = checksum::finish(checksum::combine(&[
        checksum::sum(&msg),
        checksum::pseudo_v6(src, dst, 58, msg.len() as u32),
    ]));
    msg[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = icmpv6::multicast_mac(icmpv6::solicited_node(target)).to_vec();
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, if rng.below(8) == 0 { 64 } else { 255 }]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&msg);
    f
}

/// A valid advert or neighbour discovery frame of a random kind, then 0 to 3 random mutations.
fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let vrid = [50, 51, 52, 60][rng.below(4)];
    let base = match rng.below(5) {
        4 => random_nd(rng),
        0 => {
            // Checksums right, policy sometimes wrong: auth type, password, interval.
            let mut r = v2(vrid, rng.below(256) as u8);
            let kind = [1, 1, 1, 0, 2][rng.below(5)];
            let data = [PASSWORD, *b"1112\0\0\0\0", *b"1111\0\0\0x"][rng.below(3)];
            r.auth = Some(vrrp::Auth { kind, data });
            r.interval_cs = [100, 100, 100, 200, 25_500][rng.below(5)];
            frame(&r)
        }
        1 => wire::emit_advert_frame(
            &v3(vrid, {
                // Router 51's list in either order, or 1 to 20 from a pool with repeats.
                let pool = [VIP, OTHER4, Ipv4Addr::new(192, 0, 2, 6)];
                match rng.below(4) {
                    0 => vec![IpAddr::V4(VIP), IpAddr::V4(OTHER4)],
                    1 => vec![IpAddr::V4(OTHER4), IpAddr::V4(VIP)],
                    _ => (0..1 + rng.below(20))
                        .map(|_| IpAddr::V4(pool[rng.below(3)]))
                        .collect(),
                }
            }),
            IpAddr::V4(SRC4),
            if rng.below(2) == 0 {
                V3Checksum::PseudoHeader
            } else {
                V3Checksum::MessageOnly
            },
        ),
        2 => frame(&v3(
            vrid,
            (0..1 + rng.below(4))
                .map(|_| IpAddr::V6([vip6(), backup_vip6()][rng.below(2)]))
                .collect(),
        )),
        _ => (0..rng.below(120)).map(|_| rng.next() as u8).collect(),
    };
    // Now and then one or two VLAN tags (the routers are untagged: passed untouched).
    let mut f = match rng.below(16) {
        0 if base.len() >= 14 => tagged(&base, &[(0x8100, rng.below(4096) as u16)]),
        1 if base.len() >= 14 => tagged(&base, &[(0x88a8, 100), (0x8100, rng.below(4096) as u16)]),
        _ => base,
    };
    for _ in 0..rng.below(4) {
        if f.is_empty() {
            break;
        }
        match rng.below(5) {
            0 | 1 => {
                // A byte past the destination MAC (whose changes lead to other paths).
                let i = 6 + rng.below(f.len().saturating_sub(6).max(1));
                if i < f.len() {
                    f[i] = rng.next() as u8;
                }
            }
            2 => f.truncate(rng.below(f.len() + 1).max(14)),
            3 => {
                let i = 14 + rng.below(30);
                if i < f.len() {
                    f[i] ^= 1 << rng.below(8);
                }
            }
            _ => f.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
        }
    }
    f
}

#[test]
fn kernel_differential_100k_frames_agree_with_wire() {
    if !lab::privileged("kernel_differential_100k_frames_agree_with_wire") {
        return;
    }
    let mut dp = loaded();
    // Each router compares the addresses, as `policy` says.
    for (family, vrid, r) in [
        (Family::Ipv4, 50, router(2, 1, true)),
        (Family::Ipv4, 51, router(3, 0, false)),
        (Family::Ipv6, 52, router(3, 0, false)),
        (Family::Ipv6, 53, router(3, 0, true)),
    ] {
        let list = listed(family, vrid).unwrap();
        dp.set_router(family, vrid, &with_list(r, &list)).unwrap();
    }
    let mut rng = Rng(0x5eed_0000_0000_0001);
    let mut expected = [0u64; DropReason::COUNT];
    let mut expected_valid = 0u64;
    let mut expected_not_ours = 0u64;
    let mut tagged_passed = 0u32;
    let mut exclusive = false;
    let mut compared = 0;
    let mut kinds = [0u32; 3];
    let mut nd = [0u32; 2];
    let active = |t: Ipv6Addr| (t == vip6()).then_some(([0, 0, 0x5e, 0, 2, 53], false));
    while compared < 100_000 {
        // vrrpd_exclusive in turns of 1000 frames: the unknown-VRID verdict follows it.
        if exclusive != ((compared / 1000) % 2 == 1) {
            exclusive = !exclusive;
            set_flags(&mut dp, if exclusive { IFACE_EXCLUSIVE } else { 0 });
        }
        let f = random_frame(&mut rng);
        // The XDP program needs 14 bytes to run at all; frames whose destination is a VMAC or
        // whose EtherType is ARP take other paths (tested above).
        if f.len() < 14
            || (f[..4] == [0, 0, 0x5e, 0] && (f[4] == 1 || f[4] == 2))
            || f[12..14] == [0x08, 0x06]
        {
            continue;
        }
        // The routers are untagged: a frame with VLAN tags is another VLAN's, passed untouched.
        if wire::ethernet::Repr::parse(&f).is_some_and(|(e, _)| !e.vlans.is_empty()) {
            let got = dp.test_run(&f).unwrap();
            assert_eq!(
                (got.verdict, &got.frame),
                (verdict::PASS, &f),
                "tagged, yet judged: {f:02x?}"
            );
            tagged_passed += 1;
            compared += 1;
            continue;
        }
        // Neighbour solicitations for the active VIP: answered or dropped, as wire's twin of
        // the responder says, byte for byte.
        match icmpv6::respond(&f, active) {
            icmpv6::Responder::Pass => {}
            icmpv6::Responder::Drop => {
                let got = dp.test_run(&f).unwrap();
                assert_eq!(got.verdict, verdict::DROP, "invalid NS passed: {f:02x?}");
                nd[1] += 1;
                compared += 1;
                continue;
            }
            icmpv6::Responder::Reply(reply) => {
                let got = dp.test_run(&f).unwrap();
                assert_eq!(
                    (got.verdict, &got.frame),
                    (verdict::TX, &reply),
                    "NS answered otherwise: {f:02x?}"
                );
                nd[0] += 1;
                compared += 1;
                continue;
            }
        }
        let ours = wire::parse_advert_frame(&f).and_then(|a| match a {
            None => Ok(None),
            Some(a) => {
                let family = if a.src.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                };
                match policy(family, a.vrrp.vrid) {
                    // Another speaker's VRID: passed, counted (not ours to judge).
                    None if !exclusive => Ok(None),
                    p => wire::check_policy(&a, p.as_ref()).map(|()| Some(a)),
                }
            }
        });
        if matches!(&ours, Ok(None)) && wire::parse_advert_frame(&f).is_ok_and(|a| a.is_some()) {
            expected_not_ours += 1;
        }
        let got = dp.test_run(&f).unwrap();
        match &ours {
            Ok(None) => {
                assert_eq!(
                    got.verdict,
                    verdict::PASS,
                    "not VRRP, yet dropped: {f:02x?}"
                );
                kinds[0] += 1;
            }
            Ok(Some(_)) => {
                assert_eq!(
                    got.verdict,
                    verdict::PASS,
                    "valid for wire, dropped by XDP: {f:02x?}"
                );
                expected_valid += 1;
                kinds[1] += 1;
            }
            Err(reason) => {
                assert_eq!(
                    got.verdict,
                    verdict::DROP,
                    "wire drops it ({reason:?}), XDP passes: {f:02x?}"
                );
                expected[*reason as usize] += 1;
                kinds[2] += 1;
            }
        }
        compared += 1;
    }
    let drops = dp.drops_total().unwrap();
    for r in DropReason::ALL {
        assert_eq!(
            drops.by_reason[r as usize], expected[r as usize],
            "{r:?}: XDP and wire disagree on the count"
        );
    }
    assert_eq!(dp.counter(Counter::AdvertValid).unwrap(), expected_valid);
    assert_eq!(
        dp.counter(Counter::AdvertNotOurs).unwrap(),
        expected_not_ours
    );
    assert!(
        expected_not_ours > 1000 && tagged_passed > 100,
        "not ours {expected_not_ours}, tagged {tagged_passed}"
    );
    assert_eq!(
        (
            dp.counter(Counter::NdReplied).unwrap(),
            dp.counter(Counter::NdDropped).unwrap()
        ),
        (u64::from(nd[0]), u64::from(nd[1]))
    );
    assert!(nd.iter().all(|n| *n > 500), "NS answered, dropped: {nd:?}");
    // The generator must exercise all three outcomes, and most drop reasons.
    assert!(kinds.iter().all(|k| *k > 1000), "{kinds:?}");
    let reasons_seen = expected.iter().filter(|n| **n > 0).count();
    assert!(
        expected[DropReason::AddressList as usize] > 1000,
        "{expected:?}"
    );
    assert!(
        reasons_seen >= 8,
        "only {reasons_seen} reasons exercised: {expected:?}"
    );
    eprintln!(
        "differential: {kinds:?} (not VRRP, valid, dropped); drops by reason {expected:?}; \
         NS answered, dropped: {nd:?}; another speaker's {expected_not_ours}, tagged {tagged_passed}"
    );
}

/// Pins the calling thread to CPU `cpu`.
fn pin(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

/// Each CPU stamps its own block of `VRRP_ADVERTS` (key CPU × 512 + router), under a sequence
/// count the daemon reads the mapping by: even between stamps, two more a stamp. And a reader
/// on another CPU never takes half of a stamp while XDP writes it: adverts of two priorities
/// alternate on CPU 1 (the count says whose stamp it is) while CPU 0 reads.
#[test]
fn kernel_each_cpu_stamps_its_own_block_read_whole_through_the_mapping() {
    if !lab::privileged("kernel_each_cpu_stamps_its_own_block_read_whole_through_the_mapping") {
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs this on two CPUs or more"
        );
        eprintln!("skipped: one CPU");
        return;
    }
    pin(1);
    let dp = loaded();
    let (a, b) = (frame(&v2(50, 90)), frame(&v2(50, 91)));
    assert_eq!(dp.test_run(&a).unwrap().verdict, verdict::PASS);
    let stamps = dp.advert_stamps(Family::Ipv4, 50);
    assert_eq!(
        (stamps[0].count, stamps[0].seq),
        (0, 0),
        "CPU 0 saw nothing"
    );
    assert_eq!((stamps[1].count, stamps[1].seq), (1, 2), "{:?}", stamps[1]);
    assert_eq!(stamps[1].priority, 90);
    assert_eq!(dp.test_run_repeat(&b, 1000).unwrap().verdict, verdict::PASS);
    let stamps = dp.advert_stamps(Family::Ipv4, 50);
    assert_eq!((stamps[1].count, stamps[1].seq), (1001, 2002));
    pin(0);
    assert_eq!(dp.test_run(&a).unwrap().verdict, verdict::PASS);
    let stamps = dp.advert_stamps(Family::Ipv4, 50);
    assert_eq!((stamps[0].count, stamps[0].seq), (1, 2));
    assert_eq!(stamps[1].count, 1001, "CPU 1's block untouched");

    // The race: CPU 1 writes (count 1001 was 91's: even counts from here on are 90's, odd
    // ones 91's), CPU 0 reads.
    let reader = dp.counter_reader().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            pin(1);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                dp.test_run(&a).unwrap();
                dp.test_run(&b).unwrap();
                n += 2;
            }
            n
        })
    };
    let (mut reads, start) = (0u64, std::time::Instant::now());
    while start.elapsed() < std::time::Duration::from_secs(2) {
        let counts = reader.read().unwrap();
        let cpu1 = counts.newest4[50].expect("stamped");
        // CPU 0's single stamp is older: the newest is CPU 1's (after its first write).
        if cpu1.count > 1001 {
            let expect = if cpu1.count.is_multiple_of(2) { 90 } else { 91 };
            assert_eq!(cpu1.priority, expect, "a torn stamp: {cpu1:?}");
            assert_eq!(u64::from(cpu1.seq), (2 * cpu1.count) % 65536, "{cpu1:?}");
        }
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        written > 1000 && reads > 100,
        "{written} stamps, {reads} reads"
    );
}

/// Why the daemon judges by the records it drains and not by the ring's wake-up: a record
/// drained before the wake-up is collected takes the wake-up with it (epoll polls the ring
/// again before reporting it, finds it empty, and reports nothing). The daemon's loop drains
/// the ring in every turn, whatever woke it; had it waited for the wake-up, a backup would
/// have learnt its master's first advert, or a priority 0, only at its next deadline.
#[test]
fn kernel_event_ring_wakeup_goes_with_a_drained_record() {
    if !lab::privileged("kernel_event_ring_wakeup_goes_with_a_drained_record") {
        return;
    }
    let mut dp = loaded();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut events = dp.take_events().unwrap().into_async().unwrap();
        let wait = std::time::Duration::from_millis(300);
        // A priority 0 (an event), drained before the wake-up is looked at: none comes.
        dp.test_run(&frame(&v2(50, 0))).unwrap();
        assert_eq!(events.get_mut().drain().len(), 1);
        assert!(
            tokio::time::timeout(wait, events.readable()).await.is_err(),
            "the wake-up of a drained record came after all"
        );
        // Left in the ring, the next one wakes the reader.
        dp.test_run(&frame(&v2(50, 0))).unwrap();
        let mut guard = tokio::time::timeout(wait, events.readable())
            .await
            .expect("a pending record wakes the reader")
            .unwrap();
        guard.clear_ready();
        assert_eq!(events.get_mut().drain().len(), 1);
    });
}
