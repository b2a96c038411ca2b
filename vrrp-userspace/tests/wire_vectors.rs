//! `wire` against bytes from elsewhere: the worked vectors of REFERENCE.md §4.2 (keepalived
//! 2.2.7) and frames captured from keepalived in the lab.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_userspace::{
    config::{V3Checksum, Version},
    wire::{
        self, checksum,
        vrrp::{Auth, Packet, Repr},
    },
};

fn sum_with(msg: &[u8], pseudo: u32) -> bool {
    checksum::verifies(checksum::combine(&[checksum::sum(msg), pseudo]))
}

#[test]
fn reference_v2_pass_secret12() {
    let msg = [
        0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0xd0, 0x48, 0x0a, 0x00, 0x00, 0x03, b's', b'e', b'c',
        b'r', b'e', b't', b'1', b'2',
    ];
    let p = Packet::new_checked(&msg[..]).unwrap();
    assert_eq!(p.checksum(), 0xd048);
    assert!(sum_with(&msg, 0), "v2: over the message only");
    let r = Repr::parse(&p, false).unwrap();
    assert_eq!(
        r,
        Repr {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3))],
            auth: Some(Auth {
                kind: 1,
                data: *b"secret12"
            }),
        }
    );
    let mut out = [0xa5u8; 20];
    r.emit(&mut out, 0);
    assert_eq!(out, msg, "we emit keepalived's bytes");
}

#[test]
fn reference_v3_ipv4_both_checksum_variants() {
    let msg = [
        0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0x43, 0xd4, 0x0a, 0x00, 0x00, 0x03,
    ];
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 18));
    let pseudo = checksum::pseudo_v4(src, dst, 112, 12);
    assert!(
        sum_with(&msg, pseudo),
        "0x43d4 includes the IPv4 pseudo-header"
    );
    assert!(!sum_with(&msg, 0));
    let r = Repr::parse(&Packet::new_checked(&msg[..]).unwrap(), false).unwrap();
    assert_eq!((r.vrid, r.priority, r.interval_cs), (51, 150, 100));
    let mut with = [0xa5u8; 12];
    r.emit(&mut with, pseudo);
    assert_eq!(with, msg);
    // RFC 9568 / keepalived v3_checksum_as_v2: over the message only, 0x2e64.
    let mut only = [0xa5u8; 12];
    r.emit(&mut only, 0);
    assert_eq!(Packet::new_checked(&only[..]).unwrap().checksum(), 0x2e64);
}

#[test]
fn reference_v3_ipv6_with_pseudo_header() {
    let src: Ipv6Addr = "fe80::48f7:29ff:fe99:6517".parse().unwrap();
    let dst: Ipv6Addr = "ff02::12".parse().unwrap();
    let mut msg = vec![0x31, 0x33, 0x96, 0x02, 0x00, 0x64, 0x67, 0xba];
    msg.extend_from_slice(&"fe80::51".parse::<Ipv6Addr>().unwrap().octets());
    msg.extend_from_slice(&"fd00::3".parse::<Ipv6Addr>().unwrap().octets());
    assert!(sum_with(
        &msg,
        checksum::pseudo_v6(src, dst, 112, msg.len() as u32)
    ));
    let r = Repr::parse(&Packet::new_checked(&msg[..]).unwrap(), true).unwrap();
    assert_eq!(r.addresses.len(), 2);
    assert!(r.is_ipv6());
}

fn capture(name: &str) -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(name);
    wire::pcap::read(&path).unwrap()
}

#[test]
fn keepalived_v2_pass_capture() {
    let frames = capture("keepalived-v2-pass.pcap");
    assert_eq!(frames.len(), 3);
    for f in frames {
        let a = wire::parse_advert_frame(&f).unwrap().expect("a VRRP frame");
        assert_eq!(a.src, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4)));
        assert_eq!(a.vrrp.version, Version::V2);
        assert_eq!(
            (a.vrrp.vrid, a.vrrp.priority, a.vrrp.interval_cs),
            (50, 100, 100)
        );
        assert_eq!(
            a.vrrp.addresses,
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3))]
        );
        assert_eq!(
            a.vrrp.auth,
            Some(Auth {
                kind: 1,
                data: *b"1111\0\0\0\0"
            })
        );
        // keepalived without use_vmac sends from the NIC's MAC (REFERENCE.md §4.1).
        assert_ne!(a.src_mac, [0, 0, 0x5e, 0, 1, 50]);
        let policy = wire::RouterPolicy {
            version: Version::V2,
            auth_type: 1,
            auth_data: *b"1111\0\0\0\0",
            interval_cs: 100,
            addresses: Some(a.vrrp.addresses.clone()),
        };
        assert_eq!(wire::check_policy(&a, Some(&policy)), Ok(()));
    }
}

#[test]
fn keepalived_v3_ipv4_capture_uses_the_pseudo_header() {
    for f in capture("keepalived-v3-ipv4.pcap") {
        let a = wire::parse_advert_frame(&f).unwrap().unwrap();
        assert_eq!(a.vrrp.version, Version::V3);
        assert_eq!(a.checksum_variant, Some(V3Checksum::PseudoHeader));
        assert_eq!(
            (a.vrrp.vrid, a.vrrp.priority, a.vrrp.interval_cs),
            (50, 100, 100)
        );
        assert_eq!(a.vrrp.auth, None);
    }
}

#[test]
fn keepalived_v3_ipv6_capture() {
    for f in capture("keepalived-v3-ipv6.pcap") {
        let a = wire::parse_advert_frame(&f).unwrap().unwrap();
        assert!(matches!(a.src, IpAddr::V6(s) if s.segments()[0] == 0xfe80));
        assert_eq!(
            (a.vrrp.vrid, a.vrrp.priority, a.vrrp.interval_cs),
            (51, 150, 100)
        );
        assert_eq!(
            a.vrrp.addresses,
            vec![
                IpAddr::V6("fe80::51".parse().unwrap()),
                IpAddr::V6("2001:db8::3".parse().unwrap())
            ]
        );
    }
}
