//! Packet views and representations (smoltcp's `wire` style): Ethernet with VLAN tags, IPv4,
//! IPv6, VRRP v2/v3, ARP, ICMPv6 neighbour discovery; checksums; whole advert frames parsed
//! with the same verdicts as the XDP program; a small pcap reader and writer.
//!
//! Pure: no I/O but `pcap`'s files. Parse errors are `vrrp_common::DropReason`, the reasons the
//! XDP program counts.

pub mod advert;
pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod pcap;
pub mod vrrp;

pub use advert::{
    Advert, RouterPolicy, check_policy, emit_advert_frame, emit_advert_frame_to, multicast_mac,
    parse_advert_frame,
};
