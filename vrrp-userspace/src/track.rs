//! `vrrp_script` health checks and what they do to an instance's priority, as keepalived
//! computes it (vrrp_track.c, `vrrp_set_effective_priority`):
//!
//! * a script's state changes only after `rise` successes or `fall` failures in a row; it
//!   starts good, or failed with `init_fail`;
//! * a positive weight is added while the script succeeds, a negative one while it fails
//!   (`reverse` swaps success and failure); the weight in `track_script` overrides the script's;
//! * weight 0: a failing script puts the instance in FAULT;
//! * the effective priority is clamped to 1..=254, and the owner (255) is never adjusted.
//!
//! The arithmetic is pure; [`run`] is the task that executes one script on its interval.

use std::time::Duration;

use crate::{
    config::{Script, TrackScript},
    units::Priority,
};

/// A script's state between runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptState {
    /// Whether it currently counts as succeeding.
    pub good: bool,
    /// Consecutive results against the current state.
    streak: u32,
}

impl ScriptState {
    /// The state before the first run.
    pub fn new(script: &Script) -> Self {
        ScriptState {
            good: !script.init_fail,
            streak: 0,
        }
    }

    /// Records one run's result; returns whether the state changed.
    pub fn record(&mut self, script: &Script, success: bool) -> bool {
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

/// What the tracked scripts make of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Run at this effective priority.
    Priority(Priority),
    /// A weight-0 script fails: FAULT.
    Fault,
}

/// The effective priority of an instance with base priority `base` tracking `tracked`, given
/// each script's definition and state (`lookup` by name; unknown scripts are ignored, as
/// keepalived ignores them after its warning).
pub fn effective<'a>(
    base: Priority,
    tracked: &[TrackScript],
    lookup: impl Fn(&str) -> Option<(&'a Script, &'a ScriptState)>,
) -> Verdict {
    let mut delta: i32 = 0;
    for t in tracked {
        let Some((script, state)) = lookup(&t.script) else {
            continue;
        };
        let weight = i32::from(t.weight.unwrap_or(script.weight));
        let reverse = t.reverse.unwrap_or(script.reverse);
        let ok = state.good != reverse;
        if weight == 0 {
            if !ok {
                return Verdict::Fault;
            }
        } else if weight > 0 && ok || weight < 0 && !ok {
            delta += weight;
        }
    }
    if base.is_owner() {
        return Verdict::Priority(base);
    }
    Verdict::Priority(Priority((i32::from(base.get()) + delta).clamp(1, 254) as u8))
}

/// Runs `script` every `interval_ms` with its timeout (a run past it counts as a failure),
/// sending each result to `tx` until the receiver is gone.
pub async fn run(script: Script, tx: tokio::sync::mpsc::Sender<(String, bool)>) {
    let interval = Duration::from_millis(script.interval_ms.max(10));
    let timeout = Duration::from_millis(if script.timeout_ms == 0 {
        script.interval_ms.max(10)
    } else {
        script.timeout_ms
    });
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script.command)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let success = matches!(
            tokio::time::timeout(timeout, child).await,
            Ok(Ok(status)) if status.success()
        );
        if tx.send((script.name.clone(), success)).await.is_err() {
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
    fn keepalived_weight_arithmetic() {
        // The REFERENCE tutorial: priority 150, chk_haproxy weight -30.
        let s = script(-30, 1, 1);
        let good = ScriptState::new(&s);
        let mut bad = ScriptState::new(&s);
        bad.record(&s, false);
        let base = Priority(150);
        assert_eq!(
            effective(base, &track(None), |_| Some((&s, &good))),
            Verdict::Priority(Priority(150))
        );
        assert_eq!(
            effective(base, &track(None), |_| Some((&s, &bad))),
            Verdict::Priority(Priority(120))
        );
        // A positive weight is added while the script succeeds.
        assert_eq!(
            effective(base, &track(Some(20)), |_| Some((&s, &good))),
            Verdict::Priority(Priority(170))
        );
        assert_eq!(
            effective(base, &track(Some(20)), |_| Some((&s, &bad))),
            Verdict::Priority(Priority(150))
        );
        // Clamped to 1..=254; the owner is never adjusted.
        assert_eq!(
            effective(Priority(250), &track(Some(20)), |_| Some((&s, &good))),
            Verdict::Priority(Priority(254))
        );
        assert_eq!(
            effective(Priority(10), &track(Some(-30)), |_| Some((&s, &bad))),
            Verdict::Priority(Priority(1))
        );
        assert_eq!(
            effective(Priority::OWNER, &track(Some(-30)), |_| Some((&s, &bad))),
            Verdict::Priority(Priority::OWNER)
        );
        // Weight 0: failure means FAULT.
        assert_eq!(
            effective(base, &track(Some(0)), |_| Some((&s, &bad))),
            Verdict::Fault
        );
        // reverse swaps success and failure.
        let rev = vec![TrackScript {
            script: "chk".into(),
            weight: Some(-30),
            reverse: Some(true),
        }];
        assert_eq!(
            effective(base, &rev, |_| Some((&s, &good))),
            Verdict::Priority(Priority(120))
        );
        // An unknown script is ignored.
        assert_eq!(
            effective(base, &track(None), |_| None),
            Verdict::Priority(base)
        );
    }
}
