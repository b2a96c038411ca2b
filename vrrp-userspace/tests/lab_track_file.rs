//! `track_file` and `vrrp_track_process` live (issue 13): one host, no peer. Writing a number
//! to the tracked file moves the effective priority, a weight-0 file's non-zero value is FAULT
//! and back; starting and stopping the tracked process moves it too. `vrrpd status --json`
//! shows both among the tracked objects.
//!
//! Timing is asserted only with generous bounds.
use std::{path::PathBuf, process::Command, time::Duration};

use vrrp_userspace::lab::{
    self, Lab,
    daemon::{Vrrpd, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// The verdict `vrrpd status` gives the tracked object `name`.
fn verdict(d: &Vrrpd, name: &str) -> Option<String> {
    let j = d.status_json();
    j[0]["tracked"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["verdict"].as_str().map(str::to_string))
}

#[test]
fn a_written_number_and_a_running_process_move_the_priority() {
    if !lab::privileged("track_file") {
        return;
    }
    let lab = Lab::new(&[("r", "192.0.2.4/24")]);
    let dir = run_dir();
    let level = dir.join("level");
    let stop = dir.join("stop");
    // A process nobody else runs: sleep with a parameter of this run's own.
    let arg = format!(
        "{}.{}",
        4000 + std::process::id() % 1000,
        std::process::id()
    );
    let conf = dir.join("r.conf");
    std::fs::write(
        &conf,
        format!(
            "track_file level {{\n    file \"{}\"\n    weight 5\n    init_file 2 overwrite\n}}\n\
             track_file stop {{\n    file \"{}\"\n    weight 0\n}}\n\
             vrrp_track_process sleeper {{\n    process sleep {arg}\n    weight 20\n}}\n\
             vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    \
             virtual_router_id 51\n    priority 100\n    advert_int 1\n    \
             track_file {{\n        level\n        stop\n    }}\n    \
             track_process {{\n        sleeper\n    }}\n    \
             virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n",
            level.display(),
            stop.display()
        ),
    )
    .unwrap();
    let r = Vrrpd::start(&vrrpd(), lab.host("r"), &conf, &dir, "r");
    let prio = |p: u8| r.status().is_some_and(|s| s.priority == p);
    // init_file wrote 2: 100 + 2 × 5; no sleeper: its +20 is not there.
    wait_for(Duration::from_secs(5), || prio(110)).unwrap_or_else(|| panic!("{}", r.report()));
    assert_eq!(std::fs::read_to_string(&level).unwrap(), "2\n");
    assert_eq!(verdict(&r, "level").as_deref(), Some("value 2"));
    assert_eq!(verdict(&r, "sleeper").as_deref(), Some("no quorum"));

    // A number written: 100 − 4 × 5.
    std::fs::write(&level, "-4\n").unwrap();
    wait_for(Duration::from_secs(3), || prio(80)).unwrap_or_else(|| panic!("{}", r.report()));
    // Replaced by a rename: seen too.
    let tmp = dir.join("level.tmp");
    std::fs::write(&tmp, "1").unwrap();
    std::fs::rename(&tmp, &level).unwrap();
    wait_for(Duration::from_secs(3), || prio(105)).unwrap_or_else(|| panic!("{}", r.report()));
    // Removed: 0.
    std::fs::remove_file(&level).unwrap();
    wait_for(Duration::from_secs(3), || prio(100)).unwrap_or_else(|| panic!("{}", r.report()));

    // The weight-0 file non-zero: FAULT, named in status; back to 0: out of FAULT.
    std::fs::write(&stop, "1\n").unwrap();
    wait_for(Duration::from_secs(3), || {
        r.state().as_deref() == Some("FAULT")
    })
    .unwrap_or_else(|| panic!("{}", r.report()));
    let fault = r.status().and_then(|s| s.fault).unwrap_or_default();
    assert!(fault.contains("file stop value 1"), "{fault}");
    std::fs::write(&stop, "0\n").unwrap();
    wait_for(Duration::from_secs(5), || {
        matches!(r.state().as_deref(), Some("BACKUP" | "MASTER"))
    })
    .unwrap_or_else(|| panic!("{}", r.report()));

    // The process started: +20; stopped: back.
    let mut child = Command::new("sleep").arg(&arg).spawn().unwrap();
    wait_for(Duration::from_secs(3), || prio(120)).unwrap_or_else(|| panic!("{}", r.report()));
    assert_eq!(verdict(&r, "sleeper").as_deref(), Some("quorum"));
    child.kill().unwrap();
    child.wait().unwrap();
    wait_for(Duration::from_secs(3), || prio(100)).unwrap_or_else(|| panic!("{}", r.report()));
    let log = r.log_text();
    assert!(
        log.contains("Quorum gained for tracked process sleeper"),
        "{log}"
    );
    assert!(
        log.contains("Quorum lost for tracked process sleeper"),
        "{log}"
    );
}
