//! Rebuild the kernel program when bpf-linker changes: cargo cannot see that dependency.
fn main() {
    println!("cargo:rustc-link-arg=--disable-expand-memcpy-in-order");
    match which::which("bpf-linker") {
        Ok(path) => println!("cargo:rerun-if-changed={}", path.display()),
        Err(e) => println!("cargo:warning=bpf-linker not found ({e}); run `cargo xtask setup`"),
    }
}
