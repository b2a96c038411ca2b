//! Builds the XDP program (`vrrp-ebpf`, target bpfel-unknown-none, nightly) and leaves the
//! object in OUT_DIR, where `dataplane` embeds it: the `vrrpd` binary is all a host needs.
//!
//! The nightly cargo builds it into one directory of the target directory (`bpf`), whatever
//! the profile being built: aya-build, which did this before, builds into each OUT_DIR, so
//! `cargo xtask test` compiled `core` and the program four times (clippy, tests, the release
//! vrrpd, the chaos harness), some 45 s each on the CI machine. The arguments are aya-build's.
use std::{path::Path, process::Command};

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR not set")?;
    // The program's own files; its dependencies (vrrp-common, aya-ebpf) rerun this script
    // through the build-dependency on vrrp-ebpf.
    println!("cargo:rerun-if-changed={manifest_dir}/../vrrp-ebpf");
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").context("OUT_DIR not set")?);
    let built = build_ebpf(&out_dir).context(
        "building the XDP program failed; `cargo xtask setup` installs rust-src and bpf-linker",
    )?;
    for object in ["vrrp", "vrrp-bench"] {
        let to = out_dir.join(object);
        std::fs::copy(built.join(object), &to)
            .with_context(|| format!("copying {object} to {}", to.display()))?;
        strip_dwarf(&to)?;
    }
    Ok(())
}

/// Builds vrrp-ebpf's programs with the nightly toolchain into `<target dir>/bpf`; the
/// directory that holds them.
fn build_ebpf(out_dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let env = |key: &str| std::env::var(key).with_context(|| format!("{key} not set"));
    let target = match env("CARGO_CFG_TARGET_ENDIAN")?.as_str() {
        "little" => "bpfel-unknown-none",
        "big" => "bpfeb-unknown-none",
        other => bail!("unsupported endianness {other}"),
    };
    // aya-ebpf's helpers for the host's registers read this; riscv64 is the one architecture
    // whose Rust name differs from the kernel's.
    let arch = match env("CARGO_CFG_TARGET_ARCH")?.as_str() {
        "riscv64gc" => "riscv64".to_string(),
        other => other.to_string(),
    };
    // OUT_DIR is <target dir>[/<triple>]/<profile>/build/<package>/out.
    let target_dir = out_dir
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .with_context(|| format!("no target directory above {}", out_dir.display()))?
        .join("bpf");
    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "build", "--package", "vrrp-ebpf"])
        .args([
            "--bins",
            "--release",
            "--target",
            target,
            "-Z",
            "build-std=core",
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    let flags = format!("--cfg=bpf_target_arch=\"{arch}\"\x1f-Cdebuginfo=2\x1f-Clink-arg=--btf");
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags);
    // The outer build's compiler and wrapper (clippy-driver) are not the nightly's.
    cmd.env_remove("RUSTC")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !out.status.success() {
        // cargo prints only the "warning: ..." lines of a build script that fails; these are
        // what tells why.
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            println!("cargo:warning={line}");
        }
        bail!("{cmd:?} failed: {}", out.status);
    }
    Ok(target_dir.join(target).join("release"))
}

/// Drops the DWARF sections (and their relocations) from a BPF object. bpf-linker makes the
/// object's BTF from its DWARF and keeps both; the loader and the kernel need only the BTF
/// (bpftool's view of the maps too), and the object is embedded in the binary, whose pages a
/// running vrrpd maps as it reads them: the DWARF was four fifths of the object's 619 KB.
fn strip_dwarf(path: &std::path::Path) -> anyhow::Result<()> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut builder = object::build::elf::Builder::read(&*data)
        .with_context(|| format!("parsing {}", path.display()))?;
    let is_dwarf = |name: &[u8]| name.starts_with(b".debug_") || name.starts_with(b".rel.debug_");
    for section in builder.sections.iter_mut() {
        if is_dwarf(section.name.as_slice()) {
            section.delete = true;
        }
    }
    builder.delete_orphans();
    // LLVM names the sections from the symbols' string table; the writer wants a table of
    // their own.
    use object::build::elf::SectionData;
    if !builder
        .sections
        .iter()
        .any(|s| matches!(s.data, SectionData::SectionString))
    {
        let names = builder.sections.add();
        names.name = b".shstrtab"[..].into();
        names.sh_type = object::elf::SHT_STRTAB;
        names.sh_addralign = 1;
        names.data = SectionData::SectionString;
    }
    let mut out = Vec::new();
    builder
        .write(&mut out)
        .with_context(|| format!("writing {} without its DWARF", path.display()))?;
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}
