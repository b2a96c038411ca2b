//! The benchmarks' own programs, a separate object (`vrrp-bench`) so that the production object
//! that `vrrpd` embeds and loads holds only its own programs and maps. Only the lab and the
//! benchmarks (the `lab` feature of `vrrp-userspace`) embed this one.
//!
//! * `vrrp_noop`: the empty XDP program, the baseline the benchmarks subtract to get the cost of
//!   `vrrp` alone.
//! * `vrrp_tx`: the flood generator. With BPF_PROG_TEST_RUN in live-frames mode it sends the
//!   test frame out of the interface the run names as ingress. Never attached.
//! * `floor_*`: the floors, one thing `vrrp` does each (a clock, a map lookup, a counter, plain
//!   arithmetic), timed like `vrrp`'s paths so that the benchmark can say what they cost here.
#![no_std]
#![no_main]
#![feature(asm_experimental_arch)] // the floor of plain arithmetic (`floor_alu`)

use core::ffi::c_void;

use aya_ebpf::{
    bindings::xdp_action::{XDP_PASS, XDP_TX},
    btf_maps::{Array, PerCpuArray},
    helpers::{bpf_ktime_get_coarse_ns, bpf_ktime_get_ns, bpf_xdp_store_bytes},
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

/// The floors' array map (see [`floor_array`]).
#[btf_map]
static FLOOR_ARRAY: Array<u64, 4> = Array::new();
/// The floors' per-CPU array map (see [`floor_percpu`]).
#[btf_map]
static FLOOR_PERCPU: PerCpuArray<u64, 4> = PerCpuArray::new();

// The floors: each does one thing `vrrp` does on its paths, so that the benchmark can say what
// that costs on this machine's kernel, above `vrrp_noop`, in the same run. Each returns
// XDP_PASS, and only depends on its result so that the work is not optimised away.

/// The precise clock (`bpf_ktime_get_ns`): a helper call that reads the clocksource.
#[xdp]
pub fn floor_ktime(_ctx: XdpContext) -> u32 {
    // SAFETY: a helper without arguments.
    let t = unsafe { bpf_ktime_get_ns() };
    if t == 1 { XDP_TX } else { XDP_PASS }
}

/// The coarse clock (`bpf_ktime_get_coarse_ns`): a helper call that reads a variable.
#[xdp]
pub fn floor_coarse(_ctx: XdpContext) -> u32 {
    // SAFETY: a helper without arguments.
    let t = unsafe { bpf_ktime_get_coarse_ns() };
    if t == 1 { XDP_TX } else { XDP_PASS }
}

/// One array map lookup and a read of the value (the verifier inlines the lookup).
#[xdp]
pub fn floor_array(_ctx: XdpContext) -> u32 {
    match FLOOR_ARRAY.get(1) {
        Some(&1) => XDP_TX,
        _ => XDP_PASS,
    }
}

/// One per-CPU array lookup and an increment of the value: a counter, as `vrrp` counts.
#[xdp]
pub fn floor_percpu(_ctx: XdpContext) -> u32 {
    if let Some(p) = FLOOR_PERCPU.get_ptr_mut(1) {
        // SAFETY: this CPU's slot of a per-CPU array.
        unsafe { *p += 1 };
    }
    XDP_PASS
}

/// 64 multiply-adds on a byte of the frame, in registers: the speed of this (virtual) CPU at
/// plain arithmetic, which moves with what shares its physical core.
#[xdp]
pub fn floor_alu(ctx: XdpContext) -> u32 {
    let (s, e) = (ctx.data(), ctx.data_end());
    // (8 bytes, not 1: LLVM turns `s + 1 > e` into `s >= e`, which the verifier cannot follow.)
    if s + 8 > e {
        return XDP_PASS;
    }
    // SAFETY: the first byte of the frame, checked above.
    let mut x = unsafe { *(s as *const u8) } as u64;
    for _ in 0..64 {
        // SAFETY: arithmetic on a register (asm, so that LLVM cannot fold the loop).
        unsafe {
            core::arch::asm!("{x} *= 3", "{x} += 1", x = inout(reg) x, options(pure, nomem, nostack))
        };
    }
    if x == 1 { XDP_TX } else { XDP_PASS }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
