//! Types shared by the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-userspace`).
//!
//! `no_std`, no allocation. Everything that crosses the kernel boundary is `#[repr(C)]`,
//! free of padding, and size-checked with `const` asserts, so both sides agree byte for byte.
#![cfg_attr(not(test), no_std)]

pub mod maps;
pub mod proto;
pub mod reason;

pub use reason::DropReason;
