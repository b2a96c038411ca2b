//! Interop on the wire with keepalived from Debian: vrrpd and keepalived in both roles, v2 with
//! PASS and v3, elect one master and fail over both ways; never two masters in steady state.
//! A capture on the switch during the run shows every ARP for the VIP and every advert carrying
//! the VMAC, and tshark finds no malformed VRRP.
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{Keepalived, Vrrpd, has_vip, run_dir, tshark_fields, wait_for},
};

static SERIAL: Mutex<()> = Mutex::new(());

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// A keepalived.conf for one side: `state`, `priority`, and v2 PASS or v3 without auth.
fn config(dir: &Path, name: &str, state: &str, priority: u8, v3: bool) -> PathBuf {
    let auth = if v3 {
        "    version 3\n".to_string()
    } else {
        "    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n".to_string()
    };
    let text = format!(
        "global_defs {{\n    router_id {name}\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 50\n    priority {priority}\n    advert_int 1\n{auth}    virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Exactly one of lb01 and lb02 holds the VIP, sampled for `how_long`.
fn one_master_for(lab: &Lab, how_long: Duration) -> Result<(), String> {
    let end = std::time::Instant::now() + how_long;
    while std::time::Instant::now() < end {
        let (a, b) = (has_vip(lab.host("lb01")), has_vip(lab.host("lb02")));
        if a == b {
            return Err(format!("lb01 holds the VIP: {a}, lb02: {b}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// tshark's view of the capture: no malformed VRRP, and every advert from vrrpd's host (at
/// `ours`) sent from the VMAC. keepalived without `use_vmac` sends from the NIC's MAC
/// (REFERENCE.md §4.1), so its frames are not held to that.
fn check_capture(file: &Path, ours: &str) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("tshark")
            .args(["-r", file.to_str().unwrap()])
            .args(args)
            .output()
            .expect("tshark");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let malformed = run(&["-Y", "_ws.malformed || _ws.expert.severity == error"]);
    assert!(
        malformed.trim().is_empty(),
        "tshark finds errors:\n{malformed}"
    );
    let adverts = run(&[
        "-Y",
        &format!("vrrp && ip.src == {ours}"),
        "-T",
        "fields",
        "-e",
        "eth.src",
    ]);
    assert!(!adverts.trim().is_empty(), "no advert from vrrpd captured");
    for src in adverts.lines() {
        assert_eq!(src, "00:00:5e:00:01:32", "vrrpd sent an advert from {src}");
    }
}

fn interop(v3: bool, vrrpd_is_lb01: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let _cap = lab.capture(&pcap);
    let conf1 = config(&dir, "lb01", "MASTER", 100, v3);
    let conf2 = config(&dir, "lb02", "BACKUP", 90, v3);

    if vrrpd_is_lb01 {
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf1, &dir, "lb01");
        let theirs = Keepalived::start(lab.host("lb02"), &conf2, &dir, "lb02");
        wait_for(Duration::from_secs(6), || has_vip(lab.host("lb01")))
            .unwrap_or_else(|| panic!("vrrpd lb01 not master: {}", ours.log_text()));
        one_master_for(&lab, Duration::from_secs(4)).unwrap();
        assert_eq!(ours.state().as_deref(), Some("MASTER"));
        // vrrpd stops (priority 0): keepalived takes over.
        ours.child.signal(nix::sys::signal::Signal::SIGTERM);
        wait_for(Duration::from_secs(3), || has_vip(lab.host("lb02")))
            .expect("keepalived took over from vrrpd");
        // vrrpd kept the VIP until keepalived's advert, then let go and exits.
        let mut ours = ours;
        let status = ours.child.wait_timeout(Duration::from_secs(5));
        assert!(
            status.is_some_and(|s| s.success()),
            "vrrpd did not exit after the handover: {}",
            ours.log_text()
        );
        assert!(
            ours.log_text().contains("advertises after"),
            "{}",
            ours.log_text()
        );
        one_master_for(&lab, Duration::from_secs(3)).unwrap();
        // vrrpd returns with the higher priority and preempts keepalived.
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf1, &dir, "lb01b");
        wait_for(Duration::from_secs(6), || {
            has_vip(lab.host("lb01")) && !has_vip(lab.host("lb02"))
        })
        .unwrap_or_else(|| panic!("vrrpd did not take the VIP back: {}", ours.log_text()));
        one_master_for(&lab, Duration::from_secs(3)).unwrap();
        drop(theirs);
    } else {
        let theirs = Keepalived::start(lab.host("lb01"), &conf1, &dir, "lb01");
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb02"), &conf2, &dir, "lb02");
        wait_for(Duration::from_secs(6), || has_vip(lab.host("lb01")))
            .expect("keepalived lb01 master");
        wait_for(Duration::from_secs(3), || {
            ours.state().as_deref() == Some("BACKUP")
        })
        .unwrap_or_else(|| panic!("vrrpd lb02: {}", ours.log_text()));
        one_master_for(&lab, Duration::from_secs(4)).unwrap();
        let seen = ours.status().unwrap();
        assert!(
            seen.adverts_seen >= 2,
            "XDP accepted no keepalived advert: {seen:?}"
        );
        assert_eq!(seen.master, Some("192.0.2.4".parse().unwrap()));
        // keepalived dies: vrrpd takes over.
        drop(theirs);
        wait_for(Duration::from_secs(6), || has_vip(lab.host("lb02")))
            .unwrap_or_else(|| panic!("vrrpd did not take over: {}", ours.log_text()));
        // keepalived returns (state MASTER, priority 100) and preempts vrrpd.
        let theirs = Keepalived::start(lab.host("lb01"), &conf1, &dir, "lb01b");
        wait_for(Duration::from_secs(8), || {
            has_vip(lab.host("lb01")) && !has_vip(lab.host("lb02"))
        })
        .unwrap_or_else(|| panic!("keepalived did not preempt vrrpd: {}", ours.log_text()));
        one_master_for(&lab, Duration::from_secs(3)).unwrap();
        assert_eq!(ours.state().as_deref(), Some("BACKUP"));
        drop(theirs);
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(_cap);
    check_capture(
        &pcap,
        if vrrpd_is_lb01 {
            "192.0.2.4"
        } else {
            "192.0.2.5"
        },
    );
}

#[test]
fn interop_v2_pass_vrrpd_master_keepalived_backup() {
    if lab::privileged("interop_v2_pass_vrrpd_master") {
        interop(false, true);
    }
}

#[test]
fn interop_v2_pass_keepalived_master_vrrpd_backup() {
    if lab::privileged("interop_v2_pass_keepalived_master") {
        interop(false, false);
    }
}

#[test]
fn interop_v3_vrrpd_master_keepalived_backup() {
    if lab::privileged("interop_v3_vrrpd_master") {
        interop(true, true);
    }
}

#[test]
fn interop_v3_keepalived_master_vrrpd_backup() {
    if lab::privileged("interop_v3_keepalived_master") {
        interop(true, false);
    }
}

/// keepalived.conf with `unicast_src_ip` / `unicast_peer` (v2 PASS).
fn unicast_config(
    dir: &Path,
    name: &str,
    state: &str,
    priority: u8,
    src: &str,
    peer: &str,
) -> PathBuf {
    let plain = config(dir, name, state, priority, false);
    let text = std::fs::read_to_string(&plain).unwrap().replace(
        "    virtual_ipaddress {",
        &format!("    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n    virtual_ipaddress {{"),
    );
    let path = dir.join(format!("{name}-unicast.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn interop_unicast_peers_vrrpd_and_keepalived() {
    if !lab::privileged("interop_unicast") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let cap = lab.capture(&pcap);
    let ours_conf = unicast_config(&dir, "lb01", "MASTER", 100, "192.0.2.4", "192.0.2.5");
    let theirs_conf = unicast_config(&dir, "lb02", "BACKUP", 90, "192.0.2.5", "192.0.2.4");
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours_conf, &dir, "lb01");
    let theirs = Keepalived::start(lab.host("lb02"), &theirs_conf, &dir, "lb02");
    wait_for(Duration::from_secs(6), || has_vip(lab.host("lb01")))
        .unwrap_or_else(|| panic!("vrrpd lb01 not master: {}", ours.log_text()));
    one_master_for(&lab, Duration::from_secs(4)).unwrap();
    // vrrpd stops: keepalived hears priority 0 by unicast and takes over.
    ours.child.signal(nix::sys::signal::Signal::SIGTERM);
    wait_for(Duration::from_secs(3), || has_vip(lab.host("lb02")))
        .expect("keepalived took over from vrrpd over unicast");
    drop(ours);
    // vrrpd as the backup now: it accepts keepalived's unicast adverts and stays backup.
    let backup_conf = unicast_config(&dir, "lb01b", "BACKUP", 80, "192.0.2.4", "192.0.2.5");
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &backup_conf, &dir, "lb01b");
    wait_for(Duration::from_secs(3), || {
        ours.status()
            .is_some_and(|s| s.state == "BACKUP" && s.adverts_seen >= 2)
    })
    .unwrap_or_else(|| panic!("{:?}\n{}", ours.status(), ours.log_text()));
    one_master_for(&lab, Duration::from_secs(3)).unwrap();
    drop(theirs);
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    // Unicast adverts went to the peer's address, not the multicast group.
    let dsts = tshark_fields(&pcap, "vrrp && ip.src == 192.0.2.4", "ip.dst");
    assert!(!dsts.trim().is_empty(), "no advert from vrrpd captured");
    assert!(dsts.lines().all(|d| d == "192.0.2.5"), "{dsts}");
}
