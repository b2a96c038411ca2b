//! Tier 3: the XDP program in the kernel, on crafted frames (BPF_PROG_TEST_RUN) and live on a
//! veth pair in network namespaces.
use vrrp_userspace::lab as common;

use vrrp_userspace::dataplane::{Dataplane, verdict};

/// An Ethernet frame: broadcast destination, a fixed source, `ethertype`, then `payload`.
fn frame(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len().max(60), 0);
    f
}

fn ipv4_with_protocol(proto: u8) -> Vec<u8> {
    let mut ip = vec![0x45, 0xc0, 0, 28, 0, 0, 0, 0, 255, proto, 0, 0];
    ip.extend_from_slice(&[192, 0, 2, 4, 224, 0, 0, 18]);
    ip.extend_from_slice(&[0x21, 50, 100, 1, 1, 1, 0, 0]);
    ip
}

fn ipv6_with_next_header(next: u8) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0, 0, 8, next, 255];
    ip.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip.extend_from_slice(&vrrp_common::proto::VRRP_MCAST_V6);
    ip.extend_from_slice(&[0x31, 50, 100, 1, 0, 100, 0, 0]);
    ip
}

#[test]
fn kernel_test_run_passes_unrelated_frames_untouched() {
    if !common::privileged("kernel_test_run_passes_unrelated_frames_untouched") {
        return;
    }
    let dp = Dataplane::load().expect("the verifier accepts the program");
    for input in [
        frame(0x0806, &[0; 28]),
        frame(0x0800, &ipv4_with_protocol(17)),
        frame(0x86dd, &ipv6_with_next_header(58)),
        frame(0x88cc, &[0; 46]),
    ] {
        let out = dp.test_run(&input).expect("test run");
        assert_eq!(out.verdict, verdict::PASS);
        assert_eq!(out.frame, input, "the program must not rewrite this frame");
    }
    assert_eq!(dp.drops_total().unwrap(), Default::default());
    assert_eq!(
        dp.counters().unwrap(),
        [0; vrrp_common::maps::Counter::COUNT]
    );
}

#[test]
fn live_on_veth_the_attached_program_sees_arp_and_ip() {
    if !common::privileged("live_on_veth_the_attached_program_sees_arp_and_ip") {
        return;
    }
    let lab = common::VethPair::new();
    let b_if = lab.b_if.clone();
    let dp = lab.b.run(|| {
        let mut dp = Dataplane::load().unwrap();
        dp.attach(&b_if).expect("attach to the veth");
        dp
    });
    // The first ping resolves 192.0.2.2 by ARP, then sends ICMP: both cross b's XDP hook.
    lab.a
        .exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"]);
    // Nothing was configured: the program must have passed everything (ping succeeded) and
    // counted nothing.
    assert_eq!(dp.drops_total().unwrap(), Default::default());
    // bpftool sees the program attached to b's interface.
    let shown = lab.b.exec(&["ip", "-details", "link", "show", &lab.b_if]);
    assert!(shown.contains("xdp"), "{shown}");
    drop(dp);
}

/// REFERENCE.md §4.2: keepalived 2.2.7's v2 PASS advert (VRID 51, priority 150, "secret12").
const V2_PASS_ADVERT: [u8; 20] = [
    0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0xd0, 0x48, 0x0a, 0x00, 0x00, 0x03, b's', b'e', b'c', b'r',
    b'e', b't', b'1', b'2',
];

fn ipv4_vrrp(vrrp: &[u8], ttl: u8) -> Vec<u8> {
    let tot = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend_from_slice(&tot.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0]);
    ip.extend_from_slice(&[192, 0, 2, 4, 224, 0, 0, 18]);
    ip.extend_from_slice(vrrp);
    let mut f = vec![
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33,
    ];
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&ip);
    f.resize(f.len().max(60), 0);
    f
}

#[test]
fn kernel_valid_v2_pass_advert_is_stamped_and_passed_bad_password_dropped() {
    use vrrp_common::{
        DropReason,
        maps::{Counter, Family, RouterConfig},
    };
    if !common::privileged("kernel_valid_v2_pass_advert_is_stamped_and_passed_bad_password_dropped")
    {
        return;
    }
    let mut dp = Dataplane::load().unwrap();
    let good = ipv4_vrrp(&V2_PASS_ADVERT, 255);
    // Not configured yet: another speaker's VRID, passed on; with vrrpd_exclusive, an unknown
    // VRID.
    assert_eq!(dp.test_run(&good).unwrap().verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::AdvertNotOurs).unwrap(), 1);
    dp.set_iface(&vrrp_common::maps::IfaceConfig {
        flags: vrrp_common::maps::IFACE_EXCLUSIVE,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(dp.test_run(&good).unwrap().verdict, verdict::DROP);
    assert_eq!(
        dp.drops(51).unwrap().by_reason[DropReason::UnknownVrid as usize],
        1
    );

    dp.set_router(
        Family::Ipv4,
        51,
        &RouterConfig::new(2, Some(*b"secret12"), 100, 100, [0; 16], false),
    )
    .unwrap();
    let out = dp.test_run(&good).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(dp.counter(Counter::AdvertValid).unwrap(), 1);
    let stamp = dp.newest_advert(Family::Ipv4, 51).expect("stamped");
    assert_eq!(stamp.priority, 150);
    assert_eq!(stamp.interval_cs, 100);
    assert_eq!(&stamp.src[..4], &[192, 0, 2, 4]);
    // The batched read of every router sees the same stamp, and nothing for the others.
    let all: Vec<_> = dp.newest_adverts(Family::Ipv4).collect();
    assert_eq!(all.len(), 256);
    assert_eq!(all[51], Some(stamp));
    assert!(all.iter().enumerate().all(|(v, s)| v == 51 || s.is_none()));
    assert!(dp.newest_adverts(Family::Ipv6).all(|s| s.is_none()));

    let mut bad = V2_PASS_ADVERT;
    bad[19] = b'3';
    // Keep the checksum right so that only the password is wrong: '2' → '3' adds 1 to the
    // low byte of the last word, so the checksum's low byte drops by 1.
    bad[7] -= 1;
    assert_eq!(
        dp.test_run(&ipv4_vrrp(&bad, 255)).unwrap().verdict,
        verdict::DROP
    );
    assert_eq!(
        dp.drops(51).unwrap().by_reason[DropReason::BadPassword as usize],
        1
    );

    assert_eq!(
        dp.test_run(&ipv4_vrrp(&V2_PASS_ADVERT, 254))
            .unwrap()
            .verdict,
        verdict::DROP
    );
    assert_eq!(
        dp.drops(51).unwrap().by_reason[DropReason::BadTtl as usize],
        1
    );
}
