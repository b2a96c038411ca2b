//! The seed tutorial's configs (in `examples/tutorial/`) parse unchanged to the
//! expected model, field by field, and their TOML conversions load back to equal models.

use std::net::IpAddr;

use vrrp_userspace::{
    config::{self, Auth, Config, InitialState, Instance, Scope, V3Checksum, Version, Vip},
    units::{Centis, Priority, Vrid},
};

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/tutorial/");

fn load_seed(name: &str) -> config::Loaded {
    let path = format!("{SEED}{name}");
    let loaded = config::load(std::path::Path::new(&path))
        .unwrap_or_else(|e| panic!("{name} must parse: {e}"));
    assert!(
        loaded.warnings.is_empty(),
        "{name}: unexpected warnings {:?}",
        loaded.warnings
    );
    loaded
}

fn pass(s: &str) -> Auth {
    let mut pw = [0u8; 8];
    pw[..s.len()].copy_from_slice(s.as_bytes());
    Auth::Pass { password: pw }
}

fn vip(addr: &str) -> Vip {
    Vip {
        address: addr.parse::<IpAddr>().unwrap(),
        prefix_len: 32,
        dev: "eth0".into(),
        label: None,
        scope: Scope::Global,
        broadcast: None,
    }
}

/// Fields every seed instance shares.
fn assert_common(i: &Instance, file: &str, line: u32) {
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.interface, "eth0");
    assert_eq!(i.vrid, Vrid::new(50).unwrap());
    assert_eq!(i.advert_interval, Centis(100));
    assert_eq!(i.version, Version::V2);
    assert_eq!(i.preempt_delay, Centis(0));
    assert_eq!(i.auth, pass("1111"));
    assert!(i.excluded_vips.is_empty());
    assert_eq!(i.unicast_src, None);
    assert!(i.unicast_peers.is_empty());
    assert!(i.track_interfaces.is_empty());
    assert!(i.track_scripts.is_empty());
    assert!(i.notify.is_empty());
    assert_eq!(i.garp.master_delay_s, 5);
    assert_eq!(i.garp.master_repeat, 5);
    assert!(
        i.accept,
        "keepalived defaults to accept mode outside vrrp_strict"
    );
    assert_eq!(i.v3_checksum, V3Checksum::PseudoHeader);
    assert!(!i.lower_prio_no_advert);
    assert!(!i.strict);
    assert_eq!(i.use_vmac, None);
    assert!(i.source.file.ends_with(file), "{}", i.source.file);
    assert_eq!(i.source.line, line);
}

fn only_instance(c: &Config) -> &Instance {
    assert_eq!(c.instances.len(), 1);
    assert!(c.scripts.is_empty());
    assert!(c.sync_groups.is_empty());
    &c.instances[0]
}

#[test]
fn lb01_master_preemptive() {
    let l = load_seed("lb01.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb01"));
    assert_eq!(l.config.global.vrrp_version, Version::V2);
    let i = only_instance(&l.config);
    assert_common(i, "lb01.conf", 6);
    assert_eq!(i.state, InitialState::Master);
    assert_eq!(i.priority, Priority(100));
    assert!(i.preempt);
    assert_eq!(i.vips, vec![vip("192.0.2.3")]);
}

#[test]
fn lb02_backup_preemptive() {
    let l = load_seed("lb02.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb02"));
    let i = only_instance(&l.config);
    assert_common(i, "lb02.conf", 6);
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(i.priority, Priority(90));
    assert!(i.preempt);
    assert_eq!(i.vips, vec![vip("192.0.2.3")]);
}

#[test]
fn lb01_nopreempt() {
    let l = load_seed("lb01-nopreempt.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb01"));
    let i = only_instance(&l.config);
    assert_common(i, "lb01-nopreempt.conf", 5);
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(i.priority, Priority(100));
    assert!(!i.preempt);
    assert_eq!(i.vips, vec![vip("192.0.2.3")]);
}

#[test]
fn lb02_nopreempt() {
    let l = load_seed("lb02-nopreempt.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb02"));
    let i = only_instance(&l.config);
    assert_common(i, "lb02-nopreempt.conf", 5);
    assert_eq!(i.state, InitialState::Backup);
    assert_eq!(i.priority, Priority(90));
    assert!(!i.preempt);
    assert_eq!(i.vips, vec![vip("192.0.2.3")]);
}

#[test]
fn annotated_comments_everywhere() {
    // Trailing `#` comments on every line, and a commented-out `#nopreempt`.
    let l = load_seed("annotated.conf");
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb01"));
    let i = only_instance(&l.config);
    assert_common(i, "annotated.conf", 5);
    assert_eq!(i.state, InitialState::Master);
    assert_eq!(i.priority, Priority(100));
    assert!(i.preempt, "#nopreempt is a comment");
    assert_eq!(i.vips, vec![vip("10.0.0.3")]);
}

#[test]
fn seeds_round_trip_through_toml() {
    for name in [
        "lb01.conf",
        "lb02.conf",
        "lb01-nopreempt.conf",
        "lb02-nopreempt.conf",
        "annotated.conf",
    ] {
        let from_conf = load_seed(name).config;
        let text = config::toml::to_string(&from_conf);
        assert_eq!(config::detect(&text), config::Format::Toml, "{name}");
        let from_toml = config::toml::parse_str("converted.toml", &text)
            .unwrap_or_else(|e| panic!("{name} as TOML must load: {e}\n{text}"));
        assert!(from_toml.warnings.is_empty(), "{:?}", from_toml.warnings);
        assert_eq!(from_toml.config, from_conf, "{name}\n{text}");
        // The TOML front end gives its own locations: the `[[instance]]` header line.
        let toml_line = text
            .lines()
            .position(|l| l == "[[instance]]")
            .expect("an [[instance]] table") as u32
            + 1;
        assert_eq!(from_toml.config.instances[0].source.line, toml_line);
        assert_eq!(from_toml.config.instances[0].source.file, "converted.toml");
    }
}

/// REFERENCE.md's tutorial config with a health script (10.0.0.x as the tutorial has it).
const TUTORIAL: &str = r#"! Configuration File for keepalived
global_defs {
   router_id LB1
}
vrrp_script chk_haproxy {
    script "/usr/bin/killall -0 haproxy"   # cheaper than pidof
    interval 2
    weight -30
    fall 2
    rise 2
}
vrrp_instance VI_1 {
    state MASTER            # BACKUP + lower priority on the peer
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        10.0.0.3
        10.0.0.4/24 dev eth0 label eth0:1
    }
    track_script {
        chk_haproxy
    }
}
"#;

#[test]
fn tutorial_with_vrrp_script_and_track_script() {
    let l = config::keepalived::parse_str("tutorial.conf", TUTORIAL).expect("parses");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("LB1"));
    let s = c.script("chk_haproxy").expect("script");
    assert_eq!(s.command, "/usr/bin/killall -0 haproxy");
    assert_eq!(s.interval_ms, 2000);
    assert_eq!(s.weight, -30);
    assert_eq!((s.fall, s.rise), (2, 2));
    assert!(!s.reverse);
    assert_eq!(s.source.line, 5);
    let i = c.instance("VI_1").expect("instance");
    assert_eq!(i.state, InitialState::Master);
    assert_eq!(i.vrid.get(), 51);
    assert_eq!(i.priority, Priority(150));
    assert_eq!(i.auth, pass("secret12"));
    assert_eq!(i.vips.len(), 2);
    assert_eq!(i.vips[0], vip("10.0.0.3"));
    assert_eq!(i.vips[1].prefix_len, 24);
    assert_eq!(i.vips[1].label.as_deref(), Some("eth0:1"));
    assert_eq!(i.track_scripts.len(), 1);
    assert_eq!(i.track_scripts[0].script, "chk_haproxy");
    assert_eq!(
        i.track_scripts[0].weight, None,
        "the script's own weight applies"
    );

    let text = config::toml::to_string(c);
    let back = config::toml::parse_str("t.toml", &text).expect("TOML loads");
    assert_eq!(&back.config, c);
}
