//! Interop on the wire with keepalived from Debian: vrrpd and keepalived in both roles, v2 with
//! PASS, v3 and v3 over IPv6, elect one master and fail over both ways; never two masters in
//! steady state.
//! A capture on the switch during the run shows every ARP for the VIP and every advert carrying
//! the VMAC, and tshark finds no malformed VRRP.
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{Keepalived, VIP, VIP6, Vrrpd, holds, link_local, run_dir, tshark_fields, wait_for},
};

static SERIAL: Mutex<()> = Mutex::new(());

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// What the two sides speak.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// VRRPv2 with PASS authentication.
    V2Pass,
    /// VRRPv3 over IPv4.
    V3,
    /// VRRPv3 over IPv6 (an IPv6 VIP; keepalived picks version 3 itself).
    V3Ipv6,
}

impl Mode {
    fn vip(self) -> &'static str {
        if self == Mode::V3Ipv6 { VIP6 } else { VIP }
    }
}

/// A keepalived.conf for one side: `state`, `priority`, and v2 PASS, v3, or v3 over IPv6.
fn config(dir: &Path, name: &str, state: &str, priority: u8, mode: Mode) -> PathBuf {
    let auth = match mode {
        Mode::V2Pass => {
            "    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }\n"
        }
        Mode::V3 => "    version 3\n",
        Mode::V3Ipv6 => "",
    };
    let vip = mode.vip();
    let text = format!(
        "global_defs {{\n    router_id {name}\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 50\n    priority {priority}\n    advert_int 1\n{auth}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Whether the lab host `role` holds the VIP (the IPv4 one unless `mode` is IPv6).
fn has(lab: &Lab, role: &str, mode: Mode) -> bool {
    holds(lab.host(role), mode.vip())
}

/// Exactly one of lb01 and lb02 holds the VIP, sampled for `how_long`.
fn one_master_for(lab: &Lab, mode: Mode, how_long: Duration) -> Result<(), String> {
    let end = std::time::Instant::now() + how_long;
    while std::time::Instant::now() < end {
        let (a, b) = (has(lab, "lb01", mode), has(lab, "lb02", mode));
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
fn check_capture(file: &Path, ours: &str, mode: Mode) {
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
    let ip = if mode == Mode::V3Ipv6 { "ipv6" } else { "ip" };
    let adverts = run(&[
        "-Y",
        &format!("vrrp && {ip}.src == {ours}"),
        "-T",
        "fields",
        "-e",
        "eth.src",
    ]);
    assert!(!adverts.trim().is_empty(), "no advert from vrrpd captured");
    let vmac = if mode == Mode::V3Ipv6 {
        "00:00:5e:00:02:32"
    } else {
        "00:00:5e:00:01:32"
    };
    for src in adverts.lines() {
        assert_eq!(src, vmac, "vrrpd sent an advert from {src}");
    }
}

fn interop(mode: Mode, vrrpd_is_lb01: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = if mode == Mode::V3Ipv6 {
        Lab::seed6()
    } else {
        Lab::seed()
    };
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let _cap = lab.capture(&pcap);
    let conf1 = config(&dir, "lb01", "MASTER", 100, mode);
    let conf2 = config(&dir, "lb02", "BACKUP", 90, mode);
    // The address each side advertises from: IPv4, or the IPv6 link-local.
    let primary = |role: &str, v4: &str| {
        if mode == Mode::V3Ipv6 {
            link_local(lab.host(role))
        } else {
            v4.to_string()
        }
    };
    let has = |role: &str| has(&lab, role, mode);

    if vrrpd_is_lb01 {
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf1, &dir, "lb01");
        let theirs = Keepalived::start(lab.host("lb02"), &conf2, &dir, "lb02");
        wait_for(Duration::from_secs(6), || has("lb01"))
            .unwrap_or_else(|| panic!("vrrpd lb01 not master: {}", ours.log_text()));
        one_master_for(&lab, mode, Duration::from_secs(4)).unwrap();
        assert_eq!(ours.state().as_deref(), Some("MASTER"));
        // vrrpd stops (priority 0): keepalived takes over.
        ours.child.signal(nix::sys::signal::Signal::SIGTERM);
        wait_for(Duration::from_secs(3), || has("lb02")).expect("keepalived took over from vrrpd");
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
        one_master_for(&lab, mode, Duration::from_secs(3)).unwrap();
        // vrrpd returns with the higher priority and preempts keepalived.
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf1, &dir, "lb01b");
        wait_for(Duration::from_secs(6), || has("lb01") && !has("lb02"))
            .unwrap_or_else(|| panic!("vrrpd did not take the VIP back: {}", ours.log_text()));
        one_master_for(&lab, mode, Duration::from_secs(3)).unwrap();
        drop(theirs);
    } else {
        let theirs = Keepalived::start(lab.host("lb01"), &conf1, &dir, "lb01");
        let ours = Vrrpd::start(&vrrpd(), lab.host("lb02"), &conf2, &dir, "lb02");
        wait_for(Duration::from_secs(6), || has("lb01")).expect("keepalived lb01 master");
        wait_for(Duration::from_secs(3), || {
            ours.state().as_deref() == Some("BACKUP")
        })
        .unwrap_or_else(|| panic!("vrrpd lb02: {}", ours.log_text()));
        one_master_for(&lab, mode, Duration::from_secs(4)).unwrap();
        let seen = ours.status().unwrap();
        assert!(
            seen.adverts_seen >= 2,
            "XDP accepted no keepalived advert: {seen:?}"
        );
        assert_eq!(
            seen.master,
            Some(primary("lb01", "192.0.2.4").parse().unwrap())
        );
        // keepalived dies: vrrpd takes over.
        drop(theirs);
        wait_for(Duration::from_secs(6), || has("lb02"))
            .unwrap_or_else(|| panic!("vrrpd did not take over: {}", ours.log_text()));
        // keepalived returns (state MASTER, priority 100) and preempts vrrpd.
        let theirs = Keepalived::start(lab.host("lb01"), &conf1, &dir, "lb01b");
        wait_for(Duration::from_secs(8), || has("lb01") && !has("lb02"))
            .unwrap_or_else(|| panic!("keepalived did not preempt vrrpd: {}", ours.log_text()));
        one_master_for(&lab, mode, Duration::from_secs(3)).unwrap();
        assert_eq!(ours.state().as_deref(), Some("BACKUP"));
        drop(theirs);
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(_cap);
    let ours = if vrrpd_is_lb01 {
        primary("lb01", "192.0.2.4")
    } else {
        primary("lb02", "192.0.2.5")
    };
    check_capture(&pcap, &ours, mode);
}

#[test]
fn interop_v2_pass_vrrpd_master_keepalived_backup() {
    if lab::privileged("interop_v2_pass_vrrpd_master") {
        interop(Mode::V2Pass, true);
    }
}

#[test]
fn interop_v2_pass_keepalived_master_vrrpd_backup() {
    if lab::privileged("interop_v2_pass_keepalived_master") {
        interop(Mode::V2Pass, false);
    }
}

#[test]
fn interop_v3_vrrpd_master_keepalived_backup() {
    if lab::privileged("interop_v3_vrrpd_master") {
        interop(Mode::V3, true);
    }
}

#[test]
fn interop_v3_ipv6_vrrpd_master_keepalived_backup() {
    if lab::privileged("interop_v3_ipv6_vrrpd_master") {
        interop(Mode::V3Ipv6, true);
    }
}

#[test]
fn interop_v3_ipv6_keepalived_master_vrrpd_backup() {
    if lab::privileged("interop_v3_ipv6_keepalived_master") {
        interop(Mode::V3Ipv6, false);
    }
}

#[test]
fn interop_v3_keepalived_master_vrrpd_backup() {
    if lab::privileged("interop_v3_keepalived_master") {
        interop(Mode::V3, false);
    }
}

/// keepalived.conf of `mode` with `unicast_src_ip` / `unicast_peer`.
fn unicast_config(
    dir: &Path,
    name: &str,
    state: &str,
    priority: u8,
    (src, peer): (&str, &str),
    mode: Mode,
) -> PathBuf {
    let plain = config(dir, name, state, priority, mode);
    let text = std::fs::read_to_string(&plain).unwrap().replace(
        "    virtual_ipaddress {",
        &format!("    unicast_src_ip {src}\n    unicast_peer {{\n        {peer}\n    }}\n    virtual_ipaddress {{"),
    );
    let six = if mode == Mode::V3Ipv6 { "6" } else { "" };
    let path = dir.join(format!("{name}-unicast{six}.conf"));
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
    let ours_conf = unicast_config(
        &dir,
        "lb01",
        "MASTER",
        100,
        ("192.0.2.4", "192.0.2.5"),
        Mode::V2Pass,
    );
    let theirs_conf = unicast_config(
        &dir,
        "lb02",
        "BACKUP",
        90,
        ("192.0.2.5", "192.0.2.4"),
        Mode::V2Pass,
    );
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours_conf, &dir, "lb01");
    let theirs = Keepalived::start(lab.host("lb02"), &theirs_conf, &dir, "lb02");
    wait_for(Duration::from_secs(6), || has(&lab, "lb01", Mode::V2Pass))
        .unwrap_or_else(|| panic!("vrrpd lb01 not master: {}", ours.log_text()));
    one_master_for(&lab, Mode::V2Pass, Duration::from_secs(4)).unwrap();
    // vrrpd stops: keepalived hears priority 0 by unicast and takes over.
    ours.child.signal(nix::sys::signal::Signal::SIGTERM);
    wait_for(Duration::from_secs(3), || has(&lab, "lb02", Mode::V2Pass))
        .expect("keepalived took over from vrrpd over unicast");
    drop(ours);
    // vrrpd as the backup now: it accepts keepalived's unicast adverts and stays backup.
    let backup_conf = unicast_config(
        &dir,
        "lb01b",
        "BACKUP",
        80,
        ("192.0.2.4", "192.0.2.5"),
        Mode::V2Pass,
    );
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &backup_conf, &dir, "lb01b");
    wait_for(Duration::from_secs(3), || {
        ours.status()
            .is_some_and(|s| s.state == "BACKUP" && s.adverts_seen >= 2)
    })
    .unwrap_or_else(|| panic!("{:?}\n{}", ours.status(), ours.log_text()));
    one_master_for(&lab, Mode::V2Pass, Duration::from_secs(3)).unwrap();
    drop(theirs);
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    // Unicast adverts went to the peer's address, not the multicast group.
    let dsts = tshark_fields(&pcap, "vrrp && ip.src == 192.0.2.4", "ip.dst");
    assert!(!dsts.trim().is_empty(), "no advert from vrrpd captured");
    assert!(dsts.lines().all(|d| d == "192.0.2.5"), "{dsts}");
}

/// Unicast peers over IPv6: vrrpd and keepalived elect one master with adverts sent to each
/// other's address (not ff02::12), keepalived takes over at vrrpd's priority 0, and vrrpd as
/// the backup hears keepalived's unicast adverts.
#[test]
fn interop_unicast_peers_over_ipv6_vrrpd_and_keepalived() {
    if !lab::privileged("interop_unicast6") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed6();
    let dir = run_dir();
    let pcap = dir.join("switch6.pcap");
    let cap = lab.capture(&pcap);
    let mode = Mode::V3Ipv6;
    let ours_conf = unicast_config(
        &dir,
        "lb01",
        "MASTER",
        100,
        ("2001:db8::4", "2001:db8::5"),
        mode,
    );
    let theirs_conf = unicast_config(
        &dir,
        "lb02",
        "BACKUP",
        90,
        ("2001:db8::5", "2001:db8::4"),
        mode,
    );
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours_conf, &dir, "lb01");
    let theirs = Keepalived::start(lab.host("lb02"), &theirs_conf, &dir, "lb02");
    wait_for(Duration::from_secs(8), || has(&lab, "lb01", mode))
        .unwrap_or_else(|| panic!("vrrpd lb01 not master: {}", ours.log_text()));
    one_master_for(&lab, mode, Duration::from_secs(4))
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", ours.log_text(), theirs.log_text()));
    // vrrpd stops: keepalived hears priority 0 by unicast and takes over.
    ours.child.signal(nix::sys::signal::Signal::SIGTERM);
    wait_for(Duration::from_secs(3), || has(&lab, "lb02", mode))
        .unwrap_or_else(|| panic!("keepalived did not take over: {}", theirs.log_text()));
    drop(ours);
    // vrrpd as the backup now: it accepts keepalived's unicast adverts and stays backup.
    let backup_conf = unicast_config(
        &dir,
        "lb01b",
        "BACKUP",
        80,
        ("2001:db8::4", "2001:db8::5"),
        mode,
    );
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &backup_conf, &dir, "lb01b");
    wait_for(Duration::from_secs(4), || {
        ours.status()
            .is_some_and(|s| s.state == "BACKUP" && s.adverts_seen >= 2)
    })
    .unwrap_or_else(|| panic!("{:?}\n{}", ours.status(), ours.log_text()));
    one_master_for(&lab, mode, Duration::from_secs(3)).unwrap();
    drop(theirs);
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    // Unicast adverts went to the peer's address, not the multicast group, with hop limit 255
    // (ICMPv6 errors quoting keepalived's adverts, sent while no vrrpd ran, are not adverts).
    let dsts = tshark_fields(
        &pcap,
        "vrrp && ipv6.src == 2001:db8::4 && !icmpv6",
        "ipv6.dst",
    );
    assert!(!dsts.trim().is_empty(), "no advert from vrrpd captured");
    assert!(dsts.lines().all(|d| d == "2001:db8::5"), "{dsts}");
    let hops = tshark_fields(
        &pcap,
        "vrrp && ipv6.src == 2001:db8::4 && !icmpv6",
        "ipv6.hlim",
    );
    assert!(hops.lines().all(|h| h == "255"), "{hops}");
    let bad = tshark_fields(
        &pcap,
        "vrrp && _ws.expert.severity == error",
        "frame.number",
    );
    assert!(bad.trim().is_empty(), "tshark finds errors in frames {bad}");
}

/// A keepalived.conf of one instance (v2 unless `global` sets `vrrp_version`): VRID `vrid`,
/// VIP `vip`, and `global` lines in
/// global_defs.
fn instance_config(
    dir: &Path,
    file: &str,
    global: &str,
    (state, priority): (&str, u8),
    vrid: u8,
    vip: &str,
) -> PathBuf {
    let text = format!(
        "global_defs {{\n{global}}}\nvrrp_instance VI_{vrid} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    );
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// Issue 11: a host migrated instance by instance runs keepalived for VRID 60 and vrrpd for
/// VRID 50. vrrpd's XDP program must pass keepalived's adverts on (they are for a VRID it does
/// not run), so that both groups elect one master each; only `vrrpd_exclusive` makes it drop
/// them, and then keepalived's backup hears nothing and becomes a second master.
#[test]
fn lab_keepalived_and_vrrpd_share_hosts_for_different_vrids() {
    if !lab::privileged("lab_keepalived_and_vrrpd_share_hosts_for_different_vrids") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    const VIP60: &str = "192.0.2.60";
    // keepalived, VRID 60: lb02 master, lb01 backup.
    let k1 = instance_config(&dir, "k1.conf", "", ("BACKUP", 90), 60, VIP60);
    let k2 = instance_config(&dir, "k2.conf", "", ("MASTER", 100), 60, VIP60);
    // vrrpd, VRID 50: lb01 master, lb02 backup.
    let v1 = instance_config(&dir, "v1.conf", "", ("MASTER", 100), 50, VIP);
    let v2 = instance_config(&dir, "v2.conf", "", ("BACKUP", 90), 50, VIP);
    let _k2 = Keepalived::start(lab.host("lb02"), &k2, &dir, "k-lb02");
    let k1 = Keepalived::start(lab.host("lb01"), &k1, &dir, "k-lb01");
    wait_for(Duration::from_secs(6), || holds(lab.host("lb02"), VIP60))
        .expect("keepalived lb02 master of VRID 60");
    let ours1 = Vrrpd::start(&vrrpd(), lab.host("lb01"), &v1, &dir, "v-lb01");
    let ours2 = Vrrpd::start(&vrrpd(), lab.host("lb02"), &v2, &dir, "v-lb02");
    wait_for(Duration::from_secs(6), || {
        holds(lab.host("lb01"), VIP) && ours2.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("vrrpd VRID 50: {}\n{}", ours1.log_text(), ours2.log_text()));
    // Both groups, sampled over several advert intervals (keepalived's backup gives up after
    // 3 s without adverts): one master each, the VIPs where they belong.
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end {
        let held = |role: &str, vip: &str| holds(lab.host(role), vip);
        assert_eq!(
            (
                held("lb01", VIP),
                held("lb02", VIP),
                held("lb01", VIP60),
                held("lb02", VIP60)
            ),
            (true, false, false, true),
            "VIP on lb01, lb02; VIP60 on lb01, lb02\n{}",
            k1.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for ours in [&ours1, &ours2] {
        let s = ours.status().expect("vrrpd answers");
        assert_eq!(
            s.interface_drops.get("unknown_vrid").copied().unwrap_or(0),
            0,
            "{s:?}"
        );
    }
    assert!(
        ours2.status().unwrap().adverts_seen >= 2,
        "the backup hears its master"
    );
    assert_eq!(
        lab::daemon::last_logged_state(&k1.log_text(), "VI_60").as_deref(),
        Some("BACKUP"),
        "{}",
        k1.log_text()
    );

    // vrrpd_exclusive on lb01 (the operator says vrrpd is the only speaker, wrongly here):
    // keepalived's adverts die in XDP, and lb01's keepalived takes VRID 60 as well.
    drop(ours1);
    let v1x = instance_config(
        &dir,
        "v1x.conf",
        "    vrrpd_exclusive\n",
        ("MASTER", 100),
        50,
        VIP,
    );
    let ours1 = Vrrpd::start(&vrrpd(), lab.host("lb01"), &v1x, &dir, "v-lb01x");
    wait_for(Duration::from_secs(8), || holds(lab.host("lb01"), VIP60)).unwrap_or_else(|| {
        panic!(
            "exclusive: keepalived lb01 still hears lb02: {}",
            ours1.log_text()
        )
    });
    let s = ours1.status().expect("vrrpd answers");
    assert!(
        s.interface_drops.get("unknown_vrid").copied().unwrap_or(0) > 0,
        "{s:?}"
    );
}

/// A VRRPv3 keepalived.conf of VRID 50 (VIP [`VIP`]) whose adverts go to `vrrp_mcast_group4
/// 224.0.0.19`.
fn group19_config(dir: &Path, file: &str, state: &str, priority: u8) -> PathBuf {
    instance_config(
        dir,
        file,
        "    vrrp_version 3\n    vrrp_mcast_group4 224.0.0.19\n",
        (state, priority),
        50,
        VIP,
    )
}

/// `vrrp_mcast_group4 224.0.0.19` on two vrrpd and a keepalived: one group (one master, the
/// others backup; after the master leaves the next vrrpd takes over while keepalived stays
/// backup, and after that one leaves keepalived takes over), every advert on the wire to 224.0.0.19 from 01:00:5e:00:00:13 and none to
/// 224.0.0.18. VRRPv3, so the checksum keepalived verifies covers the group.
#[test]
fn lab_mcast_group4_two_vrrpd_and_keepalived_form_one_group() {
    if !lab::privileged("lab_mcast_group4_two_vrrpd_and_keepalived_form_one_group") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new(&[
        ("lb01", "192.0.2.4/24"),
        ("lb02", "192.0.2.5/24"),
        ("lb03", "192.0.2.6/24"),
    ]);
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let cap = lab.capture(&pcap);
    let c1 = group19_config(&dir, "lb01.conf", "MASTER", 100);
    let c2 = group19_config(&dir, "lb02.conf", "BACKUP", 90);
    let c3 = group19_config(&dir, "lb03.conf", "BACKUP", 80);
    let ka = Keepalived::start(lab.host("lb03"), &c3, &dir, "lb03");
    let ours1 = Vrrpd::start(&vrrpd(), lab.host("lb01"), &c1, &dir, "lb01");
    let ours2 = Vrrpd::start(&vrrpd(), lab.host("lb02"), &c2, &dir, "lb02");
    let held = |role: &str| holds(lab.host(role), VIP);
    let ka_state = || lab::daemon::last_logged_state(&ka.log_text(), "VI_50");
    wait_for(Duration::from_secs(8), || {
        held("lb01")
            && ours2.state().as_deref() == Some("BACKUP")
            && ka_state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| {
        panic!(
            "no single group:\nlb01 {}\nlb02 {}\nkeepalived {}",
            ours1.log_text(),
            ours2.log_text(),
            ka.log_text()
        )
    });
    // Over several advert intervals (a backup that heard nothing gives up after 3 s).
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end {
        assert_eq!(
            (held("lb01"), held("lb02"), held("lb03")),
            (true, false, false),
            "VIP on lb01, lb02, lb03\n{}",
            ka.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ours1.state().as_deref(), Some("MASTER"));
    assert_eq!(ka_state().as_deref(), Some("BACKUP"), "{}", ka.log_text());
    let seen = ours2.status().expect("vrrpd lb02 answers");
    assert!(seen.adverts_seen >= 2, "lb02 hears no advert: {seen:?}");
    assert_eq!(seen.master, Some("192.0.2.4".parse().unwrap()), "{seen:?}");
    // lb01 leaves (SIGTERM: priority 0): lb02, the next vrrpd, takes over, and keepalived
    // hears it.
    let mut ours1 = ours1;
    ours1.child.signal(nix::sys::signal::Signal::SIGTERM);
    let status = ours1.child.wait_timeout(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "vrrpd lb01 did not exit: {}",
        ours1.log_text()
    );
    wait_for(Duration::from_secs(6), || held("lb02") && !held("lb01"))
        .unwrap_or_else(|| panic!("lb02 did not take over: {}", ours2.log_text()));
    let end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < end {
        assert_eq!(
            (held("lb01"), held("lb02"), held("lb03")),
            (false, true, false),
            "after lb01 left: VIP on lb01, lb02, lb03\n{}",
            ka.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ka_state().as_deref(), Some("BACKUP"), "{}", ka.log_text());
    // lb02 leaves too: keepalived hears its priority 0 and takes over, advertising.
    let mut ours2 = ours2;
    ours2.child.signal(nix::sys::signal::Signal::SIGTERM);
    let status = ours2.child.wait_timeout(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "vrrpd lb02 did not exit: {}",
        ours2.log_text()
    );
    wait_for(Duration::from_secs(6), || held("lb03") && !held("lb02"))
        .unwrap_or_else(|| panic!("keepalived did not take over: {}", ka.log_text()));
    std::thread::sleep(Duration::from_millis(2500));
    drop(ka);
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    // On the wire: adverts from all three, all to 224.0.0.19 and its MAC, none to 224.0.0.18.
    let to19 = tshark_fields(&pcap, "vrrp && ip.dst == 224.0.0.19", "ip.src");
    for src in ["192.0.2.4", "192.0.2.5", "192.0.2.6"] {
        assert!(
            to19.lines().any(|l| l == src),
            "no advert from {src} to 224.0.0.19:\n{to19}"
        );
    }
    let to18 = tshark_fields(&pcap, "vrrp && ip.dst == 224.0.0.18", "ip.src");
    assert!(
        to18.trim().is_empty(),
        "adverts to 224.0.0.18 from:\n{to18}"
    );
    let macs = tshark_fields(&pcap, "vrrp", "eth.dst");
    assert!(
        macs.lines().all(|m| m == "01:00:5e:00:00:13"),
        "advert MACs:\n{macs}"
    );
    let malformed = tshark_fields(&pcap, "vrrp && _ws.expert.severity == error", "ip.src");
    assert!(
        malformed.trim().is_empty(),
        "tshark finds errors from:\n{malformed}"
    );
}

/// The IPv4 multicast groups `ns` has joined on eth0 (`ip maddr`).
fn joined(ns: &lab::NetNs) -> Vec<String> {
    ns.exec(&["ip", "-4", "maddr", "show", "dev", "eth0"])
        .lines()
        .filter_map(|l| l.trim().strip_prefix("inet "))
        .map(|g| g.split_whitespace().next().unwrap_or("").to_string())
        .collect()
}

/// vrrpd joins the configured group on the interface, and a reload that changes
/// `vrrp_mcast_group4` leaves it for the new one, to which the adverts then go.
#[test]
fn lab_mcast_group4_joined_and_changed_by_a_reload() {
    if !lab::privileged("lab_mcast_group4_joined_and_changed_by_a_reload") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let conf = group19_config(&dir, "lb01.conf", "MASTER", 100);
    let lb01 = lab.host("lb01");
    let ours = Vrrpd::start(&vrrpd(), lb01, &conf, &dir, "lb01");
    wait_for(Duration::from_secs(6), || holds(lb01, VIP))
        .unwrap_or_else(|| panic!("vrrpd not master: {}", ours.log_text()));
    let groups = joined(lb01);
    assert!(groups.iter().any(|g| g == "224.0.0.19"), "{groups:?}");
    assert!(!groups.iter().any(|g| g == "224.0.0.18"), "{groups:?}");
    // The same file on 224.0.0.20, reloaded.
    let text = std::fs::read_to_string(&conf)
        .unwrap()
        .replace("224.0.0.19", "224.0.0.20");
    std::fs::write(&conf, text).unwrap();
    ours.child.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), || {
        let g = joined(lb01);
        g.iter().any(|g| g == "224.0.0.20") && !g.iter().any(|g| g == "224.0.0.19")
    })
    .unwrap_or_else(|| panic!("groups {:?}: {}", joined(lb01), ours.log_text()));
    // The adverts follow: captured after the reload, all to 224.0.0.20.
    wait_for(Duration::from_secs(6), || holds(lb01, VIP))
        .unwrap_or_else(|| panic!("vrrpd not master after the reload: {}", ours.log_text()));
    let pcap = dir.join("after-reload.pcap");
    let cap = lab.capture(&pcap);
    std::thread::sleep(Duration::from_millis(3500));
    drop(cap);
    let dsts = tshark_fields(&pcap, "vrrp && ip.src == 192.0.2.4", "ip.dst");
    assert!(!dsts.trim().is_empty(), "no advert after the reload");
    assert!(dsts.lines().all(|d| d == "224.0.0.20"), "{dsts}");
    let macs = tshark_fields(&pcap, "vrrp && ip.src == 192.0.2.4", "eth.dst");
    assert!(macs.lines().all(|m| m == "01:00:5e:00:00:14"), "{macs}");
}

/// `vrrp_mcast_group6 ff02::13` on vrrpd (master) and keepalived (backup), VRRPv3 over IPv6:
/// keepalived hears vrrpd and stays backup, and vrrpd's adverts go to ff02::13 from
/// 33:33:00:00:00:13 (none to ff02::12); when vrrpd leaves, keepalived takes over.
#[test]
fn lab_mcast_group6_vrrpd_and_keepalived_form_one_group() {
    if !lab::privileged("lab_mcast_group6_vrrpd_and_keepalived_form_one_group") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed6();
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let cap = lab.capture(&pcap);
    let conf = |file: &str, state: &str, priority: u8| {
        let text = format!(
            "global_defs {{\n    vrrp_mcast_group6 ff02::13\n}}\nvrrp_instance VI_50 {{\n    state {state}\n    interface eth0\n    virtual_router_id 50\n    priority {priority}\n    advert_int 1\n    virtual_ipaddress {{\n        {VIP6}\n    }}\n}}\n"
        );
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (c1, c2) = (
        conf("lb01.conf", "MASTER", 100),
        conf("lb02.conf", "BACKUP", 90),
    );
    let ka = Keepalived::start(lab.host("lb02"), &c2, &dir, "lb02");
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &c1, &dir, "lb01");
    let held = |role: &str| holds(lab.host(role), VIP6);
    let ka_state = || lab::daemon::last_logged_state(&ka.log_text(), "VI_50");
    wait_for(Duration::from_secs(8), || {
        held("lb01") && !held("lb02") && ka_state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("no single group:\n{}\n{}", ours.log_text(), ka.log_text()));
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end {
        assert_eq!(
            (held("lb01"), held("lb02")),
            (true, false),
            "{}",
            ka.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut ours = ours;
    ours.child.signal(nix::sys::signal::Signal::SIGTERM);
    let status = ours.child.wait_timeout(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{}", ours.log_text());
    wait_for(Duration::from_secs(6), || held("lb02"))
        .unwrap_or_else(|| panic!("keepalived did not take over: {}", ka.log_text()));
    std::thread::sleep(Duration::from_millis(2500));
    drop(ka);
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    for role in ["lb01", "lb02"] {
        let src = link_local(lab.host(role));
        let dsts = tshark_fields(&pcap, &format!("vrrp && ipv6.src == {src}"), "ipv6.dst");
        assert!(!dsts.trim().is_empty(), "no advert from {role}");
        assert!(dsts.lines().all(|d| d == "ff02::13"), "{role}: {dsts}");
    }
    let macs = tshark_fields(&pcap, "vrrp", "eth.dst");
    assert!(
        macs.lines().all(|m| m == "33:33:00:00:00:13"),
        "advert MACs:\n{macs}"
    );
}

/// `vrrp_startup_delay 2`, the same file for keepalived (lb02) and vrrpd (lb01), each alone on
/// its VRIDs: a backup at priority 100 (Master_Down_Interval 3.61 s) and the address owner with
/// `state MASTER`. Neither daemon has a master within the delay; the owner takes over as it
/// ends, the backup a Master_Down_Interval after it (keepalived 2.2.7 measured alone: 3.06 and
/// 6.67 s after its start with a delay of 3 s).
#[test]
fn startup_delay_holds_vrrpd_and_keepalived_alike() {
    if !lab::privileged("startup_delay_holds_vrrpd_and_keepalived_alike") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let conf = |file: &str, base: u8| {
        let text = format!(
            "global_defs {{\n    vrrp_startup_delay 2\n}}\n\
             vrrp_instance VI_B {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {}\n    priority 100\n    advert_int 1\n    virtual_ipaddress {{\n        192.0.2.{}\n    }}\n}}\n\
             vrrp_instance VI_O {{\n    state MASTER\n    interface eth0\n    virtual_router_id {}\n    priority 255\n    advert_int 1\n    virtual_ipaddress {{\n        192.0.2.{}\n    }}\n}}\n",
            base,
            base,
            base + 1,
            base + 1
        );
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ours, theirs) = (conf("v.conf", 70), conf("k.conf", 80));
    let start = std::time::Instant::now();
    let k = Keepalived::start(lab.host("lb02"), &theirs, &dir, "k-lb02");
    let v = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours, &dir, "v-lb01");
    // When each instance of each daemon was first seen MASTER, from the start.
    let mut first = std::collections::BTreeMap::new();
    while start.elapsed() < Duration::from_secs(8) && first.len() < 4 {
        let at = start.elapsed();
        let theirs = lab::daemon::logged_states(&k.log_text());
        for s in v.statuses().unwrap_or_default() {
            if s.state == "MASTER" {
                first.entry(format!("vrrpd {}", s.name)).or_insert(at);
            }
        }
        for (name, state) in theirs {
            if state == "MASTER" {
                first.entry(format!("keepalived {name}")).or_insert(at);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = format!("{first:?}\n{}\n{}", v.log_text(), k.log_text());
    assert!(
        v.log_text().contains("Delaying startup for 2 seconds"),
        "{report}"
    );
    assert!(
        k.log_text().contains("Delaying startup for 2 seconds"),
        "{report}"
    );
    for daemon in ["vrrpd", "keepalived"] {
        let owner = first[&format!("{daemon} VI_O")];
        let backup = first[&format!("{daemon} VI_B")];
        // Never within the delay; the backup never before the delay and its Master_Down_Interval.
        assert!(owner >= Duration::from_secs(2), "{daemon}: {report}");
        assert!(backup >= Duration::from_millis(5_609), "{daemon}: {report}");
        assert!(owner < Duration::from_millis(3_000), "{daemon}: {report}");
        assert!(backup < Duration::from_millis(6_800), "{daemon}: {report}");
    }
}

/// One keepalived.conf of `(name, state, priority, vrid)` instances at 1 s, the VIP of each
/// 192.0.2.VRID.
fn instances_config(dir: &Path, file: &str, instances: &[(&str, &str, u8, u8)]) -> PathBuf {
    let vips: Vec<[String; 1]> = instances
        .iter()
        .map(|(.., vrid)| [format!("192.0.2.{vrid}")])
        .collect();
    let vips: Vec<[&str; 1]> = vips.iter().map(|[v]| [v.as_str()]).collect();
    let listing: Vec<Listing> = instances
        .iter()
        .zip(&vips)
        .map(|((name, state, priority, vrid), vips)| {
            (*name, *state, *priority, *vrid, &vips[..], false)
        })
        .collect();
    listing_config(dir, file, &listing)
}

/// keepalived 2.2.7's start rule and reload, run side by side with the same file (each daemon
/// on VRIDs of its own, alone on the wire): only the owner with `state MASTER` takes over at
/// once; the owner with `state BACKUP` and `state MASTER` at priority 100 wait their
/// Master_Down_Interval (3.00 and 3.61 s; keepalived measured alone: 3.04 and 3.65 s). Then a
/// reload that raises VI_M's priority keeps it master in both: no transition, its VIP held
/// throughout, no priority 0 on the wire.
#[test]
fn start_rule_and_reload_of_a_changed_master_as_keepalived() {
    if !lab::privileged("start_rule_and_reload_of_a_changed_master_as_keepalived") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let conf = |file: &str, base: u8, priority: u8| {
        instances_config(
            &dir,
            file,
            &[
                ("VI_M", "MASTER", priority, base),
                ("VI_O", "BACKUP", 255, base + 1),
                ("VI_OM", "MASTER", 255, base + 2),
            ],
        )
    };
    let (ours, theirs) = (conf("v.conf", 60, 100), conf("k.conf", 65, 100));
    let start = std::time::Instant::now();
    let k = Keepalived::start(lab.host("lb02"), &theirs, &dir, "k-lb02");
    let v = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours, &dir, "v-lb01");
    let mut first = std::collections::BTreeMap::new();
    while start.elapsed() < Duration::from_secs(7) && first.len() < 6 {
        let at = start.elapsed();
        for s in v.statuses().unwrap_or_default() {
            if s.state == "MASTER" {
                first.entry(format!("vrrpd {}", s.name)).or_insert(at);
            }
        }
        for (name, state) in lab::daemon::logged_states(&k.log_text()) {
            if state == "MASTER" {
                first.entry(format!("keepalived {name}")).or_insert(at);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = format!("{first:?}\n{}\n{}", v.log_text(), k.log_text());
    let ms = Duration::from_millis;
    for daemon in ["vrrpd", "keepalived"] {
        let at = |name: &str| {
            *first
                .get(&format!("{daemon} {name}"))
                .unwrap_or_else(|| panic!("{daemon} {name} never MASTER: {report}"))
        };
        assert!(at("VI_OM") < ms(1_500), "{daemon}: {report}");
        assert!(
            (ms(3_000)..ms(4_500)).contains(&at("VI_O")),
            "{daemon}: {report}"
        );
        assert!(
            (ms(3_609)..ms(5_000)).contains(&at("VI_M")),
            "{daemon}: {report}"
        );
    }
    // The reload: VI_M at priority 110, in both files.
    conf("v.conf", 60, 110);
    conf("k.conf", 65, 110);
    let pcap = dir.join("reload.pcap");
    let cap = lab.capture(&pcap);
    std::thread::sleep(ms(500));
    let logged = k.log_text().len();
    v.child.signal(nix::sys::signal::Signal::SIGHUP);
    k.child.signal(nix::sys::signal::Signal::SIGHUP);
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(3) {
        assert!(
            holds(lab.host("lb01"), "192.0.2.60"),
            "vrrpd let VI_M's VIP go: {}",
            v.log_text()
        );
        assert!(
            holds(lab.host("lb02"), "192.0.2.65"),
            "keepalived let VI_M's VIP go: {}",
            k.log_text()
        );
        std::thread::sleep(ms(10));
    }
    drop(cap);
    let (vlog, klog) = (v.log_text(), k.log_text());
    assert!(
        vlog.contains("VI_M: reloaded in place, stays MASTER"),
        "{vlog}"
    );
    assert!(
        klog[logged..].contains("Reload"),
        "keepalived did not reload: {klog}"
    );
    assert!(!klog[logged..].contains("(VI_M) Entering"), "{klog}");
    let s = v.statuses().unwrap();
    let m = s.iter().find(|s| s.name == "VI_M").unwrap();
    assert_eq!((m.state.as_str(), m.priority), ("MASTER", 110), "{vlog}");
    let zeros = tshark_fields(&pcap, "vrrp.prio == 0", "ip.src");
    assert!(
        zeros.trim().is_empty(),
        "priority 0 at a reload from {zeros}"
    );
    let adverts = tshark_fields(&pcap, "vrrp.prio == 110", "ip.src");
    assert!(
        adverts.contains("192.0.2.4") && adverts.contains("192.0.2.5"),
        "{adverts}"
    );
}

/// keepalived 2.2.7's reload of a sync group whose members change, side by side with the same
/// file (each daemon on VRIDs of its own, alone on the wire): a group of VI_A and VI_B, both
/// master; a reload adds a new instance, VI_C, to it. In both daemons the group, made anew, is
/// BACKUP as VI_C is not a master: VI_A and VI_B go to BACKUP without a priority 0 and
/// release their VIPs (keepalived logs "Entering BACKUP STATE (init)"), and all three are
/// master once VI_C's Master_Down_Interval has run out with no master heard.
#[test]
fn reload_that_adds_a_sync_group_member_as_keepalived() {
    if !lab::privileged("reload_that_adds_a_sync_group_member_as_keepalived") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let conf = |file: &str, base: u8, members: &[&str]| {
        let all = [
            ("VI_A", "MASTER", 100, base),
            ("VI_B", "MASTER", 100, base + 1),
            ("VI_C", "BACKUP", 100, base + 2),
        ];
        let path = instances_config(&dir, file, &all[..members.len()]);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("vrrp_sync_group VG {\n    group {\n");
        for m in members {
            text.push_str(&format!("        {m}\n"));
        }
        text.push_str("    }\n}\n");
        std::fs::write(&path, text).unwrap();
        path
    };
    let (ours, theirs) = (
        conf("v.conf", 80, &["VI_A", "VI_B"]),
        conf("k.conf", 85, &["VI_A", "VI_B"]),
    );
    let k = Keepalived::start(lab.host("lb02"), &theirs, &dir, "k-lb02");
    let v = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours, &dir, "v-lb01");
    let (lb01, lb02) = (lab.host("lb01"), lab.host("lb02"));
    let report = || format!("{}\n{}", v.log_text(), k.log_text());
    let all = |a: bool, b: bool, c: bool| {
        holds(lb01, "192.0.2.80") == a
            && holds(lb01, "192.0.2.81") == b
            && holds(lb01, "192.0.2.82") == c
            && holds(lb02, "192.0.2.85") == a
            && holds(lb02, "192.0.2.86") == b
            && holds(lb02, "192.0.2.87") == c
    };
    wait_for(Duration::from_secs(8), || all(true, true, false))
        .unwrap_or_else(|| panic!("not all master: {}", report()));
    conf("v.conf", 80, &["VI_A", "VI_B", "VI_C"]);
    conf("k.conf", 85, &["VI_A", "VI_B", "VI_C"]);
    let pcap = dir.join("regroup.pcap");
    let cap = lab.capture(&pcap);
    std::thread::sleep(Duration::from_millis(500));
    let logged = k.log_text().len();
    v.child.signal(nix::sys::signal::Signal::SIGHUP);
    k.child.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_millis(1_500), || all(false, false, false))
        .unwrap_or_else(|| panic!("the masters kept their VIPs: {}", report()));
    let back = wait_for(Duration::from_secs(8), || all(true, true, true))
        .unwrap_or_else(|| panic!("not all master again: {}", report()));
    drop(cap);
    let (vlog, klog) = (v.log_text(), k.log_text());
    for name in ["VI_A", "VI_B"] {
        assert!(
            vlog.contains(&format!(
                "{name}: MASTER -> BACKUP (sync group VG: configuration reloaded)"
            )),
            "{vlog}"
        );
        assert!(
            klog[logged..].contains(&format!("({name}) Entering BACKUP STATE (init)")),
            "{klog}"
        );
    }
    let zeros = tshark_fields(&pcap, "vrrp.prio == 0", "ip.src");
    assert!(
        zeros.trim().is_empty(),
        "priority 0 at a reload from {zeros}"
    );
    // VI_C's Master_Down_Interval (3.61 s) from the reload, not a whole second's more.
    assert!(
        back < Duration::from_millis(5_000),
        "{back:?}: {}",
        report()
    );
}

/// A node started with `state MASTER` at priority 100 while a master of priority 150 runs
/// (vrrpd on lb02): keepalived 2.2.7 and vrrpd alike (both on lb01, a VRID each) stay BACKUP,
/// never add the VIP and never take it from the running master.
#[test]
fn state_master_started_beside_a_better_master_stays_backup_as_keepalived() {
    if !lab::privileged("state_master_started_beside_a_better_master_stays_backup_as_keepalived") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let running = instances_config(
        &dir,
        "running.conf",
        &[("VI_V", "BACKUP", 150, 71), ("VI_K", "BACKUP", 150, 72)],
    );
    let master = Vrrpd::start(&vrrpd(), lab.host("lb02"), &running, &dir, "lb02");
    wait_for(Duration::from_secs(8), || {
        holds(lab.host("lb02"), "192.0.2.71") && holds(lab.host("lb02"), "192.0.2.72")
    })
    .unwrap_or_else(|| panic!("no master on lb02: {}", master.log_text()));
    let ours = instances_config(&dir, "v.conf", &[("VI_V", "MASTER", 100, 71)]);
    let theirs = instances_config(&dir, "k.conf", &[("VI_K", "MASTER", 100, 72)]);
    let pcap = dir.join("newcomers.pcap");
    let cap = lab.capture(&pcap);
    std::thread::sleep(Duration::from_millis(500));
    let v = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours, &dir, "v-lb01");
    let k = Keepalived::start(lab.host("lb01"), &theirs, &dir, "k-lb01");
    let lb01 = lab.host("lb01");
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(6) {
        let report = || format!("{}\n{}", v.log_text(), k.log_text());
        assert!(
            !holds(lb01, "192.0.2.71"),
            "vrrpd took the VIP: {}",
            report()
        );
        assert!(
            !holds(lb01, "192.0.2.72"),
            "keepalived took the VIP: {}",
            report()
        );
        assert_ne!(v.state().as_deref(), Some("MASTER"), "{}", report());
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(cap);
    assert_eq!(v.state().as_deref(), Some("BACKUP"), "{}", v.log_text());
    assert_eq!(
        lab::daemon::last_logged_state(&k.log_text(), "VI_K").as_deref(),
        Some("BACKUP"),
        "{}",
        k.log_text()
    );
    assert!(holds(lab.host("lb02"), "192.0.2.71") && holds(lab.host("lb02"), "192.0.2.72"));
    // On the wire too: no advert of priority 100 (a master's; a backup sends none).
    let hundreds = tshark_fields(&pcap, "vrrp.prio == 100", "ip.src");
    assert!(
        hundreds.trim().is_empty(),
        "adverts of the newcomers from {hundreds}"
    );
}

/// An instance of [`listing_config`]: name, state, priority, VRID, VIPs, skip_check_adv_addr.
type Listing<'a> = (&'a str, &'a str, u8, u8, &'a [&'a str], bool);

/// A keepalived.conf of these instances at 1 s.
fn listing_config(dir: &Path, file: &str, instances: &[Listing]) -> PathBuf {
    let mut text = String::new();
    for (name, state, priority, vrid, vips, skip) in instances {
        let skip = if *skip {
            "    skip_check_adv_addr\n"
        } else {
            ""
        };
        let vips: String = vips.iter().map(|v| format!("        {v}\n")).collect();
        text.push_str(&format!(
            "vrrp_instance {name} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{skip}    virtual_ipaddress {{\n{vips}    }}\n}}\n"
        ));
    }
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// keepalived 2.2.7 drops an advert whose addresses are not its own (`vrrp_check_packet`):
/// a backup whose master gains a VIP by a reload takes over beside it, unless
/// `skip_check_adv_addr` lets it go on following the master it already follows. Side by side
/// on lb01 (each daemon on VRIDs of its own) behind one vrrpd master on lb02: the plain
/// backups of both daemons say so and take over, the skipping ones stay backup.
#[test]
fn a_master_that_gains_a_vip_is_not_followed_unless_skip_check_adv_addr_as_keepalived() {
    if !lab::privileged(
        "a_master_that_gains_a_vip_is_not_followed_unless_skip_check_adv_addr_as_keepalived",
    ) {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    // VI_V and VI_VS are vrrpd's on lb01, VI_K and VI_KS keepalived's; the S ones skip.
    let names = [
        ("VI_V", 73, false),
        ("VI_K", 74, false),
        ("VI_VS", 75, true),
        ("VI_KS", 76, true),
    ];
    let master_conf = |gained: bool| {
        let lists: Vec<Vec<String>> = names
            .iter()
            .map(|(_, vrid, _)| {
                let mut l = vec![format!("192.0.2.{vrid}")];
                if gained {
                    l.push(format!("192.0.2.{}", vrid + 100));
                }
                l
            })
            .collect();
        let refs: Vec<Vec<&str>> = lists
            .iter()
            .map(|l| l.iter().map(String::as_str).collect())
            .collect();
        let instances: Vec<_> = names
            .iter()
            .zip(&refs)
            .map(|((name, vrid, _), vips)| (*name, "BACKUP", 150, *vrid, vips.as_slice(), false))
            .collect();
        listing_config(&dir, "master.conf", &instances)
    };
    let master_file = master_conf(false);
    let master = Vrrpd::start(&vrrpd(), lab.host("lb02"), &master_file, &dir, "lb02");
    wait_for(Duration::from_secs(8), || {
        names
            .iter()
            .all(|(_, vrid, _)| holds(lab.host("lb02"), &format!("192.0.2.{vrid}")))
    })
    .unwrap_or_else(|| panic!("no master on lb02: {}", master.log_text()));
    let backups = |daemon: &str| -> Vec<Listing> {
        names
            .iter()
            .filter(|(name, ..)| name.starts_with(daemon))
            .map(|(name, vrid, skip)| {
                let vip: &[&str] = match vrid {
                    73 => &["192.0.2.73"],
                    74 => &["192.0.2.74"],
                    75 => &["192.0.2.75"],
                    _ => &["192.0.2.76"],
                };
                (*name, "BACKUP", 100, *vrid, vip, *skip)
            })
            .collect()
    };
    let ours = listing_config(&dir, "v.conf", &backups("VI_V"));
    let theirs = listing_config(&dir, "k.conf", &backups("VI_K"));
    let v = Vrrpd::start(&vrrpd(), lab.host("lb01"), &ours, &dir, "v-lb01");
    let k = Keepalived::start(lab.host("lb01"), &theirs, &dir, "k-lb01");
    let lb01 = lab.host("lb01");
    let report = || format!("{}\n{}\n{}", v.log_text(), k.log_text(), master.log_text());
    // Following the master: both daemons' backups hold nothing for 5 s.
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(5) {
        for vrid in 73..=76 {
            assert!(
                !holds(lb01, &format!("192.0.2.{vrid}")),
                "{vrid}: {}",
                report()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The master gains a VIP in each instance.
    master_conf(true);
    let logged = k.log_text().len();
    master.child.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(3), || {
        holds(lab.host("lb02"), "192.0.2.173")
    })
    .unwrap_or_else(|| panic!("the master did not reload: {}", report()));
    // The plain backups take over beside it within a Master_Down_Interval or so (3.6 s); the
    // skipping ones never do.
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(7) {
        for vrid in [75, 76] {
            assert!(
                !holds(lb01, &format!("192.0.2.{vrid}")),
                "{vrid}: {}",
                report()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        holds(lb01, "192.0.2.73"),
        "vrrpd's VI_V did not take over: {}",
        report()
    );
    assert!(
        holds(lb01, "192.0.2.74"),
        "keepalived's VI_K did not take over: {}",
        report()
    );
    // The master kept its VIPs (it drops the newcomers' adverts the same way).
    for vrid in 73..=76 {
        assert!(
            holds(lab.host("lb02"), &format!("192.0.2.{vrid}")),
            "{}",
            report()
        );
    }
    let (vlog, klog) = (v.log_text(), k.log_text());
    assert!(
        vlog.contains("VI_V: adverts that list other addresses than our 1 are dropped"),
        "{vlog}"
    );
    assert!(!vlog.contains("VI_VS: adverts that list"), "{vlog}");
    assert!(
        klog[logged..].contains("(VI_K) received an unexpected ip number count 2, expected 1!"),
        "{klog}"
    );
    assert!(
        !klog[logged..].contains("(VI_KS) received an unexpected"),
        "{klog}"
    );
    let s = v.statuses().unwrap();
    let state = |name: &str| s.iter().find(|s| s.name == name).unwrap().state.clone();
    assert_eq!(
        (state("VI_V").as_str(), state("VI_VS").as_str()),
        ("MASTER", "BACKUP")
    );
    assert_eq!(
        lab::daemon::last_logged_state(&klog, "VI_KS").as_deref(),
        Some("BACKUP")
    );
    assert_eq!(
        lab::daemon::last_logged_state(&klog, "VI_K").as_deref(),
        Some("MASTER")
    );
}
