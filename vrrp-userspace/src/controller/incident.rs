//! What an operator reads during an incident: each instance's transitions with their reasons,
//! the peer it last heard, split brains and address conflicts, and the events `vrrpd events`
//! streams. All of it is data the controller keeps as it decides (time is still an input), so
//! it is tested in virtual time like the rest; the driver publishes it with the status
//! snapshot and forwards the events.

use std::{collections::VecDeque, net::IpAddr};

use std::sync::Arc;

use crate::fsm::{Nanos, State};

/// How long a transition stays in an instance's history.
pub const HISTORY_KEEP: Nanos = 3_600_000_000_000;

/// The most transitions an instance's history holds (a flapping instance keeps its newest).
pub const HISTORY_MAX: usize = 100;

/// How long after its last conflicting frame an address conflict is over (ARP and neighbour
/// discovery come when a host asks or announces, not on a timer).
pub const CONFLICT_QUIET: Nanos = 10_000_000_000;

/// One state change of an instance. Held by the instance's history and by every status view
/// of it: the states as they are, and the reason shared with the instance's own (a history of
/// 1,020 routers' first transitions, each with three strings, was some 0.6 MB twice).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// When, on the controller's clock (the daemon's: CLOCK_MONOTONIC).
    pub at_ns: Nanos,
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why, for a person ("no advert from 192.0.2.4 for 3.61 s").
    pub reason: Arc<str>,
}

/// The newest advert of another router fed to an instance.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerAdvert {
    /// Its sender.
    pub address: IpAddr,
    /// Its priority.
    pub priority: u8,
    /// Its advert interval in centiseconds.
    pub interval_cs: u32,
    /// When it arrived.
    pub at_ns: Nanos,
}

/// Another master of our VRID while we are master, not yielding: heard by its adverts, or by
/// its ARP / neighbour advertisements for our VIPs from our VRID's VMAC (which only a master
/// sends from: the side whose adverts do not reach the other one hears no advert, but the
/// other master's answers to ours, its gratuitous ARPs, still come).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitBrain {
    /// The other master's address, once its adverts were heard.
    pub peer: Option<IpAddr>,
    /// Its priority, once its adverts were heard.
    pub peer_priority: Option<u8>,
    /// The MAC it claims our VIPs from, once it claimed one (our VRID's VMAC).
    pub mac: Option<String>,
    /// The VIP its newest claim was for.
    pub claimed: Option<IpAddr>,
    /// Its first advert or claim of this episode.
    pub since_ns: Nanos,
    /// Its newest advert or claim.
    pub last_ns: Nanos,
    /// Its first claim of this episode.
    pub first_claim_ns: Option<Nanos>,
    /// Its adverts the controller saw in this episode (at its reads of the stamps; XDP counts
    /// every one in `adverts_seen`).
    pub adverts: u64,
    /// Its ARP / neighbour advertisements from the VMAC the controller heard of.
    pub claims: u64,
    /// Whether the episode was reported (it is once the peer keeps advertising after ours
    /// should have silenced it, or keeps claiming our VIPs for half an advert interval: a
    /// single advert or burst crossing ours in a preemption is not one).
    pub reported: bool,
}

impl SplitBrain {
    /// The other master for a person: its address, else what it claims from which MAC.
    pub fn who(&self) -> String {
        match (self.peer, &self.claimed, &self.mac) {
            (Some(p), _, _) => p.to_string(),
            (None, Some(a), Some(m)) => format!("the master claiming {a} from {m}"),
            _ => "another master".into(),
        }
    }
}

/// A frame from another MAC claiming one of an instance's VIPs while it is master.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AddressConflict {
    /// The VIP claimed.
    pub address: IpAddr,
    /// The claimant's MAC.
    pub mac: String,
    /// Its first frame of this episode.
    pub since_ns: Nanos,
    /// Its newest.
    pub last_ns: Nanos,
    /// Its frames the controller heard of in this episode (XDP counts every one).
    pub frames: u64,
}

/// What `vrrpd events` streams: every transition, conflict and script result that matters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An instance changed state.
    Transition {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// The state left.
        from: String,
        /// The state entered.
        to: String,
        /// Why.
        reason: String,
        /// Its effective priority now.
        priority: u8,
    },
    /// A sync group changed state.
    SyncGroup {
        /// The group.
        group: String,
        /// The state left.
        from: String,
        /// The state entered.
        to: String,
        /// Why.
        reason: String,
    },
    /// Split brain: another master of our VRID keeps advertising, or claims our VIPs from our
    /// VMAC, while we are master.
    SplitBrain {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// Its interface.
        interface: String,
        /// The other master, if its adverts were heard.
        peer: Option<IpAddr>,
        /// The other master's priority, if its adverts were heard.
        peer_priority: Option<u8>,
        /// The MAC it claims our VIPs from, if it claimed one.
        mac: Option<String>,
        /// The VIP it claimed.
        claimed: Option<IpAddr>,
        /// Ours.
        priority: u8,
    },
    /// A split brain is over: the other master went quiet, or we stopped being master.
    SplitBrainOver {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// The other master, if its adverts were heard.
        peer: Option<IpAddr>,
        /// The MAC it claimed our VIPs from, if it did.
        mac: Option<String>,
        /// Its adverts seen in the episode.
        adverts: u64,
        /// Its claims (ARP / neighbour advertisements from our VMAC) heard of in the episode.
        claims: u64,
        /// How long it lasted, in milliseconds (first to last advert).
        lasted_ms: u64,
        /// Why it ended.
        reason: String,
    },
    /// A peer advertises another interval than ours (keepalived logs it too).
    IntervalMismatch {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// The peer.
        peer: IpAddr,
        /// The peer's interval, centiseconds.
        peer_interval_cs: u32,
        /// Ours.
        interval_cs: u32,
    },
    /// Adverts of our VRID that list other addresses than ours are dropped, as keepalived
    /// 2.2.7 drops them (said once per episode).
    AddressListMismatch {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// How many were dropped since the count was read last (a second before).
        dropped: u64,
        /// The number of addresses ours list.
        count: u8,
    },
    /// ARP or neighbour discovery from another MAC claims a VIP of ours while we are master.
    AddressConflict {
        /// The instance.
        instance: String,
        /// Its VRID.
        vrid: u8,
        /// The VIP.
        address: IpAddr,
        /// The claimant's MAC.
        mac: String,
    },
    /// A `vrrp_script` result: every run whose result differs from the one before, and every
    /// change of its verdict.
    Script {
        /// The script.
        script: String,
        /// This run succeeded.
        success: bool,
        /// Its verdict after this run: succeeding or failing (rise/fall applied).
        verdict: String,
        /// The verdict changed with this run.
        changed: bool,
    },
}

impl Event {
    /// The event as a line for a person (also what is logged).
    pub fn message(&self) -> String {
        match self {
            Event::Transition {
                instance,
                from,
                to,
                reason,
                ..
            } => format!("{instance}: {from} -> {to} ({reason})"),
            Event::SyncGroup {
                group,
                from,
                to,
                reason,
            } => format!("sync group {group}: {from} -> {to} ({reason})"),
            Event::SplitBrain {
                instance,
                vrid,
                interface,
                peer,
                peer_priority,
                mac,
                claimed,
                priority,
            } => {
                let claims = match (claimed, mac) {
                    (Some(a), Some(m)) => format!("claims {a} from {m}"),
                    _ => String::new(),
                };
                match (peer, peer_priority) {
                    (Some(p), Some(pp)) => format!(
                        "{instance}: split brain: {p} (priority {pp}) keeps advertising as \
                         master of VRID {vrid} on {interface} while we are master (priority \
                         {priority}){}",
                        if claims.is_empty() {
                            String::new()
                        } else {
                            format!(", and {claims}")
                        }
                    ),
                    _ => format!(
                        "{instance}: split brain: another master of VRID {vrid} on {interface} \
                         {claims} while we are master (priority {priority}); its adverts do \
                         not reach us"
                    ),
                }
            }
            Event::SplitBrainOver {
                instance,
                peer,
                mac,
                adverts,
                claims,
                lasted_ms,
                reason,
                ..
            } => {
                let who = match (peer, mac) {
                    (Some(p), _) => p.to_string(),
                    (None, Some(m)) => format!("the master claiming from {m}"),
                    _ => "another master".into(),
                };
                format!(
                    "{instance}: split brain with {who} over ({reason}); {adverts} advert(s) \
                     and {claims} claim(s) seen over {}",
                    seconds(lasted_ms * 1_000_000)
                )
            }
            Event::IntervalMismatch {
                instance,
                peer,
                peer_interval_cs,
                interval_cs,
                ..
            } => format!(
                "{instance}: advert interval mismatch: {peer} advertises every {}, ours is {}",
                seconds(u64::from(*peer_interval_cs) * 10_000_000),
                seconds(u64::from(*interval_cs) * 10_000_000)
            ),
            Event::AddressListMismatch {
                instance,
                dropped,
                count,
                ..
            } => format!(
                "{instance}: adverts that list other addresses than our {count} are dropped ({dropped} in the last second), as keepalived drops them: two masters until the lists agree"
            ),
            Event::AddressConflict {
                instance,
                address,
                mac,
                ..
            } => {
                format!("{instance}: address conflict: {mac} claims {address} while we are master")
            }
            Event::Script {
                script,
                success,
                verdict,
                changed,
            } => {
                let run = if *success { "succeeded" } else { "failed" };
                if *changed {
                    format!("script {script} {run}: now {verdict}")
                } else {
                    format!("script {script} {run} (still {verdict})")
                }
            }
        }
    }
}

/// `ns` as seconds for a person: "3.61 s".
pub fn seconds(ns: Nanos) -> String {
    format!("{:.2} s", ns as f64 / 1e9)
}

/// Appends `t` to `history`, dropping what is older than [`HISTORY_KEEP`] before it (the
/// newest entry always stays) and the oldest beyond [`HISTORY_MAX`].
pub fn record(history: &mut VecDeque<Transition>, t: Transition) {
    let horizon = t.at_ns.saturating_sub(HISTORY_KEEP);
    history.retain(|old| old.at_ns >= horizon);
    history.push_back(t);
    while history.len() > HISTORY_MAX {
        history.pop_front();
    }
}

/// How many transitions of `history` fall within the hour before `now`.
pub fn last_hour(history: &[Transition], now: Nanos) -> usize {
    let horizon = now.saturating_sub(HISTORY_KEEP);
    history.iter().filter(|t| t.at_ns >= horizon).count()
}

/// A MAC address as text.
pub fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
