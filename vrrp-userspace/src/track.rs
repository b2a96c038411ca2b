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

/// What one tracked object does to the sum: nothing or an amount, or FAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjust {
    /// Add this to the base priority (0: nothing).
    Delta(i32),
    /// The instance goes to FAULT.
    Fault,
}

impl From<Tracked> for Adjust {
    fn from(t: Tracked) -> Adjust {
        let weight = i32::from(t.weight);
        if weight == 0 {
            if t.up == t.reverse {
                Adjust::Fault
            } else {
                Adjust::Delta(0)
            }
        } else if (weight > 0) == t.up {
            Adjust::Delta(if t.reverse { -weight } else { weight })
        } else {
            Adjust::Delta(0)
        }
    }
}

/// What a `track_file` whose file holds `value` does to an instance tracking it with `weight`
/// (and `reverse`), as keepalived computes it (track_file.c, `update_track_file_status` and
/// `initialise_vrrp_file_tracking_priorities`):
///
/// * weight 0: a non-zero value is FAULT, 0 is fine; with `reverse`, 0 is FAULT;
/// * otherwise value × weight (× −1 with `reverse`): −254 or less is FAULT, more than 253
///   counts as 253, anything between is added to the priority.
pub fn file(value: i64, weight: i32, reverse: bool) -> Adjust {
    if weight == 0 {
        return if (value != 0) != reverse {
            Adjust::Fault
        } else {
            Adjust::Delta(0)
        };
    }
    let status = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(if reverse { -1 } else { 1 });
    if status <= -254 {
        Adjust::Fault
    } else {
        Adjust::Delta(status.min(253) as i32)
    }
}

/// The effective priority of an instance with base priority `base` tracking `tracked`.
pub fn effective<A: Into<Adjust>>(base: Priority, tracked: impl IntoIterator<Item = A>) -> Verdict {
    let mut delta: i32 = 0;
    for t in tracked {
        match t.into() {
            Adjust::Fault => return Verdict::Fault,
            Adjust::Delta(d) => delta = delta.saturating_add(d),
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

/// The value of a tracked file from its first 127 bytes (`None`: a missing file), as keepalived
/// reads it (`process_track_file`: C's `strtol(buf, NULL, 0)`): leading white space, a sign,
/// then decimal, `0x` hexadecimal or `0` octal digits, anything after them ignored; no digits
/// read as 0, and so does an empty or missing file. `Err` carries a number out of
/// −2147483648..=2147483648, which keepalived logs ("Invalid number") and ignores, keeping
/// the last value.
pub fn file_value(contents: Option<&[u8]>) -> Result<i64, i128> {
    let Some(bytes) = contents else { return Ok(0) };
    let bytes = &bytes[..bytes.len().min(127)];
    // strtol stops at a NUL, like the C string it reads.
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
    let mut i = 0;
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut negative = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        negative = bytes[i] == b'-';
        i += 1;
    }
    let mut radix = 10;
    if bytes.get(i) == Some(&b'0') {
        if matches!(bytes.get(i + 1), Some(b'x' | b'X'))
            && bytes.get(i + 2).is_some_and(|b| b.is_ascii_hexdigit())
        {
            radix = 16;
            i += 2;
        } else {
            radix = 8;
        }
    }
    let mut n: i128 = 0;
    let mut any = false;
    while let Some(d) = bytes.get(i).and_then(|&b| (b as char).to_digit(radix)) {
        any = true;
        // Past i64 (C's long) strtol says ERANGE; keepalived then ignores the value.
        n = (n * i128::from(radix) + i128::from(d)).min(i128::from(u64::MAX));
        i += 1;
    }
    if !any {
        return Ok(0);
    }
    let n = if negative { -n } else { n };
    if n < i128::from(i32::MIN) || n > i128::from(i32::MAX) + 1 {
        return Err(n);
    }
    Ok(n as i64)
}

/// A `vrrp_track_process`'s quorum as keepalived reports it: `quorum..=quorum_max` matching
/// processes are running, gained after `fork_delay` and lost after `terminate_delay` (each
/// cancelled if the count comes back before it runs out), in nanoseconds of any clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// Whether the process has its quorum (what the instances see).
    pub up: bool,
    /// Since when the count has said otherwise.
    pending: Option<u64>,
}

impl Quorum {
    /// The state at start: the count as first read, without delay (keepalived's
    /// `initialise_process_tracking_priorities`).
    pub fn new(in_quorum: bool) -> Self {
        Quorum {
            up: in_quorum,
            pending: None,
        }
    }

    /// Whether `count` processes make the quorum of `quorum..=quorum_max`.
    pub fn in_quorum(count: usize, quorum: u32, quorum_max: u32) -> bool {
        (quorum as usize..=quorum_max as usize).contains(&count)
    }

    /// One reading at `now`: returns the new state when it changes. `delay_ns` is the
    /// fork delay when the quorum is being gained, the terminate delay when lost.
    pub fn observe(
        &mut self,
        now: u64,
        in_quorum: bool,
        fork_ns: u64,
        terminate_ns: u64,
    ) -> Option<bool> {
        if in_quorum == self.up {
            self.pending = None;
            return None;
        }
        let delay = if in_quorum { fork_ns } else { terminate_ns };
        let since = *self.pending.get_or_insert(now);
        if now.saturating_sub(since) >= delay {
            self.up = in_quorum;
            self.pending = None;
            return Some(in_quorum);
        }
        None
    }

    /// When the pending change is due (to read again then), if one is pending.
    pub fn due(&self, fork_ns: u64, terminate_ns: u64) -> Option<u64> {
        let delay = if self.up { terminate_ns } else { fork_ns };
        self.pending.map(|s| s.saturating_add(delay))
    }
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

    #[test]
    fn track_file_arithmetic_as_keepalived() {
        let base = Priority(100);
        let with = |value, weight, reverse| effective(base, [file(value, weight, reverse)]);
        // value × weight is added (default weight 1).
        assert_eq!(prio(with(5, 1, false)), 105);
        assert_eq!(prio(with(-20, 1, false)), 80);
        assert_eq!(prio(with(3, -10, false)), 70);
        // reverse multiplies by −1.
        assert_eq!(prio(with(5, 2, true)), 90);
        // −254 or less is FAULT; more than 253 counts as 253 (then clamped to 254).
        assert_eq!(with(-254, 1, false), Verdict::Fault);
        assert_eq!(with(30, -10, false), Verdict::Fault);
        assert_eq!(prio(with(-253, 1, false)), 1);
        assert_eq!(file(1000, 1, false), Adjust::Delta(253));
        assert_eq!(prio(with(1000, 1, false)), 254);
        // Weight 0: a non-zero value is FAULT, 0 is fine; reverse turns it round.
        assert_eq!(with(1, 0, false), Verdict::Fault);
        assert_eq!(with(-7, 0, false), Verdict::Fault);
        assert_eq!(prio(with(0, 0, false)), 100);
        assert_eq!(with(0, 0, true), Verdict::Fault);
        assert_eq!(prio(with(3, 0, true)), 100);
        // The owner is never adjusted, but FAULT is FAULT.
        assert_eq!(prio(effective(Priority::OWNER, [file(-10, 1, false)])), 255);
        assert_eq!(
            effective(Priority::OWNER, [file(-300, 1, false)]),
            Verdict::Fault
        );
        // Files and other tracked objects in one sum.
        let sum = [Adjust::from(tracked(-30, false, false)), file(10, 2, false)];
        assert_eq!(prio(effective(base, sum)), 90);
    }

    #[test]
    fn file_values_read_as_strtol_does() {
        let v = |s: &str| file_value(Some(s.as_bytes()));
        assert_eq!(v("42\n"), Ok(42));
        assert_eq!(v("  -17 trailing"), Ok(-17));
        assert_eq!(v("+8"), Ok(8));
        assert_eq!(v("0x1f"), Ok(31));
        assert_eq!(v("010"), Ok(8));
        assert_eq!(v("09"), Ok(0));
        assert_eq!(v("abc"), Ok(0));
        assert_eq!(v(""), Ok(0));
        assert_eq!(file_value(None), Ok(0));
        assert_eq!(v("2147483648"), Ok(2_147_483_648));
        assert!(v("2147483649").is_err());
        assert!(v("-2147483649").is_err());
        assert!(v("99999999999999999999999").is_err());
    }

    #[test]
    fn process_quorum_and_its_delays() {
        assert!(Quorum::in_quorum(1, 1, u32::MAX));
        assert!(!Quorum::in_quorum(0, 1, u32::MAX));
        assert!(
            !Quorum::in_quorum(3, 1, 2),
            "quorum_max 2: three is too many"
        );
        assert!(
            Quorum::in_quorum(0, 0, 0),
            "quorum_max 0: none running is the quorum"
        );
        // No delays: each reading counts at once.
        let mut q = Quorum::new(false);
        assert_eq!(q.observe(0, true, 0, 0), Some(true));
        assert_eq!(q.observe(1, false, 0, 0), Some(false));
        // terminate_delay 100: lost only after 100 without the quorum; a return cancels it.
        let mut q = Quorum::new(true);
        assert_eq!(q.observe(10, false, 0, 100), None);
        assert_eq!(q.due(0, 100), Some(110));
        assert_eq!(q.observe(50, true, 0, 100), None);
        assert_eq!(q.observe(60, false, 0, 100), None);
        assert_eq!(q.observe(150, false, 0, 100), None);
        assert_eq!(q.observe(160, false, 0, 100), Some(false));
        // fork_delay 30: gained after 30 with the quorum.
        assert_eq!(q.observe(200, true, 30, 100), None);
        assert_eq!(q.observe(229, true, 30, 100), None);
        assert_eq!(q.observe(230, true, 30, 100), Some(true));
        assert!(q.up);
    }
}
