//! keepalived 2.2.7's configuration language beyond single keywords (issue 13): relative
//! `include`s, `$NAME` definitions, `@id` conditional lines, repeated keywords, and the fix-ups
//! keepalived applies to whole instances. Each case runs `vrrpd check` and, side by side,
//! `keepalived -t` on the same files in the same directory.

use vrrp_userspace::lab::side_by_side::{Dir, keepalived_t, vrrpd_check};

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");

/// An instance on eth0 (keepalived -t wants an existing, non-loopback interface), VRID 51.
fn instance(body: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n{body}    \
         virtual_ipaddress {{\n        192.0.2.3\n    }}\n}}\n"
    )
}

#[test]
fn relative_include_resolves_against_the_including_files_directory() {
    let d = Dir::new("inc-rel");
    d.write(
        "keepalived.conf",
        "vrrp_instance VI_1 {\n    include instance.d/vi1.conf\n    virtual_ipaddress {\n        \
         192.0.2.3\n    }\n}\n",
    )
    .write(
        "instance.d/vi1.conf",
        "state MASTER\ninterface eth0\nvirtual_router_id 51\npriority 101\ninclude prio.conf\n",
    )
    // Relative to instance.d/, where vi1.conf is: keepalived changes into each file's directory.
    .write("instance.d/prio.conf", "advert_int 2\n");
    // Run in the file's directory with a bare file name: the case that used to glob from `/`.
    let ours = vrrpd_check(VRRPD, d.path(), "keepalived.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.text.contains("state MASTER, priority 101"),
        "{}",
        ours.text
    );
    assert!(ours.text.contains("advert interval 2s"), "{}", ours.text);
    assert!(!ours.text.contains("matched no file"), "{}", ours.text);
    // From elsewhere, with a path: the same.
    let path = d.path().join("keepalived.conf");
    let ours = vrrpd_check(
        VRRPD,
        std::path::Path::new("/"),
        path.to_str().unwrap(),
        &[],
    );
    assert!(
        ours.text.contains("state MASTER, priority 101"),
        "{}",
        ours.text
    );
    if let Some(ka) = keepalived_t(
        "relative_include_resolves_against_the_including_files_directory",
        d.path(),
        "keepalived.conf",
        &[],
    ) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
        assert!(!ka.text.contains("No config files matched"), "{}", ka.text);
    }
}

/// The `$NAME` test file: `$P` is valid or not, the third VIP of the multi-line `$VIPS` is
/// valid or not, so that keepalived's complaints show which text it read.
fn definitions(prio: &str, third_vip: &str) -> String {
    format!(
        "$IF=eth0\n\
         $VIPS=192.0.2.10 \\\n    192.0.2.11/24 \\\n    {third_vip}\n\
         $P={prio}\n\
         vrrp_instance VI_1 {{\n\
         \x20   interface $IF\n\
         \x20   virtual_router_id 51\n\
         \x20   priority ${{P}}\n\
         \x20   virtual_ipaddress {{\n\
         \x20       $VIPS\n\
         \x20   }}\n\
         \x20   notify \"/usr/bin/logger $IF.x\"\n\
         }}\n"
    )
}

#[test]
fn definitions_are_substituted_like_keepalived() {
    let d = Dir::new("defs");
    d.write("good.conf", &definitions("120", "192.0.2.12"))
        .write("bad.conf", &definitions("300", "192.0.2.999"));
    let ours = vrrpd_check(VRRPD, d.path(), "good.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    for want in [
        "interface eth0,",
        "priority 120,",
        "VIP 192.0.2.10/32 dev eth0",
        "VIP 192.0.2.11/24 dev eth0",
        "VIP 192.0.2.12/32 dev eth0",
        "OK, 1 instance(s), 0 warning(s)",
    ] {
        assert!(ours.text.contains(want), "{want}:\n{}", ours.text);
    }
    // The bad values reach the keywords, and both name the line that uses the definition.
    let ours = vrrpd_check(VRRPD, d.path(), "bad.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(ours.says_at("bad.conf", 9, "'300'"), "{}", ours.text);
    assert!(ours.says_at("bad.conf", 11, "192.0.2.999"), "{}", ours.text);
    let test = "definitions_are_substituted_like_keepalived";
    if let Some(ka) = keepalived_t(test, d.path(), "good.conf", &[]) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
    }
    if let Some(ka) = keepalived_t(test, d.path(), "bad.conf", &[]) {
        assert!(
            ka.says_at("bad.conf", 9, "Priority not valid"),
            "{}",
            ka.text
        );
        assert!(ka.says_at("bad.conf", 11, "192.0.2.999"), "{}", ka.text);
    }
}

#[test]
fn an_undefined_name_stays_literal_with_a_warning() {
    let d = Dir::new("undef");
    d.write(
        "k.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    \
         track_interface {\n        $IFACE\n    }\n    virtual_ipaddress {\n        \
         192.0.2.3\n    }\n}\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert!(
        ours.says_at("k.conf", 5, "'$IFACE' is not defined"),
        "{}",
        ours.text
    );
    if let Some(ka) = keepalived_t("an_undefined_name_stays_literal", d.path(), "k.conf", &[]) {
        assert!(ka.says_at("k.conf", 5, "$IFACE"), "{}", ka.text);
    }
}

#[test]
fn definitions_that_refer_to_themselves_are_refused_not_looped() {
    let d = Dir::new("selfref");
    d.write(
        "k.conf",
        &format!("$A=x $A\n{}", instance("    priority $A\n")),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(
        ours.says_at("k.conf", 5, "refer to itself"),
        "{}",
        ours.text
    );
}

/// `@ID` lines: the dropped alternative holds a value keepalived complains about, so its
/// output shows which line it kept.
#[test]
fn conditional_lines_follow_the_config_id() {
    let d = Dir::new("atid");
    d.write(
        "k.conf",
        &instance("    @lb1 priority 150\n    @^lb1 priority 256\n    @lb2 state MASTER\n"),
    );
    let test = "conditional_lines_follow_the_config_id";
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &["-i", "lb1"]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.text.contains("state BACKUP, priority 150"),
        "{}",
        ours.text
    );
    if let Some(ka) = keepalived_t(test, d.path(), "k.conf", &["-i", "lb1"]) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
    }
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &["--config-id", "lb2"]);
    assert_eq!(ours.code, 2, "{}", ours.text);
    assert!(ours.says_at("k.conf", 5, "'256'"), "{}", ours.text);
    if let Some(ka) = keepalived_t(test, d.path(), "k.conf", &["-i", "lb2"]) {
        assert!(ka.says_at("k.conf", 5, "Priority not valid"), "{}", ka.text);
    }
    // Without -i: the host name up to its first dot, as keepalived.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let short = host.trim().split('.').next().unwrap().to_string();
    d.write(
        "host.conf",
        &instance(&format!(
            "    @{short} priority 170\n    @^{short} priority 256\n"
        )),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "host.conf", &[]);
    assert!(ours.text.contains("priority 170"), "{}", ours.text);
    if let Some(ka) = keepalived_t(test, d.path(), "host.conf", &[]) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
    }
}

/// Keywords given twice: keepalived keeps the first notify script of each kind, the first
/// `group` list of a sync group, and ignores a repeated tracked interface or script, each with
/// a warning; the others are last-wins. vrrpd does the same, with the same words at the same
/// lines.
#[test]
fn repeated_keywords_keep_keepalived_winner_and_warning() {
    let d = Dir::new("repeat");
    let text = "vrrp_script chk {\n    script /bin/true\n}\n\
                vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n\
                \x20   priority 90\n    priority 95\n\
                \x20   notify /bin/true\n    notify /bin/false\n\
                \x20   notify_master /bin/true\n    notify_master /bin/false\n\
                \x20   track_interface {\n        lo weight -10\n        lo\n    }\n\
                \x20   track_script {\n        chk\n    }\n    track_script {\n        chk\n    }\n\
                \x20   virtual_ipaddress {\n        192.0.2.3\n    }\n}\n\
                vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 52\n\
                \x20   virtual_ipaddress {\n        192.0.2.4\n    }\n}\n\
                vrrp_sync_group VG {\n    group {\n        VI_1\n        VI_2\n    }\n\
                \x20   notify_backup /bin/true\n    notify_backup /bin/false\n\
                \x20   group {\n        VI_2\n    }\n}\n";
    d.write("k.conf", text);
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    let expected = [
        (
            10,
            "(VI_1) notify script already specified - ignoring /bin/false",
        ),
        (
            12,
            "(VI_1) notify_master script already specified - ignoring /bin/false",
        ),
        (15, "(VI_1) duplicate track_interface lo - ignoring"),
        (21, "(VI_1) duplicate track_script chk - ignoring"),
        (
            40,
            "vrrp group VG: notify_backup script already specified - ignoring /bin/false",
        ),
        // Last in the group: keepalived 2.2.7 loses track of the block after this one.
        (41, "Group list already specified for sync group VG"),
    ];
    for (line, msg) in expected {
        assert!(
            ours.says_at("k.conf", line, msg),
            "{line}: {msg}\n{}",
            ours.text
        );
    }
    // The winners: the last priority, the first of the rest.
    assert!(ours.text.contains("priority 95"), "{}", ours.text);
    assert!(
        ours.text.contains("sync group VG: VI_1, VI_2"),
        "{}",
        ours.text
    );
    let loaded = vrrp_userspace::config::load(&d.path().join("k.conf")).unwrap();
    let vi1 = loaded.config.instance("VI_1").unwrap();
    assert_eq!(vi1.notify.any.as_ref().unwrap().command, "/bin/true");
    assert_eq!(vi1.notify.master.as_ref().unwrap().command, "/bin/true");
    assert_eq!(vi1.track_scripts.len(), 1);
    let vg = &loaded.config.sync_groups[0];
    assert_eq!(vg.notify.backup.as_ref().unwrap().command, "/bin/true");
    if let Some(ka) = keepalived_t("repeated_keywords", d.path(), "k.conf", &[]) {
        for (line, msg) in expected {
            assert!(
                ka.says_at("k.conf", line, msg),
                "{line}: {msg}\n{}",
                ka.text
            );
        }
    }
}

/// keepalived's whole-instance fix-ups: an AH instance that is not the address owner starts as
/// BACKUP, and a track_interface entry naming the instance's own interface is dropped (the
/// interface is tracked anyway), each with keepalived's warning.
#[test]
fn ah_clears_initial_master_and_own_interface_is_not_tracked_twice() {
    let d = Dir::new("ah");
    d.write(
        "k.conf",
        &instance(
            "    state MASTER\n    priority 100\n    authentication {\n        auth_type AH\n        \
             auth_pass secret12\n    }\n    track_interface {\n        eth0 weight -20\n        \
             lo\n    }\n",
        ),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    let expected = [
        "(VI_1) Initial state master is incompatible with AH authentication - clearing",
        "(VI_1) Ignoring track_interface eth0 since own interface",
    ];
    for msg in expected {
        assert!(ours.says_at("k.conf", 1, msg), "{msg}\n{}", ours.text);
    }
    assert!(
        ours.text.contains("state BACKUP, priority 100"),
        "{}",
        ours.text
    );
    assert!(ours.text.contains("auth AH"), "{}", ours.text);
    assert!(
        ours.text.contains("track interface lo weight 0"),
        "{}",
        ours.text
    );
    assert!(!ours.text.contains("track interface eth0"), "{}", ours.text);
    if let Some(ka) = keepalived_t("ah_clears_initial_master", d.path(), "k.conf", &[]) {
        for msg in expected {
            assert!(ka.text.contains(msg), "{msg}\n{}", ka.text);
        }
    }
    // The address owner keeps MASTER.
    d.write(
        "owner.conf",
        &instance(
            "    state MASTER\n    priority 255\n    authentication {\n        auth_type AH\n        \
             auth_pass secret12\n    }\n",
        ),
    );
    let ours = vrrpd_check(VRRPD, d.path(), "owner.conf", &[]);
    assert!(
        ours.text.contains("state MASTER, priority 255"),
        "{}",
        ours.text
    );
    assert!(!ours.text.contains("incompatible with AH"), "{}", ours.text);
    if let Some(ka) = keepalived_t("ah_clears_initial_master", d.path(), "owner.conf", &[]) {
        assert!(!ka.text.contains("incompatible with AH"), "{}", ka.text);
    }
}

/// `vrrpd check` lists every keyword it accepts without acting on, with its line and why (and
/// not those it acts on, like `enable_script_security` or a notify's user); the
/// TOML form of the same configuration lists the same. keepalived takes them all (-t silent).
/// `vrrp_mcast_group4/6` are acted on (the adverts go to those groups): not listed, and every
/// instance carries them, in either form.
#[test]
fn check_lists_what_it_accepts_without_effect() {
    let d = Dir::new("noeffect");
    d.write(
        "k.conf",
        "global_defs {\n    vrrp_mcast_group4 224.0.0.19\n    vrrp_mcast_group6 ff02::13\n    \
         vrrp_garp_interval 0.01\n    vrrp_startup_delay 2\n    enable_script_security\n}\n\
         vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    \
         mcast_src_ip 192.0.2.1\n    use_vmac\n    notify /bin/true root\n    \
         virtual_ipaddress {\n        192.0.2.3\n    }\n}\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.text.contains("accepted without effect (2):"),
        "{}",
        ours.text
    );
    assert!(!ours.text.contains("vrrp_mcast_group"), "{}", ours.text);
    // Acted on: no router takes over within the delay (the fsm's and controller's tests).
    assert!(!ours.text.contains("vrrp_startup_delay"), "{}", ours.text);
    for (line, kw) in [(11, "'mcast_src_ip'"), (12, "'use_vmac'")] {
        let listed = format!("  k.conf:{line}:");
        assert!(
            ours.text
                .lines()
                .any(|l| l.starts_with(&listed) && l.contains(kw) && l.contains("no effect: ")),
            "{line} {kw}\n{}",
            ours.text
        );
    }
    let loaded = vrrp_userspace::config::load(&d.path().join("k.conf")).unwrap();
    assert_eq!(
        loaded.config.global.mcast_group6,
        "ff02::13".parse::<std::net::Ipv6Addr>().unwrap()
    );
    let groups = |c: &vrrp_userspace::config::Config| {
        (
            c.instances[0].mcast_group4.to_string(),
            c.instances[0].mcast_group6.to_string(),
        )
    };
    let want = ("224.0.0.19".to_string(), "ff02::13".to_string());
    assert_eq!(groups(&loaded.config), want);
    // The TOML of it: the same, by field. (enable_script_security and a notify's user are
    // acted on: scripts.rs; so is vrrp_garp_interval, the controller paces the GARPs.)
    let toml = vrrp_userspace::config::toml::to_string(&loaded.config);
    d.write("k.toml", &toml);
    let ours = vrrpd_check(VRRPD, d.path(), "k.toml", &[]);
    assert!(
        ours.text.contains("accepted without effect (2):"),
        "{}",
        ours.text
    );
    assert!(!ours.text.contains("mcast_group"), "{}", ours.text);
    assert!(!ours.text.contains("startup_delay"), "{}", ours.text);
    let reloaded = vrrp_userspace::config::load(&d.path().join("k.toml")).unwrap();
    assert_eq!(groups(&reloaded.config), want);
    if let Some(ka) = keepalived_t("check_lists_what_it_accepts", d.path(), "k.conf", &[]) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
    }
}

/// Definitions and `@ID` apply before `include` is recognised, as in keepalived: an include
/// pattern may use a definition, and an `@ID include` line counts only on that host.
#[test]
fn include_lines_see_definitions_and_config_ids() {
    let d = Dir::new("incdef");
    d.write(
        "k.conf",
        "$SITE=east\nvrrp_instance VI_1 {\n    include site-${SITE}.conf\n    @lb1 include lb1.conf\n    \
         virtual_ipaddress {\n        192.0.2.3\n    }\n}\n",
    )
    .write("site-east.conf", "interface eth0\nvirtual_router_id 51\n")
    .write("lb1.conf", "priority 150\n");
    let test = "include_lines_see_definitions_and_config_ids";
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &["-i", "lb1"]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(ours.text.contains("VRID 51"), "{}", ours.text);
    assert!(ours.text.contains("priority 150"), "{}", ours.text);
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &["-i", "lb2"]);
    assert!(ours.text.contains("priority 100"), "{}", ours.text);
    // keepalived: with the include of lb1.conf holding a bad value, only -i lb1 complains.
    d.write("lb1.conf", "priority 256\n");
    if let Some(ka) = keepalived_t(test, d.path(), "k.conf", &["-i", "lb1"]) {
        assert!(
            ka.says_at("lb1.conf", 1, "Priority not valid"),
            "{}",
            ka.text
        );
    }
    if let Some(ka) = keepalived_t(test, d.path(), "k.conf", &["-i", "lb2"]) {
        assert!(ka.lines_with("Line").is_empty(), "{}", ka.text);
    }
    let ours = vrrpd_check(VRRPD, d.path(), "k.conf", &["-i", "lb1"]);
    assert!(ours.says_at("lb1.conf", 1, "'256'"), "{}", ours.text);
}

/// `notify_fifo` and `notify_fifo_script` given twice: keepalived keeps the first of each, with
/// its warning at the line of the other; `vrrp_notify_fifo` too.
#[test]
fn repeated_notify_fifos_keep_the_first() {
    let d = Dir::new("fifo");
    d.write(
        "k.conf",
        &format!(
            "global_defs {{\n    notify_fifo /tmp/vrrp-test-a.fifo\n    notify_fifo /tmp/vrrp-test-b.fifo\n    \
             notify_fifo_script /bin/true\n    notify_fifo_script /bin/false\n    \
             vrrp_notify_fifo /tmp/vrrp-test-c.fifo\n    vrrp_notify_fifo /tmp/vrrp-test-d.fifo\n}}\n{}",
            instance("")
        ),
    );
    let expected = [
        (
            3,
            "notify_fifo already specified - ignoring /tmp/vrrp-test-b.fifo",
        ),
        (
            5,
            "notify_fifo_script already specified - ignoring /bin/false",
        ),
        (
            7,
            "vrrp_notify_fifo already specified - ignoring /tmp/vrrp-test-d.fifo",
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
    let loaded = vrrp_userspace::config::load(&d.path().join("k.conf")).unwrap();
    let g = &loaded.config.global;
    assert_eq!(
        g.notify_fifo.as_ref().unwrap().path,
        "/tmp/vrrp-test-a.fifo"
    );
    assert_eq!(
        g.notify_fifo
            .as_ref()
            .unwrap()
            .script
            .as_ref()
            .unwrap()
            .command,
        "/bin/true"
    );
    assert_eq!(
        g.vrrp_notify_fifo.as_ref().unwrap().path,
        "/tmp/vrrp-test-c.fifo"
    );
    if let Some(ka) = keepalived_t("repeated_notify_fifos", d.path(), "k.conf", &[]) {
        for (line, msg) in expected {
            // keepalived names no file for these.
            assert!(
                ka.text.contains(&format!("(Line {line}) {msg}")),
                "{line}: {msg}\n{}",
                ka.text
            );
        }
    }
}
