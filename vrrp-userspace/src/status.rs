//! What `vrrpd status` and `vrrpd events` show: the types the control socket and the metrics
//! serve, and [`StatusSnapshot`], which the daemon's main loop publishes and they read without
//! waiting for it (the XDP counters are read then, off the loop).

use std::{collections::BTreeMap, net::IpAddr, sync::Arc, time::Duration};

use crate::{
    controller::{self, InstanceLive, InstanceTiming, InstanceView},
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

/// How `vrrpd status` shows the status: the daemon writes it so ([`Format::request`]), and
/// the command only copies it to its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Lines for a person.
    Text,
    /// Indented JSON, a line at its end.
    Json,
}

impl Format {
    /// The control socket's request for the status written in this format.
    pub fn request(self) -> &'static str {
        match self {
            Format::Text => "status text",
            Format::Json => "status json",
        }
    }

    /// The format a control socket request asks for, if it is one of [`Format::request`].
    pub fn of_request(request: &str) -> Option<Format> {
        [Format::Text, Format::Json]
            .into_iter()
            .find(|f| f.request() == request)
    }

    /// Writes `status` in this format.
    pub fn write(
        self,
        out: &mut impl std::io::Write,
        status: &[InstanceStatus],
    ) -> std::io::Result<()> {
        match self {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, status)?;
                writeln!(out)
            }
            Format::Text => write_text(out, status),
        }
    }
}

/// Seconds as a person reads a duration: 42 s, 3m12s, 2h05m, 3d04h.
pub fn ago(s: f64) -> String {
    let s = s.max(0.0) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `status` as the lines `vrrpd status` prints.
fn write_text(out: &mut impl std::io::Write, status: &[InstanceStatus]) -> std::io::Result<()> {
    let counted = |drops: &std::collections::BTreeMap<String, u64>| {
        let counted: Vec<String> = drops
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| format!("{r}={n}"))
            .collect();
        if counted.is_empty() {
            "none".to_string()
        } else {
            counted.join(" ")
        }
    };
    let secs = |cs: u32| format!("{:.2} s", f64::from(cs) / 100.0);
    for s in status {
        writeln!(
            out,
            "{}: {} on {} vrid {} priority {}, since {} ({})",
            s.name,
            s.state,
            s.interface,
            s.vrid,
            s.priority,
            s.since,
            ago(s.in_state_s)
        )?;
        writeln!(out, "    why: {}", s.reason)?;
        if let Some(fault) = &s.fault {
            writeln!(out, "    fault: {fault}")?;
        }
        let master = match (s.master, s.master_priority) {
            (None, _) => "none heard".to_string(),
            (Some(m), p) if s.state == "MASTER" => format!(
                "{m} (this router) priority {}, interval {}",
                p.unwrap_or(s.priority),
                secs(s.master_adver_interval_cs)
            ),
            (Some(m), Some(p)) => {
                format!(
                    "{m} priority {p}, interval {}",
                    secs(s.master_adver_interval_cs)
                )
            }
            (Some(m), None) => format!("{m}, interval {}", secs(s.master_adver_interval_cs)),
        };
        writeln!(out, "    master: {master}")?;
        if let Some(a) = &s.last_advert {
            writeln!(
                out,
                "    last advert from another router: {} priority {}, interval {}, {:.2} s ago",
                a.address,
                a.priority,
                secs(a.interval_cs),
                a.age_s
            )?;
        }
        writeln!(out, "    vips: {}", s.vips.join(", "))?;
        if let Some(m) = &s.checksum_mismatch {
            writeln!(
                out,
                "    checksum mismatch: peer {} checksums its VRRPv3 adverts {}; {}",
                m.peer,
                controller::ChecksumMismatch::variant_text(m.peer_checksum),
                m.fix
            )?;
        }
        writeln!(
            out,
            "    transitions in the last hour: {}",
            s.transitions.len()
        )?;
        for t in s.transitions.iter().rev().take(5) {
            writeln!(
                out,
                "      {} ({} ago) {} -> {}: {}",
                t.time,
                ago(t.ago_s),
                t.from,
                t.to,
                t.reason
            )?;
        }
        let c = |n: &str| s.interface_counters.get(n).copied().unwrap_or(0);
        writeln!(
            out,
            "    adverts sent {}, seen {}; XDP on {}: ARP replies {}, NA replies {}, ARP \
             conflicts {}, ND conflicts {}",
            s.adverts_sent,
            s.adverts_seen,
            s.interface,
            c("arp_replied"),
            c("nd_replied"),
            c("arp_conflict"),
            c("nd_conflict")
        )?;
        writeln!(
            out,
            "    split brains {} (adverts of another master not yielded to: {}), address \
             conflicts {}",
            s.split_brains, s.conflicting_adverts, s.address_conflicts
        )?;
        if let Some(b) = &s.split_brain {
            let who = match (b.peer, b.peer_priority) {
                (Some(p), Some(pp)) => format!("{p} priority {pp} advertises as master"),
                _ => "another master (its adverts do not reach us)".to_string(),
            };
            let claims = match (&b.claimed, &b.mac) {
                (Some(a), Some(m)) => format!(", claims {a} from {m} ({} frame(s))", b.claims),
                _ => String::new(),
            };
            writeln!(
                out,
                "    SPLIT BRAIN{}: {who}{claims} since {}, {} advert(s), the last advert or \
                 claim {:.2} s ago",
                if b.reported {
                    ""
                } else {
                    " (not yet reported)"
                },
                b.since,
                b.adverts,
                b.last_advert_age_s
            )?;
        }
        if let Some(a) = &s.address_conflict {
            writeln!(
                out,
                "    ADDRESS CONFLICT: {} claims {} since {} ({} frame(s))",
                a.mac, a.address, a.since, a.frames
            )?;
        }
        if let Some(g) = &s.sync_group {
            writeln!(out, "    sync group {}: {}", g.name, g.state)?;
        }
        if !s.tracked.is_empty() {
            let tracked: Vec<String> = s
                .tracked
                .iter()
                .map(|t| {
                    let weight = match t.weight {
                        0 => String::new(),
                        w => format!(" weight {w:+}"),
                    };
                    let reverse = if t.reverse { " reverse" } else { "" };
                    format!("{} {}{weight}{reverse} {}", t.kind, t.name, t.verdict)
                })
                .collect();
            writeln!(out, "    tracked: {}", tracked.join(", "))?;
        }
        writeln!(out, "    drops: {}", counted(&s.drops))?;
        writeln!(
            out,
            "    drops on {} (every VRID): {}",
            s.interface,
            counted(&s.interface_drops)
        )?;
    }
    Ok(())
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

/// Counters by name, as the status shows them.
type Counted = BTreeMap<String, u64>;

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
    /// What changed with time alone since `views` and `timings` were built, in their order
    /// (refreshed more often than they are built: [`StatusSnapshot::current`] puts it in).
    pub live: Arc<Vec<InstanceLive>>,
}

impl StatusSnapshot {
    /// The views and timers as of the last refresh: `views` and `timings` with `live` put in
    /// (here, on the reader's thread, not on the main loop).
    pub fn current(&self) -> (Vec<InstanceView>, Vec<InstanceTiming>) {
        let (mut views, mut timings) = ((*self.views).clone(), (*self.timings).clone());
        if self.live.len() == views.len() {
            for (v, l) in views.iter_mut().zip(self.live.iter()) {
                v.refresh(l);
            }
        }
        if self.live.len() == timings.len() {
            for (t, l) in timings.iter_mut().zip(self.live.iter()) {
                t.refresh(l);
            }
        }
        (views, timings)
    }

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
        // What every instance of an interface shows alike, made once an interface.
        let per_interface: BTreeMap<&str, (Counted, Counted)> = counts
            .iter()
            .map(|(name, c)| {
                let events = vrrp_common::maps::Counter::ALL
                    .iter()
                    .map(|k| (k.name().to_string(), c.events[*k as usize]))
                    .collect();
                (*name, (by_reason(&c.drops_total), events))
            })
            .collect();
        let (views, _) = self.current();
        views
            .iter()
            .map(|inst| {
                let c = counts.get(inst.interface.as_str());
                let shared = per_interface.get(inst.interface.as_str());
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
                    interface_drops: shared.map(|s| s.0.clone()).unwrap_or_default(),
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
                    interface_counters: shared.map(|s| s.1.clone()).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An instance with every optional part of the status set.
    fn busy() -> InstanceStatus {
        let addr = |s: &str| s.parse::<IpAddr>().unwrap();
        InstanceStatus {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid: 51,
            state: "MASTER".into(),
            priority: 150,
            master: Some(addr("192.0.2.4")),
            vips: vec!["198.51.100.1/32".into(), "2001:db8::1/128".into()],
            master_adver_interval_cs: 100,
            drops: BTreeMap::from([("bad_ttl".into(), 0), ("bad_vrid".into(), 3)]),
            adverts_seen: 1234,
            interface_drops: BTreeMap::from([("truncated".into(), 7)]),
            fault: Some("interface eth1 down".into()),
            checksum_mismatch: Some(controller::ChecksumMismatch {
                peer: addr("192.0.2.5"),
                peer_checksum: crate::config::V3Checksum::MessageOnly,
                fix: "set v3_checksum_as_v2".into(),
            }),
            since: "2026-11-30T12:00:00.123Z".into(),
            in_state_s: 3_725.123_456_789,
            reason: "preempted a lower priority".into(),
            transitions: (0..7)
                .map(|i| TransitionStatus {
                    time: format!("2026-11-30T11:0{i}:00.000Z"),
                    ago_s: 4000.0 - f64::from(i) * 61.7,
                    from: "BACKUP".into(),
                    to: "MASTER".into(),
                    reason: format!("reason {i}"),
                })
                .collect(),
            master_priority: Some(150),
            last_advert: Some(AdvertStatus {
                address: addr("192.0.2.5"),
                priority: 100,
                interval_cs: 1,
                age_s: 0.004_999,
            }),
            adverts_sent: 99,
            interface_counters: BTreeMap::from([
                ("arp_replied".into(), 2),
                ("nd_conflict".into(), 1),
            ]),
            split_brain: Some(SplitBrainStatus {
                peer: Some(addr("192.0.2.5")),
                peer_priority: Some(100),
                mac: Some("00:00:5e:00:01:33".into()),
                claimed: Some(addr("198.51.100.1")),
                since: "2026-11-30T12:59:00.000Z".into(),
                last_advert_age_s: 0.25,
                adverts: 12,
                claims: 3,
                reported: false,
            }),
            split_brains: 1,
            conflicting_adverts: 12,
            address_conflict: Some(ConflictStatus {
                address: addr("198.51.100.1"),
                mac: "02:00:00:00:00:01".into(),
                since: "2026-11-30T12:59:30.000Z".into(),
                frames: 4,
            }),
            address_conflicts: 2,
            sync_group: Some(GroupStatus {
                name: "G1".into(),
                state: "MASTER".into(),
            }),
            tracked: vec![controller::TrackedView {
                kind: "script".into(),
                name: "chk".into(),
                weight: -20,
                reverse: true,
                verdict: "failing".into(),
            }],
        }
    }

    /// A quiet backup: every optional part absent.
    fn quiet() -> InstanceStatus {
        InstanceStatus {
            name: "VI_2".into(),
            state: "BACKUP".into(),
            master: None,
            fault: None,
            checksum_mismatch: None,
            transitions: vec![],
            master_priority: None,
            last_advert: None,
            split_brain: None,
            address_conflict: None,
            sync_group: None,
            tracked: vec![],
            in_state_s: 0.5,
            ..busy()
        }
    }

    #[test]
    fn each_format_is_asked_by_its_own_request() {
        for f in [Format::Text, Format::Json] {
            assert_eq!(Format::of_request(f.request()), Some(f));
        }
        assert_eq!(Format::of_request("status"), None);
        assert_eq!(Format::of_request(""), None);
    }

    /// What the daemon writes is byte for byte what `vrrpd status` printed when it parsed the
    /// daemon's JSON itself.
    #[test]
    fn the_daemon_writes_what_the_command_printed_from_the_json() {
        let status = vec![busy(), quiet()];
        let wire = serde_json::to_vec(&status).unwrap();
        let parsed: Vec<InstanceStatus> = serde_json::from_slice(&wire).unwrap();
        let mut printed = Vec::new();
        serde_json::to_writer_pretty(&mut printed, &parsed).unwrap();
        printed.push(b'\n');
        let mut written = Vec::new();
        Format::Json.write(&mut written, &status).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(printed).unwrap()
        );
        let (mut from_parsed, mut written) = (Vec::new(), Vec::new());
        Format::Text.write(&mut from_parsed, &parsed).unwrap();
        Format::Text.write(&mut written, &status).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(from_parsed).unwrap()
        );
    }

    #[test]
    fn the_text_says_state_master_transitions_and_drops() {
        let mut out = Vec::new();
        Format::Text.write(&mut out, &[busy(), quiet()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        println!("{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "VI_1: MASTER on eth0 vrid 51 priority 150, since 2026-11-30T12:00:00.123Z (1h02m)"
        );
        assert!(text.contains("    transitions in the last hour: 7\n"));
        // The newest five, newest first.
        assert!(
            text.contains(
                "      2026-11-30T11:06:00.000Z (1h00m ago) BACKUP -> MASTER: reason 6\n"
            )
        );
        assert!(!text.contains("reason 1\n"));
        assert!(text.contains("    drops: bad_vrid=3\n"));
        assert!(text.contains("    drops on eth0 (every VRID): truncated=7\n"));
        assert!(text.contains(
            "VI_2: BACKUP on eth0 vrid 51 priority 150, since 2026-11-30T12:00:00.123Z (0 s)\n"
        ));
        assert!(text.contains("    master: none heard\n"));
    }
}
