//! The built `vrrpd check` and `vrrpd convert`, run as a user would.

use std::process::Command;

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");
const LB01: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/tutorial/lb01.conf"
);
const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/configs");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(VRRPD)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("vrrpd runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_summarises_the_seed_master() {
    let (code, out, err) = run(&["check", "--config", LB01]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("instance VI_1"), "{out}");
    assert!(out.contains("interface eth0"), "{out}");
    assert!(out.contains("VRID 50"), "{out}");
    assert!(out.contains("state MASTER, priority 100"), "{out}");
    assert!(out.contains("advert interval 1s"), "{out}");
    assert!(out.contains("preempt yes"), "{out}");
    assert!(out.contains("auth PASS"), "{out}");
    assert!(out.contains("VIP 192.0.2.3/32 dev eth0"), "{out}");
    assert!(out.contains("OK, 1 instance(s), 0 warning(s)"), "{out}");
}

#[test]
fn check_refuses_a_bad_config_with_file_and_line() {
    let bad = format!("{CONFIGS}/bad-vrid.conf");
    let (code, out, err) = run(&["check", "--config", &bad]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains(&format!(
            "error: {bad}:5:23: expected a number 1..255 after 'virtual_router_id', found 'abc'"
        )),
        "{err}"
    );
    assert!(out.is_empty(), "no summary for a refused config: {out}");
}

#[test]
fn check_strict_refuses_unsupported_blocks() {
    let f = format!("{CONFIGS}/unsupported.conf");
    let (code, out, err) = run(&["check", "--config", &f]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("warning: {f}:9:1: 'virtual_server'")),
        "{err}"
    );
    assert!(out.contains("1 warning(s)"), "{out}");
    let (code, _, err) = run(&["check", "--config", &f, "--strict"]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("error: {f}:9:1: 'virtual_server'")),
        "{err}"
    );
}

#[test]
fn check_missing_file() {
    let (code, _, err) = run(&["check", "--config", "/nonexistent/vrrpd.conf"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/vrrpd.conf"), "{err}");
}

#[test]
fn convert_then_check_the_toml() {
    let out_path = std::env::temp_dir().join(format!("vrrpd-cli-{}.toml", std::process::id()));
    let out_s = out_path.to_str().unwrap();
    let (code, _, err) = run(&["convert", "--config", LB01, "--output", out_s]);
    assert_eq!(code, 0, "{err}");
    let toml = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        toml.contains("[[instance]]") && toml.contains("vrid = 50"),
        "{toml}"
    );
    let (code, out, err) = run(&["check", "--config", out_s]);
    std::fs::remove_file(&out_path).unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("VRID 50") && out.contains("VIP 192.0.2.3/32"),
        "{out}"
    );

    // Without --output, to stdout.
    let (code, out, _) = run(&["convert", "--config", LB01]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("# vrrpd configuration converted from"),
        "{out}"
    );
}

#[test]
fn check_says_whether_vrrpd_is_the_only_vrrp_speaker() {
    let dir = std::env::temp_dir().join(format!("vrrpd-cli-excl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let instance = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    \
                    priority 100\n    virtual_ipaddress {\n        192.0.2.3\n    }\n}\n";
    let shared = dir.join("shared.conf");
    std::fs::write(&shared, instance).unwrap();
    let exclusive = dir.join("exclusive.conf");
    std::fs::write(
        &exclusive,
        format!("global_defs {{\n    vrrpd_exclusive\n}}\n{instance}"),
    )
    .unwrap();
    let (code, out, err) = run(&["check", "--config", shared.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("passed on for other VRRP speakers (keepalived); say vrrpd_exclusive"),
        "{out}"
    );
    let (code, out, err) = run(&["check", "--config", exclusive.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("vrrpd_exclusive: adverts for VRIDs not configured here are dropped"),
        "{out}"
    );
    assert!(out.contains("0 warning(s)"), "{out}");
    // The TOML form keeps it.
    let (code, toml, err) = run(&["convert", "--config", exclusive.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(toml.contains("vrrpd_exclusive = true"), "{toml}");
    let converted = dir.join("exclusive.toml");
    std::fs::write(&converted, toml).unwrap();
    let (code, out, err) = run(&["check", "--config", converted.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("vrrpd_exclusive: adverts"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_lists_notify_split_brain_as_ours_and_keeps_it_in_toml() {
    let dir = std::env::temp_dir().join(format!("vrrpd-cli-split-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("split.conf");
    // keepalived 2.2.7 logs "Unknown keyword 'notify_split_brain'" and goes on; vrrpd runs it.
    std::fs::write(
        &conf,
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    priority 100\n    \
         notify_split_brain \"/bin/echo split\"\n    notify_split_brain \"/bin/true\"\n    \
         virtual_ipaddress {\n        192.0.2.3\n    }\n}\n\
         vrrp_sync_group VG_1 {\n    group {\n        VI_1\n    }\n    \
         notify_split_brain \"/bin/true\"\n}\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "notify_split_brain \"/bin/echo split\" (ours, not keepalived's, which logs \
             \"Unknown keyword\" and ignores it): run once per split brain with <instance> \
             <peer address> <peer MAC>"
        ),
        "{out}"
    );
    // The first one counts, as for keepalived's notify commands; a sync group has none.
    let said = format!("{out}{err}");
    assert!(
        said.contains("(VI_1) notify_split_brain script already specified - ignoring /bin/true"),
        "{said}"
    );
    assert!(
        said.contains("unknown keyword 'notify_split_brain'"),
        "{said}"
    );
    let (code, toml, err) = run(&["convert", "--config", conf.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let converted = dir.join("split.toml");
    std::fs::write(&converted, &toml).unwrap();
    let (code, out, err) = run(&["check", "--config", converted.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}\n{toml}");
    assert!(
        out.contains("notify_split_brain \"/bin/echo split\" (ours"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// README's compatibility section lists every keyword accepted without effect with the reason
/// `vrrpd check` gives (the table is written from `NO_EFFECT`: change both together).
#[test]
fn readme_lists_every_keyword_accepted_without_effect_with_its_reason() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let section = readme
        .split("## keepalived.conf compatibility")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a keepalived.conf compatibility section");
    for (keyword, why) in vrrp_userspace::config::validate::NO_EFFECT {
        let name = if keyword.contains(' ') {
            keyword.to_string()
        } else {
            format!("`{keyword}`")
        };
        let row = format!("| {name} | {why} |");
        assert!(section.contains(&row), "README lacks the row\n{row}");
    }
    let rows = section.lines().filter(|l| l.starts_with("| ")).count();
    // The header and one row per keyword: nothing listed that vrrpd no longer ignores.
    assert_eq!(
        rows,
        vrrp_userspace::config::validate::NO_EFFECT.len() + 1,
        "README lists a keyword accepted without effect that NO_EFFECT does not"
    );
}
