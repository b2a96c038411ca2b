//! Unit tests of the controller's own decisions, in virtual time: who starts as master in a
//! sync group, when a SIGTERM handover ends, what a reload keeps, how a failing effect becomes
//! FAULT and recovers, what tracking does to the priority.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::{
    config::{TrackScript, Version},
    units::Vrid,
};

const MS: Nanos = 1_000_000;
const SEC: Nanos = 1_000_000_000;
const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 4);
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));

fn instance(name: &str, vrid: u8, priority: u8, master: bool) -> InstanceSpec {
    let mut s = InstanceSpec::new(name, "eth0", Vrid::new(vrid).unwrap());
    s.version = Version::V3;
    s.priority = Priority(priority);
    s.state = if master {
        InitialState::Master
    } else {
        InitialState::Backup
    };
    s.vips = vec![Vip {
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + vrid)),
        prefix_len: 24,
        dev: "eth0".into(),
        label: None,
        scope: Default::default(),
        broadcast: None,
    }];
    s
}

fn config(instances: Vec<InstanceSpec>) -> Config {
    Config {
        instances,
        ..Config::default()
    }
}

fn grouped(instances: Vec<InstanceSpec>) -> Config {
    let mut c = config(instances);
    c.sync_groups = vec![SyncGroupSpec {
        name: "VG_1".into(),
        instances: c.instances.iter().map(|i| i.name.clone()).collect(),
        notify: Default::default(),
        tracking_weight: false,
        source: Default::default(),
    }];
    c
}

fn host() -> Host {
    Host {
        ifaces: [(
            "eth0".to_string(),
            IfaceInfo {
                primary4: Some(ME),
                link_local: None,
                nd_router: false,
            },
        )]
        .into(),
        links: [("eth0".to_string(), true)].into(),
    }
}

fn state(c: &Controller, name: &str) -> State {
    c.routers().find(|(s, _)| s.name == name).unwrap().1.state()
}

fn heard(vrid: u8, priority: u8, at: Nanos) -> Heard {
    Heard {
        iface: "eth0".into(),
        family: Family::Ipv4,
        vrid,
        advert: Advert {
            src: PEER,
            priority: Priority(priority),
            interval: Centis(100),
            received_at: at,
        },
        checksum: V3Checksum::PseudoHeader,
    }
}

fn tick(c: &mut Controller, now: Nanos, adverts: Vec<Heard>) -> Vec<Effect> {
    c.handle(
        now,
        Input::Tick {
            adverts: Some(adverts),
        },
    )
}

/// The driver reports a clean batch, and the next tick comes.
fn settle(c: &mut Controller, now: Nanos) {
    c.handle(now, Input::Results(vec![]));
    tick(c, now + HANDOVER_POLL, vec![]);
    c.handle(now + HANDOVER_POLL, Input::Results(vec![]));
}

fn removes_vips(effects: &[Effect], name: &str) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::RemoveVips { instance, .. } if instance == name))
}

fn transitions(effects: &[Effect]) -> Vec<(String, State)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::StateChanged { instance, to, .. } => Some((instance.clone(), *to)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_sync_group_starts_as_master_only_if_every_member_wants_to() {
    // One member configured MASTER, the other BACKUP: the group holds both in BACKUP.
    let c = grouped(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    // Both MASTER: both start as master, the group with them.
    let c = grouped(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, true),
    ]);
    let (ctl, effects) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    assert!(effects.iter().any(|e| matches!(e, Effect::Log { line, .. }
        if line == "sync group VG_1: BACKUP -> MASTER (VI_1 became MASTER)")));
    // Alone, `state MASTER` starts as master; nobody starts as master without a carrier.
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let mut down = host();
    down.links.insert("eth0".into(), false);
    let (ctl, _) = Controller::start(&c, &down, 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
}

#[test]
fn a_group_backup_waits_for_every_member_then_takes_all_along() {
    let c = grouped(vec![
        instance("VI_1", 1, 100, false),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    // VI_2 keeps hearing a master; VI_1 hears nothing. At VI_1's Master_Down_Interval
    // (3.6 s at priority 100) it is held, as VI_2 does not want MASTER.
    let mdi = 3_600 * MS;
    let mut at = 0;
    while at + SEC < mdi {
        at += SEC;
        tick(&mut ctl, at, vec![heard(2, 150, at)]);
    }
    tick(&mut ctl, mdi, vec![heard(2, 150, at)]);
    assert_eq!(state(&ctl, "VI_1"), State::Backup, "held by its group");
    // VI_2's master goes silent: when VI_2's timer runs out, both become master at once.
    let effects = tick(&mut ctl, at + mdi, vec![heard(2, 150, at)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    assert_eq!(transitions(&effects).len(), 2);
}

#[test]
fn a_sigterm_handover_ends_when_the_new_master_advertises() {
    let c = config(vec![
        instance("VI_1", 1, 200, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let stop = 10 * SEC;
    let effects = ctl.handle(stop, Input::Stop);
    // Priority 0 leaves, the VIPs stay: XDP keeps answering until the new master advertises.
    assert!(effects.iter().any(|e| matches!(e,
        Effect::SendAdvert { priority, .. } if *priority == Priority::SHUTDOWN)));
    assert!(!removes_vips(&effects, "VI_1"));
    assert!(!ctl.finished());
    assert!(ctl.needs_adverts(stop + MS, false));
    assert_eq!(ctl.next_wake(stop), stop + HANDOVER_POLL);
    // An advert from before the stop, or a priority 0, is not a new master.
    let effects = tick(&mut ctl, stop + MS, vec![heard(1, 150, stop - MS)]);
    assert!(!removes_vips(&effects, "VI_1"));
    let effects = tick(&mut ctl, stop + 2 * MS, vec![heard(1, 0, stop + MS)]);
    assert!(!removes_vips(&effects, "VI_1"));
    // The new master's first advert ends the handover, once the release went through.
    let effects = tick(
        &mut ctl,
        stop + 700 * MS,
        vec![heard(1, 150, stop + 650 * MS)],
    );
    assert!(removes_vips(&effects, "VI_1"));
    assert!(!ctl.finished());
    settle(&mut ctl, stop + 700 * MS);
    assert!(ctl.finished());
    assert_eq!(ctl.next_wake(stop + SEC), Nanos::MAX);
}

#[test]
fn a_sigterm_handover_gives_up_after_master_down_interval() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let stop = 10 * SEC;
    ctl.handle(stop, Input::Stop);
    // Priority 200 at 1 s: 3 s + (56 × 100 / 256 = 21 cs).
    let give_up = stop + 3_210 * MS;
    let effects = tick(&mut ctl, give_up - MS, vec![]);
    assert!(!removes_vips(&effects, "VI_1"));
    let effects = tick(&mut ctl, give_up, vec![]);
    assert!(removes_vips(&effects, "VI_1"));
    settle(&mut ctl, give_up);
    assert!(ctl.finished());
    // A backup has nothing to hand over: it stops at once.
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(SEC, Input::Stop);
    settle(&mut ctl, SEC);
    assert!(ctl.finished());
}

#[test]
fn stopping_a_release_that_fails_is_tried_again_a_few_times() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let stop = 10 * SEC;
    ctl.handle(stop, Input::Stop);
    let give_up = stop + 3_210 * MS;
    assert!(removes_vips(&tick(&mut ctl, give_up, vec![]), "VI_1"));
    let failed = || {
        Input::Results(vec![Failure {
            owner: Owner::Instance("VI_1".into()),
            error: "removing 192.0.2.101: busy".into(),
        }])
    };
    // The removal fails: tried again after 10 ms, then 20 ms …
    ctl.handle(give_up, failed());
    assert!(!ctl.finished());
    assert!(!removes_vips(
        &tick(&mut ctl, give_up + 9 * MS, vec![]),
        "VI_1"
    ));
    ctl.handle(give_up + 9 * MS, Input::Results(vec![]));
    let at = give_up + 10 * MS;
    assert!(removes_vips(&tick(&mut ctl, at, vec![]), "VI_1"));
    // This time it goes through: stopped.
    settle(&mut ctl, at);
    assert!(ctl.finished());
    // Failing every time, it gives up after STOP_RETRIES and says so.
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(stop, Input::Stop);
    let mut at = give_up;
    let mut tries = 0;
    let mut said = false;
    while !ctl.finished() && at < give_up + 10 * SEC {
        let effects = tick(&mut ctl, at, vec![]);
        let outcome = if removes_vips(&effects, "VI_1") {
            tries += 1;
            ctl.handle(at, failed())
        } else {
            ctl.handle(at, Input::Results(vec![]))
        };
        said |= outcome.iter().any(|e| {
            matches!(e, Effect::Log { level: log::Level::Error, line }
                if line.contains("could not be released"))
        });
        at += MS;
    }
    assert!(ctl.finished());
    assert_eq!(tries, 1 + STOP_RETRIES);
    assert!(said);
}

#[test]
fn a_reload_keeps_unchanged_instances_and_restarts_changed_ones() {
    let c = config(vec![
        instance("VI_1", 1, 200, true),
        instance("VI_2", 2, 200, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    // VI_2's priority changes, VI_3 is new; VI_1 is the same.
    let mut new = c.clone();
    new.instances[1].priority = Priority(150);
    new.instances.push(instance("VI_3", 3, 100, false));
    let effects = ctl.handle(
        SEC,
        Input::Reload {
            config: Box::new(new.clone()),
            host: host(),
        },
    );
    // VI_1 keeps its mastership and its VIPs; VI_2 stops (priority 0, VIPs released) and
    // starts again; VI_3 starts.
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert!(!removes_vips(&effects, "VI_1"));
    assert!(!transitions(&effects).iter().any(|(n, _)| n == "VI_1"));
    assert!(removes_vips(&effects, "VI_2"));
    assert_eq!(
        transitions(&effects),
        vec![
            ("VI_2".to_string(), State::Initialize),
            ("VI_2".to_string(), State::Master),
            ("VI_3".to_string(), State::Backup),
        ]
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::Log { line, .. }
        if line == "reloaded: 1 instance(s) unchanged, 1 stopped, 2 started")));
    // What `vrrpd reload` prints: the same, naming the instances; once.
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 1 instance(s) unchanged, 1 stopped, 2 started; stopped: VI_2; \
                 started: VI_2, VI_3"
                .to_string()
        ))
    );
    assert_eq!(ctl.take_reload_outcome(), None);
    // A configuration this host cannot run (an interface it does not have) is refused, and
    // nothing changes.
    let mut bad = new.clone();
    bad.instances[0].interface = "eth9".into();
    let before: Vec<_> = ctl.instances();
    let effects = ctl.handle(
        2 * SEC,
        Input::Reload {
            config: Box::new(bad),
            host: host(),
        },
    );
    assert_eq!(ctl.instances(), before);
    assert!(
        matches!(&effects[..], [Effect::Log { level: log::Level::Error, line }]
        if line.starts_with("reload refused (VI_1: no interface eth9)"))
    );
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Err("VI_1: no interface eth9".to_string()))
    );
    // Removing an instance stops it.
    let mut fewer = new.clone();
    fewer.instances.remove(0);
    let effects = ctl.handle(
        3 * SEC,
        Input::Reload {
            config: Box::new(fewer),
            host: host(),
        },
    );
    assert!(removes_vips(&effects, "VI_1"));
    assert!(ctl.routers().all(|(s, _)| s.name != "VI_1"));
}

#[test]
fn a_failing_effect_is_fault_with_its_reason_retried_with_backoff_until_it_recovers() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let fail = |ctl: &mut Controller, at| {
        ctl.handle(
            at,
            Input::Results(vec![Failure {
                owner: Owner::Instance("VI_1".into()),
                error: "adding 192.0.2.101/24: permission denied".into(),
            }]),
        )
    };
    let effects = fail(&mut ctl, SEC);
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(
        ctl.instances()[0].fault.as_deref(),
        Some("adding 192.0.2.101/24: permission denied")
    );
    // Logged once; a master in FAULT sends priority 0 and releases.
    let warnings = |e: &[Effect]| {
        e.iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::Log {
                        level: log::Level::Warn,
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(warnings(&effects), 1);
    assert!(removes_vips(&effects, "VI_1"));
    // Retries at 100 ms, then 200 ms, 400 ms … after each failure, capped at RETRY_MAX.
    let mut at = SEC;
    let mut wait = RETRY_FIRST;
    for _ in 0..8 {
        assert!(ctl.next_wake(at) <= at + wait);
        assert!(
            tick(&mut ctl, at + wait - 1, vec![])
                .iter()
                .all(|e| !matches!(e, Effect::RemoveVips { .. }))
        );
        at += wait;
        let retry = tick(&mut ctl, at, vec![]);
        assert!(removes_vips(&retry, "VI_1"), "the retry releases again");
        assert_eq!(warnings(&fail(&mut ctl, at)), 0, "logged once");
        wait = (wait * 2).min(RETRY_MAX);
    }
    assert_eq!(wait, RETRY_MAX);
    // A retry that goes through: FAULT is over, BACKUP, and master again when no one else is.
    at += wait;
    tick(&mut ctl, at, vec![]);
    let effects = ctl.handle(at, Input::Results(vec![]));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(ctl.instances()[0].fault, None);
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Log { level: log::Level::Info, line }
        if line.starts_with("VI_1: effects succeed again after 9 attempt(s)"))
    ));
    tick(&mut ctl, at + 4 * SEC, vec![]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
}

#[test]
fn a_heartbeat_failure_faults_every_instance_of_the_interface() {
    let c = config(vec![
        instance("VI_1", 1, 200, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(
        SEC,
        Input::Results(vec![Failure {
            owner: Owner::Iface("eth0".into()),
            error: "eth0: heartbeat not written".into(),
        }]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(state(&ctl, "VI_2"), State::Fault);
}

#[test]
fn tracking_moves_the_priority_or_faults() {
    let mut a = instance("VI_1", 1, 150, false);
    a.track_scripts = vec![TrackScript {
        script: "chk".into(),
        weight: Some(-60),
        reverse: None,
    }];
    let mut b = instance("VI_2", 2, 150, false);
    b.track_scripts = vec![TrackScript {
        script: "chk".into(),
        weight: Some(0),
        reverse: None,
    }];
    let mut c = config(vec![a, b]);
    c.scripts = vec![Script {
        fall: 2,
        ..Script::new("chk", "true")
    }];
    let (mut ctl, effects) = Controller::start(&c, &host(), 0).unwrap();
    assert!(matches!(&effects[0], Effect::RunScripts(s) if s.len() == 1));
    let fails = |ctl: &mut Controller, at| {
        ctl.handle(
            at,
            Input::Script {
                name: "chk".into(),
                success: false,
            },
        )
    };
    // fall 2: one failure changes nothing.
    assert!(fails(&mut ctl, SEC).is_empty());
    let effects = fails(&mut ctl, 2 * SEC);
    let prio = |ctl: &Controller, n: &str| {
        ctl.routers()
            .find(|(s, _)| s.name == n)
            .unwrap()
            .1
            .priority()
    };
    assert_eq!(prio(&ctl, "VI_1"), Priority(90));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(state(&ctl, "VI_2"), State::Fault);
    // The new priority goes into XDP's map at once.
    assert!(
        effects.iter().any(|e| matches!(e,
        Effect::SetRouter { instance, config, .. } if instance == "VI_1" && config.priority == 90))
    );
    // The interface going down faults both; up again, both are back in BACKUP.
    ctl.handle(3 * SEC, Input::Links(vec![("eth0".into(), false)]));
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    ctl.handle(4 * SEC, Input::Links(vec![("eth0".into(), true)]));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    ctl.handle(
        5 * SEC,
        Input::Script {
            name: "chk".into(),
            success: true,
        },
    );
    assert_eq!(prio(&ctl, "VI_1"), Priority(150));
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
}

#[test]
fn a_stale_stamp_does_not_shorten_a_fresh_master_down_timer() {
    // The simulator's seed 85: an instance back from FAULT was fed the stamp XDP recorded
    // before its fault, and took over after half its Master_Down_Interval.
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(SEC, Input::Links(vec![("eth0".into(), false)]));
    let back = 5 * SEC;
    ctl.handle(back, Input::Links(vec![("eth0".into(), true)]));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    // A master's advert stamped while in FAULT, read after: the timer still runs from `back`.
    tick(&mut ctl, back + 100 * MS, vec![heard(1, 200, 4 * SEC)]);
    tick(&mut ctl, back + 3_590 * MS, vec![heard(1, 200, 4 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    tick(&mut ctl, back + 3_600 * MS, vec![heard(1, 200, 4 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
}

#[test]
fn a_reload_that_changes_a_group_member_restarts_its_group() {
    // The simulator's seed 23230: a group kept across a member's restart kept that member's
    // old fault, and a later failing effect of the new member was not taken to FAULT.
    let c = grouped(vec![
        instance("VI_1", 1, 150, true),
        instance("VI_2", 2, 150, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(SEC, Input::Links(vec![("eth0".into(), false)]));
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    let mut new = c.clone();
    new.instances[0].priority = Priority(140);
    let mut up = host();
    up.links.insert("eth0".into(), false);
    let effects = ctl.handle(
        2 * SEC,
        Input::Reload {
            config: Box::new(new),
            host: up,
        },
    );
    // Both members stop and start again, with the group.
    assert!(effects.iter().any(|e| matches!(e, Effect::Log { line, .. }
        if line == "reloaded: 0 instance(s) unchanged, 2 stopped, 2 started")));
    ctl.handle(3 * SEC, Input::Links(vec![("eth0".into(), true)]));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    // A failing effect of the restarted member takes the group to FAULT.
    ctl.handle(
        4 * SEC,
        Input::Results(vec![Failure {
            owner: Owner::Instance("VI_1".into()),
            error: "the VMAC not added".into(),
        }]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(state(&ctl, "VI_2"), State::Fault);
}

#[test]
fn an_interface_created_again_restarts_its_instances_in_its_new_maps_and_keeps_the_others() {
    // VI_1 on eth0, VI_2 on eth1, both masters; eth0 is deleted (FAULT by its failing effects,
    // here left out) and created again with a new index: the driver opened it anew and says so.
    let mut other = instance("VI_2", 2, 200, true);
    other.interface = "eth1".into();
    let c = config(vec![instance("VI_1", 1, 200, true), other]);
    let mut h = host();
    h.ifaces.insert("eth1".into(), h.ifaces["eth0"].clone());
    h.links.insert("eth1".into(), true);
    let (mut ctl, _) = Controller::start(&c, &h, 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let effects = ctl.handle(
        SEC,
        Input::Recreated {
            iface: "eth0".into(),
            config: Box::new(c.clone()),
            host: h.clone(),
        },
    );
    // VI_1 starts again: its router and VIPs written into the new interface's maps, and it
    // is master again; VI_2, on the interface that stayed, is not touched.
    assert_eq!(
        transitions(&effects),
        vec![
            ("VI_1".to_string(), State::Initialize),
            ("VI_1".to_string(), State::Master),
        ]
    );
    assert!(effects.iter().any(
        |e| matches!(e, Effect::MapVips { instance, iface, .. } if instance == "VI_1" && iface == "eth0")
    ));
    assert!(
        !effects
            .iter()
            .any(|e| e.owner() == Some(Owner::Instance("VI_2".into())))
    );
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
}

fn route(dst: &str, table: u32) -> Route {
    let (a, l) = dst.split_once('/').unwrap();
    Route {
        dst: config::Prefix {
            address: a.parse().unwrap(),
            len: l.parse().unwrap(),
        },
        kind: Default::default(),
        src: None,
        via: Some("192.0.2.1".parse().unwrap()),
        from: None,
        dev: Some("eth0".into()),
        scope: None,
        table,
        metric: None,
        protocol: config::model::RTPROT_KEEPALIVED,
        onlink: false,
        no_track: false,
    }
}

fn rule(table: u32, priority: u32) -> Rule {
    Rule {
        family: config::Family::Ipv4,
        from: Some(config::Prefix {
            address: "192.0.2.101".parse().unwrap(),
            len: 32,
        }),
        to: None,
        not: false,
        action: config::RuleAction::Table(table),
        priority,
        fwmark: None,
        fwmask: None,
        iif: None,
        oif: None,
        protocol: config::model::RTPROT_KEEPALIVED,
        no_track: false,
    }
}

fn routed(master: bool) -> InstanceSpec {
    let mut s = instance("VI_1", 1, 200, master);
    s.routes = vec![route("0.0.0.0/0", 100)];
    s.rules = vec![rule(100, 100)];
    s
}

/// The position of the first effect of `kind` (the simulator's names) in `effects`.
fn at(effects: &[Effect], kind: &str) -> Option<usize> {
    effects
        .iter()
        .position(|e| format!("{e:?}").starts_with(kind))
}

/// Ticks until instance VI_1 is master; the effects of the takeover.
fn until_master(ctl: &mut Controller, mut effects: Vec<Effect>) -> (Vec<Effect>, Nanos) {
    let mut now = 0;
    while state(ctl, "VI_1") != State::Master {
        ctl.handle(now, Input::Results(vec![]));
        now += 100 * MS;
        assert!(now < 10 * SEC, "never master");
        effects.extend(tick(ctl, now, vec![]));
    }
    (effects, now)
}

#[test]
fn routes_and_rules_come_after_the_vips_and_go_before_them() {
    let c = config(vec![routed(true)]);
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    // At start, what an earlier vrrpd left goes, routes before addresses.
    let (stale_routes, stale_vips) = (at(&start, "RemoveRoutes"), at(&start, "RemoveStaleVips"));
    assert!(stale_routes.unwrap() < stale_vips.unwrap(), "{start:?}");
    let (up, now) = until_master(&mut ctl, start);
    let add_vips = at(&up, "AddVips").expect("VIPs added");
    let add_routes = at(&up, "AddRoutes").expect("routes added");
    assert!(add_vips < add_routes, "{up:?}");
    let Effect::AddRoutes { routes, rules, .. } = &up[add_routes] else {
        unreachable!()
    };
    assert_eq!((routes.len(), rules.len()), (1, 1));
    // A better master: the routes and rules go first, then the VIPs.
    ctl.handle(now, Input::Results(vec![]));
    let down = tick(&mut ctl, now + 10 * MS, vec![heard(1, 250, now + 5 * MS)]);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    let (rm_routes, rm_vips) = (at(&down, "RemoveRoutes"), at(&down, "RemoveVips"));
    assert!(rm_routes.unwrap() < rm_vips.unwrap(), "{down:?}");
}

#[test]
fn an_instance_without_routes_emits_no_route_effects() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    let (up, _) = until_master(&mut ctl, start);
    assert_eq!(at(&up, "AddRoutes"), None);
    assert_eq!(at(&up, "RemoveRoutes"), None);
    assert_eq!(at(&up, "AddStatic"), None);
}

#[test]
fn a_route_that_cannot_be_added_is_a_fault_like_a_vip() {
    let c = config(vec![routed(true)]);
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    let (_, now) = until_master(&mut ctl, start);
    let out = ctl.handle(
        now,
        Input::Results(vec![Failure {
            owner: Owner::Instance("VI_1".into()),
            error: "adding route default via 192.0.2.1 dev eth0 table 100: unreachable".into(),
        }]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    let (rm_routes, rm_vips) = (at(&out, "RemoveRoutes"), at(&out, "RemoveVips"));
    assert!(rm_routes.unwrap() < rm_vips.unwrap(), "{out:?}");
    let view = ctl.instances();
    assert!(view[0].fault.as_deref().unwrap().contains("adding route"));
}

#[test]
fn a_reload_that_changes_only_routes_keeps_the_master_and_its_vips() {
    let c = config(vec![routed(true)]);
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    let (_, now) = until_master(&mut ctl, start);
    ctl.handle(now, Input::Results(vec![]));
    let mut new = routed(true);
    new.routes.push(route("198.51.100.0/24", 100));
    new.rules = vec![rule(100, 101)];
    let out = ctl.handle(
        now + MS,
        Input::Reload {
            config: Box::new(config(vec![new])),
            host: host(),
        },
    );
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert!(!removes_vips(&out, "VI_1"), "{out:?}");
    let removed = out.iter().find_map(|e| match e {
        Effect::RemoveRoutes { routes, rules, .. } => Some((routes.clone(), rules.clone())),
        _ => None,
    });
    assert_eq!(removed, Some((vec![], vec![rule(100, 100)])));
    let added = out.iter().find_map(|e| match e {
        Effect::AddRoutes { routes, rules, .. } => Some((routes.clone(), rules.clone())),
        _ => None,
    });
    assert_eq!(
        added,
        Some((vec![route("198.51.100.0/24", 100)], vec![rule(100, 101)]))
    );
    assert!(at(&out, "RemoveRoutes") < at(&out, "AddRoutes"));
    let outcome = ctl.take_reload_outcome().unwrap().unwrap();
    assert!(outcome.contains("routes updated: VI_1"), "{outcome}");
    // A backup's new routes wait for it to become master.
    let c = config(vec![routed(false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let mut new = routed(false);
    new.routes.clear();
    let out = ctl.handle(
        MS,
        Input::Reload {
            config: Box::new(config(vec![new])),
            host: host(),
        },
    );
    assert_eq!(at(&out, "AddRoutes"), None);
    assert_eq!(at(&out, "RemoveRoutes"), None);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
}

#[test]
fn statics_are_added_at_start_diffed_on_reload_and_removed_at_exit() {
    let mut c = config(vec![instance("VI_1", 1, 100, false)]);
    c.static_routes = vec![route("198.51.100.0/24", 254)];
    c.static_rules = vec![rule(10, 10)];
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    assert!(matches!(start[0], Effect::AddStatic { .. }), "{start:?}");
    // A static failure is logged; no instance goes to FAULT for it.
    let out = ctl.handle(
        0,
        Input::Results(vec![Failure {
            owner: Owner::Static,
            error: "adding rule: busy".into(),
        }]),
    );
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::Log { line, .. } if line.contains("adding rule")))
    );
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    // … and tried again until it goes through.
    assert!(ctl.next_wake(0) <= RETRY_FIRST);
    let again = tick(&mut ctl, RETRY_FIRST, vec![]);
    assert!(at(&again, "AddStatic").is_some(), "{again:?}");
    let out = ctl.handle(RETRY_FIRST, Input::Results(vec![]));
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::Log { line, .. } if line.contains("added after 1"))),
        "{out:?}"
    );
    assert_eq!(
        at(&tick(&mut ctl, 3 * RETRY_FIRST, vec![]), "AddStatic"),
        None
    );
    // Reload: the rule goes, a route comes; the instance is untouched.
    let mut d = c.clone();
    d.static_rules.clear();
    d.static_routes.push(route("198.51.100.128/25", 254));
    let out = ctl.handle(
        SEC,
        Input::Reload {
            config: Box::new(d),
            host: host(),
        },
    );
    assert!(out.contains(&Effect::RemoveStatic {
        addresses: vec![],
        routes: vec![],
        rules: vec![rule(10, 10)],
    }));
    assert!(out.contains(&Effect::AddStatic {
        addresses: vec![],
        routes: vec![route("198.51.100.128/25", 254)],
        rules: vec![],
    }));
    ctl.handle(SEC, Input::Results(vec![]));
    // At exit, keepalived removes its static entries: so do we, once every instance stopped.
    let mut out = ctl.handle(2 * SEC, Input::Stop);
    out.extend(ctl.handle(2 * SEC, Input::Results(vec![])));
    out.extend(tick(&mut ctl, 2 * SEC + HANDOVER_POLL, vec![]));
    out.extend(ctl.handle(2 * SEC + HANDOVER_POLL, Input::Results(vec![])));
    assert!(ctl.finished());
    assert!(
        out.contains(&Effect::RemoveStatic {
            addresses: vec![],
            routes: vec![
                route("198.51.100.0/24", 254),
                route("198.51.100.128/25", 254)
            ],
            rules: vec![],
        }),
        "{out:?}"
    );
}

#[test]
fn a_peer_with_the_other_v3_checksum_is_reported_once_per_episode() {
    let mut spec = instance("VI_1", 1, 200, true);
    spec.v3_checksum = V3Checksum::MessageOnly;
    let c = config(vec![spec, instance("VI_2", 2, 100, false)]);
    let (mut ctl, effects) = Controller::start(&c, &host(), 0).unwrap();
    // The XDP program learns each router's own variant.
    let flags = |effects: &[Effect], name: &str| {
        effects.iter().find_map(|e| match e {
            Effect::SetRouter {
                instance, config, ..
            } if instance == name => Some(config.flags),
            _ => None,
        })
    };
    assert_ne!(flags(&effects, "VI_1").unwrap() & ROUTER_CSUM_MSG_ONLY, 0);
    assert_eq!(flags(&effects, "VI_2").unwrap() & ROUTER_CSUM_MSG_ONLY, 0);
    let warnings = |effects: &[Effect]| -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log { line, .. } if line.contains("checksum") => Some(line.clone()),
                _ => None,
            })
            .collect()
    };
    let mismatch = |ctl: &Controller, name: &str| {
        ctl.instances()
            .into_iter()
            .find(|v| v.name == name)
            .unwrap()
            .checksum_mismatch
    };
    let with = |vrid, at, checksum| Heard {
        checksum,
        ..heard(vrid, 100, at)
    };
    // The master VI_1 hears a peer checksumming with the pseudo-header (FRR, keepalived's
    // default): one warning naming the peer, its variant and the option, kept in the view.
    let lines = warnings(&tick(
        &mut ctl,
        SEC,
        vec![with(1, SEC, V3Checksum::PseudoHeader)],
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("VI_1")
            && lines[0].contains("192.0.2.5")
            && lines[0].contains("pseudo-header")
            && lines[0].contains("v3_checksum_as_v2"),
        "{}",
        lines[0]
    );
    let m = mismatch(&ctl, "VI_1").unwrap();
    assert_eq!((m.peer, m.peer_checksum), (PEER, V3Checksum::PseudoHeader));
    assert!(m.fix.contains("v3_checksum_as_v2"), "{}", m.fix);
    // Its next adverts: no new line (one per episode, not per advert).
    for s in 2..5 {
        let effects = tick(
            &mut ctl,
            s * SEC,
            vec![with(1, s * SEC, V3Checksum::PseudoHeader)],
        );
        assert!(warnings(&effects).is_empty());
        assert!(mismatch(&ctl, "VI_1").is_some());
    }
    // The peer agrees: the episode is over, with one line.
    let lines = warnings(&tick(
        &mut ctl,
        5 * SEC,
        vec![with(1, 5 * SEC, V3Checksum::MessageOnly)],
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(mismatch(&ctl, "VI_1").is_none());
    // A new episode, ended by the peer's silence: the newest stamp is stale.
    assert_eq!(
        warnings(&tick(
            &mut ctl,
            6 * SEC,
            vec![with(1, 6 * SEC, V3Checksum::PseudoHeader)]
        ))
        .len(),
        1
    );
    assert!(mismatch(&ctl, "VI_1").is_some());
    let lines = warnings(&tick(
        &mut ctl,
        20 * SEC,
        vec![with(1, 6 * SEC, V3Checksum::PseudoHeader)],
    ));
    assert!(
        lines.len() == 1 && lines[0].contains("no longer heard"),
        "{lines:?}"
    );
    assert!(mismatch(&ctl, "VI_1").is_none());
    // VI_2 uses the RFC's variant, as its peer does: nothing to say.
    let effects = tick(
        &mut ctl,
        21 * SEC,
        vec![with(2, 21 * SEC, V3Checksum::PseudoHeader)],
    );
    assert!(warnings(&effects).is_empty());
    assert!(mismatch(&ctl, "VI_2").is_none());
}
