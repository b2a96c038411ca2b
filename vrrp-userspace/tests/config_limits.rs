//! Limits are errors or keepalived's fix-ups, never panics (issue 11): a configuration without
//! instances, more VIPs than an advert can list, duplicate VIPs and VRIDs. Side by side with
//! `keepalived -t` where it says something comparable.

use std::process::Command;

use vrrp_userspace::lab::side_by_side::{Dir, keepalived_t, vrrpd_check};

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");

/// A file without instances: keepalived 2.2.7 accepts it silently and runs, doing nothing; so
/// does vrrpd (the Debian package's default configuration is one). `run` starts, answers
/// `status` with no instance and exits 0 on SIGTERM: never a
/// panic (it was one, on an empty list, before).
#[test]
fn no_instance_is_accepted_by_check_and_run_waits_for_a_reload() {
    let d = Dir::new("noinst");
    d.write(
        "k.conf",
        "global_defs {\n    router_id lb1\n}\nvrrp_script chk {\n    script /bin/true\n}\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(ours.text.contains("OK, 0 instance(s)"), "{}", ours.text);
    if let Some(ka) = keepalived_t("no_instance", d.path(), "k.conf", &[]) {
        // keepalived accepts it (and would run no VRRP).
        assert_eq!(ka.code, 0, "{}", ka.text);
    }
    if !vrrp_userspace::lab::privileged("no_instance_run") {
        return;
    }
    let ns = vrrp_userspace::lab::NetNs::new("noinst");
    let log = d.path().join("vrrpd.log");
    let sock = d.path().join("ctl.sock");
    let pins = d.path().join("pins");
    let conf = d.path().join("k.conf");
    let mut child = vrrp_userspace::lab::Child::spawn_in(
        &ns,
        &[
            VRRPD,
            "run",
            "--config",
            conf.to_str().unwrap(),
            "--control-socket",
            sock.to_str().unwrap(),
            "--pin-root",
            pins.to_str().unwrap(),
        ],
        &log,
    )
    .expect("vrrpd starts");
    let status = || {
        Command::new(VRRPD)
            .args([
                "status",
                "--json",
                "--control-socket",
                sock.to_str().unwrap(),
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = None;
    while seen.is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        seen = status();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(seen.as_deref().map(str::trim), Some("[]"), "{text}");
    assert!(text.contains("no vrrp_instance"), "{text}");
    child.signal(nix::sys::signal::Signal::SIGTERM);
    let exit = child.wait_timeout(std::time::Duration::from_secs(5));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(exit.is_some_and(|s| s.success()), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

fn many_vips(name: &str, vrid: u8, vips: &[String]) -> String {
    format!(
        "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    \
         virtual_ipaddress {{\n{}\n    }}\n}}\n",
        vips.iter()
            .map(|v| format!("        {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// "(max N addresses)" from a checker's output.
fn max_in(text: &str) -> Option<usize> {
    let rest = text.split("(max ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

/// More VIPs than an advert can list: keepalived lists the first ones (255 at most, fewer for
/// IPv6 where the MTU binds) and moves the rest to the excluded VIPs, with a warning; so does
/// vrrpd, with the same limit on the same interface.
#[test]
fn vips_beyond_what_an_advert_lists_become_excluded_with_keepalived_warning() {
    let d = Dir::new("manyvips");
    let v4: Vec<String> = (0..300)
        .map(|i| format!("198.51.{}.{}", i / 250, i % 250 + 1))
        .collect();
    let mut v6 = vec!["fe80::52".to_string()];
    v6.extend((1..=100).map(|i| format!("2001:db8::{i:x}")));
    d.write("v4.conf", &many_vips("VI_4", 51, &v4))
        .write("v6.conf", &many_vips("VI_6", 52, &v6));
    let test = "vips_beyond_what_an_advert_lists_become_excluded";
    for (file, n, name) in [("v4.conf", 300, "VI_4"), ("v6.conf", 101, "VI_6")] {
        let ours = vrrpd_check(VRRPD, d.path(), file, &[]);
        assert_eq!(ours.code, 0, "{}", ours.text);
        let warning = format!("({name}) Number of VIPs ({n}) exceeds maximum/space available");
        assert!(ours.says_at(file, 1, &warning), "{}", ours.text);
        let max = max_in(&ours.text).expect("a limit");
        if file == "v4.conf" {
            assert_eq!(max, 255);
        } else {
            // 89 on a 1500-byte link, fewer on a smaller one.
            assert!((1..=89).contains(&max), "{max}");
        }
        let listed = ours.text.matches("\n  VIP ").count();
        let excluded = ours.text.matches("\n  excluded VIP ").count();
        assert_eq!((listed, excluded), (max, n - max), "{}", ours.text);
        if let Some(ka) = keepalived_t(test, d.path(), file, &[]) {
            assert!(ka.text.contains(&warning), "{}", ka.text);
            assert_eq!(max_in(&ka.text), Some(max), "{}", ka.text);
        }
    }
}

fn two(first: &str, second: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n{first}}}\nvrrp_instance VI_2 {{\n    \
         interface eth0\n{second}}}\n"
    )
}

/// keepalived accepts a VIP in two instances (-t is silent); vrrpd refuses, naming both.
#[test]
fn a_vip_in_two_instances_is_refused() {
    let d = Dir::new("dupvip");
    let a = "    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.3\n    }\n";
    let b = "    virtual_router_id 52\n    virtual_ipaddress {\n        192.0.2.4\n    }\n    \
             virtual_ipaddress_excluded {\n        192.0.2.3/24\n    }\n";
    d.write("k.conf", &two(a, b));
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(
        ours.says_at(
            "k.conf",
            8,
            "(VI_2) VIP 192.0.2.3 is also a VIP of VI_1 (k.conf:1)"
        ),
        "{}",
        ours.text
    );
    if let Some(ka) = keepalived_t("a_vip_in_two_instances", d.path(), "k.conf", &[]) {
        assert_eq!(ka.code, 0, "keepalived accepts it: {}", ka.text);
    }
}

/// Unicast instances with one VRID on one interface: keepalived tells them apart by peer
/// (-t is silent), vrrpd's maps cannot; refused. Two multicast ones: refused by both.
#[test]
fn one_vrid_twice_on_an_interface_is_refused_unicast_too() {
    let d = Dir::new("dupvrid");
    let inst = |vip: &str, peer: &str| {
        format!(
            "    virtual_router_id 51\n    unicast_peer {{\n        {peer}\n    }}\n    \
             virtual_ipaddress {{\n        {vip}\n    }}\n"
        )
    };
    d.write(
        "unicast.conf",
        &two(
            &inst("192.0.2.3", "192.0.2.8"),
            &inst("192.0.2.4", "192.0.2.9"),
        ),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "unicast.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(
        ours.says_at(
            "unicast.conf",
            11,
            "VI_1 (unicast.conf:1) and VI_2 both use VRID 51 with IPv4 on interface eth0"
        ),
        "{}",
        ours.text
    );
    let test = "one_vrid_twice_on_an_interface";
    if let Some(ka) = keepalived_t(test, d.path(), "unicast.conf", &[]) {
        assert_eq!(ka.code, 0, "keepalived accepts it: {}", ka.text);
    }
    // Unicast and multicast share vrrpd's maps as well.
    d.write(
        "mixed.conf",
        &two(
            &inst("192.0.2.3", "192.0.2.8"),
            "    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.4\n    }\n",
        ),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "mixed.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(
        ours.says_at("mixed.conf", 11, "both use VRID 51"),
        "{}",
        ours.text
    );
}

#[test]
fn toml_priority_zero_is_refused() {
    let d = Dir::new("tomlprio");
    d.write(
        "v.toml",
        "[[instance]]\nname = \"VI_1\"\nstate = \"BACKUP\"\ninterface = \"eth0\"\nvrid = 51\n\
         priority = 0\nadvert_interval_cs = 100\nversion = 2\n\n[[instance.vip]]\n\
         address = \"192.0.2.3\"\nprefix_len = 32\ndev = \"eth0\"\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "v.toml", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(
        ours.says_at("v.toml", 1, "(VI_1) priority 0 is reserved"),
        "{}",
        ours.text
    );
}

/// The whole VRID space of both families on each of two interfaces (1,020 instances, issue
/// 15): accepted by vrrpd's check.
#[test]
fn the_whole_vrid_space_of_both_families_on_two_interfaces_is_accepted() {
    let d = Dir::new("vridspace");
    let mut text = String::new();
    for (i, iface) in ["eth0", "eth1"].into_iter().enumerate() {
        for vrid in 1..=255u16 {
            let v4 = match i {
                0 => format!("198.51.100.{vrid}"),
                _ => format!("203.0.113.{vrid}"),
            };
            let v6 = format!("2001:db8:0:{}::{vrid:x}", i + 1);
            for (family, vip) in [("4", v4), ("6", v6)] {
                text.push_str(&format!(
                    "vrrp_instance V{i}_{family}_{vrid} {{\n    interface {iface}\n    \
                     virtual_router_id {vrid}\n    version 3\n    advert_int 0.01\n    \
                     virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
                ));
            }
        }
    }
    d.write("k.conf", &text);
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(ours.text.contains("OK, 1020 instance(s)"), "{}", ours.text);
    // keepalived -t is not asked: it fails on an interface the test host lacks (eth1).
}

/// More VIPs of one family on an interface than its XDP program holds (1,024, listed and
/// excluded alike) would fail at run time: refused by the check, at the instance that goes
/// beyond, never a panic.
#[test]
fn more_vips_on_an_interface_than_xdp_holds_are_refused() {
    let d = Dir::new("xdpvips");
    let mut text = String::new();
    for n in 0..4u16 {
        let vips: Vec<String> = (0..300u16)
            .map(|i| format!("2001:db8:{n:x}::{:x}", i + 1))
            .collect();
        text.push_str(&many_vips(&format!("VI_{n}"), 51 + n as u8, &vips));
    }
    d.write("k.conf", &text);
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    // Each instance is 306 lines long: the fourth starts at line 919.
    assert!(
        ours.says_at(
            "k.conf",
            919,
            "(VI_3) interface eth0 would have 1200 IPv6 VIPs with this instance's: vrrpd \
             answers for at most 1024 of each family on an interface"
        ),
        "{}",
        ours.text
    );
    assert!(!ours.text.contains("panicked"), "{}", ours.text);
}
