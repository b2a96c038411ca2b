//! The benchmarks' own programs, a separate object (`vrrp-bench`) so that the production object
//! that `vrrpd` embeds and loads holds only its own programs and maps. Only the lab and the
//! benchmarks (the `lab` feature of `vrrp-userspace`) embed this one.
//!
//! * `vrrp_noop`: the empty XDP program, the baseline the benchmarks subtract to get the cost of
//!   `vrrp` alone.
//! * `vrrp_tx`: the flood generator. With BPF_PROG_TEST_RUN in live-frames mode it sends the
//!   test frame out of the interface the run names as ingress. Never attached.
#![no_std]
#![no_main]

use core::ffi::c_void;

use aya_ebpf::{
    bindings::xdp_action::{XDP_PASS, XDP_TX},
    btf_maps::Array,
    helpers::bpf_xdp_store_bytes,
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use vrrp_common::maps::{TX_TEMPLATE_MAX, TxTemplate};

/// The flood generator's frame (see [`vrrp_tx`]).
#[btf_map]
static VRRP_TX_FRAME: Array<TxTemplate, 1> = Array::new();

/// The empty program: what the benchmarks subtract to get the cost of `vrrp` alone.
#[xdp]
pub fn vrrp_noop(_ctx: XdpContext) -> u32 {
    XDP_PASS
}

/// The flood generator. The kernel recycles the frames' pages without restoring their bytes, so
/// the frame is first written from `VRRP_TX_FRAME`: a receiver that rewrote a page in place (a
/// reply) gets a fresh frame next time.
#[xdp]
pub fn vrrp_tx(ctx: XdpContext) -> u32 {
    if let Some(t) = VRRP_TX_FRAME.get_ptr_mut(0) {
        // SAFETY: the map's only value, valid for its whole size.
        let len = unsafe { (*t).len };
        if len != 0 && len as usize <= TX_TEMPLATE_MAX {
            // The same value, in a form the verifier can bound (1..=TX_TEMPLATE_MAX).
            let len = ((len - 1) & (TX_TEMPLATE_MAX as u32 - 1)) + 1;
            // SAFETY: copies `len` ≤ TX_TEMPLATE_MAX bytes of the value's frame into the
            // packet; the helper fails, writing nothing, if the packet is shorter.
            unsafe {
                bpf_xdp_store_bytes(ctx.ctx, 0, (*t).frame.as_mut_ptr() as *mut c_void, len);
            }
        }
    }
    XDP_TX
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
