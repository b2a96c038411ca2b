//! Emit then parse is the identity, for arbitrary adverts of both versions and families; and
//! every frame we emit is decoded by tshark as valid VRRP/ARP/ICMPv6, with no malformed or
//! bad-checksum warning.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use vrrp_userspace::{
    config::{V3Checksum, Version},
    wire::{self, arp, icmpv6, vrrp},
};

fn arb_advert() -> impl Strategy<Value = (vrrp::Repr, IpAddr, V3Checksum)> {
    (
        any::<bool>(),
        any::<bool>(),
        1u8..=255,
        any::<u8>(),
        1u32..=4095,
        1usize..=20,
        any::<[u8; 8]>(),
        any::<bool>(),
        any::<u32>(),
        any::<u128>(),
    )
        .prop_map(|(v3, ipv6, vrid, priority, int, n, pw, msg_only, a4, a6)| {
            let version = if v3 || ipv6 { Version::V3 } else { Version::V2 };
            let interval_cs = if version == Version::V2 {
                (int % 255 + 1) * 100
            } else {
                int
            };
            let addresses = (0..n)
                .map(|i| {
                    if ipv6 {
                        IpAddr::V6(Ipv6Addr::from(a6.wrapping_add(i as u128)))
                    } else {
                        IpAddr::V4(Ipv4Addr::from(a4.wrapping_add(i as u32)))
                    }
                })
                .collect();
            let src = if ipv6 {
                IpAddr::V6("fe80::5".parse().unwrap())
            } else {
                IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5))
            };
            let repr = vrrp::Repr {
                version,
                vrid,
                priority,
                interval_cs,
                addresses,
                auth: (version == Version::V2).then_some(vrrp::Auth { kind: 1, data: pw }),
            };
            let variant = if msg_only {
                V3Checksum::MessageOnly
            } else {
                V3Checksum::PseudoHeader
            };
            (repr, src, variant)
        })
}

proptest! {
    #[test]
    fn emit_then_parse_is_identity((repr, src, variant) in arb_advert()) {
        let frame = wire::emit_advert_frame(&repr, src, variant);
        let advert = wire::parse_advert_frame(&frame).unwrap().expect("VRRP");
        prop_assert_eq!(&advert.vrrp, &repr);
        prop_assert_eq!(advert.src, src);
        if repr.version == Version::V3 && src.is_ipv4() {
            prop_assert_eq!(advert.checksum_variant, Some(variant));
        }
    }

    #[test]
    fn any_single_byte_change_in_the_message_is_caught(
        (repr, src, variant) in arb_advert(),
        pos in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut frame = wire::emit_advert_frame(&repr, src, variant);
        let start = if src.is_ipv4() { 34 } else { 54 };
        let i = start + pos.index(repr.buffer_len());
        frame[i] ^= flip;
        prop_assert!(wire::parse_advert_frame(&frame).map(|a| a.map(|a| a.vrrp)) != Ok(Some(repr)));
    }
}

/// Every kind of frame we emit, for tshark.
fn emitted() -> Vec<Vec<u8>> {
    let v4 = |version, auth| vrrp::Repr {
        version,
        vrid: 50,
        priority: 100,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3))],
        auth,
    };
    let src4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4));
    let src6: Ipv6Addr = "fe80::4".parse().unwrap();
    let v6 = vrrp::Repr {
        version: Version::V3,
        vrid: 50,
        priority: 100,
        interval_cs: 100,
        addresses: vec![
            IpAddr::V6("fe80::50".parse().unwrap()),
            IpAddr::V6("2001:db8::3".parse().unwrap()),
        ],
        auth: None,
    };
    let vmac = [0, 0, 0x5e, 0, 1, 50];
    let request = arp::Repr {
        op: arp::Operation::Request,
        sha: [2, 0, 0, 0, 0, 10],
        spa: Ipv4Addr::new(192, 0, 2, 10),
        tha: [0; 6],
        tpa: Ipv4Addr::new(192, 0, 2, 3),
    };
    vec![
        wire::emit_advert_frame(
            &v4(
                Version::V2,
                Some(vrrp::Auth {
                    kind: 1,
                    data: *b"1111\0\0\0\0",
                }),
            ),
            src4,
            V3Checksum::PseudoHeader,
        ),
        wire::emit_advert_frame(&v4(Version::V3, None), src4, V3Checksum::PseudoHeader),
        wire::emit_advert_frame(&v6, IpAddr::V6(src6), V3Checksum::PseudoHeader),
        request.frame([0xff; 6], request.sha),
        arp::reply_to(&request, vmac).frame(request.sha, vmac),
        arp::garp(vmac, Ipv4Addr::new(192, 0, 2, 3)),
        icmpv6::unsolicited_na([0, 0, 0x5e, 0, 2, 50], "2001:db8::3".parse().unwrap(), true),
    ]
}

fn tshark() -> Option<std::path::PathBuf> {
    let found = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok();
    if found {
        return Some("tshark".into());
    }
    if std::env::var_os("CI").is_some() {
        panic!("tshark is not installed, and CI is set: `cargo xtask setup` installs it");
    }
    eprintln!("SKIPPED tshark test: tshark is not installed (cargo xtask setup installs it)");
    None
}

#[test]
fn tshark_decodes_what_we_emit_without_complaint() {
    let Some(tshark) = tshark() else { return };
    let dir = std::env::temp_dir().join(format!("vrrp-wire-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("emitted.pcap");
    wire::pcap::write(&pcap, &emitted()).unwrap();
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(&tshark)
            .args([
                "-r",
                pcap.to_str().unwrap(),
                "-o",
                "vrrp.v3_checksum_as_in_v2:FALSE",
            ])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let verbose = run(&["-V"]);
    for bad in ["Malformed", "[Bad", "incorrect", "Expert Info (Error"] {
        assert!(!verbose.contains(bad), "tshark says {bad}:\n{verbose}");
    }
    assert_eq!(
        verbose.matches("Virtual Rtr ID: 50").count(),
        3,
        "{verbose}"
    );
    assert_eq!(
        verbose.matches("[Checksum Status: Good]").count(),
        3 + 1,
        "VRRP ×3 and ICMPv6:\n{verbose}"
    );
    assert!(verbose.contains("Authentication String: 1111"), "{verbose}");
    let protos = run(&["-T", "fields", "-e", "frame.protocols"]);
    let lines: Vec<&str> = protos.lines().collect();
    assert_eq!(lines.len(), 7);
    for l in &lines[..3] {
        assert!(l.ends_with(":vrrp"), "{l}");
    }
    for l in &lines[3..6] {
        assert!(l.ends_with(":arp"), "{l}");
    }
    assert!(lines[6].ends_with(":icmpv6"), "{}", lines[6]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tshark_accepts_our_message_only_v3_checksum_with_its_rfc9568_setting() {
    let Some(tshark) = tshark() else { return };
    let repr = vrrp::Repr {
        version: Version::V3,
        vrid: 50,
        priority: 100,
        interval_cs: 100,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3))],
        auth: None,
    };
    let src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4));
    let dir = std::env::temp_dir().join(format!("vrrp-wire-mo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("message-only.pcap");
    wire::pcap::write(
        &pcap,
        &[wire::emit_advert_frame(&repr, src, V3Checksum::MessageOnly)],
    )
    .unwrap();
    let decode = |pref: &str| {
        let out = std::process::Command::new(&tshark)
            .args([
                "-r",
                pcap.to_str().unwrap(),
                "-V",
                "-o",
                &format!("vrrp.v3_checksum_as_in_v2:{pref}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // With tshark's "v3 checksum as in v2" (RFC 9568) the message-only checksum is good; with
    // its default (pseudo-header) the same frame is flagged: the variant really differs.
    assert!(decode("TRUE").contains("[Checksum Status: Good]"));
    assert!(decode("FALSE").contains("[Checksum Status: Bad]"));
    let _ = std::fs::remove_dir_all(&dir);
}
