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

    /// Bytes the message takes.
    pub fn buffer_len(&self) -> usize {
        expected_len(
            u8::from(self.version),
            self.is_ipv6(),
            self.addresses.len() as u8,
        )
    }

    /// Writes the message into `buf[..self.buffer_len()]`, with the checksum over the message
    /// plus `pseudo` (the pseudo-header's sum, or 0 for none).
    pub fn emit(&self, buf: &mut [u8], pseudo: u32) {
        let buf = &mut buf[..self.buffer_len()];
        buf[field::VER_TYPE] = (u8::from(self.version) << 4) | VRRP_TYPE_ADVERT;
        buf[field::VRID] = self.vrid;
        buf[field::PRIORITY] = self.priority;
        buf[field::COUNT] = self.addresses.len() as u8;
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
        for a in &self.addresses {
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
