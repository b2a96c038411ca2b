//! The XDP program, embedded in the binary at build time (see `build.rs`).

/// The BPF object built from `vrrp-ebpf` (ELF, little-endian BPF, with BTF).
pub static BPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp"));

/// The name of the XDP program inside [`BPF_OBJECT`].
pub const PROGRAM_NAME: &str = "vrrp";
