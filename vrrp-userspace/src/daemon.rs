//! The driver: reads the kernel and the clock, feeds the [`Controller`], carries out its
//! effects and feeds their failures back.
//!
//! One tokio task. It sleeps until the controller's next wake-up, an event from the ring
//! buffer, a signal, a link change, a script result or a reload asked over the control socket.
//! At a wake-up it reads each router's newest advert stamp (per-CPU, written by XDP) when the
//! controller needs them, and hands them over with the time. Every decision is the
//! controller's; an effect that fails is reported back to it (the instance goes to FAULT and
//! recovers by itself), so after startup only SIGTERM or SIGINT end the loop.
//!
//! The control socket is another task ([`control::serve_all`]): it answers `vrrpd status`
//! from the [`StatusSnapshot`] this loop publishes, never waiting for the loop. The metrics
//! (`--metrics-listen`) are served from the same snapshot by a thread of their own
//! ([`metrics::serve`]); the loop only records what it alone knows into [`Metrics`].

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail};
use tokio::{io::unix::AsyncFd, signal::unix::SignalKind};
use vrrp_common::maps::{Family, IFACE_EXCLUSIVE, IfaceConfig};

use crate::{
    config::{Config, Instance as InstanceSpec, Notify, Route, Rule, V3Checksum},
    control,
    control::ReloadAnswer,
    controller::{
        self, Controller, Effect, Failure, Heard, Host, IfaceInfo, Input, InstanceTiming,
        InstanceView, Owner,
    },
    dataplane::{self, Attached, CounterReader, Dataplane, Events, ModeChoice, monotonic_ns},
    fsm::{Advert, Nanos, State},
    metrics::{self, Metrics},
    netlink::{Link, LinkEvents, Netlink},
    track,
    tx::{McastMembership, PacketTx, UnicastTx},
    units::{Centis, Priority},
};

/// How often the carriers of the interfaces are read besides the kernel's announcements of
/// their changes ([`LinkEvents`]): a safety net for an announcement the socket dropped. A read
/// is a netlink round trip the main loop waits for (up to about 10 ms while another process
/// holds the kernel's rtnetlink lock), so it is rare.
const LINK_CHECK: Nanos = 1_000_000_000;

/// How stale the status snapshot ([`StatusSnapshot`]) may get: the main loop publishes the
/// instances' views at once when a state changes or an input other than time arrives, and
/// otherwise at most this often.
const STATUS_REFRESH: Nanos = 100_000_000;

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The configuration file, read again on SIGHUP.
    pub config: PathBuf,
    /// The control socket.
    pub control_socket: PathBuf,
    /// Where the XDP links are pinned.
    pub pin_root: PathBuf,
    /// global_defs `vrrpd_exclusive`: vrrpd is the host's only VRRP speaker, so XDP drops
    /// adverts for VRIDs it does not run instead of passing them on (to keepalived).
    pub exclusive: bool,
    /// Where to serve Prometheus metrics (`GET /metrics`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Frame builders the daemon needs from `wire`.
pub trait Frames {
    /// A complete advert frame from the VMAC, from `primary` (IPv4, or the IPv6 link-local).
    fn advert(spec: &InstanceSpec, primary: impl Into<IpAddr>, priority: Priority) -> Vec<u8>;
    /// A gratuitous ARP for `vip` from the VMAC.
    fn garp(vrid: u8, vip: Ipv4Addr) -> Vec<u8>;
    /// An unsolicited neighbour advertisement for `vip` from `vmac`, with the Router flag as
    /// `router`.
    fn unsolicited_na(vmac: [u8; 6], vip: Ipv6Addr, router: bool) -> Vec<u8>;
    /// The VRRP message alone (for unicast over a raw IP socket), its checksum for `src` → `dst`.
    fn advert_message(
        spec: &InstanceSpec,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        priority: Priority,
    ) -> Vec<u8>;
}

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
                    checksum_mismatch: inst.checksum_mismatch.clone(),
                }
            })
            .collect()
    }
}

/// One interface: its XDP program, its events, its transmit socket.
struct Iface {
    link: Link,
    dp: Dataplane,
    /// Its counters for `vrrpd status`.
    counters: Arc<CounterReader>,
    events: AsyncFd<Events>,
    tx: PacketTx,
    /// Adverts due on this interface, sent together at the end of a batch or at
    /// [`Effect::Flush`].
    outbox: Vec<Vec<u8>>,
    /// The instance of each advert in `outbox` (counted in the metrics once sent).
    outbox_from: Vec<Arc<InstanceSpec>>,
    info: IfaceInfo,
    _memberships: Vec<McastMembership>,
}

/// Whether `interface` forwards IPv6: its neighbour advertisements then carry the Router flag,
/// as the kernel's and keepalived's do.
fn forwards_ipv6(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

/// The sender address of an advert stamp of a router of `family`.
fn stamp_src(family: Family, src: &[u8; 16]) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*src)),
    }
}

/// The daemon: the controller and what carries out its effects.
pub struct Daemon<F: Frames> {
    ctl: Controller,
    ifaces: BTreeMap<String, Iface>,
    netlink: Netlink,
    options: RunOptions,
    script_tasks: Vec<tokio::task::JoinHandle<()>>,
    script_results: tokio::sync::mpsc::Receiver<(String, bool)>,
    script_sender: tokio::sync::mpsc::Sender<(String, bool)>,
    /// Something that status shows may have changed since the snapshot was published.
    status_dirty: bool,
    /// The loop ran since the snapshot was published (views may differ in what is not marked
    /// dirty: a backup's master, a fault's reason).
    snapshot_behind: bool,
    /// When the carriers were last read ([`LINK_CHECK`]).
    links_checked: Nanos,
    /// The kernel's announcements of link changes.
    link_events: LinkEvents,
    /// keepalived's `unicast_peer`: a socket per instance and the source it was opened with.
    unicast: BTreeMap<String, (UnicastTx, Ipv4Addr)>,
    /// The configuration the controller runs (the last one its check let through), for an
    /// interface that is created again.
    config: Config,
    /// What the loop and the script tasks record for the metrics.
    metrics: Arc<Metrics>,
    /// `--metrics-listen`, bound at start and served once the loop runs.
    metrics_listener: Option<metrics::Listener>,
    _frames: std::marker::PhantomData<F>,
}

impl<F: Frames> Daemon<F> {
    /// Sets up every interface and instance: XDP attached (or taken over), stale VIPs removed,
    /// routers configured in the maps, state machines started.
    pub async fn start(mut config: Config, options: RunOptions) -> Result<Self> {
        // Before anything is touched: an address that cannot be bound is a startup error.
        let metrics_listener = options
            .metrics_listen
            .map(metrics::Listener::bind)
            .transpose()?;
        if let Some(l) = &metrics_listener {
            match l.local_addr() {
                Ok(a) => log::info!("metrics on http://{a}/metrics"),
                Err(e) => log::info!("metrics listener bound ({e})"),
            }
        }
        crate::scripts::configure(&config);
        usable_scripts(&mut config);
        if config.instances.is_empty() {
            // keepalived runs such a file too, doing nothing until a reload brings instances.
            log::warn!(
                "{}: no vrrp_instance; waiting for a reload (SIGHUP) that brings one",
                options.config.display()
            );
        }
        let netlink = Netlink::new()?;
        // Listening before the first read of the carriers, so no change falls between.
        let link_events = LinkEvents::open()?;
        let mut ifaces = BTreeMap::new();
        for name in controller::interfaces(&config) {
            let iface = open_iface(&netlink, &name, &options).await?;
            ifaces.insert(name, iface);
        }
        let host = host(&netlink, &ifaces, &config).await;
        let (ctl, effects) =
            Controller::start(&config, &host, monotonic_ns()).map_err(|e| anyhow!(e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let mut daemon = Daemon {
            ctl,
            ifaces,
            netlink,
            options,
            script_tasks: Vec::new(),
            script_results: rx,
            script_sender: tx,
            links_checked: 0,
            status_dirty: true,
            snapshot_behind: false,
            link_events,
            unicast: BTreeMap::new(),
            config,
            metrics: Arc::new(Metrics::default()),
            metrics_listener,
            _frames: std::marker::PhantomData,
        };
        daemon.carry_out(effects).await;
        Ok(daemon)
    }

    /// Feeds the controller one input at the present time and carries out what it answers.
    async fn feed(&mut self, input: Input) {
        if !matches!(input, Input::Tick { .. }) {
            self.status_dirty = true;
        }
        let effects = self.ctl.handle(monotonic_ns(), input);
        self.carry_out(effects).await;
    }

    /// Carries out a batch of effects, sends the adverts queued, and reports the failures to
    /// the controller; again with what it answers, until it has nothing more to do.
    async fn carry_out(&mut self, mut effects: Vec<Effect>) {
        while !effects.is_empty() {
            let mut failures = Vec::new();
            for effect in effects {
                let owner = effect.owner();
                if let Err(e) = self.effect(effect).await {
                    let error = format!("{e:#}");
                    match owner {
                        Some(owner) => failures.push(Failure { owner, error }),
                        None => log::warn!("{error}"),
                    }
                }
            }
            failures.extend(self.flush());
            effects = self.ctl.handle(monotonic_ns(), Input::Results(failures));
        }
    }

    /// Sends the adverts queued, one `sendmmsg` an interface.
    fn flush(&mut self) -> Vec<Failure> {
        let mut failures = Vec::new();
        for (name, iface) in &mut self.ifaces {
            let frames = std::mem::take(&mut iface.outbox);
            let from = std::mem::take(&mut iface.outbox_from);
            if frames.is_empty() {
                continue;
            }
            match iface.tx.send_batch(&frames) {
                Ok(()) => {
                    let now = monotonic_ns();
                    for spec in &from {
                        self.metrics.advert_sent(&spec.name, now);
                    }
                }
                Err(e) => failures.push(Failure {
                    owner: Owner::Iface(name.clone()),
                    error: format!("{name}: {} advert(s) not sent: {e:#}", frames.len()),
                }),
            }
        }
        failures
    }

    fn iface_mut(&mut self, name: &str) -> Result<&mut Iface> {
        self.ifaces
            .get_mut(name)
            .ok_or_else(|| anyhow!("no interface {name}"))
    }

    fn index(&self, name: &str) -> Result<u32> {
        self.ifaces
            .get(name)
            .map(|i| i.link.index)
            .ok_or_else(|| anyhow!("no interface {name}"))
    }

    /// The index of a route's `dev`, looked up now (it need not be an instance's interface).
    async fn dev_index(&self, dev: Option<&str>) -> Result<Option<u32>> {
        match dev {
            Some(name) => Ok(Some(self.netlink.link(name).await?.index)),
            None => Ok(None),
        }
    }

    /// Removes rules, then routes; with the interface of a route gone, so is the route.
    async fn remove_routes(&self, routes: &[Route], rules: &[Rule]) -> Result<()> {
        for rule in rules {
            self.netlink.del_rule(rule).await?;
        }
        for route in routes {
            let oif = match route.dev.as_deref() {
                Some(name) => match self.netlink.link(name).await {
                    Ok(l) => Some(l.index),
                    Err(_) => continue,
                },
                None => None,
            };
            self.netlink.del_route(route, oif).await?;
        }
        Ok(())
    }

    async fn effect(&mut self, effect: Effect) -> Result<()> {
        match effect {
            Effect::RemoveStaleVips {
                instance,
                iface,
                vips,
            } => {
                let index = self.index(&iface)?;
                for vip in vips {
                    if self.netlink.del_vip(index, vip.address).await? {
                        log::info!("{instance}: removed stale VIP {} from {iface}", vip.address);
                    }
                }
            }
            Effect::SetRouter {
                iface,
                family,
                vrid,
                config,
                ..
            } => self
                .iface_mut(&iface)?
                .dp
                .set_router(family, vrid, &config)?,
            Effect::MapVips {
                iface,
                family,
                vrid,
                vips,
                ..
            } => {
                let dp = &mut self.iface_mut(&iface)?.dp;
                for address in vips {
                    match (address, family) {
                        (IpAddr::V4(a), Family::Ipv4) => dp.add_vip(a, vrid)?,
                        (IpAddr::V6(a), _) => dp.add_vip6(a, family, vrid)?,
                        // IPv4 excluded from an IPv6 instance: XDP does not answer for it.
                        (IpAddr::V4(_), Family::Ipv6) => {}
                    }
                }
            }
            Effect::UnmapVips {
                iface,
                family,
                vips,
                ..
            } => {
                let dp = &mut self.iface_mut(&iface)?.dp;
                for address in vips {
                    match (address, family) {
                        (IpAddr::V4(a), Family::Ipv4) => dp.remove_vip(a)?,
                        (IpAddr::V6(a), _) => dp.remove_vip6(a)?,
                        (IpAddr::V4(_), Family::Ipv6) => {}
                    }
                }
            }
            Effect::AddVips { iface, vips, .. } => {
                let index = self.index(&iface)?;
                for vip in &vips {
                    self.netlink.add_vip(index, vip).await?;
                }
            }
            Effect::RemoveVips { iface, vips, .. } => {
                let index = self.index(&iface)?;
                for vip in vips {
                    self.netlink.del_vip(index, vip.address).await?;
                }
            }
            Effect::AddRoutes { routes, rules, .. } => {
                for route in &routes {
                    let oif = self.dev_index(route.dev.as_deref()).await?;
                    self.netlink.add_route(route, oif).await?;
                }
                for rule in &rules {
                    self.netlink.add_rule(rule).await?;
                }
            }
            Effect::RemoveRoutes { routes, rules, .. } => {
                self.remove_routes(&routes, &rules).await?
            }
            Effect::AddStatic {
                addresses,
                routes,
                rules,
            } => {
                for vip in &addresses {
                    let index = self.netlink.link(&vip.dev).await?.index;
                    self.netlink.add_vip(index, vip).await?;
                }
                for route in &routes {
                    let oif = self.dev_index(route.dev.as_deref()).await?;
                    self.netlink.add_route(route, oif).await?;
                }
                for rule in &rules {
                    self.netlink.add_rule(rule).await?;
                }
            }
            Effect::RemoveStatic {
                addresses,
                routes,
                rules,
            } => {
                self.remove_routes(&routes, &rules).await?;
                for vip in &addresses {
                    // An interface gone took its addresses with it.
                    if let Ok(link) = self.netlink.link(&vip.dev).await {
                        self.netlink.del_vip(link.index, vip.address).await?;
                    }
                }
            }
            Effect::JoinVmac { iface, vmac, .. } => {
                let index = self.index(&iface)?;
                self.netlink.add_unicast_mac(index, vmac).await?;
            }
            Effect::LeaveVmac { iface, vmac, .. } => {
                let index = self.index(&iface)?;
                self.netlink.del_unicast_mac(index, vmac).await?;
            }
            Effect::SendAdvert {
                spec,
                primary,
                unicast_src,
                priority,
            } => match unicast_src {
                Some(src) => {
                    if self.unicast.get(&spec.name).is_none_or(|(_, s)| *s != src) {
                        let tx = UnicastTx::open(src)?;
                        self.unicast.insert(spec.name.clone(), (tx, src));
                    }
                    let (tx, _) = &self.unicast[&spec.name];
                    for peer in &spec.unicast_peers {
                        if let IpAddr::V4(peer) = *peer {
                            let msg = F::advert_message(&spec, src, peer, priority);
                            tx.send_to(&msg, peer)
                                .with_context(|| format!("advert to {peer} not sent"))?;
                            self.metrics.advert_sent(&spec.name, monotonic_ns());
                        }
                    }
                }
                None => {
                    let frame = F::advert(&spec, primary, priority);
                    let iface = self.iface_mut(&spec.interface)?;
                    iface.outbox.push(frame);
                    iface.outbox_from.push(spec);
                }
            },
            Effect::Flush => {
                if let Some(f) = self.flush().into_iter().next() {
                    bail!("{}", f.error);
                }
            }
            Effect::SendGarps {
                iface,
                vrid,
                family,
                vmac,
                nd_router,
                vips,
                repeat,
                instance,
            } => {
                let tx = &self
                    .ifaces
                    .get(&iface)
                    .ok_or_else(|| anyhow!("no interface {iface}"))?
                    .tx;
                // Gratuitous ARPs for IPv4 VIPs, unsolicited neighbour advertisements for
                // IPv6 ones (RFC 5798 §6.4.1), from the VMAC.
                for _ in 0..repeat {
                    for vip in &vips {
                        let frame = match (*vip, family) {
                            (IpAddr::V4(v4), Family::Ipv4) => F::garp(vrid, v4),
                            (IpAddr::V6(v6), _) => F::unsolicited_na(vmac, v6, nd_router),
                            (IpAddr::V4(_), Family::Ipv6) => continue,
                        };
                        tx.send(&frame)?;
                        self.metrics.announcement_sent(&instance);
                    }
                }
            }
            Effect::StateChanged {
                instance,
                from,
                to,
                reason,
            } => {
                self.status_dirty = true;
                self.metrics.transition(&instance, from, to, &reason);
                log::info!("{instance}: {from} -> {to} ({reason})")
            }
            Effect::RunNotify {
                notify: n,
                kind,
                name,
                state,
                priority,
            } => notify(&n, kind, &name, state, priority),
            Effect::Heartbeat {
                iface,
                stale_after_ns,
                ..
            } => {
                // The XDP program compares with its own clock, so the stamp is read here.
                let dp = &mut self.iface_mut(&iface)?.dp;
                let mut cfg = dp.iface()?;
                cfg.heartbeat_ns = monotonic_ns();
                cfg.stale_after_ns = stale_after_ns;
                dp.set_iface(&cfg)?;
            }
            Effect::RunScripts(scripts) => {
                for task in self.script_tasks.drain(..) {
                    task.abort();
                }
                for script in scripts {
                    // Prepared under the policy of `scripts::configure`; the controller only
                    // has the scripts `usable_scripts` kept.
                    match crate::scripts::track_command(&script) {
                        Ok(cmd) => self.script_tasks.push(tokio::spawn(track::run(
                            script,
                            cmd,
                            self.script_sender.clone(),
                            self.metrics.clone(),
                        ))),
                        Err(e) => log::warn!("Disabling track script {}: {e}", script.name),
                    }
                }
            }
            Effect::Log { level, line } => log::log!(level, "{line}"),
        }
        Ok(())
    }

    /// The newest advert stamp of every router the controller watches; an interface whose
    /// stamps cannot be read is a failure of its instances.
    fn adverts(&self) -> (Vec<Heard>, Vec<Failure>) {
        let (mut heard, mut failures) = (Vec::new(), Vec::new());
        for (iface, family) in self.ctl.advert_sources() {
            let Some(i) = self.ifaces.get(&iface) else {
                continue;
            };
            match i.dp.newest_adverts(family) {
                Ok(stamps) => {
                    for (vrid, stamp) in stamps.into_iter().enumerate() {
                        let Some(s) = stamp else { continue };
                        heard.push(Heard {
                            iface: iface.clone(),
                            family,
                            vrid: vrid as u8,
                            advert: Advert {
                                src: stamp_src(family, &s.src),
                                priority: Priority(s.priority as u8),
                                interval: Centis(s.interval_cs),
                                received_at: s.time_ns,
                            },
                            checksum: if s.csum_variant == 0 {
                                V3Checksum::PseudoHeader
                            } else {
                                V3Checksum::MessageOnly
                            },
                        });
                    }
                }
                Err(e) => failures.push(Failure {
                    owner: Owner::Iface(iface.clone()),
                    error: format!("{iface}: advert stamps not read: {e:#}"),
                }),
            }
        }
        (heard, failures)
    }

    /// Time passed (or XDP raised an `event`): the stamps when the controller needs them.
    async fn tick(&mut self, event: bool) {
        let now = monotonic_ns();
        let (adverts, failures) = if self.ctl.needs_adverts(now, event) {
            let (heard, failures) = self.adverts();
            (Some(heard), failures)
        } else {
            (None, Vec::new())
        };
        if !failures.is_empty() {
            self.feed(Input::Results(failures)).await;
        }
        self.feed(Input::Tick { adverts }).await;
    }

    /// SIGHUP or `vrrpd reload`: reads the configuration again. A bad file, or one whose
    /// instances cannot run here, is refused with its diagnostics (logged, and in the answer)
    /// and the running configuration keeps serving.
    async fn reload(&mut self) -> ReloadAnswer {
        let path = self.options.config.display().to_string();
        let refused = |mut lines: Vec<String>| {
            lines.push(format!(
                "reload of {path} refused; the running configuration stays"
            ));
            for l in &lines {
                log::error!("{l}");
            }
            ReloadAnswer {
                applied: false,
                lines,
            }
        };
        let loaded = match crate::config::load(&self.options.config) {
            Ok(l) => l,
            Err(e @ crate::config::ConfigError::Io { .. }) => return refused(vec![e.to_string()]),
            Err(e) => {
                for w in e.warnings() {
                    log::warn!("{w}");
                }
                return refused(e.errors().iter().map(|d| d.to_string()).collect());
            }
        };
        let mut lines: Vec<String> = Vec::new();
        for w in &loaded.warnings {
            log::warn!("{w}");
            lines.push(w.to_string());
        }
        let mut config = loaded.config;
        crate::scripts::configure(&config);
        usable_scripts(&mut config);
        for name in controller::interfaces(&config) {
            if self.ifaces.contains_key(&name) {
                continue;
            }
            match open_iface(&self.netlink, &name, &self.options).await {
                Ok(iface) => {
                    self.ifaces.insert(name, iface);
                    self.status_dirty = true;
                }
                Err(e) => {
                    // The first instance on it, where the file names it.
                    let at = config
                        .instances
                        .iter()
                        .find(|i| i.interface == name)
                        .map_or(path.clone(), |i| i.source.to_string());
                    lines.push(format!("{at}: interface {name}: {e:#}"));
                    return refused(lines);
                }
            }
        }
        let host = host(&self.netlink, &self.ifaces, &config).await;
        if controller::check(&config, &host).is_ok() {
            // What the controller will run (it refuses only what fails this check).
            self.config = config.clone();
        }
        self.feed(Input::Reload {
            config: Box::new(config),
            host,
        })
        .await;
        match self.ctl.take_reload_outcome() {
            Some(Ok(done)) => {
                lines.push(done);
                ReloadAnswer {
                    applied: true,
                    lines,
                }
            }
            // The controller logged it already.
            Some(Err(e)) => {
                lines.push(e);
                lines.push(format!(
                    "reload of {path} refused; the running configuration stays"
                ));
                ReloadAnswer {
                    applied: false,
                    lines,
                }
            }
            None => refused(lines),
        }
    }

    /// An interface deleted and created again under its name has a new index: the sockets,
    /// the XDP program and the maps of the old one are gone with it. It is opened anew (a
    /// severed pin replaced) and the controller restarts its instances; until it can be
    /// opened, its instances stay in FAULT and this is tried again at the next read.
    async fn reopen_recreated(&mut self) {
        let mut recreated = Vec::new();
        for (name, iface) in &self.ifaces {
            if let Ok(link) = self.netlink.link(name).await
                && link.index != iface.link.index
            {
                recreated.push((name.clone(), iface.link.index, link.index));
            }
        }
        for (name, old, new) in recreated {
            match open_iface(&self.netlink, &name, &self.options).await {
                Ok(iface) => {
                    log::warn!("{name}: created again (index {old} -> {new}), opened anew");
                    self.ifaces.insert(name.clone(), iface);
                    let config = &self.config;
                    self.unicast.retain(|instance, _| {
                        !config
                            .instances
                            .iter()
                            .any(|i| i.name == *instance && i.interface == name)
                    });
                    let host = host(&self.netlink, &self.ifaces, &self.config).await;
                    self.feed(Input::Recreated {
                        iface: name,
                        config: Box::new(self.config.clone()),
                        host,
                    })
                    .await;
                }
                Err(e) => log::warn!("{name}: created again, but not opened yet ({e:#})"),
            }
        }
    }

    /// Reads the link state of every watched interface; the controller acts on the changes.
    async fn track_links(&mut self) {
        self.reopen_recreated().await;
        let mut states = Vec::new();
        for name in self.ctl.watched_links() {
            let up = link_up(&self.netlink, &name).await;
            states.push((name, up));
        }
        self.feed(Input::Links(states)).await;
    }

    /// What `vrrpd status` answers from now.
    fn snapshot(&self) -> StatusSnapshot {
        StatusSnapshot {
            views: Arc::new(self.ctl.instances()),
            counters: Arc::new(
                self.ifaces
                    .iter()
                    .map(|(name, i)| (name.clone(), i.counters.clone()))
                    .collect(),
            ),
            timings: Arc::new(self.ctl.timings()),
        }
    }

    /// Status of every instance (reads the XDP counters).
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.snapshot().statuses()
    }

    /// Runs until SIGTERM or SIGINT; then hands over (priority 0 where master, the VIPs kept
    /// until a new master advertises), removes the VIPs and detaches XDP.
    pub async fn run(mut self) -> Result<()> {
        let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
        let mut int = tokio::signal::unix::signal(SignalKind::interrupt())?;
        let mut hup = tokio::signal::unix::signal(SignalKind::hangup())?;
        let control = control::Server::bind(&self.options.control_socket)?;
        // The control socket is served by its own task from the snapshot the loop publishes;
        // only a reload comes back to the loop, which answers it once the controller decided.
        let (snapshot_tx, snapshot_rx) = tokio::sync::watch::channel(self.snapshot());
        let (reload_tx, mut reload_rx) = tokio::sync::mpsc::channel(4);
        if let Some(listener) = self.metrics_listener.take() {
            // Its own thread, ended when `snapshot_tx` is dropped with this function.
            let _ = metrics::serve(listener, snapshot_rx.clone(), self.metrics.clone());
        }
        let control_task = tokio::spawn(control::serve_all(control, snapshot_rx, reload_tx));
        let mut published = monotonic_ns();
        self.status_dirty = false;
        let mut systemd = crate::systemd::Notifier::from_env();
        systemd.ready(self.ctl.instances().iter().map(|i| i.state));
        let mut stopping = false;
        while !self.ctl.finished() {
            let now = monotonic_ns();
            let wake = self.ctl.next_wake(now);
            // A snapshot older than what happened since is published within STATUS_REFRESH.
            let wake = if self.snapshot_behind {
                wake.min(published + STATUS_REFRESH)
            } else {
                wake
            };
            let sleep = systemd.cap(Duration::from_nanos(
                wake.saturating_sub(now).min(3_600_000_000_000),
            ));
            // The metrics' loop lag: how late the timer's wake-up comes.
            let planned = now + sleep.as_nanos() as Nanos;
            let mut timer = false;
            let (mut stop, mut reload, mut event) = (false, false, false);
            let mut reload_reply = None;
            let mut script = None;
            let mut link = None;
            // Without instances (a configuration that has none yet, as keepalived allows)
            // there is no interface to wait on: only signals, links, scripts and the socket.
            // (select_all refuses an empty list when it is made, so it is made when polled.)
            let waiting = !self.ifaces.is_empty();
            let ifaces = &self.ifaces;
            let events = async move {
                futures_util::future::select_all(
                    ifaces.values().map(|i| Box::pin(i.events.readable())),
                )
                .await
            };
            // Signals first: a stop that arrives with a due advert sends priority 0 at once,
            // not one more advert before it (select! otherwise picks a ready branch at random).
            tokio::select! {
                biased;
                _ = term.recv() => stop = true,
                _ = int.recv() => stop = true,
                _ = hup.recv() => reload = true,
                _ = tokio::time::sleep(sleep) => timer = true,
                (ready, _, _) = events, if waiting => {
                    if let Ok(mut guard) = ready {
                        guard.clear_ready();
                    }
                    event = true;
                }
                Some(change) = self.link_events.next() => link = Some(change),
                Some((name, ok)) = self.script_results.recv() => script = Some((name, ok)),
                Some(reply) = reload_rx.recv() => reload_reply = Some(reply),
            }
            let woke = monotonic_ns();
            if timer {
                self.metrics
                    .loop_lag(Duration::from_nanos(woke.saturating_sub(planned)));
            }
            if stop {
                if !stopping {
                    stopping = true;
                    systemd.stopping(self.ctl.instances().iter().map(|i| i.master_adver_interval));
                }
                self.feed(Input::Stop).await;
            }
            if reload {
                self.reload().await;
            }
            if let Some(reply) = reload_reply {
                let answer = if stopping {
                    ReloadAnswer {
                        applied: false,
                        lines: vec!["vrrpd is stopping; the reload is not applied".into()],
                    }
                } else {
                    self.reload().await
                };
                // A status asked after the answer shows what the reload did.
                snapshot_tx.send_replace(self.snapshot());
                // The client may have gone; the reload stands.
                let _ = reply.send(answer);
            }
            if let Some((name, success)) = script {
                self.feed(Input::Script { name, success }).await;
            }
            if let Some(change) = link {
                self.feed(Input::Links(vec![change])).await;
            }
            for iface in self.ifaces.values_mut() {
                // Events only wake us; the stamps carry the data.
                let _ = iface.events.get_mut().drain();
            }
            let now = monotonic_ns();
            if now >= self.links_checked + LINK_CHECK {
                self.links_checked = now;
                self.track_links().await;
            }
            self.tick(event).await;
            if !stopping {
                systemd.alive(self.ctl.instances().iter().map(|i| i.state));
            }
            let now = monotonic_ns();
            if self.status_dirty || now >= published + STATUS_REFRESH {
                snapshot_tx.send_replace(self.snapshot());
                published = now;
                self.status_dirty = false;
                self.snapshot_behind = false;
            } else {
                self.snapshot_behind = true;
            }
            self.metrics
                .loop_busy(Duration::from_nanos(monotonic_ns().saturating_sub(woke)));
        }
        control_task.abort();
        self.shutdown().await
    }

    async fn shutdown(self) -> Result<()> {
        for task in &self.script_tasks {
            task.abort();
        }
        for name in self.ifaces.keys() {
            if !dataplane::detach_pinned(&self.options.pin_root, name)? {
                bail!("{name}: no pinned XDP link to detach");
            }
            dataplane::detach_egress_pinned(&self.options.pin_root, name)?;
        }
        let _ = std::fs::remove_file(&self.options.control_socket);
        crate::scripts::finish().await;
        log::info!("stopped");
        Ok(())
    }
}

/// Whether interface `name` is up with a carrier (one that does not exist is down).
async fn link_up(netlink: &Netlink, name: &str) -> bool {
    netlink.link(name).await.is_ok_and(|l| l.up)
}

/// What the controller needs to know of the host for `config`: the interfaces' addresses and
/// the watched links' states.
async fn host(netlink: &Netlink, ifaces: &BTreeMap<String, Iface>, config: &Config) -> Host {
    let mut links = BTreeMap::new();
    for name in controller::watched(config) {
        let up = link_up(netlink, &name).await;
        links.insert(name, up);
    }
    Host {
        ifaces: ifaces
            .iter()
            .map(|(name, i)| (name.clone(), i.info.clone()))
            .collect(),
        links,
    }
}

async fn open_iface(netlink: &Netlink, name: &str, options: &RunOptions) -> Result<Iface> {
    let link = netlink.link(name).await?;
    let addresses = netlink.addresses(link.index).await?;
    let primary4 = addresses.iter().find_map(|(a, _)| match a {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    });
    let link_local = addresses.iter().find_map(|(a, _)| match a {
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some(*v6),
        _ => None,
    });
    let mut dp = Dataplane::load()?;
    let mode = if link.is_veth {
        log::info!("{name}: veth, attaching XDP in generic mode so that XDP_TX reaches the peer");
        ModeChoice::Generic
    } else {
        ModeChoice::Auto
    };
    match dp.attach_pinned(name, &options.pin_root, mode)? {
        Attached::New(m) => log::info!("{name}: XDP attached ({m:?})"),
        Attached::TakenOver => {
            log::info!("{name}: took over the XDP program left by an earlier vrrpd")
        }
    }
    dp.set_iface(&IfaceConfig {
        heartbeat_ns: monotonic_ns(),
        stale_after_ns: 3 * 1_000_000_000,
        pass_gap_ns: 10_000_000,
        mac: link.mac,
        flags: if options.exclusive {
            IFACE_EXCLUSIVE
        } else {
            0
        },
        ..IfaceConfig::default()
    })?;
    // The kernel's own neighbour discovery from an active IPv6 VIP must carry the VMAC.
    match dp.attach_egress_pinned(name, &options.pin_root) {
        Ok(Attached::New(_)) => log::info!("{name}: tc egress program attached"),
        Ok(Attached::TakenOver) => {
            log::info!("{name}: took over the tc egress program left by an earlier vrrpd")
        }
        Err(e) => log::warn!(
            "{name}: no tc egress program ({e:#}): the kernel's neighbour discovery from an \
             IPv6 VIP will carry the interface's MAC"
        ),
    }
    let events = dp.take_events()?.into_async()?;
    // The kernel must not answer ARP requests with the NIC MAC for addresses it sources
    // from the VIP: use the primary address in its own ARP requests.
    let sysctl = format!("/proc/sys/net/ipv4/conf/{name}/arp_announce");
    if let Err(e) = std::fs::write(&sysctl, "2") {
        log::warn!("{name}: could not set arp_announce=2 ({e})");
    }
    let mut memberships = Vec::new();
    if let Some(a) = primary4 {
        memberships.push(McastMembership::join_v4(a)?);
    }
    if link_local.is_some() {
        memberships.push(McastMembership::join_v6(link.index)?);
    }
    Ok(Iface {
        counters: Arc::new(dp.counter_reader()?),
        tx: PacketTx::open(name)?,
        outbox: Vec::new(),
        outbox_from: Vec::new(),
        _memberships: memberships,
        info: IfaceInfo {
            primary4,
            link_local,
            nd_router: forwards_ipv6(name),
        },
        link,
        dp,
        events,
    })
}

/// Runs the notify scripts of an instance or a sync group ([`crate::scripts::notify`]).
fn notify(n: &Notify, kind: &str, name: &str, to: State, priority: u8) {
    crate::scripts::notify(n, kind, name, to, priority);
}

/// Drops the `vrrp_script`s that keepalived would disable (a user that does not exist, an
/// insecure path under `enable_script_security`, …) with its message: the instances that
/// track one then ignore it, as keepalived removes it from them.
fn usable_scripts(config: &mut Config) {
    config
        .scripts
        .retain(|script| match crate::scripts::track_command(script) {
            Ok(_) => true,
            Err(e) => {
                log::warn!("Disabling track script {}: {e}", script.name);
                false
            }
        });
}
