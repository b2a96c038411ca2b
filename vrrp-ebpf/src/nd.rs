//! IPv6 neighbour discovery for the VIPs (RFC 4861; RFC 5798 §6.4.3: the master answers
//! solicitations for the virtual router's IPv6 addresses with the virtual router's MAC).
//!
//! Ingress (XDP), reached only for ICMPv6 and after one type test:
//! * a solicitation for an IPv6 VIP of a router we are master of becomes, in place, the
//!   solicited advertisement from the VMAC (Solicited and Override set, Router set where the
//!   interface forwards, the VMAC as target link-layer address) and goes back with `XDP_TX`. A
//!   solicitation for an active VIP that fails RFC 4861 §7.1.1 is dropped rather than passed,
//!   so the kernel never answers for an active VIP with its own MAC;
//! * an advertisement for one of our active IPv6 VIPs from another MAC, or from our own VMAC
//!   (another master of the VRID), is a conflict.
//!
//! Egress (tc): the kernel's own solicitations and advertisements sent from an active IPv6 VIP
//! (resolving a client it answers from the VIP) carry the interface's MAC in the Ethernet
//! source and in the link-layer address option; both are rewritten to the VMAC, checksum
//! updated. While we are not master, or the liveness gate is closed, they are dropped.

use core::ptr;

use aya_ebpf::{
    bindings::{
        TC_ACT_SHOT, TC_ACT_UNSPEC,
        xdp_action::{XDP_DROP, XDP_PASS, XDP_TX},
    },
    helpers::bpf_xdp_adjust_tail,
    programs::{TcContext, XdpContext},
};
use vrrp_common::{
    maps::{
        Counter, EventKind, IFACE_NO_ACCEPT, IfaceConfig, ROUTER_MASTER, ROUTER_ND_ROUTER,
        RouterConfig, SLOT_WAYS6, Vip6Entry,
    },
    proto::{
        ETH_P_IPV6, IPPROTO_ICMPV6, ND_NA_OVERRIDE, ND_NA_ROUTER, ND_NA_SOLICITED,
        ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, ND_OPT_SOURCE_LLADDR, ND_OPT_TARGET_LLADDR,
        VRRP_TTL,
    },
};

use crate::{
    IPV6_HLEN, VRRP_ROUTERS, VRRP_VIPS6, VRRP_VIPSLOTS, Wide, bytes16, coarse_now_ns, count,
    emit_event, fold, gate_open, load64_at, now_ns, ptr_at, read, read_wide, store32_at,
    store64_at, sum64, words16,
};

/// Fixed part of a solicitation or advertisement: type, code, checksum, flags, target.
const ND_FIXED: usize = 24;
/// The advertisement we send: the fixed part and the target link-layer address option.
const NA_LEN: usize = ND_FIXED + 8;
/// The longest solicitation we answer: its checksum is summed inline (see `message_sum`), and
/// no real one carries more than a link-layer address and a nonce option.
const NS_MAX: usize = 64;

/// An ICMPv6 message at `off + 40` of the frame (`ip`: its IPv6 header).
#[inline(always)]
pub fn icmpv6(ctx: &XdpContext, off: usize, ip: &Wide<IPV6_HLEN>, iface: &IfaceConfig) -> u32 {
    let Some(kind) = read::<u8>(ctx, off + IPV6_HLEN) else {
        return XDP_PASS;
    };
    if kind == ND_NEIGHBOR_SOLICIT {
        solicit(ctx, off, ip, iface)
    } else if kind == ND_NEIGHBOR_ADVERT {
        advert(ctx, off, ip)
    } else if iface.flags & IFACE_NO_ACCEPT != 0 && refused6(ip) {
        count(Counter::NoAcceptDropped);
        XDP_DROP
    } else {
        XDP_PASS
    }
}

/// Whether the IPv6 header `ip` goes to a VIP of a router we are master of without
/// Accept_Mode (the caller ruled out VRRP and neighbour discovery).
#[inline(always)]
pub fn refused6(ip: &Wide<IPV6_HLEN>) -> bool {
    let Some(vip) = lookup_vip6_words(ip.word(24), ip.word(32)) else {
        return false;
    };
    VRRP_ROUTERS
        .get(vip.router)
        .is_some_and(|r| crate::refuses(r.flags))
}

/// The VIP entry for `addr`: from its slot, or from `VRRP_VIPS6` when the slot overflowed.
#[inline(always)]
fn lookup_vip6(addr: &[u8; 16]) -> Option<Vip6Entry> {
    let (hi, lo) = split(addr);
    lookup_vip6_words(hi, lo)
}

/// [`lookup_vip6`] for an address given as two words in memory order.
#[inline(always)]
fn lookup_vip6_words(hi: u64, lo: u64) -> Option<Vip6Entry> {
    // The last byte: the top of the second word in memory order (little-endian BPF).
    let slot = VRRP_VIPSLOTS.get(lo.to_ne_bytes()[7] as u32)?;
    for w in 0..SLOT_WAYS6 {
        // SAFETY: `addr6` opens the map value, which is 8-byte aligned, and each way is 16
        // bytes.
        if unsafe { words16(&slot.addr6[w]) } == [hi, lo] && slot.router6[w] != 0 {
            return Some(Vip6Entry {
                router: slot.router6[w],
            });
        }
    }
    if slot.more6 == 0 {
        return None;
    }
    // SAFETY: the value is copied out at once.
    VRRP_VIPS6.get_ptr(bytes16([hi, lo])).map(|p| unsafe { *p })
}

/// An address as two words in memory order.
#[inline(always)]
fn split(a: &[u8; 16]) -> (u64, u64) {
    (
        u64::from_ne_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]),
        u64::from_ne_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]),
    )
}

/// The VMAC of a router index: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
#[inline(always)]
fn vmac_of(router: u32) -> [u8; 6] {
    let kind = if router >= 256 { 2 } else { 1 };
    [0x00, 0x00, 0x5e, 0x00, kind, router as u8]
}

/// The pseudo-header's length and next-header words for an ICMPv6 message of `len` bytes.
#[inline(always)]
fn pseudo_tail(len: usize) -> u64 {
    u16::from_ne_bytes((len as u16).to_be_bytes()) as u64
        + u16::from_ne_bytes([0, IPPROTO_ICMPV6]) as u64
}

/// A solicitation: answered from the VMAC if it asks for an active VIP.
#[inline(always)]
fn solicit(ctx: &XdpContext, off: usize, ip: &Wide<IPV6_HLEN>, iface: &IfaceConfig) -> u32 {
    let Some(ns) = ptr_at::<[u8; ND_FIXED]>(ctx, off + IPV6_HLEN) else {
        return XDP_PASS;
    };
    // The fixed part in three loads from the frame: type, code, checksum and reserved; the
    // target.
    // SAFETY: inside the ND_FIXED bytes ptr_at checked.
    let (head, target_hi, target_lo) = unsafe {
        let p = ns as *const u8;
        (load64_at::<0>(p), load64_at::<8>(p), load64_at::<16>(p))
    };
    let Some(vip) = lookup_vip6_words(target_hi, target_lo) else {
        return XDP_PASS;
    };
    let Some(router) = VRRP_ROUTERS.get(vip.router) else {
        return XDP_PASS;
    };
    if router.flags & ROUTER_MASTER == 0 {
        count(Counter::NdNotMaster);
        return XDP_PASS;
    }
    if !gate_open(iface, coarse_now_ns(), vip.router) {
        count(Counter::GateClosed);
        return XDP_DROP;
    }
    // From here on the kernel must not see it: answered from the VMAC, or dropped.
    match answer(
        ctx,
        off,
        ip,
        [head, target_hi, target_lo],
        vip.router,
        router,
    ) {
        Some(()) => {
            count(Counter::NdReplied);
            XDP_TX
        }
        None => {
            count(Counter::NdDropped);
            XDP_DROP
        }
    }
}

/// Checks the solicitation (RFC 4861 §7.1.1) and rewrites the frame into the advertisement.
/// None: invalid, or the frame could not be resized. `ns`: the solicitation's fixed part as
/// words in memory order (type to reserved, the target). Every address is two words and the
/// checksums a few adds; the advertisement is written in eight stores, each with its offset in
/// the instruction (the target stays where the solicitation has it).
#[inline(always)]
fn answer(
    ctx: &XdpContext,
    off: usize,
    ip: &Wide<IPV6_HLEN>,
    ns: [u64; 3],
    index: u32,
    router: &RouterConfig,
) -> Option<()> {
    let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    // Hop limit 255, a length of whole options up to NS_MAX, code 0.
    if ip[7] != VRRP_TTL
        || !(ND_FIXED..=NS_MAX).contains(&len)
        || !len.is_multiple_of(8)
        || ns[0].to_ne_bytes()[1] != 0
    {
        return None;
    }
    let icmp = off + IPV6_HLEN;
    // Checksum: the pseudo-header's addresses, length and next header, and the message (the
    // options loaded a word at a time).
    let (src_hi, src_lo, dst_hi, dst_lo) = (ip.word(8), ip.word(16), ip.word(24), ip.word(32));
    let [head, target_hi, target_lo] = ns;
    let (target_sum, src_sum) = (
        sum64(target_hi) + sum64(target_lo),
        sum64(src_hi) + sum64(src_lo),
    );
    let mut sum =
        pseudo_tail(len) + src_sum + sum64(dst_hi) + sum64(dst_lo) + sum64(head) + target_sum;
    // The options, one pass a word at a time: each word joins the checksum, and the words
    // where an option starts (options are whole multiples of 8 bytes, so each starts on a
    // word) give its type and length. None may be empty or run past the message (at most 5
    // words fit in 64 bytes).
    let mut o = ND_FIXED;
    let mut source_lladdr = false;
    for i in 0..(NS_MAX - ND_FIXED) / 8 {
        let at = ND_FIXED + i * 8;
        if at >= len {
            break;
        }
        let p = ptr_at::<u64>(ctx, icmp + at)? as *const u8;
        // SAFETY: inside the 8 bytes ptr_at checked.
        let w = unsafe { load64_at::<0>(p) };
        sum += sum64(w);
        if at == o {
            let [kind, units, ..] = w.to_ne_bytes();
            if units == 0 {
                return None;
            }
            source_lladdr |= kind == ND_OPT_SOURCE_LLADDR;
            o += units as usize * 8;
        }
    }
    if o != len || fold(sum) != 0xffff {
        return None;
    }
    let unspecified = src_hi == 0 && src_lo == 0;
    // Duplicate address detection: to the solicited-node group, without a source address
    // option; answered to all nodes, not solicited (RFC 4861 §7.2.4).
    if unspecified {
        // ff02::1:ffXX:XXXX, the last three bytes the target's.
        let group_hi = u64::from_ne_bytes([0xff, 0x02, 0, 0, 0, 0, 0, 0]);
        let group_lo = u64::from_ne_bytes([0, 0, 0, 1, 0xff, 0, 0, 0]);
        let low3 = u64::from_ne_bytes([0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
        let solicited_node =
            dst_hi == group_hi && dst_lo & !low3 == group_lo && dst_lo & low3 == target_lo & low3;
        if source_lladdr || !solicited_node {
            return None;
        }
    }

    let vmac = vmac_of(index);
    let (to_hi, to_lo, to_sum, mut flags) = if unspecified {
        let (hi, lo) = (
            u64::from_ne_bytes([0xff, 0x02, 0, 0, 0, 0, 0, 0]),
            u64::from_ne_bytes([0, 0, 0, 0, 0, 0, 0, 1]),
        );
        (hi, lo, sum64(hi) + sum64(lo), ND_NA_OVERRIDE)
    } else {
        (src_hi, src_lo, src_sum, ND_NA_SOLICITED | ND_NA_OVERRIDE)
    };
    if router.flags & ROUTER_ND_ROUTER != 0 {
        flags |= ND_NA_ROUTER;
    }

    // The advertisement: version 6 with traffic class CS6 (network control, as our adverts),
    // its length, ICMPv6, hop limit 255; from the target to the asker; then type, checksum,
    // flags, the target, and the target link-layer address option with the VMAC.
    let na_len = (NA_LEN as u16).to_be_bytes();
    let ip_head = u64::from_ne_bytes([
        0x6c,
        0,
        0,
        0,
        na_len[0],
        na_len[1],
        IPPROTO_ICMPV6,
        VRRP_TTL,
    ]);
    let option = u64::from_ne_bytes([
        ND_OPT_TARGET_LLADDR,
        1,
        vmac[0],
        vmac[1],
        vmac[2],
        vmac[3],
        vmac[4],
        vmac[5],
    ]);
    let icmp_head = u64::from_ne_bytes([ND_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0]);
    let sum = pseudo_tail(NA_LEN) + 2 * target_sum + to_sum + sum64(icmp_head) + sum64(option);
    let icmp_head = icmp_head | ((!fold(sum) as u64) << 16);

    // Resize the frame to exactly the advertisement (a solicitation without options is 8
    // bytes shorter; Ethernet padding goes).
    let have = (ctx.data_end() - ctx.data()) as i64;
    let want = (off + IPV6_HLEN + NA_LEN) as i64;
    if have != want {
        // SAFETY: the helper moves data_end within the frame's buffer or fails.
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, (want - have) as i32) } != 0 {
            return None;
        }
    }
    let l3 = ptr_at::<[u8; IPV6_HLEN + NA_LEN]>(ctx, off)? as *mut u8;
    let eth = ptr_at::<[u8; 14]>(ctx, 0)? as *mut u8;
    // SAFETY: inside the bounds-checked Ethernet header, IPv6 header and advertisement.
    unsafe {
        // The Ethernet header: to the asker (its source MAC, the low six bytes of the word at
        // 6) or all nodes, from the VMAC (00-00 in the first word's top bytes, the rest in
        // the next four).
        let eth_dst = if unspecified {
            u64::from_ne_bytes([0x33, 0x33, 0, 0, 0, 1, 0, 0])
        } else {
            load64_at::<6>(eth) & 0xffff_ffff_ffff
        };
        store64_at::<0>(eth, eth_dst);
        store32_at::<8>(
            eth,
            u32::from_ne_bytes([vmac[2], vmac[3], vmac[4], vmac[5]]),
        );
        store64_at::<0>(l3, ip_head);
        store64_at::<8>(l3, target_hi);
        store64_at::<16>(l3, target_lo);
        store64_at::<24>(l3, to_hi);
        store64_at::<32>(l3, to_lo);
        store64_at::<40>(l3, icmp_head);
        store64_at::<64>(l3, option);
    }
    Some(())
}

/// An advertisement: a conflict if it claims one of our active VIPs (for another MAC, or for
/// our VMAC: another master).
#[inline(always)]
fn advert(ctx: &XdpContext, off: usize, ip: &Wide<IPV6_HLEN>) -> u32 {
    let icmp = off + IPV6_HLEN;
    let Some(na) = read_wide::<ND_FIXED>(ctx, icmp) else {
        return XDP_PASS;
    };
    let Some(vip) = lookup_vip6_words(na.word(8), na.word(16)) else {
        return XDP_PASS;
    };
    if ip[7] != VRRP_TTL
        || VRRP_ROUTERS
            .get(vip.router)
            .is_none_or(|r| r.flags & ROUTER_MASTER == 0)
    {
        return XDP_PASS;
    }
    // The address it claims: the target link-layer option if present, else the sender's.
    let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    let option = if len >= NA_LEN {
        read::<[u8; 8]>(ctx, icmp + ND_FIXED)
    } else {
        None
    };
    let mac = match option {
        Some(o) if o[0] == ND_OPT_TARGET_LLADDR && o[1] == 1 => {
            [o[2], o[3], o[4], o[5], o[6], o[7]]
        }
        _ => match read::<[u8; 6]>(ctx, 6) {
            Some(m) => m,
            None => return XDP_PASS,
        },
    };
    // Another MAC, or our own VMAC: only another master of the VRID sends from it (ours
    // leave by this interface, they never come in on it); the controller tells them apart.
    count(Counter::NdConflict);
    emit_event(
        EventKind::AddressConflict,
        vip.router,
        0,
        0,
        now_ns(),
        bytes16([na.word(8), na.word(16)]),
        mac,
    );
    XDP_PASS
}

/// The tc egress program: neighbour discovery the kernel sends from one of our IPv6 VIPs.
#[inline(always)]
pub fn egress(ctx: &TcContext) -> i32 {
    let (data, end) = (ctx.data(), ctx.data_end());
    if data + 14 > end {
        return TC_ACT_UNSPEC;
    }
    // SAFETY: the Ethernet header is inside the linear data (checked above).
    let ethertype = unsafe { ptr::read_unaligned((data + 12) as *const [u8; 2]) };
    if ethertype != ETH_P_IPV6.to_be_bytes() {
        return TC_ACT_UNSPEC;
    }
    let Ok(ip) = ctx.load::<[u8; IPV6_HLEN]>(14) else {
        return TC_ACT_UNSPEC;
    };
    if ip[6] != IPPROTO_ICMPV6 {
        return TC_ACT_UNSPEC;
    }
    let icmp = 14 + IPV6_HLEN;
    let Ok(nd) = ctx.load::<[u8; ND_FIXED]>(icmp) else {
        return TC_ACT_UNSPEC;
    };
    // A solicitation from the VIP (resolving a neighbour), or an advertisement of it.
    let mut addr = [0u8; 16];
    if nd[0] == ND_NEIGHBOR_SOLICIT {
        addr.copy_from_slice(&ip[8..24]);
    } else if nd[0] == ND_NEIGHBOR_ADVERT {
        addr.copy_from_slice(&nd[8..24]);
    } else {
        return TC_ACT_UNSPEC;
    }
    let Some(vip) = lookup_vip6(&addr) else {
        return TC_ACT_UNSPEC;
    };
    let master = VRRP_ROUTERS
        .get(vip.router)
        .is_some_and(|r| r.flags & ROUTER_MASTER != 0);
    if !master || crate::iface().is_none_or(|i| !gate_open(i, coarse_now_ns(), vip.router)) {
        count(Counter::NdEgressDropped);
        return TC_ACT_SHOT;
    }
    let vmac = vmac_of(vip.router);
    if ctx.store(6, &vmac, 0).is_err() {
        count(Counter::NdEgressDropped);
        return TC_ACT_SHOT;
    }
    // The link-layer address option, which Linux puts first; the checksum follows the change
    // (RFC 1624: HC' = ~(~HC + ~m + m')).
    let len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    if len >= NA_LEN
        && let Ok(opt) = ctx.load::<[u8; 8]>(icmp + ND_FIXED)
        && opt[1] == 1
        && (opt[0] == ND_OPT_SOURCE_LLADDR || opt[0] == ND_OPT_TARGET_LLADDR)
    {
        let mut sum = (!u16::from_ne_bytes([nd[2], nd[3]])) as u64;
        let mut i = 2;
        while i < 8 {
            sum += (!u16::from_ne_bytes([opt[i], opt[i + 1]])) as u64
                + u16::from_ne_bytes([vmac[i - 2], vmac[i - 1]]) as u64;
            i += 2;
        }
        let csum = (!fold(sum)).to_ne_bytes();
        if ctx.store(icmp + ND_FIXED + 2, &vmac, 0).is_err()
            || ctx.store(icmp + 2, &csum, 0).is_err()
        {
            count(Counter::NdEgressDropped);
            return TC_ACT_SHOT;
        }
    }
    count(Counter::NdEgressRewritten);
    TC_ACT_UNSPEC
}
