//! Builds the XDP program (`vrrp-ebpf`, target bpfel-unknown-none, nightly) with aya-build and
//! leaves the object in OUT_DIR, where `dataplane` embeds it: the `vrrpd` binary is all a host needs.
use anyhow::{Context as _, anyhow};

fn main() -> anyhow::Result<()> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR not set")?;
    let ebpf_dir = std::path::Path::new(&manifest_dir).join("../vrrp-ebpf");
    let ebpf_dir = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "vrrp-ebpf",
            root_dir: ebpf_dir,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
    .context(
        "building the XDP program failed; `cargo xtask setup` installs rust-src and bpf-linker",
    )?;
    let out_dir = std::env::var("OUT_DIR").context("OUT_DIR not set")?;
    for object in ["vrrp", "vrrp-bench"] {
        strip_dwarf(&std::path::Path::new(&out_dir).join(object))?;
    }
    Ok(())
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
