//! Bad configurations: each is refused with a message saying what was found and what was
//! expected, at the right line (and column where the parser knows one).

use vrrp_userspace::config::{self, ConfigError, Diagnostic, Severity};

/// The errors of a keepalived.conf that must be refused.
fn errors(text: &str) -> Vec<Diagnostic> {
    match config::keepalived::parse_str("bad.conf", text) {
        Ok(l) => panic!("must be refused, got {:?}", l.config),
        Err(ConfigError::Invalid { errors, .. }) => {
            assert!(errors.iter().all(|e| e.severity == Severity::Error));
            errors
        }
        Err(e) => panic!("unexpected {e}"),
    }
}

/// Exactly one error, with this text, line and column.
#[track_caller]
fn one(text: &str, line: u32, column: Option<u32>, message: &str) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let e = &errs[0];
    assert!(
        e.message.contains(message),
        "message {:?} should contain {message:?}",
        e.message
    );
    assert_eq!(e.line(), Some(line), "{e}");
    assert_eq!(e.column(), column, "{e}");
    assert_eq!(e.location.as_ref().unwrap().file, "bad.conf");
}

/// An instance with `body` lines inserted after `interface` (so body line 1 is file line 4).
fn inst(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n{body}\n    virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
    )
}

#[test]
fn vrid_not_a_number_is_cargo_style() {
    let text = inst("    virtual_router_id abc");
    one(
        &text,
        4,
        Some(23),
        "expected a number 1..255 after 'virtual_router_id', found 'abc'",
    );
    let err = config::keepalived::parse_str("lb01.conf", &text).unwrap_err();
    assert_eq!(
        err.to_string(),
        "error: lb01.conf:4:23: expected a number 1..255 after 'virtual_router_id', found 'abc'"
    );
}

#[test]
fn vrid_zero() {
    one(
        &inst("    virtual_router_id 0"),
        4,
        Some(23),
        "expected a number 1..255 after 'virtual_router_id', found '0'",
    );
}

#[test]
fn vrid_too_big() {
    one(
        &inst("    virtual_router_id 256"),
        4,
        Some(23),
        "found '256'",
    );
}

#[test]
fn priority_out_of_range_is_refused() {
    // keepalived logs "Priority not valid!" and uses 100; we refuse.
    one(
        &inst("    virtual_router_id 50\n    priority 256"),
        5,
        Some(14),
        "expected a number 1..255 after 'priority', found '256'",
    );
}

#[test]
fn priority_zero() {
    one(
        &inst("    virtual_router_id 50\n    priority 0"),
        5,
        Some(14),
        "found '0'",
    );
}

#[test]
fn priority_word() {
    one(
        &inst("    virtual_router_id 50\n    priority high"),
        5,
        Some(14),
        "after 'priority', found 'high'",
    );
}

#[test]
fn missing_argument_points_after_the_keyword() {
    one(
        &inst("    virtual_router_id 50\n    state"),
        5,
        Some(11),
        "expected MASTER or BACKUP after 'state', found the end of the line",
    );
}

#[test]
fn extra_closing_brace() {
    let text = format!("{}}}\n", inst("    virtual_router_id 50"));
    one(&text, 9, Some(1), "Extra '}' found");
}

#[test]
fn block_never_closed() {
    one(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n",
        1,
        Some(20),
        "this '{' is never closed",
    );
}

#[test]
fn unterminated_quote() {
    let errs = errors(&inst(
        "    virtual_router_id 50\n    notify_master \"/bin/true arg",
    ));
    assert!(errs[0].message.contains("missing closing '\"'"), "{errs:?}");
    assert_eq!((errs[0].line(), errs[0].column()), (Some(5), Some(19)));
}

#[test]
fn bad_vip_address() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.300\n    }\n}\n";
    one(
        text,
        5,
        Some(9),
        "expected an IP address[/prefix] in virtual_ipaddress, found '192.0.2.300'",
    );
}

#[test]
fn bad_vip_prefix() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3/33\n    }\n}\n";
    one(
        text,
        5,
        Some(9),
        "expected a prefix length 0..32 after '/' in '192.0.2.3/33', found '33'",
    );
}

#[test]
fn mixed_families_in_virtual_ipaddress() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3\n        2001:db8::3\n    }\n}\n";
    one(
        text,
        6,
        Some(9),
        "virtual_ipaddress mixes IPv4 and IPv6: 2001:db8::3 is not IPv4",
    );
}

#[test]
fn duplicate_vrid_on_one_interface() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.3\n    }\n}\nvrrp_instance VI_3 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.9\n    }\n}\n";
    one(
        text,
        8,
        None,
        "VI_1 and VI_3 both use VRID 51 with IPv4 on interface eth0",
    );
}

#[test]
fn same_vrid_on_other_interface_or_family_is_fine() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.3\n }\n}\nvrrp_instance VI_2 {\n interface eth1\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.9\n }\n}\nvrrp_instance VI_6 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n fe80::51\n }\n}\n";
    let l = config::keepalived::parse_str("ok.conf", text).expect("no conflict");
    assert_eq!(l.config.instances.len(), 3);
}

#[test]
fn missing_vrid() {
    one(
        &inst(""),
        1,
        Some(15),
        "(VI_1) no virtual_router_id: every vrrp_instance needs one (1..255)",
    );
}

#[test]
fn missing_interface() {
    one(
        "vrrp_instance VI_1 {\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3\n    }\n}\n",
        1,
        Some(15),
        "(VI_1) no 'interface'",
    );
}

#[test]
fn unknown_auth_type() {
    let text = inst(
        "    virtual_router_id 50\n    authentication {\n        auth_type MD5\n        auth_pass x\n    }",
    );
    one(
        &text,
        6,
        Some(19),
        "expected PASS or AH after 'auth_type', found 'MD5'",
    );
}

#[test]
fn version_four() {
    one(
        &inst("    virtual_router_id 50\n    version 4"),
        5,
        Some(13),
        "expected a number 2..3 after 'version', found '4'",
    );
}

#[test]
fn advert_int_not_a_number() {
    one(
        &inst("    virtual_router_id 50\n    advert_int fast"),
        5,
        Some(16),
        "expected a number of seconds (like 1 or 0.5) after 'advert_int', found 'fast'",
    );
}

#[test]
fn track_script_weight_out_of_range() {
    let text = format!(
        "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
        inst("    virtual_router_id 50\n    track_script {\n        chk weight 300\n    }")
    );
    one(
        &text,
        9,
        Some(20),
        "expected a weight -253..253 after 'weight', found '300'",
    );
}

#[test]
fn track_interface_bad_option() {
    let text =
        inst("    virtual_router_id 50\n    track_interface {\n        eth1 wieght 10\n    }");
    one(
        &text,
        6,
        Some(14),
        "expected 'weight' after track_interface 'eth1', found 'wieght'",
    );
}

#[test]
fn bad_scope() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3/24 scope universe\n    }\n}\n";
    one(
        text,
        5,
        Some(28),
        "expected global, site, link, host or nowhere after 'scope', found 'universe'",
    );
}

#[test]
fn brd_on_ipv6() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        fe80::1/64 brd +\n    }\n}\n";
    one(
        text,
        5,
        Some(20),
        "'brd' is for IPv4 addresses, not fe80::1",
    );
}

#[test]
fn bad_unicast_peer() {
    let text = inst("    virtual_router_id 50\n    unicast_peer {\n        192.0.2.x\n    }");
    one(
        &text,
        6,
        Some(9),
        "expected an IP address in unicast_peer, found '192.0.2.x'",
    );
}

#[test]
fn duplicate_instance_name() {
    let text = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.3\n }\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n 192.0.2.4\n }\n}\n";
    one(
        text,
        8,
        None,
        "duplicate vrrp_instance name 'VI_1' (first defined at bad.conf:1)",
    );
}

#[test]
fn instance_without_block() {
    one(
        "vrrp_instance VI_1\n",
        1,
        Some(20),
        "expected '{' after 'vrrp_instance'",
    );
}

#[test]
fn plain_keyword_with_a_block() {
    one(
        &inst("    virtual_router_id 50\n    priority 100 {\n    }"),
        5,
        Some(5),
        "'priority' does not take a '{ … }' block",
    );
}

#[test]
fn v3_needs_a_vip() {
    one(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    version 3\n}\n",
        1,
        None,
        "(VI_1) No VIP specified; at least one is required",
    );
}

#[test]
fn preempt_delay_too_long() {
    one(
        &inst("    virtual_router_id 50\n    preempt_delay 2000"),
        5,
        Some(19),
        "expected a number of seconds 0..1000 after 'preempt_delay', found '2000'",
    );
}

#[test]
fn mcast_group_not_multicast() {
    one(
        "global_defs {\n    vrrp_mcast_group4 192.0.2.1\n}\n",
        2,
        Some(23),
        "expected an IPv4 multicast address after 'vrrp_mcast_group4', found '192.0.2.1'",
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = inst("    virtual_router_id 999\n    priority -1\n    advert_int x");
    let errs = errors(&text);
    let lines: Vec<_> = errs.iter().map(|e| e.line().unwrap()).collect();
    // The VRID error refuses the instance; the others are still reported.
    assert!(
        lines.contains(&4) && lines.contains(&5) && lines.contains(&6),
        "{errs:#?}"
    );
}

#[test]
fn toml_errors_have_line_and_column() {
    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 0\n";
    let err = config::toml::parse_str("bad.toml", text).unwrap_err();
    let e = &err.errors()[0];
    assert!(e.message.contains("VRID must be in 1..=255"), "{e}");
    assert_eq!((e.line(), e.column()), (Some(4), Some(8)));

    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 5\nprio = 3\n";
    let err = config::toml::parse_str("bad.toml", text).unwrap_err();
    let e = &err.errors()[0];
    assert!(e.message.contains("unknown field `prio`"), "{e}");
    assert_eq!(e.line(), Some(5));
}

#[test]
fn toml_duplicate_vrid_names_the_instance_line() {
    let text = "[[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 7\n[[instance.vip]]\naddress = \"192.0.2.3\"\nprefix_len = 32\ndev = \"eth0\"\n\n[[instance]]\nname = \"B\"\ninterface = \"eth0\"\nvrid = 7\n[[instance.vip]]\naddress = \"192.0.2.4\"\nprefix_len = 32\ndev = \"eth0\"\n";
    let err = config::toml::parse_str("dup.toml", text).unwrap_err();
    assert_eq!(err.errors().len(), 1);
    assert_eq!(
        err.errors()[0].to_string(),
        "error: dup.toml:10: A and B both use VRID 7 with IPv4 on interface eth0"
    );
}
