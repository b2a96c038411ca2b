//! keepalived's quirks, reproduced (or deliberately flagged): each one verified against
//! keepalived 2.2.7 (`keepalived -n -l -d` in a namespace) or read in its source.

use std::net::{IpAddr, Ipv4Addr};

use vrrp_userspace::{
    config::{
        self, Auth, Category, Diagnostic, Family, InitialState, Instance, Loaded, Scope,
        V3Checksum, Version,
    },
    units::{Centis, Priority},
};

#[track_caller]
fn ok(text: &str) -> Loaded {
    config::keepalived::parse_str("q.conf", text).unwrap_or_else(|e| panic!("must load: {e}"))
}

/// The warning containing `needle`, asserting its line.
#[track_caller]
fn warning<'a>(l: &'a Loaded, needle: &str, line: u32) -> &'a Diagnostic {
    let w = l
        .warnings
        .iter()
        .find(|w| w.message.contains(needle))
        .unwrap_or_else(|| panic!("no warning with {needle:?} in {:#?}", l.warnings));
    assert_eq!(w.line(), Some(line), "{w}");
    w
}

/// One instance VI_1 on eth0, VRID 50, VIP 192.0.2.3, with `body` from line 4 on.
fn inst(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 50\n{body}\n    virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
    )
}

fn vi1(l: &Loaded) -> &Instance {
    l.config.instance("VI_1").expect("VI_1")
}

fn pw(auth: Auth) -> Vec<u8> {
    match auth {
        Auth::Pass { password } => password.to_vec(),
        other => panic!("not PASS: {other:?}"),
    }
}

fn auth(pass: &str) -> String {
    inst(&format!(
        "    authentication {{\n        auth_type PASS\n        auth_pass {pass}\n    }}"
    ))
}

#[test]
fn hash_inside_an_unquoted_password_starts_a_comment() {
    let l = ok(&auth("pa#ssword12345"));
    assert_eq!(pw(vi1(&l).auth), b"pa\0\0\0\0\0\0");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let l = ok(&auth("pa!ss"));
    assert_eq!(pw(vi1(&l).auth), b"pa\0\0\0\0\0\0");
}

#[test]
fn quoted_password_keeps_the_hash() {
    let l = ok(&auth("\"pa#ss\""));
    assert_eq!(pw(vi1(&l).auth), b"pa#ss\0\0\0");
}

#[test]
fn escaped_hash_is_literal_with_a_compatibility_warning() {
    let l = ok(&auth("ab\\#cd"));
    assert_eq!(pw(vi1(&l).auth), b"ab#cd\0\0\0");
    let w = warning(&l, "keepalived 2.2.7 was seen to cut the value", 6);
    assert_eq!(w.column(), Some(21));
}

#[test]
fn auth_pass_is_truncated_to_8_bytes() {
    let l = ok(&auth("password12345"));
    assert_eq!(pw(vi1(&l).auth), b"password");
    let w = warning(&l, "Truncating auth_pass to 8 characters", 6);
    assert_eq!(w.category, Category::Fixup);
    // Exactly 8: no warning, no padding.
    let l = ok(&auth("secret12"));
    assert_eq!(pw(vi1(&l).auth), b"secret12");
    assert!(l.warnings.is_empty());
}

#[test]
fn trailing_backslash_continues_the_line() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3/24 \\\n            dev eth1 \\\n            label eth1:vip\n    }\n}\n";
    let l = ok(text);
    let v = &vi1(&l).vips[0];
    assert_eq!((v.prefix_len, v.dev.as_str()), (24, "eth1"));
    assert_eq!(v.label.as_deref(), Some("eth1:vip"));
}

#[test]
fn open_brace_on_the_next_line() {
    let text = "global_defs\n{\n    router_id lb01\n}\nvrrp_instance VI_1\n{\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress\n    {\n        192.0.2.3\n    }\n}\n";
    let l = ok(text);
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb01"));
    assert_eq!(vi1(&l).vips.len(), 1);
    assert_eq!(vi1(&l).source.line, 5);
}

#[test]
fn braces_split_lines_anywhere() {
    let text = "vrrp_instance VI_1 { interface eth0\n virtual_router_id 50\n authentication { auth_type PASS\n auth_pass 1111 }\n virtual_ipaddress { 192.0.2.3 192.0.2.4/24 }\n}\n";
    let l = ok(text);
    let i = vi1(&l);
    assert_eq!(pw(i.auth), b"1111\0\0\0\0");
    assert_eq!(
        i.vips.len(),
        1,
        "one VIP line, the second address is read as an option"
    );
}

#[test]
fn keywords_are_case_sensitive() {
    let l = ok(&inst("    Priority 50"));
    assert_eq!(vi1(&l).priority, Priority::DEFAULT);
    let w = warning(
        &l,
        "unknown keyword 'Priority' in vrrp_instance VI_1; skipped",
        4,
    );
    assert_eq!(w.category, Category::Unsupported);
}

#[test]
fn unknown_block_is_skipped_whole_and_reported() {
    // keepalived 2.2.7 lets the unknown block's '}' close the instance, losing notify_master.
    let text = inst(
        "    foo_block {\n        bar 1\n        baz { x }\n    }\n    notify_master \"/bin/echo \\\"a b\\\" c\"",
    );
    let l = ok(&text);
    let w = warning(
        &l,
        "unknown keyword 'foo_block' in vrrp_instance VI_1; skipped with its block",
        4,
    );
    assert_eq!(w.column(), Some(5));
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let n = vi1(&l)
        .notify
        .master
        .as_ref()
        .expect("notify_master after the block");
    assert_eq!(n.command, "/bin/echo \"a b\" c");
}

#[test]
fn lvs_virtual_server_is_reported_and_strict_refuses_it() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/configs/unsupported.conf"
    );
    let l = config::load(std::path::Path::new(path)).expect("loads");
    assert_eq!(l.config.instances.len(), 1);
    let w = warning(
        &l,
        "'virtual_server' (LVS, keepalived's checker) is not supported",
        9,
    );
    assert_eq!(w.category, Category::Unsupported);
    assert_eq!(l.warnings.len(), 1, "inner lines are not reported again");
    let err = l.strict().unwrap_err();
    assert_eq!(err.errors().len(), 1);
    assert!(
        err.to_string()
            .contains("unsupported.conf:9:1: 'virtual_server'"),
        "{err}"
    );
    assert!(err.to_string().ends_with("(--strict)"));
}

#[test]
fn snmp_keywords_are_reported() {
    let l = ok("global_defs {\n    enable_snmp_vrrp\n    router_id x\n}\n");
    warning(
        &l,
        "'enable_snmp_vrrp' (SNMP/DBus) is not supported by vrrpd",
        2,
    );
    assert_eq!(l.config.global.router_id.as_deref(), Some("x"));
}

#[test]
fn nopreempt_with_state_master_is_cleared() {
    let l = ok(&inst("    state MASTER\n    priority 100\n    nopreempt"));
    assert!(vi1(&l).preempt);
    warning(
        &l,
        "nopreempt will not work with initial state MASTER - clearing",
        1,
    );
}

#[test]
fn preempt_delay_with_state_master_is_cleared() {
    let l = ok(&inst(
        "    state MASTER\n    priority 100\n    preempt_delay 10",
    ));
    assert_eq!(vi1(&l).preempt_delay, Centis(0));
    warning(
        &l,
        "preempt delay will not work with initial state MASTER - clearing",
        1,
    );
    // With BACKUP it stays.
    let l = ok(&inst("    state BACKUP\n    preempt_delay 2.5"));
    assert_eq!(vi1(&l).preempt_delay, Centis(250));
    assert!(l.warnings.is_empty());
}

#[test]
fn nopreempt_with_priority_255_is_cleared() {
    let l = ok(&inst("    state BACKUP\n    priority 255\n    nopreempt"));
    assert!(vi1(&l).preempt);
    warning(
        &l,
        "nopreempt is incompatible with priority 255. resetting nopreempt",
        1,
    );
}

#[test]
fn nopreempt_with_backup_is_kept() {
    let l = ok(&inst("    state BACKUP\n    nopreempt"));
    assert!(!vi1(&l).preempt);
    assert!(l.warnings.is_empty());
}

#[test]
fn lowercase_state_defaults_to_backup() {
    let l = ok(&inst("    state master\n    priority 150"));
    assert_eq!(vi1(&l).state, InitialState::Backup);
    let w = warning(&l, "(VI_1) unknown state 'master', defaulting to BACKUP", 4);
    assert_eq!(w.column(), Some(11));
}

#[test]
fn later_backup_after_master_is_ignored() {
    let l = ok(&inst(
        "    state MASTER\n    priority 150\n    state BACKUP",
    ));
    assert_eq!(vi1(&l).state, InitialState::Master);
    warning(&l, "state previously set as MASTER - ignoring BACKUP", 6);
}

#[test]
fn state_and_priority_defaults() {
    let l = ok(&inst("    state MASTER"));
    assert_eq!(
        (vi1(&l).state, vi1(&l).priority),
        (InitialState::Master, Priority::OWNER)
    );
    assert!(vi1(&l).accept, "the owner accepts");
    let l = ok(&inst(""));
    assert_eq!(
        (vi1(&l).state, vi1(&l).priority),
        (InitialState::Backup, Priority::DEFAULT)
    );
    let l = ok(&inst("    priority 255"));
    assert_eq!(
        vi1(&l).state,
        InitialState::Master,
        "the owner starts as MASTER"
    );
    let l = ok(&inst("    state BACKUP"));
    assert_eq!(vi1(&l).priority, Priority(100));
}

#[test]
fn v2_advert_int_is_rounded_to_whole_seconds() {
    for (written, secs) in [("0.4", 1), ("2.5", 3), ("1.4", 1), ("0.01", 1)] {
        let l = ok(&inst(&format!("    advert_int {written}")));
        assert_eq!(
            vi1(&l).advert_interval,
            Centis::from_secs(secs),
            "{written}"
        );
        let w = warning(&l, "VRRPv2 advertisement interval", 4);
        assert!(w.message.contains("must be an integer. rounding"), "{w}");
    }
    let l = ok(&inst("    advert_int 3"));
    assert_eq!(vi1(&l).advert_interval, Centis(300));
    assert!(l.warnings.is_empty());
}

#[test]
fn advert_int_above_255_keeps_the_default_like_keepalived() {
    // [lab] keepalived 2.2.7: "Advert interval (300) not valid! ... ignoring", dump: 1 sec.
    let l = ok(&inst("    advert_int 300"));
    assert_eq!(vi1(&l).advert_interval, Centis::SECOND);
    warning(&l, "Advert interval (300) not valid!", 4);
}

#[test]
fn v2_interval_of_256s_or_more_clamps_to_255_in_toml() {
    let text = "[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\nvrid = 50\nadvert_interval_cs = 30000\n[[instance.vip]]\naddress = \"192.0.2.3\"\nprefix_len = 32\ndev = \"eth0\"\n";
    let l = config::toml::parse_str("q.toml", text).expect("loads");
    assert_eq!(
        l.config.instances[0].advert_interval,
        Centis::from_secs(255)
    );
    warning(&l, "Must be less than 256s. Setting to 255s", 1);
}

#[test]
fn v3_advert_int_rounds_to_10ms_and_clamps() {
    let l = ok(&inst("    version 3\n    advert_int 0.015"));
    assert_eq!(vi1(&l).advert_interval, Centis(2));
    warning(&l, "must be in units of 10ms - rounding", 5);
    let l = ok(&inst("    version 3\n    advert_int 50"));
    assert_eq!(vi1(&l).advert_interval, Centis(4095));
    warning(&l, "Must be less than 40.96s. Setting to 40.95s", 5);
    let l = ok(&inst("    version 3\n    advert_int 0.25"));
    assert_eq!(vi1(&l).advert_interval, Centis(25));
    assert!(l.warnings.is_empty());
}

#[test]
fn ipv6_vips_mean_version_3() {
    let text = "vrrp_instance VI_6 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        fe80::50\n        2001:db8::50/64\n    }\n}\n";
    let l = ok(text);
    let i = l.config.instance("VI_6").unwrap();
    assert_eq!((i.version, i.family()), (Version::V3, Family::Ipv6));
    assert_eq!(i.vips[0].prefix_len, 128);
    assert_eq!(i.vips[1].prefix_len, 64);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    // A global first VIP gets keepalived's hint.
    let text = text.replace("fe80::50\n", "");
    let l = ok(&text);
    warning(&l, "the first IPv6 VIP address should be link local", 1);
}

#[test]
fn authentication_is_ignored_with_version_3() {
    let text = auth("secret12").replace(
        "virtual_router_id 50",
        "virtual_router_id 50\n    version 3",
    );
    let l = ok(&text);
    assert_eq!(vi1(&l).auth, Auth::None);
    warning(
        &l,
        "VRRP version 3 does not support authentication. Ignoring.",
        1,
    );
}

#[test]
fn vrrp_strict_ignores_auth_and_turns_accept_off() {
    let text = format!("global_defs {{\n    vrrp_strict\n}}\n{}", auth("secret12"));
    let l = ok(&text);
    let i = vi1(&l);
    assert_eq!(i.auth, Auth::None);
    assert!(i.strict);
    assert!(
        !i.accept,
        "vrrp_strict silently turns accept mode off (the #1 'can't ping VIP')"
    );
    assert!(i.lower_prio_no_advert);
    warning(
        &l,
        "Strict mode does not support authentication. Ignoring.",
        4,
    );
}

#[test]
fn vips_default_prefix_dev_and_options() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3\n        192.0.2.5/24 brd + dev eth1 scope link label eth1:5\n        192.0.2.6/24 brd 192.0.2.255\n    }\n    virtual_ipaddress_excluded {\n        2001:db8::9\n    }\n}\n";
    let l = ok(text);
    let i = vi1(&l);
    assert_eq!(i.vips[0].prefix_len, 32);
    assert_eq!(i.vips[0].dev, "eth0");
    assert_eq!(i.vips[0].scope, Scope::Global);
    assert_eq!(i.vips[1].dev, "eth1");
    assert_eq!(i.vips[1].scope, Scope::Link);
    assert_eq!(i.vips[1].broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
    assert_eq!(i.vips[1].label.as_deref(), Some("eth1:5"));
    assert_eq!(i.vips[2].broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
    assert_eq!(
        i.excluded_vips[0].prefix_len, 128,
        "excluded VIPs may be the other family"
    );
    assert_eq!(i.family(), Family::Ipv4);
}

#[test]
fn weight_254_becomes_253() {
    let text = format!(
        "vrrp_script chk {{\n    script /bin/true\n}}\n{}",
        inst(
            "    track_script {\n        chk weight -254 reverse\n    }\n    track_interface {\n        eth1 weight 254\n    }"
        )
    );
    let l = ok(&text);
    let i = vi1(&l);
    assert_eq!(i.track_scripts[0].weight, Some(-253));
    assert_eq!(i.track_scripts[0].reverse, Some(true));
    assert_eq!(i.track_interfaces[0].weight, 253);
    warning(&l, "weight for chk cannot be +/-254. Setting to +/-253", 8);
    warning(
        &l,
        "weight for eth1 cannot be +/-254. Setting to +/-253",
        11,
    );
}

#[test]
fn track_script_naming_an_undefined_script_is_ignored_with_a_warning() {
    // keepalived: "(VI_1) track script nonexistent not found, ignoring..." and runs without it.
    let l = ok(&inst("    track_script {\n        nonexistent\n    }"));
    assert!(vi1(&l).track_scripts.is_empty());
    warning(
        &l,
        "(VI_1) track script nonexistent not found, ignoring...",
        5,
    );
}

#[test]
fn track_script_defined_after_the_instance_is_tracked_and_flagged() {
    let text = format!(
        "{}vrrp_script chk_later {{\n    script \"/bin/true\"\n    weight 10 reverse\n}}\n",
        inst("    track_script {\n        chk_later\n    }")
    );
    let l = ok(&text);
    assert_eq!(vi1(&l).track_scripts[0].script, "chk_later");
    warning(&l, "keepalived 2.2.7 ignores it ('not found')", 5);
    let s = l.config.script("chk_later").unwrap();
    assert_eq!((s.weight, s.reverse), (10, true));
}

#[test]
fn v3_checksum_variant_is_selected_with_keepalived_keyword() {
    let l = ok(&inst("    version 3\n    v3_checksum_as_v2"));
    assert_eq!(vi1(&l).v3_checksum, V3Checksum::MessageOnly);
    let l = ok(&inst("    version 3"));
    assert_eq!(vi1(&l).v3_checksum, V3Checksum::PseudoHeader);
    let text = format!(
        "global_defs {{\n    v3_checksum_as_v2\n}}\n{}",
        inst("    version 3")
    );
    assert_eq!(vi1(&ok(&text)).v3_checksum, V3Checksum::MessageOnly);
    let text = format!(
        "global_defs {{\n    v3_checksum_as_v2\n}}\n{}",
        inst("    version 3\n    v3_checksum_as_v2 false")
    );
    assert_eq!(vi1(&ok(&text)).v3_checksum, V3Checksum::PseudoHeader);
}

#[test]
fn notify_commands_with_user_and_group() {
    let l = ok(&inst(
        "    notify_master \"/etc/keepalived/notify.sh MASTER\" root wheel\n    notify_backup /etc/keepalived/backup.sh\n    notify \"/usr/bin/logger -t vrrp\"",
    ));
    let n = &vi1(&l).notify;
    let m = n.master.as_ref().unwrap();
    assert_eq!(m.command, "/etc/keepalived/notify.sh MASTER");
    assert_eq!(
        (m.user.as_deref(), m.group.as_deref()),
        (Some("root"), Some("wheel"))
    );
    assert_eq!(
        n.backup.as_ref().unwrap().command,
        "/etc/keepalived/backup.sh"
    );
    assert_eq!(n.any.as_ref().unwrap().command, "/usr/bin/logger -t vrrp");
    assert!(n.fault.is_none() && n.stop.is_none());
}

#[test]
fn global_defs_of_the_stock_sample() {
    let text = "global_defs {\n   notification_email {\n     acassen@firewall.loc\n     failover@firewall.loc\n   }\n   notification_email_from Alexandre.Cassen@firewall.loc\n   smtp_server 192.0.2.200\n   smtp_connect_timeout 30\n   router_id LVS_DEVEL\n   vrrp_skip_check_adv_addr\n   vrrp_garp_interval 0.001\n   vrrp_gna_interval 0\n   vrrp_garp_master_delay 1\n   vrrp_garp_master_repeat 3\n   vrrp_version 3\n   vrrp_startup_delay 5.5\n   enable_script_security\n   script_user keepalived_script nogroup\n   max_auto_priority\n   vrrp_no_swap\n   vrrp_rt_priority 50\n}\n";
    let l = ok(text);
    let g = &l.config.global;
    assert_eq!(g.notification_email.len(), 2);
    assert_eq!(g.router_id.as_deref(), Some("LVS_DEVEL"));
    assert!(g.skip_check_adv_addr && g.enable_script_security);
    assert_eq!(g.garp_interval_us, 1000);
    assert_eq!((g.garp.master_delay_s, g.garp.master_repeat), (1, 3));
    assert_eq!(g.vrrp_version, Version::V3);
    assert_eq!(g.startup_delay_ms, 5500);
    assert_eq!(g.script_user.as_deref(), Some("keepalived_script"));
    assert_eq!(g.script_group.as_deref(), Some("nogroup"));
    // "accepted, no effect", where an operator would care.
    for (kw, line) in [
        ("notification_email", 2),
        ("notification_email_from", 6),
        ("smtp_server", 7),
        ("smtp_connect_timeout", 8),
        ("max_auto_priority", 19),
        ("vrrp_no_swap", 20),
        ("vrrp_rt_priority", 21),
    ] {
        let w = warning(&l, &format!("'{kw}' accepted, no effect"), line);
        assert_eq!(w.category, Category::NoEffect);
    }
    assert!(
        l.clone().strict().is_ok(),
        "no-effect warnings are not --strict errors"
    );
}

#[test]
fn instance_garp_overrides_global_and_other_fields_are_recorded() {
    let text = format!(
        "global_defs {{\n    vrrp_garp_master_delay 2\n    vrrp_garp_master_refresh 60\n}}\n{}",
        inst(
            "    garp_master_repeat 2\n    unicast_src_ip 192.0.2.4\n    unicast_peer {\n        192.0.2.5\n    }\n    mcast_src_ip 192.0.2.4\n    use_vmac vrrp.50\n    dont_track_primary\n    no_accept\n    lower_prio_no_advert\n    track_interface {\n        eth1 weight -20\n        eth2\n    }",
        )
    );
    let l = ok(&text);
    let i = vi1(&l);
    assert_eq!(
        (
            i.garp.master_delay_s,
            i.garp.master_repeat,
            i.garp.master_refresh_s
        ),
        (2, 2, 60)
    );
    assert_eq!(i.unicast_src, Some("192.0.2.4".parse::<IpAddr>().unwrap()));
    assert_eq!(
        i.unicast_peers,
        vec!["192.0.2.5".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(i.mcast_src, i.unicast_src);
    assert_eq!(i.use_vmac.as_deref(), Some("vrrp.50"));
    assert!(i.dont_track_primary && !i.accept && i.lower_prio_no_advert);
    assert_eq!(i.track_interfaces.len(), 2);
    assert_eq!(i.track_interfaces[0].weight, -20);
    assert_eq!(i.track_interfaces[1].weight, 0);
    // Recorded, and listed as accepted without effect.
    let no_effect: Vec<(u32, bool)> = l
        .warnings
        .iter()
        .map(|w| (w.line().unwrap(), w.category == Category::NoEffect))
        .collect();
    assert_eq!(no_effect, [(13, true), (14, true)], "{:?}", l.warnings);
}

#[test]
fn sync_group_and_scripts() {
    let text = format!(
        "vrrp_sync_group VG_1 {{\n    group {{\n        VI_1 VI_2\n        VI_9\n    }}\n    notify_master \"/bin/true group\"\n}}\nvrrp_script chk {{\n    script \"/usr/bin/pgrep haproxy\"\n    interval 0.5\n    timeout 2\n    weight 10 reverse\n    rise 3\n    fall 4\n    user nobody nogroup\n    init_fail\n}}\n{}{}",
        inst(""),
        inst("")
            .replace("VI_1", "VI_2")
            .replace("router_id 50", "router_id 51")
            .replace("192.0.2.3", "192.0.2.4")
    );
    let l = ok(&text);
    let g = &l.config.sync_groups[0];
    assert_eq!(g.instances, vec!["VI_1", "VI_2"]);
    assert_eq!(g.notify.master.as_ref().unwrap().command, "/bin/true group");
    warning(
        &l,
        "Virtual router VI_9 specified in sync group VG_1 doesn't exist - ignoring",
        1,
    );
    let s = l.config.script("chk").unwrap();
    assert_eq!(s.interval_ms, 500);
    assert_eq!(s.timeout_ms, 2000);
    assert_eq!((s.weight, s.reverse, s.rise, s.fall), (10, true, 3, 4));
    assert_eq!(
        (s.user.as_deref(), s.group.as_deref()),
        (Some("nobody"), Some("nogroup"))
    );
    assert!(s.init_fail);
}

/// Two instances VI_1 (priority `p1`, `track1`) and VI_2, in sync group VG_1 with `extra`.
fn sync_pair(p1: u8, track1: &str, extra: &str) -> String {
    format!(
        "vrrp_script chk {{\n    script \"/bin/true\"\n    weight -20\n}}\nvrrp_script zero {{\n    script \"/bin/true\"\n}}\nvrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n{extra}}}\n{}{}",
        inst(&format!("    priority {p1}\n{track1}")),
        inst("")
            .replace("VI_1", "VI_2")
            .replace("router_id 50", "router_id 51")
            .replace("192.0.2.3", "192.0.2.4")
    )
}

fn tracked_ifaces(i: &Instance) -> Vec<(&str, i16)> {
    i.track_interfaces
        .iter()
        .map(|t| (t.interface.as_str(), t.weight))
        .collect()
}

const TRACKING: &str = "    track_interface {\n        eth1 weight -30\n        eth2\n    }\n    track_script {\n        chk\n        zero\n    }";

#[test]
fn sync_group_members_track_with_weight_zero() {
    // keepalived 2.2.7 vrrp_complete_instance: weighted interfaces of a sync group member are
    // set to weight 0 (the member fails with them), weighted scripts are dropped.
    let l = ok(&sync_pair(100, TRACKING, ""));
    let i = vi1(&l);
    assert_eq!(tracked_ifaces(i), vec![("eth1", 0), ("eth2", 0)]);
    assert_eq!(
        i.track_scripts
            .iter()
            .map(|t| t.script.as_str())
            .collect::<Vec<_>>(),
        vec!["zero"]
    );
    warning(
        &l,
        "(VI_1) ignoring eth1 tracked interface weight due to SYNC group",
        14,
    );
    warning(
        &l,
        "(VI_1) ignoring tracked script chk with weights due to SYNC group",
        14,
    );
    // sync_group_tracking_weight keeps them.
    let l = ok(&sync_pair(
        100,
        TRACKING,
        "    sync_group_tracking_weight\n",
    ));
    assert!(l.config.sync_groups[0].tracking_weight);
    assert_eq!(vi1(&l).track_interfaces[0].weight, -30);
    assert_eq!(vi1(&l).track_scripts.len(), 2);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}

#[test]
fn an_address_owner_drops_weighted_tracking() {
    let text = inst(&format!("    state MASTER\n    priority 255\n{TRACKING}"));
    let l = ok(&format!(
        "vrrp_script chk {{\n    script \"/bin/true\"\n    weight -20\n}}\nvrrp_script zero {{\n    script \"/bin/true\"\n}}\n{text}"
    ));
    let i = vi1(&l);
    assert_eq!(tracked_ifaces(i), vec![("eth2", 0)]);
    assert_eq!(i.track_scripts.len(), 1);
    warning(
        &l,
        "(VI_1) ignoring eth1 tracked interface due to address owner",
        8,
    );
    warning(
        &l,
        "(VI_1) ignoring tracked script chk with weights due to address_owner",
        8,
    );
}

#[test]
fn include_in_memory_is_reported_not_followed() {
    let l = ok(&format!(
        "include /etc/keepalived/conf.d/*.conf\n{}",
        inst("")
    ));
    let w = warning(&l, "include '/etc/keepalived/conf.d/*.conf' ignored", 1);
    assert_eq!(w.category, Category::Unsupported);
}

#[test]
fn parse_str_survives_garbage() {
    for text in [
        "",
        "}",
        "{",
        "{{{{",
        "}}}}",
        "\"",
        "vrrp_instance",
        "vrrp_instance {",
        "a b c { d { e } } }",
        "vrrp_instance X { virtual_ipaddress { / } }",
        "global_defs { \\",
        "\\",
        "!\n#\n",
        "vrrp_instance X {\n virtual_ipaddress {\n 1.2.3.4/255 brd\n }\n}",
        "vrrp_instance X {\n track_script {\n a weight\n }\n}",
        "vrrp_instance X {\n advert_int 99999999999999999999.99999999999\n}",
        "include",
        "include {,}{,}{,}{,}{,}",
    ] {
        let _ = config::keepalived::parse_str("fuzz.conf", text);
    }
    let deep = "a {\n".repeat(10_000);
    let err = config::keepalived::parse_str("deep.conf", &deep).unwrap_err();
    assert!(err.to_string().contains("nested more than"), "{err}");
}

#[test]
fn vrrp_script_runs_only_its_first_word_arguments_go_inside_the_quotes() {
    // keepalived 2.2.7 (vrrp_vscript_script_handler → set_script_params_array) splits only the
    // first word after `script` into argv: `script /usr/bin/test -e /x` runs `/usr/bin/test`.
    let l = ok(
        "vrrp_script chk {\n    script /usr/bin/test -e /x\n}\nvrrp_script q {\n    script \"/usr/bin/test -e '/a b'\"\n}\n",
    );
    assert_eq!(l.config.scripts[0].command, "/usr/bin/test");
    warning(&l, "ignoring '-e' after 'script'", 2);
    assert_eq!(l.config.scripts[1].command, "/usr/bin/test -e '/a b'");
}

/// keepalived 2.2.7's GARP pacing keywords: the lower priority burst defaults to the global
/// GARP delay and repeat (not the instance's), `strict_mode` resets it with keepalived's
/// warning, a refresh repeat of 0 becomes 1 with its warning, and the intervals are recorded.
#[test]
fn garp_refresh_repeat_lower_prio_and_intervals_like_keepalived() {
    let text = format!(
        "global_defs {{\n    vrrp_garp_master_delay 3\n    vrrp_garp_master_repeat 4\n    \
         vrrp_garp_interval 0.05\n    vrrp_gna_interval 0.002\n}}\n{}",
        inst(
            "    garp_master_repeat 2\n    garp_master_refresh 10\n    garp_master_refresh_repeat 0"
        )
    );
    let l = ok(&text);
    let i = vi1(&l);
    assert_eq!(
        (
            i.garp.master_delay_s,
            i.garp.master_repeat,
            i.garp.master_refresh_s,
            i.garp.master_refresh_repeat,
            i.garp.lower_prio_delay_s,
            i.garp.lower_prio_repeat
        ),
        (3, 2, 10, 1, 3, 4)
    );
    warning(&l, "garp_master_refresh_repeat must be greater than 0", 12);
    assert_eq!(l.config.global.garp_interval_us, 50_000);
    assert_eq!(l.config.global.gna_interval_us, 2_000);
    // Global lower priority defaults, and an instance's own.
    let text = format!(
        "global_defs {{\n    vrrp_garp_lower_prio_delay 7\n    vrrp_garp_lower_prio_repeat 1\n    \
         vrrp_garp_master_refresh_repeat 3\n}}\n{}",
        inst("    garp_lower_prio_repeat 0")
    );
    let l = ok(&text);
    let i = vi1(&l);
    assert_eq!(
        (
            i.garp.lower_prio_delay_s,
            i.garp.lower_prio_repeat,
            i.garp.master_refresh_repeat
        ),
        (7, 0, 3)
    );
    // strict_mode: no lower priority bursts; a set repeat is reset with a warning.
    let l = ok(&inst("    strict_mode\n    garp_lower_prio_repeat 2"));
    assert_eq!(vi1(&l).garp.lower_prio_repeat, 0);
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("Strict mode requires no repeat garps")),
        "{:?}",
        l.warnings
    );
    // Defaults: keepalived's.
    let i = &ok(&inst("")).config.instances[0];
    assert_eq!(
        (
            i.garp.master_refresh_repeat,
            i.garp.lower_prio_delay_s,
            i.garp.lower_prio_repeat
        ),
        (1, 5, 5)
    );
}

#[test]
fn no_track_on_a_vip_is_accepted_without_effect_and_said_so() {
    // keepalived: a VIP with no_track is not watched; vrrpd watches none.
    let l = ok(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    virtual_ipaddress {\n        192.0.2.3 no_track\n        192.0.2.5/24 dev eth0 no_track label eth0:5\n    }\n}\n",
    );
    let i = vi1(&l);
    assert_eq!(i.vips.len(), 2);
    assert_eq!(
        i.vips[1].label.as_deref(),
        Some("eth0:5"),
        "options after it still read"
    );
    let w = warning(
        &l,
        "'no_track' accepted, no effect: vrrpd does not watch its VIPs",
        5,
    );
    assert_eq!(w.category, Category::NoEffect);
    assert_eq!(
        l.warnings
            .iter()
            .filter(|w| w.category == Category::Unsupported)
            .count(),
        0,
        "{:?}",
        l.warnings
    );
}

/// `native_ipv6` as keepalived 2.2.7 reads it (`keepalived -t`): after an IPv4 VIP it is
/// ignored with "Cannot specify native_ipv6 with IPv4 addresses"; before the VIPs it makes the
/// instance IPv6 (version 3), and an IPv4 VIP after it is skipped with "address family must
/// match VRRP instance [ADDR] - ignoring" at the VIP's line.
#[test]
fn native_ipv6_makes_the_instance_ipv6_as_keepalived_does() {
    let text = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 50\n    native_ipv6\n    virtual_ipaddress {\n        192.0.2.3\n        2001:db8::3\n    }\n}\n";
    let l = ok(text);
    warning(
        &l,
        "(VI_1): address family must match VRRP instance [192.0.2.3] - ignoring",
        6,
    );
    let vips: Vec<IpAddr> = vi1(&l).vips.iter().map(|v| v.address).collect();
    assert_eq!(vips, vec!["2001:db8::3".parse::<IpAddr>().unwrap()]);
    // With only that IPv4 VIP, none is left: keepalived's v3 error.
    let e = config::keepalived::parse_str("q.conf", &inst("    native_ipv6")).unwrap_err();
    assert!(e.to_string().contains("(VI_1) No VIP specified"), "{e}");
    let text = "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 51\n    native_ipv6\n    virtual_ipaddress {\n        2001:db8::3\n    }\n}\n";
    let l = ok(text);
    let vi2 = l.config.instance("VI_2").unwrap();
    assert_eq!(vi2.version, Version::V3);
    assert_eq!(
        vi2.vips[0].address,
        "2001:db8::3".parse::<IpAddr>().unwrap()
    );
    // No fix-up warning about version 2 with IPv6: native_ipv6 set version 3 itself.
    assert!(
        !l.warnings
            .iter()
            .any(|w| w.message.contains("setting version 3")),
        "{:#?}",
        l.warnings
    );
    let text = "vrrp_instance VI_3 {\n    interface eth0\n    virtual_router_id 52\n    virtual_ipaddress {\n        192.0.2.7\n    }\n    native_ipv6\n}\n";
    let l = ok(text);
    warning(
        &l,
        "(VI_3) Cannot specify native_ipv6 with IPv4 addresses",
        7,
    );
    let vi3 = l.config.instance("VI_3").unwrap();
    assert_eq!(vi3.vips[0].address, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
}

/// `check_unicast_src`, `vrrp_check_unicast_src` and `dynamic_interfaces` are accepted and
/// `vrrpd check` says why they have no effect; an unknown `dynamic_interfaces` option gets
/// keepalived's "Unknown dynamic_interfaces option 'foo'".
#[test]
fn check_unicast_src_and_dynamic_interfaces_are_accepted_without_effect() {
    let text = format!(
        "global_defs {{\n    vrrp_check_unicast_src\n    dynamic_interfaces foo\n}}\n{}",
        inst("    check_unicast_src\n    unicast_peer {\n        192.0.2.9\n    }")
    );
    let l = ok(&text);
    let w = warning(&l, "'vrrp_check_unicast_src' accepted, no effect", 2);
    assert_eq!(w.category, Category::NoEffect);
    assert!(w.message.contains("unicast_peer"), "{w}");
    warning(&l, "'dynamic_interfaces' accepted, no effect", 3);
    warning(&l, "Unknown dynamic_interfaces option 'foo'", 3);
    // `inst` puts its body from line 4 on, after the 4 global_defs lines.
    warning(&l, "'check_unicast_src' accepted, no effect", 8);
    assert_eq!(vi1(&l).unicast_peers.len(), 1);
    let plain = ok(&format!(
        "global_defs {{\n    dynamic_interfaces allow_if_changes\n}}\n{}",
        inst("")
    ));
    assert!(!plain.warnings.iter().any(|w| w.message.contains("Unknown")));
}

/// keepalived 2.2.7 as Debian builds it (nftables, no iptables) warns that `vrrp_iptables` is
/// replaced by nftables, knows the `nftables*` keywords and not `vrrp_nftables`/`vrrp_ipsets`
/// (checked with `keepalived -t`); vrrpd says the same and that its XDP program does the work.
#[test]
fn firewall_keywords_are_keepalived_s_and_have_no_effect() {
    let text = format!(
        "global_defs {{\n    vrrp_iptables\n    nftables keepalived\n    nftables_priority -1\n    \
         nftables_counters\n    vrrp_ipsets\n}}\n{}",
        inst("    no_accept")
    );
    let l = ok(&text);
    warning(
        &l,
        "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and \
         'vrrp_ipsets' with 'nftables' config option",
        2,
    );
    let w = warning(&l, "'vrrp_iptables' accepted, no effect", 2);
    assert!(w.message.contains("XDP"), "{w}");
    for (k, line) in [
        ("nftables", 3),
        ("nftables_priority", 4),
        ("nftables_counters", 5),
    ] {
        assert_eq!(
            warning(&l, &format!("'{k}' accepted, no effect"), line).category,
            Category::NoEffect
        );
    }
    warning(&l, "keyword 'vrrp_ipsets'", 6);
}

#[test]
fn notify_master_rx_lower_pri_keeps_the_first_like_keepalived() {
    let l = ok(&inst(
        "    notify_master_rx_lower_pri \"/bin/true one\" nobody\n    notify_master_rx_lower_pri \"/bin/true two\"",
    ));
    let c = vi1(&l).notify.master_rx_lower_pri.as_ref().expect("kept");
    assert_eq!(c.command, "/bin/true one");
    assert_eq!(c.user.as_deref(), Some("nobody"));
    // keepalived 2.2.7: "(VI_1) notify_master_rx_lower_pri script already specified - ignoring
    // /bin/true two" at line 5.
    let w = warning(
        &l,
        "(VI_1) notify_master_rx_lower_pri script already specified - ignoring /bin/true two",
        5,
    );
    assert_eq!(w.category, Category::Fixup);
    assert!(
        !l.warnings.iter().any(|w| w.message.contains("nknown")),
        "{:?}",
        l.warnings
    );
}

/// `global_defs { vrrp_notify_priority_changes G }`, `vrrp_sync_group VG_1 { group { VI_1 }
/// S }` and VI_1 with `I` (each line left out when empty).
fn priority_changes(g: &str, s: &str, i: &str) -> Loaded {
    let global = if g.is_empty() {
        String::new()
    } else {
        format!("global_defs {{\n    {g}\n}}\n")
    };
    let group =
        format!("vrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n    }}\n    {s}\n}}\n");
    ok(&format!("{global}{group}{}", inst(&format!("    {i}"))))
}

#[test]
fn notify_priority_changes_defaults_to_the_sync_group_then_the_global_one() {
    let on = |l: &Loaded| vi1(l).notify.priority_changes == Some(true);
    assert!(!on(&priority_changes("", "", "")));
    assert!(on(&priority_changes(
        "vrrp_notify_priority_changes",
        "",
        ""
    )));
    assert!(on(&priority_changes("", "", "notify_priority_changes")));
    assert!(on(&priority_changes("", "notify_priority_changes on", "")));
    assert!(!on(&priority_changes(
        "vrrp_notify_priority_changes yes",
        "notify_priority_changes off",
        ""
    )));
    assert!(on(&priority_changes(
        "vrrp_notify_priority_changes no",
        "notify_priority_changes false",
        "notify_priority_changes true"
    )));
    assert!(!on(&priority_changes(
        "vrrp_notify_priority_changes",
        "notify_priority_changes",
        "notify_priority_changes no"
    )));
}

#[test]
fn notify_priority_changes_bad_values_are_keepalived_s_warnings() {
    // keepalived 2.2.7 (`keepalived -t -l -D`) says these three and keeps the defaults.
    let l = priority_changes(
        "vrrp_notify_priority_changes maybe",
        "notify_priority_changes sometimes",
        "notify_priority_changes perhaps",
    );
    warning(
        &l,
        "Invalid value 'maybe' for global vrrp_notify_priority_changes specified",
        2,
    );
    warning(
        &l,
        "(VG_1) Invalid value 'sometimes' for sync group notify_priority_changes specified",
        8,
    );
    warning(
        &l,
        "(VI_1) Invalid value 'perhaps' for notify_priority_changes specified",
        13,
    );
    assert_eq!(vi1(&l).notify.priority_changes, None);
    assert!(!l.config.global.vrrp_notify_priority_changes);
}

/// keepalived 2.2.7's `vrrp_skip_check_adv_addr_handler` sets the flag for any true/false
/// word, `false` included (it only checks that the word is one); the global keyword sets it
/// for every instance (`alloc_vrrp`).
#[test]
fn skip_check_adv_addr_is_set_by_false_too_as_keepalived_sets_it() {
    assert!(!vi1(&ok(&inst(""))).skip_check_adv_addr);
    for word in ["", " true", " yes", " on"] {
        let l = ok(&inst(&format!("    skip_check_adv_addr{word}")));
        assert!(vi1(&l).skip_check_adv_addr, "{word:?}");
        assert!(l.warnings.is_empty(), "{word:?}: {:?}", l.warnings);
    }
    let l = ok(&inst("    skip_check_adv_addr false"));
    assert!(vi1(&l).skip_check_adv_addr);
    assert_eq!(
        warning(
            &l,
            "skip_check_adv_addr false: keepalived 2.2.7 sets it all the same",
            4
        )
        .category,
        Category::Fixup
    );
    let l = ok(&inst("    skip_check_adv_addr maybe"));
    assert!(!vi1(&l).skip_check_adv_addr);
    warning(&l, "(VI_1) invalid skip_check_adv_addr maybe specified", 4);
    // The global keyword: every instance, with no warning.
    let l = ok(&format!(
        "global_defs {{\n   vrrp_skip_check_adv_addr\n}}\n{}",
        inst("")
    ));
    assert!(vi1(&l).skip_check_adv_addr);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
}
