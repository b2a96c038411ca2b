//! Operators inspect the maps with `bpftool map dump name …` during incidents: every map must
//! be found by its name and print field names (BTF), not bytes.
use vrrp_userspace::lab as common;

use std::process::Command;

use vrrp_common::maps::{Family, IfaceConfig, RouterConfig};
use vrrp_userspace::dataplane::{Dataplane, map_names};

fn bpftool_dump(name: &str) -> String {
    let out = Command::new("bpftool")
        .args(["map", "dump", "name", name])
        .output()
        .expect("bpftool runs");
    assert!(
        out.status.success(),
        "bpftool map dump name {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn bpftool_finds_every_map_by_name_and_prints_field_names() {
    if !common::privileged("bpftool_finds_every_map_by_name_and_prints_field_names") {
        return;
    }
    let mut dp = Dataplane::load().unwrap();
    dp.set_router(
        Family::Ipv4,
        50,
        &RouterConfig::new(
            2,
            Some(*b"1111\0\0\0\0"),
            100,
            100,
            [192, 0, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            false,
        ),
    )
    .unwrap();
    dp.add_vip("192.0.2.3".parse().unwrap(), 50).unwrap();
    dp.add_vip6("2001:db8::3".parse().unwrap(), Family::Ipv6, 50)
        .unwrap();
    dp.set_iface(&IfaceConfig::default()).unwrap();

    let expect: [(&str, &[&str]); 10] = [
        (
            map_names::ROUTERS,
            &["\"flags\"", "\"auth_data\"", "\"primary\""],
        ),
        (
            map_names::ADVERTS,
            &["\"time_ns\"", "\"priority\"", "\"src\"", "\"same_tick\""],
        ),
        (map_names::VIPS, &["\"vrid\": 50"]),
        // IPv6 router 50 is router index 256 + 50.
        (map_names::VIPS6, &["\"router\": 306", "32,1,13,184"]),
        (
            map_names::IFACE,
            &[
                "\"heartbeat_ns\"",
                "\"stale_after_ns\"",
                "\"hold_ns\"",
                "\"mac\"",
                "\"flags\"",
                "\"vlan\"",
            ],
        ),
        (map_names::DROPS, &["\"by_reason\""]),
        (map_names::COUNTERS, &["\"values\""]),
        // Slot 3 holds both VIPs: 192.0.2.3 (router 50) and 2001:db8::3 (router 306).
        (
            map_names::VIPSLOTS,
            &[
                "\"addr4\"",
                "\"router4\": [50,0,0,0",
                "\"router6\": [306,0",
                "\"more6\"",
            ],
        ),
        (map_names::CLOCK, &["\"tick\"", "\"coarse_ns\""]),
        (map_names::TAKEOVER, &["\"key\"", "\"value\""]),
    ];
    for (name, fields) in expect {
        let dump = bpftool_dump(name);
        for field in fields {
            assert!(
                dump.contains(field),
                "{name}: no {field} in\n{}",
                &dump[..dump.len().min(2000)]
            );
        }
    }
    // The ring buffer has no entries to dump, but bpftool must find it by name.
    let out = Command::new("bpftool")
        .args(["map", "show", "name", map_names::EVENTS])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("ringbuf"));
    drop(dp);
}
