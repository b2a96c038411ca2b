//! The files of the Debian package (`packaging/`, assembled by `cargo xtask package`): the
//! systemd unit passes `systemd-analyze verify`, the default configuration passes `vrrpd
//! check`, the man pages and completions come out of `vrrpd generate-docs`. The package itself
//! (a release build, installed into a clean root) is checked by `cargo xtask package --check`.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use vrrp_userspace::lab;

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrrpd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn generate_docs_writes_man_pages_and_completions() {
    let dir = scratch("docs");
    let out = Command::new(vrrpd())
        .arg("generate-docs")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for page in [
        "vrrpd",
        "vrrpd-run",
        "vrrpd-check",
        "vrrpd-status",
        "vrrpd-events",
        "vrrpd-reload",
        "vrrpd-convert",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("man8/{page}.8"))).unwrap();
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
    }
    let status = std::fs::read_to_string(dir.join("man8/vrrpd-status.8")).unwrap();
    assert!(
        status.contains("\\-\\-watch"),
        "vrrpd-status.8 lacks --watch"
    );
    let run = std::fs::read_to_string(dir.join("man8/vrrpd-run.8")).unwrap();
    for flag in ["log\\-detail", "dump\\-conf", "syslog"] {
        assert!(run.contains(flag), "vrrpd-run.8 lacks {flag}");
    }
    assert!(
        !dir.join("man8/vrrpd-generate-docs.8").exists(),
        "the hidden command has no page"
    );
    let bash = std::fs::read_to_string(dir.join("completions/vrrpd")).unwrap();
    assert!(
        bash.contains("--dump-conf") && bash.contains("check"),
        "{bash}"
    );
    let zsh = std::fs::read_to_string(dir.join("completions/_vrrpd")).unwrap();
    assert!(zsh.starts_with("#compdef vrrpd"), "{zsh}");
    let fish = std::fs::read_to_string(dir.join("completions/vrrpd.fish")).unwrap();
    assert!(fish.contains("complete -c vrrpd"), "{fish}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_default_configuration_passes_check_with_no_instance() {
    let out = Command::new(vrrpd())
        .args(["check", "--strict", "--config"])
        .arg(packaging().join("vrrpd.conf"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OK, 0 instance(s), 0 warning(s)"), "{text}");
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !lab::privileged("unit_verify") {
        return;
    }
    // The unit as shipped, with this build of vrrpd at /usr/sbin/vrrpd (the host's /usr/sbin
    // hidden by a bind mount in a mount namespace of the check's own) and the man pages on
    // MANPATH, so that ExecStart= and Documentation= are checked too. Any diagnostic fails.
    let dir = scratch("unit");
    let sbin = dir.join("sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    std::fs::copy(vrrpd(), sbin.join("vrrpd")).unwrap();
    let docs = dir.join("docs");
    let out = Command::new(vrrpd())
        .arg("generate-docs")
        .arg(&docs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let unit = dir.join("vrrpd.service");
    std::fs::copy(packaging().join("vrrpd.service"), &unit).unwrap();
    let verify = |unit: &Path| {
        let script = format!(
            "mount --bind {} /usr/sbin && exec systemd-analyze verify {}",
            sbin.display(),
            unit.display()
        );
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("MANPATH", &docs)
            .output()
            .expect("systemd-analyze (package systemd, installed by cargo xtask setup)");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, said) = verify(&unit);
    assert!(
        ok && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
    // The check can fail: a misspelt key is a diagnostic.
    let bad = dir.join("vrrpd-bad.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&bad, text.replace("WatchdogSec=", "WatchdogSecs=")).unwrap();
    let (_, said) = verify(&bad);
    assert!(said.contains("WatchdogSecs"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_unit_asks_for_what_the_daemon_provides() {
    let unit = std::fs::read_to_string(packaging().join("vrrpd.service")).unwrap();
    let keys: Vec<(&str, &str)> = unit
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let value = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    // Type=notify: the daemon sends READY=1 (vrrp_userspace::systemd); the watchdog is fed
    // from the main loop.
    assert_eq!(value("Type"), Some("notify"));
    assert!(value("WatchdogSec").is_some());
    // The default control socket lives in /run/vrrpd.
    assert_eq!(value("RuntimeDirectory"), Some("vrrpd"));
    let default = vrrp_userspace::control::default_path();
    assert!(default.starts_with("/run/vrrpd"), "{}", default.display());
    // The pins must land in the host's bpffs, and arp_announce must stay writable.
    assert_eq!(value("ReadWritePaths"), Some("/sys/fs/bpf"));
    for absent in ["ProtectKernelTunables", "PrivateMounts", "PrivateNetwork"] {
        assert!(value(absent).is_none(), "{absent} would break vrrpd");
    }
    assert_eq!(
        value("ExecStart"),
        Some("/usr/sbin/vrrpd run --config ${VRRPD_CONFIG} $VRRPD_OPTIONS")
    );
}
