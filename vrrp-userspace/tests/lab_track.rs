//! keepalived's `track_interface` weights and `vrrp_sync_group`, live in the lab: lb01 and lb02
//! on the tutorial's switch, lb01 with a second interface (`eth1`, a dummy) to track.
//!
//! Timing is asserted only with generous bounds; the scenarios run one at a time.
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab, NetNs,
    daemon::{Vrrpd, has_vip, run_dir, start_pair, tshark_fields, wait_for},
};

/// One scenario at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// The tutorial's lab, with a second interface on lb01: `eth1`, a veth whose peer `eth1p`
/// stays in lb01 too, both up.
fn lab_with_eth1() -> Lab {
    let lab = Lab::seed();
    let lb01 = lab.host("lb01");
    lb01.exec(&[
        "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    lb01.exec(&["ip", "link", "set", "eth1p", "up"]);
    lb01.exec(&["ip", "link", "set", "eth1", "up"]);
    lab
}

/// Takes eth1's carrier away (its peer down, as a cable pull: eth1 itself stays up) or back.
fn set_eth1(ns: &NetNs, up: bool) {
    ns.exec(&["ip", "link", "set", "eth1p", if up { "up" } else { "down" }]);
}

#[test]
fn track_interface_weight_lowers_priority_so_that_lb02_preempts() {
    if !lab::privileged("track_interface_weight") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab_with_eth1();
    let dir = run_dir();
    let pcap = dir.join("switch.pcap");
    let capture = lab.capture(&pcap);
    std::thread::sleep(Duration::from_millis(300));
    // The seed's lb01 (priority 100) tracking eth1 with weight -20: 80 < lb02's 90 while down.
    let original = std::fs::read_to_string(lab::tutorial("lb01.conf")).unwrap();
    let conf = dir.join("lb01-track-if.conf");
    std::fs::write(
        &conf,
        original.replace(
            "    virtual_ipaddress {",
            "    track_interface {\n        eth1 weight -20\n    }\n    virtual_ipaddress {",
        ),
    )
    .unwrap();
    let (lb01, lb02) = start_pair(&vrrpd(), &lab, &conf, &lab::tutorial("lb02.conf"), &dir);
    assert_eq!(lb01.status_json()[0]["priority"], 100);

    // eth1 goes down: lb01 runs at 80 (not FAULT), advertises it, and lb02 preempts.
    set_eth1(lab.host("lb01"), false);
    wait_for(Duration::from_secs(3), || {
        lb01.status().is_some_and(|s| s.priority == 80)
    })
    .unwrap_or_else(|| panic!("{}", lb01.report()));
    wait_for(Duration::from_secs(8), || {
        has_vip(lab.host("lb02"))
            && !has_vip(lab.host("lb01"))
            && lb01.state().as_deref() == Some("BACKUP")
            && lb02.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.report(), lb02.report()));
    let json = lb01.status_json();
    assert_eq!(json[0]["state"], "BACKUP");
    assert_eq!(json[0]["priority"], 80);
    let log = lb01.log_text();
    assert!(
        log.contains("VI_1: priority 100 -> 80 (eth1 down)"),
        "{log}"
    );
    assert!(
        !log.contains("-> FAULT"),
        "a weighted interface must not FAULT:\n{log}"
    );

    // eth1 comes back: 100 again, and lb01 preempts lb02.
    set_eth1(lab.host("lb01"), true);
    wait_for(Duration::from_secs(8), || {
        has_vip(lab.host("lb01"))
            && !has_vip(lab.host("lb02"))
            && lb01.state().as_deref() == Some("MASTER")
            && lb02.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.report(), lb02.report()));
    assert_eq!(lb01.status_json()[0]["priority"], 100);

    // On the wire: lb01's adverts carried 100, then 80 while eth1 was down, then 100 again (read
    // while tcpdump runs: it hands packets over in blocks, so the newest come late).
    let prios = || -> Vec<String> {
        tshark_fields(&pcap, "vrrp && ip.src == 192.0.2.4", "vrrp.prio")
            .lines()
            .map(str::to_string)
            .collect()
    };
    let shape = |p: &[String]| {
        let first_80 = p.iter().position(|p| p == "80");
        let back = first_80.and_then(|i| p[i..].iter().position(|p| p == "100"));
        first_80.is_some_and(|i| p[..i].iter().all(|p| p == "100"))
            && back.is_some_and(|j| p[first_80.unwrap() + j..].iter().all(|p| p == "100"))
    };
    wait_for(Duration::from_secs(5), || shape(&prios()))
        .unwrap_or_else(|| panic!("lb01's advert priorities: {:?}", prios()));
    drop(capture);
}

/// A sync group VG_1 of VI_1 (VRID 50, 192.0.2.3) and VI_2 (VRID 51, 192.0.2.6), its notify
/// scripts appending their arguments to `events`; `track` goes into VI_1.
fn group_config(state: &str, priority: u8, track: &str, notify: &Path, events: &Path) -> String {
    let (n, e) = (notify.display(), events.display());
    let instance = |name: &str, vrid: u8, vip: &str, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    state {state}\n    interface eth0\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{track}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "vrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    notify_master \"{n} {e} master\"\n    notify_backup \"{n} {e} backup\"\n    notify_fault \"{n} {e} fault\"\n    notify \"{n} {e}\"\n}}\n{}{}",
        instance("VI_1", 50, "192.0.2.3", track),
        instance("VI_2", 51, "192.0.2.6", "")
    )
}

fn holds(ns: &NetNs, vip: &str) -> bool {
    ns.exec(&["ip", "-o", "addr", "show", "dev", "eth0"])
        .contains(&format!("inet {vip}/"))
}

fn holds_both(ns: &NetNs) -> bool {
    holds(ns, "192.0.2.3") && holds(ns, "192.0.2.6")
}

fn holds_none(ns: &NetNs) -> bool {
    !holds(ns, "192.0.2.3") && !holds(ns, "192.0.2.6")
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Whether the file's last lines are `pairs`, each pair in either order (a state's own script
/// and `notify` start together).
fn ends_with_pairs(file: &Path, pairs: &[[&str; 2]]) -> bool {
    let l = lines(file);
    let Some(tail) = l.len().checked_sub(2 * pairs.len()).map(|i| &l[i..]) else {
        return false;
    };
    tail.chunks(2).zip(pairs).all(|(got, want)| {
        let (mut g, mut w) = (got.to_vec(), want.map(str::to_string).to_vec());
        g.sort();
        w.sort();
        g == w
    })
}

#[test]
fn sync_group_moves_both_instances_when_one_member_fails() {
    if !lab::privileged("sync_group") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab_with_eth1();
    let dir = run_dir();
    let notify = dir.join("notify.sh");
    std::fs::write(
        &notify,
        "#!/bin/sh\nout=$1\nshift\necho \"$*\" >> \"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&notify, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (ev1, ev2) = (dir.join("lb01.events"), dir.join("lb02.events"));
    let (conf1, conf2) = (dir.join("lb01-group.conf"), dir.join("lb02-group.conf"));
    let track = "    track_interface {\n        eth1\n    }\n";
    std::fs::write(&conf1, group_config("MASTER", 100, track, &notify, &ev1)).unwrap();
    std::fs::write(&conf2, group_config("BACKUP", 90, "", &notify, &ev2)).unwrap();
    let lb01 = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf1, &dir, "lb01");
    let lb02 = Vrrpd::start(&vrrpd(), lab.host("lb02"), &conf2, &dir, "lb02");
    wait_for(Duration::from_secs(6), || {
        lb01.states() == ["MASTER", "MASTER"] && lb02.states() == ["BACKUP", "BACKUP"]
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.report(), lb02.report()));
    assert!(holds_both(lab.host("lb01")) && holds_none(lab.host("lb02")));
    wait_for(Duration::from_secs(3), || {
        lines(&ev1).contains(&"GROUP VG_1 MASTER 0".to_string())
            && lines(&ev2).contains(&"GROUP VG_1 BACKUP 0".to_string())
    })
    .unwrap_or_else(|| panic!("{:?} {:?}", lines(&ev1), lines(&ev2)));

    // eth1, tracked by VI_1 only, goes down: VI_1 goes to FAULT and VI_2 follows it, so lb02
    // takes both VIPs.
    set_eth1(lab.host("lb01"), false);
    wait_for(Duration::from_secs(8), || {
        lb01.states() == ["FAULT", "FAULT"]
            && lb02.states() == ["MASTER", "MASTER"]
            && holds_both(lab.host("lb02"))
            && holds_none(lab.host("lb01"))
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.report(), lb02.report()));
    let log = lb01.log_text();
    assert!(
        log.contains("sync group VG_1: MASTER -> FAULT (VI_1 has a fault)"),
        "{log}"
    );
    assert!(log.contains("VI_2: MASTER -> FAULT"), "{log}");
    assert!(
        lb02.log_text()
            .contains("sync group VG_1: BACKUP -> MASTER"),
        "{}",
        lb02.log_text()
    );
    // The group's notify scripts, with keepalived's arguments: the state's own script, then
    // `notify` with GROUP, the name, the state and priority 0.
    wait_for(Duration::from_secs(3), || {
        ends_with_pairs(&ev1, &[["fault", "GROUP VG_1 FAULT 0"]])
            && ends_with_pairs(&ev2, &[["master", "GROUP VG_1 MASTER 0"]])
    })
    .unwrap_or_else(|| panic!("{:?} {:?}", lines(&ev1), lines(&ev2)));

    // eth1 comes back: the group goes to BACKUP, then lb01 (priority 100) preempts with both.
    set_eth1(lab.host("lb01"), true);
    wait_for(Duration::from_secs(12), || {
        lb01.states() == ["MASTER", "MASTER"]
            && lb02.states() == ["BACKUP", "BACKUP"]
            && holds_both(lab.host("lb01"))
            && holds_none(lab.host("lb02"))
    })
    .unwrap_or_else(|| panic!("{}\n{}", lb01.report(), lb02.report()));
    let log = lb01.log_text();
    assert!(
        log.contains("sync group VG_1: FAULT -> BACKUP (VI_1's fault cleared)"),
        "{log}"
    );
    wait_for(Duration::from_secs(3), || {
        ends_with_pairs(
            &ev1,
            &[
                ["backup", "GROUP VG_1 BACKUP 0"],
                ["master", "GROUP VG_1 MASTER 0"],
            ],
        )
    })
    .unwrap_or_else(|| panic!("{:?}", lines(&ev1)));
}
