//! Tier 3: the XDP program in the kernel, on crafted frames (BPF_PROG_TEST_RUN) and live on a
//! veth pair in network namespaces.
mod common;

use vrrp_userspace::dataplane::{Dataplane, FrameClass, verdict};

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
fn kernel_test_run_classifies_and_passes_every_frame() {
    if !common::privileged("kernel_test_run_classifies_and_passes_every_frame") {
        return;
    }
    let dp = Dataplane::load().expect("the verifier accepts the program");
    let cases: [(Vec<u8>, FrameClass); 6] = [
        (frame(0x0806, &[0; 28]), FrameClass::Arp),
        (frame(0x0800, &ipv4_with_protocol(112)), FrameClass::VrrpV4),
        (frame(0x0800, &ipv4_with_protocol(17)), FrameClass::Other),
        (
            frame(0x86dd, &ipv6_with_next_header(112)),
            FrameClass::VrrpV6,
        ),
        (frame(0x86dd, &ipv6_with_next_header(58)), FrameClass::Other),
        (frame(0x88cc, &[0; 46]), FrameClass::Other),
    ];
    for (input, class) in &cases {
        let before = dp.class_counts().unwrap();
        let out = dp.test_run(input).expect("test run");
        assert_eq!(out.verdict, verdict::PASS, "{class:?}");
        assert_eq!(
            &out.frame, input,
            "{class:?}: the program must not rewrite this frame"
        );
        let after = dp.class_counts().unwrap();
        for (i, (b, a)) in before.iter().zip(after.iter()).enumerate() {
            let expected = if i == *class as usize { b + 1 } else { *b };
            assert_eq!(*a, expected, "{class:?}: counter {i}");
        }
    }
}

#[test]
fn truncated_ipv4_is_counted_as_other_not_read_past_the_end() {
    if !common::privileged("truncated_ipv4_is_counted_as_other_not_read_past_the_end") {
        return;
    }
    let dp = Dataplane::load().unwrap();
    // An Ethernet header announcing IPv4 with only 10 bytes after it: the protocol byte at
    // offset 9 of the IP header exists, but the 20-byte header does not.
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
    f.extend_from_slice(&[0x45, 0, 0, 20, 0, 0, 0, 0, 255, 112]);
    let out = dp.test_run(&f).unwrap();
    assert_eq!(out.verdict, verdict::PASS);
    assert_eq!(dp.class_counts().unwrap()[FrameClass::Other as usize], 1);
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
    let counts = dp.class_counts().unwrap();
    assert!(counts[FrameClass::Arp as usize] >= 1, "{counts:?}");
    assert!(counts[FrameClass::Other as usize] >= 3, "{counts:?}");
    // bpftool sees the program attached to b's interface.
    let shown = lab.b.exec(&["ip", "-details", "link", "show", &lab.b_if]);
    assert!(shown.contains("xdp"), "{shown}");
    drop(dp);
}
