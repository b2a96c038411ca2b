//! The XDP program attached by `vrrpd` to each interface that carries a VRRP instance.
//!
//! This first version only classifies: it counts, per CPU, the frames it sees by protocol class
//! and passes all of them. The advert filter, the advert stamps and the ARP responder build on
//! this classification (see `docs/architecture.md`).
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::PerCpuArray,
    programs::XdpContext,
};
use vrrp_common::proto::{ETH_P_ARP, ETH_P_IPV4, ETH_P_IPV6, IPPROTO_VRRP};

/// Frames seen per class, per CPU: index 0 other, 1 ARP, 2 IPv4 VRRP, 3 IPv6 VRRP.
#[map(name = "VRRP_CLASSES")]
static CLASSES: PerCpuArray<u64> = PerCpuArray::with_max_entries(4, 0);

const ETH_HLEN: usize = 14;

#[xdp]
pub fn vrrp(ctx: XdpContext) -> u32 {
    let class = classify(&ctx);
    if let Some(n) = CLASSES.get_ptr_mut(class) {
        // SAFETY: a per-CPU slot, written only by this CPU.
        unsafe { *n += 1 };
    }
    xdp_action::XDP_PASS
}

/// The counter index of a frame; anything the program cannot read is "other".
#[inline(always)]
fn classify(ctx: &XdpContext) -> u32 {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + ETH_HLEN > end {
        return 0;
    }
    // SAFETY: bounds checked above.
    let ethertype = unsafe { u16::from_be(*((start + 12) as *const u16)) };
    match ethertype {
        ETH_P_ARP => 1,
        ETH_P_IPV4 => {
            if start + ETH_HLEN + 20 > end {
                return 0;
            }
            // SAFETY: bounds checked above; byte 9 of the IPv4 header is the protocol.
            let proto = unsafe { *((start + ETH_HLEN + 9) as *const u8) };
            if proto == IPPROTO_VRRP { 2 } else { 0 }
        }
        ETH_P_IPV6 => {
            if start + ETH_HLEN + 40 > end {
                return 0;
            }
            // SAFETY: bounds checked above; byte 6 of the IPv6 header is the next header.
            let next = unsafe { *((start + ETH_HLEN + 6) as *const u8) };
            if next == IPPROTO_VRRP { 3 } else { 0 }
        }
        _ => 0,
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
