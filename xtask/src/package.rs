//! `cargo xtask package [--check]`: the Debian package of vrrpd.
//!
//! Built with Debian's own tools, no cargo-deb: `dpkg-deb` assembles the tree below,
//! `dpkg-shlibdeps` computes `Depends:` from the binary's libraries, and the maintainer scripts
//! are the few lines debhelper would write for one systemd unit. The tree:
//!
//! * `/usr/sbin/vrrpd`, the release build (stripped; the XDP program is embedded in it);
//! * `/lib/systemd/system/vrrpd.service` (`packaging/vrrpd.service`);
//! * `/etc/vrrpd/vrrpd.conf` and `/etc/default/vrrpd`, conffiles;
//! * the man pages and the bash, zsh and fish completions, written by `vrrpd generate-docs`
//!   from the command line's own definition.
//!
//! `--check` then proves it works without Rust: `systemd-analyze verify` on the unit as
//! shipped, `dpkg --root` into a clean root holding only what the package depends on (and a
//! shell for its maintainer scripts), `vrrpd --version`, `vrrpd check` and `vrrpd run` inside
//! that root (a VIP on a veth in a namespace, READY=1 over a notify socket, SIGTERM),
//! and `dpkg --purge` leaving nothing behind.

use std::{
    io::Write as _,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail, ensure};

use crate::cmd::{output, run, say};

const PACKAGE: &str = "vrrpd";

/// The maintainer scripts: enable and start the unit on install, restart it on upgrade, stop
/// it on removal, forget it on purge (what debhelper's systemd snippets do). The calls are
/// skipped where systemd is not the init (a container, a chroot).
const POSTINST: &str = r#"#!/bin/sh
set -e
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
    if command -v deb-systemd-helper >/dev/null; then
        if deb-systemd-helper --quiet was-enabled vrrpd.service; then
            deb-systemd-helper enable vrrpd.service >/dev/null || true
        else
            deb-systemd-helper update-state vrrpd.service >/dev/null || true
        fi
        # Enabled on first install, as Debian's keepalived is.
        if [ -z "$2" ]; then
            deb-systemd-helper enable vrrpd.service >/dev/null || true
        fi
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        if [ -n "$2" ]; then
            deb-systemd-invoke try-restart vrrpd.service >/dev/null || true
        else
            deb-systemd-invoke start vrrpd.service >/dev/null || true
        fi
    fi
fi
"#;

const PRERM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop vrrpd.service >/dev/null || true
fi
"#;

const POSTRM: &str = r#"#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper mask vrrpd.service >/dev/null || true
fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper purge vrrpd.service >/dev/null || true
    deb-systemd-helper unmask vrrpd.service >/dev/null || true
fi
"#;

/// Builds the package and returns the path of the `.deb`.
pub fn package(root: &Path, bin: &Path) -> Result<PathBuf> {
    let version = version(bin)?;
    let arch = output(Command::new("dpkg").arg("--print-architecture"))
        .context("dpkg --print-architecture (building a .deb needs dpkg)")?
        .trim()
        .to_string();
    let work = root.join("target").join("package");
    let _ = std::fs::remove_dir_all(&work);
    // dpkg-shlibdeps wants debian/control and the package's tree under debian/<package>.
    let tree = work.join("debian").join(PACKAGE);
    let src = root.join("packaging");
    say(&format!(
        "assembling {PACKAGE} {version} ({arch}) in {}",
        tree.display()
    ));

    let sbin = tree.join("usr/sbin");
    mkdir(&sbin)?;
    let installed = sbin.join("vrrpd");
    std::fs::copy(bin, &installed).with_context(|| format!("copying {}", bin.display()))?;
    run(Command::new("strip")
        .arg("--strip-unneeded")
        .arg(&installed))?;
    install(
        &src.join("vrrpd.service"),
        &tree.join("lib/systemd/system/vrrpd.service"),
    )?;
    install(&src.join("vrrpd.conf"), &tree.join("etc/vrrpd/vrrpd.conf"))?;
    install(&src.join("vrrpd.default"), &tree.join("etc/default/vrrpd"))?;

    let docs = work.join("generated");
    run(Command::new(bin).arg("generate-docs").arg(&docs))?;
    let man8 = tree.join("usr/share/man/man8");
    mkdir(&man8)?;
    for page in std::fs::read_dir(docs.join("man8"))? {
        let page = page?.path();
        let name = page.file_name().context("man page name")?.to_string_lossy();
        let gz = std::fs::File::create(man8.join(format!("{name}.gz")))?;
        run(Command::new("gzip")
            .args(["-9", "-n", "-c"])
            .arg(&page)
            .stdout(gz))?;
    }
    let completions = docs.join("completions");
    install(
        &completions.join("vrrpd"),
        &tree.join("usr/share/bash-completion/completions/vrrpd"),
    )?;
    install(
        &completions.join("_vrrpd"),
        &tree.join("usr/share/zsh/vendor-completions/_vrrpd"),
    )?;
    install(
        &completions.join("vrrpd.fish"),
        &tree.join("usr/share/fish/vendor_completions.d/vrrpd.fish"),
    )?;
    let doc = tree.join("usr/share/doc").join(PACKAGE);
    install(&root.join("README.md"), &doc.join("README.md"))?;
    install(&root.join("docs/maps.md"), &doc.join("maps.md"))?;
    write(
        &doc.join("copyright"),
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: vrrp\n\n\
         Files: *\n\
         License: MIT or Apache-2.0\n",
        0o644,
    )?;

    write(
        &work.join("debian/control"),
        &format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"),
        0o644,
    )?;
    let shlibs = output(
        Command::new("dpkg-shlibdeps")
            .current_dir(&work)
            .args(["-O", "-e"])
            .arg(tree.join("usr/sbin/vrrpd")),
    )
    .context("dpkg-shlibdeps failed (package dpkg-dev)")?;
    let depends = shlibs
        .trim()
        .strip_prefix("shlibs:Depends=")
        .with_context(|| format!("unexpected dpkg-shlibdeps output {shlibs:?}"))?
        .to_string();
    let size_kib = du_kib(&tree)?;
    let debian = tree.join("DEBIAN");
    mkdir(&debian)?;
    write(
        &debian.join("control"),
        &format!(
            "Package: {PACKAGE}\n\
             Version: {version}\n\
             Architecture: {arch}\n\
             Maintainer: vrrp developers <vrrp@localhost>\n\
             Installed-Size: {size_kib}\n\
             Depends: {depends}\n\
             Section: net\n\
             Priority: optional\n\
             Description: VRRP high availability, keepalived-compatible, on eBPF/XDP\n \
             vrrpd runs keepalived's VRRP (RFC 3768/5798) from an unchanged\n \
             keepalived.conf. An XDP program filters adverts and answers ARP and\n \
             neighbour solicitations for the virtual IPs from the virtual MAC; a\n \
             userspace controller runs the state machine. Shipped with a systemd unit\n \
             (Type=notify, watchdog), man pages and shell completions.\n"
        ),
        0o644,
    )?;
    write(
        &debian.join("conffiles"),
        "/etc/default/vrrpd\n/etc/vrrpd/vrrpd.conf\n",
        0o644,
    )?;
    write(&debian.join("postinst"), POSTINST, 0o755)?;
    write(&debian.join("prerm"), PRERM, 0o755)?;
    write(&debian.join("postrm"), POSTRM, 0o755)?;
    write(&debian.join("md5sums"), &md5sums(&tree)?, 0o644)?;

    let deb = work.join(format!("{PACKAGE}_{version}_{arch}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&tree)
        .arg(&deb))?;
    say(&format!("built {}", deb.display()));
    Ok(deb)
}

fn version(bin: &Path) -> Result<String> {
    let v = output(Command::new(bin).arg("--version"))
        .with_context(|| format!("{} --version", bin.display()))?;
    v.trim()
        .strip_prefix("vrrpd ")
        .map(str::to_string)
        .with_context(|| format!("unexpected version line {v:?}"))
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn install(from: &Path, to: &Path) -> Result<()> {
    mkdir(to.parent().context("no parent")?)?;
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644))?;
    Ok(())
}

fn write(path: &Path, text: &str, mode: u32) -> Result<()> {
    mkdir(path.parent().context("no parent")?)?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Every regular file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path().strip_prefix(dir)?.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn md5sums(tree: &Path) -> Result<String> {
    let files: Vec<PathBuf> = files(tree)?
        .into_iter()
        .filter(|f| !f.starts_with("DEBIAN") && !f.starts_with("etc"))
        .collect();
    let out = Command::new("md5sum")
        .current_dir(tree)
        .args(&files)
        .output()
        .context("md5sum")?;
    ensure!(out.status.success(), "md5sum failed");
    Ok(String::from_utf8(out.stdout)?)
}

fn du_kib(tree: &Path) -> Result<u64> {
    let mut total = 0;
    for f in files(tree)? {
        total += std::fs::metadata(tree.join(f))?.len().div_ceil(1024);
    }
    Ok(total)
}

/// A directory under target/ removed on drop, with whatever is mounted in it gone with the
/// mount namespace that mounted it.
struct TempRoot(PathBuf);

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cargo xtask package --check`.
/// The shipped binary carries the product alone: the production BPF object's names are in it
/// (which shows the search finds what is there), the benchmarks' programs and map and the
/// namespace lab's strings are not (they exist only with the `lab` feature).
fn product_only(binary: &Path) -> Result<()> {
    say(&format!("{}: no lab or benchmark code", binary.display()));
    let bytes = std::fs::read(binary).with_context(|| format!("reading {}", binary.display()))?;
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    for present in ["vrrp_egress", "VRRP_ROUTERS", "VRRP_VIPSLOTS"] {
        ensure!(
            has(present),
            "{present} is missing from {}",
            binary.display()
        );
    }
    for absent in [
        "vrrp_tx",
        "VRRP_TX_FRAME",
        "vrrp_noop",
        "vrrp-lab-",
        "vrrp-bench",
    ] {
        ensure!(
            !has(absent),
            "{} carries {absent}: lab or benchmark code in the product",
            binary.display()
        );
    }
    Ok(())
}

pub fn check(root: &Path, deb: &Path) -> Result<()> {
    if !crate::setup::is_root() {
        bail!("`package --check` needs root (dpkg --root, chroot, namespaces)");
    }
    let scratch = TempRoot(root.join("target").join("package-check"));
    let _ = std::fs::remove_dir_all(&scratch.0);
    mkdir(&scratch.0)?;

    say("the unit as shipped: systemd-analyze verify (with the package's vrrpd and man pages)");
    let extracted = scratch.0.join("extracted");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&extracted))?;
    verify_unit(&extracted)?;
    product_only(&extracted.join("usr/sbin/vrrpd"))?;

    say("a clean root without Rust: libc6, libgcc-s1 (the package's Depends) and dash");
    let clean = scratch.0.join("root");
    clean_root(&clean, &["libc6", "libgcc-s1", "dash"])?;
    for tool in ["cargo", "rustc", "rustup"] {
        ensure!(
            !["usr/bin", "bin", "usr/local/bin"]
                .iter()
                .any(|d| clean.join(d).join(tool).exists()),
            "the clean root holds {tool}"
        );
    }
    say(&format!(
        "dpkg --root {} -i {}",
        clean.display(),
        deb.display()
    ));
    run(Command::new("dpkg")
        .arg(format!("--root={}", clean.display()))
        .args(["--force-not-root", "--log=/dev/null", "-i"])
        .arg(deb))?;

    let chroot = |args: &[&str]| -> Result<String> {
        let out = Command::new("chroot")
            .arg(&clean)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .with_context(|| format!("chroot {args:?}"))?;
        ensure!(
            out.status.success(),
            "chroot {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let v = chroot(&["vrrpd", "--version"])?;
    say(&format!("in the clean root: vrrpd --version: {}", v.trim()));
    let c = chroot(&["vrrpd", "check", "--config", "/etc/vrrpd/vrrpd.conf"])?;
    say(&format!(
        "in the clean root: vrrpd check --config /etc/vrrpd/vrrpd.conf: {}",
        c.lines().last().unwrap_or_default()
    ));
    run_in_root(&clean)?;

    say("dpkg --purge leaves nothing of the package");
    run(Command::new("dpkg")
        .arg(format!("--root={}", clean.display()))
        .args(["--force-not-root", "--log=/dev/null", "--purge", PACKAGE]))?;
    for gone in [
        "usr/sbin/vrrpd",
        "lib/systemd/system/vrrpd.service",
        "etc/vrrpd/vrrpd.conf",
        "etc/default/vrrpd",
    ] {
        ensure!(
            !clean.join(gone).exists(),
            "{gone} is still there after purge"
        );
    }
    under_systemd(&scratch.0, deb)?;
    say("package check passed");
    Ok(())
}

/// `systemd-analyze verify` on the unit, with the package's `/usr/sbin` mounted over the
/// host's (in a mount namespace of its own) so that ExecStart= is the shipped binary, and the
/// package's man pages on MANPATH so that Documentation= is checked too. Any diagnostic fails.
fn verify_unit(extracted: &Path) -> Result<()> {
    let unit = extracted.join("lib/systemd/system/vrrpd.service");
    let script = format!(
        "mount --bind {} /usr/sbin && exec systemd-analyze verify {}",
        extracted.join("usr/sbin").display(),
        unit.display()
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("MANPATH", extracted.join("usr/share/man"))
        .output()
        .context("systemd-analyze verify (package systemd)")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify {}: {}\n{said}",
        unit.display(),
        out.status
    );
    say("systemd-analyze verify: no diagnostics");
    Ok(())
}

/// A root holding the files of `packages` as installed on this host, and a dpkg database
/// naming exactly them, so that `dpkg --root` checks the package's Depends against it.
fn clean_root(root: &Path, packages: &[&str]) -> Result<()> {
    let admin = root.join("var/lib/dpkg");
    for d in ["updates", "info", "triggers"] {
        mkdir(&admin.join(d))?;
    }
    for d in ["etc", "tmp", "proc", "sys", "run", "dev"] {
        mkdir(&root.join(d))?;
    }
    let mut status = String::new();
    for p in packages {
        let list = output(Command::new("dpkg-query").args(["-L", p]))
            .with_context(|| format!("dpkg-query -L {p}: is {p} installed?"))?;
        for path in list.lines().filter(|l| l.starts_with('/')) {
            let host = Path::new(path);
            let Ok(meta) = std::fs::symlink_metadata(host) else {
                continue;
            };
            let dest = root.join(path.trim_start_matches('/'));
            if meta.is_dir() {
                mkdir(&dest)?;
                continue;
            }
            if std::fs::symlink_metadata(&dest).is_ok() {
                // Listed by an earlier package (a directory symlink of merged /usr).
                continue;
            }
            mkdir(dest.parent().context("no parent")?)?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(host)?;
                std::os::unix::fs::symlink(&target, &dest)?;
                if std::fs::metadata(host).is_ok_and(|m| m.is_dir()) {
                    // /lib -> usr/lib on a merged-/usr system: the directory it names.
                    let resolved = match target.strip_prefix("/") {
                        Ok(abs) => root.join(abs),
                        Err(_) => dest.parent().context("no parent")?.join(&target),
                    };
                    mkdir(&resolved)?;
                }
            } else {
                std::fs::copy(host, &dest).with_context(|| format!("copying {path}"))?;
            }
        }
        let name = output(Command::new("dpkg-query").args(["-W", "-f=${binary:Package}", p]))
            .with_context(|| format!("dpkg-query -W {p}"))?;
        write(
            &admin.join(format!("info/{}.list", name.trim())),
            &list,
            0o644,
        )?;
        let entry = output(Command::new("dpkg-query").args(["-s", p]))
            .with_context(|| format!("dpkg-query -s {p}"))?;
        status.push_str(entry.trim_end());
        status.push_str("\n\n");
    }
    // The shell dpkg runs the maintainer scripts with.
    let sh = root.join("bin/sh");
    if !sh.exists() {
        mkdir(&root.join("bin"))?;
        std::os::unix::fs::symlink("dash", &sh)?;
    }
    write(&admin.join("status"), &status, 0o644)?;
    write(&admin.join("available"), "", 0o644)?;
    Ok(())
}

/// `vrrpd run` from the package in the clean root, as systemd would start it: in a network
/// namespace with one veth pair and a VRRP instance on one end, its own sysfs and bpffs, and a notify
/// socket. It must say READY=1, take the VIP, answer `vrrpd status`, and on SIGTERM remove the
/// VIP and exit 0.
fn run_in_root(clean: &Path) -> Result<()> {
    say("in the clean root: vrrpd run (a veth in a namespace, one instance, READY=1, SIGTERM)");
    write(
        &clean.join("tmp/check.conf"),
        "vrrp_instance VI_CHECK {\n    state MASTER\n    interface d0\n    virtual_router_id 50\n    \
         priority 100\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.3/24\n    }\n}\n",
        0o644,
    )?;
    let notify_path = clean.join("run/notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path)
        .with_context(|| format!("binding {}", notify_path.display()))?;
    notify.set_read_timeout(Some(Duration::from_millis(200)))?;
    let script = format!(
        "set -e; ip link add d0 type veth peer name d1; ip addr add 192.0.2.1/24 dev d0; \
         ip link set d1 up; ip link set d0 up; \
         mount -t sysfs sysfs {root}/sys; mount -t bpf bpf {root}/sys/fs/bpf; \
         exec chroot {root} /usr/sbin/vrrpd run --config /tmp/check.conf \
         --control-socket /run/vrrpd/check.sock --pid-file /run/vrrpd.pid -d",
        root = clean.display()
    );
    let log = clean.join("vrrpd.log");
    let mut child = Command::new("unshare")
        // --kill-child: if this process dies, vrrpd goes too (SIGKILL), and its namespaces.
        .args([
            "--mount",
            "--propagation",
            "private",
            "--net",
            "--fork",
            "--kill-child",
        ])
        .arg(format!("--mount-proc={}", clean.join("proc").display()))
        .args(["sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("NOTIFY_SOCKET", "/run/notify.sock")
        .env("WATCHDOG_USEC", "2000000")
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("unshare")?;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let result = (|| -> Result<()> {
        let mut said = Vec::new();
        let started = Instant::now();
        let mut buf = [0u8; 512];
        while !said.iter().any(|m: &String| m.contains("READY=1")) {
            ensure!(
                started.elapsed() < Duration::from_secs(20),
                "no READY=1 within 20 s; heard {said:?}"
            );
            if let Some(status) = child.try_wait()? {
                bail!("vrrpd exited before READY=1: {status}");
            }
            if let Ok(n) = notify.recv(&mut buf) {
                said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        say(&format!("vrrpd told the notify socket: {said:?}"));
        let pid: i32 = std::fs::read_to_string(clean.join("run/vrrpd.pid"))?
            .trim()
            .parse()?;
        // Master after its Master_Down_Interval (3.61 s: nobody else on the link): the VIP on
        // d0.
        let netns = format!("--net=/proc/{pid}/ns/net");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let addrs = output(Command::new("nsenter").args([&netns, "ip", "-br", "addr"]))
                .unwrap_or_default();
            let status = output(
                Command::new("chroot")
                    .arg(clean)
                    .args(["/usr/sbin/vrrpd", "status", "--control-socket"])
                    .arg("/run/vrrpd/check.sock"),
            )
            .unwrap_or_default();
            if addrs.contains("192.0.2.3/24") && status.contains("VI_CHECK: MASTER") {
                say(&format!(
                    "vrrpd status in the root: {}",
                    status.lines().next().unwrap_or_default()
                ));
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "not MASTER with the VIP within 10 s: {addrs}\n{status}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // The watchdog: at least one ping within its 2 s interval.
        let mut pinged = false;
        let until = Instant::now() + Duration::from_secs(3);
        while !pinged && Instant::now() < until {
            if let Ok(n) = notify.recv(&mut buf) {
                pinged = String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1");
            }
        }
        ensure!(pinged, "no WATCHDOG=1 within 3 s (WATCHDOG_USEC=2000000)");
        run(Command::new("kill").args(["-TERM", &pid.to_string()]))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            ensure!(
                Instant::now() < deadline,
                "vrrpd did not stop within 15 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        ensure!(status.success(), "vrrpd exited with {status}");
        let text = log_text();
        for wanted in [
            "configuration read from /tmp/check.conf",
            "VI_CHECK",
            "stopped",
        ] {
            ensure!(text.contains(wanted), "the log lacks {wanted:?}");
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::io::stderr().write_all(log_text().as_bytes());
    }
    result
}

/// A network namespace for the container, deleted on drop (with its veth pair), and the pins
/// a failed run would leave in the host's bpffs (named after the namespace's inode).
struct ContainerNet {
    name: String,
    inode: u64,
}

impl ContainerNet {
    fn new() -> Result<Self> {
        let name = format!("vtpkg{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        run(Command::new("ip").args(["netns", "add", &name]))?;
        let net = ContainerNet {
            inode: {
                use std::os::unix::fs::MetadataExt as _;
                std::fs::metadata(format!("/run/netns/{name}"))?.ino()
            },
            name,
        };
        for args in [
            "link add e0 type veth peer name e1",
            "addr add 192.0.2.1/24 dev e0",
            "link set e1 up",
            "link set e0 up",
        ] {
            run(Command::new("ip")
                .args(["-n", &net.name])
                .args(args.split(' ')))?;
        }
        Ok(net)
    }
}

impl Drop for ContainerNet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let prefix = format!("netns{}-", self.inode);
        if let Ok(dir) = std::fs::read_dir("/sys/fs/bpf/vrrpd") {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // The default pin root, made by the container's vrrpd, if nothing else is pinned there.
        let _ = std::fs::remove_dir("/sys/fs/bpf/vrrpd");
    }
}

/// The package under a real systemd: this host's root as a copy-on-write overlay (in a mount
/// namespace of its own, gone with it), the package installed there with `dpkg --root`, and
/// systemd booted in it as PID 1 by `systemd-nspawn`, in a network namespace with a veth for one
/// VRRP instance. Then: the unit started (Type=notify) with its status line, `systemctl reload`
/// with a good and a bad file, a frozen vrrpd restarted by the watchdog, and `systemctl stop`
/// removing the VIP.
fn under_systemd(scratch: &Path, deb: &Path) -> Result<()> {
    say("under systemd as PID 1: systemd-nspawn --boot on an overlay of this host's root");
    let boot = scratch.join("boot");
    let (upper, work, merged) = (boot.join("upper"), boot.join("work"), boot.join("root"));
    for d in [&upper, &work, &merged] {
        mkdir(d)?;
    }
    let net = ContainerNet::new()?;
    let conf = |priority: u32| {
        format!(
            "vrrp_instance VI_1 {{\n    state MASTER\n    interface e0\n    virtual_router_id 50\n    \
             priority {priority}\n    advert_int 10\n    virtual_ipaddress {{\n        \
             192.0.2.3/24\n    }}\n}}\n"
        )
    };
    let staged = boot.join("vrrpd.conf");
    // The owner with `state MASTER`: master at once (below 255 it would wait its
    // Master_Down_Interval, 36 s at advert_int 10, as keepalived 2.2.7 does).
    write(&staged, &conf(255), 0o644)?;
    let m = merged.display();
    let script = format!(
        "set -e\n\
         mount -t overlay overlay -o lowerdir=/,upperdir={upper},workdir={work} {m}\n\
         dpkg --root={m} --log=/dev/null -i {deb} >/dev/null\n\
         cp {staged} {m}/etc/vrrpd/vrrpd.conf\n\
         for u in keepalived frr postgresql; do ln -sf /dev/null {m}/etc/systemd/system/$u.service; done\n\
         exec systemd-nspawn --quiet -D {m} --boot --register=no --keep-unit \
         --network-namespace-path=/run/netns/{ns} \
         --capability=CAP_NET_ADMIN,CAP_BPF,CAP_PERFMON \
         --system-call-filter='bpf perf_event_open' --bind=/sys/fs/bpf --console=passive\n",
        upper = upper.display(),
        work = work.display(),
        deb = deb.display(),
        staged = staged.display(),
        ns = net.name,
    );
    let log = boot.join("nspawn.log");
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "--fork",
            "--kill-child",
        ])
        .args(["sh", "-c", &script])
        .stdout(std::fs::File::create(&log)?)
        .stderr(std::fs::File::create(boot.join("nspawn.err"))?)
        .spawn()
        .context("unshare … systemd-nspawn (package systemd-container)")?;
    // The container's systemd, once found: if the check fails, it is killed (SIGKILL to the
    // PID 1 of its PID namespace ends every process in it), since killing systemd-nspawn
    // alone would leave the container running under this host's init.
    let container = std::cell::Cell::new(None::<u32>);
    let result = (|| -> Result<()> {
        // unshare's child execs systemd-nspawn, whose child is the container's systemd.
        let started = Instant::now();
        let leader = loop {
            // (The shell runs mount and dpkg before it becomes systemd-nspawn.)
            let nspawn = children(child.id())
                .into_iter()
                .find(|&p| comm(p) == "systemd-nspawn");
            if let Some(l) =
                nspawn.and_then(|n| children(n).into_iter().find(|&p| comm(p) == "systemd"))
            {
                container.set(Some(l));
                break l;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "systemd-nspawn exited: {status}: {}",
                    std::fs::read_to_string(boot.join("nspawn.err")).unwrap_or_default()
                );
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "no container within 30 s"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let target = leader.to_string();
        let inside = |args: &[&str]| -> (bool, String) {
            let out = Command::new("nsenter")
                .args(["-t", &target, "-a"])
                .args(args)
                .output();
            match out {
                Ok(o) => (
                    o.status.success(),
                    format!(
                        "{}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    ),
                ),
                Err(e) => (false, e.to_string()),
            }
        };
        let show = |prop: &str| {
            inside(&["systemctl", "show", "vrrpd", "-p", prop, "--value"])
                .1
                .trim()
                .to_string()
        };
        let journal = || inside(&["journalctl", "-u", "vrrpd", "--no-pager", "-o", "cat"]).1;
        let wait = |what: &str, secs: u64, f: &dyn Fn() -> bool| -> Result<()> {
            let until = Instant::now() + Duration::from_secs(secs);
            while !f() {
                ensure!(
                    Instant::now() < until,
                    "under systemd: {what} not within {secs} s\n{}",
                    journal()
                );
                std::thread::sleep(Duration::from_millis(250));
            }
            Ok(())
        };
        inside(&["systemctl", "is-system-running", "--wait"]);
        wait("vrrpd active and MASTER", 20, &|| {
            show("ActiveState") == "active" && show("StatusText") == "1 instance: 1 MASTER"
        })?;
        let (_, addrs) = inside(&["ip", "-br", "addr", "show", "e0"]);
        ensure!(addrs.contains("192.0.2.3/24"), "no VIP on e0: {addrs}");
        // The journal read the <N> severity prefixes (JOURNAL_STREAM): none left in the text,
        // and the state change is stored at info.
        let (_, info) = inside(&[
            "journalctl",
            "-u",
            "vrrpd",
            "--no-pager",
            "-o",
            "cat",
            "-p",
            "info..info",
        ]);
        ensure!(
            info.contains("VI_1: INIT -> MASTER") && !journal().contains("<6>"),
            "severities not taken by the journal\n{}",
            journal()
        );
        say(&format!(
            "systemctl status vrrpd: active, Status: \"{}\", watchdog {}",
            show("StatusText"),
            show("WatchdogUSec")
        ));

        // The overlay is mounted in the container's mount namespace only: reach it there.
        let conf_path = PathBuf::from(format!("/proc/{leader}/root/etc/vrrpd/vrrpd.conf"));
        let pid = show("MainPID");
        write(&conf_path, &conf(120), 0o644)?;
        let (ok, said) = inside(&["systemctl", "reload", "vrrpd"]);
        ensure!(ok, "systemctl reload failed: {said}");
        wait("priority 120 after reload", 10, &|| {
            inside(&["vrrpd", "status"]).1.contains("priority 120")
        })?;
        write(&conf_path, &conf(300), 0o644)?;
        let (ok, _) = inside(&["systemctl", "reload", "vrrpd"]);
        ensure!(!ok, "a reload with priority 300 succeeded");
        ensure!(
            journal().contains("/etc/vrrpd/vrrpd.conf:5:"),
            "the refused reload does not name file:line\n{}",
            journal()
        );
        ensure!(
            show("ActiveState") == "active" && show("MainPID") == pid,
            "vrrpd did not keep running after a bad reload"
        );
        write(&conf_path, &conf(120), 0o644)?;
        say("systemctl reload: a good file applied, a bad one refused with file:line, vrrpd kept");

        // advert_int 10 s is longer than WatchdogSec/2: the pings must not wait for adverts.
        std::thread::sleep(Duration::from_secs(12));
        ensure!(
            show("NRestarts") == "0",
            "restarted without being frozen\n{}",
            journal()
        );
        inside(&["kill", "-STOP", &pid]);
        wait("a restart by the watchdog", 30, &|| {
            show("NRestarts") == "1" && show("ActiveState") == "active"
        })?;
        ensure!(
            journal().contains("Watchdog timeout"),
            "restarted, but not by the watchdog\n{}",
            journal()
        );
        say("watchdog: a frozen vrrpd was killed and restarted, and took its XDP program over");

        // Stop: priority 0, answer until a new master (none here: one Master_Down_Interval,
        // about 30 s at advert_int 10, as long as TimeoutStopSec=) then remove the VIP.
        let stopping = Instant::now();
        let (ok, said) = inside(&["systemctl", "stop", "vrrpd"]);
        ensure!(ok, "systemctl stop: {said}");
        let took = stopping.elapsed();
        ensure!(
            show("Result") == "success" && show("ActiveState") == "inactive",
            "stop: {} {}\n{}",
            show("ActiveState"),
            show("Result"),
            journal()
        );
        let (_, addrs) = inside(&["ip", "-br", "addr", "show", "e0"]);
        ensure!(
            !addrs.contains("192.0.2.3"),
            "the VIP is still on e0 after stop: {addrs}"
        );
        say(&format!(
            "systemctl stop: exited cleanly after {:.1} s of handover (TimeoutStopSec=30s, \
             extended by vrrpd), VIP removed",
            took.as_secs_f64()
        ));
        inside(&["systemctl", "poweroff"]);
        Ok(())
    })();
    let kill_container = || {
        if let Some(pid) = container.get() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    };
    if result.is_err() {
        kill_container();
    }
    let until = Instant::now() + Duration::from_secs(30);
    while child.try_wait()?.is_none() {
        if Instant::now() > until {
            kill_container();
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    result
}

/// The children of a process (/proc/PID/task/PID/children).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A process's command name (/proc/PID/comm).
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}
