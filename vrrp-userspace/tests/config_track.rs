//! `track_file` (`vrrp_track_file`) and `vrrp_track_process` (issue 13): tests/configs/track.conf
//! exercises each keyword and each of keepalived 2.2.7's warnings about them; `vrrpd check`
//! must say the same things, and, side by side, `keepalived -t` on the same file.

use vrrp_userspace::lab::side_by_side::{Dir, keepalived_t, vrrpd_check};

const VRRPD: &str = env!("CARGO_BIN_EXE_vrrpd");

/// What keepalived 2.2.7 says about tests/configs/track.conf (checked by hand and by
/// `keepalived -t` below), with the line vrrpd names.
const WARNINGS: &[(u32, &str)] = &[
    (4, "Weight already set for track file level - ignoring 7"),
    (
        5,
        "Track file level init value 300 is outside sensible range [-254, 254]",
    ),
    (5, "Unknown track file init option bogus"),
    (
        7,
        "\"vrrp_track_file\" is deprecated, please use \"track_file\"",
    ),
    (10, "No file set for track_file nofile - ignoring"),
    (15, "Invalid param_match type exact - ignoring"),
    (
        17,
        "Weight already set for track process daemon - ignoring 20",
    ),
    (19, "quorum_max is less than quorum - ignoring"),
    (22, "track process 'noproc' process name not specified"),
    (31, "(VI_1) duplicate track_file level - ignoring"),
    (32, "(VI_1) unknown track file option bogus - ignoring"),
    (
        33,
        "(VI_1) weight without value specified for track file old - ignoring",
    ),
    (
        36,
        "(VI_1) unknown track_process daemon weight option sideways - ignoring",
    ),
    (37, "(VI_1) track process later not found, ignoring..."),
];

#[test]
fn track_file_and_track_process_warn_as_keepalived_does() {
    let d = Dir::new("track");
    d.write("keepalived.conf", include_str!("configs/track.conf"));
    let ours = vrrpd_check(VRRPD, d.path(), "keepalived.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    for (line, msg) in WARNINGS {
        let found = ours
            .lines_with(msg)
            .iter()
            .any(|l| l.contains(&format!("keepalived.conf:{line}:")));
        assert!(found, "line {line}: {msg}\n{}", ours.text);
    }
    // Nothing of the two is refused or called unsupported any more.
    assert!(ours.lines_with("not supported").is_empty(), "{}", ours.text);
    if let Some(ka) = keepalived_t(
        "track_file_and_track_process_warn_as_keepalived_does",
        d.path(),
        "keepalived.conf",
        &[],
    ) {
        // keepalived names the closing line of a block it drops (12, 24) where vrrpd names
        // its name (10, 22); the messages are the same.
        for (line, msg) in WARNINGS {
            if msg.contains("deprecated") {
                continue; // logged, not a configuration error
            }
            assert!(
                !ka.lines_with(msg).is_empty(),
                "keepalived, line {line}: {msg}\n{}",
                ka.text
            );
        }
    }
}

/// The lines `vrrpd check` prints under instance `inst` (its settings, indented).
fn instance_lines<'a>(text: &'a str, inst: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(&format!("instance {inst} ")));
    start.map_or(Vec::new(), |s| {
        lines[s + 1..]
            .iter()
            .take_while(|l| l.starts_with("  "))
            .copied()
            .collect()
    })
}

/// An instance's `track_file` naming no `track_file`: ignored with keepalived's warning. (Not
/// compared with `keepalived -t`: 2.2.7 spins after printing that warning and never exits.)
#[test]
fn an_unknown_track_file_is_ignored() {
    let d = Dir::new("track-missing");
    d.write(
        "keepalived.conf",
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    \
         track_file {\n        missing\n    }\n    virtual_ipaddress {\n        192.0.2.3\n    \
         }\n}\n",
    );
    let ours = vrrpd_check(VRRPD, d.path(), "keepalived.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    assert!(
        ours.lines_with("keepalived.conf:5:")
            .iter()
            .any(|l| l.contains("(VI_1) track file missing not found, ignoring...")),
        "{}",
        ours.text
    );
}

/// A sync group's `track_file` and `track_process` apply to each member (keepalived's
/// vrrp_complete_init): with the group's weight, 0 when a member is an address owner; a member
/// without `sync_group_tracking_weight` keeps its own entry only unweighted.
#[test]
fn a_sync_group_s_tracking_goes_to_its_members() {
    let d = Dir::new("track-group");
    let instance = |name: &str, vrid: u8, prio: u8, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    \
             priority {prio}\n{track}    virtual_ipaddress {{\n        192.0.2.{vrid}\n    }}\n}}\n"
        )
    };
    let text = format!(
        "track_file f {{\n    file /nonexistent-vrrpd-test/f\n    weight 3\n}}\n\
         vrrp_track_process p {{\n    process sleep\n}}\n{}{}\
         vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    \
         track_file {{\n        f weight 4\n    }}\n    track_process {{\n        p weight 7\n    }}\n}}\n",
        instance("VI_1", 1, 100, "    track_file {\n        f\n    }\n"),
        instance("VI_2", 2, 100, ""),
    );
    d.write("keepalived.conf", &text);
    let ours = vrrpd_check(VRRPD, d.path(), "keepalived.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    // VI_1's own entry, weighted (3, the track_file's), goes: a member without
    // sync_group_tracking_weight tracks unweighted (only weight 1, the default, would be made
    // 0); the group's entry then comes with the group's weight.
    let msg = "(VI_1) ignoring tracked file f with weight 3 due to SYNC group";
    assert!(!ours.lines_with(msg).is_empty(), "{msg}\n{}", ours.text);
    let vi1 = instance_lines(&ours.text, "VI_1");
    let vi2 = instance_lines(&ours.text, "VI_2");
    assert!(
        vi1.iter().any(|l| l.contains("track file f weight 4 ")),
        "{vi1:?}"
    );
    assert!(
        vi1.iter().any(|l| l.contains("track process p weight 7 ")),
        "{vi1:?}"
    );
    assert!(
        vi2.iter().any(|l| l.contains("track file f weight 4 ")),
        "{vi2:?}"
    );
    assert!(
        vi2.iter().any(|l| l.contains("track process p weight 7 ")),
        "{vi2:?}"
    );
    if let Some(ka) = keepalived_t(
        "a_sync_group_s_tracking_goes_to_its_members",
        d.path(),
        "keepalived.conf",
        &[],
    ) {
        assert!(!ka.lines_with(msg).is_empty(), "{}", ka.text);
    }
}

/// A sync group's `track_interface` and `track_script` apply to each member (keepalived's
/// sync_group_tracking_init): with the group's weight, added after the members' own weighted
/// entries were dropped (no `sync_group_tracking_weight`); an entry a member has itself keeps
/// its weight 0; a member's own interface stays tracked with weight 0 (FAULT), with
/// keepalived's warning; a weight with an address owner among the members is cleared.
#[test]
fn a_sync_group_s_track_interface_and_track_script_go_to_its_members() {
    let d = Dir::new("track-group-if");
    let instance = |name: &str, vrid: u8, prio: u8, track: &str| {
        format!(
            "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    \
             priority {prio}\n{track}    virtual_ipaddress {{\n        192.0.2.{vrid}\n    }}\n}}\n"
        )
    };
    let group = |name: &str, members: &str| {
        format!(
            "vrrp_sync_group {name} {{\n    group {{\n{members}    }}\n    \
             track_interface {{\n        lo weight -20\n        eth0 weight 5\n    }}\n    \
             track_script {{\n        chk weight -10\n        chk2 weight 7\n        nosuch\n    }}\n}}\n"
        )
    };
    let text = format!(
        "vrrp_script chk {{\n    script \"/bin/true\"\n    weight 5\n}}\n\
         vrrp_script chk2 {{\n    script \"/bin/true\"\n}}\n{}{}{}{}{}{}",
        instance(
            "VI_1",
            1,
            100,
            "    track_interface {\n        lo\n    }\n    track_script {\n        chk weight 0\n        chk2 weight 3\n    }\n"
        ),
        instance("VI_2", 2, 100, ""),
        group("G", "        VI_1\n        VI_2\n"),
        instance("VI_3", 3, 255, ""),
        instance("VI_4", 4, 100, ""),
        group("H", "        VI_3\n        VI_4\n"),
    );
    d.write("keepalived.conf", &text);
    let ours = vrrpd_check(VRRPD, d.path(), "keepalived.conf", &[]);
    assert_eq!(ours.code, 0, "{}", ours.text);
    let tracked = |inst: &str| -> Vec<String> {
        let mut t: Vec<String> = instance_lines(&ours.text, inst)
            .iter()
            .filter(|l| l.starts_with("  track "))
            .map(|l| l.split(" (").next().unwrap().trim().to_string())
            .collect();
        t.sort();
        t
    };
    // VI_1: its own lo (unweighted) and chk (weight 0) stay so; its chk2 weight 3 went
    // (SYNC group), so the group's comes with weight 7. Nobody gets eth0, their own.
    assert_eq!(
        tracked("VI_1"),
        [
            "track interface lo weight 0",
            "track script chk weight 0",
            "track script chk2 weight 7",
        ],
        "{}",
        ours.text
    );
    assert_eq!(
        tracked("VI_2"),
        [
            "track interface lo weight -20",
            "track script chk weight -10",
            "track script chk2 weight 7",
        ],
        "{}",
        ours.text
    );
    // H has the owner VI_3: every weight cleared.
    for inst in ["VI_3", "VI_4"] {
        assert_eq!(
            tracked(inst),
            [
                "track interface lo weight 0",
                "track script chk weight 0",
                "track script chk2 weight 0",
            ],
            "{inst}: {}",
            ours.text
        );
    }
    let said = [
        "(VI_1) ignoring tracked script chk2 with weights due to SYNC group",
        "(VI_1) track_interface lo is configured on VRRP instance and sync group. Remove vrrp \
         instance or sync group config",
        "(VI_1) track_interface eth0 is configured on VRRP instance and sync group. Remove \
         vrrp instance or sync group config",
        "(VI_2) track_interface eth0 is configured on VRRP instance and sync group. Remove \
         vrrp instance or sync group config",
        "(VI_1) track_script chk is configured on VRRP instance and sync group. Remove vrrp \
         instance config",
        "(G) track script nosuch not found, ignoring...",
        "(H) Cannot have weighted track interface 'lo' with member having priority 255 - \
         clearing weight",
        "(H) Cannot have weighted track script 'chk' with member having priority 255 - \
         clearing weight",
    ];
    for msg in said {
        assert!(!ours.lines_with(msg).is_empty(), "{msg}\n{}", ours.text);
    }
    if let Some(ka) = keepalived_t(
        "a_sync_group_s_track_interface_and_track_script_go_to_its_members",
        d.path(),
        "keepalived.conf",
        &[],
    ) {
        // keepalived logs the track_script one rather than reporting it as a configuration
        // error; the others it reports as vrrpd says them.
        for msg in said.iter().filter(|m| !m.contains("track_script chk is")) {
            assert!(
                !ka.lines_with(msg).is_empty(),
                "keepalived: {msg}\n{}",
                ka.text
            );
        }
    }
}
