//! One test per RFC rule, named after its section; numbers worked by hand.
use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::units::{Centis, Micros, Priority, master_down_interval_v3, skew_time_v3};

const MS: Nanos = 1_000_000;
/// Master_Down_Interval at priority 100 and 1 s: 3 s + (156 × 100 cs) / 256 = 3.609375 s.
const MDI: Nanos = 3_609_375_000;
/// Skew_Time at priority 100 and 1 s: 0.609375 s.
const SKEW: Nanos = 609_375_000;
const LB01: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 4));
const LB02: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 5));

fn params(priority: u8) -> Params {
    Params {
        version: Version::V3,
        priority: Priority(priority),
        advert_interval: Centis(100),
        preempt: true,
        preempt_delay: Centis(0),
        start_as_master: false,
        primary: LB01,
        lower_prio_no_advert: false,
    }
}

fn advert(src: IpAddr, priority: u8, at: Nanos) -> Input {
    Input::Advert(Advert {
        src,
        priority: Priority(priority),
        interval: Centis(100),
        received_at: at,
    })
}

fn started(p: Params) -> Router {
    let mut r = Router::new(p);
    r.handle(0, Input::Startup);
    r
}

fn changed_to(actions: &[Action]) -> Option<State> {
    actions.iter().find_map(|a| match a {
        Action::StateChanged { to, .. } => Some(*to),
        _ => None,
    })
}

#[test]
fn rfc9568_6_1_skew_and_master_down_worked_by_hand() {
    let (p, c) = (Priority, Centis);
    // Priority 100 at 100 cs: (156 × 100) / 256 = 60.9375 cs; 3 × 100 cs + that = 3.609375 s.
    assert_eq!(skew_time_v3(p(100), c(100)), Micros(609_375));
    assert_eq!(master_down_interval_v3(p(100), c(100)), Micros(3_609_375));
    // Priority 254 at 100 cs: (2 × 100) / 256 = 0.78125 cs; 3.0078125 s.
    assert_eq!(skew_time_v3(p(254), c(100)), Micros(7_813));
    assert_eq!(master_down_interval_v3(p(254), c(100)), Micros(3_007_813));
    // Priority 1 at 1 cs (10 ms): (255 × 1) / 256 = 0.996 cs: 39.96 ms, not 30.
    assert_eq!(master_down_interval_v3(p(1), c(1)), Micros(39_961));
    // Priority 90 at 4095 cs: (166 × 4095) / 256 = 2655.35 cs.
    assert_eq!(skew_time_v3(p(90), c(4095)), Micros(26_553_516));
}

#[test]
fn rfc3768_6_1_v2_skew_is_not_truncated_to_whole_seconds() {
    // RFC 3768: Skew_Time = (256 − Priority) / 256 s. Priority 90: 0.6484375 s, to the
    // microsecond rounded up (never early), which a whole-second implementation truncates to 0.
    let mut p = params(90);
    p.version = Version::V2;
    let r = started(p);
    assert_eq!(r.skew_time(), Micros(648_438));
    assert_eq!(r.master_down_interval(), Micros(3_648_438));
    assert_eq!(r.next_deadline(), Some(3_648_438_000));
}

#[test]
fn rfc5798_6_4_1_owner_sends_advert_takes_over_and_is_master_at_once() {
    let mut r = Router::new(Params {
        start_as_master: true,
        ..params(255)
    });
    let a = r.handle(0, Input::Startup);
    assert_eq!(
        a,
        vec![
            Action::SendAdvert {
                priority: Priority(255)
            },
            Action::TakeOver,
            Action::StateChanged {
                from: State::Initialize,
                to: State::Master,
                reason: Reason::AddressOwner
            },
        ]
    );
    assert_eq!(
        r.next_deadline(),
        Some(1000 * MS),
        "Adver_Timer = Advertisement_Interval"
    );
}

#[test]
fn rfc5798_6_4_1_non_owner_becomes_backup_with_master_down_timer() {
    let mut r = Router::new(params(100));
    let a = r.handle(5 * MS, Input::Startup);
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert!(!a.contains(&Action::TakeOver));
    assert_eq!(
        r.master_adver_interval(),
        Centis(100),
        "Master_Adver_Interval = Advertisement_Interval"
    );
    assert_eq!(r.next_deadline(), Some(5 * MS + MDI));
}

/// keepalived 2.2.7 takes over at startup only as the owner with `state MASTER`: the owner
/// with `state BACKUP` waits its Master_Down_Interval like any backup (measured: 3.04 s).
#[test]
fn keepalived_owner_with_state_backup_waits_its_master_down_interval() {
    let mut r = Router::new(params(255));
    let a = r.handle(0, Input::Startup);
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert!(!a.contains(&Action::TakeOver));
    // 3 s + Skew_Time at 255: (1 × 100 cs) / 256 = 0.390625 cs.
    assert_eq!(r.next_deadline(), Some(3_003_907 * 1_000));
    let a = r.handle(3_003_907 * 1_000, Input::Timer);
    assert!(a.contains(&Action::StateChanged {
        from: State::Backup,
        to: State::Master,
        reason: Reason::MasterDown,
    }));
}

/// keepalived 2.2.7 starts `state MASTER` below priority 255 in BACKUP (measured: MASTER
/// after 3.65 s at priority 100 with nobody else), so that a node restarted with it does not
/// take the VIPs from a running master of a higher priority.
#[test]
fn keepalived_state_master_below_255_waits_its_master_down_interval() {
    let mut p = params(100);
    p.start_as_master = true;
    let mut r = Router::new(p);
    let a = r.handle(0, Input::Startup);
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert!(!a.contains(&Action::TakeOver));
    assert_eq!(r.next_deadline(), Some(MDI));
    // A running master of a higher priority speaks first: it stays backup.
    r.handle(500 * MS, advert(LB02, 150, 500 * MS));
    assert!(r.handle(MDI, Input::Timer).is_empty());
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn rfc5798_6_4_2_backup_becomes_master_when_master_down_timer_fires() {
    let mut r = started(params(100));
    assert!(r.handle(MDI - 1, Input::Timer).is_empty(), "not yet");
    let a = r.handle(MDI, Input::Timer);
    assert_eq!(
        a,
        vec![
            Action::SendAdvert {
                priority: Priority(100)
            },
            Action::TakeOver,
            Action::StateChanged {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDown
            },
        ]
    );
    assert_eq!(r.next_deadline(), Some(MDI + 1000 * MS));
}

#[test]
fn rfc5798_6_4_2_backup_priority_zero_sets_timer_to_skew_time() {
    let mut r = started(params(100));
    r.handle(1000 * MS, advert(LB02, 0, 1000 * MS));
    assert_eq!(
        r.next_deadline(),
        Some(1000 * MS + SKEW),
        "Skew_Time = 60.9375 cs"
    );
}

#[test]
fn rfc5798_6_4_2_backup_resets_timer_on_higher_or_equal_priority() {
    let mut r = started(params(100));
    r.handle(2000 * MS, advert(LB02, 150, 1990 * MS));
    assert_eq!(
        r.next_deadline(),
        Some(1990 * MS + MDI),
        "from the advert's arrival"
    );
    r.handle(3000 * MS, advert(LB02, 100, 3000 * MS));
    assert_eq!(r.next_deadline(), Some(3000 * MS + MDI));
    assert_eq!(r.master(), Some(LB02));
}

#[test]
fn rfc5798_6_4_2_preempting_backup_discards_lower_priority_and_takes_over() {
    let mut r = started(params(100));
    let before = r.next_deadline();
    r.handle(1000 * MS, advert(LB02, 90, 1000 * MS));
    assert_eq!(r.next_deadline(), before, "lower priority: timer not reset");
    let a = r.handle(before.unwrap(), Input::Timer);
    assert_eq!(changed_to(&a), Some(State::Master));
}

#[test]
fn rfc5798_6_4_2_non_preempting_backup_accepts_lower_priority_master() {
    let mut p = params(100);
    p.preempt = false;
    let mut r = started(p);
    r.handle(1000 * MS, advert(LB02, 90, 1000 * MS));
    assert_eq!(r.next_deadline(), Some(1000 * MS + MDI));
    assert!(r.handle(MDI, Input::Timer).is_empty(), "stays backup");
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn rfc5798_6_4_2_v3_backup_learns_master_adver_interval() {
    let mut r = started(params(100));
    r.handle(
        0,
        Input::Advert(Advert {
            src: LB02,
            priority: Priority(200),
            interval: Centis(10),
            received_at: 0,
        }),
    );
    assert_eq!(r.master_adver_interval(), Centis(10));
    // 3 × 10 + (156 × 10) / 256 = 30 + 6.09375 cs.
    assert_eq!(r.next_deadline(), Some(360_938_000));
}

#[test]
fn rfc3768_6_4_2_v2_backup_keeps_its_own_interval() {
    let mut p = params(100);
    p.version = Version::V2;
    let mut r = started(p);
    r.handle(
        0,
        Input::Advert(Advert {
            src: LB02,
            priority: Priority(200),
            interval: Centis(200),
            received_at: 0,
        }),
    );
    assert_eq!(r.master_adver_interval(), Centis(100));
}

#[test]
fn keepalived_preempt_delay_holds_back_preemption_after_startup() {
    let mut p = params(100);
    p.preempt_delay = Centis(1000); // 10 s
    let mut r = started(p);
    // Within the delay, a lower-priority master is accepted.
    r.handle(2000 * MS, advert(LB02, 90, 2000 * MS));
    assert_eq!(r.next_deadline(), Some(2000 * MS + MDI));
    // After it, it is discarded and the backup preempts.
    r.handle(5000 * MS, advert(LB02, 90, 5000 * MS));
    r.handle(8000 * MS, advert(LB02, 90, 8000 * MS));
    r.handle(10_500 * MS, advert(LB02, 90, 10_500 * MS));
    assert_eq!(
        r.next_deadline(),
        Some(8000 * MS + MDI),
        "not reset after the delay"
    );
    assert_eq!(
        changed_to(&r.handle(8000 * MS + MDI, Input::Timer)),
        Some(State::Master)
    );
}

/// A master at 0 with its advert timer started then: as a reload keeps one.
fn master(p: Params) -> Router {
    let mut r = Router::new(p);
    r.resume(0, State::Master);
    assert_eq!(r.state(), State::Master);
    r
}

#[test]
fn rfc5798_6_4_3_master_sends_advert_when_adver_timer_fires() {
    let mut r = master(params(100));
    assert!(r.handle(999 * MS, Input::Timer).is_empty());
    assert_eq!(
        r.handle(1000 * MS, Input::Timer),
        vec![Action::SendAdvert {
            priority: Priority(100)
        }]
    );
    assert_eq!(r.next_deadline(), Some(2000 * MS));
}

#[test]
fn rfc5798_6_4_3_master_answers_priority_zero_with_an_advert() {
    let mut r = master(params(100));
    let a = r.handle(300 * MS, advert(LB02, 0, 300 * MS));
    assert_eq!(
        a,
        vec![Action::SendAdvert {
            priority: Priority(100)
        }]
    );
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.next_deadline(), Some(1300 * MS), "Adver_Timer reset");
}

#[test]
fn rfc5798_6_4_3_master_yields_to_higher_priority() {
    let mut r = master(params(100));
    let a = r.handle(300 * MS, advert(LB02, 101, 290 * MS));
    assert_eq!(
        a,
        vec![
            Action::Release,
            Action::StateChanged {
                from: State::Master,
                to: State::Backup,
                reason: Reason::HigherPriority {
                    src: LB02,
                    priority: Priority(101)
                }
            }
        ]
    );
    // "Set Master_Down_Timer to Master_Down_Interval" as it steps down (at 300 ms), not from
    // the advert's stamp (290 ms).
    assert_eq!(r.next_deadline(), Some(300 * MS + MDI));
    // A turn that comes later than Master_Down_Interval after the stamp still gives the new
    // backup its whole interval: it does not take over again at once.
    let mut r = master(params(100));
    let late = 290 * MS + MDI + 50 * MS;
    r.handle(late, advert(LB02, 101, 290 * MS));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.next_deadline(), Some(late + MDI));
}

#[test]
fn rfc5798_6_4_3_equal_priority_higher_primary_address_wins() {
    // lb01 (192.0.2.4) hears lb02 (192.0.2.5) at the same priority: lb02 wins.
    let mut r = master(params(100));
    r.handle(0, advert(LB02, 100, 0));
    assert_eq!(r.state(), State::Backup);
    // lb02 hears lb01: lb02 stays.
    let mut p = params(100);
    p.primary = LB02;
    let mut r = master(p);
    let a = r.handle(0, advert(LB01, 100, 0));
    assert_eq!(r.state(), State::Master);
    assert_eq!(
        a,
        vec![Action::SendAdvert {
            priority: Priority(100)
        }]
    );
}

#[test]
fn rfc9568_6_4_3_master_answers_lower_priority_with_an_advert() {
    let mut r = master(params(100));
    assert_eq!(
        r.handle(500 * MS, advert(LB02, 90, 500 * MS)),
        vec![Action::SendAdvert {
            priority: Priority(100)
        }]
    );
    assert_eq!(r.next_deadline(), Some(1500 * MS));
}

#[test]
fn keepalived_lower_prio_no_advert_discards_lower_priority() {
    let mut p = params(100);
    p.lower_prio_no_advert = true;
    let mut r = master(p);
    assert!(r.handle(500 * MS, advert(LB02, 90, 500 * MS)).is_empty());
    assert_eq!(r.next_deadline(), Some(1000 * MS));
}

#[test]
fn rfc5798_6_4_3_shutdown_sends_priority_zero_and_releases() {
    let mut r = master(params(100));
    let a = r.handle(100 * MS, Input::Shutdown);
    assert_eq!(
        a,
        vec![
            Action::SendAdvert {
                priority: Priority(0)
            },
            Action::Release,
            Action::StateChanged {
                from: State::Master,
                to: State::Initialize,
                reason: Reason::Shutdown
            }
        ]
    );
    assert_eq!(r.next_deadline(), None);
}

#[test]
fn rfc5798_6_4_2_backup_shutdown_sends_nothing() {
    let mut r = started(params(100));
    let a = r.handle(100 * MS, Input::Shutdown);
    assert!(!a.iter().any(|x| matches!(x, Action::SendAdvert { .. })));
    assert_eq!(r.state(), State::Initialize);
}

#[test]
fn keepalived_fault_sends_priority_zero_and_recovers_as_backup() {
    let mut r = master(params(100));
    let a = r.handle(100 * MS, Input::Fault);
    assert_eq!(
        a[0],
        Action::SendAdvert {
            priority: Priority(0)
        }
    );
    assert_eq!(r.state(), State::Fault);
    assert!(
        r.handle(200 * MS, advert(LB02, 50, 200 * MS)).is_empty(),
        "FAULT ignores adverts"
    );
    assert_eq!(r.next_deadline(), None);
    r.handle(300 * MS, Input::FaultCleared);
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn keepalived_effective_priority_is_clamped_and_owner_never_adjusted() {
    let mut r = started(params(100));
    r.handle(0, Input::SetPriority(Priority(255)));
    assert_eq!(r.priority(), Priority(254));
    r.handle(0, Input::SetPriority(Priority(0)));
    assert_eq!(r.priority(), Priority(1));
    let mut owner = Router::new(params(255));
    owner.handle(0, Input::SetPriority(Priority(70)));
    assert_eq!(owner.priority(), Priority::OWNER);
}

#[test]
fn rfc5798_6_4_3_tie_break_compares_ipv6_addresses_as_integers() {
    let low: IpAddr = "fe80::1".parse().unwrap();
    let high: IpAddr = "fe80::2".parse().unwrap();
    let mut p = params(100);
    p.primary = low;
    let mut r = master(p);
    r.handle(0, advert(high, 100, 0));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn rfc3768_6_1_v2_skew_does_not_scale_with_the_interval() {
    // RFC 3768: Skew_Time = (256 − Priority) / 256 seconds whatever Advertisement_Interval is.
    // Priority 100, advert_int 3: 3 × 3 s + 0.609375 s = 9.609375 s.
    let mut p = params(100);
    p.version = Version::V2;
    p.advert_interval = Centis(300);
    let r = started(p);
    assert_eq!(r.skew_time(), Micros(609_375));
    assert_eq!(r.master_down_interval(), Micros(9_609_375));
}

#[test]
fn batching_advance_advert_moves_a_master_advert_earlier_only_within_the_window() {
    let mut r = master(params(100));
    let due = r.next_deadline().expect("a master has an advert timer");
    assert_eq!(due, 1_000 * MS);
    // Outside the window: unchanged.
    r.advance_advert(400 * MS, 500 * MS);
    assert_eq!(r.next_deadline(), Some(due));
    // Inside: due at `to`, and the advert then keeps its cadence from there.
    r.advance_advert(600 * MS, 500 * MS);
    assert_eq!(r.next_deadline(), Some(600 * MS));
    let a = r.handle(600 * MS, Input::Timer);
    assert!(a.contains(&Action::SendAdvert {
        priority: Priority(100)
    }));
    assert_eq!(r.next_deadline(), Some(1_600 * MS));
    // Never later.
    r.advance_advert(1_700 * MS, 500 * MS);
    assert_eq!(r.next_deadline(), Some(1_600 * MS));
    // A backup's Master_Down timer is not an advert.
    let mut b = started(params(100));
    let down = b.next_deadline().unwrap();
    b.advance_advert(down - MS, 10 * MS);
    assert_eq!(b.next_deadline(), Some(down));
}

#[test]
fn keepalived_priority_change_moves_a_running_master_down_timer() {
    // Priority 100 at 100 cs: Master_Down_Interval 3.609375 s; at 70 it is 3 s + (186 × 100
    // cs) / 256 = 3.7265625 s (3.726563 to the microsecond, rounded up), so a timer armed at 0
    // for 3.609375 s now fires at 3.726563 s.
    let mut r = started(params(100));
    assert_eq!(r.next_deadline(), Some(MDI));
    r.handle(1000 * MS, Input::SetPriority(Priority(70)));
    assert_eq!(r.next_deadline(), Some(3_726_563_000));
    r.handle(1000 * MS, Input::SetPriority(Priority(100)));
    assert_eq!(r.next_deadline(), Some(MDI));
}

#[test]
fn keepalived_sync_master_takes_a_backup_over_at_once() {
    let mut r = started(params(100));
    let a = r.handle(500 * MS, Input::SyncMaster);
    assert_eq!(
        a,
        vec![
            Action::SendAdvert {
                priority: Priority(100)
            },
            Action::TakeOver,
            Action::StateChanged {
                from: State::Backup,
                to: State::Master,
                reason: Reason::SyncGroup
            },
        ]
    );
    assert_eq!(r.next_deadline(), Some(1500 * MS));
    // A master stays master; a router in FAULT stays there.
    assert!(r.handle(600 * MS, Input::SyncMaster).is_empty());
    r.handle(700 * MS, Input::Fault);
    assert!(r.handle(800 * MS, Input::SyncMaster).is_empty());
    assert_eq!(r.state(), State::Fault);
}

/// A master's step to Backup for its sync group: the addresses released, no priority 0.
fn released_to_backup() -> Vec<Action> {
    vec![
        Action::Release,
        Action::StateChanged {
            from: State::Master,
            to: State::Backup,
            reason: Reason::SyncGroup,
        },
    ]
}

#[test]
fn keepalived_sync_backup_releases_without_priority_zero() {
    let mut r = master(params(100));
    let a = r.handle(10_000 * MS, Input::SyncBackup);
    assert_eq!(a, released_to_backup());
    assert_eq!(r.next_deadline(), Some(10_000 * MS + MDI));
    assert!(r.handle(10_100 * MS, Input::SyncBackup).is_empty());
}

/// keepalived 2.2.7's vrrp_init_state for a master a reload kept in a sync group that is not
/// all MASTER: BACKUP without a priority 0, wanting MASTER again one Advertisement_Interval and
/// VRRP_TIMER_SKEW_MIN on (v3 at 1 s: 1 s + 3.907 ms; v2: 1 s + 1/256 s).
#[test]
fn keepalived_reload_backup_waits_one_interval_and_the_smallest_skew() {
    let mut r = master(params(100));
    let a = r.handle(10_000 * MS, Input::ReloadBackup);
    assert_eq!(a, released_to_backup());
    assert_eq!(r.next_deadline(), Some(11_000 * MS + 3_907_000));
    assert!(r.handle(10_100 * MS, Input::ReloadBackup).is_empty());
    let mut v2 = master(Params {
        version: Version::V2,
        ..params(100)
    });
    v2.handle(0, Input::ReloadBackup);
    assert_eq!(v2.next_deadline(), Some(1_000 * MS + 3_907_000));
}

#[test]
fn keepalived_sync_group_hold_restarts_the_master_down_timer() {
    let mut r = started(params(100));
    // Not yet due: nothing changes.
    r.handle(1000 * MS, Input::HoldBackup);
    assert_eq!(r.next_deadline(), Some(MDI));
    // Due: held in Backup, the timer runs a whole Master_Down_Interval again.
    assert!(r.handle(MDI, Input::HoldBackup).is_empty());
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.next_deadline(), Some(2 * MDI));
}

/// The startup delay of the tests below: 5 s.
const DELAY: Nanos = 5_000 * MS;

/// A router started at 0 under [`DELAY`], and what its start did.
fn started_delayed(p: Params) -> (Router, Vec<Action>) {
    let mut r = Router::new(p);
    r.delay_start(DELAY);
    let a = r.handle(0, Input::Startup);
    (r, a)
}

/// keepalived's `vrrp_startup_delay` of 5 s: a backup's Master_Down_Timer runs from the end of
/// the delay, and an advert heard within it restarts the timer from there too.
#[test]
fn keepalived_startup_delay_starts_the_master_down_timer_at_its_end() {
    let (mut r, a) = started_delayed(params(100));
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert_eq!(r.next_deadline(), Some(DELAY + MDI));
    // Silent until the timer, measured from the delay's end: master then, not before.
    assert!(r.handle(DELAY + MDI - 1, Input::Timer).is_empty());
    assert_eq!(r.state(), State::Backup);
    // An advert within the delay: the master is known, the timer still starts at the end.
    r.handle(2_000 * MS, advert(LB02, 150, 2_000 * MS));
    assert_eq!(r.master(), Some(LB02));
    assert_eq!(r.next_deadline(), Some(DELAY + MDI));
    // Its priority 0 within the delay: Skew_Time from the delay's end.
    r.handle(3_000 * MS, advert(LB02, 0, 3_000 * MS));
    assert_eq!(r.next_deadline(), Some(DELAY + SKEW));
    let a = r.handle(DELAY + SKEW, Input::Timer);
    assert!(a.contains(&Action::StateChanged {
        from: State::Backup,
        to: State::Master,
        reason: Reason::MasterDown,
    }));
    // After the delay, an advert restarts the timer from its arrival, as without one.
    let (mut r, _) = started_delayed(params(100));
    r.handle(6_000 * MS, advert(LB02, 150, 6_000 * MS));
    assert_eq!(r.next_deadline(), Some(6_000 * MS + MDI));
}

/// The owner with `state MASTER` under a startup delay: backup until the delay ends, then
/// master for the reason it had at startup; `state MASTER` below 255 waits a
/// Master_Down_Interval from the delay's end.
#[test]
fn keepalived_startup_delay_holds_the_owner_and_state_master_until_its_end() {
    let (mut owner, a) = started_delayed(Params {
        start_as_master: true,
        ..params(255)
    });
    assert_eq!(changed_to(&a), Some(State::Backup));
    assert!(!a.contains(&Action::TakeOver));
    assert_eq!(owner.next_deadline(), Some(DELAY));
    // A lower priority advert within the delay changes nothing: the owner preempts it.
    owner.handle(1_000 * MS, advert(LB02, 100, 1_000 * MS));
    assert!(owner.handle(DELAY - 1, Input::Timer).is_empty());
    let a = owner.handle(DELAY, Input::Timer);
    assert!(a.contains(&Action::TakeOver));
    assert!(a.contains(&Action::StateChanged {
        from: State::Backup,
        to: State::Master,
        reason: Reason::AddressOwner,
    }));

    // `state MASTER` below 255: a backup whose timer starts at the delay's end (keepalived,
    // measured with a delay of 3 s: MASTER at 6.65 s).
    let mut p = params(100);
    p.start_as_master = true;
    let (mut r, _) = started_delayed(p);
    assert_eq!(
        (r.state(), r.next_deadline()),
        (State::Backup, Some(DELAY + MDI))
    );
    assert!(r.handle(DELAY, Input::Timer).is_empty());
    assert_eq!(
        changed_to(&r.handle(DELAY + MDI, Input::Timer)),
        Some(State::Master)
    );
}

/// keepalived keeps an instance's state across a reload: the new router of a master sends its
/// advert at once and stays master without a transition, at its new priority; that of a backup
/// starts its Master_Down_Timer at the reload.
#[test]
fn a_router_resumed_after_a_reload_keeps_the_state_without_a_transition() {
    let t = 7_000 * MS;
    let mut r = Router::new(params(110));
    assert_eq!(
        r.resume(t, State::Master),
        vec![Action::SendAdvert {
            priority: Priority(110)
        }]
    );
    assert_eq!(
        (r.state(), r.next_deadline()),
        (State::Master, Some(t + 1_000 * MS))
    );
    // It yields to a better master as any master does.
    let a = r.handle(t + 10 * MS, advert(LB02, 150, t + 10 * MS));
    assert_eq!(changed_to(&a), Some(State::Backup));

    let mut r = Router::new(params(100));
    assert!(r.resume(t, State::Backup).is_empty());
    assert_eq!(
        (r.state(), r.next_deadline()),
        (State::Backup, Some(t + MDI))
    );
    // A state it cannot keep is a start.
    let mut r = Router::new(params(100));
    assert_eq!(changed_to(&r.resume(t, State::Fault)), Some(State::Backup));
    assert!(r.resume(t, State::Master).is_empty(), "started already");
}
