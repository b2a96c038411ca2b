//! `virtual_routes`, `virtual_rules` and the static ones read as keepalived 2.2.7 reads them:
//! `vrrpd check` and, side by side, `keepalived -t` on the same files name the same lines with
//! the same warnings (a deprecated `gw`, a route that cannot be tracked, a protocol reset, a
//! rule numbered for want of a preference) and the same refusals (iproute2's `proto` and
//! `pref`, which keepalived does not know, a route without destination, a rule without action).

use vrrp_userspace::lab::side_by_side::{Dir, keepalived_t, vrrpd_check};

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");

const WARNED: &str = "static_routes {
    198.51.100.192/26 via 192.0.2.1 dev eth0 table 200
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.3
    }
    virtual_routes {
        default gw 192.0.2.1 dev eth0 table 100
        blackhole 198.51.100.128/26 table 100
        198.51.100.0/25 dev eth0 protocol static
    }
    virtual_rules {
        from 192.0.2.3 table 100
        from 192.0.2.4 table 100 priority 5 protocol 4
    }
}
";

const REFUSED: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.3
    }
    virtual_routes {
        198.51.100.0/25 dev eth0 proto static
        via 192.0.2.1 dev eth0
    }
    virtual_rules {
        from 192.0.2.3 table 100 pref 5
        from 192.0.2.4 priority 5
    }
}
";

#[test]
fn route_and_rule_warnings_match_keepalived() {
    let d = Dir::new("routes-warn");
    d.write("k.conf", WARNED);
    let expected = [
        (11, "\"gw\" for routes is deprecated. Please use \"via\""),
        (
            12,
            "Warning - cannot track route 198.51.100.128/26 with no interface specified, not \
             tracking",
        ),
        (
            13,
            "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
        ),
        (
            16,
            "Rule has no preference specified - setting to 16384. This is probably not what you \
             want.",
        ),
        (
            17,
            "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
        ),
    ];
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    for (line, msg) in expected {
        assert!(
            ours.says_at("k.conf", line, msg),
            "{line}: {msg}\n{}",
            ours.text
        );
    }
    // What vrrpd does not act on, it says: nobody watches the routes once added.
    assert!(
        ours.says_at(
            "k.conf",
            10,
            "'virtual_routes': tracking accepted, no effect"
        ),
        "{}",
        ours.text
    );
    // What it would run, listed.
    for line in [
        "  virtual route default via 192.0.2.1 dev eth0 table 100",
        "  virtual route blackhole 198.51.100.128/26 table 100",
        "  virtual rule IPv4 pref 16384 from 192.0.2.3/32 table 100",
        "static route 198.51.100.192/26 via 192.0.2.1 dev eth0 table 200",
    ] {
        assert!(
            ours.text.lines().any(|l| l == line),
            "{line}\n{}",
            ours.text
        );
    }
    let loaded = vrrp_userspace::config::load(&d.path().join("k.conf")).unwrap();
    let i = &loaded.config.instances[0];
    assert_eq!((i.routes.len(), i.rules.len()), (3, 2));
    assert_eq!(loaded.config.static_routes.len(), 1);
    if let Some(ka) = keepalived_t("route_warnings", d.path(), "k.conf", &[]) {
        for (line, msg) in expected {
            assert!(
                ka.says_at("k.conf", line, msg),
                "{line}: {msg}\n{}",
                ka.text
            );
        }
    }
}

#[test]
fn routes_and_rules_keepalived_drops_are_refused_at_their_line() {
    let d = Dir::new("routes-err");
    d.write("e.conf", REFUSED);
    let expected = [
        (8, "unknown route keyword proto"),
        (9, "Route must have a destination"),
        (12, "Unknown rule option pref"),
        (13, "No action specified for rule"),
    ];
    let ours = vrrpd_check(VRRPD, d.path(), "e.conf", &[]);
    assert_ne!(ours.code, 0, "{}", ours.text);
    for (line, msg) in expected {
        assert!(
            ours.says_at("e.conf", line, msg),
            "{line}: {msg}\n{}",
            ours.text
        );
    }
    if let Some(ka) = keepalived_t("route_errors", d.path(), "e.conf", &[]) {
        for (line, msg) in expected {
            assert!(
                ka.says_at("e.conf", line, msg),
                "{line}: {msg}\n{}",
                ka.text
            );
        }
    }
}
