//! Why a frame claiming to be a VRRP advert was rejected.
//!
//! One enum for both sides: the XDP program counts drops in a per-CPU array indexed by
//! `DropReason as u32`, and the userspace parser (`vrrp_userspace::wire`) returns the same
//! values, so a differential test can compare the two classifications one to one.

/// The reason a VRRP advert was dropped, in the order of the RFC 5798 §7.1 receive checks.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The frame ends before the headers it announces (Ethernet, VLAN, IP or VRRP fixed part).
    Truncated = 0,
    /// The IP header is malformed: IPv4 IHL below 5, total length shorter than the header or
    /// longer than the frame, a fragment, or an IPv6 payload length beyond the frame.
    BadIpHeader = 1,
    /// TTL (IPv4) or Hop Limit (IPv6) is not 255 (RFC 5798 §7.1 item 2).
    BadTtl = 2,
    /// VRRP version is neither 2 nor 3, or not the version configured for the router.
    BadVersion = 3,
    /// VRRP type is not ADVERTISEMENT (1).
    BadType = 4,
    /// The VRID is not configured on this interface (RFC 5798 §7.1 item 5).
    UnknownVrid = 5,
    /// The VRRP length does not match the address count (and the auth data for v2), or the
    /// count is zero in v3 (RFC 5798 §5.2.5), or the IPv4 source is not a unicast address.
    BadLength = 6,
    /// The VRRP checksum is wrong (RFC 5798 §5.2.8; v2 RFC 3768 §5.3.8).
    BadChecksum = 7,
    /// v2: the authentication type differs from the configured one (RFC 2338 §7.1).
    AuthTypeMismatch = 8,
    /// v2: the PASS authentication data differs from the configured password.
    BadPassword = 9,
    /// The advert interval is zero, or (v2) differs from the configured one (RFC 3768 §7.1).
    BadInterval = 10,
    /// The advert lists other addresses than ours: another count, or (the count the same)
    /// another set ([`crate::maps::RouterConfig::addr_print`]). keepalived 2.2.7 drops such
    /// adverts ("received an unexpected ip number count", "ip address associated with VRID
    /// not present in MASTER advert"): always while master, while backup unless
    /// `skip_check_adv_addr` and the sender is the master it already follows (RFC 5798 §7.1:
    /// MAY verify them).
    AddressList = 11,
}

impl DropReason {
    /// Number of reasons: the length of the per-CPU counter arrays.
    pub const COUNT: usize = 12;

    /// Every reason, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::Truncated,
        DropReason::BadIpHeader,
        DropReason::BadTtl,
        DropReason::BadVersion,
        DropReason::BadType,
        DropReason::UnknownVrid,
        DropReason::BadLength,
        DropReason::BadChecksum,
        DropReason::AuthTypeMismatch,
        DropReason::BadPassword,
        DropReason::BadInterval,
        DropReason::AddressList,
    ];

    /// A short snake_case name, used in counters, status output and logs.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadIpHeader => "bad_ip_header",
            DropReason::BadTtl => "bad_ttl",
            DropReason::BadVersion => "bad_version",
            DropReason::BadType => "bad_type",
            DropReason::UnknownVrid => "unknown_vrid",
            DropReason::BadLength => "bad_length",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::AuthTypeMismatch => "auth_type_mismatch",
            DropReason::BadPassword => "bad_password",
            DropReason::BadInterval => "bad_interval",
            DropReason::AddressList => "address_list",
        }
    }

    /// The reason with counter index `i`, if any.
    pub const fn from_index(i: u32) -> Option<DropReason> {
        if (i as usize) < Self::COUNT {
            Some(Self::ALL[i as usize])
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DropReason;

    #[test]
    fn indices_are_dense_and_round_trip() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert_eq!(DropReason::from_index(i as u32), Some(*r));
        }
        assert_eq!(DropReason::from_index(DropReason::COUNT as u32), None);
    }
}
