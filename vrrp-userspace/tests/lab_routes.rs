//! keepalived's `virtual_routes`, `virtual_rules`, `static_routes` and `static_rules`, live in
//! the lab with two vrrpd: the virtual ones (IPv4 and IPv6, a default route through table 100,
//! a route whose source is the VIP, a blackhole, rules into table 100) on the master only,
//! moving with mastership, gone from a vrrpd stopped by SIGTERM; the static ones on both from
//! the start, whatever the state, and gone at exit.
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use nix::sys::signal::Signal;
use vrrp_userspace::lab::{
    self, Lab, NetNs,
    daemon::{Vrrpd, holds, run_dir, wait_for},
};

fn vrrpd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vrrpd"))
}

fn config(dir: &Path, name: &str, state: &str, priority: u8) -> PathBuf {
    let text = format!(
        "static_routes {{
    198.51.100.192/26 via 192.0.2.1 dev eth0 table 200
}}
static_rules {{
    from 198.51.100.1 table 200 priority 200
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 50
    priority {priority}
    advert_int 1
    virtual_ipaddress {{
        192.0.2.3/24
    }}
    virtual_ipaddress_excluded {{
        2001:db8::3/64
    }}
    virtual_routes {{
        default via 192.0.2.1 dev eth0 table 100
        198.51.100.0/25 via 192.0.2.1 src 192.0.2.3 dev eth0
        blackhole 198.51.100.128/26 table 100
        inet6 default via 2001:db8::1 dev eth0 table 100
    }}
    virtual_rules {{
        from 192.0.2.3 table 100 priority 100
        fwmark 7 table 100 priority 101
        from 2001:db8::3 table 100 priority 100
    }}
}}
"
    );
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, text).unwrap();
    path
}

/// What `ip` shows of the virtual and static entries in `ns`, one line each, without the
/// kernel's own rules and routes.
struct Shown {
    table100: String,
    table100v6: String,
    main: String,
    rules: String,
    rules6: String,
    table200: String,
}

/// `ip ARGS` in `ns`: what it prints (nothing for a table that does not exist, which `ip`
/// reports as an error).
fn ip(ns: &NetNs, args: &[&str]) -> String {
    let out = std::process::Command::new("nsenter")
        .arg(format!("--net=/run/netns/{}", ns.name))
        .arg("--")
        .arg("ip")
        .args(args)
        .output()
        .expect("ip");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shown(ns: &NetNs) -> Shown {
    Shown {
        table100: ip(ns, &["route", "show", "table", "100"]),
        table100v6: ip(ns, &["-6", "route", "show", "table", "100"]),
        main: ip(ns, &["route", "show", "198.51.100.0/25"]),
        rules: ip(ns, &["rule", "show"]),
        rules6: ip(ns, &["-6", "rule", "show"]),
        table200: ip(ns, &["route", "show", "table", "200"]),
    }
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "table 100:\n{}\ntable 100 (v6):\n{}\nmain:\n{}\nrules:\n{}\nrules (v6):\n{}\n\
             table 200:\n{}",
            self.table100, self.table100v6, self.main, self.rules, self.rules6, self.table200
        )
    }
}

/// The master's virtual entries, all there, as keepalived adds them (`proto keepalived`).
fn has_virtual(s: &Shown) -> bool {
    s.table100
        .contains("default via 192.0.2.1 dev eth0 proto keepalived")
        && s.table100
            .contains("blackhole 198.51.100.128/26 proto keepalived")
        && s.table100v6
            .contains("default via 2001:db8::1 dev eth0 proto keepalived")
        && s.main
            .contains("198.51.100.0/25 via 192.0.2.1 dev eth0 proto keepalived src 192.0.2.3")
        && s.rules
            .contains("100:\tfrom 192.0.2.3 lookup 100 proto keepalived")
        && s.rules
            .contains("101:\tfrom all fwmark 0x7 lookup 100 proto keepalived")
        && s.rules6
            .contains("100:\tfrom 2001:db8::3 lookup 100 proto keepalived")
}

/// None of the virtual entries is there.
fn no_virtual(s: &Shown) -> bool {
    s.table100.trim().is_empty()
        && s.table100v6.trim().is_empty()
        && s.main.trim().is_empty()
        && !s.rules.contains("lookup 100")
        && !s.rules6.contains("lookup 100")
}

/// The static entries are there.
fn has_static(s: &Shown) -> bool {
    s.table200
        .contains("198.51.100.192/26 via 192.0.2.1 dev eth0 proto keepalived")
        && s.rules
            .contains("200:\tfrom 198.51.100.1 lookup 200 proto keepalived")
}

fn no_static(s: &Shown) -> bool {
    s.table200.trim().is_empty() && !s.rules.contains("lookup 200")
}

fn report(ns: &NetNs, d: &Vrrpd) -> String {
    format!("{}\n{:?}\n{}", shown(ns), d.statuses(), d.log_text())
}

/// Waits until `f` holds of what `ns` shows, or panics with it and `d`'s log.
fn expect(ns: &NetNs, d: &Vrrpd, what: &str, f: impl Fn(&Shown) -> bool) {
    wait_for(Duration::from_secs(8), || f(&shown(ns)))
        .unwrap_or_else(|| panic!("{what}:\n{}", report(ns, d)));
}

fn sigterm(d: &mut Vrrpd) {
    d.child.signal(Signal::SIGTERM);
    let status = d.child.wait_timeout(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        d.log_text()
    );
}

#[test]
fn virtual_routes_and_rules_follow_mastership_and_statics_stay() {
    if !lab::privileged("virtual_routes") {
        return;
    }
    let lab = Lab::seed6();
    let dir = run_dir();
    let (h1, h2) = (lab.host("lb01"), lab.host("lb02"));
    let conf1 = config(&dir, "lb01", "MASTER", 100);
    let conf2 = config(&dir, "lb02", "BACKUP", 90);
    let check = std::process::Command::new(vrrpd())
        .args(["check", "--config"])
        .arg(&conf1)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");

    let mut a = Vrrpd::start(&vrrpd(), h1, &conf1, &dir, "lb01");
    let b = Vrrpd::start(&vrrpd(), h2, &conf2, &dir, "lb02");
    wait_for(Duration::from_secs(6), || {
        a.state().as_deref() == Some("MASTER") && b.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("{}\n{}", a.log_text(), b.log_text()));
    expect(h1, &a, "the master's routes and rules", has_virtual);
    assert!(holds(h1, "192.0.2.3"));
    expect(h2, &b, "none on the backup", no_virtual);
    expect(h1, &a, "statics on the master", has_static);
    expect(h2, &b, "statics on the backup", has_static);

    // SIGTERM on lb01: its virtual and static entries go with it; lb02 takes the routes.
    sigterm(&mut a);
    let after = shown(h1);
    assert!(
        no_virtual(&after) && no_static(&after),
        "left behind:\n{after}"
    );
    assert!(!holds(h1, "192.0.2.3"));
    wait_for(Duration::from_secs(6), || {
        b.state().as_deref() == Some("MASTER")
    })
    .unwrap_or_else(|| panic!("{}", b.log_text()));
    expect(h2, &b, "the new master's routes and rules", has_virtual);

    // lb01 back (priority 100, preemptive): the routes move back, lb02 keeps only its statics.
    let a = Vrrpd::start(&vrrpd(), h1, &conf1, &dir, "lb01b");
    wait_for(Duration::from_secs(8), || {
        a.state().as_deref() == Some("MASTER") && b.state().as_deref() == Some("BACKUP")
    })
    .unwrap_or_else(|| panic!("{}\n{}", a.log_text(), b.log_text()));
    expect(h1, &a, "the routes back on lb01", has_virtual);
    expect(h2, &b, "none left on lb02", no_virtual);
    expect(h2, &b, "lb02's statics kept", has_static);
    let log = b.log_text();
    assert!(!log.contains("FAULT"), "{log}");

    // A reload that changes only the routes: the master keeps its VIP and state, the blackhole
    // goes and a throw route comes.
    let text = std::fs::read_to_string(&conf1).unwrap().replace(
        "blackhole 198.51.100.128/26 table 100",
        "throw 198.51.100.128/26 table 100",
    );
    std::fs::write(&conf1, text).unwrap();
    a.child.signal(Signal::SIGHUP);
    expect(h1, &a, "the reloaded routes", |s| {
        s.table100
            .contains("throw 198.51.100.128/26 proto keepalived")
            && !s.table100.contains("blackhole")
            && s.table100
                .contains("default via 192.0.2.1 dev eth0 proto keepalived")
    });
    assert!(holds(h1, "192.0.2.3"));
    assert_eq!(a.state().as_deref(), Some("MASTER"));
    let log = a.log_text();
    assert!(
        log.contains("reloaded: 1 instance(s) unchanged, 0 stopped"),
        "{log}"
    );
    assert!(
        !log.contains("MASTER -> "),
        "the master stepped down:\n{log}"
    );
}
