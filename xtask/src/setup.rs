//! `cargo xtask setup`: the toolchain bootstrap and the test packages, idempotent.
//!
//! * `rust-src` for the installed nightly (the BPF target builds `core` from source);
//! * `bpf-linker`, built against the nightly's own libLLVM: the LLVM major is read from
//!   `rustc +nightly -vV`, and a prefix folder with a `lib/libLLVM.so` symlink into the
//!   nightly's sysroot stands in for an LLVM installation;
//! * the Debian packages the tests and benchmarks use (real peers and capture tools).
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

use crate::cmd::{output, run, say};

/// The bpf-linker release that builds here with `--features llvm-<major>`.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// Debian packages the tests and the lab use, with why.
const PACKAGES: &[(&str, &str)] = &[
    (
        "iproute2",
        "ip netns, veth and bridges for the namespace lab",
    ),
    (
        "keepalived",
        "the reference peer for interop tests and benchmarks",
    ),
    ("frr", "a second VRRP peer (vrrpd) for interop"),
    ("tshark", "decodes the frames we emit and capture"),
    ("tcpdump", "captures on the lab's bridge"),
    ("bpftool", "inspects our maps and programs"),
    ("arping", "ARP requests from the lab's client"),
    (
        "ndisc6",
        "neighbour solicitations from the lab's client (chaos)",
    ),
    ("ethtool", "GRO on veth so XDP_TX frames arrive"),
    ("nftables", "drops frames on the bridge for silent failures"),
    ("iputils-ping", "the client's probes"),
    ("procps", "process tools used by the lab"),
    ("systemd", "systemd-analyze verify checks the packaged unit"),
    (
        "man-db",
        "systemd-analyze verify checks the unit's man pages",
    ),
    (
        "dpkg-dev",
        "dpkg-shlibdeps computes the .deb's Depends (cargo xtask package)",
    ),
    (
        "systemd-container",
        "systemd-nspawn boots systemd to run the packaged unit (cargo xtask package --check)",
    ),
    (
        "rsyslog",
        "a real syslog daemon for vrrpd's -S (keepalived's log facility)",
    ),
    (
        "prometheus",
        "promtool checks vrrpd's metrics, and a real Prometheus scrapes them",
    ),
];

pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// `cargo +nightly …`, cleaned of the variables `cargo run` leaves for stable.
pub fn nightly_cargo() -> Command {
    let mut c = Command::new("cargo");
    c.arg("+nightly");
    for v in [
        "RUSTC",
        "RUSTUP_TOOLCHAIN",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs the parts of setup that are missing; with `packages`, the Debian packages too.
pub fn ensure(root: &Path, packages: bool) -> Result<()> {
    let toolchain_ok = has_rust_src() && bpf_linker_works();
    let packages_ok =
        !packages || (missing_packages().is_empty() && (bpffs_mounted() || !is_root()));
    if toolchain_ok && packages_ok {
        return Ok(());
    }
    say("something is missing; running `cargo xtask setup` first");
    setup(root, packages)
}

pub fn setup(root: &Path, packages: bool) -> Result<()> {
    ensure_nightly()?;
    ensure_rust_src()?;
    ensure_bpf_linker(root)?;
    if packages {
        ensure_packages()?;
        ensure_bpffs()?;
    }
    say("setup complete");
    Ok(())
}

fn ensure_nightly() -> Result<()> {
    if output(nightly_cargo().arg("--version")).is_some() {
        return Ok(());
    }
    bail!(
        "the `nightly` toolchain is not installed; the XDP program needs it (`rustup toolchain install nightly`)"
    )
}

fn has_rust_src() -> bool {
    output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))
    .is_some_and(|s| s.lines().any(|l| l.starts_with("rust-src")))
}

fn ensure_rust_src() -> Result<()> {
    if has_rust_src() {
        say("rust-src for nightly: present");
        return Ok(());
    }
    say("installing rust-src for nightly (the BPF target builds `core` from source)");
    run(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))
}

fn bpf_linker_works() -> bool {
    output(Command::new("bpf-linker").arg("--version")).is_some()
}

/// The LLVM major version of the nightly compiler, from `rustc +nightly -vV`.
fn nightly_llvm_major() -> Result<u32> {
    let mut c = Command::new("rustc");
    c.args(["+nightly", "-vV"]).env_remove("RUSTUP_TOOLCHAIN");
    let vv = output(&mut c).context("`rustc +nightly -vV` failed")?;
    let version = vv
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .context("`rustc +nightly -vV` printed no LLVM version")?;
    let major = version.split('.').next().unwrap_or_default();
    major
        .parse()
        .with_context(|| format!("unexpected LLVM version {version:?}"))
}

fn nightly_sysroot() -> Result<PathBuf> {
    let mut c = Command::new("rustc");
    c.args(["+nightly", "--print", "sysroot"])
        .env_remove("RUSTUP_TOOLCHAIN");
    Ok(PathBuf::from(
        output(&mut c)
            .context("`rustc +nightly --print sysroot` failed")?
            .trim(),
    ))
}

fn ensure_bpf_linker(root: &Path) -> Result<()> {
    if bpf_linker_works() {
        say("bpf-linker: present");
        return Ok(());
    }
    let major = nightly_llvm_major()?;
    let sysroot = nightly_sysroot()?;
    let lib = sysroot.join("lib");
    // The nightly ships its LLVM as lib/libLLVM.so.<major>.<minor>-rust-<version>.
    let prefix = format!("libLLVM.so.{major}.");
    let libllvm = std::fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.contains("-rust-"))
        })
        .with_context(|| format!("no {prefix}*-rust-* in {}", lib.display()))?;
    let llvm_prefix = root.join("target").join("llvm-prefix");
    let llvm_lib = llvm_prefix.join("lib");
    std::fs::create_dir_all(&llvm_lib)?;
    let link = llvm_lib.join("libLLVM.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&libllvm, &link)
        .with_context(|| format!("symlink {} -> {}", link.display(), libllvm.display()))?;
    say(&format!(
        "building bpf-linker {BPF_LINKER_VERSION} against the nightly's LLVM {major} ({}); this takes a few minutes",
        libllvm.display()
    ));
    run(Command::new("cargo")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env("LLVM_PREFIX", &llvm_prefix)
        .env(
            "RUSTFLAGS",
            format!("-C link-arg=-Wl,-rpath,{}", lib.display()),
        )
        .args([
            "install",
            "bpf-linker",
            "--version",
            BPF_LINKER_VERSION,
            "--locked",
            "--no-default-features",
            "--features",
            &format!("llvm-{major}"),
        ]))?;
    if !bpf_linker_works() {
        bail!(
            "bpf-linker was installed but `bpf-linker --version` fails; is ~/.cargo/bin on PATH?"
        );
    }
    Ok(())
}

fn package_installed(name: &str) -> bool {
    output(Command::new("dpkg-query").args(["-W", "-f=${Status}", name]))
        .is_some_and(|s| s.contains("install ok installed"))
}

fn missing_packages() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !package_installed(p))
        .collect()
}

fn ensure_packages() -> Result<()> {
    let missing = missing_packages();
    if missing.is_empty() {
        say("Debian packages: all present");
        return Ok(());
    }
    for (p, why) in PACKAGES.iter().filter(|(p, _)| missing.contains(p)) {
        say(&format!("will install {p}: {why}"));
    }
    if !is_root() {
        bail!(
            "installing packages needs root: apt-get install -y {}",
            missing.join(" ")
        );
    }
    say("apt-get update");
    run(Command::new("apt-get").arg("update"))?;
    say(&format!("apt-get install -y {}", missing.join(" ")));
    run(Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing))?;
    Ok(())
}

/// Whether the BPF filesystem is mounted at /sys/fs/bpf.
fn bpffs_mounted() -> bool {
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let mut f = l.split_whitespace().skip(1);
            (f.next(), f.next()) == (Some("/sys/fs/bpf"), Some("bpf"))
        })
    })
}

/// The BPF filesystem at /sys/fs/bpf, where vrrpd pins its links so that XDP outlives it
/// (and the tests check that it does): systemd mounts it at boot, a machine without systemd
/// (a container, a bare VM image) may not have it.
fn ensure_bpffs() -> Result<()> {
    if bpffs_mounted() {
        return Ok(());
    }
    if !is_root() {
        // Only the privileged tests, which need root anyway, pin.
        say("the BPF filesystem is not mounted (as root: mount -t bpf bpf /sys/fs/bpf)");
        return Ok(());
    }
    say("mount -t bpf bpf /sys/fs/bpf (not mounted)");
    run(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]))
}

/// cargo-fuzz, for `cargo xtask fuzz`.
pub fn ensure_cargo_fuzz() -> Result<()> {
    ensure_rust_src()?;
    if output(nightly_cargo().args(["fuzz", "--version"])).is_some() {
        return Ok(());
    }
    say("installing cargo-fuzz (libFuzzer driver for the fuzz targets)");
    run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}
