//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP uses.
//!
//! Sums are kept unfolded in a `u32` of 16-bit big-endian words; [`combine`] adds partial sums
//! and [`finish`] folds and complements. Which VRRP messages include which pseudo-header:
//! v2 none (RFC 3768 §5.3.8); v3 over IPv6 the RFC 8200 one; v3 over IPv4 either the IPv4 one
//! (keepalived's and FRR's default) or none (RFC 9568, keepalived's `v3_checksum_as_v2`).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The one's complement sum of `data` as 16-bit big-endian words (a trailing odd byte is
/// padded with zero), unfolded.
pub fn sum(data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    let mut s: u32 = 0;
    for c in &mut chunks {
        s = s.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        s = (s & 0xffff) + (s >> 16);
    }
    if let [b] = chunks.remainder() {
        s += u32::from(*b) << 8;
    }
    s
}

/// Adds partial sums.
pub fn combine(sums: &[u32]) -> u32 {
    sums.iter().fold(0u32, |a, s| {
        let t = u64::from(a) + u64::from(*s);
        ((t & 0xffff_ffff) + (t >> 32)) as u32
    })
}

/// Folds a sum to 16 bits (without complementing).
pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// The checksum field's value for a sum taken with that field zero: the folded complement.
pub fn finish(s: u32) -> u16 {
    !fold(s)
}

/// Whether a sum taken over data that includes its checksum field verifies.
pub fn verifies(s: u32) -> bool {
    fold(s) == 0xffff
}

/// The IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: u16) -> u32 {
    combine(&[
        sum(&src.octets()),
        sum(&dst.octets()),
        u32::from(protocol),
        u32::from(len),
    ])
}

/// The IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit upper-layer length,
/// three zero bytes, next header.
pub fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, len: u32) -> u32 {
    combine(&[
        sum(&src.octets()),
        sum(&dst.octets()),
        sum(&len.to_be_bytes()),
        u32::from(next_header),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        assert_eq!(
            fold(sum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn combine_equals_sum_of_concatenation() {
        let a = [0xff, 0xff, 0x80, 0x01];
        let b = [0x7f, 0xff, 0x00, 0x02];
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        assert_eq!(fold(combine(&[sum(&a), sum(&b)])), fold(sum(&whole)));
    }
}
