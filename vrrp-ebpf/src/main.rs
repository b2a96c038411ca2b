//! The XDP program attached by `vrrpd` to each interface that carries a VRRP instance.
//!
//! Per frame, after as few comparisons as the frame allows:
//! * ARP: a request for a VIP of a router we are master of is turned, in place, into the reply
//!   from the VMAC and sent back with `XDP_TX`; ARP from another MAC claiming one of our active
//!   VIPs is counted and reported as a conflict, and so is ARP from our own VMAC (another
//!   master of the VRID: split brain); such a claim that is a gratuitous request is dropped,
//!   as the kernel would answer it from the interface's MAC.
//! * Frames to a VMAC: rewritten to the interface's MAC and passed while we are master of that
//!   router, dropped while we are backup (RFC 5798 §6.4.2).
//! * VRRP adverts (IPv4 protocol 112, IPv6 next header 112): checked in the order of RFC 5798
//!   §7.1 (`vrrp_common::DropReason` names every rejection, counted per VRID and dropped); a valid
//!   advert is stamped into this CPU's block of `VRRP_ADVERTS`, reported through `VRRP_EVENTS` only when
//!   the controller must act at once, and passed to the stack at a bounded rate. An advert for
//!   a VRID not configured here is another speaker's (keepalived's): passed and counted, or
//!   dropped as unknown VRID when vrrpd is the host's only speaker (`IFACE_EXCLUSIVE`).
//! * VLANs: a frame whose tags (up to two) are not those of this program's routers
//!   (`IfaceConfig::vlan`, 0: untagged) is passed untouched before any of the above.
//! * ICMPv6 neighbour discovery: a solicitation for an IPv6 VIP of a router we are master of is
//!   turned, in place, into the solicited advertisement from the VMAC and sent back with
//!   `XDP_TX` (an invalid one is dropped: the kernel never answers for an active VIP); an
//!   advertisement claiming one of our active IPv6 VIPs (another MAC, or our VMAC) is a
//!   conflict.
//! * Accept_Mode off (`no_accept`, `ROUTER_NO_ACCEPT`, on an interface with `IFACE_NO_ACCEPT`):
//!   an IPv4 or IPv6 packet to a VIP of a router we are master of is dropped unless it is VRRP
//!   or a neighbour solicitation/advertisement, as keepalived's nftables rules drop it.
//! * The liveness gate: when the controller's heartbeat is older than it said it may get (the
//!   daemon died; this program lives on, pinned), a router's VIPs and VMAC are still served
//!   until the first valid advert of another router for that VRID (the new master, so the
//!   clients never wait for it), and then ARP and neighbour solicitations for its VIPs and
//!   frames to its VMAC are dropped; past a bound (`IfaceConfig::hold_ns`) they are dropped
//!   even when no one took over, so a node whose daemon died stops claiming the VIP.
//!
//! A second program, `vrrp_egress` (tc egress), makes the kernel's own neighbour discovery sent
//! from an active IPv6 VIP carry the VMAC (IPv6 has no `arp_announce`), and drops it while we
//! are not master or the controller is gone.
//!
//! No per-packet logging: counters only. The benchmarks' programs (the empty baseline and the
//! flood generator) are another object, `vrrp-bench` (`src/bench.rs`), which `vrrpd` never
//! carries.
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)] // BPF inline assembly: wide unaligned frame access

mod nd;

use core::{ffi::c_void, mem::size_of, ptr};

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS, XDP_TX},
    btf_maps::{Array, HashMap, PerCpuArray, RingBuf},
    helpers::{
        bpf_csum_diff, bpf_get_smp_processor_id, bpf_jiffies64, bpf_ktime_get_coarse_ns,
        bpf_ktime_get_ns, bpf_xdp_load_bytes,
    },
    macros::{btf_map, classifier, xdp},
    programs::{TcContext, XdpContext},
};
use vrrp_common::{
    DropReason,
    maps::{
        AdvertStamp, BPF_F_MMAPABLE, Counter, DropCounts, EVENTS_BYTES, Event, EventKind, Family,
        IFACE_EXCLUSIVE, IFACE_NO_ACCEPT, IfaceConfig, MAX_VIPS, ROUTER_ADDR_ONE4,
        ROUTER_ADDRS_COUNT_ONLY, ROUTER_CHECK_ADDRS, ROUTER_CONFIGURED, ROUTER_CSUM_MSG_ONLY,
        ROUTER_MASTER, ROUTER_NO_ACCEPT, ROUTER_SKIP_SAME_SENDER, ROUTER_SLOTS, RouterConfig,
        SLOT_WAYS4, TickClock, Vip6Entry, VipEntry, VipSlot, address_print4, address_print6,
        router_index, stamp_index, vlan_tag,
    },
    proto::{
        AUTH_PASS, ETH_P_8021AD, ETH_P_8021Q, ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6, IPPROTO_ICMPV6,
        IPPROTO_VRRP, ND_NEIGHBOR_ADVERT, ND_NEIGHBOR_SOLICIT, VRRP_TTL, VRRP_TYPE_ADVERT, vmac_v4,
    },
};

#[btf_map]
static VRRP_ROUTERS: Array<RouterConfig, { ROUTER_SLOTS as usize }> = Array::new();
/// Each CPU's stamps, a block of `ROUTER_SLOTS` a CPU ([`stamp_index`]); the daemon sizes it
/// to the host's possible CPUs when it loads the object and reads it through a mapping.
#[btf_map]
static VRRP_ADVERTS: Array<AdvertStamp, { ROUTER_SLOTS as usize }, { BPF_F_MMAPABLE as usize }> =
    Array::new();
#[btf_map]
static VRRP_VIPS: HashMap<[u8; 4], VipEntry, { MAX_VIPS as usize }> = HashMap::new();
#[btf_map]
static VRRP_IFACE: Array<IfaceConfig, 1> = Array::new();
#[btf_map]
static VRRP_DROPS: PerCpuArray<DropCounts, 256> = PerCpuArray::new();
#[btf_map]
static VRRP_COUNTERS: PerCpuArray<u64, { Counter::COUNT }> = PerCpuArray::new();
#[btf_map]
static VRRP_EVENTS: RingBuf<Event, { EVENTS_BYTES as usize }> = RingBuf::new();
/// IPv6 VIPs, for the neighbour discovery responder.
#[btf_map]
static VRRP_VIPS6: HashMap<[u8; 16], Vip6Entry, { MAX_VIPS as usize }> = HashMap::new();
/// The VIPs (IPv4 and IPv6) that end in each byte: one array lookup and a few compares answer
/// whether an address is a VIP; the hash maps are consulted only for VIPs beyond a slot's ways.
#[btf_map]
static VRRP_VIPSLOTS: Array<VipSlot, 256> = Array::new();
/// Per router: the arrival (CLOCK_MONOTONIC) of the first valid advert of another router after
/// the controller's last heartbeat, for the liveness gate (see [`gate_open`]). Written at most
/// once per router and heartbeat, so that a flood of adverts does not bounce its cache line.
#[btf_map]
static VRRP_TAKEOVER: Array<u64, { ROUTER_SLOTS as usize }> = Array::new();
/// The coarse clock, read once per tick and CPU (see [`coarse_now_ns`]).
#[btf_map]
static VRRP_CLOCK: PerCpuArray<TickClock, 1> = PerCpuArray::new();
/// Per-CPU room to copy a VRRP message into for the checksum helper.
#[btf_map]
static VRRP_SCRATCH: PerCpuArray<[u8; CHUNK as usize], 1> = PerCpuArray::new();

const IPV4_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;
const ARP_LEN: usize = 28;
const VRRP_HLEN: usize = 8;
/// The longest VRRP message: v3 over IPv6 with 255 addresses (8 + 16 · 255).
const VRRP_MAX_LEN: u32 = 8 + 16 * 255;
/// The most addresses an advert of ours lists (`wire::vrrp::max_addresses` at 1,500 bytes):
/// an advert whose count is another is dropped before its addresses are read.
const MAX_ADDRS4: usize = 255;
const MAX_ADDRS6: usize = (1500 - 14 - IPV6_HLEN - VRRP_HLEN) / 16;
/// `bpf_csum_diff` sums at most 512 bytes a call.
const CHUNK: u32 = 512;
/// Enough chunks for [`VRRP_MAX_LEN`].
const CHUNKS: u32 = VRRP_MAX_LEN.div_ceil(CHUNK);

#[xdp]
pub fn vrrp(ctx: XdpContext) -> u32 {
    handle(&ctx)
}

/// The kernel's own neighbour discovery on its way out: see [`nd::egress`].
#[classifier]
pub fn vrrp_egress(ctx: TcContext) -> i32 {
    nd::egress(&ctx)
}

/// A bounds-checked pointer to a `T` at `offset` bytes into the frame.
#[inline(always)]
fn ptr_at<T>(ctx: &XdpContext, offset: usize) -> Option<*mut T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + size_of::<T>() > end {
        return None;
    }
    Some((start + offset) as *mut T)
}

/// Stores 8 bytes at `p + OFF` in the frame with one instruction, whatever the alignment
/// (Rust's unaligned writes become eight byte stores on BPF), the offset in the instruction
/// (no register add per access). The verifier accepts unaligned frame access where the CPU
/// handles it (x86-64, arm64) and refuses the program at load elsewhere.
///
/// # Safety
/// `p + OFF` and the 7 bytes after it must be inside the frame (checked by `ptr_at`).
#[inline(always)]
pub(crate) unsafe fn store64_at<const OFF: i16>(p: *mut u8, v: u64) {
    // SAFETY: per the contract.
    unsafe {
        core::arch::asm!("*(u64 *)({p} + {off}) = {v}", p = in(reg) p, off = const OFF, v = in(reg) v, options(nostack))
    }
}

/// Stores 4 bytes at `p + OFF` in the frame with one instruction; see [`store64_at`].
///
/// # Safety
/// `p + OFF` and the 3 bytes after it must be inside the frame (checked by `ptr_at`).
#[inline(always)]
pub(crate) unsafe fn store32_at<const OFF: i16>(p: *mut u8, v: u32) {
    // SAFETY: per the contract.
    unsafe {
        core::arch::asm!("*(u32 *)({p} + {off}) = {v}", p = in(reg) p, off = const OFF, v = in(reg) v as u64, options(nostack))
    }
}

/// Loads 8 bytes (memory order) at `p` in the frame with one instruction; see [`store64_at`].
///
/// # Safety
/// As [`store64_at`], at `p`.
#[inline(always)]
unsafe fn load64(p: *const u8) -> u64 {
    // SAFETY: per the contract.
    unsafe { load64_at::<0>(p) }
}

/// [`load64`] at `p + OFF`, the offset in the instruction (no register add per access).
///
/// # Safety
/// `p + OFF` and the 7 bytes after it must be inside the frame (checked by `ptr_at`).
#[inline(always)]
pub(crate) unsafe fn load64_at<const OFF: i16>(p: *const u8) -> u64 {
    let v: u64;
    // SAFETY: per the contract.
    unsafe {
        core::arch::asm!("{v} = *(u64 *)({p} + {off})", p = in(reg) p, off = const OFF, v = out(reg) v, options(nostack, readonly))
    };
    v
}

/// Loads 4 bytes (memory order) at `p` in the frame with one instruction; see [`store64_at`].
///
/// # Safety
/// As [`store64_at`], for 4 bytes at `p`.
#[inline(always)]
unsafe fn load32(p: *const u8) -> u32 {
    // SAFETY: per the contract.
    unsafe { load32_at::<0>(p) }
}

/// [`load32`] at `p + OFF`, the offset in the instruction.
///
/// # Safety
/// `p + OFF` and the 3 bytes after it must be inside the frame (checked by `ptr_at`).
#[inline(always)]
unsafe fn load32_at<const OFF: i16>(p: *const u8) -> u32 {
    let v: u64;
    // SAFETY: per the contract.
    unsafe {
        core::arch::asm!("{v} = *(u32 *)({p} + {off})", p = in(reg) p, off = const OFF, v = out(reg) v, options(nostack, readonly))
    };
    v as u32
}

/// Loads 2 bytes (memory order) at `p` in the frame with one instruction; see [`store64_at`].
///
/// # Safety
/// As [`store64_at`], for 2 bytes at `p`.
#[inline(always)]
unsafe fn load16(p: *const u8) -> u16 {
    let v: u64;
    // SAFETY: per the contract.
    unsafe {
        core::arch::asm!("{v} = *(u16 *)({p} + 0)", p = in(reg) p, v = out(reg) v, options(nostack, readonly))
    };
    v as u16
}

/// `N` bytes copied out of the frame into 8-byte aligned memory, in words.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct Wide<const N: usize>(pub(crate) [u8; N]);

impl<const N: usize> Wide<N> {
    /// The 8 bytes at `at` as a word in memory order; `at` must be a multiple of 8 below N - 7.
    #[inline(always)]
    fn word(&self, at: usize) -> u64 {
        // SAFETY: the callers pass constant or bounded offsets inside the value, which is
        // 8-byte aligned.
        unsafe { ptr::read(self.0.as_ptr().add(at) as *const u64) }
    }
}

impl<const N: usize> core::ops::Deref for Wide<N> {
    type Target = [u8; N];
    fn deref(&self) -> &[u8; N] {
        &self.0
    }
}

/// Reads `N` bytes (at most 48) at `offset` a word at a time (Rust's unaligned reads become a
/// load per byte on BPF), each load with its offset in the instruction; None past the end of
/// the frame.
#[inline(always)]
fn read_wide<const N: usize>(ctx: &XdpContext, offset: usize) -> Option<Wide<N>> {
    const { assert!(N <= 48) };
    let p = ptr_at::<[u8; N]>(ctx, offset)? as *const u8;
    let mut w = Wide([0u8; N]);
    let out = w.0.as_mut_ptr();
    // SAFETY: every load is inside the `N` bytes ptr_at checked; every store inside `w`, at
    // an offset aligned for its size. The offsets are constants: the branches fold away.
    unsafe {
        macro_rules! words {
            ($($i:literal)*) => {$(
                if $i + 8 <= N {
                    ptr::write(out.add($i) as *mut u64, load64_at::<$i>(p));
                }
            )*};
        }
        words!(0 8 16 24 32 40);
        let mut i = N / 8 * 8;
        if i + 4 <= N {
            let v = match i {
                0 => load32_at::<0>(p),
                8 => load32_at::<8>(p),
                16 => load32_at::<16>(p),
                24 => load32_at::<24>(p),
                32 => load32_at::<32>(p),
                _ => load32_at::<40>(p),
            };
            ptr::write(out.add(i) as *mut u32, v);
            i += 4;
        }
        while i < N {
            *out.add(i) = *p.add(i);
            i += 1;
        }
    }
    Some(w)
}

/// `a + b`, which LLVM can no longer reason about: a bounds check on it stays in the program
/// (where LLVM would drop one it can prove from an earlier check that the verifier cannot
/// follow, and the verifier would refuse the access).
#[inline(always)]
fn opaque_add(mut a: usize, b: usize) -> usize {
    // SAFETY: one addition of registers.
    unsafe {
        core::arch::asm!("{a} += {b}", a = inout(reg) a, b = in(reg) b, options(pure, nomem, nostack))
    };
    a
}

/// Reads a `T` at `offset`; None past the end of the frame.
#[inline(always)]
fn read<T: Copy>(ctx: &XdpContext, offset: usize) -> Option<T> {
    // SAFETY: `ptr_at` checked the bounds; unaligned because frames have no alignment.
    ptr_at::<T>(ctx, offset).map(|p| unsafe { ptr::read_unaligned(p) })
}

#[inline(always)]
fn count(counter: Counter) {
    if let Some(n) = VRRP_COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *n += 1 };
    }
}

/// Counts a rejected advert under its VRID (0 when the VRID is not known yet) and drops it.
#[inline(always)]
fn reject(vrid: u8, reason: DropReason) -> u32 {
    if let Some(c) = VRRP_DROPS.get_ptr_mut(vrid as u32) {
        // SAFETY: this CPU's slot of a per-CPU array; the index is a constant below COUNT.
        unsafe { (*c).by_reason[reason as usize] += 1 };
    }
    XDP_DROP
}

/// CLOCK_MONOTONIC, precise: a helper call that costs about as much as the rest of a valid
/// advert's path (the clocksource is read through an indirect call).
#[inline(always)]
fn now_ns() -> u64 {
    // SAFETY: a helper without arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// The kernel tick (jiffies): the verifier turns the helper into one load.
#[inline(always)]
fn tick() -> u64 {
    // SAFETY: a helper without arguments.
    unsafe { bpf_jiffies64() }
}

/// CLOCK_MONOTONIC at tick resolution, read once per tick and CPU (`VRRP_CLOCK`): exact
/// enough for a liveness threshold of a Master_Down_Interval. It may lag by up to two ticks
/// (the coarse clock is updated just after jiffies).
#[inline(always)]
fn coarse_now_ns() -> u64 {
    let t = tick();
    let Some(c) = VRRP_CLOCK.get_ptr_mut(0) else {
        // SAFETY: a helper without arguments.
        return unsafe { bpf_ktime_get_coarse_ns() };
    };
    // SAFETY: this CPU's slot of a per-CPU array.
    unsafe {
        if (*c).tick != t || (*c).coarse_ns == 0 {
            (*c).coarse_ns = bpf_ktime_get_coarse_ns();
            (*c).tick = t;
        }
        (*c).coarse_ns
    }
}

/// Whether we may keep claiming the VIPs and VMAC of router `router` (a [`router_index`]):
/// while the controller's heartbeat is fresh; once it is stale, until another router's valid
/// advert for it arrived after the last heartbeat (`VRRP_TAKEOVER`: the new master), and never
/// once the heartbeat is older than `hold_ns`. Counts `GateHeld` when it is open only because
/// no one took over yet. `i`: the interface's configuration, which the caller looked up.
#[inline(always)]
fn gate_open(i: &IfaceConfig, now: u64, router: u32) -> bool {
    let hb = i.heartbeat_ns;
    if hb == 0 {
        return false;
    }
    // The coarse clock may lag the controller's fine one by a tick or two: a heartbeat "from
    // the future" is fresh.
    if now <= hb || now - hb <= i.stale_after_ns {
        return true;
    }
    if now - hb > i.hold_ns {
        return false;
    }
    let taken_over = VRRP_TAKEOVER.get(router).is_some_and(|&t| t > hb);
    if !taken_over {
        count(Counter::GateHeld);
    }
    !taken_over
}

#[inline(always)]
fn handle(ctx: &XdpContext) -> u32 {
    // The Ethernet header in two loads: the destination MAC (and two bytes of the source) as
    // one word in memory order, and the EtherType.
    let Some(eth) = ptr_at::<[u8; 14]>(ctx, 0) else {
        return XDP_PASS;
    };
    let eth = eth as *const u8;
    // SAFETY: both loads are inside the 14 bytes ptr_at checked.
    let (head, mut ethertype) = unsafe { (load64(eth), u16::from_be(load16(eth.add(12)))) };
    let mut l3 = 12;
    // Up to two VLAN tags (802.1ad outer, 802.1Q inner), read into their key (see
    // `vlan_key`): only this program's VLAN is judged.
    let mut vlan = 0u32;
    for _ in 0..2 {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        let Some(tag) = ptr_at::<[u8; 4]>(ctx, l3 + 2) else {
            return XDP_PASS;
        };
        // SAFETY: inside the 4 bytes ptr_at checked.
        let tag = unsafe { load32(tag as *const u8) };
        vlan = (vlan << 16) | vlan_tag(u16::from_be(tag as u16));
        ethertype = u16::from_be((tag >> 16) as u16);
        l3 += 4;
    }
    l3 += 2;

    if ethertype == ETH_P_ARP {
        return match iface() {
            Some(i) if i.vlan == vlan => arp(ctx, l3, i),
            _ => XDP_PASS,
        };
    }
    // A VMAC destination: 00-00-5E-00-01-{VRID} (IPv4) or 00-00-5E-00-02-{VRID} (IPv6).
    let prefix = head & 0xff_ffff_ffff;
    if prefix == u64::from_ne_bytes([0, 0, 0x5e, 0, 1, 0, 0, 0])
        || prefix == u64::from_ne_bytes([0, 0, 0x5e, 0, 2, 0, 0, 0])
    {
        if !our_vlan(vlan) {
            return XDP_PASS;
        }
        let dst = head.to_ne_bytes();
        return vmac(ctx, dst[4], dst[5], l3, ethertype);
    }
    match ethertype {
        ETH_P_IPV4 => ipv4(ctx, l3, vlan),
        ETH_P_IPV6 => ipv6(ctx, l3, vlan),
        _ => XDP_PASS,
    }
}

/// Whether frames with VLAN tags `vlan` (their `vlan_key`) are on the VLAN of this program's
/// routers: those of another VLAN belong to the routers of that VLAN's interface, if any, and
/// are passed untouched.
#[inline(always)]
fn our_vlan(vlan: u32) -> bool {
    VRRP_IFACE.get(0).map_or(vlan == 0, |i| i.vlan == vlan)
}

/// The interface's configuration (`VRRP_IFACE`): looked up once per frame and handed down.
#[inline(always)]
pub(crate) fn iface() -> Option<&'static IfaceConfig> {
    VRRP_IFACE.get(0)
}

/// A frame addressed to a VMAC.
#[inline(always)]
fn vmac(ctx: &XdpContext, kind: u8, vrid: u8, l3: usize, ethertype: u16) -> u32 {
    let family = if kind == 1 {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    let Some(router) = VRRP_ROUTERS.get(router_index(family, vrid)) else {
        return XDP_PASS;
    };
    if router.flags & ROUTER_CONFIGURED == 0 {
        // Another router's VMAC: not ours to judge; the kernel drops it as for another host.
        return XDP_PASS;
    }
    if router.flags & ROUTER_MASTER == 0 {
        count(Counter::VmacDropped);
        return XDP_DROP;
    }
    let Some(iface) = iface() else {
        return XDP_PASS;
    };
    if !gate_open(iface, coarse_now_ns(), router_index(family, vrid)) {
        count(Counter::GateClosed);
        return XDP_DROP;
    }
    if iface.flags & IFACE_NO_ACCEPT != 0 && refused(ctx, l3, ethertype) {
        count(Counter::NoAcceptDropped);
        return XDP_DROP;
    }
    let Some(d) = ptr_at::<[u8; 6]>(ctx, 0) else {
        return XDP_PASS;
    };
    // SAFETY: bounds checked by ptr_at.
    unsafe { ptr::write_unaligned(d, iface.mac) };
    count(Counter::VmacRewritten);
    XDP_PASS
}

/// ARP: answer requests for our active VIPs from the VMAC; spot others claiming them.
#[inline(always)]
fn arp(ctx: &XdpContext, off: usize, iface: &IfaceConfig) -> u32 {
    let Some(a) = read_wide::<ARP_LEN>(ctx, off) else {
        return XDP_PASS;
    };
    // Ethernet (1) / IPv4 (0x0800), 6-byte hardware and 4-byte protocol addresses.
    if a[0..6] != [0, 1, 8, 0, 6, 4] {
        return XDP_PASS;
    }
    let op = u16::from_be_bytes([a[6], a[7]]);
    let sha = [a[8], a[9], a[10], a[11], a[12], a[13]];
    let spa = [a[14], a[15], a[16], a[17]];
    let tpa = [a[24], a[25], a[26], a[27]];

    // Someone else announcing (GARP, reply, or request) one of our active VIPs: another MAC,
    // or our own VMAC, which only another master of the VRID sends from (ours leave by this
    // interface, they never come in on it): the controller tells the two apart.
    if let Some(vip) = lookup_vip(&spa) {
        let vrid = vip.vrid as u8;
        if is_master(vrid) {
            count(Counter::ArpConflict);
            let mut src = [0u8; 16];
            src[..4].copy_from_slice(&spa);
            emit_event(
                EventKind::AddressConflict,
                router_index(Family::Ipv4, vrid),
                0,
                0,
                now_ns(),
                src,
                sha,
            );
            // A request for the VIP itself (a gratuitous one, as a preempting master sends):
            // passed, the kernel would answer it from the interface's own MAC while we still
            // hold the VIP, a second MAC for it (seen when a peer preempted us).
            return if op == 1 && spa == tpa {
                XDP_DROP
            } else {
                XDP_PASS
            };
        }
    }

    if op != 1 || spa == tpa {
        return XDP_PASS;
    }
    let Some(vip) = lookup_vip(&tpa) else {
        return XDP_PASS;
    };
    let vrid = vip.vrid as u8;
    if !is_master(vrid) {
        count(Counter::ArpNotMaster);
        return XDP_PASS;
    }
    if !gate_open(iface, coarse_now_ns(), router_index(Family::Ipv4, vrid)) {
        count(Counter::GateClosed);
        return XDP_DROP;
    }
    let (Some(eth), Some(arp)) = (
        ptr_at::<[u8; 14]>(ctx, 0),
        ptr_at::<[u8; ARP_LEN]>(ctx, off),
    ) else {
        return XDP_PASS;
    };
    let (eth, arp) = (eth as *mut u8, arp as *mut u8);
    // The reply in words, from the request's: the requester's MAC (the low six bytes of the
    // word at 8) and address; the VMAC's first two bytes are 0, the rest one 32-bit word.
    let sha = a.word(8) & 0xffff_ffff_ffff;
    let spa = u32::from_ne_bytes(spa);
    let tpa = u32::from_ne_bytes(tpa) as u64;
    let vmac = vmac_v4(vrid);
    let vmac_tail = u32::from_ne_bytes([vmac[2], vmac[3], vmac[4], vmac[5]]);
    // SAFETY: every store is inside the Ethernet header or the ARP message ptr_at checked.
    unsafe {
        // To the requester, from the VMAC.
        store64_at::<0>(eth, sha);
        store32_at::<8>(eth, vmac_tail);
        // Ethernet/IPv4, op 2 (reply); sender: the VMAC and the VIP; target: the requester.
        store64_at::<0>(arp, u64::from_ne_bytes([0, 1, 8, 0, 6, 4, 0, 2]));
        store64_at::<8>(arp, ((vmac_tail as u64) << 16) | (tpa << 48));
        store64_at::<16>(arp, (tpa >> 16) | (sha << 16));
        store32_at::<24>(arp, spa);
    }
    count(Counter::ArpReplied);
    XDP_TX
}

/// The VIP entry for `addr`: from its slot, or from `VRRP_VIPS` when the slot overflowed.
#[inline(always)]
fn lookup_vip(addr: &[u8; 4]) -> Option<VipEntry> {
    let slot = VRRP_VIPSLOTS.get(addr[3] as u32)?;
    let want = u32::from_ne_bytes(*addr);
    for w in 0..SLOT_WAYS4 {
        // SAFETY: `addr4` is 4-byte aligned in the map value (asserted in vrrp-common).
        let have = unsafe { ptr::read(slot.addr4.as_ptr().add(w) as *const u32) };
        if have == want && slot.router4[w] != 0 {
            return Some(VipEntry {
                vrid: slot.router4[w],
            });
        }
    }
    if slot.more4 == 0 {
        return None;
    }
    // SAFETY: the value is copied out at once.
    VRRP_VIPS.get_ptr(addr).map(|p| unsafe { *p })
}

/// Whether frames of `vlan` are this interface's routers' and one of them lacks Accept_Mode
/// ([`IFACE_NO_ACCEPT`]): only then is an IP frame's destination looked up.
#[inline(always)]
fn no_accept_here(vlan: u32) -> bool {
    VRRP_IFACE
        .get(0)
        .is_some_and(|i| i.flags & IFACE_NO_ACCEPT != 0 && i.vlan == vlan)
}

/// Whether router flags `flags` say: master without Accept_Mode ([`ROUTER_NO_ACCEPT`]).
#[inline(always)]
pub(crate) fn refuses(flags: u32) -> bool {
    flags & (ROUTER_MASTER | ROUTER_NO_ACCEPT) == ROUTER_MASTER | ROUTER_NO_ACCEPT
}

/// Accept_Mode off (RFC 5798 §6.1, keepalived's `no_accept`): whether the IP packet at `l3`
/// goes to a VIP of a router we are master of without Accept_Mode, and is neither VRRP nor
/// neighbour discovery.
#[inline(always)]
fn refused(ctx: &XdpContext, l3: usize, ethertype: u16) -> bool {
    if ethertype == ETH_P_IPV4 {
        read_wide::<IPV4_HLEN>(ctx, l3).is_some_and(|ip| ip[9] != IPPROTO_VRRP && refused4(&ip))
    } else if ethertype == ETH_P_IPV6 {
        let Some(ip) = read_wide::<IPV6_HLEN>(ctx, l3) else {
            return false;
        };
        if ip[6] == IPPROTO_VRRP {
            return false;
        }
        if ip[6] == IPPROTO_ICMPV6 {
            let kind = read::<u8>(ctx, l3 + IPV6_HLEN).unwrap_or(0);
            if kind == ND_NEIGHBOR_SOLICIT || kind == ND_NEIGHBOR_ADVERT {
                return false;
            }
        }
        nd::refused6(&ip)
    } else {
        false
    }
}

/// Whether the IPv4 header `ip` (not VRRP) goes to a VIP of a router we are master of without
/// Accept_Mode.
#[inline(always)]
fn refused4(ip: &Wide<IPV4_HLEN>) -> bool {
    let Some(vip) = lookup_vip(&[ip[16], ip[17], ip[18], ip[19]]) else {
        return false;
    };
    VRRP_ROUTERS
        .get(router_index(Family::Ipv4, vip.vrid as u8))
        .is_some_and(|r| refuses(r.flags))
}

#[inline(always)]
fn is_master(vrid: u8) -> bool {
    VRRP_ROUTERS
        .get(router_index(Family::Ipv4, vrid))
        .is_some_and(|r| r.flags & ROUTER_MASTER != 0)
}

#[inline(always)]
fn emit_event(
    kind: EventKind,
    router: u32,
    priority: u32,
    interval_cs: u32,
    time_ns: u64,
    src: [u8; 16],
    mac: [u8; 6],
) {
    let event = Event {
        kind: kind as u32,
        router,
        priority,
        interval_cs,
        time_ns,
        src,
        mac,
        _pad: [0; 2],
    };
    if VRRP_EVENTS.output(event, 0).is_ok() {
        count(Counter::EventSent);
    } else {
        count(Counter::EventLost);
    }
}

/// What the IP layer tells the VRRP checks.
struct IpInfo {
    family: Family,
    /// Offset of the VRRP message in the frame.
    vrrp_off: usize,
    /// Length of the VRRP message, from the IP header.
    vrrp_len: u32,
    /// The source address as two words in memory order (IPv4: the first word's low half):
    /// compared and copied in two operations where a byte array would take sixteen.
    src: [u64; 2],
    /// Offset of the IP header: the pseudo-header's addresses are read from the frame only
    /// when a v3 checksum needs them.
    l3: usize,
}

impl IpInfo {
    /// One's complement sum (memory order, unfolded) of the pseudo-header.
    #[inline(always)]
    fn pseudo_sum(&self, ctx: &XdpContext) -> u64 {
        let proto = u16::from_ne_bytes([0, IPPROTO_VRRP]) as u64;
        match self.family {
            Family::Ipv4 => {
                let addrs = read_wide::<8>(ctx, self.l3 + 12).map_or([0; 8], |w| w.0);
                sum_words(&addrs)
                    + proto
                    + u16::from_ne_bytes((self.vrrp_len as u16).to_be_bytes()) as u64
            }
            Family::Ipv6 => {
                let addrs = read_wide::<32>(ctx, self.l3 + 8).map_or([0; 32], |w| w.0);
                sum_words(&addrs)
                    + u16::from_ne_bytes(((self.vrrp_len >> 16) as u16).to_be_bytes()) as u64
                    + u16::from_ne_bytes((self.vrrp_len as u16).to_be_bytes()) as u64
                    + proto
            }
        }
    }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, off: usize, vlan: u32) -> u32 {
    let Some(ip) = read_wide::<IPV4_HLEN>(ctx, off) else {
        return XDP_PASS;
    };
    if ip[9] != IPPROTO_VRRP {
        if no_accept_here(vlan) && refused4(&ip) {
            count(Counter::NoAcceptDropped);
            return XDP_DROP;
        }
        return XDP_PASS;
    }
    if !our_vlan(vlan) {
        return XDP_PASS;
    }
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    let tot_len = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    if ip[0] >> 4 != 4 || ihl < IPV4_HLEN || tot_len < ihl || frag != 0 {
        return reject(0, DropReason::BadIpHeader);
    }
    if ctx.data() + off + tot_len > ctx.data_end() {
        return reject(0, DropReason::BadIpHeader);
    }
    let src = [
        u32::from_ne_bytes([ip[12], ip[13], ip[14], ip[15]]) as u64,
        0,
    ];
    let vrrp_len = (tot_len - ihl) as u32;
    let ttl = hop_limit_checked(ip[8], ip[16] & 0xf0 == 0xe0);
    let info = IpInfo {
        family: Family::Ipv4,
        vrrp_off: off + ihl,
        vrrp_len,
        src,
        l3: off,
    };
    advert(ctx, &info, ttl)
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, off: usize, vlan: u32) -> u32 {
    let Some(ip) = read_wide::<IPV6_HLEN>(ctx, off) else {
        return XDP_PASS;
    };
    if ip[6] != IPPROTO_VRRP {
        if ip[6] == IPPROTO_ICMPV6 {
            return match iface() {
                Some(i) if i.vlan == vlan => nd::icmpv6(ctx, off, &ip, i),
                _ => XDP_PASS,
            };
        }
        if no_accept_here(vlan) && nd::refused6(&ip) {
            count(Counter::NoAcceptDropped);
            return XDP_DROP;
        }
        return XDP_PASS;
    }
    if !our_vlan(vlan) {
        return XDP_PASS;
    }
    let payload_len = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    if ip[0] >> 4 != 6 || ctx.data() + off + IPV6_HLEN + payload_len > ctx.data_end() {
        return reject(0, DropReason::BadIpHeader);
    }
    let src = [ip.word(8), ip.word(16)];
    let vrrp_len = payload_len as u32;
    let hop_limit = hop_limit_checked(ip[7], ip[24] == 0xff);
    let info = IpInfo {
        family: Family::Ipv6,
        vrrp_off: off + IPV6_HLEN,
        vrrp_len,
        src,
        l3: off,
    };
    advert(ctx, &info, hop_limit)
}

/// The TTL/hop limit the checks see: the packet's, for an advert to a multicast group; 255 for
/// one sent to a unicast address (`unicast_peer`), whose hop limit keepalived does not check
/// (it sends IPv6 unicast adverts with the kernel's default hop limit).
#[inline(always)]
fn hop_limit_checked(ttl: u8, multicast: bool) -> u8 {
    if multicast { ttl } else { VRRP_TTL }
}

/// One's complement sum (unfolded, memory order) of a word's two 32-bit halves.
#[inline(always)]
pub(crate) fn sum64(w: u64) -> u64 {
    (w & 0xffff_ffff) + (w >> 32)
}

/// Sum of 16-bit words in memory order (the order `bpf_csum_diff` sums in).
#[inline(always)]
fn sum_words(bytes: &[u8]) -> u64 {
    let mut s = 0u64;
    let mut i = 0;
    while i + 1 < bytes.len() {
        s += u16::from_ne_bytes([bytes[i], bytes[i + 1]]) as u64;
        i += 2;
    }
    s
}

#[inline(always)]
fn fold(mut s: u64) -> u16 {
    s = (s & 0xffff_ffff) + (s >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

/// Messages up to this many bytes are summed inline, without helper calls: every v2 advert with
/// up to 12 addresses and every v3 IPv4 advert with up to 14.
const INLINE_MAX: u32 = 64;

/// One's complement sum (unfolded, memory order) of the VRRP message, or None if the frame
/// could not be read. `len` is a multiple of 4 (the caller checked it against the count).
#[inline(always)]
fn message_sum(ctx: &XdpContext, off: usize, len: u32) -> Option<u64> {
    if len <= INLINE_MAX {
        // 32-bit words in memory order (two to a load): their one's complement sum folds to
        // the same 16 bits as the 16-bit words'.
        let len = len as usize;
        let mut sum: u64 = 0;
        let mut at = 0;
        for _ in 0..INLINE_MAX / 8 {
            if at + 8 > len {
                break;
            }
            let p = ptr_at::<u64>(ctx, opaque_add(off, at))? as *const u8;
            // SAFETY: inside the 8 bytes ptr_at checked.
            sum += sum64(unsafe { load64(p) });
            at += 8;
        }
        if at < len {
            let p = ptr_at::<u32>(ctx, opaque_add(off, at))? as *const u8;
            // SAFETY: inside the 4 bytes ptr_at checked.
            sum += unsafe { load32(p) } as u64;
        }
        return Some(sum);
    }
    let scratch = VRRP_SCRATCH.get_ptr_mut(0)?;
    let mut sum: u64 = 0;
    let mut done: u32 = 0;
    for _ in 0..CHUNKS {
        if done >= len {
            break;
        }
        let mut n = len - done;
        if n > CHUNK {
            n = CHUNK;
        }
        if n == 0 {
            break;
        }
        // SAFETY: the helper copies `n` ≤ CHUNK bytes into this CPU's scratch slot of CHUNK
        // bytes and fails (non-zero) if they are not all in the frame.
        if unsafe { bpf_xdp_load_bytes(ctx.ctx, off as u32 + done, scratch as *mut c_void, n) } != 0
        {
            return None;
        }
        // SAFETY: sums `n` bytes of the scratch slot; `n` is a multiple of 4 (checked by the
        // caller's length check) and at most CHUNK.
        let r = unsafe { bpf_csum_diff(ptr::null_mut(), 0, scratch as *mut u32, n, sum as u32) };
        if r < 0 {
            return None;
        }
        sum = (r as u64) & 0xffff_ffff;
        done += CHUNK;
    }
    Some(sum)
}

/// The VRRP checks of RFC 5798 §7.1 (RFC 3768 §7.1 for v2), then the recording.
#[inline(always)]
fn advert(ctx: &XdpContext, ip: &IpInfo, ttl: u8) -> u32 {
    let off = ip.vrrp_off;
    let Some(h) = read_wide::<VRRP_HLEN>(ctx, off) else {
        return reject(0, DropReason::Truncated);
    };
    if ip.vrrp_len < VRRP_HLEN as u32 {
        return reject(0, DropReason::Truncated);
    }
    let vrid = h[1];
    if ttl != VRRP_TTL {
        return reject(vrid, DropReason::BadTtl);
    }
    let version = h[0] >> 4;
    if !(version == 3 || (version == 2 && matches!(ip.family, Family::Ipv4))) {
        return reject(vrid, DropReason::BadVersion);
    }
    if h[0] & 0x0f != VRRP_TYPE_ADVERT {
        return reject(vrid, DropReason::BadType);
    }
    let count = h[3] as u32;
    let addr_len = if matches!(ip.family, Family::Ipv4) {
        4
    } else {
        16
    };
    let expected = if version == 2 {
        VRRP_HLEN as u32 + 4 * count + 8
    } else {
        VRRP_HLEN as u32 + addr_len * count
    };
    if ip.vrrp_len != expected || (version == 3 && count == 0) {
        return reject(vrid, DropReason::BadLength);
    }
    let Some(msg) = message_sum(ctx, off, ip.vrrp_len) else {
        return reject(vrid, DropReason::Truncated);
    };
    // v2: message only. v3/IPv6: with the pseudo-header. v3/IPv4: either (0 = pseudo-header).
    let csum_variant = if version == 2 {
        if fold(msg) != 0xffff {
            return reject(vrid, DropReason::BadChecksum);
        }
        1
    } else if fold(msg + ip.pseudo_sum(ctx)) == 0xffff {
        0
    } else if matches!(ip.family, Family::Ipv4) && fold(msg) == 0xffff {
        1
    } else {
        return reject(vrid, DropReason::BadChecksum);
    };
    let interval_cs = if version == 2 {
        h[5] as u32 * 100
    } else {
        (((h[4] & 0x0f) as u32) << 8) | h[5] as u32
    };
    if interval_cs == 0 {
        return reject(vrid, DropReason::BadInterval);
    }

    // Policy: what the controller configured for this router.
    let index = router_index(ip.family, vrid);
    let Some(router) = VRRP_ROUTERS
        .get(index)
        .filter(|r| r.flags & ROUTER_CONFIGURED != 0)
    else {
        return not_ours(vrid);
    };
    if version as u32 != router.version {
        return reject(vrid, DropReason::BadVersion);
    }
    if version == 2 {
        if h[4] as u32 != router.auth_type {
            return reject(vrid, DropReason::AuthTypeMismatch);
        }
        if h[4] == AUTH_PASS {
            let Some(pass) = ptr_at::<u64>(ctx, off + VRRP_HLEN + 4 * count as usize) else {
                return reject(vrid, DropReason::Truncated);
            };
            // All 8 bytes in one compare (no early exit on the first wrong byte).
            // SAFETY: inside the 8 bytes ptr_at checked; `auth_data` is 8-byte aligned in the
            // map value (asserted in vrrp-common).
            let (pass, want) = unsafe {
                (
                    load64(pass as *const u8),
                    ptr::read(router.auth_data.as_ptr() as *const u64),
                )
            };
            if pass != want {
                return reject(vrid, DropReason::BadPassword);
            }
        }
        if interval_cs != router.interval_cs {
            return reject(vrid, DropReason::BadInterval);
        }
    }
    // The addresses, as keepalived 2.2.7 compares them: always while master; while not, with
    // `skip_check_adv_addr`, not those of the sender already followed (looked at only when
    // they differ).
    if router.flags & ROUTER_CHECK_ADDRS != 0
        && !lists_ours(ctx, ip, count, router)
        && !follows(ip, index, router)
    {
        return reject(vrid, DropReason::AddressList);
    }
    record(
        ctx,
        ip,
        index,
        router,
        h[2] as u32,
        interval_cs,
        csum_variant,
    )
}

/// An advert for a VRID this interface does not run: another VRRP speaker's on the host (say
/// keepalived, running the VRIDs not yet moved to vrrpd). It passed the checks every
/// conforming speaker makes (TTL, version, type, length, checksum); the rest is that speaker's
/// business: passed to the stack, counted, never stamped. Dropped as `unknown_vrid` when the
/// operator said vrrpd is the only speaker (`IFACE_EXCLUSIVE`).
#[inline(always)]
fn not_ours(vrid: u8) -> u32 {
    if VRRP_IFACE
        .get(0)
        .is_some_and(|i| i.flags & IFACE_EXCLUSIVE != 0)
    {
        return reject(vrid, DropReason::UnknownVrid);
    }
    count(Counter::AdvertNotOurs);
    XDP_PASS
}

/// Whether we follow the advert's sender whatever it lists: not master, with
/// `skip_check_adv_addr` ([`ROUTER_SKIP_SAME_SENDER`]), and it sent the advert this CPU
/// stamped last for the router (keepalived's `master_saddr`).
#[inline(always)]
fn follows(ip: &IpInfo, index: u32, router: &RouterConfig) -> bool {
    if router.flags & (ROUTER_SKIP_SAME_SENDER | ROUTER_MASTER) != ROUTER_SKIP_SAME_SENDER {
        return false;
    }
    // SAFETY: a helper without arguments (the verifier inlines it).
    let cpu = unsafe { bpf_get_smp_processor_id() };
    VRRP_ADVERTS
        .get(stamp_index(cpu, index))
        // SAFETY: `src` is 8-byte aligned in the map value (asserted in vrrp-common).
        .is_some_and(|s| s.count != 0 && unsafe { words16(&s.src) } == ip.src)
}

/// Whether the advert, listing `count` addresses, lists ours: as many as
/// [`RouterConfig::addr_count`], and then (unless [`ROUTER_ADDRS_COUNT_ONLY`]) our one IPv4
/// address ([`ROUTER_ADDR_ONE4`]), or addresses whose prints sum to
/// [`RouterConfig::addr_print`] in any order.
#[inline(always)]
fn lists_ours(ctx: &XdpContext, ip: &IpInfo, count: u32, router: &RouterConfig) -> bool {
    if count != router.addr_count {
        return false;
    }
    if router.flags & ROUTER_ADDRS_COUNT_ONLY != 0 {
        return true;
    }
    if router.flags & ROUTER_ADDR_ONE4 != 0 {
        // SAFETY: inside the 4 bytes ptr_at checked.
        return ptr_at::<u32>(ctx, ip.vrrp_off + VRRP_HLEN)
            .is_some_and(|p| u64::from(unsafe { load32(p as *const u8) }) == router.addr_print);
    }
    prints_ours(ctx, ip, router)
}

/// Whether the prints of the advert's [`RouterConfig::addr_count`] addresses sum to
/// [`RouterConfig::addr_print`].
#[inline(always)]
fn prints_ours(ctx: &XdpContext, ip: &IpInfo, router: &RouterConfig) -> bool {
    let count = router.addr_count as usize;
    let base = ip.vrrp_off + VRRP_HLEN;
    let mut print: u64 = 0;
    if matches!(ip.family, Family::Ipv6) {
        for i in 0..MAX_ADDRS6 {
            if i >= count {
                break;
            }
            let Some(p) = ptr_at::<[u64; 2]>(ctx, opaque_add(base, 16 * i)) else {
                return false;
            };
            let p = p as *const u8;
            // SAFETY: inside the 16 bytes ptr_at checked.
            let (high, low) = unsafe { (load64(p), load64_at::<8>(p)) };
            print = print.wrapping_add(address_print6(high, low));
        }
    } else {
        for i in 0..MAX_ADDRS4 {
            if i >= count {
                break;
            }
            let Some(p) = ptr_at::<u32>(ctx, opaque_add(base, 4 * i)) else {
                return false;
            };
            // SAFETY: inside the 4 bytes ptr_at checked.
            print = print.wrapping_add(address_print4(unsafe { load32(p as *const u8) }));
        }
    }
    print == router.addr_print
}

/// Stamps a valid advert, wakes the controller if it must act now, and passes the advert to
/// the stack at a bounded rate.
#[inline(always)]
fn record(
    ctx: &XdpContext,
    ip: &IpInfo,
    index: u32,
    router: &RouterConfig,
    priority: u32,
    interval_cs: u32,
    csum_variant: u32,
) -> u32 {
    // v3/IPv4 checksummed the other way than ours: accepted (the RFC left it ambiguous), but
    // a peer that checks only its own variant drops our adverts. (The advert's version is the
    // router's, checked before.)
    let other_csum = router.version == 3
        && matches!(ip.family, Family::Ipv4)
        && csum_variant != ((router.flags & ROUTER_CSUM_MSG_ONLY) >> 4);
    if other_csum {
        count(Counter::AdvertOtherChecksum);
    }
    // SAFETY: a helper without arguments (the verifier inlines it).
    let cpu = unsafe { bpf_get_smp_processor_id() };
    let Some(stamp) = VRRP_ADVERTS.get_ptr_mut(stamp_index(cpu, index)) else {
        return XDP_PASS;
    };
    // SAFETY: this CPU's stamp: written by this CPU only, read by the daemon through its
    // sequence count.
    let stamp = unsafe { &mut *stamp };
    // SAFETY: `src` is 8-byte aligned in the map value (asserted in vrrp-common).
    let new_sender = unsafe { words16(&stamp.src) } != ip.src;
    let kind = if priority == 0 {
        Some(EventKind::PriorityZero)
    } else if router.flags & ROUTER_MASTER != 0
        && (priority > router.priority
            || (priority == router.priority && beyond(ip.src, &router.primary)))
    {
        Some(EventKind::Superior)
    } else if new_sender {
        Some(EventKind::NewMaster)
    } else if other_csum
        && (stamp.count == 0
            || u32::from(stamp.csum_variant) != csum_variant
            || now_ns().wrapping_sub(stamp.time_ns) > interval_cs as u64 * 30_000_000)
    {
        // Once per episode (a change of variant, or the first advert after three intervals
        // of silence), not per advert: the controller says it once.
        Some(EventKind::ChecksumMismatch)
    } else {
        None
    };
    // The precise clock once per router, CPU and tick (see AdvertStamp), and for every advert
    // the controller must act on at once: a priority 0 right behind the master's last advert
    // starts Skew_Time from its exact arrival, not from a tick later.
    let t = tick();
    let same_tick = kind.is_none() && stamp.count != 0 && stamp.tick == t;
    let now = if same_tick { stamp.time_ns } else { now_ns() };
    let seq = stamp.seq;
    let s: *mut AdvertStamp = stamp;
    // SAFETY: the fields of this CPU's stamp. Volatile stores are neither dropped nor
    // reordered among themselves, so the daemon sees the count odd before any field changes
    // and even again only after the last (AdvertStamp::seq).
    unsafe {
        ptr::write_volatile(&raw mut (*s).seq, seq.wrapping_add(1));
        if same_tick {
            ptr::write_volatile(&raw mut (*s).same_tick, (*s).same_tick + 1);
        } else {
            ptr::write_volatile(&raw mut (*s).time_ns, now);
            ptr::write_volatile(&raw mut (*s).tick, t);
            ptr::write_volatile(&raw mut (*s).same_tick, 0);
        }
        ptr::write_volatile(&raw mut (*s).count, (*s).count + 1);
        ptr::write_volatile(&raw mut (*s).priority, priority);
        ptr::write_volatile(&raw mut (*s).interval_cs, interval_cs);
        // `src` is 8-byte aligned in the map value (asserted in vrrp-common).
        let src = (&raw mut (*s).src).cast::<u64>();
        ptr::write_volatile(src, ip.src[0]);
        ptr::write_volatile(src.add(1), ip.src[1]);
        ptr::write_volatile(&raw mut (*s).csum_variant, csum_variant as u16);
        ptr::write_volatile(&raw mut (*s).seq, seq.wrapping_add(2));
    }
    // Counted once stamped: a reader that sees the count sees the stamp (the daemon reads
    // the stamps again only when this count moved).
    count(Counter::AdvertValid);

    if let Some(kind) = kind {
        let mac = read::<[u8; 6]>(ctx, 6).unwrap_or([0; 6]);
        emit_event(
            kind,
            index,
            priority,
            interval_cs,
            now,
            bytes16(ip.src),
            mac,
        );
    }

    let (gap, heartbeat) = VRRP_IFACE
        .get(0)
        .map_or((0, 0), |i| (i.pass_gap_ns, i.heartbeat_ns));
    // Another router's advert after the controller's last heartbeat: the first one is the
    // liveness gate's news that someone else is master now (see `gate_open`). A priority 0 is
    // a router leaving, not taking over.
    if priority != 0
        && let Some(t) = VRRP_TAKEOVER.get_ptr_mut(index)
    {
        // SAFETY: a value of an array map; a racing writer on another CPU writes a time after
        // the same heartbeat too.
        unsafe {
            if *t <= heartbeat {
                *t = now;
            }
        }
    }
    if stamp.passed_ns == 0 || now.wrapping_sub(stamp.passed_ns) >= gap {
        stamp.passed_ns = now;
        count(Counter::AdvertPassed);
        XDP_PASS
    } else {
        count(Counter::AdvertRateLimited);
        XDP_DROP
    }
}

/// 16 bytes at an 8-byte aligned address, as two words in memory order.
///
/// # Safety
/// `p` must be 8-byte aligned (a field the map types assert so).
#[inline(always)]
pub(crate) unsafe fn words16(p: &[u8; 16]) -> [u64; 2] {
    let w = p.as_ptr() as *const u64;
    // SAFETY: aligned per the contract; 16 bytes are in `p`.
    unsafe { [ptr::read(w), ptr::read(w.add(1))] }
}

/// Two words in memory order back into bytes.
#[inline(always)]
pub(crate) fn bytes16(v: [u64; 2]) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&v[0].to_ne_bytes());
    b[8..].copy_from_slice(&v[1].to_ne_bytes());
    b
}

/// Whether address `a` (words in memory order) is above `b` as unsigned big-endian numbers
/// (RFC 5798 §6.4.3's tie-break on the primary address).
#[inline(always)]
fn beyond(a: [u64; 2], b: &[u8; 16]) -> bool {
    // SAFETY: `primary` is 8-byte aligned in the map value (asserted in vrrp-common).
    let b = unsafe { words16(b) };
    let (a0, a1, b0, b1) = (
        u64::from_be(a[0]),
        u64::from_be(a[1]),
        u64::from_be(b[0]),
        u64::from_be(b[1]),
    );
    a0 > b0 || (a0 == b0 && a1 > b1)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
