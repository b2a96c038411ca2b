//! VRRP adverts: version 2 (RFC 3768, with RFC 2338's authentication) and version 3
//! (RFC 5798 / RFC 9568).
//!
//! ```text
//! v2 (RFC 3768 §5.1)
//!  0                   1                   2                   3
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! |                         IP Address (1)                        |
//! |                            ...                                |
//! |                     Authentication Data (1)                   |
//! |                     Authentication Data (2)                   |
//!
//! v3 (RFC 5798 §5.1)
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                       IPvX Address(es)                        |
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::{DropReason, proto::VRRP_TYPE_ADVERT};

use crate::config::Version;

mod field {
    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    pub const AUTH_TYPE: usize = 4;
    pub const ADVER_INT: usize = 5;
    pub const MAX_ADVER_INT: std::ops::Range<usize> = 4..6;
    pub const CHECKSUM: std::ops::Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// Length of the fixed header, both versions.
pub const HEADER_LEN: usize = 8;
/// Length of v2's authentication data.
pub const AUTH_LEN: usize = 8;

/// A view of a VRRP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer that holds at least the fixed header.
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(DropReason::Truncated);
        }
        Ok(Packet { buffer })
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.b()[field::VER_TYPE] >> 4
    }

    /// The type nibble (1: ADVERTISEMENT).
    pub fn kind(&self) -> u8 {
        self.b()[field::VER_TYPE] & 0x0f
    }

    /// Virtual router id.
    pub fn vrid(&self) -> u8 {
        self.b()[field::VRID]
    }

    /// Priority.
    pub fn priority(&self) -> u8 {
        self.b()[field::PRIORITY]
    }

    /// Address count.
    pub fn count(&self) -> u8 {
        self.b()[field::COUNT]
    }

    /// v2: the authentication type.
    pub fn auth_type(&self) -> u8 {
        self.b()[field::AUTH_TYPE]
    }

    /// The advert interval in centiseconds: v2 seconds × 100, v3 the 12-bit field.
    pub fn interval_cs(&self) -> u32 {
        if self.version() == 2 {
            u32::from(self.b()[field::ADVER_INT]) * 100
        } else {
            let f = &self.b()[field::MAX_ADVER_INT];
            u32::from(u16::from_be_bytes([f[0], f[1]]) & 0x0fff)
        }
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        let f = &self.b()[field::CHECKSUM];
        u16::from_be_bytes([f[0], f[1]])
    }

    /// The bytes after the fixed header (addresses, then v2's authentication data).
    pub fn payload(&self) -> &[u8] {
        &self.b()[field::ADDRESSES..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, c: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// v2 authentication (RFC 2338 §5.3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth {
    /// 0 none, 1 simple text password (keepalived's PASS), 2 IP AH.
    pub kind: u8,
    /// The 8 bytes of authentication data (the password, zero-padded).
    pub data: [u8; AUTH_LEN],
}

/// An advert's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repr {
    /// Version.
    pub version: Version,
    /// Virtual router id.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Interval in centiseconds (v2: a multiple of 100, at most 255 s; v3: at most 4095).
    pub interval_cs: u32,
    /// The addresses, all of one family.
    pub addresses: Vec<IpAddr>,
    /// v2's authentication (`None` for v3).
    pub auth: Option<Auth>,
}

/// Most addresses one advert lists: its count field is 8 bits (keepalived's `VRRP_MAX_ADDR`).
pub const MAX_ADDRESSES: usize = 255;

/// The largest MTU an advert is sized for: keepalived's `DEFAULT_MTU`. On an interface with a
/// smaller MTU the configuration lists fewer addresses (see `max_addresses`); the encoder
/// never builds a message for more than this.
pub const ADVERT_MTU: usize = 1500;

/// How many addresses an advert of this version and family lists on a link with this MTU, as
/// keepalived computes it (`vrrp_complete_instance`): what fits after the Ethernet, IP and VRRP
/// headers (and v2's authentication data), at most [`MAX_ADDRESSES`]. keepalived manages the
/// VIPs beyond that without listing them; so does vrrpd (`vrrpd check` warns).
pub fn max_addresses(version: Version, ipv6: bool, mtu: usize) -> usize {
    const ETHERNET: usize = 14;
    let fits = if ipv6 {
        mtu.saturating_sub(ETHERNET + 40 + HEADER_LEN) / 16
    } else {
        let auth = if version == Version::V2 { AUTH_LEN } else { 0 };
        mtu.saturating_sub(ETHERNET + 20 + HEADER_LEN + auth) / 4
    };
    fits.min(MAX_ADDRESSES)
}

/// The message length a version, family and count imply.
pub fn expected_len(version: u8, ipv6: bool, count: u8) -> usize {
    let addr = if ipv6 { 16 } else { 4 };
    match version {
        2 => HEADER_LEN + 4 * usize::from(count) + AUTH_LEN,
        _ => HEADER_LEN + addr * usize::from(count),
    }
}

impl Repr {
    /// Parses a message whose length (`packet`'s buffer) came from the IP header, carried over
    /// IPv6 if `ipv6`. Checks, in RFC 5798 §7.1 order after the IP layer's: version (2 only over
    /// IPv4), type, length against the count (v3: count ≥ 1); not the checksum (see
    /// `advert`), nor the interval.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, ipv6: bool) -> Result<Repr, DropReason> {
        let version = match packet.version() {
            2 if !ipv6 => Version::V2,
            3 => Version::V3,
            _ => return Err(DropReason::BadVersion),
        };
        if packet.kind() != VRRP_TYPE_ADVERT {
            return Err(DropReason::BadType);
        }
        let count = packet.count();
        let len = packet.b().len();
        if len != expected_len(packet.version(), ipv6, count)
            || (version == Version::V3 && count == 0)
        {
            return Err(DropReason::BadLength);
        }
        let p = packet.payload();
        let addresses = if ipv6 {
            p.chunks_exact(16)
                .take(count.into())
                .map(|c| IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(c).unwrap_or([0; 16]))))
                .collect()
        } else {
            p.chunks_exact(4)
                .take(count.into())
                .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
                .collect()
        };
        let auth = (version == Version::V2).then(|| {
            let mut data = [0u8; AUTH_LEN];
            data.copy_from_slice(&p[4 * usize::from(count)..][..AUTH_LEN]);
            Auth {
                kind: packet.auth_type(),
                data,
            }
        });
        Ok(Repr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            interval_cs: packet.interval_cs(),
            addresses,
            auth,
        })
    }

    /// Whether the addresses are IPv6.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.addresses.first(), Some(IpAddr::V6(_)))
    }

    /// The addresses the message lists: the first [`max_addresses`] of them at
    /// [`ADVERT_MTU`].
    pub fn listed(&self) -> &[IpAddr] {
        let n = max_addresses(self.version, self.is_ipv6(), ADVERT_MTU);
        &self.addresses[..self.addresses.len().min(n)]
    }

    /// Bytes the message takes.
    pub fn buffer_len(&self) -> usize {
        // `listed` holds at most MAX_ADDRESSES (255), so the count fits in a u8.
        let count = u8::try_from(self.listed().len()).unwrap_or(u8::MAX);
        expected_len(u8::from(self.version), self.is_ipv6(), count)
    }

    /// Writes the message into `buf[..self.buffer_len()]`, with the checksum over the message
    /// plus `pseudo` (the pseudo-header's sum, or 0 for none). Only [`Self::listed`] addresses
    /// are written. A shorter `buf` is left as it is (callers size it with `buffer_len`).
    pub fn emit(&self, buf: &mut [u8], pseudo: u32) {
        let len = self.buffer_len();
        let Some(buf) = buf.get_mut(..len) else {
            return;
        };
        let listed = self.listed();
        buf[field::VER_TYPE] = (u8::from(self.version) << 4) | VRRP_TYPE_ADVERT;
        buf[field::VRID] = self.vrid;
        buf[field::PRIORITY] = self.priority;
        buf[field::COUNT] = u8::try_from(listed.len()).unwrap_or(u8::MAX);
        match self.version {
            Version::V2 => {
                buf[field::AUTH_TYPE] = self.auth.map_or(0, |a| a.kind);
                buf[field::ADVER_INT] = (self.interval_cs / 100).min(255) as u8;
            }
            Version::V3 => {
                let i = (self.interval_cs.min(4095)) as u16;
                buf[field::MAX_ADVER_INT].copy_from_slice(&i.to_be_bytes());
            }
        }
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let mut off = field::ADDRESSES;
        for a in listed {
            match a {
                IpAddr::V4(v4) => {
                    buf[off..off + 4].copy_from_slice(&v4.octets());
                    off += 4;
                }
                IpAddr::V6(v6) => {
                    buf[off..off + 16].copy_from_slice(&v6.octets());
                    off += 16;
                }
            }
        }
        if self.version == Version::V2 {
            buf[off..off + AUTH_LEN].copy_from_slice(&self.auth.map_or([0; 8], |a| a.data));
        }
        let c = super::checksum::finish(super::checksum::combine(&[
            super::checksum::sum(buf),
            pseudo,
        ]));
        Packet::new_unchecked(&mut *buf).set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(n: usize) -> Vec<IpAddr> {
        (0..n)
            .map(|i| IpAddr::V4(Ipv4Addr::new(198, 51, (i / 250) as u8, (i % 250) as u8 + 1)))
            .collect()
    }

    fn v6(n: usize) -> Vec<IpAddr> {
        (0..n)
            .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1)))
            .collect()
    }

    fn repr(version: Version, addresses: Vec<IpAddr>) -> Repr {
        Repr {
            version,
            vrid: 51,
            priority: 100,
            interval_cs: 100,
            addresses,
            auth: (version == Version::V2).then_some(Auth {
                kind: 1,
                data: *b"secret12",
            }),
        }
    }

    #[test]
    fn keepalived_limits() {
        assert_eq!(max_addresses(Version::V2, false, 1500), 255);
        assert_eq!(max_addresses(Version::V3, false, 1500), 255);
        // (1500 - 14 - 40 - 8) / 16, and on a 1400-byte link 83, as keepalived 2.2.7 said.
        assert_eq!(max_addresses(Version::V3, true, 1500), 89);
        assert_eq!(max_addresses(Version::V3, true, 1400), 83);
        // (1000 - 14 - 20 - 8 - 8) / 4
        assert_eq!(max_addresses(Version::V2, false, 1000), 237);
        assert_eq!(max_addresses(Version::V3, true, 0), 0);
    }

    /// 300 IPv4 VIPs: the count field holds 255, the message lists the first 255, and it
    /// parses back (this panicked with "range end index 196 out of range").
    #[test]
    fn more_than_255_addresses_list_the_first_255() {
        for version in [Version::V2, Version::V3] {
            let r = repr(version, v4(300));
            let len = r.buffer_len();
            assert_eq!(len, expected_len(u8::from(version), false, 255));
            let mut buf = vec![0u8; len];
            r.emit(&mut buf, 0);
            assert_eq!(buf[field::COUNT], 255);
            let back = Repr::parse(&Packet::new_checked(&buf[..]).unwrap(), false).unwrap();
            assert_eq!(back.addresses, r.addresses[..255]);
        }
    }

    /// IPv6: 100 VIPs would make a 1648-byte packet; the advert lists 89 and stays within
    /// the 1500-byte MTU, Ethernet header included.
    #[test]
    fn ipv6_adverts_fit_the_mtu() {
        for n in [89, 90, 100, 255, 300] {
            let r = repr(Version::V3, v6(n));
            let frame = crate::wire::emit_advert_frame(
                &r,
                "fe80::1".parse().unwrap(),
                crate::config::V3Checksum::PseudoHeader,
            );
            assert!(frame.len() <= 14 + ADVERT_MTU, "{n}: {} bytes", frame.len());
            let adv = crate::wire::parse_advert_frame(&frame).unwrap().unwrap();
            assert_eq!(adv.vrrp.addresses.len(), n.min(89), "{n}");
            assert_eq!(adv.vrrp.addresses, r.addresses[..n.min(89)]);
        }
    }

    #[test]
    fn a_short_buffer_is_not_a_panic() {
        let r = repr(Version::V3, v4(3));
        let mut buf = vec![0u8; 4];
        r.emit(&mut buf, 0);
        assert_eq!(buf, [0; 4]);
    }
}
