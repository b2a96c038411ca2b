//! keepalived's logging recipe (`-D -d -S 0`, and rsyslog's `local0.*` to a file) against a
//! real rsyslogd: its own configuration and socket in a temporary directory, vrrpd pointed at
//! that socket with `--syslog-socket`, one instance on a veth in a namespace.
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use vrrp_userspace::lab::{self, Child, NetNs, PinDir, daemon::wait_for};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

/// rsyslogd in the foreground with a configuration of our own: one socket in `dir`, local0.*
/// to `local0.log`, everything else to `other.log`, each line led by facility.severity.
fn rsyslogd(dir: &Path) -> Child {
    let d = dir.display();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{d}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{d}/log" RateLimit.Interval="0")
template(name="fac" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%:%msg%\n")
local0.* action(type="omfile" file="{d}/local0.log" template="fac")
*.*;local0.none action(type="omfile" file="{d}/other.log" template="fac")
"#
        ),
    )
    .unwrap();
    let log = dir.join("rsyslogd.out");
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("start rsyslogd (package rsyslog, installed by cargo xtask setup)");
    let child = Child { child };
    assert!(
        wait_for(Duration::from_secs(10), || dir.join("log").exists()).is_some(),
        "rsyslogd made no socket: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    child
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn dash_d_dash_capital_d_dash_s_0_log_to_local0_of_a_real_rsyslogd() {
    if !lab::privileged("syslog_local0") {
        return;
    }
    let dir = lab::daemon::run_dir();
    let _rsyslogd = rsyslogd(&dir);
    let ns = NetNs::new("g");
    ns.exec(&[
        "ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1",
    ]);
    ns.exec(&["ip", "addr", "add", "192.0.2.1/24", "dev", "d0"]);
    ns.exec(&["ip", "link", "set", "d1", "up"]);
    ns.exec(&["ip", "link", "set", "d0", "up"]);
    let conf = dir.join("vrrpd.conf");
    std::fs::write(
        &conf,
        "vrrp_instance VI_LOG {\n    state MASTER\n    interface d0\n    virtual_router_id 50\n    \
         priority 100\n    advert_int 1\n    virtual_ipaddress {\n        192.0.2.3/24\n    }\n}\n",
    )
    .unwrap();
    let pins = PinDir::new();
    let socket = dir.join("vrrpd.sock");
    let syslog_socket = dir.join("log");
    let mut vrrpd = Child::spawn_in(
        &ns,
        &[
            vrrpd().to_str().unwrap(),
            "run",
            "--config",
            conf.to_str().unwrap(),
            "--control-socket",
            socket.to_str().unwrap(),
            "--pin-root",
            pins.path.to_str().unwrap(),
            "--syslog-socket",
            syslog_socket.to_str().unwrap(),
            // keepalived's tutorial: DAEMON_ARGS="-D -d -S 0".
            "-D",
            "-d",
            "-S",
            "0",
        ],
        &dir.join("vrrpd.stderr"),
    )
    .unwrap();
    let local0 = dir.join("local0.log");
    let report = || {
        format!(
            "local0.log:\n{}\nother.log:\n{}\nvrrpd's stderr:\n{}",
            read(&local0),
            read(&dir.join("other.log")),
            read(&dir.join("vrrpd.stderr"))
        )
    };
    assert!(
        wait_for(Duration::from_secs(10), || read(&local0)
            .contains("-> MASTER"))
        .is_some(),
        "no MASTER line in local0.log within 10 s\n{}",
        report()
    );
    vrrpd.signal(nix::sys::signal::Signal::SIGTERM);
    let status = vrrpd.wait_timeout(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "vrrpd did not stop cleanly: {status:?}\n{}",
        report()
    );
    assert!(
        wait_for(Duration::from_secs(5), || read(&local0).contains("stopped")).is_some(),
        "no 'stopped' in local0.log\n{}",
        report()
    );
    let text = read(&local0);
    let lines: Vec<&str> = text.lines().collect();
    // -S 0: every line of vrrpd's at local0, none elsewhere, nothing on stderr.
    assert!(
        lines.iter().all(|l| l.starts_with("local0.")),
        "{}",
        report()
    );
    assert!(lines.iter().all(|l| l.contains(" vrrpd: ")), "{}", report());
    assert!(
        !read(&dir.join("other.log")).contains("vrrpd"),
        "{}",
        report()
    );
    assert!(read(&dir.join("vrrpd.stderr")).is_empty(), "{}", report());
    // -d: the configuration as read, before the instance starts.
    let dump = lines
        .iter()
        .position(|l| l.contains("configuration read from"))
        .unwrap_or_else(|| panic!("no configuration dump\n{}", report()));
    let master = lines.iter().position(|l| l.contains("-> MASTER")).unwrap();
    assert!(dump < master, "{}", report());
    assert!(
        lines[dump..master]
            .iter()
            .any(|l| l.contains("VI_LOG") && l.starts_with("local0.info")),
        "the dump names the instance\n{}",
        report()
    );
    // -D: each line names the part of vrrpd that speaks (the state change comes from the
    // driver's effects, `daemon::effects`),
    // and the debug lines are vrrpd's own, not its libraries'.
    assert!(
        lines[master].contains("vrrpd: daemon::effects: VI_LOG"),
        "{}",
        report()
    );
    assert!(
        lines[dump].contains("vrrpd: main: configuration read"),
        "{}",
        report()
    );
    assert!(!text.contains("aya"), "{}", report());
}

#[test]
fn a_missing_syslog_socket_or_facility_8_is_refused_by_name() {
    // Unprivileged: vrrpd refuses to start when the syslog socket is not there, naming it.
    let dir = std::env::temp_dir().join(format!("vrrpd-syslog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("empty.conf");
    std::fs::write(&conf, "global_defs {\n    router_id t\n}\n").unwrap();
    let missing = dir.join("no-such-socket");
    let out = Command::new(vrrpd())
        .args(["run", "-S", "local0", "--config"])
        .arg(&conf)
        .arg("--syslog-socket")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(missing.to_str().unwrap()), "{err}");
    let out = Command::new(vrrpd())
        .args(["run", "-S", "8", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown syslog facility \"8\""),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
