//! Limits are errors or keepalived's fix-ups, never panics (issue 11): a configuration without
//! instances, more VIPs than an advert can list, duplicate VIPs and VRIDs. Side by side with
//! `keepalived -t` where it says something comparable.

use std::process::Command;

use vrrp_userspace::lab::side_by_side::{Dir, keepalived_t, vrrpd_check};

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");

#[test]
fn no_instance_is_a_warning_for_check_and_refused_by_run() {
    let d = Dir::new("noinst");
    d.write(
        "k.conf",
        "global_defs {\n    router_id lb1\n}\nvrrp_script chk {\n    script /bin/true\n}\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.says_at("k.conf", 1, "no vrrp_instance"),
        "{}",
        ours.text
    );
    // run refuses it before starting anything (no root needed to see that), and never panics.
    let out = Command::new(VRRPD)
        .args(["run", "--config", "k.conf"])
        .args(["--control-socket", "ctl.sock", "--pin-root", "pins"])
        .current_dir(d.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("vrrpd runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("k.conf:1: no vrrp_instance"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    if let Some(ka) = keepalived_t("no_instance", d.path(), "k.conf", &[]) {
        // keepalived accepts it (and would run no VRRP).
        assert_eq!(ka.code, 0, "{}", ka.text);
    }
}
