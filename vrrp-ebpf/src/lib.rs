//! Present only so that `vrrp-userspace` can name this crate as a build dependency, which makes
//! cargo rebuild the daemon when the kernel program's dependencies change. The program itself is
//! the `vrrp` binary (`src/main.rs`).
#![no_std]
