//! Prometheus metrics: `vrrpd run --metrics-listen ADDR:PORT` serves `GET /metrics` in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Two halves. [`Metrics`] is what only the main loop and the script tasks know (transitions
//! by reason, adverts sent, script results and durations, the loop's lag): they record into it
//! under a mutex held for a few instructions. Everything else is read at scrape time from the
//! [`StatusSnapshot`] the main loop publishes for `vrrpd status` (the instances' views and
//! timers, what changes with time alone refreshed at the scrape, and a reader of each
//! interface's XDP counters with descriptors of its own).
//!
//! The HTTP side runs on a thread of its own at nice 19 with its own single-threaded runtime
//! ([`serve`]), so the main loop never polls a metrics future, reads a counter for a scrape or
//! writes a byte to a scraper: a slow or hostile client costs that thread, never an advert. It
//! is a small HTTP/1.1 responder (one request a connection, `Connection: close`): at most
//! [`MAX_CONNECTIONS`] at once (more are answered 503 and closed), a request head of at most
//! [`MAX_REQUEST`] bytes read within [`REQUEST_TIMEOUT`], the answer written within
//! [`WRITE_TIMEOUT`]. Failing to bind is a startup error; anything failing later is logged
//! and the daemon goes on.
//!
//! The exposition is written by hand (a few dozen families of gauges, counters and two
//! histograms do not need a client library): [`render`], pure, tested as text.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, Result};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use vrrp_common::{
    DropReason,
    maps::{Counter, Family},
};

use crate::{
    controller::{InstanceTiming, InstanceView},
    dataplane::{self, Counts},
    fsm::{Nanos, Reason, State},
    status::{StatusFeed, StatusSnapshot},
};

/// Connections served at once; more are answered 503 and closed at once.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest request head (request line and headers) read; longer ones are answered 431.
pub const MAX_REQUEST: usize = 8192;
/// How long a client has to send its request head.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long writing the answer may take.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bounds of the main loop's lag and busy-time buckets, seconds.
const LOOP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
];
/// Upper bounds of the script duration buckets, seconds.
const SCRIPT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A Prometheus histogram: counts per bucket (not cumulative here; the exposition sums them),
/// the sum and the count of observations.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One per bound, and the last for observations above every bound.
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation of `value` seconds.
    pub fn observe(&mut self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// What a `vrrp_script` did so far.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptStats {
    /// Runs that succeeded (exit status 0 within the timeout).
    pub success: u64,
    /// Runs that failed (another status, a signal, the timeout, or not started).
    pub failure: u64,
    /// How long the runs took.
    pub duration: Histogram,
}

/// What the main loop and the script tasks recorded ([`Metrics::recorded`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// State changes by (instance, from, to, reason), as [`state_label`] and [`reason_label`]
    /// name them.
    pub transitions: BTreeMap<(String, &'static str, &'static str, &'static str), u64>,
    /// Adverts sent by each instance (one a unicast peer), from its [`SentCounter`].
    pub adverts_sent: HashMap<String, u64>,
    /// When each instance last sent one (CLOCK_MONOTONIC).
    pub last_advert_sent: HashMap<String, Nanos>,
    /// Gratuitous ARPs and unsolicited neighbour advertisements each instance sent.
    pub announcements_sent: BTreeMap<String, u64>,
    /// Each `vrrp_script`'s results.
    pub scripts: BTreeMap<String, ScriptStats>,
    /// How late the main loop woke for its timer.
    pub loop_lag: Histogram,
    /// How long the main loop worked once awake.
    pub loop_busy: Histogram,
}

impl Default for Recorded {
    fn default() -> Self {
        Recorded {
            transitions: BTreeMap::new(),
            adverts_sent: HashMap::new(),
            last_advert_sent: HashMap::new(),
            announcements_sent: BTreeMap::new(),
            scripts: BTreeMap::new(),
            loop_lag: Histogram::new(LOOP_BUCKETS),
            loop_busy: Histogram::new(LOOP_BUCKETS),
        }
    }
}

/// The metrics only the main loop and the script tasks know, shared with the scraper thread.
#[derive(Debug, Default)]
pub struct Metrics {
    recorded: Mutex<Recorded>,
    /// Each instance's advert counter, by name: looked up once per instance by the sender
    /// (see [`Metrics::sent_counter`]), counted without the lock.
    sent: Mutex<HashMap<String, Arc<SentCounter>>>,
}

/// The adverts one instance sent, and when it last did: the sender holds it and counts
/// each advert with two atomic stores (a master of 510 routers at 10 ms sends 51,000 a
/// second; looking each up by name was 4 % of its samples in `perf`).
#[derive(Debug, Default)]
pub struct SentCounter {
    count: AtomicU64,
    last: AtomicU64,
}

impl SentCounter {
    /// One advert sent at `at`.
    pub fn sent(&self, at: Nanos) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.last.store(at, Ordering::Relaxed);
    }

    /// The adverts sent, and when the last one was.
    pub fn read(&self) -> (u64, Nanos) {
        (
            self.count.load(Ordering::Relaxed),
            self.last.load(Ordering::Relaxed),
        )
    }
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Recorded)) {
        // A panic elsewhere while holding the lock leaves counts that are still counts.
        let mut r = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut r);
    }

    /// An instance changed state.
    pub fn transition(&self, instance: &str, from: State, to: State, reason: &Reason) {
        let key = (
            instance.to_string(),
            state_label(from),
            state_label(to),
            reason_label(reason),
        );
        self.with(|r| *r.transitions.entry(key).or_default() += 1);
    }

    /// The counter of `instance`'s adverts, the same one each time for the same name (a
    /// reload's new spec keeps counting where the old one was).
    pub fn sent_counter(&self, instance: &str) -> Arc<SentCounter> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        match sent.get(instance) {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(SentCounter::default());
                sent.insert(instance.to_string(), c.clone());
                c
            }
        }
    }

    /// `instance` sent an advert at `at`.
    pub fn advert_sent(&self, instance: &str, at: Nanos) {
        self.sent_counter(instance).sent(at);
    }

    /// `instance` sent a gratuitous ARP or an unsolicited neighbour advertisement.
    pub fn announcement_sent(&self, instance: &str) {
        self.with(|r| match r.announcements_sent.get_mut(instance) {
            Some(n) => *n += 1,
            None => {
                r.announcements_sent.insert(instance.to_string(), 1);
            }
        });
    }

    /// A run of `vrrp_script` `script` ended after `took`.
    pub fn script_result(&self, script: &str, success: bool, took: Duration) {
        self.with(|r| {
            let s = r
                .scripts
                .entry(script.to_string())
                .or_insert_with(|| ScriptStats {
                    success: 0,
                    failure: 0,
                    duration: Histogram::new(SCRIPT_BUCKETS),
                });
            if success {
                s.success += 1;
            } else {
                s.failure += 1;
            }
            s.duration.observe(took.as_secs_f64());
        });
    }

    /// The main loop woke `lag` after its timer's deadline.
    pub fn loop_lag(&self, lag: Duration) {
        self.with(|r| r.loop_lag.observe(lag.as_secs_f64()));
    }

    /// The main loop worked for `busy` once awake.
    pub fn loop_busy(&self, busy: Duration) {
        self.with(|r| r.loop_busy.observe(busy.as_secs_f64()));
    }

    /// A copy of what was recorded.
    pub fn recorded(&self) -> Recorded {
        let mut r = self
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        for (name, c) in sent.iter() {
            let (count, last) = c.read();
            if count > 0 {
                r.adverts_sent.insert(name.clone(), count);
                r.last_advert_sent.insert(name.clone(), last);
            }
        }
        r
    }
}

/// A state as a label value.
pub fn state_label(state: State) -> &'static str {
    match state {
        State::Initialize => "init",
        State::Backup => "backup",
        State::Master => "master",
        State::Fault => "fault",
    }
}

/// The states, as [`state_label`] names them, in the order of the state series.
const STATES: [State; 4] = [
    State::Initialize,
    State::Backup,
    State::Master,
    State::Fault,
];

/// A transition's reason as a label value (the sender of a better advert is in the log, not in
/// a label: labels must not grow without bound).
pub fn reason_label(reason: &Reason) -> &'static str {
    match reason {
        Reason::AddressOwner => "address_owner",
        Reason::Startup => "startup",
        Reason::MasterDown => "master_down",
        Reason::HigherPriority { .. } => "higher_priority",
        Reason::Shutdown => "shutdown",
        Reason::Fault => "fault",
        Reason::FaultCleared => "fault_cleared",
        Reason::SyncGroup => "sync_group",
    }
}

fn family_label(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "ipv4",
        Family::Ipv6 => "ipv6",
    }
}

/// Everything one scrape is rendered from.
pub struct Scrape<'a> {
    /// Every instance, as the main loop last published them.
    pub views: &'a [InstanceView],
    /// Their timers and configured priorities.
    pub timings: &'a [InstanceTiming],
    /// Each interface's XDP counters, read for this scrape (an interface whose read failed is
    /// absent).
    pub counts: &'a BTreeMap<String, Counts>,
    /// What the main loop and the scripts recorded.
    pub recorded: &'a Recorded,
    /// CLOCK_MONOTONIC now, nanoseconds.
    pub now: Nanos,
}

/// The exposition being written: one family (HELP, TYPE, samples) after the other.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (i, n) in h.buckets.iter().enumerate() {
            cumulative += n;
            let le = match h.bounds.get(i) {
                Some(b) => Value::F(*b).to_string(),
                None => "+Inf".to_string(),
            };
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, Value::U(cumulative));
        }
        self.sample(&format!("{name}_sum"), labels, Value::F(h.sum));
        self.sample(&format!("{name}_count"), labels, Value::U(h.count));
    }
}

/// A sample's value: counts print as integers.
#[derive(Clone, Copy)]
enum Value {
    U(u64),
    F(f64),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Value::U(n) => write!(f, "{n}"),
            Value::F(x) if x.is_nan() => f.write_str("NaN"),
            Value::F(x) if x == f64::INFINITY => f.write_str("+Inf"),
            Value::F(x) if x == f64::NEG_INFINITY => f.write_str("-Inf"),
            Value::F(x) => write!(f, "{x}"),
        }
    }
}

fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

fn seconds(ns: i128) -> f64 {
    ns as f64 / 1e9
}

/// The text exposition of a scrape.
pub fn render(s: &Scrape<'_>) -> String {
    let mut out = Out(String::new());
    out.family("vrrpd_build_info", "gauge", "vrrpd's version; always 1.");
    out.sample(
        "vrrpd_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        Value::U(1),
    );

    // Per instance: vrrp_instance, vrid, interface, family. Not `instance`: Prometheus gives
    // every series of a target its own `instance` label (the target's address), and would
    // rename ours to `exported_instance`.
    let vrids: Vec<String> = s.views.iter().map(|v| v.vrid().to_string()).collect();
    let labels = |i: usize| -> Vec<(&str, &str)> {
        let v = &s.views[i];
        vec![
            ("vrrp_instance", v.name()),
            ("vrid", vrids[i].as_str()),
            ("interface", v.interface()),
            ("family", family_label(v.family)),
        ]
    };
    let timing = |i: usize| {
        let name = s.views[i].name();
        s.timings
            .get(i)
            .filter(|t| t.name == *name)
            .or_else(|| s.timings.iter().find(|t| t.name == *name))
    };
    let counts = |i: usize| s.counts.get(s.views[i].interface());
    let n = s.views.len();

    out.family(
        "vrrpd_instance_state",
        "gauge",
        "The instance's state: 1 for the state it is in, 0 for the others.",
    );
    for i in 0..n {
        for st in STATES {
            let mut l = labels(i);
            l.push(("state", state_label(st)));
            out.sample(
                "vrrpd_instance_state",
                &l,
                Value::U(u64::from(s.views[i].state == st)),
            );
        }
    }

    out.family(
        "vrrpd_instance_configured_priority",
        "gauge",
        "The priority in the configuration.",
    );
    for i in 0..n {
        if let Some(t) = timing(i) {
            out.sample(
                "vrrpd_instance_configured_priority",
                &labels(i),
                Value::U(u64::from(t.configured_priority.get())),
            );
        }
    }

    out.family(
        "vrrpd_instance_effective_priority",
        "gauge",
        "The priority advertised: the configured one adjusted by tracked interfaces and scripts.",
    );
    for i in 0..n {
        out.sample(
            "vrrpd_instance_effective_priority",
            &labels(i),
            Value::U(u64::from(s.views[i].priority.get())),
        );
    }

    out.family(
        "vrrpd_instance_master_advert_interval_seconds",
        "gauge",
        "Master_Adver_Interval: the master's advert interval as learned from its adverts (v3).",
    );
    for i in 0..n {
        out.sample(
            "vrrpd_instance_master_advert_interval_seconds",
            &labels(i),
            Value::F(f64::from(s.views[i].master_adver_interval.get()) / 100.0),
        );
    }

    out.family(
        "vrrpd_instance_split_brain",
        "gauge",
        "1 while a split brain is reported for the instance (another master of its VRID \
         advertising, or claiming its VIPs from its VMAC, while it is master), else 0.",
    );
    for i in 0..n {
        let on = s.views[i].split_brain.as_ref().is_some_and(|b| b.reported);
        out.sample(
            "vrrpd_instance_split_brain",
            &labels(i),
            Value::U(u64::from(on)),
        );
    }

    out.family(
        "vrrpd_instance_split_brains_total",
        "counter",
        "Split brains reported for the instance since vrrpd started (episodes).",
    );
    for i in 0..n {
        out.sample(
            "vrrpd_instance_split_brains_total",
            &labels(i),
            Value::U(s.views[i].split_brains),
        );
    }

    out.family(
        "vrrpd_instance_transitions_total",
        "counter",
        "State changes since vrrpd started, by the states left and entered and the reason.",
    );
    for i in 0..n {
        let name = s.views[i].name();
        for ((_, from, to, reason), count) in s
            .recorded
            .transitions
            .range((name.to_string(), "", "", "")..)
            .take_while(|((inst, ..), _)| inst == name)
        {
            let mut l = labels(i);
            l.extend([("from", *from), ("to", *to), ("reason", *reason)]);
            out.sample("vrrpd_instance_transitions_total", &l, Value::U(*count));
        }
    }

    out.family(
        "vrrpd_instance_adverts_sent_total",
        "counter",
        "Adverts the instance sent (over multicast, or one to each unicast peer).",
    );
    for i in 0..n {
        let sent = s.recorded.adverts_sent.get(s.views[i].name()).copied();
        out.sample(
            "vrrpd_instance_adverts_sent_total",
            &labels(i),
            Value::U(sent.unwrap_or(0)),
        );
    }

    out.family(
        "vrrpd_instance_announcements_sent_total",
        "counter",
        "Gratuitous ARPs (ipv4) or unsolicited neighbour advertisements (ipv6) the instance \
         sent from its VMAC for its VIPs on becoming master and as garp_master_repeat and \
         garp_master_refresh say.",
    );
    for i in 0..n {
        let sent = s
            .recorded
            .announcements_sent
            .get(s.views[i].name())
            .copied();
        out.sample(
            "vrrpd_instance_announcements_sent_total",
            &labels(i),
            Value::U(sent.unwrap_or(0)),
        );
    }

    out.family(
        "vrrpd_instance_adverts_received_total",
        "counter",
        "Valid adverts for the instance's router that XDP recorded on its interface.",
    );
    for i in 0..n {
        if let Some(c) = counts(i) {
            let v = &s.views[i];
            out.sample(
                "vrrpd_instance_adverts_received_total",
                &labels(i),
                Value::U(c.adverts_seen(v.family, v.vrid())),
            );
        }
    }

    out.family(
        "vrrpd_instance_checksum_mismatch",
        "gauge",
        "1 while a peer's VRRPv3/IPv4 adverts use the other checksum variant than the instance's \
         (v3_checksum_as_v2): the peer most likely drops ours. Absent otherwise.",
    );
    for i in 0..n {
        if let Some(m) = &s.views[i].checksum_mismatch {
            let peer = m.peer.to_string();
            let mut l = labels(i);
            l.push(("peer", peer.as_str()));
            l.push((
                "peer_checksum",
                match m.peer_checksum {
                    crate::config::V3Checksum::PseudoHeader => "pseudo_header",
                    crate::config::V3Checksum::MessageOnly => "message_only",
                },
            ));
            out.sample("vrrpd_instance_checksum_mismatch", &l, Value::U(1));
        }
    }

    out.family(
        "vrrpd_instance_master_advert_age_seconds",
        "gauge",
        "Seconds since the master's last advert: the newest one XDP recorded (backup), or the \
         last one sent (master).",
    );
    for i in 0..n {
        let v = &s.views[i];
        let last = match v.state {
            State::Master => s.recorded.last_advert_sent.get(v.name()).copied(),
            State::Backup => counts(i)
                .and_then(|c| c.newest(v.family, v.vrid()))
                .map(|a| a.time_ns),
            State::Initialize | State::Fault => None,
        };
        if let Some(at) = last {
            out.sample(
                "vrrpd_instance_master_advert_age_seconds",
                &labels(i),
                Value::F(seconds(i128::from(s.now.saturating_sub(at)))),
            );
        }
    }

    out.family(
        "vrrpd_instance_master_down_slack_seconds",
        "gauge",
        "A backup's time left until Master_Down_Interval (Skew_Time after a priority-0 advert) \
         runs out since the master's newest advert; negative when overdue.",
    );
    for i in 0..n {
        let v = &s.views[i];
        let Some(t) = timing(i) else { continue };
        if v.state != State::Backup {
            continue;
        }
        let from_stamp = counts(i)
            .and_then(|c| c.newest(v.family, v.vrid()))
            .map(|a| {
                let wait = if a.priority == 0 {
                    t.skew_time
                } else {
                    t.master_down_interval
                };
                a.time_ns + wait.as_nanos()
            });
        let deadline = match (t.master_down_at, from_stamp) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(d) = deadline {
            out.sample(
                "vrrpd_instance_master_down_slack_seconds",
                &labels(i),
                Value::F(seconds(i128::from(d) - i128::from(s.now))),
            );
        }
    }

    // Per interface and VRID of an instance: XDP's drops for that VRID.
    out.family(
        "vrrpd_xdp_vrid_drops_total",
        "counter",
        "Adverts XDP dropped for a VRID of an instance, by reason (both families' routers of \
         the VRID share them).",
    );
    let mut vrid_keys: Vec<(&str, u8)> =
        s.views.iter().map(|v| (v.interface(), v.vrid())).collect();
    vrid_keys.sort_unstable();
    vrid_keys.dedup();
    for (iface, vrid) in vrid_keys {
        let Some(d) = s
            .counts
            .get(iface)
            .and_then(|c| c.drops.get(usize::from(vrid)))
        else {
            continue;
        };
        let vrid = vrid.to_string();
        for r in DropReason::ALL {
            out.sample(
                "vrrpd_xdp_vrid_drops_total",
                &[("interface", iface), ("vrid", &vrid), ("reason", r.name())],
                Value::U(d.by_reason[r as usize]),
            );
        }
    }

    out.family(
        "vrrpd_xdp_drops_total",
        "counter",
        "Frames claiming to be VRRP adverts that XDP dropped on the interface (every VRID and \
         those without one), by reason.",
    );
    for (iface, c) in s.counts {
        for r in DropReason::ALL {
            out.sample(
                "vrrpd_xdp_drops_total",
                &[("interface", iface), ("reason", r.name())],
                Value::U(c.drops_total.by_reason[r as usize]),
            );
        }
    }

    out.family(
        "vrrpd_xdp_packets_total",
        "counter",
        "Every counter of the XDP and tc programs on the interface (VRRP_COUNTERS), by reason: \
         frames answered, passed, rewritten or dropped, and ring-buffer events sent or lost.",
    );
    for (iface, c) in s.counts {
        for k in Counter::ALL {
            out.sample(
                "vrrpd_xdp_packets_total",
                &[("interface", iface), ("reason", k.name())],
                Value::U(c.events[k as usize]),
            );
        }
    }

    // One XDP counter per interface, as a family of its own.
    for (name, help, counter) in [
        (
            "vrrpd_arp_replies_sent_total",
            "ARP requests for an active VIP that XDP answered from the VMAC.",
            Counter::ArpReplied,
        ),
        (
            "vrrpd_na_replies_sent_total",
            "Neighbour solicitations for an active IPv6 VIP that XDP answered from the VMAC.",
            Counter::NdReplied,
        ),
    ] {
        out.family(name, "counter", help);
        for (iface, c) in s.counts {
            out.sample(
                name,
                &[("interface", iface)],
                Value::U(c.events[counter as usize]),
            );
        }
    }

    out.family(
        "vrrpd_address_conflicts_total",
        "counter",
        "ARP (ipv4) or neighbour advertisements (ipv6) from another MAC claiming an active VIP.",
    );
    for (iface, c) in s.counts {
        for (family, k) in [
            (Family::Ipv4, Counter::ArpConflict),
            (Family::Ipv6, Counter::NdConflict),
        ] {
            out.sample(
                "vrrpd_address_conflicts_total",
                &[("interface", iface), ("family", family_label(family))],
                Value::U(c.events[k as usize]),
            );
        }
    }

    out.family(
        "vrrpd_liveness_gate_open",
        "gauge",
        "1 while XDP's liveness gate is open (vrrpd's heartbeat is fresh, so XDP answers for \
         the VIPs), 0 once it is closed.",
    );
    for (iface, c) in s.counts {
        out.sample(
            "vrrpd_liveness_gate_open",
            &[("interface", iface)],
            Value::U(u64::from(dataplane::gate_open(&c.iface, s.now))),
        );
    }

    out.family(
        "vrrpd_heartbeat_age_seconds",
        "gauge",
        "Seconds since vrrpd last wrote its heartbeat for XDP's liveness gate.",
    );
    for (iface, c) in s.counts {
        if c.iface.heartbeat_ns != 0 {
            out.sample(
                "vrrpd_heartbeat_age_seconds",
                &[("interface", iface)],
                Value::F(seconds(i128::from(
                    s.now.saturating_sub(c.iface.heartbeat_ns),
                ))),
            );
        }
    }

    out.family(
        "vrrpd_script_runs_total",
        "counter",
        "Runs of a vrrp_script, by result (failure: a non-zero status, a signal, the timeout, \
         or not started).",
    );
    for (name, st) in &s.recorded.scripts {
        for (result, count) in [("success", st.success), ("failure", st.failure)] {
            out.sample(
                "vrrpd_script_runs_total",
                &[("script", name), ("result", result)],
                Value::U(count),
            );
        }
    }

    out.family(
        "vrrpd_script_duration_seconds",
        "histogram",
        "How long the runs of a vrrp_script took.",
    );
    for (name, st) in &s.recorded.scripts {
        out.histogram(
            "vrrpd_script_duration_seconds",
            &[("script", name)],
            &st.duration,
        );
    }

    out.family(
        "vrrpd_main_loop_lag_seconds",
        "histogram",
        "How late the main loop woke for its timer (adverts, Master_Down, retries).",
    );
    out.histogram("vrrpd_main_loop_lag_seconds", &[], &s.recorded.loop_lag);

    out.family(
        "vrrpd_main_loop_busy_seconds",
        "histogram",
        "How long the main loop worked at each wake-up.",
    );
    out.histogram("vrrpd_main_loop_busy_seconds", &[], &s.recorded.loop_busy);
    out.0
}

/// The metrics listener, bound at startup (a failure to bind is a startup error).
pub struct Listener(std::net::TcpListener);

impl Listener {
    /// Binds `addr` (port 0: any free one).
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        let l = std::net::TcpListener::bind(addr)
            .with_context(|| format!("binding the metrics listener on {addr}"))?;
        l.set_nonblocking(true)
            .context("making the metrics listener non-blocking")?;
        Ok(Listener(l))
    }

    /// The address bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Serves `GET /metrics` on `listener` from a thread of its own (nice 19, its own runtime)
/// until the main loop drops the snapshot's sender. Nothing here ends the daemon: a thread or
/// runtime that cannot start is logged and metrics are not served.
pub fn serve(
    listener: Listener,
    snapshot: StatusFeed,
    metrics: Arc<Metrics>,
) -> Option<std::thread::JoinHandle<()>> {
    let started = std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            if let Err(e) = crate::control::lower_priority() {
                log::debug!("metrics thread: priority not lowered ({e})");
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    log::error!("metrics not served: no runtime ({e})");
                    return;
                }
            };
            rt.block_on(accept_loop(listener, snapshot, metrics));
        });
    match started {
        Ok(h) => Some(h),
        Err(e) => {
            log::error!("metrics not served: the thread did not start ({e})");
            None
        }
    }
}

/// Accepts until the snapshot's sender is gone, every connection a task of its own.
async fn accept_loop(listener: Listener, snapshot: StatusFeed, metrics: Arc<Metrics>) {
    let listener = match tokio::net::TcpListener::from_std(listener.0) {
        Ok(l) => l,
        Err(e) => {
            log::error!("metrics not served: {e}");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut end = snapshot.receiver();
    let ended = async move { while end.changed().await.is_ok() {} };
    tokio::pin!(ended);
    // Accept errors (out of descriptors, …) are logged once a minute, not at each retry.
    let mut last_warned: Option<std::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = &mut ended => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                Ok(permit) => {
                    let (snapshot, metrics) = (snapshot.clone(), metrics.clone());
                    tokio::spawn(async move {
                        handle(stream, &snapshot, &metrics).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    // Best effort, never waiting: the client is told to come back.
                    let _ = stream.try_write(&response(
                        "503 Service Unavailable",
                        "text/plain; charset=utf-8",
                        b"too many connections\n",
                        false,
                    ));
                }
            },
            Err(e) => {
                if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    log::warn!("metrics: accept failed: {e}");
                    last_warned = Some(std::time::Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Why a request head could not be read.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    /// Longer than [`MAX_REQUEST`].
    TooLarge,
    /// The client closed (or the connection failed) before the head ended.
    Closed,
}

/// Reads a request head: up to the blank line that ends it.
async fn read_head<R: tokio::io::AsyncRead + Unpin>(stream: &mut R) -> Result<Vec<u8>, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if head_end(&buf).is_some() {
            return Ok(buf);
        }
        if buf.len() > MAX_REQUEST {
            return Err(HeadError::TooLarge);
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(HeadError::Closed),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
}

/// Where a request head ends (after `\r\n\r\n`, or `\n\n` from a lax client), if it does
/// within [`MAX_REQUEST`] bytes.
fn head_end(buf: &[u8]) -> Option<usize> {
    let buf = &buf[..buf.len().min(MAX_REQUEST)];
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A complete HTTP/1.1 response that closes the connection.
fn response(status: &str, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        r.push_str("Allow: GET, HEAD\r\n");
    }
    r.push_str("\r\n");
    let mut r = r.into_bytes();
    if !head_only {
        r.extend_from_slice(body);
    }
    r
}

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The answer to a request `head`; `metrics` renders the exposition when it is asked for.
fn answer(head: &[u8], metrics: impl FnOnce() -> String) -> Vec<u8> {
    let text = "text/plain; charset=utf-8";
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return response("400 Bad Request", text, b"bad request line\n", false);
    };
    if !version.starts_with("HTTP/1.") {
        return response(
            "505 HTTP Version Not Supported",
            text,
            b"HTTP/1.x only\n",
            false,
        );
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return response("405 Method Not Allowed", text, b"GET or HEAD\n", false);
    }
    let path = target.split('?').next().unwrap_or_default();
    match path {
        "/metrics" => response("200 OK", CONTENT_TYPE, metrics().as_bytes(), head_only),
        "/" => response(
            "200 OK",
            text,
            b"vrrpd: Prometheus metrics at /metrics\n",
            head_only,
        ),
        _ => response(
            "404 Not Found",
            text,
            b"not found; try /metrics\n",
            head_only,
        ),
    }
}

/// Renders a scrape now: the snapshot's views and timers, the counters read now (a few bpf()
/// calls an interface, on this thread) and what the loop recorded.
pub fn scrape(snapshot: &StatusSnapshot, metrics: &Metrics) -> String {
    let counts: BTreeMap<String, Counts> = snapshot
        .counters
        .iter()
        .filter_map(|(name, r)| match r.read() {
            Ok(c) => Some((name.clone(), c)),
            Err(e) => {
                log::debug!("{name}: counters not read for metrics: {e:#}");
                None
            }
        })
        .collect();
    let recorded = metrics.recorded();
    let (views, timings) = (snapshot.current_views(), snapshot.current_timings());
    render(&Scrape {
        views: &views,
        timings: &timings,
        counts: &counts,
        recorded: &recorded,
        now: dataplane::monotonic_ns(),
    })
}

/// Answers one connection.
async fn handle(mut stream: tokio::net::TcpStream, snapshot: &StatusFeed, metrics: &Metrics) {
    let reply = match tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await {
        Ok(Ok(head)) => {
            // Refreshed at the ask (the main loop no longer refreshes it on a clock).
            let snapshot = snapshot.fresh().await;
            answer(&head, || scrape(&snapshot, metrics))
        }
        Ok(Err(HeadError::TooLarge)) => response(
            "431 Request Header Fields Too Large",
            "text/plain; charset=utf-8",
            b"request head too large\n",
            false,
        ),
        Ok(Err(HeadError::Closed)) => return,
        Err(_) => response(
            "408 Request Timeout",
            "text/plain; charset=utf-8",
            b"request not received in time\n",
            false,
        ),
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&reply).await?;
        stream.shutdown().await
    })
    .await;
    // What the client sent beyond the head (a refused one's rest) is read and dropped for a
    // moment: closing with unread data would reset the connection and could lose the answer.
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        let mut left = LINGER_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(k) => left = left.saturating_sub(k),
            }
        }
    })
    .await;
}

/// How long a connection is drained after its answer ([`handle`]).
const LINGER: Duration = Duration::from_secs(1);
/// How much is drained at most.
const LINGER_BYTES: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use std::{
        io::{Read as _, Write as _},
        net::{Ipv4Addr, TcpStream},
    };

    use vrrp_common::maps::{AdvertStamp, DropCounts, IfaceConfig};

    use super::*;
    use crate::units::{Centis, Micros, Priority};

    const NOW: Nanos = 1_000_000_000_000;
    const SEC: Nanos = 1_000_000_000;

    fn view(name: &str, vrid: u8, family: Family, state: State, priority: u8) -> InstanceView {
        InstanceView {
            spec: std::sync::Arc::new(crate::config::Instance::new(
                name,
                "eth0",
                crate::units::Vrid::new(vrid).expect("a VRID"),
            )),
            family,
            state,
            priority: Priority(priority),
            master: None,
            master_adver_interval: Centis(100),
            fault: None,
            checksum_mismatch: None,
            handing_over: false,
            since: 0,
            reason: "".into(),
            transitions: Vec::new(),
            last_advert: None,
            master_priority: None,
            adverts_sent: 0,
            split_brain: None,
            split_brains: 0,
            conflicting_adverts: 0,
            address_conflict: None,
            address_conflicts: 0,
            sync_group: None,
            tracked: Vec::new(),
        }
    }

    fn timing(name: &str, configured: u8, master_down_at: Option<Nanos>) -> InstanceTiming {
        InstanceTiming {
            name: name.into(),
            configured_priority: Priority(configured),
            master_down_at,
            master_down_interval: Micros(3_609_375),
            skew_time: Micros(609_375),
        }
    }

    /// A backup (VRID 50, IPv4) whose master last advertised half a second ago, and a master
    /// (VRID 51, IPv6) that sent three adverts, the last 0.25 s ago.
    fn scrape_text() -> String {
        let mut views = vec![
            view("VI_1", 50, Family::Ipv4, State::Backup, 80),
            view("VI_6", 51, Family::Ipv6, State::Master, 100),
        ];
        views[0].checksum_mismatch = Some(Box::new(crate::controller::ChecksumMismatch {
            peer: "192.0.2.5".parse().unwrap(),
            peer_checksum: crate::config::V3Checksum::MessageOnly,
            fix: "set v3_checksum_as_v2".into(),
        }));
        // The master has another master of its VRID claiming its VIPs from its VMAC.
        views[1].split_brain = Some(Box::new(crate::controller::SplitBrain {
            peer: None,
            peer_priority: None,
            mac: Some("00:00:5e:00:02:33".into()),
            claimed: Some("2001:db8::51".parse().unwrap()),
            since_ns: NOW - 2 * SEC,
            last_ns: NOW - SEC,
            first_claim_ns: Some(NOW - 2 * SEC),
            adverts: 0,
            claims: 10,
            reported: true,
        }));
        views[1].split_brains = 1;
        let timings = vec![
            timing("VI_1", 90, Some(NOW + SEC)),
            timing("VI_6", 100, None),
        ];
        let mut c = Counts {
            drops: vec![DropCounts::default(); 256],
            adverts4: vec![0; 256],
            adverts6: vec![0; 256],
            newest4: vec![None; 256],
            newest6: vec![None; 256],
            ..Counts::default()
        };
        c.drops[50].by_reason[DropReason::BadTtl as usize] = 2;
        c.drops[7].by_reason[DropReason::UnknownVrid as usize] = 5;
        c.drops_total.by_reason[DropReason::BadTtl as usize] = 2;
        c.drops_total.by_reason[DropReason::UnknownVrid as usize] = 5;
        c.adverts4[50] = 7;
        c.newest4[50] = Some(AdvertStamp {
            time_ns: NOW - SEC / 2,
            count: 7,
            priority: 100,
            ..AdvertStamp::default()
        });
        c.events[Counter::ArpReplied as usize] = 3;
        c.events[Counter::NdReplied as usize] = 4;
        c.events[Counter::ArpConflict as usize] = 1;
        c.events[Counter::AdvertOtherChecksum as usize] = 2;
        c.iface = IfaceConfig {
            heartbeat_ns: NOW - SEC,
            stale_after_ns: 3 * SEC,
            ..IfaceConfig::default()
        };
        let counts = BTreeMap::from([("eth0".to_string(), c)]);
        let metrics = Metrics::default();
        metrics.transition("VI_1", State::Initialize, State::Backup, &Reason::Startup);
        metrics.transition("VI_6", State::Backup, State::Master, &Reason::MasterDown);
        for at in [NOW - SEC * 2, NOW - SEC, NOW - SEC / 4] {
            metrics.advert_sent("VI_6", at);
        }
        metrics.announcement_sent("VI_6");
        metrics.announcement_sent("VI_6");
        metrics.script_result("chk", true, Duration::from_millis(250));
        metrics.script_result("chk", false, Duration::from_millis(500));
        metrics.loop_lag(Duration::from_micros(300));
        metrics.loop_lag(Duration::from_secs(2));
        metrics.loop_busy(Duration::from_micros(50));
        let recorded = metrics.recorded();
        render(&Scrape {
            views: &views,
            timings: &timings,
            counts: &counts,
            recorded: &recorded,
            now: NOW,
        })
    }

    const I1: &str = r#"vrrp_instance="VI_1",vrid="50",interface="eth0",family="ipv4""#;
    const I6: &str = r#"vrrp_instance="VI_6",vrid="51",interface="eth0",family="ipv6""#;

    #[test]
    fn the_exposition_holds_each_instance_interface_script_and_the_loop() {
        let text = scrape_text();
        let expected = [
            format!(
                "vrrpd_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
            format!("vrrpd_instance_state{{{I1},state=\"init\"}} 0"),
            format!("vrrpd_instance_state{{{I1},state=\"backup\"}} 1"),
            format!("vrrpd_instance_state{{{I1},state=\"master\"}} 0"),
            format!("vrrpd_instance_state{{{I1},state=\"fault\"}} 0"),
            format!("vrrpd_instance_state{{{I6},state=\"master\"}} 1"),
            format!("vrrpd_instance_configured_priority{{{I1}}} 90"),
            format!("vrrpd_instance_effective_priority{{{I1}}} 80"),
            format!("vrrpd_instance_master_advert_interval_seconds{{{I1}}} 1"),
            format!(
                "vrrpd_instance_transitions_total{{{I1},from=\"init\",to=\"backup\",\
                 reason=\"startup\"}} 1"
            ),
            format!(
                "vrrpd_instance_transitions_total{{{I6},from=\"backup\",to=\"master\",\
                 reason=\"master_down\"}} 1"
            ),
            format!("vrrpd_instance_split_brain{{{I1}}} 0"),
            format!("vrrpd_instance_split_brain{{{I6}}} 1"),
            format!("vrrpd_instance_split_brains_total{{{I1}}} 0"),
            format!("vrrpd_instance_split_brains_total{{{I6}}} 1"),
            "# TYPE vrrpd_instance_split_brain gauge".into(),
            "# TYPE vrrpd_instance_split_brains_total counter".into(),
            format!("vrrpd_instance_adverts_sent_total{{{I1}}} 0"),
            format!("vrrpd_instance_adverts_sent_total{{{I6}}} 3"),
            format!("vrrpd_instance_announcements_sent_total{{{I6}}} 2"),
            format!("vrrpd_instance_announcements_sent_total{{{I1}}} 0"),
            format!("vrrpd_instance_adverts_received_total{{{I1}}} 7"),
            format!(
                "vrrpd_instance_checksum_mismatch{{{I1},peer=\"192.0.2.5\",\
                 peer_checksum=\"message_only\"}} 1"
            ),
            format!("vrrpd_instance_adverts_received_total{{{I6}}} 0"),
            // The backup: its master's newest advert; the master: its own last one.
            format!("vrrpd_instance_master_advert_age_seconds{{{I1}}} 0.5"),
            format!("vrrpd_instance_master_advert_age_seconds{{{I6}}} 0.25"),
            // The newest advert (0.5 s ago) + Master_Down_Interval (3.609375 s) is later than
            // the state machine's deadline (1 s from now), which it re-arms from that stamp.
            format!("vrrpd_instance_master_down_slack_seconds{{{I1}}} 3.109375"),
            r#"vrrpd_xdp_vrid_drops_total{interface="eth0",vrid="50",reason="bad_ttl"} 2"#.into(),
            r#"vrrpd_xdp_vrid_drops_total{interface="eth0",vrid="51",reason="bad_ttl"} 0"#.into(),
            r#"vrrpd_xdp_drops_total{interface="eth0",reason="unknown_vrid"} 5"#.into(),
            r#"vrrpd_xdp_packets_total{interface="eth0",reason="arp_replied"} 3"#.into(),
            r#"vrrpd_xdp_packets_total{interface="eth0",reason="advert_not_ours"} 0"#.into(),
            r#"vrrpd_xdp_packets_total{interface="eth0",reason="advert_other_csum"} 2"#.into(),
            r#"vrrpd_arp_replies_sent_total{interface="eth0"} 3"#.into(),
            r#"vrrpd_na_replies_sent_total{interface="eth0"} 4"#.into(),
            r#"vrrpd_address_conflicts_total{interface="eth0",family="ipv4"} 1"#.into(),
            r#"vrrpd_address_conflicts_total{interface="eth0",family="ipv6"} 0"#.into(),
            r#"vrrpd_liveness_gate_open{interface="eth0"} 1"#.into(),
            r#"vrrpd_heartbeat_age_seconds{interface="eth0"} 1"#.into(),
            r#"vrrpd_script_runs_total{script="chk",result="success"} 1"#.into(),
            r#"vrrpd_script_runs_total{script="chk",result="failure"} 1"#.into(),
            r#"vrrpd_script_duration_seconds_bucket{script="chk",le="0.1"} 0"#.into(),
            r#"vrrpd_script_duration_seconds_bucket{script="chk",le="0.25"} 1"#.into(),
            r#"vrrpd_script_duration_seconds_bucket{script="chk",le="0.5"} 2"#.into(),
            r#"vrrpd_script_duration_seconds_bucket{script="chk",le="+Inf"} 2"#.into(),
            r#"vrrpd_script_duration_seconds_sum{script="chk"} 0.75"#.into(),
            r#"vrrpd_script_duration_seconds_count{script="chk"} 2"#.into(),
            r#"vrrpd_main_loop_lag_seconds_bucket{le="0.0005"} 1"#.into(),
            r#"vrrpd_main_loop_lag_seconds_bucket{le="1"} 1"#.into(),
            r#"vrrpd_main_loop_lag_seconds_bucket{le="+Inf"} 2"#.into(),
            "vrrpd_main_loop_lag_seconds_count 2".into(),
            r#"vrrpd_main_loop_busy_seconds_bucket{le="0.0005"} 1"#.into(),
            "# TYPE vrrpd_instance_transitions_total counter".into(),
            "# TYPE vrrpd_main_loop_lag_seconds histogram".into(),
        ];
        let lines: Vec<&str> = text.lines().collect();
        for e in &expected {
            assert!(lines.contains(&e.as_str()), "missing {e:?} in\n{text}");
        }
        // Only an instance with a checksum mismatch has the series.
        assert_eq!(text.matches("vrrpd_instance_checksum_mismatch{").count(), 1);
        // Only a backup has a Master_Down deadline; every drop reason and XDP counter is
        // there, each interface once.
        assert_eq!(
            text.matches("vrrpd_instance_master_down_slack_seconds{")
                .count(),
            1
        );
        assert_eq!(
            text.matches("vrrpd_xdp_drops_total{").count(),
            DropReason::COUNT
        );
        assert_eq!(
            text.matches("vrrpd_xdp_packets_total{").count(),
            Counter::COUNT
        );
        assert_eq!(
            text.matches("vrrpd_xdp_vrid_drops_total{").count(),
            2 * DropReason::COUNT
        );
        well_formed(&text);
        promtool_agrees(&text);
    }

    /// Prometheus's own linter (`promtool check metrics`, Debian's `prometheus`) finds nothing
    /// to say (required in CI, as by the lab test `metrics_scrape`).
    fn promtool_agrees(text: &str) {
        if crate::lab::daemon::installed("the metrics exposition", "promtool") {
            crate::lab::daemon::promtool(text);
        }
    }

    /// The text format's rules, as Prometheus parses it: every family's HELP and TYPE come
    /// once, before its samples, which are contiguous; names and label names are valid;
    /// counters end in `_total`; a histogram's buckets are cumulative and end with `+Inf` at
    /// its count.
    fn well_formed(text: &str) {
        let name_ok = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut current: Option<(String, String)> = None;
        let mut last_bucket: Option<(String, f64)> = None;
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(seen.insert(name.to_string()), "{name} twice");
                assert!(name_ok(name), "{name}");
                assert!(name.starts_with("vrrpd_"), "{name}");
                current = None;
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(seen.contains(name), "TYPE before HELP for {name}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "{name}");
                }
                current = Some((name.to_string(), kind.to_string()));
                continue;
            }
            let (family, kind) = current.clone().expect("a sample before its TYPE");
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let name = series.split('{').next().unwrap();
            match kind.as_str() {
                "histogram" => assert!(
                    [
                        format!("{family}_bucket"),
                        format!("{family}_sum"),
                        format!("{family}_count")
                    ]
                    .contains(&name.to_string()),
                    "{line} in {family}"
                ),
                _ => assert_eq!(name, family, "{line}"),
            }
            let labels = &series[name.len()..];
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair.split_once('=').unwrap();
                    assert!(name_ok(k) && !k.starts_with("__"), "{line}");
                    assert!(v.starts_with('"'), "{line}");
                }
            }
            if name.ends_with("_bucket") {
                let series_key = series.split(",le=").next().unwrap().split("{le=").next();
                let key = format!("{name}{}", series_key.unwrap());
                if let Some((k, before)) = &last_bucket
                    && *k == key
                {
                    assert!(value >= *before, "buckets not cumulative at {line}");
                }
                last_bucket = Some((key, value));
            }
            if name.ends_with("_count") && kind == "histogram" {
                let (_, inf) = last_bucket.clone().unwrap();
                assert_eq!(inf, value, "+Inf bucket and count differ at {line}");
            }
        }
    }

    #[test]
    fn an_instances_advert_counter_is_one_by_name_and_counts_without_the_lock() {
        let metrics = Metrics::default();
        let held = metrics.sent_counter("VI_1");
        held.sent(10);
        held.sent(20);
        // A reload's new spec asks again by name: the same counter, still counting.
        assert!(Arc::ptr_eq(&held, &metrics.sent_counter("VI_1")));
        metrics.advert_sent("VI_1", 30);
        metrics.sent_counter("VI_2");
        let r = metrics.recorded();
        assert_eq!(r.adverts_sent.get("VI_1"), Some(&3));
        assert_eq!(r.last_advert_sent.get("VI_1"), Some(&30));
        // An instance that sent nothing has no sample yet.
        assert_eq!(r.adverts_sent.get("VI_2"), None);
    }

    #[test]
    fn label_values_are_escaped() {
        let views = vec![view("V\"I\\1\nx", 1, Family::Ipv4, State::Fault, 100)];
        let recorded = Recorded::default();
        let text = render(&Scrape {
            views: &views,
            timings: &[],
            counts: &BTreeMap::new(),
            recorded: &recorded,
            now: NOW,
        });
        assert!(
            text.contains(
                r#"vrrpd_instance_state{vrrp_instance="V\"I\\1\nx",vrid="1",interface="eth0",family="ipv4",state="fault"} 1"#
            ),
            "{text}"
        );
        // Without timings or counters there is no configured priority, nothing read from
        // XDP, and still a well-formed exposition.
        assert!(!text.contains("vrrpd_instance_configured_priority{"));
        assert!(!text.contains("vrrpd_xdp_drops_total{"));
        well_formed(&text);
    }

    #[test]
    fn the_liveness_gate_closes_with_a_stale_heartbeat() {
        let iface = IfaceConfig {
            heartbeat_ns: NOW,
            stale_after_ns: 3 * SEC,
            ..IfaceConfig::default()
        };
        assert!(dataplane::gate_open(&iface, NOW + 3 * SEC));
        assert!(!dataplane::gate_open(&iface, NOW + 3 * SEC + 1));
        // A heartbeat stamped after the reader's clock (another CPU) is fresh.
        assert!(dataplane::gate_open(&iface, NOW - 1));
        // Never written: closed.
        assert!(!dataplane::gate_open(&IfaceConfig::default(), NOW));
    }

    fn status_of(reply: &[u8]) -> String {
        let text = String::from_utf8_lossy(reply);
        text.lines().next().unwrap_or_default().to_string()
    }

    #[test]
    fn requests_are_answered_by_method_and_path() {
        let body = || "x 1\n".to_string();
        let ok = answer(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", body);
        let text = String::from_utf8(ok).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")));
        assert!(text.contains("Content-Length: 4\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nx 1\n"));
        let head = String::from_utf8(answer(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n", body)).unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK") && head.ends_with("\r\n\r\n"));
        assert!(head.contains("Content-Length: 4\r\n"));
        let post = answer(b"POST /metrics HTTP/1.1\r\n\r\n", || unreachable!());
        assert_eq!(status_of(&post), "HTTP/1.1 405 Method Not Allowed");
        assert!(String::from_utf8_lossy(&post).contains("Allow: GET, HEAD\r\n"));
        for (req, status) in [
            (
                &b"GET /other HTTP/1.1\r\n\r\n"[..],
                "HTTP/1.1 404 Not Found",
            ),
            (b"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK"),
            (
                b"GET /metrics HTTP/2.0\r\n\r\n",
                "HTTP/1.1 505 HTTP Version Not Supported",
            ),
            (b"GET /metrics\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            (b"\xff\xfe\r\n\r\n", "HTTP/1.1 400 Bad Request"),
            (
                b"GET  /metrics HTTP/1.1\r\n\r\n",
                "HTTP/1.1 400 Bad Request",
            ),
        ] {
            assert_eq!(
                status_of(&answer(req, || unreachable!())),
                status,
                "{req:?}"
            );
        }
    }

    #[test]
    fn a_request_head_is_read_to_its_end_and_no_further_than_the_limit() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let head = |bytes: Vec<u8>| rt.block_on(read_head(&mut bytes.as_slice()));
        assert!(head(b"GET / HTTP/1.1\r\nA: b\r\n\r\n".to_vec()).is_ok());
        assert!(head(b"GET / HTTP/1.1\n\n".to_vec()).is_ok());
        assert_eq!(
            head(b"GET / HTTP/1.1\r\nA: b\r\n".to_vec()),
            Err(HeadError::Closed)
        );
        let mut long = b"GET / HTTP/1.1\r\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_REQUEST + 10));
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(head(long), Err(HeadError::TooLarge));
    }

    /// A scrape; tried again while the server has not yet seen an earlier client close (its
    /// slot is still held: a 503, or a reset when the refusal met the request unread).
    fn get(addr: SocketAddr) -> String {
        let once = || -> std::io::Result<String> {
            let mut s = TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
            let mut reply = String::new();
            s.read_to_string(&mut reply)?;
            Ok(reply)
        };
        let mut last = String::new();
        for _ in 0..100 {
            match once() {
                Ok(r) if !r.starts_with("HTTP/1.1 503") => return r,
                Ok(r) => last = r,
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        last
    }

    /// The server on a loopback port: it answers while clients that send nothing hold every
    /// other slot, refuses the one over the limit with 503, answers again once they leave,
    /// and its thread ends when the snapshot's sender is dropped.
    #[test]
    fn idle_clients_neither_block_a_scrape_nor_exceed_the_limit() {
        let listener = Listener::bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::watch::channel(StatusSnapshot::default());
        let metrics = Arc::new(Metrics::default());
        metrics.advert_sent("VI_1", NOW);
        let feed = StatusFeed::new(rx, Default::default());
        let thread = serve(listener, feed, metrics).unwrap();
        let reply = get(addr);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.contains("\nvrrpd_build_info{"), "{reply}");

        // Idle clients in every slot but one: the last slot still answers a scrape.
        let idle: Vec<TcpStream> = (0..MAX_CONNECTIONS - 1)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        let reply = get(addr);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        // All slots held: refused at once (the idle clients' own timeout is seconds away).
        let held = TcpStream::connect(addr).unwrap();
        let over = (0..50)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut reply = String::new();
                let _ = s.read_to_string(&mut reply);
                reply
            })
            .find(|r| r.starts_with("HTTP/1.1 503"));
        assert!(over.is_some(), "no 503 with every slot held");
        // Once the idle clients leave (the server sees them close), a head that is too large
        // is refused with 431.
        drop(idle);
        let mut req = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        req.extend(std::iter::repeat_n(b'a', MAX_REQUEST));
        req.extend_from_slice(b"\r\n\r\n");
        let big = (0..100)
            .map(|_| {
                let mut big = TcpStream::connect(addr).unwrap();
                let _ = big.write_all(&req);
                big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut reply = Vec::new();
                let _ = big.read_to_end(&mut reply);
                std::thread::sleep(Duration::from_millis(50));
                status_of(&reply)
            })
            .find(|s| !s.starts_with("HTTP/1.1 503"));
        assert_eq!(
            big.as_deref(),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        drop(held);
        let reply = get(addr);
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");

        drop(tx);
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while !thread.is_finished() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(thread.is_finished(), "the metrics thread outlived the loop");
        assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
    }
}
