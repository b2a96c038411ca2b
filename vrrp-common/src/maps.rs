//! Keys and values of the XDP program's maps, as both sides see them.
//!
//! Every value is `#[repr(C)]`, padding-free (explicit `_pad` fields, `u32` flags rather than
//! `bool`), with addresses and MACs as byte arrays in network order, and its size checked by a
//! `const` assert. With the `user` feature they implement `aya::Pod`.
//!
//! | map (bpftool name) | kind | key | value |
//! |---|---|---|---|
//! | `VRRP_ROUTERS` | array, 512 | [`router_index`] | [`RouterConfig`] |
//! | `VRRP_ADVERTS` | array, 512 × CPUs, memory-mappable | [`stamp_index`]: CPU × 512 + [`router_index`] | [`AdvertStamp`] |
//! | `VRRP_VIPS` | hash, 1024 | IPv4 VIP, `[u8; 4]` | [`VipEntry`] |
//! | `VRRP_VIPS6` | hash, 1024 | IPv6 VIP, `[u8; 16]` | [`Vip6Entry`] |
//! | `VRRP_VIPSLOTS` | array, 256 | last byte of a VIP (either family) | [`VipSlot`] |
//! | `VRRP_IFACE` | array, 1 | 0 | [`IfaceConfig`] |
//! | `VRRP_CLOCK` | per-CPU array, 1 | 0 | [`TickClock`] |
//! | `VRRP_TAKEOVER` | array, 512 | [`router_index`] | `u64`: see [`IfaceConfig::hold_ns`] |
//! | `VRRP_DROPS` | per-CPU array, 256 | VRID (0: before the VRID is known) | [`DropCounts`] |
//! | `VRRP_COUNTERS` | per-CPU array, [`Counter::COUNT`] | [`Counter`] | `u64` |
//! | `VRRP_EVENTS` | ring buffer | | [`Event`] |

use crate::DropReason;

/// Routers per family: VRIDs 1..=255 (index 0 unused).
pub const ROUTERS_PER_FAMILY: u32 = 256;
/// Entries of the router-indexed maps: IPv4 routers at 0..256, IPv6 routers at 256..512.
pub const ROUTER_SLOTS: u32 = 2 * ROUTERS_PER_FAMILY;
/// Entries of `VRRP_VIPS`, and of `VRRP_VIPS6`.
pub const MAX_VIPS: u32 = 1024;
/// Bytes of the ring buffer `VRRP_EVENTS` (a power of two, a multiple of the page size).
pub const EVENTS_BYTES: u32 = 64 * 1024;

/// Address family of a virtual router.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    Ipv4 = 0,
    Ipv6 = 1,
}

/// The index of (family, VRID) in the router-indexed maps.
pub const fn router_index(family: Family, vrid: u8) -> u32 {
    (family as u32) * ROUTERS_PER_FAMILY + vrid as u32
}

/// The key of CPU `cpu`'s stamp of router `router` ([`router_index`]) in `VRRP_ADVERTS`: each
/// CPU writes only its own [`ROUTER_SLOTS`] stamps, one block a CPU (so `bpftool map lookup
/// name VRRP_ADVERTS key 50 0 0 0` is CPU 0's stamp of IPv4 VRID 50, `key 50 2 0 0` CPU 1's).
/// The map is an array of `ROUTER_SLOTS` × the host's possible CPUs, memory-mapped by the
/// daemon, which reads the stamps without a system call (see [`AdvertStamp::seq`]).
pub const fn stamp_index(cpu: u32, router: u32) -> u32 {
    cpu * ROUTER_SLOTS + router
}

/// `BPF_F_MMAPABLE`: an array map user space can map into its memory.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// [`RouterConfig::flags`]: the router is configured on this interface.
pub const ROUTER_CONFIGURED: u32 = 1 << 0;
/// [`RouterConfig::flags`]: this node is master (Active Router): answer ARP for its VIPs from
/// the VMAC and accept frames to the VMAC.
pub const ROUTER_MASTER: u32 = 1 << 1;
/// [`RouterConfig::flags`]: this node owns the addresses (priority 255).
pub const ROUTER_OWNER: u32 = 1 << 2;
/// [`RouterConfig::flags`]: neighbour advertisements for this router's IPv6 VIPs carry the
/// Router flag (the interface forwards IPv6, as keepalived and the kernel decide it).
pub const ROUTER_ND_ROUTER: u32 = 1 << 3;
/// [`RouterConfig::flags`]: v3 over IPv4, this router's adverts are checksummed over the
/// message only (`v3_checksum_as_v2`); clear: with the pseudo-header. A valid advert checksummed
/// the other way counts as [`Counter::AdvertOtherChecksum`] and wakes the controller
/// ([`EventKind::ChecksumMismatch`]).
pub const ROUTER_CSUM_MSG_ONLY: u32 = 1 << 4;
/// [`RouterConfig::flags`]: Accept_Mode off (keepalived's `no_accept`, or `vrrp_strict`'s
/// default) and not the address owner: while master, IPv4 and IPv6 packets to this router's
/// VIPs are dropped ([`Counter::NoAcceptDropped`]), except VRRP and ICMPv6 neighbour
/// solicitations and advertisements (ARP is not IP); keepalived installs the same drop in
/// nftables/iptables while it holds the VIPs. Looked for only on an interface with
/// [`IFACE_NO_ACCEPT`].
pub const ROUTER_NO_ACCEPT: u32 = 1 << 5;
/// [`RouterConfig::flags`]: compare the addresses an advert lists with ours
/// ([`RouterConfig::addr_count`], [`RouterConfig::addr_print`]) and drop it as
/// [`DropReason::AddressList`] if they differ, as keepalived 2.2.7 does.
pub const ROUTER_CHECK_ADDRS: u32 = 1 << 6;
/// [`RouterConfig::flags`]: our list names an address twice, so only the count is compared
/// (keepalived 2.2.7 then asks only that each of ours be somewhere in the advert, which a
/// fingerprint of the whole list cannot tell).
pub const ROUTER_ADDRS_COUNT_ONLY: u32 = 1 << 7;
/// [`RouterConfig::flags`]: `skip_check_adv_addr`: while not master, an advert from the
/// sender last stamped on this CPU (the master we follow) is not compared.
pub const ROUTER_SKIP_SAME_SENDER: u32 = 1 << 8;
/// [`RouterConfig::flags`]: our adverts list one IPv4 address (the common case), which
/// [`RouterConfig::addr_print`] holds as it is (its four bytes as a little-endian word):
/// compared with one load, without the fingerprint's arithmetic.
pub const ROUTER_ADDR_ONE4: u32 = 1 << 9;

/// What the controller tells the program about one virtual router (`VRRP_ROUTERS`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// `ROUTER_*` bits.
    pub flags: u32,
    /// VRRP version in use, 2 or 3.
    pub version: u32,
    /// v2 authentication type expected (0 none, 1 PASS).
    pub auth_type: u32,
    /// v2: the configured advert interval in centiseconds (adverts with another are dropped).
    pub interval_cs: u32,
    /// Our current (effective) priority, for spotting a superior advert while master.
    pub priority: u32,
    /// The number of addresses our adverts list ([`ROUTER_CHECK_ADDRS`]).
    pub addr_count: u32,
    /// v2 PASS password, zero-padded to 8 bytes.
    pub auth_data: [u8; 8],
    /// Our primary address (IPv4 in the first 4 bytes, the rest zero; or the IPv6
    /// link-local), for the equal-priority tie-break.
    pub primary: [u8; 16],
    /// The fingerprint of the addresses our adverts list ([`ROUTER_CHECK_ADDRS`]): the sum of
    /// [`address_print`] over them, whatever their order; the address itself for one IPv4
    /// address ([`ROUTER_ADDR_ONE4`]).
    pub addr_print: u64,
}

impl RouterConfig {
    /// A configured router: `version` 2 or 3, `password` for v2 PASS (`None`: no
    /// authentication), its interval and our priority, our primary address (IPv4 in the first
    /// four bytes), and whether we are master.
    pub const fn new(
        version: u32,
        password: Option<[u8; 8]>,
        interval_cs: u32,
        priority: u32,
        primary: [u8; 16],
        master: bool,
    ) -> Self {
        let (auth_type, auth_data) = match password {
            Some(p) => (1, p),
            None => (0, [0; 8]),
        };
        RouterConfig {
            flags: ROUTER_CONFIGURED | if master { ROUTER_MASTER } else { 0 },
            version,
            auth_type,
            interval_cs,
            priority,
            addr_count: 0,
            auth_data,
            primary,
            addr_print: 0,
        }
    }

    /// The same, comparing the addresses of each advert with `addresses` (IPv6 if `ipv6`, else
    /// IPv4 in the first four bytes of each), as [`ROUTER_CHECK_ADDRS`] says.
    pub fn with_addresses(mut self, ipv6: bool, addresses: &[[u8; 16]]) -> Self {
        self.flags |= ROUTER_CHECK_ADDRS;
        self.addr_count = addresses.len() as u32;
        let mut print = 0u64;
        for (i, a) in addresses.iter().enumerate() {
            if addresses[..i].contains(a) {
                self.flags |= ROUTER_ADDRS_COUNT_ONLY;
            }
            print = print.wrapping_add(address_print(ipv6, a));
        }
        self.addr_print = print;
        if let [a] = addresses
            && !ipv6
        {
            self.flags |= ROUTER_ADDR_ONE4;
            self.addr_print = u32::from_le_bytes([a[0], a[1], a[2], a[3]]).into();
        }
        self
    }
}

/// A finaliser of 64 bits (SplitMix64's): every input bit moves every output bit, so that
/// sums of it over two lists differ unless the lists are the same, whatever their structure
/// (a plain sum of the addresses would take {.1, .4} for {.2, .3}; one multiply and one
/// xor-shift still took some pairs of a /24 for others). Not a defence against someone
/// choosing addresses to collide: an attacker who can send adverts can send ours.
#[inline(always)]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One IPv4 address's part of [`RouterConfig::addr_print`]: `word` is its four bytes read as
/// one little-endian word (as the program loads them from the frame).
#[inline(always)]
pub const fn address_print4(word: u32) -> u64 {
    mix64(word as u64)
}

/// One IPv6 address's part of [`RouterConfig::addr_print`]: its bytes 0..8 and 8..16 read as
/// little-endian words. Both halves go through the mixer together, so that two addresses
/// swapping their halves (prefixes and interface identifiers) change the sum.
#[inline(always)]
pub const fn address_print6(high: u64, low: u64) -> u64 {
    mix64(high ^ mix64(low))
}

/// [`address_print4`] or [`address_print6`] of an address given as 16 bytes (IPv4 in the
/// first four).
pub const fn address_print(ipv6: bool, a: &[u8; 16]) -> u64 {
    if ipv6 {
        let high = u64::from_le_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]);
        let low = u64::from_le_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]);
        address_print6(high, low)
    } else {
        address_print4(u32::from_le_bytes([a[0], a[1], a[2], a[3]]))
    }
}

/// The newest valid advert of one router seen on one CPU (`VRRP_ADVERTS`, [`stamp_index`]).
///
/// The precise clock costs more than the rest of a valid advert's checks (an indirect call to
/// the clocksource), so it is read once per router, CPU and kernel tick: the first advert of a
/// tick gets its exact arrival in `time_ns`; later ones in the same tick (a flood, or two
/// adverts bunched by the sender) only count in `same_tick`, and arrived at most one tick
/// after `time_ns`. [`AdvertStamp::arrival_ns`] gives the controller a bound that is never
/// early. An advert that wakes the controller (priority 0, a superior advert to a master, a
/// new sender) is always stamped exactly: a master's priority 0 often follows its last advert
/// within a tick, and Skew_Time must start from it, not a tick later.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdvertStamp {
    /// Arrival of the first advert of tick `tick`, `bpf_ktime_get_ns` (CLOCK_MONOTONIC), ns.
    pub time_ns: u64,
    /// Valid adverts of this router counted on this CPU.
    pub count: u64,
    /// When an advert was last passed to the stack on this CPU (rate limit), nanoseconds.
    pub passed_ns: u64,
    /// Sender's priority.
    pub priority: u32,
    /// Sender's advert interval in centiseconds (v2 seconds × 100).
    pub interval_cs: u32,
    /// Sender's IP source address (IPv4 in the first 4 bytes).
    pub src: [u8; 16],
    /// v3 over IPv4: the checksum variant that matched (0 pseudo-header, 1 message only).
    pub csum_variant: u16,
    /// Sequence count: odd while the CPU writes the stamp, one more after. The daemon reads
    /// the stamps through a mapping while XDP writes them; a copy is whole when it read the
    /// same even count before and after it (the stamp's other fields are written between
    /// the two increments, each a volatile store, in program order).
    pub seq: u16,
    /// Adverts after the first in the same tick (0: `time_ns` is the newest one's arrival).
    pub same_tick: u32,
    /// The kernel tick (jiffies) of `time_ns`.
    pub tick: u64,
}

impl AdvertStamp {
    /// The newest advert's arrival, never earlier than the truth: `time_ns`, or one tick
    /// (`tick_ns`, the kernel's tick length) later when adverts followed in the same tick.
    pub const fn arrival_ns(&self, tick_ns: u64) -> u64 {
        if self.same_tick == 0 {
            self.time_ns
        } else {
            self.time_ns + tick_ns
        }
    }
}

/// Per-CPU cache of the coarse clock by kernel tick (`VRRP_CLOCK`, index 0): the liveness gate
/// reads the coarse clock through it, a load of `jiffies` instead of a helper call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickClock {
    /// The tick (jiffies) `coarse_ns` was read in.
    pub tick: u64,
    /// `bpf_ktime_get_coarse_ns` read during that tick.
    pub coarse_ns: u64,
}

/// One VIP the controller configured (`VRRP_VIPS`, key: the IPv4 address).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VipEntry {
    /// The VRID of the router that carries this VIP.
    pub vrid: u32,
}

/// IPv4 VIPs a [`VipSlot`] holds.
pub const SLOT_WAYS4: usize = 4;
/// IPv6 VIPs a [`VipSlot`] holds.
pub const SLOT_WAYS6: usize = 2;

/// The VIPs (both families) that end in one byte (`VRRP_VIPSLOTS`, key: that byte): the
/// program's direct-mapped index in front of `VRRP_VIPS` and `VRRP_VIPS6`, so that an ARP
/// request or neighbour solicitation costs one array lookup and a few compares instead of a
/// hash lookup. The controller rebuilds a slot from the hash maps (which stay the record)
/// whenever a VIP ending in its byte comes or goes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VipSlot {
    /// IPv6 VIPs, network order (first: 8-byte aligned).
    pub addr6: [[u8; 16]; SLOT_WAYS6],
    /// IPv4 VIPs, network order.
    pub addr4: [[u8; 4]; SLOT_WAYS4],
    /// [`router_index`] of each IPv4 way's router; 0: the way is empty.
    pub router4: [u32; SLOT_WAYS4],
    /// [`router_index`] of each IPv6 way's router; 0: the way is empty.
    pub router6: [u32; SLOT_WAYS6],
    /// IPv4 VIPs ending in this byte that did not fit in the ways: look in `VRRP_VIPS`.
    pub more4: u32,
    /// IPv6 VIPs ending in this byte that did not fit in the ways: look in `VRRP_VIPS6`.
    pub more6: u32,
}

/// One IPv6 VIP the controller configured (`VRRP_VIPS6`, key: the IPv6 address).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vip6Entry {
    /// [`router_index`] of the router that carries this VIP: an IPv6 router, or an IPv4 one
    /// whose `virtual_ipaddress_excluded` holds it (answered from that router's VMAC).
    pub router: u32,
}

/// Per-interface settings and the controller's heartbeat (`VRRP_IFACE`, index 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceConfig {
    /// The controller's last heartbeat, CLOCK_MONOTONIC nanoseconds.
    pub heartbeat_ns: u64,
    /// How old the heartbeat may get before it is stale (one and a half of the interface's
    /// shortest advert interval: the controller writes it at every wake, at least once an
    /// interval). While it is fresh the gate is open.
    pub stale_after_ns: u64,
    /// While the heartbeat is stale (the controller died, its program lives on), the gate stays
    /// open for one router until the first valid advert of another router for it (priority
    /// above 0) arrives after the last heartbeat (the new master: `VRRP_TAKEOVER` holds its
    /// arrival), and at most until the heartbeat is `hold_ns` old, so that a dead node whose
    /// backup never takes over stops answering too. 0 (or anything up to `stale_after_ns`):
    /// the gate closes as soon as the heartbeat is stale.
    pub hold_ns: u64,
    /// Minimum gap between valid adverts of one router passed to the stack, per CPU.
    pub pass_gap_ns: u64,
    /// The interface's own MAC: frames to an active VMAC are rewritten to it.
    pub mac: [u8; 6],
    /// Explicit padding; zero.
    pub _pad: [u8; 2],
    /// `IFACE_*` bits.
    pub flags: u32,
    /// The VLAN tags of the frames this program's routers are on, as [`vlan_key`] encodes them
    /// (0: untagged). Frames with other tags are not ours: passed untouched, never judged or
    /// answered.
    pub vlan: u32,
}

/// [`IfaceConfig::flags`]: vrrpd is the host's only VRRP speaker on this interface (global_defs
/// `vrrpd_exclusive`): adverts for VRIDs it does not run are dropped (`unknown_vrid`) instead
/// of passed to the stack for another speaker (keepalived) to see.
pub const IFACE_EXCLUSIVE: u32 = 1 << 0;
/// [`IfaceConfig::flags`]: a router of this interface has [`ROUTER_NO_ACCEPT`]: the program
/// looks up the destination of every IP frame of the routers' VLAN among the VIPs (without this
/// flag an IP frame other than VRRP costs no lookup).
pub const IFACE_NO_ACCEPT: u32 = 1 << 1;

/// The key of a frame's VLAN tags (outer first, at most two), as the program compares it with
/// [`IfaceConfig::vlan`]: each tag is its VLAN id with bit 12 set (so that a priority tag, VLAN
/// id 0, differs from no tag), the outer one in the upper 16 bits. Untagged: 0.
pub const fn vlan_key(outer: Option<u16>, inner: Option<u16>) -> u32 {
    match (outer, inner) {
        (Some(o), Some(i)) => (vlan_tag(o) << 16) | vlan_tag(i),
        (Some(o), None) => vlan_tag(o),
        (None, _) => 0,
    }
}

/// One tag of a [`vlan_key`]: the VLAN id (the TCI's low 12 bits) with bit 12 set.
pub const fn vlan_tag(tci: u16) -> u32 {
    (tci as u32 & 0x0fff) | 0x1000
}

/// Drops by reason for one VRID (`VRRP_DROPS`), per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Indexed by `DropReason as usize`.
    pub by_reason: [u64; DropReason::COUNT],
}

/// Event counters that are not drops (`VRRP_COUNTERS`, per CPU).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Valid adverts recorded in `VRRP_ADVERTS` (counted after the stamp is written: the
    /// daemon reads the stamps again only when this moved).
    AdvertValid = 0,
    /// Valid adverts passed to the stack (rate-limited, for tcpdump).
    AdvertPassed = 1,
    /// Valid adverts dropped by the rate limit after being recorded.
    AdvertRateLimited = 2,
    /// ARP requests for an active VIP answered from the VMAC by XDP_TX.
    ArpReplied = 3,
    /// ARP requests for a VIP of a router we are backup of (passed; nobody answers).
    ArpNotMaster = 4,
    /// ARP or GARP claiming one of our active VIPs from another host: another MAC, or our
    /// VMAC (another master of the VRID).
    ArpConflict = 5,
    /// Frames to an active VMAC rewritten to the interface MAC.
    VmacRewritten = 6,
    /// Frames to a VMAC of a router we are not master of, dropped (RFC 5798 §6.4.2).
    VmacDropped = 7,
    /// ARP requests, neighbour solicitations or VMAC frames dropped because the controller's
    /// heartbeat is stale and another router took over (or the stale heartbeat is older than
    /// [`IfaceConfig::hold_ns`]).
    GateClosed = 8,
    /// Events written to `VRRP_EVENTS`.
    EventSent = 9,
    /// Events lost because the ring buffer was full.
    EventLost = 10,
    /// Neighbour solicitations for an active IPv6 VIP answered from the VMAC by XDP_TX.
    NdReplied = 11,
    /// Neighbour solicitations for an IPv6 VIP of a router we are backup of (passed).
    NdNotMaster = 12,
    /// Neighbour advertisements claiming an active IPv6 VIP from another host: another MAC,
    /// or our VMAC (another master of the VRID).
    NdConflict = 13,
    /// Neighbour solicitations for an active IPv6 VIP that are not valid (RFC 4861 §7.1.1) or
    /// could not be answered: dropped, so that the kernel never answers with its own MAC.
    NdDropped = 14,
    /// Neighbour discovery the kernel sends from an active IPv6 VIP, rewritten on egress to
    /// the VMAC.
    NdEgressRewritten = 15,
    /// Neighbour discovery the kernel sends from an IPv6 VIP while we are not master or the
    /// controller's heartbeat is stale: dropped on egress.
    NdEgressDropped = 16,
    /// Adverts for a VRID this interface does not run, passed to the stack unjudged for
    /// another VRRP speaker on the host (unless `vrrpd_exclusive`: then dropped as
    /// `unknown_vrid`).
    AdvertNotOurs = 17,
    /// ARP requests and neighbour solicitations answered, frames to a VMAC and the kernel's
    /// neighbour discovery passed while the controller's heartbeat is stale, because no other
    /// router has taken over yet (see [`IfaceConfig::hold_ns`]).
    GateHeld = 18,
    /// Valid v3/IPv4 adverts for one of our routers checksummed the other way than the
    /// router's own (`v3_checksum_as_v2`, [`ROUTER_CSUM_MSG_ONLY`]): accepted, but the peer
    /// most likely drops ours.
    AdvertOtherChecksum = 19,
    /// IP packets to a VIP of a router we are master of without Accept_Mode
    /// ([`ROUTER_NO_ACCEPT`]), dropped.
    NoAcceptDropped = 20,
}

impl Counter {
    /// Number of counters.
    pub const COUNT: usize = 21;
    /// Every counter, in index order.
    pub const ALL: [Counter; Self::COUNT] = [
        Counter::AdvertValid,
        Counter::AdvertPassed,
        Counter::AdvertRateLimited,
        Counter::ArpReplied,
        Counter::ArpNotMaster,
        Counter::ArpConflict,
        Counter::VmacRewritten,
        Counter::VmacDropped,
        Counter::GateClosed,
        Counter::EventSent,
        Counter::EventLost,
        Counter::NdReplied,
        Counter::NdNotMaster,
        Counter::NdConflict,
        Counter::NdDropped,
        Counter::NdEgressRewritten,
        Counter::NdEgressDropped,
        Counter::AdvertNotOurs,
        Counter::GateHeld,
        Counter::AdvertOtherChecksum,
        Counter::NoAcceptDropped,
    ];

    /// A short snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::AdvertValid => "advert_valid",
            Counter::AdvertPassed => "advert_passed",
            Counter::AdvertRateLimited => "advert_rate_limited",
            Counter::ArpReplied => "arp_replied",
            Counter::ArpNotMaster => "arp_not_master",
            Counter::ArpConflict => "arp_conflict",
            Counter::VmacRewritten => "vmac_rewritten",
            Counter::VmacDropped => "vmac_dropped",
            Counter::GateClosed => "gate_closed",
            Counter::EventSent => "event_sent",
            Counter::EventLost => "event_lost",
            Counter::NdReplied => "nd_replied",
            Counter::NdNotMaster => "nd_not_master",
            Counter::NdConflict => "nd_conflict",
            Counter::NdDropped => "nd_dropped",
            Counter::NdEgressRewritten => "nd_egress_rewritten",
            Counter::NdEgressDropped => "nd_egress_dropped",
            Counter::AdvertNotOurs => "advert_not_ours",
            Counter::GateHeld => "gate_held",
            Counter::AdvertOtherChecksum => "advert_other_csum",
            Counter::NoAcceptDropped => "no_accept_dropped",
        }
    }
}

/// Why the program woke the controller (`Event::kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A master announced it is leaving (priority 0).
    PriorityZero = 1,
    /// While we are master: an advert with a higher priority, or an equal one from a higher
    /// primary address.
    Superior = 2,
    /// The advert's sender differs from the previous one recorded on this CPU.
    NewMaster = 3,
    /// ARP or neighbour discovery from another host (another MAC, or our VMAC: another
    /// master) claims one of our active VIPs.
    AddressConflict = 4,
    /// A v3/IPv4 advert checksummed the other way than ours ([`ROUTER_CSUM_MSG_ONLY`]) from a
    /// new sender, after a change of variant, or after a silence of three of its intervals
    /// (once per episode and CPU, not per advert).
    ChecksumMismatch = 5,
}

impl EventKind {
    /// The kind with this number, if any.
    pub const fn from_u32(n: u32) -> Option<EventKind> {
        match n {
            1 => Some(EventKind::PriorityZero),
            2 => Some(EventKind::Superior),
            3 => Some(EventKind::NewMaster),
            4 => Some(EventKind::AddressConflict),
            5 => Some(EventKind::ChecksumMismatch),
            _ => None,
        }
    }
}

/// A record in `VRRP_EVENTS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// `EventKind as u32`.
    pub kind: u32,
    /// `router_index(family, vrid)`.
    pub router: u32,
    /// The advert's priority (0 for conflicts).
    pub priority: u32,
    /// The advert's interval in centiseconds (0 for conflicts).
    pub interval_cs: u32,
    /// Arrival, CLOCK_MONOTONIC nanoseconds.
    pub time_ns: u64,
    /// Sender's IP address (the conflicting VIP for a conflict).
    pub src: [u8; 16],
    /// Sender's MAC.
    pub mac: [u8; 6],
    /// Explicit padding; zero.
    pub _pad: [u8; 2],
}

/// The longest frame [`TxTemplate`] holds.
pub const TX_TEMPLATE_MAX: usize = 256;
const _: () = assert!(TX_TEMPLATE_MAX.is_power_of_two());

/// The benchmarks' flood generator (`vrrp_tx`, never attached): the frame it writes over each
/// frame it sends (`VRRP_TX_FRAME`, index 0), so that every frame leaves as given even when
/// a receiver rewrote the recycled page in place (the ARP and NS replies do). `len` 0: no copy.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxTemplate {
    /// Bytes of `frame` in use; 0 when the frame does not fit.
    pub len: u32,
    /// Explicit padding; zero.
    pub _pad: u32,
    /// The frame.
    pub frame: [u8; TX_TEMPLATE_MAX],
}

const _: () = assert!(core::mem::size_of::<TxTemplate>() == 8 + TX_TEMPLATE_MAX);
const _: () = assert!(core::mem::size_of::<RouterConfig>() == 56);
const _: () = assert!(core::mem::size_of::<AdvertStamp>() == 64);
const _: () = assert!(core::mem::size_of::<TickClock>() == 16);
// The program reads and writes these addresses as two aligned words.
const _: () = assert!(core::mem::offset_of!(AdvertStamp, src) % 8 == 0);
const _: () = assert!(core::mem::offset_of!(RouterConfig, primary) % 8 == 0);
const _: () = assert!(core::mem::offset_of!(RouterConfig, auth_data) % 8 == 0);
const _: () = assert!(core::mem::size_of::<VipEntry>() == 4);
const _: () = assert!(core::mem::size_of::<Vip6Entry>() == 4);
const _: () = assert!(core::mem::size_of::<VipSlot>() == 80);
const _: () = assert!(core::mem::offset_of!(VipSlot, addr4) % 4 == 0);
const _: () = assert!(core::mem::size_of::<IfaceConfig>() == 48);
const _: () = assert!(core::mem::size_of::<DropCounts>() == 8 * DropReason::COUNT);
const _: () = assert!(core::mem::size_of::<Event>() == 48);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: each type is repr(C), padding-free (checked by the size asserts above) and valid
    // for every bit pattern.
    #![expect(unsafe_code, reason = "aya::Pod is an unsafe marker trait")]
    unsafe impl aya::Pod for super::RouterConfig {}
    unsafe impl aya::Pod for super::AdvertStamp {}
    unsafe impl aya::Pod for super::TickClock {}
    unsafe impl aya::Pod for super::VipEntry {}
    unsafe impl aya::Pod for super::Vip6Entry {}
    unsafe impl aya::Pod for super::VipSlot {}
    unsafe impl aya::Pod for super::IfaceConfig {}
    unsafe impl aya::Pod for super::DropCounts {}
    unsafe impl aya::Pod for super::Event {}
    unsafe impl aya::Pod for super::TxTemplate {}
}

#[cfg(test)]
mod tests {
    use super::{
        ROUTER_ADDRS_COUNT_ONLY, ROUTER_CHECK_ADDRS, RouterConfig, address_print, vlan_key,
        vlan_tag,
    };

    fn v4(last: u8) -> [u8; 16] {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&[192, 0, 2, last]);
        a
    }

    fn print(ipv6: bool, list: &[[u8; 16]]) -> u64 {
        RouterConfig::new(3, None, 100, 100, [0; 16], false)
            .with_addresses(ipv6, list)
            .addr_print
    }

    #[test]
    fn an_address_print_is_the_lists_whatever_its_order_and_no_other_lists() {
        assert_eq!(print(false, &[v4(1), v4(4)]), print(false, &[v4(4), v4(1)]));
        // Lists a plain sum of the addresses takes for each other.
        assert_ne!(print(false, &[v4(1), v4(4)]), print(false, &[v4(2), v4(3)]));
        assert_ne!(
            print(false, &[v4(1), v4(5), v4(6)]),
            print(false, &[v4(2), v4(3), v4(7)])
        );
        assert_ne!(print(false, &[v4(1)]), print(false, &[v4(1), v4(1)]));
        // IPv6: two addresses that swap their interface identifiers.
        let a: [[u8; 16]; 4] = [
            [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            [0x20, 1, 0xd, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            [0x20, 1, 0xd, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        ];
        assert_eq!(print(true, &a[..2]), print(true, &[a[1], a[0]]));
        assert_ne!(print(true, &a[..2]), print(true, &a[2..]));
        assert_ne!(address_print(true, &a[0]), address_print(true, &a[2]));
    }

    #[test]
    fn no_two_pairs_or_triples_of_a_subnet_share_a_print() {
        // Every pair of 192.0.2.0/24 (32,640), every triple of 192.0.2.0/26 (41,664).
        let mut seen = std::collections::HashSet::new();
        for a in 0..255u8 {
            for b in a + 1..=255 {
                assert!(seen.insert(print(false, &[v4(a), v4(b)])), "{a} {b}");
            }
        }
        let mut seen = std::collections::HashSet::new();
        for a in 0..64u8 {
            for b in a + 1..64 {
                for c in b + 1..64 {
                    assert!(
                        seen.insert(print(false, &[v4(a), v4(b), v4(c)])),
                        "{a} {b} {c}"
                    );
                }
            }
        }
        // IPv6: every pair of 2001:db8::/120 and of 2001:db8:0:N::1 over N < 256.
        let v6 = |prefix: u8, last: u8| {
            let mut a = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            a[7] = prefix;
            a[15] = last;
            a
        };
        let mut seen = std::collections::HashSet::new();
        for a in 0..255u8 {
            for b in a + 1..=255 {
                assert!(seen.insert(print(true, &[v6(0, a), v6(0, b)])), "{a} {b}");
                assert!(seen.insert(print(true, &[v6(a, 1), v6(b, 1)])), "{a} {b}");
            }
        }
    }

    #[test]
    fn a_list_that_names_an_address_twice_is_compared_by_its_count() {
        let r = RouterConfig::new(3, None, 100, 100, [0; 16], false);
        assert_eq!(r.flags & ROUTER_CHECK_ADDRS, 0);
        let once = r.with_addresses(false, &[v4(1), v4(2)]);
        assert_eq!(
            once.flags & (ROUTER_CHECK_ADDRS | ROUTER_ADDRS_COUNT_ONLY),
            ROUTER_CHECK_ADDRS
        );
        assert_eq!(once.addr_count, 2);
        let twice = r.with_addresses(false, &[v4(1), v4(1)]);
        assert_ne!(twice.flags & ROUTER_ADDRS_COUNT_ONLY, 0);
        assert_eq!(twice.addr_count, 2);
    }

    #[test]
    fn vlan_keys_tell_every_stack_apart() {
        assert_eq!(vlan_key(None, None), 0);
        // A priority tag (VLAN id 0) is a tag.
        assert_eq!(vlan_key(Some(0), None), 0x1000);
        assert_eq!(vlan_key(Some(10), None), 0x100a);
        assert_eq!(vlan_key(Some(100), Some(10)), 0x1064_100a);
        assert_ne!(vlan_key(Some(10), Some(100)), vlan_key(Some(100), Some(10)));
        // The priority bits of a TCI are not part of the VLAN id.
        assert_eq!(vlan_tag(0xa00a), vlan_tag(10));
    }
}
