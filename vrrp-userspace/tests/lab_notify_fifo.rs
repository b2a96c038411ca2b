//! `vrrp_notify_fifo` under a running daemon: the reader keepalived's
//! `vrrp_notify_fifo_script` starts sees one line per change, in order, through start, a
//! failover to FAULT and back, and SIGTERM; the same scenario under Debian's keepalived gives
//! the same bytes.
//!
//! One host on a lab switch, no peer: the daemon becomes master by itself.
use std::{
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use nix::sys::signal::Signal;
use vrrp_userspace::lab::{
    self, Lab, NetNs,
    daemon::{Keepalived, Vrrpd, last_logged_state, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The configuration: a FIFO that does not exist yet, its reader, and two instances in a sync
/// group, both tracking a flag file (the first with weight 0: FAULT; the second with weight -10
/// and `notify_priority_changes`: its priority changes are FIFO lines too).
fn config(dir: &Path, flag: &Path, reader: &Path) -> String {
    let instance = |name: &str, vrid: u32, vip: &str, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {vrid}\n    priority 100\n    advert_int 1\n{track}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}\n}}\n\
         vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n}}\n\
         vrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    \
         sync_group_tracking_weight\n}}\n{}{}",
        dir.join("notify.fifo").display(),
        reader.display(),
        flag.display(),
        instance(
            "VI_1",
            50,
            "192.0.2.3",
            "    track_script {\n        chk\n    }\n"
        ),
        instance(
            "VI_2",
            51,
            "192.0.2.5",
            "    notify_priority_changes\n    track_script {\n        chk weight -10\n    }\n"
        ),
    )
}

/// Runs the scenario with `start` (a daemon in `ns` on the configuration, with a state getter
/// for VI_1 and a stop that waits for the exit), and returns what the reader saw.
fn scenario<D>(
    ns: &NetNs,
    tag: &str,
    start: impl Fn(&NetNs, &Path, &Path) -> D,
    state: impl Fn(&D) -> Option<String>,
    log: impl Fn(&D) -> String,
    stop: impl FnOnce(D),
) -> (Vec<String>, String) {
    let dir = run_dir();
    let out = dir.join("lines");
    let reader = dir.join("reader.sh");
    // keepalived appends the FIFO's path; the reader ends at the end of the file (the
    // daemon closes it when it stops).
    executable(
        &reader,
        &format!("#!/bin/sh\nexec cat \"$1\" >> {}\n", out.display()),
    );
    let flag = dir.join("healthy");
    std::fs::write(&flag, "").unwrap();
    let conf = dir.join(format!("{tag}.conf"));
    std::fs::write(&conf, config(&dir, &flag, &reader)).unwrap();
    let d = start(ns, &conf, &dir);
    // A second reader of our own, which nobody ends: it sees the STOP lines too.
    let fifo = dir.join("notify.fifo");
    wait_for(Duration::from_secs(10), || fifo.exists()).expect("the FIFO is created");
    let mut own = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let report = |d: &D| format!("{tag}: {}\n{:?}", log(d), lines(&out));
    let reach = |d: &D, s: &str, secs: u64| {
        wait_for(Duration::from_secs(secs), || state(d).as_deref() == Some(s))
            .unwrap_or_else(|| panic!("{s}? {}", report(d)));
    };
    reach(&d, "MASTER", 10);
    std::fs::remove_file(&flag).unwrap();
    reach(&d, "FAULT", 10);
    std::fs::write(&flag, "").unwrap();
    reach(&d, "MASTER", 15);
    // Settled: the group's MASTER line has been written too.
    std::thread::sleep(Duration::from_millis(500));
    stop(d);
    assert!(
        !dir.join("notify.fifo").exists(),
        "{tag}: the FIFO it created is removed at exit"
    );
    // The reader ended first (keepalived's order): the STOP lines went to the FIFO with
    // nobody reading.
    std::thread::sleep(Duration::from_millis(500));
    let mut seen = String::new();
    let _ = std::io::Read::read_to_string(&mut own, &mut seen);
    (lines(&out), seen)
}

#[test]
fn a_notify_fifo_reader_sees_keepalived_s_lines_in_order() {
    if !lab::privileged("a_notify_fifo_reader_sees_keepalived_s_lines_in_order") {
        return;
    }
    let lab = Lab::new(&[("lb01", "192.0.2.4/24")]);
    let (ours, ours_all) = scenario(
        lab.host("lb01"),
        "vrrpd",
        |ns, conf, dir| Vrrpd::start(&vrrpd(), ns, conf, dir, "lb01"),
        |d| d.state(),
        |d| d.log_text(),
        |mut d| {
            d.child.signal(Signal::SIGTERM);
            assert!(d.child.wait_timeout(Duration::from_secs(10)).is_some());
        },
    );
    for state in ["BACKUP", "MASTER", "FAULT"] {
        assert!(
            ours.contains(&format!("GROUP \"VG_1\" {state} 0")),
            "{state}: {ours:#?}"
        );
    }
    // VI_2's notify_priority_changes: its tracked script's weight moves its priority.
    for line in [
        "INSTANCE \"VI_2\" BACKUP_PRIORITY 90",
        "INSTANCE \"VI_2\" BACKUP_PRIORITY 100",
    ] {
        assert!(ours.iter().any(|l| l == line), "{line}: {ours:#?}");
    }
    let (theirs, theirs_all) = scenario(
        lab.host("lb01"),
        "keepalived",
        |ns, conf, dir| Keepalived::start(ns, conf, dir, "lb01"),
        |k| last_logged_state(&k.log_text(), "VI_1"),
        |k| k.log_text(),
        |mut k| {
            k.child.signal(Signal::SIGTERM);
            assert!(k.child.wait_timeout(Duration::from_secs(10)).is_some());
        },
    );
    // The STOP lines reach keepalived's reader only when it loses the race described below.
    let before_stop = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| !l.contains(" STOP "))
            .cloned()
            .collect()
    };
    assert_eq!(
        before_stop(&ours),
        ours,
        "our reader ended before the STOP lines"
    );
    assert_eq!(
        ours,
        before_stop(&theirs),
        "vrrpd's lines, then keepalived's"
    );
    // Our reader came after the first lines; it saw the rest, the STOP lines included (the
    // instances', then the group's), byte for byte as keepalived's.
    assert!(
        ours_all.ends_with(
            "INSTANCE \"VI_1\" STOP 100\nINSTANCE \"VI_2\" STOP 100\nGROUP \"VG_1\" STOP 0\n"
        ),
        "{ours_all}"
    );
    // keepalived's own stop races its reader: it sends the reader SIGTERM and then writes the
    // STOP lines, so a `cat` that has read them but not yet written them when it dies takes
    // them with it (seen in CI: keepalived's second reader got nothing). Whatever keepalived's
    // second reader got is the end of ours, byte for byte.
    assert!(
        ours_all.ends_with(&theirs_all),
        "vrrpd's bytes {ours_all:?} do not end with keepalived's {theirs_all:?}"
    );
}
