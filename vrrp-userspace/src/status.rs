//! What `vrrpd status` and `vrrpd events` show: the types the control socket and the metrics
//! serve, and [`StatusSnapshot`], which the daemon's main loop publishes and they read without
//! waiting for it (the XDP counters are read then, off the loop).

use std::{
    collections::BTreeMap,
    fmt,
    net::IpAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

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
    Ago(s).to_string()
}

/// [`ago`], written where it is shown.
#[derive(Clone, Copy)]
struct Ago(f64);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.max(0.0) as u64;
        match s {
            0..60 => write!(f, "{s} s"),
            60..3600 => write!(f, "{}m{:02}s", s / 60, s % 60),
            3600..86_400 => write!(f, "{}h{:02}m", s / 3600, s % 3600 / 60),
            _ => write!(f, "{}d{:02}h", s / 86_400, s % 86_400 / 3600),
        }
    }
}

/// Centiseconds as the status shows an interval: "1.00 s".
#[derive(Clone, Copy)]
struct Secs(u32);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} s", f64::from(self.0) / 100.0)
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
    Clock {
        mono: now,
        wall: SystemTime::now(),
    }
    .wall(at)
    .to_string()
}

/// `t` as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: SystemTime) -> String {
    Rfc3339(t).to_string()
}

/// [`rfc3339`], written where it is shown.
#[derive(Clone, Copy)]
struct Rfc3339(SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_rfc3339(f, self.0)
    }
}

impl serde::Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The clocks a status is written at: the monotonic one of the controller's times, and the
/// wall clock they are shown on, both read once an answer.
#[derive(Clone, Copy, Debug)]
struct Clock {
    /// CLOCK_MONOTONIC, nanoseconds.
    mono: Nanos,
    /// The wall clock at the same moment.
    wall: SystemTime,
}

impl Clock {
    fn now() -> Self {
        Clock {
            mono: monotonic_ns(),
            wall: SystemTime::now(),
        }
    }

    /// The monotonic time `at` on the wall clock.
    fn wall(self, at: Nanos) -> Rfc3339 {
        let ago = Duration::from_nanos(self.mono.saturating_sub(at));
        Rfc3339(self.wall.checked_sub(ago).unwrap_or(std::time::UNIX_EPOCH))
    }

    /// Seconds since the monotonic time `at`.
    fn secs(self, at: Nanos) -> f64 {
        self.mono.saturating_sub(at) as f64 / 1e9
    }
}

fn write_rfc3339(f: &mut fmt::Formatter<'_>, t: SystemTime) -> fmt::Result {
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
    write!(
        f,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Counters by name, as an [`InstanceStatus`] holds them.
type ByName = BTreeMap<String, u64>;

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
    /// (refreshed at each reader's ask, [`StatusFeed::fresh`];
    /// [`StatusSnapshot::current_views`] puts it in).
    pub live: Arc<Vec<InstanceLive>>,
    /// When `live` was built (CLOCK_MONOTONIC).
    pub live_at: Nanos,
}

/// How long a reader waits for the main loop to refresh the snapshot before it answers from
/// the one it has ([`StatusFeed::fresh`]): the loop answers within a turn, a few ms at most
/// while it waits on the kernel; a loop held up longer still gets its status read.
pub const FRESH_WAIT: Duration = Duration::from_millis(100);

/// How old a snapshot's live part may be for a reader to take it without asking the loop: a
/// flood of status requests or scrapes refreshes it at most this often.
pub const FRESH_ENOUGH: Nanos = 10_000_000;

/// The readers' end of the snapshot the main loop publishes (the control socket, the
/// metrics): what changes with time alone ([`InstanceLive`]) is refreshed when a reader asks,
/// not on a clock.
#[derive(Clone)]
pub struct StatusFeed {
    snapshot: tokio::sync::watch::Receiver<StatusSnapshot>,
    asked: Arc<tokio::sync::Notify>,
    /// The loop let an ask go unanswered (said once, in the log, until it answers again).
    unanswered: Arc<std::sync::atomic::AtomicBool>,
}

impl StatusFeed {
    /// Readers of `snapshot` who ask for a refresh through `asked` (the loop waits on it).
    pub fn new(
        snapshot: tokio::sync::watch::Receiver<StatusSnapshot>,
        asked: Arc<tokio::sync::Notify>,
    ) -> Self {
        StatusFeed {
            snapshot,
            asked,
            unanswered: Default::default(),
        }
    }

    /// The snapshot with its live part refreshed after this call, or the one published last if
    /// the loop does not answer within [`FRESH_WAIT`] (a permit stays with the loop: an ask
    /// made while it is busy is answered at its next turn).
    pub async fn fresh(&self) -> StatusSnapshot {
        let mut rx = self.snapshot.clone();
        let live_at = rx.borrow_and_update().live_at;
        if monotonic_ns().saturating_sub(live_at) < FRESH_ENOUGH {
            return rx.borrow().clone();
        }
        self.asked.notify_one();
        let answered = tokio::time::timeout(FRESH_WAIT, rx.changed()).await.is_ok();
        // Cloned at once: a borrow held would delay the main loop's next publication.
        let snapshot = rx.borrow().clone();
        // A main loop held up this long is news to whoever reads the log (an effect that
        // waits on the kernel, say): once an episode, with how old the answer is.
        use std::sync::atomic::Ordering::Relaxed;
        if !answered && !self.unanswered.swap(true, Relaxed) {
            log::warn!(
                "status: the main loop did not answer within {} ms; answering with its state \
                 as of {} ms ago",
                FRESH_WAIT.as_millis(),
                monotonic_ns().saturating_sub(snapshot.live_at) / 1_000_000
            );
        } else if answered && self.unanswered.swap(false, Relaxed) {
            log::info!("status: the main loop answers again");
        }
        snapshot
    }

    /// The snapshot's receiver (its sender gone: the daemon stopped).
    pub fn receiver(&self) -> tokio::sync::watch::Receiver<StatusSnapshot> {
        self.snapshot.clone()
    }
}

impl StatusSnapshot {
    /// The views as of the last refresh: `views` with `live` put in (here, on the reader's
    /// thread, not on the main loop).
    pub fn current_views(&self) -> Vec<InstanceView> {
        let mut views = (*self.views).clone();
        if self.live.len() == views.len() {
            for (v, l) in views.iter_mut().zip(self.live.iter()) {
                v.refresh(l);
            }
        }
        views
    }

    /// The timers as of the last refresh: `timings` with `live` put in.
    pub fn current_timings(&self) -> Vec<InstanceTiming> {
        let mut timings = (*self.timings).clone();
        if self.live.len() == timings.len() {
            for (t, l) in timings.iter_mut().zip(self.live.iter()) {
                t.refresh(l);
            }
        }
        timings
    }

    /// The status of every instance, with the XDP counters read now (blocking: a few bpf()
    /// calls an interface).
    pub fn statuses(&self) -> Vec<InstanceStatus> {
        let counts = self.read_counts();
        let views = self.current_views();
        statuses_at(&views, &counts, Clock::now())
    }

    /// The status of every instance written as `format` asks (`None`: compact JSON, the
    /// answer to `status`) into `out`, with the XDP counters read now (blocking: a few bpf()
    /// calls an interface). Written straight from the views and the counters, without making
    /// an [`InstanceStatus`] (what the command and programs read is the same: a unit test
    /// compares it with [`StatusSnapshot::statuses`] written by [`Format::write`]).
    pub fn write(&self, out: &mut Vec<u8>, format: Option<Format>) -> std::io::Result<()> {
        let counts = self.read_counts();
        let views = self.current_views();
        write_answer(out, format, &views, &counts, Clock::now())
    }

    /// Every interface's XDP counters, read now; an interface whose counters cannot be read
    /// is left out (its instances show none).
    fn read_counts(&self) -> BTreeMap<&str, dataplane::Counts> {
        self.counters
            .iter()
            .filter_map(|(name, r)| match r.read() {
                Ok(c) => Some((name.as_str(), c)),
                Err(e) => {
                    log::debug!("{name}: counters not read for status: {e:#}");
                    None
                }
            })
            .collect()
    }
}

/// [`StatusSnapshot::statuses`] from counters read and clocks read.
fn statuses_at(
    views: &[InstanceView],
    counts: &BTreeMap<&str, dataplane::Counts>,
    clock: Clock,
) -> Vec<InstanceStatus> {
    let now = clock.mono;
    let secs = |at: Nanos| clock.secs(at);
    let wall_time = |at: Nanos, _now: Nanos| clock.wall(at).to_string();
    {
        let by_reason = |d: &vrrp_common::maps::DropCounts| -> BTreeMap<String, u64> {
            vrrp_common::DropReason::ALL
                .iter()
                .map(|r| (r.name().to_string(), d.by_reason[*r as usize]))
                .collect()
        };
        // What every instance of an interface shows alike, made once an interface.
        let per_interface: BTreeMap<&str, (ByName, ByName)> = counts
            .iter()
            .map(|(name, c)| {
                let events = vrrp_common::maps::Counter::ALL
                    .iter()
                    .map(|k| (k.name().to_string(), c.events[*k as usize]))
                    .collect();
                (*name, (by_reason(&c.drops_total), events))
            })
            .collect();
        views
            .iter()
            .map(|inst| {
                let c = counts.get(inst.interface());
                let shared = per_interface.get(inst.interface());
                InstanceStatus {
                    name: inst.name().to_string(),
                    interface: inst.interface().to_string(),
                    vrid: inst.vrid(),
                    state: inst.state.to_string(),
                    priority: inst.priority.get(),
                    master: inst.master,
                    vips: inst
                        .vips()
                        .iter()
                        .map(|v| format!("{}/{}", v.address, v.prefix_len))
                        .collect(),
                    master_adver_interval_cs: inst.master_adver_interval.get(),
                    drops: c
                        .and_then(|c| c.drops.get(usize::from(inst.vrid())))
                        .map(by_reason)
                        .unwrap_or_default(),
                    adverts_seen: c.map_or(0, |c| c.adverts_seen(inst.family, inst.vrid())),
                    interface_drops: shared.map(|s| s.0.clone()).unwrap_or_default(),
                    fault: inst.fault.clone(),
                    since: wall_time(inst.since, now),
                    in_state_s: secs(inst.since),
                    reason: inst.reason.to_string(),
                    transitions: inst
                        .transitions
                        .iter()
                        .filter(|t| t.at_ns + controller::HISTORY_KEEP >= now)
                        .map(|t| TransitionStatus {
                            time: wall_time(t.at_ns, now),
                            ago_s: secs(t.at_ns),
                            from: t.from.to_string(),
                            to: t.to.to_string(),
                            reason: t.reason.to_string(),
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
                    checksum_mismatch: inst.checksum_mismatch.as_deref().cloned(),
                }
            })
            .collect()
    }
}

// The answer as the status thread writes it: straight from the views and the counters, into
// the thread's one buffer. What it writes is what [`Format::write`] writes of
// [`StatusSnapshot::statuses`] (the JSON byte for byte: the same keys in the same order), which
// a unit test checks; it only makes no map of counters by name, and no string of a field.

/// The counters of `names` (by index) in the order of their names, as a map by name shows them.
fn name_order<const N: usize>(name: impl Fn(usize) -> &'static str) -> [u8; N] {
    let mut order: [u8; N] = std::array::from_fn(|i| i as u8);
    order.sort_unstable_by_key(|i| name(usize::from(*i)));
    order
}

/// The drop reasons in the order of their names.
static DROP_ORDER: std::sync::LazyLock<[u8; vrrp_common::DropReason::COUNT]> =
    std::sync::LazyLock::new(|| name_order(|i| vrrp_common::DropReason::ALL[i].name()));

/// The event counters in the order of their names.
static COUNTER_ORDER: std::sync::LazyLock<[u8; vrrp_common::maps::Counter::COUNT]> =
    std::sync::LazyLock::new(|| name_order(|i| vrrp_common::maps::Counter::ALL[i].name()));

/// Counters by name, shown as a map from their static names (none: not read).
#[derive(Clone, Copy)]
struct Counted<'a> {
    values: Option<&'a [u64]>,
    order: &'static [u8],
    name: fn(usize) -> &'static str,
}

impl<'a> Counted<'a> {
    fn drops(d: Option<&'a vrrp_common::maps::DropCounts>) -> Self {
        Counted {
            values: d.map(|d| &d.by_reason[..]),
            order: &DROP_ORDER[..],
            name: |i| vrrp_common::DropReason::ALL[i].name(),
        }
    }

    fn events(c: Option<&'a dataplane::Counts>) -> Self {
        Counted {
            values: c.map(|c| &c.events[..]),
            order: &COUNTER_ORDER[..],
            name: |i| vrrp_common::maps::Counter::ALL[i].name(),
        }
    }

    /// (name, value) in the order of the names.
    fn iter(self) -> impl Iterator<Item = (&'static str, u64)> + 'a {
        let values = self.values.unwrap_or_default();
        self.order
            .iter()
            .map(move |i| usize::from(*i))
            .filter(move |i| *i < values.len())
            .map(move |i| ((self.name)(i), values[i]))
    }

    /// The value of counter `index`, 0 if not read.
    fn get(self, index: usize) -> u64 {
        self.values.and_then(|v| v.get(index).copied()).unwrap_or(0)
    }
}

impl serde::Serialize for Counted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// The counters other than zero, `name=n` apart by spaces, or "none".
impl fmt::Display for Counted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut none = true;
        for (name, n) in self.iter().filter(|(_, n)| *n > 0) {
            if !none {
                f.write_str(" ")?;
            }
            write!(f, "{name}={n}")?;
            none = false;
        }
        if none {
            f.write_str("none")?;
        }
        Ok(())
    }
}

/// Something shown as a JSON string through its `Display`.
struct Shown<T>(T);

impl<T: fmt::Display> serde::Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A VIP as the status shows it: address/prefix.
struct VipText<'a>(&'a crate::config::Vip);

impl fmt::Display for VipText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.address, self.0.prefix_len)
    }
}

/// The VIPs, a list of [`VipText`].
struct Vips<'a>(&'a [crate::config::Vip]);

impl serde::Serialize for Vips<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|v| Shown(VipText(v))))
    }
}

/// The transitions of the last hour, oldest first.
#[derive(Clone, Copy)]
struct Transitions<'a> {
    all: &'a [crate::controller::Transition],
    clock: Clock,
}

impl<'a> Transitions<'a> {
    fn iter(self) -> impl DoubleEndedIterator<Item = &'a crate::controller::Transition> + 'a {
        let now = self.clock.mono;
        self.all
            .iter()
            .filter(move |t| t.at_ns + controller::HISTORY_KEEP >= now)
    }
}

/// [`TransitionStatus`], borrowed.
#[derive(serde::Serialize)]
struct TransitionOut<'a> {
    time: Rfc3339,
    ago_s: f64,
    from: &'a str,
    to: &'a str,
    reason: &'a str,
}

impl serde::Serialize for Transitions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|t| TransitionOut {
            time: self.clock.wall(t.at_ns),
            ago_s: self.clock.secs(t.at_ns),
            from: t.from.name(),
            to: t.to.name(),
            reason: &t.reason,
        }))
    }
}

/// [`SplitBrainStatus`], borrowed.
#[derive(serde::Serialize)]
struct SplitBrainOut<'a> {
    peer: Option<IpAddr>,
    peer_priority: Option<u8>,
    mac: Option<&'a str>,
    claimed: Option<IpAddr>,
    since: Rfc3339,
    last_advert_age_s: f64,
    adverts: u64,
    claims: u64,
    reported: bool,
}

/// [`ConflictStatus`], borrowed.
#[derive(serde::Serialize)]
struct ConflictOut<'a> {
    address: IpAddr,
    mac: &'a str,
    since: Rfc3339,
    frames: u64,
}

/// [`GroupStatus`], borrowed.
#[derive(serde::Serialize)]
struct GroupOut<'a> {
    name: &'a str,
    state: Shown<crate::fsm::State>,
}

/// [`InstanceStatus`], borrowed from the view and the counters: the same fields in the same
/// order, so that its JSON is the same.
#[derive(serde::Serialize)]
struct StatusOut<'a> {
    name: &'a str,
    interface: &'a str,
    vrid: u8,
    state: Shown<crate::fsm::State>,
    priority: u8,
    master: Option<IpAddr>,
    vips: Vips<'a>,
    master_adver_interval_cs: u32,
    drops: Counted<'a>,
    adverts_seen: u64,
    interface_drops: Counted<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fault: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum_mismatch: Option<&'a controller::ChecksumMismatch>,
    since: Rfc3339,
    in_state_s: f64,
    reason: &'a str,
    transitions: Transitions<'a>,
    master_priority: Option<u8>,
    last_advert: Option<AdvertStatus>,
    adverts_sent: u64,
    interface_counters: Counted<'a>,
    split_brain: Option<SplitBrainOut<'a>>,
    split_brains: u64,
    conflicting_adverts: u64,
    address_conflict: Option<ConflictOut<'a>>,
    address_conflicts: u64,
    sync_group: Option<GroupOut<'a>>,
    tracked: &'a [controller::TrackedView],
}

impl<'a> StatusOut<'a> {
    fn new(
        inst: &'a InstanceView,
        counts: &'a BTreeMap<&str, dataplane::Counts>,
        clock: Clock,
    ) -> Self {
        let c = counts.get(inst.interface());
        StatusOut {
            name: inst.name(),
            interface: inst.interface(),
            vrid: inst.vrid(),
            state: Shown(inst.state),
            priority: inst.priority.get(),
            master: inst.master,
            vips: Vips(inst.vips()),
            master_adver_interval_cs: inst.master_adver_interval.get(),
            drops: Counted::drops(c.and_then(|c| c.drops.get(usize::from(inst.vrid())))),
            adverts_seen: c.map_or(0, |c| c.adverts_seen(inst.family, inst.vrid())),
            interface_drops: Counted::drops(c.map(|c| &c.drops_total)),
            fault: inst.fault.as_deref(),
            checksum_mismatch: inst.checksum_mismatch.as_deref(),
            since: clock.wall(inst.since),
            in_state_s: clock.secs(inst.since),
            reason: &inst.reason,
            transitions: Transitions {
                all: &inst.transitions,
                clock,
            },
            master_priority: inst.master_priority.map(Priority::get),
            last_advert: inst.last_advert.as_ref().map(|a| AdvertStatus {
                address: a.address,
                priority: a.priority,
                interval_cs: a.interval_cs,
                age_s: clock.secs(a.at_ns),
            }),
            adverts_sent: inst.adverts_sent,
            interface_counters: Counted::events(c),
            split_brain: inst.split_brain.as_ref().map(|s| SplitBrainOut {
                peer: s.peer,
                peer_priority: s.peer_priority,
                mac: s.mac.as_deref(),
                claimed: s.claimed,
                since: clock.wall(s.since_ns),
                last_advert_age_s: clock.secs(s.last_ns),
                adverts: s.adverts,
                claims: s.claims,
                reported: s.reported,
            }),
            split_brains: inst.split_brains,
            conflicting_adverts: inst.conflicting_adverts,
            address_conflict: inst.address_conflict.as_ref().map(|a| ConflictOut {
                address: a.address,
                mac: &a.mac,
                since: clock.wall(a.since_ns),
                frames: a.frames,
            }),
            address_conflicts: inst.address_conflicts,
            sync_group: inst.sync_group.as_ref().map(|(name, state)| GroupOut {
                name,
                state: Shown(*state),
            }),
            tracked: &inst.tracked,
        }
    }

    /// Its lines, as [`write_text`] writes those of its [`InstanceStatus`].
    fn write_text(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        use crate::fsm::State;
        use vrrp_common::maps::Counter;
        let s = self;
        writeln!(
            out,
            "{}: {} on {} vrid {} priority {}, since {} ({})",
            s.name,
            s.state.0,
            s.interface,
            s.vrid,
            s.priority,
            s.since,
            Ago(s.in_state_s)
        )?;
        writeln!(out, "    why: {}", s.reason)?;
        if let Some(fault) = s.fault {
            writeln!(out, "    fault: {fault}")?;
        }
        let interval = Secs(s.master_adver_interval_cs);
        match (s.master, s.master_priority) {
            (None, _) => writeln!(out, "    master: none heard")?,
            (Some(m), p) if s.state.0 == State::Master => writeln!(
                out,
                "    master: {m} (this router) priority {}, interval {interval}",
                p.unwrap_or(s.priority),
            )?,
            (Some(m), Some(p)) => {
                writeln!(out, "    master: {m} priority {p}, interval {interval}")?
            }
            (Some(m), None) => writeln!(out, "    master: {m}, interval {interval}")?,
        }
        if let Some(a) = &s.last_advert {
            writeln!(
                out,
                "    last advert from another router: {} priority {}, interval {}, {:.2} s ago",
                a.address,
                a.priority,
                Secs(a.interval_cs),
                a.age_s
            )?;
        }
        out.write_all(b"    vips: ")?;
        for (i, v) in s.vips.0.iter().enumerate() {
            if i > 0 {
                out.write_all(b", ")?;
            }
            write!(out, "{}", VipText(v))?;
        }
        out.write_all(b"\n")?;
        if let Some(m) = s.checksum_mismatch {
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
            s.transitions.iter().count()
        )?;
        let clock = s.transitions.clock;
        for t in s.transitions.iter().rev().take(5) {
            writeln!(
                out,
                "      {} ({} ago) {} -> {}: {}",
                clock.wall(t.at_ns),
                Ago(clock.secs(t.at_ns)),
                t.from,
                t.to,
                t.reason
            )?;
        }
        let c = |k: Counter| s.interface_counters.get(k as usize);
        writeln!(
            out,
            "    adverts sent {}, seen {}; XDP on {}: ARP replies {}, NA replies {}, ARP \
             conflicts {}, ND conflicts {}",
            s.adverts_sent,
            s.adverts_seen,
            s.interface,
            c(Counter::ArpReplied),
            c(Counter::NdReplied),
            c(Counter::ArpConflict),
            c(Counter::NdConflict)
        )?;
        writeln!(
            out,
            "    split brains {} (adverts of another master not yielded to: {}), address \
             conflicts {}",
            s.split_brains, s.conflicting_adverts, s.address_conflicts
        )?;
        if let Some(b) = &s.split_brain {
            out.write_all(b"    SPLIT BRAIN")?;
            if !b.reported {
                out.write_all(b" (not yet reported)")?;
            }
            match (b.peer, b.peer_priority) {
                (Some(p), Some(pp)) => write!(out, ": {p} priority {pp} advertises as master")?,
                _ => out.write_all(b": another master (its adverts do not reach us)")?,
            }
            if let (Some(a), Some(m)) = (b.claimed, b.mac) {
                write!(out, ", claims {a} from {m} ({} frame(s))", b.claims)?;
            }
            writeln!(
                out,
                " since {}, {} advert(s), the last advert or claim {:.2} s ago",
                b.since, b.adverts, b.last_advert_age_s
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
            writeln!(out, "    sync group {}: {}", g.name, g.state.0)?;
        }
        if !s.tracked.is_empty() {
            out.write_all(b"    tracked: ")?;
            for (i, t) in s.tracked.iter().enumerate() {
                if i > 0 {
                    out.write_all(b", ")?;
                }
                write!(out, "{} {}", t.kind, t.name)?;
                if t.weight != 0 {
                    write!(out, " weight {:+}", t.weight)?;
                }
                if t.reverse {
                    out.write_all(b" reverse")?;
                }
                write!(out, " {}", t.verdict)?;
            }
            out.write_all(b"\n")?;
        }
        writeln!(out, "    drops: {}", s.drops)?;
        writeln!(
            out,
            "    drops on {} (every VRID): {}",
            s.interface, s.interface_drops
        )
    }
}

/// Every instance's [`StatusOut`], a JSON list.
struct AnswerOut<'a> {
    views: &'a [InstanceView],
    counts: &'a BTreeMap<&'a str, dataplane::Counts>,
    clock: Clock,
}

impl serde::Serialize for AnswerOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.views
                .iter()
                .map(|v| StatusOut::new(v, self.counts, self.clock)),
        )
    }
}

/// [`StatusSnapshot::write`] from counters read and clocks read.
fn write_answer(
    out: &mut Vec<u8>,
    format: Option<Format>,
    views: &[InstanceView],
    counts: &BTreeMap<&str, dataplane::Counts>,
    clock: Clock,
) -> std::io::Result<()> {
    let answer = AnswerOut {
        views,
        counts,
        clock,
    };
    match format {
        None => serde_json::to_writer(&mut *out, &answer).map_err(Into::into),
        Some(Format::Json) => {
            serde_json::to_writer_pretty(&mut *out, &answer)?;
            out.push(b'\n');
            Ok(())
        }
        Some(Format::Text) => {
            for v in views {
                StatusOut::new(v, counts, clock).write_text(out)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// A reader asks the loop for a refresh and gets it; a snapshot refreshed within
    /// FRESH_ENOUGH is taken without asking; a loop that does not answer costs FRESH_WAIT and
    /// the snapshot published last.
    #[test]
    fn a_reader_gets_the_live_part_refreshed_at_its_ask() {
        runtime().block_on(async {
            let stale = StatusSnapshot {
                live_at: monotonic_ns() - 2 * FRESH_ENOUGH,
                ..Default::default()
            };
            let (tx, rx) = tokio::sync::watch::channel(stale);
            let asked = Arc::new(tokio::sync::Notify::new());
            let feed = StatusFeed::new(rx, asked.clone());
            // The loop: one ask, answered with a refresh.
            let looper = {
                let asked = asked.clone();
                async move {
                    asked.notified().await;
                    tx.send_modify(|s| s.live_at = monotonic_ns());
                    tx
                }
            };
            let asked_at = monotonic_ns();
            let both = async { tokio::join!(feed.fresh(), looper) };
            let (fresh, tx) = tokio::time::timeout(Duration::from_secs(2), both)
                .await
                .expect("the reader asked the loop");
            assert!(fresh.live_at >= asked_at, "refreshed after the ask");

            // Fresh enough: no ask (no permit left for the loop).
            let again = feed.fresh().await;
            assert_eq!(again.live_at, fresh.live_at);
            let permit = tokio::time::timeout(Duration::from_millis(20), asked.notified()).await;
            assert!(permit.is_err(), "a fresh snapshot was taken without asking");

            // A loop that does not answer: the snapshot published last, after FRESH_WAIT.
            tx.send_modify(|s| s.live_at = monotonic_ns() - 2 * FRESH_ENOUGH);
            let start = std::time::Instant::now();
            let old = feed.fresh().await;
            assert!(start.elapsed() >= FRESH_WAIT);
            assert!(monotonic_ns() - old.live_at > FRESH_ENOUGH);
            assert!(feed.unanswered.load(std::sync::atomic::Ordering::Relaxed));
            // Its ask stays with the loop for its next turn.
            asked.notified().await;
        });
    }

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

    /// The clocks of the snapshot tests: monotonic 10 h after boot, wall 2026-11-30 13:00 UTC.
    fn clock() -> Clock {
        Clock {
            mono: 10 * 3_600 * SEC,
            wall: std::time::UNIX_EPOCH + Duration::from_millis(1_796_043_600_123),
        }
    }

    const SEC: Nanos = 1_000_000_000;

    fn vip(s: &str) -> crate::config::Vip {
        let address: IpAddr = s.parse().unwrap();
        crate::config::Vip {
            address,
            prefix_len: if address.is_ipv4() { 32 } else { 128 },
            dev: "eth0".into(),
            label: None,
            scope: crate::config::Scope::default(),
            broadcast: None,
        }
    }

    /// Instance `i` of a realistic snapshot: masters and backups on two interfaces, of both
    /// families, some with everything a status can show (split brain, conflict, mismatch,
    /// fault, sync group, tracking, transitions older and newer than an hour).
    fn view(i: usize) -> InstanceView {
        use crate::{fsm::State, units::Centis};
        let now = clock().mono;
        let v6 = i % 4 == 3;
        let vrid = (i % 255 + 1) as u8;
        let state = [State::Master, State::Backup, State::Fault, State::Backup][i % 4];
        let mut spec = crate::config::Instance::new(
            &format!("VI_{i}"),
            if i.is_multiple_of(2) { "eth0" } else { "eth1" },
            crate::units::Vrid::new(vrid).expect("a VRID"),
        );
        spec.vips = if v6 {
            vec![vip(&format!("2001:db8::{i:x}"))]
        } else {
            vec![
                vip(&format!("198.51.100.{}", i % 250 + 1)),
                vip(&format!("203.0.113.{}", i % 250 + 1)),
            ]
        };
        let mut v = InstanceView {
            spec: Arc::new(spec),
            family: if v6 {
                vrrp_common::maps::Family::Ipv6
            } else {
                vrrp_common::maps::Family::Ipv4
            },
            state,
            priority: Priority(100 + (i % 50) as u8),
            master: (i % 8 != 5).then(|| {
                if v6 {
                    format!("fe80::{i:x}").parse().unwrap()
                } else {
                    format!("192.0.2.{}", i % 250 + 1).parse().unwrap()
                }
            }),
            master_adver_interval: Centis(1 + (i % 3) as u32 * 100),
            fault: (state == State::Fault)
                .then(|| format!("tracked script \"chk_{i}\" failing\tweight 0")),
            checksum_mismatch: (i % 7 == 1).then(|| {
                Box::new(controller::ChecksumMismatch {
                    peer: "192.0.2.200".parse().unwrap(),
                    peer_checksum: crate::config::V3Checksum::MessageOnly,
                    fix: "set v3_checksum_as_v2 here".into(),
                })
            }),
            handing_over: false,
            since: now - (i as Nanos) * 37 * SEC - 123_456_789,
            reason: format!("no advert from 192.0.2.{} for 0.0{} s", i % 250 + 1, i % 10).into(),
            transitions: (0..(i % 9))
                .map(|k| controller::Transition {
                    // The oldest two are more than an hour old.
                    at_ns: now - 3_700 * SEC + (k as Nanos) * 450 * SEC,
                    from: State::Backup,
                    to: State::Master,
                    reason: format!("reason {k} of {i}").into(),
                })
                .collect(),
            last_advert: (state == State::Backup).then(|| controller::PeerAdvert {
                address: "192.0.2.9".parse().unwrap(),
                priority: 200,
                interval_cs: 1,
                at_ns: now - 4_999_999,
            }),
            master_priority: (i % 8 != 6).then_some(Priority(200)),
            adverts_sent: i as u64 * 1000,
            split_brain: (i.is_multiple_of(5)).then(|| {
                Box::new(controller::SplitBrain {
                    peer: (i.is_multiple_of(10)).then(|| "192.0.2.77".parse().unwrap()),
                    peer_priority: (i.is_multiple_of(10)).then_some(90),
                    mac: (i.is_multiple_of(3)).then(|| "00:00:5e:00:01:33".into()),
                    claimed: (i.is_multiple_of(3)).then(|| "198.51.100.1".parse().unwrap()),
                    since_ns: now - 90 * SEC,
                    last_ns: now - SEC / 4,
                    first_claim_ns: None,
                    adverts: 12,
                    claims: 3,
                    reported: !i.is_multiple_of(15),
                })
            }),
            split_brains: (i % 5) as u64,
            conflicting_adverts: (i % 6) as u64,
            address_conflict: (i.is_multiple_of(6)).then(|| {
                Box::new(controller::AddressConflict {
                    address: "198.51.100.1".parse().unwrap(),
                    mac: "02:00:00:00:00:01".into(),
                    since_ns: now - 30 * SEC,
                    last_ns: now - SEC,
                    frames: 4,
                })
            }),
            address_conflicts: (i % 6) as u64,
            sync_group: (i.is_multiple_of(3)).then(|| (format!("G{}", i / 3), state)),
            tracked: (0..(i % 3))
                .map(|k| controller::TrackedView {
                    kind: if k == 0 { "interface" } else { "script" }.into(),
                    name: format!("trk{k}"),
                    weight: [0, -20, 10][k],
                    reverse: k == 2,
                    verdict: "up".into(),
                })
                .collect(),
        };
        if i % 11 == 10 {
            v.master = None;
        }
        v
    }

    /// The counters of eth0 and eth1 (eth2's are not read: its instances show none).
    fn counts(n: usize) -> BTreeMap<&'static str, dataplane::Counts> {
        let mut out = BTreeMap::new();
        for (k, name) in ["eth0", "eth1"].into_iter().enumerate() {
            let mut c = dataplane::Counts {
                drops: vec![vrrp_common::maps::DropCounts::default(); 256],
                adverts4: vec![0; 256],
                adverts6: vec![0; 256],
                newest4: vec![None; 256],
                newest6: vec![None; 256],
                ..Default::default()
            };
            for i in 0..n.min(256) {
                c.drops[i].by_reason[i % vrrp_common::DropReason::COUNT] = (i * k) as u64;
                c.adverts4[i] = (i * 100 + k) as u64;
                c.adverts6[i] = (i * 10) as u64;
            }
            c.drops_total.by_reason[0] = 7 + k as u64;
            c.drops_total.by_reason[5] = 1234;
            for (j, e) in c.events.iter_mut().enumerate() {
                *e = (j * j * (k + 1)) as u64 % 5;
            }
            out.insert(name, c);
        }
        out
    }

    /// `n` instances, every eleventh on eth2, whose counters were not read.
    fn views(n: usize) -> Vec<InstanceView> {
        (0..n)
            .map(|i| {
                let mut v = view(i);
                if i % 11 == 4 {
                    Arc::make_mut(&mut v.spec).interface = "eth2".into();
                }
                v
            })
            .collect()
    }

    /// What the status thread wrote before it wrote straight from the snapshot: the
    /// statuses, made, then written.
    fn written_from_statuses(
        views: &[InstanceView],
        counts: &BTreeMap<&str, dataplane::Counts>,
        format: Option<Format>,
    ) -> Vec<u8> {
        let statuses = statuses_at(views, counts, clock());
        let mut out = Vec::new();
        match format {
            None => serde_json::to_writer(&mut out, &statuses).unwrap(),
            Some(f) => f.write(&mut out, &statuses).unwrap(),
        }
        out
    }

    #[test]
    fn the_answer_written_from_the_snapshot_is_what_the_statuses_were_written_as() {
        let views = views(40);
        let counts = counts(40);
        for format in [None, Some(Format::Text), Some(Format::Json)] {
            let old = written_from_statuses(&views, &counts, format);
            let mut new = b"left from the previous answer".to_vec();
            new.clear();
            write_answer(&mut new, format, &views, &counts, clock()).unwrap();
            assert_eq!(
                String::from_utf8(new).unwrap(),
                String::from_utf8(old).unwrap(),
                "{format:?}"
            );
        }
        // What it shows is all there (not two empty answers alike).
        let mut text = Vec::new();
        write_answer(&mut text, Some(Format::Text), &views, &counts, clock()).unwrap();
        let text = String::from_utf8(text).unwrap();
        for part in [
            "VI_0: MASTER on eth0 vrid 1 priority 100, since 2026-11-30T12:59:59.999Z (0 s)\n",
            "    SPLIT BRAIN (not yet reported): 192.0.2.77 priority 90 advertises as master, \
             claims 198.51.100.1 from 00:00:5e:00:01:33 (3 frame(s)) since",
            "    ADDRESS CONFLICT: 02:00:00:00:00:01 claims 198.51.100.1 since",
            "    checksum mismatch: peer 192.0.2.200",
            "    tracked: interface trk0 up, script trk1 weight -20 up\n",
            "    drops on eth2 (every VRID): none\n",
            "    drops: bad_ttl=2\n",
            "    transitions in the last hour: 6\n",
            "    fault: tracked script \"chk_2\" failing\tweight 0\n",
        ] {
            assert!(text.contains(part), "{part:?} not in\n{text}");
        }
        let json: Vec<InstanceStatus> = {
            let mut out = Vec::new();
            write_answer(&mut out, None, &views, &counts, clock()).unwrap();
            serde_json::from_slice(&out).unwrap()
        };
        assert_eq!(json, statuses_at(&views, &counts, clock()));
        assert_eq!(json[1].interface_counters.len(), 21);
        assert_eq!(json[4].interface_counters.len(), 0);
    }

    /// The CPU time the status thread spends on one answer at 200 instances, the statuses made
    /// then written (as before) and written straight from the snapshot: printed, never
    /// asserted (`cargo test -p vrrp-userspace --lib cpu_per_answer -- --ignored
    /// --nocapture`; the thread's own CPU clock, so that other load on the machine counts
    /// little).
    #[test]
    #[ignore = "a measurement: prints CPU time per answer"]
    fn cpu_per_answer_at_200_instances() {
        use nix::time::{ClockId, clock_gettime};
        let views = views(200);
        let counts = counts(200);
        let cpu = || {
            let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
            t.tv_sec() as f64 * 1e6 + t.tv_nsec() as f64 / 1e3
        };
        const RUNS: u32 = 200;
        for format in [Some(Format::Text), Some(Format::Json), None] {
            // The best of five rounds of RUNS answers each, in µs of CPU an answer.
            let (mut old, mut new) = (f64::MAX, f64::MAX);
            let mut out = Vec::new();
            for _ in 0..5 {
                let start = cpu();
                for _ in 0..RUNS {
                    out.clear();
                    let statuses = statuses_at(&views, &counts, clock());
                    match format {
                        None => serde_json::to_writer(&mut out, &statuses).unwrap(),
                        Some(f) => f.write(&mut out, &statuses).unwrap(),
                    }
                    std::hint::black_box(&out);
                }
                old = old.min((cpu() - start) / f64::from(RUNS));
                let start = cpu();
                for _ in 0..RUNS {
                    out.clear();
                    write_answer(&mut out, format, &views, &counts, clock()).unwrap();
                    std::hint::black_box(&out);
                }
                new = new.min((cpu() - start) / f64::from(RUNS));
            }
            println!(
                "{format:?}: {} bytes; statuses made then written {old:.0} µs of CPU, written \
                 from the snapshot {new:.0} µs",
                out.len()
            );
        }
    }
}
