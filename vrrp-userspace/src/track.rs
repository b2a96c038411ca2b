//! Tracking: `vrrp_script` health checks and `track_interface` links, and what they do to an
//! instance's priority, as keepalived computes it (vrrp_track.c, `vrrp_set_effective_priority`,
//! and keepalived.conf(5) on `track_interface`):
//!
//! * a script's state changes only after `rise` successes or `fall` failures in a row; it
//!   starts good, or failed with `init_fail`; an interface is up when it is up with a carrier;
//! * a positive weight is added while the object is up (the script succeeds), a negative one
//!   while it is down; `reverse` turns the adjustment round (keepalived multiplies the weight by
//!   −1): a positive weight is then subtracted while up, a negative one added while down;
//!   the weight in `track_script` overrides the script's;
//! * weight 0: the object down puts the instance in FAULT (with `reverse`: the object up);
//! * the effective priority is clamped to 1..=254, and the owner (255) is never adjusted.
//!
//! One piece of arithmetic, [`effective`], serves scripts and interfaces alike; [`run`] is the
//! task that executes one script on its interval (through [`crate::scripts`]), and
//! [`ScriptState::carried`], each script's state carried over a reload by name as keepalived
//! does (`clear_diff_script`), so a reload does not make a failing check good again.

use std::time::Duration;

use crate::{
    config::{Script, TrackInterface, TrackScript},
    scripts,
    units::Priority,
};

/// A script's state between runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptState {
    /// Whether it currently counts as succeeding.
    pub good: bool,
    /// Consecutive results against the current state.
    streak: u32,
    /// Whether any run has been recorded.
    ran: bool,
}

impl ScriptState {
    /// The state before the first run.
    pub fn new(script: &Script) -> Self {
        ScriptState {
            good: !script.init_fail,
            streak: 0,
            ran: false,
        }
    }

    /// The state of `new`, the reloaded definition of the script `old` that is in this state
    /// (keepalived's `clear_diff_script`): a script that has not run yet starts afresh; one that
    /// has keeps whether it is good, and as many contrary results still to go before it changes
    /// as it had (at least one), so that a failing check stays failing.
    pub fn carried(&self, old: &Script, new: &Script) -> Self {
        if !self.ran {
            return ScriptState::new(new);
        }
        let needed = |s: &Script| if self.good { s.fall } else { s.rise }.max(1);
        let to_go = needed(old).saturating_sub(self.streak).max(1);
        ScriptState {
            good: self.good,
            streak: needed(new).saturating_sub(to_go),
            ran: true,
        }
    }

    /// Whether any run has been recorded.
    pub fn ran(&self) -> bool {
        self.ran
    }

    /// Records one run's result; returns whether the state changed.
    pub fn record(&mut self, script: &Script, success: bool) -> bool {
        self.ran = true;
        if success == self.good {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let needed = if success { script.rise } else { script.fall }.max(1);
        if self.streak >= needed {
            self.good = success;
            self.streak = 0;
            return true;
        }
        false
    }
}

/// One tracked object as the arithmetic sees it: a script or an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracked {
    /// Its weight, −253..=253; 0 means FAULT while down.
    pub weight: i16,
    /// `reverse`.
    pub reverse: bool,
    /// The script succeeds, or the interface is up with a carrier.
    pub up: bool,
}

/// What the tracked objects make of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run at this effective priority.
    Priority(Priority),
    /// A weight-0 object is down: FAULT.
    Fault,
}

/// The effective priority of an instance with base priority `base` tracking `tracked`.
pub fn effective(base: Priority, tracked: impl IntoIterator<Item = Tracked>) -> Verdict {
    let mut delta: i32 = 0;
    for t in tracked {
        let weight = i32::from(t.weight);
        if weight == 0 {
            if t.up == t.reverse {
                return Verdict::Fault;
            }
        } else if (weight > 0) == t.up {
            delta += if t.reverse { -weight } else { weight };
        }
    }
    if base.is_owner() {
        return Verdict::Priority(base);
    }
    Verdict::Priority(Priority((i32::from(base.get()) + delta).clamp(1, 254) as u8))
}

/// The tracked scripts of an instance, given each script's definition and state (`lookup` by
/// name; unknown scripts are left out, as keepalived ignores them after its warning).
pub fn scripts<'a>(
    tracked: &'a [TrackScript],
    lookup: impl Fn(&str) -> Option<(&'a Script, &'a ScriptState)> + 'a,
) -> impl Iterator<Item = Tracked> + 'a {
    tracked.iter().filter_map(move |t| {
        let (script, state) = lookup(&t.script)?;
        Some(Tracked {
            weight: t.weight.unwrap_or(script.weight),
            reverse: t.reverse.unwrap_or(script.reverse),
            up: state.good,
        })
    })
}

/// The tracked interfaces of an instance, given whether each is up (`up` by name; an interface
/// that does not exist is down).
pub fn interfaces<'a>(
    tracked: &'a [TrackInterface],
    up: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = Tracked> + 'a {
    tracked.iter().map(move |t| Tracked {
        weight: t.weight,
        reverse: t.reverse,
        up: up(&t.interface),
    })
}

/// Runs `script` (prepared as `cmd`) every `interval_ms` with its timeout (a run past it counts
/// as a failure and its process group is killed), sending each result to `tx` until the
/// receiver is gone; each result and how long the run took go into `metrics` too.
pub async fn run(
    script: Script,
    cmd: scripts::Command,
    tx: tokio::sync::mpsc::Sender<(String, bool)>,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
) {
    let interval = Duration::from_millis(script.interval_ms.max(10));
    let timeout = Duration::from_millis(if script.timeout_ms == 0 {
        script.interval_ms.max(10)
    } else {
        script.timeout_ms
    });
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let exit = scripts::run(&cmd, &[], Some(timeout)).await;
        metrics.script_result(&script.name, exit.success(), started.elapsed());
        if let scripts::Exit::NotStarted(e) = &exit {
            log::warn!("vrrp_script {}: could not be started: {e}", script.name);
        }
        if tx
            .send((script.name.clone(), exit.success()))
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(weight: i16, rise: u32, fall: u32) -> Script {
        Script {
            name: "chk".into(),
            command: "true".into(),
            interval_ms: 1000,
            timeout_ms: 0,
            weight,
            reverse: false,
            rise,
            fall,
            user: None,
            group: None,
            init_fail: false,
            source: Default::default(),
        }
    }

    fn track(weight: Option<i16>) -> Vec<TrackScript> {
        vec![TrackScript {
            script: "chk".into(),
            weight,
            reverse: None,
        }]
    }

    #[test]
    fn fall_and_rise_need_consecutive_results() {
        let s = script(-30, 2, 2);
        let mut st = ScriptState::new(&s);
        assert!(
            !st.record(&s, false),
            "one failure is not enough with fall 2"
        );
        assert!(st.record(&s, false));
        assert!(!st.good);
        assert!(!st.record(&s, true));
        assert!(!st.record(&s, false), "a failure resets the rise streak");
        assert!(!st.record(&s, true));
        assert!(st.record(&s, true));
        assert!(st.good);
    }

    #[test]
    fn a_reload_carries_a_script_s_state_by_name() {
        let old = script(-30, 3, 2);
        let mut st = ScriptState::new(&old);
        // Not run yet: the new definition's initial state (init_fail counts).
        let mut failing_start = script(-30, 3, 2);
        failing_start.init_fail = true;
        assert!(!st.carried(&old, &failing_start).good);
        // Failing: stays failing, with as many successes to go as before.
        st.record(&old, false);
        assert!(!st.record(&old, false) || !st.good);
        assert!(!st.good);
        st.record(&old, true); // one of three successes
        let same = st.carried(&old, &old);
        assert_eq!(same, st);
        let r5 = script(-30, 5, 2);
        let mut c = st.carried(&old, &r5);
        assert!(!c.good);
        // Two successes were still needed; they still are, though rise is now 5.
        assert!(!c.record(&r5, true));
        assert!(c.record(&r5, true));
        // A new rise below what was still needed: one success is enough.
        let c = st.carried(&old, &script(-30, 1, 2));
        assert!(!c.good);
        let mut c2 = c.clone();
        assert!(c2.record(&script(-30, 1, 2), true));
        // Good with one failure seen (fall 2): one more failure makes it fail, also with a
        // larger fall.
        let mut g = ScriptState::new(&old);
        g.record(&old, true);
        g.record(&old, false);
        assert!(g.good);
        let mut c = g.carried(&old, &script(-30, 3, 4));
        assert!(c.good);
        assert!(c.record(&script(-30, 3, 4), false));
    }

    fn tracked(weight: i16, reverse: bool, up: bool) -> Tracked {
        Tracked {
            weight,
            reverse,
            up,
        }
    }

    fn prio(v: Verdict) -> u8 {
        match v {
            Verdict::Priority(p) => p.get(),
            Verdict::Fault => panic!("FAULT where a priority was expected"),
        }
    }

    #[test]
    fn keepalived_weight_arithmetic() {
        let base = Priority(150);
        let one = |w, r, up| effective(base, [tracked(w, r, up)]);
        // A positive weight is added while up; a negative one while down (REFERENCE's
        // tutorial: priority 150, weight -30).
        assert_eq!(prio(one(20, false, true)), 170);
        assert_eq!(prio(one(20, false, false)), 150);
        assert_eq!(prio(one(-30, false, true)), 150);
        assert_eq!(prio(one(-30, false, false)), 120);
        // reverse turns the adjustment round (keepalived.conf(5): "the priority is decreased
        // when up and increased when down").
        assert_eq!(prio(one(20, true, true)), 130);
        assert_eq!(prio(one(20, true, false)), 150);
        assert_eq!(prio(one(-30, true, true)), 150);
        assert_eq!(prio(one(-30, true, false)), 180);
        // Weight 0: down means FAULT; with reverse, up means FAULT.
        assert_eq!(one(0, false, false), Verdict::Fault);
        assert_eq!(prio(one(0, false, true)), 150);
        assert_eq!(one(0, true, true), Verdict::Fault);
        assert_eq!(prio(one(0, true, false)), 150);
        // Weights add up; clamped to 1..=254.
        assert_eq!(
            prio(effective(
                base,
                [tracked(-30, false, false), tracked(-50, false, false)]
            )),
            70
        );
        assert_eq!(
            prio(effective(Priority(250), [tracked(20, false, true)])),
            254
        );
        assert_eq!(
            prio(effective(Priority(10), [tracked(-30, false, false)])),
            1
        );
        // The owner is never adjusted, but a weight-0 object down still means FAULT.
        assert_eq!(
            prio(effective(Priority::OWNER, [tracked(-30, false, false)])),
            255
        );
        assert_eq!(
            effective(Priority::OWNER, [tracked(0, false, false)]),
            Verdict::Fault
        );
        // One FAULT among weights is FAULT.
        assert_eq!(
            effective(base, [tracked(20, false, true), tracked(0, false, false)]),
            Verdict::Fault
        );
    }

    #[test]
    fn scripts_take_the_track_script_weight_over_the_script_s() {
        let s = script(-30, 1, 1);
        let good = ScriptState::new(&s);
        let mut bad = ScriptState::new(&s);
        bad.record(&s, false);
        let base = Priority(150);
        let run = |t: &[TrackScript], st: &ScriptState| {
            prio(effective(base, scripts(t, |_| Some((&s, st)))))
        };
        assert_eq!(run(&track(None), &good), 150);
        assert_eq!(run(&track(None), &bad), 120);
        assert_eq!(run(&track(Some(20)), &good), 170);
        assert_eq!(run(&track(Some(20)), &bad), 150);
        assert_eq!(
            effective(base, scripts(&track(Some(0)), |_| Some((&s, &bad)))),
            Verdict::Fault
        );
        // track_script's reverse overrides the script's.
        let rev = vec![TrackScript {
            script: "chk".into(),
            weight: Some(-30),
            reverse: Some(true),
        }];
        assert_eq!(run(&rev, &good), 150);
        assert_eq!(run(&rev, &bad), 180);
        // An unknown script is ignored.
        assert_eq!(prio(effective(base, scripts(&track(None), |_| None))), 150);
    }

    #[test]
    fn interfaces_weigh_by_link_state() {
        let tracked = vec![
            TrackInterface {
                interface: "eth1".into(),
                weight: -20,
                reverse: false,
            },
            TrackInterface {
                interface: "eth2".into(),
                weight: 10,
                reverse: false,
            },
            TrackInterface {
                interface: "eth3".into(),
                weight: 5,
                reverse: true,
            },
        ];
        let base = Priority(100);
        let with = |down: &[&str]| {
            prio(effective(
                base,
                interfaces(&tracked, |n| !down.contains(&n)),
            ))
        };
        // All up: +10 for eth2, −5 for eth3 (reverse, up).
        assert_eq!(with(&[]), 105);
        // eth1 down: −20.
        assert_eq!(with(&["eth1"]), 85);
        // eth2 down: its +10 goes.
        assert_eq!(with(&["eth2"]), 95);
        // eth3 down: its −5 goes.
        assert_eq!(with(&["eth3"]), 110);
        // A weight-0 interface down is FAULT; a missing interface is down.
        let plain = vec![TrackInterface {
            interface: "eth9".into(),
            weight: 0,
            reverse: false,
        }];
        assert_eq!(
            effective(base, interfaces(&plain, |n| n != "eth9")),
            Verdict::Fault
        );
        // Scripts and interfaces in one sum.
        let s = script(-30, 1, 1);
        let mut bad = ScriptState::new(&s);
        bad.record(&s, false);
        let t = track(None);
        let both = scripts(&t, |_| Some((&s, &bad))).chain(interfaces(&tracked, |n| n != "eth1"));
        assert_eq!(prio(effective(base, both)), 100 - 30 - 20 + 10 - 5);
    }
}
