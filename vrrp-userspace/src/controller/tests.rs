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
/// Master_Down_Interval at priority 100 and 1 s: 3 s + (156 × 100 cs) / 256 = 3.609375 s.
const MDI: Nanos = 3_609_375_000;
/// Skew_Time at priority 100 and 1 s: 0.609375 s.
const SKEW: Nanos = 609_375_000;
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
        track_files: Vec::new(),
        track_processes: Vec::new(),
        track_interfaces: Vec::new(),
        track_scripts: Vec::new(),
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
        ..Host::default()
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

/// A reload of `config` on the test host at `now`.
fn reload_at(c: &mut Controller, now: Nanos, config: Config) -> Vec<Effect> {
    c.handle(
        now,
        Input::Reload {
            config: Box::new(config),
            host: host(),
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

/// Master_Down_Interval at `priority` and 1 s: 3 s + (256 − priority) × 100 cs / 256, rounded
/// up to the microsecond.
fn mdi(priority: u8) -> Nanos {
    3 * SEC + ((256 - u64::from(priority)) * 1_000_000).div_ceil(256) * 1_000
}

/// Ticks `ctl` at `at` with no advert heard: keepalived 2.2.7 starts `state MASTER` below
/// priority 255 as a backup, master once its Master_Down_Timer runs out, `mdi(priority)` on.
fn up(ctl: &mut Controller, at: Nanos) -> Vec<Effect> {
    tick(ctl, at, vec![])
}

/// Sync group VG_1 of VI_1 and VI_2 (`state MASTER`, priority 100), both master at their
/// Master_Down_Interval.
fn grouped_masters() -> (Config, Controller) {
    let c = grouped(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    (c, ctl)
}

#[test]
fn a_sync_group_starts_as_master_only_if_every_member_is_an_owner_with_state_master() {
    // Owner with `state MASTER` and a backup: the group holds both in BACKUP, and the owner's
    // timer running out does not count for its partner (keepalived clears its wantstate).
    let c = grouped(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert!(transitions(&tick(&mut ctl, mdi(255), vec![])).is_empty());
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    // Both `state MASTER` below 255: both start in BACKUP and take over together a
    // Master_Down_Interval later (keepalived 2.2.7, measured: both MASTER at 3.75 s).
    let c = grouped(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert!(transitions(&tick(&mut ctl, MDI - 1, vec![])).is_empty());
    assert_eq!(transitions(&tick(&mut ctl, MDI, vec![])).len(), 2);
    // Both owners with `state MASTER`: both start as master, the group with them.
    let c = grouped(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 255, true),
    ]);
    let (ctl, effects) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    assert!(effects.iter().any(|e| matches!(e, Effect::Log { line, .. }
        if line == "sync group VG_1: BACKUP -> MASTER (VI_1 became MASTER)")));
    // Alone: the owner with `state MASTER` starts as master, `state MASTER` below 255 and the
    // owner with `state BACKUP` in BACKUP; nobody starts as master without a carrier.
    let c = config(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 100, true),
        instance("VI_3", 3, 255, false),
    ]);
    let (ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert_eq!(state(&ctl, "VI_3"), State::Backup);
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
    // (3.609375 s at priority 100) it is held, as VI_2 does not want MASTER.
    let mdi = MDI;
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
    up(&mut ctl, mdi(200));
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
    up(&mut ctl, mdi(200));
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let stop = 10 * SEC;
    ctl.handle(stop, Input::Stop);
    // Priority 200 at 1 s: 3 s + 56 × 100 / 256 = 21.875 cs.
    let give_up = stop + 3_218_750_000;
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
    up(&mut ctl, mdi(200));
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let stop = 10 * SEC;
    ctl.handle(stop, Input::Stop);
    let give_up = stop + 3_218_750_000;
    assert!(removes_vips(&tick(&mut ctl, give_up, vec![]), "VI_1"));
    let failed = || {
        Input::Results(vec![Failure::new(
            Owner::Instance("VI_1".into()),
            "removing 192.0.2.101: busy",
        )])
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
    up(&mut ctl, mdi(200));
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
    // Both masters once their Master_Down_Timers ran out.
    let t0 = mdi(200);
    up(&mut ctl, t0);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    // VI_2's VRID changes (another router), VI_3 is new; VI_1 is the same.
    let mut new = c.clone();
    new.instances[1].vrid = Vrid::new(4).unwrap();
    new.instances.push(instance("VI_3", 3, 100, false));
    let effects = reload_at(&mut ctl, t0 + SEC, new.clone());
    // VI_1 keeps its mastership and its VIPs; VI_2 stops (priority 0, VIPs released) and
    // starts again, in BACKUP (`state MASTER` below 255); VI_3 starts.
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert!(!removes_vips(&effects, "VI_1"));
    assert!(!transitions(&effects).iter().any(|(n, _)| n == "VI_1"));
    assert!(removes_vips(&effects, "VI_2"));
    assert_eq!(
        transitions(&effects),
        vec![
            ("VI_2".to_string(), State::Initialize),
            ("VI_2".to_string(), State::Backup),
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
    let effects = reload_at(&mut ctl, t0 + 2 * SEC, bad);
    assert_eq!(ctl.instances(), before);
    assert!(
        matches!(&without_chores(effects)[..], [Effect::Log { level: log::Level::Error, line }]
        if line.starts_with("reload refused (VI_1: no interface eth9)"))
    );
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Err("VI_1: no interface eth9".to_string()))
    );
    // Removing an instance stops it.
    let mut fewer = new.clone();
    fewer.instances.remove(0);
    let effects = reload_at(&mut ctl, t0 + 3 * SEC, fewer);
    assert!(removes_vips(&effects, "VI_1"));
    assert!(ctl.routers().all(|(s, _)| s.name != "VI_1"));
}

#[test]
fn the_running_configuration_is_the_last_one_applied() {
    // The driver reads the host for the configuration the controller runs (an interface
    // created again), and the groups follow it: a refused reload must not become it.
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(ctl.config(), c);
    assert_eq!(check(&ctl.config(), &host()), Ok(()));
    let mut bad = c.clone();
    bad.instances[0].interface = "eth9".into();
    bad.global.mcast_group4 = Ipv4Addr::new(224, 0, 0, 19);
    reload_at(&mut ctl, SEC, bad);
    assert!(matches!(ctl.take_reload_outcome(), Some(Err(_))));
    assert_eq!(ctl.config(), c);
    let mut good = c.clone();
    good.global.mcast_group4 = Ipv4Addr::new(224, 0, 0, 19);
    good.instances.push(instance("VI_2", 2, 100, false));
    reload_at(&mut ctl, 2 * SEC, good.clone());
    assert!(matches!(ctl.take_reload_outcome(), Some(Ok(_))));
    assert_eq!(ctl.config(), good);
    // Each running instance's spec is held once: the configuration's is the instance's, the
    // kept one's and the new one's alike.
    assert_eq!(ctl.specs.len(), 2);
    for (spec, inst) in ctl.specs.iter().zip(&ctl.instances) {
        assert!(Arc::ptr_eq(spec, &inst.spec), "{} held twice", spec.name);
    }
    // Its interface without the address to advertise from (created again, not addressed
    // yet): the instances cannot run there yet.
    let mut bare = host();
    bare.ifaces.get_mut("eth0").unwrap().primary4 = None;
    assert_eq!(
        check(&ctl.config(), &bare),
        Err("VI_1: eth0 has no IPv4 address to advertise from".to_string())
    );
    // Stopping, a reload is refused and the configuration stays.
    ctl.handle(3 * SEC, Input::Stop);
    reload_at(&mut ctl, 3 * SEC, c.clone());
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Err("vrrpd is stopping".to_string()))
    );
    assert_eq!(ctl.config(), good);
}

#[test]
fn a_failing_effect_is_fault_with_its_reason_retried_with_backoff_until_it_recovers() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let t0 = mdi(200);
    up(&mut ctl, t0);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let fail = |ctl: &mut Controller, at| {
        ctl.handle(
            at,
            Input::Results(vec![Failure::new(
                Owner::Instance("VI_1".into()),
                "adding 192.0.2.101/24: permission denied",
            )]),
        )
    };
    let effects = fail(&mut ctl, t0 + SEC);
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
    let mut at = t0 + SEC;
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
        Input::Results(vec![Failure::new(
            Owner::Iface("eth0".into()),
            "eth0: heartbeat not written",
        )]),
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
    // fall 2: one failure changes nothing (it is only an event for `vrrpd events`).
    assert!(
        without_chores(fails(&mut ctl, SEC))
            .iter()
            .all(|e| matches!(e, Effect::Event { .. }))
    );
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
    tick(&mut ctl, back + MDI - 10 * MS, vec![heard(1, 200, 4 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    tick(&mut ctl, back + MDI, vec![heard(1, 200, 4 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
}

#[test]
fn a_stamp_from_just_before_the_backup_began_names_its_master_at_once() {
    // The lab's IPv6 pair, 1 run in 12: the master's first advert reached the backup after
    // its XDP attached but 0.3 ms before its controller made the instance, raised the only
    // event for that master, and was passed over: the backup learned its master only at its
    // Master_Down_Timer, 3.6 s later.
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let start = 10 * SEC;
    let (mut ctl, _) = Controller::start(&c, &host(), start).unwrap();
    let master = |c: &Controller| c.routers().next().unwrap().1.master();
    tick(&mut ctl, start + MS, vec![heard(1, 200, start - 300_000)]);
    assert_eq!(master(&ctl), Some(PEER));
    // The timer still runs from the start, not from the stamp.
    let deadline = ctl.routers().next().unwrap().1.next_deadline();
    assert_eq!(deadline, Some(start + MDI));
    // Fed once: the same stamp again changes nothing, and the timer runs out.
    tick(
        &mut ctl,
        start + MDI - MS,
        vec![heard(1, 200, start - 300_000)],
    );
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    tick(&mut ctl, start + MDI, vec![heard(1, 200, start - 300_000)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);

    // A stamp older than one Master_Down_Interval before the start names no master.
    let (mut ctl, _) = Controller::start(&c, &host(), start).unwrap();
    tick(
        &mut ctl,
        start + MS,
        vec![heard(1, 200, start - 3_700 * MS)],
    );
    assert_eq!(master(&ctl), None);
    // Nor a priority 0 from before (a router that left before the start, or one the
    // instance this one replaced in a reload was fed already): the timer is not shortened.
    let (mut ctl, _) = Controller::start(&c, &host(), start).unwrap();
    tick(&mut ctl, start + MS, vec![heard(1, 0, start - 300_000)]);
    assert_eq!(master(&ctl), None);
    let deadline = ctl.routers().next().unwrap().1.next_deadline();
    assert_eq!(deadline, Some(start + MDI));
    // Nor is one fed to a router that began as master (the owner with `state MASTER`; a
    // priority 255 from its higher address would beat it).
    let c = config(vec![instance("VI_1", 1, 255, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), start).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    tick(&mut ctl, start + MS, vec![heard(1, 255, start - 300_000)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
}

#[test]
fn a_reload_that_changes_a_group_member_in_fault_restarts_its_group() {
    // The simulator's seed 23230: a group kept across a member's restart kept that member's
    // old fault, and a later failing effect of the new member was not taken to FAULT. (A
    // member in FAULT is not kept in its state: it restarts, and its group with it.)
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
        Input::Results(vec![Failure::new(
            Owner::Instance("VI_1".into()),
            "the VMAC not added",
        )]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(state(&ctl, "VI_2"), State::Fault);
}

#[test]
fn an_interface_created_again_but_not_reopened_yet_is_down_until_it_is() {
    // eth0 was created again without its address yet: the driver cannot open it for VI_1
    // (the owner, master from the start).
    let c = config(vec![instance("VI_1", 1, 255, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let not_yet = || Input::NotReopened {
        iface: "eth0".into(),
        why: "eth0: created again (index 2 -> 7); waiting: no address".into(),
    };
    let effects = ctl.handle(SEC, not_yet());
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(warns(&effects, "waiting: no address"), 1);
    // Said once; its link up (the kernel's announcement) does not end the FAULT.
    let effects = ctl.handle(SEC + 100 * MS, not_yet());
    assert_eq!(warns(&effects, "waiting"), 0);
    ctl.handle(SEC + 200 * MS, Input::Links(vec![("eth0".into(), true)]));
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    // Opened anew once addressed: its instances restart.
    ctl.handle(
        2 * SEC,
        Input::Recreated {
            iface: "eth0".into(),
            host: host(),
        },
    );
    // The driver reads the links next: up now, the FAULT ends.
    ctl.handle(2 * SEC, Input::Links(vec![("eth0".into(), true)]));
    assert_ne!(state(&ctl, "VI_1"), State::Fault);
}

#[test]
fn an_interface_created_again_restarts_its_instances_in_its_new_maps_and_keeps_the_others() {
    // VI_1 on eth0, VI_2 on eth1, both masters (owners, master from the start); eth0 is
    // deleted (FAULT by its failing effects, here left out) and created again with a new
    // index: the driver opened it anew and says so.
    let mut other = instance("VI_2", 2, 255, true);
    other.interface = "eth1".into();
    let c = config(vec![instance("VI_1", 1, 255, true), other]);
    let mut h = host();
    h.ifaces.insert("eth1".into(), h.ifaces["eth0"].clone());
    h.links.insert("eth1".into(), true);
    let (mut ctl, _) = Controller::start(&c, &h, 0).unwrap();
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let effects = ctl.handle(
        SEC,
        Input::Recreated {
            iface: "eth0".into(),
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
        Input::Results(vec![Failure::new(
            Owner::Instance("VI_1".into()),
            "adding route default via 192.0.2.1 dev eth0 table 100: unreachable",
        )]),
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
    let out = reload_at(&mut ctl, now + MS, config(vec![new]));
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
    let out = reload_at(&mut ctl, MS, config(vec![new]));
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
        Input::Results(vec![Failure::new(Owner::Static, "adding rule: busy")]),
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
    let out = reload_at(&mut ctl, SEC, d);
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

fn events(effects: &[Effect]) -> Vec<Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn view(c: &Controller, name: &str) -> InstanceView {
    c.instances()
        .into_iter()
        .find(|v| v.name() == name)
        .unwrap()
}

fn warns(effects: &[Effect], needle: &str) -> usize {
    effects
        .iter()
        .filter(
            |e| matches!(e, Effect::Log { level: log::Level::Warn, line } if line.contains(needle)),
        )
        .count()
}

#[test]
fn a_takeover_says_whose_adverts_stopped_and_for_how_long() {
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(&*view(&ctl, "VI_1").reason, "startup");
    // The master (priority 200) advertises once at 1 s, then falls silent.
    tick(&mut ctl, SEC, vec![heard(1, 200, SEC)]);
    let v = view(&ctl, "VI_1");
    assert_eq!(v.master, Some(PEER));
    assert_eq!(v.master_priority, Some(Priority(200)));
    assert_eq!(v.last_advert.as_ref().map(|a| a.at_ns), Some(SEC));
    // Master_Down_Interval for priority 100 at 1 s: 3 s + Skew_Time 0.609375 s.
    let down = SEC + MDI;
    let effects = tick(&mut ctl, down, vec![heard(1, 200, SEC)]);
    assert_eq!(transitions(&effects), vec![("VI_1".into(), State::Master)]);
    let why = "no advert from 192.0.2.5 for 3.61 s";
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::StateChanged { detail, .. } if detail == why))
    );
    assert_eq!(
        events(&effects),
        vec![Event::Transition {
            instance: "VI_1".into(),
            vrid: 1,
            from: "BACKUP".into(),
            to: "MASTER".into(),
            reason: why.into(),
            priority: 100,
        }]
    );
    let v = view(&ctl, "VI_1");
    assert_eq!((v.since, &*v.reason), (down, why));
    assert_eq!(v.master, Some(IpAddr::V4(ME)));
    assert_eq!(v.master_priority, Some(Priority(100)));
    let history: Vec<(Nanos, &str, &str)> = v
        .transitions
        .iter()
        .map(|t| (t.at_ns, t.to.name(), &*t.reason))
        .collect();
    assert_eq!(
        history,
        vec![(0, "BACKUP", "startup"), (down, "MASTER", why)]
    );
    // It advertised on taking over, and counts it.
    assert_eq!(v.adverts_sent, 1);
}

#[test]
fn a_takeover_after_priority_zero_and_without_any_master_say_so() {
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    tick(&mut ctl, SEC, vec![heard(1, 200, SEC)]);
    // The master leaves: priority 0; we take over after Skew_Time (0.609375 s).
    tick(&mut ctl, 2 * SEC, vec![heard(1, 0, 2 * SEC)]);
    tick(&mut ctl, 2 * SEC + SKEW, vec![heard(1, 0, 2 * SEC)]);
    assert_eq!(
        &*view(&ctl, "VI_1").reason,
        "192.0.2.5 sent priority 0 (leaving) 0.61 s ago; Skew_Time over"
    );
    // Nobody ever advertised: said as such.
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    tick(&mut ctl, MDI, vec![]);
    assert_eq!(
        &*view(&ctl, "VI_1").reason,
        "no advert for 3.61 s since entering BACKUP"
    );
}

#[test]
fn a_master_stepping_down_names_the_better_advert() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    let v = view(&ctl, "VI_1");
    assert_eq!(
        (v.state, &*v.reason),
        (State::Master, "no advert for 3.61 s since entering BACKUP")
    );
    tick(&mut ctl, MDI + SEC, vec![heard(1, 150, MDI + SEC)]);
    let v = view(&ctl, "VI_1");
    assert_eq!(v.state, State::Backup);
    assert_eq!(
        &*v.reason,
        "advert from 192.0.2.5 with priority 150, ours 100"
    );
    assert_eq!(v.master_priority, Some(Priority(150)));
    assert_eq!(v.split_brains, 0, "yielding is no split brain");
}

#[test]
fn the_history_keeps_the_last_hour_and_at_most_a_hundred() {
    let t = |at_ns: Nanos| Transition {
        at_ns,
        from: State::Backup,
        to: State::Master,
        reason: "x".into(),
    };
    let mut h = VecDeque::new();
    incident::record(&mut h, t(0));
    incident::record(&mut h, t(10 * 60 * SEC));
    incident::record(&mut h, t(HISTORY_KEEP + 5 * 60 * SEC));
    // The one from time 0 is older than an hour before the newest.
    assert_eq!(
        h.iter().map(|t| t.at_ns).collect::<Vec<_>>(),
        vec![10 * 60 * SEC, HISTORY_KEEP + 5 * 60 * SEC]
    );
    let v: Vec<Transition> = h.iter().cloned().collect();
    assert_eq!(last_hour(&v, HISTORY_KEEP + 5 * 60 * SEC), 2);
    assert_eq!(last_hour(&v, HISTORY_KEEP + 30 * 60 * SEC), 1);
    for i in 0..250 {
        incident::record(&mut h, t(2 * HISTORY_KEEP + i * SEC));
    }
    assert_eq!(h.len(), incident::HISTORY_MAX);
    assert_eq!(h.back().unwrap().at_ns, 2 * HISTORY_KEEP + 249 * SEC);
}

#[test]
fn a_split_brain_is_reported_once_per_episode_and_ends_when_the_peer_goes_quiet() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    // Long a master, it hears another master of its VRID with a lower priority (a partition
    // healed, or a peer that does not hear us): reported at the first advert.
    let effects = tick(&mut ctl, 10 * SEC, vec![heard(1, 90, 10 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(
        events(&effects),
        vec![Event::SplitBrain {
            instance: "VI_1".into(),
            vrid: 1,
            interface: "eth0".into(),
            peer: Some(PEER),
            peer_priority: Some(90),
            mac: None,
            claimed: None,
            priority: 100,
        }]
    );
    assert_eq!(warns(&effects, "split brain"), 1);
    // It keeps advertising: counted, not reported again.
    let mut more = Vec::new();
    for s in 11..=14 {
        more.extend(tick(&mut ctl, s * SEC, vec![heard(1, 90, s * SEC)]));
    }
    assert!(events(&more).is_empty(), "{more:?}");
    assert_eq!(warns(&more, "split brain"), 0);
    let v = view(&ctl, "VI_1");
    let s = v.split_brain.unwrap();
    assert_eq!((s.peer, s.adverts, s.reported), (Some(PEER), 5, true));
    assert_eq!((v.split_brains, v.conflicting_adverts), (1, 5));
    // Quiet for Master_Down_Interval: over, with how long it lasted.
    let effects = tick(&mut ctl, 18 * SEC, vec![heard(1, 90, 14 * SEC)]);
    assert_eq!(
        events(&effects),
        vec![Event::SplitBrainOver {
            instance: "VI_1".into(),
            vrid: 1,
            peer: Some(PEER),
            mac: None,
            adverts: 5,
            claims: 0,
            lasted_ms: 4_000,
            reason: "no advert from it for 4.00 s".into(),
        }]
    );
    assert_eq!(view(&ctl, "VI_1").split_brain, None);
    // A new episode is a new report.
    let effects = tick(&mut ctl, 30 * SEC, vec![heard(1, 90, 30 * SEC)]);
    assert_eq!(events(&effects).len(), 1);
    assert_eq!(view(&ctl, "VI_1").split_brains, 2);
}

#[test]
fn an_advert_crossing_a_takeover_is_not_a_split_brain_unless_more_follow() {
    let c = config(vec![instance("VI_1", 1, 255, true)]);
    // The owner, master since 0; the router it displaced sends one advert that crosses ours.
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let effects = tick(&mut ctl, 250 * MS, vec![heard(1, 90, 200 * MS)]);
    assert!(events(&effects).is_empty(), "{effects:?}");
    assert!(view(&ctl, "VI_1").split_brain.is_some());
    // Nothing more: it was no split brain, and it ends without a word.
    let effects = tick(&mut ctl, 10 * SEC, vec![heard(1, 90, 200 * MS)]);
    assert!(events(&effects).is_empty(), "{effects:?}");
    assert_eq!(view(&ctl, "VI_1").split_brains, 0);
    // The same, but it keeps advertising a second after: a split brain.
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    tick(&mut ctl, 250 * MS, vec![heard(1, 90, 200 * MS)]);
    let effects = tick(&mut ctl, 1_250 * MS, vec![heard(1, 90, 1_200 * MS)]);
    assert!(matches!(
        &events(&effects)[..],
        [Event::SplitBrain {
            peer_priority: Some(90),
            ..
        }]
    ));
}

#[test]
fn an_equal_priority_master_with_a_lower_address_is_a_split_brain() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    let mut lower = heard(1, 100, 10 * SEC);
    lower.advert.src = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));
    let effects = tick(&mut ctl, 10 * SEC, vec![lower]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert!(matches!(
        &events(&effects)[..],
        [Event::SplitBrain {
            peer_priority: Some(100),
            ..
        }]
    ));
}

#[test]
fn an_interval_mismatch_is_reported_once_per_peer_and_interval() {
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let slow = |at| {
        let mut h = heard(1, 200, at);
        h.advert.interval = Centis(200);
        h
    };
    let effects = tick(&mut ctl, SEC, vec![slow(SEC)]);
    assert_eq!(
        events(&effects),
        vec![Event::IntervalMismatch {
            instance: "VI_1".into(),
            vrid: 1,
            peer: PEER,
            peer_interval_cs: 200,
            interval_cs: 100,
        }]
    );
    assert_eq!(warns(&effects, "interval mismatch"), 1);
    let effects = tick(&mut ctl, 3 * SEC, vec![slow(3 * SEC)]);
    assert!(events(&effects).is_empty());
    // Back to ours, then off again: a new report.
    tick(&mut ctl, 4 * SEC, vec![heard(1, 200, 4 * SEC)]);
    let effects = tick(&mut ctl, 5 * SEC, vec![slow(5 * SEC)]);
    assert_eq!(events(&effects).len(), 1);
}

#[test]
fn a_fault_names_the_tracked_object_and_its_clearing_what_came_back() {
    // The owner, master from the start.
    let mut a = instance("VI_1", 1, 255, true);
    a.track_interfaces = vec![config::TrackInterface {
        interface: "eth1".into(),
        weight: 0,
        reverse: false,
    }];
    let mut h = host();
    h.links.insert("eth1".into(), true);
    let (mut ctl, _) = Controller::start(&config(vec![a]), &h, 0).unwrap();
    let tracked: Vec<(String, String)> = view(&ctl, "VI_1")
        .tracked
        .iter()
        .map(|t| (t.name.clone(), t.verdict.clone()))
        .collect();
    assert_eq!(
        tracked,
        vec![("eth0".into(), "up".into()), ("eth1".into(), "up".into())]
    );
    ctl.handle(SEC, Input::Links(vec![("eth1".into(), false)]));
    let v = view(&ctl, "VI_1");
    assert_eq!(v.state, State::Fault);
    assert_eq!(&*v.reason, "fault: interface eth1 down");
    assert_eq!(v.fault.as_deref(), Some("interface eth1 down"));
    assert_eq!(v.tracked[1].verdict, "down");
    ctl.handle(2 * SEC, Input::Links(vec![("eth1".into(), true)]));
    let v = view(&ctl, "VI_1");
    assert_eq!(v.state, State::Backup);
    assert_eq!(&*v.reason, "fault cleared: eth1 up");
    let last: Vec<&str> = v.transitions.iter().map(|t| t.to.name()).collect();
    assert_eq!(last, vec!["MASTER", "FAULT", "INIT", "BACKUP"]);
}

#[test]
fn a_failing_effect_is_the_reason_of_its_fault() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(
        SEC,
        Input::Results(vec![Failure::new(
            Owner::Instance("VI_1".into()),
            "VIP 192.0.2.101 not added: EPERM",
        )]),
    );
    assert_eq!(
        &*view(&ctl, "VI_1").reason,
        "fault: VIP 192.0.2.101 not added: EPERM"
    );
}

#[test]
fn a_sync_group_member_says_which_group_took_it_along() {
    let c = grouped(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    // Both take over together at their Master_Down_Interval.
    up(&mut ctl, MDI);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    // VI_1 hears a better master and steps down; VI_2 follows its group.
    let effects = tick(&mut ctl, MDI + SEC, vec![heard(1, 200, MDI + SEC)]);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert!(
        view(&ctl, "VI_2").reason.starts_with("sync group VG_1: "),
        "{}",
        view(&ctl, "VI_2").reason
    );
    assert!(events(&effects).iter().any(
        |e| matches!(e, Event::SyncGroup { group, to, .. } if group == "VG_1" && to == "BACKUP")
    ));
    assert_eq!(
        view(&ctl, "VI_2").sync_group,
        Some(("VG_1".into(), State::Backup))
    );
}

#[test]
fn script_results_are_events_when_they_differ_and_when_the_verdict_changes() {
    let mut a = instance("VI_1", 1, 100, false);
    a.track_scripts = vec![TrackScript {
        script: "chk".into(),
        weight: Some(-10),
        reverse: None,
    }];
    let mut c = config(vec![a]);
    c.scripts = vec![Script {
        fall: 2,
        ..Script::new("chk", "true")
    }];
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let run = |ctl: &mut Controller, at, success| {
        events(&ctl.handle(
            at,
            Input::Script {
                name: "chk".into(),
                success,
            },
        ))
    };
    let script = |success, verdict: &str, changed| Event::Script {
        script: "chk".into(),
        success,
        verdict: verdict.into(),
        changed,
    };
    assert_eq!(
        run(&mut ctl, SEC, true),
        vec![script(true, "succeeding", false)]
    );
    assert_eq!(run(&mut ctl, 2 * SEC, true), vec![]);
    assert_eq!(
        run(&mut ctl, 3 * SEC, false),
        vec![script(false, "succeeding", false)]
    );
    assert_eq!(
        run(&mut ctl, 4 * SEC, false),
        vec![script(false, "failing", true)]
    );
    assert_eq!(run(&mut ctl, 5 * SEC, false), vec![]);
    assert_eq!(view(&ctl, "VI_1").tracked[1].verdict, "failing");
    assert_eq!(view(&ctl, "VI_1").priority, Priority(90));
}

#[test]
fn an_address_conflict_is_reported_once_per_claimant_and_episode() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let vip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101));
    let claim = |ctl: &mut Controller, at, mac| {
        ctl.handle(
            at,
            Input::AddressConflict {
                iface: "eth0".into(),
                family: Family::Ipv4,
                vrid: 1,
                address: vip,
                mac,
            },
        )
    };
    let attacker = [2, 0, 0, 0, 0, 0x66];
    let effects = claim(&mut ctl, SEC, attacker);
    assert_eq!(
        events(&effects),
        vec![Event::AddressConflict {
            instance: "VI_1".into(),
            vrid: 1,
            address: vip,
            mac: "02:00:00:00:00:66".into(),
        }]
    );
    assert_eq!(warns(&effects, "02:00:00:00:00:66 claims 192.0.2.101"), 1);
    assert!(events(&claim(&mut ctl, 2 * SEC, attacker)).is_empty());
    assert_eq!(view(&ctl, "VI_1").address_conflict.unwrap().frames, 2);
    // Quiet long enough: over; the next claim is a new episode.
    tick(&mut ctl, 13 * SEC, vec![]);
    assert_eq!(view(&ctl, "VI_1").address_conflict, None);
    assert_eq!(events(&claim(&mut ctl, 14 * SEC, attacker)).len(), 1);
    assert_eq!(view(&ctl, "VI_1").address_conflicts, 2);
}

#[test]
fn a_peers_other_address_list_is_compared_in_xdp_and_said_once_per_episode() {
    use vrrp_common::maps::{ROUTER_ADDRS_COUNT_ONLY, ROUTER_CHECK_ADDRS, ROUTER_SKIP_SAME_SENDER};
    let mut skip = instance("VI_2", 2, 100, false);
    skip.skip_check_adv_addr = true;
    let c = config(vec![instance("VI_1", 1, 100, false), skip]);
    let (mut ctl, effects) = Controller::start(&c, &host(), 0).unwrap();
    // XDP compares every advert with the one address our adverts list.
    let configs: Vec<_> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetRouter {
                instance, config, ..
            } => Some((instance.clone(), *config)),
            _ => None,
        })
        .collect();
    let of = |name: &str| configs.iter().find(|(i, _)| i == name).unwrap().1;
    let want = vrrp_common::maps::RouterConfig::new(3, None, 100, 100, [0; 16], false)
        .with_addresses(
            false,
            &[[192, 0, 2, 101, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
        );
    let vi1 = of("VI_1");
    assert_eq!(
        (
            vi1.flags & (ROUTER_CHECK_ADDRS | ROUTER_ADDRS_COUNT_ONLY | ROUTER_SKIP_SAME_SENDER),
            vi1.addr_count,
            vi1.addr_print
        ),
        (ROUTER_CHECK_ADDRS, 1, want.addr_print)
    );
    assert_ne!(of("VI_2").flags & ROUTER_SKIP_SAME_SENDER, 0);

    // XDP's counts, read once a second: the first is where VI_1 starts.
    let read = |ctl: &mut Controller, at, total| {
        ctl.handle(at, Input::AddressDrops(vec![("eth0".into(), 1, total)]))
    };
    assert!(events(&read(&mut ctl, SEC, 7)).is_empty());
    assert!(events(&read(&mut ctl, 2 * SEC, 7)).is_empty());
    let effects = read(&mut ctl, 3 * SEC, 9);
    assert_eq!(
        events(&effects),
        vec![Event::AddressListMismatch {
            instance: "VI_1".into(),
            vrid: 1,
            dropped: 2,
            count: 1,
        }]
    );
    assert_eq!(
        warns(
            &effects,
            "VI_1: adverts that list other addresses than our 1 are dropped (2 in the last second)"
        ),
        1
    );
    // The same episode: the drops a second apart say nothing more, nor a second without.
    for s in 4..20 {
        assert!(events(&read(&mut ctl, s * SEC, 6 + s)).is_empty());
    }
    // 10 s without a drop: over; the next drop is a new episode.
    assert!(events(&read(&mut ctl, 30 * SEC, 25)).is_empty());
    assert_eq!(events(&read(&mut ctl, 31 * SEC, 26)).len(), 1);
    // Another interface's, or another VRID's, counts are not VI_1's.
    let other = ctl.handle(
        45 * SEC,
        Input::AddressDrops(vec![("eth1".into(), 1, 99), ("eth0".into(), 3, 99)]),
    );
    assert!(events(&other).is_empty());
}

/// ARP for VIP 192.0.2.101 from our VRID 1's VMAC, fed as XDP reports it.
fn vmac_claim(ctl: &mut Controller, at: Nanos) -> Vec<Effect> {
    ctl.handle(
        at,
        Input::AddressConflict {
            iface: "eth0".into(),
            family: Family::Ipv4,
            vrid: 1,
            address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101)),
            mac: vrrp_common::proto::vmac_v4(1),
        },
    )
}

/// The `notify_split_brain` runs among `effects`: their arguments.
fn split_brain_hooks(effects: &[Effect]) -> Vec<Vec<String>> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::NotifySplitBrain { args, .. } => Some(args.clone()),
            _ => None,
        })
        .collect()
}

fn with_hook(mut spec: InstanceSpec) -> InstanceSpec {
    spec.notify.split_brain = Some(Box::new(crate::config::NotifyCommand {
        command: "/usr/local/bin/split".into(),
        user: None,
        group: None,
    }));
    spec
}

#[test]
fn a_master_claiming_our_vips_from_our_vmac_is_a_split_brain_though_its_adverts_are_lost() {
    let c = config(vec![with_hook(instance("VI_1", 1, 90, true))]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, mdi(90));
    // Long a master, it hears no advert, but the other master answers each of ours with a
    // burst of gratuitous ARPs from the VMAC: the first burst is not yet a split brain (it
    // may cross our takeover), the next one an interval later is, reported once.
    let mut first = Vec::new();
    for _ in 0..5 {
        first.extend(vmac_claim(&mut ctl, 10 * SEC));
    }
    assert!(events(&first).is_empty(), "{first:?}");
    assert!(split_brain_hooks(&first).is_empty());
    let effects = vmac_claim(&mut ctl, 11 * SEC);
    let vmac = "00:00:5e:00:01:01".to_string();
    assert_eq!(
        events(&effects),
        vec![Event::SplitBrain {
            instance: "VI_1".into(),
            vrid: 1,
            interface: "eth0".into(),
            peer: None,
            peer_priority: None,
            mac: Some(vmac.clone()),
            claimed: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101))),
            priority: 90,
        }]
    );
    assert_eq!(
        warns(
            &effects,
            "split brain: another master of VRID 1 on eth0 claims 192.0.2.101 from \
             00:00:5e:00:01:01"
        ),
        1
    );
    assert_eq!(
        split_brain_hooks(&effects),
        vec![vec!["VI_1".to_string(), "unknown".into(), vmac.clone()]]
    );
    let mut more = Vec::new();
    for s in 12..=14 {
        more.extend(vmac_claim(&mut ctl, s * SEC));
        more.extend(tick(&mut ctl, s * SEC, vec![]));
    }
    assert!(events(&more).is_empty(), "{more:?}");
    assert!(split_brain_hooks(&more).is_empty());
    let v = view(&ctl, "VI_1");
    assert_eq!(
        (v.split_brains, v.address_conflicts),
        (1, 0),
        "not an address conflict"
    );
    assert_eq!(v.address_conflict, None);
    let s = v.split_brain.unwrap();
    assert_eq!((s.claims, s.adverts, s.reported), (9, 0, true));
    // Quiet for Master_Down_Interval: over.
    let effects = tick(&mut ctl, 20 * SEC, vec![]);
    assert!(matches!(
        &events(&effects)[..],
        [Event::SplitBrainOver { peer: None, claims: 9, reason, .. }]
            if reason.starts_with("no advert or claim from it for ")
    ));
    assert_eq!(view(&ctl, "VI_1").split_brain, None);
}

#[test]
fn one_burst_from_our_vmac_and_claims_on_a_backup_are_no_split_brain() {
    let c = config(vec![
        instance("VI_1", 1, 255, true),
        with_hook(instance("VI_2", 2, 100, false)),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(
        state(&ctl, "VI_1"),
        State::Master,
        "the owner, from the start"
    );
    // The burst of the router we displaced, crossing our takeover: nothing follows.
    let mut effects = Vec::new();
    for _ in 0..5 {
        effects.extend(vmac_claim(&mut ctl, 200 * MS));
    }
    // A backup's VMAC is the master's to send from (VI_2 is backup until its Master_Down
    // timer runs out at 3.6 s).
    let claim = |ctl: &mut Controller, at| {
        ctl.handle(
            at,
            Input::AddressConflict {
                iface: "eth0".into(),
                family: Family::Ipv4,
                vrid: 2,
                address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 102)),
                mac: vrrp_common::proto::vmac_v4(2),
            },
        )
    };
    effects.extend(claim(&mut ctl, 300 * MS));
    effects.extend(claim(&mut ctl, 1_300 * MS));
    assert_eq!(view(&ctl, "VI_2").state, State::Backup);
    assert_eq!(view(&ctl, "VI_2").split_brain, None);
    effects.extend(tick(&mut ctl, 10 * SEC, vec![]));
    let split: Vec<Event> = events(&effects)
        .into_iter()
        .filter(|e| matches!(e, Event::SplitBrain { .. } | Event::SplitBrainOver { .. }))
        .collect();
    assert!(split.is_empty(), "{split:?}");
    assert!(split_brain_hooks(&effects).is_empty());
    assert_eq!(view(&ctl, "VI_1").split_brains, 0);
    assert_eq!(view(&ctl, "VI_1").split_brain, None);
    assert_eq!(view(&ctl, "VI_1").address_conflict, None);
}

#[test]
fn the_claims_and_adverts_of_one_other_master_are_one_episode_named_by_its_adverts() {
    let c = config(vec![with_hook(instance("VI_1", 1, 100, true))]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    // The other master's takeover: its burst comes in before its first advert is read.
    let mut effects = Vec::new();
    for _ in 0..5 {
        effects.extend(vmac_claim(&mut ctl, 10 * SEC));
    }
    effects.extend(tick(
        &mut ctl,
        10 * SEC + 5 * MS,
        vec![heard(1, 90, 10 * SEC + 2 * MS)],
    ));
    let vmac = "00:00:5e:00:01:01".to_string();
    assert_eq!(
        events(&effects),
        vec![Event::SplitBrain {
            instance: "VI_1".into(),
            vrid: 1,
            interface: "eth0".into(),
            peer: Some(PEER),
            peer_priority: Some(90),
            mac: Some(vmac.clone()),
            claimed: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101))),
            priority: 100,
        }]
    );
    assert_eq!(
        split_brain_hooks(&effects),
        vec![vec!["VI_1".to_string(), "192.0.2.5".into(), vmac]]
    );
    let mut more = Vec::new();
    for s in 11..=13 {
        more.extend(vmac_claim(&mut ctl, s * SEC));
        more.extend(tick(&mut ctl, s * SEC, vec![heard(1, 90, s * SEC)]));
    }
    assert!(events(&more).is_empty(), "{more:?}");
    assert!(split_brain_hooks(&more).is_empty());
    let s = view(&ctl, "VI_1").split_brain.unwrap();
    assert_eq!((s.peer, s.adverts, s.claims), (Some(PEER), 4, 8));
    assert_eq!(view(&ctl, "VI_1").split_brains, 1);
}

#[test]
fn a_preempting_backup_names_the_lower_master_it_displaces() {
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    // A lower-priority master advertises on; preempting, we let the timer run out.
    for s in 1..=3 {
        tick(&mut ctl, s * SEC, vec![heard(1, 90, s * SEC)]);
    }
    tick(&mut ctl, MDI, vec![heard(1, 90, 3 * SEC)]);
    let v = view(&ctl, "VI_1");
    assert_eq!(v.state, State::Master);
    assert_eq!(&*v.reason, "preempting 192.0.2.5 (priority 90, ours 100)");
}

#[test]
fn an_instance_restarted_by_a_reload_keeps_its_history() {
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    // A new VRID: another router, which a reload restarts.
    let mut changed = instance("VI_1", 2, 100, true);
    changed.priority = Priority(110);
    let reload = MDI + SEC;
    reload_at(&mut ctl, reload, config(vec![changed]));
    let v = view(&ctl, "VI_1");
    let history: Vec<(Nanos, &str, &str)> = v
        .transitions
        .iter()
        .map(|t| (t.at_ns, t.to.name(), &*t.reason))
        .collect();
    assert_eq!(
        history,
        vec![
            (0, "BACKUP", "startup"),
            (MDI, "MASTER", "no advert for 3.61 s since entering BACKUP"),
            (reload, "INIT", "shutdown: configuration reloaded"),
            (reload, "BACKUP", "startup"),
        ]
    );
    assert_eq!(v.priority, Priority(110));
    // Both runs' adverts: the first on taking over, priority 0 on the restart; the new run,
    // in BACKUP (`state MASTER` below 255), has sent none yet.
    assert_eq!(v.adverts_sent, 2);
}

/// Ticks every 10 ms from `at` until the controller sends an advert of `name` (at most 5 s);
/// `at` is left at that tick.
fn until_advert(c: &mut Controller, at: &mut Nanos, name: &str) {
    let limit = *at + 5 * SEC;
    while *at < limit {
        *at += 10 * MS;
        let effects = tick(c, *at, vec![]);
        if effects
            .iter()
            .any(|e| matches!(e, Effect::SendAdvert { spec, .. } if spec.name == name))
        {
            return;
        }
        if !effects.is_empty() {
            c.handle(*at, Input::Results(vec![]));
        }
    }
    panic!("no advert of {name} within 5 s");
}

fn refused() -> Input {
    Input::Results(vec![Failure::transient(
        Owner::Iface("eth0".into()),
        "eth0: 1 advert(s) not sent: No buffer space available (os error 105)",
    )])
}

#[test]
fn refused_sends_become_fault_only_at_the_third_in_a_row() {
    // The owner, master from the start.
    let c = config(vec![instance("VI_1", 1, 255, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    settle(&mut ctl, 0);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let mut at = HANDOVER_POLL;
    // Two refused, one through, two refused: still master, never FAULT.
    for ok in [false, false, true, false, false] {
        until_advert(&mut ctl, &mut at, "VI_1");
        let out = ctl.handle(
            at,
            if ok {
                Input::Results(vec![])
            } else {
                refused()
            },
        );
        assert!(transitions(&out).is_empty(), "{out:?}");
        assert_eq!(state(&ctl, "VI_1"), State::Master);
    }
    // The third in a row: FAULT, with the reason.
    until_advert(&mut ctl, &mut at, "VI_1");
    let out = ctl.handle(at, refused());
    assert_eq!(transitions(&out), vec![("VI_1".to_string(), State::Fault)]);
    let view = ctl.instances().remove(0);
    assert!(
        view.fault
            .as_deref()
            .is_some_and(|f| f.contains("3 consecutive sends failed")),
        "{view:?}"
    );
    // Sends that go again: it recovers by itself (the retry of FAULT's effects goes through).
    let mut recovered = false;
    for _ in 0..1000 {
        at += 10 * MS;
        let effects = tick(&mut ctl, at, vec![]);
        if !effects.is_empty() {
            ctl.handle(at, Input::Results(vec![]));
        }
        if state(&ctl, "VI_1") != State::Fault {
            recovered = true;
            break;
        }
    }
    assert!(recovered);
}

#[test]
fn a_refused_send_of_a_batch_counts_only_for_the_instances_that_sent() {
    // VI_1 master (the owner, from the start), VI_2 backup on the same interface: the
    // interface's batch is refused three times; only VI_1 (which sent) goes to FAULT.
    let c = config(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    settle(&mut ctl, 0);
    let mut at = HANDOVER_POLL;
    for _ in 0..3 {
        until_advert(&mut ctl, &mut at, "VI_1");
        ctl.handle(at, refused());
    }
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
}

#[test]
fn a_failure_that_is_not_a_refused_send_is_fault_at_once() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    settle(&mut ctl, 0);
    let mut at = HANDOVER_POLL;
    until_advert(&mut ctl, &mut at, "VI_1");
    ctl.handle(
        at,
        Input::Results(vec![Failure::new(
            Owner::Instance("VI_1".into()),
            "advert to 192.0.2.5 not sent: Network is unreachable (os error 101)",
        )]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
}

/// The GARP frames given out in `effects`: (repeat × addresses) per [`Effect::SendGarps`].
fn garps(effects: &[Effect]) -> usize {
    effects
        .iter()
        .map(|e| match e {
            Effect::SendGarps { vips, repeat, .. } => vips.len() * *repeat as usize,
            _ => 0,
        })
        .sum()
}

/// Runs `ctl` from `from` to `to` in 1 ms ticks (every result clean), feeding `heard` at the
/// tick where it arrives; the GARP frames sent at each tick.
fn garp_times(
    ctl: &mut Controller,
    from: Nanos,
    to: Nanos,
    heard: &[Heard],
) -> Vec<(Nanos, usize)> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let adverts: Vec<Heard> = heard
            .iter()
            .filter(|h| h.advert.received_at <= at)
            .cloned()
            .collect();
        let effects = tick(ctl, at, adverts);
        let n = garps(&effects);
        if n > 0 {
            out.push((at, n));
        }
        if !effects.is_empty() {
            ctl.handle(at, Input::Results(vec![]));
        }
        at += MS;
    }
    out
}

#[test]
fn garp_bursts_at_takeover_after_the_delay_and_on_refresh() {
    let mut spec = instance("VI_1", 1, 255, true);
    spec.garp.master_delay_s = 2;
    spec.garp.master_repeat = 3;
    spec.garp.master_refresh_s = 4;
    spec.garp.master_refresh_repeat = 2;
    let (mut ctl, start) = Controller::start(&config(vec![spec]), &host(), 0).unwrap();
    // The owner with `state MASTER` takes over at start: the first burst comes with it.
    assert_eq!(garps(&start), 3);
    ctl.handle(0, Input::Results(vec![]));
    let times = garp_times(&mut ctl, MS, 9 * SEC, &[]);
    // The second burst after garp_master_delay, refresh bursts every 4 s from the takeover.
    assert_eq!(times, vec![(2 * SEC, 3), (4 * SEC, 2), (8 * SEC, 2)]);
}

#[test]
fn a_master_answers_a_lower_priority_advert_with_garps_now_and_after_the_delay() {
    // The owner, master from the start.
    let mut spec = instance("VI_1", 1, 255, true);
    spec.garp.master_delay_s = 0;
    spec.garp.lower_prio_repeat = 4;
    spec.garp.lower_prio_delay_s = 1;
    let (mut ctl, _) = Controller::start(&config(vec![spec.clone()]), &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    // A router that took over by mistake advertises priority 100 at 3 s.
    let lower = heard(1, 100, 3 * SEC);
    let times = garp_times(&mut ctl, MS, 6 * SEC, &[lower]);
    assert_eq!(times, vec![(3 * SEC, 4), (4 * SEC, 4)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    // garp_lower_prio_repeat 0 (keepalived's strict_mode): nothing.
    spec.garp.lower_prio_repeat = 0;
    let (mut ctl, _) = Controller::start(&config(vec![spec]), &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    assert!(garp_times(&mut ctl, MS, 6 * SEC, &[heard(1, 100, 3 * SEC)]).is_empty());
    // Priority 0 is a master leaving, not one to correct: no burst either.
    let mut spec = instance("VI_1", 1, 255, true);
    spec.garp.master_delay_s = 0;
    let (mut ctl, _) = Controller::start(&config(vec![spec]), &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    assert!(garp_times(&mut ctl, MS, 3 * SEC, &[heard(1, 0, 2 * SEC)]).is_empty());
}

#[test]
fn a_takeover_of_many_routers_announces_after_the_adverts_a_budget_a_turn() {
    // 120 owners, masters from the start: 120 bursts of 5 GARPs, 600 frames.
    let specs: Vec<InstanceSpec> = (1..=120)
        .map(|v| {
            let mut s = instance(&format!("VI_{v}"), v, 255, true);
            s.garp.master_repeat = 5;
            s
        })
        .collect();
    let (mut ctl, start) = Controller::start(&config(specs), &host(), 0).unwrap();
    let position = |effects: &[Effect], f: &dyn Fn(&Effect) -> bool| {
        effects.iter().position(f).expect("in the effects")
    };
    // Every advert of the turn before the first GARP, with the flush that sends them between.
    let first_garp = position(&start, &|e| matches!(e, Effect::SendGarps { .. }));
    let last_advert = start
        .iter()
        .rposition(|e| matches!(e, Effect::SendAdvert { .. }))
        .expect("the takeovers' adverts");
    assert!(last_advert < first_garp);
    assert!(matches!(start[first_garp - 1], Effect::Flush));
    // The budget, then the burst that crosses it, and the loop comes back at once.
    let mut given = garps(&start);
    assert_eq!(given, ANNOUNCE_BUDGET.div_ceil(5) * 5);
    assert!(ctl.next_wake(0) <= MS);
    let mut bursts: Vec<String> = start
        .iter()
        .filter_map(|e| match e {
            Effect::SendGarps { instance, .. } => Some(instance.clone()),
            _ => None,
        })
        .collect();
    // The results of a turn's effects give out nothing more: that waits for the next turn.
    assert_eq!(garps(&ctl.handle(0, Input::Results(vec![]))), 0);
    let mut turns = 1;
    let mut at = 0;
    while given < 600 {
        at += MS / 10;
        let effects = tick(&mut ctl, at, vec![]);
        assert!(garps(&effects) <= ANNOUNCE_BUDGET + 5);
        given += garps(&effects);
        bursts.extend(effects.iter().filter_map(|e| match e {
            Effect::SendGarps { instance, .. } => Some(instance.clone()),
            _ => None,
        }));
        ctl.handle(at, Input::Results(vec![]));
        turns += 1;
        assert!(turns <= 3, "600 frames in more than three turns");
    }
    // Each router's burst once, in the order they took over.
    assert_eq!(given, 600);
    let names: Vec<String> = (1..=120).map(|v| format!("VI_{v}")).collect();
    assert_eq!(bursts, names);
    // Nothing waits now: the next wake-up is the adverts'.
    assert!(ctl.next_wake(at) > at + 100 * MS);
}

#[test]
fn garp_interval_paces_the_frames_of_an_interface() {
    // Two owners, masters from the start.
    let mut one = instance("VI_1", 1, 255, true);
    one.garp.master_delay_s = 0;
    one.garp.master_repeat = 2;
    let mut two = instance("VI_2", 2, 255, true);
    two.garp.master_delay_s = 0;
    two.garp.master_repeat = 2;
    let mut c = config(vec![one, two]);
    c.global.garp_interval_us = 100_000;
    let (mut ctl, start) = Controller::start(&c, &host(), 0).unwrap();
    // One frame at takeover; the other three (two instances × two) 100 ms apart, in order,
    // on the timer: the loop never waits for them.
    assert_eq!(garps(&start), 1);
    ctl.handle(0, Input::Results(vec![]));
    let times = garp_times(&mut ctl, MS, SEC, &[]);
    assert_eq!(
        times,
        vec![(100 * MS, 1), (200 * MS, 1), (300 * MS, 1)],
        "{times:?}"
    );
    // A wake-up is asked for each.
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    assert!(ctl.next_wake(MS) <= 100 * MS + COALESCE);
    // Released, the frames not sent yet are dropped.
    let mut spec = instance("VI_1", 1, 200, true);
    spec.garp.master_delay_s = 0;
    let mut c = config(vec![spec]);
    c.global.garp_interval_us = 100_000;
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let t0 = mdi(200);
    assert_eq!(garps(&up(&mut ctl, t0)), 1);
    ctl.handle(t0, Input::Results(vec![]));
    // A higher priority master appears 150 ms after the takeover: VI_1 steps down.
    let higher = heard(1, 250, t0 + 150 * MS);
    let times = garp_times(&mut ctl, t0 + MS, t0 + SEC, &[higher]);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(times, vec![(t0 + 100 * MS, 1)], "{times:?}");
}

#[test]
fn a_peer_with_the_other_v3_checksum_is_reported_once_per_episode() {
    // VI_1 the owner, master from the start; VI_2 a backup.
    let mut spec = instance("VI_1", 1, 255, true);
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
            .find(|v| v.name() == name)
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

/// The priorities of the adverts given out in `effects`.
fn adverts_sent(effects: &[Effect]) -> Vec<u8> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::SendAdvert { priority, .. } => Some(priority.get()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_unicast_master_that_yields_sends_one_advert_so_the_better_master_sends_its_garps() {
    // The chaos run's advert loss both ways on the lowest host (VI_U, unicast): it took over
    // and its GARPs moved the switch's entry for the VMAC to its port; when the loss ended it
    // heard the better master first and stepped down. Its last advert is what tells that
    // master to send GARPs; its adverts alone (from the NIC's MAC) would not move the switch.
    let mut low = instance("VI_U", 53, 50, true);
    low.unicast_peers = vec![PEER];
    low.garp.master_delay_s = 0;
    let (mut ctl, _) = Controller::start(&config(vec![low.clone()]), &host(), 0).unwrap();
    let t0 = mdi(50);
    up(&mut ctl, t0);
    ctl.handle(t0, Input::Results(vec![]));
    assert_eq!(state(&ctl, "VI_U"), State::Master);
    let effects = tick(&mut ctl, t0 + SEC, vec![heard(53, 150, t0 + SEC)]);
    assert_eq!(state(&ctl, "VI_U"), State::Backup);
    assert!(removes_vips(&effects, "VI_U"));
    assert_eq!(adverts_sent(&effects), vec![50], "one advert, our priority");
    // It stays silent as a backup afterwards.
    ctl.handle(t0 + SEC, Input::Results(vec![]));
    let later = tick(
        &mut ctl,
        t0 + SEC + 100 * MS,
        vec![heard(53, 150, t0 + SEC + 100 * MS)],
    );
    assert!(adverts_sent(&later).is_empty());

    // The better master, hearing that advert, sends its GARPs at once.
    let mut high = instance("VI_U", 53, 150, true);
    high.unicast_peers = vec![PEER];
    high.garp.master_delay_s = 0;
    high.garp.lower_prio_repeat = 1;
    let (mut better, _) = Controller::start(&config(vec![high]), &host(), 0).unwrap();
    let t1 = mdi(150);
    up(&mut better, t1);
    better.handle(t1, Input::Results(vec![]));
    let times = garp_times(
        &mut better,
        t1 + MS,
        t1 + 2 * SEC,
        &[heard(53, 50, t1 + SEC)],
    );
    assert_eq!(times, vec![(t1 + SEC, 1)]);
    assert_eq!(state(&better, "VI_U"), State::Master);

    // A multicast master's adverts come from the VMAC: it yields without one.
    let mut multicast = low;
    multicast.unicast_peers.clear();
    let (mut ctl, _) = Controller::start(&config(vec![multicast]), &host(), 0).unwrap();
    up(&mut ctl, t0);
    ctl.handle(t0, Input::Results(vec![]));
    assert_eq!(state(&ctl, "VI_U"), State::Master);
    let effects = tick(&mut ctl, t0 + SEC, vec![heard(53, 150, t0 + SEC)]);
    assert_eq!(state(&ctl, "VI_U"), State::Backup);
    assert!(adverts_sent(&effects).is_empty());
}

fn joins(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::JoinGroups { iface, .. } => Some(iface.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_group_not_joined_on_a_reload_faults_the_interface_until_a_retry_joins_it() {
    // VI_1 the owner, master from the start; VI_2 a backup.
    let c = config(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    // A reload (here one naming another group) joins the groups of the interface.
    let mut new = c.clone();
    new.global.mcast_group4 = Ipv4Addr::new(224, 0, 0, 19);
    let reload = Input::Reload {
        config: Box::new(new),
        host: host(),
    };
    assert_eq!(joins(&ctl.handle(SEC, reload)), vec!["eth0"]);
    let not_joined = "eth0: multicast group not joined: joining 224.0.0.19: no buffer space";
    let fail = |ctl: &mut Controller, at| {
        ctl.handle(
            at,
            Input::Results(vec![Failure::new(Owner::Iface("eth0".into()), not_joined)]),
        )
    };
    let effects = fail(&mut ctl, SEC);
    // Both instances FAULT with the reason; the master lets go of its VIPs.
    for name in ["VI_1", "VI_2"] {
        assert_eq!(state(&ctl, name), State::Fault);
        assert_eq!(&*view(&ctl, name).reason, format!("fault: {not_joined}"));
    }
    assert!(removes_vips(&effects, "VI_1"));
    // The retry joins again (once for the interface); failing, they stay in FAULT.
    let mut at = SEC + RETRY_FIRST;
    assert_eq!(joins(&tick(&mut ctl, at, vec![])), vec!["eth0"]);
    fail(&mut ctl, at);
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    // The next retry goes through: FAULT is over, and VI_1 master again in time.
    at += 2 * RETRY_FIRST;
    assert_eq!(joins(&tick(&mut ctl, at, vec![])), vec!["eth0"]);
    ctl.handle(at, Input::Results(vec![]));
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert_eq!(ctl.instances()[0].fault, None);
    at += 5 * SEC;
    tick(&mut ctl, at, vec![]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);

    // Unicast instances need no group: no join, so no FAULT from one.
    let mut unicast = instance("VI_U", 53, 100, false);
    unicast.unicast_peers = vec![PEER];
    let c = config(vec![unicast]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let reload = Input::Reload {
        config: Box::new(c),
        host: host(),
    };
    assert!(joins(&ctl.handle(SEC, reload)).is_empty());
}
/// A router entry written: instance, master, no_accept.
type RouterEntry = (String, bool, bool);

/// The router entries and interface heartbeats of `effects`: (instance, master, no_accept) and
/// (interface, no_accept).
fn accept_modes(effects: &[Effect]) -> (Vec<RouterEntry>, Vec<(String, bool)>) {
    let routers = effects
        .iter()
        .filter_map(|e| match e {
            Effect::SetRouter {
                instance, config, ..
            } if config.flags != 0 => Some((
                instance.clone(),
                config.flags & ROUTER_MASTER != 0,
                config.flags & ROUTER_NO_ACCEPT != 0,
            )),
            _ => None,
        })
        .collect();
    let ifaces = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Heartbeat {
                iface, no_accept, ..
            } => Some((iface.clone(), *no_accept)),
            _ => None,
        })
        .collect();
    (routers, ifaces)
}

#[test]
fn without_accept_mode_a_non_owner_router_tells_xdp_to_refuse_its_vips_traffic() {
    // VI_1 accepts (keepalived's default); VI_2 has no_accept; VI_3 has no_accept but owns
    // its addresses (priority 255), which keepalived never firewalls.
    let mut no_accept = instance("VI_2", 2, 200, true);
    no_accept.accept = false;
    let mut owner = instance("VI_3", 3, 255, true);
    owner.accept = false;
    let c = config(vec![instance("VI_1", 1, 200, true), no_accept]);
    let (mut ctl, mut effects) = Controller::start(&c, &host(), 0).unwrap();
    effects.extend(ctl.handle(0, Input::Results(vec![])));
    effects.extend(tick(&mut ctl, 4 * SEC, vec![]));
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    let (routers, ifaces) = accept_modes(&effects);
    // Configured, then master: the flag goes with the router entry that makes XDP answer
    // ARP, whatever the state (XDP drops only while master).
    assert!(
        routers.contains(&("VI_1".into(), true, false)),
        "{routers:?}"
    );
    assert!(
        routers.contains(&("VI_2".into(), false, true)),
        "{routers:?}"
    );
    assert!(
        routers.contains(&("VI_2".into(), true, true)),
        "{routers:?}"
    );
    assert!(
        routers
            .iter()
            .all(|(n, _, refuse)| *refuse == (n == "VI_2"))
    );
    // The interface's flag is on from the heartbeat written before VI_2's router entry (one
    // heartbeat an interface at start, before every instance's entries).
    let vi2 = effects
        .iter()
        .position(|e| matches!(e, Effect::SetRouter { instance, .. } if instance == "VI_2"))
        .unwrap();
    let (_, before) = accept_modes(&effects[..vi2]);
    assert_eq!(before, vec![("eth0".to_string(), true)], "{ifaces:?}");
    let (_, after) = accept_modes(&effects[vi2..]);
    assert!(after.iter().all(|(i, on)| i == "eth0" && *on), "{ifaces:?}");
    // A reload that turns accept on for VI_2 restarts it with the flag off, and the interface
    // no longer looks up destinations; the owner with no_accept is not refused either.
    let mut new = c.clone();
    new.instances[1].accept = true;
    new.instances.push(owner);
    let mut effects = reload_at(&mut ctl, 5 * SEC, new);
    // VI_2 restarts in BACKUP (`state MASTER` below 255), master again at its
    // Master_Down_Interval.
    effects.extend(up(&mut ctl, 5 * SEC + mdi(200)));
    assert_eq!(state(&ctl, "VI_2"), State::Master);
    let (routers, ifaces) = accept_modes(&effects);
    // (The old VI_2 is released first, with its old entry as backup.)
    let last = |name: &str| routers.iter().rev().find(|(n, _, _)| n == name).cloned();
    assert_eq!(
        last("VI_2"),
        Some(("VI_2".into(), true, false)),
        "{routers:?}"
    );
    assert_eq!(
        last("VI_3"),
        Some(("VI_3".into(), true, false)),
        "{routers:?}"
    );
    assert_eq!(ifaces.last(), Some(&("eth0".to_string(), false)));
}

#[test]
fn a_track_file_and_a_track_process_move_the_priority_and_fault() {
    let mut a = instance("VI_1", 1, 100, true);
    a.track_files = vec![
        config::TrackedFile {
            file: "level".into(),
            weight: None,
            reverse: None,
        },
        config::TrackedFile {
            file: "stop".into(),
            weight: Some(0),
            reverse: None,
        },
    ];
    a.track_processes = vec![config::TrackedProcess {
        process: "daemon".into(),
        weight: Some(-20),
        reverse: None,
    }];
    let mut c = config(vec![a]);
    let file = |name: &str, weight| config::TrackFile {
        name: name.into(),
        path: format!("/run/{name}"),
        weight,
        reverse: false,
        init: None,
        source: Default::default(),
    };
    c.track_files = vec![file("level", 5), file("stop", 1)];
    c.track_processes = vec![config::TrackProcess::new("daemon", "daemond")];
    let mut h = host();
    h.files.insert("level".into(), 2);
    h.processes.insert("daemon".into(), true);
    let (mut ctl, effects) = Controller::start(&c, &h, 0).unwrap();
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::WatchTracked { files, processes }
        if files.len() == 2 && processes.len() == 1))
    );
    // 100 + 2 × 5, the process running.
    assert_eq!(view(&ctl, "VI_1").priority, Priority(110));
    ctl.handle(
        SEC,
        Input::File {
            name: "level".into(),
            value: -3,
        },
    );
    assert_eq!(view(&ctl, "VI_1").priority, Priority(85));
    ctl.handle(
        2 * SEC,
        Input::Process {
            name: "daemon".into(),
            up: false,
        },
    );
    assert_eq!(view(&ctl, "VI_1").priority, Priority(65));
    let v = view(&ctl, "VI_1");
    let verdicts: Vec<(&str, &str, &str)> = v
        .tracked
        .iter()
        .map(|t| (t.kind.as_str(), t.name.as_str(), t.verdict.as_str()))
        .collect();
    assert_eq!(
        verdicts[1..],
        [
            ("file", "level", "value -3"),
            ("file", "stop", "value 0"),
            ("process", "daemon", "no quorum"),
        ]
    );
    // The weight-0 file non-zero: FAULT, and back.
    ctl.handle(
        3 * SEC,
        Input::File {
            name: "stop".into(),
            value: 1,
        },
    );
    let v = view(&ctl, "VI_1");
    assert_eq!(v.state, State::Fault);
    assert_eq!(v.fault.as_deref(), Some("file stop value 1"));
    ctl.handle(
        4 * SEC,
        Input::File {
            name: "stop".into(),
            value: 0,
        },
    );
    assert_eq!(view(&ctl, "VI_1").state, State::Backup);
    // value × weight of −254 or less: FAULT too.
    ctl.handle(
        5 * SEC,
        Input::File {
            name: "level".into(),
            value: -51,
        },
    );
    assert_eq!(view(&ctl, "VI_1").state, State::Fault);
}

/// The [`Effect::NotifyEvent`]s of `effects`: instance, event, priority, command.
fn notify_events(effects: &[Effect]) -> Vec<(String, &'static str, u8, Option<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::NotifyEvent {
                command,
                instance,
                event,
                priority,
            } => Some((
                instance.clone(),
                *event,
                *priority,
                command.as_ref().map(|c| c.command.clone()),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_master_hearing_a_lower_priority_notifies_master_rx_lower_pri() {
    // The owner, master from the start.
    let mut spec = instance("VI_1", 1, 255, true);
    spec.notify.master_rx_lower_pri = Some(Box::new(NotifyCommand {
        command: "/usr/local/bin/reclaim".into(),
        user: None,
        group: None,
    }));
    let (mut ctl, _) = Controller::start(&config(vec![spec.clone()]), &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let effects = tick(&mut ctl, SEC, vec![heard(1, 100, SEC)]);
    assert_eq!(
        notify_events(&effects),
        vec![(
            "VI_1".into(),
            "MASTER_RX_LOWER_PRI",
            255,
            Some("/usr/local/bin/reclaim".into())
        )]
    );
    // After the GARPs, as keepalived sends them first.
    let pos = |f: &dyn Fn(&Effect) -> bool| effects.iter().position(f).unwrap();
    assert!(
        pos(&|e| matches!(e, Effect::SendGarps { .. }))
            < pos(&|e| matches!(e, Effect::NotifyEvent { .. }))
    );
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    // Priority 0 is a master leaving: no event.
    ctl.handle(SEC, Input::Results(vec![]));
    assert!(notify_events(&tick(&mut ctl, 2 * SEC, vec![heard(1, 0, 2 * SEC)])).is_empty());
    // Without the command the FIFO line still goes out (keepalived's send_event_notify).
    spec.notify.master_rx_lower_pri = None;
    let (mut ctl, _) = Controller::start(&config(vec![spec]), &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let effects = tick(&mut ctl, SEC, vec![heard(1, 100, SEC)]);
    assert_eq!(
        notify_events(&effects),
        vec![("VI_1".into(), "MASTER_RX_LOWER_PRI", 255, None)]
    );
    // A master that yields to a higher priority, or a backup, says nothing of the kind.
    let (mut ctl, _) =
        Controller::start(&config(vec![instance("VI_1", 1, 100, true)]), &host(), 0).unwrap();
    up(&mut ctl, MDI);
    ctl.handle(MDI, Input::Results(vec![]));
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let t = MDI + SEC;
    assert!(notify_events(&tick(&mut ctl, t, vec![heard(1, 200, t)])).is_empty());
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    let t = MDI + 2 * SEC;
    assert!(notify_events(&tick(&mut ctl, t, vec![heard(1, 50, t)])).is_empty());
}

#[test]
fn notify_priority_changes_notifies_the_new_effective_priority() {
    let tracked = |name: &str, vrid, priority, master| {
        let mut s = instance(name, vrid, priority, master);
        s.track_scripts = vec![TrackScript {
            script: "chk".into(),
            weight: Some(-60),
            reverse: None,
        }];
        s.notify.priority_changes = Some(true);
        s
    };
    let mut quiet = tracked("VI_3", 3, 150, false);
    quiet.notify.priority_changes = None;
    let mut c = config(vec![
        tracked("VI_1", 1, 150, true),
        tracked("VI_2", 2, 150, false),
        quiet,
        // The address owner's priority never changes.
        tracked("VI_4", 4, 255, true),
    ]);
    c.scripts = vec![Script {
        fall: 1,
        rise: 1,
        ..Script::new("chk", "true")
    }];
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    // VI_2 and VI_3 hear a master, VI_1 none: VI_1 alone takes over at its Master_Down_Interval.
    let master = |at| vec![heard(2, 200, at), heard(3, 200, at)];
    let t0 = mdi(150);
    for at in [SEC, 2 * SEC, 3 * SEC, t0] {
        tick(&mut ctl, at, master(at));
    }
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert_eq!(state(&ctl, "VI_3"), State::Backup);
    let script = |ctl: &mut Controller, at, success| {
        ctl.handle(
            at,
            Input::Script {
                name: "chk".into(),
                success,
            },
        )
    };
    let effects = script(&mut ctl, t0 + SEC, false);
    assert_eq!(
        notify_events(&effects),
        vec![
            ("VI_1".into(), "MASTER_PRIORITY", 90, None),
            ("VI_2".into(), "BACKUP_PRIORITY", 90, None),
        ]
    );
    ctl.handle(t0 + SEC, Input::Results(vec![]));
    // Unchanged priority: nothing; back up: the base priority.
    assert!(notify_events(&script(&mut ctl, t0 + 2 * SEC, false)).is_empty());
    assert_eq!(
        notify_events(&script(&mut ctl, t0 + 3 * SEC, true)),
        vec![
            ("VI_1".into(), "MASTER_PRIORITY", 150, None),
            ("VI_2".into(), "BACKUP_PRIORITY", 150, None),
        ]
    );
}

fn vip(address: &str) -> Vip {
    Vip {
        address: address.parse().unwrap(),
        prefix_len: 64,
        dev: "eth0".into(),
        label: None,
        scope: Default::default(),
        broadcast: None,
    }
}

#[test]
fn an_ipv4_vip_excluded_from_an_ipv6_instance_is_added_but_never_mapped_or_announced() {
    // The owner, master from the start.
    let mut spec = instance("VI_6", 6, 255, true);
    spec.vips = vec![vip("2001:db8::6")];
    spec.excluded_vips = vec![vip("192.0.2.66"), vip("2001:db8::66")];
    let mut h = host();
    h.ifaces.get_mut("eth0").unwrap().link_local = Some("fe80::4".parse().unwrap());
    let (mut c, effects) = Controller::start(&config(vec![spec]), &h, 0).unwrap();
    let v6 = |a: &str| -> IpAddr { a.parse().unwrap() };
    let mapped = effects.iter().find_map(|e| match e {
        Effect::MapVips { vips, family, .. } => Some((vips.clone(), *family)),
        _ => None,
    });
    assert_eq!(
        mapped,
        Some((vec![v6("2001:db8::6"), v6("2001:db8::66")], Family::Ipv6))
    );
    // Said once, at its start.
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Log { line, .. } if line.contains("192.0.2.66 is IPv4, excluded"))
    ));
    c.handle(0, Input::Results(vec![]));
    // As master: the kernel gets all three addresses, the announcements only the IPv6 ones.
    let mut all = effects;
    for t in 1..=20 {
        all.extend(tick(&mut c, t * 100 * MS, vec![]));
        c.handle(t * 100 * MS, Input::Results(vec![]));
    }
    assert_eq!(state(&c, "VI_6"), State::Master);
    let added = all.iter().find_map(|e| match e {
        Effect::AddVips { vips, .. } => Some(vips.len()),
        _ => None,
    });
    assert_eq!(added, Some(3));
    let announced: Vec<IpAddr> = all
        .iter()
        .filter_map(|e| match e {
            Effect::SendGarps { vips, .. } => Some(vips.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(!announced.is_empty());
    assert!(announced.iter().all(IpAddr::is_ipv6), "{announced:?}");
    // Stopped by a reload that drops it: unmapped as it was mapped.
    let out = c.handle(
        3 * SEC,
        Input::Reload {
            config: Box::new(config(vec![])),
            host: h,
        },
    );
    let unmapped = out.iter().find_map(|e| match e {
        Effect::UnmapVips { vips, .. } => Some(vips.clone()),
        _ => None,
    });
    assert_eq!(unmapped, Some(vec![v6("2001:db8::6"), v6("2001:db8::66")]));
}

#[test]
fn a_script_the_host_refuses_is_disabled_and_ignored_by_its_trackers() {
    let mut a = instance("VI_1", 1, 100, false);
    a.track_scripts = ["bad", "chk"]
        .iter()
        .map(|s| TrackScript {
            script: s.to_string(),
            weight: Some(-10),
            reverse: None,
        })
        .collect();
    let mut c = config(vec![a]);
    c.scripts = vec![Script::new("bad", "/tmp/x"), Script::new("chk", "true")];
    let mut h = host();
    h.refused_scripts = [("bad".to_string(), "user nobody9 does not exist".to_string())].into();
    let (mut ctl, effects) = Controller::start(&c, &h, 0).unwrap();
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Log { level: log::Level::Warn, line }
        if line == "Disabling track script bad: user nobody9 does not exist")
    ));
    let run = effects.iter().find_map(|e| match e {
        Effect::RunScripts(s) => Some(s.iter().map(|s| s.name.clone()).collect::<Vec<_>>()),
        _ => None,
    });
    assert_eq!(run, Some(vec!["chk".to_string()]));
    assert!(ctl.config().scripts.iter().all(|s| s.name != "bad"));
    ctl.handle(0, Input::Results(vec![]));
    // Its result, should one come, changes nothing; the other script still counts.
    ctl.handle(
        SEC,
        Input::Script {
            name: "bad".into(),
            success: false,
        },
    );
    assert_eq!(ctl.instances()[0].priority, Priority(100));
    // A reload on a host that now accepts it runs it.
    h.refused_scripts.clear();
    let out = ctl.handle(
        2 * SEC,
        Input::Reload {
            config: Box::new(c.clone()),
            host: h.clone(),
        },
    );
    let run = out.iter().find_map(|e| match e {
        Effect::RunScripts(s) => Some(s.len()),
        _ => None,
    });
    assert_eq!(run, Some(2));
}

fn answer(effects: &[Effect]) -> Option<(bool, Vec<String>)> {
    effects.iter().find_map(|e| match e {
        Effect::AnswerReload { applied, lines } => Some((*applied, lines.clone())),
        _ => None,
    })
}

fn loaded(config: Config, host: Host) -> Input {
    Input::Loaded {
        path: "/etc/vrrpd.conf".into(),
        warnings: vec!["/etc/vrrpd.conf:9: warning: x".into()],
        loaded: Ok(Box::new((config, host))),
    }
}

#[test]
fn a_reload_asked_reads_the_file_unless_stopping_and_is_answered() {
    let one = config(vec![instance("VI_1", 1, 150, true)]);
    let (mut ctl, _) = Controller::start(&one, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let asked = ctl.handle(SEC, Input::ReloadAsked);
    assert_eq!(without_chores(asked), vec![Effect::LoadConfig]);
    // Applied: what changed, after the file's warnings.
    let two = config(vec![
        instance("VI_1", 1, 150, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (applied, lines) = answer(&ctl.handle(SEC, loaded(two.clone(), host()))).unwrap();
    assert!(applied);
    assert_eq!(lines[0], "/etc/vrrpd.conf:9: warning: x");
    assert!(
        lines[1].contains("1 instance(s) unchanged, 0 stopped, 1 started"),
        "{lines:?}"
    );
    assert_eq!(ctl.instances().len(), 2);
    // A file that did not load: its errors and the refusal, nothing changed.
    let out = ctl.handle(
        2 * SEC,
        Input::Loaded {
            path: "/etc/vrrpd.conf".into(),
            warnings: vec!["/etc/vrrpd.conf:9: warning: x".into()],
            loaded: Err(vec!["/etc/vrrpd.conf:3: error: unknown keyword".into()]),
        },
    );
    assert_eq!(
        answer(&out),
        Some((
            false,
            vec![
                "/etc/vrrpd.conf:3: error: unknown keyword".into(),
                "reload of /etc/vrrpd.conf refused; the running configuration stays".into(),
            ]
        ))
    );
    assert!(out.iter().any(
        |e| matches!(e, Effect::Log { level: log::Level::Warn, line }
        if line.ends_with("warning: x"))
    ));
    assert_eq!(ctl.instances().len(), 2);
    // An interface the driver could not open: refused where the file names it.
    let mut three = two.clone();
    let mut vi3 = instance("VI_3", 3, 100, false);
    vi3.interface = "nosuch0".into();
    vi3.source = config::SourceLoc {
        file: "/etc/vrrpd.conf".into(),
        line: 21,
    };
    three.instances.push(vi3);
    let mut h = host();
    h.unopened = [("nosuch0".to_string(), "No such device".to_string())].into();
    let (applied, lines) = answer(&ctl.handle(3 * SEC, loaded(three, h))).unwrap();
    assert!(!applied);
    assert_eq!(
        lines[1..],
        [
            "/etc/vrrpd.conf:21: interface nosuch0: No such device".to_string(),
            "reload of /etc/vrrpd.conf refused; the running configuration stays".to_string(),
        ]
    );
    assert_eq!(ctl.instances().len(), 2);
    // An instance that cannot run here (no address to advertise from): refused by the check.
    let mut h = host();
    h.ifaces.get_mut("eth0").unwrap().primary4 = None;
    let (applied, lines) = answer(&ctl.handle(4 * SEC, loaded(one.clone(), h))).unwrap();
    assert!(!applied);
    assert!(lines[1].contains("has no IPv4 address"), "{lines:?}");
    assert_eq!(ctl.instances().len(), 2);
    // Stopping: answered at once, the file not read.
    ctl.handle(5 * SEC, Input::Stop);
    let out = ctl.handle(5 * SEC, Input::ReloadAsked);
    assert!(!out.contains(&Effect::LoadConfig));
    assert_eq!(
        answer(&out),
        Some((
            false,
            vec!["vrrpd is stopping; the reload is not applied".into()]
        ))
    );
}

#[test]
fn an_interface_created_again_without_its_address_is_held_down_not_adopted() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    let mut bare = host();
    bare.ifaces.get_mut("eth0").unwrap().primary4 = None;
    let recreated = |h: &Host| Input::Recreated {
        iface: "eth0".into(),
        host: h.clone(),
    };
    let adopts = |e: &[Effect]| e.iter().any(|e| matches!(e, Effect::AdoptIface { .. }));
    let effects = ctl.handle(SEC, recreated(&bare));
    assert!(!adopts(&effects));
    assert_eq!(
        warns(
            &effects,
            "eth0: created again; waiting: VI_1: eth0 has no IPv4"
        ),
        1
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    // Tried again (a link event, a read): said once, still down whatever its link says.
    let effects = ctl.handle(SEC + 100 * MS, recreated(&bare));
    assert!(!adopts(&effects));
    assert_eq!(warns(&effects, "waiting"), 0);
    ctl.handle(SEC + 200 * MS, Input::Links(vec![("eth0".into(), true)]));
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    // Addressed: adopted before anything is written into its maps, and VI_1 restarts.
    let effects = ctl.handle(2 * SEC, recreated(&host()));
    assert!(matches!(effects.first(), Some(Effect::AdoptIface { iface }) if iface == "eth0"));
    ctl.handle(2 * SEC, Input::Links(vec![("eth0".into(), true)]));
    assert_ne!(state(&ctl, "VI_1"), State::Fault);
    // Stopping: adopted (the releases go to the new one), nothing restarts.
    ctl.handle(3 * SEC, Input::Stop);
    let effects = ctl.handle(3 * SEC, recreated(&host()));
    assert!(adopts(&effects));
    assert!(transitions(&effects).is_empty());
}
/// Issue 15: the heartbeat that keeps XDP's liveness gate fresh goes stale within one and a
/// half of the interface's shortest advert interval, so that a crashed master's gate is stale
/// (and closes at the new master's first advert) by the time a backup takes over: at least
/// Master_Down_Interval minus one interval after our last heartbeat. With the
/// Master_Down_Interval itself as the bound, the gate was still fresh at the takeover, and the
/// dead node answered ARP from the VMAC after the new master's first advert.
#[test]
fn the_heartbeat_is_stale_well_before_a_backup_takes_over() {
    let mut slow = instance("VI_1", 1, 100, true);
    slow.advert_interval = Centis(100);
    let mut fast = instance("VI_2", 2, 200, false);
    fast.advert_interval = Centis(1);
    for c in [
        config(vec![slow.clone()]),
        config(vec![fast.clone()]),
        config(vec![slow, fast]),
    ] {
        // The heartbeats of a tick, once every instance is in (each instance's start writes
        // one for the instances so far).
        let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
        ctl.handle(0, Input::Results(vec![]));
        let effects = tick(&mut ctl, 4 * SEC, vec![]);
        let beats: Vec<(u64, u64)> = effects
            .iter()
            .filter_map(|e| match e {
                Effect::Heartbeat {
                    stale_after_ns,
                    hold_ns,
                    ..
                } => Some((*stale_after_ns, *hold_ns)),
                _ => None,
            })
            .collect();
        assert!(!beats.is_empty());
        let shortest = c
            .instances
            .iter()
            .map(|i| ns(i.advert_interval))
            .min()
            .unwrap();
        for (stale, hold) in beats {
            assert_eq!(stale, shortest + shortest / 2);
            for i in &ctl.instances {
                let down = i.router.master_down_interval().as_nanos();
                let interval = ns(i.spec.advert_interval);
                assert!(
                    stale < down - interval,
                    "{}: stale after {stale} ns, backup takes over {} ns after our last heartbeat at the earliest",
                    i.spec.name,
                    down - interval
                );
                assert!(hold >= 2 * down, "held as before: {hold}");
            }
        }
    }
}

#[test]
fn the_drivers_chores_come_as_effects_when_due() {
    let mut a = instance("VI_1", 1, 100, false);
    a.track_interfaces = vec![config::TrackInterface {
        interface: "eth1".into(),
        weight: -10,
        reverse: false,
    }];
    let (mut ctl, effects) = Controller::start(&config(vec![a]), &host(), 0).unwrap();
    // The heap trimmed after what start did.
    assert_eq!(effects.last(), Some(&Effect::TrimHeap));
    let chores = |e: &[Effect]| -> Vec<Effect> {
        e.iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::ReadLinks(_) | Effect::TrimHeap | Effect::PublishStatus
                )
            })
            .cloned()
            .collect()
    };
    // The links (the instance's own and the tracked one) at the first wake-up, then every
    // second; the snapshot at once after a change (a read that found the links as they were
    // is none), and time alone publishes nothing: readers ask the driver for a refresh.
    let out = ctl.handle(MS, Input::Results(vec![]));
    assert_eq!(
        chores(&out),
        vec![Effect::ReadLinks(vec!["eth0".into(), "eth1".into()])]
    );
    assert_eq!(ctl.chores_wake(), MS + LINK_CHECK);
    let out = ctl.handle(2 * MS, Input::Links(vec![("eth1".into(), true)]));
    assert_eq!(chores(&out), vec![Effect::PublishStatus]);
    let out = ctl.handle(3 * MS, Input::Links(vec![("eth1".into(), true)]));
    assert!(chores(&out).is_empty());
    assert!(chores(&tick(&mut ctl, 4 * MS, vec![])).is_empty());
    assert!(chores(&tick(&mut ctl, 500 * MS, vec![])).is_empty());
    assert_eq!(ctl.chores_wake(), MS + LINK_CHECK);
    let out = tick(&mut ctl, MS + LINK_CHECK, vec![]);
    assert!(matches!(chores(&out).first(), Some(Effect::ReadLinks(_))));
    let mut trims = 0;
    for s in 2..=31 {
        trims += chores(&tick(&mut ctl, s * SEC, vec![])).contains(&Effect::TrimHeap) as u32;
    }
    assert_eq!(trims, 1);
}

/// The effects of the controller's decisions about the routers, without the driver's chores.
fn without_chores(effects: Vec<Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .filter(|e| {
            !matches!(
                e,
                Effect::ReadLinks(_)
                    | Effect::ReadAddressDrops(_)
                    | Effect::TrimHeap
                    | Effect::PublishStatus
            )
        })
        .collect()
}

/// The groups each interface is told to hold, in order.
fn group_orders(effects: &[Effect]) -> Vec<(String, Vec<McastGroup>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::JoinGroups { iface, groups } => Some((iface.clone(), groups.clone())),
            _ => None,
        })
        .collect()
}

const LL: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 4);

/// An instance with an IPv6 VIP: it advertises from the link-local address to ff02::12.
fn instance6(name: &str, vrid: u8) -> InstanceSpec {
    let mut s = instance(name, vrid, 100, false);
    s.vips[0].address = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 100));
    s.vips[0].prefix_len = 64;
    s
}

/// `vrrp_mcast_group4` as validation leaves it: in `global_defs` and copied into each instance.
fn with_group4(mut c: Config, group: Ipv4Addr) -> Config {
    c.global.mcast_group4 = group;
    for i in &mut c.instances {
        i.mcast_group4 = group;
    }
    c
}

fn v4(group: [u8; 4], local: Ipv4Addr) -> McastGroup {
    McastGroup::V4 {
        group: group.into(),
        local,
    }
}

const V6: McastGroup = McastGroup::V6 {
    group: std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
};

/// Which multicast groups an interface holds is the controller's decision, from the host it is
/// told of: the group of each family of its multicast instances (IPv4 through the interface's
/// primary address), told at start and after every reload; the old ones left when the groups
/// or the addresses change, all of them when no multicast instance is left on it.
#[test]
fn the_controller_decides_the_groups_an_interface_holds() {
    let dual = |primary4: Option<Ipv4Addr>, link_local| {
        let mut h = host();
        let eth0 = h.ifaces.get_mut("eth0").unwrap();
        eth0.primary4 = primary4;
        eth0.link_local = link_local;
        h
    };
    let both = config(vec![instance("VI_1", 1, 200, true), instance6("VI_6", 6)]);
    let (mut ctl, out) = Controller::start(&both, &dual(Some(ME), Some(LL)), 0).unwrap();
    let eth0 = |groups: Vec<McastGroup>| vec![("eth0".to_string(), groups)];
    assert_eq!(group_orders(&out), eth0(vec![v4([224, 0, 0, 18], ME), V6]));
    ctl.handle(0, Input::Results(vec![]));
    let reload = |ctl: &mut Controller, at, c: &Config, h: Host| {
        let out = ctl.handle(
            at,
            Input::Reload {
                config: Box::new(c.clone()),
                host: h,
            },
        );
        (ctl.take_reload_outcome(), group_orders(&out))
    };
    // A reload moving vrrp_mcast_group4: the old group left, the new one joined.
    let moved = with_group4(both.clone(), Ipv4Addr::new(224, 0, 0, 19));
    let (outcome, orders) = reload(&mut ctl, SEC, &moved, dual(Some(ME), Some(LL)));
    assert!(matches!(outcome, Some(Ok(_))), "{outcome:?}");
    assert_eq!(orders, eth0(vec![v4([224, 0, 0, 19], ME), V6]));
    // The interface's IPv4 address changed: the group joined again through the new one.
    let other = Ipv4Addr::new(192, 0, 2, 9);
    let (_, orders) = reload(&mut ctl, 2 * SEC, &moved, dual(Some(other), Some(LL)));
    assert_eq!(orders, eth0(vec![v4([224, 0, 0, 19], other), V6]));
    // It lost its link-local address, and the IPv6 instance is gone: ff02::12 left.
    let only4 = with_group4(
        config(vec![instance("VI_1", 1, 200, true)]),
        Ipv4Addr::new(224, 0, 0, 19),
    );
    let (outcome, orders) = reload(&mut ctl, 3 * SEC, &only4, dual(Some(other), None));
    assert!(matches!(outcome, Some(Ok(_))), "{outcome:?}");
    assert_eq!(orders, eth0(vec![v4([224, 0, 0, 19], other)]));
    // The IPv6 instance back without a link-local address: refused, the groups untouched.
    let (outcome, orders) = reload(&mut ctl, 4 * SEC, &moved, dual(Some(other), None));
    assert!(matches!(outcome, Some(Err(_))), "{outcome:?}");
    assert_eq!(orders, vec![]);
    // With one gained: ff02::12 joined again.
    let (_, orders) = reload(&mut ctl, 5 * SEC, &moved, dual(Some(other), Some(LL)));
    assert_eq!(orders, eth0(vec![v4([224, 0, 0, 19], other), V6]));
    // The IPv4 instance unicast, the IPv6 one gone: no multicast instance, every group left.
    let mut unicast = moved.clone();
    unicast.instances.truncate(1);
    unicast.instances[0].unicast_peers = vec![PEER];
    let (_, orders) = reload(&mut ctl, 6 * SEC, &unicast, dual(Some(other), Some(LL)));
    assert_eq!(orders, eth0(vec![]));
    // Once left, nothing more to say.
    let (_, orders) = reload(&mut ctl, 7 * SEC, &unicast, dual(Some(other), Some(LL)));
    assert_eq!(orders, vec![]);
}

/// An interface created again lost its memberships with the old one: adopted, it is told its
/// groups again, through the address it has now.
#[test]
fn an_interface_created_again_is_told_its_groups_after_it_is_adopted() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let mut h = host();
    let new = Ipv4Addr::new(192, 0, 2, 9);
    h.ifaces.get_mut("eth0").unwrap().primary4 = Some(new);
    let out = ctl.handle(
        SEC,
        Input::Recreated {
            iface: "eth0".into(),
            host: h,
        },
    );
    let adopted = out
        .iter()
        .position(|e| matches!(e, Effect::AdoptIface { .. }))
        .expect("adopted");
    let joined = out
        .iter()
        .position(|e| matches!(e, Effect::JoinGroups { .. }))
        .expect("groups told");
    assert!(adopted < joined);
    assert_eq!(
        group_orders(&out),
        vec![("eth0".to_string(), vec![v4([224, 0, 0, 18], new)])]
    );
}

/// A group not joined at start is the FAULT of the interface's instances, as after a reload:
/// vrrpd runs on, and the retries join it.
#[test]
fn a_group_not_joined_at_start_faults_the_interface_until_a_retry_joins_it() {
    let c = config(vec![instance("VI_1", 1, 200, true)]);
    let (mut ctl, out) = Controller::start(&c, &host(), 0).unwrap();
    assert_eq!(joins(&out), vec!["eth0"]);
    let why = "eth0: multicast group not joined: joining 224.0.0.18: no such device";
    ctl.handle(
        0,
        Input::Results(vec![Failure::new(Owner::Iface("eth0".into()), why)]),
    );
    assert_eq!(state(&ctl, "VI_1"), State::Fault);
    assert_eq!(&*view(&ctl, "VI_1").reason, format!("fault: {why}"));
    let out = tick(&mut ctl, RETRY_FIRST, vec![]);
    assert_eq!(
        group_orders(&out),
        vec![("eth0".to_string(), vec![v4([224, 0, 0, 18], ME)])]
    );
    ctl.handle(RETRY_FIRST, Input::Results(vec![]));
    assert_eq!(view(&ctl, "VI_1").fault, None);
}

/// One rule for the configuration vrrpd starts with and a reload's: what a reload is refused
/// for (an interface that could not be opened, an instance without its address), start
/// refuses, in the same words, naming the file and line.
#[test]
fn start_refuses_what_a_reload_refuses_in_the_same_words() {
    let at = |line| config::SourceLoc {
        file: "/etc/vrrpd.conf".into(),
        line,
    };
    let mut vi1 = instance("VI_1", 1, 150, true);
    vi1.source = at(5);
    let one = config(vec![vi1.clone()]);
    let mut vi3 = instance("VI_3", 3, 100, false);
    vi3.interface = "nosuch0".into();
    vi3.source = at(21);
    let mut missing = one.clone();
    missing.instances.push(vi3);
    let mut unopened = host();
    unopened.unopened = [("nosuch0".to_string(), "No such device".to_string())].into();
    let mut bare = host();
    bare.ifaces.get_mut("eth0").unwrap().primary4 = None;
    for (c, h, words) in [
        (
            &missing,
            &unopened,
            "/etc/vrrpd.conf:21: interface nosuch0: No such device",
        ),
        (
            &one,
            &bare,
            "/etc/vrrpd.conf:5: VI_1: eth0 has no IPv4 address to advertise from",
        ),
    ] {
        let refused = Controller::start(c, h, 0).err();
        assert_eq!(refused.as_deref(), Some(words));
        let (mut ctl, _) = Controller::start(&config(vec![]), &host(), 0).unwrap();
        let (applied, lines) = answer(&ctl.handle(SEC, loaded(c.clone(), h.clone()))).unwrap();
        assert!(!applied);
        assert_eq!(lines[1], words, "{lines:?}");
    }
    // And what a reload applies, start runs.
    assert!(Controller::start(&one, &host(), 0).is_ok());
}

/// 255 IPv4 and 255 IPv6 routers on each of `ifaces` interfaces (the whole VRID space, as
/// the scale bench runs it), master (the owner with `state MASTER`, master from the start) or
/// backup (priority 150) of all.
fn whole_vrid_space(ifaces: usize, master: bool) -> (Config, Host) {
    let mut instances = Vec::new();
    let mut host = host();
    for f in 0..ifaces {
        let iface = format!("eth{f}");
        host.ifaces.insert(
            iface.clone(),
            IfaceInfo {
                primary4: Some(ME),
                link_local: Some("fe80::4".parse().unwrap()),
                nd_router: false,
            },
        );
        host.links.insert(iface.clone(), true);
        for vrid in 1..=255u8 {
            for v6 in [false, true] {
                let priority = if master { 255 } else { 150 };
                let mut s = instance(&format!("V{f}_{v6}_{vrid}"), 1, priority, master);
                s.vrid = Vrid::new(vrid).unwrap();
                s.interface = iface.clone();
                s.advert_interval = Centis(1);
                let address = if v6 {
                    IpAddr::V6(std::net::Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        f as u16,
                        0,
                        0,
                        0,
                        0,
                        vrid.into(),
                    ))
                } else {
                    IpAddr::V4(Ipv4Addr::new(198, 51, f as u8, vrid))
                };
                s.vips = vec![Vip {
                    address,
                    prefix_len: if v6 { 128 } else { 32 },
                    dev: iface.clone(),
                    label: None,
                    scope: Default::default(),
                    broadcast: None,
                }];
                instances.push(s);
            }
        }
    }
    (config(instances), host)
}

fn count(effects: &[Effect], what: fn(&Effect) -> bool) -> usize {
    effects.iter().filter(|e| what(e)).count()
}

#[test]
fn starting_n_routers_writes_each_map_entry_once_and_the_heartbeats_once() {
    // Linear in the routers: a router entry each (and one more for each that takes over), the
    // VIPs mapped once, one heartbeat an interface. (At start the heartbeat was written once
    // per instance, each computed over all instances so far: O(N²).)
    for (ifaces, master) in [(1, true), (2, true), (2, false)] {
        let (c, host) = whole_vrid_space(ifaces, master);
        let n = c.instances.len();
        assert_eq!(n, 510 * ifaces);
        let (ctl, effects) = Controller::start(&c, &host, 0).unwrap();
        let set_router = count(&effects, |e| matches!(e, Effect::SetRouter { .. }));
        let mapped = count(&effects, |e| matches!(e, Effect::MapVips { .. }));
        let stale = count(&effects, |e| matches!(e, Effect::RemoveStaleVips { .. }));
        let beats = count(&effects, |e| matches!(e, Effect::Heartbeat { .. }));
        let masters = ctl.states().filter(|s| *s == State::Master).count();
        assert_eq!(masters, if master { n } else { 0 });
        assert_eq!(set_router, n + masters, "{ifaces} interface(s)");
        assert_eq!(mapped, n);
        assert_eq!(stale, n);
        assert_eq!(beats, ifaces);
        // The heartbeats go before any router entry: XDP's gate is open and knows the
        // interface's no_accept before the first router it answers for.
        let first_router = effects
            .iter()
            .position(|e| matches!(e, Effect::SetRouter { .. }))
            .unwrap();
        let last_beat = effects
            .iter()
            .rposition(|e| matches!(e, Effect::Heartbeat { .. }))
            .unwrap();
        assert!(last_beat < first_router);
    }
}

/// An advert of priority 200 at a 10 ms interval heard at `at` for every instance of `c`.
fn heard_all(c: &Config, at: Nanos) -> Vec<Heard> {
    c.instances
        .iter()
        .map(|s| {
            let mut h = heard(s.vrid.get(), 200, at);
            h.iface = s.interface.as_str().into();
            h.family = map_family(s);
            h.advert.interval = Centis(1);
            h
        })
        .collect()
}

#[test]
fn a_host_of_backups_wakes_for_its_timers_a_master_every_interval() {
    let (c, host) = whole_vrid_space(2, false);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    // Every router heard 5 ms ago: the next deadline is the earliest Master_Down_Timer, and
    // nothing in between (the advert interval is 10 ms).
    let now = 20 * MS;
    tick(&mut ctl, now, heard_all(&c, now - 5 * MS));
    let down = ctl
        .routers()
        .filter_map(|(_, r)| r.next_deadline())
        .min()
        .unwrap();
    assert!(down > now + 10 * MS, "{down}");
    assert_eq!(ctl.next_wake(now), down);
    assert!(ctl.states().all(|s| s == State::Backup));
    // A master of them all wakes at least every interval (its adverts, the heartbeat).
    let (c, host) = whole_vrid_space(1, true);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    tick(&mut ctl, MS, vec![]);
    assert!(ctl.next_wake(MS) <= MS + 10 * MS);
}

#[test]
fn master_down_timers_a_few_hundred_microseconds_apart_wake_the_backup_once() {
    let (c, host) = whole_vrid_space(1, false);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    // One master's batch: its adverts heard 2 µs apart (510 of them: about 1 ms), but the
    // last router's 5 ms later.
    let now = 20 * MS;
    let mut heard = heard_all(&c, 0);
    let last = heard.len() - 1;
    for (k, h) in heard.iter_mut().enumerate() {
        h.advert.received_at = now - 6 * MS + k as Nanos * 2_000;
    }
    heard[last].advert.received_at = now - MS;
    tick(&mut ctl, now, heard);
    let mut downs: Vec<Nanos> = ctl
        .routers()
        .filter_map(|(_, r)| r.next_deadline())
        .collect();
    downs.sort_unstable();
    let (first, second_last) = (downs[0], downs[downs.len() - 2]);
    assert!(second_last - first > COALESCE / 2, "{first} {second_last}");
    // One wake-up for the timers within COALESCE of the first, at the last of them: never
    // before any of them, at most COALESCE after the first.
    let wake = ctl.next_wake(now);
    let gathered: Vec<Nanos> = downs
        .iter()
        .copied()
        .filter(|&t| t <= first + COALESCE)
        .collect();
    assert_eq!(wake, *gathered.last().unwrap());
    assert!(wake <= first + COALESCE);
    assert!(gathered.len() > 1 && gathered.len() < downs.len() - 1);
    // No advert since: from that wake-up exactly the gathered routers take over,
    // TAKEOVER_BUDGET a turn, the turns one after the other at once.
    let mut now = wake;
    for turn in 1..=gathered.len().div_ceil(TAKEOVER_BUDGET) {
        tick(&mut ctl, now, vec![]);
        let masters = ctl.states().filter(|s| *s == State::Master).count();
        assert_eq!(masters, gathered.len().min(turn * TAKEOVER_BUDGET));
        now = ctl.next_wake(now).max(now);
    }
    assert!(ctl.next_wake(wake) > wake);
}

#[test]
fn a_takeover_of_many_routers_goes_a_budget_a_turn_and_hearing_the_master_meanwhile_stops_it() {
    let (c, host) = whole_vrid_space(1, false);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let routers = ctl.states().count();
    // Every Master_Down_Timer is past: the first turn takes TAKEOVER_BUDGET routers over and
    // wakes again at once for the others.
    let now = 10 * SEC;
    let first = ctl.handle(
        now,
        Input::Tick {
            adverts: Some(vec![]),
        },
    );
    let masters = |ctl: &Controller| ctl.states().filter(|s| *s == State::Master).count();
    assert_eq!(masters(&ctl), TAKEOVER_BUDGET);
    let added = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::AddVips { .. }))
            .count()
    };
    assert_eq!(added(&first), TAKEOVER_BUDGET);
    assert!(ctl.next_wake(now) <= now);
    assert!(ctl.needs_adverts(now, false));
    // The master of the others is heard now: they stay backups. The first turn's masters
    // send their adverts when due, in a turn of their own.
    let mut heard = heard_all(&c, 0);
    for h in &mut heard {
        h.advert.received_at = now + MS;
    }
    let ours: Vec<(u8, Family)> = ctl
        .routers()
        .filter(|(_, r)| r.state() == State::Master)
        .map(|(spec, _)| (spec.vrid.get(), map_family(spec)))
        .collect();
    heard.retain(|h| !ours.contains(&(h.vrid, h.family)));
    let second = ctl.handle(
        now + 2 * MS,
        Input::Tick {
            adverts: Some(heard),
        },
    );
    assert_eq!(added(&second), 0);
    assert_eq!(masters(&ctl), TAKEOVER_BUDGET);
    assert_eq!(
        ctl.states().filter(|s| *s == State::Backup).count(),
        routers - TAKEOVER_BUDGET
    );
}

#[test]
fn a_host_of_backups_leaves_its_heartbeat_alone_a_master_writes_it_every_tick() {
    // The gate matters only for a router we are master of: a backup's wake-ups write no
    // map entry of their own.
    let (c, host) = whole_vrid_space(1, false);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let now = 20 * MS;
    let effects = tick(&mut ctl, now, heard_all(&c, now - 5 * MS));
    assert!(ctl.states().all(|s| s == State::Backup));
    assert_eq!(
        count(&effects, |e| matches!(e, Effect::Heartbeat { .. })),
        0
    );
    // A master of them all writes it at every tick.
    let (c, host) = whole_vrid_space(1, true);
    let (mut ctl, _) = Controller::start(&c, &host, 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    for t in 1..4 {
        let effects = tick(&mut ctl, t * 10 * MS, vec![]);
        assert_eq!(
            count(&effects, |e| matches!(e, Effect::Heartbeat { .. })),
            1
        );
    }
}

#[test]
fn a_backup_that_takes_over_writes_the_heartbeat_before_its_router_entry() {
    // A host of backups does not keep its heartbeat fresh between its timers; the takeover
    // writes it first, however the takeover comes.
    let c = config(vec![instance("VI_1", 1, 100, false)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let effects = tick(&mut ctl, 10 * SEC, vec![]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    let router = effects
        .iter()
        .position(
            |e| matches!(e, Effect::SetRouter { config, .. } if config.flags & ROUTER_MASTER != 0),
        )
        .unwrap();
    assert!(
        effects[..router]
            .iter()
            .any(|e| matches!(e, Effect::Heartbeat { at, .. } if *at == 10 * SEC))
    );
}

#[test]
fn the_stamps_of_a_tick_are_found_by_interface_family_and_vrid() {
    let sources: Vec<(Arc<str>, Family)> = vec![
        ("eth0".into(), Family::Ipv4),
        ("eth1".into(), Family::Ipv4),
        ("eth0".into(), Family::Ipv6),
    ];
    // Stamps of one read share their interface's name; these do not all.
    let mut a = heard(7, 200, 5);
    a.iface = "eth1".into();
    let mut b = heard(7, 200, 6);
    b.family = Family::Ipv6;
    let c = heard(255, 100, 7);
    let mut d = c.clone();
    d.vrid = 9;
    let mut e = heard(7, 100, 8);
    e.iface = "eth2".into();
    let all = vec![a.clone(), b.clone(), c.clone(), d.clone(), e];
    let index = HeardIndex::new(&all, &sources);
    assert_eq!(index.get(1, 7), Some(&a));
    assert_eq!(index.get(2, 7), Some(&b));
    assert_eq!(index.get(0, 255), Some(&c));
    assert_eq!(index.get(0, 9), Some(&d));
    assert_eq!(index.get(0, 7), None);
    // eth2 is no source: its stamp is of no instance.
    assert_eq!(index.get(3, 7), None);
    assert_eq!(HeardIndex::new(&[], &sources).get(0, 1), None);
}

#[test]
fn the_sources_of_the_stamps_follow_the_instances() {
    let mut on_eth1 = instance("VI_2", 2, 100, false);
    on_eth1.interface = "eth1".into();
    let c = config(vec![instance("VI_1", 1, 200, true), on_eth1]);
    let mut h = host();
    h.ifaces.insert("eth1".into(), h.ifaces["eth0"].clone());
    h.links.insert("eth1".into(), true);
    let (mut ctl, _) = Controller::start(&c, &h, 0).unwrap();
    let pairs = |ctl: &Controller| -> Vec<(String, Family)> {
        ctl.advert_sources()
            .iter()
            .map(|(i, f)| (i.to_string(), *f))
            .collect()
    };
    assert_eq!(
        pairs(&ctl),
        [
            ("eth0".to_string(), Family::Ipv4),
            ("eth1".to_string(), Family::Ipv4)
        ]
    );
    // VI_1 goes: eth1 is the first source now, and VI_2 still hears its master there.
    let mut fewer = c.clone();
    fewer.instances.remove(0);
    ctl.handle(
        SEC,
        Input::Reload {
            config: Box::new(fewer),
            host: h.clone(),
        },
    );
    assert_eq!(pairs(&ctl), [("eth1".to_string(), Family::Ipv4)]);
    let mut master = heard(2, 200, 2 * SEC);
    master.iface = "eth1".into();
    tick(&mut ctl, 2 * SEC, vec![master]);
    assert_eq!(view(&ctl, "VI_2").master, Some(PEER));
}

#[test]
fn views_built_once_and_refreshed_with_live_parts_are_the_views_built_now() {
    // The loop builds every view only after a change status shows; between, it refreshes
    // what changes with time alone. What status then shows is what building them all anew
    // would show.
    let c = config(vec![
        instance("VI_1", 1, 100, false),
        instance("VI_2", 2, 200, true),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    ctl.handle(0, Input::Results(vec![]));
    let (views, timings) = (ctl.instances(), ctl.timings());
    let mut adverts = vec![heard(1, 200, 20 * MS)];
    adverts[0].advert.interval = Centis(1);
    tick(&mut ctl, 25 * MS, adverts);
    tick(&mut ctl, 35 * MS, vec![heard(1, 200, 30 * MS)]);
    let snapshot = crate::status::StatusSnapshot {
        views: Arc::new(views.clone()),
        timings: Arc::new(timings),
        live: Arc::new(ctl.live()),
        ..Default::default()
    };
    let (now, timings_now) = (snapshot.current_views(), snapshot.current_timings());
    assert_ne!(now, views, "something changed with time");
    assert_eq!(now, ctl.instances());
    assert_eq!(timings_now, ctl.timings());
}

/// keepalived's `vrrp_startup_delay`: said once at start as keepalived says it; no router takes
/// over within it (the owner with `state MASTER` waits for its end, a backup's
/// Master_Down_Timer starts there), and an instance a reload adds within it waits too.
#[test]
fn no_router_takes_over_within_the_startup_delay() {
    let mut c = config(vec![
        instance("VI_1", 1, 255, true),
        instance("VI_2", 2, 100, false),
    ]);
    c.global.startup_delay_ms = 5_000;
    let (mut ctl, out) = Controller::start(&c, &host(), 0).unwrap();
    assert!(out.iter().any(
        |e| matches!(e, Effect::Log { line, .. } if line == "Delaying startup for 5 seconds")
    ));
    assert_eq!(
        (state(&ctl, "VI_1"), state(&ctl, "VI_2")),
        (State::Backup, State::Backup)
    );
    assert_eq!(ctl.next_wake(0), 5 * SEC);
    // A reload within the delay adds VI_3: it waits as well.
    let mut reloaded = c.clone();
    reloaded.instances.push(instance("VI_3", 3, 255, true));
    ctl.handle(0, Input::Results(vec![]));
    ctl.handle(SEC, Input::ReloadAsked);
    let (applied, _) = answer(&ctl.handle(SEC, loaded(reloaded, host()))).unwrap();
    assert!(applied);
    assert_eq!(state(&ctl, "VI_3"), State::Backup);
    assert!(transitions(&tick(&mut ctl, 5 * SEC - 1, vec![])).is_empty());
    let at_end = transitions(&tick(&mut ctl, 5 * SEC, vec![]));
    assert_eq!(
        at_end,
        vec![
            ("VI_1".to_string(), State::Master),
            ("VI_3".to_string(), State::Master)
        ]
    );
    assert_eq!(&*view(&ctl, "VI_1").reason, "address owner (priority 255)");
    // The backup's timer ran from the delay's end.
    assert!(transitions(&tick(&mut ctl, 5 * SEC + MDI - 1, vec![])).is_empty());
    assert_eq!(
        transitions(&tick(&mut ctl, 5 * SEC + MDI, vec![])),
        vec![("VI_2".to_string(), State::Master)]
    );
}

/// keepalived 2.2.7 keeps a changed instance that is still the same router in its state
/// across a reload (measured: a master whose priority goes from 100 to 110 logs "Reload
/// complete" and no transition): vrrpd's master stays master at its new priority without a
/// priority 0 or a release, sends its advert at once, drops only the VIP the reload removed and
/// announces the one it added; a backup stays backup, its timer starting at the reload.
#[test]
fn a_reload_keeps_a_changed_instance_in_its_state_as_keepalived() {
    let c = config(vec![
        instance("VI_1", 1, 100, true),
        instance("VI_2", 2, 100, false),
    ]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    // VI_1 takes over; VI_2 hears a master of priority 200.
    for s in 1..=3 {
        tick(&mut ctl, s * SEC, vec![heard(2, 200, s * SEC)]);
    }
    tick(&mut ctl, MDI, vec![heard(2, 200, 3 * SEC)]);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    let before = view(&ctl, "VI_1");
    // VI_1: priority 110, one VIP swapped for another; VI_2: priority 90.
    let mut new = c.clone();
    new.instances[0].priority = Priority(110);
    let mut added = new.instances[0].vips[0].clone();
    added.address = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 201));
    let old_vip = new.instances[0].vips[0].address;
    new.instances[0].vips = vec![added.clone()];
    new.instances[1].priority = Priority(90);
    let reload = 4 * SEC;
    let effects = reload_at(&mut ctl, reload, new);
    assert!(transitions(&effects).is_empty(), "{effects:#?}");
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert_eq!(state(&ctl, "VI_2"), State::Backup);
    assert!(!effects.iter().any(|e| matches!(e,
        Effect::SendAdvert { priority, .. } if *priority == Priority::SHUTDOWN)));
    assert!(effects.iter().any(|e| matches!(e,
        Effect::SendAdvert { spec, priority, .. }
        if spec.name == "VI_1" && *priority == Priority(110))));
    // Only the VIP it lost goes, from the kernel and from XDP; nothing stale is looked for.
    let removed: Vec<IpAddr> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::RemoveVips { instance, vips, .. } if instance == "VI_1" => Some(vips),
            _ => None,
        })
        .flatten()
        .map(|v| v.address)
        .collect();
    assert_eq!(removed, vec![old_vip]);
    assert!(effects.iter().any(|e| matches!(e,
        Effect::UnmapVips { instance, vips, .. } if instance == "VI_1" && *vips == vec![old_vip])));
    assert!(!effects.iter().any(|e| matches!(e,
        Effect::RemoveStaleVips { instance, .. } if instance == "VI_1")));
    assert!(effects.iter().any(|e| matches!(e,
        Effect::AddVips { instance, vips, .. } if instance == "VI_1" && *vips == vec![added.clone()])));
    // XDP's entry never leaves master.
    assert!(!effects.iter().any(|e| matches!(e,
        Effect::SetRouter { instance, config, .. }
        if instance == "VI_1" && config.flags & ROUTER_MASTER == 0)));
    assert!(effects.iter().any(|e| matches!(e,
        Effect::SendGarps { instance, .. } if instance == "VI_1")));
    assert!(effects.iter().any(|e| matches!(e, Effect::Log { line, .. }
        if line == "VI_1: reloaded in place, stays MASTER")));
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 0 instance(s) unchanged, 2 changed in place, 0 stopped, 0 started; \
             changed in place: VI_1, VI_2"
                .to_string()
        ))
    );
    // Its history and reason go on as they were.
    let after = view(&ctl, "VI_1");
    assert_eq!(after.transitions, before.transitions);
    assert_eq!((after.since, &after.reason), (before.since, &before.reason));
    assert_eq!(after.priority, Priority(110));
    // The backup's timer starts at the reload (priority 90: Master_Down_Interval 3.65 s).
    let mdi90 = 3_648_438_000;
    assert!(transitions(&tick(&mut ctl, reload + mdi90 - MS, vec![])).is_empty());
    assert_eq!(
        transitions(&tick(&mut ctl, reload + mdi90, vec![])),
        vec![("VI_2".to_string(), State::Master)]
    );
    // Without a new VIP, a kept master announces nothing.
    let c = config(vec![instance("VI_1", 1, 100, true)]);
    let (mut ctl, _) = Controller::start(&c, &host(), 0).unwrap();
    up(&mut ctl, MDI);
    let mut new = c.clone();
    new.instances[0].priority = Priority(120);
    let effects = reload_at(&mut ctl, MDI + SEC, new);
    assert_eq!(state(&ctl, "VI_1"), State::Master);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::SendGarps { .. }))
    );
    assert!(!removes_vips(&effects, "VI_1"));
}

/// A sync group whose changed members keep their state (keepalived restores every member's
/// state, and the group is MASTER when all its members were) is kept as it is: a priority
/// change of a master member makes no transition of either member or of the group. A member
/// that is another router now (a new VRID) restarts; its group is made anew around the other
/// member, which keeps its state (keepalived 2.2.7's vrrp_complete_init).
#[test]
fn a_reload_keeps_a_sync_group_whose_changed_members_keep_their_state() {
    let (c, mut ctl) = grouped_masters();
    assert_eq!(
        (state(&ctl, "VI_1"), state(&ctl, "VI_2")),
        (State::Master, State::Master)
    );
    let mut new = c.clone();
    new.instances[0].priority = Priority(110);
    let effects = reload_at(&mut ctl, MDI + SEC, new.clone());
    assert!(transitions(&effects).is_empty(), "{effects:#?}");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RunNotify { .. }))
    );
    assert!(!removes_vips(&effects, "VI_1") && !removes_vips(&effects, "VI_2"));
    assert_eq!(
        view(&ctl, "VI_1").sync_group,
        Some(("VG_1".into(), State::Master))
    );
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 1 instance(s) unchanged, 1 changed in place, 0 stopped, 0 started; \
             changed in place: VI_1"
                .to_string()
        ))
    );
    // The kept group still leads its members: VI_1 stepping down takes VI_2 along.
    let at = MDI + 2 * SEC;
    tick(&mut ctl, at, vec![heard(1, 200, at)]);
    assert_eq!(
        (state(&ctl, "VI_1"), state(&ctl, "VI_2")),
        (State::Backup, State::Backup)
    );
    // Another router: it restarts, the other member stays as it is.
    let mut other = new.clone();
    other.instances[0].vrid = Vrid::new(3).unwrap();
    let effects = reload_at(&mut ctl, at + SEC, other);
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 1 instance(s) unchanged, 1 stopped, 1 started; stopped: VI_1; \
             started: VI_1"
                .to_string()
        ))
    );
    assert!(
        !transitions(&effects).iter().any(|(name, _)| name == "VI_2"),
        "{effects:#?}"
    );
    assert_eq!(
        view(&ctl, "VI_2").sync_group,
        Some(("VG_1".into(), State::Backup))
    );
}

/// A reload that adds a member to a sync group of masters, as keepalived 2.2.7 does it
/// (vrrp_complete_init, vrrp_init_state): the group is made anew, BACKUP as its new member is
/// not a master; the kept masters go to BACKUP without a priority 0 and release their VIPs,
/// and want MASTER again one Advertisement_Interval and the smallest Skew_Time later; the
/// group is MASTER again once the new member's Master_Down_Timer has run out too, with no
/// master heard.
#[test]
fn a_reload_that_adds_a_member_takes_a_master_group_to_backup_without_priority_0() {
    let (c, mut ctl) = grouped_masters();
    let mut new = c.clone();
    let mut third = instance("VI_3", 3, 100, true);
    third.vips[0].address = "192.0.2.103".parse().unwrap();
    new.instances.push(third);
    new.sync_groups[0].instances.push("VI_3".into());
    let at = MDI + SEC;
    let effects = reload_at(&mut ctl, at, new);
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 2 instance(s) unchanged, 0 stopped, 1 started; started: VI_3".to_string()
        ))
    );
    let mut moved = transitions(&effects);
    moved.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        moved,
        vec![
            ("VI_1".into(), State::Backup),
            ("VI_2".into(), State::Backup),
            ("VI_3".into(), State::Backup)
        ]
    );
    assert!(
        !effects.iter().any(|e| matches!(e,
            Effect::SendAdvert { priority, .. } if *priority == Priority(0))),
        "{effects:#?}"
    );
    assert!(removes_vips(&effects, "VI_1") && removes_vips(&effects, "VI_2"));
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::RunNotify {
            kind: "GROUP",
            state: State::Backup,
            ..
        }
    )));
    assert_eq!(
        view(&ctl, "VI_1").sync_group,
        Some(("VG_1".into(), State::Backup))
    );
    // One interval and the smallest skew (3.907 ms at 1 s) on, the kept masters want MASTER;
    // the group waits for its new member.
    up(&mut ctl, at + SEC + 3_907_000);
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    up(&mut ctl, at + MDI);
    for name in ["VI_1", "VI_2", "VI_3"] {
        assert_eq!(state(&ctl, name), State::Master, "{name}");
    }
}

/// The same with a member that the reload also changed (its priority): it is made anew in its
/// state and taken to BACKUP at once, without its advert, a priority 0 or a GARP.
#[test]
fn a_reload_that_adds_a_member_takes_a_changed_master_to_backup_too() {
    let (c, mut ctl) = grouped_masters();
    let mut new = c.clone();
    new.instances[0].priority = Priority(110);
    let mut third = instance("VI_3", 3, 100, true);
    third.vips[0].address = "192.0.2.103".parse().unwrap();
    new.instances.push(third);
    new.sync_groups[0].instances.push("VI_3".into());
    let effects = reload_at(&mut ctl, MDI + SEC, new);
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 1 instance(s) unchanged, 1 changed in place, 0 stopped, 1 started; \
             changed in place: VI_1; started: VI_3"
                .to_string()
        ))
    );
    assert_eq!(state(&ctl, "VI_1"), State::Backup);
    assert_eq!(view(&ctl, "VI_1").priority, Priority(110));
    assert!(removes_vips(&effects, "VI_1"));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::SendAdvert { .. } | Effect::SendGarps { .. })),
        "{effects:#?}"
    );
}

/// A reload that takes a member out of a sync group of masters keeps every master as it is:
/// the group, made anew, is MASTER as all its members are, and says nothing (keepalived
/// notifies no MASTER group at a reload); the member taken out goes on alone.
#[test]
fn a_reload_that_removes_a_member_keeps_every_master() {
    let (c, mut ctl) = grouped_masters();
    let mut new = c.clone();
    new.sync_groups[0].instances.retain(|i| i == "VI_1");
    let effects = reload_at(&mut ctl, MDI + SEC, new);
    assert!(transitions(&effects).is_empty(), "{effects:#?}");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RunNotify { .. } | Effect::RemoveVips { .. })),
        "{effects:#?}"
    );
    assert_eq!(
        view(&ctl, "VI_1").sync_group,
        Some(("VG_1".into(), State::Master))
    );
    assert_eq!(view(&ctl, "VI_2").sync_group, None);
    assert_eq!(state(&ctl, "VI_2"), State::Master);
}

/// A sync group's `track_interface`, read from a keepalived.conf, acts on every member as its
/// own entry would: a weighted one moves both priorities, an unweighted one takes both to
/// FAULT.
#[test]
fn a_sync_group_s_track_interface_acts_on_every_member() {
    let dir = std::env::temp_dir().join(format!("vrrpd-group-track-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    let instance = |name: &str, vrid: u8| {
        format!(
            "vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n    \
             priority 100\n    virtual_ipaddress {{\n        192.0.2.{}\n    }}\n}}\n",
            100 + vrid
        )
    };
    let text = format!(
        "{}{}vrrp_sync_group VG_1 {{\n    group {{\n        VI_1\n        VI_2\n    }}\n    \
         track_interface {{\n        eth1 weight -30\n        eth2\n    }}\n}}\n",
        instance("VI_1", 1),
        instance("VI_2", 2)
    );
    std::fs::write(&path, text).unwrap();
    let loaded = crate::config::load(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    let config = loaded.unwrap().config;
    let mut h = host();
    h.links.insert("eth1".into(), true);
    h.links.insert("eth2".into(), true);
    let (mut ctl, _) = Controller::start(&config, &h, 0).unwrap();
    ctl.handle(SEC, Input::Links(vec![("eth1".into(), false)]));
    for name in ["VI_1", "VI_2"] {
        assert_eq!(view(&ctl, name).priority, Priority(70), "{name}");
    }
    ctl.handle(2 * SEC, Input::Links(vec![("eth2".into(), false)]));
    assert_eq!(
        (state(&ctl, "VI_1"), state(&ctl, "VI_2")),
        (State::Fault, State::Fault)
    );
}

/// A reload that changes only a sync group's notify commands keeps the group and its members
/// as they are (keepalived keeps the members' states); the group's next transition runs the
/// new command.
#[test]
fn a_reload_of_a_sync_group_s_notify_keeps_the_group() {
    let (c, mut ctl) = grouped_masters();
    let mut new = c.clone();
    new.sync_groups[0].notify.backup = Some(Box::new(NotifyCommand {
        command: "/usr/local/bin/to-backup".into(),
        user: None,
        group: None,
    }));
    let effects = reload_at(&mut ctl, MDI + SEC, new);
    assert!(transitions(&effects).is_empty(), "{effects:#?}");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::RunNotify { .. }))
    );
    assert_eq!(
        ctl.take_reload_outcome(),
        Some(Ok(
            "reloaded: 2 instance(s) unchanged, 0 stopped, 0 started".to_string()
        ))
    );
    let at = MDI + 2 * SEC;
    let effects = tick(&mut ctl, at, vec![heard(1, 200, at)]);
    assert!(effects.iter().any(|e| matches!(e,
        Effect::RunNotify { notify, kind: "GROUP", state: State::Backup, .. }
        if notify.backup.as_ref().is_some_and(|n| n.command == "/usr/local/bin/to-backup"))));
}
