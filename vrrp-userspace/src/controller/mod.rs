//! The coordinator of one host: every instance, sync group and tracked object of one vrrpd, as a
//! pure function of its inputs (smoltcp's `poll(timestamp)`: time is an argument, nothing reads
//! a clock).
//!
//! The driver (`daemon`) reads the kernel and the clock and feeds a [`Controller`] [`Input`]s:
//! timer ticks with the advert stamps XDP recorded, link changes, script results, signals, a
//! new configuration, and the failures of the [`Effect`]s it carried out. The controller
//! answers with effects as data (maps to write, VIPs to add or remove, adverts and GARPs to
//! send, notify scripts to run, lines to log) and [`Controller::next_wake`]. It decides
//! everything: the start state, sync-group policy, tracking and the effective priority, FAULT,
//! the make-before-break handover on SIGTERM and what a reload keeps. The state machine of one
//! router is [`fsm`]; the group policy is [`crate::sync`]; the tracking arithmetic [`track`].
//!
//! A failed effect is an input, not an error: the instances it concerns go to FAULT with the
//! reason (logged once, shown in status), the effects that bring the kernel in line with FAULT
//! are retried with a backoff doubling up to [`RETRY_MAX`], and once a retry succeeds the
//! instance leaves FAULT by itself.
//!
//! The simulator (`sim`, tests only) runs several hosts' controllers on one virtual LAN.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Arc,
};

use vrrp_common::{
    maps::{
        Family, ROUTER_CONFIGURED, ROUTER_CSUM_MSG_ONLY, ROUTER_MASTER, ROUTER_ND_ROUTER,
        ROUTER_NO_ACCEPT, ROUTER_OWNER, ROUTER_SKIP_SAME_SENDER, RouterConfig,
    },
    proto::{vmac_v4, vmac_v6},
};

mod chores;
mod incident;
pub mod kernel;
#[cfg(test)]
pub mod sim;
#[cfg(test)]
mod tests;

pub use chores::{LINK_CHECK, MEMORY_TRIM};
pub use incident::{
    AddressConflict, Event, HISTORY_KEEP, PeerAdvert, SplitBrain, Transition, last_hour, seconds,
};

use crate::{
    config::{
        self, Auth, Config, InitialState, Instance as InstanceSpec, Notify, NotifyCommand, Route,
        Rule, Script, SyncGroup as SyncGroupSpec, TrackFile, TrackProcess, V3Checksum, Version,
        Vip,
    },
    fsm::{self, Action, Advert, Nanos, Params, Reason, Router, State},
    sync::{Group, Order, Outcome},
    track::{self, ScriptState, Tracked, Verdict},
    units::{Centis, Micros, Priority},
};

/// The most a timer may wait for others that fall due just after it ([`Controller::next_wake`]).
pub const COALESCE: Nanos = 1_000_000;

/// The last of the deadlines `visit` hands its callback that falls within `window` of their
/// first (two passes, no allocation); `Nanos::MAX` when it hands none, `now` when the first is
/// already past (a timer left due by a turn's [`TAKEOVER_BUDGET`] waits for nothing more).
fn gather(now: Nanos, window: Nanos, visit: impl Fn(&mut dyn FnMut(Nanos))) -> Nanos {
    let mut first = Nanos::MAX;
    visit(&mut |t| first = first.min(t));
    if first == Nanos::MAX {
        return first;
    }
    if first <= now {
        return now;
    }
    let mut last = first;
    visit(&mut |t| {
        if t <= first + window {
            last = last.max(t);
        }
    });
    last
}

/// The first retry of a failed effect comes this long after the failure; each further one
/// twice as long after the previous, up to [`RETRY_MAX`].
pub const RETRY_FIRST: Nanos = 100_000_000;

/// The longest wait between two retries of a failed effect.
pub const RETRY_MAX: Nanos = 5_000_000_000;

/// An instance whose adverts (or GARPs) the kernel refuses for now (ENOBUFS, EAGAIN) goes to
/// FAULT only at the third consecutive refused send: by then its backups, which heard nothing
/// for Master_Down_Interval (three advert intervals and the skew), take over anyway, so FAULT
/// changes nothing they see, while one or two lost adverts (a full queue for a moment) cost no
/// failover. keepalived logs a failed send and carries on, never FAULT; a send that succeeds
/// resets the count.
pub const SEND_FAILURES_TOLERATED: u32 = 3;

/// Announcement frames (gratuitous ARPs, unsolicited NAs) a turn of the loop gives out at
/// most, after its adverts; the rest wait for the next turn, at once. keepalived sends a
/// burst back to back, and a host of a few routers still does; a master of 510 routers sends
/// 2,550 frames at a takeover and again after `garp_master_delay`, some 25 ms of the kernel's
/// time on the lab's veths, and the adverts due meanwhile waited behind them: the backup took
/// every router over 5 s after the start, once in every two or three runs of `bench scale`.
/// 256 frames take a few ms at most.
pub const ANNOUNCE_BUDGET: usize = 256;

/// Backups whose Master_Down_Timer fired that a turn of the loop takes over at most; the
/// others stay due, read the stamps again at the next turn, at once, and take over then if
/// they still heard no master. A takeover is kernel work (the VIPs, the VMAC filter), 0.25
/// to 0.3 ms a router on the lab's veths at 1,020 routers, IPv6 addresses costing more the
/// more an interface holds; a turn that took every router over held the adverts of those
/// already master back 0.3 s, and at a simultaneous start the other host's backups, which
/// had yielded to them, timed out again (a second round of takeovers for 945 of 1,020
/// routers in `bench scale --only 1020`). 32 takeovers take about 10 ms.
pub const TAKEOVER_BUDGET: usize = 32;

/// While handing over on SIGTERM, how often the advert stamps are read for the new master.
pub const HANDOVER_POLL: Nanos = 1_000_000;

/// Stopping, a release that failed is tried again this many times, 10 ms, 20 ms, 40 ms …
/// apart; then vrrpd stops anyway and says what it left (a restarted vrrpd removes it).
pub const STOP_RETRIES: u32 = 5;

/// What the driver knows of one interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfaceInfo {
    /// The first IPv4 address: IPv4 instances advertise from it.
    pub primary4: Option<Ipv4Addr>,
    /// The link-local address: IPv6 instances advertise from it (RFC 5798 §5.1.2.1).
    pub link_local: Option<Ipv6Addr>,
    /// It forwards IPv6: its neighbour advertisements carry the Router flag.
    pub nd_router: bool,
}

/// A multicast group an interface joins so that its NIC lets the adverts sent to it through
/// (a real NIC filters multicast before XDP runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum McastGroup {
    /// An IPv4 group (`vrrp_mcast_group4`), joined through the interface's address `local`.
    V4 {
        /// The group.
        group: Ipv4Addr,
        /// The interface's primary IPv4 address.
        local: Ipv4Addr,
    },
    /// An IPv6 group (`vrrp_mcast_group6`), joined on the interface.
    V6 {
        /// The group.
        group: Ipv6Addr,
    },
}

/// What the driver read of the host for a configuration: the instances' interfaces, and
/// whether each watched interface ([`watched`]) is up with a carrier.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    /// The interfaces the instances run on (the driver has opened them).
    pub ifaces: BTreeMap<String, IfaceInfo>,
    /// Link states of the watched interfaces; one missing is down.
    pub links: BTreeMap<String, bool>,
    /// The value of each `track_file` ([`track::file_value`]); one missing is 0.
    pub files: BTreeMap<String, i64>,
    /// Whether each `vrrp_track_process` has its quorum; one missing has not.
    pub processes: BTreeMap<String, bool>,
    /// The `vrrp_script`s that cannot run here, each with why (a user that does not exist, an
    /// insecure path under `enable_script_security`, …): keepalived disables them.
    pub refused_scripts: BTreeMap<String, String>,
    /// Interfaces the configuration names that the driver could not open, each with why.
    pub unopened: BTreeMap<String, String>,
}

/// `config` without the `vrrp_script`s `host` refuses, each said as keepalived says it: the
/// instances that track one then ignore it, as keepalived removes it from them.
fn usable_scripts(config: &Config, host: &Host, out: &mut Vec<Effect>) -> Config {
    let mut config = config.clone();
    config
        .scripts
        .retain(|script| match host.refused_scripts.get(&script.name) {
            None => true,
            Some(why) => {
                out.push(Effect::Log {
                    level: log::Level::Warn,
                    line: format!("Disabling track script {}: {why}", script.name),
                });
                false
            }
        });
    config
}

/// The newest valid advert XDP recorded for one router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heard {
    /// The interface (shared by the stamps of one read: no copy of its name per router).
    pub iface: Arc<str>,
    /// The router's family.
    pub family: Family,
    /// Its VRID.
    pub vrid: u8,
    /// The advert (its sender, priority, interval and arrival).
    pub advert: Advert,
    /// v3 over IPv4: the checksum variant it verified with (XDP accepts both).
    pub checksum: V3Checksum,
}

/// The stamps of a tick by router, for a lookup per instance without comparing names: a
/// backup of 1,020 routers reads them all at each Master_Down deadline (comparing interface
/// names per stamp and per instance was an eighth of its samples in `perf`).
struct HeardIndex<'a> {
    /// By source (a place in [`Controller::advert_sources`]) and VRID: `source * 256 + vrid`.
    slots: Vec<Option<&'a Heard>>,
}

impl<'a> HeardIndex<'a> {
    /// `heard` by the place of its interface and family in `sources`; a stamp of a pair not
    /// there is of no instance, and left out.
    fn new(heard: &'a [Heard], sources: &[(Arc<str>, Family)]) -> Self {
        let mut slots = vec![None; sources.len() * 256];
        // The stamps of one read share their interface's name: compared once a read.
        let mut last: Option<(&Heard, usize)> = None;
        for h in heard {
            let source = match last {
                Some((l, s)) if Arc::ptr_eq(&l.iface, &h.iface) && l.family == h.family => Some(s),
                _ => sources
                    .iter()
                    .position(|(iface, family)| *family == h.family && *iface == h.iface),
            };
            let Some(source) = source else {
                continue;
            };
            last = Some((h, source));
            // The last of one router wins, as a map built from the list would keep it.
            slots[source * 256 + usize::from(h.vrid)] = Some(h);
        }
        HeardIndex { slots }
    }

    /// The stamp of router `vrid` of source `source`, if it was read.
    fn get(&self, source: usize, vrid: u8) -> Option<&'a Heard> {
        self.slots
            .get(source * 256 + usize::from(vrid))
            .copied()
            .flatten()
    }
}

/// A peer whose VRRPv3/IPv4 adverts are checksummed the other way than ours
/// (`v3_checksum_as_v2`): we accept its adverts, it most likely drops ours, and both become
/// master. Shown in `vrrpd status` and the metrics until its adverts stop or agree.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChecksumMismatch {
    /// The peer's address.
    pub peer: IpAddr,
    /// The variant its adverts use.
    pub peer_checksum: V3Checksum,
    /// What fixes it, in keepalived's words.
    pub fix: String,
}

impl ChecksumMismatch {
    fn new(peer: IpAddr, peer_checksum: V3Checksum) -> Self {
        let fix = match peer_checksum {
            V3Checksum::MessageOnly => {
                "set v3_checksum_as_v2 (global_defs or the vrrp_instance) here, or remove it on the peer"
            }
            V3Checksum::PseudoHeader => {
                "remove v3_checksum_as_v2 (global_defs or the vrrp_instance) here, or set it on the peer if it is keepalived (FRR checks the pseudo-header only)"
            }
        };
        ChecksumMismatch {
            peer,
            peer_checksum,
            fix: fix.into(),
        }
    }

    /// The variant's description, for people.
    pub fn variant_text(v: V3Checksum) -> &'static str {
        match v {
            V3Checksum::PseudoHeader => {
                "with the IPv4 pseudo-header (RFC 5798, keepalived's default, FRR)"
            }
            V3Checksum::MessageOnly => "over the message only (v3_checksum_as_v2)",
        }
    }
}

/// Whom a failed effect concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// One instance, by name.
    Instance(String),
    /// Every instance on an interface.
    Iface(String),
    /// The static addresses, routes and rules (no instance: a failure is logged).
    Static,
}

/// An effect that failed, as the driver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Whom it concerns.
    pub owner: Owner,
    /// What failed and why (for the log and status).
    pub error: String,
    /// A send that the kernel refused for now (ENOBUFS, EAGAIN: a queue full): tolerated for
    /// [`SEND_FAILURES_TOLERATED`] consecutive sends before FAULT.
    pub transient: bool,
}

impl Failure {
    /// A failure that puts its owner in FAULT at once.
    pub fn new(owner: Owner, error: impl Into<String>) -> Self {
        Failure {
            owner,
            error: error.into(),
            transient: false,
        }
    }

    /// A send refused for now ([`Failure::transient`]).
    pub fn transient(owner: Owner, error: impl Into<String>) -> Self {
        Failure {
            owner,
            error: error.into(),
            transient: true,
        }
    }
}

/// What happens to the host.
#[derive(Clone, Debug)]
pub enum Input {
    /// Time passed (a timer, or XDP raised an event). `adverts` holds the newest advert of
    /// each router of the interfaces and families in [`Controller::advert_sources`]; the
    /// driver reads them when [`Controller::needs_adverts`] says so, and passes `None`
    /// otherwise (then no state machine timer fires).
    Tick {
        /// The stamps, if read.
        adverts: Option<Vec<Heard>>,
    },
    /// Link states (from the kernel's announcements or a read); unwatched ones are ignored.
    Links(Vec<(String, bool)>),
    /// A `vrrp_script` ran.
    Script {
        /// Its name.
        name: String,
        /// Whether it succeeded.
        success: bool,
    },
    /// A `track_file`'s file was written, moved or removed: its value now (0 when removed).
    File {
        /// The `track_file`'s name.
        name: String,
        /// The value read.
        value: i64,
    },
    /// A `vrrp_track_process` gained or lost its quorum (after its delays).
    Process {
        /// Its name.
        name: String,
        /// Whether it has its quorum now.
        up: bool,
    },
    /// The driver carried out the last batch of effects; these failed. Fed after every
    /// non-empty batch, even with no failure.
    Results(Vec<Failure>),
    /// SIGTERM or SIGINT: hand over and stop ([`Controller::finished`]).
    Stop,
    /// SIGHUP or `vrrpd reload`: the controller asks the driver to read the file
    /// ([`Effect::LoadConfig`]), or answers at once ([`Effect::AnswerReload`]) while stopping.
    ReloadAsked,
    /// The file of a reload asked, as the driver read it ([`Effect::LoadConfig`]): applied or
    /// refused, and answered either way ([`Effect::AnswerReload`]).
    Loaded {
        /// The file, as the answer names it.
        path: String,
        /// Its warnings, each with its file:line.
        warnings: Vec<String>,
        /// The configuration and the host read for it (the interfaces it names opened, or
        /// [`Host::unopened`]), or the errors, each with its file:line, why it did not load.
        loaded: Result<Box<(Config, Host)>, Vec<String>>,
    },
    /// A configuration that parsed: keep what is unchanged, restart the rest.
    Reload {
        /// The new configuration.
        config: Box<Config>,
        /// The host, read for it.
        host: Host,
    },
    /// XDP saw ARP or neighbour discovery from another MAC claim a VIP of a router it answers
    /// for (we are master).
    AddressConflict {
        /// The interface.
        iface: String,
        /// The router's family.
        family: Family,
        /// Its VRID.
        vrid: u8,
        /// The VIP claimed.
        address: IpAddr,
        /// The claimant's MAC.
        mac: [u8; 6],
    },
    /// XDP's counts of adverts dropped for listing other addresses than ours
    /// ([`vrrp_common::DropReason::AddressList`]), as [`Effect::ReadAddressDrops`] asked:
    /// (interface, VRID, total since the program was loaded).
    AddressDrops(Vec<(String, u8, u64)>),
    /// An interface of the running configuration was deleted and created again, but the driver
    /// cannot open it for its instances yet (created by hand or by a script, it exists for a
    /// moment unaddressed and down): it counts as down, whatever its link says, until
    /// [`Input::Recreated`]. `why` is said once.
    NotReopened {
        /// The interface.
        iface: String,
        /// What the driver found.
        why: String,
    },
    /// An interface of the running configuration was deleted and created again (a new index:
    /// a bond rebuilt, a NIC replugged); the driver opened it anew. Once its instances can run
    /// on it (it has their addresses) the driver adopts it ([`Effect::AdoptIface`]) and they
    /// restart as at start, the others keep their state; until then it counts as down, as
    /// with [`Input::NotReopened`], and the driver keeps the old one and tries again.
    Recreated {
        /// The interface.
        iface: String,
        /// The host, read again, with the interface as the driver opened it anew.
        host: Host,
    },
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Remove the instance's VIPs left by an earlier vrrpd (or keepalived), at its start.
    RemoveStaleVips {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The addresses.
        vips: Vec<Vip>,
    },
    /// Write the router's entry in XDP's router map.
    SetRouter {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// Family.
        family: Family,
        /// VRID.
        vrid: u8,
        /// The entry (flags 0: not configured).
        config: RouterConfig,
    },
    /// Put the VIPs into XDP's VIP maps (each by its own family: an IPv4 one in the IPv4 map,
    /// for the router of `vrid` and the IPv4 family; only addresses the router's maps take).
    MapVips {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The router's family.
        family: Family,
        /// VRID.
        vrid: u8,
        /// The addresses.
        vips: Vec<IpAddr>,
    },
    /// Take the VIPs out of XDP's VIP maps.
    UnmapVips {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The router's family.
        family: Family,
        /// The addresses.
        vips: Vec<IpAddr>,
    },
    /// Add the VIPs to the interface (an address already there is fine).
    AddVips {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The addresses.
        vips: Vec<Vip>,
    },
    /// Remove the VIPs from the interface (one not there is fine).
    RemoveVips {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The addresses.
        vips: Vec<Vip>,
    },
    /// Add the instance's `virtual_routes`, then its `virtual_rules` (after its VIPs: a
    /// route's source or gateway may be one of them). One already there is fine.
    AddRoutes {
        /// Instance.
        instance: String,
        /// The routes.
        routes: Vec<Route>,
        /// The rules.
        rules: Vec<Rule>,
    },
    /// Remove the instance's rules, then its routes (before its VIPs, so that no route is
    /// left without its address). One not there is fine.
    RemoveRoutes {
        /// Instance.
        instance: String,
        /// The routes.
        routes: Vec<Route>,
        /// The rules.
        rules: Vec<Rule>,
    },
    /// Add the `static_ipaddress`es, then the `static_routes`, then the `static_rules` (at
    /// start and for those a reload adds). One already there is fine.
    AddStatic {
        /// The addresses (each with its `dev`).
        addresses: Vec<Vip>,
        /// The routes.
        routes: Vec<Route>,
        /// The rules.
        rules: Vec<Rule>,
    },
    /// Remove static rules, then routes, then addresses (at exit, as keepalived does, and
    /// those a reload drops). One not there is fine.
    RemoveStatic {
        /// The addresses.
        addresses: Vec<Vip>,
        /// The routes.
        routes: Vec<Route>,
        /// The rules.
        rules: Vec<Rule>,
    },
    /// Put the VMAC into the interface's unicast filter.
    JoinVmac {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The VMAC.
        vmac: [u8; 6],
    },
    /// Take the VMAC out of the interface's unicast filter.
    LeaveVmac {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// The VMAC.
        vmac: [u8; 6],
    },
    /// Send an advert (queued until [`Effect::Flush`] or the end of the batch; to each
    /// unicast peer at once).
    SendAdvert {
        /// The instance.
        spec: Arc<InstanceSpec>,
        /// Its source and tie-break address.
        primary: IpAddr,
        /// The source for unicast peers, if it has any.
        unicast_src: Option<IpAddr>,
        /// The priority to advertise.
        priority: Priority,
    },
    /// Send the queued adverts now.
    Flush,
    /// Gratuitous ARPs (IPv4 VIPs) and unsolicited neighbour advertisements (IPv6) from the
    /// VMAC, `repeat` times (only addresses the router announces: never an IPv4 VIP of an
    /// IPv6 router).
    SendGarps {
        /// Instance.
        instance: String,
        /// Interface.
        iface: String,
        /// VRID.
        vrid: u8,
        /// The router's family.
        family: Family,
        /// The VMAC.
        vmac: [u8; 6],
        /// NAs carry the Router flag.
        nd_router: bool,
        /// The addresses.
        vips: Vec<IpAddr>,
        /// How many of each.
        repeat: u32,
    },
    /// An instance changed state: log it (one line with its reason).
    StateChanged {
        /// Instance.
        instance: String,
        /// Old state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
        /// Why, for a person: the reason with what the controller knows of it ("no advert
        /// from 192.0.2.4 for 3.61 s", the tracked object that failed).
        detail: String,
    },
    /// Something for `vrrpd events` (transitions, conflicts, script results), at `at`.
    /// Transitions are logged through [`Effect::StateChanged`] and the rest through
    /// [`Effect::Log`]; this one is only passed on.
    Event {
        /// When.
        at: Nanos,
        /// What.
        event: Event,
    },
    /// Run an instance's `notify_split_brain` script (ours) with `args` appended.
    NotifySplitBrain {
        /// The script.
        command: NotifyCommand,
        /// The instance (its scripts run in order).
        instance: String,
        /// The instance, the other master's address and its MAC ("unknown" when not heard).
        args: Vec<String>,
    },
    /// keepalived's events of an instance besides its state changes: `MASTER_RX_LOWER_PRI`
    /// (as master it heard a lower priority advert: its `notify_master_rx_lower_pri` command
    /// runs, without arguments) and, with `notify_priority_changes`, `MASTER_PRIORITY` or
    /// `BACKUP_PRIORITY` (its effective priority changed). The driver then writes the notify
    /// FIFOs' line `INSTANCE "NAME" EVENT PRIORITY`.
    NotifyEvent {
        /// The command to run, if any.
        command: Option<NotifyCommand>,
        /// The instance (its commands run in order).
        instance: String,
        /// `MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY` or `BACKUP_PRIORITY`.
        event: &'static str,
        /// The instance's effective priority.
        priority: u8,
    },
    /// Run the notify scripts of an instance or a sync group (`kind` INSTANCE or GROUP).
    RunNotify {
        /// The scripts.
        notify: Box<Notify>,
        /// INSTANCE or GROUP.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The state entered.
        state: State,
        /// The priority passed (a group's is 0).
        priority: u8,
    },
    /// Stamp the interface's heartbeat (once it is older than `stale_after_ns`, XDP's liveness
    /// gate closes for a router at the first advert of another router for it, and for every
    /// router once it is older than `hold_ns`).
    Heartbeat {
        /// Interface.
        iface: String,
        /// Now.
        at: Nanos,
        /// One and a half of its routers' shortest advert interval (the controller writes the
        /// heartbeat at every wake, at least once that interval).
        stale_after_ns: u64,
        /// Twice the longest Master_Down_Interval of its routers: how long a crashed daemon's
        /// program keeps answering when no backup takes over.
        hold_ns: u64,
        /// One of its routers lacks Accept_Mode (`IFACE_NO_ACCEPT`: XDP looks up the
        /// destination of IP frames among the VIPs).
        no_accept: bool,
    },
    /// Hold exactly `groups` on the interface: join those not joined yet, leave the others
    /// (one already joined is fine). The controller decides them ([`Controller::groups`]): at
    /// start, whenever a reload or an interface created again changes them, and with every
    /// retry of a broken instance of the interface. A group not joined is FAULT of the
    /// interface's instances (a real NIC filters multicast before XDP runs: the peers' adverts
    /// would not arrive), retried and recovering by itself like a VIP that could not be added.
    JoinGroups {
        /// Interface.
        iface: String,
        /// The groups it holds from now on (none: leave every group).
        groups: Vec<McastGroup>,
    },
    /// (Re)start one runner per script, stopping earlier ones.
    RunScripts(Vec<Script>),
    /// (Re)start watching these files and processes (stopping the earlier watches): each
    /// change becomes an [`Input::File`] or [`Input::Process`].
    WatchTracked {
        /// The `track_file`s.
        files: Vec<TrackFile>,
        /// The `vrrp_track_process`es.
        processes: Vec<TrackProcess>,
    },
    /// Use the interface opened anew ([`Input::Recreated`]) in place of the old one (gone with
    /// its index); the driver drops one not adopted.
    AdoptIface {
        /// The interface.
        iface: String,
    },
    /// Read the link state of these interfaces (a safety net for the kernel's announcements,
    /// every [`LINK_CHECK`]) and feed it as [`Input::Links`], after looking whether one of
    /// the instances' interfaces was created again.
    ReadLinks(Vec<String>),
    /// Read XDP's counts of adverts dropped for their addresses for these (interface, VRID)
    /// pairs (with the links, every [`LINK_CHECK`]) and feed them as [`Input::AddressDrops`].
    ReadAddressDrops(Vec<(String, u8)>),
    /// Give the heap's free memory back to the kernel (every [`MEMORY_TRIM`]).
    TrimHeap,
    /// Publish the status snapshot (what `vrrpd status` and the metrics answer from) at once
    /// after a change status shows: every instance's view ([`Controller::instances`]).
    PublishStatus,
    /// Read the configuration file again and open the interfaces it names that are not open
    /// yet; feed what was found as [`Input::Loaded`].
    LoadConfig,
    /// Answer the reload asked (`vrrpd reload`; nobody waits for a SIGHUP's).
    AnswerReload {
        /// Whether the new configuration runs now; if not, the old one keeps serving.
        applied: bool,
        /// What changed, or why it was refused (each diagnostic with its file:line), and the
        /// file's warnings.
        lines: Vec<String>,
    },
    /// A line for the log.
    Log {
        /// Its level.
        level: log::Level,
        /// The line.
        line: String,
    },
}

impl Effect {
    /// Whom the effect concerns, when it fails.
    pub fn owner(&self) -> Option<Owner> {
        match self {
            Effect::RemoveStaleVips { instance, .. }
            | Effect::SetRouter { instance, .. }
            | Effect::MapVips { instance, .. }
            | Effect::UnmapVips { instance, .. }
            | Effect::AddVips { instance, .. }
            | Effect::RemoveVips { instance, .. }
            | Effect::AddRoutes { instance, .. }
            | Effect::RemoveRoutes { instance, .. }
            | Effect::JoinVmac { instance, .. }
            | Effect::LeaveVmac { instance, .. }
            | Effect::SendGarps { instance, .. } => Some(Owner::Instance(instance.clone())),
            Effect::AddStatic { .. } | Effect::RemoveStatic { .. } => Some(Owner::Static),
            Effect::SendAdvert { spec, .. } => Some(Owner::Instance(spec.name.clone())),
            Effect::Heartbeat { iface, .. } | Effect::JoinGroups { iface, .. } => {
                Some(Owner::Iface(iface.clone()))
            }
            Effect::Flush
            | Effect::StateChanged { .. }
            | Effect::RunNotify { .. }
            | Effect::NotifyEvent { .. }
            | Effect::NotifySplitBrain { .. }
            | Effect::RunScripts(_)
            | Effect::WatchTracked { .. }
            | Effect::Event { .. }
            | Effect::LoadConfig
            | Effect::ReadLinks(_)
            | Effect::ReadAddressDrops(_)
            | Effect::TrimHeap
            | Effect::PublishStatus
            | Effect::AdoptIface { .. }
            | Effect::AnswerReload { .. }
            | Effect::Log { .. } => None,
        }
    }
}

/// An instance's view for `vrrpd status`.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceView {
    /// Its configuration (name, interface, VRID, VIPs): the running instance's, shared.
    pub spec: Arc<InstanceSpec>,
    /// The router's family in the maps.
    pub family: Family,
    /// State.
    pub state: State,
    /// Effective priority.
    pub priority: Priority,
    /// The current master, if known.
    pub master: Option<IpAddr>,
    /// Master_Adver_Interval.
    pub master_adver_interval: Centis,
    /// Why it is in FAULT, if it is.
    pub fault: Option<String>,
    /// A peer whose adverts use the other v3/IPv4 checksum variant, if one does.
    pub checksum_mismatch: Option<Box<ChecksumMismatch>>,
    /// Whether it waits, stopping, for a new master before it lets its VIPs go.
    pub handing_over: bool,
    /// Since when it is in its state (or since it started).
    pub since: Nanos,
    /// Why it is in its state: the last transition's reason.
    pub reason: Arc<str>,
    /// Its transitions, oldest first: those of the last hour as of the newest (at most
    /// `incident::HISTORY_MAX`).
    pub transitions: Vec<Transition>,
    /// The newest advert of another router it heard.
    pub last_advert: Option<PeerAdvert>,
    /// The master's priority (ours while master; else that of its newest advert, if heard).
    pub master_priority: Option<Priority>,
    /// Adverts it sent (priority 0 included).
    pub adverts_sent: u64,
    /// The split brain going on, if any (reported or not yet).
    pub split_brain: Option<Box<SplitBrain>>,
    /// Split brains reported since start.
    pub split_brains: u64,
    /// Adverts of other masters it did not yield to, while master (at the controller's reads).
    pub conflicting_adverts: u64,
    /// The address conflict going on, if any.
    pub address_conflict: Option<Box<AddressConflict>>,
    /// Address conflicts reported since start (episodes).
    pub address_conflicts: u64,
    /// Its sync group and the group's state.
    pub sync_group: Option<(String, State)>,
    /// Its tracked interfaces and scripts with their current verdicts.
    pub tracked: Vec<TrackedView>,
}

/// A tracked interface or script of an instance, for status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrackedView {
    /// "interface" or "script".
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its weight (0: FAULT while down).
    pub weight: i16,
    /// `reverse`.
    #[serde(default)]
    pub reverse: bool,
    /// up/down for an interface, succeeding/failing for a script (not run yet: its initial
    /// verdict).
    pub verdict: String,
}

/// What of an instance's [`InstanceView`] and [`InstanceTiming`] changes without a state change
/// or an input ([`Controller::live`]): the driver refreshes it when a reader of the status asks
/// (see [`crate::status::StatusFeed`]), the views themselves only when something else changed.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceLive {
    /// State.
    pub state: State,
    /// Effective priority.
    pub priority: Priority,
    /// The current master, if known.
    pub master: Option<IpAddr>,
    /// Master_Adver_Interval.
    pub master_adver_interval: Centis,
    /// Why it is in FAULT, if it is.
    pub fault: Option<String>,
    /// A peer whose adverts use the other v3/IPv4 checksum variant, if one does.
    pub checksum_mismatch: Option<Box<ChecksumMismatch>>,
    /// Whether it waits, stopping, for a new master before it lets its VIPs go.
    pub handing_over: bool,
    /// The newest advert of another router it heard.
    pub last_advert: Option<PeerAdvert>,
    /// The master's priority.
    pub master_priority: Option<Priority>,
    /// Adverts it sent.
    pub adverts_sent: u64,
    /// The split brain going on, if any.
    pub split_brain: Option<Box<SplitBrain>>,
    /// Split brains reported since start.
    pub split_brains: u64,
    /// Adverts of other masters it did not yield to.
    pub conflicting_adverts: u64,
    /// The address conflict going on, if any.
    pub address_conflict: Option<Box<AddressConflict>>,
    /// Address conflicts reported since start.
    pub address_conflicts: u64,
    /// A backup's Master_Down_Timer deadline.
    pub master_down_at: Option<Nanos>,
    /// Master_Down_Interval.
    pub master_down_interval: Micros,
    /// Skew_Time.
    pub skew_time: Micros,
}

impl InstanceView {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Its interface.
    pub fn interface(&self) -> &str {
        &self.spec.interface
    }

    /// Its VRID.
    pub fn vrid(&self) -> u8 {
        self.spec.vrid.get()
    }

    /// The VIPs it advertises.
    pub fn vips(&self) -> &[Vip] {
        &self.spec.vips
    }

    /// The view with what changed since it was built.
    pub fn refresh(&mut self, live: &InstanceLive) {
        let l = live.clone();
        self.state = l.state;
        self.priority = l.priority;
        self.master = l.master;
        self.master_adver_interval = l.master_adver_interval;
        self.fault = l.fault;
        self.checksum_mismatch = l.checksum_mismatch;
        self.handing_over = l.handing_over;
        self.last_advert = l.last_advert;
        self.master_priority = l.master_priority;
        self.adverts_sent = l.adverts_sent;
        self.split_brain = l.split_brain;
        self.split_brains = l.split_brains;
        self.conflicting_adverts = l.conflicting_adverts;
        self.address_conflict = l.address_conflict;
        self.address_conflicts = l.address_conflicts;
    }
}

impl InstanceTiming {
    /// The timers with what changed since they were read.
    pub fn refresh(&mut self, live: &InstanceLive) {
        self.master_down_at = live.master_down_at;
        self.master_down_interval = live.master_down_interval;
        self.skew_time = live.skew_time;
    }
}

/// An instance's timers and configured priority ([`Controller::timings`]).
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceTiming {
    /// Name.
    pub name: String,
    /// The configured priority (the effective one is in [`InstanceView`]).
    pub configured_priority: Priority,
    /// A backup's Master_Down_Timer deadline as the state machine holds it (re-armed from the
    /// newest advert stamp when it falls due, so the newest stamp may put it later).
    pub master_down_at: Option<Nanos>,
    /// Master_Down_Interval for its priority and the current Master_Adver_Interval.
    pub master_down_interval: Micros,
    /// Skew_Time: the deadline after a priority-0 advert.
    pub skew_time: Micros,
}

/// A failing effect of an instance.
#[derive(Clone, Debug)]
struct Broken {
    reason: String,
    attempts: u32,
    retry_at: Nanos,
    /// The retry is in the batch just carried out.
    probing: bool,
}

/// One running instance.
#[derive(Clone, Debug)]
struct Inst {
    spec: Arc<InstanceSpec>,
    router: Router,
    /// The router's family in the maps: that of its VIPs.
    family: Family,
    /// The place of its interface and family in [`Controller::advert_sources`].
    source: usize,
    /// The address it advertises from and breaks priority ties with.
    primary: IpAddr,
    nd_router: bool,
    /// The source for unicast peers.
    unicast_src: Option<IpAddr>,
    /// The newest advert stamp already fed to the state machine (or passed over).
    fed_ns: Nanos,
    /// When the router began its current watch: its creation, or its entry into BACKUP.
    /// A stamp from before is fed (once) only to a backup, only if it is no older than one
    /// Master_Down_Interval and not a priority 0 (`Inst::watched`): as if heard at this
    /// instant, so that the backup learns its master at once while its timer still starts
    /// at the entry.
    watch_from: Nanos,
    /// Pending bursts of gratuitous ARPs / NAs: when, and how many of each.
    garp_at: Vec<(Nanos, u32)>,
    /// While master with `garp_master_refresh`: the next refresh burst.
    refresh_at: Option<Nanos>,
    /// The delayed burst after a lower priority advert (`garp_lower_prio_delay`).
    lower_at: Option<Nanos>,
    /// Its own tracking says FAULT.
    track_fault: bool,
    /// FAULT as fed to the state machine (or its group): tracking or a failing effect.
    fault: bool,
    broken: Option<Broken>,
    /// When it entered its state, and why (for a person).
    since: Nanos,
    /// (Shared with the newest transition of `history`.)
    reason: Arc<str>,
    /// Its transitions of the last hour (room for one at first: most instances make one,
    /// at start, and the default first growth would hold four, 240 bytes an instance unused).
    history: VecDeque<Transition>,
    /// The newest advert of another router fed to it.
    last_advert: Option<PeerAdvert>,
    adverts_sent: u64,
    split: Option<Box<SplitBrain>>,
    split_brains: u64,
    conflicting_adverts: u64,
    /// The peer and interval of the last interval mismatch reported (once per pair).
    mismatch: Option<(IpAddr, Centis)>,
    conflict: Option<Box<AddressConflict>>,
    address_conflicts: u64,
    /// Consecutive sends refused for now ([`SEND_FAILURES_TOLERATED`]).
    send_failures: u32,
    /// A peer heard with the other v3/IPv4 checksum variant (this episode).
    csum_mismatch: Option<Box<ChecksumMismatch>>,
    /// XDP's count of adverts dropped for their addresses, as last read.
    addr_drops: Option<u64>,
    /// When adverts were last seen dropped for their addresses (the current episode).
    addr_mismatch: Option<Nanos>,
}

impl Inst {
    /// The advert to feed for a stamp not yet fed: as it is if heard during the current
    /// watch; one heard before, only by a backup and as if heard at the watch's start, when
    /// it is at most one Master_Down_Interval older than that and not a priority 0 (see
    /// `watch_from`). Fed so, an advert restarts the timer at the start, where it runs
    /// anyway: it names the master and changes no deadline. A priority 0 would shorten it
    /// to Skew_Time for a router that left before the watch began, and may have been fed
    /// to the instance this one replaced in a reload: such a stamp is passed over.
    fn watched(&self, mut advert: Advert) -> Option<Advert> {
        if advert.received_at >= self.watch_from {
            return Some(advert);
        }
        let age = self.watch_from - advert.received_at;
        (self.router.state() == State::Backup
            && advert.priority != Priority::SHUTDOWN
            && age <= self.router.master_down_interval().as_nanos())
        .then(|| {
            advert.received_at = self.watch_from;
            advert
        })
    }

    /// v3 over IPv4: the only routers with two checksum variants.
    fn two_checksums(&self) -> bool {
        self.family == Family::Ipv4 && self.spec.version == Version::V3
    }

    fn vmac(&self) -> [u8; 6] {
        match self.family {
            Family::Ipv4 => vmac_v4(self.spec.vrid.get()),
            Family::Ipv6 => vmac_v6(self.spec.vrid.get()),
        }
    }

    fn all_vips(&self) -> Vec<Vip> {
        self.spec
            .vips
            .iter()
            .chain(&self.spec.excluded_vips)
            .cloned()
            .collect()
    }

    /// The addresses its router's maps and announcements take: every VIP but an IPv4 one
    /// excluded from an IPv6 instance, which is added and removed with the instance but has no
    /// entry for an IPv6 router in XDP's maps and no gratuitous ARP (the kernel answers ARP
    /// for it, from the interface's MAC).
    fn mapped_vips(&self) -> Vec<IpAddr> {
        self.all_vips()
            .iter()
            .map(|v| v.address)
            .filter(|a| self.family == Family::Ipv4 || a.is_ipv6())
            .collect()
    }

    fn name(&self) -> String {
        self.spec.name.clone()
    }

    /// Its routes and rules added (after its VIPs), if it has any.
    fn add_routes(&self) -> Option<Effect> {
        let spec = &self.spec;
        (!spec.routes.is_empty() || !spec.rules.is_empty()).then(|| Effect::AddRoutes {
            instance: self.name(),
            routes: spec.routes.clone(),
            rules: spec.rules.clone(),
        })
    }

    /// Its routes and rules removed (before its VIPs), if it has any.
    fn remove_routes(&self) -> Option<Effect> {
        let spec = &self.spec;
        (!spec.routes.is_empty() || !spec.rules.is_empty()).then(|| Effect::RemoveRoutes {
            instance: self.name(),
            routes: spec.routes.clone(),
            rules: spec.rules.clone(),
        })
    }

    /// Accept_Mode off and not the address owner: while master, XDP drops IP packets to its
    /// VIPs (keepalived's firewall rule for `no_accept`).
    fn refuses_vip_traffic(&self) -> bool {
        !self.spec.accept && !self.spec.priority.is_owner()
    }

    fn router_config(&self, master: bool) -> RouterConfig {
        let spec = &self.spec;
        let mut flags = ROUTER_CONFIGURED;
        if master {
            flags |= ROUTER_MASTER;
        }
        if spec.priority.is_owner() {
            flags |= ROUTER_OWNER;
        }
        if self.nd_router {
            flags |= ROUTER_ND_ROUTER;
        }
        if spec.v3_checksum == V3Checksum::MessageOnly {
            flags |= ROUTER_CSUM_MSG_ONLY;
        }
        if self.refuses_vip_traffic() {
            flags |= ROUTER_NO_ACCEPT;
        }
        if spec.skip_check_adv_addr {
            flags |= ROUTER_SKIP_SAME_SENDER;
        }
        let mut primary16 = [0u8; 16];
        match self.primary {
            IpAddr::V4(a) => primary16[..4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => primary16 = a.octets(),
        }
        RouterConfig {
            flags,
            version: u8::from(spec.version).into(),
            auth_type: match spec.auth {
                Auth::None => 0,
                Auth::Pass { .. } => 1,
                Auth::Ah => 2,
            },
            interval_cs: spec.advert_interval.get(),
            priority: self.router.priority().get().into(),
            addr_count: 0,
            auth_data: match spec.auth {
                Auth::Pass { password } => password,
                Auth::None | Auth::Ah => [0; 8],
            },
            primary: primary16,
            addr_print: 0,
        }
        .with_addresses(self.family == Family::Ipv6, &self.listed_addresses())
    }

    /// The addresses our adverts list, each as 16 bytes (IPv4 in the first four): those
    /// adverts from others must list too (keepalived 2.2.7's check).
    fn listed_addresses(&self) -> Vec<[u8; 16]> {
        let spec = &self.spec;
        let ipv6 = self.family == Family::Ipv6;
        let n = crate::wire::vrrp::max_addresses(spec.version, ipv6, crate::wire::vrrp::ADVERT_MTU);
        spec.vips
            .iter()
            .take(n)
            .map(|v| match v.address {
                IpAddr::V4(a) => {
                    let mut b = [0; 16];
                    b[..4].copy_from_slice(&a.octets());
                    b
                }
                IpAddr::V6(a) => a.octets(),
            })
            .collect()
    }
}

/// The maps' family of an instance.
pub fn map_family(spec: &InstanceSpec) -> Family {
    match spec.family() {
        config::Family::Ipv4 => Family::Ipv4,
        config::Family::Ipv6 => Family::Ipv6,
    }
}

/// SIGTERM's handover.
#[derive(Clone, Debug)]
struct Stopping {
    since: Nanos,
    give_up: Nanos,
    /// Masters that sent priority 0 and hold their VIPs until a new master advertises.
    deferred: Vec<usize>,
    /// Releases that failed: the instance, the attempts so far, when to try again, and
    /// whether the last try awaits its result.
    retry: Vec<(usize, u32, Nanos, bool)>,
    /// Effects were given out whose results have not come back.
    awaiting: bool,
    done: bool,
}

/// The static addresses, routes and rules in force.
#[derive(Clone, Debug, Default, PartialEq)]
struct Statics {
    addresses: Vec<Vip>,
    routes: Vec<Route>,
    rules: Vec<Rule>,
}

impl Statics {
    fn of(config: &Config) -> Self {
        Statics {
            addresses: config.static_addresses.clone(),
            routes: config.static_routes.clone(),
            rules: config.static_rules.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }

    /// What `self` has and `other` has not.
    fn minus(&self, other: &Statics) -> Statics {
        Statics {
            addresses: (self.addresses.iter())
                .filter(|a| !other.addresses.contains(a))
                .cloned()
                .collect(),
            routes: (self.routes.iter())
                .filter(|r| !other.routes.contains(r))
                .cloned()
                .collect(),
            rules: (self.rules.iter())
                .filter(|r| !other.rules.contains(r))
                .cloned()
                .collect(),
        }
    }

    fn add(self) -> Option<Effect> {
        (!self.is_empty()).then_some(Effect::AddStatic {
            addresses: self.addresses,
            routes: self.routes,
            rules: self.rules,
        })
    }

    fn remove(self) -> Option<Effect> {
        (!self.is_empty()).then_some(Effect::RemoveStatic {
            addresses: self.addresses,
            routes: self.routes,
            rules: self.rules,
        })
    }
}

/// The answer to a reload asked while stopping.
const STOPPING: &str = "vrrpd is stopping; the reload is not applied";

/// `config` without its instances, cloned field by field (not the whole and the instances
/// dropped: a megabyte at 1,020 routers, for nothing).
fn without_instances(config: &Config) -> Config {
    let Config {
        global,
        instances: _,
        scripts,
        sync_groups,
        static_addresses,
        static_routes,
        static_rules,
        track_files,
        track_processes,
    } = config;
    Config {
        global: global.clone(),
        instances: Vec::new(),
        scripts: scripts.clone(),
        sync_groups: sync_groups.clone(),
        static_addresses: static_addresses.clone(),
        static_routes: static_routes.clone(),
        static_rules: static_rules.clone(),
        track_files: track_files.clone(),
        track_processes: track_processes.clone(),
    }
}

/// The coordinator of one host.
#[derive(Clone, Debug)]
pub struct Controller {
    /// The configuration it runs (the one it started with, or the last reload it applied)
    /// without its instances: those are `specs`.
    config: Config,
    /// The configuration's instances, in its order: each running one's spec shared with its
    /// [`Inst`] (a spec is about 1 KB; 1,020 routers held it twice).
    specs: Vec<Arc<InstanceSpec>>,
    instances: Vec<Inst>,
    /// The interfaces and families of the instances, each once ([`Controller::advert_sources`]).
    sources: Vec<(Arc<str>, Family)>,
    /// The static addresses, routes and rules added at start (removed at exit).
    statics: Statics,
    /// Adding them failed: attempts so far, when to add them again, and whether the last
    /// try awaits its result.
    statics_broken: Option<(u32, Nanos, bool)>,
    /// The `vrrp_sync_group`s, and their configuration (to tell on reload which changed).
    groups: Vec<(SyncGroupSpec, Group)>,
    /// The `vrrp_script`s and their states, by name.
    scripts: BTreeMap<String, (Script, ScriptState)>,
    /// Whether each watched interface is up with a carrier.
    links: BTreeMap<String, bool>,
    /// Interfaces created again that the driver could not open yet ([`Input::NotReopened`]):
    /// down until [`Input::Recreated`].
    reopening: BTreeSet<String>,
    /// What the driver last read of each instance's interface (its addresses), at start, the
    /// last reload applied or an interface created again.
    iface_info: BTreeMap<String, IfaceInfo>,
    /// The multicast groups each interface was last told to hold ([`Effect::JoinGroups`]).
    joined: BTreeMap<String, Vec<McastGroup>>,
    /// The `track_file`s and their values, by name.
    files: BTreeMap<String, (TrackFile, i64)>,
    /// The `vrrp_track_process`es and whether each has its quorum, by name.
    processes: BTreeMap<String, (TrackProcess, bool)>,
    /// Inputs a sync group ordered for its members, fed after the input that caused them.
    pending: VecDeque<Order>,
    stopping: Option<Stopping>,
    out: Vec<Effect>,
    /// The sync groups' notify effects, held until their members' have been emitted (at the
    /// end of [`Controller::drain`]): keepalived notifies a group after its members.
    group_notifies: Vec<Effect>,
    /// While instances start: [`Self::group_notifies`] wait for every member's first state.
    hold_group_notifies: bool,
    /// What the last [`Input::Reload`] did, until `Controller::take_reload_outcome` (tests).
    reload_outcome: Option<Result<String, String>>,
    /// Why the input being handled changes tracking (a link, a script, a failing effect): the
    /// reason of the FAULT transitions it causes.
    cause: String,
    /// Each sync group's last transition's reason, for its members' transitions.
    group_reason: BTreeMap<String, String>,
    /// Each `vrrp_script`'s last result, to report the runs that differ.
    script_last: BTreeMap<String, bool>,
    /// The time of the input being handled.
    now: Nanos,
    /// The instances with an advert in the batch last given out: their [`Input::Results`]
    /// tell whether it went. (Adverts are what the peers judge us by: a GARP refused for a
    /// moment is not counted, and one that goes does not reset the count.)
    sent: Vec<Arc<InstanceSpec>>,
    /// When the heartbeats were last given out (see [`Controller::heartbeats`]): a takeover
    /// at another time writes them first, so that XDP's liveness gate is open (and knows the
    /// interface's `no_accept`) before the router entry that makes it answer.
    beat_at: Option<Nanos>,
    /// `vrrp_garp_interval` and `vrrp_gna_interval`: the least time between two gratuitous
    /// ARPs (two unsolicited NAs) on one interface; 0 sends a burst back to back.
    garp_interval: Nanos,
    gna_interval: Nanos,
    /// The end of keepalived's `vrrp_startup_delay` after the start ([`fsm::Router::delay_start`]:
    /// no router takes over before it, one a reload adds within it included).
    start_after: Nanos,
    /// Paced sends (an interval set): by interface and kind (NA or not), the frames waiting,
    /// each a [`Effect::SendGarps`] of one address, and when the next may leave.
    garp_queues: BTreeMap<(String, bool), (VecDeque<Effect>, Nanos)>,
    /// The unpaced bursts not given out yet, in order ([`Controller::announce`]).
    announcements: VecDeque<Effect>,
    /// When the driver's chores are due.
    chores: chores::Chores,
    /// Test knob: a backup's Master_Down_Timer fires this much early (a deliberately broken
    /// rule, for the simulator to catch).
    #[cfg(test)]
    early_ns: Nanos,
    /// Test knob: a master never hears adverts (another deliberately broken rule).
    #[cfg(test)]
    deaf_masters: bool,
}

/// The interfaces a configuration's instances run on.
pub fn interfaces(config: &Config) -> BTreeSet<String> {
    config
        .instances
        .iter()
        .map(|i| i.interface.clone())
        .collect()
}

/// The interfaces whose link state a configuration's instances track: their own and the
/// `track_interface`s.
pub fn watched(config: &Config) -> BTreeSet<String> {
    config
        .instances
        .iter()
        .flat_map(|s| {
            std::iter::once(s.interface.clone())
                .chain(s.track_interfaces.iter().map(|t| t.interface.clone()))
        })
        .collect()
}

/// Whether `config` runs on `host`: one rule for the configuration vrrpd starts with and for
/// a reload's. Every interface it names was opened ([`Host::unopened`]) and every instance has
/// the address it advertises from ([`check`]); else the first reason why not, where the file
/// says it (file:line). At start the driver then exits with it (nothing is running yet that
/// could serve on, as keepalived exits on a missing interface); a reload is refused with it.
pub fn admit(config: &Config, host: &Host) -> Result<(), String> {
    let at = |source: &config::SourceLoc| {
        if source.file.is_empty() {
            String::new()
        } else {
            format!("{source}: ")
        }
    };
    if let Some((name, why)) = host.unopened.iter().next() {
        // Where the file names it: its first instance on it.
        let at = config
            .instances
            .iter()
            .find(|i| i.interface == *name)
            .map_or(String::new(), |i| at(&i.source));
        return Err(format!("{at}interface {name}: {why}"));
    }
    for spec in &config.instances {
        addresses(spec, host).map_err(|e| format!("{}{e}", at(&spec.source)))?;
    }
    Ok(())
}

/// Whether every instance of `config` can run on `host`; the first reason why not.
pub fn check(config: &Config, host: &Host) -> Result<(), String> {
    for spec in &config.instances {
        addresses(spec, host)?;
    }
    Ok(())
}

/// An instance's reason before its first transition.
const STARTING: &str = "starting";

/// What a reload keeps of a changed instance that is still the same router (keepalived's
/// vrrp_exist: VRID, family, interface, unicast or not and from where, multicast group):
/// keepalived 2.2.7 starts the new one in the old one's state (restore_vrrp_state).
struct Resume {
    /// MASTER or BACKUP.
    state: State,
    /// The addresses the old one had in XDP's maps (a master's new ones are announced).
    vips: Vec<IpAddr>,
}

/// Whether a reload keeps the state of instance `old` in `new` (see [`Resume`]).
fn same_router(old: &InstanceSpec, new: &InstanceSpec) -> bool {
    old.vrid == new.vrid
        && old.interface == new.interface
        && map_family(old) == map_family(new)
        && old.unicast_peers.is_empty() == new.unicast_peers.is_empty()
        && old.unicast_src == new.unicast_src
        && old.mcast_group4 == new.mcast_group4
        && old.mcast_group6 == new.mcast_group6
}

/// The entries of `a` that `b` lacks, in `a`'s order.
fn not_in<T: PartialEq + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

/// The address owner (priority 255) with `state MASTER`: the only instance keepalived 2.2.7
/// starts as master.
fn owner_master(spec: &InstanceSpec) -> bool {
    spec.priority.is_owner() && spec.state == InitialState::Master
}

/// An instance's advert source and unicast source on `host`.
fn addresses(spec: &InstanceSpec, host: &Host) -> Result<(IpAddr, Option<IpAddr>), String> {
    let info = host
        .ifaces
        .get(&spec.interface)
        .ok_or_else(|| format!("{}: no interface {}", spec.name, spec.interface))?;
    let primary = match map_family(spec) {
        Family::Ipv4 => IpAddr::V4(info.primary4.ok_or_else(|| {
            format!(
                "{}: {} has no IPv4 address to advertise from",
                spec.name, spec.interface
            )
        })?),
        Family::Ipv6 => IpAddr::V6(info.link_local.ok_or_else(|| {
            format!(
                "{}: {} has no IPv6 link-local address to advertise from",
                spec.name, spec.interface
            )
        })?),
    };
    if spec.unicast_peers.is_empty() {
        return Ok((primary, None));
    }
    // keepalived's `unicast_src_ip`, else the address multicast adverts come from (IPv6: the
    // link-local one); validation made it the instance's family.
    Ok((primary, Some(spec.unicast_src.unwrap_or(primary))))
}

fn ns(c: Centis) -> Nanos {
    u64::from(c.get()) * fsm::NANOS_PER_CENTI
}

/// Whether `spec` advertised in the batch last given out (`sent`).
fn sent(sent: &[Arc<InstanceSpec>], spec: &Arc<InstanceSpec>) -> bool {
    sent.iter()
        .any(|s| Arc::ptr_eq(s, spec) || s.name == spec.name)
}

impl Controller {
    /// Starts every instance of `config` on `host` at `now`: the effects to carry out first.
    /// Refused, with the reason, if it does not run there ([`admit`]: the rule of a reload).
    pub fn start(config: &Config, host: &Host, now: Nanos) -> Result<(Self, Vec<Effect>), String> {
        admit(config, host)?;
        let mut said = Vec::new();
        let config = &usable_scripts(config, host, &mut said);
        let mut c = Controller {
            config: without_instances(config),
            specs: Vec::new(),
            instances: Vec::new(),
            sources: Vec::new(),
            statics: Statics::of(config),
            statics_broken: None,
            groups: Vec::new(),
            scripts: BTreeMap::new(),
            links: BTreeMap::new(),
            reopening: BTreeSet::new(),
            iface_info: host.ifaces.clone(),
            joined: BTreeMap::new(),
            pending: VecDeque::new(),
            stopping: None,
            out: Vec::new(),
            group_notifies: Vec::new(),
            hold_group_notifies: true,
            reload_outcome: None,
            cause: String::new(),
            group_reason: BTreeMap::new(),
            script_last: BTreeMap::new(),
            files: BTreeMap::new(),
            processes: BTreeMap::new(),
            now,
            sent: Vec::new(),
            beat_at: None,
            garp_interval: config.global.garp_interval_us * 1_000,
            gna_interval: config.global.gna_interval_us * 1_000,
            start_after: now + config.global.startup_delay_ms * 1_000_000,
            garp_queues: BTreeMap::new(),
            announcements: VecDeque::new(),
            chores: chores::Chores::new(now),
            #[cfg(test)]
            early_ns: 0,
            #[cfg(test)]
            deaf_masters: false,
        };
        c.out.append(&mut said);
        if config.global.startup_delay_ms > 0 {
            // keepalived's line.
            c.log(
                log::Level::Info,
                format!(
                    "Delaying startup for {} seconds",
                    config.global.startup_delay_ms as f64 / 1000.0
                ),
            );
        }
        c.out.extend(c.statics.clone().add());
        c.set_links(config, host);
        c.start_scripts(config.scripts.clone());
        c.watch_tracked(config, host);
        for spec in &config.sync_groups {
            c.add_group(spec.clone(), &config.instances);
        }
        c.add_instances(config.instances.iter().cloned(), host, now);
        c.keep_specs(config);
        c.join_groups();
        c.hold_group_notifies = false;
        c.announce();
        c.out.append(&mut c.group_notifies);
        // After what start did.
        c.out.push(Effect::TrimHeap);
        let out = c.give_out();
        Ok((c, out))
    }

    /// Test knob: backups take over `early` before their Master_Down_Interval ends.
    #[cfg(test)]
    pub fn break_master_down(&mut self, early: Nanos) {
        self.early_ns = early;
    }

    /// Test knob: masters ignore every advert (they never step down for a better one).
    #[cfg(test)]
    pub fn deafen_masters(&mut self) {
        self.deaf_masters = true;
    }

    #[cfg(test)]
    fn deaf(&self, inst: &Inst) -> bool {
        self.deaf_masters && inst.router.state() == State::Master
    }

    #[cfg(not(test))]
    fn deaf(&self, _: &Inst) -> bool {
        false
    }

    #[cfg(test)]
    fn early(&self) -> Nanos {
        self.early_ns
    }

    #[cfg(not(test))]
    fn early(&self) -> Nanos {
        0
    }

    /// Feeds one input at `now`; returns the effects to carry out, in order. After carrying
    /// out a non-empty batch, the driver feeds [`Input::Results`].
    pub fn handle(&mut self, now: Nanos, input: Input) -> Vec<Effect> {
        self.now = now;
        self.cause.clear();
        // Announcements leave at the end of what an input caused, but not of the results of
        // a turn's effects: the executor reports them within the turn, and what the budget
        // left over waits for the next one.
        let announce = !matches!(input, Input::Results(_));
        // A read of the links that found them as they were changes nothing status shows (it
        // comes every second: a backup of 510 routers built every view again for it).
        if !matches!(
            input,
            Input::Tick { .. } | Input::Results(_) | Input::Links(_)
        ) {
            self.chores.dirty();
        }
        match input {
            Input::Tick { adverts } => self.tick(now, adverts),
            Input::Links(states) => {
                if self.stopping.is_none() {
                    self.links_now(now, states);
                }
            }
            Input::Script { name, success } => {
                if self.stopping.is_none() {
                    self.script_result(now, &name, success);
                }
            }
            Input::File { name, value } => {
                if self.stopping.is_none() {
                    self.file_value(now, &name, value);
                }
            }
            Input::Process { name, up } => {
                if self.stopping.is_none() {
                    self.process_quorum(now, &name, up);
                }
            }
            Input::Results(failures) => self.results(now, failures),
            Input::AddressConflict {
                iface,
                family,
                vrid,
                address,
                mac,
            } => self.address_conflict(now, &iface, family, vrid, address, mac),
            Input::AddressDrops(counts) => self.address_drops(now, counts),
            Input::Stop => self.stop(now),
            Input::ReloadAsked => match self.stopping {
                Some(_) => self.out.push(Effect::AnswerReload {
                    applied: false,
                    lines: vec![STOPPING.into()],
                }),
                None => self.out.push(Effect::LoadConfig),
            },
            Input::Loaded {
                path,
                warnings,
                loaded,
            } => {
                // What reading the file and opening its interfaces allocated and freed (some
                // 2 MiB for an interface opened) is given back at once, not at the next trim.
                self.chores.trim_soon();
                self.loaded(now, &path, warnings, loaded)
            }
            Input::Reload { config, host } => {
                if self.stopping.is_none() {
                    self.reload(now, &config, &host, None);
                } else {
                    self.reload_outcome = Some(Err("vrrpd is stopping".into()));
                }
            }
            Input::NotReopened { iface, why } => {
                // Each attempt opened the interface anew: its memory, as after a reload.
                self.chores.trim_soon();
                if self.stopping.is_none() {
                    self.hold_down(now, iface, why);
                }
            }
            Input::Recreated { iface, host } => {
                self.chores.trim_soon();
                self.recreated(now, iface, &host)
            }
        }
        if announce {
            self.announce();
        }
        self.out.append(&mut self.group_notifies);
        self.chores_due(now);
        self.give_out()
    }

    /// The driver's chores due at `now`, after what the input caused (a state change or an
    /// event publishes the snapshot at once).
    fn chores_due(&mut self, now: Nanos) {
        if self
            .out
            .iter()
            .any(|e| matches!(e, Effect::StateChanged { .. } | Effect::Event { .. }))
        {
            self.chores.dirty();
        }
        for chore in self.chores.due(now) {
            self.out.push(match chore {
                chores::Chore::ReadLinks => Effect::ReadLinks(self.links.keys().cloned().collect()),
                chores::Chore::ReadAddressDrops => Effect::ReadAddressDrops(
                    self.instances
                        .iter()
                        .map(|i| (i.spec.interface.clone(), i.spec.vrid.get()))
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                ),
                chores::Chore::TrimHeap => Effect::TrimHeap,
                chores::Chore::Publish => Effect::PublishStatus,
            });
        }
    }

    /// The effects to carry out, noting which instances advertise in them.
    fn give_out(&mut self) -> Vec<Effect> {
        // Each advert's spec shared, not its name copied: a master of 500 routers at 10 ms
        // gives out 50,000 adverts a second.
        self.sent.clear();
        self.sent.extend(self.out.iter().filter_map(|e| match e {
            Effect::SendAdvert { spec, .. } => Some(spec.clone()),
            _ => None,
        }));
        std::mem::take(&mut self.out)
    }

    /// Whether the next [`Input::Tick`] needs the advert stamps: a timer is due, XDP raised an
    /// `event`, or a stopping master waits for a new one.
    pub fn needs_adverts(&self, now: Nanos, event: bool) -> bool {
        event
            || self
                .stopping
                .as_ref()
                .is_some_and(|s| !s.deferred.is_empty())
            || self.instances.iter().any(|i| self.due(i, now))
    }

    fn due(&self, inst: &Inst, now: Nanos) -> bool {
        let early = if inst.router.state() == State::Backup {
            self.early()
        } else {
            0
        };
        inst.router
            .next_deadline()
            .is_some_and(|t| t <= now + early)
    }

    /// The interfaces and families whose advert stamps [`Input::Tick`] needs, each once, in
    /// the order of the instances' first use of it (kept as instances come and go, not
    /// gathered at each read of the stamps).
    pub fn advert_sources(&self) -> &[(Arc<str>, Family)] {
        &self.sources
    }

    /// The place of `inst`'s interface and family in [`Controller::advert_sources`], added
    /// there if new.
    fn source_of(sources: &mut Vec<(Arc<str>, Family)>, inst: &Inst) -> usize {
        let pair = (inst.spec.interface.as_str(), inst.family);
        match sources
            .iter()
            .position(|(iface, family)| (&**iface, *family) == pair)
        {
            Some(s) => s,
            None => {
                sources.push((pair.0.into(), pair.1));
                sources.len() - 1
            }
        }
    }

    /// Gathers [`Controller::advert_sources`] and each instance's place in it again, after an
    /// instance went (one that comes is placed as it is added).
    fn index_sources(&mut self) {
        self.sources.clear();
        for inst in &mut self.instances {
            inst.source = Self::source_of(&mut self.sources, inst);
        }
    }

    /// What the last [`Input::Reload`] did, once: `Ok` with what changed, or `Err` with why it
    /// was refused (the running configuration stays).
    #[cfg(test)]
    pub fn take_reload_outcome(&mut self) -> Option<Result<String, String>> {
        self.reload_outcome.take()
    }

    /// The configuration it runs: the one it started with, or the last reload it applied (a
    /// refused one leaves it as it was).
    pub fn config(&self) -> Config {
        Config {
            instances: self.specs.iter().map(|s| (**s).clone()).collect(),
            ..self.config.clone()
        }
    }

    /// Holds `config`'s instances as [`Self::specs`]: each running one's spec as its [`Inst`]
    /// holds it, the others (an instance whose addresses this host lacks) on their own.
    fn keep_specs(&mut self, config: &Config) {
        let running: BTreeMap<&str, &Arc<InstanceSpec>> = self
            .instances
            .iter()
            .map(|i| (i.spec.name.as_str(), &i.spec))
            .collect();
        self.specs = config
            .instances
            .iter()
            .map(|spec| match running.get(spec.name.as_str()) {
                Some(s) if ***s == *spec => Arc::clone(s),
                _ => Arc::new(spec.clone()),
            })
            .collect();
    }

    /// An interface created again that cannot serve its instances yet: down (whatever its
    /// link says) until it can; `why` said once.
    fn hold_down(&mut self, now: Nanos, iface: String, why: String) {
        if self.reopening.insert(iface.clone()) {
            self.log(log::Level::Warn, why);
        }
        self.links_now(now, vec![(iface, false)]);
    }

    /// An interface created again and opened anew: adopted once the running configuration can
    /// run on it, and its instances restart; held down until then. Stopping, it is adopted
    /// (what is released goes to the new one) and nothing restarts.
    fn recreated(&mut self, now: Nanos, iface: String, host: &Host) {
        if self.stopping.is_some() {
            self.out.push(Effect::AdoptIface { iface });
            return;
        }
        let config = self.config();
        if let Err(e) = check(&config, host) {
            let why = format!("{iface}: created again; waiting: {e}");
            return self.hold_down(now, iface, why);
        }
        self.reopening.remove(&iface);
        self.out.push(Effect::AdoptIface {
            iface: iface.clone(),
        });
        self.log(
            log::Level::Warn,
            format!("{iface} was deleted and created again: its instances restart"),
        );
        self.reload(now, &config, host, Some(&iface));
        // Not an operator's reload: nobody waits for its outcome.
        self.reload_outcome = None;
    }

    /// Whether the handover after [`Input::Stop`] is over: the driver detaches and exits.
    pub fn finished(&self) -> bool {
        self.stopping.as_ref().is_some_and(|s| s.done)
    }

    /// Each instance's configuration and state machine, read-only.
    pub fn routers(&self) -> impl Iterator<Item = (&InstanceSpec, &Router)> {
        self.instances.iter().map(|i| (&*i.spec, &i.router))
    }

    /// Each instance's configuration, state, whether it holds its VIPs now (MASTER, or
    /// handing over on SIGTERM) and whether one of its effects fails.
    pub fn holdings(&self) -> impl Iterator<Item = (&InstanceSpec, State, bool, bool)> {
        self.instances.iter().enumerate().map(|(i, inst)| {
            let state = inst.router.state();
            let handing_over = self
                .stopping
                .as_ref()
                .is_some_and(|s| s.deferred.contains(&i));
            (
                &*inst.spec,
                state,
                state == State::Master || handing_over,
                inst.broken.is_some(),
            )
        })
    }

    /// Each instance's state, in order: what the loop reports to systemd at every turn,
    /// without building the views of [`Controller::instances`].
    pub fn states(&self) -> impl Iterator<Item = State> + '_ {
        self.instances.iter().map(|i| i.router.state())
    }

    /// Every instance, for status.
    pub fn instances(&self) -> Vec<InstanceView> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, inst)| {
                let live = self.live_of(i, inst);
                let mut view = InstanceView {
                    spec: Arc::clone(&inst.spec),
                    family: inst.family,
                    state: live.state,
                    priority: live.priority,
                    master: None,
                    master_adver_interval: live.master_adver_interval,
                    fault: None,
                    checksum_mismatch: None,
                    handing_over: false,
                    since: inst.since,
                    reason: Arc::clone(&inst.reason),
                    transitions: inst.history.iter().cloned().collect(),
                    last_advert: None,
                    master_priority: None,
                    adverts_sent: 0,
                    split_brain: None,
                    split_brains: 0,
                    conflicting_adverts: 0,
                    address_conflict: None,
                    address_conflicts: 0,
                    sync_group: self
                        .group_of(&inst.spec.name)
                        .map(|g| (self.groups[g].0.name.clone(), self.groups[g].1.state())),
                    tracked: self
                        .tracked(&inst.spec)
                        .into_iter()
                        .map(|(t, _)| t)
                        .collect(),
                };
                view.refresh(&live);
                view
            })
            .collect()
    }

    /// What of every instance's view changes with time alone, in the order of
    /// [`Controller::instances`]: no string of its own unless in FAULT, a split brain or a
    /// conflict, so that the driver refreshes it cheaply whenever a reader asks.
    pub fn live(&self) -> Vec<InstanceLive> {
        self.instances
            .iter()
            .enumerate()
            .map(|(i, inst)| self.live_of(i, inst))
            .collect()
    }

    /// [`Self::live`] written over `live` in place (the same instances, in the same order,
    /// as the views it belongs to; rebuilt whole when their number differs): the status
    /// refresh of a backup of 510 routers allocated and faulted in 150 KB ten times a second.
    pub fn live_into(&self, live: &mut Vec<InstanceLive>) {
        if live.len() != self.instances.len() {
            *live = self.live();
            return;
        }
        for (i, (slot, inst)) in live.iter_mut().zip(&self.instances).enumerate() {
            *slot = self.live_of(i, inst);
        }
    }

    fn live_of(&self, i: usize, inst: &Inst) -> InstanceLive {
        InstanceLive {
            state: inst.router.state(),
            priority: inst.router.priority(),
            master: inst.router.master(),
            master_adver_interval: inst.router.master_adver_interval(),
            fault: (inst.broken.is_some() || inst.track_fault).then(|| self.fault_cause(i)),
            checksum_mismatch: inst.csum_mismatch.clone(),
            handing_over: self
                .stopping
                .as_ref()
                .is_some_and(|s| s.deferred.contains(&i)),
            last_advert: inst.last_advert.clone(),
            master_priority: match inst.router.state() {
                State::Master => Some(inst.router.priority()),
                _ => inst
                    .last_advert
                    .as_ref()
                    .filter(|a| Some(a.address) == inst.router.master())
                    .map(|a| Priority(a.priority)),
            },
            adverts_sent: inst.adverts_sent,
            split_brain: inst.split.clone(),
            split_brains: inst.split_brains,
            conflicting_adverts: inst.conflicting_adverts,
            address_conflict: inst.conflict.clone(),
            address_conflicts: inst.address_conflicts,
            master_down_at: match inst.router.state() {
                State::Backup => inst.router.next_deadline(),
                _ => None,
            },
            master_down_interval: inst.router.master_down_interval(),
            skew_time: inst.router.skew_time(),
        }
    }

    /// Each instance's timers and configured priority, for the metrics, in the order of
    /// [`Controller::instances`].
    pub fn timings(&self) -> Vec<InstanceTiming> {
        self.instances
            .iter()
            .map(|inst| InstanceTiming {
                name: inst.name(),
                configured_priority: inst.spec.priority,
                master_down_at: match inst.router.state() {
                    State::Backup => inst.router.next_deadline(),
                    _ => None,
                },
                master_down_interval: inst.router.master_down_interval(),
                skew_time: inst.router.skew_time(),
            })
            .collect()
    }

    /// An instance's tracked objects (its own interface first, unless `dont_track_primary`),
    /// each with whether it puts the instance in FAULT.
    fn tracked(&self, spec: &InstanceSpec) -> Vec<(TrackedView, bool)> {
        let faulting = |weight: i16, reverse: bool, up: bool| weight == 0 && up == reverse;
        let up = |n: &str| self.links.get(n).copied().unwrap_or(false);
        let iface = |name: &str, weight: i16, reverse: bool| {
            let up = up(name);
            let view = TrackedView {
                kind: "interface".into(),
                name: name.to_string(),
                weight,
                reverse,
                verdict: if up { "up" } else { "down" }.into(),
            };
            (view, faulting(weight, reverse, up))
        };
        let mut out = Vec::new();
        if !spec.dont_track_primary {
            out.push(iface(&spec.interface, 0, false));
        }
        for t in &spec.track_interfaces {
            out.push(iface(&t.interface, t.weight, t.reverse));
        }
        for t in &spec.track_scripts {
            // Unknown (or disabled) scripts are ignored, as keepalived does.
            let Some((script, state)) = self.scripts.get(&t.script) else {
                continue;
            };
            let view = TrackedView {
                kind: "script".into(),
                name: t.script.clone(),
                weight: t.weight.unwrap_or(script.weight),
                reverse: t.reverse.unwrap_or(script.reverse),
                verdict: if state.good { "succeeding" } else { "failing" }.into(),
            };
            let f = faulting(view.weight, view.reverse, state.good);
            out.push((view, f));
        }
        for t in &spec.track_files {
            let Some((file, value)) = self.files.get(&t.file) else {
                continue;
            };
            let weight = t.weight.unwrap_or(file.weight);
            let reverse = t.reverse.unwrap_or(file.reverse);
            let f = track::file(*value, i32::from(weight), reverse) == track::Adjust::Fault;
            let view = TrackedView {
                kind: "file".into(),
                name: t.file.clone(),
                weight,
                reverse,
                verdict: format!("value {value}"),
            };
            out.push((view, f));
        }
        for t in &spec.track_processes {
            let Some((process, up)) = self.processes.get(&t.process) else {
                continue;
            };
            let view = TrackedView {
                kind: "process".into(),
                name: t.process.clone(),
                weight: t.weight.unwrap_or(process.weight),
                reverse: t.reverse.unwrap_or(process.reverse),
                verdict: if *up { "quorum" } else { "no quorum" }.into(),
            };
            let f = faulting(view.weight, view.reverse, *up);
            out.push((view, f));
        }
        out
    }

    /// Why instance `i` is in FAULT: its failing effect, or the weight-0 objects it tracks
    /// that are down.
    fn fault_cause(&self, i: usize) -> String {
        let inst = &self.instances[i];
        if let Some(b) = &inst.broken {
            return b.reason.clone();
        }
        let down: Vec<String> = self
            .tracked(&inst.spec)
            .into_iter()
            .filter(|(_, faulting)| *faulting)
            .map(|(t, _)| format!("{} {} {}", t.kind, t.name, t.verdict))
            .collect();
        if down.is_empty() {
            "a tracked interface or script is down".into()
        } else {
            down.join(", ")
        }
    }

    /// The reason of a transition of instance `i` at `now`, for a person.
    fn detail(&self, i: usize, now: Nanos, reason: Reason) -> String {
        let inst = &self.instances[i];
        match reason {
            Reason::MasterDown => match &inst.last_advert {
                Some(a) if a.at_ns >= inst.since && a.priority == 0 => format!(
                    "{} sent priority 0 (leaving) {} ago; Skew_Time over",
                    a.address,
                    seconds(now.saturating_sub(a.at_ns))
                ),
                // A lower priority's adverts do not hold a preempting backup back.
                Some(a)
                    if a.at_ns >= inst.since
                        && inst.spec.preempt
                        && a.priority < inst.router.priority().get() =>
                {
                    format!(
                        "preempting {} (priority {}, ours {})",
                        a.address,
                        a.priority,
                        inst.router.priority()
                    )
                }
                Some(a) if a.at_ns >= inst.since => format!(
                    "no advert from {} for {}",
                    a.address,
                    seconds(now.saturating_sub(a.at_ns))
                ),
                _ => format!(
                    "no advert for {} since entering BACKUP",
                    seconds(now.saturating_sub(inst.since))
                ),
            },
            Reason::HigherPriority { src, priority } => {
                let ours = inst.router.priority();
                if priority == ours {
                    format!(
                        "advert from {src} with priority {priority}, equal to ours, from a higher address"
                    )
                } else {
                    format!("advert from {src} with priority {priority}, ours {ours}")
                }
            }
            Reason::Fault if inst.fault => format!("fault: {}", self.fault_cause(i)),
            Reason::Fault => match self.group_of(&inst.spec.name) {
                Some(g) => {
                    let group = &self.groups[g].0.name;
                    match self.group_reason.get(group) {
                        Some(why) => format!("fault of sync group {group} ({why})"),
                        None => format!("fault of sync group {group}"),
                    }
                }
                None => reason.to_string(),
            },
            Reason::Shutdown if !self.cause.is_empty() => format!("{reason}: {}", self.cause),
            Reason::FaultCleared if self.cause.is_empty() => reason.to_string(),
            Reason::FaultCleared => format!("{reason}: {}", self.cause),
            Reason::SyncGroup => match self.group_of(&inst.spec.name) {
                Some(g) => {
                    let group = &self.groups[g].0.name;
                    match self.group_reason.get(group) {
                        Some(why) => format!("sync group {group}: {why}"),
                        None => format!("sync group {group}"),
                    }
                }
                None => reason.to_string(),
            },
            _ => reason.to_string(),
        }
    }

    fn event(&mut self, at: Nanos, event: Event) {
        self.out.push(Effect::Event { at, event });
    }

    /// An advert of another router fed to instance `i` (`was_master`: it was master before):
    /// the peer it last heard, an interval mismatch, a split brain.
    fn heard_peer(&mut self, i: usize, now: Nanos, a: Advert, was_master: bool) {
        let inst = &mut self.instances[i];
        inst.last_advert = Some(PeerAdvert {
            address: a.src,
            priority: a.priority.get(),
            interval_cs: a.interval.get(),
            at_ns: a.received_at,
        });
        let ours = inst.spec.advert_interval;
        if a.priority != Priority::SHUTDOWN && a.interval != ours {
            if inst.mismatch != Some((a.src, a.interval)) {
                inst.mismatch = Some((a.src, a.interval));
                let event = Event::IntervalMismatch {
                    instance: inst.name(),
                    vrid: inst.spec.vrid.get(),
                    peer: a.src,
                    peer_interval_cs: a.interval.get(),
                    interval_cs: ours.get(),
                };
                self.log(log::Level::Warn, event.message());
                self.event(now, event);
            }
        } else if a.priority != Priority::SHUTDOWN {
            inst.mismatch = None;
        }
        let inst = &mut self.instances[i];
        if !was_master || a.priority == Priority::SHUTDOWN || inst.router.state() != State::Master {
            return;
        }
        // Another master we do not yield to.
        inst.conflicting_adverts += 1;
        let interval = ns(ours.max(a.interval));
        match &mut inst.split {
            // Its adverts, or the first ones of a master known so far by its claims.
            Some(s) if s.peer.is_none_or(|p| p == a.src) => {
                s.peer = Some(a.src);
                s.last_ns = s.last_ns.max(a.received_at);
                s.adverts += 1;
                s.peer_priority = Some(a.priority.get());
            }
            _ => {
                self.end_split(i, now, format!("{} advertises instead", a.src));
                let inst = &mut self.instances[i];
                inst.split = Some(Box::new(SplitBrain {
                    peer: Some(a.src),
                    peer_priority: Some(a.priority.get()),
                    mac: None,
                    claimed: None,
                    since_ns: a.received_at,
                    last_ns: a.received_at,
                    first_claim_ns: None,
                    adverts: 1,
                    claims: 0,
                    reported: false,
                }));
            }
        }
        let inst = &mut self.instances[i];
        let Some(s) = &mut inst.split else { return };
        // The router we have just displaced may send one advert that crosses ours: that is
        // a split brain only if it keeps advertising after ours should have silenced it.
        // Otherwise (two masters joined after a partition, a peer that does not hear us) the
        // first advert is one.
        let grace = if inst.spec.lower_prio_no_advert {
            interval + interval / 2
        } else {
            interval / 2
        };
        let crossing = s.since_ns < inst.since + interval;
        if s.reported || (crossing && s.last_ns < s.since_ns + grace) {
            return;
        }
        self.report_split(i, now);
    }

    /// Reports instance `i`'s split brain (once per episode): the log, `vrrpd events`, and
    /// its `notify_split_brain` script with the instance, the other master's address and the
    /// MAC it claims our VIPs from ("unknown" for what was not heard).
    fn report_split(&mut self, i: usize, now: Nanos) {
        let inst = &mut self.instances[i];
        let Some(s) = &mut inst.split else { return };
        if s.reported {
            return;
        }
        s.reported = true;
        let s = s.clone();
        inst.split_brains += 1;
        let event = Event::SplitBrain {
            instance: inst.name(),
            vrid: inst.spec.vrid.get(),
            interface: inst.spec.interface.clone(),
            peer: s.peer,
            peer_priority: s.peer_priority,
            mac: s.mac.clone(),
            claimed: s.claimed,
            priority: inst.router.priority().get(),
        };
        if let Some(command) = &inst.spec.notify.split_brain {
            let unknown = || "unknown".to_string();
            self.out.push(Effect::NotifySplitBrain {
                command: (**command).clone(),
                instance: inst.name(),
                args: vec![
                    inst.name(),
                    s.peer.map_or_else(unknown, |p| p.to_string()),
                    s.mac.unwrap_or_else(unknown),
                ],
            });
        }
        self.log(log::Level::Warn, event.message());
        self.event(now, event);
    }

    /// XDP saw ARP or a neighbour advertisement for VIP `address` of instance `i` come in from
    /// our VRID's VMAC `mac`: another master (ours leave by the interface, they never come in
    /// on it). A split brain once such claims span half an advert interval: the side whose
    /// adverts are lost hears no other master, but the other one answers our adverts with
    /// gratuitous ARPs (keepalived's `garp_lower_prio_repeat`), a burst per advert; a single
    /// burst crossing ours in a preemption is not one. Reported with the other master's
    /// address if its adverts come too (they follow its takeover's burst closely).
    fn vmac_claim(&mut self, i: usize, now: Nanos, address: IpAddr, mac: String) {
        let inst = &mut self.instances[i];
        if inst.router.state() != State::Master {
            return;
        }
        let half = ns(inst.spec.advert_interval) / 2;
        let s = inst.split.get_or_insert_with(|| {
            Box::new(SplitBrain {
                peer: None,
                peer_priority: None,
                mac: None,
                claimed: None,
                since_ns: now,
                last_ns: now,
                first_claim_ns: None,
                adverts: 0,
                claims: 0,
                reported: false,
            })
        });
        s.mac = Some(mac);
        s.claimed = Some(address);
        s.claims += 1;
        s.last_ns = s.last_ns.max(now);
        let first = *s.first_claim_ns.get_or_insert(now);
        if !s.reported && now >= first + half {
            self.report_split(i, now);
        }
    }

    /// Ends instance `i`'s split brain, if one is going on; one that was reported is logged
    /// as over.
    fn end_split(&mut self, i: usize, now: Nanos, reason: String) {
        let inst = &mut self.instances[i];
        let Some(s) = inst.split.take() else { return };
        if !s.reported {
            return;
        }
        let event = Event::SplitBrainOver {
            instance: inst.name(),
            vrid: inst.spec.vrid.get(),
            peer: s.peer,
            mac: s.mac,
            adverts: s.adverts,
            claims: s.claims,
            lasted_ms: s.last_ns.saturating_sub(s.since_ns) / 1_000_000,
            reason,
        };
        self.log(log::Level::Warn, event.message());
        self.event(now, event);
    }

    /// Ends the split brains and address conflicts that went quiet.
    fn expire_conflicts(&mut self, now: Nanos) {
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            if inst
                .conflict
                .as_ref()
                .is_some_and(|c| now > c.last_ns + incident::CONFLICT_QUIET)
            {
                inst.conflict = None;
            }
            let quiet = inst.router.master_down_interval().as_nanos();
            let Some(s) = &inst.split else { continue };
            if now > s.last_ns + quiet {
                let what = if s.claims > 0 {
                    "no advert or claim"
                } else {
                    "no advert"
                };
                let line = format!(
                    "{what} from it for {}",
                    seconds(now.saturating_sub(s.last_ns))
                );
                self.end_split(i, now, line);
            }
        }
    }

    /// XDP's counts of adverts dropped for their addresses, read once a second: an episode
    /// (drops after 10 s without, or three of our intervals if longer) is said once, as
    /// keepalived says it per advert. The counts are XDP's per VRID: an IPv4 and an IPv6
    /// instance of one VRID on one interface share theirs. The first count read for an
    /// instance is where it starts (a reload keeps the program and its counts).
    fn address_drops(&mut self, now: Nanos, counts: Vec<(String, u8, u64)>) {
        let counts: BTreeMap<(&str, u8), u64> = counts
            .iter()
            .map(|(iface, vrid, total)| ((iface.as_str(), *vrid), *total))
            .collect();
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            let Some(&total) = counts.get(&(inst.spec.interface.as_str(), inst.spec.vrid.get()))
            else {
                continue;
            };
            let seen = inst.addr_drops.replace(total);
            let Some(dropped) = seen.map(|s| total.saturating_sub(s)).filter(|d| *d > 0) else {
                continue;
            };
            let quiet = (3 * ns(inst.spec.advert_interval)).max(10_000_000_000);
            let last = inst.addr_mismatch.replace(now);
            if last.is_some_and(|l| now.saturating_sub(l) < quiet) {
                continue;
            }
            let event = Event::AddressListMismatch {
                instance: inst.name(),
                vrid: inst.spec.vrid.get(),
                dropped,
                count: inst.listed_addresses().len() as u8,
            };
            self.log(log::Level::Warn, event.message());
            self.event(now, event);
        }
    }

    /// XDP saw another MAC claim a VIP of router (`iface`, `family`, `vrid`): reported once per
    /// episode (claimant and address), counted otherwise.
    fn address_conflict(
        &mut self,
        now: Nanos,
        iface: &str,
        family: Family,
        vrid: u8,
        address: IpAddr,
        mac: [u8; 6],
    ) {
        let Some(i) = self.instances.iter().position(|x| {
            x.spec.interface == iface && x.family == family && x.spec.vrid.get() == vrid
        }) else {
            return;
        };
        // Our VRID's VMAC: another master, not another host.
        if mac == self.instances[i].vmac() {
            self.vmac_claim(i, now, address, incident::mac(mac));
            return;
        }
        let inst = &mut self.instances[i];
        let mac = incident::mac(mac);
        if let Some(c) = &mut inst.conflict
            && c.address == address
            && c.mac == mac
        {
            c.frames += 1;
            c.last_ns = now;
            return;
        }
        inst.address_conflicts += 1;
        inst.conflict = Some(Box::new(AddressConflict {
            address,
            mac: mac.clone(),
            since_ns: now,
            last_ns: now,
            frames: 1,
        }));
        let event = Event::AddressConflict {
            instance: inst.name(),
            vrid,
            address,
            mac,
        };
        self.log(log::Level::Warn, event.message());
        self.event(now, event);
    }

    /// When to call next with [`Input::Tick`]. A master's advert (and a GARP, and the
    /// heartbeat) may wait up to [`COALESCE`] (at most a tenth of the shortest advert
    /// interval) for others that fall due just after it, so that routers whose timers fall
    /// together are served by one wake-up and their adverts leave in one batch. A backup's
    /// Master_Down timer never waits: a late one would lengthen every failover.
    pub fn next_wake(&self, now: Nanos) -> Nanos {
        if let Some(s) = &self.stopping {
            return if s.done {
                Nanos::MAX
            } else {
                now + HANDOVER_POLL
            };
        }
        self.protocol_wake(now)
    }

    /// When the driver's next chore is due (a link read, a heap trim, a snapshot behind): the
    /// driver wakes at the earlier of this and [`Self::next_wake`]. (Apart, so that the
    /// simulator, which has no snapshot to publish, wakes only for the routers.)
    pub fn chores_wake(&self) -> Nanos {
        self.chores.next()
    }

    /// [`Self::next_wake`] for the routers, their announcements and retries. A few passes over
    /// the instances and no allocation: it runs at every turn of the loop. The advert interval
    /// is a deadline of its own only while we are master of a router (the heartbeat of XDP's
    /// liveness gate, see [`Self::heartbeats`]): a host of backups wakes for its timers alone.
    ///
    /// Timers that fall due within [`COALESCE`] (and a tenth of the shortest interval) of the
    /// first are gathered into one wake-up at the last of them: a master's adverts, and the
    /// backups' Master_Down_Timers, which one master's batch of adverts sets a few hundred µs
    /// apart (a backup of 510 routers woke a second time, 0 to 3 ms after the first, at about
    /// one wake-up in six, and read every stamp again each time). A Master_Down_Timer may so
    /// fire up to that late, never early. Retries keep their own time.
    fn protocol_wake(&self, now: Nanos) -> Nanos {
        let shortest = self
            .instances
            .iter()
            .map(|i| ns(i.spec.advert_interval))
            .min()
            .unwrap_or(1_000_000_000);
        let window = (shortest / 10).min(COALESCE);
        // The backups' Master_Down_Timers.
        let mut firm = gather(now, window, |each| {
            for i in &self.instances {
                if let Some(t) = i.router.next_deadline()
                    && i.router.state() != State::Master
                {
                    each(t.saturating_sub(self.early()));
                }
            }
        });
        let mut master = false;
        for i in &self.instances {
            if let Some(b) = &i.broken {
                firm = firm.min(b.retry_at);
            }
            master |= i.router.state() == State::Master;
        }
        let beat = master.then_some(now + shortest);
        if let Some((_, at, false)) = self.statics_broken {
            firm = firm.min(at);
        }
        // The soft deadlines: masters' adverts, GARP bursts and refreshes, paced frames.
        let soft = gather(now, window, |each| {
            beat.into_iter().for_each(&mut *each);
            for i in &self.instances {
                if let Some(t) = i.router.next_deadline()
                    && i.router.state() == State::Master
                {
                    each(t);
                }
                if let Some(t) = i.garp_at.iter().map(|b| b.0).min() {
                    each(t);
                }
                i.refresh_at
                    .into_iter()
                    .chain(i.lower_at)
                    .for_each(&mut *each);
            }
            for (queue, next) in self.garp_queues.values() {
                if !queue.is_empty() {
                    each(*next);
                }
            }
            if !self.announcements.is_empty() {
                each(now);
            }
        });
        soft.min(firm)
    }

    fn log(&mut self, level: log::Level, line: String) {
        self.out.push(Effect::Log { level, line });
    }

    fn set_links(&mut self, config: &Config, host: &Host) {
        for name in watched(config) {
            let up = host.links.get(&name).copied().unwrap_or(false);
            self.links.insert(name, up);
        }
    }

    /// Starts the `vrrp_script`s (on start and on reload): a script of the same name keeps its
    /// state ([`ScriptState::carried`], keepalived's rule), so a failing check stays failing.
    fn start_scripts(&mut self, scripts: Vec<Script>) {
        let old = std::mem::take(&mut self.scripts);
        for script in &scripts {
            let state = match old.get(&script.name) {
                Some((was, st)) if st.ran() => {
                    let carried = st.carried(was, script);
                    self.log(
                        log::Level::Info,
                        format!(
                            "VRRP_Script({}) considered {} on reload",
                            script.name,
                            if carried.good {
                                "successful"
                            } else {
                                "unsuccessful"
                            }
                        ),
                    );
                    carried
                }
                _ => ScriptState::new(script),
            };
            self.scripts
                .insert(script.name.clone(), (script.clone(), state));
        }
        self.out.push(Effect::RunScripts(scripts));
    }

    /// Watches the `track_file`s and `vrrp_track_process`es (on start, and on a reload that
    /// changes them), starting from the values the driver read in `host`. A reloaded process
    /// of the same definition keeps its quorum (its delays are not run again).
    fn watch_tracked(&mut self, config: &Config, host: &Host) {
        let old = std::mem::take(&mut self.processes);
        self.files = config
            .track_files
            .iter()
            .map(|f| {
                let v = host.files.get(&f.name).copied().unwrap_or(0);
                (f.name.clone(), (f.clone(), v))
            })
            .collect();
        self.processes = config
            .track_processes
            .iter()
            .map(|p| {
                let up = match old.get(&p.name) {
                    Some((was, up)) if was == p => *up,
                    _ => host.processes.get(&p.name).copied().unwrap_or(false),
                };
                (p.name.clone(), (p.clone(), up))
            })
            .collect();
        self.out.push(Effect::WatchTracked {
            files: config.track_files.clone(),
            processes: config.track_processes.clone(),
        });
    }

    /// A tracked file's new value.
    fn file_value(&mut self, now: Nanos, name: &str, value: i64) {
        let Some((_, v)) = self.files.get_mut(name) else {
            return;
        };
        if *v == value {
            return;
        }
        *v = value;
        let why = format!("track_file {name} now {value}");
        self.log(log::Level::Info, why.clone());
        self.retrack(now, &why);
    }

    /// A tracked process's quorum gained or lost.
    fn process_quorum(&mut self, now: Nanos, name: &str, up: bool) {
        let Some((_, q)) = self.processes.get_mut(name) else {
            return;
        };
        if *q == up {
            return;
        }
        *q = up;
        // keepalived's line (vrrp_track.c, process_update_track_process_status).
        let why = format!(
            "Quorum {} for tracked process {name}",
            if up { "gained" } else { "lost" }
        );
        self.log(log::Level::Info, why.clone());
        self.retrack(now, &why);
    }

    /// Sets up one sync group of `specs`' instances and starts it (BACKUP).
    fn add_group(&mut self, spec: SyncGroupSpec, specs: &[InstanceSpec]) {
        let members = spec.instances.iter().map(|name| {
            let master = specs.iter().any(|i| &i.name == name && owner_master(i));
            (name.clone(), master)
        });
        let mut group = Group::new(&spec.name, members);
        let out = Outcome {
            orders: Vec::new(),
            transition: group.start(),
        };
        self.groups.push((spec, group));
        self.group_outcome(self.groups.len() - 1, out);
    }

    /// Makes sync group `spec` anew at a reload ([`Group::reloaded`]) around its members'
    /// kept states: `resumed` ones in theirs, kept ones in their router's, the others to start
    /// afresh. A BACKUP group takes its kept masters to BACKUP (those resumed go there as they
    /// are added, see [`Controller::resume`]).
    fn regroup(
        &mut self,
        now: Nanos,
        spec: SyncGroupSpec,
        specs: &[InstanceSpec],
        resumed: &BTreeMap<String, Resume>,
        was: State,
    ) {
        let members: Vec<(String, bool, State)> = spec
            .instances
            .iter()
            .map(|name| {
                let owner = specs.iter().any(|i| &i.name == name && owner_master(i));
                let state = match resumed.get(name) {
                    Some(r) => r.state,
                    None => self
                        .instances
                        .iter()
                        .find(|x| &x.spec.name == name)
                        .map_or(State::Initialize, |x| x.router.state()),
                };
                (name.clone(), owner, state)
            })
            .collect();
        let (group, transition) = Group::reloaded(&spec.name, members, was);
        let backup = group.state() != State::Master;
        if backup {
            self.group_reason
                .insert(spec.name.clone(), "configuration reloaded".into());
        }
        let names = spec.instances.clone();
        self.groups.push((spec, group));
        let out = Outcome {
            orders: Vec::new(),
            transition,
        };
        self.group_outcome(self.groups.len() - 1, out);
        if backup {
            for name in names {
                if let Some(i) = self
                    .instances
                    .iter()
                    .position(|x| x.spec.name == name && x.router.state() == State::Master)
                {
                    self.input(i, now, fsm::Input::ReloadBackup);
                }
            }
        }
    }

    fn group_of(&self, instance: &str) -> Option<usize> {
        self.groups.iter().position(|(_, g)| g.has(instance))
    }

    /// Logs and notifies a sync group's transition, and queues its orders for the members.
    fn group_outcome(&mut self, g: usize, out: Outcome) {
        if let Some(t) = out.transition {
            let spec = &self.groups[g].0;
            let event = Event::SyncGroup {
                group: spec.name.clone(),
                from: t.from.to_string(),
                to: t.to.to_string(),
                reason: t.reason.clone(),
            };
            let line = event.message();
            self.group_reason
                .insert(spec.name.clone(), t.reason.clone());
            // Always: the driver also writes the notify FIFO's line.
            let notify = Effect::RunNotify {
                notify: Box::new(spec.notify.clone()),
                kind: "GROUP",
                name: spec.name.clone(),
                state: t.to,
                priority: 0,
            };
            self.log(log::Level::Info, line);
            self.group_notifies.push(notify);
            self.out.push(Effect::Event {
                at: self.now,
                event,
            });
        }
        self.pending.extend(out.orders);
    }

    /// Starts one instance (after [`check`]): stale VIPs removed, the router and its VIPs in
    /// the maps, the state machine started in the state its sync group and tracking allow.
    /// `resume`: the state a reload keeps (see [`Resume`]), else a start.
    fn add_instance(
        &mut self,
        spec: InstanceSpec,
        host: &Host,
        now: Nanos,
        resume: Option<Resume>,
    ) {
        let Ok((primary, unicast_src)) = addresses(&spec, host) else {
            return;
        };
        let family = map_family(&spec);
        let master = resume.as_ref().is_some_and(|r| r.state == State::Master);
        // Stale VIPs, and before them routes and rules, that an earlier vrrpd (or keepalived)
        // left go; not those of a master kept across a reload, which are its own.
        if !master {
            if !spec.routes.is_empty() || !spec.rules.is_empty() {
                self.out.push(Effect::RemoveRoutes {
                    instance: spec.name.clone(),
                    routes: spec.routes.clone(),
                    rules: spec.rules.clone(),
                });
            }
            self.out.push(Effect::RemoveStaleVips {
                instance: spec.name.clone(),
                iface: spec.interface.clone(),
                vips: spec
                    .vips
                    .iter()
                    .chain(&spec.excluded_vips)
                    .cloned()
                    .collect(),
            });
        }
        for vip in &spec.excluded_vips {
            if family == Family::Ipv6 && vip.address.is_ipv4() {
                self.log(
                    log::Level::Warn,
                    format!(
                        "{}: {} is IPv4, excluded from an IPv6 instance: it is added and removed \
                         with the instance, but XDP does not answer ARP for it (the kernel does, \
                         from the interface's MAC)",
                        spec.name, vip.address
                    ),
                );
            }
        }
        let verdict = self.verdict(&spec);
        // keepalived 2.2.7 (vrrp_init_state) takes over at startup only as the address owner
        // with `state MASTER`, and in a sync group only if every member is one; any other
        // instance starts in BACKUP and waits its Master_Down_Interval. Nobody starts as
        // master with a fault. (A reload's kept state is not a start: its group is not asked.)
        let start_as_master = verdict != Verdict::Fault
            && resume.is_none()
            && spec.state == InitialState::Master
            && match self.group_of(&spec.name) {
                Some(g) => {
                    let group = &mut self.groups[g].1;
                    group.starts_master() && group.may_become_master(&spec.name)
                }
                None => true,
            };
        let mut router = Router::new(Params {
            version: spec.version,
            priority: spec.priority,
            advert_interval: spec.advert_interval,
            preempt: spec.preempt,
            preempt_delay: spec.preempt_delay,
            start_as_master,
            primary,
            lower_prio_no_advert: spec.lower_prio_no_advert,
        });
        if now < self.start_after {
            router.delay_start(self.start_after);
        }
        if let Verdict::Priority(p) = verdict
            && p != spec.priority
        {
            self.log(
                log::Level::Info,
                format!(
                    "{}: priority {} -> {p} (tracking)",
                    spec.name, spec.priority
                ),
            );
            router.handle(now, fsm::Input::SetPriority(p));
        }
        let nd_router = host
            .ifaces
            .get(&spec.interface)
            .is_some_and(|i| i.nd_router);
        self.instances.push(Inst {
            spec: Arc::new(spec),
            router,
            family,
            source: 0,
            primary,
            nd_router,
            unicast_src,
            fed_ns: 0,
            watch_from: now,
            garp_at: Vec::new(),
            refresh_at: None,
            lower_at: None,
            track_fault: false,
            fault: false,
            broken: None,
            since: now,
            reason: STARTING.into(),
            history: VecDeque::with_capacity(1),
            last_advert: None,
            adverts_sent: 0,
            split: None,
            split_brains: 0,
            conflicting_adverts: 0,
            mismatch: None,
            conflict: None,
            address_conflicts: 0,
            send_failures: 0,
            csum_mismatch: None,
            addr_drops: None,
            addr_mismatch: None,
        });
        let i = self.instances.len() - 1;
        self.instances[i].source = Self::source_of(&mut self.sources, &self.instances[i]);
        let iface = self.instances[i].spec.interface.clone();
        // A kept master's XDP entry stays a master's: it answers for the VIPs throughout.
        self.set_router(i, master);
        let inst = &self.instances[i];
        self.out.push(Effect::MapVips {
            instance: inst.name(),
            iface,
            family,
            vrid: inst.spec.vrid.get(),
            vips: inst.mapped_vips(),
        });
        match resume {
            None => self.input(i, now, fsm::Input::Startup),
            Some(r) => self.resume(i, now, r),
        }
        if verdict == Verdict::Fault {
            self.instances[i].track_fault = true;
            self.apply_fault(i, now);
        }
    }

    /// Starts the new router of instance `i` in the state a reload keeps: a master's VIPs,
    /// routes and VMAC are (still) there, its advert leaves now, and gratuitous ARPs / NAs go
    /// out only if the reload added a VIP (one burst for all, as keepalived's
    /// `vrrp_send_link_update` after restore_vrrp_state); a backup's timer starts now.
    fn resume(&mut self, i: usize, now: Nanos, r: Resume) {
        let name = self.instances[i].name();
        let actions = self.instances[i].router.resume(now, r.state);
        // A master in a sync group the reload made BACKUP ([`Controller::regroup`]) goes to
        // BACKUP at once: its advert does not leave, its VIPs go, without a priority 0.
        if r.state == State::Master
            && let Some(g) = self.group_of(&name)
            && self.groups[g].1.state() != State::Master
        {
            self.input(i, now, fsm::Input::ReloadBackup);
            return;
        }
        if r.state == State::Master {
            let inst = &mut self.instances[i];
            let garp = inst.spec.garp;
            if inst.mapped_vips().iter().any(|a| !r.vips.contains(a)) {
                inst.garp_at = vec![(now, garp.master_repeat.max(1))];
            }
            self.hold_vips(i, now);
        }
        for action in actions {
            self.act(i, now, action);
        }
        self.log(
            log::Level::Info,
            format!("{name}: reloaded in place, stays {}", r.state),
        );
    }

    /// Forgets instance `i`, whose new configuration a reload starts in its state
    /// ([`Resume`]): no priority 0, nothing released but what `new` no longer has (its VIPs,
    /// their XDP entries, its routes and rules); what it was, for its history.
    fn retire_instance(&mut self, i: usize, new: &InstanceSpec) -> Inst {
        let inst = self.instances.remove(i);
        self.index_sources();
        let instance = inst.name();
        self.drop_announcements(&instance);
        let kept: Vec<IpAddr> = new
            .vips
            .iter()
            .chain(&new.excluded_vips)
            .map(|v| v.address)
            .collect();
        if inst.router.state() == State::Master {
            let routes = not_in(&inst.spec.routes, &new.routes);
            let rules = not_in(&inst.spec.rules, &new.rules);
            if !routes.is_empty() || !rules.is_empty() {
                self.out.push(Effect::RemoveRoutes {
                    instance: instance.clone(),
                    routes,
                    rules,
                });
            }
            let gone: Vec<Vip> = inst
                .all_vips()
                .into_iter()
                .filter(|v| !kept.contains(&v.address))
                .collect();
            if !gone.is_empty() {
                self.out.push(Effect::RemoveVips {
                    instance: instance.clone(),
                    iface: inst.spec.interface.clone(),
                    vips: gone,
                });
            }
        }
        let unmapped = not_in(&inst.mapped_vips(), &kept);
        if !unmapped.is_empty() {
            self.out.push(Effect::UnmapVips {
                instance,
                iface: inst.spec.interface.clone(),
                family: inst.family,
                vips: unmapped,
            });
        }
        inst
    }

    /// Stops instance `i` as SIGTERM would (priority 0 if master, VIPs released) and forgets it;
    /// what it was, for its history.
    fn remove_instance(&mut self, i: usize, now: Nanos) -> Inst {
        self.input(i, now, fsm::Input::Shutdown);
        // One whose effects failed may hold what FAULT should have released: once more.
        if self.instances[i].broken.is_some() {
            self.release(i);
        }
        let inst = self.instances.remove(i);
        self.index_sources();
        let mut cleared = inst.router_config(false);
        cleared.flags = 0;
        self.out.push(Effect::SetRouter {
            instance: inst.name(),
            iface: inst.spec.interface.clone(),
            family: inst.family,
            vrid: inst.spec.vrid.get(),
            config: cleared,
        });
        self.out.push(Effect::UnmapVips {
            instance: inst.name(),
            iface: inst.spec.interface.clone(),
            family: inst.family,
            vips: inst.mapped_vips(),
        });
        inst
    }

    /// A new configuration: a bad one is refused and the running one stays; otherwise
    /// unchanged instances keep their state (a master stays master), and so do changed ones
    /// that are still the same router ([`Resume`]); other changed ones restart (with their
    /// sync groups), removed ones stop, new ones start.
    /// Applies `config` in place of the running one; with `recreated`, the instances on that
    /// interface restart too, unchanged as they are (their interface, maps and sockets are new).
    fn reload(&mut self, now: Nanos, config: &Config, host: &Host, recreated: Option<&str>) {
        if let Err(e) = admit(config, host) {
            self.log(
                log::Level::Error,
                format!("reload refused ({e}); the running configuration stays"),
            );
            self.reload_outcome = Some(Err(e));
            return;
        }
        let config = &usable_scripts(config, host, &mut self.out);
        self.config = without_instances(config);
        self.iface_info = host.ifaces.clone();
        self.garp_interval = config.global.garp_interval_us * 1_000;
        self.gna_interval = config.global.gna_interval_us * 1_000;
        let changed = config.scripts.len() != self.scripts.len()
            || config
                .scripts
                .iter()
                .any(|s| self.scripts.get(&s.name).is_none_or(|(old, _)| old != s));
        if changed {
            self.start_scripts(config.scripts.clone());
        }
        let tracked_changed = config.track_files.len() != self.files.len()
            || config.track_processes.len() != self.processes.len()
            || config
                .track_files
                .iter()
                .any(|f| self.files.get(&f.name).is_none_or(|(old, _)| old != f))
            || config
                .track_processes
                .iter()
                .any(|p| self.processes.get(&p.name).is_none_or(|(old, _)| old != p));
        if tracked_changed {
            self.watch_tracked(config, host);
        }
        let new = &config.instances;
        // keepalived 2.2.7 keeps the state of a changed instance that is still the same router
        // ([`Resume`]): a master stays master (no priority 0, its VIPs stay but those the
        // reload took away), a backup stays backup; not one in FAULT or with a failed effect,
        // nor one on an interface created again (its maps are new). Any other changed
        // instance restarts. A sync group whose members changed, or one of whose members
        // restarts, is made anew around its members' kept states (`Group::reloaded`): MASTER
        // if they all are, else BACKUP, its masters then going to BACKUP without a priority 0
        // (vrrp_complete_init and vrrp_init_state). A kept member of such a group that is not
        // MASTER or BACKUP (in FAULT, its own or the group's) restarts, and its fault, if
        // still there, is the new group's. A group whose members stay is kept as it is.
        let new_groups = &config.sync_groups;
        let old_groups: Vec<SyncGroupSpec> = self.groups.iter().map(|(s, _)| s.clone()).collect();
        let differs = |x: &Inst| {
            !new.iter().any(|n| n.same_but_routes(&x.spec))
                || Some(x.spec.interface.as_str()) == recreated
        };
        let steady = |x: &Inst| {
            matches!(x.router.state(), State::Master | State::Backup) && x.broken.is_none()
        };
        let mut resumed: BTreeMap<String, Resume> = self
            .instances
            .iter()
            .filter(|x| {
                differs(x)
                    && steady(x)
                    && Some(x.spec.interface.as_str()) != recreated
                    && new
                        .iter()
                        .any(|n| n.name == x.spec.name && same_router(&x.spec, n))
            })
            .map(|x| {
                let resume = Resume {
                    state: x.router.state(),
                    vips: x.mapped_vips(),
                };
                (x.name(), resume)
            })
            .collect();
        let mut restart: BTreeSet<String> = self
            .instances
            .iter()
            .filter(|x| differs(x) && !resumed.contains_key(&x.spec.name))
            .map(Inst::name)
            .collect();
        restart.extend(
            new.iter()
                .filter(|s| !self.instances.iter().any(|x| x.spec.name == s.name))
                .map(|s| s.name.clone()),
        );
        // A group with the same members (its notify commands or `sync_group_tracking_weight`
        // changed) is kept, with its new spec, unless a member restarts.
        let same_members =
            |a: &SyncGroupSpec, b: &SyncGroupSpec| a.name == b.name && a.instances == b.instances;
        let mut regroup: Vec<&SyncGroupSpec> = old_groups
            .iter()
            .filter(|g| !new_groups.iter().any(|n| same_members(g, n)))
            .chain(
                new_groups
                    .iter()
                    .filter(|g| !old_groups.iter().any(|o| same_members(o, g))),
            )
            .collect();
        loop {
            let before = (restart.len(), regroup.len());
            for g in &regroup {
                restart.extend(
                    self.instances
                        .iter()
                        .filter(|x| g.instances.contains(&x.spec.name) && !steady(x))
                        .map(Inst::name),
                );
            }
            for g in old_groups.iter().chain(new_groups) {
                if !regroup.contains(&g) && g.instances.iter().any(|i| restart.contains(i)) {
                    regroup.push(g);
                }
            }
            if (restart.len(), regroup.len()) == before {
                break;
            }
        }
        resumed.retain(|name, _| !restart.contains(name));
        for (spec, _) in &mut self.groups {
            if !regroup.iter().any(|g| g.name == spec.name)
                && let Some(n) = new_groups.iter().find(|n| same_members(spec, n))
            {
                *spec = n.clone();
            }
        }
        let (mut kept, mut stopped, mut started) = (0, 0, 0);
        let (mut stopped_names, mut started_names) = (Vec::new(), Vec::new());
        let mut changed_names = Vec::new();
        // A restarted instance keeps its history and its reports' counts (by name).
        let mut carried: BTreeMap<String, Inst> = BTreeMap::new();
        self.cause = match recreated {
            Some(iface) => format!("{iface} was created again"),
            None => "configuration reloaded".into(),
        };
        let mut i = 0;
        while i < self.instances.len() {
            let name = self.instances[i].name();
            // (Every resumed instance has its new spec: `same_router` found it.)
            let kept_as = resumed
                .contains_key(&name)
                .then(|| new.iter().find(|n| n.name == name))
                .flatten();
            if let Some(spec) = kept_as {
                let old = self.retire_instance(i, spec);
                carried.insert(name, old);
            } else if restart.contains(&name) || resumed.contains_key(&name) {
                stopped_names.push(name);
                let old = self.remove_instance(i, now);
                carried.insert(old.name(), old);
                stopped += 1;
            } else {
                kept += 1;
                i += 1;
            }
        }
        // The state each group had, for the one of its name that a reload makes anew.
        let mut was: BTreeMap<String, State> = BTreeMap::new();
        let mut g = 0;
        while g < self.groups.len() {
            let spec = &self.groups[g].0;
            if new_groups.contains(spec) && !regroup.contains(&spec) {
                g += 1;
                continue;
            }
            let (spec, mut group) = self.groups.remove(g);
            if new_groups.iter().any(|n| n.name == spec.name) {
                was.insert(spec.name, group.state());
            } else if let Some(t) = group.stop() {
                let event = Event::SyncGroup {
                    group: spec.name.clone(),
                    from: t.from.to_string(),
                    to: t.to.to_string(),
                    reason: t.reason.clone(),
                };
                self.log(log::Level::Info, event.message());
                self.event(now, event);
                self.out.push(Effect::RunNotify {
                    notify: Box::new(spec.notify.clone()),
                    kind: "GROUP",
                    name: spec.name.clone(),
                    state: t.to,
                    priority: 0,
                });
            }
        }
        for spec in new_groups {
            if !self.groups.iter().any(|(s, _)| s == spec) {
                let was = was.get(&spec.name).copied().unwrap_or(State::Initialize);
                self.regroup(now, spec.clone(), new, &resumed, was);
            }
        }
        self.drain(now);
        let mut rerouted = Vec::new();
        for i in 0..self.instances.len() {
            if let Some(spec) = new.iter().find(|s| s.name == self.instances[i].spec.name)
                && *spec != *self.instances[i].spec
            {
                rerouted.push(spec.name.clone());
                self.reroute(i, spec.clone());
            }
        }
        let statics = Statics::of(config);
        if statics != self.statics {
            self.out.extend(self.statics.minus(&statics).remove());
            self.out.extend(statics.minus(&self.statics).add());
            self.statics = statics;
        }
        // Link states for the new configuration's interfaces; the kept ones' stay as known.
        for name in watched(config) {
            let up = host.links.get(&name).copied().unwrap_or(false);
            self.links.entry(name).or_insert(up);
        }
        let (mark, beat_at) = (self.out.len(), self.beat_at.replace(now));
        let mut added = false;
        for spec in new {
            if !self.instances.iter().any(|x| *x.spec == *spec) {
                added = true;
                let resume = resumed.remove(&spec.name);
                let in_place = resume.is_some();
                self.add_instance(spec.clone(), host, now, resume);
                if let Some(old) = carried.remove(&spec.name)
                    && let Some(new) = self.instances.iter_mut().find(|x| x.spec.name == spec.name)
                {
                    let fresh = std::mem::replace(&mut new.history, old.history);
                    for t in fresh {
                        incident::record(&mut new.history, t);
                    }
                    if in_place && new.since == now && new.reason.as_ref() == STARTING {
                        (new.since, new.reason) = (old.since, old.reason);
                    }
                    new.split_brains += old.split_brains;
                    new.address_conflicts += old.address_conflicts;
                    new.adverts_sent += old.adverts_sent;
                }
                if in_place {
                    changed_names.push(spec.name.clone());
                } else {
                    started += 1;
                    started_names.push(spec.name.clone());
                }
            }
        }
        self.beats_before(mark, now, added, beat_at);
        // In the file's order again, restarted and changed ones too (status lists them so).
        let order: BTreeMap<&str, usize> = new
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        self.instances
            .sort_by_key(|x| order.get(x.spec.name.as_str()).copied());
        self.index_sources();
        self.keep_specs(config);
        self.retrack(now, "reload");
        let in_place = match changed_names.len() {
            0 => String::new(),
            n => format!(", {n} changed in place"),
        };
        let summary = format!(
            "reloaded: {kept} instance(s) unchanged{in_place}, {stopped} stopped, {started} started"
        );
        let mut outcome = summary.clone();
        for (what, names) in [
            ("changed in place", &changed_names),
            ("stopped", &stopped_names),
            ("started", &started_names),
        ] {
            if !names.is_empty() {
                outcome.push_str(&format!("; {what}: {}", names.join(", ")));
            }
        }
        if !rerouted.is_empty() {
            outcome.push_str(&format!("; routes updated: {}", rerouted.join(", ")));
        }
        if changed {
            outcome.push_str("; scripts restarted");
        }
        self.reload_outcome = Some(Ok(outcome));
        self.log(log::Level::Info, summary);
        // A reload may name other groups, or the interface other addresses (one created again
        // has none joined yet): held now, and a failure is the FAULT of the interface's
        // instances.
        self.join_groups();
    }

    /// A reload's file as the driver read it: applied, or refused with why (a file that did not
    /// load, an interface that could not be opened, an instance that cannot run here); the
    /// running configuration stays when refused. Answered either way.
    fn loaded(
        &mut self,
        now: Nanos,
        path: &str,
        warnings: Vec<String>,
        loaded: Result<Box<(Config, Host)>, Vec<String>>,
    ) {
        let refused = format!("reload of {path} refused; the running configuration stays");
        for w in &warnings {
            self.log(log::Level::Warn, w.clone());
        }
        let said = |c: &mut Self, mut lines: Vec<String>| {
            lines.push(refused.clone());
            for l in &lines {
                c.log(log::Level::Error, l.clone());
            }
            lines
        };
        let (applied, lines) = match loaded {
            // The warnings of a file that did not load are said, not answered.
            Err(errors) => (false, said(self, errors)),
            Ok(loaded) => {
                let (config, host) = *loaded;
                let mut lines = warnings;
                if let Err(why) = admit(&config, &host) {
                    // The rule vrrpd started by: the same words, where the file says it.
                    lines.extend(said(self, vec![why]));
                    (false, lines)
                } else if self.stopping.is_some() {
                    lines.push(STOPPING.into());
                    (false, lines)
                } else {
                    self.reload(now, &config, &host, None);
                    match self.reload_outcome.take() {
                        Some(Ok(done)) => {
                            lines.push(done);
                            (true, lines)
                        }
                        // Said already, by `reload`.
                        outcome => {
                            lines.extend(outcome.and_then(Result::err));
                            lines.push(refused.clone());
                            (false, lines)
                        }
                    }
                }
            }
        };
        self.out.push(Effect::AnswerReload { applied, lines });
    }

    /// The multicast groups each interface holds: on an interface with a multicast instance
    /// (one without unicast peers), the group its adverts go to, of its family
    /// (`vrrp_mcast_group4`, joined through the interface's primary IPv4 address as the
    /// driver last read it, or `vrrp_mcast_group6`), as keepalived joins one group per family
    /// and interface of its multicast instances. An interface without one holds none.
    pub fn groups(&self) -> BTreeMap<String, Vec<McastGroup>> {
        let mut out: BTreeMap<String, Vec<McastGroup>> = BTreeMap::new();
        for inst in self.instances.iter().filter(|i| i.unicast_src.is_none()) {
            let iface = &inst.spec.interface;
            let group = match inst.primary {
                IpAddr::V4(primary) => McastGroup::V4 {
                    group: inst.spec.mcast_group4,
                    local: self
                        .iface_info
                        .get(iface)
                        .and_then(|i| i.primary4)
                        .unwrap_or(primary),
                },
                IpAddr::V6(_) => McastGroup::V6 {
                    group: inst.spec.mcast_group6,
                },
            };
            let groups = out.entry(iface.clone()).or_default();
            if let Err(at) = groups.binary_search(&group) {
                groups.insert(at, group);
            }
        }
        out
    }

    /// Tells the driver the groups of every interface ([`Controller::groups`]), and that one
    /// which held groups holds none now (at start and after a reload: joining again what is
    /// joined is a no-op, and an interface created again has lost its memberships).
    fn join_groups(&mut self) {
        let wanted = self.groups();
        for iface in self.joined.keys() {
            if !wanted.contains_key(iface) {
                self.out.push(Effect::JoinGroups {
                    iface: iface.clone(),
                    groups: Vec::new(),
                });
            }
        }
        for (iface, groups) in &wanted {
            self.out.push(Effect::JoinGroups {
                iface: iface.clone(),
                groups: groups.clone(),
            });
        }
        self.joined = wanted;
    }

    /// A kept instance whose `virtual_routes` or `virtual_rules` changed: while it holds its
    /// VIPs, the routes and rules it no longer has are removed and the new ones added, the
    /// VIPs untouched.
    fn reroute(&mut self, i: usize, spec: InstanceSpec) {
        let holds =
            self.instances[i].router.state() == State::Master && self.instances[i].broken.is_none();
        let old = std::mem::replace(&mut self.instances[i].spec, Arc::new(spec));
        if !holds {
            return;
        }
        let new = &self.instances[i].spec;
        let (routes, rules) = (
            not_in(&old.routes, &new.routes),
            not_in(&old.rules, &new.rules),
        );
        let (add_routes, add_rules) = (
            not_in(&new.routes, &old.routes),
            not_in(&new.rules, &old.rules),
        );
        let instance = new.name.clone();
        if !routes.is_empty() || !rules.is_empty() {
            self.out.push(Effect::RemoveRoutes {
                instance: instance.clone(),
                routes,
                rules,
            });
        }
        if !add_routes.is_empty() || !add_rules.is_empty() {
            self.out.push(Effect::AddRoutes {
                instance,
                routes: add_routes,
                rules: add_rules,
            });
        }
    }

    /// Every interface's heartbeat for XDP's liveness gate, in one pass over the instances
    /// (it runs at every tick while we are master of a router or hand over: at start it ran
    /// once per instance, over all of them). It is
    /// stale once older than one and a half of the interface's shortest advert interval: the
    /// controller wakes at least once that interval while it is master of a router (see
    /// [`Controller::next_wake`]) and writes it at every wake, so a stale heartbeat means the
    /// daemon is gone (or stalled). It must be stale by the time a backup takes over
    /// (Master_Down_Interval after our last advert, at least two intervals after our last
    /// heartbeat, which follows that advert by at most an interval): a gate still fresh then
    /// kept answering ARP from the VMAC after the new master's first advert, moved the
    /// switch's entry for the VMAC back to the dead node, and closed a moment later, when the
    /// Master_Down_Interval it used to wait ran out, dropping the clients' frames until the
    /// new master next sent from the VMAC. (A host that is master of no router wakes only for
    /// its timers: the gate matters only for a router we are master of, and a takeover writes
    /// the heartbeats first.)
    fn heartbeats(&mut self, now: Nanos) -> Vec<Effect> {
        self.beat_at = Some(now);
        // (interface, largest Master_Down_Interval, shortest advert interval, no_accept):
        // gathered by each instance's source (interface and family), then by interface (a
        // few, so a linear search), without comparing a name per instance.
        type Beat<'a> = (&'a str, Micros, Nanos, bool);
        fn merge(into: &mut Beat<'_>, from: &Beat<'_>) {
            into.1 = into.1.max(from.1);
            into.2 = into.2.min(from.2);
            into.3 |= from.3;
        }
        let mut by_source: Vec<Option<Beat<'_>>> = vec![None; self.sources.len()];
        for i in &self.instances {
            let beat = (
                &*i.spec.interface,
                i.router.master_down_interval(),
                ns(i.spec.advert_interval),
                i.refuses_vip_traffic(),
            );
            match by_source.get_mut(i.source) {
                Some(Some(into)) => {
                    debug_assert_eq!(into.0, beat.0, "an instance's source is its interface's");
                    merge(into, &beat)
                }
                Some(slot) => *slot = Some(beat),
                // Not indexed (not expected): gathered by its name below.
                None => by_source.push(Some(beat)),
            }
        }
        let mut ifaces: Vec<Beat<'_>> = Vec::new();
        for beat in by_source.into_iter().flatten() {
            match ifaces.iter_mut().find(|f| f.0 == beat.0) {
                Some(into) => merge(into, &beat),
                None => ifaces.push(beat),
            }
        }
        ifaces.sort_unstable_by(|a, b| a.0.cmp(b.0));
        ifaces
            .into_iter()
            .map(|(iface, down, shortest, no_accept)| Effect::Heartbeat {
                iface: iface.to_string(),
                at: now,
                stale_after_ns: shortest + shortest / 2,
                hold_ns: 2 * down.as_nanos(),
                no_accept,
            })
            .collect()
    }

    /// Whether we are master of any router (XDP's liveness gate then needs the heartbeat).
    pub fn masters_any(&self) -> bool {
        self.instances
            .iter()
            .any(|i| i.router.state() == State::Master)
    }

    /// Instances started (at start or by a reload) after `mark` in the effects: the
    /// heartbeats go before them, once, for every interface (with the `no_accept` of all of
    /// them: the flag must be on before a router entry that needs it). `beat_at` was the
    /// time of the last heartbeats before, restored if nothing was started.
    fn beats_before(&mut self, mark: usize, now: Nanos, added: bool, beat_at: Option<Nanos>) {
        if !added {
            self.beat_at = beat_at;
            return;
        }
        let beats = self.heartbeats(now);
        self.out.splice(mark..mark, beats);
    }

    /// Starts the instances of `specs` (at start): their heartbeats once, before them all.
    fn add_instances(
        &mut self,
        specs: impl IntoIterator<Item = InstanceSpec>,
        host: &Host,
        now: Nanos,
    ) {
        let (mark, beat_at) = (self.out.len(), self.beat_at.replace(now));
        let mut added = false;
        for spec in specs {
            added = true;
            self.add_instance(spec, host, now, None);
        }
        self.beats_before(mark, now, added, beat_at);
    }

    fn set_router(&mut self, i: usize, master: bool) {
        let inst = &self.instances[i];
        self.out.push(Effect::SetRouter {
            instance: inst.name(),
            iface: inst.spec.interface.clone(),
            family: inst.family,
            vrid: inst.spec.vrid.get(),
            config: inst.router_config(master),
        });
    }

    /// What an instance's tracking makes of it: its own interface (weight 0, as keepalived
    /// tracks it unless `dont_track_primary`), its tracked interfaces and its scripts, in
    /// keepalived's one sum.
    fn verdict(&self, spec: &InstanceSpec) -> Verdict {
        let up = |n: &str| self.links.get(n).copied().unwrap_or(false);
        let own = (!spec.dont_track_primary).then(|| Tracked {
            weight: 0,
            reverse: false,
            up: up(&spec.interface),
        });
        let scripts = track::scripts(&spec.track_scripts, |n| {
            self.scripts.get(n).map(|(s, st)| (s, st))
        });
        let files = spec.track_files.iter().filter_map(|t| {
            let (f, value) = self.files.get(&t.file)?;
            Some(track::file(
                *value,
                i32::from(t.weight.unwrap_or(f.weight)),
                t.reverse.unwrap_or(f.reverse),
            ))
        });
        let processes = spec.track_processes.iter().filter_map(|t| {
            let (p, q) = self.processes.get(&t.process)?;
            Some(Tracked {
                weight: t.weight.unwrap_or(p.weight),
                reverse: t.reverse.unwrap_or(p.reverse),
                up: *q,
            })
        });
        track::effective(
            spec.priority,
            own.into_iter()
                .chain(track::interfaces(&spec.track_interfaces, up))
                .chain(scripts)
                .chain(processes)
                .map(track::Adjust::from)
                .chain(files),
        )
    }

    /// Applies every instance's tracking verdict after `why` changed something: a new
    /// effective priority (which the next advert carries, and XDP's map at once), or FAULT.
    fn retrack(&mut self, now: Nanos, why: &str) {
        self.cause = why.to_string();
        for i in 0..self.instances.len() {
            match self.verdict(&self.instances[i].spec) {
                Verdict::Fault => self.instances[i].track_fault = true,
                Verdict::Priority(p) => {
                    let old = self.instances[i].router.priority();
                    if p != old {
                        let line = format!(
                            "{}: priority {old} -> {p} ({why})",
                            self.instances[i].name()
                        );
                        self.log(log::Level::Info, line);
                        // keepalived writes the line as the priority changes, in the state
                        // the instance is in then (the address owner's never changes).
                        if self.instances[i].spec.notify.priority_changes == Some(true) {
                            let master = self.instances[i].router.state() == State::Master;
                            self.out.push(Effect::NotifyEvent {
                                command: None,
                                instance: self.instances[i].name(),
                                event: if master {
                                    "MASTER_PRIORITY"
                                } else {
                                    "BACKUP_PRIORITY"
                                },
                                priority: p.get(),
                            });
                        }
                        self.input(i, now, fsm::Input::SetPriority(p));
                        let master = self.instances[i].router.state() == State::Master;
                        self.set_router(i, master);
                    }
                    self.instances[i].track_fault = false;
                }
            }
            self.apply_fault(i, now);
        }
    }

    /// Instance `i` is in FAULT by its tracking or a failing effect, or no longer: FAULT (a
    /// master sends priority 0 and releases its VIPs, as keepalived does) or back to BACKUP;
    /// in a sync group, the group decides for all its members.
    fn apply_fault(&mut self, i: usize, now: Nanos) {
        let inst = &self.instances[i];
        let faulty = inst.track_fault || inst.broken.is_some();
        if inst.fault == faulty {
            return;
        }
        self.instances[i].fault = faulty;
        let name = self.instances[i].name();
        match self.group_of(&name) {
            Some(g) => {
                let out = self.groups[g].1.set_fault(&name, faulty);
                self.group_outcome(g, out);
                self.drain(now);
            }
            None => {
                let input = if faulty {
                    fsm::Input::Fault
                } else {
                    fsm::Input::FaultCleared
                };
                self.input(i, now, input);
            }
        }
    }

    fn links_now(&mut self, now: Nanos, states: Vec<(String, bool)>) {
        let mut changes = Vec::new();
        for (name, up) in states {
            if !self.links.contains_key(&name) {
                continue;
            }
            // Created again but not opened yet: down, whatever its link says.
            let up = up && !self.reopening.contains(&name);
            if self.links.insert(name.clone(), up) != Some(up) {
                let change = format!("{name} {}", if up { "up" } else { "down" });
                self.log(log::Level::Info, format!("interface {change}"));
                changes.push(change);
            }
        }
        if !changes.is_empty() {
            self.chores.dirty();
            self.retrack(now, &changes.join(", "));
        }
    }

    fn script_result(&mut self, now: Nanos, name: &str, success: bool) {
        let Some((script, state)) = self.scripts.get_mut(name) else {
            return;
        };
        let changed = state.record(script, success);
        let verdict = if state.good { "succeeding" } else { "failing" };
        let before = self.script_last.insert(name.to_string(), success);
        if changed || before != Some(success) {
            let event = Event::Script {
                script: name.to_string(),
                success,
                verdict: verdict.into(),
                changed,
            };
            self.event(now, event);
        }
        if !changed {
            return;
        }
        let Some((_, state)) = self.scripts.get(name) else {
            return;
        };
        let why = format!(
            "script {name} {}",
            if state.good { "succeeding" } else { "failing" }
        );
        self.log(log::Level::Info, why.clone());
        self.retrack(now, &why);
    }

    /// Feeds one input to instance `i` and carries out its actions, then what its sync group
    /// orders for the other members.
    fn input(&mut self, i: usize, now: Nanos, input: fsm::Input) {
        self.feed(i, now, input);
        self.drain(now);
    }

    fn feed(&mut self, i: usize, now: Nanos, input: fsm::Input) {
        let actions = self.instances[i].router.handle(now, input);
        for action in actions {
            self.act(i, now, action);
        }
    }

    /// Feeds the sync groups' orders until there are no more.
    fn drain(&mut self, now: Nanos) {
        while let Some(order) = self.pending.pop_front() {
            if let Some(j) = self
                .instances
                .iter()
                .position(|x| x.spec.name == order.member)
            {
                self.feed(j, now, order.input);
            }
        }
        if !self.hold_group_notifies {
            self.out.append(&mut self.group_notifies);
        }
    }

    fn act(&mut self, i: usize, now: Nanos, action: Action) {
        match action {
            Action::SendAdvert { priority } => {
                self.instances[i].adverts_sent += 1;
                let inst = &self.instances[i];
                self.out.push(Effect::SendAdvert {
                    spec: inst.spec.clone(),
                    primary: inst.primary,
                    unicast_src: inst.unicast_src,
                    priority,
                });
            }
            Action::TakeOver => {
                // XDP answers ARP from the VMAC first, then the kernel gets the addresses,
                // then the advert announcing us leaves (and moves the switch's entry for the
                // VMAC to us): by then we answer for the VIPs. (The other way round the kernel
                // would answer ARP for a VIP with its own MAC meanwhile: XDP passes ARP for a
                // VIP it is not master of.) A host of backups only does not wake every
                // interval to keep its heartbeat fresh: it is written first.
                if self.beat_at != Some(now) {
                    let beats = self.heartbeats(now);
                    self.out.extend(beats);
                }
                self.set_router(i, true);
                let inst = &mut self.instances[i];
                // keepalived: a burst now, another after garp_master_delay, and one every
                // garp_master_refresh (of garp_master_refresh_repeat) while master.
                let garp = inst.spec.garp;
                inst.garp_at = vec![(now, garp.master_repeat.max(1))];
                if garp.master_delay_s > 0 {
                    inst.garp_at.push((
                        now + u64::from(garp.master_delay_s) * 1_000_000_000,
                        garp.master_repeat.max(1),
                    ));
                }
                self.hold_vips(i, now);
            }
            Action::Release => {
                // Priority 0 leaves first: the backup's Skew_Time runs while we let go.
                self.out.push(Effect::Flush);
                match &mut self.stopping {
                    Some(s) => s.deferred.push(i),
                    None => self.release(i),
                }
            }
            Action::StateChanged { from, to, reason } => {
                // A router entering BACKUP starts its Master_Down_Timer now: a stamp XDP
                // recorded before (while it was in FAULT, or just before the instance was
                // made) must not restart the timer in the past (see `watch_from`).
                if to == State::Backup {
                    self.instances[i].watch_from = now;
                }
                let detail = self.detail(i, now, reason);
                if from == State::Master {
                    self.end_split(i, now, format!("we are {to} now"));
                    self.instances[i].conflict = None;
                }
                let inst = &mut self.instances[i];
                inst.since = now;
                inst.reason = detail.as_str().into();
                incident::record(
                    &mut inst.history,
                    Transition {
                        at_ns: now,
                        from,
                        to,
                        reason: Arc::clone(&inst.reason),
                    },
                );
                let event = Event::Transition {
                    instance: inst.name(),
                    vrid: inst.spec.vrid.get(),
                    from: from.to_string(),
                    to: to.to_string(),
                    reason: detail.clone(),
                    priority: inst.router.priority().get(),
                };
                self.out.push(Effect::StateChanged {
                    instance: self.instances[i].name(),
                    from,
                    to,
                    reason,
                    detail,
                });
                self.event(now, event);
                let inst = &self.instances[i];
                let name = inst.name();
                // Leaving FAULT passes through INIT on the way to BACKUP: not a stop (keepalived
                // runs no notify_stop there).
                let leaving_fault = (to, reason) == (State::Initialize, fsm::Reason::FaultCleared);
                // Also without scripts: the driver writes the notify FIFO's line.
                if !leaving_fault {
                    self.out.push(Effect::RunNotify {
                        notify: Box::new(inst.spec.notify.clone()),
                        kind: "INSTANCE",
                        name: name.clone(),
                        state: to,
                        priority: inst.router.priority().get(),
                    });
                }
                if let Some(g) = self.group_of(&name) {
                    let out = self.groups[g].1.member_changed(&name, from, to);
                    self.group_outcome(g, out);
                }
            }
        }
    }

    /// A master's share of the kernel for instance `i`: its VIPs, then its routes and rules,
    /// and the VMAC in the interface's filter; its GARP refresh timer, and the GARP bursts
    /// due now.
    fn hold_vips(&mut self, i: usize, now: Nanos) {
        let inst = &mut self.instances[i];
        let (instance, iface, vmac) = (inst.name(), inst.spec.interface.clone(), inst.vmac());
        let garp = inst.spec.garp;
        inst.refresh_at = (garp.master_refresh_s > 0)
            .then(|| now + u64::from(garp.master_refresh_s) * 1_000_000_000);
        let vips = inst.all_vips();
        let routes = inst.add_routes();
        self.out.push(Effect::AddVips {
            instance: instance.clone(),
            iface: iface.clone(),
            vips,
        });
        self.out.extend(routes);
        self.out.push(Effect::Flush);
        self.out.push(Effect::JoinVmac {
            instance,
            iface,
            vmac,
        });
        self.send_garps(i, now);
    }

    /// Gives up the VIPs of instance `i`: routes, VIPs, then XDP's router entry, so that XDP
    /// answers from the VMAC until the kernel has let the VIPs go and there is no moment with
    /// two answers from different MACs.
    fn release(&mut self, i: usize) {
        let inst = &mut self.instances[i];
        inst.garp_at.clear();
        inst.refresh_at = None;
        inst.lower_at = None;
        let (instance, iface, vmac) = (inst.name(), inst.spec.interface.clone(), inst.vmac());
        let vips = inst.all_vips();
        let routes = inst.remove_routes();
        self.drop_announcements(&instance);
        self.out.extend(routes);
        self.out.push(Effect::RemoveVips {
            instance: instance.clone(),
            iface: iface.clone(),
            vips,
        });
        // The router entry after the VIPs: until the kernel has let them go, XDP answers ARP
        // for them from the VMAC, as the new master does. Cleared first, it passed the
        // requests to a kernel that still held the VIPs for a moment, and that answered from
        // the interface's own MAC (one request of 1,032 in `bench failover`'s 10 ms SIGTERM
        // cell: two MACs for the VIP).
        self.set_router(i, false);
        self.out.push(Effect::LeaveVmac {
            instance,
            iface,
            vmac,
        });
    }

    /// A master heard a lower priority advert (keepalived's `garp_lower_prio_repeat`): a burst
    /// now and, with `garp_lower_prio_delay`, another one later, so that a router that took
    /// over by mistake (it did not hear us) gives the switch and the hosts back to us. A
    /// unicast master would otherwise leave the switch pointing the VMAC at the other router
    /// until a client's ARP entry expires: its adverts do not come from the VMAC.
    fn lower_prio_garps(&mut self, i: usize, now: Nanos) {
        let inst = &mut self.instances[i];
        let garp = inst.spec.garp;
        if garp.lower_prio_repeat == 0 {
            return;
        }
        inst.garp_at.push((now, garp.lower_prio_repeat));
        if garp.lower_prio_delay_s > 0 {
            // One delayed burst pending at most, after the last such advert.
            inst.lower_at = Some(now + u64::from(garp.lower_prio_delay_s) * 1_000_000_000);
        }
        self.send_garps(i, now);
    }

    /// A master yielded to a better advert. A unicast one sends one more advert of its own
    /// priority to its peers: the master it yields to may never have heard it (after a
    /// partition healed, this side heard the other's advert first), and that advert is what
    /// makes that master send its GARPs ([`Self::lower_prio_garps`]). Without them the
    /// switch keeps the VMAC on our port, where our GARPs put it when we took over, since a
    /// unicast master's adverts leave from the NIC's MAC: the VIP is silent until the
    /// clients' ARP entries are probed again (the chaos run's 1040 ms after advert loss both
    /// ways). Multicast adverts come from the VMAC and move the switch back by themselves.
    fn yielded(&mut self, i: usize, now: Nanos) {
        let inst = &self.instances[i];
        if inst.unicast_src.is_none() {
            return;
        }
        let priority = inst.router.priority();
        self.act(i, now, Action::SendAdvert { priority });
    }

    /// The bursts of instance `i` that are due, as one [`Effect::SendGarps`], or queued one
    /// address at a time where an interval paces them.
    fn send_garps(&mut self, i: usize, now: Nanos) {
        let inst = &mut self.instances[i];
        let mut repeat = 0u32;
        inst.garp_at.retain(|&(t, n)| {
            if t <= now {
                repeat = repeat.saturating_add(n);
            }
            t > now
        });
        if let Some(t) = inst.refresh_at
            && t <= now
        {
            repeat = repeat.saturating_add(inst.spec.garp.master_refresh_repeat.max(1));
            inst.refresh_at =
                Some(now + u64::from(inst.spec.garp.master_refresh_s) * 1_000_000_000);
        }
        if let Some(t) = inst.lower_at
            && t <= now
        {
            repeat = repeat.saturating_add(inst.spec.garp.lower_prio_repeat);
            inst.lower_at = None;
        }
        if repeat == 0 {
            return;
        }
        let inst = &self.instances[i];
        let burst = Effect::SendGarps {
            instance: inst.name(),
            iface: inst.spec.interface.clone(),
            vrid: inst.spec.vrid.get(),
            family: inst.family,
            vmac: inst.vmac(),
            nd_router: inst.nd_router,
            vips: inst.mapped_vips(),
            repeat,
        };
        let Effect::SendGarps { iface, vips, .. } = &burst else {
            unreachable!()
        };
        let paced = |v: &IpAddr| match v {
            IpAddr::V4(_) => self.garp_interval > 0,
            IpAddr::V6(_) => self.gna_interval > 0,
        };
        if !vips.iter().any(paced) {
            self.announcements.push_back(burst);
            return;
        }
        // keepalived's order: the whole list of addresses, `repeat` times, each address a
        // frame at least the interval after the previous one of its kind.
        let (unpaced, paced_vips): (Vec<IpAddr>, Vec<IpAddr>) =
            vips.iter().partition(|v| !paced(v));
        let iface = iface.clone();
        if !unpaced.is_empty() {
            let mut e = burst.clone();
            if let Effect::SendGarps { vips, .. } = &mut e {
                *vips = unpaced;
            }
            self.announcements.push_back(e);
        }
        for _ in 0..repeat {
            for vip in &paced_vips {
                let mut one = burst.clone();
                if let Effect::SendGarps { vips, repeat, .. } = &mut one {
                    *vips = vec![*vip];
                    *repeat = 1;
                }
                let key = (iface.clone(), vip.is_ipv6());
                self.garp_queues
                    .entry(key)
                    .or_insert((VecDeque::new(), now))
                    .0
                    .push_back(one);
            }
        }
        self.pace(now);
    }

    /// Forgets the announcements of `instance` not sent yet (it let its VIPs go, or a reload
    /// replaced it).
    fn drop_announcements(&mut self, instance: &str) {
        let other =
            |e: &Effect| !matches!(e, Effect::SendGarps { instance: n, .. } if n == instance);
        for (queue, _) in self.garp_queues.values_mut() {
            queue.retain(other);
        }
        self.announcements.retain(other);
    }

    /// Gives out the unpaced bursts waiting, up to [`ANNOUNCE_BUDGET`] frames (at least one
    /// burst), after the turn's adverts: the executor sends the adverts it queued at a
    /// [`Effect::Flush`]. What is left waits for the next turn ([`Self::protocol_wake`]).
    fn announce(&mut self) {
        if self.announcements.is_empty() {
            return;
        }
        self.out.push(Effect::Flush);
        let mut frames = 0;
        while frames < ANNOUNCE_BUDGET
            && let Some(burst) = self.announcements.pop_front()
        {
            if let Effect::SendGarps { vips, repeat, .. } = &burst {
                frames += vips.len() * (*repeat).max(1) as usize;
            }
            self.out.push(burst);
        }
    }

    /// Sends the paced frames whose time has come: one per interface and kind per interval.
    fn pace(&mut self, now: Nanos) {
        let (garp, gna) = (self.garp_interval, self.gna_interval);
        for ((_, na), (queue, next)) in &mut self.garp_queues {
            if *next > now {
                continue;
            }
            if let Some(e) = queue.pop_front() {
                self.out.push(e);
                *next = now + if *na { gna } else { garp };
            }
        }
        self.garp_queues
            .retain(|_, (q, next)| !q.is_empty() || *next > now);
    }

    /// Where a master's advert is due, brings forward the adverts of the other masters of its
    /// interface and interval that fall due within half an interval, so that they leave in the
    /// same batch (and stay together from then on).
    fn gather_adverts(&mut self, now: Nanos) {
        // The due times of each (interface, interval), earliest first: a master's next advert
        // joins the earliest batch it may (a few groups, a few distinct times each, so this
        // is linear in the routers; it was one pass over all of them per due master).
        let mut groups: Vec<(&str, Centis, Vec<Nanos>)> = Vec::new();
        for i in &self.instances {
            if i.router.state() != State::Master {
                continue;
            }
            let Some(t) = i.router.next_deadline().filter(|&t| t <= now) else {
                continue;
            };
            let (iface, interval) = (i.spec.interface.as_str(), i.spec.advert_interval);
            match groups
                .iter_mut()
                .find(|(f, v, _)| *f == iface && *v == interval)
            {
                Some((_, _, times)) => times.push(t),
                None => groups.push((iface, interval, vec![t])),
            }
        }
        if groups.is_empty() {
            return;
        }
        let groups: Vec<(String, Centis, Vec<Nanos>)> = groups
            .into_iter()
            .map(|(iface, interval, mut times)| {
                times.sort_unstable();
                times.dedup();
                (iface.to_string(), interval, times)
            })
            .collect();
        for inst in &mut self.instances {
            let Some((_, interval, times)) = groups
                .iter()
                .find(|(f, v, _)| *f == inst.spec.interface && *v == inst.spec.advert_interval)
            else {
                continue;
            };
            let within = ns(*interval) / 2;
            for &t in times {
                inst.router.advance_advert(t, within);
            }
        }
    }

    /// Time passed: the heartbeat, retries of failed effects, then (with the stamps) every
    /// router fed the advert XDP stamped since the last look and its due timer, and GARPs.
    fn tick(&mut self, now: Nanos, adverts: Option<Vec<Heard>>) {
        // The gate matters only for a router we are master of (or hand over): a host of
        // backups leaves its heartbeat alone, and a takeover writes it first.
        if self.stopping.is_some() || self.masters_any() {
            let beats = self.heartbeats(now);
            self.out.extend(beats);
        }
        if self.stopping.is_some() {
            self.hand_over(now, adverts);
            return;
        }
        self.retry(now);
        self.retry_statics(now);
        self.expire_conflicts(now);
        let Some(heard) = adverts else {
            for i in 0..self.instances.len() {
                self.send_garps(i, now);
            }
            self.pace(now);
            return;
        };
        self.gather_adverts(now);
        let index = HeardIndex::new(&heard, &self.sources);
        let mut takeovers = 0;
        for i in 0..self.instances.len() {
            let inst = &self.instances[i];
            let newest = index.get(inst.source, inst.spec.vrid.get());
            self.check_checksum(i, now, newest.map(|h| (h.advert, h.checksum)));
            let inst = &self.instances[i];
            if let Some(advert) = newest
                .map(|h| h.advert)
                .filter(|a| a.received_at > inst.fed_ns && !self.deaf(inst))
                .and_then(|a| {
                    self.instances[i].fed_ns = a.received_at;
                    self.instances[i].watched(a)
                })
            {
                let router = &self.instances[i].router;
                let (was_backup, before) =
                    (router.state() == State::Backup, router.next_deadline());
                let was_master = router.state() == State::Master;
                self.input(i, now, fsm::Input::Advert(advert));
                self.heard_peer(i, now, advert, was_master);
                // A master that stays master hears a router it beats (priority 0 is one
                // leaving, not one that took over).
                if was_master
                    && self.instances[i].router.state() == State::Master
                    && advert.priority != Priority::SHUTDOWN
                {
                    self.lower_prio_garps(i, now);
                    // keepalived's notify_master_rx_lower_pri, after the GARPs (behind them
                    // while they wait).
                    let inst = &self.instances[i];
                    let notify = Effect::NotifyEvent {
                        command: inst.spec.notify.master_rx_lower_pri.as_deref().cloned(),
                        instance: inst.name(),
                        event: "MASTER_RX_LOWER_PRI",
                        priority: inst.router.priority().get(),
                    };
                    if self.announcements.is_empty() {
                        self.out.push(notify);
                    } else {
                        self.announcements.push_back(notify);
                    }
                }
                if was_master
                    && self.instances[i].router.state() == State::Backup
                    && advert.priority != Priority::SHUTDOWN
                {
                    self.yielded(i, now);
                }
                // A backup that took the advert (its timer restarted) no longer wants to be
                // master, as far as its sync group is concerned.
                let router = &self.instances[i].router;
                if was_backup
                    && advert.priority != Priority::SHUTDOWN
                    && router.state() == State::Backup
                    && router.next_deadline() != before
                    && let Some(g) = self.group_of(&self.instances[i].spec.name)
                {
                    let name = self.instances[i].name();
                    self.groups[g].1.heard_master(&name);
                }
            }
            // A backup over the turn's budget stays due: the next turn reads the stamps again.
            let backup = self.instances[i].router.state() == State::Backup;
            if self.due(&self.instances[i], now) && !(backup && takeovers >= TAKEOVER_BUDGET) {
                // A backup in a sync group becomes master only when every member wants to.
                let held = backup && {
                    let name = &self.instances[i].spec.name;
                    self.group_of(name)
                        .is_some_and(|g| !self.groups[g].1.may_become_master(name))
                };
                let input = if held {
                    fsm::Input::HoldBackup
                } else {
                    fsm::Input::Timer
                };
                let at = if backup { now + self.early() } else { now };
                self.input(i, at, input);
                if backup && self.instances[i].router.state() == State::Master {
                    takeovers += 1;
                }
            }
            self.send_garps(i, now);
        }
        self.pace(now);
    }

    /// Compares the newest advert's v3/IPv4 checksum variant with ours. An episode starts with
    /// a fresh advert (within Master_Down_Interval) from a peer using the other variant: one
    /// warning naming the peer, its variant and the fix; it ends, with one line, when that
    /// peer's adverts agree or stop (the newest stamp grows stale).
    fn check_checksum(&mut self, i: usize, now: Nanos, heard: Option<(Advert, V3Checksum)>) {
        let inst = &self.instances[i];
        if !inst.two_checksums() {
            return;
        }
        let ours = inst.spec.v3_checksum;
        let fresh_within = inst.router.master_down_interval().as_nanos();
        let fresh = heard.filter(|(a, _)| now.saturating_sub(a.received_at) <= fresh_within);
        // Borrowed, not cloned: this runs for every v3/IPv4 router at every read of the
        // stamps, and logs almost never.
        let name = &inst.spec.name;
        match (fresh, &inst.csum_mismatch) {
            (Some((a, theirs)), current) if theirs != ours => {
                if current
                    .as_ref()
                    .is_some_and(|m| m.peer == a.src && m.peer_checksum == theirs)
                {
                    return;
                }
                let m = ChecksumMismatch::new(a.src, theirs);
                self.log(
                    log::Level::Warn,
                    format!(
                        "{name}: peer {} checksums its VRRPv3 adverts {}, ours {}: it most likely drops ours (two masters); {}",
                        a.src,
                        ChecksumMismatch::variant_text(theirs),
                        ChecksumMismatch::variant_text(ours),
                        m.fix
                    ),
                );
                self.instances[i].csum_mismatch = Some(Box::new(m));
            }
            (fresh, Some(m)) if fresh.is_none_or(|(a, _)| a.src == m.peer) => {
                let why = if fresh.is_some() {
                    "now checksums its adverts as we do"
                } else {
                    "is no longer heard"
                };
                self.log(
                    log::Level::Info,
                    format!("{name}: peer {} {why}: checksum mismatch over", m.peer),
                );
                self.instances[i].csum_mismatch = None;
            }
            _ => {}
        }
    }

    /// SIGTERM or SIGINT: every router stops (a master sends priority 0); a master keeps its
    /// VIPs until a new master advertises (make before break: the client's frames reach one
    /// of us at every moment, and both answer from the same VMAC), or for one
    /// Master_Down_Interval if none does.
    fn stop(&mut self, now: Nanos) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Stopping {
            since: now,
            give_up: now,
            deferred: Vec::new(),
            retry: Vec::new(),
            awaiting: true,
            done: false,
        });
        for i in 0..self.instances.len() {
            self.input(i, now, fsm::Input::Shutdown);
            // One whose effects failed may hold what FAULT should have released: once more.
            if self.instances[i].broken.is_some() {
                self.release(i);
            }
        }
        self.out.push(Effect::Flush);
        let longest = self
            .stopping
            .as_ref()
            .map(|s| {
                s.deferred
                    .iter()
                    .map(|&i| self.instances[i].router.master_down_interval().as_nanos())
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        if let Some(s) = &mut self.stopping {
            s.give_up = now + longest;
        }
        self.hand_over(now, None);
    }

    fn hand_over(&mut self, now: Nanos, adverts: Option<Vec<Heard>>) {
        let Some(s) = &mut self.stopping else {
            return;
        };
        if s.done {
            return;
        }
        let (since, give_up) = (s.since, s.give_up);
        let deferred = std::mem::take(&mut s.deferred);
        let due: Vec<usize> = s
            .retry
            .iter_mut()
            .filter(|r| !r.3 && r.2 <= now)
            .map(|r| {
                r.3 = true;
                r.0
            })
            .collect();
        let mut released = !due.is_empty();
        for i in due {
            self.release(i);
        }
        let mut still = Vec::new();
        // Found as a tick finds them: by each instance's place among the sources.
        let index = adverts
            .as_deref()
            .map(|heard| HeardIndex::new(heard, &self.sources));
        for i in deferred {
            let inst = &self.instances[i];
            let new_master = index
                .as_ref()
                .and_then(|index| index.get(inst.source, inst.spec.vrid.get()))
                .filter(|h| {
                    h.advert.received_at > since && h.advert.priority != Priority::SHUTDOWN
                });
            if let Some(h) = new_master {
                let line = format!(
                    "{}: {} advertises after {} ms; releasing the VIPs",
                    inst.name(),
                    h.advert.src,
                    (h.advert.received_at - since) / 1_000_000
                );
                self.log(log::Level::Info, line);
                self.release(i);
                released = true;
            } else if now >= give_up {
                let line = format!(
                    "{}: no new master within Master_Down_Interval; releasing the VIPs",
                    inst.name()
                );
                self.log(log::Level::Info, line);
                self.release(i);
                released = true;
            } else {
                still.push(i);
            }
        }
        let Some(s) = &mut self.stopping else {
            return;
        };
        s.deferred = still;
        s.awaiting |= released;
        let done = s.deferred.is_empty() && s.retry.is_empty() && !s.awaiting;
        if done {
            for g in 0..self.groups.len() {
                if let Some(t) = self.groups[g].1.stop() {
                    let out = Outcome {
                        orders: Vec::new(),
                        transition: Some(t),
                    };
                    self.group_outcome(g, out);
                }
            }
            self.pending.clear();
            let statics = std::mem::take(&mut self.statics);
            self.out.extend(statics.remove());
            self.log(log::Level::Info, "every instance stopped".into());
            if let Some(s) = &mut self.stopping {
                s.done = true;
            }
        }
    }

    /// Stopping, the results of a batch: a release that failed is tried again (at most
    /// [`STOP_RETRIES`] times); the masters still handing over keep their VIPs. The failures
    /// of interfaces (the heartbeat) are nothing to act on any more.
    fn stop_results(&mut self, now: Nanos, failures: Vec<Failure>) {
        let Some(s) = &mut self.stopping else {
            return;
        };
        s.awaiting = false;
        let mut failed: BTreeMap<usize, String> = BTreeMap::new();
        let mut static_errors = Vec::new();
        for f in failures {
            if f.owner == Owner::Static {
                static_errors.push(f.error);
                continue;
            }
            if let Owner::Instance(n) = &f.owner
                && let Some(i) = self.instances.iter().position(|x| x.spec.name == *n)
                && !s.deferred.contains(&i)
            {
                failed.entry(i).or_insert(f.error);
            }
        }
        let mut lines = Vec::new();
        for (&i, error) in &failed {
            let name = self.instances[i].name();
            match s.retry.iter_mut().find(|r| r.0 == i) {
                Some(r) => {
                    r.1 += 1;
                    r.2 = now + 10 * HANDOVER_POLL * (1 << r.1.min(16).saturating_sub(1));
                    r.3 = false;
                }
                None => s.retry.push((i, 1, now + 10 * HANDOVER_POLL, false)),
            }
            lines.push((
                log::Level::Warn,
                format!("{name}: stopping: {error}; trying again"),
            ));
        }
        let mut given_up = Vec::new();
        s.retry.retain(|r| {
            if r.1 > STOP_RETRIES {
                given_up.push(r.0);
                return false;
            }
            // A try that came back without a failure went through.
            !r.3 || failed.contains_key(&r.0)
        });
        for i in given_up {
            lines.push((
                log::Level::Error,
                format!(
                    "{}: stopping: its VIPs could not be released after {STOP_RETRIES} retries; \
                     a restarted vrrpd removes them",
                    self.instances[i].name()
                ),
            ));
        }
        for error in static_errors {
            lines.push((log::Level::Error, format!("stopping: static: {error}")));
        }
        for (level, line) in lines {
            self.log(level, line);
        }
    }

    /// Adding the static entries failed (at start, on reload or on a retry): logged, and
    /// they are added again (all of them: adding is idempotent) 100 ms later, then 200 ms …
    /// up to [`RETRY_MAX`] apart, until it goes through.
    fn static_failed(&mut self, now: Nanos, error: String) {
        let attempts = match self.statics_broken {
            Some((n, _, true)) => n + 1,
            Some((n, _, false)) => n,
            None => {
                self.log(
                    log::Level::Error,
                    format!(
                        "static: {error}; retrying in {} ms",
                        RETRY_FIRST / 1_000_000
                    ),
                );
                1
            }
        };
        let wait = RETRY_FIRST
            .saturating_mul(1 << attempts.min(16).saturating_sub(1))
            .min(RETRY_MAX);
        self.statics_broken = Some((attempts, now + wait, false));
    }

    fn retry_statics(&mut self, now: Nanos) {
        if let Some((n, at, false)) = self.statics_broken
            && at <= now
        {
            self.statics_broken = Some((n, at, true));
            self.out.extend(self.statics.clone().add());
        }
    }

    /// Retries the effects of broken instances whose time has come: those that bring the
    /// kernel in line with FAULT (not master: XDP silent, no VIPs, no VMAC).
    /// A multicast interface's groups are joined again with them (a no-op once joined), so
    /// that a group that could not be joined keeps them in FAULT until it is.
    fn retry(&mut self, now: Nanos) {
        let mut joining = BTreeSet::new();
        for i in 0..self.instances.len() {
            let Some(b) = &mut self.instances[i].broken else {
                continue;
            };
            if b.probing || b.retry_at > now {
                continue;
            }
            b.probing = true;
            self.release(i);
            let iface = &self.instances[i].spec.interface;
            if let Some(groups) = self.joined.get(iface)
                && joining.insert(iface.clone())
            {
                self.out.push(Effect::JoinGroups {
                    iface: iface.clone(),
                    groups: groups.clone(),
                });
            }
        }
    }

    /// The driver carried out a batch; `failures` failed. The instances they concern go to
    /// FAULT (logged once, with the reason) and are retried with a backoff; a broken instance
    /// whose retry went through leaves FAULT.
    fn results(&mut self, now: Nanos, failures: Vec<Failure>) {
        if self.stopping.is_some() {
            self.stop_results(now, failures);
            return;
        }
        let probing: Vec<usize> = (0..self.instances.len())
            .filter(|&i| self.instances[i].broken.as_ref().is_some_and(|b| b.probing))
            .collect();
        let mut failed = BTreeSet::new();
        let mut static_failed = false;
        let mut refused = BTreeSet::new();
        for f in failures {
            if f.owner == Owner::Static {
                static_failed = true;
                self.static_failed(now, f.error);
                continue;
            }
            let targets: Vec<usize> = (0..self.instances.len())
                .filter(|&i| match &f.owner {
                    Owner::Instance(n) => self.instances[i].spec.name == *n,
                    Owner::Iface(n) => self.instances[i].spec.interface == *n,
                    Owner::Static => false,
                })
                .collect();
            for i in targets {
                if failed.contains(&i) {
                    continue;
                }
                let inst = &mut self.instances[i];
                let mut reason = f.error.clone();
                if f.transient && inst.broken.is_none() {
                    // Only those that sent (a batch of an interface fails for all of them),
                    // and one count a batch, however many of their sends failed.
                    if !sent(&self.sent, &inst.spec) || !refused.insert(i) {
                        continue;
                    }
                    inst.send_failures += 1;
                    if inst.send_failures < SEND_FAILURES_TOLERATED {
                        if inst.send_failures == 1 {
                            let line = format!(
                                "{}: {}; tolerated for {} consecutive sends",
                                inst.name(),
                                f.error,
                                SEND_FAILURES_TOLERATED
                            );
                            self.log(log::Level::Warn, line);
                        }
                        continue;
                    }
                    reason = format!(
                        "{} consecutive sends failed: {}",
                        inst.send_failures, f.error
                    );
                }
                failed.insert(i);
                let inst = &mut self.instances[i];
                inst.send_failures = 0;
                match &mut inst.broken {
                    None => {
                        inst.broken = Some(Broken {
                            reason: reason.clone(),
                            attempts: 1,
                            retry_at: now + RETRY_FIRST,
                            probing: false,
                        });
                        let line = format!(
                            "{}: FAULT ({}); retrying in {} ms",
                            inst.name(),
                            reason,
                            RETRY_FIRST / 1_000_000
                        );
                        self.log(log::Level::Warn, line);
                        self.apply_fault(i, now);
                    }
                    Some(b) if b.probing => {
                        b.attempts += 1;
                        b.probing = false;
                        let wait = RETRY_FIRST
                            .saturating_mul(1 << b.attempts.min(16).saturating_sub(1))
                            .min(RETRY_MAX);
                        b.retry_at = now + wait;
                    }
                    Some(_) => {}
                }
            }
        }
        if !static_failed && let Some((attempts, _, true)) = self.statics_broken {
            self.statics_broken = None;
            self.log(
                log::Level::Info,
                format!("static: added after {attempts} attempt(s)"),
            );
        }
        // A send that went resets the count of refused ones.
        for i in 0..self.instances.len() {
            let inst = &mut self.instances[i];
            if inst.send_failures > 0 && !refused.contains(&i) && sent(&self.sent, &inst.spec) {
                let line = format!(
                    "{}: sends go again after {} refused",
                    inst.name(),
                    inst.send_failures
                );
                inst.send_failures = 0;
                self.log(log::Level::Info, line);
            }
        }
        for i in probing {
            if failed.contains(&i) {
                continue;
            }
            let Some(b) = self.instances[i].broken.take() else {
                continue;
            };
            let line = format!(
                "{}: effects succeed again after {} attempt(s) ({} is over)",
                self.instances[i].name(),
                b.attempts,
                b.reason
            );
            self.cause = format!("effects succeed again ({} is over)", b.reason);
            self.log(log::Level::Info, line);
            self.apply_fault(i, now);
        }
    }
}
