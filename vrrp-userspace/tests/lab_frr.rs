//! Interop on the wire with FRR's vrrpd (Debian's frr 8.4: zebra and vrrpd, a macvlan per VRID
//! and family, `arp_ignore=1` and `arp_announce=2` on its host): VRRPv3 over IPv4 and over IPv6, vrrpd and FRR in
//! both roles. They elect one master (never two in steady state), each accepts the other's
//! adverts, the master's SIGTERM (priority 0) hands over at once, FRR's crash after the
//! master down interval, and the higher priority preempts back.
//! A capture on the switch during the run shows every advert and every announcement of the VIP
//! from the VMAC, and tshark finds no malformed VRRP.
//!
//! FRR runs in the lab host's namespace with its own zebra and vrrpd, configs, sockets, pid
//! files and logs in the run directory (`lab::daemon::Frr`), so nothing is shared with another
//! FRR on the machine or another test.
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{
        Frr, VIP, VIP6, VMAC_50, VMAC6_50, Vrrpd, holds, neighbour_of, ping, run_dir,
        tshark_fields, wait_for,
    },
};

static SERIAL: Mutex<()> = Mutex::new(());

/// The seed configs' VRID.
const VRID: u8 = 50;

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// VRRPv3 over IPv4 or over IPv6.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn v6(self) -> bool {
        self == Family::V6
    }
    fn vip(self) -> &'static str {
        if self.v6() { VIP6 } else { VIP }
    }
    fn vmac(self) -> &'static str {
        if self.v6() { VMAC6_50 } else { VMAC_50 }
    }
}

/// vrrpd's keepalived.conf: `state`, `priority`, v3 at 1 s (an IPv6 VIP makes it v3 over IPv6;
/// the v3 IPv4 checksum is the default, with the pseudo-header, which is what FRR checks).
fn vrrpd_config(dir: &Path, name: &str, state: &str, priority: u8, family: Family) -> PathBuf {
    let version = if family.v6() { "" } else { "    version 3\n" };
    let vip = family.vip();
    let text = format!(
        "global_defs {{\n    router_id {name}\n}}\nvrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id {VRID}\n    priority {priority}\n    advert_int 1\n{version}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// FRR's vrrpd.conf: VRID 50 on eth0, v3, `priority`, 1000 ms, the VIP of `family` (so only
/// that family's virtual router runs); preemption is FRR's default.
fn frr_config(priority: u8, family: Family) -> String {
    let kw = if family.v6() { "ipv6" } else { "ip" };
    let vip = family.vip();
    format!(
        "interface eth0\n vrrp {VRID} version 3\n vrrp {VRID} priority {priority}\n vrrp {VRID} advertisement-interval 1000\n vrrp {VRID} {kw} {vip}\n"
    )
}

/// Who holds the VIP: vrrpd's host with it on eth0, FRR's with its macvlan up and out of
/// protodown.
struct Holders<'a> {
    lab: &'a Lab,
    family: Family,
    ours: &'a str,
    theirs: &'a str,
}

impl Holders<'_> {
    fn ours(&self) -> bool {
        holds(self.lab.host(self.ours), self.family.vip())
    }
    fn theirs(&self) -> bool {
        Frr::holds(self.lab.host(self.theirs), VRID, self.family.v6())
    }
    /// The client reaches the VIP, and its neighbour entry for it is the VMAC: only the
    /// master answers ARP or neighbour solicitations for the VIP, and FRR's host, its replies
    /// leaving by eth0, resolves the client from its own address (without `arp_ignore=1` its
    /// eth0 would answer ARP for a VIP in protodown, and without `arp_announce=2` its ARP
    /// requests would give the VIP with eth0's MAC).
    fn client_reaches_vip(&self) {
        let client = self.lab.host("client");
        let vip = self.family.vip();
        // A fresh resolution: an entry left from an earlier master proves nothing.
        let _ = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", client.name))
            .args(["--", "ip", "neigh", "flush", "to", vip])
            .status();
        wait_for(Duration::from_secs(5), || ping(client, vip))
            .unwrap_or_else(|| panic!("the client does not reach {vip}"));
        let entry = neighbour_of(client, vip);
        assert_eq!(
            entry.as_ref().map(|(mac, _)| mac.as_str()),
            Some(self.family.vmac()),
            "the client's neighbour entry for the VIP: {entry:?}"
        );
    }

    /// Exactly one side holds the VIP, sampled for `how_long`.
    fn one_master_for(&self, how_long: Duration) -> Result<(), String> {
        let end = std::time::Instant::now() + how_long;
        while std::time::Instant::now() < end {
            let (a, b) = (self.ours(), self.theirs());
            if a == b {
                return Err(format!("vrrpd holds the VIP: {a}, FRR: {b}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

/// One of FRR's counters (`adverTx`, `adverRx`, …) in the family.
fn frr_stat(frr: &Frr, family: Family, counter: &str) -> u64 {
    frr.status()
        .and_then(|s| s[if family.v6() { "v6" } else { "v4" }]["stats"][counter].as_u64())
        .unwrap_or(0)
}

/// tshark's view of the capture: no malformed VRRP; adverts from both sides, every one sent
/// from the VMAC; every announcement of the VIP (gratuitous ARP, unsolicited NA) from the VMAC.
fn check_capture(file: &Path, ours: &str, theirs: &str, family: Family) {
    let out = std::process::Command::new("tshark")
        .args(["-r", file.to_str().unwrap()])
        .args(["-Y", "_ws.malformed || _ws.expert.severity == error"])
        .output()
        .expect("tshark");
    let malformed = String::from_utf8_lossy(&out.stdout);
    assert!(
        malformed.trim().is_empty(),
        "tshark finds errors:\n{malformed}"
    );
    let ip = if family.v6() { "ipv6" } else { "ip" };
    for (who, addr) in [("vrrpd", ours), ("FRR", theirs)] {
        let srcs = tshark_fields(file, &format!("vrrp && {ip}.src == {addr}"), "eth.src");
        assert!(
            !srcs.trim().is_empty(),
            "no advert from {who} ({addr}) captured"
        );
        for src in srcs.lines() {
            assert_eq!(src, family.vmac(), "{who} sent an advert from {src}");
        }
    }
    let vip = family.vip();
    let announce = if family.v6() {
        format!("icmpv6.type == 136 && icmpv6.nd.na.target_address == {vip}")
    } else {
        format!("arp.src.proto_ipv4 == {vip}")
    };
    let srcs = tshark_fields(file, &announce, "eth.src");
    assert!(
        !srcs.trim().is_empty(),
        "no announcement of the VIP captured"
    );
    for src in srcs.lines() {
        assert_eq!(src, family.vmac(), "the VIP announced from {src}");
    }
}

/// The address vrrpd advertises from on `role`: IPv4 eth0's, or eth0's IPv6 link-local.
fn vrrpd_source(lab: &Lab, role: &str, v4: &str, family: Family) -> String {
    if family.v6() {
        lab::daemon::link_local(lab.host(role))
    } else {
        v4.to_string()
    }
}

fn interop(family: Family, vrrpd_is_master: bool) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = if family.v6() {
        Lab::seed6()
    } else {
        Lab::seed()
    };
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let cap = lab.capture(&pcap);
    let v6 = family.v6();
    // The master is lb01 (priority 100), the backup lb02 (90), whoever runs there.
    let (ours_role, theirs_role, ours_v4) = if vrrpd_is_master {
        ("lb01", "lb02", "192.0.2.4")
    } else {
        ("lb02", "lb01", "192.0.2.5")
    };
    let who = Holders {
        lab: &lab,
        family,
        ours: ours_role,
        theirs: theirs_role,
    };
    Frr::prepare_host(lab.host(theirs_role), VRID, &[family.vip()]);
    let (our_prio, their_prio) = if vrrpd_is_master {
        (100, 90)
    } else {
        (90, 100)
    };
    let our_state = if vrrpd_is_master { "MASTER" } else { "BACKUP" };
    let conf = vrrpd_config(&dir, ours_role, our_state, our_prio, family);
    let frr_conf = frr_config(their_prio, family);
    // FRR's advert source, as FRR reports it while master (empty while backup).
    let theirs_addr: String;

    if vrrpd_is_master {
        let ours = Vrrpd::start(&vrrpd(), lab.host(ours_role), &conf, &dir, ours_role);
        let theirs = Frr::start(lab.host(theirs_role), &dir, theirs_role, &frr_conf);
        // Within FRR's master down interval (3.64 s at priority 90) and a margin.
        wait_for(Duration::from_secs(8), || {
            who.ours() && theirs.state(v6).as_deref() == Some("Backup")
        })
        .unwrap_or_else(|| {
            panic!(
                "vrrpd not master or FRR not backup: {:?} {:?}\n{}\n{}",
                ours.status(),
                theirs.status(),
                ours.log_text(),
                theirs.log_text()
            )
        });
        who.one_master_for(Duration::from_secs(4)).unwrap();
        who.client_reaches_vip();
        assert_eq!(ours.state().as_deref(), Some("MASTER"));
        // FRR accepted vrrpd's adverts (v3 checksum included) and stays backup.
        assert!(
            frr_stat(&theirs, family, "adverRx") >= 2,
            "FRR accepted no advert from vrrpd: {:?}",
            theirs.status()
        );
        assert_eq!(theirs.state(v6).as_deref(), Some("Backup"));
        // vrrpd stops (priority 0): FRR takes over after its skew time, not its master down
        // interval.
        ours.child.signal(nix::sys::signal::Signal::SIGTERM);
        wait_for(Duration::from_secs(3), || who.theirs())
            .unwrap_or_else(|| panic!("FRR did not take over: {}", theirs.log_text()));
        // vrrpd kept the VIP until FRR's advert, then let go and exits.
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
        assert_eq!(theirs.state(v6).as_deref(), Some("Master"));
        theirs_addr = theirs.primary(v6).expect("FRR's advert source");
        who.one_master_for(Duration::from_secs(3)).unwrap();
        who.client_reaches_vip();
        // vrrpd returns with the higher priority and preempts FRR.
        let ours = Vrrpd::start(&vrrpd(), lab.host(ours_role), &conf, &dir, "lb01b");
        wait_for(Duration::from_secs(8), || who.ours() && !who.theirs()).unwrap_or_else(|| {
            panic!(
                "vrrpd did not take the VIP back: {}\n{}",
                ours.log_text(),
                theirs.log_text()
            )
        });
        who.one_master_for(Duration::from_secs(3)).unwrap();
        who.client_reaches_vip();
        assert_eq!(ours.state().as_deref(), Some("MASTER"));
        assert_eq!(theirs.state(v6).as_deref(), Some("Backup"));
        drop(theirs);
    } else {
        // FRR always starts as backup and becomes master after its master down interval
        // (3.61 s at 100); over IPv6 its first advert as master is lost (FRR logs "Failed to
        // find address to bind on vrrp6-50": its own list of the macvlan's addresses lacks the
        // link-local then, though the kernel keeps it through protodown) and the next comes an
        // interval later. Started together, vrrpd (3.65 s at 90) would
        // become master for that second, so FRR goes first, as the master already in place.
        let mut theirs = Frr::start(lab.host(theirs_role), &dir, theirs_role, &frr_conf);
        wait_for(Duration::from_secs(12), || {
            who.theirs() && frr_stat(&theirs, family, "adverTx") >= 2
        })
        .unwrap_or_else(|| panic!("FRR not master: {}", theirs.log_text()));
        let ours = Vrrpd::start(&vrrpd(), lab.host(ours_role), &conf, &dir, ours_role);
        wait_for(Duration::from_secs(6), || {
            ours.status()
                .is_some_and(|s| s.state == "BACKUP" && s.adverts_seen >= 2)
        })
        .unwrap_or_else(|| {
            panic!(
                "FRR not master or vrrpd not backup: {:?} {:?}\n{}\n{}",
                theirs.status(),
                ours.status(),
                theirs.log_text(),
                ours.log_text()
            )
        });
        who.one_master_for(Duration::from_secs(4)).unwrap();
        who.client_reaches_vip();
        assert_eq!(theirs.state(v6).as_deref(), Some("Master"));
        theirs_addr = theirs.primary(v6).expect("FRR's advert source");
        let seen = ours.status().unwrap();
        assert!(
            seen.adverts_seen >= 2,
            "XDP accepted no FRR advert: {seen:?}"
        );
        assert_eq!(seen.master, Some(theirs_addr.parse().unwrap()));
        // Both use the RFC's checksum (with the pseudo-header): no mismatch to report.
        assert_eq!(seen.checksum_mismatch, None);
        assert!(!ours.log_text().contains("checksum"), "{}", ours.log_text());
        // FRR stops (SIGTERM: priority 0, protodown): vrrpd takes over after its skew time.
        let status = theirs.stop();
        assert!(
            status.is_some_and(|s| s.success()),
            "FRR's vrrpd did not exit: {}",
            theirs.log_text()
        );
        wait_for(Duration::from_secs(3), || who.ours() && !who.theirs()).unwrap_or_else(|| {
            panic!(
                "vrrpd did not take over from FRR's priority 0: {}",
                ours.log_text()
            )
        });
        who.one_master_for(Duration::from_secs(3)).unwrap();
        who.client_reaches_vip();
        assert_eq!(ours.state().as_deref(), Some("MASTER"));
        // FRR returns with the higher priority and preempts vrrpd.
        theirs.start_vrrpd();
        wait_for(Duration::from_secs(10), || who.theirs() && !who.ours()).unwrap_or_else(|| {
            panic!(
                "FRR did not preempt vrrpd: {}\n{}",
                ours.log_text(),
                theirs.log_text()
            )
        });
        who.one_master_for(Duration::from_secs(3)).unwrap();
        who.client_reaches_vip();
        let seen = ours.status().unwrap();
        assert_eq!(seen.state, "BACKUP");
        assert_eq!(seen.master, Some(theirs_addr.parse().unwrap()));
        // FRR crashes: vrrpd takes over after its master down interval (3.65 s at 90). A
        // crashed FRR leaves its macvlan as it was, so only vrrpd's side is checked.
        theirs.kill9();
        wait_for(Duration::from_secs(8), || {
            who.ours() && ours.state().as_deref() == Some("MASTER")
        })
        .unwrap_or_else(|| panic!("vrrpd did not take over from FRR: {}", ours.log_text()));
        drop(theirs);
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);
    let ours = vrrpd_source(&lab, ours_role, ours_v4, family);
    check_capture(&pcap, &ours, &theirs_addr, family);
}

#[test]
fn frr_v3_vrrpd_master_frr_backup() {
    if lab::privileged("frr_v3_vrrpd_master") {
        interop(Family::V4, true);
    }
}

#[test]
fn frr_v3_frr_master_vrrpd_backup() {
    if lab::privileged("frr_v3_frr_master") {
        interop(Family::V4, false);
    }
}

#[test]
fn frr_v3_ipv6_vrrpd_master_frr_backup() {
    if lab::privileged("frr_v3_ipv6_vrrpd_master") {
        interop(Family::V6, true);
    }
}

#[test]
fn frr_v3_ipv6_frr_master_vrrpd_backup() {
    if lab::privileged("frr_v3_ipv6_frr_master") {
        interop(Family::V6, false);
    }
}

/// vrrpd set to `v3_checksum_as_v2` (global_defs) beside FRR, which checks the pseudo-header
/// variant only and drops vrrpd's adverts (`Bad VRRP checksum`): FRR becomes master as well,
/// and vrrpd, which accepts both variants, says so within a few of FRR's adverts: one log line
/// naming FRR's address, its variant and the option, the mismatch in `vrrpd status`, and the
/// XDP counter `advert_other_csum`.
#[test]
fn frr_v3_checksum_mismatch_is_reported() {
    if !lab::privileged("frr_v3_checksum_mismatch_is_reported") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::seed();
    let dir = run_dir();
    let conf = dir.join("lb01.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n    router_id lb01\n    v3_checksum_as_v2\n}}\nvrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id {VRID}\n    priority 100\n    advert_int 1\n    version 3\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
        ),
    )
    .unwrap();
    Frr::prepare_host(lab.host("lb02"), VRID, &[VIP]);
    let ours = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf, &dir, "lb01");
    let theirs = Frr::start(lab.host("lb02"), &dir, "lb02", &frr_config(90, Family::V4));
    // FRR drops every advert of ours and becomes master after its master down interval
    // (3.64 s at 90); vrrpd reports FRR's first adverts.
    let reported = wait_for(Duration::from_secs(10), || {
        ours.status().is_some_and(|s| s.checksum_mismatch.is_some())
    });
    let status = ours.status().unwrap();
    let log = ours.log_text();
    assert!(
        reported.is_some(),
        "no mismatch reported: {status:?}\n{log}\n{}",
        theirs.log_text()
    );
    assert_eq!(theirs.state(false).as_deref(), Some("Master"));
    let frr_addr = theirs.primary(false).expect("FRR's advert source");
    let m = status.checksum_mismatch.clone().unwrap();
    assert_eq!(m.peer.to_string(), frr_addr);
    assert_eq!(
        m.peer_checksum,
        vrrp_userspace::config::V3Checksum::PseudoHeader
    );
    assert!(m.fix.contains("v3_checksum_as_v2"), "{}", m.fix);
    // One line for the episode, however many adverts follow.
    std::thread::sleep(Duration::from_secs(3));
    let log = ours.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("checksums its VRRPv3 adverts"))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains(&frr_addr) && lines[0].contains("v3_checksum_as_v2"),
        "{}",
        lines[0]
    );
    assert!(ours.status().unwrap().checksum_mismatch.is_some());
    // `vrrpd status` in text says it on one line.
    let text = std::process::Command::new(vrrpd())
        .arg("status")
        .arg("--control-socket")
        .arg(&ours.socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("checksum mismatch") && l.contains(&frr_addr)),
        "{text}"
    );
    drop(theirs);
}
