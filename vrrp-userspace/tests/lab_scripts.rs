//! Scripts under a running vrrpd: notify commands leave no zombie behind and get their
//! arguments without a shell, and a reload keeps a failing `vrrp_script` failing.
//!
//! One host on a lab switch, no peer: vrrpd becomes master by itself. Timing is asserted only
//! with generous bounds.
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{Vrrpd, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

fn lab() -> Lab {
    Lab::new(&[("lb01", "192.0.2.4/24")])
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn instance(extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 50\n    priority 100\n    advert_int 1\n{extra}    virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
    )
}

/// `pid`'s children: (pid, command name, state letter).
fn children(pid: u32) -> Vec<(i32, String, char)> {
    let parent = pid.to_string();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if rest.get(1) == Some(&parent.as_str()) {
            out.push((
                stat[..open].trim().parse().unwrap(),
                stat[open + 1..close].to_string(),
                rest[0].chars().next().unwrap(),
            ));
        }
    }
    out
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn notify_scripts_leave_no_zombie_under_vrrpd() {
    if !lab::privileged("notify_scripts_leave_no_zombie") {
        return;
    }
    let lab = lab();
    let dir = run_dir();
    let events = dir.join("events");
    // The command name of a script is its file name: the zombie check looks for it.
    let notify = dir.join("ntfy.sh");
    executable(
        &notify,
        "#!/bin/sh\nout=$1\nshift\nprintf '%s|' \"$@\" >> \"$out\"\necho >> \"$out\"\n",
    );
    let flag = dir.join("healthy");
    std::fs::write(&flag, "").unwrap();
    let (n, e) = (notify.display(), events.display());
    let conf = dir.join("lb01.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_script chk {{\n    script \"/usr/bin/test -e {}\"\n    interval 1\n}}\n{}",
            flag.display(),
            instance(&format!(
                "    track_script {{\n        chk\n    }}\n    notify_master \"{n} {e} 'own master'\"\n    notify_backup \"{n} {e} 'own backup'\"\n    notify \"{n} {e}\"\n"
            ))
        ),
    )
    .unwrap();
    let d = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf, &dir, "lb01");
    let report = |d: &Vrrpd| format!("{:?}\n{}\n{:?}", d.statuses(), d.log_text(), lines(&events));
    wait_for(Duration::from_secs(10), || {
        d.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}", report(&d)));
    // Three more changes: the check fails (FAULT), recovers (BACKUP), and MASTER again.
    std::fs::remove_file(&flag).unwrap();
    wait_for(Duration::from_secs(10), || {
        d.state().as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("{}", report(&d)));
    std::fs::write(&flag, "").unwrap();
    wait_for(Duration::from_secs(15), || {
        d.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}", report(&d)));
    let expected = [
        "own master|",
        "INSTANCE|VI_1|MASTER|100|",
        "INSTANCE|VI_1|FAULT|100|",
        "own backup|",
        "INSTANCE|VI_1|BACKUP|100|",
        "own master|",
        "INSTANCE|VI_1|MASTER|100|",
    ];
    // The first BACKUP (at start) comes before these; the rest in the order of the changes.
    wait_for(Duration::from_secs(10), || {
        lines(&events).ends_with(&expected.map(String::from))
    })
    .unwrap_or_else(|| panic!("{}", report(&d)));
    // Every script (notify and check) reaped once it ended: no zombie under vrrpd.
    let pid = d.child.child.id();
    wait_for(Duration::from_secs(10), || {
        children(pid)
            .iter()
            .all(|(_, comm, state)| *state != 'Z' && comm != "ntfy.sh")
    })
    .unwrap_or_else(|| panic!("children of vrrpd: {:?}", children(pid)));
}

#[test]
fn a_reload_keeps_a_failing_script_failing() {
    if !lab::privileged("a_reload_keeps_a_failing_script_failing") {
        return;
    }
    let lab = lab();
    let dir = run_dir();
    // A slow check that fails: had a reload made it good again, the priority would stay up
    // for the two seconds of its next run.
    let check = dir.join("slow-fail.sh");
    executable(&check, "#!/bin/sh\nsleep 2\nexit 1\n");
    let conf = dir.join("lb01.conf");
    let write = |rise: u32| {
        std::fs::write(
            &conf,
            format!(
                "vrrp_script chk {{\n    script \"{}\"\n    interval 1\n    timeout 10\n    weight -30\n    rise {rise}\n}}\n{}",
                check.display(),
                instance("    track_script {\n        chk\n    }\n")
            ),
        )
        .unwrap()
    };
    write(1);
    let d = Vrrpd::start(&vrrpd(), lab.host("lb01"), &conf, &dir, "lb01");
    let report = |d: &Vrrpd| format!("{:?}\n{}", d.statuses(), d.log_text());
    wait_for(Duration::from_secs(15), || {
        d.status().is_some_and(|s| s.priority == 70)
    })
    .unwrap_or_else(|| panic!("{}", report(&d)));
    // The script's definition changes (rise 2): the reload restarts it.
    write(2);
    d.child.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for(Duration::from_secs(5), || d.log_text().contains("reloaded"))
        .unwrap_or_else(|| panic!("{}", report(&d)));
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < end {
        let priority = d.status().map(|s| s.priority);
        assert_eq!(priority, Some(70), "{}", report(&d));
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = d.log_text();
    assert!(
        log.contains("VRRP_Script(chk) considered unsuccessful on reload"),
        "{log}"
    );
    // The run the reload cut short was killed with its `sleep` and reaped.
    let pid = d.child.child.id();
    wait_for(Duration::from_secs(5), || {
        children(pid).iter().all(|(_, _, state)| *state != 'Z')
    })
    .unwrap_or_else(|| panic!("children of vrrpd: {:?}", children(pid)));
}
