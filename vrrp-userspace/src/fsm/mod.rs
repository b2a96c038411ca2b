//! The VRRP state machine of one virtual router (RFC 5798 §6, as updated by RFC 9568; RFC 3768
//! for version 2), as a pure function: inputs and the current time in, actions out.
//!
//! No I/O and no clock: the caller owns the clock, passes `now` with every input, and asks
//! [`Router::next_deadline`] when to come back with [`Input::Timer`]. Deadlines are data inside
//! the state, so every transition (and every timer value) is visible to a unit test.
//!
//! Timer arithmetic is in integer centiseconds (`units`): for version 3, RFC 9568 §6.1's
//! `Skew_Time = ((256 − Priority) × Master_Adver_Interval) / 256`; for version 2, RFC 3768's
//! `(256 − Priority) / 256` seconds, whatever the interval, not truncated to zero; and
//! `Master_Down_Interval = 3 × interval + Skew_Time`.
//!
//! Names follow the RFC (Master, Backup, Initialize); RFC 9568 calls the master the Active
//! Router, but logs and status keep MASTER/BACKUP/FAULT, which is what keepalived users grep for.

use std::{fmt, net::IpAddr};

use crate::units::{self, Centis, Micros, Priority};

/// Nanoseconds on the caller's monotonic clock (the daemon uses CLOCK_MONOTONIC, the clock of
/// the XDP program's advert stamps).
pub type Nanos = u64;

/// Nanoseconds in a centisecond.
pub const NANOS_PER_CENTI: u64 = 10_000_000;

/// VRRP version: v2 intervals are whole seconds and a backup keeps its own (adverts with
/// another interval are dropped by the XDP program); a v3 backup learns the master's.
pub use crate::config::Version;

/// The states of RFC 5798 §6.4, plus keepalived's FAULT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running (before startup, after shutdown).
    Initialize,
    /// Watching the master (RFC 5798 §6.4.2).
    Backup,
    /// Forwarding for the virtual router (RFC 5798 §6.4.3; RFC 9568's Active Router).
    Master,
    /// A tracked interface or script failed: neither master nor candidate (keepalived).
    Fault,
}

impl State {
    /// Its name as keepalived writes it (INIT, BACKUP, MASTER, FAULT).
    pub fn name(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the state changed: logged, one line per change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Startup as the address owner (priority 255) with `state MASTER`: it takes over at once,
    /// as keepalived does (its backup timer expires after 1 µs).
    AddressOwner,
    /// Startup, waiting for a master.
    Startup,
    /// No advert within Master_Down_Interval (or Skew_Time after a priority-0 advert).
    MasterDown,
    /// An advert with a higher priority, or an equal one from a higher primary address.
    HigherPriority {
        /// The sender.
        src: IpAddr,
        /// Its priority.
        priority: Priority,
    },
    /// The daemon is stopping.
    Shutdown,
    /// A tracked interface or script failed.
    Fault,
    /// The fault cleared.
    FaultCleared,
    /// Another member of its sync group changed state (keepalived's `vrrp_sync_group`).
    SyncGroup,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::AddressOwner => write!(f, "address owner (priority 255)"),
            Reason::Startup => write!(f, "startup"),
            Reason::MasterDown => write!(f, "master down timer expired"),
            Reason::HigherPriority { src, priority } => {
                write!(f, "advert from {src} with priority {priority}")
            }
            Reason::Shutdown => write!(f, "shutdown"),
            Reason::Fault => write!(f, "fault"),
            Reason::FaultCleared => write!(f, "fault cleared"),
            Reason::SyncGroup => write!(f, "sync group"),
        }
    }
}

/// A valid advert (already checked by the XDP program: TTL, version, VRID, length, checksum,
/// authentication, v2 interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Its IP source address (the sender's primary address).
    pub src: IpAddr,
    /// Its priority.
    pub priority: Priority,
    /// Its Max Advert Interval (v2: whole seconds).
    pub interval: Centis,
    /// When it arrived (the XDP stamp); timers restart from here, not from when the controller
    /// read it.
    pub received_at: Nanos,
}

/// What happens to a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The router starts (RFC 5798 §6.4.1).
    Startup,
    /// The router stops.
    Shutdown,
    /// A valid advert arrived.
    Advert(Advert),
    /// The deadline given by [`Router::next_deadline`] passed.
    Timer,
    /// The effective priority changed (tracking); the owner's never does.
    SetPriority(Priority),
    /// A tracked interface or script failed.
    Fault,
    /// The fault cleared.
    FaultCleared,
    /// The caller takes the router to Master (keepalived's sync group following a member): a
    /// Backup becomes Master now, as when its Master_Down_Timer fires.
    SyncMaster,
    /// The caller takes the router to Backup (keepalived's sync group following a member): a
    /// Master releases the addresses, without a priority-0 advert, and becomes Backup.
    SyncBackup,
    /// A reload kept this master in a sync group that is not all MASTER (keepalived 2.2.7's
    /// vrrp_init_state, for a member whose state before the reload was MASTER): it releases
    /// the addresses without a priority-0 advert, becomes Backup, and gives another master one
    /// Advertisement_Interval and the smallest Skew_Time (keepalived's VRRP_TIMER_SKEW_MIN) to
    /// be heard before its Master_Down_Timer runs out.
    ReloadBackup,
    /// The Master_Down_Timer is due, but the caller holds the router in Backup (keepalived's
    /// sync group waits until every member wants MASTER): the timer starts again.
    HoldBackup,
}

/// What the caller must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (the router's own, or 0 when it stops).
    SendAdvert {
        /// Priority to advertise.
        priority: Priority,
    },
    /// Become master: answer ARP/ND for the VIPs from the VMAC, add the VIPs, put the VMAC in
    /// the unicast filter, send gratuitous ARPs / unsolicited NAs.
    TakeOver,
    /// Stop being master, in the order that leaves no window of two answers: stop answering
    /// ARP from the VMAC first, then remove the VIPs and the VMAC.
    Release,
    /// The state changed (log it, run notify scripts).
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
}

/// A virtual router's configuration, as the state machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    /// VRRP version.
    pub version: Version,
    /// Priority (1..=255; 255 is the address owner).
    pub priority: Priority,
    /// Advertisement_Interval (v2: whole seconds).
    pub advert_interval: Centis,
    /// Preempt_Mode (keepalived: `nopreempt` clears it).
    pub preempt: bool,
    /// keepalived's `preempt_delay`: how long after startup a backup waits before it preempts a
    /// lower-priority master.
    pub preempt_delay: Centis,
    /// keepalived's `state MASTER` (in a sync group: as its group lets it). As keepalived
    /// 2.2.7 (vrrp_init_state), only the address owner (priority 255) with it takes over at
    /// [`Input::Startup`]; below 255 it starts in Backup, as does the owner without it.
    pub start_as_master: bool,
    /// This router's primary address: the advert source, and the tie-break.
    pub primary: IpAddr,
    /// keepalived's `lower_prio_no_advert`: do not answer a lower-priority advert with our own
    /// (RFC 9568 §6.4.3 answers it, which ends a split brain faster).
    pub lower_prio_no_advert: bool,
}

const fn ns(c: Centis) -> Nanos {
    c.get() as u64 * NANOS_PER_CENTI
}

/// One virtual router's state machine.
#[derive(Clone, Debug)]
pub struct Router {
    params: Params,
    state: State,
    /// The effective priority (the configured one, adjusted by tracking).
    priority: Priority,
    /// Master_Adver_Interval: the master's interval as learned from its adverts (v3).
    master_adver_interval: Centis,
    /// Master_Down_Timer deadline (Backup).
    master_down_at: Option<Nanos>,
    /// Adver_Timer deadline (Master).
    adver_at: Option<Nanos>,
    /// Until when a backup holds back from preempting (keepalived's preempt_delay).
    preempt_after: Option<Nanos>,
    /// The last master heard from (status output).
    master: Option<IpAddr>,
    /// keepalived's `vrrp_startup_delay`: no Master_Down_Timer starts before this instant
    /// ([`Router::delay_start`]).
    start_after: Nanos,
    /// Why a router that takes over at startup (the owner, `state MASTER`) will, while it
    /// waits out the startup delay in Backup.
    delayed_takeover: Option<Reason>,
}

impl Router {
    /// A router in Initialize with these parameters.
    pub fn new(params: Params) -> Self {
        Router {
            params,
            state: State::Initialize,
            priority: params.priority,
            master_adver_interval: params.advert_interval,
            master_down_at: None,
            adver_at: None,
            preempt_after: None,
            master: None,
            start_after: 0,
            delayed_takeover: None,
        }
    }

    /// keepalived's `vrrp_startup_delay`, given before [`Input::Startup`]: until `until` no
    /// Master_Down_Timer starts (one armed earlier, at startup, by an advert, a priority 0 or
    /// on leaving FAULT, starts at `until`, as keepalived's `vrrp_init_instance_sands` arms it
    /// from the end of the delay), so that no router takes over within the delay, while
    /// adverts are heard as usual; a router that takes over at startup (the owner, `state
    /// MASTER`) waits in Backup and takes over as the delay ends, unless it yields to a master
    /// it heard meanwhile.
    pub fn delay_start(&mut self, until: Nanos) {
        self.start_after = until;
    }

    /// The instant a Master_Down_Timer armed at `t` starts from.
    fn timer_from(&self, t: Nanos) -> Nanos {
        t.max(self.start_after)
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }

    /// The configuration.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Master_Adver_Interval.
    pub fn master_adver_interval(&self) -> Centis {
        self.master_adver_interval
    }

    /// Skew_Time for our priority (and, in v3, the current Master_Adver_Interval).
    pub fn skew_time(&self) -> Micros {
        match self.params.version {
            Version::V2 => units::skew_time_v2(self.priority),
            Version::V3 => units::skew_time_v3(self.priority, self.master_adver_interval),
        }
    }

    /// Master_Down_Interval for our priority and the current Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Micros {
        match self.params.version {
            Version::V2 => {
                units::master_down_interval_v2(self.priority, self.master_adver_interval)
            }
            Version::V3 => {
                units::master_down_interval_v3(self.priority, self.master_adver_interval)
            }
        }
    }

    /// The master last heard from (ourselves while master).
    pub fn master(&self) -> Option<IpAddr> {
        match self.state {
            State::Master => Some(self.params.primary),
            _ => self.master,
        }
    }

    /// When the caller must come back with [`Input::Timer`]: the Master_Down_Timer in Backup,
    /// the Adver_Timer in Master, nothing otherwise.
    pub fn next_deadline(&self) -> Option<Nanos> {
        match self.state {
            State::Backup => self.master_down_at,
            State::Master => self.adver_at,
            State::Initialize | State::Fault => None,
        }
    }

    /// Brings a master's next advert forward to `to` when it falls due after `to` but no later
    /// than `to + within`; nothing otherwise (never later, never outside Master). The daemon
    /// uses it to send the adverts of routers with one interval in one batch: sending one
    /// early costs a backup nothing (RFC 5798 §6.4.2 resets its timer on every advert), and
    /// from then on their timers stay aligned.
    pub fn advance_advert(&mut self, to: Nanos, within: Nanos) {
        if self.state == State::Master
            && let Some(t) = self.adver_at
            && t > to
            && t <= to + within
        {
            self.adver_at = Some(to);
        }
    }

    /// Starts a router (in Initialize) in `state`, the state of the instance it replaces in a
    /// reload, as keepalived 2.2.7 keeps an instance's state across one (restore_vrrp_state,
    /// vrrp_init_state): a master sends its advert now and stays master, a backup's
    /// Master_Down_Timer starts now. No state change: the caller carries the VIPs over.
    /// Any other state, or a router not in Initialize, is started as by [`Input::Startup`].
    pub fn resume(&mut self, now: Nanos, state: State) -> Vec<Action> {
        if self.state != State::Initialize {
            return Vec::new();
        }
        match state {
            State::Master => {
                self.state = State::Master;
                self.adver_at = Some(now + ns(self.params.advert_interval));
                vec![Action::SendAdvert {
                    priority: self.priority,
                }]
            }
            State::Backup => {
                self.state = State::Backup;
                self.master_adver_interval = self.params.advert_interval;
                self.master_down_at =
                    Some(self.timer_from(now) + self.master_down_interval().as_nanos());
                Vec::new()
            }
            State::Initialize | State::Fault => self.handle(now, Input::Startup),
        }
    }

    /// Feeds one input at time `now`; returns the actions to carry out, in order.
    pub fn handle(&mut self, now: Nanos, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, input) {
            (State::Initialize, Input::Startup) => self.startup(now, &mut out),
            (State::Initialize | State::Fault, Input::SetPriority(p)) => self.set_priority(p),
            (State::Initialize, _) => {}

            (State::Fault, Input::FaultCleared) => {
                self.to(State::Initialize, Reason::FaultCleared, &mut out);
                self.enter_backup(now, Reason::FaultCleared, &mut out);
            }
            (State::Fault, Input::Shutdown) => {
                self.to(State::Initialize, Reason::Shutdown, &mut out)
            }
            (State::Fault, _) => {}

            (State::Backup, Input::Advert(a)) => self.backup_advert(now, a),
            (State::Backup, Input::Timer) => {
                if self.master_down_at.is_some_and(|t| now >= t) {
                    let reason = self.delayed_takeover.unwrap_or(Reason::MasterDown);
                    self.become_master(now, reason, &mut out);
                }
            }
            (State::Master, Input::Advert(a)) => self.master_advert(now, a, &mut out),
            (State::Master, Input::Timer) => {
                if let Some(t) = self.adver_at.filter(|t| now >= *t) {
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    // Keep the cadence; if we fell far behind, restart it from now.
                    let next = t + ns(self.params.advert_interval);
                    self.adver_at = Some(if next > now {
                        next
                    } else {
                        now + ns(self.params.advert_interval)
                    });
                }
            }
            (State::Backup, Input::SyncMaster) => {
                self.become_master(now, Reason::SyncGroup, &mut out)
            }
            (State::Backup, Input::HoldBackup) => {
                if self.master_down_at.is_some_and(|t| now >= t) {
                    self.master_down_at = Some(now + self.master_down_interval().as_nanos());
                    self.delayed_takeover = None;
                }
            }
            (State::Master, Input::SyncBackup) => {
                self.release_for_group(&mut out);
                self.master_down_at = Some(now + self.master_down_interval().as_nanos());
                self.to(State::Backup, Reason::SyncGroup, &mut out);
            }
            (State::Master, Input::ReloadBackup) => {
                self.release_for_group(&mut out);
                let skew_min = match self.params.version {
                    Version::V2 => units::skew_time_v2(Priority::OWNER),
                    Version::V3 => units::skew_time_v3(Priority::OWNER, self.master_adver_interval),
                };
                let wait = ns(self.params.advert_interval) + skew_min.as_nanos();
                self.master_down_at = Some(self.timer_from(now) + wait);
                self.to(State::Backup, Reason::SyncGroup, &mut out);
            }
            (State::Backup | State::Master, Input::SetPriority(p)) => self.set_priority(p),
            (State::Backup | State::Master, Input::Shutdown) => {
                self.stop(State::Initialize, Reason::Shutdown, &mut out)
            }
            (State::Backup | State::Master, Input::Fault) => {
                self.stop(State::Fault, Reason::Fault, &mut out)
            }
            (
                State::Backup | State::Master,
                Input::Startup
                | Input::FaultCleared
                | Input::SyncMaster
                | Input::SyncBackup
                | Input::ReloadBackup
                | Input::HoldBackup,
            ) => {}
        }
        out
    }

    /// A master that its sync group takes to Backup lets the addresses go without a
    /// priority-0 advert and listens at its own interval; the caller sets its timer.
    fn release_for_group(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Release);
        self.adver_at = None;
        self.master_adver_interval = self.params.advert_interval;
    }

    fn to(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        self.delayed_takeover = None;
        if self.state != to {
            out.push(Action::StateChanged {
                from: self.state,
                to,
                reason,
            });
            self.state = to;
        }
    }

    fn set_priority(&mut self, p: Priority) {
        // The owner's priority is never adjusted; others stay within 1..=254
        // (keepalived vrrp_set_effective_priority).
        if self.params.priority.is_owner() {
            return;
        }
        let before = self.master_down_interval().as_nanos();
        self.priority = Priority(p.get().clamp(1, 254));
        // A running Master_Down_Timer follows the new Skew_Time, as keepalived moves it (not
        // the end of a startup delay, which is no Master_Down_Interval).
        let after = self.master_down_interval().as_nanos();
        if self.delayed_takeover.is_none()
            && let Some(t) = self.master_down_at.as_mut()
        {
            *t = (*t + after).saturating_sub(before);
        }
    }

    /// RFC 5798 §6.4.1.
    fn startup(&mut self, now: Nanos, out: &mut Vec<Action>) {
        // keepalived 2.2.7 (vrrp_init_state): only the owner with `state MASTER` takes over at
        // once (its backup timer expires after 1 µs); `state MASTER` below 255, and the owner
        // with `state BACKUP`, wait a Master_Down_Interval like any backup.
        let takeover = self.params.start_as_master && self.priority.is_owner();
        if !takeover {
            self.enter_backup(now, Reason::Startup, out);
        } else if now < self.start_after {
            // The owner under a startup delay: a backup whose timer runs out as the delay ends.
            self.enter_backup(now, Reason::Startup, out);
            self.master_down_at = Some(self.start_after);
            self.delayed_takeover = Some(Reason::AddressOwner);
        } else {
            self.become_master(now, Reason::AddressOwner, out);
        }
    }

    fn enter_backup(&mut self, now: Nanos, reason: Reason, out: &mut Vec<Action>) {
        self.master_adver_interval = self.params.advert_interval;
        self.master_down_at = Some(self.timer_from(now) + self.master_down_interval().as_nanos());
        self.adver_at = None;
        if self.params.preempt_delay.get() > 0 {
            self.preempt_after = Some(now + ns(self.params.preempt_delay));
        }
        self.to(State::Backup, reason, out);
    }

    /// RFC 5798 §6.4.1 (owner) and §6.4.2 (Master_Down_Timer fires): send an advert, take the
    /// addresses, start the Adver_Timer.
    fn become_master(&mut self, now: Nanos, reason: Reason, out: &mut Vec<Action>) {
        out.push(Action::SendAdvert {
            priority: self.priority,
        });
        out.push(Action::TakeOver);
        self.adver_at = Some(now + ns(self.params.advert_interval));
        self.master_down_at = None;
        self.to(State::Master, reason, out);
    }

    /// Leaves Backup or Master for Initialize or Fault; a master first sends priority 0
    /// (RFC 5798 §6.4.3 "Shutdown", keepalived's FAULT too) and releases the addresses.
    fn stop(&mut self, to: State, reason: Reason, out: &mut Vec<Action>) {
        if self.state == State::Master {
            out.push(Action::SendAdvert {
                priority: Priority::SHUTDOWN,
            });
            out.push(Action::Release);
        }
        self.adver_at = None;
        self.master_down_at = None;
        self.to(to, reason, out);
    }

    /// Whether an advert from `src` with `priority` beats us (RFC 5798 §6.4.3): a higher
    /// priority, or the same priority from a higher primary address (compared as unsigned
    /// integers).
    fn beats_us(&self, src: IpAddr, priority: Priority) -> bool {
        priority.get() > self.priority.get()
            || (priority == self.priority && addr_gt(src, self.params.primary))
    }

    /// RFC 5798 §6.4.2, Backup receiving an advert.
    fn backup_advert(&mut self, now: Nanos, a: Advert) {
        if a.priority == Priority::SHUTDOWN {
            // The master is leaving: take over after Skew_Time only.
            self.master_down_at =
                Some(self.timer_from(a.received_at) + self.skew_time().as_nanos());
            self.delayed_takeover = None;
            self.master = Some(a.src);
            return;
        }
        let holding_back = self.preempt_after.is_some_and(|t| now < t);
        if !self.params.preempt || a.priority.get() >= self.priority.get() || holding_back {
            if self.params.version == Version::V3 {
                self.master_adver_interval = a.interval;
            }
            self.master_down_at =
                Some(self.timer_from(a.received_at) + self.master_down_interval().as_nanos());
            self.master = Some(a.src);
            self.delayed_takeover = None;
        }
        // Otherwise (preempting, lower priority): discard, and let the Master_Down_Timer run
        // out so that this better router takes over.
    }

    /// RFC 5798 §6.4.3, Master receiving an advert.
    fn master_advert(&mut self, now: Nanos, a: Advert, out: &mut Vec<Action>) {
        if a.priority == Priority::SHUTDOWN {
            // Another master is leaving: advertise at once so that backups keep us.
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.adver_at = Some(now + ns(self.params.advert_interval));
        } else if self.beats_us(a.src, a.priority) {
            out.push(Action::Release);
            self.adver_at = None;
            if self.params.version == Version::V3 {
                self.master_adver_interval = a.interval;
            } else {
                self.master_adver_interval = self.params.advert_interval;
            }
            // "Set Master_Down_Timer to Master_Down_Interval" as it steps down, not from when
            // XDP stamped the advert: a turn that came late (a master of 1,020 routers taking
            // them over spent 0.24 s in one) found that time past, and the new backup took
            // over again at once, until the next advert.
            self.master_down_at = Some(now + self.master_down_interval().as_nanos());
            self.master = Some(a.src);
            self.to(
                State::Backup,
                Reason::HigherPriority {
                    src: a.src,
                    priority: a.priority,
                },
                out,
            );
        } else if !self.params.lower_prio_no_advert {
            // RFC 9568 §6.4.3: answer a lower-priority master with our own advert, so that it
            // steps down now rather than at its next interval.
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.adver_at = Some(now + ns(self.params.advert_interval));
        }
    }
}

/// `a > b` as unsigned integers of the same family (RFC 5798 §6.4.3); across families, never.
fn addr_gt(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
