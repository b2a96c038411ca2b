//! Protocol constants of VRRP (RFC 3768, RFC 5798, RFC 9568) and its neighbours.

/// IP protocol number (IPv4) and next header (IPv6) of VRRP (RFC 5798 §5.2.4).
pub const IPPROTO_VRRP: u8 = 112;
/// TTL / Hop Limit every VRRP advert must carry (RFC 5798 §5.1.1.3, §5.1.2.3).
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP adverts, 224.0.0.18.
pub const VRRP_MCAST_V4: [u8; 4] = [224, 0, 0, 18];
/// IPv6 multicast group of VRRP adverts, ff02::12.
pub const VRRP_MCAST_V6: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
/// The only VRRP packet type, ADVERTISEMENT (RFC 5798 §5.2.2).
pub const VRRP_TYPE_ADVERT: u8 = 1;
/// Length of the fixed VRRP header, both versions.
pub const VRRP_HEADER_LEN: usize = 8;
/// Length of the v2 authentication data (RFC 2338 §5.3.10).
pub const VRRP_AUTH_LEN: usize = 8;

/// v2 authentication type: none (RFC 2338 §5.3.6).
pub const AUTH_NONE: u8 = 0;
/// v2 authentication type: simple text password (RFC 2338 §5.3.6), keepalived's `PASS`.
pub const AUTH_PASS: u8 = 1;
/// v2 authentication type: IP Authentication Header (RFC 2338 §5.3.6), keepalived's `AH`.
pub const AUTH_AH: u8 = 2;

/// IPv6 next header of ICMPv6.
pub const IPPROTO_ICMPV6: u8 = 58;
/// ICMPv6 type of a neighbour solicitation (RFC 4861 §4.3).
pub const ND_NEIGHBOR_SOLICIT: u8 = 135;
/// ICMPv6 type of a neighbour advertisement (RFC 4861 §4.4).
pub const ND_NEIGHBOR_ADVERT: u8 = 136;
/// Neighbour advertisement flags (RFC 4861 §4.4): Router, Solicited, Override.
pub const ND_NA_ROUTER: u8 = 0x80;
/// See [`ND_NA_ROUTER`].
pub const ND_NA_SOLICITED: u8 = 0x40;
/// See [`ND_NA_ROUTER`].
pub const ND_NA_OVERRIDE: u8 = 0x20;
/// Neighbour discovery option types (RFC 4861 §4.6.1): source and target link-layer address.
pub const ND_OPT_SOURCE_LLADDR: u8 = 1;
/// See [`ND_OPT_SOURCE_LLADDR`].
pub const ND_OPT_TARGET_LLADDR: u8 = 2;

/// EtherType of IPv4.
pub const ETH_P_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q VLAN tag.
pub const ETH_P_8021Q: u16 = 0x8100;
/// EtherType of an 802.1ad (QinQ) service tag.
pub const ETH_P_8021AD: u16 = 0x88a8;

/// The virtual MAC of an IPv4 virtual router: 00-00-5E-00-01-{VRID} (RFC 5798 §7.3).
pub const fn vmac_v4(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x01, vrid]
}

/// The virtual MAC of an IPv6 virtual router: 00-00-5E-00-02-{VRID} (RFC 5798 §7.3).
pub const fn vmac_v6(vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, 0x02, vrid]
}
