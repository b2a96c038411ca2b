//! Any bytes as an ARP packet and as an ICMPv6 neighbour discovery message: a value or None,
//! never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vrrp_userspace::wire::{arp, icmpv6};

fuzz_target!(|data: &[u8]| {
    let _ = arp::Repr::parse(data);
    let src = "fe80::1".parse().unwrap();
    let dst = "ff02::1".parse().unwrap();
    let _ = icmpv6::Repr::parse(data, src, dst);
});
