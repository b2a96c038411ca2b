//! What `vrrpd status` and `vrrpd events` show: the types the control socket and the metrics
//! serve, and [`StatusSnapshot`], which the daemon's main loop publishes and they read without
//! waiting for it (the XDP counters are read then, off the loop).

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use crate::{
    controller::{self, InstanceTiming, InstanceView},
    dataplane::{self, CounterReader, monotonic_ns},
    fsm::Nanos,
    units::Priority,
};

/// The public view of an instance, for `vrrpd status`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// Interface.
    pub interface: String,
    /// VRID.
    pub vrid: u8,
    /// MASTER, BACKUP, FAULT or INIT.
    pub state: String,
    /// Effective priority.
    pub priority: u8,
    /// The current master's address, if known.
    pub master: Option<IpAddr>,
    /// The VIPs.
    pub vips: Vec<String>,
    /// Master_Adver_Interval in centiseconds.
    pub master_adver_interval_cs: u32,
    /// XDP's drop counters for this VRID, by reason.
    pub drops: BTreeMap<String, u64>,
    /// Valid adverts XDP recorded for this router.
    pub adverts_seen: u64,
    /// XDP's drop counters on the instance's interface, every VRID and the frames without
    /// one (wrong VRID, truncated …), by reason.
    #[serde(default)]
    pub interface_drops: BTreeMap<String, u64>,
    /// Why it is in FAULT (a tracked object down, or an effect that fails), if it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// A peer whose VRRPv3/IPv4 adverts use the other checksum variant, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_mismatch: Option<crate::controller::ChecksumMismatch>,
    /// Since when it is in its state (UTC, RFC 3339).
    #[serde(default)]
    pub since: String,
    /// Seconds in its state.
    #[serde(default)]
    pub in_state_s: f64,
    /// Why it is in its state: the last transition's reason.
    #[serde(default)]
    pub reason: String,
    /// Its transitions in the last hour, oldest first.
    #[serde(default)]
    pub transitions: Vec<TransitionStatus>,
    /// The master's priority, if known (ours while master).
    #[serde(default)]
    pub master_priority: Option<u8>,
    /// The newest advert of another router it heard.
    #[serde(default)]
    pub last_advert: Option<AdvertStatus>,
    /// Adverts it sent (priority 0 included).
    #[serde(default)]
    pub adverts_sent: u64,
    /// XDP's counters on the instance's interface other than drops (ARP and NA replies,
    /// conflicts, …), by name.
    #[serde(default)]
    pub interface_counters: BTreeMap<String, u64>,
    /// The split brain going on: another master of our VRID that does not yield.
    #[serde(default)]
    pub split_brain: Option<SplitBrainStatus>,
    /// Split brains reported since start.
    #[serde(default)]
    pub split_brains: u64,
    /// Adverts of other masters it did not yield to while master (at the controller's reads).
    #[serde(default)]
    pub conflicting_adverts: u64,
    /// The address conflict going on: another MAC claiming a VIP while we are master.
    #[serde(default)]
    pub address_conflict: Option<ConflictStatus>,
    /// Address conflicts reported since start.
    #[serde(default)]
    pub address_conflicts: u64,
    /// Its sync group and the group's state.
    #[serde(default)]
    pub sync_group: Option<GroupStatus>,
    /// Its tracked interfaces and scripts with their verdicts.
    #[serde(default)]
    pub tracked: Vec<controller::TrackedView>,
}

/// One transition, for status.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TransitionStatus {
    /// When (UTC, RFC 3339).
    pub time: String,
    /// Seconds ago.
    pub ago_s: f64,
    /// The state left.
    pub from: String,
    /// The state entered.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// The newest advert of another router, for status.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct AdvertStatus {
    /// Its sender.
    pub address: IpAddr,
    /// Its priority.
    pub priority: u8,
    /// Its interval, centiseconds.
    pub interval_cs: u32,
    /// Seconds since it arrived.
    pub age_s: f64,
}

/// A split brain, for status.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct SplitBrainStatus {
    /// The other master, once its adverts were heard.
    pub peer: Option<IpAddr>,
    /// Its priority, once its adverts were heard.
    pub peer_priority: Option<u8>,
    /// The MAC it claims our VIPs from (our VRID's VMAC), once it claimed one.
    #[serde(default)]
    pub mac: Option<String>,
    /// The VIP its newest claim was for.
    #[serde(default)]
    pub claimed: Option<IpAddr>,
    /// Its first advert or claim of the episode (UTC, RFC 3339).
    pub since: String,
    /// Seconds since its newest advert or claim.
    pub last_advert_age_s: f64,
    /// Its adverts seen in the episode.
    pub adverts: u64,
    /// Its claims (ARP / neighbour advertisements from our VMAC) heard of in the episode.
    #[serde(default)]
    pub claims: u64,
    /// Whether it was reported (logged, sent to `vrrpd events`, `notify_split_brain` run);
    /// not yet: one advert or burst crossing ours after a takeover, which is only a split
    /// brain if more follow.
    pub reported: bool,
}

/// An address conflict, for status.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ConflictStatus {
    /// The VIP claimed.
    pub address: IpAddr,
    /// The claimant's MAC.
    pub mac: String,
    /// Its first frame of the episode (UTC, RFC 3339).
    pub since: String,
    /// Its frames heard of in the episode.
    pub frames: u64,
}

/// An instance's sync group, for status.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct GroupStatus {
    /// The group.
    pub name: String,
    /// Its state.
    pub state: String,
}

/// What `vrrpd events` streams: one JSON object a line.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct EventRecord {
    /// When (UTC, RFC 3339).
    pub time: String,
    /// What (`kind` and its fields).
    #[serde(flatten)]
    pub event: controller::Event,
    /// The event as a line for a person.
    pub message: String,
}

/// How many events a `vrrpd events` subscriber may fall behind before it loses the oldest
/// (it is then told how many it lost): the daemon never waits for a slow reader.
pub const EVENTS_BACKLOG: usize = 1024;

/// A time on the monotonic clock (`at`, given `now` on it) as UTC wall-clock time.
pub fn wall_time(at: Nanos, now: Nanos) -> String {
    let wall = std::time::SystemTime::now() - Duration::from_nanos(now.saturating_sub(at));
    rfc3339(wall)
}

/// `t` as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// What `vrrpd status` is answered from: the instances' views as the main loop last published
/// them, and a reader of each interface's XDP counters with descriptors of its own. The
/// control socket's task answers from it without waiting for the main loop; the counters are
/// read then, off the loop, with a few batched system calls an interface.
#[derive(Clone, Default)]
pub struct StatusSnapshot {
    /// Every instance, in the controller's order.
    pub views: Arc<Vec<InstanceView>>,
    /// The counters of each interface.
    pub counters: Arc<BTreeMap<String, Arc<CounterReader>>>,
    /// Every instance's timers and configured priority, in the order of `views` (metrics).
    pub timings: Arc<Vec<InstanceTiming>>,
}

impl StatusSnapshot {
    /// The status of every instance, with the XDP counters read now (blocking: a few bpf()
    /// calls an interface).
    pub fn statuses(&self) -> Vec<InstanceStatus> {
        let now = monotonic_ns();
        let secs = |at: Nanos| now.saturating_sub(at) as f64 / 1e9;
        let counts: BTreeMap<&str, dataplane::Counts> = self
            .counters
            .iter()
            .filter_map(|(name, r)| match r.read() {
                Ok(c) => Some((name.as_str(), c)),
                Err(e) => {
                    log::debug!("{name}: counters not read for status: {e:#}");
                    None
                }
            })
            .collect();
        let by_reason = |d: &vrrp_common::maps::DropCounts| -> BTreeMap<String, u64> {
            vrrp_common::DropReason::ALL
                .iter()
                .map(|r| (r.name().to_string(), d.by_reason[*r as usize]))
                .collect()
        };
        self.views
            .iter()
            .map(|inst| {
                let c = counts.get(inst.interface.as_str());
                InstanceStatus {
                    name: inst.name.clone(),
                    interface: inst.interface.clone(),
                    vrid: inst.vrid,
                    state: inst.state.to_string(),
                    priority: inst.priority.get(),
                    master: inst.master,
                    vips: inst
                        .vips
                        .iter()
                        .map(|v| format!("{}/{}", v.address, v.prefix_len))
                        .collect(),
                    master_adver_interval_cs: inst.master_adver_interval.get(),
                    drops: c
                        .and_then(|c| c.drops.get(usize::from(inst.vrid)))
                        .map(by_reason)
                        .unwrap_or_default(),
                    adverts_seen: c.map_or(0, |c| c.adverts_seen(inst.family, inst.vrid)),
                    interface_drops: c.map(|c| by_reason(&c.drops_total)).unwrap_or_default(),
                    fault: inst.fault.clone(),
                    since: wall_time(inst.since, now),
                    in_state_s: secs(inst.since),
                    reason: inst.reason.clone(),
                    transitions: inst
                        .transitions
                        .iter()
                        .filter(|t| t.at_ns + controller::HISTORY_KEEP >= now)
                        .map(|t| TransitionStatus {
                            time: wall_time(t.at_ns, now),
                            ago_s: secs(t.at_ns),
                            from: t.from.clone(),
                            to: t.to.clone(),
                            reason: t.reason.clone(),
                        })
                        .collect(),
                    master_priority: inst.master_priority.map(Priority::get),
                    last_advert: inst.last_advert.as_ref().map(|a| AdvertStatus {
                        address: a.address,
                        priority: a.priority,
                        interval_cs: a.interval_cs,
                        age_s: secs(a.at_ns),
                    }),
                    adverts_sent: inst.adverts_sent,
                    interface_counters: c
                        .map(|c| {
                            vrrp_common::maps::Counter::ALL
                                .iter()
                                .map(|k| (k.name().to_string(), c.events[*k as usize]))
                                .collect()
                        })
                        .unwrap_or_default(),
                    split_brain: inst.split_brain.as_ref().map(|s| SplitBrainStatus {
                        peer: s.peer,
                        peer_priority: s.peer_priority,
                        mac: s.mac.clone(),
                        claimed: s.claimed,
                        claims: s.claims,
                        since: wall_time(s.since_ns, now),
                        last_advert_age_s: secs(s.last_ns),
                        adverts: s.adverts,
                        reported: s.reported,
                    }),
                    split_brains: inst.split_brains,
                    conflicting_adverts: inst.conflicting_adverts,
                    address_conflict: inst.address_conflict.as_ref().map(|a| ConflictStatus {
                        address: a.address,
                        mac: a.mac.clone(),
                        since: wall_time(a.since_ns, now),
                        frames: a.frames,
                    }),
                    address_conflicts: inst.address_conflicts,
                    sync_group: inst.sync_group.as_ref().map(|(name, state)| GroupStatus {
                        name: name.clone(),
                        state: state.to_string(),
                    }),
                    tracked: inst.tracked.clone(),
                    checksum_mismatch: inst.checksum_mismatch.clone(),
                }
            })
            .collect()
    }
}
